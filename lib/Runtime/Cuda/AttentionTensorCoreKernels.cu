//===- AttentionTensorCoreKernels.cu - Flash attention on tensor cores ----===//
//
// The GPU kernels behind lmcrt_gpu_attention_fwd_bf16 / _bwd_bf16 for head
// sizes 64 and 128: the same causal, grouped-query attention as
// AttentionKernels.cu (same operands, strides, lse and delta, same C ABI and
// results up to bf16 rounding), with the products on tensor cores.
// Activations stay float32 in memory: tiles of q, k, v and dO are loaded as
// float32, rounded to bf16 into shared memory and multiplied with
// nvcuda::wmma bf16 fragments (m16n16k16, float32 accumulators); the softmax,
// its statistics and the accumulators are float32.
//
// The same kernels behind lmcrt_gpu_attention_*_bf16_in and _bf16_in_out
// (lmc-bf16-storage) read q, k, v and dO stored as bfloat16 and copy them
// into the bf16 tiles as they are (nothing rounded; 16 bytes a load where
// the rows are aligned), and _bf16_in_out stores O, dQ, dK and dV as
// bfloat16, each value rounded once from the float32 result; lse and delta
// stay float32. Kernel names: lmc_attention_tc_<kernel>_d<D> (float32 in and
// out), _d<D>_bf16in (bfloat16 in, float32 out), _d<D>_bf16io (bfloat16 in
// and out); on the same values the three run the same float32 arithmetic.
//
// A fragment's elements are spread over the 32 lanes of a warp in a layout
// the hardware chooses, so the kernels touch fragment elements only
// uniformly (a scale for all of them) or through `rowOf`, the row of each of
// a lane's accumulator elements, read once from a tile of row numbers loaded
// into an accumulator; row-wise work (maximum, exponentials, masks) runs on
// tiles stored to shared memory, two lanes per row.
//
// Work split (every output row belongs to one warp: no atomics, and the
// results do not depend on the schedule):
//   forward  a block of 4 warps per 64 queries of one (batch, head), a warp
//            per 16 queries, its Q fragments and O accumulators in
//            registers; per key tile (64 keys for D 64, 32 for D 128, as
//            bf16 in shared memory): S = Q K^T, an online softmax of S*scale
//            on the stored tile (causal mask, running maximum and sum per
//            row), P rounded to bf16, O rescaled (rowOf) and O += P V. Writes
//            O and lse = log-sum-exp of the scaled, masked scores, as the
//            float32 kernel does.
//   dK, dV   a block per (batch, key/value head, 16 * W keys), a warp per 16
//            keys (W = 4 for D 64, 2 for D 128), its dK and dV accumulators
//            in registers; per query head of the group and per tile of 32
//            queries i >= the block's first key: S^T = K Q^T and
//            dP^T = V dO^T on tensor cores, P^T = exp(S^T*scale - lse) and
//            dS^T = P^T (dP^T - delta) on the stored tiles, then
//            dV += P^T dO and dK += dS^T Q (dK scaled by `scale` at the end).
//   dQ       a block of 4 warps per 64 queries, a warp per 16; per key tile
//            j <= the block's last query: S = Q K^T, dP = dO V^T,
//            dS = P (dP - delta), dQ += dS K (scaled at the end).
// delta = rowsum(dO * O) comes from lmc_attention_delta (or
// lmc_attention_delta_bf16in) of AttentionKernels.cu. Tiles wholly above the
// diagonal are skipped.
//
// Shared memory is static, under 48 KiB per block for both head sizes. The
// kernels are compiled by nvcc into a fatbin (sm_80, sm_90 and PTX: bf16
// wmma needs sm_80) that the GPU runtime embeds and loads through the
// driver API; test/Runtime/AttentionTensorCoreEmulationTest.cpp runs them on
// the host.
//
//===----------------------------------------------------------------------===//

#include "AttentionTensorCoreShapes.h"

#include <cuda_bf16.h>
#include <math_constants.h>
#include <mma.h>

