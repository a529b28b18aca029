//===- SumKernels.cu - Sums of a tensor to a scalar on the GPU ------------===//
//
// The kernels behind lmcrt_gpu_sum_f32 (Sum.cpp launches them): the sum of
// every element of a float32 tensor, or of their squares (a gradient's
// squared norm), into one float. Blocks of 256 threads; each thread adds the
// elements of its block's range at its own offset and then every 256th
// (consecutive threads, consecutive addresses when the input is
// contiguous), the 32 lanes of a warp combine their sums with an
// xor-butterfly of shuffles, and thread 0 adds the 8 warps' sums in order.
// `lmc_sum_chunks` writes one sum per chunk of the input (SumPlan.h),
// `lmc_sum_final` adds a whole input (a small tensor, or the chunks' sums)
// in one block and overwrites the 0-d output. No atomics: the order of the
// additions is fixed by the number of elements.
//
// An input of rank 1 to 4 with any strides is addressed through SumIndex
// (Sum.cpp merges the dimensions that are contiguous with each other, so a
// contiguous tensor is one run with `flat` set). Compiled by nvcc into a
// fatbin (sm_80, sm_90 and PTX) that the GPU runtime embeds, and as PTX for
// the `ptxas -v` test (test/Runtime/sum-kernels-ptxas.test).
//
//===----------------------------------------------------------------------===//

namespace {

constexpr int kSumWarp = 32;
constexpr int kSumThreads = 256;
constexpr int kSumWarps = kSumThreads / kSumWarp;

/// Element i (row-major over sizes (size0, size1, size2, size3), size0
/// implied) of the input is at i0 * stride0 + ... + i3 * stride3; with
/// `flat`, at i.
struct SumIndex {
  long long size1, size2, size3;
  long long stride0, stride1, stride2, stride3;
  int flat;
};

__device__ inline long long sumOffset(const SumIndex &ix, long long i) {
  const long long i3 = i % ix.size3, q3 = i / ix.size3;
  const long long i2 = q3 % ix.size2, q2 = q3 / ix.size2;
  const long long i1 = q2 % ix.size1, i0 = q2 / ix.size1;
  return i0 * ix.stride0 + i1 * ix.stride1 + i2 * ix.stride2 +
         i3 * ix.stride3;
}

/// The sum over [begin, end) of in (or of its squares), thread by thread,
/// then over the block: the total in thread 0.
__device__ inline float blockSum(const float *__restrict__ in,
                                 const SumIndex &ix, long long begin,
                                 long long end, int square) {
  __shared__ float warpSums[kSumWarps];
  float acc = 0.0f;
  if (ix.flat) {
    for (long long i = begin + threadIdx.x; i < end; i += kSumThreads) {
      const float x = in[i];
      acc += square ? x * x : x;
    }
  } else {
    for (long long i = begin + threadIdx.x; i < end; i += kSumThreads) {
      const float x = in[sumOffset(ix, i)];
      acc += square ? x * x : x;
    }
  }
#pragma unroll
  for (int m = kSumWarp / 2; m > 0; m /= 2)
    acc += __shfl_xor_sync(0xffffffffu, acc, m);
  const int warp = threadIdx.x / kSumWarp, lane = threadIdx.x % kSumWarp;
  if (lane == 0)
    warpSums[warp] = acc;
  __syncthreads();
  float total = 0.0f;
  if (threadIdx.x == 0)
    for (int w = 0; w < kSumWarps; ++w)
      total += warpSums[w];
  return total;
}

} // namespace

/// partials[b] = the sum of chunk b: elements [b * chunk, (b + 1) * chunk)
/// of the n (a block per chunk).
extern "C" __global__ void __launch_bounds__(kSumThreads)
    lmc_sum_chunks(const float *__restrict__ in, SumIndex ix, long long n,
                   long long chunk, int square, float *__restrict__ partials) {
  const long long begin = blockIdx.x * chunk;
  const long long end = begin + chunk < n ? begin + chunk : n;
  const float total = blockSum(in, ix, begin, end, square);
  if (threadIdx.x == 0)
    partials[blockIdx.x] = total;
}

/// out[0] = the sum of the n elements (one block).
extern "C" __global__ void __launch_bounds__(kSumThreads)
    lmc_sum_final(const float *__restrict__ in, SumIndex ix, long long n,
                  int square, float *__restrict__ out) {
  const float total = blockSum(in, ix, 0, n, square);
  if (threadIdx.x == 0)
    out[0] = total;
}
