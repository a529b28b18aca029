//===- FakeDriverTest.cpp - Which driver calls the GPU runtime makes ------===//
//
// Run with LMCRT_CUDA_DRIVER naming the fake driver (FakeCudaDriver.cpp,
// test/Runtime/cuda-fake-driver.test), which logs its calls: buffers are
// device memory (cuMemAlloc), the scalars compiled host code reads come
// from a pool of managed memory (one cuMemAllocManaged per 64 KiB, slots
// recycled without the driver), copies are cuMemcpyAsync then a wait, fills
// cuMemsetD8Async, the step arena is one cuMemAlloc, and with LMCRT_PROFILE=1
// the compute stream gets timing events. The StepGraph tests run a small
// step as compiled code queues it (kernel launches, fills, a copy of the
// result to a host-shared slot, a gated runtime call, then a wait) through
// the trainer's hooks: captured as a graph at the first planned step,
// replayed with patched parameters after, divergences, LMCRT_CUDA_GRAPH=0
// and the profile (uncaptured), a lost capture run again.
//
//===----------------------------------------------------------------------===//

#include "Core/Device.h"
#include "Core/DeviceArray.h"
#include "Core/StepMemory.h"
#include "Cuda/CudaDevice.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/StepGraph.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <vector>

extern "C" void *mgpuMemAlloc(uint64_t sizeBytes, void *stream,
                              bool isHostShared);
extern "C" void mgpuMemFree(void *ptr, void *stream);
extern "C" void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                                 intptr_t gridZ, intptr_t blockX,
                                 intptr_t blockY, intptr_t blockZ, int32_t smem,
                                 void *stream, void **params, void **extra,
                                 size_t paramsCount);
extern "C" void mgpuMemset32(void *dst, unsigned int value, size_t count,
                             void *stream);
extern "C" void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                           void *stream);
extern "C" void mgpuStreamSynchronize(void *stream);

namespace {

using lmcrt::DeviceArray;
namespace device = lmcrt::device;

struct Fake {
  const char *(*log)() = nullptr;
  void (*clear)() = nullptr;
  CUfunction (*function)(const char *, int, const size_t *) = nullptr;
  void (*failLaunches)(int) = nullptr;
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
      out.function =
          reinterpret_cast<CUfunction (*)(const char *, int, const size_t *)>(
              dlsym(lib, "lmcrt_fake_cuda_function"));
      out.failLaunches = reinterpret_cast<void (*)(int)>(
          dlsym(lib, "lmcrt_fake_cuda_fail_launches"));
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
    lmcrt::cuda::step_graph::reset();
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

namespace sg = lmcrt::cuda::step_graph;
namespace sm = lmcrt::step_memory;

/// A training step as compiled code queues it: kernels whose parameters are
/// integers (the fake logs their values), a fill, a runtime call (gated as
/// the lmcrt_gpu_* functions are, queuing a fill of its own), the result
/// copied to a host-shared slot, then the one wait and the host's read.
struct StepProgram {
  CUfunction init = nullptr, update = nullptr;
  int lr = 100;              // the per-step scalar (a kernel parameter)
  int callArg = 7;           // the runtime call's argument
  bool waitInMiddle = false; // a host wait after the fill
  bool ungated = false;      // a fill no gate sees after the first fill
  size_t arenaBytes = 256;   // the step's one buffer
  int read = -1;             // what the host read from the slot

  StepProgram() {
    const size_t one[] = {4}, two[] = {4, 4};
    init = fake().function("init", 1, one);
    update = fake().function("update", 2, two);
    // A step without allocations: the next step records the arena anew.
    sm::begin();
    sm::end();
    fake().clear();
  }

  static void launch(CUfunction f, std::vector<int> values) {
    std::vector<void *> params;
    for (int &v : values)
      params.push_back(&v);
    mgpuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, nullptr, params.data(), nullptr,
                     params.size());
  }

  static void runtimeCall(void *buffer, int arg) {
    sg::Gate gate(sg::Signature("fake_call").value(buffer).value(arg));
    if (gate.skip())
      return;
    device::zero(static_cast<char *>(buffer) + 16, 16);
  }

