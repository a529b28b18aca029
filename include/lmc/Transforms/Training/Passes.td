//===- Passes.td - lmc training passes ---------------------*- tablegen -*-===//
//
// Stage: the training step from a forward model: differentiation
// (lmc-autodiff), the optimizer (lmc-optimizer), and graph-level rewrites and
// analyses of the forward model.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_TRAINING_PASSES_TD
#define LMC_TRANSFORMS_TRAINING_PASSES_TD

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

    With `kv_heads` smaller than `heads` (grouped-query attention), the keys
    and values are split into `kv_heads` heads and each is repeated to the
    query heads of its group before the products:

    ```mlir
    %y = lmc.causal_attention %q, %k, %v heads(4) kv_heads(2)
        : tensor<?x?x64xf32>, tensor<?x?x32xf32>
    // becomes, for the keys (the values alike):
    %kh = lmc.split_heads %k heads(2) : tensor<?x?x32xf32>
    %kr = lmc.repeat_heads %kh times(2) : tensor<?x2x?x16xf32>
    ```
  }];
  let dependentDialects = ["::mlir::lmc::LMCDialect"];
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
      of the normalisations: ops with the `LMC_Normalization` trait,
      `lmc.layer_norm` and `lmc.rms_norm`) is kept; everything else a rule
      needs is recomputed from it in the backward pass.
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
    Option<"recompute", "recompute", "::mlir::lmc::Recompute",
           /*default=*/"::mlir::lmc::defaults::recompute",
           "What the backward pass recomputes: none, attention or block",
           [{::mlir::lmc::recomputeValues()}]>,
    Option<"attention", "attention", "::mlir::lmc::Attention",
           /*default=*/"::mlir::lmc::defaults::attention",
           "How attention is differentiated: flash (the default: "
           "lmc.flash_attention forward, one lmc.flash_attention_grad "
           "backward, lowered to the runtime's kernels) or decomposed (the "
           "recompute policy decides; what the reference pipeline, which "
           "runs without the runtime, needs)",
           [{::mlir::lmc::attentionValues()}]>,
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
      the last position of every sequence, for generation; for a loss with
      `classes(N)` (a padded vocabulary) only the first `N` columns
      (`tensor<?xNxf32>`), so that padding is never sampled.

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

