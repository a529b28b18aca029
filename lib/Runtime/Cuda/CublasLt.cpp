//===- CublasLt.cpp - GEMMs of compiled code on cuBLASLt ------------------===//
//
// _mlir_ciface_lmcrt_gpu_gemm and _gemm_bias: the C ABI of
// _mlir_ciface_lmcrt_gemm (lmcrt.h) over cuBLASLt, on the compute stream.
// Storage and accumulation are float32; the precision argument is the
// compute precision (CUBLAS_COMPUTE_32F, _FAST_TF32, _FAST_16BF). The
// _bf16 forms read A and B stored as bfloat16 (CUDA_R_16BF, lmc-bf16-storage)
// and sum in float32 (CUBLAS_COMPUTE_32F); C is float32, or bfloat16 in the
// _out_bf16 forms, and an epilogue's bias and pre-activation have C's type,
// which is what cuBLASLt's epilogues take (cublasLt.h: their types default
// to D's).
//
// cuBLASLt is column-major. Each operand, a rows x cols view with strides
// (rs, cs), is either column-major (rs = 1), taken as is, or row-major
// (cs = 1), taken as its transpose; a row-major C is computed as
// C^T = op(B)^T op(A)^T. An operand with neither unit stride is packed into
// a temporary (through the host: HostStaging.h), and such a C is computed
// into one and copied out the same way. Batch dimensions that collapse into one
// stride per operand make one strided-batched call; a B shared by the batch
// over a row-major, packed A and C folds the batch into the rows (a linear
// layer); other batches make one call per batch element.
//
// One handle, a 32 MiB workspace, and a cache of the matmul descriptor,
// layouts and heuristic's algorithm per shape, strides and pointer
// alignment. The library is libcublasLt.so.13 (or .12), opened at the first
// GEMM: $LMCRT_CUBLASLT_LIBRARY, else searched on the loader's path, in the
// CUDA toolkit and in the Python packages' nvidia/*/lib (Library.h).
//
//===----------------------------------------------------------------------===//

#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/EpilogueFallback.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/HostStaging.h"
#include "Cuda/Library.h"
#include "Cuda/StepGraph.h"

#include "Comm/Collectives.h"
#include "Core/Bfloat16.h"
#include "Core/MemrefView.h"
#include "Kernels/GemmEpilogue.h"

#include "lmc/Runtime/lmcrt.h"

#include <cublasLt.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>
#include <type_traits>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::cuda;

#define LMCRT_CUBLASLT_FUNCTIONS(X)                                            \
  X(cublasLtCreate)                                                            \
  X(cublasLtGetStatusName)                                                     \
  X(cublasLtGetStatusString)                                                   \
  X(cublasLtMatmulDescCreate)                                                  \
  X(cublasLtMatmulDescSetAttribute)                                            \
  X(cublasLtMatrixLayoutCreate)                                                \
  X(cublasLtMatrixLayoutSetAttribute)                                          \
  X(cublasLtMatmulPreferenceCreate)                                            \
  X(cublasLtMatmulPreferenceSetAttribute)                                      \
  X(cublasLtMatmulAlgoGetHeuristic)                                            \
  X(cublasLtMatmul)

namespace {

using View = MemrefView<float>;
using ViewBf16 = MemrefView<uint16_t>;

/// What a GEMM's tensors hold: float32, or bfloat16 (its 16 bits).
enum class Element { F32, BF16 };

template <typename T> constexpr Element elementOf() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, uint16_t>);
  return std::is_same_v<T, float> ? Element::F32 : Element::BF16;
}

cudaDataType_t cudaTypeOf(Element e) {
  return e == Element::F32 ? CUDA_R_32F : CUDA_R_16BF;
}

struct LtApi {
#define LMCRT_DECLARE(fn) decltype(&::fn) fn = nullptr;
  LMCRT_CUBLASLT_FUNCTIONS(LMCRT_DECLARE)
#undef LMCRT_DECLARE
};

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

enum class Precision { F32, TF32, BF16 };

const char *precisionName(Precision p) {
  switch (p) {
  case Precision::F32:
    return "f32";
  case Precision::TF32:
    return "tf32";
  case Precision::BF16:
    return "bf16";
  }
  return "?";
}

/// A column-major operand: the matrix stored is `transposed ? cols x rows :
/// rows x cols` with leading dimension `ld`.
struct Operand {
  const void *data = nullptr;
  int64_t ld = 1;
  bool transposed = false;
};

