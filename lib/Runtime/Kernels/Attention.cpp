//===- Attention.cpp - Causal attention without the T x T matrix ----------===//
//
// The kernels of lmc.flash_attention and lmc.flash_attention_grad
// (lmcrt_attention_fwd_f32 / _bwd_f32 in lmcrt.h). Queries are [B, T, C]
// with C = H * D, keys and values [B, T, Hkv * D] with Hkv dividing H; query
// head h is channels [h D, (h + 1) D) of q and reads key/value head
// h / (H / Hkv) (grouped-query attention; Hkv = H is multi-head attention).
//
// Forward: for each (batch, head, block of kBlock query rows), a thread walks
// the key blocks up to the diagonal (later blocks are all masked and
// skipped) with the online softmax: per row a running maximum m and sum l,
// and an accumulator of the output rescaled by exp(m_old - m_new) when the
// maximum grows. out = acc / l and lse = m + log l. A thread holds one
// kBlock x kBlock tile of scores and a kBlock x D accumulator, never a
// T x T matrix. The tile products (q k^T, p v, and the backward's four) run
// on oneDNN's row-major sgemm, called inside the parallel region, where it
// runs on the calling thread.
//
// Backward: P is recomputed per tile as exp(s - lse), with
// Di = rowsum(dO * O). For each (batch, key/value head) one thread walks the
// key blocks; for each it accumulates dK and dV of the block over the query
// heads of the group and their query blocks at and below the diagonal, and
// adds the block's share of dQ into the rows of dq that these query heads
// alone write (their channels). The work is parallel over (batch, key/value
// head), which needs no atomics and computes every tile once.
//
// bfloat16 activations (lmc-bf16-storage): lmcrt_attention_fwd_bf16_in /
// _bf16_in_out and _bwd_bf16_in / _bf16_in_out read q, k, v (and out and
// dout) stored as bfloat16, extend them exactly into packed float32
// copies and run the float32 algorithm above on them; the _in_out forms
// compute out (dq, dk, dv) into packed float32 scratch and round each value
// once into the bfloat16 results (to nearest, ties to even), leaving what
// lies between their elements untouched. lse stays float32. The _in forms
// make the float32 entry points' sgemm calls on the same values (only the
// leading dimensions of q, k, v may differ), and give their results bit for
// bit (test/Runtime/AttentionTest.cpp), the _in_out forms those rounded.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include "Core/Bfloat16.h"
#include "Core/Error.h"
#include "Core/MemrefView.h"

#include "Kernels/Dnnl.h"
#include "Kernels/VectorMath.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using View = lmcrt::MemrefView<float>;
/// A bfloat16 operand, as its 16 bits.
using Bf16View = lmcrt::MemrefView<uint16_t>;

/// x[c] = e^(x[c] - shift) for c < n, where x[c] <= shift (up to
/// rounding: the row's maximum, or its log-sum-exp), with the vectorised
/// exponential; returns their sum.
LMCRT_VECTOR_CLONES float expShiftedRow(float *x, int64_t n, float shift) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < n; ++c) {
    x[c] = lmcrt::vmath::expNonPositive(x[c] - shift);
    sum += x[c];
  }
  return sum;
}

constexpr int64_t kBlock = 64;

/// A [B, T, C] float tensor with unit channel stride: `base(b, t)` is the
/// row of channels. Operands with another channel stride are packed first.
struct Rows {
  float *data = nullptr;
  int64_t sb = 0, st = 0;
  std::vector<float> packed; // owns the data when the view was repacked
  View view;                 // where a packed output is copied back

  float *row(int64_t b, int64_t t) const { return data + b * sb + t * st; }
};

Rows rowsOf(const View &v, bool isOutput) {
  Rows r;
  r.view = v;
  if (v.stride(2) == 1 || v.size(2) == 1) {
    r.data = v.data;
    r.sb = v.stride(0);
    r.st = v.stride(1);
    return r;
  }
  int64_t B = v.size(0), T = v.size(1), C = v.size(2);
  r.packed.assign(static_cast<size_t>(B * T * C), 0.0f);
  if (!isOutput)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t c = 0; c < C; ++c)
          r.packed[(b * T + t) * C + c] =
              v.data[b * v.stride(0) + t * v.stride(1) + c * v.stride(2)];
  r.data = r.packed.data();
  r.sb = T * C;
  r.st = C;
  return r;
}

