//===- BufferizableOpInterfaceImpl.cpp - Bufferization of collectives -----===//
//
// lmc.all_reduce bufferizes to one call into the runtime per op: the
// operands (a bucket of gradients, say) are copied into one contiguous
// buffer, which the runtime reduces in place
// (_mlir_ciface_lmcrt_all_reduce_f32 in include/lmc/Runtime/lmcrt.h), and
// the results are views of that buffer. One message per bucket, whatever
// the number of tensors in it.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/Transforms/BufferizableOpInterfaceImpl.h"
#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

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

/// A call to the runtime function `name`, declared (private, with a C
/// interface) in the nearest symbol table on first use.
void callRuntime(RewriterBase &rewriter, Operation *at, StringRef name,
                 ValueRange args) {
  Operation *table = SymbolTable::getNearestSymbolTable(at->getParentOp());
  auto callee =
      dyn_cast_or_null<func::FuncOp>(SymbolTable::lookupSymbolIn(table, name));
  if (!callee) {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&table->getRegion(0).front());
    callee = func::FuncOp::create(
        rewriter, at->getLoc(), name,
        rewriter.getFunctionType(ValueRange(args).getTypes(), {}));
    callee.setPrivate();
    callee->setAttr("llvm.emit_c_interface", rewriter.getUnitAttr());
  }
  func::CallOp::create(rewriter, at->getLoc(), callee, args);
}

struct AllReduceOpInterface
    : public BufferizableOpInterface::ExternalModel<AllReduceOpInterface,
                                                    AllReduceOp> {
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

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto reduce = cast<AllReduceOp>(op);
    Location loc = op->getLoc();
    FailureOr<int32_t> axis = runtimeAxis(op, reduce.getAxes());
    if (failed(axis))
      return failure();
    Type f32 = rewriter.getF32Type();
    int64_t total = 0;
    for (Value input : reduce.getInputs()) {
      auto type = cast<RankedTensorType>(input.getType());
      if (!type.hasStaticShape() || type.getElementType() != f32)
        return op->emitOpError("bufferizes to the runtime only for float32 "
                               "tensors of static shape");
      total += type.getNumElements();
    }

    // One contiguous buffer holding every operand.
    auto flatType = MemRefType::get({total}, f32);
    Value flat = memref::AllocOp::create(rewriter, loc, flatType,
                                         rewriter.getI64IntegerAttr(64));
    SmallVector<Value> results;
    int64_t offset = 0;
    for (Value input : reduce.getInputs()) {
      FailureOr<Value> buffer = getBuffer(rewriter, input, options, state);
      if (failed(buffer))
        return failure();
      auto type = cast<RankedTensorType>(input.getType());
      int64_t n = type.getNumElements();
      Value view = memref::SubViewOp::create(
          rewriter, loc, flat,
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(offset)},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(n)},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)});
      if (type.getRank() == 0) {
        view = memref::CollapseShapeOp::create(
            rewriter, loc, view, ArrayRef<ReassociationIndices>{});
      } else if (type.getRank() > 1) {
        ReassociationIndices all;
        for (int64_t d = 0; d < type.getRank(); ++d)
          all.push_back(d);
        view = memref::ExpandShapeOp::create(
            rewriter, loc, type.getShape(), view,
            SmallVector<ReassociationIndices>{all});
      }
      memref::CopyOp::create(rewriter, loc, *buffer, view);
      results.push_back(view);
      offset += n;
    }
    Value unranked = memref::CastOp::create(
        rewriter, loc, UnrankedMemRefType::get(f32, 0), flat);
    Value axisValue = arith::ConstantOp::create(
        rewriter, loc, rewriter.getI32IntegerAttr(*axis));
    callRuntime(rewriter, op, "lmcrt_all_reduce_f32",
                {unranked, unranked, axisValue});
    replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
};

} // namespace

void mlir::lmc::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, LMCDialect *) {
    AllReduceOp::attachInterface<AllReduceOpInterface>(*ctx);
  });
}
