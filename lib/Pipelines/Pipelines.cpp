//===- Pipelines.cpp - The named lmc pipelines ----------------------------===//

#include "lmc/Pipelines/Pipelines.h"
#include "lmc/Conversion/Passes.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::lmc;

void mlir::lmc::buildReferencePipeline(
    OpPassManager &pm, const ReferencePipelineOptions &options) {
  if (!options.params.empty()) {
    LMCBindParamsOptions bind;
    bind.from = options.params;
    pm.addPass(createLMCBindParams(bind));
  }
  pm.addPass(createConvertLMCToLinalg());
  if (options.approximateMath)
    pm.addPass(createLMCApproximateMath());
  pm.addPass(createCanonicalizerPass());
  // The kernels of fusion groups (lmc-fuse, outlined by
  // lmc-outline-kernels) become one loop nest each; without them this does
  // nothing.
  LMCFuseKernelLoopsOptions kernelLoops;
  kernelLoops.rowsPerBlock = options.rowsPerBlock;
  kernelLoops.elementsAsRows = options.elementsAsRows;
  kernelLoops.partialsChunk = options.partialsChunk;
  pm.addPass(createLMCFuseKernelLoops(kernelLoops));
  pm.addPass(createCanonicalizerPass());

  // Tensors to buffers: entry points keep plain (identity layout) memrefs,
  // kernels take views at any offset (lmc-bufferize). Loops that carry
  // tensors through calls (training-step drivers) yield new buffers.
  pm.addPass(createLMCBufferize());
  // Kernels that update an argument in place (AdamW) return it; callers use
  // the argument instead, so that writing the result back folds away.
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferHoistingPass());
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
  // Upstream's buffer-deallocation-pipeline without its
  // buffer-deallocation-simplification step: that pass is superlinear in the
  // size of a function (168 s of a gpt2-124M compile, against 23 s for all
  // of bufferization); without it the deallocations are correct, with more
  // run-time ownership checks.
  ConvertLMCToRuntimeOptions runtimeCalls;
  runtimeCalls.precision = options.precision;
  runtimeCalls.libraryCalls = options.libraryCalls;
  // lmc compile's functions are straight-line: each buffer is freed after
  // its last use (lmc-free-buffers), so that the step arena reuses memory;
  // then the calls into the runtime. The reference's drivers have loops:
  // ownership-based deallocation.
  if (options.libraryCalls) {
    pm.addPass(createLMCFreeBuffers());
    pm.addPass(createConvertLMCToRuntime(runtimeCalls));
  } else {
    pm.addPass(createConvertLMCToRuntime(runtimeCalls));
    pm.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  }
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  pm.addPass(createCSEPass());
  pm.addPass(createConvertBufferizationToMemRefPass());

  // Buffers to loops to the LLVM dialect. The loops of fused kernels
  // (scf.forall) become scf.parallel like the others.
  pm.addNestedPass<func::FuncOp>(createForallToParallelLoopPass());
  if (options.threads) {
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
    pm.addNestedPass<func::FuncOp>(createLMCShapeParallelLoops());
    pm.addPass(createConvertSCFToOpenMPPass());
  } else {
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  }
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  // Ops with an LLVM intrinsic first: upstream convert-math-to-libm turns
  // math.rsqrt into a call to `rsqrtf`, which no libm provides
  // (test/upstream/math-to-libm-rsqrt.mlir). The rest (tanh, erf) become
  // libm calls.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // Linked with the runtime, buffers come from its step arena
  // (lib/Runtime/StepMemory.h) through the lowering's generic allocation
  // functions; under mlir-runner, from malloc.
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = options.libraryCalls;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  if (options.threads)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::lmc::buildTrainingPipeline(OpPassManager &pm,
                                      const TrainingPipelineOptions &options) {
  LMCAutodiffOptions autodiff;
  autodiff.recompute = options.recompute;
  autodiff.attention = options.attention;
  pm.addPass(createLMCAutodiff(autodiff));
  LMCOptimizerOptions optimizer;
  optimizer.weightDecayOn = options.weightDecayOn;
  pm.addPass(createLMCOptimizer(optimizer));
  LMCShardOptions shard;
  shard.mesh = options.mesh;
  shard.zero = options.zero;
  shard.bucketBytes = options.bucketBytes;
  shard.overlap = options.overlap;
  shard.report = options.report;
  pm.addPass(createLMCShard(shard));
  if (options.fuse) {
    LMCFuseOptions fuse;
    fuse.report = options.report;
    pm.addPass(createLMCFuse(fuse));
    if (options.gemmEpilogues) {
      LMCGemmEpiloguesOptions epilogues;
      epilogues.report = options.report;
      pm.addPass(createLMCGemmEpilogues(epilogues));
    }
  }
  LMCExportEntryPointsOptions entryPoints;
  entryPoints.target = options.target;
  pm.addPass(createLMCExportEntryPoints(entryPoints));
  pm.addPass(createSymbolDCEPass());
}

void mlir::lmc::registerLMCPipelines() {
  PassPipelineRegistration<TrainingPipelineOptions>(
      "lmc-training-pipeline",
      "Builds the training step and the runtime's entry points from a "
      "forward model",
      buildTrainingPipeline);
  PassPipelineRegistration<ReferencePipelineOptions>(
      "lmc-reference-pipeline",
      "Lowers the lmc dialect to the LLVM dialect through linalg on tensors "
      "(the semantic reference, runnable with mlir-runner)",
      buildReferencePipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "lmc-gpu-pipeline",
      "Lowers a training step to GPU kernels (gpu.launch_func on the host, "
      "the kernels serialised to PTX for sm_90 or sm_80 with libdevice)",
      buildGpuPipeline);
  PassPipelineRegistration<>(
      "lmc-gpu-host-pipeline",
      "Lowers the host code of a GPU program (after lmc-gpu-pipeline) to the "
      "LLVM dialect, launching the embedded kernels through mgpu* calls",
      buildGpuHostPipeline);
}