/// The cuBLASLt view of a logical rows x cols matrix with strides (rs, cs);
/// false when neither stride is 1.
bool describe(const void *data, int64_t rows, int64_t cols, int64_t rs,
              int64_t cs, Operand &out) {
  int64_t r = std::max<int64_t>(rows, 1), c = std::max<int64_t>(cols, 1);
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= r)) {
    out = {data, cols == 1 ? r : cs, false};
    return true;
  }
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= c)) {
    out = {data, rows == 1 ? c : rs, true};
    return true;
  }
  return false;
}

/// The largest power of two (up to 256) dividing the address.
uint32_t alignmentOf(const void *p) {
  auto address = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 4 && address % a != 0)
    a /= 2;
  return a;
}

/// One batch stride for dimensions [0, n) of `v`, when they collapse into
/// one (0 when they are all of size 1).
template <typename T>
bool batchStride(const MemrefView<T> &v, int64_t n, int64_t &stride) {
  stride = 0;
  int64_t expected = -1;
  for (int64_t d = n - 1; d >= 0; --d) {
    if (v.sizes[d] == 1)
      continue;
    if (expected < 0)
      stride = v.strides[d];
    else if (v.strides[d] != expected)
      return false;
    expected = v.strides[d] * v.sizes[d];
  }
  return true;
}

/// The epilogue of one cuBLASLt call: none, CUBLASLT_EPILOGUE_BIAS (a
/// bias along D's rows), or CUBLASLT_EPILOGUE_GELU_AUX_BIAS (also the
/// pre-activation, column-major with leading dimension auxLd); both of D's
/// element type.
struct Epilogue {
  enum Kind { None = 0, Bias = 1, GeluAuxBias = 2 } kind = None;
  const void *bias = nullptr;
  void *aux = nullptr;
  int64_t auxLd = 0;
};

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t x = nullptr, y = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo;
  /// False when the heuristic found no algorithm for the epilogue asked for.
  bool ok = true;
};

class Gemm {
public:
  static Gemm &get() {
    static Gemm *gemm = new Gemm; // used until exit
    return *gemm;
  }

