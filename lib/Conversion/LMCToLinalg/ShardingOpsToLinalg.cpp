//===- ShardingOpsToLinalg.cpp - Lower the ops of partitioned programs ----===//
//
// The lowering of the ops in LMCShardingOps.td, part of
// convert-lmc-to-linalg: the vocabulary-parallel cross-entropy ops become
// linalg on tensors (lmc.axis_index stays, for convert-lmc-to-runtime).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::lmc;
using namespace mlir::lmc::lowering;

namespace {

/// The number of positions of `logits` (`[..., V]`): the product of its
/// leading sizes, as a float of type `et`.
Value positionCount(OpBuilder &b, Location loc, Value logits, Type et) {
  int64_t rank = cast<RankedTensorType>(logits.getType()).getRank();
  Value count = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t d = 0; d + 1 < rank; ++d)
    count = arith::MulIOp::create(b, loc, count,
                                  tensor::DimOp::create(b, loc, logits, d));
  return arith::UIToFPOp::create(
      b, loc, et, arith::IndexCastUIOp::create(b, loc, b.getI64Type(), count));
}

struct CrossEntropyStatsLowering : OpConversionPattern<CrossEntropyStatsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(CrossEntropyStatsOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &r) const override {
    Location loc = op.getLoc();
    Value logits = adaptor.getLogits(), targets = adaptor.getTargets();
    Value offset = adaptor.getOffset();
    auto type = cast<RankedTensorType>(logits.getType());
    Type et = type.getElementType();
    int64_t rank = type.getRank(), rows = rank - 1;
    // Padding columns, by their GLOBAL index (offset + column), are left
    // out of the block's max and sum.
    auto [max, sum] =
        rowMaxAndSumExp(r, loc, logits, classCount(op.getClasses()), offset);

    // The target's logit where the target falls in the block, else 0. A
    // target outside the block reads column 0 (unsigned compare: below the
    // block is a large number).
    Value vocab = arith::ConstantIndexOp::create(r, loc, type.getDimSize(rows));
    Value zeroIndex = arith::ConstantIndexOp::create(r, loc, 0);
    Value zero = floatConst(r, loc, et, 0.0);
    AffineMap rowId = r.getMultiDimIdentityMap(rows);
    Value picked = elementwise(
        r, loc, max, {targets}, {rowId},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value col =
              arith::SubIOp::create(b, l, castIdToIndex(b, l, a[0]), offset);
          Value inBlock = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                                col, vocab);
          SmallVector<Value> idx;
          for (int64_t d = 0; d < rows; ++d)
            idx.push_back(linalg::IndexOp::create(b, l, d));
          idx.push_back(arith::SelectOp::create(b, l, inBlock, col, zeroIndex));
          Value v = tensor::ExtractOp::create(b, l, logits, idx);
          linalg::YieldOp::create(
              b, l, Value(arith::SelectOp::create(b, l, inBlock, v, zero)));
        });

    // [..., 3] = (max, sum, picked).
    SmallVector<OpFoldResult> sizes = sizesOf(r, loc, logits);
    sizes.back() = r.getIndexAttr(3);
    Value init = emptyTensor(r, loc, sizes, et);
    AffineMap row = dropLast(r, rank);
    Value stats = generic(
        r, loc, {max, sum, picked}, init,
        {row, row, row, r.getMultiDimIdentityMap(rank)},
        parallelIterators(rank), [&](OpBuilder &b, Location l, ValueRange a) {
          Value k = linalg::IndexOp::create(b, l, rows);
          Value isMax =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, k,
                                    arith::ConstantIndexOp::create(b, l, 0));
          Value isSum =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, k,
                                    arith::ConstantIndexOp::create(b, l, 1));
          Value v = arith::SelectOp::create(
              b, l, isMax, a[0],
              arith::SelectOp::create(b, l, isSum, a[1], a[2]));
          linalg::YieldOp::create(b, l, v);
        });
    r.replaceOp(op, stats);
    return success();
  }
};

