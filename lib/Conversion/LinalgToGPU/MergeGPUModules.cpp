//===- MergeGPUModules.cpp - All kernels in one gpu.module ----------------===//
//
// Moves the kernels of the gpu.modules that gpu-kernel-outlining creates
// (one per kernel) into one gpu.module, each kernel named after the module
// it came from.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"

#include "mlir/IR/SymbolTable.h"

#define DEBUG_TYPE "lmc-merge-gpu-modules"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCMERGEGPUMODULES
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

struct LMCMergeGPUModulesPass
    : mlir::lmc::impl::LMCMergeGPUModulesBase<LMCMergeGPUModulesPass> {
  using LMCMergeGPUModulesBase::LMCMergeGPUModulesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> sources(module.getOps<gpu::GPUModuleOp>());
    if (sources.empty())
      return;
    for (gpu::GPUModuleOp source : sources) {
      if (source.getTargetsAttr() && !source.getTargetsAttr().empty()) {
        source.emitOpError("lmc-merge-gpu-modules: has a target already; "
                           "merge before attaching targets");
        return signalPassFailure();
      }
      Block *body = source.getBody();
      auto fn = llvm::hasSingleElement(body->getOperations())
                    ? dyn_cast<gpu::GPUFuncOp>(body->front())
                    : gpu::GPUFuncOp();
      if (!fn || !fn.isKernel()) {
        source.emitOpError("lmc-merge-gpu-modules: expected one kernel, as "
                           "gpu-kernel-outlining makes them");
        return signalPassFailure();
      }
    }

    // The merged module goes where the first one was; its name must not
    // clash with another symbol of the module.
    OpBuilder b(sources.front());
    StringAttr name = b.getStringAttr(moduleName);
    if (Operation *clash = SymbolTable::lookupSymbolIn(module, name);
        clash && !llvm::is_contained(sources, clash)) {
      clash->emitOpError("lmc-merge-gpu-modules: the name '")
          << moduleName << "' is taken";
      return signalPassFailure();
    }
    auto merged =
        gpu::GPUModuleOp::create(b, sources.front().getLoc(), "__lmc_merging");
    // Each kernel takes its module's (unique) name. The launches name an
    // existing kernel (the verifier checks it), the only one of its module.
    DenseSet<StringAttr> moved;
    for (gpu::GPUModuleOp source : sources) {
      auto fn = cast<gpu::GPUFuncOp>(source.getBody()->front());
      fn.setName(source.getName());
      fn->moveBefore(merged.getBody(), merged.getBody()->end());
      moved.insert(source.getNameAttr());
      ++numKernels;
    }
    for (gpu::GPUModuleOp source : sources)
      source.erase();
    merged.setName(moduleName);
    module.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr from = launch.getKernel().getRootReference();
      if (moved.contains(from))
        launch.setKernelAttr(
            SymbolRefAttr::get(name, {FlatSymbolRefAttr::get(from)}));
    });
  }
};

} // namespace
