//===- BufferizableOpInterfaceImpl.cpp - Bufferization of collectives -----===//
//
// The ops that the runtime implements bufferize to their forms on buffers
// (lmc.buffer_collective, lmc.buffer_collective_start, lmc.buffer_wait,
// lmc.buffer_send, lmc.buffer_recv_start, lmc.buffer_attention,
// lmc.buffer_attention_grad, lmc.buffer_head_loss), which
// convert-lmc-to-runtime makes calls into the runtime.
//
// lmc.all_reduce bufferizes to one collective per op: the operands (a bucket
// of gradients, say) are copied into one contiguous buffer, which is reduced
// in place, and the results are views of that buffer. One message per
// bucket, whatever the number of tensors in it. lmc.all_reduce_start does
// the same with the start form and lmc.wait waits for it.
//
// lmc.send becomes lmc.buffer_send of the operand's buffer as it is;
// lmc.recv_start, which has no tensor for bufferization to visit, is
// bufferized by its lmc.wait: a new buffer, received into by
// lmc.buffer_recv_start where the recv_start was, is the wait's result.
//
// lmc.all_gather and lmc.reduce_scatter go from the operand's buffer (any
// layout) into a new buffer for the result. Their asynchronous forms copy
// the operand into one buffer with room for the result after it, so that
// the operand stays alive and unchanged until the wait, while the runtime
// may still read it.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/Transforms/BufferizableOpInterfaceImpl.h"
#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Support/FlatViews.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::lmc;
using namespace mlir::bufferization;

