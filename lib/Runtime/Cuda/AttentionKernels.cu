//===- AttentionKernels.cu - Causal attention without the T x T matrix ----===//
//
// The GPU kernels behind lmcrt_gpu_attention_fwd_f32 / _bwd_f32 (the
// flash-attention formulation of lmc.flash_attention and its gradient):
// causal multi-head attention over [B, T, C] queries and [B, T, Hkv * D] keys
// and values with C = H * D, scale 1 / sqrt(D), Hkv dividing H (grouped-query
// attention: query head h reads key/value head h / G, G = H / Hkv), computed
// tile by tile with an online softmax
// so that no [T, T] score or probability matrix is ever stored. The forward
// pass also writes the log-sum-exp of each row's scaled, masked scores
// (lse, [B, H, T]); the backward pass recomputes the probabilities from it.
//
// Layout: every [B, T, C] operand has unit channel stride and its own batch
// and time strides (in elements); lse and delta are [B, H, T] with their own
// batch and head strides and unit time stride. Query head h reads channels
// [h * D, (h + 1) * D) of q, out and dout, and key/value head h / G the
// channels [(h / G) * D, (h / G + 1) * D) of k and v.
//
// Work split (float32 on CUDA cores, AttentionShapes.h: TILE = 2048 / D rows
// per block, each row handled by P = lanesPerRow(D) adjacent lanes of a warp,
// lane p owning channels p, p + P, p + 2P, ..., so that a thread keeps at
// most 32 channels of a row in registers; a row's dot products are the sum
// of its lanes' partial sums, exchanged by warp shuffles):
//   forward   a query row per P lanes: its scaled query and output
//             accumulator in registers, the block's key and value tiles in
//             shared memory, the running maximum and sum per row (the
//             accumulator is rescaled when the maximum grows);
//   delta     delta[i] = dO[i] . O[i], one thread per (b, h, i);
//   dK, dV    a key row j of a key/value head per P lanes, accumulating
//             over the G query heads of its group and their queries i >= j
//             from shared tiles of Q and dO;
//   dQ        a query row i per P lanes, accumulating over keys j <= i from
//             shared tiles of K and V.
// Every output row belongs to one group of lanes: no atomics, and the
// results do not depend on the schedule. The causal mask is a select, not a
// branch, and every thread of a block runs the same loop trips (rows past T
// compute on zeros and store nothing), so that the shuffles always find the
// whole warp. Shared rows are D + P floats apart: a warp reading its own rows
// (dK/dV's keys, dQ's queries) touches 32 different banks.
//
// bfloat16 activations (lmcrt_gpu_attention_*_bf16_in and _bf16_in_out,
// lmc-bf16-storage; D 16 and 32, whose `--precision bf16` programs keep
// these kernels): the same kernels templated on the element types, q, k, v
// and dO (and O for delta) read as bfloat16 and extended exactly to
// float32 as they are loaded, and O, dQ, dK and dV stored as float32 or
// rounded once to bfloat16; lse and delta stay float32. Kernel names:
// lmc_attention_<kernel>_d<D> (float32 in and out, every D),
// _d<D>_bf16in (bfloat16 in, float32 out) and _d<D>_bf16io (bfloat16 in
// and out) for D 16 and 32, and lmc_attention_delta_bf16in (for every D).
// On the same values all run the same float32 arithmetic.
//
// The kernels are compiled by nvcc into a fatbin (sm_80, sm_90 and PTX)
// that the GPU runtime embeds and loads through the driver API.
//
//===----------------------------------------------------------------------===//

#include "AttentionShapes.h"

#include <cuda_bf16.h>
#include <math_constants.h>