/// Copies a repacked output back into its strided view.
void writeBack(const Rows &r) {
  if (r.packed.empty())
    return;
  const View &v = r.view;
  for (int64_t b = 0; b < v.size(0); ++b)
    for (int64_t t = 0; t < v.size(1); ++t)
      for (int64_t c = 0; c < v.size(2); ++c)
        v.data[b * v.stride(0) + t * v.stride(1) + c * v.stride(2)] =
            r.packed[(b * v.size(1) + t) * v.size(2) + c];
}

/// Checks the operands against q's [B, T, C] (those in `same`) and k's
/// [B, T, Ckv] (those in `sameAsKey`), and returns the head width D.
int64_t checkShapes(const char *what, const View &q,
                    std::initializer_list<const View *> same, const View &k,
                    std::initializer_list<const View *> sameAsKey,
                    const View &lse, int64_t heads, int64_t kvHeads) {
  auto error = [&](const std::string &why) {
    lmcrt::fail(std::string("attention_") + what + ": " + why);
  };
  if (q.rank() != 3 || k.rank() != 3)
    error("q and k must have rank 3");
  for (const View *v : same)
    if (v->rank() != 3 || v->sizes != q.sizes)
      error("q, out (and their gradients) must have one shape");
  for (const View *v : sameAsKey)
    if (v->rank() != 3 || v->sizes != k.sizes)
      error("k, v (and their gradients) must have one shape");
  if (heads < 1 || q.size(2) % heads != 0)
    error("heads (" + std::to_string(heads) + ") must divide the channels (" +
          std::to_string(q.size(2)) + ")");
  if (kvHeads < 1 || heads % kvHeads != 0)
    error("kv_heads (" + std::to_string(kvHeads) + ") must divide heads (" +
          std::to_string(heads) + ")");
  if (k.size(0) != q.size(0) || k.size(1) != q.size(1) ||
      k.size(2) != kvHeads * (q.size(2) / heads))
    error("k must be [B, T, kv_heads * D] beside q [B, T, heads * D]");
  if (lse.rank() != 3 || lse.size(0) != q.size(0) || lse.size(1) != heads ||
      lse.size(2) != q.size(1))
    error("lse must be [B, heads, T]");
  return q.size(2) / heads;
}

float &lseAt(const View &lse, int64_t b, int64_t h, int64_t t) {
  return lse.data[b * lse.stride(0) + h * lse.stride(1) + t * lse.stride(2)];
}

/// C[M, N] = alpha op(A) op(B) + beta C, row-major, on the calling thread.
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
          float *C, int64_t ldc) {
  if (M == 0 || N == 0)
    return;
  if (lmcrt::kernels::dnnl().sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K,
                                   alpha, A, lda, B, ldb, beta, C,
                                   ldc) != dnnl_success)
    lmcrt::fail("attention: dnnl_sgemm failed");
}

float dot(const float *a, const float *b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

/// The forward pass on float32 views (lmcrt_attention_fwd_f32).
void forward(const View &qv, const View &kv, const View &vv, const View &ov,
             const View &lv, int64_t heads, int64_t kv_heads) {
  int64_t D = checkShapes("fwd", qv, {&ov}, kv, {&vv}, lv, heads, kv_heads);
  int64_t B = qv.size(0), T = qv.size(1), H = heads, G = heads / kv_heads;
  Rows Q = rowsOf(qv, false), K = rowsOf(kv, false), V = rowsOf(vv, false),
       O = rowsOf(ov, true);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const float negInf = -std::numeric_limits<float>::infinity();
  int64_t blocks = (T + kBlock - 1) / kBlock;
  int64_t tasks = B * H * blocks;

#pragma omp parallel
  {
    std::vector<float> s(kBlock * kBlock), acc(kBlock * D), m(kBlock),
        l(kBlock);
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      // Later query blocks see more keys: hand them out first.
      int64_t ib = blocks - 1 - task % blocks, bh = task / blocks;
      int64_t b = bh / H, h = bh % H, hk = h / G;
      int64_t i0 = ib * kBlock, rows = std::min(kBlock, T - i0);
      std::fill(acc.begin(), acc.begin() + rows * D, 0.0f);
      std::fill(m.begin(), m.begin() + rows, negInf);
      std::fill(l.begin(), l.begin() + rows, 0.0f);
      const float *qBlock = Q.row(b, i0) + h * D;
      for (int64_t j0 = 0; j0 <= i0; j0 += kBlock) {
        int64_t cols = std::min(kBlock, T - j0);
        // s = q k^T / sqrt(D) over the tile.
        gemm(false, true, rows, cols, D, scale, qBlock, Q.st,
             K.row(b, j0) + hk * D, K.st, 0.0f, s.data(), kBlock);
        for (int64_t r = 0; r < rows; ++r) {
          int64_t i = i0 + r;
          int64_t last = std::min(cols, i - j0 + 1); // keys j <= i
          float *si = &s[r * kBlock];
          float rowMax = negInf;
          for (int64_t c = 0; c < last; ++c)
            rowMax = std::max(rowMax, si[c]);
          float mNew = std::max(m[r], rowMax);
          float correction = std::exp(m[r] - mNew); // 0 on the first block
          float *ai = &acc[r * D];
          for (int64_t d = 0; d < D; ++d)
            ai[d] *= correction;
          float sum = expShiftedRow(si, last, mNew);
          for (int64_t c = last; c < cols; ++c)
            si[c] = 0.0f; // masked
          l[r] = l[r] * correction + sum;
          m[r] = mNew;
        }
        // acc += p v.
        gemm(false, false, rows, D, cols, 1.0f, s.data(), kBlock,
             V.row(b, j0) + hk * D, V.st, 1.0f, acc.data(), D);
      }
      for (int64_t r = 0; r < rows; ++r) {
        float inv = 1.0f / l[r];
        float *oi = O.row(b, i0 + r) + h * D;
        for (int64_t d = 0; d < D; ++d)
          oi[d] = acc[r * D + d] * inv;
        lseAt(lv, b, h, i0 + r) = m[r] + std::log(l[r]);
      }
    }
  }
  writeBack(O);
}

