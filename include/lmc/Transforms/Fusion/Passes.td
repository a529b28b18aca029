//===- Passes.td - lmc fusion passes -----------------------*- tablegen -*-===//
//
// Stage: fusion groups (lmc-fuse) and GEMM epilogues
// (lmc-gemm-epilogues).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_FUSION_PASSES_TD
#define LMC_TRANSFORMS_FUSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def LMCFuse : Pass<"lmc-fuse", "::mlir::ModuleOp"> {
  let summary = "Forms fusion groups of elementwise ops and the reductions "
                "they feed";
  let description = [{
    Groups the ops of every function (of the module and of its models) that
    a target should run as one kernel, and wraps each group in an
    `lmc.fused` op: one GPU kernel, one loop nest on the CPU
    (`lmc-fuse-kernel-loops`), the same groups for every target. It runs on
    the training step after `lmc-autodiff`, `lmc-optimizer` and
    `lmc-shard`. The rules:

    - an elementwise op (`add`, `mul`, `scale`, `bias_add`, `gelu`,
      `gelu_grad`, `silu`, `silu_grad`, `causal_mask`) or a row-wise op
      (`layer_norm`, `rms_norm`, `layer_norm_grad`'s and `rms_norm_grad`'s
      input gradients, `rope`, `softmax`, `softmax_grad`,
      `cross_entropy_grad`) joins the group of a consumer that reads it over
      the same iteration space: an elementwise or row-wise op, a
      `reduce_sum` or a `cross_entropy` (not a bias or a LayerNorm weight,
      which are broadcast). This gives bias + GELU, residual add +
      LayerNorm (or RMSNorm), scale + causal mask + softmax, the SwiGLU gate
      silu(a) * b, and in the backward pass LayerNorm gradient + residual
      gradient sum + bias gradient, softmax gradient + mask + scale, GELU
      gradient + bias gradient;
    - the two products of a `mul`'s gradient (`dy * b` and `dy * a`) are
      siblings through `dy`: with the SiLU gradient, a SwiGLU backward pass
      is one group;
    - `cross_entropy` joins the `cross_entropy_grad` of the same logits and
      targets (they share the row maximum and the sum of exponentials);
    - the vocabulary-parallel cross-entropy of a tensor-parallel step is
      row-wise in the same way: `cross_entropy_stats` and
      `cross_entropy_combine` reduce rows (a producer of the logits or of
      the statistics may join them), `cross_entropy_shard_grad` is row-wise
      and joins the `cross_entropy_combine` whose log-sum-exp it reads
      (`cross_entropy_stats` and `cross_entropy_shard_grad` share the
      logits, but the `all_gather` of the statistics between them keeps
      them apart);
    - all `lmc.adamw` ops of a function form one group, and so do the
      squared-norm reductions that a chain of `arith.addf` sums (the global
      gradient norm of `lmc-optimizer`), with their extracts and adds.

    Matmuls, gathers (`embedding` and `embedding_grad`, with or without an
    offset), layout ops (`split`, `split_heads`, `flatten`, ...) and
    collectives (`all_reduce`, `all_gather`, `reduce_scatter`, their
    `_start` forms, `wait`) never join a group; nor does `axis_index` (a
    runtime call on the host: groups read the coordinate, and offsets
    computed from it, as operands), nor anything with side effects. The
    pass runs after `lmc-shard`, on the partitioned program: the
    collectives that partitioning inserts bound the groups. A merge is
    refused when it would make a group non-convex (a path leaving the group
    and coming back), counting the groups formed so far as single nodes.
    The function is then reordered topologically, keeping the original
    order where the groups allow it and the order of collectives and ops
    with side effects (every rank issues the same collectives in the same
    order as before), and each group of two
    or more ops becomes an `lmc.fused` whose operands are the values it
    reads from outside (constants are copied in) and whose results are the
    values used outside. Groups are named after their main op (`gelu`,
    `layer_norm`, `softmax_grad`, `cross_entropy`, `adamw`, `grad_norm`,
    ...).

    With `report`, a line per training function (`train_step`,
    `eval_step`, `logits`; every function when there are none) gives the
    kernels per call before and after fusion: a kernel is one lmc compute op
    (one kernel function call after `lmc-outline-kernels`, a GEMM or a loop
    nest) or one group.

    Input:

    ```mlir
    %h = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x256xf32>
    %hb = lmc.bias_add %h, %b : tensor<?x?x256xf32>, tensor<256xf32>
    %g = lmc.gelu %hb tanh : tensor<?x?x256xf32>
    %y = lmc.matmul %g, %w2 : tensor<?x?x256xf32>, tensor<256x64xf32>
    ```

    Output:

    ```mlir
    %h = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x256xf32>
    %r:2 = lmc.fused "gelu" (%a = %h, %c = %b)
        : (tensor<?x?x256xf32>, tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
      %0 = lmc.bias_add %a, %c : tensor<?x?x256xf32>, tensor<256xf32>
      %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
      lmc.yield %0, %1 : tensor<?x?x256xf32>, tensor<?x?x256xf32>
    }
    %y = lmc.matmul %r#1, %w2 : tensor<?x?x256xf32>, tensor<256x64xf32>
    ```

    (`%hb` is a result too when the backward pass reads it.)

    With `runtime-row-reductions` (set by the training pipeline for
    `target=cuda`), the float32 `layer_norm`, `layer_norm_grad`, `rms_norm`,
    `rms_norm_grad`, `cross_entropy` and `cross_entropy_grad` (int32
    targets) join no group: on the GPU they are calls of the runtime's row
    kernels (a warp or a block per row, `docs/Gpu.md`), and the residual
    adds, bias-gradient sums and the like around them form groups of their
    own.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the kernels per call of each training function before and "
           "after fusion">,
    Option<"runtimeRowReductions", "runtime-row-reductions", "bool",
           /*default=*/"false",
           "Keep the float32 norms, softmaxes and cross-entropies (int32 "
           "targets), and their gradients, out of every group: the GPU "
           "runtime's row kernels compute them "
           "(the training pipeline's target=cuda)">,
  ];
  let statistics = [
    Statistic<"numGroups", "groups", "Fusion groups formed">,
    Statistic<"numFusedOps", "fused-ops", "Ops placed in fusion groups">,
  ];
  let dependentDialects = ["::mlir::lmc::LMCDialect"];
}

