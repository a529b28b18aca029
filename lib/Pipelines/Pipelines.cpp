//===- Pipelines.cpp - The named lmc pipelines ----------------------------===//

#include "lmc/Pipelines/Pipelines.h"
#include "lmc/Support/Mesh.h"
#include "lmc/Conversion/Passes.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/STLExtras.h"

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
  kernelLoops.runtimeSums = options.runtimeSums;
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
  // bfloat16 storage (lmc-bf16-storage): the conversions to and from
  // bfloat16 as integer arithmetic (round to nearest even), since LLVM's
  // x86 backend calls __truncsfbf2 for them without AVX512-BF16, which the
  // C runtime of a GCC 12 system lacks.
  if (options.precision == Precision::BF16) {
    arith::ArithExpandOpsPassOptions expand;
    expand.includeBf16 = true;
    pm.addPass(arith::createArithExpandOpsPass(expand));
  }
  pm.addPass(createConvertVectorToLLVMPass());
  // Ops with an LLVM intrinsic first: upstream convert-math-to-libm turns
  // math.rsqrt into a call to `rsqrtf`, which no libm provides
  // (test/upstream/math-to-libm-rsqrt.mlir). The rest (tanh, erf) become
  // libm calls.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  // Linked with the runtime, buffers come from its step arena
  // (lib/Runtime/Core/StepMemory.h) through the lowering's generic allocation
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
  // A pipeline axis: lmc-pipeline splits grad_step (hence
  // lmc-grad-accumulation) into stages, per tensor (no buckets, whose
  // collectives would span stages).
  ::lmc::MeshSpec requested;
  std::string meshError;
  bool pipelined = ::lmc::MeshSpec::parse(options.mesh, requested, meshError) &&
                   llvm::any_of(requested.axes, [](const ::lmc::MeshAxis &a) {
                     return a.name == "pp";
                   });
  LMCShardOptions shard;
  shard.mesh = options.mesh;
  shard.zero = options.zero;
  shard.sequenceParallel = options.sequenceParallel;
  shard.bucketBytes = pipelined ? 0 : int64_t(options.bucketBytes);
  shard.overlap = options.overlap;
  shard.dpSync = options.dpSync;
  shard.reportSyncEvery = options.reportSyncEvery;
  shard.report = options.report;
  pm.addPass(createLMCShard(shard));
  // ZeRO's per-tensor gathers and scatters, merged into buckets.
  LMCBucketCollectivesOptions buckets;
  buckets.bucketBytes = pipelined ? 0 : int64_t(options.bucketBytes);
  buckets.report = options.report;
  pm.addPass(createLMCBucketCollectives(buckets));
  if (options.gradAccum || pipelined)
    pm.addPass(createLMCGradAccumulation());
  if (pipelined) {
    LMCPipelineOptions pipeline;
    pipeline.microbatches = options.microbatches;
    pipeline.schedule = options.pipelineSchedule;
    pipeline.report = options.report;
    pm.addPass(createLMCPipeline(pipeline));
  }
  // The LM head and its loss in row chunks: a CPU runtime kernel (the
  // CUDA target keeps the unchunked ops).
  if (options.chunkLossHead && options.target == Target::CPU) {
    LMCChunkLossHeadOptions chunk;
    chunk.rows = options.chunkLossRows;
    pm.addPass(createLMCChunkLossHead(chunk));
  }
  // A tied head's weight gradient accumulated by the embedding's scatter
  // (no zeroed table, no add pass).
  pm.addPass(createLMCEmbeddingGradAccumulate());
  if (options.fuse) {
    LMCFuseOptions fuse;
    fuse.report = options.report;
    // On the GPU the norms and cross-entropies are the runtime's row
    // kernels, outside the groups.
    fuse.runtimeRowReductions =
        options.target == Target::CUDA && options.gpuRowKernels;
    pm.addPass(createLMCFuse(fuse));
    if (options.gemmEpilogues) {
      LMCGemmEpiloguesOptions epilogues;
      epilogues.report = options.report;
      pm.addPass(createLMCGemmEpilogues(epilogues));
    }
    // bfloat16 GEMMs read bfloat16 operands: each parameter rounded once
    // per step, activations read only by GEMMs and groups stored rounded
    // (on the GPU, cuBLASLt's CUDA_R_16BF GEMMs: lmcrt_gpu_gemm_bf16).
    if (options.precision == Precision::BF16 && options.bf16Storage)
      pm.addPass(createLMCBF16Storage());
  }
  LMCExportEntryPointsOptions entryPoints;
  entryPoints.target = options.target;
  pm.addPass(createLMCExportEntryPoints(entryPoints));
  pm.addPass(createSymbolDCEPass());
}

