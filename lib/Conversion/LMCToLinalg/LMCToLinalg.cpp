//===- LMCToLinalg.cpp - Lower lmc ops to linalg on tensors ---------------===//
//
// The reference lowering of the lmc dialect: each compute op becomes
// linalg.generic (or a named linalg/tensor op) on tensors, with arith and
// math in the bodies. Dynamic sizes are read with tensor.dim. The result is
// plain upstream IR that the reference pipeline bufferizes and lowers to
// LLVM.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "lmc/Conversion/Passes.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

#include "llvm/ADT/MapVector.h"

#include <cmath>

#define DEBUG_TYPE "convert-lmc-to-linalg"

namespace mlir::lmc {
#define GEN_PASS_DEF_CONVERTLMCTOLINALG
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;
using namespace mlir::lmc::lowering;

namespace {

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

struct AddLowering : OpConversionPattern<AddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    AffineMap id = rewriter.getMultiDimIdentityMap(op.getType().getRank());
    Value r = elementwise(
        rewriter, loc, adaptor.getLhs(), {adaptor.getLhs(), adaptor.getRhs()},
        {id, id}, [](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(
              b, l, Value(arith::AddFOp::create(b, l, a[0], a[1])));
        });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct BiasAddLowering : OpConversionPattern<BiasAddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BiasAddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    int64_t rank = op.getType().getRank();
    AffineMap id = rewriter.getMultiDimIdentityMap(rank);
    Value r = elementwise(
        rewriter, op.getLoc(), adaptor.getInput(),
        {adaptor.getInput(), adaptor.getBias()}, {id, lastOnly(rewriter, rank)},
        [](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(
              b, l, Value(arith::AddFOp::create(b, l, a[0], a[1])));
        });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct ScaleLowering : OpConversionPattern<ScaleOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScaleOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type et = op.getType().getElementType();
    Value factor =
        floatConst(rewriter, loc, et, op.getFactor().convertToDouble());
    AffineMap id = rewriter.getMultiDimIdentityMap(op.getType().getRank());
    Value r = elementwise(
        rewriter, loc, adaptor.getInput(), {adaptor.getInput()}, {id},
        [&](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(
              b, l, Value(arith::MulFOp::create(b, l, a[0], factor)));
        });
    rewriter.replaceOp(op, r);
    return success();
  }
};

/// lmc.convert: arith.truncf (to nearest even) or arith.extf per element.
struct ConvertLowering : OpConversionPattern<ConvertOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConvertOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Type to = type.getElementType();
    Value init = emptyTensor(rewriter, loc,
                             sizesOf(rewriter, loc, adaptor.getInput()), to);
    AffineMap id = rewriter.getMultiDimIdentityMap(type.getRank());
    Value r = generic(rewriter, loc, {adaptor.getInput()}, init, {id, id},
                      parallelIterators(type.getRank()),
                      [&](OpBuilder &b, Location l, ValueRange a) {
                        Value v =
                            to.isBF16()
                                ? Value(arith::TruncFOp::create(b, l, to, a[0]))
                                : Value(arith::ExtFOp::create(b, l, to, a[0]));
                        linalg::YieldOp::create(b, l, v);
                      });
    rewriter.replaceOp(op, r);
    return success();
  }
};

/// `v` as a float32 (a bfloat16 operand of a GEMM, extended exactly).
Value toAccumulator(OpBuilder &b, Location l, Type acc, Value v) {
  return v.getType() == acc ? v : Value(arith::ExtFOp::create(b, l, acc, v));
}

/// `v` (float32) in the element type `et` of a GEMM's result.
Value toStored(OpBuilder &b, Location l, Type et, Value v) {
  return v.getType() == et ? v : Value(arith::TruncFOp::create(b, l, et, v));
}

struct GeluLowering : OpConversionPattern<GeluOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GeluOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type et = op.getType().getElementType();
    bool exact = op.getApproximation() == GeluApproximation::exact;
    AffineMap id = rewriter.getMultiDimIdentityMap(op.getType().getRank());
    Value r =
        elementwise(rewriter, loc, adaptor.getInput(), {adaptor.getInput()},
                    {id}, [&](OpBuilder &b, Location l, ValueRange a) {
                      Value y = exact ? geluExact(b, l, et, a[0])
                                      : geluTanh(b, l, et, a[0]);
                      linalg::YieldOp::create(b, l, y);
                    });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct SiluLowering : OpConversionPattern<SiluOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SiluOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type et = op.getType().getElementType();
    AffineMap id = rewriter.getMultiDimIdentityMap(op.getType().getRank());
    Value r = elementwise(
        rewriter, op.getLoc(), adaptor.getInput(), {adaptor.getInput()}, {id},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value s = sigmoid(b, l, et, a[0]);
          linalg::YieldOp::create(b, l,
                                  Value(arith::MulFOp::create(b, l, a[0], s)));
        });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct CausalMaskLowering : OpConversionPattern<CausalMaskOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CausalMaskOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t rank = op.getType().getRank();
    Type et = op.getType().getElementType();
    AffineMap id = rewriter.getMultiDimIdentityMap(rank);
    Value r = elementwise(
        rewriter, loc, adaptor.getInput(), {adaptor.getInput()}, {id},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value i = linalg::IndexOp::create(b, l, rank - 2);
          Value j = linalg::IndexOp::create(b, l, rank - 1);
          Value future =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::ugt, j, i);
          Value ninf = floatConst(b, l, et, op.getZero() ? 0.0 : -INFINITY);
          linalg::YieldOp::create(
              b, l, Value(arith::SelectOp::create(b, l, future, ninf, a[0])));
        });
    rewriter.replaceOp(op, r);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Embeddings
