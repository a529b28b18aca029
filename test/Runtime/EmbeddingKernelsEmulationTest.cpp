//===- EmbeddingKernelsEmulationTest.cpp - GPU kernels, run on the host ---===//
//
// Compiles lib/Runtime/Cuda/EmbeddingKernels.cu as host C++ and runs its
// kernels as Embedding.cpp launches them (blocks of 256 threads, a warp per
// table row or position), one std::thread per GPU thread and atomicAdd an
// atomic on the host, against a naive scatter-add in double: repeated ids
// (added concurrently within a block), ids 0 and V - 1, ids outside the
// table's block of rows, B T not a multiple of a block's 8 positions, C
// below, at and above a warp and odd, strided views. lmcrt-gpu-tests
// compares the GPU function with the CPU one on a GPU.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../../lib/Runtime/Cuda/EmbeddingKernels.cu"

namespace {

constexpr unsigned kBlock = 256, kWarpsPerBlock = kBlock / 32;

struct Case {
  long long b, t, c, v, offset;
  // Extra elements between rows (padding of the strided views).
  long long gradPad, tablePad;
};

TEST(EmbeddingKernelsEmulated, ScatterAddAgainstNaive) {
  for (Case cs : {Case{2, 5, 37, 11, 0, 0, 0}, Case{3, 7, 64, 5, 0, 0, 0},
                  Case{1, 1, 1, 3, 0, 0, 0}, Case{2, 9, 5, 7, 4, 3, 2},
                  Case{4, 13, 33, 16, 0, 1, 5}, Case{1, 3, 8, 4, 100, 0, 0}}) {
    const std::string where =
        "B " + std::to_string(cs.b) + ", T " + std::to_string(cs.t) + ", C " +
        std::to_string(cs.c) + ", V " + std::to_string(cs.v) + ", offset " +
        std::to_string(cs.offset);
    // grad [B, T, C] with row stride C + gradPad, channel stride 1; ids
    // [B, T] transposed in memory (time stride B); table [V, C] with row
    // stride C + tablePad.
    const long long n = cs.b * cs.t, gradRow = cs.c + cs.gradPad,
                    tableRow = cs.c + cs.tablePad;
    std::vector<float> grad(n * gradRow);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float &g : grad)
      g = dist(rng);
    // Ids: 0, V - 1, one repeated id, one before and one past the table's
    // rows, the rest at random in and around the table.
    std::vector<int> ids(n);
    std::uniform_int_distribution<long long> any(cs.offset - 2,
                                                 cs.offset + cs.v + 1);
    for (long long i = 0; i < n; ++i) {
      long long id = any(rng);
      switch (i % 6) {
      case 0:
        id = cs.offset;
        break;
      case 1:
        id = cs.offset + cs.v - 1;
        break;
      case 2:
        id = cs.offset + cs.v / 2;
        break;
      }
      ids[(i % cs.t) * cs.b + i / cs.t] = static_cast<int>(id);
    }
    if (n > 4) {
      ids[3 * cs.b % n] = static_cast<int>(cs.offset - 1);
      ids[4 * cs.b % n] = static_cast<int>(cs.offset + cs.v);
    }
    // Padding holds garbage that must survive.
    std::vector<float> table(cs.v * tableRow, 42.0f);
    std::vector<double> expected(cs.v * cs.c, 0.0);
    for (long long b = 0; b < cs.b; ++b)
      for (long long t = 0; t < cs.t; ++t) {
        long long id = ids[t * cs.b + b] - cs.offset;
        if (id < 0 || id >= cs.v)
          continue;
        for (long long c = 0; c < cs.c; ++c)
          expected[id * cs.c + c] += grad[(b * cs.t + t) * gradRow + c];
      }

    const GradStrides gs{cs.t * gradRow, gradRow, 1};
    const IdStrides is{1, cs.b};
    const TableStrides ts{tableRow, 1};
    const int c = static_cast<int>(cs.c);
    launch(static_cast<unsigned>((cs.v + kWarpsPerBlock - 1) / kWarpsPerBlock),
           1, kBlock,
           [&] { lmc_embedding_grad_zero(table.data(), ts, cs.v, c); });
    launch(static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock), 1,
           kBlock, [&] {
             lmc_embedding_grad_scatter(grad.data(), gs, ids.data(), is,
                                        table.data(), ts, cs.t, n, cs.v, c,
                                        cs.offset);
           });
    int bad = 0;
    for (long long v = 0; v < cs.v; ++v) {
      for (long long ch = 0; ch < cs.c; ++ch) {
        const double want = expected[v * cs.c + ch];
        const float got = table[v * tableRow + ch];
        if (std::fabs(got - want) > 1e-5 * (1 + std::fabs(want)) && bad++ < 5)
          ADD_FAILURE() << where << ": table[" << v << ", " << ch
                        << "] = " << got << ", expected " << want;
      }
      for (long long p = cs.c; p < tableRow; ++p)
        if (table[v * tableRow + p] != 42.0f && bad++ < 5)
          ADD_FAILURE() << where << ": padding of row " << v << " written";
    }
  }
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