/// The backward pass on float32 views (lmcrt_attention_bwd_f32).
void backward(const View &qv, const View &kv, const View &vv, const View &ov,
              const View &lv, const View &dov, const View &dqv, const View &dkv,
              const View &dvv, int64_t heads, int64_t kv_heads) {
  int64_t D = checkShapes("bwd", qv, {&ov, &dov, &dqv}, kv, {&vv, &dkv, &dvv},
                          lv, heads, kv_heads);
  int64_t B = qv.size(0), T = qv.size(1), Hkv = kv_heads, G = heads / kv_heads;
  Rows Q = rowsOf(qv, false), K = rowsOf(kv, false), V = rowsOf(vv, false),
       O = rowsOf(ov, false), dO = rowsOf(dov, false), dQ = rowsOf(dqv, true),
       dK = rowsOf(dkv, true), dV = rowsOf(dvv, true);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  int64_t tasks = B * Hkv;

#pragma omp parallel
  {
    // Per thread: Di of the group's query heads, tiles of P and dS, and the
    // dK and dV accumulators of a key block.
    std::vector<float> rowDot(G * T), p(kBlock * kBlock), ds(kBlock * kBlock),
        dk(kBlock * D), dvAcc(kBlock * D);
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      int64_t b = task / Hkv, hk = task % Hkv;
      for (int64_t g = 0; g < G; ++g) {
        int64_t h = hk * G + g;
        for (int64_t i = 0; i < T; ++i) {
          rowDot[g * T + i] = dot(dO.row(b, i) + h * D, O.row(b, i) + h * D, D);
          float *dqi = dQ.row(b, i) + h * D;
          std::fill(dqi, dqi + D, 0.0f);
        }
      }
      for (int64_t j0 = 0; j0 < T; j0 += kBlock) {
        int64_t cols = std::min(kBlock, T - j0);
        std::fill(dk.begin(), dk.begin() + cols * D, 0.0f);
        std::fill(dvAcc.begin(), dvAcc.begin() + cols * D, 0.0f);
        const float *kBlockPtr = K.row(b, j0) + hk * D;
        const float *vBlockPtr = V.row(b, j0) + hk * D;
        // The query heads of the group, and their query blocks at and below
        // the diagonal (rows i >= j0).
        for (int64_t g = 0; g < G; ++g) {
          int64_t h = hk * G + g;
          for (int64_t i0 = j0; i0 < T; i0 += kBlock) {
            int64_t rows = std::min(kBlock, T - i0);
            const float *qBlock = Q.row(b, i0) + h * D;
            const float *doBlock = dO.row(b, i0) + h * D;
            // p = exp(q k^T / sqrt(D) - lse), masked to 0.
            gemm(false, true, rows, cols, D, scale, qBlock, Q.st, kBlockPtr,
                 K.st, 0.0f, p.data(), kBlock);
            for (int64_t r = 0; r < rows; ++r) {
              int64_t i = i0 + r;
              float li = lseAt(lv, b, h, i);
              int64_t last = std::min(cols, i - j0 + 1); // keys j <= i
              float *pi = &p[r * kBlock];
              expShiftedRow(pi, last, li);
              for (int64_t c = last; c < cols; ++c)
                pi[c] = 0.0f;
            }
            // dV += p^T dO; dp = dO v^T.
            gemm(true, false, cols, D, rows, 1.0f, p.data(), kBlock, doBlock,
                 dO.st, 1.0f, dvAcc.data(), D);
            gemm(false, true, rows, cols, D, 1.0f, doBlock, dO.st, vBlockPtr,
                 V.st, 0.0f, ds.data(), kBlock);
            // dS = p (dp - Di) / sqrt(D).
            for (int64_t r = 0; r < rows; ++r) {
              float di = rowDot[g * T + i0 + r];
              float *dsi = &ds[r * kBlock];
              const float *pi = &p[r * kBlock];
              for (int64_t c = 0; c < cols; ++c)
                dsi[c] = pi[c] * (dsi[c] - di) * scale;
            }
            // dQ += dS k (this query head's channels of dq); dK += dS^T q.
            gemm(false, false, rows, D, cols, 1.0f, ds.data(), kBlock,
                 kBlockPtr, K.st, 1.0f, dQ.row(b, i0) + h * D, dQ.st);
            gemm(true, false, cols, D, rows, 1.0f, ds.data(), kBlock, qBlock,
                 Q.st, 1.0f, dk.data(), D);
          }
        }
        for (int64_t c = 0; c < cols; ++c) {
          std::copy(&dk[c * D], &dk[c * D] + D, dK.row(b, j0 + c) + hk * D);
          std::copy(&dvAcc[c * D], &dvAcc[c * D] + D,
                    dV.row(b, j0 + c) + hk * D);
        }
      }
    }
  }
  writeBack(dQ);
  writeBack(dK);
  writeBack(dV);
}

