//===- LMCTrainingOps.cpp - Backward and optimizer ops --------------------===//
//
// Verifiers and result type inference of the ops in LMCTrainingOps.td.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "mlir/IR/TypeUtilities.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::lmc;
using namespace mlir::lmc::detail;

/// Why `dims` are not strictly increasing dimensions below `rank`, if so.
static std::optional<std::string> checkDims(ArrayRef<int64_t> dims,
                                            int64_t rank) {
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (d < 0 || d >= rank)
      return "dimension " + std::to_string(d) + " is out of range for rank " +
             std::to_string(rank);
    if (i > 0 && d <= dims[i - 1])
      return std::string("dims must be strictly increasing");
  }
  return std::nullopt;
}

/// `shape` without the dimensions in `dims` (sorted).
static SmallVector<int64_t> dropDims(ArrayRef<int64_t> shape,
                                     ArrayRef<int64_t> dims) {
  SmallVector<int64_t> kept;
  for (auto [i, s] : llvm::enumerate(shape))
    if (!llvm::is_contained(dims, static_cast<int64_t>(i)))
      kept.push_back(s);
  return kept;
}

LogicalResult ReduceSumOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = rankedOrError(loc, adaptor.getInput(), "input");
  if (!input)
    return failure();
  ArrayRef<int64_t> dims = adaptor.getDims();
  if (std::optional<std::string> error = checkDims(dims, input.getRank()))
    return emitOptionalError(loc, *error);
  inferred.push_back(RankedTensorType::get(dropDims(input.getShape(), dims),
                                           input.getElementType()));
  return success();
}

LogicalResult BroadcastOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType like = getLike().getType();
  if (std::optional<std::string> error = checkDims(getDims(), like.getRank()))
    return emitOpError(*error);
  SmallVector<int64_t> kept = dropDims(like.getShape(), getDims());
  bool matches = kept.size() == static_cast<size_t>(input.getRank()) &&
                 input.getElementType() == like.getElementType() &&
                 llvm::all_of(llvm::zip(kept, input.getShape()), [](auto p) {
                   return dimsCompatible(std::get<0>(p), std::get<1>(p));
                 });
  if (!matches)
    return emitOpError("input ")
           << input << " does not match " << like << " without dims";
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = rankedOrError(loc, adaptor.getInput(), "input");
  if (!input)
    return failure();
  if (input.getRank() < 2)
    return emitOptionalError(loc, "input must have rank at least 2");
  SmallVector<int64_t> shape(input.getShape());
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

RankedTensorType FlattenOp::flattenedType(RankedTensorType type) {
  int64_t rows = 1;
  for (int64_t s : type.getShape().drop_back())
    rows = ShapedType::isDynamic(s) || ShapedType::isDynamic(rows)
               ? ShapedType::kDynamic
               : rows * s;
  return RankedTensorType::get({rows, type.getShape().back()},
                               type.getElementType());
}

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = rankedOrError(loc, adaptor.getInput(), "input");
  if (!input)
    return failure();
  if (input.getRank() < 2)
    return emitOptionalError(loc, "input must have rank at least 2");
  inferred.push_back(flattenedType(input));
  return success();
}

