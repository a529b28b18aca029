//===- Kernels.cpp - Library kernels called by compiled code --------------===//
//
// GEMM on oneDNN (dnnl_sgemm, row-major; opened at the first GEMM, Dnnl.h;
// bfloat16 on its matmul primitive where the CPU has bfloat16 units,
// DnnlMatmul.h), the GEMM with a bias (and tanh GELU) epilogue as the GEMM
// and one loop over the rows, and the embedding gradient as a scatter-add;
// see include/lmc/Runtime/lmcrt.h. With LMCRT_PROFILE=1 in the environment,
// the GEMMs are timed per shape and a table goes to stderr at exit, with each
// shape's time alone (GemmProfile.h, GemmFloor.h).
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include "Comm/Collectives.h"
#include "Core/MemrefView.h"
#include "Kernels/Dnnl.h"
#include "Kernels/DnnlMatmul.h"
#include "Kernels/Gemm.h"
#include "Kernels/GemmEpilogue.h"
#include "Kernels/GemmProfile.h"
#include "Kernels/VectorMath.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

namespace {

/// A view of a ranked memref descriptor of any rank.
template <typename T> using View = lmcrt::MemrefView<T>;

[[noreturn]] void fail(const char *what) {
  std::fprintf(stderr, "lmcrt: %s\n", what);
  std::abort();
}

/// A matrix operand for sgemm: pointer, leading dimension and whether it is
/// read transposed, for a rows x cols matrix with the given strides.
struct Matrix {
  const float *data;
  int64_t ld;
  bool transposed;
};

/// Describes `data` (rows x cols, strides rs and cs) to sgemm, copying into
/// `scratch` when neither dimension is contiguous.
Matrix asMatrix(const float *data, int64_t rows, int64_t cols, int64_t rs,
                int64_t cs, bool transposed, std::vector<float> &scratch) {
  if (cs == 1 && rs >= (cols > 1 ? cols : 1))
    return {data, rs > 0 ? rs : 1, transposed};
  if (rs == 1 && cs >= (rows > 1 ? rows : 1))
    return {data, cs > 0 ? cs : 1, !transposed};
  scratch.resize(rows * cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      scratch[i * cols + j] = data[i * rs + j * cs];
  return {scratch.data(), cols > 0 ? cols : 1, transposed};
}

/// `x` rounded to the nearest float with `bits` mantissa bits (ties to
/// even); infinities and NaNs unchanged. bits = 23 is the identity.
inline float roundMantissa(float x, int bits) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  if ((u & 0x7f800000u) == 0x7f800000u)
    return x;
  const int drop = 23 - bits;
  const uint32_t half = 1u << (drop - 1);
  u += half - 1 + ((u >> drop) & 1u);
  u &= ~((1u << drop) - 1u);
  std::memcpy(&x, &u, sizeof(x));
  return x;
}

/// Copies `data` (rows x cols, strides rs and cs) packed into `scratch`
/// with its elements rounded to `bits` mantissa bits: the operand of a
/// reduced-precision GEMM.
Matrix roundedMatrix(const float *data, int64_t rows, int64_t cols, int64_t rs,
                     int64_t cs, bool transposed, int bits,
                     std::vector<float> &scratch) {
  scratch.resize(rows * cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      scratch[i * cols + j] = roundMantissa(data[i * rs + j * cs], bits);
  return {scratch.data(), cols > 0 ? cols : 1, transposed};
}

/// True when dimensions [0, rank - 2) of `v` can be merged into its rows:
/// row-major and packed, so that the batch is one taller matrix.
template <typename T> bool batchFoldsIntoRows(const View<T> &v) {
  int64_t expected = v.stride(-2);
  for (int64_t d = v.rank() - 2; d > 0; --d) {
    expected *= v.sizes[d];
    if (v.strides[d - 1] != expected && v.sizes[d - 1] != 1)
      return false;
  }
  return true;
}

/// GELU's tanh approximation, in the order of the compiled kernels
/// (convert-lmc-to-linalg): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
inline float geluTanh(float x) {
  const float k = 0.7978845608028654f, c = 0.044715f;
  const float u = k * (x + c * (x * (x * x)));
  return (0.5f * x) * (1.0f + lmcrt::vmath::tanh(u));
}

/// row[j] += b[j] over n contiguous elements.
LMCRT_VECTOR_CLONES void biasRow(float *row, const float *b, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j)
    row[j] += b[j];
}

/// pre[j] = row[j] + b[j]; row[j] = GELU(pre[j]) over n contiguous elements.
LMCRT_VECTOR_CLONES void biasGeluRow(float *row, float *pre, const float *b,
                                     int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    float v = row[j] + b[j];
    pre[j] = v;
    row[j] = geluTanh(v);
  }
}

