//===- MlirGpuRuntime.cpp - The mgpu* functions of MLIR's GPU lowering ----===//
//
// MLIR's gpu-to-llvm conversion lowers the host side of the gpu dialect to
// calls of `mgpu*` C functions, which upstream implements in
// libmlir_cuda_runtime (not packaged by Debian). These are lmc's, over the
// driver API of Driver.h, with the signatures MLIR 22 declares (checked with
// `mlir-opt --gpu-to-llvm`):
//
// - Module loading is lazy. The compiled object's global constructor calls
//   mgpuModuleLoad (a cubin or fatbin) or mgpuModuleLoadJIT (PTX) before
//   `main`, possibly on a machine without a GPU: these only record the
//   image. The driver loads it at the first mgpuModuleGetFunction, once the
//   runtime has initialised the GPU; functions are cached by (module, name).
//   mgpuModuleUnload (the destructor) unloads what was loaded.
// - Streams: mgpuStreamCreate returns the runtime's compute stream (so that
//   kernels, GEMMs and collectives share one order) and mgpuStreamDestroy of
//   it does nothing; mgpuStreamSynchronize waits for it (polling the
//   collectives it waits for, with their timeout: synchronizeCompute).
// - Memory: mgpuMemAlloc gives device memory from lmcrt::device, or with
//   `isHostShared` (`gpu.alloc host_shared`, which lmc-host-shared-buffers
//   makes of the buffers the host code loads and stores) shared memory,
//   host memory before the GPU is initialised (the model description);
//   mgpuMemFree releases either.
// - Every stream operation (launch, copy, fill) passes the step graph's gate
//   first (StepGraph.h): a replayed step queues nothing, a captured one
//   records it.
// - Every driver error ends the job naming the call and CUDA's error.
//
// Not provided: the sparse (cuSPARSE) and TMA descriptor (nvgpu) helpers,
// which lmc's pipeline does not emit.
//
//===----------------------------------------------------------------------===//

#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/StepGraph.h"

#include "Comm/Collectives.h"

#include <cuda.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::cuda;