namespace {

using lmc_attention_f32::lanesPerRow;
using lmc_attention_f32::rowsPerBlock;

/// An element of an input read as float32: a float32 as it is, a bfloat16
/// extended (exactly).
__device__ inline float toFloat(float x) { return x; }
__device__ inline float toFloat(__nv_bfloat16 x) { return __bfloat162float(x); }

/// A float32 result stored as float32, or rounded once to bfloat16 (to
/// nearest, ties to even).
__device__ inline void store(float &to, float v) { to = v; }
__device__ inline void store(__nv_bfloat16 &to, float v) {
  to = __float2bfloat16(v);
}

/// Strides of a [B, T, C] operand (unit channel stride).
struct Rows {
  long long batch, time;
};

/// Strides of a [B, H, T] operand (unit time stride).
struct Stats {
  long long batch, head;
};

/// The block shape for head size D: TILE rows of P lanes, shared rows of
/// STRIDE floats (D + P: the lanes of a warp reading their own rows, lane
/// p at channel c * P + p of row r, fall on bank (P * (r + c) + p) mod 32,
/// all different), and the CH channels each lane owns.
template <int D> struct Shape {
  static constexpr int TILE = rowsPerBlock(D);
  static constexpr int P = lanesPerRow(D);
  static constexpr int STRIDE = D + P;
  static constexpr int CH = D / P;
};

/// The row this thread works on within its block's tile, and its lane in
/// the row's group of P lanes.
template <int D> __device__ int tileRow() { return threadIdx.x / Shape<D>::P; }
template <int D> __device__ int rowLane() { return threadIdx.x % Shape<D>::P; }

/// The sum of `partial` over the P lanes of this thread's row (every lane
/// gets it). All 32 lanes of the warp call it together.
template <int D> __device__ float rowSum(float partial) {
#pragma unroll
  for (int offset = 1; offset < Shape<D>::P; offset *= 2)
    partial += __shfl_xor_sync(0xffffffffu, partial, offset);
  return partial;
}

/// Loads rows [first, first + TILE) of head h of batch b of two [B, T, C]
/// operands into shared tiles, rows past T as zeros; the block's threads
/// share the work. The caller synchronises before reading the tiles.
template <int D, typename In>
__device__ void loadTiles(float (*xTile)[Shape<D>::STRIDE], const In *x,
                          Rows xs, float (*yTile)[Shape<D>::STRIDE],
                          const In *y, Rows ys, int b, int h, int first,
                          int T) {
  constexpr int TILE = Shape<D>::TILE;
  for (int e = threadIdx.x; e < TILE * D; e += blockDim.x) {
    const int r = e / D, c = e % D, row = first + r;
    const bool in = row < T;
    xTile[r][c] =
        in ? toFloat(x[b * xs.batch + (long long)row * xs.time + h * D + c])
           : 0.0f;
    yTile[r][c] =
        in ? toFloat(y[b * ys.batch + (long long)row * ys.time + h * D + c])
           : 0.0f;
  }
}

template <int D, typename In, typename Out>
__device__ void forward(const In *q, Rows qs, const In *k, Rows ks, const In *v,
                        Rows vs, Out *out, Rows os, float *lse, Stats ls, int T,
                        int H, int G, float scale) {
  using S = Shape<D>;
  __shared__ float kTile[S::TILE][S::STRIDE];
  __shared__ float vTile[S::TILE][S::STRIDE];
  const int b = blockIdx.y / H, h = blockIdx.y % H, hk = h / G;
  const int first = blockIdx.x * S::TILE;
  const int p = rowLane<D>();
  const int i = first + tileRow<D>();
  const bool active = i < T;
  const int last = min(T - 1, first + S::TILE - 1); // the block's last query

  float qi[S::CH], acc[S::CH];
  const In *qRow = q + b * qs.batch + (long long)i * qs.time + h * D;
#pragma unroll
  for (int c = 0; c < S::CH; ++c) {
    qi[c] = active ? toFloat(qRow[c * S::P + p]) * scale : 0.0f;
    acc[c] = 0.0f;
  }
  float m = -CUDART_INF_F, l = 0.0f;

  for (int j0 = 0; j0 <= last; j0 += S::TILE) {
    loadTiles<D>(kTile, k, ks, vTile, v, vs, b, hk, j0, T);
    __syncthreads();
    // Keys j0 .. the block's last query, masked past this row's (key 0 is
    // never masked, so the maximum is finite before the first masked key);
    // the accumulator is rescaled only when the running maximum grows.
    const int count = min(S::TILE, last - j0 + 1);
#pragma unroll 1
    for (int r = 0; r < count; ++r) {
      float partial = 0.0f;
#pragma unroll
      for (int c = 0; c < S::CH; ++c)
        partial += qi[c] * kTile[r][c * S::P + p];
      const float dot = rowSum<D>(partial);
      const float s = j0 + r <= i ? dot : -CUDART_INF_F;
      if (s > m) {
        const float correction = expf(m - s); // 0 on the first key
        l *= correction;
#pragma unroll
        for (int c = 0; c < S::CH; ++c)
          acc[c] *= correction;
        m = s;
      }
      const float e = expf(s - m);
      l += e;
#pragma unroll
      for (int c = 0; c < S::CH; ++c)
        acc[c] += e * vTile[r][c * S::P + p];
    }
    __syncthreads();
  }
  if (!active)
    return;
  Out *oRow = out + b * os.batch + (long long)i * os.time + h * D;
  const float inv = 1.0f / l;
#pragma unroll
  for (int c = 0; c < S::CH; ++c) {
    const float o = acc[c] * inv;
    store(oRow[c * S::P + p], o);
  }
  if (p == 0)
    lse[b * ls.batch + h * ls.head + i] = m + logf(l);
}

template <typename In>
__device__ void delta(const In *out, Rows os, const In *dout, Rows ds,
                      float *dlt, Stats ts, int T, int H, int D) {
  const int b = blockIdx.y / H, h = blockIdx.y % H;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= T)
    return;
  const In *o = out + b * os.batch + (long long)i * os.time + h * D;
  const In *g = dout + b * ds.batch + (long long)i * ds.time + h * D;
  float sum = 0.0f;
  for (int d = 0; d < D; ++d)
    sum += toFloat(o[d]) * toFloat(g[d]);
  dlt[b * ts.batch + h * ts.head + i] = sum;
}