//===----------------------------------------------------------------------===//

struct EmbeddingLowering : OpConversionPattern<EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value table = adaptor.getTable();
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, adaptor.getIds());
    sizes.push_back(rewriter.getIndexAttr(op.getType().getDimSize(2)));
    Value init =
        emptyTensor(rewriter, loc, sizes, op.getType().getElementType());
    AffineMap id = rewriter.getMultiDimIdentityMap(3);
    // With an offset, the table is the block of rows [offset, offset + V):
    // ids outside it read row 0 and yield zero.
    Value offset = adaptor.getOffset();
    Value rows, zeroIndex, zero;
    if (offset) {
      rows = getValueOrCreateConstantIndexOp(rewriter, loc,
                                             sizesOf(rewriter, loc, table)[0]);
      zeroIndex = arith::ConstantIndexOp::create(rewriter, loc, 0);
      zero = floatConst(rewriter, loc, op.getType().getElementType(), 0.0);
    }
    Value r = generic(
        rewriter, loc, {adaptor.getIds()}, init, {dropLast(rewriter, 3), id},
        parallelIterators(3), [&](OpBuilder &b, Location l, ValueRange a) {
          Value row = castIdToIndex(b, l, a[0]);
          Value c = linalg::IndexOp::create(b, l, 2);
          if (!offset) {
            Value v =
                tensor::ExtractOp::create(b, l, table, ValueRange{row, c});
            linalg::YieldOp::create(b, l, v);
            return;
          }
          row = arith::SubIOp::create(b, l, row, offset);
          // Unsigned: a row below the block is a large number.
          Value inBlock =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, row, rows);
          Value safe = arith::SelectOp::create(b, l, inBlock, row, zeroIndex);
          Value v = tensor::ExtractOp::create(b, l, table, ValueRange{safe, c});
          linalg::YieldOp::create(
              b, l, Value(arith::SelectOp::create(b, l, inBlock, v, zero)));
        });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct PositionEmbeddingLowering : OpConversionPattern<PositionEmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PositionEmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value table = adaptor.getTable();
    int64_t context = op.getTable().getType().getDimSize(0);
    if (op.getIds().getType().isDynamicDim(1)) {
      // The sequence length is a run-time value: check it against the
      // context before reading the table.
      Value seq = tensor::DimOp::create(rewriter, loc, adaptor.getIds(), 1);
      Value ctx = arith::ConstantIndexOp::create(rewriter, loc, context);
      Value ok = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ule,
                                       seq, ctx);
      cf::AssertOp::create(rewriter, loc, ok,
                           "lmc.position_embedding: sequence length exceeds "
                           "the model's context");
    }
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, adaptor.getIds());
    sizes.push_back(rewriter.getIndexAttr(op.getType().getDimSize(2)));
    Value init =
        emptyTensor(rewriter, loc, sizes, op.getType().getElementType());
    Value r = generic(
        rewriter, loc, {}, init, {rewriter.getMultiDimIdentityMap(3)},
        parallelIterators(3), [&](OpBuilder &b, Location l, ValueRange) {
          Value t = linalg::IndexOp::create(b, l, 1);
          Value c = linalg::IndexOp::create(b, l, 2);
          Value v = tensor::ExtractOp::create(b, l, table, ValueRange{t, c});
          linalg::YieldOp::create(b, l, v);
        });
    rewriter.replaceOp(op, r);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Rotary position embedding
//===----------------------------------------------------------------------===//

