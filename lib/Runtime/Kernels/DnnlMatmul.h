//===- DnnlMatmul.h - bfloat16 GEMMs on oneDNN matmul -----------*- C++ -*-===//
//
// Under `--precision bf16` the CPU GEMMs run in bfloat16 on the CPU's own
// bfloat16 units (AVX512-BF16 dot products, AMX tiles where present) through
// oneDNN's matmul primitive: both operands are rounded to bfloat16 (to nearest
// even) into packed per-thread buffers, in parallel and vectorised, and a
// bf16 x bf16 -> f32 matmul writes C in float32 (the products of two
// bfloat16 are exact in float32, so C is "operands rounded to bfloat16,
// products summed in float32", as the emulation on sgemm computes it, up to
// the order of the sum). Master weights, activations and optimizer state
// stay float32.
//
// (oneDNN 2.6's other route, a float32 matmul with fpmath_mode bf16, is only
// a permission to down-convert: it still runs the float32 kernels there.)
//
// Primitives are created once per (M, N, K, B's layout, C's row stride) and
// kept for the life of the process; they run on the calling thread's CPU
// stream, on oneDNN's OpenMP threads (the generated loops' pool). Where
// oneDNN sees no bfloat16 instructions (or was built another major version
// than 2), bf16Available() is false and the caller keeps the emulation.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_KERNELS_DNNLMATMUL_H
#define LMC_LIB_RUNTIME_KERNELS_DNNLMATMUL_H

#include "Core/Bfloat16.h"

#include <cstdint>
#include <string>

namespace lmcrt::kernels {

/// A float32 matrix as stored: element (i, j) of the rows x cols matrix is
/// data[i * rowStride + j * colStride].
struct StridedMatrix {
  const float *data;
  int64_t rows, cols, rowStride, colStride;
};

using lmcrt::toBf16;

/// Writes `src` rounded to bfloat16 into `dst`, packed row-major
/// (dst[i * cols + j]), on the OpenMP threads when it is large.
void convertToBf16(const StridedMatrix &src, uint16_t *dst);

/// True when bfloat16 GEMMs run on the matmul primitive: oneDNN's effective
/// ISA (which ONEDNN_MAX_CPU_ISA may lower) has AVX512-BF16. Decided once;
/// when false, LMCRT_PROFILE=1 says so once on stderr.
bool bf16Available();

/// C = A B with A (M x K) and B (K x N) rounded to bfloat16 and the products
/// summed in float32, or C += A B when `accumulate` (oneDNN's sum post-op:
/// the old C added in float32); C is M x N float32 with row stride `ldc`
/// (>= N) and unit column stride. Returns false, having written nothing,
/// when oneDNN offers no bfloat16 kernel for the shape (the caller emulates
/// it).
///
/// `bRounded`, when given, is B already rounded (the chunked LM head rounds
/// its weight once for all its chunks' GEMMs): b's elements packed in the
/// orientation b is stored in, row-major K x N when b's column stride is 1,
/// else N x K (b then has unit row stride); b's data is not read.
bool bf16Gemm(const StridedMatrix &a, const StridedMatrix &b, float *c,
              int64_t ldc, bool accumulate = false,
              const uint16_t *bRounded = nullptr);

/// A bfloat16 matrix as stored (its 16 bits): element (i, j) is
/// data[i * rowStride + j * colStride].
struct StridedBf16Matrix {
  const uint16_t *data;
  int64_t rows, cols, rowStride, colStride;
};

/// C = A B as bf16Gemm computes it, on operands already stored as bfloat16
/// (lmc-bf16-storage): nothing is rounded. An operand is read in place when
/// it is packed (A row-major; B row-major K x N, or N x K read transposed),
/// else copied packed first. Returns false, having written nothing, when
/// oneDNN offers no bfloat16 kernel for the shape.
bool bf16GemmStored(const StridedBf16Matrix &a, const StridedBf16Matrix &b,
                    float *c, int64_t ldc);

/// What the cache holds: primitives created, calls that ran one, and the
/// implementations oneDNN chose (", "-separated, e.g.
/// brg:avx512_core_amx_bf16).
struct MatmulCacheStats {
  int64_t primitives = 0;
  int64_t executions = 0;
  std::string implementations;
};
MatmulCacheStats matmulCacheStats();

} // namespace lmcrt::kernels

#endif // LMC_LIB_RUNTIME_KERNELS_DNNLMATMUL_H
