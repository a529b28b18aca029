//===- Bf16GemmTest.cpp - bfloat16 GEMMs on oneDNN's matmul primitive -----===//
//
// lmcrt_gemm and lmcrt_gemm_bias at LMCRT_PRECISION_BF16 against a double
// precision reference of the operands rounded to bfloat16 (rounded here by
// frexp and nearbyint, independently of the runtime): transposed, strided,
// padded and batched operands, a C that is not row-major, the bias and GELU
// epilogues; the rounding itself at its ties and special values; the
// primitive cache; and the GEMM floor's timing of a shape alone. Where the
// CPU (as oneDNN sees it) has AVX512-BF16 the GEMMs must run on the matmul
// primitive; elsewhere (or under ONEDNN_MAX_CPU_ISA=AVX512_CORE,
// test/Runtime/gemm-bf16.test) on the emulation, with the same results.
//
//===----------------------------------------------------------------------===//

#include "Kernels/DnnlMatmul.h"
#include "Kernels/Gemm.h"
#include "Kernels/GemmFloor.h"
#include "StridedMemref.h"

#include "lmc/Runtime/lmcrt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

using lmcrt::kernels::bf16Available;
using lmcrt::kernels::matmulCacheStats;
using lmcrt::test::columnMajor;
using lmcrt::test::describe;
using lmcrt::test::rowMajor;

namespace {

/// `x` rounded to bfloat16 (8 significant bits, ties to even, the quantum
/// of subnormals 2^-133), in double.
double roundedBf16(float x) {
  if (!std::isfinite(x) || x == 0.0f)
    return x;
  int e = 0;
  std::frexp(static_cast<double>(x), &e); // |x| in [2^(e-1), 2^e)
  const int quantum = std::max(e - 8, -133);
  return std::ldexp(
      std::nearbyint(std::ldexp(static_cast<double>(x), -quantum)), quantum);
}

/// A float buffer viewed with any sizes and strides, as generated code
/// passes it to the runtime.
struct Tensor {
  std::vector<int64_t> sizes, strides;
  std::vector<float> storage;
  std::vector<int64_t> descriptor;
  lmcrt_unranked_memref memref;

  Tensor(std::vector<int64_t> sizes, std::vector<int64_t> strides,
         float fill = 0.0f)
      : sizes(sizes), strides(strides) {
    int64_t extent = 1;
    for (size_t d = 0; d < sizes.size(); ++d)
      extent += (sizes[d] - 1) * strides[d];
    storage.assign(static_cast<size_t>(extent), fill);
    describe(storage.data(), 0, sizes, strides, descriptor, memref);
  }

  float &at(const std::vector<int64_t> &index) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d)
      offset += index[d] * strides[d];
    return storage[static_cast<size_t>(offset)];
  }

  /// Fills the viewed elements with values in about [-2, 2] that bfloat16
  /// cannot hold exactly.
  void fillPseudoRandom(uint32_t seed) {
    for (size_t i = 0; i < storage.size(); ++i) {
      seed = seed * 1664525u + 1013904223u;
      storage[i] = static_cast<float>(static_cast<int32_t>(seed >> 8)) /
                       static_cast<float>(1 << 22) -
                   2.0f + 1e-4f;
    }
  }
};

/// Index of the batch element `b` (row-major over `batchSizes`).
std::vector<int64_t> batchIndex(const std::vector<int64_t> &batchSizes,
                                int64_t b) {
  std::vector<int64_t> index(batchSizes.size());
  for (size_t d = batchSizes.size(); d-- > 0;) {
    index[d] = b % batchSizes[d];
    b /= batchSizes[d];
  }
  return index;
}

/// One GEMM case: C [batch..., M, N] = op(A) op(B); A stored [batch..., M, K]
/// ([batch..., K, M] when transposed), B likewise or without the batch
/// dimensions when shared.
struct Case {
  const char *name;
  std::vector<int64_t> batch;
  int64_t m, n, k;
  bool ta, tb, sharedB;
  // Layouts: 'r' row-major, 'p' rows padded by 3, 'c' column-major (the
  // matrix dimensions only), 's' every other column of a wider matrix.
  char layoutA, layoutB, layoutC;
};