  /// C = op(A) op(B), A and B of element type TIn, C of TOut.
  template <typename TIn, typename TOut>
  void run(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
           lmcrt_unranked_memref *c, bool ta, bool tb, Precision precision,
           const std::string &what);
  /// The GEMM with a bias (LMCRT_GEMM_BIAS) or bias + tanh GELU
  /// (LMCRT_GEMM_BIAS_GELU_TANH, the pre-activation in `aux`) epilogue; the
  /// bias and aux of C's type.
  template <typename TIn, typename TOut>
  void runBias(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
               lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
               lmcrt_unranked_memref *aux, bool ta, bool tb, int32_t epilogue,
               Precision precision, const std::string &what);

private:
  void open();
  void check(cublasStatus_t status, const std::string &what) const {
    if (status == CUBLAS_STATUS_SUCCESS)
      return;
    const char *name = api.cublasLtGetStatusName(status);
    const char *text = api.cublasLtGetStatusString(status);
    comm::fatal(what + " failed: " + (name ? name : "cuBLAS error") +
                (text ? std::string(": ") + text : std::string()));
  }
  /// A packed row-major copy of `rows x cols` at `data` with strides
  /// (rs, cs), in temporary `slot`.
  template <typename T>
  const T *pack(int slot, const T *data, int64_t rows, int64_t cols,
                int64_t rs, int64_t cs);
  /// Device memory for `elements` of T, kept for the next call of `slot`.
  template <typename T> T *temporary(int slot, int64_t elements);
  void setEpiloguePointers(cublasLtMatmulDesc_t desc, const Epilogue &ep) {
    if (ep.kind == Epilogue::None)
      return;
    check(api.cublasLtMatmulDescSetAttribute(desc,
                                             CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                             &ep.bias, sizeof(ep.bias)),
          "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
    if (ep.kind == Epilogue::GeluAuxBias)
      check(api.cublasLtMatmulDescSetAttribute(
                desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &ep.aux,
                sizeof(ep.aux)),
            "cublasLtMatmulDescSetAttribute(EPILOGUE_AUX_POINTER)");
  }
  /// D = op(X) op(Y), column-major m x n, `batch` matrices, then the
  /// epilogue `ep`; X and Y of element type `in`, D (and the epilogue's
  /// vectors) of `out`; false (nothing done) when cuBLASLt has no algorithm
  /// with that epilogue.
  bool matmul(Precision precision, Element in, Element out, int64_t m,
              int64_t n, int64_t k, const Operand &x, const Operand &y,
              void *d, int64_t ldd, int64_t batch, int64_t sx, int64_t sy,
              int64_t sd, const Epilogue &ep = Epilogue());
  /// The GEMM, then, with `bias`, its epilogue (`aux`: GELU, keeping the
  /// pre-activation there): in cuBLASLt's call where it can address C and
  /// aux, else on the host.
  template <typename TIn, typename TOut>
  void run(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
           lmcrt_unranked_memref *c, bool ta, bool tb, Precision precision,
           const std::string &what, const MemrefView<TOut> *bias,
           const MemrefView<TOut> *aux);

  /// Precision, element types in and out, transposes, m, n, k, leading
  /// dimensions, batch and its strides, alignments of X, Y and D; epilogue
  /// kind, aux leading dimension, alignments of bias and aux.
  using Key = std::tuple<int, int, int, bool, bool, int64_t, int64_t, int64_t,
                         int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t, uint32_t, uint32_t, uint32_t, int, int64_t,
                         uint32_t, uint32_t>;
  LtApi api;
  cublasLtHandle_t handle = nullptr;
  CUdeviceptr workspace = 0;
  std::map<Key, Plan> plans;
  std::vector<std::pair<void *, int64_t>> temps; // device memory (bytes)
};

void Gemm::open() {
  if (handle)
    return;
  static Library library;
  std::string error;
  if (!library.search(cublasLtLibrarySearch(), error))
    missingLibrary(error);
#define LMCRT_RESOLVE(fn)                                                      \
  api.fn = reinterpret_cast<decltype(api.fn)>(library.find(#fn));              \
  if (!api.fn)                                                                 \
    comm::fatal(library.path() + " has no " #fn);
  LMCRT_CUBLASLT_FUNCTIONS(LMCRT_RESOLVE)
#undef LMCRT_RESOLVE
  check(api.cublasLtCreate(&handle), "cublasLtCreate");
  cuda::check(driver().cuMemAlloc(&workspace, kWorkspaceBytes),
              "cuMemAlloc(cuBLASLt workspace)");
}

template <typename T> T *Gemm::temporary(int slot, int64_t elements) {
  if (temps.size() <= static_cast<size_t>(slot))
    temps.resize(slot + 1, {nullptr, 0});
  auto &[ptr, bytes] = temps[slot];
  const int64_t needed = static_cast<int64_t>(sizeof(T)) * elements;
  if (bytes < needed) {
    device::release(ptr);
    ptr = device::allocate(static_cast<size_t>(needed));
    bytes = needed;
  }
  return static_cast<T *>(ptr);
}

template <typename T>
const T *Gemm::pack(int slot, const T *data, int64_t rows, int64_t cols,
                    int64_t rs, int64_t cs) {
  T *out = temporary<T>(slot, rows * cols);
  // Neither stride is 1: the host gathers the elements (after the work
  // queued before) and the packed copy goes back to the device.
  Staged<T> src(
      MemrefView<T>(const_cast<T *>(data), {rows, cols}, {rs, cs}));
  std::vector<T> packed(static_cast<size_t>(rows * cols));
  copyElements(src.view(), MemrefView<T>::packed(packed.data(), {rows, cols}));
  device::copyToDevice(out, packed.data(), sizeof(T) * packed.size());
  return out;
}

/// The bias (+ GELU) epilogue over device memory on the host: C, the bias
/// and the pre-activation read to the host, the epilogue applied, C and
/// the pre-activation written back.
void hostEpilogue(const View &C, const View &bias, const View *aux) {
  Staged<float> c(C), b(bias);
  std::optional<Staged<float>> x;
  if (aux)
    x.emplace(*aux);
  applyBiasEpilogue(c.view(), b.view(), x ? &x->view() : nullptr);
  c.commit();
  if (x)
    x->commit();
}

/// The same for a bfloat16 C: `sums` (host, packed, C's sizes) holds the
/// GEMM's float32 sums; the bias is extended, the epilogue runs in float32,
/// and C (and the pre-activation) are rounded once as they are written.
void hostEpilogue(std::vector<float> sums, const ViewBf16 &C,
                  const ViewBf16 &bias, const ViewBf16 *aux) {
  Staged<uint16_t> b(bias);
  std::vector<float> wide(static_cast<size_t>(bias.size(0)));
  transformElements(b.view(), View::packed(wide.data(), {bias.size(0)}),
                    fromBf16);
  View sum = View::packed(sums.data(), C.sizes);
  std::vector<float> pre(aux ? sums.size() : 0);
  View preView = View::packed(pre.data(), C.sizes);
  applyBiasEpilogue(sum, View::packed(wide.data(), {bias.size(0)}),
                    aux ? &preView : nullptr);
  Staged<uint16_t> c(C);
  transformElements(sum, c.view(), toBf16);
  c.commit();
  if (aux) {
    Staged<uint16_t> x(*aux);
    transformElements(preView, x.view(), toBf16);
    x.commit();
  }
}

bool Gemm::matmul(Precision precision, Element in, Element out, int64_t m,
                  int64_t n, int64_t k, const Operand &x, const Operand &y,
                  void *d, int64_t ldd, int64_t batch, int64_t sx, int64_t sy,
                  int64_t sd, const Epilogue &ep) {
  Key key{static_cast<int>(precision),
          static_cast<int>(in),
          static_cast<int>(out),
          x.transposed,
          y.transposed,
          m,
          n,
          k,
          x.ld,
          y.ld,
          ldd,
          batch,
          sx,
          sy,
          sd,
          alignmentOf(x.data),
          alignmentOf(y.data),
          alignmentOf(d),
          static_cast<int>(ep.kind),
          ep.auxLd,
          ep.bias ? alignmentOf(ep.bias) : 0u,
          ep.aux ? alignmentOf(ep.aux) : 0u};
  auto it = plans.find(key);
  if (it == plans.end()) {
    Plan p;
    // Operands stored as bfloat16 are multiplied as they are, the products
    // summed in float32; float32 operands at the compute precision.
    cublasComputeType_t compute =
        in == Element::BF16 || precision == Precision::F32
            ? CUBLAS_COMPUTE_32F
        : precision == Precision::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                       : CUBLAS_COMPUTE_32F_FAST_16BF;
    check(api.cublasLtMatmulDescCreate(&p.desc, compute, CUDA_R_32F),
          "cublasLtMatmulDescCreate");
    cublasOperation_t opX = x.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opY = y.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
    check(api.cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA,
                                             &opX, sizeof(opX)),
          "cublasLtMatmulDescSetAttribute(TRANSA)");
    check(api.cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB,
                                             &opY, sizeof(opY)),
          "cublasLtMatmulDescSetAttribute(TRANSB)");
    if (ep.kind != Epilogue::None) {
      cublasLtEpilogue_t epilogue = ep.kind == Epilogue::Bias
                                        ? CUBLASLT_EPILOGUE_BIAS
                                        : CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
      check(api.cublasLtMatmulDescSetAttribute(p.desc,
                                               CUBLASLT_MATMUL_DESC_EPILOGUE,
                                               &epilogue, sizeof(epilogue)),
            "cublasLtMatmulDescSetAttribute(EPILOGUE)");
      // Only what the epilogue needs: its kind, the pointers (below) and
      // the pre-activation's leading dimension. The bias and pre-activation
      // types are left at their default (-1), which cublasLt.h documents as
      // the type of D's elements for these epilogues (C's type in lmcrt.h's
      // GEMMs: float32, or bfloat16 in the _out_bf16 forms); setting
      // EPILOGUE_AUX_DATA_TYPE "for an unsupported matrix data, scale, and
      // compute type combination" makes cublasLtMatmul return
      // CUBLAS_STATUS_INVALID_VALUE (cublasLt.h, CUDA 13).
      if (ep.kind == Epilogue::GeluAuxBias)
        check(api.cublasLtMatmulDescSetAttribute(
                  p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ep.auxLd,
                  sizeof(ep.auxLd)),
              "cublasLtMatmulDescSetAttribute(EPILOGUE_AUX_LD)");
    }
    // The epilogue's pointers are set on the descriptor before the
    // heuristic (which reads their alignment) and before every call.
    setEpiloguePointers(p.desc, ep);
    auto layout = [&](cublasLtMatrixLayout_t &l, Element e, int64_t rows,
                      int64_t cols, int64_t ld, int64_t stride) {
      check(api.cublasLtMatrixLayoutCreate(&l, cudaTypeOf(e), rows, cols, ld),
            "cublasLtMatrixLayoutCreate");
      if (batch == 1)
        return;
      int32_t count = static_cast<int32_t>(batch);
      check(api.cublasLtMatrixLayoutSetAttribute(
                l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)),
            "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)");
      check(api.cublasLtMatrixLayoutSetAttribute(
                l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                sizeof(stride)),
            "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)");
    };
    layout(p.x, in, x.transposed ? k : m, x.transposed ? m : k, x.ld, sx);
    layout(p.y, in, y.transposed ? n : k, y.transposed ? k : n, y.ld, sy);
    layout(p.d, out, m, n, ldd, sd);
    cublasLtMatmulPreference_t pref = nullptr;
    check(api.cublasLtMatmulPreferenceCreate(&pref),
          "cublasLtMatmulPreferenceCreate");
    uint64_t bytes = kWorkspaceBytes;
    check(api.cublasLtMatmulPreferenceSetAttribute(
              pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &bytes,
              sizeof(bytes)),
          "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
    // Views into buffers may start anywhere: tell the heuristic.
    const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> aligns[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, std::get<15>(key)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, std::get<16>(key)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, std::get<17>(key)},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, std::get<17>(key)}};
    for (const auto &[attribute, value] : aligns)
      check(api.cublasLtMatmulPreferenceSetAttribute(pref, attribute, &value,
                                                     sizeof(value)),
            "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)");
    cublasLtMatmulHeuristicResult_t result = {};
    int found = 0;
    check(api.cublasLtMatmulAlgoGetHeuristic(handle, p.desc, p.x, p.y, p.d, p.d,
                                             pref, 1, &result, &found),
          "cublasLtMatmulAlgoGetHeuristic");
    if (found < 1 && ep.kind != Epilogue::None) {
      // No kernel for this epilogue here: the caller applies it apart.
      p.ok = false;
      plans.emplace(key, p);
      return false;
    }
    if (found < 1)
      comm::fatal(std::string("gpu_gemm_") + precisionName(precision) +
                  (in == Element::BF16 ? " (bfloat16 operands)" : "") +
                  (out == Element::BF16 ? " (bfloat16 C)" : "") +
                  ": cuBLASLt has no algorithm for m=" + std::to_string(m) +
                  " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                  " batch=" + std::to_string(batch));
    p.algo = result.algo;
    it = plans.emplace(key, p).first;
  }
  const Plan &p = it->second;
  if (!p.ok)
    return false;
  setEpiloguePointers(p.desc, ep);
  const float alpha = 1.0f, beta = 0.0f;
  check(api.cublasLtMatmul(handle, p.desc, &alpha, x.data, p.x, y.data, p.y,
                           &beta, d, p.d, d, p.d, &p.algo,
                           reinterpret_cast<void *>(workspace),
                           kWorkspaceBytes, computeStream()),
        std::string("cublasLtMatmul (gpu_gemm_") + precisionName(precision) +
            ", m=" + std::to_string(m) + " n=" + std::to_string(n) +
            " k=" + std::to_string(k) + ")");
  return true;
}

template <typename TIn, typename TOut>
void Gemm::run(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
               lmcrt_unranked_memref *c, bool ta, bool tb, Precision precision,
               const std::string &what) {
  requireReady(what.c_str());
  run<TIn, TOut>(a, b, c, ta, tb, precision, what, nullptr, nullptr);
}

template <typename TIn, typename TOut>
void Gemm::run(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
               lmcrt_unranked_memref *c, bool ta, bool tb, Precision precision,
               const std::string &what, const MemrefView<TOut> *bias,
               const MemrefView<TOut> *aux) {
  constexpr Element in = elementOf<TIn>(), out = elementOf<TOut>();
  // A bfloat16 C whose epilogue cuBLASLt cannot apply: the float32 sums go
  // to a temporary and the host rounds C once, after the epilogue.
  constexpr bool roundOnHost = out == Element::BF16;
  profile::mark(KernelClass::Gemm);
  MemrefView<TIn> A(a), B(b);
  MemrefView<TOut> C(c);
  if (C.rank() < 2 || A.rank() != C.rank() ||
      (B.rank() != 2 && B.rank() != C.rank()))
    comm::fatal(what + ": inconsistent ranks (A " + A.shapeString() + ", B " +
                B.shapeString() + ", C " + C.shapeString() + ")");
  const int64_t M = C.size(-2), N = C.size(-1);
  const int64_t K = ta ? A.size(-2) : A.size(-1);
  if ((ta ? A.size(-1) : A.size(-2)) != M ||
      (tb ? B.size(-1) : B.size(-2)) != K ||
      (tb ? B.size(-2) : B.size(-1)) != N)
    comm::fatal(what + ": shapes do not multiply (A " + A.shapeString() +
                ", B " + B.shapeString() + ", C " + C.shapeString() +
                ", transpose_a=" + std::to_string(ta) +
                ", transpose_b=" + std::to_string(tb) + ")");
  const int64_t batchDims = C.rank() - 2;
  const bool shared = B.rank() == 2;
  int64_t batch = 1;
  for (int64_t d = 0; d < batchDims; ++d) {
    batch *= C.sizes[d];
    if (A.sizes[d] != C.sizes[d] || (!shared && B.sizes[d] != C.sizes[d]))
      comm::fatal(what + ": batch dimensions differ (A " + A.shapeString() +
                  ", B " + B.shapeString() + ", C " + C.shapeString() + ")");
  }
  if (M == 0 || N == 0 || batch == 0)
    return;
  open();
  if (K == 0) {
    // An empty sum: C = 0 (the host writes it), then the epilogue.
    if (bias)
      reportEpilogueFallback(what, aux ? "bias_gelu_tanh" : "bias", M, N, K,
                             "an empty sum");
    if constexpr (roundOnHost) {
      if (bias) {
        hostEpilogue(std::vector<float>(C.numElements(), 0.0f), C, *bias,
                     aux);
        return;
      }
    }
    Staged<TOut> zero(C);
    std::vector<TOut> zeros(C.numElements(), TOut(0));
    copyElements(MemrefView<TOut>::packed(zeros.data(), C.sizes), zero.view());
    zero.commit();
    if constexpr (!roundOnHost) {
      if (bias)
        hostEpilogue(C, *bias, aux);
    }
    return;
  }
  // op(A) is M x K and op(B) K x N, as strided views.
  const int64_t aRs = ta ? A.stride(-1) : A.stride(-2),
                aCs = ta ? A.stride(-2) : A.stride(-1);
  const int64_t bRs = tb ? B.stride(-1) : B.stride(-2),
                bCs = tb ? B.stride(-2) : B.stride(-1);
  int64_t sA = 0, sB = 0, sC = 0, sAux = 0;
  const bool aStrided = batchStride(A, batchDims, sA),
             cStrided = batchStride(C, batchDims, sC);
  const bool auxStrided = aux && batchStride(*aux, batchDims, sAux);
  int64_t m = M;
  bool folded = true; // aux, if any, follows C's batch folding
  // A linear layer over a packed batch (B shared, A and C row-major with
  // their batches stacked as rows): one GEMM with batch * M rows.
  if (shared && batch > 1 && !ta && A.stride(-1) == 1 && C.stride(-1) == 1 &&
      aStrided && cStrided && sA == M * A.stride(-2) &&
      sC == M * C.stride(-2)) {
    m = M * batch;
    batch = 1;
    // The pre-activation folds too, or cuBLASLt cannot write it.
    folded = !aux || (auxStrided && aux->stride(-1) == 1 &&
                      sAux == M * aux->stride(-2));
  }
  Operand oa, ob, oc;
  // One strided-batched call when every operand has one batch stride and
  // unit strides (a shared B repeats with a loop instead of stride 0).
  const bool strided = batch > 1 && !shared && aStrided && cStrided &&
                       batchStride(B, batchDims, sB) &&
                       describe(A.data, m, K, aRs, aCs, oa) &&
                       describe(B.data, K, N, bRs, bCs, ob) &&
                       describe(C.data, m, N, C.stride(-2), C.stride(-1), oc);
  const int64_t calls = strided ? 1 : batch, perCall = strided ? batch : 1;
  for (int64_t i = 0; i < calls; ++i) {
    int64_t offA = 0, offB = 0, offC = 0, offAux = 0;
    for (int64_t d = batchDims - 1, rest = i; d >= 0 && calls > 1; --d) {
      int64_t idx = rest % C.sizes[d];
      rest /= C.sizes[d];
      offA += idx * A.strides[d];
      offC += idx * C.strides[d];
      if (aux)
        offAux += idx * aux->strides[d];
      if (!shared)
        offB += idx * B.strides[d];
    }
    const TIn *pa = A.data + offA, *pb = B.data + offB;
    int64_t ars = aRs, acs = aCs, brs = bRs, bcs = bCs;
    if (!describe(pa, m, K, ars, acs, oa)) {
      pa = pack(0, pa, m, K, ars, acs);
      ars = K, acs = 1;
    }
    if (!describe(pb, K, N, brs, bcs, ob)) {
      pb = pack(1, pb, K, N, brs, bcs);
      brs = N, bcs = 1;
    }
    // The epilogue in cuBLASLt's call: only for a row-major C (below).
    Epilogue ep;
    std::string fallbackReason = "C is column-major";
    TOut *pc = C.data + offC;
    const bool cDirect =
        describe(pc, m, N, C.stride(-2), C.stride(-1), oc);
    if (!cDirect) {
      pc = temporary<TOut>(2, m * N);
      describe(pc, m, N, N, 1, oc);
    }
    if (oc.transposed && bias) {
      // Row-major C: C^T = op(B)^T op(A)^T. Its rows are C's columns: the
      // bias, one value per row of C^T, is what cuBLASLt's bias epilogue
      // adds, and a row-major pre-activation is a column-major one with
      // leading dimension aux's row stride.
      if (!cDirect)
        fallbackReason = "C has no unit stride";
      else if (!folded)
        fallbackReason = "the pre-activation does not fold into C's rows";
      else if (bias->stride(0) != 1)
        fallbackReason = "the bias is strided";
      if (cDirect && folded && bias->stride(0) == 1) {
        ep.bias = bias->data;
        if (!aux) {
          ep.kind = Epilogue::Bias;
        } else if (aux->stride(-1) == 1 && aux->stride(-2) >= N &&
                   aux->stride(-2) % 8 == 0) {
          ep.kind = Epilogue::GeluAuxBias;
          ep.aux = aux->data + offAux;
          ep.auxLd = aux->stride(-2);
        } else {
          fallbackReason = "the pre-activation's row stride " +
                           std::to_string(aux->stride(-2)) +
                           " is not a multiple of 8";
        }
      }
    }
    // (transposing swaps strides)
    Operand xa, xb;
    if (oc.transposed) {
      describe(pb, N, K, bcs, brs, xb);
      describe(pa, K, m, acs, ars, xa);
    } else {
      describe(pa, m, K, ars, acs, xa);
      describe(pb, K, N, brs, bcs, xb);
    }
    auto gemmInto = [&](void *d, Element dType, int64_t ld,
                        const Epilogue &e) {
      return oc.transposed ? matmul(precision, in, dType, N, m, K, xb, xa, d,
                                    ld, perCall, sB, sA, sC, e)
                           : matmul(precision, in, dType, m, N, K, xa, xb, d,
                                    ld, perCall, sA, sB, sC, e);
    };
    const bool epilogueDone =
        ep.kind != Epilogue::None && gemmInto(pc, out, oc.ld, ep);
    if (ep.kind != Epilogue::None && !epilogueDone)
      fallbackReason = "cuBLASLt's heuristic has no algorithm for it";
    const bool hostRounds = roundOnHost && bias && !epilogueDone;
    if (!epilogueDone && !hostRounds)
      gemmInto(pc, out, oc.ld, Epilogue());
    if (!cDirect && !hostRounds) {
      // C has no unit stride: its elements are scattered on the host.
      std::vector<TOut> packed(static_cast<size_t>(m * N));
      device::copyToHost(packed.data(), pc, sizeof(TOut) * packed.size());
      Staged<TOut> scattered(
          MemrefView<TOut>(C.data + offC, {m, N}, {C.stride(-2), C.stride(-1)}));
      copyElements(MemrefView<TOut>::packed(packed.data(), {m, N}),
                   scattered.view());
      scattered.commit();
    }
    if (bias && !epilogueDone) {
      // cuBLASLt cannot apply this epilogue: the host applies it to the
      // call's rows, once it says so (EpilogueFallback.h).
      reportEpilogueFallback(what, aux ? "bias_gelu_tanh" : "bias", m, N, K,
                             fallbackReason);
      // The call's rows of C and aux; all of them when one GEMM wrote
      // every batch element but aux did not fold.
      const bool whole = aux && !folded;
      MemrefView<TOut> part =
          whole ? C
                : MemrefView<TOut>(C.data + offC, {m, N},
                                   {C.stride(-2), C.stride(-1)});
      std::optional<MemrefView<TOut>> auxPart;
      if (aux)
        auxPart = whole ? *aux
                        : MemrefView<TOut>(aux->data + offAux, {m, N},
                                           {aux->stride(-2), aux->stride(-1)});
      if constexpr (roundOnHost) {
        // The float32 sums into a row-major temporary: its transpose,
        // column-major, is op(B)^T op(A)^T.
        float *sums = temporary<float>(3, m * N);
        describe(pb, N, K, bcs, brs, xb);
        describe(pa, K, m, acs, ars, xa);
        matmul(precision, in, Element::F32, N, m, K, xb, xa, sums, N, perCall,
               sB, sA, m * N, Epilogue());
        std::vector<float> host(static_cast<size_t>(m * N));
        device::copyToHost(host.data(), sums, sizeof(float) * host.size());
        hostEpilogue(std::move(host), part, *bias,
                     auxPart ? &*auxPart : nullptr);
      } else {
        hostEpilogue(part, *bias, auxPart ? &*auxPart : nullptr);
      }
    }
  }
}

template <typename TIn, typename TOut>
void Gemm::runBias(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
                   lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
                   lmcrt_unranked_memref *aux, bool ta, bool tb,
                   int32_t epilogue, Precision precision,
                   const std::string &what) {
  requireReady(what.c_str());
  if (epilogue != LMCRT_GEMM_BIAS && epilogue != LMCRT_GEMM_BIAS_GELU_TANH)
    comm::fatal(what + ": unknown epilogue " + std::to_string(epilogue));
  MemrefView<TOut> C(c), Bias(bias);
  if (Bias.rank() != 1 || C.rank() < 1 || Bias.size(0) != C.size(-1))
    comm::fatal(what + ": the bias " + Bias.shapeString() +
                " is not a vector of C's last dimension (C " + C.shapeString() +
                ")");
  if (epilogue == LMCRT_GEMM_BIAS) {
    run<TIn, TOut>(a, b, c, ta, tb, precision, what, &Bias, nullptr);
    return;
  }
  MemrefView<TOut> Aux(aux);
  if (Aux.sizes != C.sizes)
    comm::fatal(what + ": the pre-activation " + Aux.shapeString() +
                " differs from C " + C.shapeString());
  run<TIn, TOut>(a, b, c, ta, tb, precision, what, &Bias, &Aux);
}

} // namespace