/// The epilogue of lmcrt_gemm_bias, its shapes checked.
void biasEpilogue(lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
                  lmcrt_unranked_memref *aux, int32_t epilogue) {
  View<float> Bias(bias), C(c), Aux(aux);
  const bool gelu = epilogue == LMCRT_GEMM_BIAS_GELU_TANH;
  if (Bias.rank() != 1 || Bias.sizes[0] != C.size(-1))
    fail("gemm_bias: the bias is not a vector of N elements");
  if (gelu && Aux.rank() != C.rank())
    fail("gemm_bias: the pre-activation differs from C in rank");
  for (int64_t d = 0; gelu && d < C.rank(); ++d)
    if (Aux.sizes[d] != C.sizes[d])
      fail("gemm_bias: the pre-activation differs from C in shape");
  lmcrt::applyBiasEpilogue(C, Bias, gelu ? &Aux : nullptr);
}

/// The mantissa bits of the operands at the GEMM precision `precision`
/// (lmcrt.h's LMCRT_PRECISION_*: float32 keeps 23, TF32 10, bfloat16 7);
/// an unknown precision is an error.
int mantissaBitsOf(int32_t precision) {
  switch (precision) {
  case LMCRT_PRECISION_FP32:
    return 23;
  case LMCRT_PRECISION_TF32:
    return 10;
  case LMCRT_PRECISION_BF16:
    return 7;
  }
  std::string what = "gemm: unknown precision " + std::to_string(precision) +
                     " (expected 0 fp32, 1 tf32 or 2 bf16)";
  fail(what.c_str());
}

} // namespace

void lmcrt::kernels::cpuGemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
                             lmcrt_unranked_memref *c, int32_t transpose_a,
                             int32_t transpose_b, int32_t precision) {
  cpuGemm(a, b, c, transpose_a, transpose_b, precision, /*accumulate=*/false);
}