namespace {

using namespace nvcuda;
using bf16 = __nv_bfloat16;

/// Strides of a [B, T, C] operand (unit channel stride).
struct Rows {
  long long batch, time;
};

/// Strides of a [B, H, T] operand (unit time stride).
struct Stats {
  long long batch, head;
};

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
/// B read transposed: B[c][j] = X[j][c] of a row-major tile X.
using FragBt =
    wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
constexpr int kElements = FragC::num_elements;

/// Rounds rows [first, first + rows) of head h of batch b of a [B, T, C]
/// float32 operand to bf16 into `tile` (row stride ld), rows past T as
/// zeros; threads `thread`, `thread + count`, ... share the work.
template <int D>
__device__ void loadBf16(bf16 *tile, int ld, int rows, const float *x, Rows xs,
                         int b, int h, int first, int T, int thread,
                         int count) {
  for (int e = thread; e < rows * D; e += count) {
    const int r = e / D, c = e % D, row = first + r;
    const float value =
        row < T ? x[b * xs.batch + (long long)row * xs.time + h * D + c] : 0.0f;
    tile[r * ld + c] = __float2bfloat16(value);
  }
}

/// Eight bf16, 16 bytes, for loads and stores of 128 bits.
struct alignas(16) Bf16x8 {
  bf16 x[8];
};

/// The same for a bfloat16 operand, copied as it is (no rounding), eight
/// elements (16 bytes) at a time: with one 128-bit load when the operand's
/// address and strides keep every row's start 16-byte aligned (q, k and v
/// sliced from one projection, C a multiple of 64, are), else one element at
/// a time. The 8 elements lie in one row (D is a multiple of 8), and so do
/// their 16 bytes of the tile (ld a multiple of 8). (One loop for both: a
/// loop per case cost dQ at D 64 about 40 registers on sm_90.)
template <int D>
__device__ void loadBf16(bf16 *tile, int ld, int rows, const bf16 *x, Rows xs,
                         int b, int h, int first, int T, int thread,
                         int count) {
  static_assert(D % 8 == 0, "a head's row is whole 16-byte pieces");
  const bool wide = reinterpret_cast<unsigned long long>(x) % 16 == 0 &&
                    xs.batch % 8 == 0 && xs.time % 8 == 0;
  for (int e = 8 * thread; e < rows * D; e += 8 * count) {
    const int r = e / D, c = e % D, row = first + r;
    Bf16x8 value = {}; // zeros for the rows past T
    if (row < T) {
      const bf16 *from =
          x + b * xs.batch + (long long)row * xs.time + h * D + c;
      if (wide)
        value = *reinterpret_cast<const Bf16x8 *>(from);
      else
        for (int i = 0; i < 8; ++i)
          value.x[i] = from[i];
    }
    *reinterpret_cast<Bf16x8 *>(tile + r * ld + c) = value;
  }
}

/// A float32 result stored as float32, or rounded once to bfloat16 (to
/// nearest, ties to even).
__device__ inline void store(float &to, float v) { to = v; }
__device__ inline void store(bf16 &to, float v) { to = __float2bfloat16(v); }

/// Writes a warp's 16 x D result, its D / 16 accumulators, to rows
/// [first, first + 16) of head h of batch b (rows past T skipped), through
/// `scratch`, 16 rows of `ld` floats of the warp's own; `Out` float32 or
/// bfloat16 (each value rounded once).
template <int D, typename Out>
__device__ void storeRows(FragC (&acc)[D / 16], float *scratch, int ld,
                          Out *out, Rows os, int b, int h, int first, int T,
                          int lane) {
#pragma unroll
  for (int n = 0; n < D / 16; ++n) {
    wmma::store_matrix_sync(scratch, acc[n], ld, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      const int r = e / 16, c = e % 16, row = first + r;
      if (row < T) {
        const float value = scratch[r * ld + c];
        store(out[b * os.batch + (long long)row * os.time + h * D + n * 16 + c],
              value);
      }
    }
    __syncwarp();
  }
}

/// Which row of a 16 x 16 accumulator each of this lane's elements holds:
/// a tile of row numbers loaded into an accumulator (`scratch`, 16 rows of
/// `ld` floats of the warp's own).
__device__ void accumulatorRows(int (&rowOf)[kElements], float *scratch, int ld,
                                int lane) {
  for (int e = lane; e < 256; e += 32)
    scratch[(e / 16) * ld + e % 16] = static_cast<float>(e / 16);
  __syncwarp();
  FragC rows;
  wmma::load_matrix_sync(rows, scratch, ld, wmma::mem_row_major);
#pragma unroll
  for (int e = 0; e < kElements; ++e)
    rowOf[e] = static_cast<int>(rows.x[e]);
  __syncwarp();
}

//===----------------------------------------------------------------------===//
// Forward
//===----------------------------------------------------------------------===//

template <int D> struct Fwd {
  static constexpr int warps = lmc_attention_tc::kQueryWarps, rows = 16 * warps;
  /// Keys per tile.
  static constexpr int keys = D == 64 ? 64 : 32;
  /// Row strides: bf16 K/V tiles, float32 scores, bf16 probabilities
  /// (padded against bank conflicts, multiples of 16 bytes).
  static constexpr int ldk = D + 8, lds = keys + 4, ldp = keys + 8;
};

template <int D> struct alignas(32) FwdShared {
  /// The key tile then the value tile; before the first, each warp's
  /// queries on their way to its fragments.
  bf16 kv[2 * Fwd<D>::keys * Fwd<D>::ldk];
  float s[Fwd<D>::warps][16 * Fwd<D>::lds];
  bf16 p[Fwd<D>::warps][16 * Fwd<D>::ldp];
  /// The two halves of a row's maximum or sum.
  float pair[Fwd<D>::warps][16][2];
  /// A factor per row for the O accumulators.
  float rowScale[Fwd<D>::warps][16];
};

template <int D, typename In, typename Out>
__device__ void forward(const In *q, Rows qs, const In *k, Rows ks, const In *v,
                        Rows vs, Out *out, Rows os, float *lse, Stats ls, int T,
                        int H, int G, float scale) {
  using C = Fwd<D>;
  constexpr int NB = D / 16, NK = C::keys / 16, HALF = C::keys / 2;
  static_assert(4 * 16 <= 2 * C::keys, "query staging exceeds the K/V tiles");
  __shared__ FwdShared<D> sm;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int b = blockIdx.y / H, h = blockIdx.y % H, hk = h / G;
  const int first = blockIdx.x * C::rows, rowsFirst = first + warp * 16;
  const int last = min(T - 1, first + C::rows - 1);
  const int warpLast = min(T - 1, rowsFirst + 15);
  const bool active = rowsFirst < T;
  float *s = sm.s[warp];
  bf16 *p = sm.p[warp];

  FragA qf[NB];
  {
    bf16 *stage = sm.kv + warp * 16 * C::ldk;
    loadBf16<D>(stage, C::ldk, 16, q, qs, b, h, rowsFirst, T, lane, 32);
    __syncwarp();
#pragma unroll
    for (int kk = 0; kk < NB; ++kk)
      wmma::load_matrix_sync(qf[kk], stage + kk * 16, C::ldk);
  }
  int rowOf[kElements];
  accumulatorRows(rowOf, s, C::lds, lane);
  FragC acc[NB];
#pragma unroll
  for (int n = 0; n < NB; ++n)
    wmma::fill_fragment(acc[n], 0.0f);

  // Lane pairs share a row: lane 2r + half takes the keys 2c + half of the
  // tile for row r (interleaved, so that the pair reads different banks).
  // m is the running maximum of the scores in log2 units (score * scale *
  // log2(e)), l this lane's part of the sum.
  const int r = lane / 2, half = lane % 2, i = rowsFirst + r;
  const float toLog2 = scale * kLog2e;
  float m = -CUDART_INF_F, l = 0.0f;
  for (int j0 = 0; j0 <= last; j0 += C::keys) {
    __syncthreads();
    loadBf16<D>(sm.kv, C::ldk, C::keys, k, ks, b, hk, j0, T, threadIdx.x,
                blockDim.x);
    loadBf16<D>(sm.kv + C::keys * C::ldk, C::ldk, C::keys, v, vs, b, hk, j0, T,
                threadIdx.x, blockDim.x);
    __syncthreads();
    if (!active || j0 > warpLast)
      continue; // the whole tile is above this warp's rows
    const bf16 *kt = sm.kv, *vt = sm.kv + C::keys * C::ldk;
#pragma unroll
    for (int n = 0; n < NK; ++n) {
      FragC sf;
      wmma::fill_fragment(sf, 0.0f);
#pragma unroll
      for (int kk = 0; kk < NB; ++kk) {
        FragBt kf;
        wmma::load_matrix_sync(kf, kt + n * 16 * C::ldk + kk * 16, C::ldk);
        wmma::mma_sync(sf, qf[kk], kf, sf);
      }
      wmma::store_matrix_sync(s + n * 16, sf, C::lds, wmma::mem_row_major);
    }
    __syncwarp();
    // Keys j0 + c with c <= limit are visible to row i (j <= i, j < T);
    // every row sees key 0, so m is finite from the first tile on.
    const int limit = min(i, T - 1) - j0;
    float x[HALF], tileMax = -CUDART_INF_F;
#pragma unroll
    for (int c = 0; c < HALF; ++c) {
      const int col = 2 * c + half;
      x[c] = col <= limit ? s[r * C::lds + col] * toLog2 : -CUDART_INF_F;
      tileMax = fmaxf(tileMax, x[c]);
    }
    sm.pair[warp][r][half] = tileMax;
    __syncwarp();
    const float mNew =
        fmaxf(m, fmaxf(sm.pair[warp][r][0], sm.pair[warp][r][1]));
    const float correction = exp2f(m - mNew); // 0 on the first tile
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < HALF; ++c) {
      // The sum takes the probabilities as rounded for P V, so that O is a
      // weighted mean of the values with weights that add up to one.
      const bf16 pc = __float2bfloat16(exp2f(x[c] - mNew));
      p[r * C::ldp + 2 * c + half] = pc;
      sum += __bfloat162float(pc);
    }
    l = l * correction + sum;
    m = mNew;
    if (half == 0)
      sm.rowScale[warp][r] = correction;
    __syncwarp();
#pragma unroll
    for (int n = 0; n < NB; ++n)
#pragma unroll
      for (int e = 0; e < kElements; ++e)
        acc[n].x[e] *= sm.rowScale[warp][rowOf[e]];
#pragma unroll
    for (int kk = 0; kk < NK; ++kk) {
      FragA pf;
      wmma::load_matrix_sync(pf, p + kk * 16, C::ldp);
#pragma unroll
      for (int n = 0; n < NB; ++n) {
        FragB vf;
        wmma::load_matrix_sync(vf, vt + kk * 16 * C::ldk + n * 16, C::ldk);
        wmma::mma_sync(acc[n], pf, vf, acc[n]);
      }
    }
  }
  if (!active)
    return;
  sm.pair[warp][r][half] = l;
  __syncwarp();
  const float total = sm.pair[warp][r][0] + sm.pair[warp][r][1];
  if (half == 0) {
    sm.rowScale[warp][r] = 1.0f / total;
    if (i < T)
      lse[b * ls.batch + h * ls.head + i] = (m + log2f(total)) * kLn2;
  }
  __syncwarp();
#pragma unroll
  for (int n = 0; n < NB; ++n)
#pragma unroll
    for (int e = 0; e < kElements; ++e)
      acc[n].x[e] *= sm.rowScale[warp][rowOf[e]];
  storeRows<D>(acc, s, C::lds, out, os, b, h, rowsFirst, T, lane);
}

