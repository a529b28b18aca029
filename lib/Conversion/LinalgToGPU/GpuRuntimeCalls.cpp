//===- GpuRuntimeCalls.cpp - Runtime calls of a GPU program ---------------===//
//
// Renames the host code's library calls (GEMMs, collectives, attention, the
// embedding gradient) to the GPU runtime's functions, which take buffers in
// GPU memory. See the pass description in include/lmc/Conversion/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/StringSet.h"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCGPURUNTIMECALLS
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// The runtime functions the GPU runtime provides under `lmcrt_gpu_`.
const llvm::StringSet<> &gpuFunctions() {
  static const llvm::StringSet<> names = {
      "lmcrt_gemm_f32",
      "lmcrt_gemm_tf32",
      "lmcrt_gemm_bf16",
      "lmcrt_gemm_bias_f32",
      "lmcrt_gemm_bias_tf32",
      "lmcrt_gemm_bias_bf16",
      "lmcrt_all_reduce_f32",
      "lmcrt_all_gather_f32",
      "lmcrt_reduce_scatter_f32",
      "lmcrt_all_reduce_start_f32",
      "lmcrt_all_gather_start_f32",
      "lmcrt_reduce_scatter_start_f32",
      "lmcrt_collective_wait",
      "lmcrt_attention_fwd_f32",
      "lmcrt_attention_bwd_f32",
      "lmcrt_embedding_grad_f32",
  };
  return names;
}

bool takesMemrefs(func::FuncOp fn) {
  return llvm::any_of(fn.getArgumentTypes(), [](Type t) {
    return isa<BaseMemRefType>(t);
  });
}

struct LMCGpuRuntimeCallsPass
    : mlir::lmc::impl::LMCGpuRuntimeCallsBase<LMCGpuRuntimeCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> renamed;
    bool anyError = false;
    for (auto fn : module.getOps<func::FuncOp>()) {
      StringRef name = fn.getSymName();
      if (!fn.isDeclaration() || !name.starts_with("lmcrt_") ||
          name.starts_with("lmcrt_gpu_"))
        continue;
      if (gpuFunctions().contains(name)) {
        renamed.push_back(fn);
      } else if (takesMemrefs(fn)) {
        emitError(fn.getLoc(), "runtime function '")
            << name
            << "' has no GPU implementation: its buffers would be in GPU "
               "memory";
        anyError = true;
      }
    }
    if (anyError)
      return signalPassFailure();
    for (func::FuncOp fn : renamed) {
      auto newName = StringAttr::get(
          &getContext(), "lmcrt_gpu_" + fn.getSymName().drop_front(6));
      if (SymbolTable::lookupSymbolIn(module, newName)) {
        emitError(fn.getLoc(), "cannot rename '")
            << fn.getSymName() << "': '" << newName.getValue()
            << "' already exists";
        return signalPassFailure();
      }
      if (failed(SymbolTable::replaceAllSymbolUses(fn, newName, module)))
        return signalPassFailure();
      SymbolTable::setSymbolName(fn, newName);
      // The GPU runtime's functions queue their work on the rank's compute
      // stream (lmc-gpu-async-launches relies on it).
      fn->setAttr("lmc.stream_ordered", UnitAttr::get(&getContext()));
    }
  }
};

} // namespace
