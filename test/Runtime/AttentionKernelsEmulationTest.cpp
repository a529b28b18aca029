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

/// What Attention.cpp passes the kernels of a case besides the buffers (T,
/// heads, D and the query heads per key/value head as int, the scale
/// 1/sqrt(D)), and how it launches them: blocks of `threads` threads, one
/// per tile of query (or key) rows (gridX) and (batch, head) (gridY) or
/// (batch, key/value head) (gridYKv).
struct Launch {
  int t, h, d, group;
  float scale;
  unsigned threads, gridX, gridY, gridYKv;
};

Launch launchFor(int64_t b, int64_t t, int64_t heads, int64_t kvHeads,
                 int64_t d) {
  const int di = static_cast<int>(d);
  const unsigned tile =
      static_cast<unsigned>(lmc_attention_f32::rowsPerBlock(di));
  return {static_cast<int>(t),
          static_cast<int>(heads),
          di,
          static_cast<int>(heads / kvHeads),
          1.0f / std::sqrt(static_cast<float>(d)),
          static_cast<unsigned>(lmc_attention_f32::threadsPerBlock(di)),
          static_cast<unsigned>((t + tile - 1) / tile),
          static_cast<unsigned>(b * heads),
          static_cast<unsigned>(b * kvHeads)};
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
    const Launch ln = launchFor(cs.b, cs.t, cs.heads, cs.kvHeads, cs.d);
    Kernels kernels = kernelsFor(cs.d);
    launch(ln.gridX, ln.gridY, ln.threads, [&] {
      kernels.fwd(q.data(), rows, k.data(), kvRows, v.data(), kvRows,
                  out.data(), rows, lse.data(), stats, ln.t, ln.h, ln.group,
                  ln.scale);
    });
    launch(static_cast<unsigned>((cs.t + 127) / 128), ln.gridY, 128, [&] {
      lmc_attention_delta(out.data(), rows, g.data(), rows, delta.data(), stats,
                          ln.t, ln.h, ln.d);
    });
    // One block per (batch, key/value head, key tile), as Attention.cpp
    // launches it.
    launch(ln.gridX, ln.gridYKv, ln.threads, [&] {
      kernels.dkdv(q.data(), rows, k.data(), kvRows, v.data(), kvRows, g.data(),
                   rows, lse.data(), stats, delta.data(), stats, dk.data(),
                   kvRows, dv.data(), kvRows, ln.t, ln.h, ln.group, ln.scale);
    });
    launch(ln.gridX, ln.gridY, ln.threads, [&] {
      kernels.dq(q.data(), rows, k.data(), kvRows, v.data(), kvRows, g.data(),
                 rows, lse.data(), stats, delta.data(), stats, dq.data(), rows,
                 ln.t, ln.h, ln.group, ln.scale);
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

// bfloat16 activations (lmc-bf16-storage): q, k and v views of one bfloat16
// [B, T, C + 2 Ckv + pad] projection, dO packed, O and the gradients views
// of padded bfloat16 buffers; against the float32 kernels on the same values
// (bit for bit) and attention in double.
TEST(AttentionKernelsEmulated, Bf16ActivationsMatchFloat32Kernels) {
  using bf16 = __nv_bfloat16;
  Bf16Errors worst;
  // T below, at and across the tiles (128 rows at D 16, 64 at D 32), T = 1;
  // grouped- and multi-query attention; odd and even row strides.
  for (Bf16Case cs :
       {Bf16Case{2, 70, 2, 32, 2, 0}, Bf16Case{1, 140, 6, 16, 2, 3},
        Bf16Case{2, 1, 2, 16, 2, 1}, Bf16Case{1, 64, 4, 32, 1, 3},
        Bf16Case{1, 130, 1, 16, 1, 0}}) {
    SCOPED_TRACE(cs.name());
    const int64_t c = cs.c, ckv = cs.ckv, rows = cs.rows, nl = cs.nl;
    const Bf16Inputs in = randomBf16Inputs(cs, 17);
    const Rows proj{cs.t * cs.row, cs.row}, packed{cs.t * c, c},
        outRows{cs.t * cs.outRow, cs.outRow},
        gradRows{cs.t * cs.gradRow, cs.gradRow};
    const Stats stats{cs.heads * cs.t, cs.t};
    const Launch ln = launchFor(cs.b, cs.t, cs.heads, cs.kvHeads, cs.d);
    const Kernels kf = kernelsFor(cs.d);
    const Bf16Kernels kb = bf16KernelsFor(cs.d);
    const float *qF = in.qkvF.data(), *kF = qF + c, *vF = kF + ckv;
    const bf16 *qB = in.qkvB.data(), *kB = qB + c, *vB = kB + ckv;
    const std::vector<float> &gF = in.gF;
    const std::vector<bf16> &gB = in.gB;

    // Forward: the float32 kernel, then _bf16in and _bf16io.
    std::vector<float> outF(rows * c, NAN), lseF(nl, NAN), outIn(rows * c, NAN),
        lseIn(nl, NAN), lseIo(nl, NAN);
    std::vector<bf16> outB(rows * cs.outRow, bf16Untouched);
    launch(ln.gridX, ln.gridY, ln.threads, [&] {
      kf.fwd(qF, proj, kF, proj, vF, proj, outF.data(), packed, lseF.data(),
             stats, ln.t, ln.h, ln.group, ln.scale);
      kb.fwdIn(qB, proj, kB, proj, vB, proj, outIn.data(), packed, lseIn.data(),
               stats, ln.t, ln.h, ln.group, ln.scale);
      kb.fwdIo(qB, proj, kB, proj, vB, proj, outB.data(), outRows, lseIo.data(),
               stats, ln.t, ln.h, ln.group, ln.scale);
    });
    std::vector<float> outR; // O as _bf16io stored it
    ASSERT_NO_FATAL_FAILURE(
        checkBf16Forward(cs, outF, lseF, outIn, lseIn, outB, lseIo, outR));

    // delta from O as stored: lmc_attention_delta_bf16in against the
    // float32 kernel on the same values.
    std::vector<float> delta(nl, NAN), deltaB(nl, NAN);
    launch(static_cast<unsigned>((cs.t + 127) / 128), ln.gridY, 128, [&] {
      lmc_attention_delta(outR.data(), packed, gF.data(), packed, delta.data(),
                          stats, ln.t, ln.h, ln.d);
      lmc_attention_delta_bf16in(outB.data(), outRows, gB.data(), packed,
                                 deltaB.data(), stats, ln.t, ln.h, ln.d);
    });
    for (int64_t e = 0; e < nl; ++e)
      ASSERT_TRUE(sameBits(deltaB[e], delta[e]))
          << "delta_bf16in " << e << ": " << deltaB[e] << ", float32 "
          << delta[e];

    // Backward: the float32 kernels, _bf16in, _bf16io.
    std::vector<float> dF(rows * cs.gradRow, f32Untouched),
        dIn(rows * cs.gradRow, f32Untouched);
    std::vector<bf16> dB(rows * cs.gradRow, bf16Untouched);
    launch(ln.gridX, ln.gridYKv, ln.threads, [&] {
      kf.dkdv(qF, proj, kF, proj, vF, proj, gF.data(), packed, lseF.data(),
              stats, delta.data(), stats, dF.data() + c, gradRows,
              dF.data() + c + ckv, gradRows, ln.t, ln.h, ln.group, ln.scale);
      kb.dkdvIn(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
                stats, deltaB.data(), stats, dIn.data() + c, gradRows,
                dIn.data() + c + ckv, gradRows, ln.t, ln.h, ln.group, ln.scale);
      kb.dkdvIo(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
                stats, deltaB.data(), stats, dB.data() + c, gradRows,
                dB.data() + c + ckv, gradRows, ln.t, ln.h, ln.group, ln.scale);
    });
    launch(ln.gridX, ln.gridY, ln.threads, [&] {
      kf.dq(qF, proj, kF, proj, vF, proj, gF.data(), packed, lseF.data(), stats,
            delta.data(), stats, dF.data(), gradRows, ln.t, ln.h, ln.group,
            ln.scale);
      kb.dqIn(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
              stats, deltaB.data(), stats, dIn.data(), gradRows, ln.t, ln.h,
              ln.group, ln.scale);
      kb.dqIo(qB, proj, kB, proj, vB, proj, gB.data(), packed, lseF.data(),
              stats, deltaB.data(), stats, dB.data(), gradRows, ln.t, ln.h,
              ln.group, ln.scale);
    });
    std::vector<float> dR; // the gradients as _bf16io stored them
    ASSERT_NO_FATAL_FAILURE(checkBf16Gradients(cs, dF, dIn, dB, dR));

    // Against attention in double on the bfloat16 values.
    compareBf16WithNaive(cs, in, outIn, outR, lseIn, dIn, dR, 2e-3, worst);
  }
  worst.print();
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
