//===- ZeroRedundancy.h - ZeRO-1 for lmc-shard ------------------*- C++ -*-===//
//
// ZeRO stage 1 over the dp axis: each data-parallel rank keeps and updates
// 1/dp of every parameter's AdamW state.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_TRANSFORMS_ZEROREDUNDANCY_H
#define LMC_LIB_TRANSFORMS_ZEROREDUNDANCY_H

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallPtrSet.h"

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
LogicalResult applyZero1(func::FuncOp train, ModelOp model, StringRef axis,
                         int64_t dp, bool overlap,
                         llvm::SmallPtrSetImpl<Value> &handled,
                         ZeroStats &stats);

} // namespace mlir::lmc

#endif // LMC_LIB_TRANSFORMS_ZEROREDUNDANCY_H
