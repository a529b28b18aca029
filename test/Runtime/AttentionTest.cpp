//===- AttentionTest.cpp - The runtime's flash attention kernels ----------===//
//
// lmcrt_attention_fwd_f32 and _bwd_f32 against a naive attention in double
// that materialises the T x T probabilities, on shapes with T below, at and
// across the kernels' block size, T = 1, several heads, and strided
// operands (q, k, v as column slices of one fused [B, T, C + 2 Ckv] tensor;
// a channel stride other than 1), and grouped-query (kv_heads dividing
// heads) and multi-query (kv_heads = 1) attention.
//
// The bfloat16 forms (lmcrt_attention_fwd_bf16_in, _bf16_in_out and
// _bwd_bf16_in, _bf16_in_out) against the float32 ones run on the same
// values as float32: q, k and v strided views of one bfloat16 projection,
// the results bit for bit those of the float32 forms (_in) or those rounded
// once to nearest even (_in_out), what lies between a bfloat16 result's
// elements untouched.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include "Core/Bfloat16.h"
#include "Core/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
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

/// A [B, T, C] bfloat16 view (its 16 bits) into `data` at `offset`.
struct Bf16Tensor3 {
  struct {
    uint16_t *allocated;
    uint16_t *aligned;
    int64_t offset;
    int64_t sizes[3];
    int64_t strides[3];
  } desc;
  lmcrt_unranked_memref memref;
  Bf16Tensor3(std::vector<uint16_t> &data, int64_t offset, int64_t B, int64_t T,
              int64_t C, int64_t sb, int64_t st, int64_t sc) {
    desc = {data.data(), data.data(), offset, {B, T, C}, {sb, st, sc}};
    memref = {3, &desc};
  }
};

