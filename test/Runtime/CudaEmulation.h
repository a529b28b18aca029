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

//===----------------------------------------------------------------------===//
// Tensor cores: nvcuda::wmma with bf16 m16n16k16 fragments and float
// accumulators, and __nv_bfloat16 (for AttentionTensorCoreKernels.cu).
//
// A fragment holds 8 of the 256 elements of a 16 x 16 tile in each lane, in
// a layout of the emulation's own (different for A, B and accumulators, and
// not the hardware's), so a kernel that assumes a layout fails here.
// load_matrix_sync, store_matrix_sync and fill_fragment touch only the
// lane's elements; mma_sync is warp-collective: the lanes put their
// fragments in the warp's staging area, meet at the warp's barrier, each
// computes its own elements of the product (float sums of exact bf16
// products), and meet again before the area is reused (a barrier of its
// own; __syncwarp() is the warp-level block's above). Loads and stores check
// the hardware's alignment rules (256-bit aligned pointers, ldm a multiple of
// 16 bytes).
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>

/// bfloat16: the upper half of a float, rounded to nearest even.
struct __nv_bfloat16 {
  uint16_t bits;
};
inline __nv_bfloat16 __float2bfloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a (quiet) NaN
    return {static_cast<uint16_t>((u >> 16) | 0x40u)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return {static_cast<uint16_t>(u >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 b) {
  const uint32_t u = static_cast<uint32_t>(b.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

namespace lmc_emulation {
/// A warp of the running block: its barrier and the staging area of
/// mma_sync. Made per block size at first use and reused block after block
/// (one block runs at a time, and every lane of a warp makes the same
/// warp-collective calls, so a block leaves them between phases).
struct Warp {
  explicit Warp(unsigned lanes) : barrier(lanes) {}
  std::barrier<> barrier;
  float a[256], b[256], c[256];
};
inline Warp &currentWarp() {
  thread_local Warp *warp = nullptr; // a std::thread runs one GPU thread
  if (!warp) {
    static std::mutex mutex;
    static std::map<unsigned, std::vector<std::unique_ptr<Warp>>> warps;
    std::lock_guard<std::mutex> lock(mutex);
    auto &block = warps[blockDim.x];
    if (block.empty())
      for (unsigned w = 0; w * 32 < blockDim.x; ++w)
        block.push_back(
            std::make_unique<Warp>(std::min(32u, blockDim.x - w * 32)));
    warp = block[threadIdx.x / 32].get();
  }
  return *warp;
}
inline unsigned lane() { return threadIdx.x % 32; }
[[noreturn]] inline void misuse(const char *what) {
  std::fprintf(stderr, "wmma emulation: %s\n", what);
  std::abort();
}
template <typename T> void checkPointer(const T *p, unsigned ldm) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0)
    misuse("a fragment's pointer is not 256-bit aligned");
  if (ldm * sizeof(T) % 16 != 0)
    misuse("ldm is not a multiple of 16 bytes");
}
} // namespace lmc_emulation

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16,
                "the emulation has m16n16k16 fragments only");
  enum { num_elements = 8 };
  T x[num_elements];
};

namespace detail {
/// The (row, column) in the 16 x 16 tile of element e of this lane.
template <typename Use> inline void position(int e, int &row, int &col) {
  const int l = static_cast<int>(lmc_emulation::lane());
  if constexpr (std::is_same_v<Use, matrix_a>) {
    const int i = l * 8 + e;
    row = i / 16, col = i % 16;
  } else if constexpr (std::is_same_v<Use, matrix_b>) {
    const int i = e * 32 + l;
    row = i % 16, col = i / 16;
  } else {
    const int i = e * 32 + (l * 7) % 32;
    row = i / 16, col = i % 16;
  }
}
inline float toFloat(float x) { return x; }
inline float toFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
} // namespace detail

template <typename Use, typename T, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout> &f, const T *p,
                      unsigned ldm) {
  static_assert(!std::is_same_v<Use, accumulator>,
                "an accumulator is loaded with a layout_t");
  lmc_emulation::checkPointer(p, ldm);
  for (int e = 0; e < 8; ++e) {
    int row, col;
    detail::position<Use>(e, row, col);
    f.x[e] = std::is_same_v<Layout, col_major> ? p[col * ldm + row]
                                               : p[row * ldm + col];
  }
}

template <typename T>
void load_matrix_sync(fragment<accumulator, 16, 16, 16, T> &f, const T *p,
                      unsigned ldm, layout_t layout) {
  lmc_emulation::checkPointer(p, ldm);
  for (int e = 0; e < 8; ++e) {
    int row, col;
    detail::position<accumulator>(e, row, col);
    f.x[e] = layout == mem_col_major ? p[col * ldm + row] : p[row * ldm + col];
  }
}

template <typename T>
void store_matrix_sync(T *p, const fragment<accumulator, 16, 16, 16, T> &f,
                       unsigned ldm, layout_t layout) {
  lmc_emulation::checkPointer(p, ldm);
  for (int e = 0; e < 8; ++e) {
    int row, col;
    detail::position<accumulator>(e, row, col);
    (layout == mem_col_major ? p[col * ldm + row] : p[row * ldm + col]) =
        f.x[e];
  }
}

template <typename Use, typename T, typename Layout>
void fill_fragment(fragment<Use, 16, 16, 16, T, Layout> &f, const T &value) {
  for (T &x : f.x)
    x = value;
}

template <typename LayoutA, typename LayoutB>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d,
              const fragment<matrix_a, 16, 16, 16, __nv_bfloat16, LayoutA> &a,
              const fragment<matrix_b, 16, 16, 16, __nv_bfloat16, LayoutB> &b,
              const fragment<accumulator, 16, 16, 16, float> &c) {
  lmc_emulation::Warp &warp = lmc_emulation::currentWarp();
  for (int e = 0; e < 8; ++e) {
    int row, col;
    detail::position<matrix_a>(e, row, col);
    warp.a[row * 16 + col] = detail::toFloat(a.x[e]);
    detail::position<matrix_b>(e, row, col);
    warp.b[row * 16 + col] = detail::toFloat(b.x[e]);
    detail::position<accumulator>(e, row, col);
    warp.c[row * 16 + col] = c.x[e];
  }
  warp.barrier.arrive_and_wait();
  float result[8];
  for (int e = 0; e < 8; ++e) {
    int row, col;
    detail::position<accumulator>(e, row, col);
    float sum = warp.c[row * 16 + col];
    for (int k = 0; k < 16; ++k)
      sum += warp.a[row * 16 + k] * warp.b[k * 16 + col];
    result[e] = sum;
  }
  warp.barrier.arrive_and_wait();
  for (int e = 0; e < 8; ++e)
    d.x[e] = result[e];
}
} // namespace wmma
} // namespace nvcuda

#endif // LMC_TEST_RUNTIME_CUDAEMULATION_H