namespace {

FailureOr<std::pair<Value, SmallVector<Value>>>
packBucket(RewriterBase &rewriter, Operation *op, ValueRange inputs,
           const BufferizationOptions &options, BufferizationState &state);

/// Packs a bucket (packBucket) and all-reduces the packed buffer in place
/// over the group of `axes` (a start form when `start`); returns the start's
/// handle (or null) and the views.
FailureOr<std::pair<Value, SmallVector<Value>>>
reduceBucket(RewriterBase &rewriter, Operation *op, ValueRange inputs,
             ArrayAttr axes, bool start, const BufferizationOptions &options,
             BufferizationState &state) {
  auto packed = packBucket(rewriter, op, inputs, options, state);
  if (failed(packed))
    return failure();
  Location loc = op->getLoc();
  auto kind = CollectiveKindAttr::get(rewriter.getContext(),
                                      CollectiveKind::all_reduce);
  Value flat = packed->first, handle;
  if (start)
    handle =
        BufferCollectiveStartOp::create(rewriter, loc, rewriter.getI64Type(),
                                        kind, flat, flat, axes, IntegerAttr());
  else
    BufferCollectiveOp::create(rewriter, loc, kind, flat, flat, axes,
                               IntegerAttr());
  return std::make_pair(handle, std::move(packed->second));
}

/// `a * b` for index sizes, folded when both are constants.
OpFoldResult mulSizes(OpBuilder &b, Location loc, OpFoldResult x,
                      OpFoldResult y) {
  std::optional<int64_t> cx = getConstantIntValue(x),
                         cy = getConstantIntValue(y);
  if (cx && cy)
    return b.getIndexAttr(*cx * *cy);
  return arith::MulIOp::create(b, loc,
                               getValueOrCreateConstantIndexOp(b, loc, x),
                               getValueOrCreateConstantIndexOp(b, loc, y))
      .getResult();
}

/// `a + b` for index sizes, folded when both are constants.
OpFoldResult addSizes(OpBuilder &b, Location loc, OpFoldResult x,
                      OpFoldResult y) {
  std::optional<int64_t> cx = getConstantIntValue(x),
                         cy = getConstantIntValue(y);
  if (cx && cy)
    return b.getIndexAttr(*cx + *cy);
  return arith::AddIOp::create(b, loc,
                               getValueOrCreateConstantIndexOp(b, loc, x),
                               getValueOrCreateConstantIndexOp(b, loc, y))
      .getResult();
}

/// `sizes` as a row-major view of the 1-d memref `flat` starting at element
/// `offset`. A static shape at a static offset is viewOfFlat's subview and
/// expand_shape; otherwise a reinterpret_cast (expand_shape with several
/// dynamic sizes in a group crashes upstream's expand-strided-metadata,
/// test/upstream/expand-strided-metadata-two-dynamic.mlir).
Value viewOfFlatSizes(OpBuilder &b, Location loc, Value flat,
                      OpFoldResult offset, ArrayRef<OpFoldResult> sizes) {
  std::optional<int64_t> staticOffset = getConstantIntValue(offset);
  SmallVector<int64_t> shape;
  for (OpFoldResult size : sizes)
    shape.push_back(getConstantIntValue(size).value_or(ShapedType::kDynamic));
  if (staticOffset && !ShapedType::isDynamicShape(shape))
    return viewOfFlat(b, loc, flat, *staticOffset, shape);
  int64_t rank = sizes.size();
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  for (int64_t d = rank - 2; d >= 0; --d)
    strides[d] = mulSizes(b, loc, strides[d + 1], sizes[d + 1]);
  SmallVector<int64_t> staticStrides;
  for (OpFoldResult stride : strides)
    staticStrides.push_back(
        getConstantIntValue(stride).value_or(ShapedType::kDynamic));
  auto layout = StridedLayoutAttr::get(
      b.getContext(), staticOffset.value_or(ShapedType::kDynamic),
      staticStrides);
  auto type = MemRefType::get(
      shape, cast<MemRefType>(flat.getType()).getElementType(), layout);
  return memref::ReinterpretCastOp::create(b, loc, type, flat, offset, sizes,
                                           strides);
}

/// The sizes of the result of a gather (`gather`) or a scatter of an
/// operand of `sizes` along `dim` over a group of `groupSize` ranks.
SmallVector<OpFoldResult> resizedSizes(OpBuilder &b, Location loc,
                                       SmallVector<OpFoldResult> sizes,
                                       int64_t dim, int64_t groupSize,
                                       bool gather) {
  if (gather) {
    sizes[dim] = mulSizes(b, loc, sizes[dim], b.getIndexAttr(groupSize));
  } else if (std::optional<int64_t> size = getConstantIntValue(sizes[dim])) {
    sizes[dim] = b.getIndexAttr(*size / groupSize);
  } else {
    sizes[dim] =
        arith::DivUIOp::create(
            b, loc, getValueOrCreateConstantIndexOp(b, loc, sizes[dim]),
            arith::ConstantIndexOp::create(b, loc, groupSize))
            .getResult();
  }
  return sizes;
}

/// The product of `sizes`.
OpFoldResult numElements(OpBuilder &b, Location loc,
                         ArrayRef<OpFoldResult> sizes) {
  OpFoldResult n = b.getIndexAttr(1);
  for (OpFoldResult size : sizes)
    n = mulSizes(b, loc, n, size);
  return n;
}

/// A new 64-byte-aligned float32 buffer of `n` elements.
Value allocFlat(OpBuilder &b, Location loc, OpFoldResult n) {
  Type f32 = b.getF32Type();
  if (std::optional<int64_t> size = getConstantIntValue(n))
    return memref::AllocOp::create(b, loc, MemRefType::get({*size}, f32),
                                   b.getI64IntegerAttr(64));
  return memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic}, f32),
      ValueRange{getValueOrCreateConstantIndexOp(b, loc, n)}, ValueRange{},
      b.getI64IntegerAttr(64));
}

