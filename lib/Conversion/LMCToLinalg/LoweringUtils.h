//===- LoweringUtils.h - Helpers of the lmc to linalg lowering --*- C++ -*-===//

#ifndef LMC_LIB_CONVERSION_LMCTOLINALG_LOWERINGUTILS_H
#define LMC_LIB_CONVERSION_LMCTOLINALG_LOWERINGUTILS_H

#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>
#include <optional>
#include <utility>

namespace mlir::lmc::lowering {

using utils::IteratorType;

/// Marks a linalg.generic that a library kernel can replace; a dictionary
/// with `kernel` ("gemm", "embedding_grad") and the kernel's parameters.
/// convert-lmc-to-runtime consumes it; the reference lowering ignores it.
inline constexpr llvm::StringLiteral kLibraryCallAttr =
    LMCDialect::LibraryCallAttrHelper::getNameStr();
using BodyFn = function_ref<void(OpBuilder &, Location, ValueRange)>;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

inline Value floatConst(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

/// GELU's tanh approximation of `x`:
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
inline Value geluTanh(OpBuilder &b, Location l, Type et, Value x) {
  Value half = floatConst(b, l, et, 0.5);
  Value one = floatConst(b, l, et, 1.0);
  Value k = floatConst(b, l, et, std::sqrt(2.0 / M_PI));
  Value c = floatConst(b, l, et, 0.044715);
  Value x3 = arith::MulFOp::create(b, l, x, arith::MulFOp::create(b, l, x, x));
  Value u = arith::AddFOp::create(b, l, x, arith::MulFOp::create(b, l, c, x3));
  Value inner = math::TanhOp::create(b, l, arith::MulFOp::create(b, l, k, u));
  return arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, half, x),
                               arith::AddFOp::create(b, l, one, inner));
}

/// Exact GELU of `x`: 0.5 x (1 + erf(x / sqrt(2))).
inline Value geluExact(OpBuilder &b, Location l, Type et, Value x) {
  Value half = floatConst(b, l, et, 0.5);
  Value one = floatConst(b, l, et, 1.0);
  Value c = floatConst(b, l, et, M_SQRT1_2);
  Value inner = math::ErfOp::create(b, l, arith::MulFOp::create(b, l, x, c));
  return arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, half, x),
                               arith::AddFOp::create(b, l, one, inner));
}

/// sigmoid(x) = 1 / (1 + exp(-x)) in a form that never overflows: with
/// e = exp(-|x|) (at most 1), 1 / (1 + e) for x >= 0, e / (1 + e) otherwise.
inline Value sigmoid(OpBuilder &b, Location l, Type et, Value x) {
  Value one = floatConst(b, l, et, 1.0);
  Value e = math::ExpOp::create(
      b, l, arith::NegFOp::create(b, l, math::AbsFOp::create(b, l, x)));
  Value positive =
      arith::DivFOp::create(b, l, one, arith::AddFOp::create(b, l, one, e));
  Value nonNegative = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, x,
                                            floatConst(b, l, et, 0.0));
  return arith::SelectOp::create(b, l, nonNegative, positive,
                                 arith::MulFOp::create(b, l, e, positive));
}

/// The sizes of `v`, static ones as attributes and dynamic ones as tensor.dim.
inline SmallVector<OpFoldResult> sizesOf(OpBuilder &b, Location loc, Value v) {
  return tensor::getMixedSizes(b, loc, v);
}

/// An empty tensor of the given sizes and element type.
inline Value emptyTensor(OpBuilder &b, Location loc,
                         ArrayRef<OpFoldResult> sizes, Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

/// An empty tensor of `sizes` filled with `value`.
inline Value filledTensor(OpBuilder &b, Location loc,
                          ArrayRef<OpFoldResult> sizes, Type elementType,
                          double value) {
  Value empty = emptyTensor(b, loc, sizes, elementType);
  Value cst = floatConst(b, loc, elementType, value);
  return linalg::FillOp::create(b, loc, ValueRange{cst}, ValueRange{empty})
      .getResult(0);
}

/// A linalg.generic with one result written into `init`.
inline Value generic(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                     ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
                     BodyFn body) {
  auto op = linalg::GenericOp::create(b, loc, TypeRange{init.getType()}, inputs,
                                      ValueRange{init}, maps, iterators, body);
  return op.getResult(0);
}

inline SmallVector<IteratorType> parallelIterators(int64_t rank) {
  return SmallVector<IteratorType>(rank, IteratorType::parallel);
}

/// Elementwise map over `inputs` (all of the shape of the first one, or
/// broadcast by `maps`) into a tensor shaped like `shapeOf`.
inline Value elementwise(OpBuilder &b, Location loc, Value shapeOf,
                         ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                         BodyFn body, Type resultElement = {}) {
  auto type = cast<RankedTensorType>(shapeOf.getType());
  Value init =
      emptyTensor(b, loc, sizesOf(b, loc, shapeOf),
                  resultElement ? resultElement : type.getElementType());
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(type.getRank()));
  return generic(b, loc, inputs, init, maps, parallelIterators(type.getRank()),
                 body);
}