//===----------------------------------------------------------------------===//
// dK, dV
//===----------------------------------------------------------------------===//

template <int D> struct KeyGrad {
  static constexpr int warps = lmc_attention_tc::keyWarps(D), keys = 16 * warps;
  /// Queries per tile.
  static constexpr int queries = 32;
  static constexpr int ldk = D + 8, lds = queries + 4, ldp = queries + 8;
};

template <int D> struct alignas(32) KeyGradShared {
  bf16 k[KeyGrad<D>::keys * KeyGrad<D>::ldk];
  bf16 v[KeyGrad<D>::keys * KeyGrad<D>::ldk];
  bf16 q[KeyGrad<D>::queries * KeyGrad<D>::ldk];
  bf16 g[KeyGrad<D>::queries * KeyGrad<D>::ldk];
  float s[KeyGrad<D>::warps][16 * KeyGrad<D>::lds];
  bf16 p[KeyGrad<D>::warps][16 * KeyGrad<D>::ldp];
  bf16 ds[KeyGrad<D>::warps][16 * KeyGrad<D>::ldp];
  /// lse in log2 units and delta of the query tile.
  float lse[KeyGrad<D>::queries], delta[KeyGrad<D>::queries];
};

template <int D, typename In, typename Out>
__device__ void keyGradients(const In *q, Rows qs, const In *k, Rows ks,
                             const In *v, Rows vs, const In *dout, Rows gs,
                             const float *lse, Stats ls, const float *dlt,
                             Stats ts, Out *dk, Rows dks, Out *dv, Rows dvs,
                             int T, int H, int G, float scale) {
  using C = KeyGrad<D>;
  constexpr int NB = D / 16, NQ = C::queries / 16, HALF = C::queries / 2;
  __shared__ KeyGradShared<D> sm;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int hkv = H / G;
  const int b = blockIdx.y / hkv, hk = blockIdx.y % hkv;
  const int first = blockIdx.x * C::keys, keysFirst = first + warp * 16;
  const bool active = keysFirst < T;
  float *s = sm.s[warp];
  bf16 *p = sm.p[warp], *ds = sm.ds[warp];
  const bf16 *kw = sm.k + warp * 16 * C::ldk, *vw = sm.v + warp * 16 * C::ldk;
  loadBf16<D>(sm.k, C::ldk, C::keys, k, ks, b, hk, first, T, threadIdx.x,
              blockDim.x);
  loadBf16<D>(sm.v, C::ldk, C::keys, v, vs, b, hk, first, T, threadIdx.x,
              blockDim.x);
  FragC dkAcc[NB], dvAcc[NB];
#pragma unroll
  for (int n = 0; n < NB; ++n) {
    wmma::fill_fragment(dkAcc[n], 0.0f);
    wmma::fill_fragment(dvAcc[n], 0.0f);
  }
  // Lane 2r + half: key row r, the queries 2c + half of the tile.
  const int r = lane / 2, half = lane % 2, j = keysFirst + r;
  const float toLog2 = scale * kLog2e;
  // The query heads of the group, each with its queries i >= the block's
  // first key; the sums over the group stay in the warp's accumulators.
  for (int h = hk * G; h < (hk + 1) * G; ++h)
    for (int i0 = first; i0 < T; i0 += C::queries) {
      __syncthreads();
      loadBf16<D>(sm.q, C::ldk, C::queries, q, qs, b, h, i0, T, threadIdx.x,
                  blockDim.x);
      loadBf16<D>(sm.g, C::ldk, C::queries, dout, gs, b, h, i0, T, threadIdx.x,
                  blockDim.x);
      for (int c = threadIdx.x; c < C::queries; c += blockDim.x) {
        const int i = i0 + c;
        sm.lse[c] = i < T ? lse[b * ls.batch + h * ls.head + i] * kLog2e : 0.0f;
        sm.delta[c] = i < T ? dlt[b * ts.batch + h * ts.head + i] : 0.0f;
      }
      __syncthreads();
      if (!active || i0 + C::queries - 1 < keysFirst)
        continue; // every query of the tile is before this warp's keys
        // S^T = K Q^T: 16 keys x the tile's queries. (Loops here are unrolled
        // less than in the other kernels: at D 128 the dK and dV accumulators
        // take 128 registers, and full unrolling makes ptxas spill.)
#pragma unroll 1
      for (int n = 0; n < NQ; ++n) {
        FragC sf;
        wmma::fill_fragment(sf, 0.0f);
#pragma unroll 2
        for (int kk = 0; kk < NB; ++kk) {
          FragA kf;
          FragBt qf;
          wmma::load_matrix_sync(kf, kw + kk * 16, C::ldk);
          wmma::load_matrix_sync(qf, sm.q + n * 16 * C::ldk + kk * 16, C::ldk);
          wmma::mma_sync(sf, kf, qf, sf);
        }
        wmma::store_matrix_sync(s + n * 16, sf, C::lds, wmma::mem_row_major);
      }
      __syncwarp();
      float pr[HALF];
#pragma unroll
      for (int c = 0; c < HALF; ++c) {
        const int col = 2 * c + half, i = i0 + col;
        pr[c] = i >= j && i < T
                    ? exp2f(s[r * C::lds + col] * toLog2 - sm.lse[col])
                    : 0.0f;
        p[r * C::ldp + col] = __float2bfloat16(pr[c]);
      }
      __syncwarp();
      // dP^T = V dO^T, over the scores' tile.
#pragma unroll 1
      for (int n = 0; n < NQ; ++n) {
        FragC sf;
        wmma::fill_fragment(sf, 0.0f);
#pragma unroll 2
        for (int kk = 0; kk < NB; ++kk) {
          FragA vf;
          FragBt gf;
          wmma::load_matrix_sync(vf, vw + kk * 16, C::ldk);
          wmma::load_matrix_sync(gf, sm.g + n * 16 * C::ldk + kk * 16, C::ldk);
          wmma::mma_sync(sf, vf, gf, sf);
        }
        wmma::store_matrix_sync(s + n * 16, sf, C::lds, wmma::mem_row_major);
      }
      __syncwarp();
#pragma unroll
      for (int c = 0; c < HALF; ++c) {
        const int col = 2 * c + half;
        ds[r * C::ldp + col] =
            __float2bfloat16(pr[c] * (s[r * C::lds + col] - sm.delta[col]));
      }
      __syncwarp();
      // dV += P^T dO, then dK += dS^T Q.
#pragma unroll 1
      for (int kk = 0; kk < NQ; ++kk) {
        FragA pf;
        wmma::load_matrix_sync(pf, p + kk * 16, C::ldp);
#pragma unroll
        for (int n = 0; n < NB; ++n) {
          FragB gf;
          wmma::load_matrix_sync(gf, sm.g + kk * 16 * C::ldk + n * 16, C::ldk);
          wmma::mma_sync(dvAcc[n], pf, gf, dvAcc[n]);
        }
      }
#pragma unroll 1
      for (int kk = 0; kk < NQ; ++kk) {
        FragA df;
        wmma::load_matrix_sync(df, ds + kk * 16, C::ldp);
#pragma unroll
        for (int n = 0; n < NB; ++n) {
          FragB qf;
          wmma::load_matrix_sync(qf, sm.q + kk * 16 * C::ldk + n * 16, C::ldk);
          wmma::mma_sync(dkAcc[n], df, qf, dkAcc[n]);
        }
      }
    }
  if (!active)
    return;
#pragma unroll
  for (int n = 0; n < NB; ++n)
#pragma unroll
    for (int e = 0; e < kElements; ++e)
      dkAcc[n].x[e] *= scale;
  storeRows<D>(dkAcc, s, C::lds, dk, dks, b, hk, keysFirst, T, lane);
  storeRows<D>(dvAcc, s, C::lds, dv, dvs, b, hk, keysFirst, T, lane);
}

