//===- LMCCollectiveOps.cpp - Collective ops ------------------------------===//
//
// Verifiers and result type inference of the ops in LMCCollectiveOps.td.
// The rules checked here are the **Constraints** of their descriptions.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::lmc;
using mlir::lmc::detail::verifyAxes;
using mlir::lmc::detail::verifyAxesInMeshOrder;

#include "lmc/Dialect/LMC/IR/LMCCollectiveInterface.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

FailureOr<MeshAttr> mlir::lmc::detail::verifyAxes(Operation *op,
                                                  ArrayAttr axes) {
  if (axes.empty()) {
    op->emitOpError("must name at least one mesh axis");
    return failure();
  }
  MeshAttr mesh = getMeshInScope(op);
  if (!mesh) {
    op->emitOpError("has no mesh in scope: an enclosing lmc.model or module "
                    "needs an 'lmc.mesh' attribute");
    return failure();
  }
  llvm::StringSet<> seen;
  for (StringAttr axis : axes.getAsRange<StringAttr>()) {
    if (!mesh.getAxisIndex(axis.getValue())) {
      op->emitOpError("mesh axis '")
          << axis.getValue() << "' is not in the mesh " << mesh;
      return failure();
    }
    if (!seen.insert(axis.getValue()).second) {
      op->emitOpError("mesh axis '") << axis.getValue() << "' is listed twice";
      return failure();
    }
  }
  return mesh;
}

LogicalResult mlir::lmc::detail::verifyAxesInMeshOrder(Operation *op,
                                                       ArrayAttr axes,
                                                       MeshAttr mesh) {
  std::optional<unsigned> previous;
  for (StringAttr axis : axes.getAsRange<StringAttr>()) {
    unsigned index = *mesh.getAxisIndex(axis.getValue());
    if (previous && index < *previous)
      return op->emitOpError("axes must be listed in mesh order (the runtime "
                             "numbers the ranks of a group row-major over "
                             "the mesh's axes), got ")
             << axes << " on " << mesh;
    previous = index;
  }
  return success();
}

/// Checks an all_gather (`gather`) or a reduce_scatter of `input` over `axes`
/// along `dim` whose result is `result`. The input of a gather and the result
/// of a scatter are the local pieces of the sharding {axes: shard(dim)}, so
/// the expected shapes are that sharding's global and local shapes.
static LogicalResult verifyResizingCollective(Operation *op,
                                              RankedTensorType input,
                                              RankedTensorType result,
                                              ArrayAttr axes, int64_t dim,
                                              bool gather) {
  FailureOr<MeshAttr> mesh = verifyAxes(op, axes);
  if (failed(mesh))
    return failure();
  int64_t rank = input.getRank();
  if (dim < 0 || dim >= rank)
    return op->emitOpError("dim ")
           << dim << " is out of range for rank " << rank;
  SmallVector<StringAttr> names(axes.getAsRange<StringAttr>());
  SmallVector<Placement> placements(names.size(), Placement::shard(dim));
  auto sharding = ShardingAttr::get(op->getContext(), names, placements);
  std::string why;
  FailureOr<SmallVector<int64_t>> shape =
      gather ? sharding.getGlobalShape(input.getShape(), *mesh, &why)
             : sharding.getLocalShape(input.getShape(), *mesh, &why);
  if (failed(shape))
    return op->emitOpError(why);
  auto expected = RankedTensorType::get(*shape, input.getElementType(),
                                        input.getEncoding());
  if (result != expected)
    return op->emitOpError("result must be ")
           << expected << " (dimension " << dim
           << (gather ? " multiplied by " : " divided by ")
           << mesh->getGroupSize(axes) << ", the number of ranks in a group), "
           << "got " << result;
  return success();
}

