//===- SumPlan.h - How the GPU's sum splits its input ----------*- C++ -*-===//
//
// lmcrt_gpu_sum_f32 (Sum.cpp) adds n floats with the kernels of
// SumKernels.cu: one block when n is at most LMCRT_SUM_ONE_BLOCK (lmcrt.h),
// else `chunks` blocks over consecutive chunks of `chunk` elements (a
// multiple of the block's 256 threads), then one block over their sums. The
// split depends only on n, so the order of the additions, and the result,
// never depend on the GPU or the schedule. Shared by Sum.cpp and the
// emulation test (test/Runtime/SumKernelsEmulationTest.cpp). No CUDA, no
// MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_SUMPLAN_H
#define LMC_LIB_RUNTIME_CUDA_SUMPLAN_H

#include <algorithm>
#include <cstdint>
#include <vector>

namespace lmcrt::cuda {

struct SumPlan {
  /// 0: one pass of one block over the input.
  long long chunks = 0;
  long long chunk = 0;
};

/// At most kMaxChunks chunks of at least kMinChunk elements.
constexpr long long kSumBlock = 256, kSumOneBlock = 16384, kSumMinChunk = 8192,
                    kSumMaxChunks = 1024;

inline SumPlan planSum(long long n) {
  if (n <= kSumOneBlock)
    return {};
  long long chunks =
      std::min(kSumMaxChunks, (n + kSumMinChunk - 1) / kSumMinChunk);
  long long chunk = (n + chunks - 1) / chunks;
  chunk = (chunk + kSumBlock - 1) / kSumBlock * kSumBlock;
  return {(n + chunk - 1) / chunk, chunk};
}

/// The input's elements in row-major order as at most 4 runs (SumKernels.cu's
/// SumIndex): the dimensions of size 1 dropped, each dimension contiguous
/// with the next merged into it; `flat` when the whole input is one run of
/// stride 1. `ok` is false when more than 4 runs remain.
struct SumLayout {
  long long sizes[4] = {1, 1, 1, 1};
  long long strides[4] = {0, 0, 0, 0};
  bool flat = false;
  bool ok = true;
};

inline SumLayout sumLayout(const std::vector<int64_t> &sizes,
                           const std::vector<int64_t> &strides) {
  std::vector<long long> sz, st;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1)
      continue;
    if (!sz.empty() && st.back() == strides[d] * sizes[d]) {
      sz.back() *= sizes[d];
      st.back() = strides[d];
      continue;
    }
    sz.push_back(sizes[d]);
    st.push_back(strides[d]);
  }
  SumLayout layout;
  if (sz.size() > 4) {
    layout.ok = false;
    return layout;
  }
  const size_t first = 4 - sz.size();
  for (size_t k = 0; k < sz.size(); ++k) {
    layout.sizes[first + k] = sz[k];
    layout.strides[first + k] = st[k];
  }
  layout.flat = sz.size() <= 1 && (sz.empty() || st[0] == 1);
  return layout;
}

} // namespace lmcrt::cuda

#endif // LMC_LIB_RUNTIME_CUDA_SUMPLAN_H