/// Reduces the last dimension of `input` with `combine`, starting from
/// `initValue`: the result has the leading dimensions of `input`.
inline Value reduceLastDim(
    OpBuilder &b, Location loc, Value input, double initValue,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes = sizesOf(b, loc, input);
  sizes.pop_back();
  Value init = filledTensor(b, loc, sizes, type.getElementType(), initValue);
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<IteratorType> iters = parallelIterators(rank);
  iters.back() = IteratorType::reduction;
  return generic(b, loc, ValueRange{input}, init, {id, id.dropResult(rank - 1)},
                 iters, [&](OpBuilder &nb, Location nl, ValueRange args) {
                   Value r = combine(nb, nl, args[0], args[1]);
                   linalg::YieldOp::create(nb, nl, r);
                 });
}

/// Map of a rank-`rank` loop nest onto its leading `rank - 1` dimensions.
inline AffineMap dropLast(OpBuilder &b, int64_t rank) {
  return b.getMultiDimIdentityMap(rank).dropResult(rank - 1);
}

/// Map of a rank-`rank` loop nest onto its last dimension.
inline AffineMap lastOnly(OpBuilder &b, int64_t rank) {
  return AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1));
}

inline Value castIdToIndex(OpBuilder &b, Location loc, Value id) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), id);
}

/// Inside a linalg.generic of rank `rank` whose last loop runs over the
/// columns of logits padded along the vocabulary: whether the current
/// column is a class, i.e. its global index (`offset`, an index value or
/// null for 0, plus the loop index) is below `classes`.
inline Value isClassColumn(OpBuilder &b, Location l, int64_t rank,
                           int64_t classes, Value offset) {
  Value col = linalg::IndexOp::create(b, l, rank - 1);
  if (offset)
    col = arith::AddIOp::create(b, l, col, offset);
  return arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, col,
                               arith::ConstantIndexOp::create(b, l, classes));
}

/// Row maximum and sum of exp(x - max) over the last dimension. With
/// `classes`, only the columns that are classes (isClassColumn, with
/// `offset`) take part: padding is neither in the maximum nor in the sum (a
/// row of padding only has max -inf and sum 0).
inline std::pair<Value, Value>
rowMaxAndSumExp(OpBuilder &b, Location loc, Value x,
                std::optional<int64_t> classes = std::nullopt,
                Value offset = nullptr) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  Type et = type.getElementType();
  Value max = reduceLastDim(
      b, loc, x, -INFINITY, [&](OpBuilder &nb, Location l, Value v, Value acc) {
        if (classes)
          v = arith::SelectOp::create(
              nb, l, isClassColumn(nb, l, rank, *classes, offset), v,
              floatConst(nb, l, et, -INFINITY));
        return Value(arith::MaximumFOp::create(nb, l, v, acc));
      });
  SmallVector<OpFoldResult> rowSizes = sizesOf(b, loc, x);
  rowSizes.pop_back();
  Value init = filledTensor(b, loc, rowSizes, type.getElementType(), 0.0);
  AffineMap id = b.getMultiDimIdentityMap(rank);
  AffineMap row = dropLast(b, rank);
  SmallVector<IteratorType> iters = parallelIterators(rank);
  iters.back() = IteratorType::reduction;
  Value sum =
      generic(b, loc, {x, max}, init, {id, row, row}, iters,
              [&](OpBuilder &nb, Location l, ValueRange a) {
                Value e = math::ExpOp::create(
                    nb, l, arith::SubFOp::create(nb, l, a[0], a[1]));
                if (classes)
                  e = arith::SelectOp::create(
                      nb, l, isClassColumn(nb, l, rank, *classes, offset), e,
                      floatConst(nb, l, et, 0.0));
                linalg::YieldOp::create(
                    nb, l, Value(arith::AddFOp::create(nb, l, e, a[2])));
              });
  return {max, sum};
}

/// The `classes` attribute of a cross-entropy op as an optional count.
inline std::optional<int64_t> classCount(std::optional<uint64_t> classes) {
  if (!classes)
    return std::nullopt;
  return static_cast<int64_t>(*classes);
}

/// Adds the lowering patterns of the backward and optimizer ops.
void populateTrainingOpsToLinalgPatterns(RewritePatternSet &patterns);

/// Adds the lowering patterns of the ops of partitioned programs
/// (LMCShardingOps.td).
void populateShardingOpsToLinalgPatterns(RewritePatternSet &patterns);

} // namespace mlir::lmc::lowering

#endif // LMC_LIB_CONVERSION_LMCTOLINALG_LOWERINGUTILS_H
