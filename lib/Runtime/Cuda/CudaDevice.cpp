//===- CudaDevice.cpp - The GPU of this process ---------------------------===//

#include "Cuda/CudaDevice.h"

#include "Comm/Collectives.h"
#include "Core/Error.h"
#include "Cuda/Driver.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/StepGraph.h"

#include <cstdio>
#include <mutex>
#include <set>
#include <unordered_set>
#include <vector>

namespace lmcrt::cuda {
namespace {

struct GpuState {
  bool ready = false;
  int ordinal = -1;
  int requested = -1; // mgpuSetDefaultDevice
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUstream compute = nullptr;
  std::string name;
  size_t totalMemory = 0;
  void (*synchronizeHook)() = nullptr;
};

/// Never destroyed: the compiled object's destructor (mgpuModuleUnload)
/// may run after the runtime's static objects are gone.
GpuState &gpu() {
  static GpuState *g = new GpuState;
  return *g;
}

/// Makes the context current on this thread (once per thread).
void makeCurrent() {
  thread_local CUcontext current = nullptr;
  GpuState &g = gpu();
  if (current != g.context) {
    check(driver().cuCtxSetCurrent(g.context), "cuCtxSetCurrent");
    current = g.context;
  }
}

/// Throws NoGpuError for the results that mean "no usable GPU here".
void checkInit(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return;
  std::string text = std::string(what) + " failed: " + errorText(result);
  if (result == CUDA_ERROR_STUB_LIBRARY)
    text += " (the CUDA toolkit's stub library, not a driver)";
  throw NoGpuError(text);
}

void init(int localRank) {
  GpuState &g = gpu();
  if (g.ready)
    return;
  std::string reason;
  if (!loadDriver(reason))
    throw NoGpuError(reason);
  const DriverApi &d = driver();
  checkInit(d.cuInit(0), "cuInit");
  int count = 0;
  checkInit(d.cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (count <= 0)
    throw NoGpuError("the CUDA driver reports no device");
  int ordinal = g.requested >= 0 ? g.requested : localRank % count;
  if (ordinal < 0 || ordinal >= count)
    fail("GPU " + std::to_string(ordinal) + " requested, but the machine has " +
         std::to_string(count));
  check(d.cuDeviceGet(&g.device, ordinal), "cuDeviceGet");
  char name[256] = {0};
  check(d.cuDeviceGetName(name, sizeof(name) - 1, g.device), "cuDeviceGetName");
  g.name = name;
  check(d.cuDeviceTotalMem(&g.totalMemory, g.device), "cuDeviceTotalMem");
  int managed = 0;
  check(d.cuDeviceGetAttribute(&managed, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY,
                               g.device),
        "cuDeviceGetAttribute(MANAGED_MEMORY)");
  if (!managed)
    fail("GPU " + std::to_string(ordinal) + " (" + g.name +
         ") does not support managed memory, which the runtime needs");
  check(d.cuDevicePrimaryCtxRetain(&g.context, g.device),
        "cuDevicePrimaryCtxRetain");
  check(d.cuCtxSetCurrent(g.context), "cuCtxSetCurrent");
  check(d.cuStreamCreate(&g.compute, CU_STREAM_NON_BLOCKING),
        "cuStreamCreate(compute stream)");
  g.ordinal = ordinal;
  g.ready = true;
}

/// Shared (managed) memory for the scalars compiled host code reads: slots
/// of kSlot bytes from blocks of kBlock bytes, recycled; a larger request
/// is a managed allocation of its own. A slot is reused only by work queued
/// after its release on the compute stream, as the step arena's buffers
/// are. take() hands out the free slot of lowest address, so that a step
/// that takes and gives slots in the same order as the previous one gets
/// the same addresses (a replayed CUDA graph compares them, StepGraph.h).
class SharedPool {
public:
  static constexpr size_t kSlot = 256, kBlock = 64 * 1024;

  void *take(size_t bytes) {
    std::unique_lock<std::mutex> lock(mutex);
    if (bytes > kSlot) {
      lock.unlock();
      step_graph::flush("a managed allocation", false);
      void *p = managed(bytes);
      lock.lock();
      large.insert(p);
      return p;
    }
    if (free.empty()) {
      lock.unlock();
      step_graph::flush("a managed allocation", false);
      char *block = static_cast<char *>(managed(kBlock));
      lock.lock();
      blocks.push_back(block);
      for (size_t i = 0; i < kBlock / kSlot; ++i)
        free.insert(block + i * kSlot);
    }
    void *p = *free.begin();
    free.erase(free.begin());
    return p;
  }

  /// False when `p` is not a slot of this pool.
  bool giveSlot(void *p) {
    std::lock_guard<std::mutex> lock(mutex);
    for (char *block : blocks)
      if (p >= block && p < block + kBlock) {
        free.insert(static_cast<char *>(p));
        return true;
      }
    return false;
  }

  /// False when `p` is not a large allocation of this pool; frees it
  /// after the compute stream's work.
  bool giveLarge(void *p) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (large.erase(p) == 0)
        return false;
    }
    synchronizeCompute();
    check(driver().cuMemFree(reinterpret_cast<CUdeviceptr>(p)),
          "cuMemFree(shared)");
    return true;
  }

private:
  static void *managed(size_t bytes) {
    CUdeviceptr p = 0;
    check(driver().cuMemAllocManaged(&p, bytes, CU_MEM_ATTACH_GLOBAL),
          "cuMemAllocManaged(" + std::to_string(bytes) + " bytes)");
    return reinterpret_cast<void *>(p);
  }