  /// One step through the trainer's hooks; true when the device asked for
  /// it again.
  bool step() {
    sm::begin();
    device::beginStep(true);
    void *x = _mlir_memref_to_llvm_alloc(arenaBytes);
    auto *slot = static_cast<int *>(mgpuMemAlloc(4, nullptr, true));
    launch(init, {5});
    mgpuMemset32(x, 7, 4, nullptr);
    if (waitInMiddle)
      mgpuStreamSynchronize(nullptr);
    if (ungated)
      device::zero(static_cast<char *>(x) + 64, 8);
    launch(update, {lr, 9});
    runtimeCall(x, callArg);
    mgpuMemcpy(slot, x, 4, nullptr);
    mgpuStreamSynchronize(nullptr);
    read = *slot;
    mgpuMemFree(slot, nullptr);
    _mlir_memref_to_llvm_free(x);
    device::synchronize();
    bool again = device::endStep();
    sm::end();
    return again;
  }
};

/// The lines of `log` that contain `what`.
int count(const std::string &log, const std::string &what) {
  int n = 0;
  for (size_t at = log.find(what); at != std::string::npos;
       at = log.find(what, at + 1))
    ++n;
  return n;
}

TEST_F(FakeDriver, StepCapturedThenReplayedAsOneGraphLaunch) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  const std::string eager = "cuLaunchKernel init 5\n"
                            "cuMemsetD32Async 4\n"
                            "cuLaunchKernel update 100 9\n"
                            "cuMemsetD8Async 16\n"
                            "cuMemcpyAsync 4\n"
                            "cuStreamSynchronize\n"
                            "cuStreamSynchronize\n";
  EXPECT_FALSE(p.step()); // step 0: records the arena, uncaptured
  EXPECT_NE(calls().find(eager), std::string::npos) << calls();
  EXPECT_EQ(p.read, 7);
  fake().clear();
  EXPECT_FALSE(p.step()); // step 1: captured, then launched at the wait
  EXPECT_EQ(calls(), "cuStreamBeginCapture thread-local\n"
                     "cuStreamEndCapture 5 nodes\n"
                     "cuGraphInstantiate 5 nodes\n"
                     "cuGraphLaunch 5 nodes\n"
                     "graph kernel init 5\n"
                     "graph memset32 4\n"
                     "graph kernel update 100 9\n"
                     "graph memset8 16\n"
                     "graph memcpy 4\n"
                     "cuStreamSynchronize\n"
                     "cuStreamSynchronize\n");
  EXPECT_EQ(p.read, 7); // the graph ran before the wait returned
  for (int step = 2; step < 4; ++step) {
    fake().clear();
    EXPECT_FALSE(p.step());
    // Nothing queued one by one: one graph launch, then the wait.
    EXPECT_EQ(calls(), "cuGraphLaunch 5 nodes\n"
                       "graph kernel init 5\n"
                       "graph memset32 4\n"
                       "graph kernel update 100 9\n"
                       "graph memset8 16\n"
                       "graph memcpy 4\n"
                       "cuStreamSynchronize\n"
                       "cuStreamSynchronize\n");
    EXPECT_EQ(p.read, 7);
  }
  sg::Stats stats = sg::stats();
  EXPECT_EQ(stats.captures, 1);
  EXPECT_EQ(stats.replays, 2);
  EXPECT_EQ(stats.nodes, 5);
  EXPECT_EQ(stats.operations, 5);
  EXPECT_EQ(stats.patchedLaunches, 0);
  EXPECT_FALSE(stats.disabled);
}

TEST_F(FakeDriver, ChangedScalarParameterPatchesItsNode) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  for (int step = 0; step < 2; ++step) {
    p.lr = 100 + step;
    p.step();
  }
  fake().clear();
  p.lr = 102;
  p.step();
  // Node 2 (the update's launch) gets the new learning rate, nothing else.
  EXPECT_EQ(calls(), "cuGraphExecKernelNodeSetParams node 2: update 102 9\n"
                     "cuGraphLaunch 5 nodes\n"
                     "graph kernel init 5\n"
                     "graph memset32 4\n"
                     "graph kernel update 102 9\n"
                     "graph memset8 16\n"
                     "graph memcpy 4\n"
                     "cuStreamSynchronize\n"
                     "cuStreamSynchronize\n");
  fake().clear();
  p.step(); // the same value again: the node already holds it
  EXPECT_EQ(count(calls(), "SetParams"), 0) << calls();
  EXPECT_EQ(count(calls(), "graph kernel update 102 9"), 1) << calls();
  EXPECT_EQ(sg::stats().patchedLaunches, 0);
  EXPECT_EQ(sg::stats().replays, 2);
}

