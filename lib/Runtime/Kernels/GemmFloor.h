//===- GemmFloor.h - A GEMM shape timed alone -------------------*- C++ -*-===//
//
// The GEMM floor of a step: each of its GEMM shapes timed alone, with the
// same runtime function (Gemm.h), library, threads and precision as in the
// step, on fresh buffers of the shape, summed over the step's calls. What
// the step spends on GEMMs above it is GEMMs running slower inside the step
// than alone (cold caches, contended threads, conversions); the rest of the
// step is everything else.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_KERNELS_GEMMFLOOR_H
#define LMC_LIB_RUNTIME_KERNELS_GEMMFLOOR_H

#include "Kernels/GemmProfile.h"

namespace lmcrt::kernels {

/// Seconds one GEMM of `shape` takes alone: two warm-up calls, then the
/// median of 3 to 11 timed calls (as many as fit in about 0.3 s).
double gemmAloneSeconds(const GemmShape &shape);

} // namespace lmcrt::kernels

#endif // LMC_LIB_RUNTIME_KERNELS_GEMMFLOOR_H
