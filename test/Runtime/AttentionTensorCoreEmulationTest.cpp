//===- AttentionTensorCoreEmulationTest.cpp - bf16 attention, on the host -===//
//
// Compiles lib/Runtime/Cuda/AttentionTensorCoreKernels.cu as host C++ and
// runs each kernel as Attention.cpp launches it, a std::thread per GPU
// thread, with the wmma fragments, bf16 and warp barriers of
// CudaEmulation.h (a fragment layout of its own, so a kernel that assumed
// the hardware's would fail), against attention in double: the forward
// pass (out, lse) and the three gradients, for head sizes 64 and 128, T
// below, at and across the tiles, T = 1, and grouped-query attention; and
// the operands as strided views of one projection, as the program passes
// them.
//
// Tolerances. bf16 keeps 8 significant bits: each rounding is a relative
// error of at most u = 2^-8. Against the reference on the same float32
// inputs, a score s = scale * q.k carries the rounding of q and k, at most
// 2u * scale * sum_c |q_c k_c| (0.022 at D = 128 for inputs in [-1, 1],
// whose products average 1/4), and so does every probability, relatively;
// v, P, dO and dS add one u each. These are bounds on sums of independent
// roundings, whose typical size is smaller by about sqrt(D), so the test
// asks for 2e-2 * (1 + |want|) there. Against the reference run on the
// bf16-rounded q, k, v and dO only the roundings of P and dS remain (a few
// u): 1e-2 * (1 + |want|) there. Measured: at most 5.6e-3 and 4.8e-3 (dV).
// Errors in the masking, the online softmax's rescaling or the rows an
// accumulator element is in gave 6e-2 to 2 when tried.
//
// The kernels on bfloat16 activations (_bf16in: q, k, v, dO bfloat16, O,
// dQ, dK, dV float32; _bf16io: those bfloat16 too) copy bfloat16 inputs
// into the tiles the float32 kernels round them into, so on bfloat16 values
// they must give bit for bit the float32 kernels' results on the same
// values, and _bf16io those rounded once (to nearest even), leaving the
// padding between rows untouched; checked for aligned operands (the 16-byte
// loads) and odd row strides (one element at a time). Against attention in
// double on the same (bfloat16) values, the bound above, 1e-2 * (1 + |want|),
// holds for the float32 results; a bfloat16 result adds one rounding,
// u = 2^-8 relative, and the backward pass reads O rounded (delta moves by
// at most u * sum |dO O|, scaled down by P and 1/sqrt(D) in the gradients):
// 1e-2 + 2^-8 there. Measured: at most 3.8e-3 (dV) for both.
//
//===----------------------------------------------------------------------===//

#include "Bf16AttentionChecks.h"
#include "CudaEmulation.h"
#include "NaiveAttention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

// One block runs at a time, so a block's shared memory can be static.
#define __shared__ static

#include "../../lib/Runtime/Cuda/AttentionTensorCoreKernels.cu"

#undef __shared__