/// The operands of a bucket copied into one contiguous float32 buffer:
/// returns the buffer and, per operand, its view of it. Sizes may be
/// dynamic (activations all-reduced over tp).
FailureOr<std::pair<Value, SmallVector<Value>>>
packBucket(RewriterBase &rewriter, Operation *op, ValueRange inputs,
           const BufferizationOptions &options, BufferizationState &state) {
  Location loc = op->getLoc();
  Type f32 = rewriter.getF32Type();
  SmallVector<Value> buffers;
  SmallVector<SmallVector<OpFoldResult>> sizes;
  SmallVector<OpFoldResult> offsets;
  OpFoldResult total = rewriter.getIndexAttr(0);
  for (Value input : inputs) {
    auto type = cast<RankedTensorType>(input.getType());
    if (type.getElementType() != f32)
      return op->emitOpError("bufferizes to the runtime only for float32 "
                             "tensors");
    FailureOr<Value> buffer = getBuffer(rewriter, input, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
    sizes.push_back(memref::getMixedSizes(rewriter, loc, *buffer));
    offsets.push_back(total);
    OpFoldResult n = numElements(rewriter, loc, sizes.back());
    std::optional<int64_t> ct = getConstantIntValue(total),
                           cn = getConstantIntValue(n);
    if (ct && cn)
      total = rewriter.getIndexAttr(*ct + *cn);
    else
      total = arith::AddIOp::create(
                  rewriter, loc,
                  getValueOrCreateConstantIndexOp(rewriter, loc, total),
                  getValueOrCreateConstantIndexOp(rewriter, loc, n))
                  .getResult();
  }
  Value flat = allocFlat(rewriter, loc, total);
  SmallVector<Value> views;
  for (auto [buffer, size, offset] : llvm::zip(buffers, sizes, offsets)) {
    Value view = viewOfFlatSizes(rewriter, loc, flat, offset, size);
    memref::CopyOp::create(rewriter, loc, buffer, view);
    views.push_back(view);
  }
  return std::make_pair(flat, views);
}


/// What the models of the gathers and scatters need to know of their op.
struct ResizingCollective {
  Value input;
  ArrayAttr axes;
  int64_t dim;
  bool gather;
};

ResizingCollective describe(Operation *op) {
  if (auto o = dyn_cast<AllGatherOp>(op))
    return {o.getInput(), o.getAxes(), static_cast<int64_t>(o.getDim()), true};
  if (auto o = dyn_cast<ReduceScatterOp>(op))
    return {o.getInput(), o.getAxes(), static_cast<int64_t>(o.getDim()), false};
  if (auto o = dyn_cast<AllGatherStartOp>(op))
    return {o.getInput(), o.getAxes(), static_cast<int64_t>(o.getDim()), true};
  auto o = cast<ReduceScatterStartOp>(op);
  return {o.getInput(), o.getAxes(), static_cast<int64_t>(o.getDim()), false};
}

/// The gather or scatter of `op` on buffers (blocking, or the start of the
/// nonblocking form when `start`). Returns the buffer that holds
/// the result and, when `start`, the handle.
FailureOr<std::pair<Value, Value>>
resizeOverGroup(RewriterBase &rewriter, Operation *op, bool start,
                const BufferizationOptions &options,
                BufferizationState &state) {
  ResizingCollective c = describe(op);
  auto inputType = cast<RankedTensorType>(c.input.getType());
  if (!inputType.getElementType().isF32())
    return op->emitOpError("bufferizes to the runtime only for float32 "
                           "tensors");
  // The runtime numbers the ranks of a group row-major over the mesh's
  // axes: the order of the gathered blocks.
  MeshAttr mesh = getMeshInScope(op);
  if (!mesh)
    return op->emitOpError("has no mesh in scope");
  std::optional<unsigned> previous;
  for (auto axis : c.axes.getAsRange<StringAttr>()) {
    std::optional<unsigned> index = mesh.getAxisIndex(axis.getValue());
    if (!index || (previous && *index < *previous))
      return op->emitOpError("gathers or scatters over mesh axes out of mesh "
                             "order: the runtime numbers the ranks of a group "
                             "row-major over the mesh's axes");
    previous = index;
  }
  int64_t groupSize = mesh.getGroupSize(c.axes);
  FailureOr<Value> buffer = getBuffer(rewriter, c.input, options, state);
  if (failed(buffer))
    return failure();
  Location loc = op->getLoc();
  SmallVector<OpFoldResult> inSizes =
      memref::getMixedSizes(rewriter, loc, *buffer);
  SmallVector<OpFoldResult> outSizes =
      resizedSizes(rewriter, loc, inSizes, c.dim, groupSize, c.gather);
  Value in, out;
  if (!start) {
    // The operand's buffer as it is; the result in a new buffer. (A
    // dynamic size that a scatter's group does not divide is reported by
    // the runtime.)
    in = *buffer;
    SmallVector<int64_t> shape;
    SmallVector<Value> dynamicSizes;
    for (OpFoldResult size : outSizes) {
      std::optional<int64_t> value = getConstantIntValue(size);
      shape.push_back(value.value_or(ShapedType::kDynamic));
      if (!value)
        dynamicSizes.push_back(cast<Value>(size));
    }
    out = memref::AllocOp::create(
        rewriter, loc, MemRefType::get(shape, rewriter.getF32Type()),
        dynamicSizes, ValueRange{}, rewriter.getI64IntegerAttr(64));
  } else {
    // One buffer: the result, then a copy of the operand, which lives as
    // long as the result's view does (past the wait).
    OpFoldResult nOut = numElements(rewriter, loc, outSizes);
    OpFoldResult nIn = numElements(rewriter, loc, inSizes);
    Value flat = allocFlat(rewriter, loc, addSizes(rewriter, loc, nOut, nIn));
    out = viewOfFlatSizes(rewriter, loc, flat, rewriter.getIndexAttr(0),
                          outSizes);
    in = viewOfFlatSizes(rewriter, loc, flat, nOut, inSizes);
    memref::CopyOp::create(rewriter, loc, *buffer, in);
  }

  auto kind = CollectiveKindAttr::get(
      rewriter.getContext(),
      c.gather ? CollectiveKind::all_gather : CollectiveKind::reduce_scatter);
  IntegerAttr dim = rewriter.getI64IntegerAttr(c.dim);
  Value handle;
  if (start)
    handle = BufferCollectiveStartOp::create(
        rewriter, loc, rewriter.getI64Type(), kind, in, out, c.axes, dim);
  else
    BufferCollectiveOp::create(rewriter, loc, kind, in, out, c.axes, dim);
  return std::make_pair(out, handle);
}

/// Shared analysis answers: operands are read, results are new buffers.
template <typename Derived, typename OpTy>
struct ReadsOperandsModel
    : public BufferizableOpInterface::ExternalModel<Derived, OpTy> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &,
                               const AnalysisState &) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *, OpOperand &,
                                      const AnalysisState &) const {
    return {};
  }
  bool bufferizesToAllocation(Operation *, Value) const { return true; }
};