namespace {

/// The cuBLASLt compute precision of lmcrt.h's LMCRT_PRECISION_*; an
/// unknown one ends the job.
Precision precisionOf(int32_t precision, const char *function) {
  switch (precision) {
  case LMCRT_PRECISION_FP32:
    return Precision::F32;
  case LMCRT_PRECISION_TF32:
    return Precision::TF32;
  case LMCRT_PRECISION_BF16:
    return Precision::BF16;
  }
  comm::fatal(std::string(function) + ": unknown precision " +
              std::to_string(precision) +
              " (expected 0 fp32, 1 tf32 or 2 "
              "bf16)");
}

} // namespace

extern "C" void _mlir_ciface_lmcrt_gpu_gemm_bias(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue, int32_t precision) {
  step_graph::Gate gate("gpu_gemm_bias", a, b, bias, c, aux, transpose_a,
                        transpose_b, epilogue, precision);
  if (gate.skip())
    return;
  // The arguments are checked before the GPU is touched.
  Precision p = precisionOf(precision, "gpu_gemm_bias");
  Gemm::get().runBias<float, float>(a, b, bias, c, aux, transpose_a != 0,
                                    transpose_b != 0, epilogue, p,
                                    std::string("gpu_gemm_bias_") +
                                        precisionName(p));
}