/// Checks that every result of an asynchronous collective is waited for.
static LogicalResult verifyWaitedFor(Operation *op) {
  for (OpResult pending : op->getResults()) {
    if (!pending.hasOneUse())
      return op->emitOpError("result #")
             << pending.getResultNumber()
             << " must be used exactly once, by an lmc.wait; it has "
             << llvm::range_size(pending.getUses()) << " uses";
    Operation *user = *pending.getUsers().begin();
    if (!isa<WaitOp>(user) || user->getBlock() != op->getBlock())
      return op->emitOpError("result #")
             << pending.getResultNumber()
             << " must be used by an lmc.wait in the same block, not by "
             << user->getName();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Blocking collectives
//===----------------------------------------------------------------------===//

LogicalResult AllReduceOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location>,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  llvm::append_range(inferred, adaptor.getInputs().getTypes());
  return success();
}

LogicalResult AllReduceOp::verify() {
  if (getInputs().empty())
    return emitOpError("expects at least one operand");
  return verifyAxes(*this, getAxes());
}

LogicalResult AllGatherOp::verify() {
  return verifyResizingCollective(*this, getInput().getType(), getType(),
                                  getAxes(), getDim(), /*gather=*/true);
}

LogicalResult ReduceScatterOp::verify() {
  return verifyResizingCollective(*this, getInput().getType(), getType(),
                                  getAxes(), getDim(), /*gather=*/false);
}

//===----------------------------------------------------------------------===//
// Asynchronous collectives
//===----------------------------------------------------------------------===//

LogicalResult
AllReduceStartOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                   Adaptor adaptor,
                                   SmallVectorImpl<Type> &inferred) {
  for (Type type : adaptor.getInputs().getTypes()) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor)
      return emitOptionalError(loc, "operands must be ranked tensors, got ",
                               type);
    inferred.push_back(PendingType::get(tensor));
  }
  return success();
}

LogicalResult AllReduceStartOp::verify() {
  if (getInputs().empty())
    return emitOpError("expects at least one operand");
  if (failed(verifyAxes(*this, getAxes())))
    return failure();
  return verifyWaitedFor(*this);
}

LogicalResult AllGatherStartOp::verify() {
  if (failed(verifyResizingCollective(*this, getInput().getType(),
                                      getType().getValueType(), getAxes(),
                                      getDim(), /*gather=*/true)))
    return failure();
  return verifyWaitedFor(*this);
}

LogicalResult ReduceScatterStartOp::verify() {
  if (failed(verifyResizingCollective(*this, getInput().getType(),
                                      getType().getValueType(), getAxes(),
                                      getDim(), /*gather=*/false)))
    return failure();
  return verifyWaitedFor(*this);
}

LogicalResult WaitOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &inferred) {
  for (Type type : adaptor.getPending().getTypes()) {
    auto pending = dyn_cast<PendingType>(type);
    if (!pending)
      return emitOptionalError(loc, "operands must be !lmc.pending, got ",
                               type);
    inferred.push_back(pending.getValueType());
  }
  return success();
}

