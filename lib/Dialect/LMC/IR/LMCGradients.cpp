//===- LMCGradients.cpp - Reverse-mode gradient rules of the lmc ops ------===//
//
// Each differentiable op's DifferentiableOpInterface::buildGradient: given
// the gradients of its results, emit the gradients of its operands. Forward
// values are read through the GradientBuilder, which may recompute them.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace mlir::lmc;

#include "lmc/Dialect/LMC/IR/LMCInterfaces.cpp.inc"

/// All dimensions of a rank-`rank` tensor but the last.
static SmallVector<int64_t> leadingDims(int64_t rank) {
  SmallVector<int64_t> dims(rank - 1);
  std::iota(dims.begin(), dims.end(), 0);
  return dims;
}

LogicalResult AddOp::buildGradient(GradientBuilder &gb) {
  Value dy = gb.resultGrad(0);
  gb.addOperandGrad(0, dy);
  gb.addOperandGrad(1, dy);
  return success();
}

LogicalResult MulOp::buildGradient(GradientBuilder &gb) {
  OpBuilder &b = gb.builder();
  Value dy = gb.resultGrad(0);
  gb.addOperandGrad(0, MulOp::create(b, getLoc(), dy, gb.operand(1)));
  gb.addOperandGrad(1, MulOp::create(b, getLoc(), dy, gb.operand(0)));
  return success();
}

LogicalResult BiasAddOp::buildGradient(GradientBuilder &gb) {
  Value dy = gb.resultGrad(0);
  gb.addOperandGrad(0, dy);
  gb.addOperandGrad(1, ReduceSumOp::create(gb.builder(), getLoc(), dy,
                                           leadingDims(getType().getRank())));
  return success();
}

LogicalResult ScaleOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(0, ScaleOp::create(gb.builder(), getLoc(), gb.resultGrad(0),
                                       getFactorAttr()));
  return success();
}

LogicalResult GeluOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(0,
                    GeluGradOp::create(gb.builder(), getLoc(), gb.operand(0),
                                       gb.resultGrad(0), getApproximation()));
  return success();
}

LogicalResult SiluOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(0, SiluGradOp::create(gb.builder(), getLoc(), gb.operand(0),
                                          gb.resultGrad(0)));
  return success();
}

LogicalResult LayerNormOp::buildGradient(GradientBuilder &gb) {
  auto grad =
      LayerNormGradOp::create(gb.builder(), getLoc(), gb.operand(0),
                              gb.operand(1), gb.resultGrad(0), getEpsAttr());
  gb.addOperandGrad(0, grad.getInputGrad());
  gb.addOperandGrad(1, grad.getWeightGrad());
  gb.addOperandGrad(2, grad.getBiasGrad());
  return success();
}

LogicalResult RMSNormOp::buildGradient(GradientBuilder &gb) {
  auto grad =
      RMSNormGradOp::create(gb.builder(), getLoc(), gb.operand(0),
                            gb.operand(1), gb.resultGrad(0), getEpsAttr());
  gb.addOperandGrad(0, grad.getInputGrad());
  gb.addOperandGrad(1, grad.getWeightGrad());
  return success();
}

LogicalResult RopeOp::buildGradient(GradientBuilder &gb) {
  // A rotation per position: its gradient is the inverse rotation at the
  // same positions. The offset has no gradient.
  Value offset = getOffset() ? gb.forward(getOffset()) : Value();
  gb.addOperandGrad(
      0,
      RopeOp::create(gb.builder(), getLoc(), gb.resultGrad(0), offset,
                     getHeadDimAttr(), getThetaAttr(),
                     getInverse() ? UnitAttr() : gb.builder().getUnitAttr()));
  return success();
}

LogicalResult SoftmaxOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(0, SoftmaxGradOp::create(gb.builder(), getLoc(),
                                             gb.result(0), gb.resultGrad(0)));
  return success();
}

LogicalResult CausalMaskOp::buildGradient(GradientBuilder &gb) {
  // Masked entries do not depend on the input.
  gb.addOperandGrad(0, CausalMaskOp::create(gb.builder(), getLoc(),
                                            gb.resultGrad(0),
                                            /*zero=*/true));
  return success();
}