/// Bit-for-bit equality of float32 results.
bool sameBits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// The bfloat16 entry points on q, k, v strided views (channel stride `cs`)
/// of one bfloat16 [B, T, C + 2 Ckv] projection, dout packed, against the
/// float32 entry points on the same values (float32 copies of the same
/// layout); the backward passes read the forward's out rounded to
/// bfloat16. The bfloat16 gradients are views of one bfloat16 [B, T,
/// C + 2 Ckv + 3] gradient, and out of one [B, T, C + 5]: the padding must
/// stay untouched.
void checkBf16(int64_t B, int64_t T, int64_t heads, int64_t D, int64_t cs,
               int64_t kvHeads) {
  SCOPED_TRACE(testing::Message()
               << "bf16: B " << B << " T " << T << " heads " << heads
               << " kv_heads " << kvHeads << " D " << D << " stride " << cs);
  const int64_t C = heads * D, Ckv = kvHeads * D, row = (C + 2 * Ckv) * cs;
  std::mt19937 gen(static_cast<unsigned>(B * 7 + T * 3 + heads + D + cs));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // The inputs, bfloat16 and their float32 values in the same layouts.
  std::vector<uint16_t> qkvB(B * T * row), doutB(B * T * C);
  for (uint16_t &x : qkvB)
    x = lmcrt::toBf16(normal(gen));
  for (uint16_t &x : doutB)
    x = lmcrt::toBf16(normal(gen));
  std::vector<float> qkvF(qkvB.size()), doutF(doutB.size());
  for (size_t i = 0; i < qkvB.size(); ++i)
    qkvF[i] = lmcrt::fromBf16(qkvB[i]);
  for (size_t i = 0; i < doutB.size(); ++i)
    doutF[i] = lmcrt::fromBf16(doutB[i]);
  Tensor3 qF(qkvF, 0, B, T, C, T * row, row, cs),
      kF(qkvF, C * cs, B, T, Ckv, T * row, row, cs),
      vF(qkvF, (C + Ckv) * cs, B, T, Ckv, T * row, row, cs),
      doF(doutF, 0, B, T, C, T * C, C, 1);
  Bf16Tensor3 qB(qkvB, 0, B, T, C, T * row, row, cs),
      kB(qkvB, C * cs, B, T, Ckv, T * row, row, cs),
      vB(qkvB, (C + Ckv) * cs, B, T, Ckv, T * row, row, cs),
      doB(doutB, 0, B, T, C, T * C, C, 1);

  // The float32 forward, and the forms with bfloat16 inputs.
  std::vector<float> outF(B * T * C), lseF(B * heads * T), outIn(B * T * C),
      lseIn(B * heads * T, NAN), lseInOut(B * heads * T, NAN);
  Tensor3 oF(outF, 0, B, T, C, T * C, C, 1),
      lF(lseF, 0, B, heads, T, heads * T, T, 1),
      oIn(outIn, 0, B, T, C, T * C, C, 1),
      lIn(lseIn, 0, B, heads, T, heads * T, T, 1),
      lInOut(lseInOut, 0, B, heads, T, heads * T, T, 1);
  const uint16_t kUntouched = 0x1234;
  const int64_t outRow = C + 5;
  std::vector<uint16_t> outB(B * T * outRow, kUntouched);
  Bf16Tensor3 oB(outB, 0, B, T, C, T * outRow, outRow, 1);
  _mlir_ciface_lmcrt_attention_fwd_f32(&qF.memref, &kF.memref, &vF.memref,
                                       &oF.memref, &lF.memref, heads, kvHeads);
  _mlir_ciface_lmcrt_attention_fwd_bf16_in(&qB.memref, &kB.memref, &vB.memref,
                                           &oIn.memref, &lIn.memref, heads,
                                           kvHeads);
  _mlir_ciface_lmcrt_attention_fwd_bf16_in_out(&qB.memref, &kB.memref,
                                               &vB.memref, &oB.memref,
                                               &lInOut.memref, heads, kvHeads);
  for (size_t i = 0; i < lseF.size(); ++i) {
    ASSERT_TRUE(sameBits(lseIn[i], lseF[i])) << "fwd_bf16_in lse " << i;
    ASSERT_TRUE(sameBits(lseInOut[i], lseF[i])) << "fwd_bf16_in_out lse " << i;
  }
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t c = 0; c < outRow; ++c) {
      const uint16_t got = outB[r * outRow + c];
      if (c >= C) {
        ASSERT_EQ(got, kUntouched) << "out padding, row " << r;
        continue;
      }
      const float want = outF[r * C + c];
      ASSERT_TRUE(sameBits(outIn[r * C + c], want))
          << "fwd_bf16_in out " << r << ", " << c;
      ASSERT_EQ(got, lmcrt::toBf16(want)) << "fwd_bf16_in_out out " << r << ", "
                                          << c << " (float32 " << want << ")";
    }

  // The backward passes, on out as stored by _fwd_bf16_in_out.
  std::vector<float> outRounded(B * T * C);
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t c = 0; c < C; ++c)
      outRounded[r * C + c] = lmcrt::fromBf16(outB[r * outRow + c]);
  Tensor3 oR(outRounded, 0, B, T, C, T * C, C, 1);
  const int64_t gradRow = C + 2 * Ckv + 3;
  std::vector<float> dqkvF(B * T * gradRow, 7.0f),
      dqkvIn(B * T * gradRow, 7.0f);
  std::vector<uint16_t> dqkvB(B * T * gradRow, kUntouched);
  // (A Tensor3 points into itself: made in place, never copied.)
  Tensor3 dqF(dqkvF, 0, B, T, C, T * gradRow, gradRow, 1),
      dkF(dqkvF, C, B, T, Ckv, T * gradRow, gradRow, 1),
      dvF(dqkvF, C + Ckv, B, T, Ckv, T * gradRow, gradRow, 1),
      dqIn(dqkvIn, 0, B, T, C, T * gradRow, gradRow, 1),
      dkIn(dqkvIn, C, B, T, Ckv, T * gradRow, gradRow, 1),
      dvIn(dqkvIn, C + Ckv, B, T, Ckv, T * gradRow, gradRow, 1);
  Bf16Tensor3 dqB(dqkvB, 0, B, T, C, T * gradRow, gradRow, 1),
      dkB(dqkvB, C, B, T, Ckv, T * gradRow, gradRow, 1),
      dvB(dqkvB, C + Ckv, B, T, Ckv, T * gradRow, gradRow, 1);
  _mlir_ciface_lmcrt_attention_bwd_f32(
      &qF.memref, &kF.memref, &vF.memref, &oR.memref, &lF.memref, &doF.memref,
      &dqF.memref, &dkF.memref, &dvF.memref, heads, kvHeads);
  _mlir_ciface_lmcrt_attention_bwd_bf16_in(
      &qB.memref, &kB.memref, &vB.memref, &oB.memref, &lF.memref, &doB.memref,
      &dqIn.memref, &dkIn.memref, &dvIn.memref, heads, kvHeads);
  _mlir_ciface_lmcrt_attention_bwd_bf16_in_out(
      &qB.memref, &kB.memref, &vB.memref, &oB.memref, &lF.memref, &doB.memref,
      &dqB.memref, &dkB.memref, &dvB.memref, heads, kvHeads);
  for (size_t i = 0; i < dqkvF.size(); ++i) {
    const bool padding = static_cast<int64_t>(i) % gradRow >= C + 2 * Ckv;
    ASSERT_TRUE(sameBits(dqkvIn[i], dqkvF[i]))
        << "bwd_bf16_in gradient element " << i << ": " << dqkvIn[i]
        << ", float32 " << dqkvF[i];
    ASSERT_EQ(dqkvB[i], padding ? kUntouched : lmcrt::toBf16(dqkvF[i]))
        << "bwd_bf16_in_out gradient element " << i << " (float32 " << dqkvF[i]
        << (padding ? ", padding)" : ")");
  }
}

