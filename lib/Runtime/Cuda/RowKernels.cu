//===- RowKernels.cu - Row reductions: norms, softmax, cross-entropy ------===//
//
// The GPU kernels behind lmcrt_gpu_layer_norm_*_f32, lmcrt_gpu_rms_norm_*_f32,
// lmcrt_gpu_softmax_*_f32 and lmcrt_gpu_cross_entropy_*_f32 (RowKernels.cpp
// launches them), with the semantics of the CPU lowering of lmc.layer_norm,
// lmc.rms_norm, lmc.softmax, their gradients, lmc.cross_entropy and
// lmc.cross_entropy_grad
// (lib/Conversion/LMCToLinalg): the statistics in float32, a row being the
// last dimension of the operand.
//
// Work split:
// - the softmax (lmc.softmax, lmc.softmax_grad: the decomposed attention's
//   probabilities over key positions) and its gradient: a warp per row, as
//   the norms; the row's maximum, its sum of exponentials (each combined
//   with shuffles), then one pass writing the probabilities; the gradient a
//   dot product and one writing pass;
// - the norms and their input gradients: one warp per row (8 per block), the
//   lanes striding over the row's C columns (coalesced), the sums over the
//   row combined with xor-butterfly shuffles; the row is read once per
//   statistic (from L1/L2 after the first pass);
// - the weight and bias gradients (sums over the rows): a grid of 32-column
//   by row-chunk tiles, each thread of a warp a column (coalesced), the 8
//   warps of a block splitting the chunk's rows and adding their sums in
//   shared memory in a fixed order; then a thread per column adds the chunks
//   in order. No atomics: the result does not depend on the schedule;
// - the cross-entropy: one block per row (256 threads striding over the
//   vocabulary), one pass of an online maximum and sum of exponentials per
//   thread, the (max, sum) pairs combined with shuffles and shared memory;
//   the forward kernel writes the row's loss (log-sum-exp minus the target's
//   logit), a one-block kernel adds the rows' losses in a fixed order and
//   divides by their count; the gradient kernel makes the one pass for the
//   statistics, then one pass writing (softmax - onehot) * dloss / rows.
//   The probabilities are computed once, in the pass that writes them.
//   With `classes` < V, the columns [classes, V) take no part in the
//   statistics and their gradient is exactly 0.
//
// Row addressing: a row r of an operand of rank R (R - 1 leading
// dimensions, at most 3) starts at r's index in the leading dimensions times
// their strides (RowIndex); the columns have their own stride. Compiled by
// nvcc into a fatbin (sm_80, sm_90 and PTX) that the GPU runtime embeds, and
// as PTX for the `ptxas -v` test (test/Runtime/row-kernels-ptxas.test).
//
//===----------------------------------------------------------------------===//

#include <cuda_bf16.h>
#include <math_constants.h>

namespace {

constexpr int kWarp = 32;
constexpr int kBlock = 256;
constexpr int kWarps = kBlock / kWarp;

/// Where the rows of an operand start: row r is (r0, r1, r2) in its leading
/// dimensions of sizes (size0, size1, size2) (size0 implied), at
/// r0 * stride0 + r1 * stride1 + r2 * stride2; columns at `column` apart.
struct RowIndex {
  long long size1, size2;
  long long stride0, stride1, stride2;
  long long column;
};

__device__ inline long long rowStart(const RowIndex &ix, long long r) {
  const long long r2 = r % ix.size2, q = r / ix.size2;
  return (q / ix.size1) * ix.stride0 + (q % ix.size1) * ix.stride1 +
         r2 * ix.stride2;
}

/// The sum of `v` over the lanes of a warp, in every lane.
__device__ inline float warpSum(float v) {
#pragma unroll
  for (int m = kWarp / 2; m > 0; m /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}

/// The larger of a and b, NaN when either is (arith.maximumf's rule).
__device__ inline float maxOrNaN(float a, float b) {
  return a != a || b != b ? a + b : (a > b ? a : b);
}

/// Merges the online softmax statistics (m, s) with (m2, s2): the maximum
/// and the sum of exponentials relative to it. A side whose maximum is -inf
/// (no finite column seen) has a sum of 0, or NaN after a NaN logit, which
/// is kept so that the loss becomes NaN as on the CPU.
__device__ inline void mergeMaxSum(float &m, float &s, float m2, float s2) {
  if (m2 == -CUDART_INF_F) {
    s += s2;
    return;
  }
  if (m == -CUDART_INF_F) {
    m = m2;
    s += s2;
    return;
  }
  if (m2 > m) {
    s = s * expf(m - m2) + s2;
    m = m2;
  } else {
    s = s + s2 * expf(m2 - m);
  }
}

/// The maximum and sum of exponentials of the block's per-thread (m, s),
/// in every thread of the block. `sm` and `ss` are kWarps floats of shared
/// memory.
__device__ inline void blockMaxSum(float &m, float &s, float *sm, float *ss) {
#pragma unroll
  for (int k = kWarp / 2; k > 0; k /= 2) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, k);
    const float s2 = __shfl_xor_sync(0xffffffffu, s, k);
    mergeMaxSum(m, s, m2, s2);
  }
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (lane == 0) {
    sm[warp] = m;
    ss[warp] = s;
  }
  __syncthreads();
  m = sm[0];
  s = ss[0];
  for (int w = 1; w < kWarps; ++w)
    mergeMaxSum(m, s, sm[w], ss[w]);
}

