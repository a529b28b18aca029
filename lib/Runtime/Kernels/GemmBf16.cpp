//===- GemmBf16.cpp - GEMMs on operands stored as bfloat16 ----------------===//
//
// lmcrt_gemm_bf16 and lmcrt_gemm_bias_bf16 on the CPU (lmcrt.h): A and B
// arrive as bfloat16 (lmc-bf16-storage rounded them once, where they were
// written), so nothing is rounded here. On the CPU's bfloat16 units the
// matmul primitive reads them as stored (DnnlMatmul.h); elsewhere they are
// extended to float32 (exactly) for sgemm. The products are summed in
// float32; the epilogue runs on float32; an output stored as bfloat16 is
// rounded once at the end. With a bfloat16 C the epilogue's bias and
// pre-activation are bfloat16 too (lmcrt.h).
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include "Comm/Collectives.h"
#include "Core/Bfloat16.h"
#include "Core/MemrefView.h"
#include "Kernels/Dnnl.h"
#include "Kernels/DnnlMatmul.h"
#include "Kernels/GemmEpilogue.h"
#include "Kernels/GemmProfile.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

template <typename T> using View = lmcrt::MemrefView<T>;

[[noreturn]] void fail(const char *what) {
  std::fprintf(stderr, "lmcrt: %s\n", what);
  std::abort();
}

using lmcrt::fromBf16;

/// Below this many elements a copy stays on the calling thread.
constexpr int64_t kParallelElements = 1 << 15;

/// `src` (bfloat16, rows x cols, strides rs and cs) extended into `dst`,
/// packed row-major.
void extendPacked(const uint16_t *src, int64_t rows, int64_t cols, int64_t rs,
                  int64_t cs, float *dst) {
  const bool parallel = rows * cols >= kParallelElements;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      dst[i * cols + j] = fromBf16(src[i * rs + j * cs]);
}

/// Rounds `src` (float32) into `dst` (bfloat16), both of one shape, any
/// strides, row by row on the OpenMP threads.
void roundInto(const View<float> &src, const View<uint16_t> &dst) {
  const int64_t rank = src.rank(), n = src.size(-1);
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d)
    rows *= src.sizes[d];
  const int64_t ss = src.stride(-1), ds = dst.stride(-1);
#pragma omp parallel for schedule(static) if (rows * n >= kParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t offS = 0, offD = 0;
    for (int64_t d = rank - 2, rest = r; d >= 0; --d) {
      int64_t idx = rest % src.sizes[d];
      rest /= src.sizes[d];
      offS += idx * src.strides[d];
      offD += idx * dst.strides[d];
    }
    const float *in = src.data + offS;
    uint16_t *out = dst.data + offD;
    for (int64_t j = 0; j < n; ++j)
      out[j * ds] = lmcrt::toBf16(in[j * ss]);
  }
}

/// True when dimensions [0, rank - 2) of `v` fold into its rows.
template <typename T> bool batchFoldsIntoRows(const View<T> &v) {
  int64_t expected = v.stride(-2);
  for (int64_t d = v.rank() - 2; d > 0; --d) {
    expected *= v.sizes[d];
    if (v.strides[d - 1] != expected && v.sizes[d - 1] != 1)
      return false;
  }
  return true;
}