/// Two generics. The first makes the tables cos(a) and sin(a) ([T, D/2]) of
/// the angles a = p * f_i at positions p = t + offset, with the frequency
/// f_i = theta^(-2i/D) computed as exp(i * (-2 ln(theta) / D)), the sine
/// negated for the inverse: the transcendental functions run once per
/// position and frequency, not once per element. The second is over x
/// expanded to [B, T, H, 2, D/2]: element (b, t, h, j, i) reads itself, its
/// partner in the other half of the head through (b, t, h, 1 - j, i), and
/// the tables at (t, i), and yields x cos(a) - x_partner sin(a) in the first
/// half of a head (j = 0), x cos(a) + x_partner sin(a) in the second; the
/// result is collapsed back to [B, T, C].
struct RopeLowering : OpConversionPattern<RopeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Type et = type.getElementType();
    int64_t d = op.getHeadDim(), half = d / 2;
    Value x = adaptor.getInput();
    Value offset = adaptor.getOffset();
    MLIRContext *ctx = rewriter.getContext();

    // The tables: [T, D/2] each.
    SmallVector<OpFoldResult> tableSizes = {sizesOf(rewriter, loc, x)[1],
                                            rewriter.getIndexAttr(half)};
    Value cosInit = emptyTensor(rewriter, loc, tableSizes, et);
    Value sinInit = emptyTensor(rewriter, loc, tableSizes, et);
    double logTheta = std::log(op.getTheta().convertToDouble());
    Value freqScale =
        floatConst(rewriter, loc, et, -2.0 * logTheta / static_cast<double>(d));
    bool inverse = op.getInverse();
    AffineMap id2 = rewriter.getMultiDimIdentityMap(2);
    auto tables = linalg::GenericOp::create(
        rewriter, loc, TypeRange{cosInit.getType(), sinInit.getType()},
        ValueRange{}, ValueRange{cosInit, sinInit}, ArrayRef{id2, id2},
        parallelIterators(2), [&](OpBuilder &b, Location l, ValueRange) {
          Value t = linalg::IndexOp::create(b, l, 0);
          Value i = linalg::IndexOp::create(b, l, 1);
          Value p = offset ? Value(arith::AddIOp::create(b, l, t, offset)) : t;
          auto toFloat = [&](Value v) {
            Value i64 = arith::IndexCastUIOp::create(b, l, b.getI64Type(), v);
            return Value(arith::UIToFPOp::create(b, l, et, i64));
          };
          Value freq = math::ExpOp::create(
              b, l, arith::MulFOp::create(b, l, toFloat(i), freqScale));
          Value angle = arith::MulFOp::create(b, l, toFloat(p), freq);
          Value cos = math::CosOp::create(b, l, angle);
          Value sin = math::SinOp::create(b, l, angle);
          if (inverse)
            sin = arith::NegFOp::create(b, l, sin);
          linalg::YieldOp::create(b, l, ValueRange{cos, sin});
        });

    // The rotation, on x expanded to [B, T, H, 2, D/2] (j = 0 the first
    // half of a head, j = 1 the second): every map is affine without
    // division, and the innermost loop runs along the channels of x, of its
    // partner and of the tables.
    int64_t heads = type.getDimSize(2) / d;
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, x);
    SmallVector<OpFoldResult> expandedSizes = {
        sizes[0], sizes[1], rewriter.getIndexAttr(heads),
        rewriter.getIndexAttr(2), rewriter.getIndexAttr(half)};
    auto expandedType = RankedTensorType::get(
        {type.getDimSize(0), type.getDimSize(1), heads, 2, half}, et);
    SmallVector<ReassociationIndices> groups = {{0}, {1}, {2, 3, 4}};
    Value xe = tensor::ExpandShapeOp::create(rewriter, loc, expandedType, x,
                                             groups, expandedSizes);
    AffineExpr b0 = getAffineDimExpr(0, ctx), t0 = getAffineDimExpr(1, ctx),
               h0 = getAffineDimExpr(2, ctx), j0 = getAffineDimExpr(3, ctx),
               i0 = getAffineDimExpr(4, ctx);
    AffineMap id = rewriter.getMultiDimIdentityMap(5);
    AffineMap partner = AffineMap::get(5, 0, {b0, t0, h0, 1 - j0, i0}, ctx);
    AffineMap table = AffineMap::get(5, 0, {t0, i0}, ctx);
    Value minusOne = floatConst(rewriter, loc, et, -1.0);
    Value one = floatConst(rewriter, loc, et, 1.0);
    Value zeroIndex = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value rotated = elementwise(
        rewriter, loc, xe, {xe, xe, tables.getResult(0), tables.getResult(1)},
        {id, partner, table, table},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value j = linalg::IndexOp::create(b, l, 3);
          Value first = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, j,
                                              zeroIndex);
          Value sign = arith::SelectOp::create(b, l, first, minusOne, one);
          Value y = arith::AddFOp::create(
              b, l, arith::MulFOp::create(b, l, a[0], a[2]),
              arith::MulFOp::create(
                  b, l, arith::MulFOp::create(b, l, sign, a[1]), a[3]));
          linalg::YieldOp::create(b, l, y);
        });
    Value r =
        tensor::CollapseShapeOp::create(rewriter, loc, type, rotated, groups);
    rewriter.replaceOp(op, r);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Normalisation and softmax
//===----------------------------------------------------------------------===//

