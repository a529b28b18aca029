//===- LMCBufferOps.cpp - Runtime kernels on buffers ----------------------===//
//
// Verifiers of the ops in LMCBufferOps.td. The rules checked here are the
// **Constraints** of their descriptions.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

using namespace mlir;
using namespace mlir::lmc;
using mlir::lmc::detail::dimsCompatible;
using mlir::lmc::detail::dimStr;

/// Checks the operands of an attention kernel on buffers: `tensors`
/// ([B, T, C], one shape) split into `heads` heads, and `lse` [B, heads, T].
static LogicalResult verifyAttentionBuffers(Operation *op, ValueRange tensors,
                                            Value lse, int64_t heads) {
  auto query = cast<MemRefType>(tensors.front().getType());
  for (Value v : tensors.drop_front()) {
    auto type = cast<MemRefType>(v.getType());
    for (int64_t d = 0; d < 3; ++d)
      if (!dimsCompatible(type.getDimSize(d), query.getDimSize(d)))
        return op->emitOpError("operands and outputs must have the query's "
                               "shape, got ")
               << type << " for " << query;
  }
  int64_t channels = query.getDimSize(2);
  if (ShapedType::isDynamic(channels))
    return op->emitOpError("the channel dimension must be static");
  if (heads < 1 || channels % heads != 0)
    return op->emitOpError("heads (")
           << heads << ") must be at least 1 and divide the channels ("
           << channels << ")";
  auto lseType = cast<MemRefType>(lse.getType());
  if (!dimsCompatible(lseType.getDimSize(0), query.getDimSize(0)) ||
      lseType.getDimSize(1) != heads ||
      !dimsCompatible(lseType.getDimSize(2), query.getDimSize(1)))
    return op->emitOpError("lse must be [B, heads, T] = [")
           << dimStr(query.getDimSize(0)) << ", " << heads << ", "
           << dimStr(query.getDimSize(1)) << "], got " << lseType;
  return success();
}

LogicalResult BufferAttentionOp::verify() {
  return verifyAttentionBuffers(*this,
                                {getQuery(), getKey(), getValue(), getResult()},
                                getLse(), getHeads());
}

LogicalResult BufferAttentionGradOp::verify() {
  return verifyAttentionBuffers(*this,
                                {getQuery(), getKey(), getValue(), getOutput(),
                                 getOutputGrad(), getQueryGrad(), getKeyGrad(),
                                 getValueGrad()},
                                getLse(), getHeads());
}
