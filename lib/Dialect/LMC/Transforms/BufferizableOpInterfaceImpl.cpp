//===- BufferizableOpInterfaceImpl.cpp - Bufferization of collectives -----===//
//
// lmc.all_reduce bufferizes to one call into the runtime per op: the
// operands (a bucket of gradients, say) are copied into one contiguous
// buffer, which the runtime reduces in place
// (_mlir_ciface_lmcrt_all_reduce_f32 in include/lmc/Runtime/lmcrt.h), and
// the results are views of that buffer. One message per bucket, whatever
// the number of tensors in it. lmc.all_reduce_start does the same with the
// runtime's nonblocking form and lmc.wait waits for it.
//
// lmc.all_gather and lmc.reduce_scatter call the runtime on the operand's
// buffer (any layout) and a new buffer for the result. Their asynchronous
// forms copy the operand into one buffer with room for the result after it,
// so that the operand stays alive and unchanged until the wait, while the
// runtime may still read it.
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

/// The runtime's group spanned by `axes` of the mesh in scope: a bit mask
/// over the mesh axes, bit i for axis i (lmcrt.h).
FailureOr<int32_t> runtimeAxis(Operation *op, ArrayAttr axes) {
  MeshAttr mesh = getMeshInScope(op);
  if (!mesh)
    return op->emitOpError("has no mesh in scope");
  uint32_t mask = 0;
  for (auto name : axes.getAsRange<StringAttr>()) {
    std::optional<unsigned> index = mesh.getAxisIndex(name.getValue());
    if (!index)
      return op->emitOpError("spans the axis '")
             << name.getValue() << "', not an axis of the mesh " << mesh;
    mask |= 1u << *index;
  }
  return static_cast<int32_t>(mask);
}

/// The runtime's group of a gather or scatter over `axes`, whose order
/// numbers the ranks in the group: the runtime numbers a group's ranks
/// row-major over its axes in mesh order, so `axes` must be in mesh order.
FailureOr<int32_t> runtimeAxisInOrder(Operation *op, ArrayAttr axes) {
  MeshAttr mesh = getMeshInScope(op);
  if (!mesh)
    return op->emitOpError("has no mesh in scope");
  int64_t last = -1;
  for (auto name : axes.getAsRange<StringAttr>()) {
    std::optional<unsigned> index = mesh.getAxisIndex(name.getValue());
    if (index && static_cast<int64_t>(*index) <= last)
      return op->emitOpError("gathers or scatters over mesh axes out of "
                             "mesh order; the runtime numbers a group's "
                             "ranks in mesh order");
    if (index)
      last = *index;
  }
  return runtimeAxis(op, axes);
}

/// A call to the runtime function `name`, declared (private) in the nearest
/// symbol table on first use; returns its result when it has one.
Value callRuntime(RewriterBase &rewriter, Operation *at, StringRef name,
                  ValueRange args, TypeRange results) {
  Operation *table = SymbolTable::getNearestSymbolTable(at->getParentOp());
  auto callee =
      dyn_cast_or_null<func::FuncOp>(SymbolTable::lookupSymbolIn(table, name));
  if (!callee) {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&table->getRegion(0).front());
    callee = func::FuncOp::create(
        rewriter, at->getLoc(), name,
        rewriter.getFunctionType(ValueRange(args).getTypes(), results));
    callee.setPrivate();
    // Functions taking memrefs are reached through their C interface
    // (`_mlir_ciface_NAME`, descriptors by pointer); the others by name.
    if (llvm::any_of(ValueRange(args).getTypes(),
                     llvm::IsaPred<BaseMemRefType>))
      callee->setAttr("llvm.emit_c_interface", rewriter.getUnitAttr());
  }
  auto call = func::CallOp::create(rewriter, at->getLoc(), callee, args);
  return call.getNumResults() ? call.getResult(0) : Value();
}

FailureOr<std::pair<Value, SmallVector<Value>>>
packBucket(RewriterBase &rewriter, Operation *op, ValueRange inputs,
           const BufferizationOptions &options, BufferizationState &state);

