//===- AttentionTest.cpp - The runtime's flash attention kernels ----------===//
//
// lmcrt_attention_fwd_f32 and _bwd_f32 against a naive attention in double
// that materialises the T x T probabilities, on shapes with T below, at and
// across the kernels' block size, T = 1, several heads, and strided
// operands (q, k, v as column slices of one fused [B, T, C + 2 Ckv] tensor;
// a channel stride other than 1), and grouped-query (kv_heads dividing
// heads) and multi-query (kv_heads = 1) attention.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

struct Desc3 {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
};

/// A [B, T, C] view into `data` at `offset` with the given strides.
struct Tensor3 {
  Desc3 desc;
  lmcrt_unranked_memref memref;
  Tensor3(std::vector<float> &data, int64_t offset, int64_t B, int64_t T,
          int64_t C, int64_t sb, int64_t st, int64_t sc) {
    desc = {data.data(), data.data(), offset, {B, T, C}, {sb, st, sc}};
    memref = {3, &desc};
  }
  float &at(int64_t b, int64_t t, int64_t c) {
    return desc.aligned[desc.offset + b * desc.strides[0] +
                        t * desc.strides[1] + c * desc.strides[2]];
  }
};

struct Reference {
  std::vector<double> out, lse, dq, dk, dv;
};

/// Naive causal attention and its gradient, in double; query head h reads
/// key/value head h / (heads / kvHeads).
Reference naive(Tensor3 &q, Tensor3 &k, Tensor3 &v, Tensor3 &dout,
                int64_t heads, int64_t kvHeads) {
  int64_t B = q.desc.sizes[0], T = q.desc.sizes[1], C = q.desc.sizes[2];
  int64_t D = C / heads, Ckv = kvHeads * D, G = heads / kvHeads;
  double scale = 1.0 / std::sqrt(static_cast<double>(D));
  Reference r;
  r.out.assign(B * T * C, 0.0);
  r.dq.assign(B * T * C, 0.0);
  r.dk.assign(B * T * Ckv, 0.0);
  r.dv.assign(B * T * Ckv, 0.0);
  r.lse.assign(B * heads * T, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      int64_t hk = h / G;
      std::vector<double> p(T * T, 0.0), dp(T * T, 0.0);
      for (int64_t i = 0; i < T; ++i) {
        double mx = -1e300;
        std::vector<double> s(i + 1);
        for (int64_t j = 0; j <= i; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < D; ++d)
            acc += double(q.at(b, i, h * D + d)) * k.at(b, j, hk * D + d);
          s[j] = acc * scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j <= i; ++j)
          sum += std::exp(s[j] - mx);
        r.lse[(b * heads + h) * T + i] = mx + std::log(sum);
        for (int64_t j = 0; j <= i; ++j)
          p[i * T + j] = std::exp(s[j] - mx) / sum;
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j <= i; ++j)
            acc += p[i * T + j] * v.at(b, j, hk * D + d);
          r.out[(b * T + i) * C + h * D + d] = acc;
        }
      }
      for (int64_t i = 0; i < T; ++i) {
        double rowDot = 0;
        for (int64_t j = 0; j <= i; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < D; ++d)
            acc += double(dout.at(b, i, h * D + d)) * v.at(b, j, hk * D + d);
          dp[i * T + j] = acc;
          rowDot += p[i * T + j] * acc;
        }
        for (int64_t j = 0; j <= i; ++j) {
          double ds = p[i * T + j] * (dp[i * T + j] - rowDot) * scale;
          for (int64_t d = 0; d < D; ++d) {
            int64_t c = h * D + d, ckv = hk * D + d;
            r.dq[(b * T + i) * C + c] += ds * k.at(b, j, ckv);
            r.dk[(b * T + j) * Ckv + ckv] += ds * q.at(b, i, c);
            r.dv[(b * T + j) * Ckv + ckv] += p[i * T + j] * dout.at(b, i, c);
          }
        }
      }
    }
  return r;
}

