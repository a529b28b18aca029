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
    - `query` and `result` are memrefs of rank 3 with one shape (any
      layouts) and a static channel dimension, `key` and `value` too, with
      the batch and sequence dimensions of the query;
    - `query`, `key` and `value` have one element type, float32 or bfloat16
      (`lmc-bf16-storage`), and `result` has it too, or is float32 when it
      is bfloat16;
    - `heads` is at least 1 and divides the query channels;
    - `kv_heads`, where present, is at least 1 and divides `heads`, and the
      key/value channels are `kv_heads * D`, D the query channels over
      `heads`;
    - `lse` is a float32 memref `[B, heads, T]`, B and T those of the
      query where both are static.
  }];
  let arguments = (ins Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemRead]>:$query,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemRead]>:$key,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemRead]>:$value,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemWrite]>:$result,
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
    - `query`, `output`, `output_grad` and `query_grad` are memrefs of rank
      3 with one shape (any layouts) and a static channel dimension, `key`,
      `value`, `key_grad` and `value_grad` too, with the batch and sequence
      dimensions of the query;
    - `query`, `key`, `value`, `output` and `output_grad` have one element
      type, float32 or bfloat16 (`lmc-bf16-storage`), and the three
      gradients have one element type: that one, or float32 when it is
      bfloat16;
    - `heads` is at least 1 and divides the query channels;
    - `kv_heads`, where present, is at least 1 and divides `heads`, and the
      key/value channels are `kv_heads * D`, D the query channels over
      `heads`;
    - `lse` is a float32 memref `[B, heads, T]`, B and T those of the
      query where both are static.
  }];
  let arguments = (ins Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemRead]>:$query,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemRead]>:$key,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemRead]>:$value,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemRead]>:$output,
                       Arg<MemRefRankOf<[F32], [3]>, "", [MemRead]>:$lse,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemRead]>:$output_grad,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemWrite]>:$query_grad,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemWrite]>:$key_grad,
                       Arg<MemRefRankOf<[F32, BF16], [3]>, "", [MemWrite]>:$value_grad,
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

def LMC_BufferRowReductionOp : LMC_Op<"buffer_row_reduction",
                                      [AttrSizedOperandSegments]> {
  let summary = "a norm, a softmax or the cross-entropy, on buffers, for the "
                "GPU runtime";
  let description = [{
    What `lmc.layer_norm`, `lmc.layer_norm_grad`, `lmc.rms_norm`,
    `lmc.rms_norm_grad`, `lmc.softmax`, `lmc.softmax_grad`,
    `lmc.cross_entropy` and `lmc.cross_entropy_grad` (float32, int32
    targets) become in bufferization on the GPU pipeline
    (`convert-lmc-to-linalg{runtime-row-reductions}` leaves them to the GPU
    runtime, outside fusion groups): `kernel` names the op, `inputs` are its
    operands' buffers (any strides) and `outputs` the new buffers of its
    results, which the kernel overwrites; `eps` (the norms) and `classes`
    (the cross-entropy, when the op has it) are the op's.
    `convert-lmc-to-runtime{device=gpu}` makes it a call of the GPU
    runtime's row kernels (`lmcrt_gpu_layer_norm_fwd_f32`, ...); the CPU
    runtime has none (on the CPU these ops are loops).

    Example:

    ```mlir
    lmc.buffer_row_reduction "layer_norm" (%x, %w, %b) into (%y) {eps = 1.000000e-05 : f64}
        : memref<?x?x64xf32>, memref<64xf32>, memref<64xf32> -> memref<?x?x64xf32>
    lmc.buffer_row_reduction "cross_entropy_grad" (%logits, %targets, %dloss) into (%dlogits) {classes = 250 : i64}
        : memref<?x?x256xf32>, memref<?x?xi32>, memref<f32> -> memref<?x?x256xf32>
    ```

    **Constraints:**
    - `kernel` is one of `layer_norm` (inputs x, w, b; output y),
      `layer_norm_grad` (x, w, dy; dx, dw, db), `rms_norm` (x, w; y),
      `rms_norm_grad` (x, w, dy; dx, dw), `cross_entropy` (logits, targets;
      the 0-d loss), `cross_entropy_grad` (logits, targets, the 0-d loss
      gradient; dlogits), `softmax` (x; y), `softmax_grad` (the softmax's
      output y, its gradient dy; dx);
    - every buffer but the targets (int32) is float32, except that
      `cross_entropy_grad`'s dlogits and the `layer_norm` and `rms_norm`
      outputs may be bfloat16 (`lmc-bf16-storage`; the runtime's `_bf16`
      kernels);
    - the norms have `eps`, greater than zero, and no `classes`; the
      softmax kernels have neither; the cross-entropy kernels have no
      `eps`, and `classes`, when present, is in `[1, V]` for V the static
      last dimension of the logits.
  }];
  let arguments = (ins StrAttr:$kernel,
                       Arg<Variadic<AnyMemRef>, "", [MemRead]>:$inputs,
                       Arg<Variadic<AnyMemRef>, "", [MemWrite]>:$outputs,
                       OptionalAttr<F64Attr>:$eps,
                       OptionalAttr<I64Attr>:$classes);
  let assemblyFormat = [{
    $kernel `(` $inputs `)` `into` `(` $outputs `)` attr-dict `:`
    type($inputs) `->` type($outputs)
  }];
  let hasVerifier = 1;
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