/// lmc.all_reduce: pack, reduce in place, results are views.
struct AllReduceOpInterface
    : public ReadsOperandsModel<AllReduceOpInterface, AllReduceOp> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto reduce = cast<AllReduceOp>(op);
    auto reduced =
        reduceBucket(rewriter, op, reduce.getInputs(), reduce.getAxes(),
                     /*start=*/false, options, state);
    if (failed(reduced))
      return failure();
    replaceOpWithBufferizedValues(rewriter, op, reduced->second);
    return success();
  }
};

/// lmc.all_reduce_start: pack and start the in-place reduction; each
/// pending result becomes (handle, view) in an unrealized cast that
/// lmc.wait takes apart.
struct AllReduceStartOpInterface
    : public ReadsOperandsModel<AllReduceStartOpInterface, AllReduceStartOp> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto start = cast<AllReduceStartOp>(op);
    auto started =
        reduceBucket(rewriter, op, start.getInputs(), start.getAxes(),
                     /*start=*/true, options, state);
    if (failed(started))
      return failure();
    Location loc = op->getLoc();
    Value handle = started->first;
    SmallVector<Value> pending;
    for (auto [result, view] : llvm::zip(start.getPending(), started->second))
      pending.push_back(
          UnrealizedConversionCastOp::create(rewriter, loc, result.getType(),
                                             ValueRange{handle, view})
              .getResult(0));
    rewriter.replaceOp(op, pending);
    return success();
  }
};

/// lmc.all_gather and lmc.reduce_scatter: one runtime call from the
/// operand's buffer into a new one.
template <typename OpTy>
struct ResizingCollectiveOpInterface
    : public ReadsOperandsModel<ResizingCollectiveOpInterface<OpTy>, OpTy> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto done = resizeOverGroup(rewriter, op, /*start=*/false, options, state);
    if (failed(done))
      return failure();
    replaceOpWithBufferizedValues(rewriter, op, done->first);
    return success();
  }
};

/// lmc.all_gather_start and lmc.reduce_scatter_start: the pending result
/// becomes (handle, result view) in an unrealized cast that lmc.wait takes
/// apart.
template <typename OpTy>
struct ResizingCollectiveStartOpInterface
    : public ReadsOperandsModel<ResizingCollectiveStartOpInterface<OpTy>,
                                OpTy> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto started =
        resizeOverGroup(rewriter, op, /*start=*/true, options, state);
    if (failed(started))
      return failure();
    Value pending = UnrealizedConversionCastOp::create(
                        rewriter, op->getLoc(), op->getResult(0).getType(),
                        ValueRange{started->second, started->first})
                        .getResult(0);
    rewriter.replaceOp(op, pending);
    return success();
  }
};

