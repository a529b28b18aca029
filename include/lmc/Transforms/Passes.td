//===- Passes.td - lmc transformation passes ---------------*- tablegen -*-===//

#ifndef LMC_TRANSFORMS_PASSES_TD
#define LMC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LMCDecomposeAttention : Pass<"lmc-decompose-attention"> {
  let summary = "Rewrites lmc.causal_attention into its primitive ops";
  let description = [{
    Replaces every `lmc.causal_attention` by the composition it stands for:
    heads split out, scores `q k^T`, scaled by `1/sqrt(D)`, causally masked,
    softmax, weighted sum of values, heads merged.

    Input:

    ```mlir
    %y = lmc.causal_attention %q, %k, %v heads(2) : tensor<?x?x64xf32>
    ```

    Output:

    ```mlir
    %qh = lmc.split_heads %q heads(2) : tensor<?x?x64xf32>
    %kh = lmc.split_heads %k heads(2) : tensor<?x?x64xf32>
    %vh = lmc.split_heads %v heads(2) : tensor<?x?x64xf32>
    %s = lmc.matmul %qh, %kh transpose_b : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
    %ss = lmc.scale %s by 1.767767e-01 : tensor<?x2x?x?xf32>
    %m = lmc.causal_mask %ss : tensor<?x2x?x?xf32>
    %p = lmc.softmax %m : tensor<?x2x?x?xf32>
    %yh = lmc.matmul %p, %vh : tensor<?x2x?x?xf32>, tensor<?x2x?x32xf32>
    %y = lmc.merge_heads %yh : tensor<?x2x?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lmc::LMCDialect"];
}

def LMCBindParams : Pass<"lmc-bind-params", "::mlir::ModuleOp"> {
  let summary = "Replaces parameter references by constants read from a "
                "safetensors file";
  let description = [{
    Reads the safetensors file given by `from` and replaces every
    `lmc.param_ref` by an `arith.constant` holding the stored value of that
    parameter, so that the model can run with fixed weights (tests, inference
    with known weights). The file is validated, never trusted: the header
    length, JSON, dtypes (`F32`, `F64`), offsets and sizes are checked, and
    each parameter must be present with its declared shape and element type.
    Entries that the model does not declare are an error.

    Input (`from=weights.safetensors` holding `ln_f.bias` as 64 x F32):

    ```mlir
    %b = lmc.param_ref @"ln_f.bias" : tensor<64xf32>
    ```

    Output:

    ```mlir
    %b = arith.constant dense<[...]> : tensor<64xf32>
    ```
  }];
  let options = [
    Option<"from", "from", "std::string", /*default=*/"\"\"",
           "Path of the safetensors file holding the parameters">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def LMCModelSummary : Pass<"lmc-model-summary", "::mlir::ModuleOp"> {
  let summary = "Prints parameter count and FLOPs per token of each model";
  let description = [{
    Prints one line per `lmc.model` to stdout (or to the file given by
    `output`): the number of parameters, and the forward FLOPs per token,
    split into the matmul FLOPs (2 K N per output row of every `lmc.matmul`
    whose rows are tokens) and the attention FLOPs at full context
    (4 T C per `lmc.causal_attention`, T the rows of the position table).
    The IR is not changed.

    Input: a model. Output on stdout, e.g.:

    ```
    lmc.model @tiny: 120576 parameters, 2 layers; forward FLOPs/token: 229376 matmul + 32768 attention (T=64) = 262144
    ```
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "Where to write the summary ('-' is stdout)">,
  ];
}

def LMCAutodiff : Pass<"lmc-autodiff", "::mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation of each model's loss";
  let description = [{
    For every `lmc.model`, builds `@<function>_grad` (by default
    `@forward_grad`) next to the differentiated function: the same arguments,
    returning the loss followed by the gradient of the loss with respect to
    every parameter, in declaration order (each result carries
    `lmc.grad_of = @name`). The forward ops are copied, then the backward pass
    is emitted in reverse order, each op contributing its own rule through
    `DifferentiableOpInterface`. Gradients of values used more than once are
    summed, so a tied parameter (the token embedding reused as the LM head)
    gets the sum of both uses; token ids and targets get none; a parameter
    that does not reach the loss gets zeros.

    `recompute` chooses what the backward pass reads from the forward pass:
    - `none`: every value a rule needs is kept (attention is decomposed
      first, so its probabilities are kept);
    - `attention`: `lmc.causal_attention` stays one op and its rule
      recomputes scores and probabilities from q and k (selective
      recomputation);
    - `block`: only the residual stream entering each sub-block (the inputs
      of the LayerNorms) is kept; everything else a rule needs is recomputed
      from it in the backward pass.
    `attention` chooses the form of float32 `lmc.causal_attention`:
    - `decomposed` (the default): as the recompute policy says above;
    - `flash`: each becomes `lmc.flash_attention` before differentiating,
      whose rule is one `lmc.flash_attention_grad`; the backward pass keeps
      only q, k, v, the output and the per-row log-sum-exp `lse` (never a
      `T x T` tensor), under every recompute policy (`block` recomputes the
      `flash_attention` itself from the residual stream). The flash ops
      bufferize to calls into the runtime's attention kernels
      (`lmc.buffer_attention`, `lmc.buffer_attention_grad`, which
      `convert-lmc-to-runtime` lowers), so the program must be linked with
      it.
    The statistic `activation-bytes` (and, with `report`, a line on stdout)
    gives the bytes of forward values kept alive for the backward pass at
    batch `report-batch` and sequence `report-seq` (the first dynamic
    dimension of a type is the batch, the others the sequence). The same
    bytes as a polynomial in batch B and sequence T go on the model as
    `lmc.activation_bytes = array<i64: c0, c1, c2, ...>` (bytes = c0 +
    c1 B + c2 B T + c3 B T^2 ...), for later reports (`lmc-shard`).

    Input:

    ```mlir
    lmc.model @m {
      lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
      func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
        %table = lmc.param_ref @w : tensor<4x4xf32>
        %x = lmc.embedding %table[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
        %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
        return %loss : tensor<f32>
      }
    }
    ```

    Output (added to the model):

    ```mlir
    func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>)
        -> (tensor<f32>, tensor<4x4xf32> {lmc.grad_of = @w}) {
      %table = lmc.param_ref @w : tensor<4x4xf32>
      %x = lmc.embedding %table[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
      %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
      %one = arith.constant dense<1.000000e+00> : tensor<f32>
      %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
      %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
      return %loss, %dw : tensor<f32>, tensor<4x4xf32>
    }
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "The function of each model to differentiate">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"none\"",
           "What the backward pass recomputes: none, attention or block">,
    Option<"attention", "attention", "std::string",
           /*default=*/"\"decomposed\"",
           "How attention is differentiated: decomposed (the recompute "
           "policy decides) or flash (lmc.flash_attention forward, one "
           "lmc.flash_attention_grad backward)">,
    Option<"reportBatch", "report-batch", "int64_t", /*default=*/"4",
           "Batch size at which activation bytes are reported">,
    Option<"reportSeq", "report-seq", "int64_t", /*default=*/"64",
           "Sequence length at which activation bytes are reported">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the activation bytes kept, per model, to stdout">,
  ];
  let statistics = [
    Statistic<"activationBytes", "activation-bytes",
              "Bytes of forward values kept for the backward pass">,
    Statistic<"keptValues", "kept-values",
              "Forward values kept for the backward pass">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::lmc::LMCDialect"];
}

def LMCOptimizer : Pass<"lmc-optimizer", "::mlir::ModuleOp"> {
  let summary = "AdamW training step, evaluation step and logits functions";
  let description = [{
    For every `lmc.model` with a gradient function (`lmc-autodiff`), adds:

    - `@train_step(params..., exp_avg..., exp_avg_sq..., step, lr, min_lr,
      warmup, decay_steps, beta1, beta2, eps, weight_decay, grad_clip,
      tokens, targets) -> (loss, grad_norm, lr, params..., exp_avg...,
      exp_avg_sq...)`: one AdamW step. The gradient norm is the global L2
      norm before clipping; with `grad_clip > 0` gradients are scaled by
      `min(1, grad_clip / (norm + 1e-6))`. The learning rate follows a linear
      warm-up over `warmup` steps, then (when `decay_steps > 0`) a cosine decay
      to `min_lr` at `decay_steps`, then stays at `min_lr`; `step` counts from
      0. Moments are bias-corrected and weight decay is decoupled, as in
      PyTorch's AdamW; it applies to the parameters selected by
      `weight-decay-on` (`matrices`: rank 2 and more, i.e. weight matrices and
      embeddings, not biases or LayerNorm parameters; `all`; `none`). Loss,
      norm, learning rate and the hyperparameters are scalars of the model's
      float type; `step`, `warmup` and `decay_steps` are `i64`.
    - `@eval_step(params..., tokens, targets) -> tensor<f32>`: the loss.
    - `@logits(params..., tokens) -> tensor<?xVxf32>`: next-token logits at
      the last position of every sequence, for generation.

    Parameters and optimizer state are arguments and results, each annotated
    with its parameter (`lmc.param = @name`) and, for state, its kind
    (`lmc.state = "exp_avg"` or `"exp_avg_sq"`); scalars carry
    `lmc.hparam = "<name>"`.

    Input: a model with `@forward` and `@forward_grad`. Output (abridged):

    ```mlir
    func.func @train_step(%p: tensor<4x4xf32> {lmc.param = @w},
        %m: tensor<4x4xf32> {lmc.param = @w, lmc.state = "exp_avg"},
        %v: tensor<4x4xf32> {lmc.param = @w, lmc.state = "exp_avg_sq"},
        %step: i64 {lmc.hparam = "step"}, %lr: f32 {lmc.hparam = "lr"}, ...,
        %tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (f32, f32, f32, tensor<4x4xf32>, ...) {
      ... the gradient, with lmc.param_ref replaced by %p ...
      %sq = lmc.reduce_sum %g2 dims [0, 1] : tensor<4x4xf32>
      ...
      %p1, %m1, %v1 = lmc.adamw %p, %dw, %m, %v lr(%lr_t) grad_scale(%clip) step(%step)
          betas(%beta1, %beta2) eps(%eps) weight_decay(%wd) : tensor<4x4xf32>, f32, i64
      return %loss, %norm, %lr_t, %p1, %m1, %v1 : ...
    }
    ```
  }];
  let options = [
    Option<"gradFunction", "grad-function", "std::string",
           /*default=*/"\"forward_grad\"",
           "The gradient function built by lmc-autodiff">,
    Option<"weightDecayOn", "weight-decay-on", "std::string",
           /*default=*/"\"matrices\"",
           "Parameters with weight decay: matrices, all or none">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::lmc::LMCDialect"];
}

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
      `gelu_grad`, `causal_mask`) or a row-wise op (`layer_norm`,
      `layer_norm_grad`'s input gradient, `softmax`, `softmax_grad`,
      `cross_entropy_grad`) joins the group of a consumer that reads it over
      the same iteration space: an elementwise or row-wise op, a
      `reduce_sum` or a `cross_entropy` (not a bias or a LayerNorm weight,
      which are broadcast). This gives bias + GELU, residual add +
      LayerNorm, scale + causal mask + softmax, and in the backward pass
      LayerNorm gradient + residual gradient sum + bias gradient, softmax
      gradient + mask + scale, GELU gradient + bias gradient;
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
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the kernels per call of each training function before and "
           "after fusion">,
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

def LMCExportEntryPoints : Pass<"lmc-export-entry-points", "::mlir::ModuleOp"> {
  let summary = "Fixed-signature entry points and model description for the "
                "runtime";
  let description = [{
    The runtime calls compiled code through one C ABI whose signatures do not
    depend on the model. For the single model of the module that has
    `@train_step`, `@eval_step` and `@logits` (`lmc-optimizer`), this pass adds
    to the enclosing module:

    - `@lmc_train_step(params, exp_avg, exp_avg_sq, step, lr, min_lr, warmup,
      decay_steps, beta1, beta2, eps, weight_decay, grad_clip, tokens,
      targets) -> (loss, grad_norm, lr)`, where `params`, `exp_avg` and
      `exp_avg_sq` are each ONE flat `memref<N x f32>` holding every
      parameter in declaration order (row-major, no padding), updated in
      place: each parameter's view (`memref.subview`, `memref.expand_shape`)
      is read as a tensor (`bufferization.to_tensor restrict writable`), the
      body of `@train_step` runs on these (inlined, so that no function
      returns hundreds of values), and the new values are materialised into
      the same views. As the AdamW update writes into its operands
      (`convert-lmc-to-linalg`), bufferization updates the buffers where they
      are and the materialisations fold away;
    - `@lmc_eval_step(params, tokens, targets) -> loss` and
      `@lmc_logits(params, tokens) -> tensor<?xVxf32>`, reading the same
      views of `params` (a `memref<N x f32>`) without writing them;
    - `@lmc_model_info() -> memref<?xi8>`: a text description of the model
      that the runtime reads (name, element type, vocabulary, context, and
      per parameter its name, shape, offset in the flat buffer, initialiser
      and whether weight decay applies, as `lmc-optimizer` decided).

    All four carry `llvm.emit_c_interface`, so the runtime reaches them as
    `_mlir_ciface_lmc_*` with memref descriptors. The model's other functions
    become private, so that `symbol-dce` removes those the entry points do
    not call.

    Input: a model after `lmc-autodiff` and `lmc-optimizer`. Output (abridged):

    ```mlir
    func.func @lmc_eval_step(%flat: memref<120576xf32>, %tokens: tensor<?x?xi32>,
        %targets: tensor<?x?xi32>) -> f32 attributes {llvm.emit_c_interface} {
      %s0 = memref.subview %flat[0] [16384] [1] : memref<120576xf32> to memref<16384xf32, strided<[1]>>
      %v0 = memref.expand_shape %s0 [[0, 1]] output_shape [256, 64] : memref<16384xf32, strided<[1]>> into memref<256x64xf32>
      %wte = bufferization.to_tensor %v0 restrict : memref<256x64xf32> to tensor<256x64xf32>
      ...
      ... the body of @eval_step on these views ...
    }
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "The target the program is compiled for (cpu or cuda), written "
           "to the model description as `target TARGET`: the runtime "
           "refuses to run a cuda program without its GPU runtime">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LMCOutlineKernels : Pass<"lmc-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Outlines each lmc compute op into a shared kernel function";
  let description = [{
    Moves every lmc compute op of a model's functions into a private function
    of its own (a kernel) and calls it, reusing one kernel for all ops that
    are identical up to their operands: same op, attributes, operand and
    result types. The layers of a Transformer then share their kernels, so
    the code lowered to LLVM grows with the number of distinct ops, not with
    the depth of the model, and no function grows to the size of a whole
    training step. Kernels are named `<model>_<op>_<n>`.

    A fusion group (`lmc.fused`, from `lmc-fuse`) is one kernel: its body,
    the `lmc.yield` becoming the return, in a function named
    `<model>_fused_<kind>_<n>` and marked `lmc.fusion_group = "<kind>"` for
    the lowering that makes it one loop nest (`lmc-fuse-kernel-loops`);
    groups with the same body (up to the names of values) and types share
    it. A group whose body falls apart into independent parts (its lmc ops
    connected through no tensor: the AdamW update of every parameter, the
    squared norm of every gradient) is instead replaced, in place, by one
    call per part to a kernel per distinct part (`<model>_fused_<kind>_part_<n>`),
    with the group's scalar ops between the calls: one loop nest over all
    parameters would need them in one buffer, and one function with a loop
    nest per parameter would grow with the depth of the model.

    Input:

    ```mlir
    %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
    ...
    %7 = lmc.gelu %6 tanh : tensor<?x?x256xf32>
    ```

    Output:

    ```mlir
    %1 = call @tiny_gelu_0(%0) : (tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
    ...
    %7 = call @tiny_gelu_0(%6) : (tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
    func.func private @tiny_gelu_0(%x: tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
      %y = lmc.gelu %x tanh : tensor<?x?x256xf32>
      return %y : tensor<?x?x256xf32>
    }
    ```
  }];
  let statistics = [
    Statistic<"numOutlined", "outlined-ops", "lmc ops replaced by calls">,
    Statistic<"numKernels", "kernels", "Kernel functions created">,
  ];
}

def LMCFuseKernelLoops : Pass<"lmc-fuse-kernel-loops", "::mlir::ModuleOp"> {
  let summary = "Makes each fusion-group kernel one loop nest (CPU)";
  let description = [{
    The CPU lowering of the groups that `lmc-fuse` forms. It runs after
    `convert-lmc-to-linalg`, on the kernel functions that
    `lmc-outline-kernels` made of groups (they carry `lmc.fusion_group`),
    while they are linalg on tensors:

    1. common subexpressions are removed (`cross_entropy` and its gradient
       share the row maximum and sum of exponentials);
    2. upstream elementwise fusion merges an elementwise producer with one
       use into its consumer (a producer read by several consumers stays
       one generic in the loop: recomputing it in each was slower);
    3. the remaining `linalg.generic` ops of the kernel, which share the
       leading "row" dimensions (all but the last dimension of the largest
       tensor: batch and sequence, or batch, head and query), become one
       `scf.forall` over blocks of rows (one index of each row dimension,
       `rows-per-block` of the last). Each generic whose result leaves the
       kernel is tiled to the block and written into its slice of the
       result; the generics it reads are fused into the loop where their
       blocks are read (upstream `scf::tileAndFuseProducerOfSlice`). A sum
       over the rows (a bias or LayerNorm parameter gradient, the loss, a
       squared norm), which upstream tiling cannot put in a parallel loop,
       is computed per block into a tensor of partial sums, and a generic
       after the loop adds the partials in block order: the result does not
       depend on the number of threads.

    The pass removes `lmc.fusion_group` from the kernels it has handled.
    Generics that read no row dimension (scalars) stay before or after the
    loop. Generics that do not share one row space (the AdamW update of all
    parameters: one generic per parameter) keep a loop nest each, in the one
    kernel; so does a kernel that is already one generic (bias + GELU after
    elementwise fusion).

    Input (a LayerNorm group after `convert-lmc-to-linalg`, abridged):

    ```mlir
    func.func private @k(...) attributes {lmc.fusion_group = "layer_norm"} {
      %x = linalg.generic ... ins(%a, %bias, %r ...) outs(%e0 ...)   // bias add + residual
      %sum = linalg.generic ... ins(%x ...) outs(%zero ...)          // row sums
      %sq = linalg.generic ... ins(%x, %sum ...) outs(%zero ...)     // squared deviations
      %y = linalg.generic ... ins(%x, %sum, %sq, %w, %b ...) outs(%e1 ...)
      return %x, %y
    }
    ```

    Output:

    ```mlir
    %r:2 = scf.forall (%i, %j) in (%B, %nb) shared_outs(%ox = %e0, %oy = %e1) -> (...) {
      %xt = linalg.generic ... outs(<block of %ox>)
      %st = linalg.generic ins(%xt ...) ...
      %qt = linalg.generic ins(%xt, %st ...) ...
      %yt = linalg.generic ins(%xt, %st, %qt, %w, %b ...) outs(<block of %oy>)
      scf.forall.in_parallel {
        tensor.parallel_insert_slice %xt into %ox[...]
        tensor.parallel_insert_slice %yt into %oy[...]
      }
    }
    return %r#0, %r#1
    ```
  }];
  let options = [
    Option<"rowsPerBlock", "rows-per-block", "int64_t", /*default=*/"16",
           "Rows of the last row dimension in one iteration of the loop">,
    Option<"elementsAsRows", "elements-as-rows", "bool", /*default=*/"false",
           "Loop an elementwise group (every generic parallel, no sum) over "
           "all its dimensions, the innermost blocked by rows-per-block, "
           "instead of over rows: on the GPU a thread per element, so that "
           "neighbouring threads read neighbouring elements">,
    Option<"partialsChunk", "partials-chunk", "int64_t", /*default=*/"0",
           "Add a sum's per-block partials in two steps, first in chunks of "
           "this many blocks (0: in one step, in block order); on the GPU "
           "each step is parallel over the chunks">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LMCBufferize : Pass<"lmc-bufferize", "::mlir::ModuleOp"> {
  let summary = "One-Shot Bufferize of the whole module with lmc's layout "
                "policy at function boundaries";
  let description = [{
    Runs upstream One-Shot Module Bufferize (function boundaries included)
    with one difference in the buffer types of function signatures:

    - functions with `llvm.emit_c_interface` (the runtime's entry points)
      take and return memrefs with the identity layout, as the C ABI fixes;
    - every other function (the kernels of `lmc-outline-kernels`) takes and
      returns memrefs with row-major strides and a dynamic offset, so that a
      caller can pass a view into a larger buffer (a parameter inside the
      flat parameter buffer, say) without copying it, while the innermost
      stride stays a known 1 for the code generator.

    With upstream's `identity-layout-map` each such view would be copied into
    a fresh buffer at every call, which defeats the in-place AdamW update of
    the flat buffers (`lmc-export-entry-points`); with
    `fully-dynamic-layout-map` the kernels lose their known strides.

    Input:

    ```mlir
    func.func private @k(%p: tensor<4x4xf32>) -> tensor<4x4xf32>
    ```

    Output:

    ```mlir
    func.func private @k(%p: memref<4x4xf32, strided<[4, 1], offset: ?>>)
        -> memref<4x4xf32, strided<[4, 1], offset: ?>>
    ```
  }];
  let options = [
    Option<"allowReturnAllocsFromLoops", "allow-return-allocs-from-loops",
           "bool", /*default=*/"true",
           "Loops may yield newly allocated buffers (training-step drivers "
           "carry tensors through loops)">,
  ];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def LMCApproximateMath : Pass<"lmc-approximate-math"> {
  let summary = "Polynomial approximations of float32 transcendental functions";
  let description = [{
    Rewrites `math.exp`, `math.expm1`, `math.log`, `math.log1p`, `math.tanh`
    and `math.erf` on `f32` (scalars and vectors) into arithmetic with
    upstream MLIR's polynomial approximations (errors of a few ulp). Calls
    into libm would otherwise stop LLVM from vectorising the loops of
    softmax, cross-entropy and GELU. `f64` stays exact (the finite-difference
    tests run in `f64`).

    Input:

    ```mlir
    %y = math.tanh %x : f32
    ```

    Output: a clamp, a rational polynomial in `%x` and selects, all `arith`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def LMCShard : Pass<"lmc-shard", "::mlir::ModuleOp"> {
  let summary = "Partitions the training step over a dp x tp mesh of ranks";
  let description = [{
    Makes the training functions of the model (after `lmc-optimizer`) one
    SPMD program for the mesh `mesh` (`dp=D,tp=T`), recorded as the model's
    `lmc.mesh` attribute.

    Data parallelism (`dp`): every rank runs the step on its own B/D rows of
    the global batch (the runtime hands each rank its rows; batch sizes are
    run-time values, so no shape changes). Each rank's loss and gradients are
    then those of its rows; the global ones are their mean over `dp`. The
    pass inserts, right after the gradients exist, `lmc.all_reduce` over
    `dp` followed by `lmc.scale` by 1/D, gathering the gradients into buckets
    of at least `bucket-bytes` bytes in the order the backward pass produces
    them. With `overlap` (the default) each bucket's all-reduce starts
    (`lmc.all_reduce_start`) right after its last gradient and is waited for
    (`lmc.wait`) right before the first use of its gradients, so that it
    overlaps the rest of the backward pass (the runtime lets it progress at
    every GEMM); without, a blocking `lmc.all_reduce` stands after the last
    gradient. The global norm, clipping
    and AdamW then see the global gradients, identical on every rank, and
    the replicated parameters stay identical. The loss of `train_step` and of
    `eval_step` is all-reduced and scaled the same way.

    Tensor parallelism (`tp` > 1) comes first. A planner places the
    parameters over `tp` as Megatron-LM does (`lmc.sharding` on each
    `lmc.param`): the fused QKV projection column-parallel, split by heads
    (`shard(1, blocks = 3)`, its bias `shard(0, blocks = 3)`), the attention
    output projection row-parallel (`shard(0)`), the MLP up-projection
    column-parallel and its down-projection row-parallel, the token
    embedding and the LM head tied to it split along the vocabulary
    (`shard(0)`); the rest is replicated. A size `tp` does not divide (the
    attention heads, the MLP width) is an error at the op that needs it; a
    vocabulary it does not divide (GPT-2's 50257) leaves the embedding and
    the LM head replicated, with a warning. `train_step`, `eval_step` and `logits` are then partitioned: each
    parameter (and its AdamW state) in its placement, every other value
    placed by the sharding rule of the op that makes it
    (`ShardingRuleOpInterface`), forward, backward and optimizer alike, and
    operands resharded where a rule needs another placement: `partial` to
    replicated by `lmc.all_reduce` over `tp` (after each row-parallel
    projection, the vocabulary-parallel embedding, and the input gradient of
    each column-parallel one), `shard` to replicated by `lmc.all_gather`,
    replicated to `shard` by a local slice. The cross-entropy of
    vocabulary-sharded logits becomes `lmc.cross_entropy_stats`, an
    all-gather of the per-row statistics and `lmc.cross_entropy_combine`;
    its gradient `lmc.cross_entropy_shard_grad`. The global gradient norm
    sums partial squares and all-reduces one scalar.

    ZeRO-1 (`zero=1`, with dp > 1): each dp rank keeps the AdamW state of
    its 1/D piece of every parameter that has a dimension D divides (the
    first one, recorded as `lmc.zero_dim` on the `lmc.param`). That
    parameter's gradient is reduce-scattered over `dp` along it instead of
    all-reduced (`lmc.reduce_scatter_start` right after the gradient exists,
    `lmc.wait` at its first use), AdamW updates the rank's piece, and the
    updated piece is all-gathered over `dp` (started after the update,
    waited for at the end of the step). The squared norms of the pieces are
    all-reduced together for the global gradient norm. Parameters no
    dimension of which D divides keep the replicated state and the bucketed
    all-reduce.

    With `report`, the pass prints the collectives of one training step (per
    bucket: tensors, bytes, and the bytes a ring all-reduce moves per rank,
    2 (D - 1) / D times the payload) and the parameter and optimizer-state
    bytes per rank.

    Input (abridged, `mesh=dp=2`):

    ```mlir
    %gw = ... weight gradient ...
    %gb = ... bias gradient ...
    %sq = lmc.mul %gw, %gw : tensor<64x64xf32>
    ```

    Output (`overlap=false`; with `overlap`, an `lmc.all_reduce_start` there and
    `lmc.wait` before `lmc.scale`):

    ```mlir
    %gw = ... weight gradient ...
    %gb = ... bias gradient ...
    %r:2 = lmc.all_reduce %gw, %gb over ["dp"] : tensor<64x64xf32>, tensor<64xf32>
    %gw2 = lmc.scale %r#0 by 5.000000e-01 : tensor<64x64xf32>
    %gb2 = lmc.scale %r#1 by 5.000000e-01 : tensor<64xf32>
    %sq = lmc.mul %gw2, %gw2 : tensor<64x64xf32>
    ```
  }];
  let options = [
    Option<"mesh", "mesh", "std::string", /*default=*/"\"dp=1,tp=1\"",
           "The mesh: comma-separated axis=size, axes dp and tp">,
    Option<"zero", "zero", "unsigned", /*default=*/"0",
           "ZeRO stage: 0 (optimizer state replicated) or 1 (sharded over "
           "dp)">,
    Option<"bucketBytes", "bucket-bytes", "int64_t",
           /*default=*/"25 * 1024 * 1024",
           "Smallest payload of a gradient all-reduce bucket, in bytes (0: "
           "one all-reduce per gradient)">,
    Option<"overlap", "overlap", "bool", /*default=*/"true",
           "Start each gradient bucket's all-reduce asynchronously "
           "(lmc.all_reduce_start) and wait for it where the gradients are "
           "first used, overlapping the rest of the backward pass">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the collectives and memory per rank of the training step">,
    Option<"reportBatch", "report-batch", "int64_t", /*default=*/"8",
           "Global batch at which the report gives activation bytes">,
    Option<"reportSeq", "report-seq", "int64_t", /*default=*/"64",
           "Sequence length at which the report gives activation bytes">,
  ];
  let statistics = [
    Statistic<"numAllReduces", "all-reduces",
              "Number of all-reduce ops inserted over dp">,
    Statistic<"numTpAllReduces", "tp-all-reduces",
              "Number of all-reduces over tp in train_step">,
    Statistic<"numTpAllGathers", "tp-all-gathers",
              "Number of all-gathers over tp in train_step">,
    Statistic<"numTpSlices", "tp-slices",
              "Number of local slices of replicated values in train_step">,
    Statistic<"numReduceScatters", "reduce-scatters",
              "Number of gradient reduce-scatters over dp (ZeRO-1)">,
  ];
  let dependentDialects = ["::mlir::lmc::LMCDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LMCFreeBuffers : Pass<"lmc-free-buffers", "::mlir::ModuleOp"> {
  let summary = "Frees each buffer right after its last use (straight-line "
                "functions)";
  let description = [{
    Deallocation for what `lmc compile` has after bufferization: functions
    of one block (entry points calling kernels, kernels of linalg ops on
    memrefs). Every function hands over the buffers it returns: one that is
    not an allocation of the function (through views and casts) returned
    once, such as a view of an argument or a global, is first copied into a
    new buffer. A function then owns its `memref.alloc` results and the
    buffer results of its calls to functions of the module. Each owned
    buffer gets a `memref.dealloc` right after the last op that uses any
    value that may alias it (views, casts, results of other ops that take
    it), and none when an alias is returned: the caller then owns it. A
    collective started on a buffer (a start form of the collective op
    interface, such as `lmc.buffer_collective_start`) uses it until the ops
    that take its handle (its `lmc.buffer_wait`).

    Upstream's ownership-based deallocation handles any control flow, but
    frees a block's buffers at the end of the block: in a training step of
    one block, every activation would live until the step ends, and the
    runtime's step arena (`lib/Runtime/StepMemory.h`) could reuse nothing.
    Functions of several blocks are an error here.

    Input:

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    %b = call @k(%a) : (memref<4xf32>) -> memref<4xf32>
    %c = call @k(%b) : (memref<4xf32>) -> memref<4xf32>
    return %c : memref<4xf32>
    ```

    Output (`@k` returning a buffer it allocates):

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    %b = call @k(%a) : (memref<4xf32>) -> memref<4xf32>
    memref.dealloc %a : memref<4xf32>
    %c = call @k(%b) : (memref<4xf32>) -> memref<4xf32>
    memref.dealloc %b : memref<4xf32>
    return %c : memref<4xf32>
    ```
  }];
  let statistics = [
    Statistic<"numFrees", "frees", "Number of memref.dealloc ops inserted">,
    Statistic<"numCopies", "copies",
              "Number of returned buffers copied to be handed over">,
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def LMCShapeParallelLoops : Pass<"lmc-shape-parallel-loops"> {
  let summary = "Keeps the outer dimensions of parallel loops parallel, the "
                "rest sequential";
  let description = [{
    After `convert-linalg-to-parallel-loops`, each parallel dimension of a
    linalg op is a dimension of one `scf.parallel`; `convert-scf-to-openmp`
    would then hand every dimension to the threads. Threads should split the
    outer dimensions only: the innermost loop is what LLVM vectorises, and
    loops of one dimension (biases, norm parameters) are too small to pay
    for waking the pool. For each outermost `scf.parallel` without
    reductions this pass keeps its first dimensions parallel (at most
    `max-dims`, and never the innermost loop of the nest) and turns the
    others, and every nested `scf.parallel`, into `scf.for` loops.

    Input:

    ```mlir
    scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%b, %t, %c64) step (%c1, %c1, %c1) {
      ...
    }
    ```

    Output:

    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%b, %t) step (%c1, %c1) {
      scf.for %k = %c0 to %c64 step %c1 {
        ...
      }
    }
    ```
  }];
  let options = [
    Option<"maxDims", "max-dims", "unsigned", /*default=*/"2",
           "Most dimensions kept parallel">,
  ];
  let statistics = [
    Statistic<"numReshaped", "reshaped", "Number of scf.parallel ops changed">,
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

#endif // LMC_TRANSFORMS_PASSES_TD