template <int D, typename In, typename Out>
__device__ void keyGradients(const In *q, Rows qs, const In *k, Rows ks,
                             const In *v, Rows vs, const In *dout, Rows gs,
                             const float *lse, Stats ls, const float *dlt,
                             Stats ts, Out *dk, Rows dks, Out *dv, Rows dvs,
                             int T, int H, int G, float scale) {
  using S = Shape<D>;
  __shared__ float qTile[S::TILE][S::STRIDE];
  __shared__ float gTile[S::TILE][S::STRIDE];
  __shared__ float kRows[S::TILE][S::STRIDE];
  __shared__ float vRows[S::TILE][S::STRIDE];
  __shared__ float lseTile[S::TILE], deltaTile[S::TILE];
  // One block per (batch, key/value head, key tile).
  const int hkv = H / G;
  const int b = blockIdx.y / hkv, hk = blockIdx.y % hkv;
  const int first = blockIdx.x * S::TILE;
  const int row = tileRow<D>(), p = rowLane<D>();
  const int j = first + row;
  const bool active = j < T;
  loadTiles<D>(kRows, k, ks, vRows, v, vs, b, hk, first, T);
  float dkAcc[S::CH], dvAcc[S::CH];
#pragma unroll
  for (int c = 0; c < S::CH; ++c)
    dkAcc[c] = dvAcc[c] = 0.0f;

  // The query heads h of the group, each with its queries i >= j: the tiles
  // from the one holding this block's first key. The sums over the group
  // stay in this thread's registers.
  for (int step = 0, steps = G * ((T - first + S::TILE - 1) / S::TILE);
       step < steps; ++step) {
    const int h = hk * G + step % G, i0 = first + (step / G) * S::TILE;
    __syncthreads();
    loadTiles<D>(qTile, q, qs, gTile, dout, gs, b, h, i0, T);
    for (int r = threadIdx.x; r < S::TILE; r += blockDim.x) {
      const int i = i0 + r;
      lseTile[r] = i < T ? lse[b * ls.batch + h * ls.head + i] : 0.0f;
      deltaTile[r] = i < T ? dlt[b * ts.batch + h * ts.head + i] : 0.0f;
    }
    __syncthreads();
    const int count = min(S::TILE, T - i0);
#pragma unroll 1
    for (int r = 0; r < count; ++r) {
      float s = 0.0f, dp = 0.0f;
#pragma unroll
      for (int c = 0; c < S::CH; ++c) {
        s += qTile[r][c * S::P + p] * kRows[row][c * S::P + p];
        dp += gTile[r][c * S::P + p] * vRows[row][c * S::P + p];
      }
      s = rowSum<D>(s);
      dp = rowSum<D>(dp);
      // Queries before this key (i < j) are masked out.
      const float e = i0 + r >= j ? expf(s * scale - lseTile[r]) : 0.0f;
      const float ds = e * (dp - deltaTile[r]);
#pragma unroll
      for (int c = 0; c < S::CH; ++c) {
        dvAcc[c] += e * gTile[r][c * S::P + p];
        dkAcc[c] += ds * qTile[r][c * S::P + p];
      }
    }
  }
  if (!active)
    return;
  Out *dkRow = dk + b * dks.batch + (long long)j * dks.time + hk * D;
  Out *dvRow = dv + b * dvs.batch + (long long)j * dvs.time + hk * D;
#pragma unroll
  for (int c = 0; c < S::CH; ++c) {
    store(dkRow[c * S::P + p], dkAcc[c] * scale);
    store(dvRow[c * S::P + p], dvAcc[c]);
  }
}

