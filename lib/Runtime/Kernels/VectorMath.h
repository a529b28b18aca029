//===- VectorMath.h - exp and tanh in code that vectorises ------*- C++ -*-===//
//
// The CPU kernels' exponentials in straight-line float code, which LLVM and
// GCC vectorise (expf and tanhf do not, nor does anything with a float
// comparison under the default trapping-math): the GEMM epilogue's GELU
// (Kernels.cpp), the chunked LM head's softmax (HeadLoss.cpp) and the
// attention kernels' probabilities (Attention.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_KERNELS_VECTORMATH_H
#define LMC_LIB_RUNTIME_KERNELS_VECTORMATH_H

#include <cmath>
#include <cstdint>

/// Marks a function whose loops LLVM or GCC vectorise to be compiled once
/// per vector width the CPU may have (AVX-512, AVX2, and the baseline
/// SSE2 the runtime is built for), the copy picked when the library loads.
/// Without FMA in any of them, element-wise arithmetic gives the same bits
/// in every copy; only the order of a vectorised sum follows the width.
#define LMCRT_VECTOR_CLONES                                                    \
  __attribute__((target_clones("avx512f", "avx2", "default")))

namespace lmcrt::vmath {

/// e^x for x in [-87, 0] (the caller clamps): x = n ln2 + y with n rounded
/// by adding 1.5 * 2^23 and ln2 split in two so that y is exact, e^y from
/// its Taylor series to degree 7 (truncation below 1e-8 relative on
/// |y| <= ln2 / 2), times 2^n made in the exponent bits.
inline float expClampedNonPositive(float x) {
  const float r = x * 1.44269504f + 12582912.0f; // round to nearest
  const int32_t n = __builtin_bit_cast(int32_t, r) - 0x4B400000;
  const float fn = r - 12582912.0f;
  const float y = (x - fn * 0.693145752f) - fn * 1.42860677e-6f;
  float p = 1.0f / 5040.0f;
  p = p * y + 1.0f / 720.0f;
  p = p * y + 1.0f / 120.0f;
  p = p * y + 1.0f / 24.0f;
  p = p * y + 1.0f / 6.0f;
  p = p * y + 0.5f;
  p = p * y + 1.0f;
  p = p * y + 1.0f;
  return p * __builtin_bit_cast(float, static_cast<uint32_t>(n + 127) << 23);
}

/// -min(|x|, cap) for a non-negative `cap`, compared as integers (the bits
/// of non-negative floats order like their values).
inline float negatedClampedMagnitude(float x, float cap) {
  int32_t bits = __builtin_bit_cast(int32_t, x) & 0x7fffffff;
  const int32_t capBits = __builtin_bit_cast(int32_t, cap);
  bits = bits < capBits ? bits : capBits;
  return -__builtin_bit_cast(float, bits);
}

/// e^x for x <= 0, x clamped to [-87, 0].
inline float expNonPositive(float x) {
  return expClampedNonPositive(negatedClampedMagnitude(x, 87.0f));
}

/// tanh(u): sign(u) (1 - e) / (1 + e) with e = e^(-2a), a = min(|u|, 10)
/// (tanh(10) is 1 in float). Within about 2e-7 of tanhf, absolutely, which
/// is what 1 + tanh sees.
inline float tanh(float u) {
  const float e =
      expClampedNonPositive(2.0f * negatedClampedMagnitude(u, 10.0f));
  return std::copysign((1.0f - e) / (1.0f + e), u);
}

} // namespace lmcrt::vmath

#endif // LMC_LIB_RUNTIME_KERNELS_VECTORMATH_H
