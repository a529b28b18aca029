//===- FusedLoopsToGPU.cpp - One GPU kernel per fused loop nest
//------------===//
//
// Makes the scf.forall of each fusion group's kernel (lmc-fuse-kernel-loops,
// on buffers) one kernel: one thread per iteration, the body's ops
// sequential loops in the thread. The loops are mapped scf.parallel loops
// (block_x over thread_x) that lmc-linalg-to-gpu converts to gpu.launch
// together with the other kernels.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"

#include "FlatLaunch.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

#define DEBUG_TYPE "lmc-fused-loops-to-gpu"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCFUSEDLOOPSTOGPU
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

struct LMCFusedLoopsToGPUPass
    : mlir::lmc::impl::LMCFusedLoopsToGPUBase<LMCFusedLoopsToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (blockSize < 1 || blockSize > 1024) {
      module.emitError(
          "lmc-fused-loops-to-gpu: block-size must be 1 to 1024, not ")
          << blockSize.getValue();
      return signalPassFailure();
    }
    // The outermost loops of host code.
    SmallVector<scf::ForallOp> loops;
    module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp, gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      if (auto forall = dyn_cast<scf::ForallOp>(op)) {
        loops.push_back(forall);
        return WalkResult::skip();
      }
      return WalkResult::advance();
    });
    IRRewriter rewriter(&getContext());
    for (scf::ForallOp forall : loops) {
      if (!isMappable(forall)) {
        ++numUnmapped;
        continue;
      }
      if (failed(mapLoop(rewriter, forall)))
        return signalPassFailure();
      ++numMapped;
    }
  }

  /// A loop on buffers, from 0 with step 1, whose body allocates only
  /// buffers of static shape.
  static bool isMappable(scf::ForallOp forall) {
    if (forall.getNumResults() != 0 || forall.getMapping() ||
        !forall.getTerminator().getYieldingOps().empty())
      return false;
    if (!llvm::all_of(forall.getMixedLowerBound(),
                      [](OpFoldResult b) { return isZeroInteger(b); }) ||
        !llvm::all_of(forall.getMixedStep(),
                      [](OpFoldResult s) { return isOneInteger(s); }))
      return false;
    WalkResult result = forall.getBody()->walk([](Operation *op) {
      if (auto alloc = dyn_cast<memref::AllocOp>(op))
        if (!alloc.getType().hasStaticShape())
          return WalkResult::interrupt();
      if (isa<memref::ReallocOp, scf::ForallOp, scf::ParallelOp>(op))
        return WalkResult::interrupt();
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
        if (!linalgOp.hasPureBufferSemantics())
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    return !result.wasInterrupted();
  }

  LogicalResult mapLoop(IRRewriter &rewriter, scf::ForallOp forall) {
    Location loc = forall.getLoc();

    // The body's ops: linalg ops and copies as sequential loops, buffers
    // private to the thread.
    SmallVector<Operation *> bodyOps;
    forall.getBody()->walk([&](Operation *op) {
      if (isa<linalg::LinalgOp, memref::CopyOp, memref::AllocOp,
              memref::DeallocOp>(op))
        bodyOps.push_back(op);
    });
    for (Operation *op : bodyOps) {
      rewriter.setInsertionPoint(op);
      if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        op = linalg::CopyOp::create(rewriter, op->getLoc(), copy.getSource(),
                                    copy.getTarget());
        rewriter.eraseOp(copy);
        rewriter.setInsertionPoint(op);
      }
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        rewriter.replaceOpWithNewOp<memref::AllocaOp>(
            alloc, alloc.getType(), alloc.getDynamicSizes(),
            alloc.getSymbolOperands(), alloc.getAlignmentAttr());
        continue;
      }
      if (isa<memref::DeallocOp>(op)) {
        rewriter.eraseOp(op);
        continue;
      }
      auto linalgOp = cast<linalg::LinalgOp>(op);
      if (failed(linalg::linalgOpToLoops(rewriter, linalgOp)))
        return linalgOp.emitOpError(
            "lmc-fused-loops-to-gpu: cannot lower to loops");
      rewriter.eraseOp(linalgOp);
    }

    // One flat launch over the loop's extents.
    rewriter.setInsertionPoint(forall);
    SmallVector<Value> extents = getValueOrCreateConstantIndexOp(
        rewriter, loc, forall.getMixedUpperBound());
    std::optional<int64_t> staticTotal = 1;
    for (OpFoldResult extent : forall.getMixedUpperBound()) {
      std::optional<int64_t> size = getConstantIntValue(extent);
      staticTotal = size && staticTotal
                        ? std::optional<int64_t>(*staticTotal * *size)
                        : std::nullopt;
    }
    // On buffers, the terminator (scf.forall.in_parallel) is empty.
    return buildFlatLaunch(rewriter, forall, forall.getBody(), extents,
                           staticTotal, blockSize);
  }
};

} // namespace
