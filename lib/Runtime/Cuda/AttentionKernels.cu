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
// Work split (float32 on CUDA cores, one thread per row, TILE rows per block;
// TILE * D = 2048 so that the shared tiles take 16 or 32 KiB for every D):
//   forward   one thread per query row: its scaled query and output
//             accumulator in registers, the block's key and value tiles in
//             shared memory, the running maximum and sum per row (the
//             accumulator is rescaled when the maximum grows);
//   delta     delta[i] = dO[i] . O[i], one thread per (b, h, i);
//   dK, dV    one thread per key row j of a key/value head, accumulating
//             over the G query heads of its group and their queries i >= j
//             from shared tiles of Q and dO;
//   dQ        one thread per query row i, accumulating over keys j <= i from
//             shared tiles of K and V.
// Every output row belongs to one thread: no atomics, and the results do
// not depend on the schedule.
//
// The kernels are compiled by nvcc into a fatbin (sm_80, sm_90 and PTX)
// that the GPU runtime embeds and loads through the driver API.
//
//===----------------------------------------------------------------------===//

#include <math_constants.h>

namespace {

/// Strides of a [B, T, C] operand (unit channel stride).
struct Rows {
  long long batch, time;
};

/// Strides of a [B, H, T] operand (unit time stride).
struct Stats {
  long long batch, head;
};

template <int D> struct Tile {
  static constexpr int rows = 2048 / D;
};

/// Loads rows [first, first + TILE) of head h of batch b of two [B, T, C]
/// operands into shared tiles, rows past T as zeros; the block's threads
/// share the work. The caller synchronises before reading the tiles.
template <int D>
__device__ void loadTiles(float (*xTile)[D], const float *x, Rows xs,
                          float (*yTile)[D], const float *y, Rows ys, int b,
                          int h, int first, int T) {
  constexpr int TILE = Tile<D>::rows;
  for (int e = threadIdx.x; e < TILE * D; e += blockDim.x) {
    const int r = e / D, c = e % D, row = first + r;
    const bool in = row < T;
    xTile[r][c] = in ? x[b * xs.batch + (long long)row * xs.time + h * D + c]
                     : 0.0f;
    yTile[r][c] = in ? y[b * ys.batch + (long long)row * ys.time + h * D + c]
                     : 0.0f;
  }
}

template <int D>
__device__ void forward(const float *q, Rows qs, const float *k, Rows ks,
                        const float *v, Rows vs, float *out, Rows os,
                        float *lse, Stats ls, int T, int H, int G,
                        float scale) {
  constexpr int TILE = Tile<D>::rows;
  __shared__ float kTile[TILE][D];
  __shared__ float vTile[TILE][D];
  const int b = blockIdx.y / H, h = blockIdx.y % H, hk = h / G;
  const int first = blockIdx.x * TILE;
  const int i = first + threadIdx.x;
  const bool active = i < T;
  const int last = min(T - 1, first + TILE - 1); // the block's last query

  float qi[D], acc[D];
  const float *qRow = q + b * qs.batch + (long long)i * qs.time + h * D;
#pragma unroll
  for (int d = 0; d < D; ++d) {
    qi[d] = active ? qRow[d] * scale : 0.0f;
    acc[d] = 0.0f;
  }
  float m = -CUDART_INF_F, l = 0.0f;

  for (int j0 = 0; j0 <= last; j0 += TILE) {
    loadTiles<D>(kTile, k, ks, vTile, v, vs, b, hk, j0, T);
    __syncthreads();
    if (active && j0 <= i) {
      // Keys j0 .. min(i, j0 + TILE - 1); the accumulator is rescaled only
      // when the running maximum grows.
      const int count = min(TILE, i - j0 + 1);
#pragma unroll 1
      for (int r = 0; r < count; ++r) {
        float s = 0.0f;
#pragma unroll
        for (int d = 0; d < D; ++d)
          s += qi[d] * kTile[r][d];
        if (s > m) {
          const float correction = expf(m - s); // 0 on the first key
          l *= correction;
#pragma unroll
          for (int d = 0; d < D; ++d)
            acc[d] *= correction;
          m = s;
        }
        const float p = expf(s - m);
        l += p;
#pragma unroll
        for (int d = 0; d < D; ++d)
          acc[d] += p * vTile[r][d];
      }
    }
    __syncthreads();
  }
  if (!active)
    return;
  float *oRow = out + b * os.batch + (long long)i * os.time + h * D;
  const float inv = 1.0f / l;
#pragma unroll
  for (int d = 0; d < D; ++d)
    oRow[d] = acc[d] * inv;
  lse[b * ls.batch + h * ls.head + i] = m + logf(l);
}

__device__ void delta(const float *out, Rows os, const float *dout, Rows ds,
                      float *dlt, Stats ts, int T, int H, int D) {
  const int b = blockIdx.y / H, h = blockIdx.y % H;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= T)
    return;
  const float *o = out + b * os.batch + (long long)i * os.time + h * D;
  const float *g = dout + b * ds.batch + (long long)i * ds.time + h * D;
  float sum = 0.0f;
  for (int d = 0; d < D; ++d)
    sum += o[d] * g[d];
  dlt[b * ts.batch + h * ts.head + i] = sum;
}