TEST_F(FakeDriver, DivergenceRunsThePrefixThenGoesOnEagerly) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  p.step();
  p.step(); // captured with lr 100
  fake().clear();
  p.lr = 103;    // patched on the update's node...
  p.callArg = 8; // ...and the runtime call's argument differs: op 3
  p.step();
  // The skipped operations 0..2 run as a graph of their own (with this
  // step's learning rate), then the rest is queued as it comes.
  EXPECT_EQ(calls(), "cuGraphExecKernelNodeSetParams node 2: update 103 9\n"
                     "cuGraphClone 5 nodes\n"
                     "cuGraphKernelNodeSetParams update 103 9\n"
                     "cuGraphInstantiate 3 nodes\n"
                     "cuGraphLaunch 3 nodes\n"
                     "graph kernel init 5\n"
                     "graph memset32 4\n"
                     "graph kernel update 103 9\n"
                     "cuMemsetD8Async 16\n"
                     "cuMemcpyAsync 4\n"
                     "cuStreamSynchronize\n"
                     "cuStreamSynchronize\n");
  EXPECT_EQ(p.read, 7);
  EXPECT_EQ(sg::stats().divergences, 1);
  // The next step captures again, the one after replays the new graph.
  fake().clear();
  p.step();
  EXPECT_NE(calls().find("cuStreamBeginCapture"), std::string::npos) << calls();
  fake().clear();
  p.step();
  EXPECT_EQ(count(calls(), "cuLaunchKernel"), 0) << calls();
  EXPECT_EQ(count(calls(), "cuGraphLaunch 5 nodes"), 1) << calls();
  EXPECT_EQ(sg::stats().captures, 2);
  EXPECT_FALSE(sg::stats().disabled);
}

TEST_F(FakeDriver, FewerOperationsRunTheReplayedPartAtTheWait) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  p.step();
  p.step();
  fake().clear();
  // One operation fewer than captured: at the wait, the first four run.
  sm::begin();
  device::beginStep(true);
  void *x = _mlir_memref_to_llvm_alloc(p.arenaBytes);
  StepProgram::launch(p.init, {5});
  mgpuMemset32(x, 7, 4, nullptr);
  StepProgram::launch(p.update, {100, 9});
  StepProgram::runtimeCall(x, 7);
  mgpuStreamSynchronize(nullptr);
  _mlir_memref_to_llvm_free(x);
  device::synchronize();
  EXPECT_FALSE(device::endStep());
  sm::end();
  EXPECT_NE(calls().find("cuGraphInstantiate 4 nodes\ncuGraphLaunch 4 nodes\n"),
            std::string::npos)
      << calls();
  EXPECT_EQ(count(calls(), "graph memcpy"), 0) << calls();
  EXPECT_EQ(sg::stats().divergences, 1);
}

TEST_F(FakeDriver, UngatedWorkEndsTheReplayBeforeIt) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  p.ungated = true;
  p.step();
  fake().clear();
  p.step(); // captured, the ungated fill among the nodes
  EXPECT_NE(calls().find("cuGraphLaunch 6 nodes\n"), std::string::npos)
      << calls();
  fake().clear();
  p.step();
  // The fill's work is seen when it is queued: the operations before it run
  // as a graph (without its node), then it and the rest are queued once.
  EXPECT_NE(calls().find("cuGraphInstantiate 2 nodes\n"
                         "cuGraphLaunch 2 nodes\n"
                         "graph kernel init 5\n"
                         "graph memset32 4\n"
                         "cuMemsetD8Async 8\n"
                         "cuLaunchKernel update 100 9\n"),
            std::string::npos)
      << calls();
  EXPECT_EQ(count(calls(), "memset8 8"), 0) << calls();
  EXPECT_EQ(count(calls(), "cuMemsetD8Async 8"), 1) << calls();
  EXPECT_EQ(p.read, 7);
  // Captured again, diverging again: graphs go off.
  p.step();
  p.step();
  EXPECT_TRUE(sg::stats().disabled);
  EXPECT_EQ(sg::stats().divergences, 2);
  fake().clear();
  p.step();
  EXPECT_EQ(count(calls(), "cuGraph"), 0) << calls();
  EXPECT_EQ(count(calls(), "Capture"), 0) << calls();
}

TEST_F(FakeDriver, GraphsOffRunsEveryStepEagerly) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  setenv("LMCRT_CUDA_GRAPH", "0", 1);
  sg::reset();
  StepProgram p;
  for (int step = 0; step < 4; ++step)
    p.step();
  unsetenv("LMCRT_CUDA_GRAPH");
  sg::reset();
  EXPECT_EQ(count(calls(), "Capture"), 0) << calls();
  EXPECT_EQ(count(calls(), "cuGraph"), 0) << calls();
  EXPECT_EQ(count(calls(), "cuLaunchKernel init 5"), 4) << calls();
  EXPECT_EQ(count(calls(), "cuLaunchKernel update 100 9"), 4) << calls();
}