namespace {

/// The kernels of one head size and their launch shapes, as Attention.cpp
/// uses them.
struct Kernels {
  decltype(&lmc_attention_tc_fwd_d64) fwd;
  decltype(&lmc_attention_tc_dkdv_d64) dkdv;
  decltype(&lmc_attention_tc_dq_d64) dq;
  unsigned fwdRows, fwdThreads, keyRows, keyThreads, dqRows, dqThreads;
};

template <int D> Kernels kernels() {
  return {D == 64 ? lmc_attention_tc_fwd_d64 : lmc_attention_tc_fwd_d128,
          D == 64 ? lmc_attention_tc_dkdv_d64 : lmc_attention_tc_dkdv_d128,
          D == 64 ? lmc_attention_tc_dq_d64 : lmc_attention_tc_dq_d128,
          Fwd<D>::rows,
          32 * Fwd<D>::warps,
          KeyGrad<D>::keys,
          32 * KeyGrad<D>::warps,
          QueryGrad<D>::rows,
          32 * QueryGrad<D>::warps};
}

float roundBf16(float x) { return __bfloat162float(__float2bfloat16(x)); }

unsigned blocks(int64_t t, unsigned rows) {
  return static_cast<unsigned>((t + rows - 1) / rows);
}

TEST(AttentionTensorCoreEmulated, Bf16Rounding) {
  // Round to nearest, ties to even, on the 16 bits that stay.
  EXPECT_EQ(roundBf16(1.0f), 1.0f);
  EXPECT_EQ(roundBf16(1.0f + 1.0f / 256), 1.0f);              // a tie: to even
  EXPECT_EQ(roundBf16(1.0f + 3.0f / 256), 1.0f + 4.0f / 256); // a tie: to even
  EXPECT_EQ(roundBf16(1.0f + 1.5f / 256), 1.0f + 2.0f / 256);
  EXPECT_EQ(roundBf16(-3.0f), -3.0f);
  EXPECT_TRUE(std::isinf(roundBf16(INFINITY)));
  EXPECT_TRUE(std::isnan(roundBf16(NAN)));
}

TEST(AttentionTensorCoreEmulated, ForwardAndBackwardAgainstNaive) {
  struct Case {
    int64_t b, t, heads, d, kvHeads;
  };
  // Tiles: 64 queries (forward, dQ); keys 64 (D 64) or 32 (D 128) per tile,
  // 64 (D 64) or 32 (D 128) per dK/dV block, queries 32 per dK/dV tile.
  for (Case cs :
       {Case{1, 1, 2, 64, 2}, Case{2, 37, 2, 64, 2}, Case{1, 64, 1, 64, 1},
        Case{1, 150, 4, 64, 2}, Case{1, 1, 3, 128, 1}, Case{1, 32, 2, 128, 1},
        Case{2, 70, 2, 128, 2}, Case{1, 130, 6, 128, 2}}) {
    SCOPED_TRACE("B " + std::to_string(cs.b) + " T " + std::to_string(cs.t) +
                 " heads " + std::to_string(cs.heads) + " D " +
                 std::to_string(cs.d) + " kv_heads " +
                 std::to_string(cs.kvHeads));
    const int64_t c = cs.heads * cs.d, ckv = cs.kvHeads * cs.d,
                  n = cs.b * cs.t * c, nkv = cs.b * cs.t * ckv;
    std::vector<float> q(n), k(nkv), v(nkv), g(n), out(n, NAN), dq(n, NAN),
        dk(nkv, NAN), dv(nkv, NAN), lse(cs.b * cs.heads * cs.t, NAN),
        delta(cs.b * cs.heads * cs.t);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (auto *x : {&q, &k, &v, &g})
      for (float &e : *x)
        e = dist(rng);
    const Rows rows{cs.t * c, c}, kvRows{cs.t * ckv, ckv};
    const Stats stats{cs.heads * cs.t, cs.t};
    const int t = static_cast<int>(cs.t), h = static_cast<int>(cs.heads),
              group = static_cast<int>(cs.heads / cs.kvHeads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(cs.d));
    const unsigned gridY = static_cast<unsigned>(cs.b * cs.heads),
                   gridYKv = static_cast<unsigned>(cs.b * cs.kvHeads);
    Kernels kn = cs.d == 64 ? kernels<64>() : kernels<128>();
    launch(blocks(cs.t, kn.fwdRows), gridY, kn.fwdThreads, [&] {
      kn.fwd(q.data(), rows, k.data(), kvRows, v.data(), kvRows, out.data(),
             rows, lse.data(), stats, t, h, group, scale);
    });
    // delta = rowsum(dO * O): lmc_attention_delta of AttentionKernels.cu on
    // the GPU (tested by attention-kernels-emulated.test), here on the host.
    for (int64_t bi = 0; bi < cs.b; ++bi)
      for (int64_t hi = 0; hi < cs.heads; ++hi)
        for (int64_t i = 0; i < cs.t; ++i) {
          float sum = 0.0f;
          for (int64_t x = 0; x < cs.d; ++x) {
            const int64_t at = bi * cs.t * c + i * c + hi * cs.d + x;
            sum += out[at] * g[at];
          }
          delta[(bi * cs.heads + hi) * cs.t + i] = sum;
        }
    launch(blocks(cs.t, kn.keyRows), gridYKv, kn.keyThreads, [&] {
      kn.dkdv(q.data(), rows, k.data(), kvRows, v.data(), kvRows, g.data(),
              rows, lse.data(), stats, delta.data(), stats, dk.data(), kvRows,
              dv.data(), kvRows, t, h, group, scale);
    });
    launch(blocks(cs.t, kn.dqRows), gridY, kn.dqThreads, [&] {
      kn.dq(q.data(), rows, k.data(), kvRows, v.data(), kvRows, g.data(), rows,
            lse.data(), stats, delta.data(), stats, dq.data(), rows, t, h,
            group, scale);
    });
    for (const std::string &message :
         compareWithNaive(q.data(), k.data(), v.data(), g.data(), out.data(),
                          lse.data(), dq.data(), dk.data(), dv.data(), cs.b,
                          cs.t, cs.heads, cs.kvHeads, cs.d, 2e-2))
      ADD_FAILURE() << "float32 inputs: " << message;
    std::vector<float> qr(q), kr(k), vr(v), gr(g);
    for (auto *x : {&qr, &kr, &vr, &gr})
      for (float &e : *x)
        e = roundBf16(e);
    for (const std::string &message : compareWithNaive(
             qr.data(), kr.data(), vr.data(), gr.data(), out.data(), lse.data(),
             dq.data(), dk.data(), dv.data(), cs.b, cs.t, cs.heads, cs.kvHeads,
             cs.d, 1e-2))
      ADD_FAILURE() << "bf16-rounded inputs: " << message;
  }
}

// The operands as the compiled program passes them: q, k and v views of one
// [B, T, C + 2 Ckv] projection (row stride C + 2 Ckv), their gradients views
// of its gradient, lse with a padded batch stride.
TEST(AttentionTensorCoreEmulated, StridedOperands) {
  struct Case {
    int64_t b, t, heads, d, kvHeads;
  };
  for (Case cs : {Case{2, 70, 2, 64, 1}, Case{2, 45, 2, 128, 2}}) {
    const int64_t c = cs.heads * cs.d, ckv = cs.kvHeads * cs.d,
                  row = c + 2 * ckv, n = cs.b * cs.t * row;
    const int64_t lseBatch = cs.heads * cs.t + 3;
    std::vector<float> qkv(n), dqkv(n, NAN), g(cs.b * cs.t * c),
        out(cs.b * cs.t * c, NAN), lse(cs.b * lseBatch, NAN),
        delta(cs.b * cs.heads * cs.t);
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float &e : qkv)
      e = dist(rng);
    for (float &e : g)
      e = dist(rng);
    const Rows qkvRows{cs.t * row, row}, packed{cs.t * c, c};
    const Stats lseStats{lseBatch, cs.t}, deltaStats{cs.heads * cs.t, cs.t};
    const int t = static_cast<int>(cs.t), h = static_cast<int>(cs.heads),
              group = static_cast<int>(cs.heads / cs.kvHeads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(cs.d));
    const float *q = qkv.data(), *k = q + c, *v = k + ckv;
    float *dq = dqkv.data(), *dk = dq + c, *dv = dk + ckv;
    Kernels kn = cs.d == 64 ? kernels<64>() : kernels<128>();
    const unsigned gridY = static_cast<unsigned>(cs.b * cs.heads);
    launch(blocks(cs.t, kn.fwdRows), gridY, kn.fwdThreads, [&] {
      kn.fwd(q, qkvRows, k, qkvRows, v, qkvRows, out.data(), packed, lse.data(),
             lseStats, t, h, group, scale);
    });
    for (int64_t bi = 0; bi < cs.b; ++bi)
      for (int64_t hi = 0; hi < cs.heads; ++hi)
        for (int64_t i = 0; i < cs.t; ++i) {
          float sum = 0.0f;
          for (int64_t x = 0; x < cs.d; ++x) {
            const int64_t at = bi * cs.t * c + i * c + hi * cs.d + x;
            sum += out[at] * g[at];
          }
          delta[(bi * cs.heads + hi) * cs.t + i] = sum;
        }
    launch(blocks(cs.t, kn.keyRows), static_cast<unsigned>(cs.b * cs.kvHeads),
           kn.keyThreads, [&] {
             kn.dkdv(q, qkvRows, k, qkvRows, v, qkvRows, g.data(), packed,
                     lse.data(), lseStats, delta.data(), deltaStats, dk,
                     qkvRows, dv, qkvRows, t, h, group, scale);
           });
    launch(blocks(cs.t, kn.dqRows), gridY, kn.dqThreads, [&] {
      kn.dq(q, qkvRows, k, qkvRows, v, qkvRows, g.data(), packed, lse.data(),
            lseStats, delta.data(), deltaStats, dq, qkvRows, t, h, group,
            scale);
    });
    // Packed copies for the comparison; the padding of lse stays untouched.
    auto unpack = [&](const std::vector<float> &from, int64_t offset,
                      int64_t width) {
      std::vector<float> to(cs.b * cs.t * width);
      for (int64_t r = 0; r < cs.b * cs.t; ++r)
        for (int64_t x = 0; x < width; ++x)
          to[r * width + x] = from[r * row + offset + x];
      return to;
    };
    std::vector<float> pq = unpack(qkv, 0, c), pk = unpack(qkv, c, ckv),
                       pv = unpack(qkv, c + ckv, ckv), pdq = unpack(dqkv, 0, c),
                       pdk = unpack(dqkv, c, ckv),
                       pdv = unpack(dqkv, c + ckv, ckv),
                       plse(cs.b * cs.heads * cs.t);
    for (int64_t bi = 0; bi < cs.b; ++bi) {
      for (int64_t e = 0; e < cs.heads * cs.t; ++e)
        plse[bi * cs.heads * cs.t + e] = lse[bi * lseBatch + e];
      for (int64_t e = cs.heads * cs.t; e < lseBatch; ++e)
        EXPECT_TRUE(std::isnan(lse[bi * lseBatch + e]))
            << "lse padding written";
    }
    for (const std::string &message :
         compareWithNaive(pq.data(), pk.data(), pv.data(), g.data(), out.data(),
                          plse.data(), pdq.data(), pdk.data(), pdv.data(), cs.b,
                          cs.t, cs.heads, cs.kvHeads, cs.d, 2e-2))
      ADD_FAILURE() << message;
  }
}

