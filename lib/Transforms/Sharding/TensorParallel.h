//===- TensorParallel.h - Tensor-parallel planning and partitioning -------===//
//
// The two halves of lmc-shard's tensor parallelism: the planner, which
// places the parameters of a GPT-style model over the `tp` axis as Megatron
// does, and the partitioner, which propagates placements through a function
// (forward, backward and optimizer alike) with the ops' sharding rules and
// rewrites it into the per-rank program with explicit collectives.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_TRANSFORMS_TENSORPARALLEL_H
#define LMC_LIB_TRANSFORMS_TENSORPARALLEL_H

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::lmc {

/// Sets `lmc.sharding` on the parameters of `model` for `parts` ranks along
/// `axis`, as Megatron does. Linear layers are matmul(x, W) with W [in, out]
/// or matmul(x, W, transpose_b) with W [out, in] (nn.Linear); column-parallel
/// splits W's output dimension, row-parallel its input dimension. The fused
/// QKV projection is column-parallel split by heads (`shard(1, blocks =
/// 3)`), separate q, k, v projections column-parallel (looked through an op
/// that keeps a split of whole heads, such as the rotary embedding), the
/// attention output projection row-parallel; key/value heads of
/// grouped-query attention are split with the query heads. The MLP
/// up-projection (gate and up of a gated MLP such as SwiGLU) is
/// column-parallel and its down-projection row-parallel; the token
/// embedding (and the LM head, tied or not) split along the vocabulary;
/// everything else replicated. The patterns are read from `reference` (a
/// function of the model using the forward ops). A size that `parts` does
/// not divide is an error located at the op that needs it. A parameter
/// over 1 MiB that no pattern places, and that is not replicated by design
/// (position table, a normalisation's parameters, a bias added to a whole
/// output), gets a warning at the use no pattern matched.
LogicalResult planTensorParallel(ModelOp model, func::FuncOp reference,
                                 StringRef axis, int64_t parts);

/// Statistics of one partitioned function.
struct PartitionStats {
  int64_t allReduces = 0, allGathers = 0, slices = 0, reduceScatters = 0;
  /// The local values whose dynamic dimensions are split over the axis
  /// (shard of a dimension whose size is a run-time value, such as the
  /// sequence under sequence parallelism): their type does not show it.
  llvm::DenseSet<Value> dynamicSplit;
};

/// Rewrites `func` into its local form for `parts` ranks along `axis`:
/// arguments and results carrying `lmc.param` take the placement of that
/// parameter, everything else starts replicated; every op's placements follow
/// from its sharding rule, and operands are resharded (all-reduce,
/// all-gather, local slice) where the rule asks for another placement. A
/// parameter's gradient (the operand of its lmc.adamw) is resharded to the
/// parameter's placement once, right where it is produced, so that every
/// reader (the global norm, lmc-shard's dp reduction, AdamW) reads the same
/// local value.
///
/// With `sequenceParallel` (Megatron-LM's sequence parallelism), a partial
/// [B, T, C] value that a reader needs whole is split along the sequence
/// (dimension 1) instead, by a reduce-scatter, wherever the reader's rule
/// accepts that split: the residual stream, norms and the ops position by
/// position then run on each rank's tokens, and a column-parallel linear
/// layer all-gathers its input along the sequence. Every partial value
/// resolved once is read resolved from then on.
LogicalResult partitionFunction(func::FuncOp func, ModelOp model,
                                StringRef axis, int64_t parts,
                                PartitionStats &stats,
                                bool sequenceParallel = false);

} // namespace mlir::lmc

#endif // LMC_LIB_TRANSFORMS_TENSORPARALLEL_H