/// Packs a bucket (packBucket) and calls the runtime function `name` on the
/// packed buffer, reduced in place over the group of `axes`; returns the
/// call's result (the handle of a nonblocking start, or null) and the views.
FailureOr<std::pair<Value, SmallVector<Value>>>
reduceBucket(RewriterBase &rewriter, Operation *op, ValueRange inputs,
             ArrayAttr axes, StringRef name, TypeRange results,
             const BufferizationOptions &options, BufferizationState &state) {
  FailureOr<int32_t> axis = runtimeAxis(op, axes);
  if (failed(axis))
    return failure();
  auto packed = packBucket(rewriter, op, inputs, options, state);
  if (failed(packed))
    return failure();
  Location loc = op->getLoc();
  Value unranked = memref::CastOp::create(
      rewriter, loc, UnrankedMemRefType::get(rewriter.getF32Type(), 0),
      packed->first);
  Value axisValue = arith::ConstantOp::create(
      rewriter, loc, rewriter.getI32IntegerAttr(*axis));
  Value result =
      callRuntime(rewriter, op, name, {unranked, unranked, axisValue}, results);
  return std::make_pair(result, std::move(packed->second));
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

/// Calls the runtime's gather or scatter (blocking, or the start of the
/// nonblocking form when `start`) for `op`. Returns the buffer that holds
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
  FailureOr<int32_t> axis = runtimeAxisInOrder(op, c.axes);
  if (failed(axis))
    return failure();
  MeshAttr mesh = getMeshInScope(op);
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

  auto unranked = [&](Value memref) -> Value {
    return memref::CastOp::create(
        rewriter, loc, UnrankedMemRefType::get(rewriter.getF32Type(), 0),
        memref);
  };
  Value axisValue = arith::ConstantOp::create(
      rewriter, loc, rewriter.getI32IntegerAttr(*axis));
  Value dimValue = arith::ConstantOp::create(rewriter, loc,
                                             rewriter.getI64IntegerAttr(c.dim));
  std::string name =
      (Twine("lmcrt_") + (c.gather ? "all_gather" : "reduce_scatter") +
       (start ? "_start" : "") + "_f32")
          .str();
  SmallVector<Type> results;
  if (start)
    results.push_back(rewriter.getI64Type());
  Value handle =
      callRuntime(rewriter, op, name,
                  {unranked(in), unranked(out), axisValue, dimValue}, results);
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
                     "lmcrt_all_reduce_f32", {}, options, state);
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
    auto started = reduceBucket(rewriter, op, start.getInputs(),
                                start.getAxes(), "lmcrt_all_reduce_start_f32",
                                {rewriter.getI64Type()}, options, state);
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

/// lmc.wait: waits for each distinct handle once (in operand order); the
/// results are the views the start op packed into.
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
    SmallVector<Operation *> casts;
    for (Value pending : wait.getPending()) {
      auto cast = pending.getDefiningOp<UnrealizedConversionCastOp>();
      if (!cast || cast.getNumOperands() != 2)
        return op->emitOpError("waits on a collective that did not bufferize "
                               "to the runtime");
      if (!llvm::is_contained(handles, cast.getOperand(0)))
        handles.push_back(cast.getOperand(0));
      views.push_back(cast.getOperand(1));
      casts.push_back(cast);
    }
    for (Value handle : handles)
      callRuntime(rewriter, op, "lmcrt_collective_wait", {handle}, {});
    replaceOpWithBufferizedValues(rewriter, op, views);
    for (Operation *cast : casts)
      if (cast->use_empty())
        rewriter.eraseOp(cast);
    return success();
  }
};

/// A new float32 buffer of the shape of `like`, whose dynamic dimension i
/// has the size of dimension `dynamicFrom[i].second` of `dynamicFrom[i].first`.
Value allocLike(RewriterBase &rewriter, Location loc, RankedTensorType like,
                ArrayRef<std::pair<Value, int64_t>> dynamicFrom) {
  SmallVector<Value> dynamicSizes;
  for (auto [i, size] : llvm::enumerate(like.getShape()))
    if (ShapedType::isDynamic(size))
      dynamicSizes.push_back(memref::DimOp::create(
          rewriter, loc, dynamicFrom[i].first, dynamicFrom[i].second));
  return memref::AllocOp::create(
      rewriter, loc, MemRefType::get(like.getShape(), rewriter.getF32Type()),
      dynamicSizes, ValueRange{}, rewriter.getI64IntegerAttr(64));
}

/// lmc.flash_attention and lmc.flash_attention_grad: one call of the
/// runtime's attention kernel (lmcrt_attention_fwd_f32 / _bwd_f32) on the
/// operands' buffers (any strides) and new buffers for the results.
template <typename OpTy>
struct FlashAttentionOpInterface
    : public ReadsOperandsModel<FlashAttentionOpInterface<OpTy>, OpTy> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto attention = cast<OpTy>(op);
    if (!attention.getQuery().getType().getElementType().isF32())
      return emitError(op->getLoc(), "the runtime's attention kernels take "
                                     "float32 operands only");
    SmallVector<Value> buffers;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> buffer = getBuffer(rewriter, operand, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
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
    auto unranked = [&](Value memref) -> Value {
      return memref::CastOp::create(
          rewriter, loc, UnrankedMemRefType::get(rewriter.getF32Type(), 0),
          memref);
    };
    SmallVector<Value> args;
    for (Value buffer : buffers)
      args.push_back(unranked(buffer));
    for (Value buffer : results)
      args.push_back(unranked(buffer));
    args.push_back(arith::ConstantOp::create(
        rewriter, loc, rewriter.getI64IntegerAttr(attention.getHeads())));
    callRuntime(rewriter, op,
                isa<FlashAttentionOp>(op) ? "lmcrt_attention_fwd_f32"
                                          : "lmcrt_attention_bwd_f32",
                args, {});
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
    FlashAttentionOp::attachInterface<
        FlashAttentionOpInterface<FlashAttentionOp>>(*ctx);
    FlashAttentionGradOp::attachInterface<
        FlashAttentionOpInterface<FlashAttentionGradOp>>(*ctx);
  });
}