std::vector<int64_t> stridesFor(const std::vector<int64_t> &sizes,
                                char layout) {
  switch (layout) {
  case 'p':
    return rowMajor(sizes, 3);
  case 'c': {
    // The two matrix dimensions column-major, batch dimensions outside.
    const size_t r = sizes.size();
    std::vector<int64_t> strides(r);
    strides[r - 2] = 1;
    strides[r - 1] = sizes[r - 2];
    int64_t stride = sizes[r - 2] * sizes[r - 1];
    for (size_t d = r - 2; d-- > 0;) {
      strides[d] = stride;
      stride *= sizes[d];
    }
    return strides;
  }
  case 's': {
    std::vector<int64_t> wide = sizes;
    wide.back() *= 2;
    std::vector<int64_t> strides = rowMajor(wide);
    strides.back() = 2;
    return strides;
  }
  default:
    return rowMajor(sizes);
  }
}

std::vector<int64_t> withBatch(const std::vector<int64_t> &batch, int64_t rows,
                               int64_t cols) {
  std::vector<int64_t> sizes = batch;
  sizes.push_back(rows);
  sizes.push_back(cols);
  return sizes;
}

/// Runs `c` at bf16 and at fp32 and checks the bf16 result against the
/// reference of rounded operands; returns the matmul executions it caused.
int64_t checkCase(const Case &c) {
  SCOPED_TRACE(c.name);
  std::vector<int64_t> aSizes =
      withBatch(c.batch, c.ta ? c.k : c.m, c.ta ? c.m : c.k);
  std::vector<int64_t> bSizes =
      withBatch(c.sharedB ? std::vector<int64_t>{} : c.batch, c.tb ? c.n : c.k,
                c.tb ? c.k : c.n);
  std::vector<int64_t> cSizes = withBatch(c.batch, c.m, c.n);
  Tensor a(aSizes, stridesFor(aSizes, c.layoutA));
  Tensor b(bSizes, stridesFor(bSizes, c.layoutB));
  Tensor out(cSizes, stridesFor(cSizes, c.layoutC), -7.0f);
  Tensor full(cSizes, rowMajor(cSizes));
  a.fillPseudoRandom(11);
  b.fillPseudoRandom(23);
  // Padding and skipped columns of C must stay as they were.
  std::vector<float> before = out.storage;
  std::vector<bool> viewed(out.storage.size(), false);

  const int64_t executions = matmulCacheStats().executions;
  _mlir_ciface_lmcrt_gemm(&a.memref, &b.memref, &out.memref, c.ta, c.tb,
                          LMCRT_PRECISION_BF16);
  const int64_t ran = matmulCacheStats().executions - executions;
  _mlir_ciface_lmcrt_gemm(&a.memref, &b.memref, &full.memref, c.ta, c.tb,
                          LMCRT_PRECISION_FP32);

  int64_t batches = 1;
  for (int64_t s : c.batch)
    batches *= s;
  int64_t differsFromFp32 = 0;
  for (int64_t bi = 0; bi < batches; ++bi) {
    std::vector<int64_t> index = batchIndex(c.batch, bi);
    // Element (i, k) of op(A) and (k, j) of op(B) of this batch element.
    std::vector<int64_t> origin = index;
    origin.push_back(0);
    origin.push_back(0);
    const float *pa = &a.at(origin);
    const float *pb = c.sharedB ? b.storage.data() : &b.at(origin);
    const size_t r = aSizes.size();
    const int64_t ai = a.strides[r - (c.ta ? 1 : 2)],
                  ak = a.strides[r - (c.ta ? 2 : 1)];
    const size_t rb = bSizes.size();
    const int64_t bk = b.strides[rb - (c.tb ? 1 : 2)],
                  bj = b.strides[rb - (c.tb ? 2 : 1)];
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double ref = 0, magnitude = 0, exactMagnitude = 0;
        for (int64_t k = 0; k < c.k; ++k) {
          const float x = pa[i * ai + k * ak], y = pb[k * bk + j * bj];
          double p = roundedBf16(x) * roundedBf16(y);
          ref += p;
          magnitude += std::fabs(p);
          exactMagnitude += std::fabs(static_cast<double>(x) * y);
        }
        std::vector<int64_t> ic = index;
        ic.push_back(i);
        ic.push_back(j);
        float &got = out.at(ic);
        viewed[&got - out.storage.data()] = true;
        // Summation in float32, in any order: |error| <= K u sum |a b|.
        const double bound =
            static_cast<double>(c.k + 1) * std::ldexp(1.0, -24) * magnitude +
            1e-30;
        EXPECT_LE(std::fabs(got - ref), bound)
            << "C" << i << "," << j << " batch " << bi;
        const float fp32 = full.at(ic);
        differsFromFp32 += std::fabs(static_cast<double>(got) - fp32) >
                           static_cast<double>(c.k + 1) * std::ldexp(1.0, -24) *
                               exactMagnitude;
      }
  }
  // The operands really were rounded: float32's result is elsewhere.
  EXPECT_GT(differsFromFp32, 0);
  for (size_t i = 0; i < viewed.size(); ++i)
    if (!viewed[i])
      EXPECT_EQ(out.storage[i], before[i]) << "C's padding at " << i;
  return ran;
}

