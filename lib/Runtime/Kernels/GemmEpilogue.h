//===- GemmEpilogue.h - The bias (+ GELU) epilogue on the host --*- C++ -*-===//
//
// The epilogue of lmcrt_gemm_bias on the CPU, which the GPU runtime also
// runs over managed memory when cuBLASLt cannot apply it.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_RUNTIME_GEMMEPILOGUE_H
#define LMC_RUNTIME_GEMMEPILOGUE_H

#include "Core/MemrefView.h"

namespace lmcrt {

/// C[..., n] += bias[n]; with `aux` (C's shape), aux = C, then C = gelu(C)
/// with the tanh approximation, as the compiled kernels compute it. One
/// pass over C's rows on the runtime's OpenMP threads; the caller checks
/// the shapes.
void applyBiasEpilogue(const MemrefView<float> &C,
                       const MemrefView<float> &bias,
                       const MemrefView<float> *aux);

} // namespace lmcrt

#endif // LMC_RUNTIME_GEMMEPILOGUE_H