/// The online (max, sum of exp) over the columns [0, classes) of `row`
/// that this thread visits (c = threadIdx.x, + blockDim.x, ...).
__device__ inline void threadMaxSum(const float *row, long long cs,
                                    long long classes, float &m, float &s) {
  m = -CUDART_INF_F;
  s = 0.0f;
  for (long long c = threadIdx.x; c < classes; c += kBlock) {
    const float x = row[c * cs];
    if (x > m) {
      // exp(-inf - x) is 0: the first column sets s to 1.
      s = s * expf(m - x) + 1.0f;
      m = x;
    } else if (x > -CUDART_INF_F) {
      s += expf(x - m);
    } else if (x != x) {
      // A NaN logit makes the sum, and so the loss and gradient, NaN;
      // a -inf logit adds exp(-inf) = 0.
      s = x;
    }
  }
}

/// A float32 result stored as float32, or rounded once to bfloat16 (to
/// nearest, ties to even: lmc-bf16-storage's stored activations and
/// gradients).
__device__ inline void store(float *p, float v) { *p = v; }
__device__ inline void store(__nv_bfloat16 *p, float v) {
  *p = __float2bfloat16(v);
}

} // namespace

/// y = (x - mean) * rsqrt(var + eps) * w + b over each of the `rows` rows
/// of C columns (var the biased variance); a warp per row.
template <typename Out>
__device__ void layerNormFwd(const float *x, RowIndex xi, Out *y, RowIndex yi,
                             const float *w, long long ws, const float *b,
                             long long bs, long long rows, int C, float eps) {
  const int lane = threadIdx.x % kWarp;
  const long long r = (long long)blockIdx.x * kWarps + threadIdx.x / kWarp;
  if (r >= rows)
    return;
  const float *xr = x + rowStart(xi, r);
  Out *yr = y + rowStart(yi, r);
  const float invC = 1.0f / (float)C;
  float sum = 0.0f;
  for (int c = lane; c < C; c += kWarp)
    sum += xr[c * xi.column];
  const float mean = warpSum(sum) * invC;
  float sq = 0.0f;
  for (int c = lane; c < C; c += kWarp) {
    const float d = xr[c * xi.column] - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(warpSum(sq) * invC + eps);
  for (int c = lane; c < C; c += kWarp)
    store(yr + c * yi.column,
          (xr[c * xi.column] - mean) * rstd * w[c * ws] + b[c * bs]);
}

extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_layer_norm_fwd(const float *x, RowIndex xi, float *y, RowIndex yi,
                       const float *w, long long ws, const float *b,
                       long long bs, long long rows, int C, float eps) {
  layerNormFwd(x, xi, y, yi, w, ws, b, bs, rows, C, eps);
}

/// The same with y stored as bfloat16 (lmc-bf16-storage: only GEMMs read
/// it), each value rounded once.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_layer_norm_fwd_bf16(const float *x, RowIndex xi, __nv_bfloat16 *y,
                            RowIndex yi, const float *w, long long ws,
                            const float *b, long long bs, long long rows, int C,
                            float eps) {
  layerNormFwd(x, xi, y, yi, w, ws, b, bs, rows, C, eps);
}