/// C = op(A) op(B) into the float32 view C (A, B bfloat16).
void gemmInto(const View<uint16_t> &A, const View<uint16_t> &B,
              const View<float> &C, bool ta, bool tb) {
  if (C.rank() < 2 || A.rank() != C.rank() ||
      (B.rank() != 2 && B.rank() != C.rank()))
    fail("gemm_bf16: inconsistent ranks");
  int64_t M = C.size(-2), N = C.size(-1);
  const int64_t K = ta ? A.size(-2) : A.size(-1);
  if ((tb ? B.size(-1) : B.size(-2)) != K ||
      (ta ? A.size(-1) : A.size(-2)) != M ||
      (tb ? B.size(-2) : B.size(-1)) != N)
    fail("gemm_bf16: inconsistent shapes");
  int64_t batch = 1;
  for (int64_t d = 0; d + 2 < C.rank(); ++d)
    batch *= C.sizes[d];
  if (M == 0 || N == 0 || batch == 0)
    return;
  const bool shared = B.rank() == 2 && C.rank() > 2;
  if (shared && !ta && A.stride(-1) == 1 && C.stride(-1) == 1 &&
      batchFoldsIntoRows(A) && batchFoldsIntoRows(C)) {
    M *= batch;
    batch = 1;
  }
  lmcrt::kernels::GemmProfile *profile = lmcrt::kernels::GemmProfile::get();
  auto start = std::chrono::steady_clock::now();
  const bool units = lmcrt::kernels::bf16Available();
  std::vector<float> scratchA, scratchB, scratchC;
  for (int64_t i = 0; i < batch; ++i) {
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
    const bool direct = C.stride(-1) == 1 && C.stride(-2) >= N;
    const int64_t ldc = direct ? C.stride(-2) : N;
    if (!direct)
      scratchC.assign(M * N, 0.0f);
    float *dst = direct ? out : scratchC.data();
    // op(A) (M x K) and op(B) (K x N) as stored.
    const int64_t aRs = ta ? A.stride(-1) : A.stride(-2);
    const int64_t aCs = ta ? A.stride(-2) : A.stride(-1);
    const int64_t bRs = tb ? B.stride(-1) : B.stride(-2);
    const int64_t bCs = tb ? B.stride(-2) : B.stride(-1);
    const lmcrt::kernels::StridedBf16Matrix opA = {A.data + offA, M, K, aRs,
                                                   aCs};
    const lmcrt::kernels::StridedBf16Matrix opB = {B.data + offB, K, N, bRs,
                                                   bCs};
    if (!(units && lmcrt::kernels::bf16GemmStored(opA, opB, dst, ldc))) {
      // No bfloat16 units: the same products on sgemm, the operands
      // extended exactly.
      scratchA.resize(M * K);
      scratchB.resize(K * N);
      extendPacked(opA.data, M, K, aRs, aCs, scratchA.data());
      extendPacked(opB.data, K, N, bRs, bCs, scratchB.data());
      dnnl_status_t status = lmcrt::kernels::dnnl().sgemm(
          'N', 'N', M, N, K, 1.0f, scratchA.data(), K > 0 ? K : 1,
          scratchB.data(), N > 0 ? N : 1, 0.0f, dst, ldc);
      if (status != dnnl_success)
        fail("gemm_bf16: dnnl_sgemm failed");
    }
    if (!direct)
      for (int64_t r = 0; r < M; ++r)
        for (int64_t col = 0; col < N; ++col)
          out[r * C.stride(-2) + col * C.stride(-1)] = scratchC[r * N + col];
  }
  if (profile)
    profile->add(
        {batch, M, N, K, ta, tb, LMCRT_PRECISION_BF16, shared},
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
}

/// An output of the GEMM: the float32 view the GEMM (and epilogue) write,
/// C itself when it is float32, else packed float32 scratch rounded into C
/// by `store`.
struct Output {
  Output(lmcrt_unranked_memref *memref, bool bf16, std::vector<float> &scratch)
      : bf16(bf16) {
    if (!bf16) {
      f32 = View<float>(memref);
      return;
    }
    stored = View<uint16_t>(memref);
    scratch.resize(stored.numElements());
    f32 = View<float>::packed(scratch.data(), stored.sizes);
  }
  void store() const {
    if (bf16)
      roundInto(f32, stored);
  }
  bool bf16;
  View<float> f32;
  View<uint16_t> stored;
};

void gemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
          lmcrt_unranked_memref *c, int32_t transpose_a, int32_t transpose_b,
          bool cBf16) {
  lmcrt::comm::progress();
  thread_local std::vector<float> scratch;
  Output C(c, cBf16, scratch);
  gemmInto(View<uint16_t>(a), View<uint16_t>(b), C.f32, transpose_a != 0,
           transpose_b != 0);
  C.store();
}

void gemmBias(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
              lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
              lmcrt_unranked_memref *aux, int32_t transpose_a,
              int32_t transpose_b, int32_t epilogue, bool cBf16) {
  if (epilogue != LMCRT_GEMM_BIAS && epilogue != LMCRT_GEMM_BIAS_GELU_TANH)
    fail("gemm_bias_bf16: unknown epilogue");
  lmcrt::comm::progress();
  thread_local std::vector<float> scratch, auxScratch, biasScratch;
  Output C(c, cBf16, scratch);
  gemmInto(View<uint16_t>(a), View<uint16_t>(b), C.f32, transpose_a != 0,
           transpose_b != 0);
  // The bias has C's element type: a bfloat16 one is extended.
  View<float> Bias;
  if (cBf16) {
    View<uint16_t> stored(bias);
    biasScratch.resize(stored.numElements());
    Bias = View<float>::packed(biasScratch.data(), stored.sizes);
    lmcrt::transformElements(stored, Bias, fromBf16);
  } else {
    Bias = View<float>(bias);
  }
  if (Bias.rank() != 1 || Bias.sizes[0] != C.f32.size(-1))
    fail("gemm_bias_bf16: the bias is not a vector of N elements");
  if (epilogue == LMCRT_GEMM_BIAS) {
    lmcrt::applyBiasEpilogue(C.f32, Bias, nullptr);
  } else {
    // So has the pre-activation: a bfloat16 one is rounded once, as C.
    Output Aux(aux, cBf16, auxScratch);
    if (Aux.f32.sizes != C.f32.sizes)
      fail("gemm_bias_bf16: the pre-activation differs from C in shape");
    lmcrt::applyBiasEpilogue(C.f32, Bias, &Aux.f32);
    Aux.store();
  }
  C.store();
}

} // namespace

extern "C" void _mlir_ciface_lmcrt_gemm_bf16(lmcrt_unranked_memref *a,
                                             lmcrt_unranked_memref *b,
                                             lmcrt_unranked_memref *c,
                                             int32_t transpose_a,
                                             int32_t transpose_b) {
  gemm(a, b, c, transpose_a, transpose_b, /*cBf16=*/false);
}

extern "C" void _mlir_ciface_lmcrt_gemm_bf16_out_bf16(lmcrt_unranked_memref *a,
                                                      lmcrt_unranked_memref *b,
                                                      lmcrt_unranked_memref *c,
                                                      int32_t transpose_a,
                                                      int32_t transpose_b) {
  gemm(a, b, c, transpose_a, transpose_b, /*cBf16=*/true);
}

extern "C" void _mlir_ciface_lmcrt_gemm_bias_bf16(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue) {
  gemmBias(a, b, bias, c, aux, transpose_a, transpose_b, epilogue,
           /*cBf16=*/false);
}

extern "C" void _mlir_ciface_lmcrt_gemm_bias_bf16_out_bf16(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue) {
  gemmBias(a, b, bias, c, aux, transpose_a, transpose_b, epilogue,
           /*cBf16=*/true);
}