/// The kernels of one head size on bfloat16 activations, as Attention.cpp
/// launches them for lmcrt_gpu_attention_*_bf16_in (In) and _bf16_in_out
/// (Io).
struct Bf16Kernels {
  decltype(&lmc_attention_tc_fwd_d64_bf16in) fwdIn;
  decltype(&lmc_attention_tc_fwd_d64_bf16io) fwdIo;
  decltype(&lmc_attention_tc_dkdv_d64_bf16in) dkdvIn;
  decltype(&lmc_attention_tc_dkdv_d64_bf16io) dkdvIo;
  decltype(&lmc_attention_tc_dq_d64_bf16in) dqIn;
  decltype(&lmc_attention_tc_dq_d64_bf16io) dqIo;
};

template <int D> Bf16Kernels bf16Kernels() {
  if constexpr (D == 64)
    return {lmc_attention_tc_fwd_d64_bf16in,  lmc_attention_tc_fwd_d64_bf16io,
            lmc_attention_tc_dkdv_d64_bf16in, lmc_attention_tc_dkdv_d64_bf16io,
            lmc_attention_tc_dq_d64_bf16in,   lmc_attention_tc_dq_d64_bf16io};
  else
    return {
        lmc_attention_tc_fwd_d128_bf16in,  lmc_attention_tc_fwd_d128_bf16io,
        lmc_attention_tc_dkdv_d128_bf16in, lmc_attention_tc_dkdv_d128_bf16io,
        lmc_attention_tc_dq_d128_bf16in,   lmc_attention_tc_dq_d128_bf16io};
}