LogicalResult SplitHeadsOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(
      0, MergeHeadsOp::create(gb.builder(), getLoc(), gb.resultGrad(0)));
  return success();
}

LogicalResult MergeHeadsOp::buildGradient(GradientBuilder &gb) {
  int64_t heads = getInput().getType().getDimSize(1);
  gb.addOperandGrad(
      0, SplitHeadsOp::create(gb.builder(), getLoc(), gb.resultGrad(0), heads));
  return success();
}

LogicalResult RepeatHeadsOp::buildGradient(GradientBuilder &gb) {
  // Each head feeds `times` heads of the result: its gradient sums theirs.
  gb.addOperandGrad(0, RepeatHeadsGradOp::create(gb.builder(), getLoc(),
                                                 gb.resultGrad(0), getTimes()));
  return success();
}

LogicalResult RepeatHeadsGradOp::buildGradient(GradientBuilder &gb) {
  // A sum over each group: every summand receives the group's gradient.
  gb.addOperandGrad(0, RepeatHeadsOp::create(gb.builder(), getLoc(),
                                             gb.resultGrad(0), getTimes()));
  return success();
}

LogicalResult SplitOp::buildGradient(GradientBuilder &gb) {
  SmallVector<Value> parts;
  for (unsigned i = 0, e = getNumResults(); i < e; ++i)
    parts.push_back(gb.resultGrad(i));
  gb.addOperandGrad(0, ConcatOp::create(gb.builder(), getLoc(), parts));
  return success();
}

LogicalResult TransposeOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(
      0, TransposeOp::create(gb.builder(), getLoc(), gb.resultGrad(0)));
  return success();
}

LogicalResult FlattenOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(0, UnflattenOp::create(gb.builder(), getLoc(),
                                           gb.resultGrad(0), gb.operand(0)));
  return success();
}

LogicalResult ReduceSumOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(0, BroadcastOp::create(gb.builder(), getLoc(),
                                           gb.resultGrad(0), gb.operand(0),
                                           getDims()));
  return success();
}

LogicalResult EmbeddingOp::buildGradient(GradientBuilder &gb) {
  // Token ids (operand 1) and the offset have no gradient; the gradient of
  // a block of the table is the same block of the table's gradient.
  Value offset = getOffset() ? gb.forward(getOffset()) : Value();
  gb.addOperandGrad(
      0, EmbeddingGradOp::create(gb.builder(), getLoc(), getTable().getType(),
                                 gb.resultGrad(0), gb.operand(1), offset));
  return success();
}

LogicalResult PositionEmbeddingOp::buildGradient(GradientBuilder &gb) {
  gb.addOperandGrad(0, PositionEmbeddingGradOp::create(gb.builder(), getLoc(),
                                                       getTable().getType(),
                                                       gb.resultGrad(0)));
  return success();
}

LogicalResult CrossEntropyOp::buildGradient(GradientBuilder &gb) {
  // Targets (operand 1) have no gradient.
  gb.addOperandGrad(0, CrossEntropyGradOp::create(
                           gb.builder(), getLoc(), gb.operand(0), gb.operand(1),
                           gb.resultGrad(0), getClassesAttr()));
  return success();
}

LogicalResult MatmulOp::buildGradient(GradientBuilder &gb) {
  // C = op(A) op(B), with op() the optional transposes.
  OpBuilder &b = gb.builder();
  Location loc = getLoc();
  Value a = gb.operand(0), bv = gb.operand(1), dc = gb.resultGrad(0);
  bool ta = getTransposeA(), tb = getTransposeB();

  // d op(A) = dC op(B)^T; dA is its transpose when A enters transposed.
  Value dOpA = MatmulOp::create(b, loc, dc, bv, /*transpose_a=*/false,
                                /*transpose_b=*/!tb);
  gb.addOperandGrad(0, ta ? Value(TransposeOp::create(b, loc, dOpA)) : dOpA);

  if (isSharedRhs()) {
    // One matrix for every batch element: contract over all rows.
    Value opA = ta ? Value(TransposeOp::create(b, loc, a)) : a;
    Value rowsA = FlattenOp::create(b, loc, opA);
    Value rowsDC = FlattenOp::create(b, loc, dc);
    Value db = tb ? MatmulOp::create(b, loc, rowsDC, rowsA, true, false)
                  : MatmulOp::create(b, loc, rowsA, rowsDC, true, false);
    gb.addOperandGrad(1, db);
    return success();
  }
  // Batched: d op(B) = op(A)^T dC per batch element.
  Value db = tb ? MatmulOp::create(b, loc, dc, a, /*transpose_a=*/true,
                                   /*transpose_b=*/ta)
                : MatmulOp::create(b, loc, a, dc, /*transpose_a=*/!ta,
                                   /*transpose_b=*/false);
  gb.addOperandGrad(1, db);
  return success();
}

