//===- FlatLaunch.h - A loop nest as one flat launch ------------*- C++ -*-===//
//
// What lmc-linalg-to-gpu and lmc-fused-loops-to-gpu share: a parallel loop
// nest over [0, e_0) x ... x [0, e_n-1), flattened row-major into one index
// space and cut into blocks of threads, as two mapped scf.parallel loops
// (blocks, threads) that upstream's parallel-loops-to-GPU patterns turn into
// a gpu.launch.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_CONVERSION_LINALGTOGPU_FLATLAUNCH_H
#define LMC_LIB_CONVERSION_LINALGTOGPU_FLATLAUNCH_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::lmc {

/// The mapping of a one-dimensional scf.parallel onto `processor`.
gpu::ParallelLoopDimMappingAttr loopMapping(MLIRContext *ctx,
                                            gpu::Processor processor);

/// Replaces `loop`, a loop whose single-block body `body` takes one index
/// per extent of `extents` (from 0, step 1), by a launch of
/// ceil(N / threads) blocks of `threads` threads over N = the product of
/// the extents, each thread running the body for its row-major index
/// behind a bounds check. `threads` is `blockSize`, or N when N is a
/// smaller constant (`staticTotal`). The body's terminator is dropped;
/// `loop` is erased.
LogicalResult buildFlatLaunch(RewriterBase &rewriter, Operation *loop,
                              Block *body, ArrayRef<Value> extents,
                              std::optional<int64_t> staticTotal,
                              int64_t blockSize);

} // namespace mlir::lmc

#endif // LMC_LIB_CONVERSION_LINALGTOGPU_FLATLAUNCH_H
