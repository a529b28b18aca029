//===- Passes.td - lmc sharding passes ---------------------*- tablegen -*-===//
//
// Stage: the SPMD program for a mesh of ranks: the plan of parameter
// placements, the partitioning of every op by its sharding rule, ZeRO, and
// the gradient collectives (lmc-shard).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_SHARDING_PASSES_TD
#define LMC_TRANSFORMS_SHARDING_PASSES_TD

include "mlir/Pass/PassBase.td"

def LMCShard : Pass<"lmc-shard", "::mlir::ModuleOp"> {
  let summary = "Partitions the training step over a dp x tp mesh of ranks, "
                "with ZeRO-1/2/3";
  let description = [{
    Makes the training functions of the model (after `lmc-optimizer`) one
    SPMD program for the mesh `mesh` (`dp=D,tp=T`), recorded as the model's
    `lmc.mesh` attribute. The mesh is parsed by `lmc/Support/Mesh.h`; the
    pass's strategy (`lib/Transforms/Sharding/ShardingStrategy.h`, the one place that
    names the axes) partitions over `dp` and `tp`, in that order, each of
    size 1 unless given; any other axis is an error, located at the module,
    that lists the supported ones. The axes that split the batch are
    recorded as `lmc.batch_axes` (`["dp"]`), and each ZeRO-1 parameter's
    axis as `lmc.zero_axis` next to its `lmc.zero_dim`: the model
    description (`lmc-export-entry-points`) writes them out, so that the
    runtime learns the mesh and every layout from it alone.

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
    `lmc.param`). A linear layer is `lmc.matmul %x, %W` with W [in, out]
    (GPT-2's Conv1D) or `lmc.matmul %x, %W transpose_b` with W [out, in]
    (nn.Linear, Llama); column-parallel splits W's output dimension (1, or
    0 transposed), row-parallel its input dimension (0, or 1 transposed).
    Attention is split by heads: the fused QKV projection column-parallel
    in three blocks (`shard(1, blocks = 3)`, its bias `shard(0, blocks =
    3)`), or separate q, k and v projections column-parallel, each looked
    through an op that keeps a split of whole heads (the rotary embedding
    of q and k: the planner asks the op's sharding rule); the output
    projection row-parallel. Under grouped-query attention (`kv_heads`)
    the key/value heads are split too, so that each rank's query heads read
    its own key/value heads. The MLP around an activation (an op with the
    `LMC_Activation` trait) has its up-projection column-parallel and its
    down-projection row-parallel; a gated MLP (SwiGLU `silu(x Wg^T) * (x
    Wu^T)`, then `Wd^T`; GeGLU), where an op that keeps a split of the
    channels (the product) combines the activation with a second linear
    layer, has both gate and up column-parallel. The token embedding and
    the LM head (tied to it, or its own parameter read transposed by the
    logits matmul) are split along the vocabulary (`shard(0)`); the rest
    is replicated. A size `tp` does not divide (the attention heads, the
    key/value heads, the MLP width) is an error at the op that needs it; a
    vocabulary it does not divide (GPT-2's 50257) leaves the embedding and
    the LM head replicated, with a warning. Any other parameter over 1 MiB
    that no pattern places (an MLP that normalises its hidden layer, say)
    stays replicated with a warning at the use no pattern matched; the
    position table and the parameters of LayerNorm and RMSNorm are
    replicated by design. `train_step`, `eval_step` and `logits` are then
    partitioned: each parameter (and its AdamW state) in its placement,
    each parameter's
    gradient resharded to that placement where it is produced (so that the
    global norm, the dp reduction and AdamW read one value), every other
    value placed by the sharding rule of the op that makes it
    (`ShardingRuleOpInterface`), forward, backward and optimizer alike, and
    operands resharded where a rule needs another placement (once per
    value and placement: a residual stream left partial by the sum of
    row-parallel outputs is all-reduced once, for the forward and the
    backward pass alike): `partial` to replicated by `lmc.all_reduce` over
    `tp` (after each row-parallel
    projection, the vocabulary-parallel embedding, and the input gradient of
    each column-parallel one), `shard` to replicated by `lmc.all_gather`,
    replicated to `shard` by a local slice. The cross-entropy of
    vocabulary-sharded logits becomes `lmc.cross_entropy_stats`, an
    all-gather of the per-row statistics and `lmc.cross_entropy_combine`;
    its gradient `lmc.cross_entropy_shard_grad`. The global gradient norm
    sums partial squares and all-reduces one scalar.

    Sequence parallelism (`sequence-parallel`, with tp > 1; Megatron-LM's
    form): the activations outside the tensor-parallel regions (the
    embedding output, norms, residual adds, position-wise ops) are split
    along the sequence (dimension 1) over `tp`. The partitioner derives it:
    where a rule would make a partial `[B, T, C]` value whole, it asks the
    rule again with that value split along the sequence and, when the rule
    keeps that split, reduce-scatters it (`lmc.reduce_scatter ... dim 1`:
    the vocabulary-parallel embedding's output, each row-parallel output,
    and in the backward pass each column-parallel input gradient); the value
    then stays split for every later reader. A column-parallel layer (a
    weight shared by the batch whose columns are split) all-gathers its
    split input along the sequence, as does the LM head and, in the backward
    pass, each row-parallel layer's output gradient and the embedding's.
    The norm weights' (and biases') gradients, sums over each rank's tokens,
    are all-reduced over `tp`. GPT-2's position embedding is sliced to the
    rank's positions. The model records `lmc.sequence_axes = ["tp"]`; the
    trainer requires a sequence length `tp` divides. `logits` (sampling,
    prompts of any length) stays tensor-parallel only. With `report`, the
    activations kept per rank and the bytes moved over `tp` are printed
    against tensor parallelism alone.

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

    Local synchronisation (`dp-sync=local`, for local SGD and DiLoCo): the
    training step adds no collective over `dp` at all. Each replica's
    gradients, their global norm and clipping (still reduced over `tp`),
    AdamW and the loss `train_step` returns are those of its own rows; the
    replicas' parameters diverge until the trainer averages them with the
    `lmc_dp_average` entry points (`lmc-export-entry-points`). The loss of
    `eval_step` is still the mean over `dp`. The model records the mode as
    `lmc.dp_sync = "local"` (the description's `dp_sync local` line). It
    needs `dp` > 1 and `zero=0` (ZeRO shards the state of replicas that
    diverge); either is an error otherwise.

    ZeRO-2 (`zero=2`) is the same program. Each gradient is already
    reduce-scattered as soon as the backward pass produces it, and
    `lmc-free-buffers` frees the full gradient right after, so no rank keeps
    more than its piece of the gradients past that point; under
    `lmc-grad-accumulation` the accumulators have the state's layout (the
    piece), so the gradients kept across micro-batches are pieces too. The
    stages differ in other systems, whose ZeRO-1 keeps full gradients; here
    1 and 2 coincide, with or without gradient accumulation.

    ZeRO-3 (`zero=3`, fully sharded data parallelism; with dp > 1): each
    parameter with a dimension that no mesh axis splits yet and that D
    divides in its (tensor-parallel) local shape lives as the rank's 1/D
    piece along the first such dimension: `lmc.sharding` gains `dp =
    shard(d)` (the runtime holds, initialises and checkpoints pieces), and
    the parameter arguments of `train_step`, `eval_step` and `logits` are
    the pieces. Each function all-gathers a parameter over `dp` for its
    uses. A use is a forward use when its op is at or before the op that
    computes `train_step`'s loss (every use of `eval_step` and `logits`),
    a backward use after it (the recomputed forward ops of a recompute
    policy included); AdamW's read is of the piece. A layer is a maximal
    run of parameters, in the order of their first forward (backward) use,
    whose names share a layer key: the name up to and including its first
    all-digit component (`h.3`, `model.layers.3`), or the name without its
    last component (`wte`, `ln_f`). Each layer's forward uses read one
    gather of each of its parameters (one `lmc.wait` for the layer, right
    before its first use; the gathered tensors die at the layer's last
    forward use, where `lmc-free-buffers` frees them), and its backward
    uses a second gather, waited for the same way. The gathers of a layer
    start (`lmc.all_gather_start`) right after the previous layer's wait,
    so that they overlap the previous layer's compute (prefetch); the first
    forward layer's at the top of the function, the first backward layer's
    right after the loss. Without `overlap`, each gather is a blocking
    `lmc.all_gather` before the first use. The gradient is reduce-scattered
    as under ZeRO-1 and AdamW updates the piece, which stays a piece (no
    all-gather). A parameter without such a dimension stays replicated over
    `dp` and is handled as under ZeRO-1.

    Output (abridged, `mesh=dp=2 zero=3`, two layers of one weight each):

    ```mlir
    func.func @train_step(%w0: tensor<32x64xf32>, %w1: tensor<32x64xf32>, ...) {
      %p0 = lmc.all_gather_start %w0 over ["dp"] dim 0 : tensor<32x64xf32> -> !lmc.pending<tensor<64x64xf32>>
      %g0 = lmc.wait %p0 : !lmc.pending<tensor<64x64xf32>>
      %p1 = lmc.all_gather_start %w1 over ["dp"] dim 0 : tensor<32x64xf32> -> !lmc.pending<tensor<64x64xf32>>
      %h0 = lmc.matmul %x, %g0 : ...        // layer 0, while layer 1 gathers
      %g1 = lmc.wait %p1 : !lmc.pending<tensor<64x64xf32>>
      %h1 = lmc.matmul %h0, %g1 : ...
      %loss = lmc.cross_entropy ...
      %q1 = lmc.all_gather_start %w1 over ["dp"] dim 0 ...   // backward
      %b1 = lmc.wait %q1 ...
      %q0 = lmc.all_gather_start %w0 over ["dp"] dim 0 ...
      ... backward of layer 1 reads %b1 ...
      %s1 = lmc.reduce_scatter_start %dw1 over ["dp"] dim 0 ...
      %b0 = lmc.wait %q0 ...
      ... backward of layer 0 reads %b0 ...
      %new:3 = lmc.adamw %w1, %mean1, ... : tensor<32x64xf32>
    ```

    With `report`, the pass prints the collectives of one training step (per
    bucket: tensors, bytes, and the bytes a ring all-reduce moves per rank,
    2 (D - 1) / D times the payload) and the parameter and optimizer-state
    bytes per rank; with dp > 1, the bytes moved over `dp` per step by both
    modes of `dp-sync`: `allreduce`'s gradients and loss every step against
    `local`'s one all-reduce of the rank's parameters per round of
    `report-sync-every` steps, divided by the round.

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
    Option<"mesh", "mesh", "std::string", /*default=*/"::mlir::lmc::defaults::mesh",
           "The mesh: comma-separated axis=size, major to minor "
           "(lmc/Support/Mesh.h); the axes lmc-shard partitions over are dp "
           "and tp, in that order, each of size 1 unless given; empty: one "
           "rank. Another axis is an error listing those">,
    Option<"zero", "zero", "unsigned", /*default=*/"0",
           "ZeRO stage: 0 (optimizer state replicated), 1 or 2 (optimizer "
           "state and gradients sharded over dp; one program), 3 (parameters "
           "sharded too, gathered for their uses)">,
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
    Option<"sequenceParallel", "sequence-parallel", "bool",
           /*default=*/"false",
           "Sequence parallelism with tp (Megatron-LM's): activations "
           "outside the tensor-parallel regions split along the sequence "
           "(dimension 1) over tp; needs tp > 1">,
    Option<"dpSync", "dp-sync", "::mlir::lmc::DpSync",
           /*default=*/"::mlir::lmc::defaults::dpSync",
           "How dp replicas synchronise: allreduce (gradients averaged over "
           "dp every step) or local (train_step reduces nothing over dp; "
           "the trainer averages the parameters, local SGD); local needs "
           "dp > 1 and no ZeRO",
           [{::mlir::lmc::dpSyncValues()}]>,
    Option<"reportSyncEvery", "report-sync-every", "int64_t",
           /*default=*/"1",
           "Steps per averaging round at which the report gives dp-sync "
           "local's bytes per step">,
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
              "Number of gradient reduce-scatters over dp (ZeRO-1/2/3)">,
    Statistic<"numTpReduceScatters", "tp-reduce-scatters",
              "Number of reduce-scatters over tp in train_step (sequence "
              "parallelism)">,
    Statistic<"numParamAllGathers", "param-all-gathers",
              "Number of parameter all-gathers over dp in train_step "
              "(ZeRO-3)">,
  ];
  let dependentDialects = ["::mlir::lmc::LMCDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LMCBucketCollectives : Pass<"lmc-bucket-collectives", "::mlir::ModuleOp"> {
  let summary = "Merges per-tensor asynchronous reduce-scatters and "
                "all-gathers into buckets";
  let description = [{
    ZeRO moves its traffic one tensor at a time: `lmc-shard` starts one
    `lmc.reduce_scatter_start` per gradient and one `lmc.all_gather_start`
    per updated parameter (ZeRO-1; ZeRO-2 and 3 alike), each waited for by
    its own `lmc.wait`. For gpt2-124M that is 148 of each per step, down to
    3 KB a message. This pass, run by the pipeline right after `lmc-shard`,
    merges them, in each block, into buckets of at least `bucket-bytes`
    bytes (of whole tensors: the scattered gradient, the gathered
    parameter) of the same kind over the same `axes`, in program order
    (`lmc compile --bucket-mb`, the size of the gradient all-reduce buckets
    too; 0: one collective per tensor, the pass changes nothing).

    The overlap stays: a bucket starts at its first member's start, or
    after its last input if that comes later, and is waited for right
    before the earliest wait of its members (so before the first use of any
    result). A tensor started after the wait of the bucket being filled
    starts a new bucket: a bucket never reaches over a wait of its own, so
    an input computed from an already waited result is not hoisted above
    it, and ZeRO-3's gathers, each layer's started right after the previous
    layer's wait, become one bucket per layer (or several, for a layer
    over the size) that keeps `lmc-shard`'s prefetch. Only
    static float32 tensors whose pending result has its one wait in the
    block are merged; others stay as they are.

    Representation: one existing collective along dimension 0 of a packed
    `[G, S]` tensor, G the group size and S the sum of the bucket's piece
    sizes, whose row `r` holds rank `r`'s pieces of every member, each
    flattened row-major, one after the other. A reduce-scatter of it
    leaves each rank `[1, S]`, its own pieces; an all-gather of each rank's
    `[1, S]` gives every rank all rows. Packing is `tensor.insert_slice`
    (for a scatter along dimension d of a tensor whose dimensions before d
    are 1, e.g. d = 0, the whole tensor is already its G pieces in order:
    one reshape and one insertion; otherwise one slice per rank), unpacking
    `tensor.extract_slice` and reshapes. So the buffers, the runtime ABI and
    the runtime's MPI and NCCL paths are those of one dim-0 collective: one
    message per bucket, rather than a variadic op with one dimension per
    operand that the runtime would have to pack itself (with strides per
    tensor) behind the ABI.

    With `report`, prints (when there is any gather or scatter to bucket)
    per function, kind and group the collectives before and after
    (tensors, buckets, payload bytes).

    Input (`mesh=dp=2`, `bucket-bytes=0` would leave it unchanged):

    ```mlir
    %p1 = lmc.reduce_scatter_start %g1 over ["dp"] dim 0 : tensor<8x4xf32> -> !lmc.pending<tensor<4x4xf32>>
    %p2 = lmc.reduce_scatter_start %g2 over ["dp"] dim 0 : tensor<8xf32> -> !lmc.pending<tensor<4xf32>>
    ...
    %s1 = lmc.wait %p1 : !lmc.pending<tensor<4x4xf32>>
    %s2 = lmc.wait %p2 : !lmc.pending<tensor<4xf32>>
    ```

    Output:

    ```mlir
    %e = tensor.empty() : tensor<2x20xf32>
    %f1 = tensor.collapse_shape %g1 [[0, 1]] : tensor<8x4xf32> into tensor<32xf32>
    %r1 = tensor.expand_shape %f1 [[0, 1]] output_shape [2, 16] : tensor<32xf32> into tensor<2x16xf32>
    %k1 = tensor.insert_slice %r1 into %e[0, 0] [2, 16] [1, 1] : tensor<2x16xf32> into tensor<2x20xf32>
    %r2 = tensor.expand_shape %g2 [[0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
    %k2 = tensor.insert_slice %r2 into %k1[0, 16] [2, 4] [1, 1] : tensor<2x4xf32> into tensor<2x20xf32>
    %p = lmc.reduce_scatter_start %k2 over ["dp"] dim 0 : tensor<2x20xf32> -> !lmc.pending<tensor<1x20xf32>>
    ...
    %w = lmc.wait %p : !lmc.pending<tensor<1x20xf32>>
    %x1 = tensor.extract_slice %w[0, 0] [1, 16] [1, 1] : tensor<1x20xf32> to tensor<16xf32>
    %s1 = tensor.expand_shape %x1 [[0, 1]] output_shape [4, 4] : tensor<16xf32> into tensor<4x4xf32>
    %s2 = tensor.extract_slice %w[0, 16] [1, 4] [1, 1] : tensor<1x20xf32> to tensor<4xf32>
    ```
  }];
  let options = [
    Option<"bucketBytes", "bucket-bytes", "int64_t",
           /*default=*/"25 * 1024 * 1024",
           "Smallest payload of a bucket, in bytes, as lmc-shard's gradient "
           "all-reduce buckets (0: one collective per tensor)">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the gathers and scatters before and after bucketing">,
  ];
  let statistics = [
    Statistic<"numBuckets", "buckets",
              "Number of buckets of two or more tensors formed">,
    Statistic<"numMerged", "merged",
              "Number of per-tensor collectives merged into buckets">,
  ];
  let dependentDialects = ["::mlir::lmc::LMCDialect",
                           "::mlir::tensor::TensorDialect"];
}