  std::mutex mutex;
  std::vector<char *> blocks; // never freed: a handful per run
  std::set<char *> free;
  std::unordered_set<void *> large;
};

SharedPool &sharedPool() {
  static SharedPool *pool = new SharedPool; // used until exit
  return *pool;
}

class CudaDeviceImpl final : public device::Device {
public:
  const char *target() const override { return "cuda"; }

  void init(int localRank) override { cuda::init(localRank); }

  std::string description() const override {
    const GpuState &g = gpu();
    char text[512];
    std::snprintf(text, sizeof(text), "%s, %.1f GiB, GPU %d", g.name.c_str(),
                  static_cast<double>(g.totalMemory) / (1u << 30), g.ordinal);
    return text;
  }

  std::string name() const override { return gpu().name; }

  void *allocate(size_t bytes) override {
    requireReady("device allocation");
    step_graph::flush("a device allocation", false);
    CUdeviceptr p = 0;
    check(driver().cuMemAlloc(&p, bytes ? bytes : 1),
          "cuMemAlloc(" + std::to_string(bytes) + " bytes)");
    return reinterpret_cast<void *>(p);
  }

  void *allocateShared(size_t bytes) override {
    requireReady("shared allocation");
    return sharedPool().take(bytes ? bytes : 1);
  }

  void release(void *ptr) override {
    requireReady("device free");
    if (sharedPool().giveSlot(ptr))
      return;
    // A captured or replayed step frees it at its end: the free waits.
    if (step_graph::deferRelease(ptr))
      return;
    if (sharedPool().giveLarge(ptr))
      return;
    // Kernels queued on the compute stream may still use the buffer.
    synchronizeCompute();
    check(driver().cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)), "cuMemFree");
  }

  void copy(void *dst, const void *src, size_t bytes) override {
    requireReady("device copy");
    // A captured or replayed step launches its graph first: the copy waits.
    if (!step_graph::flush("a copy to or from the host"))
      return;
    // Unified addressing: the driver infers the direction from the
    // pointers. Queued on the compute stream (after the work that wrote
    // the source), then waited for, so the host may use or reuse its side.
    check(driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                                 reinterpret_cast<CUdeviceptr>(src), bytes,
                                 gpu().compute),
          "cuMemcpyAsync(" + std::to_string(bytes) + " bytes)");
    synchronizeCompute();
  }

  void zero(void *dst, size_t bytes) override {
    requireReady("device zero fill");
    profile::mark(KernelClass::Elementwise);
    check(driver().cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(dst), 0,
                                   bytes, gpu().compute),
          "cuMemsetD8Async(" + std::to_string(bytes) + " bytes)");
  }

  void synchronize() override {
    requireReady("device synchronize");
    synchronizeCompute();
  }

  void beginStep(bool capturable) override {
    requireReady("step begin");
    step_graph::beginStep(capturable);
  }

  bool endStep() override {
    requireReady("step end");
    bool rerun = step_graph::endStep();
    for (void *p : step_graph::takeDeferred())
      release(p);
    return rerun;
  }
};

} // namespace

device::Device &cudaDevice() {
  static CudaDeviceImpl device;
  return device;
}

void registerCudaDevice() { device::registerDevice(cudaDevice()); }

bool tryInitDevice(int localRank, std::string &reason) {
  try {
    device::registerDevice(cudaDevice());
    device::initialize(localRank);
    return true;
  } catch (const RuntimeError &e) {
    reason = e.what();
    return false;
  }
}

bool ready() { return gpu().ready; }

void requireReady(const char *what) {
  if (!gpu().ready)
    comm::fatal(std::string(what) +
                ": the GPU is not initialised yet (the runtime initialises it "
                "after reading the model description)");
  makeCurrent();
}

CUstream computeStream() { return gpu().compute; }

void synchronizeCompute() {
  GpuState &g = gpu();
  // A captured or replayed step launches its graph first; a lost capture
  // queued nothing to wait for.
  if (!step_graph::flush("a host wait"))
    return;
  profile::beforeWait();
  if (g.synchronizeHook)
    g.synchronizeHook();
  else
    check(driver().cuStreamSynchronize(g.compute),
          "cuStreamSynchronize(compute stream)");
  profile::afterWait();
}

void setSynchronizeHook(void (*hook)()) { gpu().synchronizeHook = hook; }

int deviceOrdinal() { return gpu().ordinal; }

void requestOrdinal(int ordinal) {
  GpuState &g = gpu();
  if (g.ready && ordinal != g.ordinal)
    comm::fatal("mgpuSetDefaultDevice(" + std::to_string(ordinal) +
                "): this process already runs on GPU " +
                std::to_string(g.ordinal));
  g.requested = ordinal;
}

} // namespace lmcrt::cuda