/// y = x * rsqrt(mean(x * x) + eps) * w; a warp per row.
template <typename Out>
__device__ void rmsNormFwd(const float *x, RowIndex xi, Out *y, RowIndex yi,
                           const float *w, long long ws, long long rows, int C,
                           float eps) {
  const int lane = threadIdx.x % kWarp;
  const long long r = (long long)blockIdx.x * kWarps + threadIdx.x / kWarp;
  if (r >= rows)
    return;
  const float *xr = x + rowStart(xi, r);
  Out *yr = y + rowStart(yi, r);
  float sq = 0.0f;
  for (int c = lane; c < C; c += kWarp) {
    const float v = xr[c * xi.column];
    sq += v * v;
  }
  const float rrms = rsqrtf(warpSum(sq) * (1.0f / (float)C) + eps);
  for (int c = lane; c < C; c += kWarp)
    store(yr + c * yi.column, xr[c * xi.column] * rrms * w[c * ws]);
}

extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_rms_norm_fwd(const float *x, RowIndex xi, float *y, RowIndex yi,
                     const float *w, long long ws, long long rows, int C,
                     float eps) {
  rmsNormFwd(x, xi, y, yi, w, ws, rows, C, eps);
}

/// The same with y stored as bfloat16, each value rounded once.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_rms_norm_fwd_bf16(const float *x, RowIndex xi, __nv_bfloat16 *y,
                          RowIndex yi, const float *w, long long ws,
                          long long rows, int C, float eps) {
  rmsNormFwd(x, xi, y, yi, w, ws, rows, C, eps);
}

/// The input gradient of a norm, a warp per row, and each row's (mean,
/// rstd) in stats[2 r], stats[2 r + 1] for the weight gradient. LayerNorm
/// (`centred`): dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy w,
/// xhat = (x - mean) rstd. RMSNorm: mean 0, rstd = rsqrt(mean(x x) + eps),
/// dx = rstd (g - x rstd^2 mean(g x)).
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_norm_bwd_input(const float *x, RowIndex xi, const float *dy,
                       RowIndex dyi, float *dx, RowIndex dxi, const float *w,
                       long long ws, float *stats, long long rows, int C,
                       float eps, int centred) {
  const int lane = threadIdx.x % kWarp;
  const long long r = (long long)blockIdx.x * kWarps + threadIdx.x / kWarp;
  if (r >= rows)
    return;
  const float *xr = x + rowStart(xi, r);
  const float *gr = dy + rowStart(dyi, r);
  float *dr = dx + rowStart(dxi, r);
  const float invC = 1.0f / (float)C;
  float mean = 0.0f;
  if (centred) {
    float sum = 0.0f;
    for (int c = lane; c < C; c += kWarp)
      sum += xr[c * xi.column];
    mean = warpSum(sum) * invC;
  }
  float sq = 0.0f;
  for (int c = lane; c < C; c += kWarp) {
    const float d = xr[c * xi.column] - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(warpSum(sq) * invC + eps);
  // sum(g) (LayerNorm only) and sum(g xhat) (LayerNorm) or sum(g x) (RMS).
  float sumG = 0.0f, sumGX = 0.0f;
  for (int c = lane; c < C; c += kWarp) {
    const float g = gr[c * dyi.column] * w[c * ws];
    const float xv = xr[c * xi.column];
    sumG += g;
    sumGX += centred ? g * ((xv - mean) * rstd) : g * xv;
  }
  sumG = warpSum(sumG);
  sumGX = warpSum(sumGX);
  if (centred) {
    const float mg = sumG * invC, mgx = sumGX * invC;
    for (int c = lane; c < C; c += kWarp) {
      const float g = gr[c * dyi.column] * w[c * ws];
      const float xh = (xr[c * xi.column] - mean) * rstd;
      dr[c * dxi.column] = rstd * (g - mg - xh * mgx);
    }
  } else {
    const float k = rstd * rstd * (sumGX * invC);
    for (int c = lane; c < C; c += kWarp) {
      const float g = gr[c * dyi.column] * w[c * ws];
      dr[c * dxi.column] = rstd * (g - xr[c * xi.column] * k);
    }
  }
  if (lane == 0) {
    stats[2 * r] = mean;
    stats[2 * r + 1] = rstd;
  }
}

/// Per chunk of `chunkRows` rows and column c: the sums over the chunk's
/// rows of dy (x - mean) rstd into partial[chunk][c], and (with `bias`) of
/// dy into partial[chunks + chunk][c]. Grid (ceil(C / 32), chunks), a
/// column per lane, the 8 warps of a block taking every 8th row of the
/// chunk.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_norm_bwd_params_partial(const float *x, RowIndex xi, const float *dy,
                                RowIndex dyi, const float *stats,
                                float *partial, long long rows,
                                long long chunkRows, int C, int bias) {
  __shared__ float sw[kWarps][kWarp];
  __shared__ float sb[kWarps][kWarp];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int c = blockIdx.x * kWarp + lane;
  const long long chunk = blockIdx.y, chunks = gridDim.y;
  const long long begin = chunk * chunkRows;
  const long long end = begin + chunkRows < rows ? begin + chunkRows : rows;
  float accW = 0.0f, accB = 0.0f;
  if (c < C)
    for (long long r = begin + warp; r < end; r += kWarps) {
      const float g = dy[rowStart(dyi, r) + c * dyi.column];
      const float xv = x[rowStart(xi, r) + c * xi.column];
      accW += g * ((xv - stats[2 * r]) * stats[2 * r + 1]);
      accB += g;
    }
  sw[warp][lane] = accW;
  sb[warp][lane] = accB;
  __syncthreads();
  if (warp == 0 && c < C) {
    float tw = 0.0f, tb = 0.0f;
    for (int k = 0; k < kWarps; ++k) {
      tw += sw[k][lane];
      tb += sb[k][lane];
    }
    partial[chunk * C + c] = tw;
    if (bias)
      partial[(chunks + chunk) * C + c] = tb;
  }
}

