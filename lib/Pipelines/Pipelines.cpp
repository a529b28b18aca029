//===- Pipelines.cpp - The named lmc pipelines ----------------------------===//

#include "lmc/Conversion/Passes.h"
#include "lmc/Pipelines/Pipelines.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::lmc;

/// The upstream part: tensors to buffers to loops to the LLVM dialect.
static constexpr const char *kLowerToLLVM =
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "func.func(buffer-hoisting,buffer-loop-hoisting),"
    "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
    "func.func(convert-linalg-to-loops),"
    "canonicalize,cse,"
    "convert-scf-to-cf,"
    "expand-strided-metadata,lower-affine,"
    // Ops with an LLVM intrinsic first (rsqrt has no libm function), the
    // rest (tanh, erf) as libm calls.
    "convert-vector-to-llvm,convert-math-to-llvm,convert-math-to-libm,"
    "finalize-memref-to-llvm,"
    "convert-arith-to-llvm,convert-index-to-llvm,"
    "convert-cf-to-llvm,convert-func-to-llvm,"
    "reconcile-unrealized-casts";

void mlir::lmc::buildReferencePipeline(
    OpPassManager &pm, const ReferencePipelineOptions &options) {
  if (!options.params.empty()) {
    LMCBindParamsOptions bind;
    bind.from = options.params;
    pm.addPass(createLMCBindParams(bind));
  }
  pm.addPass(createConvertLMCToLinalg());
  pm.addPass(createCanonicalizerPass());
  // The pipeline text is fixed and checked by the tests; a failure to parse
  // it is a bug in this file.
  if (failed(parsePassPipeline(kLowerToLLVM, pm, llvm::errs())))
    llvm::report_fatal_error("lmc: malformed reference lowering pipeline");
}

void mlir::lmc::buildTrainingPipeline(OpPassManager &pm,
                                      const TrainingPipelineOptions &options) {
  LMCAutodiffOptions autodiff;
  autodiff.recompute = options.recompute;
  pm.addPass(createLMCAutodiff(autodiff));
  LMCOptimizerOptions optimizer;
  optimizer.weightDecayOn = options.weightDecayOn;
  pm.addPass(createLMCOptimizer(optimizer));
  pm.addPass(createLMCExportEntryPoints());
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
}
