//===- ParameterGather.h - ZeRO-3 parameters for lmc-shard -----*- C++ -*-===//
//
// ZeRO stage 3 (fully sharded data parallelism) over the dp axis: every
// parameter that dp can split lives as this rank's piece, and each function
// of the step all-gathers it just before it is used, layer by layer, the
// gather of the next layer started while the current one computes.
// ZeroRedundancy.h then reduce-scatters the gradients and updates the
// pieces.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_TRANSFORMS_PARAMETERGATHER_H
#define LMC_LIB_TRANSFORMS_PARAMETERGATHER_H

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::lmc {

/// The layer a parameter named `name` belongs to: the name up to and
/// including its first all-digit component (`h.3`, `model.layers.3`), or,
/// for a name without one, the name without its last component (`ln_f`,
/// `wte`). ZeRO-3 gathers and pipeline stages work layer by layer.
std::string layerKey(StringRef name);

/// Chooses, for each parameter of `model`, the dimension the `dp` ranks of
/// mesh axis `axis` split: the first static dimension of its (tensor-
/// parallel) local shape that no mesh axis splits yet and that `dp`
/// divides, and adds `axis = shard(dim)` to its `lmc.sharding`. Parameters
/// without such a dimension stay replicated over `axis` (they are left out
/// of the result). Returns the chosen dimensions by parameter name.
llvm::StringMap<int64_t> planParameterShards(ModelOp model, StringRef axis,
                                             int64_t dp);

/// What gatherParameters added to a function.
struct GatherStats {
  int64_t forwardGathers = 0, backwardGathers = 0;
  int64_t forwardLayers = 0, backwardLayers = 0;
};

/// Makes the arguments of `func` that are parameters in `sharded` this
/// rank's pieces (split along the recorded dimension) and all-gathers each
/// over `axis` for its uses:
///
/// - a use is a forward use when its op (in the function's block) is at or
///   before `forwardEnd` (the op that computes the loss of train_step; null
///   for eval_step and logits, where every use is a forward use), and a
///   backward use after it; lmc.adamw's read of the parameter keeps the
///   piece;
/// - a layer is a maximal run of parameters, in the order of their first
///   forward (backward) use, whose names share a layer key: the name up to
///   and including its first all-digit component (`h.3`, `model.layers.3`),
///   or, for a name without one, the name without its last component
///   (`ln_f`, `wte`);
/// - the forward uses of a layer read one gather of each of its parameters,
///   waited for (one lmc.wait per layer) right before the first of them; the
///   backward uses read a second gather, waited for the same way. Each
///   layer's gathers start (lmc.all_gather_start) right after the previous
///   layer's wait; the first forward layer's at the top of the function,
///   the first backward layer's right after `forwardEnd`. Without `overlap`
///   each gather is a blocking lmc.all_gather right before the first use.
///
/// A gathered tensor's last use is its layer's last use in that pass, where
/// lmc-free-buffers frees it. Updates the function's type.
LogicalResult gatherParameters(func::FuncOp func, StringRef axis, int64_t dp,
                               const llvm::StringMap<int64_t> &sharded,
                               Operation *forwardEnd, bool overlap,
                               GatherStats &stats);

} // namespace mlir::lmc

#endif // LMC_LIB_TRANSFORMS_PARAMETERGATHER_H