def LMCPipeline : Pass<"lmc-pipeline", "::mlir::ModuleOp"> {
  let summary = "Splits the training step into pipeline stages over the "
                "`pp` mesh axis, with a 1F1B or GPipe schedule";
  let description = [{
    Pipeline parallelism over the mesh axis `pp` (P stages), run after
    `lmc-shard` (which partitions over `dp` and `tp` and leaves every value
    whole over `pp`) and `lmc-grad-accumulation` (`@grad_step`,
    `@apply_step`). Each rank runs the program of its stage (MPMD from one
    compile): `lmc-export-entry-points` makes `lmc_grad_step` and
    `lmc_apply_step` dispatch on the rank's `pp` coordinate to the functions
    this pass adds.

    **Stages.** The parameters are grouped into layers (the name up to its
    first all-digit component: `h.3`, `model.layers.3`), ordered by their
    first use in the forward pass. Each layer costs the FLOPs per token of
    its GEMMs with a parameter operand (2·K·N each; the backward pass's are
    proportional), its parameter count breaking ties (a thousandth of it);
    the parameters used before the first layer (the embedding) count on the
    first stage and those after the last (the final norm, the LM head, the
    tied embedding's GEMM) on the last. Contiguous runs of layers, one or
    more per stage, minimise the costliest stage. Every op of `@grad_step` then gets a
    stage: a forward op (one the loss depends on) the latest stage among
    its operands' and its parameters' (so the LM head of a tied model runs
    on the last stage), a backward op the earliest among its operands
    (gradients flow back into the stage of the activations they need).
    Values that depend only on the batch and constants are recomputed on
    every stage that needs them. A parameter is held by the stages that
    use it: its home (first) stage and, for a tied embedding, the last.

    **Schedule.** `@grad_step_stage_<s>` runs stage `s` over `microbatches`
    micro-batches of `B / microbatches` consecutive rows: `1f1b` does
    `min(P - s - 1, M)` forwards, then alternates one forward and one
    backward, then the remaining backwards (at most `P - s` micro-batches'
    activations live at once); `gpipe` does all forwards, then all
    backwards. A value one stage needs from another is sent right after it
    is computed (`lmc.send`) and received with `lmc.recv_start`, posted at
    the start of the slot before the one that reads it, and `lmc.wait`ed
    right before its first use; dynamic sizes travel once, with
    micro-batch 0 (whose receives therefore wait for their sizes in their
    own slot). Each stage sums its gradients over the micro-batches and
    reduces each sum over dp (tp) once, with the reduction `lmc-shard` put
    after the gradient: the asynchronous start as soon as the last
    micro-batch's term is computed (overlapping the rest of that backward
    pass), the wait after the schedule. The holders of a tied parameter
    first exchange their sums and add them in stage order (so they stay
    bitwise equal). The loss (the sum of the micro-batches' mean losses) is
    all-reduced over `pp`.

    `@apply_step_stage_<s>` updates the parameters stage `s` holds; the
    gradient norm counts each parameter on its home stage, all-reduced
    over `pp`.

    The model gets `lmc.pipeline` (axis, stages, micro-batches, schedule)
    and each `lmc.param` `lmc.stages` (home first), which become the
    description's `pipeline` and `stage` lines. With `report`, prints per
    stage its layers, parameter bytes, the activation bytes it keeps at
    its peak and the bytes it sends and receives per step (at
    `report-batch` rows per replica and `report-seq` tokens), and the
    bubble fraction (P - 1) / (M + P - 1).

    Input (`@grad_step` on a mesh `pp = 2`, two layers):

    ```mlir
    func.func @grad_step(%w0: tensor<64x64xf32> {lmc.param = @"h.0.w"}, ...,
                         %tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (f32, ...)
    ```

    Output (stage 1, `microbatches = 2`, `1f1b`: F0 B0 F1 B1):

    ```mlir
    func.func @grad_step_stage_1(...) -> (f32, ...) {
      %p0 = lmc.recv_start from 0 over ["pp"] tag 0 [%b, %t] : !lmc.pending<tensor<?x?x64xf32>>
      %x0 = lmc.wait %p0 : !lmc.pending<tensor<?x?x64xf32>>
      // forward of micro-batch 0: layer 1, the loss
      // backward of micro-batch 0
      lmc.send %dx0 to 0 over ["pp"] tag 2 : tensor<?x?x64xf32>
      ...
    }
    ```

    Errors (located, one line): no `pp` axis in the mesh, more stages than
    layers, a `microbatches` below 1, a schedule other than `1f1b` or
    `gpipe`, a program without `@grad_step` and `@apply_step`.
  }];
  let options = [
    Option<"microbatches", "microbatches", "int64_t", /*default=*/"1",
           "Micro-batches per step (lmc compile --microbatches)">,
    Option<"schedule", "schedule", "std::string", /*default=*/"\"1f1b\"",
           "Pipeline schedule: 1f1b or gpipe">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the stages, their memory and traffic, and the bubble">,
    Option<"reportBatch", "report-batch", "int64_t", /*default=*/"8",
           "Rows per replica per step for the report">,
    Option<"reportSeq", "report-seq", "int64_t", /*default=*/"64",
           "Tokens per row for the report">,
  ];
  let dependentDialects = ["::mlir::lmc::LMCDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::func::FuncDialect"];
}

#endif // LMC_TRANSFORMS_SHARDING_PASSES_TD
