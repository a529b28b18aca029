//===- GpuPipeline.cpp - The training step as GPU kernels -----------------===//

#include "lmc/Conversion/Passes.h"
#include "lmc/Pipelines/Pipelines.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::lmc;

void mlir::lmc::buildGpuPipeline(OpPassManager &pm,
                                 const GpuPipelineOptions &options) {
  // The clipping coefficient on the device, read by the AdamW updates in
  // their loops; the host reads the loss and the norm at the step's end, so
  // that nothing waits mid-step.
  pm.addPass(createLMCDeviceScalars());
  // Layers share kernels: the device code grows with the kinds of ops, not
  // with the depth of the model.
  if (options.outline)
    pm.addPass(createLMCOutlineKernels());
  // The norms and cross-entropies outside fusion groups stay lmc ops: they
  // bufferize to lmc.buffer_row_reduction, calls of the runtime's row
  // kernels (a warp or a block per row).
  ConvertLMCToLinalgOptions toLinalg;
  toLinalg.runtimeRowReductions = options.rowReductions && options.runtimeCalls;
  pm.addPass(createConvertLMCToLinalg(toLinalg));
  pm.addPass(createCanonicalizerPass());
  // Each fusion group's kernel one loop nest, one row per iteration (one
  // GPU thread each, lmc-fused-loops-to-gpu).
  LMCFuseKernelLoopsOptions fused;
  fused.rowsPerBlock = 1;
  // An elementwise group (bias + GELU, the AdamW update) a thread per
  // element, coalesced, rather than a thread per row.
  fused.elementsAsRows = true;
  // The sums over rows (bias and LayerNorm gradients, norms, the loss) add
  // their per-row partials in chunks of 64 rows first: two kernels parallel
  // over the chunks instead of one thread per column adding every row.
  fused.partialsChunk = 64;
  // The float32 sums to a scalar (the squared norms for clipping, the last
  // step of a group's sum) one call each of the runtime's sum kernel: one
  // parallel kernel in a fixed order, instead of a kernel per chunk step,
  // a one-thread kernel at the end and the fills of the partials.
  SmallVector<StringRef> kernels;
  StringRef(options.libraryCalls).split(kernels, ',', -1, false);
  fused.runtimeSums =
      options.runtimeCalls && llvm::any_of(kernels, [](StringRef kernel) {
        return kernel.trim() == "sum";
      });
  pm.addPass(createLMCFuseKernelLoops(fused));
  pm.addPass(createCanonicalizerPass());

  // Bufferization as in the reference pipeline with library calls (what
  // `lmc compile` runs for the CPU): straight-line functions, each buffer
  // freed after its last use.
  pm.addPass(createLMCBufferize());
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferHoistingPass());
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
  pm.addPass(createLMCFreeBuffers());
  // GEMMs and the embedding gradient (what `library-calls` names) stay
  // calls into the runtime: cuBLASLt, and a scatter-add kernel of its own;
  // with the collectives and attention, the GPU runtime's functions, as
  // their buffers will be in GPU memory.
  ConvertLMCToRuntimeOptions runtimeCalls;
  for (StringRef kernel : kernels)
    runtimeCalls.kernels.push_back(kernel.trim().str());
  runtimeCalls.libraryCalls = !runtimeCalls.kernels.empty();
  runtimeCalls.precision = options.precision;
  runtimeCalls.device = options.runtimeCalls ? "gpu" : "cpu";
  pm.addPass(createConvertLMCToRuntime(runtimeCalls));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  pm.addPass(createCSEPass());
  pm.addPass(createConvertBufferizationToMemRefPass());

  // The loop nest of each fusion group becomes one kernel; every other loop
  // nest becomes a kernel, all kernels one gpu.module.
  LMCFusedLoopsToGPUOptions fusedKernels;
  fusedKernels.blockSize = options.blockSize;
  pm.addPass(createLMCFusedLoopsToGPU(fusedKernels));
  LMCLinalgToGPUOptions kernelsOptions;
  kernelsOptions.blockSize = options.blockSize;
  pm.addPass(createLMCLinalgToGPU(kernelsOptions));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Constants and sizes move into the kernels (outlining no longer does
  // this), so that the code generator sees constant extents.
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createLMCMergeGPUModules());
  // The host code queues the kernels without waiting for each. The shared
  // host functions that only queue GPU work stay out of line, called as
  // stream-ordered functions, so that the entry points grow with the depth
  // of the model as calls, not as launch sequences; the others (those whose
  // results the host reads) are inlined, so that one token chain per entry
  // point orders the host's reads (the kernels stay shared: they are in the
  // gpu.module by now).
  if (options.asyncLaunches) {
    if (options.streamFunctions)
      pm.addPass(createLMCGpuStreamFunctions());
    pm.addPass(createInlinerPass());
    pm.addPass(createLMCGpuAsyncLaunches());
  }
  // What the host code loads, stores or copies itself is host-shared
  // memory; every other buffer is device memory.
  pm.addPass(createLMCHostSharedBuffers());

  // Device code: NVVM for the chip, then PTX (or a cubin) with libdevice.
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  device.addPass(createSCFToControlFlowPass());
  device.addPass(memref::createExpandStridedMetadataPass());
  device.addPass(createLowerAffinePass());
  device.addPass(createConvertGpuOpsToNVVMOps());
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  device.addPass(createReconcileUnrealizedCastsPass());
  // Upstream gpu-module-to-binary links libdevice only when given a toolkit,
  // and otherwise leaves libdevice calls unresolved without an error
  // (test/upstream/gpu-module-to-binary-no-libdevice.mlir): the check fails
  // the compile instead when the toolkit's libdevice is missing.
  LMCCheckDeviceCallsOptions check;
  check.toolkit = options.toolkit;
  pm.addPass(createLMCCheckDeviceCalls(check));
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = options.toolkit;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}
