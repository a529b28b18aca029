//===- GemmBf16StorageTest.cpp - GEMMs on bfloat16 operands ---------------===//
//
// lmcrt_gemm_bf16 and lmcrt_gemm_bias_bf16 (operands stored as bfloat16 by
// lmc-bf16-storage) against a double precision reference on the same
// bfloat16 values (decoded here by shifting the bits, independently of the
// runtime): transposed, strided, padded and batched operands, a C that is
// not row-major, float32 and bfloat16 C (rounded once from the float32
// sum), the bias and GELU epilogues (the bias and pre-activation of C's
// type), and the padding of every output left as it was. On a CPU with AVX512-BF16 the
// matmul primitive reads the operands; elsewhere sgemm on their float32
// extensions: the bounds hold for both.
//
//===----------------------------------------------------------------------===//

#include "StridedMemref.h"

#include "lmc/Runtime/lmcrt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

using lmcrt::test::describe;
using lmcrt::test::rowMajor;

namespace {

double decode(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

/// A buffer of element type T (float, or uint16_t for bfloat16) viewed
/// with any sizes and strides.
template <typename T> struct Tensor {
  std::vector<int64_t> sizes, strides;
  std::vector<T> storage;
  std::vector<int64_t> descriptor;
  lmcrt_unranked_memref memref;

  Tensor(std::vector<int64_t> sizes, std::vector<int64_t> strides, T fill)
      : sizes(sizes), strides(strides) {
    int64_t extent = 1;
    for (size_t d = 0; d < sizes.size(); ++d)
      extent += (sizes[d] - 1) * strides[d];
    storage.assign(static_cast<size_t>(extent), fill);
    describe(storage.data(), 0, sizes, strides, descriptor, memref);
  }
  T &at(const std::vector<int64_t> &index) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d)
      offset += index[d] * strides[d];
    return storage[static_cast<size_t>(offset)];
  }
  double value(const std::vector<int64_t> &index) {
    if constexpr (std::is_same_v<T, uint16_t>)
      return decode(at(index));
    else
      return at(index);
  }
};

/// bfloat16 values in about [-2, 2] with all 8 significant bits used.
void fillBf16(Tensor<uint16_t> &t, uint32_t seed) {
  for (uint16_t &x : t.storage) {
    seed = seed * 1664525u + 1013904223u;
    // Sign, an exponent of 2^-1 or 2^0, any mantissa.
    x = static_cast<uint16_t>(((seed >> 31) << 15) |
                              ((126u + ((seed >> 7) & 1u)) << 7) |
                              ((seed >> 9) & 0x7fu));
  }
}

