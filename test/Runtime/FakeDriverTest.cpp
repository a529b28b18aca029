//===- FakeDriverTest.cpp - Which driver calls the GPU runtime makes ------===//
//
// Run with LMCRT_CUDA_DRIVER naming the fake driver (FakeCudaDriver.cpp,
// test/Runtime/cuda-fake-driver.test), which logs its calls: buffers are
// device memory (cuMemAlloc), the scalars compiled host code reads come
// from a pool of managed memory (one cuMemAllocManaged per 64 KiB, slots
// recycled without the driver), copies are cuMemcpyAsync then a wait, fills
// cuMemsetD8Async, the step arena is one cuMemAlloc, and with LMCRT_PROFILE=1
// the compute stream gets timing events.
//
//===----------------------------------------------------------------------===//

#include "Core/Device.h"
#include "Core/DeviceArray.h"
#include "Core/StepMemory.h"
#include "Cuda/CudaDevice.h"
#include "Cuda/GpuProfile.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>
#include <string>

extern "C" void *mgpuMemAlloc(uint64_t sizeBytes, void *stream,
                              bool isHostShared);
extern "C" void mgpuMemFree(void *ptr, void *stream);

namespace {

using lmcrt::DeviceArray;
namespace device = lmcrt::device;

struct Fake {
  const char *(*log)() = nullptr;
  void (*clear)() = nullptr;
};

/// The fake driver's log functions (the library the runtime opened).
Fake &fake() {
  static Fake f = [] {
    Fake out;
    const char *path = std::getenv("LMCRT_CUDA_DRIVER");
    void *lib = path ? dlopen(path, RTLD_NOW | RTLD_NOLOAD) : nullptr;
    if (lib) {
      out.log = reinterpret_cast<const char *(*)()>(
          dlsym(lib, "lmcrt_fake_cuda_log"));
      out.clear =
          reinterpret_cast<void (*)()>(dlsym(lib, "lmcrt_fake_cuda_clear"));
    }
    return out;
  }();
  return f;
}

class FakeDriver : public ::testing::Test {
protected:
  void SetUp() override {
    std::string reason;
    ASSERT_TRUE(lmcrt::cuda::tryInitDevice(0, reason)) << reason;
    ASSERT_NE(fake().log, nullptr) << "LMCRT_CUDA_DRIVER is not the fake";
    fake().clear();
  }
  std::string calls() { return fake().log(); }
};

TEST_F(FakeDriver, BuffersAreDeviceMemory) {
  void *p = device::allocate(1000);
  EXPECT_EQ(calls(), "cuMemAlloc 1000\n");
  EXPECT_FALSE(device::hostAddressable());
  fake().clear();
  device::release(p); // waits for the stream first
  EXPECT_EQ(calls(), "cuStreamSynchronize\ncuMemFree\n");
}

TEST_F(FakeDriver, SharedScalarsComeFromAManagedPool) {
  void *a = device::allocateShared(4);
  void *b = device::allocateShared(68);
  void *c = mgpuMemAlloc(4, nullptr, true); // gpu.alloc host_shared
  EXPECT_EQ(calls(), "cuMemAllocManaged 65536 global\n");
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  fake().clear();
  device::release(a);
  mgpuMemFree(c, nullptr);
  void *d = device::allocateShared(4); // a recycled slot
  EXPECT_TRUE(d == a || d == c);
  device::release(b);
  device::release(d);
  EXPECT_EQ(calls(), ""); // no driver call for pooled scalars
  void *big = device::allocateShared(4096);
  device::release(big);
  EXPECT_EQ(calls(), "cuMemAllocManaged 4096 global\ncuStreamSynchronize\n"
                     "cuMemFree\n");
  fake().clear();
  void *q = mgpuMemAlloc(64, nullptr, false); // gpu.alloc: device memory
  EXPECT_EQ(calls(), "cuMemAlloc 64\n");
  mgpuMemFree(q, nullptr);
}

TEST_F(FakeDriver, CopiesAndFills) {
  DeviceArray<float> a(8);
  EXPECT_NE(a.host(), a.device()); // the host's copy is its own
  fake().clear();
  for (int i = 0; i < 8; ++i)
    a.host()[i] = float(i);
  a.toDevice(2, 3);
  EXPECT_EQ(calls(), "cuMemcpyAsync 12\ncuStreamSynchronize\n");
  EXPECT_EQ(a.device()[4], 4.0f); // the fake's device memory is the host's
  fake().clear();
  device::zero(a.device(), sizeof(float) * 8);
  a.toHost();
  EXPECT_EQ(calls(),
            "cuMemsetD8Async 32\ncuMemcpyAsync 32\ncuStreamSynchronize\n");
  EXPECT_EQ(a.host()[4], 0.0f);
}

TEST_F(FakeDriver, StepArenaIsOneDeviceAllocation) {
  namespace sm = lmcrt::step_memory;
  for (int step = 0; step < 2; ++step) {
    sm::begin();
    void *x = _mlir_memref_to_llvm_alloc(4096);
    void *y = _mlir_memref_to_llvm_alloc(512);
    _mlir_memref_to_llvm_free(x);
    _mlir_memref_to_llvm_free(y);
    sm::end();
  }
  const std::string log = calls();
  EXPECT_EQ(log.find("cuMemAllocManaged"), std::string::npos) << log;
  // The recording step's two buffers and the arena; nothing in step two.
  EXPECT_NE(log.find("cuMemAlloc 4096\ncuMemAlloc 512\n"), std::string::npos)
      << log;
  EXPECT_NE(log.find("cuMemAlloc 4608\n"), std::string::npos) << log;
}

TEST_F(FakeDriver, ProfileEventsAroundLaunchGroups) {
  namespace profile = lmcrt::cuda::profile;
  if (!profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 not set";
  profile::mark(lmcrt::cuda::KernelClass::Gemm);
  profile::mark(lmcrt::cuda::KernelClass::Gemm); // the same group
  profile::mark(lmcrt::cuda::KernelClass::Attention);
  lmcrt::cuda::synchronizeCompute();
  // Three groups (GEMM, attention, the host wait): three events, two
  // elapsed times (the host wait stays open until the next work).
  EXPECT_EQ(calls(), "cuEventCreate flags=0\ncuEventRecord\n"
                     "cuEventCreate flags=0\ncuEventRecord\n"
                     "cuEventCreate flags=0\ncuEventRecord\n"
                     "cuStreamSynchronize\n"
                     "cuEventElapsedTime\ncuEventElapsedTime\n");
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