//===----------------------------------------------------------------------===//
// dQ
//===----------------------------------------------------------------------===//

template <int D> struct QueryGrad {
  static constexpr int warps = lmc_attention_tc::kQueryWarps, rows = 16 * warps;
  static constexpr int keys = D == 64 ? 64 : 32;
  static constexpr int ldk = D + 8, lds = keys + 4, ldp = keys + 8;
};

template <int D> struct alignas(32) QueryGradShared {
  /// The key tile then the value tile; before the first, each warp's
  /// queries, then its rows of dO, on their way to its fragments.
  bf16 kv[2 * QueryGrad<D>::keys * QueryGrad<D>::ldk];
  float s[QueryGrad<D>::warps][16 * QueryGrad<D>::lds];
  bf16 ds[QueryGrad<D>::warps][16 * QueryGrad<D>::ldp];
};

template <int D, typename In, typename Out>
__device__ void queryGradients(const In *q, Rows qs, const In *k, Rows ks,
                               const In *v, Rows vs, const In *dout, Rows gs,
                               const float *lse, Stats ls, const float *dlt,
                               Stats ts, Out *dq, Rows dqs, int T, int H, int G,
                               float scale) {
  using C = QueryGrad<D>;
  constexpr int NB = D / 16, NK = C::keys / 16, HALF = C::keys / 2;
  static_assert(4 * 16 <= 2 * C::keys, "query staging exceeds the K/V tiles");
  __shared__ QueryGradShared<D> sm;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int b = blockIdx.y / H, h = blockIdx.y % H, hk = h / G;
  const int first = blockIdx.x * C::rows, rowsFirst = first + warp * 16;
  const int last = min(T - 1, first + C::rows - 1);
  const int warpLast = min(T - 1, rowsFirst + 15);
  const bool active = rowsFirst < T;
  float *s = sm.s[warp];
  bf16 *ds = sm.ds[warp];

  FragA qf[NB], gf[NB];
  {
    bf16 *stage = sm.kv + warp * 16 * C::ldk;
    loadBf16<D>(stage, C::ldk, 16, q, qs, b, h, rowsFirst, T, lane, 32);
    __syncwarp();
#pragma unroll
    for (int kk = 0; kk < NB; ++kk)
      wmma::load_matrix_sync(qf[kk], stage + kk * 16, C::ldk);
    __syncwarp();
    loadBf16<D>(stage, C::ldk, 16, dout, gs, b, h, rowsFirst, T, lane, 32);
    __syncwarp();
#pragma unroll
    for (int kk = 0; kk < NB; ++kk)
      wmma::load_matrix_sync(gf[kk], stage + kk * 16, C::ldk);
  }
  FragC dqAcc[NB];
#pragma unroll
  for (int n = 0; n < NB; ++n)
    wmma::fill_fragment(dqAcc[n], 0.0f);
  // Lane 2r + half: query row r, the keys 2c + half of the tile.
  const int r = lane / 2, half = lane % 2, i = rowsFirst + r;
  const float toLog2 = scale * kLog2e;
  const float lseI =
      i < T ? lse[b * ls.batch + h * ls.head + i] * kLog2e : 0.0f;
  const float deltaI = i < T ? dlt[b * ts.batch + h * ts.head + i] : 0.0f;
  for (int j0 = 0; j0 <= last; j0 += C::keys) {
    __syncthreads();
    loadBf16<D>(sm.kv, C::ldk, C::keys, k, ks, b, hk, j0, T, threadIdx.x,
                blockDim.x);
    loadBf16<D>(sm.kv + C::keys * C::ldk, C::ldk, C::keys, v, vs, b, hk, j0, T,
                threadIdx.x, blockDim.x);
    __syncthreads();
    if (!active || j0 > warpLast)
      continue;
    const bf16 *kt = sm.kv, *vt = sm.kv + C::keys * C::ldk;
    // S = Q K^T.
#pragma unroll
    for (int n = 0; n < NK; ++n) {
      FragC sf;
      wmma::fill_fragment(sf, 0.0f);
#pragma unroll
      for (int kk = 0; kk < NB; ++kk) {
        FragBt kf;
        wmma::load_matrix_sync(kf, kt + n * 16 * C::ldk + kk * 16, C::ldk);
        wmma::mma_sync(sf, qf[kk], kf, sf);
      }
      wmma::store_matrix_sync(s + n * 16, sf, C::lds, wmma::mem_row_major);
    }
    __syncwarp();
    const int limit = min(i, T - 1) - j0;
    float pr[HALF];
#pragma unroll
    for (int c = 0; c < HALF; ++c) {
      const int col = 2 * c + half;
      pr[c] = col <= limit ? exp2f(s[r * C::lds + col] * toLog2 - lseI) : 0.0f;
    }
    __syncwarp();
    // dP = dO V^T, over the scores' tile.
#pragma unroll
    for (int n = 0; n < NK; ++n) {
      FragC sf;
      wmma::fill_fragment(sf, 0.0f);
#pragma unroll
      for (int kk = 0; kk < NB; ++kk) {
        FragBt vf;
        wmma::load_matrix_sync(vf, vt + n * 16 * C::ldk + kk * 16, C::ldk);
        wmma::mma_sync(sf, gf[kk], vf, sf);
      }
      wmma::store_matrix_sync(s + n * 16, sf, C::lds, wmma::mem_row_major);
    }
    __syncwarp();
#pragma unroll
    for (int c = 0; c < HALF; ++c) {
      const int col = 2 * c + half;
      ds[r * C::ldp + col] =
          __float2bfloat16(pr[c] * (s[r * C::lds + col] - deltaI));
    }
    __syncwarp();
    // dQ += dS K.
#pragma unroll
    for (int kk = 0; kk < NK; ++kk) {
      FragA df;
      wmma::load_matrix_sync(df, ds + kk * 16, C::ldp);
#pragma unroll
      for (int n = 0; n < NB; ++n) {
        FragB kf;
        wmma::load_matrix_sync(kf, kt + kk * 16 * C::ldk + n * 16, C::ldk);
        wmma::mma_sync(dqAcc[n], df, kf, dqAcc[n]);
      }
    }
  }
  if (!active)
    return;
#pragma unroll
  for (int n = 0; n < NB; ++n)
#pragma unroll
    for (int e = 0; e < kElements; ++e)
      dqAcc[n].x[e] *= scale;
  storeRows<D>(dqAcc, s, C::lds, dq, dqs, b, h, rowsFirst, T, lane);
}

} // namespace