LogicalResult FlashAttentionOp::buildGradient(GradientBuilder &gb) {
  // One fused rule: the probabilities are recomputed blockwise from q, k and
  // the row statistics lse, which with the output are all the forward pass
  // keeps. lse feeds nothing differentiable: its gradient is not read.
  Location loc = getLoc();
  auto grad = FlashAttentionGradOp::create(
      gb.builder(), loc, gb.operand(0), gb.operand(1), gb.operand(2),
      gb.forward(getResult()), gb.forward(getLse()), gb.resultGrad(0),
      getHeadsAttr(), getKvHeadsAttr());
  gb.addOperandGrad(0, grad.getQueryGrad());
  gb.addOperandGrad(1, grad.getKeyGrad());
  gb.addOperandGrad(2, grad.getValueGrad());
  return success();
}

LogicalResult CausalAttentionOp::buildGradient(GradientBuilder &gb) {
  // The probabilities are recomputed from q and k here, inside the backward
  // pass: the fused op keeps no T x T tensor alive across forward and
  // backward. (lmc-autodiff decomposes attention first when the recompute
  // policy saves the probabilities instead.)
  OpBuilder &b = gb.builder();
  Location loc = getLoc();
  int64_t heads = getHeads(), kvHeads = getNumKvHeads();
  int64_t group = heads / kvHeads;
  auto split = [&](Value v, int64_t n) -> Value {
    return SplitHeadsOp::create(b, loc, v, n);
  };
  // Key/value heads serve `group` query heads each: repeated to the query
  // heads here, their gradients summed over each group below.
  auto repeat = [&](Value v) -> Value {
    return group == 1 ? v : RepeatHeadsOp::create(b, loc, v, group);
  };
  auto sumGroups = [&](Value v) -> Value {
    return group == 1 ? v : RepeatHeadsGradOp::create(b, loc, v, group);
  };
  Value q = split(gb.operand(0), heads),
        k = repeat(split(gb.operand(1), kvHeads)),
        v = repeat(split(gb.operand(2), kvHeads));
  FloatAttr factor =
      b.getF64FloatAttr(1.0 / std::sqrt(static_cast<double>(getHeadDim())));
  Value scores = MatmulOp::create(b, loc, q, k, false, true);
  Value masked = CausalMaskOp::create(
      b, loc, ScaleOp::create(b, loc, scores, factor), /*zero=*/false);
  Value probs = SoftmaxOp::create(b, loc, masked);

  Value dOut = split(gb.resultGrad(0), heads);
  Value dV = MatmulOp::create(b, loc, probs, dOut, true, false);
  Value dProbs = MatmulOp::create(b, loc, dOut, v, false, true);
  Value dMasked = SoftmaxGradOp::create(b, loc, probs, dProbs);
  Value dScores = ScaleOp::create(
      b, loc, CausalMaskOp::create(b, loc, dMasked, /*zero=*/true), factor);
  Value dQ = MatmulOp::create(b, loc, dScores, k, false, false);
  Value dK = MatmulOp::create(b, loc, dScores, q, true, false);
  gb.addOperandGrad(0, MergeHeadsOp::create(b, loc, dQ));
  gb.addOperandGrad(1, MergeHeadsOp::create(b, loc, sumGroups(dK)));
  gb.addOperandGrad(2, MergeHeadsOp::create(b, loc, sumGroups(dV)));
  return success();
}