extern "C" void
_mlir_ciface_lmcrt_gpu_gemm(lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
                            lmcrt_unranked_memref *c, int32_t transpose_a,
                            int32_t transpose_b, int32_t precision) {
  step_graph::Gate gate("gpu_gemm", a, b, c, transpose_a, transpose_b,
                        precision);
  if (gate.skip())
    return;
  Precision p = precisionOf(precision, "gpu_gemm");
  Gemm::get().run<float, float>(a, b, c, transpose_a != 0, transpose_b != 0,
                                p, std::string("gpu_gemm_") + precisionName(p));
}

extern "C" void _mlir_ciface_lmcrt_gpu_gemm_bf16(lmcrt_unranked_memref *a,
                                                 lmcrt_unranked_memref *b,
                                                 lmcrt_unranked_memref *c,
                                                 int32_t transpose_a,
                                                 int32_t transpose_b) {
  step_graph::Gate gate("gpu_gemm_bf16", a, b, c, transpose_a, transpose_b);
  if (gate.skip())
    return;
  Gemm::get().run<uint16_t, float>(a, b, c, transpose_a != 0,
                                   transpose_b != 0, Precision::BF16,
                                   "lmcrt_gpu_gemm_bf16");
}

extern "C" void _mlir_ciface_lmcrt_gpu_gemm_bf16_out_bf16(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *c, int32_t transpose_a, int32_t transpose_b) {
  step_graph::Gate gate("gpu_gemm_bf16_out_bf16", a, b, c, transpose_a,
                        transpose_b);
  if (gate.skip())
    return;
  Gemm::get().run<uint16_t, uint16_t>(a, b, c, transpose_a != 0,
                                      transpose_b != 0, Precision::BF16,
                                      "lmcrt_gpu_gemm_bf16_out_bf16");
}