def LMCGradAccumulation : Pass<"lmc-grad-accumulation", "::mlir::ModuleOp"> {
  let summary = "Splits the training step into gradient and update steps";
  let description = [{
    For gradient accumulation (`lmc compile --grad-accum`; the trainer's
    `--grad-accum K`): adds to every `lmc.model` with a `@train_step`
    (`lmc-optimizer`, partitioned or not by `lmc-shard`, which runs before)

    - `@grad_step(params..., grad_acc..., tokens, targets) -> (loss,
      grad_acc...)`: the loss and the gradients of the batch, added to
      `grad_acc`. The gradient of a parameter is what its `lmc.adamw` reads
      in `@train_step`: after `lmc-shard` the mean over `dp` (all-reduced in
      every micro-batch), under ZeRO-1 this rank's reduce-scattered piece,
      so `grad_acc` has the types of the optimizer state.
    - `@apply_step(params..., exp_avg..., exp_avg_sq..., grad_acc...,
      grad_scale, step, lr, ..., grad_clip) -> (grad_norm, lr, params...,
      exp_avg..., exp_avg_sq...)`: the rest of the step on `grad_acc`, its
      norm multiplied by `grad_scale` and each update's gradient scale
      (the clipping coefficient) too: with `grad_scale = 1/K` after K calls
      of `@grad_step` from zero, the step of the mean gradient of the K
      micro-batches, as `@train_step` of their concatenation computes it.

    Ops that both need and that do not depend on the batch (constants, axis
    indices) are built in both; `@train_step` is left as it is. Fails when
    the update reads a value of the batch other than the gradients.

    Input (abridged):

    ```mlir
    func.func @train_step(%p: tensor<4x4xf32> {lmc.param = @w}, %m: ..., %v: ...,
        %step: i64 {lmc.hparam = "step"}, ..., %tokens: ..., %targets: ...) -> (...) {
      %loss, %dw = ...
      %norm = math.sqrt ...
      %p1, %m1, %v1 = lmc.adamw %p, %dw, %m, %v lr(%lr_t) grad_scale(%clip) ...
      return %l, %norm, %lr_t, %p1, %m1, %v1 : ...
    }
    ```

    Output (added):

    ```mlir
    func.func @grad_step(%p: tensor<4x4xf32> {lmc.param = @w}, %acc: tensor<4x4xf32>,
        %tokens: ..., %targets: ...) -> (f32, tensor<4x4xf32>) {
      %loss, %dw = ...
      %acc1 = lmc.add %acc, %dw : tensor<4x4xf32>
      return %l, %acc1 : f32, tensor<4x4xf32>
    }
    func.func @apply_step(%p: ..., %m: ..., %v: ..., %acc: tensor<4x4xf32>,
        %scale: f32 {lmc.hparam = "grad_scale"}, %step: i64 {lmc.hparam = "step"}, ...) -> (...) {
      %norm0 = math.sqrt ... (of %acc)
      %norm = arith.mulf %norm0, %scale : f32
      %clip = ... (of %norm)
      %s = arith.mulf %clip, %scale : f32
      %p1, %m1, %v1 = lmc.adamw %p, %acc, %m, %v lr(%lr_t) grad_scale(%s) ...
      return %norm, %lr_t, %p1, %m1, %v1 : ...
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::lmc::LMCDialect"];
}

def LMCChunkLossHead : Pass<"lmc-chunk-loss-head", "::mlir::ModuleOp"> {
  let summary = "The LM head and its loss in row chunks (no whole logits)";
  let description = [{
    Finds, in every function, a training step's LM head and loss: an
    `lmc.matmul` producing logits `op(x, w)` (`w` a matrix, `[V, C]` read
    with `transpose_b` or `[C, V]`) read only by one `lmc.cross_entropy`
    and one `lmc.cross_entropy_grad` (same targets, same `classes`), whose
    gradient `dL` is read only by the two matmuls of the head's gradient
    rule (`dx = dL op(w)^T`, and `dw` from the flattened `dL` and `x`).
    The gradient depends on the logits, the targets and the seed (the
    loss's gradient) only, so the five ops become one
    `lmc.chunked_head_loss` (loss, dx, dw) at the place of the loss, which
    the CPU runtime computes `rows` rows at a time: the `B*T x V` logits and
    their gradient are never stored whole (51 MB each for gpt2-124M at B 4
    T 64; `rows x V` instead). The seed must be defined before the loss or
    be a constant (cloned there). Where the backward pass recomputes the
    head (`lmc-autodiff{recompute=block}`: the loss reads the forward's
    logits, the gradient those of the same matmul of an equivalent, pure,
    recomputed input), the op goes at the gradient, on the recomputed input,
    if nothing reads the loss before; the forward's head and input go.

    Anything else is left as it is: logits that something else reads
    (an evaluation step, `@logits`), a vocabulary-parallel loss under tensor
    parallelism (`lmc.cross_entropy_stats` and its shard gradient: no
    `lmc.cross_entropy` to find), element types other than float32 logits
    and int32 targets, a batched right-hand side, or an order of the ops
    that the single op cannot keep. `lmc compile` runs it for the CPU after
    partitioning and before fusion (`--chunk-loss-head`, on by default;
    `--chunk-loss-rows`); the CUDA target keeps the unchunked ops.

    Input:

    ```mlir
    %logits = lmc.matmul %x, %wte transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    %seed = arith.constant dense<1.000000e+00> : tensor<f32>
    %dl = lmc.cross_entropy_grad %logits, %targets, %seed : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
    %dx = lmc.matmul %dl, %wte : tensor<?x?x256xf32>, tensor<256x64xf32>
    %fx = lmc.flatten %x : tensor<?x?x64xf32>
    %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
    %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
    ```

    Output:

    ```mlir
    %seed = arith.constant dense<1.000000e+00> : tensor<f32>
    %loss, %dx, %dw = lmc.chunked_head_loss %x, %wte, %targets, %seed
        transpose_b rows(128)
        : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
    ```
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"128",
           "Rows of the flattened input per chunk: the kernel holds rows x V "
           "logits">,
  ];
  let statistics = [
    Statistic<"numRewritten", "heads", "LM heads and losses chunked">,
  ];
  let dependentDialects = ["::mlir::lmc::LMCDialect"];
}

#endif // LMC_TRANSFORMS_TRAINING_PASSES_TD
