//===- CudaEmulation.h - Run GPU kernels on the host, for tests -*- C++ -*-===//
//
// What the runtime's kernels (lib/Runtime/Cuda/*.cu) need of CUDA, for the
// host: the built-in indices, __syncthreads() as a barrier among the threads
// of a block, atomicAdd on float, and launch(), which runs a grid block by
// block with one std::thread per GPU thread. A test includes this header,
// then the .cu file (with `#define __shared__ static` around it when the
// kernels use shared memory: one block runs at a time). It checks the
// kernels' indexing and their split of the work, not the PTX or the
// hardware.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TEST_RUNTIME_CUDAEMULATION_H
#define LMC_TEST_RUNTIME_CUDAEMULATION_H

#include <atomic>
#include <barrier>
#include <functional>
#include <thread>
#include <vector>

namespace {
struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
thread_local Dim3 threadIdx, blockIdx;
Dim3 blockDim, gridDim;
std::barrier<> *blockBarrier = nullptr;
inline void __syncthreads() { blockBarrier->arrive_and_wait(); }
inline int min(int a, int b) { return a < b ? a : b; }
inline float atomicAdd(float *address, float value) {
  return std::atomic_ref<float>(*address).fetch_add(value);
}

/// Runs `kernel` over a gridX x gridY grid of blocks of `threads` threads.
void launch(unsigned gridX, unsigned gridY, unsigned threads,
            const std::function<void()> &kernel) {
  blockDim = {threads, 1, 1};
  gridDim = {gridX, gridY, 1};
  for (unsigned y = 0; y < gridY; ++y)
    for (unsigned x = 0; x < gridX; ++x) {
      std::barrier<> barrier(threads);
      blockBarrier = &barrier;
      std::vector<std::thread> block;
      for (unsigned t = 0; t < threads; ++t)
        block.emplace_back([&, t] {
          blockIdx = {x, y, 0};
          threadIdx = {t, 0, 0};
          kernel();
        });
      for (std::thread &thread : block)
        thread.join();
    }
}
} // namespace

#define __global__
#define __device__
#define __launch_bounds__(...)

// Warp-level operations (RowKernels.cu), after the definitions above: a
// shuffle is a write of the lane's value to a slot per thread of the block,
// a barrier among the 32 threads of its warp, a read of the partner's slot
// and a second barrier before the slots are reused. Every lane of the warp
// must take part (full-warp masks only), as on the GPU. The warps' barriers
// serve every block in turn (one block runs at a time). rsqrtf is the host's
// 1 / sqrt.
#include <cmath>
#include <memory>
#include <mutex>
namespace {
constexpr unsigned kEmulatedMaxThreads = 1024;
float emulatedShuffleSlots[kEmulatedMaxThreads];
std::barrier<> *emulatedWarpBarrier(unsigned warp) {
  static std::unique_ptr<std::barrier<>> barriers[kEmulatedMaxThreads / 32];
  static std::once_flag once;
  std::call_once(once, [] {
    for (auto &b : barriers)
      b = std::make_unique<std::barrier<>>(32);
  });
  return barriers[warp].get();
}
inline float __shfl_xor_sync(unsigned, float value, int laneMask) {
  const unsigned t = threadIdx.x, warp = t / 32;
  emulatedShuffleSlots[t] = value;
  emulatedWarpBarrier(warp)->arrive_and_wait();
  const float other = emulatedShuffleSlots[(t & ~31u) | ((t % 32) ^ laneMask)];
  emulatedWarpBarrier(warp)->arrive_and_wait();
  return other;
}
inline void __syncwarp(unsigned = 0xffffffffu) {
  emulatedWarpBarrier(threadIdx.x / 32)->arrive_and_wait();
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
} // namespace

#endif // LMC_TEST_RUNTIME_CUDAEMULATION_H