extern "C" void _mlir_ciface_lmcrt_gpu_gemm_bias_bf16(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue) {
  step_graph::Gate gate("gpu_gemm_bias_bf16", a, b, bias, c, aux, transpose_a,
                        transpose_b, epilogue);
  if (gate.skip())
    return;
  Gemm::get().runBias<uint16_t, float>(a, b, bias, c, aux, transpose_a != 0,
                                       transpose_b != 0, epilogue,
                                       Precision::BF16, "lmcrt_gpu_gemm_bias_bf16");
}

extern "C" void _mlir_ciface_lmcrt_gpu_gemm_bias_bf16_out_bf16(
    lmcrt_unranked_memref *a, lmcrt_unranked_memref *b,
    lmcrt_unranked_memref *bias, lmcrt_unranked_memref *c,
    lmcrt_unranked_memref *aux, int32_t transpose_a, int32_t transpose_b,
    int32_t epilogue) {
  step_graph::Gate gate("gpu_gemm_bias_bf16_out_bf16", a, b, bias, c, aux,
                        transpose_a, transpose_b, epilogue);
  if (gate.skip())
    return;
  Gemm::get().runBias<uint16_t, uint16_t>(
      a, b, bias, c, aux, transpose_a != 0, transpose_b != 0, epilogue,
      Precision::BF16, "lmcrt_gpu_gemm_bias_bf16_out_bf16");
}