void lmcrt::kernels::cpuGemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
                             lmcrt_unranked_memref *c, int32_t transpose_a,
                             int32_t transpose_b, int32_t precision,
                             bool accumulate, const uint16_t *bRounded) {
  const int mantissaBits = mantissaBitsOf(precision);
  View<float> A(a), B(b), C(c);
  if (C.rank() < 2 || A.rank() != C.rank() ||
      (B.rank() != 2 && B.rank() != C.rank()))
    fail("gemm: inconsistent ranks");
  int64_t M = C.size(-2), N = C.size(-1);
  int64_t K = transpose_a ? A.size(-2) : A.size(-1);
  int64_t batch = 1;
  for (int64_t d = 0; d + 2 < C.rank(); ++d)
    batch *= C.sizes[d];
  if (M == 0 || N == 0 || batch == 0)
    return;
  bool shared = B.rank() == 2 && C.rank() > 2;

  // A linear layer over a packed batch: one GEMM with batch * M rows.
  if (shared && !transpose_a && A.stride(-1) == 1 && C.stride(-1) == 1 &&
      batchFoldsIntoRows(A) && batchFoldsIntoRows(C)) {
    M *= batch;
    batch = 1;
  }

  const bool onBf16Units =
      precision == LMCRT_PRECISION_BF16 && lmcrt::kernels::bf16Available();
  if (bRounded && batch != 1)
    fail("gemm: a rounded B is for one unbatched GEMM");
  lmcrt::kernels::GemmProfile *profile = lmcrt::kernels::GemmProfile::get();
  auto start = std::chrono::steady_clock::now();
  std::vector<float> scratchA, scratchB, scratchC;
  for (int64_t i = 0; i < batch; ++i) {
    // Offsets of batch element i (row-major over the batch dimensions).
    int64_t offA = 0, offB = 0, offC = 0, rest = i;
    for (int64_t d = C.rank() - 3; d >= 0 && batch > 1; --d) {
      int64_t idx = rest % C.sizes[d];
      rest /= C.sizes[d];
      offA += idx * A.strides[d];
      offC += idx * C.strides[d];
      if (!shared)
        offB += idx * B.strides[d];
    }
    float *out = C.data + offC;
    bool direct = C.stride(-1) == 1 && C.stride(-2) >= N;
    int64_t ldc = direct ? C.stride(-2) : N;
    if (!direct) {
      scratchC.assign(M * N, 0.0f);
      if (accumulate)
        for (int64_t r = 0; r < M; ++r)
          for (int64_t col = 0; col < N; ++col)
            scratchC[r * N + col] = out[r * C.stride(-2) + col * C.stride(-1)];
    }
    float *dst = direct ? out : scratchC.data();
    // bfloat16 on the CPU's bfloat16 units (op(A) and op(B) as stored).
    const lmcrt::kernels::StridedMatrix logicalA = {
        A.data + offA, M, K, transpose_a ? A.stride(-1) : A.stride(-2),
        transpose_a ? A.stride(-2) : A.stride(-1)};
    const lmcrt::kernels::StridedMatrix logicalB = {
        B.data + offB, K, N, transpose_b ? B.stride(-1) : B.stride(-2),
        transpose_b ? B.stride(-2) : B.stride(-1)};
    if (!(onBf16Units && lmcrt::kernels::bf16Gemm(logicalA, logicalB, dst, ldc,
                                                  accumulate, bRounded))) {
      int64_t aRows = transpose_a ? K : M, aCols = transpose_a ? M : K;
      int64_t bRows = transpose_b ? N : K, bCols = transpose_b ? K : N;
      Matrix ma =
          mantissaBits < 23
              ? roundedMatrix(A.data + offA, aRows, aCols, A.stride(-2),
                              A.stride(-1), transpose_a, mantissaBits, scratchA)
              : asMatrix(A.data + offA, aRows, aCols, A.stride(-2),
                         A.stride(-1), transpose_a, scratchA);
      Matrix mb =
          mantissaBits < 23
              ? roundedMatrix(B.data + offB, bRows, bCols, B.stride(-2),
                              B.stride(-1), transpose_b, mantissaBits, scratchB)
              : asMatrix(B.data + offB, bRows, bCols, B.stride(-2),
                         B.stride(-1), transpose_b, scratchB);
      dnnl_status_t status = lmcrt::kernels::dnnl().sgemm(
          ma.transposed ? 'T' : 'N', mb.transposed ? 'T' : 'N', M, N, K, 1.0f,
          ma.data, ma.ld, mb.data, mb.ld, accumulate ? 1.0f : 0.0f, dst, ldc);
      if (status != dnnl_success)
        fail("gemm: dnnl_sgemm failed");
    }
    if (!direct)
      for (int64_t r = 0; r < M; ++r)
        for (int64_t col = 0; col < N; ++col)
          out[r * C.stride(-2) + col * C.stride(-1)] = scratchC[r * N + col];
  }
  if (profile)
    profile->add(
        {batch, M, N, K, transpose_a != 0, transpose_b != 0, precision, shared},
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
}

void lmcrt::applyBiasEpilogue(const MemrefView<float> &C,
                              const MemrefView<float> &Bias,
                              const MemrefView<float> *aux) {
  const bool gelu = aux != nullptr;
  const MemrefView<float> &Aux = gelu ? *aux : C;
  const int64_t n = C.size(-1), rank = C.rank();
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d)
    rows *= C.sizes[d];
  const float *b = Bias.data;
  const int64_t bs = Bias.strides[0], cs = C.stride(-1),
                as = gelu ? Aux.stride(-1) : 0;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t offC = 0, offAux = 0;
    for (int64_t d = rank - 2, rest = r; d >= 0; --d) {
      int64_t idx = rest % C.sizes[d];
      rest /= C.sizes[d];
      offC += idx * C.strides[d];
      if (gelu)
        offAux += idx * Aux.strides[d];
    }
    float *row = C.data + offC;
    if (!gelu && cs == 1 && bs == 1) {
      biasRow(row, b, n);
      continue;
    }
    if (!gelu) {
      for (int64_t j = 0; j < n; ++j)
        row[j * cs] += b[j * bs];
      continue;
    }
    float *pre = Aux.data + offAux;
    if (cs == 1 && as == 1 && bs == 1) {
      biasGeluRow(row, pre, b, n);
      continue;
    }
    for (int64_t j = 0; j < n; ++j) {
      float v = row[j * cs] + b[j * bs];
      pre[j * as] = v;
      row[j * cs] = geluTanh(v);
    }
  }
}