// The entry points, with C linkage so that the runtime finds them by name:
// lmc_attention_tc_<kernel>_d<D><SUFFIX> with the kernel's element types
// `In` (q, k, v, dout) and `Out` (out of the forward pass, dq, dk, dv):
// SUFFIX empty for float32 (the `_bf16` entry points), _bf16in for bfloat16
// inputs and float32 outputs, _bf16io for bfloat16 inputs and outputs (the
// `_bf16_in` and `_bf16_in_out` entry points). lse and delta are float32 in
// all of them. Threads per block: 128 for the forward and dQ kernels,
// 32 * KeyGrad<D>::warps for dK/dV.
#define LMC_ATTENTION_TC_KERNELS_AS(D, SUFFIX, In, Out)                        \
  extern "C" __global__ void __launch_bounds__(32 * Fwd<D>::warps)             \
      lmc_attention_tc_fwd_d##D##SUFFIX(                                       \
          const In *q, Rows qs, const In *k, Rows ks, const In *v, Rows vs,    \
          Out *out, Rows os, float *lse, Stats ls, int T, int H, int G,        \
          float scale) {                                                       \
    forward<D>(q, qs, k, ks, v, vs, out, os, lse, ls, T, H, G, scale);         \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(32 * KeyGrad<D>::warps)         \
      lmc_attention_tc_dkdv_d##D##SUFFIX(                                      \
          const In *q, Rows qs, const In *k, Rows ks, const In *v, Rows vs,    \
          const In *dout, Rows gs, const float *lse, Stats ls,                 \
          const float *dlt, Stats ts, Out *dk, Rows dks, Out *dv, Rows dvs,    \
          int T, int H, int G, float scale) {                                  \
    keyGradients<D>(q, qs, k, ks, v, vs, dout, gs, lse, ls, dlt, ts, dk, dks,  \
                    dv, dvs, T, H, G, scale);                                  \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(32 * QueryGrad<D>::warps)       \
      lmc_attention_tc_dq_d##D##SUFFIX(                                        \
          const In *q, Rows qs, const In *k, Rows ks, const In *v, Rows vs,    \
          const In *dout, Rows gs, const float *lse, Stats ls,                 \
          const float *dlt, Stats ts, Out *dq, Rows dqs, int T, int H, int G,  \
          float scale) {                                                       \
    queryGradients<D>(q, qs, k, ks, v, vs, dout, gs, lse, ls, dlt, ts, dq,     \
                      dqs, T, H, G, scale);                                    \
  }

LMC_ATTENTION_TC_KERNELS_AS(64, , float, float)
LMC_ATTENTION_TC_KERNELS_AS(128, , float, float)
LMC_ATTENTION_TC_KERNELS_AS(64, _bf16in, bf16, float)
LMC_ATTENTION_TC_KERNELS_AS(128, _bf16in, bf16, float)
LMC_ATTENTION_TC_KERNELS_AS(64, _bf16io, bf16, bf16)
LMC_ATTENTION_TC_KERNELS_AS(128, _bf16io, bf16, bf16)
