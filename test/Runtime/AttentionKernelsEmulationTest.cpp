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
//===----------------------------------------------------------------------===//

#include "CudaEmulation.h"
#include "NaiveAttention.h"

#include <gtest/gtest.h>

#include <cmath>
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

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