ArrayRef<StringRef> mlir::lmc::getCompileStageNames() {
  static const StringRef names[] = {"input", "training", "gpu", "llvm-dialect"};
  return names;
}

FailureOr<SmallVector<CompileStage>>
mlir::lmc::getCompileStages(const CompilePipelineOptions &options,
                            ArrayRef<ExtraPasses> extra, raw_ostream &errors,
                            bool gpuOnly) {
  // The stages, each a function of the options alone.
  SmallVector<CompileStage> stages;
  stages.push_back({"training", [&options](OpPassManager &pm) {
                      TrainingPipelineOptions training;
                      training.recompute = options.recompute;
                      training.attention = options.attention;
                      training.weightDecayOn = options.weightDecayOn;
                      training.mesh = options.mesh;
                      training.zero = options.zero;
                      training.sequenceParallel = options.sequenceParallel;
                      training.bucketBytes = options.bucketBytes;
                      training.overlap = options.overlap;
                      training.dpSync = options.dpSync;
                      training.reportSyncEvery = options.reportSyncEvery;
                      training.report = options.report;
                      training.fuse = options.fuse;
                      training.gemmEpilogues = options.gemmEpilogues;
                      training.target = options.target;
                      training.gradAccum = options.gradAccum;
                      training.microbatches = options.microbatches;
                      training.pipelineSchedule = options.pipelineSchedule;
                      training.chunkLossHead = options.chunkLossHead;
                      training.chunkLossRows = options.chunkLossRows;
                      training.gpuRowKernels = options.gpuRowKernels;
                      training.precision = options.precision;
                      training.bf16Storage = options.bf16Storage;
                      buildTrainingPipeline(pm, training);
                    }});
  if (options.target == Target::CUDA) {
    stages.push_back({"gpu", [&options, gpuOnly](OpPassManager &pm) {
                        GpuPipelineOptions gpu;
                        gpu.chip = options.cudaArch;
                        if (!options.cudaToolkit.empty())
                          gpu.toolkit = options.cudaToolkit;
                        gpu.optLevel = options.optLevel;
                        // The PTX text when the kernels are the output; a
                        // fatbin (a cubin for the chip and its PTX) to embed.
                        gpu.format = gpuOnly ? "isa" : options.gpuFormat;
                        gpu.precision = options.precision;
                        gpu.asyncLaunches = options.asyncLaunches;
                        gpu.streamFunctions = options.streamFunctions;
                        gpu.rowReductions = options.gpuRowKernels;
                        buildGpuPipeline(pm, gpu);
                      }});
    if (!gpuOnly)
      stages.push_back({"llvm-dialect",
                        [](OpPassManager &pm) { buildGpuHostPipeline(pm); }});
  } else {
    stages.push_back({"llvm-dialect", [&options](OpPassManager &pm) {
                        // Shared kernels keep functions small and the code
                        // independent of the depth of the model.
                        pm.addPass(createLMCOutlineKernels());
                        ReferencePipelineOptions lowering;
                        lowering.libraryCalls = true;
                        lowering.approximateMath = options.approximateMath;
                        lowering.threads = options.threads;
                        lowering.precision = options.precision;
                        buildReferencePipeline(pm, lowering);
                      }});
  }

  // The researcher's passes, checked now, added where they were asked for.
  for (const ExtraPasses &passes : extra) {
    if (!llvm::is_contained(getCompileStageNames(), passes.stage)) {
      errors << "no stage '" << passes.stage << "' to add passes to; the "
             << "stages are";
      for (StringRef name : getCompileStageNames())
        errors << " " << name;
      errors << "\n";
      return failure();
    }
    OpPassManager check(ModuleOp::getOperationName());
    if (failed(parsePassPipeline(passes.pipeline, check, errors)))
      return failure();
    auto *stage = passes.stage == "input"
                      ? stages.begin()
                      : llvm::find_if(stages, [&](const CompileStage &s) {
                          return s.name == passes.stage;
                        });
    if (stage == stages.end()) {
      errors << "the stage '" << passes.stage
             << "' does not run for this target and output\n";
      return failure();
    }
    std::function<void(OpPassManager &)> build = stage->build;
    std::string pipeline = passes.pipeline;
    bool before = passes.stage == "input";
    stage->build = [build, pipeline, before](OpPassManager &pm) {
      if (!before)
        build(pm);
      // Parsed once already: cannot fail.
      (void)parsePassPipeline(pipeline, pm);
      if (before)
        build(pm);
    };
  }
  return stages;
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
