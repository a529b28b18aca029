//===- AttentionKernelsEmulationTest.cpp - GPU kernels, run on the host ---===//
//
// Compiles lib/Runtime/Cuda/AttentionKernels.cu as host C++ and runs each
// kernel the way a GPU would, block by block, with one std::thread per GPU
// thread of a block and __syncthreads() a barrier among them, so that the
// kernels' tiling, masking, online softmax and the division of the
// backward pass are checked against attention in double on machines
// without a GPU. What it cannot check is the hardware: the compiled PTX,
// occupancy, registers, timing. lmcrt-gpu-tests runs the same comparison on
// a GPU.
//
// The bfloat16 instantiations (D 16 and 32: _bf16in reads q, k, v, dO as
// bfloat16, _bf16io writes O, dQ, dK, dV as bfloat16 too;
// lmc_attention_delta_bf16in) extend their inputs exactly and run the same
// float32 arithmetic, so on bfloat16 values they must give bit for bit the
// float32 kernels' results on the same values, and _bf16io those rounded
// once (to nearest even), the padding between rows untouched. Against
// attention in double on the same values the float32 kernels' 2e-4 holds
// for float32 results but for the backward pass reading O rounded to
// bfloat16: delta moves by up to u * sum_d |dO O| (u = 2^-8), which dS
// carries into the gradients scaled by P and 1/sqrt(D); 2e-3 there, and a
// bfloat16 result adds its own rounding, u relative: 2e-3 + 2^-8. Measured:
// at most 6.5e-4 (float32 results, dQ) and 2.0e-3 (bfloat16 results, dV).
//
//===----------------------------------------------------------------------===//

#include "CudaEmulation.h"
#include "NaiveAttention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

// One block runs at a time, so a block's shared memory can be static.
#define __shared__ static

#include "../../lib/Runtime/Cuda/AttentionKernels.cu"

#undef __shared__