/// lmc.send: lmc.buffer_send of the operand's buffer as it is (the runtime
/// reads any layout, and copies the data before it returns).
struct SendOpInterface : public ReadsOperandsModel<SendOpInterface, SendOp> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto send = cast<SendOp>(op);
    FailureOr<Value> buffer =
        getBuffer(rewriter, send.getInput(), options, state);
    if (failed(buffer))
      return failure();
    BufferSendOp::create(rewriter, op->getLoc(), *buffer, send.getPeerAttr(),
                         send.getAxesAttr(), send.getTagAttr());
    rewriter.eraseOp(op);
    return success();
  }
};

/// lmc.recv_start, which has no tensor operand or result for bufferization
/// to visit: bufferized by its lmc.wait (its one user, in the same block).
/// A new 64-byte-aligned buffer of the received type and an
/// lmc.buffer_recv_start into it, where the recv_start was; returns the
/// handle and the buffer.
std::pair<Value, Value> bufferizeRecvStart(RewriterBase &rewriter,
                                           RecvStartOp recv) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(recv);
  Location loc = recv.getLoc();
  RankedTensorType type = recv.getValueType();
  Value buffer = memref::AllocOp::create(
      rewriter, loc, MemRefType::get(type.getShape(), type.getElementType()),
      recv.getDynamicSizes(), ValueRange{}, rewriter.getI64IntegerAttr(64));
  Value handle = BufferRecvStartOp::create(
      rewriter, loc, rewriter.getI64Type(), buffer, recv.getPeerAttr(),
      recv.getAxesAttr(), recv.getTagAttr());
  return {handle, buffer};
}

/// lmc.wait: waits for each distinct handle once (in operand order); the
/// results are the views the start op packed into, or the buffers the
/// receives write.
struct WaitOpInterface
    : public BufferizableOpInterface::ExternalModel<WaitOpInterface, WaitOp> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return false;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &,
                               const AnalysisState &) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *, OpOperand &,
                                      const AnalysisState &) const {
    return {};
  }
  bool bufferizesToAllocation(Operation *, Value) const { return true; }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &,
                          BufferizationState &) const {
    auto wait = cast<WaitOp>(op);
    SmallVector<Value> views, handles;
    SmallVector<Operation *> casts, receives;
    for (Value pending : wait.getPending()) {
      if (auto recv = pending.getDefiningOp<RecvStartOp>()) {
        auto [handle, buffer] = bufferizeRecvStart(rewriter, recv);
        handles.push_back(handle);
        views.push_back(buffer);
        receives.push_back(recv);
        continue;
      }
      auto cast = pending.getDefiningOp<UnrealizedConversionCastOp>();
      if (!cast || cast.getNumOperands() != 2)
        return op->emitOpError("waits on a collective that did not bufferize "
                               "to lmc.buffer_collective_start");
      if (!llvm::is_contained(handles, cast.getOperand(0)))
        handles.push_back(cast.getOperand(0));
      views.push_back(cast.getOperand(1));
      casts.push_back(cast);
    }
    BufferWaitOp::create(rewriter, op->getLoc(), handles);
    replaceOpWithBufferizedValues(rewriter, op, views);
    for (Operation *cast : casts)
      if (cast->use_empty())
        rewriter.eraseOp(cast);
    for (Operation *recv : receives)
      rewriter.eraseOp(recv);
    return success();
  }
};