template <int D, typename In, typename Out>
__device__ void queryGradients(const In *q, Rows qs, const In *k, Rows ks,
                               const In *v, Rows vs, const In *dout, Rows gs,
                               const float *lse, Stats ls, const float *dlt,
                               Stats ts, Out *dq, Rows dqs, int T, int H, int G,
                               float scale) {
  using S = Shape<D>;
  __shared__ float kTile[S::TILE][S::STRIDE];
  __shared__ float vTile[S::TILE][S::STRIDE];
  __shared__ float qRows[S::TILE][S::STRIDE];
  __shared__ float gRows[S::TILE][S::STRIDE];
  const int b = blockIdx.y / H, h = blockIdx.y % H, hk = h / G;
  const int first = blockIdx.x * S::TILE;
  const int row = tileRow<D>(), p = rowLane<D>();
  const int i = first + row;
  const bool active = i < T;
  const int last = min(T - 1, first + S::TILE - 1);
  loadTiles<D>(qRows, q, qs, gRows, dout, gs, b, h, first, T);
  const float lseI = active ? lse[b * ls.batch + h * ls.head + i] : 0.0f;
  const float deltaI = active ? dlt[b * ts.batch + h * ts.head + i] : 0.0f;
  float dqAcc[S::CH];
#pragma unroll
  for (int c = 0; c < S::CH; ++c)
    dqAcc[c] = 0.0f;
  for (int j0 = 0; j0 <= last; j0 += S::TILE) {
    __syncthreads();
    loadTiles<D>(kTile, k, ks, vTile, v, vs, b, hk, j0, T);
    __syncthreads();
    // Keys j0 .. the block's last query, masked past this row's.
    const int count = min(S::TILE, last - j0 + 1);
#pragma unroll 1
    for (int r = 0; r < count; ++r) {
      float s = 0.0f, dp = 0.0f;
#pragma unroll
      for (int c = 0; c < S::CH; ++c) {
        s += qRows[row][c * S::P + p] * kTile[r][c * S::P + p];
        dp += gRows[row][c * S::P + p] * vTile[r][c * S::P + p];
      }
      s = rowSum<D>(s);
      dp = rowSum<D>(dp);
      const float e = j0 + r <= i ? expf(s * scale - lseI) : 0.0f;
      const float ds = e * (dp - deltaI);
#pragma unroll
      for (int c = 0; c < S::CH; ++c)
        dqAcc[c] += ds * kTile[r][c * S::P + p];
    }
  }
  if (!active)
    return;
  Out *dqRow = dq + b * dqs.batch + (long long)i * dqs.time + h * D;
#pragma unroll
  for (int c = 0; c < S::CH; ++c) {
    const float dqValue = dqAcc[c] * scale;
    store(dqRow[c * S::P + p], dqValue);
  }
}

} // namespace