const Case kCases[] = {
    {"plain", {}, 37, 53, 71, false, false, false, 'r', 'r', 'r'},
    {"A transposed", {}, 37, 53, 71, true, false, false, 'r', 'r', 'r'},
    {"B transposed", {}, 37, 53, 71, false, true, false, 'r', 'r', 'r'},
    {"both transposed", {}, 37, 53, 71, true, true, false, 'r', 'r', 'r'},
    {"A column-major", {}, 37, 53, 71, false, false, false, 'c', 'r', 'r'},
    {"B column-major", {}, 37, 53, 71, false, false, false, 'r', 'c', 'r'},
    {"padded rows", {}, 37, 53, 71, false, true, false, 'p', 'p', 'p'},
    {"strided columns", {}, 37, 53, 71, true, false, false, 's', 's', 's'},
    {"C column-major", {}, 37, 53, 71, false, false, false, 'r', 'r', 'c'},
    {"K = 1", {}, 5, 9, 1, false, false, false, 'r', 'r', 'r'},
    {"large, tiled transpose",
     {},
     130,
     200,
     300,
     true,
     true,
     false,
     'r',
     'r',
     'r'},
    {"batched", {2, 3}, 17, 19, 23, false, false, false, 'r', 'r', 'r'},
    {"batched, transposed, padded",
     {2, 3},
     17,
     19,
     23,
     true,
     true,
     false,
     'p',
     'p',
     'p'},
    {"shared B, folded into rows",
     {4},
     17,
     19,
     23,
     false,
     false,
     true,
     'r',
     'r',
     'r'},
    {"shared B, A transposed",
     {4},
     17,
     19,
     23,
     true,
     true,
     true,
     'r',
     'r',
     'r'},
};

TEST(Bf16Gemm, MatchesOperandsRoundedToBf16) {
  for (const Case &c : kCases) {
    int64_t batches = 1;
    for (int64_t s : c.batch)
      batches *= s;
    if (c.sharedB && !c.ta)
      batches = 1; // one taller GEMM
    const int64_t ran = checkCase(c);
    // Every GEMM on the matmul primitive where the CPU has bfloat16 units,
    // none elsewhere.
    EXPECT_EQ(ran, bf16Available() ? batches : 0) << c.name;
  }
}

TEST(Bf16Gemm, ConcurrentCallers) {
  // GEMMs from two threads at once (each with its own bfloat16 buffers and
  // stream; the cache shared) give each caller its own right result.
  std::thread other([] {
    for (int i = 0; i < 3; ++i)
      checkCase(kCases[12]);
  });
  for (int i = 0; i < 3; ++i)
    checkCase(kCases[3]);
  other.join();
}

TEST(Bf16Gemm, BiasAndGeluEpilogues) {
  // A linear layer [2, 5, K] x [N, K]^T + bias with the tanh GELU epilogue:
  // aux is the pre-activation (rounded operands' sum plus the bias), C its
  // GELU, against double.
  const int64_t R = 10, K = 96, N = 40;
  Tensor a({2, 5, K}, rowMajor({2, 5, K}));
  Tensor w({N, K}, rowMajor({N, K}));
  Tensor bias({N}, {1});
  Tensor c({2, 5, N}, rowMajor({2, 5, N}));
  Tensor aux({2, 5, N}, rowMajor({2, 5, N}));
  a.fillPseudoRandom(5);
  w.fillPseudoRandom(7);
  bias.fillPseudoRandom(9);
  for (int epilogue : {LMCRT_GEMM_BIAS, LMCRT_GEMM_BIAS_GELU_TANH}) {
    const bool gelu = epilogue == LMCRT_GEMM_BIAS_GELU_TANH;
    _mlir_ciface_lmcrt_gemm_bias(&a.memref, &w.memref, &bias.memref, &c.memref,
                                 gelu ? &aux.memref : &c.memref, 0, 1, epilogue,
                                 LMCRT_PRECISION_BF16);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < N; ++j) {
        double pre = bias.storage[j], magnitude = std::fabs(pre);
        for (int64_t k = 0; k < K; ++k) {
          double p = roundedBf16(a.storage[r * K + k]) *
                     roundedBf16(w.storage[j * K + k]);
          pre += p;
          magnitude += std::fabs(p);
        }
        const double bound =
            static_cast<double>(K + 2) * std::ldexp(1.0, -24) * magnitude;
        if (!gelu) {
          EXPECT_NEAR(c.storage[r * N + j], pre, bound) << r << "," << j;
          continue;
        }
        EXPECT_NEAR(aux.storage[r * N + j], pre, bound) << r << "," << j;
        const double expect =
            0.5 * pre *
            (1.0 + std::tanh(std::sqrt(2.0 / M_PI) *
                             (pre + 0.044715 * pre * pre * pre)));
        EXPECT_NEAR(c.storage[r * N + j], expect, 2 * bound + 1e-6)
            << r << "," << j;
      }
  }
}