std::vector<int64_t> stridesFor(const std::vector<int64_t> &sizes,
                                char layout) {
  const size_t r = sizes.size();
  if (layout == 'p')
    return rowMajor(sizes, 3);
  if (layout == 'c') {
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
  if (layout == 's') {
    std::vector<int64_t> wide = sizes;
    wide.back() *= 2;
    std::vector<int64_t> strides = rowMajor(wide);
    strides.back() = 2;
    return strides;
  }
  return rowMajor(sizes);
}

std::vector<int64_t> withBatch(std::vector<int64_t> sizes, int64_t rows,
                               int64_t cols) {
  sizes.push_back(rows);
  sizes.push_back(cols);
  return sizes;
}

struct Case {
  const char *name;
  std::vector<int64_t> batch;
  int64_t m, n, k;
  bool ta, tb, sharedB;
  char layoutA, layoutB, layoutC;
};

const Case kCases[] = {
    {"plain", {}, 37, 53, 71, false, false, false, 'r', 'r', 'r'},
    {"A transposed", {}, 37, 53, 71, true, false, false, 'r', 'r', 'r'},
    {"B transposed", {}, 37, 53, 71, false, true, false, 'r', 'r', 'r'},
    {"A column-major", {}, 37, 53, 71, false, false, false, 'c', 'r', 'r'},
    {"padded rows", {}, 37, 53, 71, false, true, false, 'p', 'p', 'p'},
    {"strided columns", {}, 37, 53, 71, true, false, false, 's', 's', 's'},
    {"C column-major", {}, 37, 53, 71, false, false, false, 'r', 'r', 'c'},
    {"K = 1", {}, 5, 9, 1, false, false, false, 'r', 'r', 'r'},
    {"batched", {2, 3}, 17, 19, 23, false, false, false, 'r', 'r', 'r'},
    {"shared B (a linear layer)",
     {2, 3},
     17,
     19,
     23,
     false,
     true,
     true,
     'r',
     'r',
     'r'},
    {"shared B, padded", {2, 3}, 17, 19, 23, false, false, true, 'p', 'r', 'p'},
};

double geluTanh(double x) {
  return 0.5 * x *
         (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/// Runs case `c` with C of type CT (float, or uint16_t: bfloat16), plain or
/// with the bias (+ GELU) epilogue, whose bias and pre-activation have C's
/// type, and checks every output element against the double reference.
template <typename CT> void check(const Case &c, int epilogue /* -1: none */) {
  using AuxT = CT;
  const bool gelu = epilogue == LMCRT_GEMM_BIAS_GELU_TANH;
  SCOPED_TRACE(testing::Message()
               << c.name << (sizeof(CT) == 2 ? ", C bf16" : ", C f32")
               << " epilogue " << epilogue
               << (sizeof(AuxT) == 2 ? ", aux bf16" : ", aux f32"));
  std::vector<int64_t> aSizes =
      withBatch(c.batch, c.ta ? c.k : c.m, c.ta ? c.m : c.k);
  std::vector<int64_t> bSizes =
      withBatch(c.sharedB ? std::vector<int64_t>{} : c.batch, c.tb ? c.n : c.k,
                c.tb ? c.k : c.n);
  std::vector<int64_t> cSizes = withBatch(c.batch, c.m, c.n);
  Tensor<uint16_t> a(aSizes, stridesFor(aSizes, c.layoutA), 0);
  Tensor<uint16_t> b(bSizes, stridesFor(bSizes, c.layoutB), 0);
  fillBf16(a, 11);
  fillBf16(b, 23);
  const CT cFill = sizeof(CT) == 2 ? CT(0x7777) : CT(-7);
  const AuxT auxFill = sizeof(AuxT) == 2 ? AuxT(0x5555) : AuxT(-5);
  Tensor<CT> out(cSizes, stridesFor(cSizes, c.layoutC), cFill);
  Tensor<AuxT> aux(cSizes, stridesFor(cSizes, c.layoutC), auxFill);
  Tensor<CT> bias({c.n}, {1}, CT(0));
  for (int64_t j = 0; j < c.n; ++j) {
    // Exact in bfloat16: its top 16 bits.
    const float v = 0.25f * static_cast<float>(j % 7) - 0.75f;
    if constexpr (std::is_same_v<CT, uint16_t>) {
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof(bits));
      bias.storage[j] = static_cast<uint16_t>(bits >> 16);
    } else {
      bias.storage[j] = v;
    }
  }
  const bool cBf16 = sizeof(CT) == 2;
  if (epilogue < 0 && cBf16)
    _mlir_ciface_lmcrt_gemm_bf16_out_bf16(&a.memref, &b.memref, &out.memref,
                                          c.ta, c.tb);
  else if (epilogue < 0)
    _mlir_ciface_lmcrt_gemm_bf16(&a.memref, &b.memref, &out.memref, c.ta, c.tb);
  else if (cBf16)
    _mlir_ciface_lmcrt_gemm_bias_bf16_out_bf16(
        &a.memref, &b.memref, &bias.memref, &out.memref, &aux.memref, c.ta,
        c.tb, epilogue);
  else
    _mlir_ciface_lmcrt_gemm_bias_bf16(&a.memref, &b.memref, &bias.memref,
                                      &out.memref, &aux.memref, c.ta, c.tb,
                                      epilogue);

  std::vector<bool> viewed(out.storage.size(), false);
  int64_t batches = 1;
  for (int64_t s : c.batch)
    batches *= s;
  for (int64_t bi = 0; bi < batches; ++bi) {
    std::vector<int64_t> index(c.batch.size());
    for (int64_t d = static_cast<int64_t>(c.batch.size()) - 1, rest = bi;
         d >= 0; --d) {
      index[d] = rest % c.batch[d];
      rest /= c.batch[d];
    }
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double ref = 0, magnitude = 0;
        for (int64_t k = 0; k < c.k; ++k) {
          std::vector<int64_t> ia = index,
                               ib = c.sharedB ? std::vector<int64_t>{} : index;
          ia.push_back(c.ta ? k : i);
          ia.push_back(c.ta ? i : k);
          ib.push_back(c.tb ? j : k);
          ib.push_back(c.tb ? k : j);
          const double p = a.value(ia) * b.value(ib);
          ref += p;
          magnitude += std::fabs(p);
        }
        // The float32 sum in any order: |error| <= (K + 2) u sum |a b|.
        double bound = static_cast<double>(c.k + 2) * std::ldexp(1.0, -24) *
                           (magnitude + 1.0) +
                       1e-30;
        double pre = ref, expected = ref;
        if (epilogue >= 0) {
          pre = ref + bias.value({j});
          expected = gelu ? geluTanh(pre) : pre;
          // GELU's float32 polynomial tanh and its slope (< 1.2).
          bound = 1.2 * bound + 4e-6 * (1.0 + std::fabs(pre));
        }
        std::vector<int64_t> ic = index;
        ic.push_back(i);
        ic.push_back(j);
        // A bfloat16 output is rounded once: half its ulp more (2^-9
        // relative).
        const double cBound =
            bound +
            (sizeof(CT) == 2 ? std::ldexp(std::fabs(expected), -8) : 0.0);
        EXPECT_NEAR(out.value(ic), expected, cBound)
            << "C" << i << "," << j << " batch " << bi;
        viewed[&out.at(ic) - out.storage.data()] = true;
        if (gelu) {
          const double auxBound =
              bound +
              (sizeof(AuxT) == 2 ? std::ldexp(std::fabs(pre), -8) : 0.0);
          EXPECT_NEAR(aux.value(ic), pre, auxBound)
              << "aux" << i << "," << j << " batch " << bi;
        }
      }
  }
  for (size_t i = 0; i < viewed.size(); ++i)
    if (!viewed[i]) {
      EXPECT_EQ(out.storage[i], cFill) << "C's padding at " << i;
      EXPECT_EQ(aux.storage[i], auxFill) << "aux's padding at " << i;
    }
}

TEST(GemmBf16Storage, FloatOutput) {
  for (const Case &c : kCases)
    check<float>(c, -1);
}

TEST(GemmBf16Storage, Bf16Output) {
  for (const Case &c : kCases)
    check<uint16_t>(c, -1);
}

TEST(GemmBf16Storage, BiasEpilogue) {
  for (const Case &c : kCases) {
    if (!c.sharedB || c.ta)
      continue;
    check<float>(c, LMCRT_GEMM_BIAS);
    check<uint16_t>(c, LMCRT_GEMM_BIAS);
  }
}

TEST(GemmBf16Storage, GeluEpilogueOutputTypes) {
  for (const Case &c : kCases) {
    if (!c.sharedB || c.ta)
      continue;
    check<float>(c, LMCRT_GEMM_BIAS_GELU_TANH);
    check<uint16_t>(c, LMCRT_GEMM_BIAS_GELU_TANH);
  }
}

} // namespace
