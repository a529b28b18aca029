//===- LMCPointToPointOps.cpp - Point-to-point ops ------------------------===//
//
// Verifiers of the ops in LMCPointToPointOps.td. The rules checked here are
// the **Constraints** of their descriptions.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::lmc;
using mlir::lmc::detail::verifyAxes;
using mlir::lmc::detail::verifyAxesInMeshOrder;

/// Checks the group (`axes`: axes of the mesh in scope, in mesh order), the
/// peer (an index in the group) and the tag (>= 0) of a point-to-point op.
static LogicalResult verifyPeer(Operation *op, ArrayAttr axes, int64_t peer,
                                int64_t tag) {
  FailureOr<MeshAttr> mesh = verifyAxes(op, axes);
  if (failed(mesh))
    return failure();
  // Listed in mesh order, `peer` means the same here as in the runtime.
  if (failed(verifyAxesInMeshOrder(op, axes, *mesh)))
    return failure();
  int64_t group = mesh->getGroupSize(axes);
  if (peer < 0 || peer >= group)
    return op->emitOpError("peer ")
           << peer << " is not a rank of the group: " << axes << " on "
           << *mesh << " has " << group << " ranks (0 to " << group - 1 << ")";
  if (tag < 0)
    return op->emitOpError("tag must be non-negative, got ") << tag;
  return success();
}

/// Checks that a received tensor or buffer type holds f32 or i64.
static LogicalResult verifyElementType(Operation *op, ShapedType type) {
  Type element = type.getElementType();
  if (!element.isF32() && !element.isInteger(64))
    return op->emitOpError("moves f32 or i64 elements only, got ") << type;
  return success();
}

LogicalResult SendOp::verify() {
  return verifyPeer(*this, getAxes(), getPeer(), getTag());
}

LogicalResult RecvStartOp::verify() {
  RankedTensorType type = getValueType();
  if (failed(verifyElementType(*this, type)))
    return failure();
  if (static_cast<int64_t>(getDynamicSizes().size()) !=
      static_cast<int64_t>(type.getNumDynamicDims()))
    return emitOpError("needs one size operand per dynamic dimension of ")
           << type << " (" << type.getNumDynamicDims() << "), got "
           << getDynamicSizes().size();
  if (failed(verifyPeer(*this, getAxes(), getPeer(), getTag())))
    return failure();
  Value pending = getPending();
  if (!pending.hasOneUse())
    return emitOpError("result must be used exactly once, by an lmc.wait; it "
                       "has ")
           << llvm::range_size(pending.getUses()) << " uses";
  Operation *user = *pending.getUsers().begin();
  if (!isa<WaitOp>(user) || user->getBlock() != (*this)->getBlock())
    return emitOpError("result must be used by an lmc.wait in the same block, "
                       "not by ")
           << user->getName();
  return success();
}

LogicalResult BufferSendOp::verify() {
  return verifyPeer(*this, getAxes(), getPeer(), getTag());
}

LogicalResult BufferRecvStartOp::verify() {
  if (failed(verifyPeer(*this, getAxes(), getPeer(), getTag())))
    return failure();
  Value handle = getHandle();
  if (!handle.hasOneUse())
    return emitOpError("handle must be used exactly once, by an "
                       "lmc.buffer_wait; it has ")
           << llvm::range_size(handle.getUses()) << " uses";
  Operation *user = *handle.getUsers().begin();
  if (!isa<BufferWaitOp>(user) || user->getBlock() != (*this)->getBlock())
    return emitOpError("handle must be used by an lmc.buffer_wait in the same "
                       "block, not by ")
           << user->getName();
  return success();
}