/// dw[c] = sum over the chunks of partial[chunk][c] (and db[c] of
/// partial[chunks + chunk][c] when db is given); a thread per column.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_norm_bwd_params_sum(const float *partial, long long chunks, int C,
                            float *dw, long long dws, float *db,
                            long long dbs) {
  const int c = blockIdx.x * kBlock + threadIdx.x;
  if (c >= C)
    return;
  float tw = 0.0f, tb = 0.0f;
  for (long long k = 0; k < chunks; ++k) {
    tw += partial[k * C + c];
    if (db)
      tb += partial[(chunks + k) * C + c];
  }
  dw[c * dws] = tw;
  if (db)
    db[c * dbs] = tb;
}

/// loss[r] = log(sum exp(x - max)) + max - x[target] over the columns
/// [0, classes) of each row; a block per row.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_cross_entropy_fwd(const float *logits, RowIndex li, const int *targets,
                          RowIndex ti, float *loss, long long classes) {
  __shared__ float sm[kWarps], ss[kWarps];
  const long long r = blockIdx.x;
  const float *row = logits + rowStart(li, r);
  float m, s;
  threadMaxSum(row, li.column, classes, m, s);
  blockMaxSum(m, s, sm, ss);
  if (threadIdx.x == 0) {
    const long long t = targets[rowStart(ti, r)];
    loss[r] = (logf(s) + m) - row[t * li.column];
  }
}

/// out[0] = (sum of the `rows` values of `loss`) / rows, the sum in a fixed
/// order; one block.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_cross_entropy_mean(const float *loss, long long rows, float *out) {
  __shared__ float part[kBlock];
  float acc = 0.0f;
  for (long long r = threadIdx.x; r < rows; r += kBlock)
    acc += loss[r];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int n = kBlock / 2; n > 0; n /= 2) {
    if ((int)threadIdx.x < n)
      part[threadIdx.x] += part[threadIdx.x + n];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    out[0] = part[0] / (float)rows;
}

