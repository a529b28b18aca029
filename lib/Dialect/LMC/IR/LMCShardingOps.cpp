//===- LMCShardingOps.cpp - Ops of partitioned programs -------------------===//
//
// Verifiers and result type inference of the ops in LMCShardingOps.td. The
// rules checked here are the **Constraints** of their descriptions.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

using namespace mlir;
using namespace mlir::lmc;
using namespace mlir::lmc::detail;

//===----------------------------------------------------------------------===//
// AxisIndexOp
//===----------------------------------------------------------------------===//

LogicalResult AxisIndexOp::verify() {
  MeshAttr mesh = getMeshInScope(*this);
  if (mesh && !mesh.getAxisIndex(getAxis()))
    return emitOpError("mesh axis '")
           << getAxis() << "' is not in the mesh " << mesh;
  return success();
}

//===----------------------------------------------------------------------===//
// Vocabulary-parallel cross-entropy
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyStatsOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  RankedTensorType logits = rankedOrError(loc, adaptor.getLogits(), "logits");
  RankedTensorType targets =
      rankedOrError(loc, adaptor.getTargets(), "targets");
  if (!logits || !targets)
    return failure();
  if (failed(verifyLogitsAndTargets(loc, logits, targets)))
    return failure();
  SmallVector<int64_t> shape(logits.getShape());
  shape.back() = 3;
  inferred.push_back(RankedTensorType::get(shape, logits.getElementType()));
  return success();
}

LogicalResult CrossEntropyCombineOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  RankedTensorType stats = rankedOrError(loc, adaptor.getStats(), "stats");
  if (!stats)
    return failure();
  int64_t rank = stats.getRank();
  if (rank < 2)
    return emitOptionalError(loc, "stats must have rank at least 2, got rank ",
                             rank);
  int64_t last = stats.getDimSize(rank - 1);
  if (ShapedType::isDynamic(last) || last <= 0 || last % 3 != 0)
    return emitOptionalError(loc,
                             "the last dimension of stats must be a static, "
                             "positive multiple of 3 (a triple per block), "
                             "got ",
                             dimStr(last));
  Type et = stats.getElementType();
  inferred.push_back(RankedTensorType::get({}, et));
  inferred.push_back(RankedTensorType::get(stats.getShape().drop_back(), et));
  return success();
}

LogicalResult CrossEntropyStatsOp::verify() {
  // The block's width says nothing about the global vocabulary.
  return verifyClasses(*this, getClasses(), nullptr);
}

LogicalResult CrossEntropyShardGradOp::verify() {
  RankedTensorType logits = getLogits().getType();
  if (failed(verifyLogitsAndTargets(getLoc(), logits, getTargets().getType())))
    return failure();
  Type et = logits.getElementType();
  if (getGrad().getType().getElementType() != et)
    return emitOpError("grad must have the logits' element type ") << et;
  RankedTensorType lse = getLse().getType();
  int64_t rows = logits.getRank() - 1;
  bool matches = lse.getRank() == rows && lse.getElementType() == et;
  for (int64_t i = 0; matches && i < rows; ++i)
    matches = dimsCompatible(lse.getDimSize(i), logits.getDimSize(i));
  if (!matches)
    return emitOpError("lse ")
           << lse << " must have the leading dimensions and the element type "
           << "of the logits " << logits;
  return verifyClasses(*this, getClasses(), nullptr);
}
