//===- GpuHostPipeline.cpp - The host code of a GPU program ---------------===//
//
// After lmc-gpu-pipeline the host code is in the func, memref, arith, math
// and gpu dialects: straight-line entry points that allocate buffers, launch
// kernels (gpu.launch_func) and call the GPU runtime (GEMMs, collectives).
// This lowers it to the LLVM dialect. gpu-to-llvm turns each launch into
// calls of MLIR's `mgpu*` ABI, which the lmc GPU runtime implements over the
// CUDA driver (lib/Runtime/Cuda); the gpu.binary stays an op that the LLVM
// IR translation embeds, with a constructor that registers it through
// `mgpuModuleLoad`.
//
//===----------------------------------------------------------------------===//

#include "lmc/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::lmc::buildGpuHostPipeline(OpPassManager &pm) {
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // The learning-rate schedule's cosine, on the host.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // Buffers come from the runtime's allocation functions, which give GPU
  // memory the host can also read (lib/Runtime/Core/StepMemory.h).
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}