TEST(Bf16Gemm, AccumulatesIntoC) {
  // C += op(A) op(B) (the chunked LM head's weight gradient): the old C plus
  // the rounded operands' products, against double; on the matmul primitive
  // (a sum post-op) where the CPU has bfloat16 units. A transposed and B
  // plain, as the head's dW = dlogits^T x, and C with padded rows.
  const int64_t M = 29, N = 45, K = 70;
  Tensor a({K, M}, rowMajor({K, M}));
  Tensor b({K, N}, rowMajor({K, N}));
  Tensor c({M, N}, rowMajor({M, N}, 3));
  a.fillPseudoRandom(11);
  b.fillPseudoRandom(12);
  c.fillPseudoRandom(13);
  const std::vector<float> before = c.storage;
  const int64_t executions = matmulCacheStats().executions;
  for (int round = 0; round < 2; ++round)
    lmcrt::kernels::cpuGemm(&a.memref, &b.memref, &c.memref, 1, 0,
                            LMCRT_PRECISION_BF16, /*accumulate=*/true);
  EXPECT_EQ(matmulCacheStats().executions - executions,
            bf16Available() ? 2 : 0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double old = before[static_cast<size_t>(i * (N + 3) + j)];
      double sum = 0.0, magnitude = std::fabs(old);
      for (int64_t k = 0; k < K; ++k) {
        const double p = roundedBf16(a.storage[k * M + i]) *
                         roundedBf16(b.storage[k * N + j]);
        sum += p;
        magnitude += 2 * std::fabs(p);
      }
      const double bound =
          static_cast<double>(2 * K + 4) * std::ldexp(1.0, -24) * magnitude;
      EXPECT_NEAR(c.at({i, j}), old + 2 * sum, bound) << i << "," << j;
    }
  // The rows' padding is untouched.
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = N;
         j < N + 3 && i * (N + 3) + j < int64_t(c.storage.size()); ++j)
      EXPECT_EQ(c.storage[static_cast<size_t>(i * (N + 3) + j)],
                before[static_cast<size_t>(i * (N + 3) + j)]);
}

TEST(Bf16Gemm, RoundsToNearestEven) {
  // The runtime's own conversion, against the reference: ties either way,
  // the largest floats (to infinity), infinities, NaNs, signed zeros,
  // subnormals; and a column-major source bigger than one 64 x 64 tile.
  const float e = std::ldexp(1.0f, -8); // half a bfloat16 ulp at 1
  std::vector<float> values = {1.0f + e,
                               1.0f + 3 * e,
                               -(1.0f + 1.5f * e),
                               1.0f + e / 2,
                               std::numeric_limits<float>::max(),
                               -std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               0.0f,
                               -0.0f,
                               std::ldexp(1.0f, -130) * 1.37f,
                               std::ldexp(1.0f, -140),
                               std::numeric_limits<float>::denorm_min(),
                               3.0e38f,
                               1e-38f};
  std::vector<uint16_t> out(values.size());
  lmcrt::kernels::convertToBf16(
      {values.data(), 1, static_cast<int64_t>(values.size()), 0, 1},
      out.data());
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits = static_cast<uint32_t>(out[i]) << 16;
    float got;
    std::memcpy(&got, &bits, sizeof(got));
    double expect = roundedBf16(values[i]);
    if (std::fabs(expect) > std::numeric_limits<float>::max())
      expect = std::copysign(std::numeric_limits<double>::infinity(), expect);
    EXPECT_EQ(static_cast<double>(got), expect) << i;
    EXPECT_EQ(std::signbit(got), std::signbit(values[i])) << i;
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  uint16_t nanOut = 0;
  lmcrt::kernels::convertToBf16({&nan, 1, 1, 1, 1}, &nanOut);
  uint32_t nanBits = static_cast<uint32_t>(nanOut) << 16;
  float nanGot;
  std::memcpy(&nanGot, &nanBits, sizeof(nanGot));
  EXPECT_TRUE(std::isnan(nanGot));

  const int64_t rows = 150, cols = 70; // stored column-major
  std::vector<float> src(rows * cols);
  for (size_t i = 0; i < src.size(); ++i)
    src[i] = std::sin(0.1f * static_cast<float>(i)) * 3.0f;
  std::vector<uint16_t> dst(rows * cols);
  lmcrt::kernels::convertToBf16({src.data(), rows, cols, 1, rows}, dst.data());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      uint32_t bits = static_cast<uint32_t>(dst[i * cols + j]) << 16;
      float got;
      std::memcpy(&got, &bits, sizeof(got));
      ASSERT_EQ(static_cast<double>(got), roundedBf16(src[i + j * rows]))
          << i << "," << j;
    }
}