namespace {

/// The kernels of one head size, as Attention.cpp launches them.
struct Kernels {
  decltype(&lmc_attention_fwd_d32) fwd;
  decltype(&lmc_attention_dkdv_d32) dkdv;
  decltype(&lmc_attention_dq_d32) dq;
};

Kernels kernelsFor(int64_t d) {
  switch (d) {
  case 16:
    return {lmc_attention_fwd_d16, lmc_attention_dkdv_d16, lmc_attention_dq_d16};
  case 32:
    return {lmc_attention_fwd_d32, lmc_attention_dkdv_d32, lmc_attention_dq_d32};
  case 64:
    return {lmc_attention_fwd_d64, lmc_attention_dkdv_d64, lmc_attention_dq_d64};
  default:
    return {lmc_attention_fwd_d128, lmc_attention_dkdv_d128,
            lmc_attention_dq_d128};
  }
}

TEST(AttentionKernelsEmulated, ForwardAndBackwardAgainstNaive) {
  struct Case {
    int64_t b, t, heads, d, kvHeads;
  };
  // T below, at and across the tiles (2048 / D rows), T = 1, every D;
  // grouped-query (groups of 2 and 3 query heads) and multi-query attention.
  for (Case cs :
       {Case{2, 70, 2, 32, 2}, Case{1, 64, 1, 32, 1}, Case{1, 33, 3, 64, 3},
        Case{2, 1, 2, 16, 2}, Case{1, 20, 2, 128, 2}, Case{1, 130, 1, 16, 1},
        Case{2, 70, 4, 32, 2}, Case{1, 140, 6, 16, 2}, Case{2, 33, 3, 64, 1},
        Case{1, 1, 4, 16, 1}}) {
    const int64_t c = cs.heads * cs.d, ckv = cs.kvHeads * cs.d,
                  n = cs.b * cs.t * c, nkv = cs.b * cs.t * ckv;
    std::vector<float> q(n), k(nkv), v(nkv), g(n), out(n), dq(n), dk(nkv),
        dv(nkv), lse(cs.b * cs.heads * cs.t), delta(cs.b * cs.heads * cs.t);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (auto *x : {&q, &k, &v, &g})
      for (float &e : *x)
        e = dist(rng);
    const Rows rows{cs.t * c, c}, kvRows{cs.t * ckv, ckv};
    const Stats stats{cs.heads * cs.t, cs.t};
    const int t = static_cast<int>(cs.t), h = static_cast<int>(cs.heads),
              d = static_cast<int>(cs.d),
              group = static_cast<int>(cs.heads / cs.kvHeads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(cs.d));
    const unsigned tile = static_cast<unsigned>(
                       lmc_attention_f32::rowsPerBlock(d)),
                   threads = static_cast<unsigned>(
                       lmc_attention_f32::threadsPerBlock(d));
    const unsigned gridX = static_cast<unsigned>((cs.t + tile - 1) / tile),
                   gridY = static_cast<unsigned>(cs.b * cs.heads),
                   gridYKv = static_cast<unsigned>(cs.b * cs.kvHeads);
    Kernels kernels = kernelsFor(cs.d);
    launch(gridX, gridY, threads, [&] {
      kernels.fwd(q.data(), rows, k.data(), kvRows, v.data(), kvRows,
                  out.data(), rows, lse.data(), stats, t, h, group, scale);
    });
    launch(static_cast<unsigned>((cs.t + 127) / 128), gridY, 128, [&] {
      lmc_attention_delta(out.data(), rows, g.data(), rows, delta.data(),
                          stats, t, h, d);
    });
    // One block per (batch, key/value head, key tile), as Attention.cpp
    // launches it.
    launch(gridX, gridYKv, threads, [&] {
      kernels.dkdv(q.data(), rows, k.data(), kvRows, v.data(), kvRows, g.data(),
                   rows, lse.data(), stats, delta.data(), stats, dk.data(),
                   kvRows, dv.data(), kvRows, t, h, group, scale);
    });
    launch(gridX, gridY, threads, [&] {
      kernels.dq(q.data(), rows, k.data(), kvRows, v.data(), kvRows, g.data(),
                 rows, lse.data(), stats, delta.data(), stats, dq.data(), rows,
                 t, h, group, scale);
    });
    for (const std::string &message :
         compareWithNaive(q.data(), k.data(), v.data(), g.data(), out.data(),
                          lse.data(), dq.data(), dk.data(), dv.data(), cs.b,
                          cs.t, cs.heads, cs.kvHeads, cs.d, 2e-4))
      ADD_FAILURE() << message;
  }
}

/// The bfloat16 kernels of one head size (16 or 32), as Attention.cpp
/// launches them for lmcrt_gpu_attention_*_bf16_in (In) and _bf16_in_out
/// (Io).
struct Bf16Kernels {
  decltype(&lmc_attention_fwd_d32_bf16in) fwdIn;
  decltype(&lmc_attention_fwd_d32_bf16io) fwdIo;
  decltype(&lmc_attention_dkdv_d32_bf16in) dkdvIn;
  decltype(&lmc_attention_dkdv_d32_bf16io) dkdvIo;
  decltype(&lmc_attention_dq_d32_bf16in) dqIn;
  decltype(&lmc_attention_dq_d32_bf16io) dqIo;
};

Bf16Kernels bf16KernelsFor(int64_t d) {
  if (d == 16)
    return {lmc_attention_fwd_d16_bf16in,  lmc_attention_fwd_d16_bf16io,
            lmc_attention_dkdv_d16_bf16in, lmc_attention_dkdv_d16_bf16io,
            lmc_attention_dq_d16_bf16in,   lmc_attention_dq_d16_bf16io};
  return {lmc_attention_fwd_d32_bf16in,  lmc_attention_fwd_d32_bf16io,
          lmc_attention_dkdv_d32_bf16in, lmc_attention_dkdv_d32_bf16io,
          lmc_attention_dq_d32_bf16in,   lmc_attention_dq_d32_bf16io};
}

bool sameBits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// bfloat16 activations (lmc-bf16-storage): q, k and v views of one bfloat16
// [B, T, C + 2 Ckv + pad] projection, dO packed, O and the gradients views
// of padded bfloat16 buffers; against the float32 kernels on the same values
// (bit for bit) and attention in double.
TEST(AttentionKernelsEmulated, Bf16ActivationsMatchFloat32Kernels) {
  struct Case {
    int64_t b, t, heads, d, kvHeads, pad;
  };
  using bf16 = __nv_bfloat16;
  const bf16 untouched{0x1234};
  NaiveErrors worstIn, worstIo;
  // T below, at and across the tiles (128 rows at D 16, 64 at D 32), T = 1;
  // grouped- and multi-query attention; odd and even row strides.
  for (Case cs : {Case{2, 70, 2, 32, 2, 0}, Case{1, 140, 6, 16, 2, 3},
                  Case{2, 1, 2, 16, 2, 1}, Case{1, 64, 4, 32, 1, 3},
                  Case{1, 130, 1, 16, 1, 0}}) {
    SCOPED_TRACE("B " + std::to_string(cs.b) + " T " + std::to_string(cs.t) +
                 " heads " + std::to_string(cs.heads) + " D " +
                 std::to_string(cs.d) + " kv_heads " +
                 std::to_string(cs.kvHeads) + " pad " + std::to_string(cs.pad));
    const int64_t c = cs.heads * cs.d, ckv = cs.kvHeads * cs.d,
                  row = c + 2 * ckv + cs.pad, rows = cs.b * cs.t,
                  outRow = c + 5, gradRow = c + 2 * ckv + 3,
                  nl = cs.b * cs.heads * cs.t;
    std::vector<bf16> qkvB(rows * row), gB(rows * c);
    std::mt19937 rng(17);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (bf16 &e : qkvB)
      e = __float2bfloat16(dist(rng));
    for (bf16 &e : gB)
      e = __float2bfloat16(dist(rng));
    std::vector<float> qkvF(qkvB.size()), gF(gB.size());
    for (size_t e = 0; e < qkvB.size(); ++e)
      qkvF[e] = __bfloat162float(qkvB[e]);
    for (size_t e = 0; e < gB.size(); ++e)
      gF[e] = __bfloat162float(gB[e]);
    const Rows proj{cs.t * row, row}, packed{cs.t * c, c},
        outRows{cs.t * outRow, outRow}, gradRows{cs.t * gradRow, gradRow};
    const Stats stats{cs.heads * cs.t, cs.t};
    const int t = static_cast<int>(cs.t), h = static_cast<int>(cs.heads),
              d = static_cast<int>(cs.d),
              group = static_cast<int>(cs.heads / cs.kvHeads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(cs.d));
    const unsigned tile = static_cast<unsigned>(
                       lmc_attention_f32::rowsPerBlock(d)),
                   threads = static_cast<unsigned>(
                       lmc_attention_f32::threadsPerBlock(d));
    const unsigned gridX = static_cast<unsigned>((cs.t + tile - 1) / tile),
                   gridY = static_cast<unsigned>(cs.b * cs.heads),
                   gridYKv = static_cast<unsigned>(cs.b * cs.kvHeads);
    const Kernels kf = kernelsFor(cs.d);
    const Bf16Kernels kb = bf16KernelsFor(cs.d);
    const float *qF = qkvF.data(), *kF = qF + c, *vF = kF + ckv;
    const bf16 *qB = qkvB.data(), *kB = qB + c, *vB = kB + ckv;

    // Forward: the float32 kernel, then _bf16in and _bf16io.
    std::vector<float> outF(rows * c, NAN), lseF(nl, NAN), outIn(rows * c, NAN),
        lseIn(nl, NAN), lseIo(nl, NAN);
    std::vector<bf16> outB(rows * outRow, untouched);
    launch(gridX, gridY, threads, [&] {
      kf.fwd(qF, proj, kF, proj, vF, proj, outF.data(), packed, lseF.data(),
             stats, t, h, group, scale);
      kb.fwdIn(qB, proj, kB, proj, vB, proj, outIn.data(), packed, lseIn.data(),
               stats, t, h, group, scale);
      kb.fwdIo(qB, proj, kB, proj, vB, proj, outB.data(), outRows, lseIo.data(),
               stats, t, h, group, scale);
    });
    for (int64_t e = 0; e < nl; ++e) {
      ASSERT_TRUE(sameBits(lseIn[e], lseF[e])) << "_bf16in lse " << e;
      ASSERT_TRUE(sameBits(lseIo[e], lseF[e])) << "_bf16io lse " << e;
    }
    std::vector<float> outR(rows * c); // O as _bf16io stored it
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t x = 0; x < outRow; ++x) {
        const bf16 got = outB[r * outRow + x];
        if (x >= c) {
          ASSERT_EQ(got.bits, untouched.bits) << "O padding, row " << r;
          continue;
        }
        const float want = outF[r * c + x];
        ASSERT_TRUE(sameBits(outIn[r * c + x], want))
            << "_bf16in O " << r << ", " << x;
        ASSERT_EQ(got.bits, __float2bfloat16(want).bits)
            << "_bf16io O " << r << ", " << x << " (float32 " << want << ")";
        outR[r * c + x] = __bfloat162float(got);
      }

    // delta from O as stored: lmc_attention_delta_bf16in against the
    // float32 kernel on the same values.
    std::vector<float> delta(nl, NAN), deltaB(nl, NAN);
    launch(static_cast<unsigned>((cs.t + 127) / 128), gridY, 128, [&] {
      lmc_attention_delta(outR.data(), packed, gF.data(), packed, delta.data(),
                          stats, t, h, d);
      lmc_attention_delta_bf16in(outB.data(), outRows, gB.data(), packed,
                                 deltaB.data(), stats, t, h, d);
    });
    for (int64_t e = 0; e < nl; ++e)
      ASSERT_TRUE(sameBits(deltaB[e], delta[e]))
          << "delta_bf16in " << e << ": " << deltaB[e] << ", float32 "
          << delta[e];

    // Backward: the float32 kernels, _bf16in, _bf16io.
    std::vector<float> dF(rows * gradRow, 7.0f), dIn(rows * gradRow, 7.0f);
    std::vector<bf16> dB(rows * gradRow, untouched);
    launch(gridX, gridYKv, threads, [&] {
      kf.dkdv(qF, proj, kF, proj, vF, proj, gF.data(), packed, lseF.data(),
              stats, delta.data(), stats, dF.data() + c, gradRows,
              dF.data() + c + ckv, gradRows, t, h, group, scale);
      kb.dkdvIn(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
                stats, deltaB.data(), stats, dIn.data() + c, gradRows,
                dIn.data() + c + ckv, gradRows, t, h, group, scale);
      kb.dkdvIo(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
                stats, deltaB.data(), stats, dB.data() + c, gradRows,
                dB.data() + c + ckv, gradRows, t, h, group, scale);
    });
    launch(gridX, gridY, threads, [&] {
      kf.dq(qF, proj, kF, proj, vF, proj, gF.data(), packed, lseF.data(), stats,
            delta.data(), stats, dF.data(), gradRows, t, h, group, scale);
      kb.dqIn(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
              stats, deltaB.data(), stats, dIn.data(), gradRows, t, h, group,
              scale);
      kb.dqIo(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
              stats, deltaB.data(), stats, dB.data(), gradRows, t, h, group,
              scale);
    });
    std::vector<float> dR(rows * gradRow); // the gradients as _bf16io stored
    for (int64_t e = 0; e < rows * gradRow; ++e) {
      if (e % gradRow >= c + 2 * ckv) {
        ASSERT_EQ(dB[e].bits, untouched.bits) << "gradient padding " << e;
        ASSERT_EQ(dIn[e], 7.0f) << "gradient padding " << e;
        continue;
      }
      ASSERT_TRUE(sameBits(dIn[e], dF[e])) << "_bf16in gradient " << e << ": "
                                           << dIn[e] << ", float32 " << dF[e];
      ASSERT_EQ(dB[e].bits, __float2bfloat16(dF[e]).bits)
          << "_bf16io gradient " << e << " (float32 " << dF[e] << ")";
      dR[e] = __bfloat162float(dB[e]);
    }

    // Against attention in double on the bfloat16 values.
    auto unpack = [&](const std::vector<float> &from, int64_t stride,
                      int64_t offset, int64_t width) {
      std::vector<float> to(rows * width);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t x = 0; x < width; ++x)
          to[r * width + x] = from[r * stride + offset + x];
      return to;
    };
    const std::vector<float> pq = unpack(qkvF, row, 0, c),
                             pk = unpack(qkvF, row, c, ckv),
                             pv = unpack(qkvF, row, c + ckv, ckv);
    for (bool bf16Out : {false, true}) {
      const std::vector<float> &grads = bf16Out ? dR : dIn;
      const std::vector<float> pdq = unpack(grads, gradRow, 0, c),
                               pdk = unpack(grads, gradRow, c, ckv),
                               pdv = unpack(grads, gradRow, c + ckv, ckv);
      NaiveErrors errors;
      for (const std::string &message : compareWithNaive(
               pq.data(), pk.data(), pv.data(), gF.data(),
               bf16Out ? outR.data() : outIn.data(), lseIn.data(), pdq.data(),
               pdk.data(), pdv.data(), cs.b, cs.t, cs.heads, cs.kvHeads, cs.d,
               bf16Out ? 2e-3 + std::ldexp(1.0, -8) : 2e-3, 5, &errors))
        ADD_FAILURE() << (bf16Out ? "_bf16io: " : "_bf16in: ") << message;
      (bf16Out ? worstIo : worstIn).merge(errors);
    }
  }
  std::printf("largest errors against double, float32 results: %s\n",
              worstIn.str().c_str());
  std::printf("largest errors against double, bfloat16 results: %s\n",
              worstIo.str().c_str());
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