TEST(Attention, Bf16StorageMatchesFloat32) {
  // Within and across the 64-row blocks, T = 1; multi-head, grouped- and
  // multi-query attention; channel strides 1 and 2.
  checkBf16(2, 70, 2, 16, 1, 2);
  checkBf16(1, 1, 2, 8, 1, 1);
  checkBf16(1, 130, 6, 8, 1, 2);
  checkBf16(2, 65, 4, 32, 1, 1);
  checkBf16(1, 67, 4, 8, 2, 2);
}

/// The message of the error the kernels raise on q [1, 4, 16] (4 heads of 4)
/// and keys and values [1, 4, kvChannels] with `kvHeads`.
std::string kernelError(int64_t kvChannels, int64_t kvHeads) {
  std::vector<float> qData(64), kData(4 * kvChannels), outData(64), lseData(16);
  Tensor3 q(qData, 0, 1, 4, 16, 64, 16, 1);
  Tensor3 k(kData, 0, 1, 4, kvChannels, 4 * kvChannels, kvChannels, 1);
  Tensor3 out(outData, 0, 1, 4, 16, 64, 16, 1);
  Tensor3 lse(lseData, 0, 1, 4, 4, 16, 4, 1);
  try {
    _mlir_ciface_lmcrt_attention_fwd_f32(&q.memref, &k.memref, &k.memref,
                                         &out.memref, &lse.memref, 4, kvHeads);
  } catch (const lmcrt::RuntimeError &e) {
    return e.what();
  }
  return "";
}

TEST(Attention, RejectsKeyValueHeadsThatDoNotFit) {
  EXPECT_EQ(kernelError(12, 3),
            "attention_fwd: kv_heads (3) must divide heads (4)");
  EXPECT_EQ(kernelError(8, 0),
            "attention_fwd: kv_heads (0) must divide heads (4)");
  EXPECT_EQ(kernelError(16, 2), "attention_fwd: k must be [B, T, kv_heads * "
                                "D] beside q [B, T, heads * D]");
  EXPECT_EQ(kernelError(8, 2), "");
}

} // namespace
