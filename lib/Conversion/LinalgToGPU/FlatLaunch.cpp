//===- FlatLaunch.cpp - A loop nest as one flat launch --------------------===//
//
// See FlatLaunch.h.
//
//===----------------------------------------------------------------------===//

#include "FlatLaunch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <algorithm>

using namespace mlir;

gpu::ParallelLoopDimMappingAttr
mlir::lmc::loopMapping(MLIRContext *ctx, gpu::Processor processor) {
  AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
  return gpu::ParallelLoopDimMappingAttr::get(ctx, processor, id, id);
}

LogicalResult mlir::lmc::buildFlatLaunch(RewriterBase &rewriter,
                                         Operation *loop, Block *body,
                                         ArrayRef<Value> extents,
                                         std::optional<int64_t> staticTotal,
                                         int64_t blockSize) {
  MLIRContext *ctx = rewriter.getContext();
  Location loc = loop->getLoc();
  rewriter.setInsertionPoint(loop);
  Value total = extents.front();
  for (Value extent : extents.drop_front())
    total = arith::MulIOp::create(rewriter, loc, total, extent);
  int64_t threads = blockSize;
  if (staticTotal && *staticTotal < threads)
    threads = std::max<int64_t>(*staticTotal, 1);
  Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
  Value numThreads = arith::ConstantIndexOp::create(rewriter, loc, threads);
  Value numBlocks =
      arith::CeilDivUIOp::create(rewriter, loc, total, numThreads);

  auto blocks = scf::ParallelOp::create(rewriter, loc, ValueRange{c0},
                                        ValueRange{numBlocks}, ValueRange{c1});
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

  // Row-major delinearisation: the last extent varies fastest.
  rewriter.setInsertionPoint(guard.thenBlock()->getTerminator());
  SmallVector<Value> ivs(extents.size());
  Value rest = linear;
  for (unsigned i = extents.size(); i-- > 0;) {
    if (i == 0) {
      ivs[i] = rest;
      break;
    }
    ivs[i] = arith::RemUIOp::create(rewriter, loc, rest, extents[i]);
    rest = arith::DivUIOp::create(rewriter, loc, rest, extents[i]);
  }
  rewriter.eraseOp(body->getTerminator());
  rewriter.inlineBlockBefore(body, guard.thenBlock()->getTerminator(), ivs);
  rewriter.eraseOp(loop);

  if (failed(gpu::setMappingAttr(blocks,
                                 {loopMapping(ctx, gpu::Processor::BlockX)})))
    return failure();
  return gpu::setMappingAttr(threadLoop,
                             {loopMapping(ctx, gpu::Processor::ThreadX)});
}