namespace {

/// A module image recorded by mgpuModuleLoad*, loaded on first use.
struct LazyModule {
  const void *image = nullptr;
  size_t size = 0;  // 0 when unknown (PTX is NUL-terminated)
  bool jit = false; // PTX compiled by the driver
  int optLevel = 0;
  CUmodule module = nullptr;
  std::map<std::string, CUfunction> functions;
};

std::mutex &moduleMutex() {
  static std::mutex *m = new std::mutex; // outlives static destruction
  return *m;
}

void loadNow(LazyModule &m) {
  const DriverApi &d = driver();
  if (!m.jit) {
    check(d.cuModuleLoadData(&m.module, m.image),
          "cuModuleLoadData(" + std::to_string(m.size) + "-byte image)");
    return;
  }
  // PTX: JIT-compile with the requested optimisation level, keeping the
  // compiler's error log for the message.
  char log[8192] = {0};
  CUjit_option options[] = {CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {reinterpret_cast<void *>(static_cast<intptr_t>(
                        m.optLevel < 0 ? 0 : (m.optLevel > 4 ? 4 : m.optLevel))),
                    log, reinterpret_cast<void *>(sizeof(log) - 1)};
  CUresult r = d.cuModuleLoadDataEx(&m.module, m.image, 3, options, values);
  if (r != CUDA_SUCCESS)
    comm::fatal("cuModuleLoadDataEx(PTX, O" + std::to_string(m.optLevel) +
                ") failed: " + errorText(r) + (log[0] ? "\n" + std::string(log)
                                                      : std::string()));
}

CUstream asStream(void *stream) {
  return stream ? static_cast<CUstream>(stream) : computeStream();
}

} // namespace

extern "C" {

void *mgpuModuleLoad(void *data, size_t gpuBlobSize) {
  auto *m = new LazyModule;
  m->image = data;
  m->size = gpuBlobSize;
  return m;
}

void *mgpuModuleLoadJIT(void *data, int optLevel) {
  auto *m = new LazyModule;
  m->image = data;
  m->size = data ? std::strlen(static_cast<const char *>(data)) : 0;
  m->jit = true;
  m->optLevel = optLevel;
  return m;
}

void mgpuModuleUnload(void *module) {
  auto *m = static_cast<LazyModule *>(module);
  if (!m)
    return;
  if (m->module && ready()) {
    CUresult r = driver().cuModuleUnload(m->module);
    // At exit the driver may already be shutting down.
    if (r != CUDA_ERROR_DEINITIALIZED)
      check(r, "cuModuleUnload");
  }
  delete m;
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  requireReady("mgpuModuleGetFunction");
  auto *m = static_cast<LazyModule *>(module);
  std::lock_guard<std::mutex> lock(moduleMutex());
  if (!m->module)
    loadNow(*m);
  auto it = m->functions.find(name);
  if (it != m->functions.end())
    return it->second;
  CUfunction f = nullptr;
  check(driver().cuModuleGetFunction(&f, m->module, name),
        std::string("cuModuleGetFunction(") + name + ")");
  profile::nameFunction(f, name);
  m->functions.emplace(name, f);
  return f;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount) {
  requireReady("mgpuLaunchKernel");
  auto *f = static_cast<CUfunction>(function);
  if (step_graph::gating() && !extra) {
    const unsigned dims[6] = {
        static_cast<unsigned>(gridX),  static_cast<unsigned>(gridY),
        static_cast<unsigned>(gridZ),  static_cast<unsigned>(blockX),
        static_cast<unsigned>(blockY), static_cast<unsigned>(blockZ)};
    if (step_graph::skipLaunch(f, dims, static_cast<unsigned>(smem), params,
                               paramsCount))
      return;
  } else if (step_graph::skip(step_graph::Signature("launch with extra")
                                  .value(f)
                                  .value(extra))) {
    return;
  }
  profile::mark(profile::classOf(f));
  CUresult r =
      driver().cuLaunchKernel(f, gridX, gridY, gridZ, blockX, blockY, blockZ,
                              smem, asStream(stream), params, extra);
  if (r != CUDA_SUCCESS && step_graph::captureFailed(r, "cuLaunchKernel"))
    return;
  step_graph::finished();
  check(r, "cuLaunchKernel(grid " + std::to_string(gridX) + "x" +
               std::to_string(gridY) + "x" + std::to_string(gridZ) +
               ", block " + std::to_string(blockX) + "x" +
               std::to_string(blockY) + "x" + std::to_string(blockZ) + ")");
}

void mgpuLaunchClusterKernel(void *function, intptr_t clusterX,
                             intptr_t clusterY, intptr_t clusterZ,
                             intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                             intptr_t blockX, intptr_t blockY, intptr_t blockZ,
                             int32_t smem, void *stream, void **params,
                             void **extra) {
  requireReady("mgpuLaunchClusterKernel");
  if (step_graph::unsupported("a cluster launch"))
    return;
  profile::mark(profile::classOf(static_cast<CUfunction>(function)));
  CUlaunchAttribute cluster = {};
  cluster.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  cluster.value.clusterDim.x = static_cast<unsigned>(clusterX);
  cluster.value.clusterDim.y = static_cast<unsigned>(clusterY);
  cluster.value.clusterDim.z = static_cast<unsigned>(clusterZ);
  CUlaunchConfig config = {};
  config.gridDimX = static_cast<unsigned>(gridX);
  config.gridDimY = static_cast<unsigned>(gridY);
  config.gridDimZ = static_cast<unsigned>(gridZ);
  config.blockDimX = static_cast<unsigned>(blockX);
  config.blockDimY = static_cast<unsigned>(blockY);
  config.blockDimZ = static_cast<unsigned>(blockZ);
  config.sharedMemBytes = static_cast<unsigned>(smem);
  config.hStream = asStream(stream);
  config.attrs = &cluster;
  config.numAttrs = 1;
  check(driver().cuLaunchKernelEx(&config, static_cast<CUfunction>(function),
                                  params, extra),
        "cuLaunchKernelEx(cluster launch)");
}

void *mgpuStreamCreate() {
  requireReady("mgpuStreamCreate");
  return computeStream();
}

void mgpuStreamDestroy(void *stream) {
  // The compute stream lives as long as the process; no other is handed out.
  (void)stream;
}

void mgpuStreamSynchronize(void *stream) {
  requireReady("mgpuStreamSynchronize");
  CUstream s = asStream(stream);
  if (s == computeStream()) {
    // Polls the collectives the stream waits for, with their timeout.
    synchronizeCompute();
    return;
  }
  check(driver().cuStreamSynchronize(s), "cuStreamSynchronize");
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  requireReady("mgpuStreamWaitEvent");
  // All of a step's work is on the compute stream, in order: while the
  // step graph gates (StepGraph.h) an event of it orders nothing more.
  if (step_graph::active() && asStream(stream) == computeStream())
    return;
  check(driver().cuStreamWaitEvent(asStream(stream), static_cast<CUevent>(event),
                                   0),
        "cuStreamWaitEvent");
}

void *mgpuEventCreate() {
  requireReady("mgpuEventCreate");
  CUevent event = nullptr;
  check(driver().cuEventCreate(&event, CU_EVENT_DISABLE_TIMING),
        "cuEventCreate");
  return event;
}

void mgpuEventDestroy(void *event) {
  requireReady("mgpuEventDestroy");
  check(driver().cuEventDestroy(static_cast<CUevent>(event)), "cuEventDestroy");
}

void mgpuEventSynchronize(void *event) {
  requireReady("mgpuEventSynchronize");
  if (step_graph::active()) {
    // Its record was not queued (below): wait for the whole stream.
    synchronizeCompute();
    return;
  }
  check(driver().cuEventSynchronize(static_cast<CUevent>(event)),
        "cuEventSynchronize");
}

void mgpuEventRecord(void *event, void *stream) {
  requireReady("mgpuEventRecord");
  if (step_graph::active() && asStream(stream) == computeStream())
    return;
  check(driver().cuEventRecord(static_cast<CUevent>(event), asStream(stream)),
        "cuEventRecord");
}

void *mgpuMemAlloc(uint64_t sizeBytes, void * /*stream*/, bool isHostShared) {
  if (isHostShared) // host memory until the GPU is initialised
    return device::allocateShared(sizeBytes);
  requireReady("mgpuMemAlloc");
  return device::allocate(sizeBytes);
}

void mgpuMemFree(void *ptr, void * /*stream*/) {
  requireReady("mgpuMemFree");
  device::release(ptr);
}

void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream) {
  requireReady("mgpuMemcpy");
  if (step_graph::skip(
          step_graph::Signature("memcpy").value(dst).value(src).value(
              sizeBytes)))
    return;
  profile::mark(KernelClass::Elementwise);
  CUresult r = driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                                      reinterpret_cast<CUdeviceptr>(src),
                                      sizeBytes, asStream(stream));
  if (r != CUDA_SUCCESS && step_graph::captureFailed(r, "cuMemcpyAsync"))
    return;
  step_graph::finished();
  check(r, "cuMemcpyAsync(" + std::to_string(sizeBytes) + " bytes)");
}