extern "C" void
_mlir_ciface_lmcrt_gemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
                        lmcrt_unranked_memref *c, int32_t transpose_a,
                        int32_t transpose_b, int32_t precision) {
  // Gradient all-reduces started earlier advance while the backward pass
  // runs its GEMMs.
  lmcrt::comm::progress();
  lmcrt::kernels::cpuGemm(a, b, c, transpose_a, transpose_b, precision);
}

extern "C" void _mlir_ciface_lmcrt_gemm_bias(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue, int32_t precision) {
  if (epilogue != LMCRT_GEMM_BIAS && epilogue != LMCRT_GEMM_BIAS_GELU_TANH)
    fail("gemm_bias: unknown epilogue");
  lmcrt::comm::progress();
  lmcrt::kernels::cpuGemm(a, b, c, transpose_a, transpose_b, precision);
  biasEpilogue(bias, c, aux, epilogue);
}

/// The embedding gradient: the table gradient zeroed, then every position's
/// gradient added to its token's row. Both on the OpenMP pool: the rows are
/// zeroed in parallel (154 MB for gpt2-124M's table), and each thread adds
/// every position into its own block of channels, so that no two threads
/// write one element and each element's additions run in position order:
/// the result does not depend on the number of threads.
/// (With `accumulate`, the table gradient is added to as it is: no zeroing.)
static void embeddingGrad(lmcrt_unranked_memref *grad,
                          lmcrt_unranked_memref *ids,
                          lmcrt_unranked_memref *table_grad, int64_t offset,
                          bool accumulate) {
  View<float> G(grad), W(table_grad);
  View<int32_t> I(ids);
  if (G.rank() != 3 || I.rank() != 2 || W.rank() != 2)
    fail("embedding_grad: inconsistent ranks");
  const int64_t V = W.size(0), Cn = W.size(1);
  const int64_t ws0 = W.stride(0), ws1 = W.stride(1);
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t v = 0; v < (accumulate ? 0 : V); ++v) {
      float *row = W.data + v * ws0;
      if (ws1 == 1)
        std::memset(row, 0, sizeof(float) * Cn);
      else
        for (int64_t c = 0; c < Cn; ++c)
          row[c * ws1] = 0.0f;
    }
    // (the barrier at the end of the loop: every row is zero)
    const int64_t threads = omp_get_num_threads(),
                  thread = omp_get_thread_num();
    const int64_t c0 = Cn * thread / threads, c1 = Cn * (thread + 1) / threads;
    for (int64_t b = 0; b < G.size(0); ++b)
      for (int64_t t = 0; t < G.size(1); ++t) {
        int64_t id = I.data[b * I.stride(0) + t * I.stride(1)] - offset;
        if (id < 0 || id >= V)
          continue;
        float *row = W.data + id * ws0;
        const float *g = G.data + b * G.stride(0) + t * G.stride(1);
        for (int64_t c = c0; c < c1; ++c)
          row[c * ws1] += g[c * G.stride(2)];
      }
  }
}

extern "C" void _mlir_ciface_lmcrt_embedding_grad_f32(
    lmcrt_unranked_memref *grad, lmcrt_unranked_memref *ids,
    lmcrt_unranked_memref *table_grad, int64_t offset) {
  embeddingGrad(grad, ids, table_grad, offset, /*accumulate=*/false);
}

extern "C" void _mlir_ciface_lmcrt_embedding_grad_acc_f32(
    lmcrt_unranked_memref *grad, lmcrt_unranked_memref *ids,
    lmcrt_unranked_memref *table_grad, int64_t offset) {
  embeddingGrad(grad, ids, table_grad, offset, /*accumulate=*/true);
}