struct LayerNormLowering : OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LayerNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    // Computed in the input's type; an output stored as bfloat16
    // (lmc-bf16-storage) is rounded once.
    RankedTensorType type = op.getInput().getType();
    Type et = type.getElementType(), stored = op.getType().getElementType();
    int64_t rank = type.getRank();
    Value x = adaptor.getInput();
    double channels = static_cast<double>(type.getDimSize(rank - 1));
    Value invC = floatConst(rewriter, loc, et, 1.0 / channels);
    Value eps = floatConst(rewriter, loc, et, op.getEps().convertToDouble());
    AffineMap id = rewriter.getMultiDimIdentityMap(rank);
    AffineMap row = dropLast(rewriter, rank);
    SmallVector<IteratorType> reduceIters = parallelIterators(rank);
    reduceIters.back() = IteratorType::reduction;

    // sum(x) per row.
    Value sum =
        reduceLastDim(rewriter, loc, x, 0.0,
                      [](OpBuilder &b, Location l, Value v, Value acc) {
                        return Value(arith::AddFOp::create(b, l, v, acc));
                      });
    // sum((x - mean)^2) per row.
    SmallVector<OpFoldResult> rowSizes = sizesOf(rewriter, loc, x);
    rowSizes.pop_back();
    Value sqInit = filledTensor(rewriter, loc, rowSizes, et, 0.0);
    Value sq =
        generic(rewriter, loc, {x, sum}, sqInit, {id, row, row}, reduceIters,
                [&](OpBuilder &b, Location l, ValueRange a) {
                  Value mean = arith::MulFOp::create(b, l, a[1], invC);
                  Value d = arith::SubFOp::create(b, l, a[0], mean);
                  Value acc = arith::AddFOp::create(
                      b, l, a[2], arith::MulFOp::create(b, l, d, d));
                  linalg::YieldOp::create(b, l, acc);
                });
    // (x - mean) * rsqrt(var + eps) * w + b.
    Value r = elementwise(
        rewriter, loc, x, {x, sum, sq, adaptor.getWeight(), adaptor.getBias()},
        {id, row, row, lastOnly(rewriter, rank), lastOnly(rewriter, rank)},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value mean = arith::MulFOp::create(b, l, a[1], invC);
          Value var = arith::MulFOp::create(b, l, a[2], invC);
          Value rstd = math::RsqrtOp::create(
              b, l, arith::AddFOp::create(b, l, var, eps));
          Value n = arith::MulFOp::create(
              b, l, arith::SubFOp::create(b, l, a[0], mean), rstd);
          Value y = arith::AddFOp::create(
              b, l, arith::MulFOp::create(b, l, n, a[3]), a[4]);
          linalg::YieldOp::create(b, l, toStored(b, l, stored, y));
        },
        stored);
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct RMSNormLowering : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    // Computed in the input's type; an output stored as bfloat16 is
    // rounded once.
    RankedTensorType type = op.getInput().getType();
    Type et = type.getElementType(), stored = op.getType().getElementType();
    int64_t rank = type.getRank();
    Value x = adaptor.getInput();
    double channels = static_cast<double>(type.getDimSize(rank - 1));
    Value invC = floatConst(rewriter, loc, et, 1.0 / channels);
    Value eps = floatConst(rewriter, loc, et, op.getEps().convertToDouble());
    AffineMap id = rewriter.getMultiDimIdentityMap(rank);
    AffineMap row = dropLast(rewriter, rank);
    // sum(x^2) per row.
    Value sq =
        reduceLastDim(rewriter, loc, x, 0.0,
                      [](OpBuilder &b, Location l, Value v, Value acc) {
                        return Value(arith::AddFOp::create(
                            b, l, arith::MulFOp::create(b, l, v, v), acc));
                      });
    // x * rsqrt(mean(x^2) + eps) * w.
    Value r = elementwise(
        rewriter, loc, x, {x, sq, adaptor.getWeight()},
        {id, row, lastOnly(rewriter, rank)},
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value ms = arith::MulFOp::create(b, l, a[1], invC);
          Value rrms =
              math::RsqrtOp::create(b, l, arith::AddFOp::create(b, l, ms, eps));
          Value y = arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, a[0], rrms), a[2]);
          linalg::YieldOp::create(b, l, toStored(b, l, stored, y));
        },
        stored);
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct SoftmaxLowering : OpConversionPattern<SoftmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SoftmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t rank = op.getType().getRank();
    Value x = adaptor.getInput();
    auto [max, sum] = rowMaxAndSumExp(rewriter, loc, x);
    AffineMap id = rewriter.getMultiDimIdentityMap(rank);
    AffineMap row = dropLast(rewriter, rank);
    Value r =
        elementwise(rewriter, loc, x, {x, max, sum}, {id, row, row},
                    [](OpBuilder &b, Location l, ValueRange a) {
                      Value e = math::ExpOp::create(
                          b, l, arith::SubFOp::create(b, l, a[0], a[1]));
                      linalg::YieldOp::create(
                          b, l, Value(arith::DivFOp::create(b, l, e, a[2])));
                    });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct CrossEntropyLowering : OpConversionPattern<CrossEntropyOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CrossEntropyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = adaptor.getLogits();
    Value targets = adaptor.getTargets();
    auto type = cast<RankedTensorType>(logits.getType());
    Type et = type.getElementType();
    int64_t rank = type.getRank();
    int64_t rows = rank - 1;
    // Padding columns (classes(N)) are masked out of the max and the sum.
    auto [max, sum] =
        rowMaxAndSumExp(rewriter, loc, logits, classCount(op.getClasses()));

    // Sum over all positions of log(sum) + max - logits[target].
    Value init = filledTensor(rewriter, loc, {}, et, 0.0);
    AffineMap id = rewriter.getMultiDimIdentityMap(rows);
    AffineMap scalar = AffineMap::get(rows, 0, rewriter.getContext());
    SmallVector<IteratorType> iters(rows, IteratorType::reduction);
    Value total =
        generic(rewriter, loc, {targets, max, sum}, init, {id, id, id, scalar},
                iters, [&](OpBuilder &b, Location l, ValueRange a) {
                  SmallVector<Value> idx;
                  for (int64_t d = 0; d < rows; ++d)
                    idx.push_back(linalg::IndexOp::create(b, l, d));
                  idx.push_back(castIdToIndex(b, l, a[0]));
                  Value picked = tensor::ExtractOp::create(b, l, logits, idx);
                  Value lse = arith::AddFOp::create(
                      b, l, math::LogOp::create(b, l, a[2]), a[1]);
                  Value nll = arith::SubFOp::create(b, l, lse, picked);
                  linalg::YieldOp::create(
                      b, l, Value(arith::AddFOp::create(b, l, nll, a[3])));
                });

    // Divide by the number of positions.
    Value count = arith::ConstantIndexOp::create(rewriter, loc, 1);
    for (int64_t d = 0; d < rows; ++d)
      count = arith::MulIOp::create(
          rewriter, loc, count,
          tensor::DimOp::create(rewriter, loc, targets, d));
    Value countF = arith::UIToFPOp::create(
        rewriter, loc, et,
        arith::IndexCastUIOp::create(rewriter, loc, rewriter.getI64Type(),
                                     count));
    Value mean = elementwise(
        rewriter, loc, total, {total}, {rewriter.getMultiDimIdentityMap(0)},
        [&](OpBuilder &b, Location l, ValueRange a) {
          linalg::YieldOp::create(
              b, l, Value(arith::DivFOp::create(b, l, a[0], countF)));
        });
    rewriter.replaceOp(op, mean);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