/// The buffers of all of `op`'s operands, in order.
FailureOr<SmallVector<Value>>
getOperandBuffers(RewriterBase &rewriter, Operation *op,
                  const BufferizationOptions &options,
                  BufferizationState &state) {
  SmallVector<Value> buffers;
  for (Value operand : op->getOperands()) {
    FailureOr<Value> buffer = getBuffer(rewriter, operand, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
  }
  return buffers;
}

/// A new buffer of the shape and element type of `like`, whose dynamic
/// dimension i has the size of dimension `dynamicFrom[i].second` of
/// `dynamicFrom[i].first`.
Value allocLike(RewriterBase &rewriter, Location loc, RankedTensorType like,
                ArrayRef<std::pair<Value, int64_t>> dynamicFrom) {
  SmallVector<Value> dynamicSizes;
  for (auto [i, size] : llvm::enumerate(like.getShape()))
    if (ShapedType::isDynamic(size))
      dynamicSizes.push_back(memref::DimOp::create(
          rewriter, loc, dynamicFrom[i].first, dynamicFrom[i].second));
  return memref::AllocOp::create(
      rewriter, loc, MemRefType::get(like.getShape(), like.getElementType()),
      dynamicSizes, ValueRange{}, rewriter.getI64IntegerAttr(64));
}

/// lmc.flash_attention and lmc.flash_attention_grad: lmc.buffer_attention
/// and lmc.buffer_attention_grad on the operands' buffers (any strides) and
/// new buffers for the results.
template <typename OpTy>
struct FlashAttentionOpInterface
    : public ReadsOperandsModel<FlashAttentionOpInterface<OpTy>, OpTy> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto attention = cast<OpTy>(op);
    Type element = attention.getQuery().getType().getElementType();
    if (!element.isF32() && !element.isBF16())
      return emitError(op->getLoc(), "the runtime's attention kernels take "
                                     "float32 or bfloat16 operands only");
    FailureOr<SmallVector<Value>> operandBuffers =
        getOperandBuffers(rewriter, op, options, state);
    if (failed(operandBuffers))
      return failure();
    SmallVector<Value> &buffers = *operandBuffers;
    Location loc = op->getLoc();
    Value q = buffers[0];
    // [B, T, C] results take B and T from q; lse [B, H, T] too.
    SmallVector<std::pair<Value, int64_t>> btc = {{q, 0}, {q, 1}, {q, 2}};
    SmallVector<std::pair<Value, int64_t>> bht = {{q, 0}, {q, 0}, {q, 1}};
    SmallVector<Value> results;
    for (OpResult result : op->getResults()) {
      bool lse = isa<FlashAttentionOp>(op) && result.getResultNumber() == 1;
      results.push_back(allocLike(rewriter, loc,
                                  cast<RankedTensorType>(result.getType()),
                                  lse ? bht : btc));
    }
    if constexpr (std::is_same_v<OpTy, FlashAttentionOp>)
      BufferAttentionOp::create(
          rewriter, loc, buffers[0], buffers[1], buffers[2], results[0],
          results[1], attention.getHeadsAttr(), attention.getKvHeadsAttr());
    else
      BufferAttentionGradOp::create(
          rewriter, loc, buffers[0], buffers[1], buffers[2], buffers[3],
          buffers[4], buffers[5], results[0], results[1], results[2],
          attention.getHeadsAttr(), attention.getKvHeadsAttr());
    replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
};

/// The norms, the cross-entropy and the softmax that the GPU runtime computes
/// (isRuntimeRowReduction; convert-lmc-to-linalg{runtime-row-reductions}
/// leaves them on tensors): lmc.buffer_row_reduction on the operands'
/// buffers (any strides) and new buffers for the results. A 0-d loss
/// gradient held in a constant global (the training step's seed 1.0) is
/// copied into a buffer first, so that the kernel reads it where the
/// other buffers are.
template <typename OpTy>
struct RowReductionOpInterface
    : public ReadsOperandsModel<RowReductionOpInterface<OpTy>, OpTy> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    if (!isRuntimeRowReduction(op))
      return op->emitOpError("has no buffer form: only float32 norms, "
                             "softmaxes and cross-entropies with int32 "
                             "targets are left to the runtime");
    Location loc = op->getLoc();
    SmallVector<Value> buffers;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> buffer = getBuffer(rewriter, operand, options, state);
      if (failed(buffer))
        return failure();
      if (buffer->getDefiningOp<memref::GetGlobalOp>()) {
        auto type = cast<MemRefType>(buffer->getType());
        Value copy = memref::AllocOp::create(
            rewriter, loc,
            MemRefType::get(type.getShape(), type.getElementType()),
            ValueRange{}, rewriter.getI64IntegerAttr(64));
        memref::CopyOp::create(rewriter, loc, *buffer, copy);
        buffer = copy;
      }
      buffers.push_back(*buffer);
    }
    // Results of the input's shape take its dynamic sizes (whatever their
    // element type: a gradient stored as bfloat16); the parameter gradients
    // and the loss are static.
    Value x = buffers[0];
    auto inputType = cast<RankedTensorType>(op->getOperand(0).getType());
    SmallVector<std::pair<Value, int64_t>> sameAsInput;
    for (int64_t d = 0; d < inputType.getRank(); ++d)
      sameAsInput.push_back({x, d});
    SmallVector<Value> results;
    for (OpResult result : op->getResults()) {
      auto type = cast<RankedTensorType>(result.getType());
      results.push_back(allocLike(rewriter, loc, type,
                                  type.getShape() == inputType.getShape()
                                      ? ArrayRef(sameAsInput)
                                      : ArrayRef<std::pair<Value, int64_t>>()));
    }
    StringRef kernel = op->getName().stripDialect();
    FloatAttr eps;
    IntegerAttr classes;
    if constexpr (std::is_same_v<OpTy, CrossEntropyOp> ||
                  std::is_same_v<OpTy, CrossEntropyGradOp>)
      classes = cast<OpTy>(op).getClassesAttr();
    else if constexpr (!std::is_same_v<OpTy, SoftmaxOp> &&
                       !std::is_same_v<OpTy, SoftmaxGradOp>)
      eps = cast<OpTy>(op).getEpsAttr();
    BufferRowReductionOp::create(rewriter, loc,
                                 rewriter.getStringAttr(kernel), buffers,
                                 results, eps, classes);
    replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
};

