//===- Gemm.h - The CPU GEMM behind lmcrt_gemm ------------------*- C++ -*-===//
//
// The GEMM of lmcrt.h on the CPU (Kernels.cpp), callable from the runtime
// itself: GemmFloor.cpp times each profiled shape alone through it.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_KERNELS_GEMM_H
#define LMC_LIB_RUNTIME_KERNELS_GEMM_H

#include "lmc/Runtime/lmcrt.h"

namespace lmcrt::kernels {

/// C = op(A) op(B) at `precision` (LMCRT_PRECISION_*), as lmcrt_gemm, but
/// without advancing pending collectives (lmcrt_gemm does that first).
void cpuGemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
             lmcrt_unranked_memref *c, int32_t transpose_a, int32_t transpose_b,
             int32_t precision);

/// The same GEMM, adding op(A) op(B) to C when `accumulate` (C += ...; the
/// LM head's weight gradient over row chunks, HeadLoss.cpp). An
/// accumulating GEMM runs on sgemm (with the operands rounded at a reduced
/// `precision`), never on the bfloat16 matmul primitive, which overwrites.
void cpuGemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
             lmcrt_unranked_memref *c, int32_t transpose_a, int32_t transpose_b,
             int32_t precision, bool accumulate);

} // namespace lmcrt::kernels

#endif // LMC_LIB_RUNTIME_KERNELS_GEMM_H