struct MatmulLowering : OpConversionPattern<MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    RankedTensorType type = op.getType();
    int64_t rank = type.getRank();
    int64_t batch = rank - 2;
    bool ta = op.getTransposeA(), tb = op.getTransposeB();
    // Loops: batch..., m, n, k.
    int64_t numLoops = rank + 1;
    MLIRContext *ctx = rewriter.getContext();
    auto dim = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    AffineExpr m = dim(batch), n = dim(batch + 1), k = dim(batch + 2);
    SmallVector<AffineExpr> lhsExprs, rhsExprs, outExprs;
    for (int64_t i = 0; i < batch; ++i) {
      lhsExprs.push_back(dim(i));
      outExprs.push_back(dim(i));
      if (!op.isSharedRhs())
        rhsExprs.push_back(dim(i));
    }
    lhsExprs.append(ta ? SmallVector<AffineExpr>{k, m}
                       : SmallVector<AffineExpr>{m, k});
    rhsExprs.append(tb ? SmallVector<AffineExpr>{n, k}
                       : SmallVector<AffineExpr>{k, n});
    outExprs.append({m, n});
    SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, lhsExprs, ctx),
                                   AffineMap::get(numLoops, 0, rhsExprs, ctx),
                                   AffineMap::get(numLoops, 0, outExprs, ctx)};

    // Result sizes: batch and M from lhs, N from rhs.
    SmallVector<OpFoldResult> lhsSizes = sizesOf(rewriter, loc, lhs);
    SmallVector<OpFoldResult> rhsSizes = sizesOf(rewriter, loc, rhs);
    int64_t r = op.getRhs().getType().getRank();
    SmallVector<OpFoldResult> sizes(lhsSizes.begin(), lhsSizes.begin() + batch);
    sizes.push_back(lhsSizes[ta ? rank - 1 : rank - 2]);
    sizes.push_back(rhsSizes[tb ? r - 2 : r - 1]);
    Type et = type.getElementType();
    Value init = filledTensor(rewriter, loc, sizes, et, 0.0);

    SmallVector<IteratorType> iters = parallelIterators(numLoops);
    iters.back() = IteratorType::reduction;
    // bfloat16 operands (lmc-bf16-storage) are extended: float32 products
    // summed in float32. A bfloat16 result is the accumulator here, so this
    // loop nest rounds each partial sum, where the runtime's call, which
    // replaces it in every pipeline, rounds the float32 sum once (as for
    // lmc.matmul_bias).
    Type acc = et.isBF16() ? rewriter.getF32Type() : et;
    Value result =
        generic(rewriter, loc, {lhs, rhs}, init, maps, iters,
                [acc, et](OpBuilder &b, Location l, ValueRange a) {
                  Value p = arith::MulFOp::create(
                      b, l, toAccumulator(b, l, acc, a[0]),
                      toAccumulator(b, l, acc, a[1]));
                  Value sum = arith::AddFOp::create(
                      b, l, p, toAccumulator(b, l, acc, a[2]));
                  linalg::YieldOp::create(b, l, toStored(b, l, et, sum));
                });
    // What convert-lmc-to-runtime needs to call a library GEMM instead.
    result.getDefiningOp()->setAttr(
        kLibraryCallAttr,
        rewriter.getDictionaryAttr(
            {rewriter.getNamedAttr("kernel", rewriter.getStringAttr("gemm")),
             rewriter.getNamedAttr("transpose_a", rewriter.getBoolAttr(ta)),
             rewriter.getNamedAttr("transpose_b", rewriter.getBoolAttr(tb))}));
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// lmc.matmul_bias: one linalg.generic marked as a library GEMM with an
/// epilogue (`epilogue` "bias" or "bias_gelu_tanh"), whose loop nest is also
/// exactly what matmul, bias_add and gelu compute: the products summed in K
/// order from zero (the accumulator is the result, or the pre-activation
/// with GELU), the bias added at the last K, and GELU of that.
struct MatmulBiasLowering : OpConversionPattern<MatmulBiasOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatmulBiasOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    RankedTensorType type = op.getResult().getType();
    Type et = type.getElementType();
    int64_t rank = type.getRank();
    int64_t batch = rank - 2;
    bool tb = op.getTransposeB();
    bool gelu = op.getGelu().has_value();
    int64_t numLoops = rank + 1;
    MLIRContext *ctx = rewriter.getContext();
    auto dim = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    AffineExpr m = dim(batch), n = dim(batch + 1), k = dim(batch + 2);
    SmallVector<AffineExpr> lhsExprs, outExprs;
    for (int64_t i = 0; i < batch; ++i) {
      lhsExprs.push_back(dim(i));
      outExprs.push_back(dim(i));
    }
    lhsExprs.append({m, k});
    outExprs.append({m, n});
    AffineMap out = AffineMap::get(numLoops, 0, outExprs, ctx);
    SmallVector<AffineMap> maps = {
        AffineMap::get(numLoops, 0, lhsExprs, ctx),
        AffineMap::get(
            numLoops, 0,
            tb ? ArrayRef<AffineExpr>{n, k} : ArrayRef<AffineExpr>{k, n}, ctx),
        AffineMap::get(numLoops, 0, n), out};
    if (gelu)
      maps.push_back(out);

    // With bfloat16 operands (lmc-bf16-storage) the products, the bias and
    // GELU are float32 (a bfloat16 bias extended) and each result is rounded
    // to its own type when stored. The partial sums live in the accumulator's
    // buffer (the pre-activation with GELU, else the result): a bfloat16
    // one rounds them, where the runtime's call, which replaces this loop
    // nest in every pipeline with library calls, sums in float32.
    Type resultEt = et, auxEt = et;
    if (cast<RankedTensorType>(lhs.getType()).getElementType().isBF16()) {
      et = rewriter.getF32Type();
      auxEt = gelu ? cast<RankedTensorType>(op.getPreActivation().getType())
                         .getElementType()
                   : resultEt;
    }
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, lhs);
    sizes.back() = sizesOf(rewriter, loc, rhs)[tb ? 0 : 1];
    SmallVector<Value> inits = {emptyTensor(rewriter, loc, sizes, resultEt)};
    if (gelu)
      inits.push_back(emptyTensor(rewriter, loc, sizes, auxEt));
    Value lastK = arith::SubIOp::create(
        rewriter, loc,
        getValueOrCreateConstantIndexOp(
            rewriter, loc, sizesOf(rewriter, loc, rhs)[tb ? 1 : 0]),
        arith::ConstantIndexOp::create(rewriter, loc, 1));

    SmallVector<IteratorType> iters = parallelIterators(numLoops);
    iters.back() = IteratorType::reduction;
    SmallVector<Type> resultTypes;
    for (Value init : inits)
      resultTypes.push_back(init.getType());
    auto generic = linalg::GenericOp::create(
        rewriter, loc, resultTypes, ValueRange{lhs, rhs, adaptor.getBias()},
        inits, maps, iters, [&](OpBuilder &b, Location l, ValueRange a) {
          Value kIndex = linalg::IndexOp::create(b, l, batch + 2);
          Value zero = arith::ConstantIndexOp::create(b, l, 0);
          Value first = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                              kIndex, zero);
          Value last = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                             kIndex, lastK);
          Value acc = toAccumulator(b, l, et, a[gelu ? 4 : 3]);
          Value prev = arith::SelectOp::create(b, l, first,
                                               floatConst(b, l, et, 0.0), acc);
          Value p = arith::MulFOp::create(b, l, toAccumulator(b, l, et, a[0]),
                                          toAccumulator(b, l, et, a[1]));
          Value sum = arith::AddFOp::create(b, l, p, prev);
          Value biased = arith::SelectOp::create(
              b, l, last,
              arith::AddFOp::create(b, l, sum, toAccumulator(b, l, et, a[2])),
              sum);
          if (!gelu) {
            linalg::YieldOp::create(b, l, toStored(b, l, resultEt, biased));
            return;
          }
          linalg::YieldOp::create(
              b, l,
              ValueRange{toStored(b, l, resultEt, geluTanh(b, l, et, biased)),
                         toStored(b, l, auxEt, biased)});
        });
    generic->setAttr(
        kLibraryCallAttr,
        rewriter.getDictionaryAttr(
            {rewriter.getNamedAttr("kernel", rewriter.getStringAttr("gemm")),
             rewriter.getNamedAttr("transpose_a", rewriter.getBoolAttr(false)),
             rewriter.getNamedAttr("transpose_b", rewriter.getBoolAttr(tb)),
             rewriter.getNamedAttr(
                 "epilogue",
                 rewriter.getStringAttr(gelu ? "bias_gelu_tanh" : "bias"))}));
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