/// delta[b, h, i] = dO_i . O_i ([B, H, T] packed) on the host, in the
/// order of lmc_attention_delta; O and dO [B, T, C] with row strides.
std::vector<float> hostDelta(const float *out, int64_t outRow, const float *g,
                             int64_t gRow, int64_t b, int64_t t, int64_t heads,
                             int64_t d) {
  std::vector<float> delta(b * heads * t);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < heads; ++hi)
      for (int64_t i = 0; i < t; ++i) {
        float sum = 0.0f;
        for (int64_t x = 0; x < d; ++x)
          sum += out[(bi * t + i) * outRow + hi * d + x] *
                 g[(bi * t + i) * gRow + hi * d + x];
        delta[(bi * heads + hi) * t + i] = sum;
      }
  return delta;
}

// bfloat16 activations (lmc-bf16-storage): q, k and v views of one bfloat16
// [B, T, C + 2 Ckv + pad] projection, dO packed, O and the gradients views
// of padded bfloat16 buffers; against the float32-input kernels on the same
// values (bit for bit) and attention in double.
TEST(AttentionTensorCoreEmulated, Bf16ActivationsMatchFloat32Kernels) {
  using bf16 = __nv_bfloat16;
  Bf16Errors worst;
  // pad 0: every row 16-byte aligned (the kernels' 16-byte loads); pad 3:
  // odd row strides (one element at a time).
  for (Bf16Case cs :
       {Bf16Case{1, 70, 2, 64, 1, 0}, Bf16Case{1, 64, 4, 64, 2, 3},
        Bf16Case{1, 1, 2, 64, 2, 3}, Bf16Case{2, 45, 2, 128, 2, 0},
        Bf16Case{1, 100, 4, 128, 2, 3}}) {
    SCOPED_TRACE(cs.name());
    const int64_t c = cs.c, ckv = cs.ckv, rows = cs.rows, nl = cs.nl;
    const Bf16Inputs in = randomBf16Inputs(cs, 13);
    const std::vector<float> &gF = in.gF;
    const std::vector<bf16> &gB = in.gB;
    if (cs.pad == 0) {
      ASSERT_EQ(reinterpret_cast<uintptr_t>(in.qkvB.data()) % 16, 0u)
          << "the aligned case does not take the 16-byte loads";
    }
    const Rows proj{cs.t * cs.row, cs.row}, packed{cs.t * c, c},
        outRows{cs.t * cs.outRow, cs.outRow},
        gradRows{cs.t * cs.gradRow, cs.gradRow};
    const Stats stats{cs.heads * cs.t, cs.t};
    const int t = static_cast<int>(cs.t), h = static_cast<int>(cs.heads),
              group = static_cast<int>(cs.heads / cs.kvHeads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(cs.d));
    const unsigned gridY = static_cast<unsigned>(cs.b * cs.heads),
                   gridYKv = static_cast<unsigned>(cs.b * cs.kvHeads);
    Kernels kn = cs.d == 64 ? kernels<64>() : kernels<128>();
    Bf16Kernels kb = cs.d == 64 ? bf16Kernels<64>() : bf16Kernels<128>();
    const float *qF = in.qkvF.data(), *kF = qF + c, *vF = kF + ckv;
    const bf16 *qB = in.qkvB.data(), *kB = qB + c, *vB = kB + ckv;

    // Forward: the float32 kernel, then _bf16in and _bf16io.
    std::vector<float> outF(rows * c, NAN), lseF(nl, NAN), outIn(rows * c, NAN),
        lseIn(nl, NAN), lseIo(nl, NAN);
    std::vector<bf16> outB(rows * cs.outRow, bf16Untouched);
    launch(blocks(cs.t, kn.fwdRows), gridY, kn.fwdThreads, [&] {
      kn.fwd(qF, proj, kF, proj, vF, proj, outF.data(), packed, lseF.data(),
             stats, t, h, group, scale);
    });
    launch(blocks(cs.t, kn.fwdRows), gridY, kn.fwdThreads, [&] {
      kb.fwdIn(qB, proj, kB, proj, vB, proj, outIn.data(), packed, lseIn.data(),
               stats, t, h, group, scale);
    });
    launch(blocks(cs.t, kn.fwdRows), gridY, kn.fwdThreads, [&] {
      kb.fwdIo(qB, proj, kB, proj, vB, proj, outB.data(), outRows, lseIo.data(),
               stats, t, h, group, scale);
    });
    std::vector<float> outR; // O as _bf16io stored it
    ASSERT_NO_FATAL_FAILURE(
        checkBf16Forward(cs, outF, lseF, outIn, lseIn, outB, lseIo, outR));

    // Backward, from O as stored: the float32 kernels, _bf16in, _bf16io.
    const std::vector<float> delta =
        hostDelta(outR.data(), c, gF.data(), c, cs.b, cs.t, cs.heads, cs.d);
    std::vector<float> dF(rows * cs.gradRow, f32Untouched),
        dIn(rows * cs.gradRow, f32Untouched);
    std::vector<bf16> dB(rows * cs.gradRow, bf16Untouched);
    launch(blocks(cs.t, kn.keyRows), gridYKv, kn.keyThreads, [&] {
      kn.dkdv(qF, proj, kF, proj, vF, proj, gF.data(), packed, lseF.data(),
              stats, delta.data(), stats, dF.data() + c, gradRows,
              dF.data() + c + ckv, gradRows, t, h, group, scale);
      kb.dkdvIn(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
                stats, delta.data(), stats, dIn.data() + c, gradRows,
                dIn.data() + c + ckv, gradRows, t, h, group, scale);
      kb.dkdvIo(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
                stats, delta.data(), stats, dB.data() + c, gradRows,
                dB.data() + c + ckv, gradRows, t, h, group, scale);
    });
    launch(blocks(cs.t, kn.dqRows), gridY, kn.dqThreads, [&] {
      kn.dq(qF, proj, kF, proj, vF, proj, gF.data(), packed, lseF.data(), stats,
            delta.data(), stats, dF.data(), gradRows, t, h, group, scale);
      kb.dqIn(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
              stats, delta.data(), stats, dIn.data(), gradRows, t, h, group,
              scale);
      kb.dqIo(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
              stats, delta.data(), stats, dB.data(), gradRows, t, h, group,
              scale);
    });
    std::vector<float> dR; // the gradients as _bf16io stored them
    ASSERT_NO_FATAL_FAILURE(checkBf16Gradients(cs, dF, dIn, dB, dR));

    // Against attention in double on the bfloat16 values.
    compareBf16WithNaive(cs, in, outIn, outR, lseIn, dIn, dR, 1e-2, worst);
  }
  worst.print();
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