/// dlogits = (softmax(logits) - onehot(target)) * dloss[0] / rows over the
/// columns [0, classes), exactly 0 in [classes, V); a block per row. Out:
/// dlogits' element type.
template <typename Out>
__device__ void
crossEntropyBwd(const float *logits, RowIndex li, const int *targets,
                RowIndex ti, const float *dloss, Out *dlogits, RowIndex di,
                long long rows, long long V, long long classes) {
  __shared__ float sm[kWarps], ss[kWarps];
  const long long r = blockIdx.x;
  const float *row = logits + rowStart(li, r);
  Out *out = dlogits + rowStart(di, r);
  float m, s;
  threadMaxSum(row, li.column, classes, m, s);
  blockMaxSum(m, s, sm, ss);
  const float scale = dloss[0] / (float)rows;
  const long long t = targets[rowStart(ti, r)];
  for (long long c = threadIdx.x; c < V; c += kBlock) {
    float g = 0.0f;
    if (c < classes) {
      const float p = expf(row[c * li.column] - m) / s;
      g = (p - (c == t ? 1.0f : 0.0f)) * scale;
    }
    store(out + c * di.column, g);
  }
}

extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_cross_entropy_bwd(const float *logits, RowIndex li, const int *targets,
                          RowIndex ti, const float *dloss, float *dlogits,
                          RowIndex di, long long rows, long long V,
                          long long classes) {
  crossEntropyBwd(logits, li, targets, ti, dloss, dlogits, di, rows, V,
                  classes);
}

/// The same with dlogits stored as bfloat16 (lmc-bf16-storage: only GEMMs
/// read it), each value rounded once.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_cross_entropy_bwd_bf16(const float *logits, RowIndex li,
                               const int *targets, RowIndex ti,
                               const float *dloss, __nv_bfloat16 *dlogits,
                               RowIndex di, long long rows, long long V,
                               long long classes) {
  crossEntropyBwd(logits, li, targets, ti, dloss, dlogits, di, rows, V,
                  classes);
}

/// y = exp(x - max) / sum(exp(x - max)) over each of the `rows` rows of C
/// columns, a warp per row, as the CPU lowering computes it: the row's
/// maximum (a NaN wins, as arith.maximumf), the sum of exponentials, then
/// one pass writing y (the row is read from L1 after the first pass).
/// -inf entries (a causal mask's) get 0; a row all -inf, or with a NaN or
/// +inf, is NaN, as on the CPU.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_softmax_fwd(const float *x, RowIndex xi, float *y, RowIndex yi,
                    long long rows, int C) {
  const int lane = threadIdx.x % kWarp;
  const long long r = (long long)blockIdx.x * kWarps + threadIdx.x / kWarp;
  if (r >= rows)
    return;
  const float *xr = x + rowStart(xi, r);
  float *yr = y + rowStart(yi, r);
  float m = -CUDART_INF_F;
  for (int c = lane; c < C; c += kWarp)
    m = maxOrNaN(m, xr[c * xi.column]);
#pragma unroll
  for (int k = kWarp / 2; k > 0; k /= 2)
    m = maxOrNaN(m, __shfl_xor_sync(0xffffffffu, m, k));
  float s = 0.0f;
  for (int c = lane; c < C; c += kWarp)
    s += expf(xr[c * xi.column] - m);
  s = warpSum(s);
  for (int c = lane; c < C; c += kWarp)
    yr[c * yi.column] = expf(xr[c * xi.column] - m) / s;
}

/// dx = y * (dy - sum(dy * y)) over each row, from the softmax's output y;
/// a warp per row.
extern "C" __global__ void __launch_bounds__(kBlock)
    lmc_softmax_bwd(const float *y, RowIndex yi, const float *dy,
                    RowIndex dyi, float *dx, RowIndex dxi, long long rows,
                    int C) {
  const int lane = threadIdx.x % kWarp;
  const long long r = (long long)blockIdx.x * kWarps + threadIdx.x / kWarp;
  if (r >= rows)
    return;
  const float *yr = y + rowStart(yi, r);
  const float *gr = dy + rowStart(dyi, r);
  float *dr = dx + rowStart(dxi, r);
  float dot = 0.0f;
  for (int c = lane; c < C; c += kWarp)
    dot += yr[c * yi.column] * gr[c * dyi.column];
  dot = warpSum(dot);
  for (int c = lane; c < C; c += kWarp)
    dr[c * dxi.column] = yr[c * yi.column] * (gr[c * dyi.column] - dot);
}
