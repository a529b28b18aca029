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
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/Transforms/BufferizableOpInterfaceImpl.h"
#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Support/FlatViews.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::lmc;
using namespace mlir::bufferization;

namespace {

/// The runtime's number for the group spanned by `axes` of `mesh`: 0 for dp,
/// 1 for tp, 2 for both (the world); see lmcrt.h.
FailureOr<int32_t> runtimeAxis(Operation *op, ArrayAttr axes) {
  MeshAttr mesh = getMeshInScope(op);
  if (!mesh)
    return op->emitOpError("has no mesh in scope");
  llvm::SmallDenseSet<StringRef> names;
  for (auto name : axes.getAsRange<StringAttr>())
    names.insert(name.getValue());
  if (names.size() == 1 && names.contains("dp"))
    return 0;
  if (names.size() == 1 && names.contains("tp"))
    return 1;
  if (names.size() == 2 && names.contains("dp") && names.contains("tp") &&
      mesh.getRank() == 2)
    return 2;
  return op->emitOpError("spans mesh axes the runtime has no group for (it "
                         "has dp, tp and dp x tp)");
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

/// The operands of a bucket copied into one contiguous float32 buffer:
/// returns the buffer and, per operand, its view of it.
FailureOr<std::pair<Value, SmallVector<Value>>>
packBucket(RewriterBase &rewriter, Operation *op, ValueRange inputs,
           const BufferizationOptions &options, BufferizationState &state) {
  Location loc = op->getLoc();
  Type f32 = rewriter.getF32Type();
  int64_t total = 0;
  for (Value input : inputs) {
    auto type = cast<RankedTensorType>(input.getType());
    if (!type.hasStaticShape() || type.getElementType() != f32)
      return op->emitOpError("bufferizes to the runtime only for float32 "
                             "tensors of static shape");
    total += type.getNumElements();
  }
  Value flat =
      memref::AllocOp::create(rewriter, loc, MemRefType::get({total}, f32),
                              rewriter.getI64IntegerAttr(64));
  SmallVector<Value> views;
  int64_t offset = 0;
  for (Value input : inputs) {
    FailureOr<Value> buffer = getBuffer(rewriter, input, options, state);
    if (failed(buffer))
      return failure();
    auto type = cast<RankedTensorType>(input.getType());
    Value view = viewOfFlat(rewriter, loc, flat, offset, type.getShape());
    memref::CopyOp::create(rewriter, loc, *buffer, view);
    views.push_back(view);
    offset += type.getNumElements();
  }
  return std::make_pair(flat, views);
}

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
                               "to the runtime (only lmc.all_reduce_start "
                               "does)");
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

} // namespace

void mlir::lmc::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, LMCDialect *) {
    AllReduceOp::attachInterface<AllReduceOpInterface>(*ctx);
    AllReduceStartOp::attachInterface<AllReduceStartOpInterface>(*ctx);
    WaitOp::attachInterface<WaitOpInterface>(*ctx);
  });
}
