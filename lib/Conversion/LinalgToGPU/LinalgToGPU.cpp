//===- LinalgToGPU.cpp - Linalg ops on buffers to gpu.launch --------------===//
//
// Makes each linalg op on buffers (and each copy between buffers) one GPU
// kernel: parallel loops flattened into blocks of threads, reduction loops
// sequential in each thread.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"

#include "FlatLaunch.h"

#include "mlir/Conversion/SCFToGPU/SCFToGPU.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/DialectConversion.h"

#define DEBUG_TYPE "lmc-linalg-to-gpu"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCLINALGTOGPU
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// Whether `value` is (a view of) a `memref.global`: host data here.
bool isGlobalData(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (isa<memref::GetGlobalOp>(def))
      return true;
    if (auto view = dyn_cast<ViewLikeOpInterface>(def)) {
      value = view.getViewSource();
      continue;
    }
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      value = cast.getSource();
      continue;
    }
    return false;
  }
  return false;
}

struct LMCLinalgToGPUPass
    : mlir::lmc::impl::LMCLinalgToGPUBase<LMCLinalgToGPUPass> {
  using LMCLinalgToGPUBase::LMCLinalgToGPUBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    if (blockSize < 1 || blockSize > 1024) {
      module.emitError("lmc-linalg-to-gpu: block-size must be 1 to 1024, not ")
          << blockSize.getValue();
      return signalPassFailure();
    }
    IRRewriter rewriter(ctx);

    // Copies between device buffers are kernels too.
    SmallVector<memref::CopyOp> copies;
    module.walk([&](memref::CopyOp op) {
      if (!op->getParentOfType<gpu::LaunchOp>() &&
          !op->getParentOfType<gpu::GPUModuleOp>() &&
          !isGlobalData(op.getSource()))
        copies.push_back(op);
    });
    for (memref::CopyOp op : copies) {
      rewriter.setInsertionPoint(op);
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(op, op.getSource(),
                                                  op.getTarget());
    }

    // The outermost linalg ops of host code, in order.
    SmallVector<linalg::LinalgOp> ops;
    module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp, gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
        ops.push_back(linalgOp);
        return WalkResult::skip();
      }
      return WalkResult::advance();
    });
    for (linalg::LinalgOp op : ops)
      if (failed(mapToBlocksAndThreads(rewriter, op)))
        return signalPassFailure();

    // Mapped scf.parallel -> gpu.launch (upstream).
    RewritePatternSet patterns(ctx);
    populateParallelLoopToGPUPatterns(patterns);
    ConversionTarget target(*ctx);
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    configureParallelLoopToGPULegality(target);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    finalizeParallelLoopToGPUConversion(module);
    // The conversion's own bookkeeping mark, meaningless after it.
    module.walk(
        [](gpu::LaunchOp launch) { launch->removeAttr("SCFToGPU_visited"); });
  }

  /// Rewrites `op` into an scf.parallel over blocks (block_x) holding an
  /// scf.parallel over threads (thread_x), or one block of one thread when
  /// `op` has no parallel loops.
  LogicalResult mapToBlocksAndThreads(IRRewriter &rewriter,
                                      linalg::LinalgOp op) {
    if (!op.hasPureBufferSemantics())
      return op.emitOpError("lmc-linalg-to-gpu: expected buffers, run "
                            "bufferization first");
    MLIRContext *ctx = op.getContext();
    Location loc = op.getLoc();
    rewriter.setInsertionPoint(op);

    auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
    if (!generic) {
      FailureOr<linalg::GenericOp> generalized =
          linalg::generalizeNamedOp(rewriter, op);
      if (failed(generalized))
        return op.emitOpError("lmc-linalg-to-gpu: cannot generalize");
      generic = *generalized;
    }
    // Parallel loops first, each group in its order.
    SmallVector<utils::IteratorType> iterators =
        generic.getIteratorTypesArray();
    SmallVector<unsigned> order;
    for (auto [i, t] : llvm::enumerate(iterators))
      if (t == utils::IteratorType::parallel)
        order.push_back(i);
    unsigned numParallel = order.size();
    for (auto [i, t] : llvm::enumerate(iterators))
      if (t != utils::IteratorType::parallel)
        order.push_back(i);
    if (!llvm::equal(order, llvm::seq<unsigned>(0, order.size()))) {
      FailureOr<linalg::GenericOp> interchanged =
          linalg::interchangeGenericOp(rewriter, generic, order);
      if (failed(interchanged))
        return generic.emitOpError("lmc-linalg-to-gpu: cannot interchange");
      generic = *interchanged;
    }
    SmallVector<int64_t> staticRanges = generic.getStaticLoopRanges();
    ++numLaunches;

    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
    if (numParallel == 0) {
      // One thread runs the whole loop nest.
      ++numSerial;
      auto block = scf::ParallelOp::create(rewriter, loc, ValueRange{c0},
                                           ValueRange{c1}, ValueRange{c1});
      rewriter.moveOpBefore(generic, block.getBody()->getTerminator());
      rewriter.setInsertionPoint(generic);
      if (failed(linalg::linalgOpToLoops(rewriter, generic)))
        return generic.emitOpError("lmc-linalg-to-gpu: cannot lower to loops");
      rewriter.eraseOp(generic);
      return gpu::setMappingAttr(block,
                                 {loopMapping(ctx, gpu::Processor::BlockX)});
    }

    FailureOr<linalg::LinalgLoops> loops =
        linalg::linalgOpToParallelLoops(rewriter, generic);
    if (failed(loops) || loops->empty())
      return generic.emitOpError(
          "lmc-linalg-to-gpu: cannot lower to parallel loops");
    rewriter.eraseOp(generic);
    auto nest = dyn_cast<scf::ParallelOp>(loops->front());
    if (!nest || nest.getNumLoops() != numParallel)
      return emitError(loc, "lmc-linalg-to-gpu: expected one scf.parallel "
                            "over the parallel loops");

    // One flat launch over the parallel loops (from 0, step 1, as linalg
    // emits them).
    std::optional<int64_t> staticTotal = 1;
    for (unsigned i = 0; i < numParallel; ++i)
      staticTotal = staticTotal && !ShapedType::isDynamic(staticRanges[i])
                        ? std::optional<int64_t>(*staticTotal * staticRanges[i])
                        : std::nullopt;
    SmallVector<Value> extents = nest.getUpperBound();
    return buildFlatLaunch(rewriter, nest, nest.getBody(), extents, staticTotal,
                           blockSize);
  }
};

} // namespace