LogicalResult WaitOp::verify() {
  if (getPending().empty())
    return emitOpError("expects at least one operand");
  for (auto [i, pending] : llvm::enumerate(getPending())) {
    Operation *def = pending.getDefiningOp();
    auto collective = dyn_cast_or_null<CollectiveOpInterface>(def);
    bool started = isa_and_nonnull<RecvStartOp>(def) ||
                   (collective && collective.isStart() &&
                    isa<PendingType>(pending.getType()));
    if (!started)
      return emitOpError("operand #")
             << i
             << " must be a result of lmc.all_reduce_start, "
                "lmc.all_gather_start or lmc.reduce_scatter_start, or of "
                "lmc.recv_start";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Collectives on buffers
//===----------------------------------------------------------------------===//

/// Checks a collective of `kind` from a buffer of type `input` into one of
/// type `output` over `axes` (along `dim` for a gather or scatter).
static LogicalResult verifyBufferCollective(Operation *op, CollectiveKind kind,
                                            MemRefType input, MemRefType output,
                                            ArrayAttr axes,
                                            std::optional<uint64_t> dim) {
  FailureOr<MeshAttr> mesh = verifyAxes(op, axes);
  if (failed(mesh))
    return failure();
  if (input.getRank() != output.getRank())
    return op->emitOpError("input and output must have the same rank, got ")
           << input.getRank() << " and " << output.getRank();
  if (kind == CollectiveKind::all_reduce) {
    if (dim)
      return op->emitOpError("an all_reduce has no dim");
    for (int64_t d = 0; d < input.getRank(); ++d)
      if (!mlir::lmc::detail::dimsCompatible(input.getDimSize(d),
                                             output.getDimSize(d)))
        return op->emitOpError("output must have the shape of input, got ")
               << output << " for " << input;
    return success();
  }
  if (!dim)
    return op->emitOpError("an ")
           << stringifyCollectiveKind(kind) << " needs a dim";
  int64_t rank = input.getRank();
  if (static_cast<int64_t>(*dim) >= rank)
    return op->emitOpError("dim ")
           << *dim << " is out of range for rank " << rank;
  if (failed(verifyAxesInMeshOrder(op, axes, *mesh)))
    return failure();
  int64_t group = mesh->getGroupSize(axes);
  bool gather = kind == CollectiveKind::all_gather;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t in = input.getDimSize(d), out = output.getDimSize(d);
    if (d != static_cast<int64_t>(*dim) || ShapedType::isDynamic(in)) {
      if (!mlir::lmc::detail::dimsCompatible(in, out))
        return op->emitOpError("output must have the sizes of input except "
                               "along dim, got ")
               << output << " for " << input;
      continue;
    }
    if (!gather && in % group != 0)
      return op->emitOpError("dimension ")
             << d << " of size " << in << " is not divisible by the group size "
             << group;
    int64_t expected = gather ? in * group : in / group;
    if (!mlir::lmc::detail::dimsCompatible(expected, out))
      return op->emitOpError("output dimension ")
             << d << " must be " << expected << " (" << in
             << (gather ? " multiplied by " : " divided by ") << group
             << ", the number of ranks in a group), got " << out;
  }
  return success();
}

LogicalResult BufferCollectiveOp::verify() {
  return verifyBufferCollective(*this, getKind(), getInput().getType(),
                                getOutput().getType(), getAxes(), getDim());
}

ValueRange BufferCollectiveOp::getCollectiveInputs() {
  return getOperation()->getOperands().take_front();
}

ValueRange BufferCollectiveOp::getCollectiveOutputs() {
  return getOperation()->getOperands().drop_front();
}

LogicalResult BufferCollectiveStartOp::verify() {
  if (failed(verifyBufferCollective(*this, getKind(), getInput().getType(),
                                    getOutput().getType(), getAxes(),
                                    getDim())))
    return failure();
  Value handle = getHandle();
  if (!handle.hasOneUse())
    return emitOpError("handle must be used exactly once, by an "
                       "lmc.buffer_wait; it has ")
           << llvm::range_size(handle.getUses()) << " uses";
  Operation *user = *handle.getUsers().begin();
  if (isa<BufferWaitOp>(user) && user->getBlock() == (*this)->getBlock())
    return success();
  // Returned: the transfer outlives the function, whose caller waits for it
  // through another function. Only over buffers the caller owns.
  if (isa<func::ReturnOp>(user) && user->getBlock() == (*this)->getBlock()) {
    for (Value buffer : {getInput(), getOutput()}) {
      auto arg = dyn_cast<BlockArgument>(buffer);
      if (!arg || !arg.getOwner()->isEntryBlock() ||
          !isa<func::FuncOp>(arg.getOwner()->getParentOp()))
        return emitOpError("returns its handle, so its input and output "
                           "must be arguments of the function");
    }
    return success();
  }
  return emitOpError("handle must be used by an lmc.buffer_wait in the "
                     "same block, or returned from the function, not by ")
         << user->getName();
}

ValueRange BufferCollectiveStartOp::getCollectiveInputs() {
  return getOperation()->getOperands().take_front();
}

ValueRange BufferCollectiveStartOp::getCollectiveOutputs() {
  return getOperation()->getOperands().drop_front();
}

LogicalResult BufferWaitOp::verify() {
  if (getHandles().empty())
    return emitOpError("expects at least one handle");
  llvm::SmallPtrSet<Value, 4> seen;
  for (auto [i, handle] : llvm::enumerate(getHandles())) {
    // A handle a function received from its caller (the start returned
    // it from another function).
    auto arg = dyn_cast<BlockArgument>(handle);
    bool received = arg && arg.getOwner()->isEntryBlock() &&
                    isa<func::FuncOp>(arg.getOwner()->getParentOp());
    if (!handle.getDefiningOp<BufferCollectiveStartOp>() &&
        !handle.getDefiningOp<BufferRecvStartOp>() && !received)
      return emitOpError("operand #")
             << i
             << " must be a result of lmc.buffer_collective_start or an "
                "argument of the function, or of lmc.buffer_recv_start";
    if (!seen.insert(handle).second)
      return emitOpError("operand #") << i << " is listed twice";
  }
  return success();
}