/// Below this many elements a conversion stays on the calling thread.
constexpr int64_t kParallelElements = 1 << 15;

/// to[b, t, c] = f(from[b, t, c]) over two [B, T, C] views of one shape
/// (any strides), the rows on the OpenMP threads.
template <typename S, typename D, typename F>
void mapRows(const lmcrt::MemrefView<S> &from, const lmcrt::MemrefView<D> &to,
             F f) {
  const int64_t T = from.size(1), C = from.size(2), rows = from.size(0) * T;
  const int64_t sc = from.stride(2), dc = to.stride(2);
#pragma omp parallel for schedule(static) if (rows * C >= kParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / T, t = r % T;
    const S *in = from.data + b * from.stride(0) + t * from.stride(1);
    D *out = to.data + b * to.stride(0) + t * to.stride(1);
    for (int64_t c = 0; c < C; ++c)
      out[c * dc] = f(in[c * sc]);
  }
}

/// Checks that a bfloat16 operand is [B, T, C] before it is converted (the
/// float32 algorithm checks the shapes against each other).
void requireRank3(const char *what, const Bf16View &v) {
  if (v.rank() != 3)
    lmcrt::fail(std::string("attention_") + what +
                ": q, k, v, out and their gradients must have rank 3, got " +
                v.shapeString());
}

/// A bfloat16 input extended (exactly) into packed float32 `storage`.
View widen(const char *what, const Bf16View &from,
           std::vector<float> &storage) {
  requireRank3(what, from);
  storage.resize(static_cast<size_t>(from.numElements()));
  View to = View::packed(storage.data(), from.sizes);
  mapRows(from, to, lmcrt::fromBf16);
  return to;
}

/// Packed float32 `storage` for a bfloat16 output, of its shape.
View scratchFor(const char *what, const Bf16View &to,
                std::vector<float> &storage) {
  requireRank3(what, to);
  storage.assign(static_cast<size_t>(to.numElements()), 0.0f);
  return View::packed(storage.data(), to.sizes);
}

/// Rounds the float32 results `from` once into the bfloat16 output `to`.
void roundInto(const View &from, const Bf16View &to) {
  mapRows(from, to, lmcrt::toBf16);
}

/// lmcrt_attention_fwd_bf16_in (`outBf16` false) and _bf16_in_out.
void forwardBf16(lmcrt_unranked_memref *query, lmcrt_unranked_memref *key,
                 lmcrt_unranked_memref *value, lmcrt_unranked_memref *out,
                 lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads,
                 bool outBf16) {
  std::vector<float> q, k, v, o;
  const View qv = widen("fwd", Bf16View(query), q),
             kv = widen("fwd", Bf16View(key), k),
             vv = widen("fwd", Bf16View(value), v);
  if (!outBf16) {
    forward(qv, kv, vv, View(out), View(lse), heads, kv_heads);
    return;
  }
  const Bf16View stored(out);
  const View ov = scratchFor("fwd", stored, o);
  forward(qv, kv, vv, ov, View(lse), heads, kv_heads);
  roundInto(ov, stored);
}

