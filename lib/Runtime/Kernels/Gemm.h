//===- Gemm.h - The CPU GEMM behind lmcrt_gemm ------------------*- C++ -*-===//
//
// The GEMM of lmcrt.h on the CPU (Kernels.cpp), callable from the runtime
// itself: GemmFloor.cpp times each profiled shape alone through it.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_KERNELS_GEMM_H
#define LMC_LIB_RUNTIME_KERNELS_GEMM_H

#include "lmc/Runtime/lmcrt.h"

#include <cstdint>

namespace lmcrt::kernels {

/// C = op(A) op(B) at `precision` (LMCRT_PRECISION_*), as lmcrt_gemm, but
/// without advancing pending collectives (lmcrt_gemm does that first).
void cpuGemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
             lmcrt_unranked_memref *c, int32_t transpose_a, int32_t transpose_b,
             int32_t precision);

/// The same GEMM, adding op(A) op(B) to C when `accumulate` (C += ...; the
/// LM head's weight gradient over row chunks, HeadLoss.cpp); in bfloat16 on
/// the matmul primitive with a sum post-op where the CPU has bfloat16 units.
///
/// `bRounded`, when given (an unbatched GEMM at bfloat16 precision only), is
/// B rounded to bfloat16 once by the caller for several GEMMs: B's stored
/// matrix (as its memref holds it, before `transpose_b`) packed row-major.
/// It is used where the GEMM runs on the matmul primitive; elsewhere B's
/// float32 data is read as usual.
void cpuGemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
             lmcrt_unranked_memref *c, int32_t transpose_a, int32_t transpose_b,
             int32_t precision, bool accumulate,
             const uint16_t *bRounded = nullptr);

} // namespace lmcrt::kernels

#endif // LMC_LIB_RUNTIME_KERNELS_GEMM_H