template <int D>
__device__ void keyGradients(const float *q, Rows qs, const float *k, Rows ks,
                             const float *v, Rows vs, const float *dout,
                             Rows gs, const float *lse, Stats ls,
                             const float *dlt, Stats ts, float *dk, Rows dks,
                             float *dv, Rows dvs, int T, int H, int G,
                             float scale) {
  constexpr int TILE = Tile<D>::rows;
  __shared__ float qTile[TILE][D];
  __shared__ float gTile[TILE][D];
  __shared__ float kRows[TILE][D];
  __shared__ float vRows[TILE][D];
  __shared__ float lseTile[TILE], deltaTile[TILE];
  // One block per (batch, key/value head, key tile).
  const int hkv = H / G;
  const int b = blockIdx.y / hkv, hk = blockIdx.y % hkv;
  const int first = blockIdx.x * TILE;
  const int j = first + threadIdx.x;
  const bool active = j < T;
  loadTiles<D>(kRows, k, ks, vRows, v, vs, b, hk, first, T);
  float dkAcc[D], dvAcc[D];
#pragma unroll
  for (int d = 0; d < D; ++d)
    dkAcc[d] = dvAcc[d] = 0.0f;

  // The query heads h of the group, each with its queries i >= j: the tiles
  // from the one holding this block's first key. The sums over the group
  // stay in this thread's registers.
  for (int step = 0, steps = G * ((T - first + TILE - 1) / TILE); step < steps;
       ++step) {
    const int h = hk * G + step % G, i0 = first + (step / G) * TILE;
    __syncthreads();
    loadTiles<D>(qTile, q, qs, gTile, dout, gs, b, h, i0, T);
    for (int r = threadIdx.x; r < TILE; r += blockDim.x) {
      const int i = i0 + r;
      lseTile[r] = i < T ? lse[b * ls.batch + h * ls.head + i] : 0.0f;
      deltaTile[r] = i < T ? dlt[b * ts.batch + h * ts.head + i] : 0.0f;
    }
    __syncthreads();
    if (!active)
      continue;
#pragma unroll 1
    for (int r = 0; r < TILE; ++r) {
      const int i = i0 + r;
      if (i >= T)
        break;
      if (i < j)
        continue;
      float s = 0.0f, dp = 0.0f;
#pragma unroll
      for (int d = 0; d < D; ++d) {
        s += qTile[r][d] * kRows[threadIdx.x][d];
        dp += gTile[r][d] * vRows[threadIdx.x][d];
      }
      const float p = expf(s * scale - lseTile[r]);
      const float ds = p * (dp - deltaTile[r]);
#pragma unroll
      for (int d = 0; d < D; ++d) {
        dvAcc[d] += p * gTile[r][d];
        dkAcc[d] += ds * qTile[r][d];
      }
    }
  }
  if (!active)
    return;
  float *dkRow = dk + b * dks.batch + (long long)j * dks.time + hk * D;
  float *dvRow = dv + b * dvs.batch + (long long)j * dvs.time + hk * D;
#pragma unroll
  for (int d = 0; d < D; ++d) {
    dkRow[d] = dkAcc[d] * scale;
    dvRow[d] = dvAcc[d];
  }
}