void mgpuMemset32(void *dst, unsigned int value, size_t count, void *stream) {
  requireReady("mgpuMemset32");
  if (step_graph::skip(step_graph::Signature("memset32")
                           .value(dst)
                           .value(value)
                           .value(count)))
    return;
  profile::mark(KernelClass::Elementwise);
  CUresult r = driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst),
                                         value, count, asStream(stream));
  if (r != CUDA_SUCCESS && step_graph::captureFailed(r, "cuMemsetD32Async"))
    return;
  step_graph::finished();
  check(r, "cuMemsetD32Async");
}

void mgpuMemset16(void *dst, unsigned short value, size_t count,
                  void *stream) {
  requireReady("mgpuMemset16");
  if (step_graph::skip(step_graph::Signature("memset16")
                           .value(dst)
                           .value(value)
                           .value(count)))
    return;
  profile::mark(KernelClass::Elementwise);
  CUresult r = driver().cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst),
                                         value, count, asStream(stream));
  if (r != CUDA_SUCCESS && step_graph::captureFailed(r, "cuMemsetD16Async"))
    return;
  step_graph::finished();
  check(r, "cuMemsetD16Async");
}

void mgpuMemHostRegister(void *ptr, uint64_t sizeBytes) {
  requireReady("mgpuMemHostRegister");
  check(driver().cuMemHostRegister(ptr, sizeBytes, 0), "cuMemHostRegister");
}

void mgpuMemHostUnregister(void *ptr) {
  requireReady("mgpuMemHostUnregister");
  check(driver().cuMemHostUnregister(ptr), "cuMemHostUnregister");
}

/// `descriptor` is a ranked memref descriptor {allocated, aligned, offset,
/// sizes[rank], strides[rank]}; the memref must be contiguous.
void mgpuMemHostRegisterMemRef(int64_t rank, void *descriptor,
                               int64_t elementSizeBytes) {
  auto *base = static_cast<char *>(descriptor);
  char *aligned = *reinterpret_cast<char **>(base + sizeof(void *));
  auto *ints = reinterpret_cast<int64_t *>(base + 2 * sizeof(void *));
  int64_t elements = 1;
  for (int64_t d = 0; d < rank; ++d)
    elements *= ints[1 + d];
  mgpuMemHostRegister(aligned + ints[0] * elementSizeBytes,
                      static_cast<uint64_t>(elements * elementSizeBytes));
}

void mgpuMemHostUnregisterMemRef(int64_t /*rank*/, void *descriptor,
                                 int64_t elementSizeBytes) {
  auto *base = static_cast<char *>(descriptor);
  char *aligned = *reinterpret_cast<char **>(base + sizeof(void *));
  auto *ints = reinterpret_cast<int64_t *>(base + 2 * sizeof(void *));
  mgpuMemHostUnregister(aligned + ints[0] * elementSizeBytes);
}

void mgpuSetDefaultDevice(int32_t device) { requestOrdinal(device); }

} // extern "C"
