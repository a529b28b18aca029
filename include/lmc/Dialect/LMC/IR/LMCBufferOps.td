//===- LMCBufferOps.td - Runtime kernels on buffers --------*- tablegen -*-===//
//
// Ops on buffers that stand for one of the runtime's kernels: what an lmc op
// without a loop form becomes in bufferization, until
// convert-lmc-to-runtime makes it a call into the runtime. (The collectives'
// buffer forms are in LMCCollectiveOps.td.) Included from LMCOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_IR_LMCBUFFEROPS_TD
#define LMC_DIALECT_LMC_IR_LMCBUFFEROPS_TD

def LMC_BufferAttentionOp : LMC_Op<"buffer_attention"> {
  let summary = "lmc.flash_attention on buffers";
  let description = [{
    What `lmc.flash_attention` becomes in bufferization: reads `query`
    (`[B, T, C]`), `key` and `value` (`[B, T, Ckv]`), any strides, and
    overwrites `result` (`[B, T, C]`) and `lse` (`[B, heads, T]`) with the
    op's results; `kv_heads` as in `lmc.flash_attention`.
    `convert-lmc-to-runtime` makes it a call of the runtime's attention
    kernel.

    Example:

    ```mlir
    lmc.buffer_attention %q, %k, %v into %y, %lse heads(2)
        : memref<2x8x64xf32, strided<[1536, 192, 1], offset: ?>>, memref<2x2x8xf32>
    ```

    **Constraints:**
    - `query` and `result` are float32 memrefs of rank 3 with one shape
      (any layouts) and a static channel dimension, `key` and `value` too,
      with the batch and sequence dimensions of the query;
    - `heads` is at least 1 and divides the query channels;
    - `kv_heads`, where present, is at least 1 and divides `heads`, and the
      key/value channels are `kv_heads * D`, D the query channels over
      `heads`;
    - `lse` is a float32 memref `[B, heads, T]`, B and T those of the
      query where both are static.
  }];
  let arguments = (ins Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$query,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$key,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$value,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemWrite]>:$result,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemWrite]>:$lse,
                       I64Attr:$heads, OptionalAttr<I64Attr>:$kv_heads);
  let assemblyFormat = [{
    $query `,` $key `,` $value `into` $result `,` $lse `heads` `(` $heads `)`
    (`kv_heads` `(` $kv_heads^ `)`)? attr-dict `:`
    type($query) `,` type($key) `,` type($value) `,`
    type($result) `,` type($lse)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The number of key/value heads (`heads` when the attribute is absent).
    int64_t getNumKvHeads() {
      return static_cast<int64_t>(getKvHeads().value_or(getHeads()));
    }
  }];
}

def LMC_BufferAttentionGradOp : LMC_Op<"buffer_attention_grad"> {
  let summary = "lmc.flash_attention_grad on buffers";
  let description = [{
    What `lmc.flash_attention_grad` becomes in bufferization: reads
    `query`, `key`, `value`, `output`, `lse` and `output_grad` and
    overwrites `query_grad`, `key_grad` and `value_grad` with the op's
    results (`key_grad` and `value_grad` shaped as `key`). `convert-lmc-to-runtime` makes it a call of the runtime's
    attention gradient kernel.

    Example:

    ```mlir
    lmc.buffer_attention_grad %q, %k, %v, %y, %lse, %dy into %dq, %dk, %dv heads(2)
        : memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>,
          memref<2x8x64xf32>, memref<2x2x8xf32>, memref<2x8x64xf32>,
          memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>
    ```

    **Constraints:**
    - `query`, `output`, `output_grad` and `query_grad` are float32 memrefs
      of rank 3 with one shape (any layouts) and a static channel
      dimension, `key`, `value`, `key_grad` and `value_grad` too, with the
      batch and sequence dimensions of the query;
    - `heads` is at least 1 and divides the query channels;
    - `kv_heads`, where present, is at least 1 and divides `heads`, and the
      key/value channels are `kv_heads * D`, D the query channels over
      `heads`;
    - `lse` is a float32 memref `[B, heads, T]`, B and T those of the
      query where both are static.
  }];
  let arguments = (ins Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$query,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$key,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$value,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$output,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$lse,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$output_grad,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemWrite]>:$query_grad,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemWrite]>:$key_grad,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemWrite]>:$value_grad,
                       I64Attr:$heads, OptionalAttr<I64Attr>:$kv_heads);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $lse `,` $output_grad `into`
    $query_grad `,` $key_grad `,` $value_grad `heads` `(` $heads `)`
    (`kv_heads` `(` $kv_heads^ `)`)? attr-dict `:`
    type($query) `,` type($key) `,` type($value) `,`
    type($output) `,` type($lse) `,` type($output_grad) `,`
    type($query_grad) `,` type($key_grad) `,` type($value_grad)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The number of key/value heads (`heads` when the attribute is absent).
    int64_t getNumKvHeads() {
      return static_cast<int64_t>(getKvHeads().value_or(getHeads()));
    }
  }];
}

def LMC_BufferHeadLossOp : LMC_Op<"buffer_head_loss"> {
  let summary = "lmc.chunked_head_loss on buffers";
  let description = [{
    What `lmc.chunked_head_loss` becomes in bufferization: reads `input`,
    `weight`, `targets` and `seed` (any strides) and overwrites `loss`,
    `input_grad` and `weight_grad` with the op's results; `transpose_b`,
    `classes` and `rows` as in `lmc.chunked_head_loss`.
    `convert-lmc-to-runtime` makes it a call of the runtime's kernel
    (CPU only).

    Example:

    ```mlir
    lmc.buffer_head_loss %x, %w, %t, %seed into %loss, %dx, %dw transpose_b rows(128)
        : memref<2x8x64xf32>, memref<256x64xf32>, memref<2x8xi32>, memref<f32>,
          memref<f32>, memref<2x8x64xf32>, memref<256x64xf32>
    ```

    **Constraints:**
    - as for `lmc.chunked_head_loss`, on memrefs: `input` and `input_grad`
      of one shape, `weight` and `weight_grad` of one shape, `seed` and
      `loss` 0-d float32.
  }];
  let arguments = (ins Arg<MemRefOf<[F32]>, "", [MemRead]>:$input,
                       Arg<MemRefOf<[F32]>, "", [MemRead]>:$weight,
                       Arg<MemRefOf<[I32]>, "", [MemRead]>:$targets,
                       Arg<MemRefRankOf<[F32], [0]>, "", [MemRead]>:$seed,
                       Arg<MemRefRankOf<[F32], [0]>, "", [MemWrite]>:$loss,
                       Arg<MemRefOf<[F32]>, "", [MemWrite]>:$input_grad,
                       Arg<MemRefOf<[F32]>, "", [MemWrite]>:$weight_grad,
                       UnitAttr:$transpose_b, OptionalAttr<I64Attr>:$classes,
                       I64Attr:$rows);
  let assemblyFormat = [{
    $input `,` $weight `,` $targets `,` $seed `into` $loss `,` $input_grad `,`
    $weight_grad (`transpose_b` $transpose_b^)?
    (`classes` `(` $classes^ `)`)? `rows` `(` $rows `)` attr-dict `:`
    type($input) `,` type($weight) `,` type($targets) `,` type($seed) `,`
    type($loss) `,` type($input_grad) `,` type($weight_grad)
  }];
  let hasVerifier = 1;
}

#endif // LMC_DIALECT_LMC_IR_LMCBUFFEROPS_TD