template <int D>
__device__ void queryGradients(const float *q, Rows qs, const float *k,
                               Rows ks, const float *v, Rows vs,
                               const float *dout, Rows gs, const float *lse,
                               Stats ls, const float *dlt, Stats ts, float *dq,
                               Rows dqs, int T, int H, int G, float scale) {
  constexpr int TILE = Tile<D>::rows;
  __shared__ float kTile[TILE][D];
  __shared__ float vTile[TILE][D];
  __shared__ float qRows[TILE][D];
  __shared__ float gRows[TILE][D];
  const int b = blockIdx.y / H, h = blockIdx.y % H, hk = h / G;
  const int first = blockIdx.x * TILE;
  const int i = first + threadIdx.x;
  const bool active = i < T;
  const int last = min(T - 1, first + TILE - 1);
  loadTiles<D>(qRows, q, qs, gRows, dout, gs, b, h, first, T);
  const float lseI = active ? lse[b * ls.batch + h * ls.head + i] : 0.0f;
  const float deltaI = active ? dlt[b * ts.batch + h * ts.head + i] : 0.0f;
  float dqAcc[D];
#pragma unroll
  for (int d = 0; d < D; ++d)
    dqAcc[d] = 0.0f;
  for (int j0 = 0; j0 <= last; j0 += TILE) {
    __syncthreads();
    loadTiles<D>(kTile, k, ks, vTile, v, vs, b, hk, j0, T);
    __syncthreads();
    if (!active)
      continue;
#pragma unroll 1
    for (int r = 0; r < TILE; ++r) {
      const int j = j0 + r;
      if (j > i)
        break;
      float s = 0.0f, dp = 0.0f;
#pragma unroll
      for (int d = 0; d < D; ++d) {
        s += qRows[threadIdx.x][d] * kTile[r][d];
        dp += gRows[threadIdx.x][d] * vTile[r][d];
      }
      const float p = expf(s * scale - lseI);
      const float ds = p * (dp - deltaI);
#pragma unroll
      for (int d = 0; d < D; ++d)
        dqAcc[d] += ds * kTile[r][d];
    }
  }
  if (!active)
    return;
  float *dqRow = dq + b * dqs.batch + (long long)i * dqs.time + h * D;
#pragma unroll
  for (int d = 0; d < D; ++d)
    dqRow[d] = dqAcc[d] * scale;
}

} // namespace

// One entry point per head size, with C linkage so that the runtime finds
// them by name (lmc_attention_<kernel>_d<D>).
#define LMC_ATTENTION_KERNELS(D)                                               \
  extern "C" __global__ void __launch_bounds__(Tile<D>::rows)                  \
      lmc_attention_fwd_d##D(const float *q, Rows qs, const float *k, Rows ks, \
                             const float *v, Rows vs, float *out, Rows os,     \
                             float *lse, Stats ls, int T, int H, int G,        \
                             float scale) {                                    \
    forward<D>(q, qs, k, ks, v, vs, out, os, lse, ls, T, H, G, scale);         \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(Tile<D>::rows)                  \
      lmc_attention_dkdv_d##D(                                                 \
          const float *q, Rows qs, const float *k, Rows ks, const float *v,    \
          Rows vs, const float *dout, Rows gs, const float *lse, Stats ls,     \
          const float *dlt, Stats ts, float *dk, Rows dks, float *dv,          \
          Rows dvs, int T, int H, int G, float scale) {                        \
    keyGradients<D>(q, qs, k, ks, v, vs, dout, gs, lse, ls, dlt, ts, dk, dks,  \
                    dv, dvs, T, H, G, scale);                                  \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(Tile<D>::rows)                  \
      lmc_attention_dq_d##D(const float *q, Rows qs, const float *k, Rows ks,  \
                            const float *v, Rows vs, const float *dout,        \
                            Rows gs, const float *lse, Stats ls,               \
                            const float *dlt, Stats ts, float *dq, Rows dqs,   \
                            int T, int H, int G, float scale) {                \
    queryGradients<D>(q, qs, k, ks, v, vs, dout, gs, lse, ls, dlt, ts, dq,     \
                      dqs, T, H, G, scale);                                    \
  }

LMC_ATTENTION_KERNELS(16)
LMC_ATTENTION_KERNELS(32)
LMC_ATTENTION_KERNELS(64)
LMC_ATTENTION_KERNELS(128)

extern "C" __global__ void lmc_attention_delta(const float *out, Rows os,
                                               const float *dout, Rows ds,
                                               float *dlt, Stats ts, int T,
                                               int H, int D) {
  delta(out, os, dout, ds, dlt, ts, T, H, D);
}