TEST(Bf16Gemm, PrimitivesAreMadeOncePerShape) {
  // The second and third GEMM of a shape reuse the first one's primitive;
  // another C row stride is another primitive.
  if (!bf16Available())
    GTEST_SKIP() << "no AVX512-BF16 as oneDNN sees this CPU: emulated";
  Tensor a({24, 40}, rowMajor({24, 40}));
  Tensor b({40, 33}, rowMajor({40, 33}));
  Tensor c({24, 33}, rowMajor({24, 33}));
  Tensor padded({24, 33}, rowMajor({24, 33}, 3));
  a.fillPseudoRandom(1);
  b.fillPseudoRandom(2);
  const lmcrt::kernels::MatmulCacheStats start = matmulCacheStats();
  for (int i = 0; i < 3; ++i)
    _mlir_ciface_lmcrt_gemm(&a.memref, &b.memref, &c.memref, 0, 0,
                            LMCRT_PRECISION_BF16);
  lmcrt::kernels::MatmulCacheStats now = matmulCacheStats();
  EXPECT_EQ(now.primitives, start.primitives + 1);
  EXPECT_EQ(now.executions, start.executions + 3);
  _mlir_ciface_lmcrt_gemm(&a.memref, &b.memref, &padded.memref, 0, 0,
                          LMCRT_PRECISION_BF16);
  now = matmulCacheStats();
  EXPECT_EQ(now.primitives, start.primitives + 2);
  EXPECT_EQ(now.executions, start.executions + 4);
  // oneDNN's bfloat16 kernels, not its reference code.
  EXPECT_NE(now.implementations.find("bf16"), std::string::npos)
      << now.implementations;
}

TEST(Bf16Gemm, OnTheCpusBf16UnitsWhereItHasThem) {
  // Unless oneDNN's ISA is capped, the matmul path is taken exactly where
  // the CPU reports AVX512-BF16. The line is for gemm-bf16.test.
  std::printf("bf16 GEMMs: %s\n",
              bf16Available() ? "matmul primitive" : "emulated on sgemm");
  if (std::getenv("ONEDNN_MAX_CPU_ISA") || std::getenv("DNNL_MAX_CPU_ISA"))
    return;
  __builtin_cpu_init();
  EXPECT_EQ(bf16Available(), __builtin_cpu_supports("avx512bf16") != 0);
}

TEST(GemmFloor, TimesTheShapeAloneThroughTheRuntimeGemm) {
  // A bf16 shape: warm-up and timed calls go through the same GEMM (the
  // matmul primitive where there is one), and the time is positive.
  lmcrt::kernels::GemmShape shape{1,    64, 96, 128, 1, 0, LMCRT_PRECISION_BF16,
                                  false};
  const int64_t before = matmulCacheStats().executions;
  const double seconds = lmcrt::kernels::gemmAloneSeconds(shape);
  EXPECT_GT(seconds, 0.0);
  EXPECT_LT(seconds, 1.0);
  const int64_t ran = matmulCacheStats().executions - before;
  if (bf16Available())
    EXPECT_GE(ran, 5); // two warm-ups and at least three timed
  else
    EXPECT_EQ(ran, 0);
  // Batched with a per-element B, and float32.
  shape = {3, 16, 24, 32, 0, 1, LMCRT_PRECISION_FP32, false};
  EXPECT_GT(lmcrt::kernels::gemmAloneSeconds(shape), 0.0);
}

} // namespace