/// Runs both kernels on q, k, v as slices of one [B, T, C + 2 Ckv] buffer
/// (channel stride `cs`) and compares with the naive attention; `kvHeads`
/// 0 means `heads`.
void check(int64_t B, int64_t T, int64_t heads, int64_t D, int64_t cs = 1,
           int64_t kvHeads = 0) {
  if (kvHeads == 0)
    kvHeads = heads;
  SCOPED_TRACE(testing::Message()
               << "B " << B << " T " << T << " heads " << heads << " kv_heads "
               << kvHeads << " D " << D << " stride " << cs);
  int64_t C = heads * D, Ckv = kvHeads * D;
  std::mt19937 gen(
      static_cast<unsigned>(B * 1000 + T * 10 + heads + D + 100 * kvHeads));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> qkv(B * T * (C + 2 * Ckv) * cs), dy(B * T * C);
  for (float &x : qkv)
    x = normal(gen);
  for (float &x : dy)
    x = normal(gen);
  int64_t rowStride = (C + 2 * Ckv) * cs, batchStride = T * rowStride;
  Tensor3 q(qkv, 0, B, T, C, batchStride, rowStride, cs);
  Tensor3 k(qkv, C * cs, B, T, Ckv, batchStride, rowStride, cs);
  Tensor3 v(qkv, (C + Ckv) * cs, B, T, Ckv, batchStride, rowStride, cs);
  Tensor3 dout(dy, 0, B, T, C, T * C, C, 1);
  std::vector<float> outData(B * T * C), lseData(B * heads * T),
      dqData(B * T * C, 7.0f), dkData(B * T * Ckv, 7.0f),
      dvData(B * T * Ckv, 7.0f);
  Tensor3 out(outData, 0, B, T, C, T * C, C, 1);
  Tensor3 lse(lseData, 0, B, heads, T, heads * T, T, 1);
  Tensor3 dq(dqData, 0, B, T, C, T * C, C, 1);
  Tensor3 dk(dkData, 0, B, T, Ckv, T * Ckv, Ckv, 1);
  Tensor3 dv(dvData, 0, B, T, Ckv, T * Ckv, Ckv, 1);

  _mlir_ciface_lmcrt_attention_fwd_f32(&q.memref, &k.memref, &v.memref,
                                       &out.memref, &lse.memref, heads,
                                       kvHeads);
  _mlir_ciface_lmcrt_attention_bwd_f32(
      &q.memref, &k.memref, &v.memref, &out.memref, &lse.memref, &dout.memref,
      &dq.memref, &dk.memref, &dv.memref, heads, kvHeads);
  Reference r = naive(q, k, v, dout, heads, kvHeads);
  auto near = [](const std::vector<float> &got, const std::vector<double> &want,
                 const char *what) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-4 * (1.0 + std::fabs(want[i])))
          << what << " element " << i;
  };
  near(outData, r.out, "out");
  near(lseData, r.lse, "lse");
  near(dqData, r.dq, "dq");
  near(dkData, r.dk, "dk");
  near(dvData, r.dv, "dv");
}

TEST(Attention, MatchesNaiveAttention) {
  check(1, 1, 1, 4);
  check(2, 1, 2, 8);
  check(2, 5, 2, 4);
  check(1, 64, 1, 16);
  check(2, 65, 2, 16);
  check(1, 130, 4, 8);
  check(3, 200, 3, 32);
}

TEST(Attention, StridedChannels) { check(2, 70, 2, 8, /*cs=*/2); }

TEST(Attention, GroupedQueryAttention) {
  // Groups of 2 and 3 query heads, within and across the 64-row blocks.
  check(2, 5, 4, 4, 1, /*kvHeads=*/2);
  check(1, 70, 6, 8, 1, /*kvHeads=*/2);
  check(2, 130, 4, 16, 1, /*kvHeads=*/2);
  check(1, 65, 6, 8, /*cs=*/2, /*kvHeads=*/3);
}

TEST(Attention, MultiQueryAttention) {
  check(1, 1, 3, 4, 1, /*kvHeads=*/1);
  check(2, 67, 4, 8, 1, /*kvHeads=*/1);
}

} // namespace
