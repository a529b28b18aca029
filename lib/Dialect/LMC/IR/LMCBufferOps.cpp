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
using mlir::lmc::detail::verifyKvHeads;

/// Checks the operands of an attention kernel on buffers: `tensors`
/// ([B, T, C], one shape) split into `heads` heads, `kvTensors` ([B, T, Ckv],
/// one shape) into `kvHeads` heads of the same size, and `lse`
/// [B, heads, T].
static LogicalResult verifyAttentionBuffers(Operation *op, ValueRange tensors,
                                            ValueRange kvTensors, Value lse,
                                            int64_t heads,
                                            std::optional<uint64_t> kvHeads) {
  auto query = cast<MemRefType>(tensors.front().getType());
  auto key = cast<MemRefType>(kvTensors.front().getType());
  // Batch and sequence of the query everywhere; channels of the query or,
  // for keys and values and their gradients, of the key.
  for (auto [group, first] :
       {std::make_pair(tensors, query), std::make_pair(kvTensors, key)})
    for (Value v : group) {
      auto type = cast<MemRefType>(v.getType());
      if (!dimsCompatible(type.getDimSize(0), query.getDimSize(0)) ||
          !dimsCompatible(type.getDimSize(1), query.getDimSize(1)) ||
          (first == query &&
           !dimsCompatible(type.getDimSize(2), query.getDimSize(2))))
        return op->emitOpError("operands and outputs must have the query's "
                               "shape, got ")
               << type << " for " << query;
      if (!dimsCompatible(type.getDimSize(2), first.getDimSize(2)))
        return op->emitOpError("keys, values and their gradients must have "
                               "one shape, got ")
               << type << " for " << first;
    }
  int64_t channels = query.getDimSize(2);
  if (ShapedType::isDynamic(channels))
    return op->emitOpError("the channel dimension must be static");
  if (heads < 1 || channels % heads != 0)
    return op->emitOpError("heads (")
           << heads << ") must be at least 1 and divide the channels ("
           << channels << ")";
  if (failed(verifyKvHeads(op, query, key, heads, kvHeads)))
    return failure();
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
  return verifyAttentionBuffers(*this, {getQuery(), getResult()},
                                {getKey(), getValue()}, getLse(), getHeads(),
                                getKvHeads());
}

LogicalResult BufferAttentionGradOp::verify() {
  return verifyAttentionBuffers(
      *this, {getQuery(), getOutput(), getOutputGrad(), getQueryGrad()},
      {getKey(), getValue(), getKeyGrad(), getValueGrad()}, getLse(),
      getHeads(), getKvHeads());
}

LogicalResult BufferHeadLossOp::verify() {
  return mlir::lmc::detail::verifyHeadLoss(
      *this, getInput().getType(), getWeight().getType(),
      getTargets().getType(), getInputGrad().getType(),
      getWeightGrad().getType(), getTransposeB(), getClasses(), getRows());
}