LogicalResult UnflattenOp::verify() {
  RankedTensorType input = getInput().getType();
  RankedTensorType like = getLike().getType();
  if (input.getRank() != 2 || like.getRank() < 2)
    return emitOpError("expects a rank-2 input and a reference of rank at "
                       "least 2");
  if (!dimsCompatible(input.getDimSize(1), like.getShape().back()) ||
      input.getElementType() != like.getElementType())
    return emitOpError("input ")
           << input << " cannot take the shape of " << like;
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return emitOptionalError(loc, "expects at least one operand");
  RankedTensorType first = rankedOrError(loc, inputs.front(), "operand");
  if (!first)
    return failure();
  for (Value v : inputs)
    if (v.getType() != first)
      return emitOptionalError(loc, "all operands must have one type");
  if (first.getRank() < 1 || first.isDynamicDim(first.getRank() - 1))
    return emitOptionalError(loc, "operands need a static last dimension");
  SmallVector<int64_t> shape(first.getShape());
  shape.back() *= static_cast<int64_t>(inputs.size());
  inferred.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult LayerNormGradOp::verify() {
  if (failed(verifyChannelVector(*this, getInput().getType(),
                                 getWeight().getType(), "weight")))
    return failure();
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be greater than zero");
  return success();
}

LogicalResult RMSNormGradOp::verify() {
  if (failed(verifyChannelVector(*this, getInput().getType(),
                                 getWeight().getType(), "weight")))
    return failure();
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError("eps must be greater than zero");
  return success();
}

LogicalResult SoftmaxGradOp::verify() {
  if (getOutput().getType().getRank() < 1)
    return emitOpError("operands must have rank at least 1");
  return success();
}

/// The result of an embedding gradient: a static [rows, C] table.
static LogicalResult verifyTableGrad(Operation *op, RankedTensorType grad,
                                     RankedTensorType result) {
  if (grad.getRank() != 3)
    return op->emitOpError("grad must be rank 3 (batch, sequence, channels)");
  if (result.getRank() != 2 || !result.hasStaticShape())
    return op->emitOpError("result must be a static rank-2 table");
  if (!dimsCompatible(result.getDimSize(1), grad.getDimSize(2)) ||
      result.getElementType() != grad.getElementType())
    return op->emitOpError("result ")
           << result << " does not match the channels of " << grad;
  return success();
}

LogicalResult EmbeddingGradOp::verify() {
  RankedTensorType grad = getGrad().getType();
  RankedTensorType ids = getIds().getType();
  if (failed(verifyTableGrad(*this, grad, getType())))
    return failure();
  if (ids.getRank() != 2 ||
      !dimsCompatible(ids.getDimSize(0), grad.getDimSize(0)) ||
      !dimsCompatible(ids.getDimSize(1), grad.getDimSize(1)))
    return emitOpError("ids ") << ids << " do not match grad " << grad;
  return success();
}

LogicalResult PositionEmbeddingGradOp::verify() {
  RankedTensorType grad = getGrad().getType();
  if (failed(verifyTableGrad(*this, grad, getType())))
    return failure();
  if (!grad.isDynamicDim(1) && grad.getDimSize(1) > getType().getDimSize(0))
    return emitOpError("sequence length ")
           << grad.getDimSize(1) << " exceeds the " << getType().getDimSize(0)
           << " rows of the table";
  return success();
}

LogicalResult CrossEntropyGradOp::verify() {
  RankedTensorType logits = getLogits().getType();
  RankedTensorType targets = getTargets().getType();
  int64_t rank = logits.getRank();
  if (rank < 2 || logits.isDynamicDim(rank - 1))
    return emitOpError("logits need rank at least 2 and a static vocabulary");
  if (targets.getRank() != rank - 1)
    return emitOpError("targets must have rank ") << rank - 1;
  for (int64_t i = 0; i < rank - 1; ++i)
    if (!dimsCompatible(logits.getDimSize(i), targets.getDimSize(i)))
      return emitOpError("dimension ") << i << " of logits and targets differ";
  if (getGrad().getType().getElementType() != logits.getElementType())
    return emitOpError("grad must have the logits' element type");
  RankedTensorType result = getType();
  if (result != logits &&
      !(logits.getElementType().isF32() && result.getElementType().isBF16() &&
        result.getShape() == logits.getShape()))
    return emitOpError("result must have the logits' type ")
           << logits << " (or their shape with bf16 elements), got " << result;
  return verifyClasses(*this, getClasses(), logits);
}

LogicalResult ChunkedHeadLossOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location>, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  inferred.push_back(RankedTensorType::get({}, Float32Type::get(ctx)));
  inferred.push_back(adaptor.getInput().getType());
  inferred.push_back(adaptor.getWeight().getType());
  return success();
}

LogicalResult ChunkedHeadLossOp::verify() {
  return verifyHeadLoss(*this, getInput().getType(), getWeight().getType(),
                        getTargets().getType(), getInputGrad().getType(),
                        getWeightGrad().getType(), getTransposeB(),
                        getClasses(), getRows());
}

LogicalResult AdamWOp::verify() {
  Type et = getParam().getType().getElementType();
  if (getLr().getType() != et)
    return emitOpError("scalars must have the parameter's element type ") << et;
  if (getElementTypeOrSelf(getGradScale().getType()) != et)
    return emitOpError("grad_scale must be the parameter's element type ")
           << et << " or a 0-d tensor of it, got " << getGradScale().getType();
  return success();
}