struct SplitLowering : OpConversionPattern<SplitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SplitOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto type = cast<RankedTensorType>(input.getType());
    int64_t rank = type.getRank();
    int64_t chunk = type.getDimSize(rank - 1) / op.getParts();
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, input);
    sizes.back() = rewriter.getIndexAttr(chunk);
    SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
    SmallVector<Value> results;
    for (int64_t p = 0, e = op.getParts(); p < e; ++p) {
      SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0));
      offsets.back() = rewriter.getIndexAttr(p * chunk);
      results.push_back(tensor::ExtractSliceOp::create(
          rewriter, loc, cast<RankedTensorType>(op.getResult(p).getType()),
          input, offsets, sizes, strides));
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

struct SplitHeadsLowering : OpConversionPattern<SplitHeadsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SplitHeadsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // [B, T, C] -expand-> [B, T, H, D] -transpose-> [B, H, T, D].
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    RankedTensorType out = op.getType();
    int64_t heads = out.getDimSize(1), headDim = out.getDimSize(3);
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, input);
    SmallVector<OpFoldResult> expandedSizes = {sizes[0], sizes[1],
                                               rewriter.getIndexAttr(heads),
                                               rewriter.getIndexAttr(headDim)};
    auto expandedType = RankedTensorType::get(
        {out.getDimSize(0), out.getDimSize(2), heads, headDim},
        out.getElementType());
    Value expanded = tensor::ExpandShapeOp::create(
        rewriter, loc, expandedType, input,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}}, expandedSizes);
    Value init = emptyTensor(rewriter, loc,
                             {sizes[0], rewriter.getIndexAttr(heads), sizes[1],
                              rewriter.getIndexAttr(headDim)},
                             out.getElementType());
    Value r = linalg::TransposeOp::create(rewriter, loc, expanded, init,
                                          ArrayRef<int64_t>{0, 2, 1, 3})
                  ->getResult(0);
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct RepeatHeadsLowering : OpConversionPattern<RepeatHeadsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RepeatHeadsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // result[b, h, t, d] = input[b, h floordiv G, t, d].
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    RankedTensorType out = op.getType();
    MLIRContext *ctx = rewriter.getContext();
    auto dim = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, input);
    sizes[1] = rewriter.getIndexAttr(out.getDimSize(1));
    Value init = emptyTensor(rewriter, loc, sizes, out.getElementType());
    SmallVector<AffineMap> maps = {
        AffineMap::get(4, 0,
                       {dim(0), dim(1).floorDiv(op.getTimes()), dim(2), dim(3)},
                       ctx),
        AffineMap::getMultiDimIdentityMap(4, ctx)};
    Value r = generic(rewriter, loc, input, init, maps, parallelIterators(4),
                      [](OpBuilder &b, Location l, ValueRange args) {
                        linalg::YieldOp::create(b, l, args[0]);
                      });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct RepeatHeadsGradLowering : OpConversionPattern<RepeatHeadsGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RepeatHeadsGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // [B, Hkv * G, T, D] -expand-> [B, Hkv, G, T, D], summed over the loops
    // (b, j, g, t, d) with g a reduction: result[b, j, t, d] +=
    // input[b, j * G + g, t, d].
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    RankedTensorType out = op.getType();
    int64_t times = op.getTimes(), groups = out.getDimSize(1);
    MLIRContext *ctx = rewriter.getContext();
    auto dim = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, input);
    auto inType = cast<RankedTensorType>(input.getType());
    auto expandedType =
        RankedTensorType::get({inType.getDimSize(0), groups, times,
                               inType.getDimSize(2), inType.getDimSize(3)},
                              inType.getElementType());
    Value expanded = tensor::ExpandShapeOp::create(
        rewriter, loc, expandedType, input,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}},
        SmallVector<OpFoldResult>{sizes[0], rewriter.getIndexAttr(groups),
                                  rewriter.getIndexAttr(times), sizes[2],
                                  sizes[3]});
    sizes[1] = rewriter.getIndexAttr(groups);
    Value init = filledTensor(rewriter, loc, sizes, out.getElementType(), 0.0);
    SmallVector<AffineMap> maps = {
        AffineMap::getMultiDimIdentityMap(5, ctx),
        AffineMap::get(5, 0, {dim(0), dim(1), dim(3), dim(4)}, ctx)};
    SmallVector<IteratorType> iters = parallelIterators(5);
    iters[2] = IteratorType::reduction;
    Value r = generic(rewriter, loc, expanded, init, maps, iters,
                      [](OpBuilder &b, Location l, ValueRange args) {
                        Value sum =
                            arith::AddFOp::create(b, l, args[1], args[0]);
                        linalg::YieldOp::create(b, l, sum);
                      });
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct MergeHeadsLowering : OpConversionPattern<MergeHeadsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MergeHeadsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // [B, H, T, D] -transpose-> [B, T, H, D] -collapse-> [B, T, H * D].
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    auto inType = cast<RankedTensorType>(input.getType());
    SmallVector<OpFoldResult> sizes = sizesOf(rewriter, loc, input);
    Value init =
        emptyTensor(rewriter, loc, {sizes[0], sizes[2], sizes[1], sizes[3]},
                    inType.getElementType());
    Value t = linalg::TransposeOp::create(rewriter, loc, input, init,
                                          ArrayRef<int64_t>{0, 2, 1, 3})
                  ->getResult(0);
    Value r = tensor::CollapseShapeOp::create(
        rewriter, loc, op.getType(), t,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    rewriter.replaceOp(op, r);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct ConvertLMCToLinalgPass
    : mlir::lmc::impl::ConvertLMCToLinalgBase<ConvertLMCToLinalgPass> {
  using ConvertLMCToLinalgBase::ConvertLMCToLinalgBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();

    // Parameters must have values by now.
    WalkResult unbound = module.walk([](ParamRefOp ref) {
      ref.emitError("parameter '")
          << ref.getName()
          << "' has no value; bind the parameters (lmc-bind-params) before "
             "convert-lmc-to-linalg";
      return WalkResult::interrupt();
    });
    if (unbound.wasInterrupted())
      return signalPassFailure();

    // A fusion group computes what its body computes: without kernels (the
    // reference lowering; lmc compile outlines the groups first, and
    // lmc-fuse-kernel-loops makes each one loop nest), its body is inlined.
    SmallVector<FusedOp> groups;
    module.walk([&](FusedOp op) { groups.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (FusedOp op : groups) {
      SmallVector<Value> results(op.getYield().getValues());
      Operation *yield = op.getYield();
      rewriter.inlineBlockBefore(&op.getBody().front(), op, op.getInputs());
      rewriter.replaceOp(op, results);
      rewriter.eraseOp(yield);
    }

    // The runtime's row kernels read their operands in device memory on the
    // GPU; a constant tensor would bufferize to a host global. One passed to
    // the kernel function of a row reduction (lmc-outline-kernels: the
    // cross-entropy gradient's seed 1.0) is filled into a tensor instead,
    // which bufferizes to a device buffer and a fill kernel.
    if (runtimeRowReductions)
      materializeRowReductionConstants(module);

    ConversionTarget target(getContext());
    target.addLegalDialect<arith::ArithDialect, cf::ControlFlowDialect,
                           linalg::LinalgDialect, math::MathDialect,
                           tensor::TensorDialect>();
    // Collectives stay: they bufferize to their ops on buffers (lmc's
    // BufferizableOpInterface models), which convert-lmc-to-runtime makes
    // runtime calls, with lmc.axis_index.
    target.addDynamicallyLegalDialect<LMCDialect>(
        [](Operation *op) { return isCollective(op); });
    target.addLegalOp<ModelOp, ParamOp, AxisIndexOp>();
    // Flash attention has no loop form: it bufferizes to the runtime's
    // attention kernels (lmc.buffer_attention), like the collectives.
    target.addLegalOp<FlashAttentionOp, FlashAttentionGradOp, BufferAttentionOp,
                      BufferAttentionGradOp>();
    // The LM head's chunked loss too (lmc.buffer_head_loss).
    target.addLegalOp<ChunkedHeadLossOp, BufferHeadLossOp>();
    // On the GPU pipeline, the norms, softmaxes and cross-entropies outside
    // fusion groups are the runtime's row kernels (lmc.buffer_row_reduction).
    if (runtimeRowReductions)
      target.addDynamicallyLegalOp<
          LayerNormOp, LayerNormGradOp, RMSNormOp, RMSNormGradOp,
          CrossEntropyOp, CrossEntropyGradOp, SoftmaxOp, SoftmaxGradOp>(
          [](Operation *op) {
            auto fn = op->getParentOfType<func::FuncOp>();
            return isRuntimeRowReduction(op) &&
                   !op->getParentOfType<FusedOp>() &&
                   !(fn && fn->hasAttr(FusedOp::getKernelAttrName()));
          });
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });

    RewritePatternSet patterns(&getContext());
    populateLMCToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();

    if (failed(dissolveModels(module)))
      return signalPassFailure();
  }

  /// In each function that holds a runtime row reduction, an argument that
  /// every call passes the same splat constant tensor (the cross-entropy
  /// gradient's seed 1.0) is replaced by a linalg.fill of a tensor.empty in
  /// the function (its fill kernel is queued there, with the row kernel);
  /// where the calls differ, each call's constant is filled at the call.
  static void materializeRowReductionConstants(ModuleOp module) {
    SymbolTable symbols(module);
    llvm::MapVector<func::FuncOp, SmallVector<func::CallOp>> callsOf;
    module.walk([&](func::CallOp call) {
      auto callee = symbols.lookupNearestSymbolFrom<func::FuncOp>(
          call, call.getCalleeAttr());
      if (callee && !callee.isExternal() &&
          !callee->hasAttr(FusedOp::getKernelAttrName()))
        callsOf[callee].push_back(call);
    });
    auto splatOf = [](Value v) -> DenseElementsAttr {
      auto constant = v.getDefiningOp<arith::ConstantOp>();
      auto dense =
          constant ? dyn_cast<DenseElementsAttr>(constant.getValue()) : nullptr;
      auto type = dyn_cast<RankedTensorType>(v.getType());
      if (!dense || !dense.isSplat() || !type || !type.hasStaticShape())
        return nullptr;
      return dense;
    };
    auto fill = [](OpBuilder &b, Location loc, DenseElementsAttr dense) {
      auto type = cast<RankedTensorType>(dense.getType());
      Value empty = tensor::EmptyOp::create(b, loc, type.getShape(),
                                            type.getElementType());
      Value value = arith::ConstantOp::create(
          b, loc, cast<TypedAttr>(dense.getSplatValue<Attribute>()));
      return linalg::FillOp::create(b, loc, value, empty).getResult(0);
    };
    for (auto &[callee, calls] : callsOf) {
      bool holds = callee
                       .walk([](Operation *op) {
                         return isRuntimeRowReduction(op)
                                    ? WalkResult::interrupt()
                                    : WalkResult::advance();
                       })
                       .wasInterrupted();
      if (!holds)
        continue;
      Block &entry = callee.getBody().front();
      for (unsigned i = 0; i < callee.getNumArguments(); ++i) {
        DenseElementsAttr first = splatOf(calls.front().getOperand(i));
        if (!first)
          continue;
        bool same = llvm::all_of(calls, [&](func::CallOp call) {
          return splatOf(call.getOperand(i)) == first;
        });
        if (same) {
          OpBuilder b = OpBuilder::atBlockBegin(&entry);
          callee.getArgument(i).replaceAllUsesWith(
              fill(b, callee.getLoc(), first));
          continue;
        }
        for (func::CallOp call : calls)
          if (DenseElementsAttr dense = splatOf(call.getOperand(i))) {
            OpBuilder b(call);
            call->setOperand(i, fill(b, call.getLoc(), dense));
          }
      }
    }
  }

  /// Moves the functions of every lmc.model into the enclosing module and
  /// drops the model with its (now unused) parameter declarations. The
  /// model's mesh (lmc-shard) moves to the module, where the collectives
  /// still find it.
  LogicalResult dissolveModels(ModuleOp module) {
    SymbolTable moduleSymbols(module);
    for (ModelOp model : llvm::make_early_inc_range(module.getOps<ModelOp>())) {
      if (Attribute mesh = model->getAttr(LMCDialect::getMeshAttrName())) {
        Attribute existing = module->getAttr(LMCDialect::getMeshAttrName());
        if (existing && existing != mesh)
          return model.emitError("the mesh of model @")
                 << model.getSymName() << " differs from the module's";
        module->setAttr(LMCDialect::getMeshAttrName(), mesh);
      }
      for (auto func : llvm::make_early_inc_range(
               model.getBody().front().getOps<func::FuncOp>())) {
        Operation *existing = moduleSymbols.lookup(func.getSymName());
        if (existing && existing != model.getOperation())
          return func.emitError("function @")
                 << func.getSymName() << " of model @" << model.getSymName()
                 << " clashes with a symbol of the enclosing module";
        if (existing)
          moduleSymbols.remove(existing);
        func->moveBefore(model);
        moduleSymbols.insert(func);
      }
      model.erase();
    }
    return success();
  }
};

} // namespace

void mlir::lmc::populateLMCToLinalgPatterns(RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns
      .add<AddLowering, BiasAddLowering, CausalMaskLowering, ConvertLowering,
           CrossEntropyLowering, EmbeddingLowering, GeluLowering,
           LayerNormLowering, RMSNormLowering, RopeLowering, MatmulLowering,
           MatmulBiasLowering, MergeHeadsLowering, PositionEmbeddingLowering,
           RepeatHeadsLowering, RepeatHeadsGradLowering, ScaleLowering,
           SiluLowering, SoftmaxLowering, SplitHeadsLowering, SplitLowering>(
          ctx);
  populateDecomposeAttentionPatterns(patterns);
  lowering::populateTrainingOpsToLinalgPatterns(patterns);
  lowering::populateShardingOpsToLinalgPatterns(patterns);
}