/// lmcrt_attention_bwd_bf16_in (`outBf16` false) and _bf16_in_out.
void backwardBf16(lmcrt_unranked_memref *query, lmcrt_unranked_memref *key,
                  lmcrt_unranked_memref *value, lmcrt_unranked_memref *out,
                  lmcrt_unranked_memref *lse, lmcrt_unranked_memref *out_grad,
                  lmcrt_unranked_memref *query_grad,
                  lmcrt_unranked_memref *key_grad,
                  lmcrt_unranked_memref *value_grad, int64_t heads,
                  int64_t kv_heads, bool outBf16) {
  std::vector<float> q, k, v, o, dout, dq, dk, dv;
  const View qv = widen("bwd", Bf16View(query), q),
             kv = widen("bwd", Bf16View(key), k),
             vv = widen("bwd", Bf16View(value), v),
             ov = widen("bwd", Bf16View(out), o),
             dov = widen("bwd", Bf16View(out_grad), dout);
  if (!outBf16) {
    backward(qv, kv, vv, ov, View(lse), dov, View(query_grad), View(key_grad),
             View(value_grad), heads, kv_heads);
    return;
  }
  const Bf16View dqStored(query_grad), dkStored(key_grad), dvStored(value_grad);
  const View dqv = scratchFor("bwd", dqStored, dq),
             dkv = scratchFor("bwd", dkStored, dk),
             dvv = scratchFor("bwd", dvStored, dv);
  backward(qv, kv, vv, ov, View(lse), dov, dqv, dkv, dvv, heads, kv_heads);
  roundInto(dqv, dqStored);
  roundInto(dkv, dkStored);
  roundInto(dvv, dvStored);
}

} // namespace

extern "C" void _mlir_ciface_lmcrt_attention_fwd_f32(
    lmcrt_unranked_memref *query, lmcrt_unranked_memref *key,
    lmcrt_unranked_memref *value, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads) {
  forward(View(query), View(key), View(value), View(out), View(lse), heads,
          kv_heads);
}

extern "C" void _mlir_ciface_lmcrt_attention_bwd_f32(
    lmcrt_unranked_memref *query, lmcrt_unranked_memref *key,
    lmcrt_unranked_memref *value, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *out_grad,
    lmcrt_unranked_memref *query_grad, lmcrt_unranked_memref *key_grad,
    lmcrt_unranked_memref *value_grad, int64_t heads, int64_t kv_heads) {
  backward(View(query), View(key), View(value), View(out), View(lse),
           View(out_grad), View(query_grad), View(key_grad), View(value_grad),
           heads, kv_heads);
}

extern "C" void _mlir_ciface_lmcrt_attention_fwd_bf16_in(
    lmcrt_unranked_memref *query, lmcrt_unranked_memref *key,
    lmcrt_unranked_memref *value, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads) {
  forwardBf16(query, key, value, out, lse, heads, kv_heads,
              /*outBf16=*/false);
}

extern "C" void _mlir_ciface_lmcrt_attention_fwd_bf16_in_out(
    lmcrt_unranked_memref *query, lmcrt_unranked_memref *key,
    lmcrt_unranked_memref *value, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads) {
  forwardBf16(query, key, value, out, lse, heads, kv_heads, /*outBf16=*/true);
}

extern "C" void _mlir_ciface_lmcrt_attention_bwd_bf16_in(
    lmcrt_unranked_memref *query, lmcrt_unranked_memref *key,
    lmcrt_unranked_memref *value, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *out_grad,
    lmcrt_unranked_memref *query_grad, lmcrt_unranked_memref *key_grad,
    lmcrt_unranked_memref *value_grad, int64_t heads, int64_t kv_heads) {
  backwardBf16(query, key, value, out, lse, out_grad, query_grad, key_grad,
               value_grad, heads, kv_heads, /*outBf16=*/false);
}

extern "C" void _mlir_ciface_lmcrt_attention_bwd_bf16_in_out(
    lmcrt_unranked_memref *query, lmcrt_unranked_memref *key,
    lmcrt_unranked_memref *value, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *out_grad,
    lmcrt_unranked_memref *query_grad, lmcrt_unranked_memref *key_grad,
    lmcrt_unranked_memref *value_grad, int64_t heads, int64_t kv_heads) {
  backwardBf16(query, key, value, out, lse, out_grad, query_grad, key_grad,
               value_grad, heads, kv_heads, /*outBf16=*/true);
}
