//===- Bf16AttentionChecks.h - Attention on bf16 activations ----*- C++ -*-===//
//
// The checks that the host-emulation tests of the attention kernels on
// bfloat16 activations (AttentionKernelsEmulationTest.cpp,
// AttentionTensorCoreEmulationTest.cpp) share: a case's buffers and random
// inputs; the _bf16in results (q, k, v, dO read as bfloat16) bit for bit
// the float32 kernels' on the same values and the _bf16io ones (O, dQ, dK,
// dV written as bfloat16 too) those rounded once, the padding between rows
// untouched; and both against attention in double. On plain vectors and
// sizes, so that it serves the kernels of either .cu file (each with a Rows
// and a Stats of its own).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TEST_RUNTIME_BF16ATTENTIONCHECKS_H
#define LMC_TEST_RUNTIME_BF16ATTENTIONCHECKS_H

#include "CudaEmulation.h"
#include "NaiveAttention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

/// One case and the sizes of its buffers: q, k and v views of one bfloat16
/// [B, T, C + 2 Ckv + pad] projection (C = heads * D, Ckv = kvHeads * D; row
/// stride `row`), dO packed [B, T, C], O a view of a [B, T, C + 5] buffer
/// (`outRow`) and dQ, dK, dV views of one [B, T, C + 2 Ckv + 3] buffer
/// (`gradRow`), at columns 0, C and C + Ckv; lse and delta [B, heads, T]
/// packed (`nl` elements).
struct Bf16Case {
  int64_t b, t, heads, d, kvHeads, pad;
  int64_t c = heads * d, ckv = kvHeads * d, row = c + 2 * ckv + pad,
          rows = b * t, outRow = c + 5, gradRow = c + 2 * ckv + 3,
          nl = b * heads * t;

  std::string name() const {
    return "B " + std::to_string(b) + " T " + std::to_string(t) + " heads " +
           std::to_string(heads) + " D " + std::to_string(d) + " kv_heads " +
           std::to_string(kvHeads) + " pad " + std::to_string(pad);
  }
};

/// What the padding of the results' buffers holds before the kernels run,
/// and must hold after: bfloat16 and float32.
inline constexpr __nv_bfloat16 bf16Untouched{0x1234};
inline constexpr float f32Untouched = 7.0f;

/// A case's inputs: the projection and dO, bfloat16 (B) and the same values
/// as float (F).
struct Bf16Inputs {
  std::vector<__nv_bfloat16> qkvB, gB;
  std::vector<float> qkvF, gF;
};

/// Uniform floats in [-1, 1) rounded to bfloat16, from a generator seeded
/// with `seed`: the projection, then dO.
inline Bf16Inputs randomBf16Inputs(const Bf16Case &cs, unsigned seed) {
  Bf16Inputs in;
  in.qkvB.resize(cs.rows * cs.row);
  in.gB.resize(cs.rows * cs.c);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (__nv_bfloat16 &e : in.qkvB)
    e = __float2bfloat16(dist(rng));
  for (__nv_bfloat16 &e : in.gB)
    e = __float2bfloat16(dist(rng));
  for (__nv_bfloat16 e : in.qkvB)
    in.qkvF.push_back(__bfloat162float(e));
  for (__nv_bfloat16 e : in.gB)
    in.gF.push_back(__bfloat162float(e));
  return in;
}

