//===- SumKernelsEmulationTest.cpp - Sum kernels, run on the host ---------===//
//
// Compiles lib/Runtime/Cuda/SumKernels.cu as host C++ and runs its kernels
// as Sum.cpp launches them (SumPlan.h: one block of 256 threads up to 16,384
// elements, else a block per chunk and one block over the chunks' sums),
// one std::thread per GPU thread and the warp shuffles emulated
// (CudaEmulation.h), against sums in double: sizes below, at and across a
// warp, a block, the one-block limit and several chunks; the sum and the sum
// of squares (a squared norm); strided views that merge into one run, that
// do not (padded rows, a column stride of 2, a transposed matrix); the
// output overwritten; and the order of the additions, which must be the
// one SumKernels.cu documents (bit for bit against a host replay of it).
// lmcrt-gpu-tests compares the entry point with double on a GPU.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulation.h"

#include "../../lib/Runtime/Cuda/SumPlan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#define __shared__ static
#include "../../lib/Runtime/Cuda/SumKernels.cu"
#undef __shared__

namespace {

using lmcrt::cuda::planSum;
using lmcrt::cuda::SumLayout;
using lmcrt::cuda::sumLayout;
using lmcrt::cuda::SumPlan;

SumIndex indexOf(const SumLayout &l) {
  return {l.sizes[1],   l.sizes[2],   l.sizes[3],   l.strides[0],
          l.strides[1], l.strides[2], l.strides[3], l.flat ? 1 : 0};
}

/// Runs the kernels as Sum.cpp does; returns out[0].
float runSum(const float *data, const std::vector<int64_t> &sizes,
             const std::vector<int64_t> &strides, int square) {
  const SumLayout layout = sumLayout(sizes, strides);
  EXPECT_TRUE(layout.ok);
  SumIndex ix = indexOf(layout);
  long long n = 1;
  for (int64_t s : sizes)
    n *= s;
  float out = 99.0f;
  const SumPlan plan = planSum(n);
  if (plan.chunks == 0) {
    launch(1, 1, kSumThreads,
           [&] { lmc_sum_final(data, ix, n, square, &out); });
    return out;
  }
  std::vector<float> partials(plan.chunks, -1.0f);
  launch(static_cast<unsigned>(plan.chunks), 1, kSumThreads, [&] {
    lmc_sum_chunks(data, ix, n, plan.chunk, square, partials.data());
  });
  SumIndex flat{1, 1, plan.chunks, 0, 0, 0, 1, 1};
  launch(1, 1, kSumThreads,
         [&] { lmc_sum_final(partials.data(), flat, plan.chunks, 0, &out); });
  return out;
}

/// The kernels' order of additions over `x` (already in row-major order)
/// from `begin` to `end`, replayed on the host in float.
float replayBlock(const std::vector<float> &x, long long begin, long long end,
                  bool square) {
  float lanes[kSumThreads];
  for (int t = 0; t < kSumThreads; ++t) {
    float acc = 0.0f;
    for (long long i = begin + t; i < end; i += kSumThreads)
      acc += square ? x[i] * x[i] : x[i];
    lanes[t] = acc;
  }
  for (int m = kSumWarp / 2; m > 0; m /= 2) {
    float next[kSumThreads];
    for (int t = 0; t < kSumThreads; ++t)
      next[t] = lanes[t] + lanes[(t & ~31) | ((t % 32) ^ m)];
    std::copy(next, next + kSumThreads, lanes);
  }
  float total = 0.0f;
  for (int w = 0; w < kSumWarps; ++w)
    total += lanes[w * kSumWarp];
  return total;
}

float replay(const std::vector<float> &x, bool square) {
  const long long n = static_cast<long long>(x.size());
  const SumPlan plan = planSum(n);
  if (plan.chunks == 0)
    return replayBlock(x, 0, n, square);
  std::vector<float> partials;
  for (long long c = 0; c < plan.chunks; ++c)
    partials.push_back(replayBlock(x, c * plan.chunk,
                                   std::min(n, (c + 1) * plan.chunk), square));
  return replayBlock(partials, 0, plan.chunks, false);
}

std::vector<float> randomVector(long long n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// Checks the kernels' sum of the view (sizes, strides) of `data` against
/// double and the replayed order.
void checkView(const std::vector<float> &data,
               const std::vector<int64_t> &sizes,
               const std::vector<int64_t> &strides, const std::string &name) {
  std::vector<float> ordered;
  long long n = 1;
  for (int64_t s : sizes)
    n *= s;
  for (long long i = 0; i < n; ++i) {
    long long rest = i, offset = 0;
    for (size_t d = sizes.size(); d-- > 0;) {
      offset += rest % sizes[d] * strides[d];
      rest /= sizes[d];
    }
    ordered.push_back(data[offset]);
  }
  for (int square : {0, 1}) {
    double want = 0, magnitude = 0;
    for (float v : ordered) {
      const double term = square ? double(v) * v : double(v);
      want += term;
      magnitude += std::abs(term);
    }
    const float got = runSum(data.data(), sizes, strides, square);
    const std::string where = name + (square ? ", squares" : ", values");
    EXPECT_NEAR(want, got, 2e-6 * magnitude + 1e-30) << where;
    EXPECT_EQ(replay(ordered, square), got) << where << ": another order";
  }
}

TEST(SumKernelsEmulated, PlanDependsOnlyOnTheSize) {
  EXPECT_EQ(planSum(0).chunks, 0);
  EXPECT_EQ(planSum(16384).chunks, 0);
  const SumPlan p = planSum(16385);
  EXPECT_EQ(p.chunks, 3);
  EXPECT_EQ(p.chunk % 256, 0);
  // gpt2-124M's wte gradient: at most 1024 chunks, each a multiple of a
  // block (1020 of 37,888 elements).
  const SumPlan wte = planSum(50304LL * 768);
  EXPECT_EQ(wte.chunks, 1020);
  EXPECT_EQ(wte.chunk, 37888);
  EXPECT_GE(wte.chunk * wte.chunks, 50304LL * 768);
  EXPECT_LT(wte.chunk * (wte.chunks - 1), 50304LL * 768);
}

TEST(SumKernelsEmulated, ContiguousAgainstDouble) {
  for (long long n : {1LL, 31LL, 32LL, 255LL, 256LL, 257LL, 768LL, 3072LL,
                      16384LL, 16385LL, 40000LL}) {
    std::vector<float> x = randomVector(n, static_cast<unsigned>(n));
    checkView(x, {n}, {1}, "n " + std::to_string(n));
  }
}

TEST(SumKernelsEmulated, EmptyInputWritesZero) {
  float dummy = 0.0f;
  EXPECT_EQ(runSum(&dummy, {0}, {1}, 1), 0.0f);
}

TEST(SumKernelsEmulated, StridedViewsAgainstDouble) {
  // A contiguous [3, 5, 7] block merges into one run.
  {
    std::vector<float> x = randomVector(105, 7);
    EXPECT_TRUE(sumLayout({3, 5, 7}, {35, 7, 1}).flat);
    checkView(x, {3, 5, 7}, {35, 7, 1}, "contiguous [3, 5, 7]");
  }
  // [4, 9, 33] with 3 floats of padding after each row, 5 after each batch,
  // and a column stride of 2.
  {
    const int64_t col = 2, row = 33 * 2 + 3, batch = 9 * row + 5;
    std::vector<float> x = randomVector(4 * batch, 8);
    EXPECT_FALSE(sumLayout({4, 9, 33}, {batch, row, col}).flat);
    checkView(x, {4, 9, 33}, {batch, row, col}, "padded [4, 9, 33]");
  }
  // A transposed [300, 70] matrix (column-major): two runs, across chunks.
  {
    std::vector<float> x = randomVector(300 * 70, 9);
    checkView(x, {300, 70}, {1, 300}, "transposed [300, 70]");
  }
  // Dimensions of size 1 with any stride, and a [2, 1, 3, 1, 4] view with
  // gaps between the runs: at most 4 runs.
  {
    std::vector<float> x = randomVector(200, 10);
    checkView(x, {1, 2, 1, 3, 1, 4}, {999, 60, 777, 10, 555, 2},
              "[1, 2, 1, 3, 1, 4] with gaps");
  }
}

} // namespace

int main(int argc, char **argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