// The entry points, with C linkage so that the runtime finds them by name:
// lmc_attention_<kernel>_d<D><SUFFIX> with the kernel's element types
// `In` (q, k, v, dout; out and dout for the delta) and `Out` (out of the
// forward pass, dq, dk, dv): SUFFIX empty for float32 throughout, _bf16in
// for bfloat16 inputs and float32 outputs, _bf16io for bfloat16 inputs and
// outputs. lse and delta are float32 in all of them.
#define LMC_ATTENTION_KERNELS_AS(D, SUFFIX, In, Out)                           \
  extern "C" __global__ void __launch_bounds__(                                \
      lmc_attention_f32::threadsPerBlock(D))                                   \
      lmc_attention_fwd_d##D##SUFFIX(const In *q, Rows qs, const In *k,        \
                                     Rows ks, const In *v, Rows vs, Out *out,  \
                                     Rows os, float *lse, Stats ls, int T,     \
                                     int H, int G, float scale) {              \
    forward<D>(q, qs, k, ks, v, vs, out, os, lse, ls, T, H, G, scale);         \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(                                \
      lmc_attention_f32::threadsPerBlock(D))                                   \
      lmc_attention_dkdv_d##D##SUFFIX(                                         \
          const In *q, Rows qs, const In *k, Rows ks, const In *v, Rows vs,    \
          const In *dout, Rows gs, const float *lse, Stats ls,                 \
          const float *dlt, Stats ts, Out *dk, Rows dks, Out *dv, Rows dvs,    \
          int T, int H, int G, float scale) {                                  \
    keyGradients<D>(q, qs, k, ks, v, vs, dout, gs, lse, ls, dlt, ts, dk, dks,  \
                    dv, dvs, T, H, G, scale);                                  \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(                                \
      lmc_attention_f32::threadsPerBlock(D))                                   \
      lmc_attention_dq_d##D##SUFFIX(                                           \
          const In *q, Rows qs, const In *k, Rows ks, const In *v, Rows vs,    \
          const In *dout, Rows gs, const float *lse, Stats ls,                 \
          const float *dlt, Stats ts, Out *dq, Rows dqs, int T, int H, int G,  \
          float scale) {                                                       \
    queryGradients<D>(q, qs, k, ks, v, vs, dout, gs, lse, ls, dlt, ts, dq,     \
                      dqs, T, H, G, scale);                                    \
  }

// float32 (every head size: fp32 and tf32 programs).
LMC_ATTENTION_KERNELS_AS(16, , float, float)
LMC_ATTENTION_KERNELS_AS(32, , float, float)
LMC_ATTENTION_KERNELS_AS(64, , float, float)
LMC_ATTENTION_KERNELS_AS(128, , float, float)

// bfloat16 activations (lmc-bf16-storage, `--precision bf16` only, whose
// head sizes 64 and 128 take the tensor-core kernels).
LMC_ATTENTION_KERNELS_AS(16, _bf16in, __nv_bfloat16, float)
LMC_ATTENTION_KERNELS_AS(32, _bf16in, __nv_bfloat16, float)
LMC_ATTENTION_KERNELS_AS(16, _bf16io, __nv_bfloat16, __nv_bfloat16)
LMC_ATTENTION_KERNELS_AS(32, _bf16io, __nv_bfloat16, __nv_bfloat16)

extern "C" __global__ void lmc_attention_delta(const float *out, Rows os,
                                               const float *dout, Rows ds,
                                               float *dlt, Stats ts, int T,
                                               int H, int D) {
  delta(out, os, dout, ds, dlt, ts, T, H, D);
}

/// delta on bfloat16 out and dout (the backward pass of the bf16 entries,
/// every head size).
extern "C" __global__ void
lmc_attention_delta_bf16in(const __nv_bfloat16 *out, Rows os,
                           const __nv_bfloat16 *dout, Rows ds, float *dlt,
                           Stats ts, int T, int H, int D) {
  delta(out, os, dout, ds, dlt, ts, T, H, D);
}
