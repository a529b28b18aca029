//===- Bfloat16.h - bfloat16 values as their 16 bits ------------*- C++ -*-===//
//
// The runtime stores bfloat16 tensors (lmc-bf16-storage) as uint16_t: the
// upper half of the float32 of the same value. Both runtimes (the CPU's
// GEMMs, the GPU's host-side paths) convert with these.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CORE_BFLOAT16_H
#define LMC_LIB_RUNTIME_CORE_BFLOAT16_H

#include <cstdint>

namespace lmcrt {

/// `x` rounded to bfloat16 (to nearest, ties to even; infinities kept, NaNs
/// stay NaN), as its 16 bits.
inline uint16_t toBf16(float x) {
  uint32_t u = __builtin_bit_cast(uint32_t, x);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/// The float32 of a bfloat16's 16 bits (exact).
inline float fromBf16(uint16_t bits) {
  return __builtin_bit_cast(float, static_cast<uint32_t>(bits) << 16);
}

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_CORE_BFLOAT16_H