def LMCGemmEpilogues : Pass<"lmc-gemm-epilogues", "::mlir::ModuleOp"> {
  let summary = "Folds a linear layer's bias add (and tanh GELU) into its "
                "GEMM";
  let description = [{
    Replaces `lmc.matmul` and the `lmc.bias_add` after it (and the tanh
    `lmc.gelu` after that) by one `lmc.matmul_bias`, which becomes one call
    of the runtime's GEMM with an epilogue on both targets (oneDNN's sgemm
    and a fused bias/GELU loop on the CPU, cuBLASLt's
    `CUBLASLT_EPILOGUE_BIAS` and `_GELU_AUX_BIAS` on the GPU). It runs after
    `lmc-fuse`, on the partitioned program.

    Why this level: an epilogue is a property of the GEMM call, but the ops
    it absorbs are lmc ops (a `bias_add`, a `gelu` whose approximation is an
    attribute, a fusion group's body), and their shapes, users and
    approximation are plain to see only here; after bufferization the bias
    add is a loop nest inside an outlined kernel function (CPU) or a group's
    `scf.forall` (GPU), different on each target. Rewriting once at the lmc
    level gives both targets the same op, keeps the lowering to runtime calls
    (`convert-lmc-to-runtime`, where the precision is chosen) a mechanical
    step, and runs after `lmc-fuse` because the groups it forms decide what
    is left to absorb: the bias + GELU group of an MLP's first layer (the
    whole group goes), and the bias add that opens the residual add +
    LayerNorm group of the attention projection and of the MLP's second
    layer (it moves out of the group into the GEMM, the group keeps the rest).

    A `bias_add` is folded when, exactly:

    - its input is the result of an `lmc.matmul` whose `rhs` is one matrix
      (a linear layer, not a batched product), without `transpose_a`, and
      the bias add (directly, or through a group's block argument used once)
      is the GEMM result's only user;
    - it adds its bias along the last dimension (all `bias_add`s do; the
      bias is `[N]`), the element type is float32.

    Then a `lmc.gelu` with the `tanh` approximation reading the biased
    result (in the same group, or directly) is folded too: the
    pre-activation stays available for its other users (the backward pass's
    `gelu_grad`). An `exact` (erf) GELU is never folded. A group left with
    no lmc op is removed (its results are the new op's); a group's operands
    that its body no longer reads are dropped. Under tensor parallelism the
    column-parallel layers (QKV, the MLP's first) fold locally; the
    row-parallel ones (attention projection, MLP's second) add their bias
    after the `all_reduce` of the partial products, so the matmul's user is
    the collective and nothing is folded there.

    With `report`, a line per training function (`train_step`,
    `eval_step`, `logits`; every function when there are none) gives the
    kernels per call before and after (counted as `lmc-fuse` counts them)
    and the epilogues formed.

    Input:

    ```mlir
    %h = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x256xf32>
    %r:2 = lmc.fused "gelu" (%a = %h, %c = %b)
        : (tensor<?x?x256xf32>, tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
      %0 = lmc.bias_add %a, %c : tensor<?x?x256xf32>, tensor<256xf32>
      %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
      lmc.yield %0, %1 : tensor<?x?x256xf32>, tensor<?x?x256xf32>
    }
    %q = lmc.matmul %r#1, %w2 : tensor<?x?x256xf32>, tensor<256x64xf32>
    %y = lmc.bias_add %q, %b2 : tensor<?x?x64xf32>, tensor<64xf32>
    ```

    Output:

    ```mlir
    %h, %pre = lmc.matmul_bias %x, %w, %b gelu(tanh)
        : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32>
        -> tensor<?x?x256xf32>, tensor<?x?x256xf32>
    %y = lmc.matmul_bias %h, %w2, %b2
        : tensor<?x?x256xf32>, tensor<256x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
    ```

    (`%r#0` is replaced by `%pre`, `%r#1` by `%h`.)
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the kernels per call of each training function before and "
           "after, and the epilogues formed">,
  ];
  let statistics = [
    Statistic<"numBias", "bias-epilogues", "GEMMs with a bias epilogue">,
    Statistic<"numGelu", "gelu-epilogues",
              "GEMMs with a bias + tanh GELU epilogue">,
  ];
  let dependentDialects = ["::mlir::lmc::LMCDialect"];
}

def LMCBF16Storage : Pass<"lmc-bf16-storage", "::mlir::ModuleOp"> {
  let summary = "Stores the GEMMs' operands as bfloat16 under --precision "
                "bf16";
  let description = [{
    Under `--precision bf16` every GEMM rounds its operands to bfloat16.
    This pass makes the rounding a property of the stored values: every GEMM
    (an op whose `BF16StorageOpInterface` says it `computesInBF16`) reads
    bfloat16 `lhs` and `rhs` from memory, and an activation whose readers all
    accept bfloat16 is stored as bfloat16 by the op that writes it. It runs
    after `lmc-fuse` and `lmc-gemm-epilogues`, before the entry points are
    exported and bufferized, on both targets (the training pipeline with
    `precision=bf16` and `bf16-storage`, `lmc compile --bf16-storage`).

    The ops say what they allow (`LMC_BF16StorageOpInterface`): a fusion
    group reads and writes any float tensor as bfloat16 by converting in its
    body (`lmc.convert`; its arithmetic stays float32), `lmc.matmul` and
    `lmc.matmul_bias` read `lhs` and `rhs` as bfloat16 and sum in float32,
    and can write their results as bfloat16, rounded once (`matmul_bias`
    the result and the pre-activation together, reading its bias as
    bfloat16 then);
    `lmc.flash_attention` and its gradient read their activations as
    bfloat16 and may write their results so (not `lse`); the norms and the
    cross-entropy's gradient may write theirs so; `lmc.flatten`,
    `lmc.split` and `lmc.concat` move bfloat16 as they move float32; every
    other op reads and writes float32 only. In each function:

    1. A value is *float32-bound* when an op without the interface (a
       `return`, a collective, `adamw`, a norm or attention kernel, the
       embedding, ...) reads it, or a group reads it and one of the group's
       results is float32-bound. So the loss, the parameter gradients, the
       optimizer state, norms, and every value reduced into them by non-GEMM
       ops stay float32; a GEMM stops the propagation (it rounds its operands
       anyway).
    2. A float32 result that its op can write as bfloat16, that is not
       float32-bound and whose every reader can read it as bfloat16, becomes
       bfloat16 (e.g. a LayerNorm group's output read only by GEMMs, the GELU
       activation a `matmul_bias` writes for the next layer's GEMM). An op
       that writes its results together stores all or none of them.
    3. Every GEMM operand still float32 is converted once, by a group
       `lmc.fused "to_bf16"` placed at its definition (a parameter: at the
       top of the function), shared by all GEMMs that read it: a weight used
       by the forward and the backward GEMMs is rounded once per step; its
       float32 master copy stays for everything else (the optimizer, the
       embedding of a tied head). So is the bias of a `matmul_bias` whose
       results are bfloat16, and so is every activation attention reads
       (it computes in bfloat16 like a GEMM). An op that only moves data
       (`LMC_BF16PassThrough`: a flatten, a split, a concat) stores its
       results as bfloat16 when its operands are; a float32 view of one
       value (a flatten, a split) is not converted itself: the op is
       repeated on the converted value, so that a value and its views share
       one conversion. A float32 concat is converted as one value. A value
       a fusion group writes is converted by that group: it writes the
       bfloat16 copy as one more result (a residual stream's gradient that
       the group also reduces into a bias gradient, for instance), rather
       than a `to_bf16` group reading it back.

    Input:

    ```mlir
    func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %lw: tensor<64xf32>)
        -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
      %y = lmc.fused "layer_norm" (%a = %x, %b = %lw) : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32> {
        %0 = lmc.rms_norm %a, %b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
        lmc.yield %0 : tensor<?x?x64xf32>
      }
      %h = lmc.matmul %y, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
      %g = lmc.matmul %y, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
      return %h, %g : tensor<?x?x64xf32>, tensor<?x?x64xf32>
    }
    ```

    Output:

    ```mlir
    func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %lw: tensor<64xf32>)
        -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
      %wb = lmc.fused "to_bf16" (%a = %w) : (tensor<64x64xf32>) -> tensor<64x64xbf16> {
        %0 = lmc.convert %a : tensor<64x64xf32> -> tensor<64x64xbf16>
        lmc.yield %0 : tensor<64x64xbf16>
      }
      %y = lmc.fused "layer_norm" (%a = %x, %b = %lw) : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xbf16> {
        %0 = lmc.rms_norm %a, %b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
        %1 = lmc.convert %0 : tensor<?x?x64xf32> -> tensor<?x?x64xbf16>
        lmc.yield %1 : tensor<?x?x64xbf16>
      }
      %h = lmc.matmul %y, %wb : tensor<?x?x64xbf16>, tensor<64x64xbf16>
      %g = lmc.matmul %y, %wb : tensor<?x?x64xbf16>, tensor<64x64xbf16>
      return %h, %g : tensor<?x?x64xf32>, tensor<?x?x64xf32>
    }
    ```
  }];
  let statistics = [
    Statistic<"numStored", "stored-bf16",
              "Values stored as bfloat16 by the op that writes them">,
    Statistic<"numConversions", "conversions",
              "Float32 values converted once for the GEMMs that read them">,
    Statistic<"numGemms", "gemms", "GEMMs reading bfloat16 operands">,
    Statistic<"numPassedThrough", "passed-through",
              "Data-moving ops repeated on converted operands">,
    Statistic<"numWrittenTwice", "written-twice",
              "Group results also written as bfloat16 by their group">,
  ];
  let dependentDialects = ["::mlir::lmc::LMCDialect"];
}

def LMCEmbeddingGradAccumulate
    : Pass<"lmc-embedding-grad-accumulate", "::mlir::ModuleOp"> {
  let summary = "Adds a tied LM head's weight gradient into the embedding "
                "gradient's scatter";
  let description = [{
    With a tied LM head, the table's gradient is the sum of two: the head's
    weight gradient (a GEMM, or the chunked head's `weight_grad`) and the
    embedding's scatter-add (`lmc.embedding_grad`, which zeroes the
    `[V, C]` table first). Summed by an `lmc.add`, that is three passes
    over the table gradient that do no arithmetic worth the name: the
    zeroing, and the add's two reads and one write (0.6 GB of memory
    traffic a step for gpt2-124M). This pass rewrites

    - `lmc.add(lmc.embedding_grad(g, ids), x)` (either operand order), where
      the embedding gradient has no `into` and the add is its only user and
      `x` has the add's type,

    into `lmc.embedding_grad(g, ids) into(x)`: the positions' gradients are
    added to `x` in place (the runtime's `lmcrt_embedding_grad_acc_f32`).
    The sum is the same up to its order (`x + g1 + g2 ...` rather than
    `x + (g1 + g2 ...)`). Runs after partitioning (the accumulating form
    has no sharding rule: under dp both addends are partial sums of the
    same rows, under vocabulary-parallel tp both are the rank's block) and
    before `lmc-fuse`, on every target.

    Input:

    ```mlir
    %e = lmc.embedding_grad %dx[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
    %t = lmc.add %dhead, %e : tensor<256x64xf32>
    ```

    Output:

    ```mlir
    %t = lmc.embedding_grad %dx[%ids] into(%dhead) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
    ```
  }];
}

#endif // LMC_TRANSFORMS_FUSION_PASSES_TD