TEST_F(FakeDriver, ProfileKeepsTheStepsUncaptured) {
  if (!lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 not set";
  StepProgram p;
  for (int step = 0; step < 4; ++step) {
    p.lr = 100 + step;
    p.step();
    EXPECT_EQ(p.read, 7);
  }
  EXPECT_EQ(count(calls(), "Capture"), 0) << calls();
  EXPECT_EQ(count(calls(), "cuGraph"), 0) << calls();
  EXPECT_EQ(count(calls(), "cuLaunchKernel init 5"), 4) << calls();
  EXPECT_EQ(count(calls(), "cuLaunchKernel update 103 9"), 1) << calls();
  EXPECT_GT(count(calls(), "cuEventRecord"), 0) << calls();
}

TEST_F(FakeDriver, WaitInTheMiddleTurnsGraphsOff) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  p.waitInMiddle = true;
  p.step();
  fake().clear();
  p.step(); // captured up to the middle wait, which launches that part
  EXPECT_NE(calls().find("cuStreamEndCapture 2 nodes\n"
                         "cuGraphInstantiate 2 nodes\n"
                         "cuGraphLaunch 2 nodes\n"
                         "graph kernel init 5\n"
                         "graph memset32 4\n"
                         "cuStreamSynchronize\n"
                         "cuLaunchKernel update 100 9\n"),
            std::string::npos)
      << calls();
  EXPECT_TRUE(sg::stats().disabled);
  fake().clear();
  p.step();
  EXPECT_EQ(count(calls(), "Capture"), 0) << calls();
  EXPECT_EQ(count(calls(), "cuLaunchKernel"), 2) << calls();
}

TEST_F(FakeDriver, ArenaLeavingItsPlanEndsTheCapture) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  p.step();
  fake().clear();
  // Another size: the arena falls back to a device allocation, which a
  // capture forbids: the capture ends there (launching nothing yet queued)
  // and the step goes on uncaptured.
  sm::begin();
  device::beginStep(true);
  StepProgram::launch(p.init, {5});
  void *x = _mlir_memref_to_llvm_alloc(512);
  StepProgram::launch(p.update, {100, 9});
  mgpuStreamSynchronize(nullptr);
  _mlir_memref_to_llvm_free(x);
  device::synchronize();
  EXPECT_FALSE(device::endStep());
  sm::end();
  EXPECT_EQ(count(calls(), "while capturing"), 0) << calls();
  EXPECT_NE(calls().find("cuGraphLaunch 1 nodes\ngraph kernel init 5\n"
                         "cuMemAlloc 512\ncuLaunchKernel update 100 9\n"),
            std::string::npos)
      << calls();
  EXPECT_FALSE(sg::stats().disabled);
}

TEST_F(FakeDriver, FreeInACapturedStepWaitsForItsEnd) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  p.step();
  void *outside = device::allocate(64);
  fake().clear();
  sm::begin();
  device::beginStep(true);
  void *x = _mlir_memref_to_llvm_alloc(p.arenaBytes);
  StepProgram::launch(p.init, {5});
  device::release(outside); // would wait for the capturing stream
  StepProgram::launch(p.update, {100, 9});
  mgpuStreamSynchronize(nullptr);
  _mlir_memref_to_llvm_free(x);
  device::synchronize();
  EXPECT_FALSE(device::endStep());
  sm::end();
  EXPECT_EQ(count(calls(), "while capturing"), 0) << calls();
  EXPECT_NE(calls().find("cuGraphLaunch 2 nodes\ngraph kernel init 5\n"
                         "graph kernel update 100 9\ncuStreamSynchronize\n"
                         "cuStreamSynchronize\ncuStreamSynchronize\n"
                         "cuMemFree\n"),
            std::string::npos)
      << calls();
}

TEST_F(FakeDriver, LostCaptureRunsTheStepAgainUncaptured) {
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  StepProgram p;
  p.step();
  fake().clear();
  fake().failLaunches(1); // the capture's first launch is refused
  EXPECT_TRUE(p.step());  // nothing ran: the trainer must run it again
  EXPECT_EQ(count(calls(), "graph "), 0) << calls();
  EXPECT_EQ(count(calls(), "cuStreamSynchronize"), 0) << calls();
  EXPECT_NE(calls().find("cuLaunchKernel fails\n"
                         "cuStreamEndCapture invalidated\n"),
            std::string::npos)
      << calls();
  EXPECT_TRUE(sg::stats().disabled);
  fake().clear();
  EXPECT_FALSE(p.step()); // again, uncaptured
  EXPECT_EQ(count(calls(), "cuLaunchKernel init 5"), 1) << calls();
  EXPECT_EQ(count(calls(), "cuGraph"), 0) << calls();
  EXPECT_EQ(p.read, 7);
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
