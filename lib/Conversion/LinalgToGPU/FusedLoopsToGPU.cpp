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

gpu::ParallelLoopDimMappingAttr mapping(MLIRContext *ctx,
                                        gpu::Processor processor) {
  AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
  return gpu::ParallelLoopDimMappingAttr::get(ctx, processor, id, id);
}

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
    MLIRContext *ctx = &getContext();
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

    // N = the product of the loop's extents.
    rewriter.setInsertionPoint(forall);
    SmallVector<Value> extents = getValueOrCreateConstantIndexOp(
        rewriter, loc, forall.getMixedUpperBound());
    Value total = extents.front();
    for (Value extent : ArrayRef<Value>(extents).drop_front())
      total = arith::MulIOp::create(rewriter, loc, total, extent);
    std::optional<int64_t> staticTotal = getConstantIntValue(total);
    int64_t threads = blockSize;
    if (staticTotal && *staticTotal < threads)
      threads = std::max<int64_t>(*staticTotal, 1);
    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value numThreads = arith::ConstantIndexOp::create(rewriter, loc, threads);
    Value numBlocks =
        arith::CeilDivUIOp::create(rewriter, loc, total, numThreads);

    auto blocks = scf::ParallelOp::create(
        rewriter, loc, ValueRange{c0}, ValueRange{numBlocks}, ValueRange{c1});
    rewriter.setInsertionPoint(blocks.getBody()->getTerminator());
    auto threadLoop = scf::ParallelOp::create(
        rewriter, loc, ValueRange{c0}, ValueRange{numThreads}, ValueRange{c1});
    rewriter.setInsertionPoint(threadLoop.getBody()->getTerminator());
    Value linear = arith::AddIOp::create(
        rewriter, loc,
        arith::MulIOp::create(rewriter, loc, blocks.getInductionVars()[0],
                              numThreads),
        threadLoop.getInductionVars()[0]);
    Value inBounds = arith::CmpIOp::create(
        rewriter, loc, arith::CmpIPredicate::ult, linear, total);
    auto guard = scf::IfOp::create(rewriter, loc, inBounds,
                                   /*withElseRegion=*/false);

    // Row-major delinearisation: the last dimension varies fastest.
    rewriter.setInsertionPoint(guard.thenBlock()->getTerminator());
    unsigned rank = extents.size();
    SmallVector<Value> ivs(rank);
    Value rest = linear;
    for (unsigned i = rank; i-- > 0;) {
      if (i == 0) {
        ivs[i] = rest;
        break;
      }
      ivs[i] = arith::RemUIOp::create(rewriter, loc, rest, extents[i]);
      rest = arith::DivUIOp::create(rewriter, loc, rest, extents[i]);
    }
    Block *body = forall.getBody();
    // On buffers, the terminator (scf.forall.in_parallel) is empty.
    rewriter.eraseOp(body->getTerminator());
    rewriter.inlineBlockBefore(body, guard.thenBlock()->getTerminator(), ivs);
    rewriter.eraseOp(forall);

    if (failed(gpu::setMappingAttr(blocks,
                                   {mapping(ctx, gpu::Processor::BlockX)})))
      return failure();
    return gpu::setMappingAttr(threadLoop,
                               {mapping(ctx, gpu::Processor::ThreadX)});
  }
};

} // namespace