/// lmc.chunked_head_loss: lmc.buffer_head_loss on the operands' buffers
/// (any strides) and new buffers for the loss and the two gradients.
struct ChunkedHeadLossOpInterface
    : public ReadsOperandsModel<ChunkedHeadLossOpInterface,
                                ChunkedHeadLossOp> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto head = cast<ChunkedHeadLossOp>(op);
    FailureOr<SmallVector<Value>> operandBuffers =
        getOperandBuffers(rewriter, op, options, state);
    if (failed(operandBuffers))
      return failure();
    SmallVector<Value> &buffers = *operandBuffers;
    Location loc = op->getLoc();
    Value input = buffers[0];
    SmallVector<std::pair<Value, int64_t>> inputDims;
    for (int64_t d = 0; d < head.getInput().getType().getRank(); ++d)
      inputDims.push_back({input, d});
    SmallVector<Value> results = {
        allocLike(rewriter, loc, head.getLoss().getType(), {}),
        allocLike(rewriter, loc, head.getInputGrad().getType(), inputDims),
        allocLike(rewriter, loc, head.getWeightGrad().getType(), {})};
    BufferHeadLossOp::create(rewriter, loc, buffers[0], buffers[1], buffers[2],
                             buffers[3], results[0], results[1], results[2],
                             head.getTransposeBAttr(), head.getClassesAttr(),
                             head.getRowsAttr());
    replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
};

} // namespace

void mlir::lmc::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, LMCDialect *) {
    AllReduceOp::attachInterface<AllReduceOpInterface>(*ctx);
    AllReduceStartOp::attachInterface<AllReduceStartOpInterface>(*ctx);
    AllGatherOp::attachInterface<ResizingCollectiveOpInterface<AllGatherOp>>(
        *ctx);
    ReduceScatterOp::attachInterface<
        ResizingCollectiveOpInterface<ReduceScatterOp>>(*ctx);
    AllGatherStartOp::attachInterface<
        ResizingCollectiveStartOpInterface<AllGatherStartOp>>(*ctx);
    ReduceScatterStartOp::attachInterface<
        ResizingCollectiveStartOpInterface<ReduceScatterStartOp>>(*ctx);
    WaitOp::attachInterface<WaitOpInterface>(*ctx);
    SendOp::attachInterface<SendOpInterface>(*ctx);
    FlashAttentionOp::attachInterface<
        FlashAttentionOpInterface<FlashAttentionOp>>(*ctx);
    FlashAttentionGradOp::attachInterface<
        FlashAttentionOpInterface<FlashAttentionGradOp>>(*ctx);
    LayerNormOp::attachInterface<RowReductionOpInterface<LayerNormOp>>(*ctx);
    LayerNormGradOp::attachInterface<
        RowReductionOpInterface<LayerNormGradOp>>(*ctx);
    RMSNormOp::attachInterface<RowReductionOpInterface<RMSNormOp>>(*ctx);
    RMSNormGradOp::attachInterface<RowReductionOpInterface<RMSNormGradOp>>(
        *ctx);
    CrossEntropyOp::attachInterface<RowReductionOpInterface<CrossEntropyOp>>(
        *ctx);
    CrossEntropyGradOp::attachInterface<
        RowReductionOpInterface<CrossEntropyGradOp>>(*ctx);
    SoftmaxOp::attachInterface<RowReductionOpInterface<SoftmaxOp>>(*ctx);
    SoftmaxGradOp::attachInterface<RowReductionOpInterface<SoftmaxGradOp>>(
        *ctx);
    ChunkedHeadLossOp::attachInterface<ChunkedHeadLossOpInterface>(*ctx);
  });
}