struct CrossEntropyCombineLowering
    : OpConversionPattern<CrossEntropyCombineOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(CrossEntropyCombineOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &r) const override {
    Location loc = op.getLoc();
    Value stats = adaptor.getStats();
    auto type = cast<RankedTensorType>(stats.getType());
    Type et = type.getElementType();
    int64_t rank = type.getRank(), rows = rank - 1;
    int64_t blocks = type.getDimSize(rows) / 3;

    // m, s and t of every block: [..., P] slices with stride 3.
    SmallVector<OpFoldResult> sizes = sizesOf(r, loc, stats);
    sizes.back() = r.getIndexAttr(blocks);
    SmallVector<OpFoldResult> strides(rank, r.getIndexAttr(1));
    strides.back() = r.getIndexAttr(3);
    SmallVector<int64_t> sliceShape(type.getShape());
    sliceShape.back() = blocks;
    auto sliceType = RankedTensorType::get(sliceShape, et);
    auto slice = [&](int64_t k) -> Value {
      SmallVector<OpFoldResult> offsets(rank, r.getIndexAttr(0));
      offsets.back() = r.getIndexAttr(k);
      return tensor::ExtractSliceOp::create(r, loc, sliceType, stats, offsets,
                                            sizes, strides);
    };
    Value m = slice(0), s = slice(1), t = slice(2);

    // M = max_p m_p; S = sum_p s_p exp(m_p - M); T = sum_p t_p.
    Value maxAll = reduceLastDim(
        r, loc, m, -INFINITY, [](OpBuilder &b, Location l, Value v, Value acc) {
          return Value(arith::MaximumFOp::create(b, l, v, acc));
        });
    SmallVector<OpFoldResult> rowSizes = sizesOf(r, loc, stats);
    rowSizes.pop_back();
    AffineMap id = r.getMultiDimIdentityMap(rank);
    AffineMap row = dropLast(r, rank);
    SmallVector<IteratorType> iters = parallelIterators(rank);
    iters.back() = IteratorType::reduction;
    Value sumAll = generic(
        r, loc, {s, m, maxAll}, filledTensor(r, loc, rowSizes, et, 0.0),
        {id, id, row, row}, iters, [](OpBuilder &b, Location l, ValueRange a) {
          Value e = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, a[1], a[2]));
          Value term = arith::MulFOp::create(b, l, a[0], e);
          linalg::YieldOp::create(
              b, l, Value(arith::AddFOp::create(b, l, term, a[3])));
        });
    Value picked = reduceLastDim(
        r, loc, t, 0.0, [](OpBuilder &b, Location l, Value v, Value acc) {
          return Value(arith::AddFOp::create(b, l, v, acc));
        });

    // lse = M + log S per position.
    AffineMap rowId = r.getMultiDimIdentityMap(rows);
    Value lse = elementwise(r, loc, maxAll, {maxAll, sumAll}, {rowId, rowId},
                            [](OpBuilder &b, Location l, ValueRange a) {
                              Value v = arith::AddFOp::create(
                                  b, l, math::LogOp::create(b, l, a[1]), a[0]);
                              linalg::YieldOp::create(b, l, v);
                            });

    // loss = mean over positions of lse - T.
    Value total =
        generic(r, loc, {lse, picked}, filledTensor(r, loc, {}, et, 0.0),
                {rowId, rowId, AffineMap::get(rows, 0, r.getContext())},
                SmallVector<IteratorType>(rows, IteratorType::reduction),
                [](OpBuilder &b, Location l, ValueRange a) {
                  Value nll = arith::SubFOp::create(b, l, a[0], a[1]);
                  linalg::YieldOp::create(
                      b, l, Value(arith::AddFOp::create(b, l, nll, a[2])));
                });
    Value count = positionCount(r, loc, stats, et);
    Value loss = elementwise(
        r, loc, total, {total}, {r.getMultiDimIdentityMap(0)},
        [&](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(
              b, l, Value(arith::DivFOp::create(b, l, a[0], count)));
        });
    r.replaceOp(op, {loss, lse});
    return success();
  }
};

struct CrossEntropyShardGradLowering
    : OpConversionPattern<CrossEntropyShardGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult matchAndRewrite(CrossEntropyShardGradOp op, OpAdaptor adaptor,
                                ConversionPatternRewriter &r) const override {
    Location loc = op.getLoc();
    Value logits = adaptor.getLogits(), targets = adaptor.getTargets();
    Value lse = adaptor.getLse(), offset = adaptor.getOffset();
    auto type = cast<RankedTensorType>(logits.getType());
    Type et = type.getElementType();
    int64_t rank = type.getRank();
    // grad / N, with N the number of positions.
    Value dloss = tensor::ExtractOp::create(r, loc, adaptor.getGrad());
    Value scale =
        arith::DivFOp::create(r, loc, dloss, positionCount(r, loc, logits, et));
    Value one = floatConst(r, loc, et, 1.0);
    Value zero = floatConst(r, loc, et, 0.0);
    AffineMap id = r.getMultiDimIdentityMap(rank);
    AffineMap row = dropLast(r, rank);
    std::optional<int64_t> classes = classCount(op.getClasses());
    Value result = elementwise(
        r, loc, logits, {logits, lse, targets}, {id, row, row},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value p = math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, a[0], a[1]));
          Value v = linalg::IndexOp::create(b, l, rank - 1);
          Value col =
              arith::SubIOp::create(b, l, castIdToIndex(b, l, a[2]), offset);
          Value hit =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, col, v);
          Value onehot = arith::SelectOp::create(b, l, hit, one, zero);
          Value g = arith::MulFOp::create(
              b, l, arith::SubFOp::create(b, l, p, onehot), scale);
          // Padding columns (global index offset + v >= classes): 0.
          if (classes)
            g = arith::SelectOp::create(
                b, l, isClassColumn(b, l, rank, *classes, offset), g, zero);
          linalg::YieldOp::create(b, l, g);
        });
    r.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::lmc::lowering::populateShardingOpsToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<CrossEntropyCombineLowering, CrossEntropyShardGradLowering,
               CrossEntropyStatsLowering>(patterns.getContext());
}
