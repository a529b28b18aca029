//===- KernelsToRuntime.cpp - Marked linalg ops to runtime calls ----------===//
//
// Replaces linalg.generic ops marked `lmc.library_call` (on buffers) by calls
// to the runtime's library kernels.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringSwitch.h"

#define DEBUG_TYPE "lmc-kernels-to-runtime"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCKERNELSTORUNTIME
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

Type elementTypeOf(Value v) {
  return cast<MemRefType>(v.getType()).getElementType();
}

struct LMCKernelsToRuntimePass
    : mlir::lmc::impl::LMCKernelsToRuntimeBase<LMCKernelsToRuntimePass> {
  using LMCKernelsToRuntimeBase::LMCKernelsToRuntimeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    StringRef gemm = llvm::StringSwitch<StringRef>(precision)
                         .Case("fp32", "lmcrt_gemm_f32")
                         .Case("tf32", "lmcrt_gemm_tf32")
                         .Case("bf16", "lmcrt_gemm_bf16")
                         .Default("");
    std::string gemmBias =
        gemm.empty() ? "" : "lmcrt_gemm_bias_" + gemm.drop_front(11).str();
    if (gemm.empty()) {
      emitError(module.getLoc(), "lmc-kernels-to-runtime: unknown precision '")
          << precision << "' (expected fp32, tf32 or bf16)";
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> marked;
    module.walk([&](linalg::GenericOp op) {
      if (op->hasAttr("lmc.library_call") && op.hasPureBufferSemantics())
        marked.push_back(op);
    });
    for (linalg::GenericOp op : marked) {
      auto attrs = op->getAttrOfType<DictionaryAttr>("lmc.library_call");
      StringAttr kernel = attrs ? attrs.getAs<StringAttr>("kernel") : nullptr;
      if (!kernel) {
        op.emitOpError("has a malformed lmc.library_call");
        return signalPassFailure();
      }
      if (!kernels.empty() && !llvm::is_contained(kernels, kernel.getValue()))
        continue;
      OpBuilder b(op);
      Location loc = op.getLoc();
      Type f32 = b.getF32Type();
      if (kernel.getValue() == "gemm") {
        if (elementTypeOf(op.getDpsInits()[0]) != f32)
          continue;
        auto flag = [&](StringRef name) -> Value {
          auto value = attrs.getAs<BoolAttr>(name);
          return arith::ConstantOp::create(
              b, loc, b.getI32IntegerAttr(value && value.getValue() ? 1 : 0));
        };
        StringAttr epilogue = attrs.getAs<StringAttr>("epilogue");
        if (epilogue) {
          // GEMM + bias (+ tanh GELU, whose pre-activation is the second
          // output): lmcrt_gemm_bias_*(a, b, bias, c, aux, ta, tb, kind).
          int32_t kind = llvm::StringSwitch<int32_t>(epilogue.getValue())
                             .Case("bias", 0)
                             .Case("bias_gelu_tanh", 1)
                             .Default(-1);
          if (kind < 0 || op.getNumDpsInputs() != 3 ||
              op.getNumDpsInits() != (kind == 0 ? 1u : 2u)) {
            op.emitOpError("has a malformed GEMM epilogue '")
                << epilogue.getValue() << "'";
            return signalPassFailure();
          }
          Value c = op.getDpsInits()[0];
          Value aux = kind == 0 ? c : op.getDpsInits()[1];
          call(b, loc, gemmBias,
               {unranked(b, loc, op.getDpsInputs()[0]),
                unranked(b, loc, op.getDpsInputs()[1]),
                unranked(b, loc, op.getDpsInputs()[2]), unranked(b, loc, c),
                unranked(b, loc, aux), flag("transpose_a"), flag("transpose_b"),
                arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(kind))});
          ++numEpilogues;
        } else {
          eraseDeadZeroFill(op);
          call(b, loc, gemm,
               {unranked(b, loc, op.getDpsInputs()[0]),
                unranked(b, loc, op.getDpsInputs()[1]),
                unranked(b, loc, op.getDpsInits()[0]), flag("transpose_a"),
                flag("transpose_b")});
        }
      } else if (kernel.getValue() == "embedding_grad") {
        if (elementTypeOf(op.getDpsInits()[0]) != f32 ||
            !elementTypeOf(op.getDpsInputs()[1]).isInteger(32))
          continue;
        // The first row of a block of the table: the third (scalar) input,
        // or 0.
        Value offset;
        if (op.getNumDpsInputs() > 2)
          offset = arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                              op.getDpsInputs()[2]);
        else
          offset = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
        // The runtime zeroes the table gradient before the scatter-add.
        eraseDeadZeroFill(op);
        call(b, loc, "lmcrt_embedding_grad_f32",
             {unranked(b, loc, op.getDpsInputs()[0]),
              unranked(b, loc, op.getDpsInputs()[1]),
              unranked(b, loc, op.getDpsInits()[0]), offset});
      } else {
        op.emitOpError("names an unknown library kernel '")
            << kernel.getValue() << "'";
        return signalPassFailure();
      }
      op.erase();
      ++numCalls;
    }
  }

  /// Erases the linalg.fill that wrote the output buffer of `op` (a GEMM or
  /// an embedding gradient) just before it: between the two only ops
  /// without memory effects (constants, sizes), so that nothing can read the
  /// filled buffer or a view of it. The library call overwrites the whole
  /// output, so the fill is dead.
  void eraseDeadZeroFill(linalg::GenericOp op) {
    Value out = op.getDpsInits()[0];
    for (Operation *prev = op->getPrevNode(); prev;
         prev = prev->getPrevNode()) {
      if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
        if (fill.getDpsInits()[0] == out) {
          fill.erase();
          ++numDeadFills;
        }
        return;
      }
      if (!isMemoryEffectFree(prev))
        return;
    }
  }

  Value unranked(OpBuilder &b, Location loc, Value memref) {
    auto type = UnrankedMemRefType::get(elementTypeOf(memref), 0);
    return memref::CastOp::create(b, loc, type, memref);
  }

  /// Calls the runtime function `name`, declaring it on first use.
  void call(OpBuilder &b, Location loc, StringRef name, ValueRange args) {
    ModuleOp module = getOperation();
    auto callee = module.lookupSymbol<func::FuncOp>(name);
    if (!callee) {
      OpBuilder mb = OpBuilder::atBlockBegin(module.getBody());
      callee = func::FuncOp::create(
          mb, loc, name, mb.getFunctionType(ValueRange(args).getTypes(), {}));
      callee.setPrivate();
      callee->setAttr("llvm.emit_c_interface", mb.getUnitAttr());
    }
    func::CallOp::create(b, loc, callee, args);
  }
};

} // namespace