inline bool sameBits(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

/// The forward pass of _bf16in (outIn, lseIn) and _bf16io (outB, lseIo)
/// against the float32 kernel's (outF, lseF) on the same values: lse and
/// _bf16in's O bit for bit, _bf16io's O those rounded, its padding
/// untouched. Sets outR to O as _bf16io stored it, as float, packed. The
/// first mismatch ends it with a fatal failure (ASSERT_NO_FATAL_FAILURE).
inline void checkBf16Forward(const Bf16Case &cs, const std::vector<float> &outF,
                             const std::vector<float> &lseF,
                             const std::vector<float> &outIn,
                             const std::vector<float> &lseIn,
                             const std::vector<__nv_bfloat16> &outB,
                             const std::vector<float> &lseIo,
                             std::vector<float> &outR) {
  const int64_t c = cs.c, outRow = cs.outRow;
  for (int64_t e = 0; e < cs.nl; ++e) {
    ASSERT_TRUE(sameBits(lseIn[e], lseF[e])) << "_bf16in lse " << e;
    ASSERT_TRUE(sameBits(lseIo[e], lseF[e])) << "_bf16io lse " << e;
  }
  outR.assign(cs.rows * c, 0.0f);
  for (int64_t r = 0; r < cs.rows; ++r)
    for (int64_t x = 0; x < outRow; ++x) {
      const __nv_bfloat16 got = outB[r * outRow + x];
      if (x >= c) {
        ASSERT_EQ(got.bits, bf16Untouched.bits) << "O padding, row " << r;
        continue;
      }
      const float want = outF[r * c + x];
      ASSERT_TRUE(sameBits(outIn[r * c + x], want))
          << "_bf16in O " << r << ", " << x;
      ASSERT_EQ(got.bits, __float2bfloat16(want).bits)
          << "_bf16io O " << r << ", " << x << " (float32 " << want << ")";
      outR[r * c + x] = __bfloat162float(got);
    }
}

/// The gradients of _bf16in (dIn) and _bf16io (dB) against the float32
/// kernels' (dF) on the same values: _bf16in's bit for bit, _bf16io's those
/// rounded, the padding of both untouched. Sets dR to the gradients as
/// _bf16io stored them, as float (the padding 0). The first mismatch ends
/// it with a fatal failure (ASSERT_NO_FATAL_FAILURE).
inline void checkBf16Gradients(const Bf16Case &cs, const std::vector<float> &dF,
                               const std::vector<float> &dIn,
                               const std::vector<__nv_bfloat16> &dB,
                               std::vector<float> &dR) {
  const int64_t gradRow = cs.gradRow;
  dR.assign(cs.rows * gradRow, 0.0f);
  for (int64_t e = 0; e < cs.rows * gradRow; ++e) {
    if (e % gradRow >= cs.c + 2 * cs.ckv) {
      ASSERT_EQ(dB[e].bits, bf16Untouched.bits) << "gradient padding " << e;
      ASSERT_EQ(dIn[e], f32Untouched) << "gradient padding " << e;
      continue;
    }
    ASSERT_TRUE(sameBits(dIn[e], dF[e]))
        << "_bf16in gradient " << e << ": " << dIn[e] << ", float32 " << dF[e];
    ASSERT_EQ(dB[e].bits, __float2bfloat16(dF[e]).bits)
        << "_bf16io gradient " << e << " (float32 " << dF[e] << ")";
    dR[e] = __bfloat162float(dB[e]);
  }
}

/// The largest errors against double over the cases, of the float32
/// results (_bf16in) and of the bfloat16 ones (_bf16io).
struct Bf16Errors {
  NaiveErrors in, io;

  void print() const {
    std::printf("largest errors against double, float32 results: %s\n",
                in.str().c_str());
    std::printf("largest errors against double, bfloat16 results: %s\n",
                io.str().c_str());
  }
};

/// The results of _bf16in (outIn, dIn) and of _bf16io (outR, dR: as
/// stored, as float) against attention in double on the same (bfloat16)
/// values, lse that of the forward pass: within `tolerance` for the float32
/// results and tolerance + 2^-8 (one more rounding, u relative) for the
/// bfloat16 ones. A failure per mismatch; the largest errors go to `worst`.
inline void compareBf16WithNaive(const Bf16Case &cs, const Bf16Inputs &in,
                                 const std::vector<float> &outIn,
                                 const std::vector<float> &outR,
                                 const std::vector<float> &lse,
                                 const std::vector<float> &dIn,
                                 const std::vector<float> &dR, double tolerance,
                                 Bf16Errors &worst) {
  const int64_t c = cs.c, ckv = cs.ckv;
  auto unpack = [&](const std::vector<float> &from, int64_t stride,
                    int64_t offset, int64_t width) {
    std::vector<float> to(cs.rows * width);
    for (int64_t r = 0; r < cs.rows; ++r)
      for (int64_t x = 0; x < width; ++x)
        to[r * width + x] = from[r * stride + offset + x];
    return to;
  };
  const std::vector<float> pq = unpack(in.qkvF, cs.row, 0, c),
                           pk = unpack(in.qkvF, cs.row, c, ckv),
                           pv = unpack(in.qkvF, cs.row, c + ckv, ckv);
  for (bool bf16Out : {false, true}) {
    const std::vector<float> &grads = bf16Out ? dR : dIn;
    const std::vector<float> pdq = unpack(grads, cs.gradRow, 0, c),
                             pdk = unpack(grads, cs.gradRow, c, ckv),
                             pdv = unpack(grads, cs.gradRow, c + ckv, ckv);
    NaiveErrors errors;
    for (const std::string &message : compareWithNaive(
             pq.data(), pk.data(), pv.data(), in.gF.data(),
             bf16Out ? outR.data() : outIn.data(), lse.data(), pdq.data(),
             pdk.data(), pdv.data(), cs.b, cs.t, cs.heads, cs.kvHeads, cs.d,
             bf16Out ? tolerance + std::ldexp(1.0, -8) : tolerance, 5, &errors))
      ADD_FAILURE() << (bf16Out ? "_bf16io: " : "_bf16in: ") << message;
    (bf16Out ? worst.io : worst.in).merge(errors);
  }
}

#endif // LMC_TEST_RUNTIME_BF16ATTENTIONCHECKS_H
