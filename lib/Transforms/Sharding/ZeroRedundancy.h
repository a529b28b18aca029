//===- ZeroRedundancy.h - ZeRO-1/2/3 updates for lmc-shard -----*- C++ -*-===//
//
// ZeRO over the dp axis: each data-parallel rank keeps and updates 1/dp of
// every parameter's AdamW state and reduce-scatters the gradients (stages
// 1 and 2, one program here), and under stage 3 keeps only its piece of the
// parameter too (ParameterGather.h gathers it for its uses).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_TRANSFORMS_ZEROREDUNDANCY_H
#define LMC_LIB_TRANSFORMS_ZEROREDUNDANCY_H

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::lmc {

struct ZeroStats {
  int64_t reduceScatters = 0, allGathers = 0;
};

/// Rewrites the AdamW updates of `train` for ZeRO-1 over the `dp` ranks of
/// the mesh axis `axis`. For a parameter with a dimension that `dp` divides
/// (the first such; recorded as `lmc.zero_dim` on its lmc.param, and the
/// axis as `lmc.zero_axis`): its gradient is reduce-scattered over
/// dp along that dimension right after the backward pass makes it (started
/// asynchronously and waited for at its first use with `overlap`) and scaled
/// to the mean; the rank's AdamW state arguments and results shrink to its
/// piece; AdamW updates the rank's piece of the parameter, which is then
/// all-gathered over dp. The squared norms of the scattered gradients are
/// partial sums over dp: they are all-reduced together, in one message.
/// The mean gradients of these parameters go into `handled`; the others are
/// left to the data-parallel all-reduce.
///
/// `shardedParams` (ZeRO-3) maps the names of the parameters that live
/// sharded over `axis` (their train_step argument already this rank's
/// piece, ParameterGather.h) to the dimension split: their gradient is
/// reduce-scattered along it, AdamW updates the argument itself and the
/// updated piece is returned as it is (no all-gather, no lmc.zero_dim: the
/// state has the parameter's local shape).
LogicalResult applyZero1(func::FuncOp train, ModelOp model, StringRef axis,
                         int64_t dp, bool overlap,
                         const llvm::StringMap<int64_t> &shardedParams,
                         llvm::SmallPtrSetImpl<Value> &handled,
                         ZeroStats &stats);

} // namespace mlir::lmc

#endif // LMC_LIB_TRANSFORMS_ZEROREDUNDANCY_H
