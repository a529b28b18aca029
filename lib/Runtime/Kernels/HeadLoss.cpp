//===- HeadLoss.cpp - The LM head and its loss in row chunks --------------===//
//
// The kernel of lmc.chunked_head_loss (lmcrt_head_cross_entropy_f32 in
// lmcrt.h): the LM head's logits, their mean cross-entropy and the
// gradients of the head's input and weight, without ever holding the
// [rows, V] logits whole (51 MB for gpt2-124M at B 4 T 64, and as much
// again for their gradient).
//
// The rows of the input are walked `rows` at a time. For a chunk of m rows:
// the logits block L = x_c op(w) ([m, V], one GEMM into scratch taken from
// the step's arena for the call, StepMemory.h); per row, on the
// OpenMP threads and vectorised, the maximum and the sum of exponentials
// over the class columns, the row's loss log(sum) + max - L[target] (kept
// per row and summed in row order at the end, in double: the loss does not
// depend on the number of threads), and L turned in place into its
// gradient (softmax - onehot) * seed / R, zero in the padding columns; then
// dx_c = dL op(w)^T (one GEMM into the chunk's rows of dx) and the weight
// gradient, written by the first chunk and accumulated by the others
// (dL^T x_c for a [V, C] weight read transposed, x_c^T dL for [C, V]).
// All GEMMs go through cpuGemm (Gemm.h) at the step's precision, so they are
// profiled with the others (LMCRT_PROFILE=1). On bfloat16 units (oneDNN's
// matmul primitive) the weight is rounded to bfloat16 once per call for
// every chunk's logits and dx GEMMs, and the weight gradient accumulates
// through the primitive's sum post-op.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include "Comm/Collectives.h"
#include "Core/Error.h"
#include "Core/MemrefView.h"
#include "Core/StepMemory.h"
#include "Kernels/DnnlMatmul.h"
#include "Kernels/Gemm.h"
#include "Kernels/VectorMath.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using View = lmcrt::MemrefView<float>;

/// A rank-2 float32 memref descriptor over `data` ([rows, cols], row stride
/// `ld`, unit column stride) and its unranked form, for cpuGemm.
struct Matrix2d {
  lmcrt_memref_f32_2d desc;
  lmcrt_unranked_memref memref;
  Matrix2d(float *data, int64_t rows, int64_t cols, int64_t ld) {
    desc = {data, data, 0, {rows, cols}, {ld, 1}};
    memref = {2, &desc};
  }
  Matrix2d(const Matrix2d &) = delete;
  lmcrt_unranked_memref *get() { return &memref; }
};

/// The rows of a [..., C] view as one [R, C] matrix with unit column
/// stride: the view's own data when its leading dimensions fold into rows,
/// else a packed copy (`packed`), which an output is copied back from.
struct RowMatrix {
  float *data = nullptr;
  int64_t ld = 0;
  std::vector<float> packed;

  RowMatrix(const View &v, int64_t rows, int64_t cols, bool isOutput) {
    bool folds = v.stride(-1) == 1 || cols == 1;
    int64_t expected = v.stride(-2);
    for (int64_t d = v.rank() - 2; d > 0 && folds; --d) {
      expected *= v.sizes[d];
      folds = v.strides[d - 1] == expected || v.sizes[d - 1] == 1;
    }
    if (folds && v.stride(-2) >= cols) {
      data = v.data;
      ld = v.stride(-2);
      return;
    }
    packed.assign(static_cast<size_t>(rows * cols), 0.0f);
    if (!isOutput)
      forEach(v, [&](int64_t r, float *row) {
        for (int64_t c = 0; c < cols; ++c)
          packed[r * cols + c] = row[c * v.stride(-1)];
      });
    data = packed.data();
    ld = cols;
  }

  /// Writes a packed output back into `v`.
  void copyBack(const View &v, int64_t cols) {
    if (packed.empty())
      return;
    forEach(v, [&](int64_t r, float *row) {
      for (int64_t c = 0; c < cols; ++c)
        row[c * v.stride(-1)] = packed[r * cols + c];
    });
  }

  /// Calls f(r, pointer to the first element of row r) for every row of v
  /// in row-major order of its leading dimensions.
  template <typename F> static void forEach(const View &v, F f) {
    int64_t rows = 1;
    for (int64_t d = 0; d + 1 < v.rank(); ++d)
      rows *= v.sizes[d];
    for (int64_t r = 0; r < rows; ++r) {
      int64_t off = 0;
      for (int64_t d = v.rank() - 2, rest = r; d >= 0; --d) {
        off += (rest % v.sizes[d]) * v.strides[d];
        rest /= v.sizes[d];
      }
      f(r, v.data + off);
    }
  }
};

/// One row of logits (V columns, the first N the classes): returns the
/// row's loss log(sum exp) + max - row[hit] and turns the row in place into
/// its gradient (softmax - onehot) * scale, zero in the padding columns.
LMCRT_VECTOR_CLONES double lossAndGradientRow(float *row, int64_t N, int64_t V,
                                              int64_t hit, float scale) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int64_t j = 0; j < N; ++j)
    mx = row[j] > mx ? row[j] : mx;
  const float picked = row[hit];
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < N; ++j) {
    float e = lmcrt::vmath::expNonPositive(row[j] - mx);
    row[j] = e;
    sum += e;
  }
  const double loss = static_cast<double>(std::log(sum) + mx - picked);
  // (p - onehot) * scale with p = e / sum, in the order of the unchunked
  // lowering.
#pragma omp simd
  for (int64_t j = 0; j < N; ++j)
    row[j] = (row[j] / sum - (j == hit ? 1.0f : 0.0f)) * scale;
  for (int64_t j = N; j < V; ++j)
    row[j] = 0.0f;
  return loss;
}

[[noreturn]] void failWith(const std::string &why) {
  lmcrt::fail("head_cross_entropy: " + why);
}

} // namespace

extern "C" void _mlir_ciface_lmcrt_head_cross_entropy_f32(
    lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
    lmcrt_unranked_memref *targets, lmcrt_unranked_memref *seed,
    lmcrt_unranked_memref *loss, lmcrt_unranked_memref *dx,
    lmcrt_unranked_memref *dw, int32_t transpose_b, int64_t classes,
    int64_t rows, int32_t precision) {
  // Gradient all-reduces started earlier advance, as at every GEMM.
  lmcrt::comm::progress();
  View X(x), W(w), DX(dx), DW(dw), Seed(seed), Loss(loss);
  lmcrt::MemrefView<int32_t> Targets(targets);
  if (X.rank() < 2 || DX.sizes != X.sizes || W.rank() != 2 ||
      DW.sizes != W.sizes || Targets.rank() != X.rank() - 1 ||
      Seed.rank() != 0 || Loss.rank() != 0)
    failWith("inconsistent operand shapes");
  const bool tb = transpose_b != 0;
  const int64_t C = X.size(-1);
  const int64_t V = tb ? W.size(0) : W.size(1);
  if ((tb ? W.size(1) : W.size(0)) != C)
    failWith("the weight does not take the input's " + std::to_string(C) +
             " channels");
  int64_t R = 1;
  for (int64_t d = 0; d + 1 < X.rank(); ++d) {
    if (Targets.sizes[d] != X.sizes[d])
      failWith("targets and input differ in dimension " + std::to_string(d));
    R *= X.sizes[d];
  }
  const int64_t N = classes > 0 ? classes : V;
  if (N > V)
    failWith("classes " + std::to_string(N) + " exceed the " +
             std::to_string(V) + " columns");
  if (rows < 1)
    failWith("rows must be at least 1");

  if (R == 0) {
    // The mean over no rows, as the loss's loops compute it.
    for (int64_t i = 0; i < W.size(0); ++i)
      for (int64_t j = 0; j < W.size(1); ++j)
        DW.data[i * DW.stride(0) + j * DW.stride(1)] = 0.0f;
    Loss.data[0] = NAN;
    return;
  }

  // Scratch from the step's arena (StepMemory.h), freed before returning:
  // the chunk's logits, the rows' losses and targets, then (bfloat16 GEMMs
  // on bfloat16 units, more than one chunk) the weight rounded once for
  // all chunks. Inside a training step the plan places it where it fits
  // among the step's buffers, so the chunk reuses memory the step frees (the
  // whole logits are never allocated), and later steps touch no new pages.
  const int64_t chunk = rows < R ? rows : R;
  const size_t blockBytes = static_cast<size_t>(chunk * V) * sizeof(float);
  const size_t lossBytes = static_cast<size_t>(R) * sizeof(double);
  const size_t targetBytes =
      (static_cast<size_t>(R) * sizeof(int32_t) + 63) / 64 * 64;
  const bool roundWeight = precision == LMCRT_PRECISION_BF16 && R > chunk &&
                           lmcrt::kernels::bf16Available();
  const int64_t wRows = W.size(0), wCols = W.size(1);
  const size_t roundedBytes =
      roundWeight ? static_cast<size_t>(wRows * wCols) * sizeof(uint16_t) : 0;
  void *scratch = _mlir_memref_to_llvm_aligned_alloc(
      64, blockBytes + lossBytes + targetBytes + roundedBytes);
  if (!scratch)
    failWith("out of memory for a chunk of " + std::to_string(chunk) +
             " x " + std::to_string(V) + " logits");
  struct Release {
    void *p;
    ~Release() { _mlir_memref_to_llvm_free(p); }
  } release{scratch};
  float *block = static_cast<float *>(scratch);
  double *rowLoss =
      reinterpret_cast<double *>(static_cast<char *>(scratch) + blockBytes);
  int32_t *target = reinterpret_cast<int32_t *>(
      static_cast<char *>(scratch) + blockBytes + lossBytes);
  uint16_t *wRounded =
      roundWeight
          ? reinterpret_cast<uint16_t *>(static_cast<char *>(scratch) +
                                         blockBytes + lossBytes + targetBytes)
          : nullptr;

  // The targets in row order, checked once.
  for (int64_t r = 0; r < R; ++r) {
    int64_t off = 0;
    for (int64_t d = Targets.rank() - 1, rest = r; d >= 0; --d) {
      off += (rest % Targets.sizes[d]) * Targets.strides[d];
      rest /= Targets.sizes[d];
    }
    int32_t t = Targets.data[off];
    if (t < 0 || t >= N)
      failWith("target " + std::to_string(t) + " at row " + std::to_string(r) +
               " is outside the " + std::to_string(N) + " classes");
    target[r] = t;
  }

  RowMatrix xs(X, R, C, /*isOutput=*/false), dxs(DX, R, C, /*isOutput=*/true);
  // The weight gradient as stored: [V, C] (transposed head) or [C, V].
  bool dwDirect = DW.stride(1) == 1 && DW.stride(0) >= wCols;
  std::vector<float> dwPacked;
  if (!dwDirect)
    dwPacked.assign(static_cast<size_t>(wRows * wCols), 0.0f);
  float *dwData = dwDirect ? DW.data : dwPacked.data();
  int64_t ldw = dwDirect ? DW.stride(0) : wCols;

  const float scale = Seed.data[0] / static_cast<float>(R);

  Matrix2d wm(W.data, W.size(0), W.size(1), W.stride(0));
  std::vector<float> wPacked;
  if (W.stride(1) != 1) {
    // A weight without unit column stride: packed once for the GEMMs.
    wPacked.resize(static_cast<size_t>(wRows * wCols));
    for (int64_t i = 0; i < wRows; ++i)
      for (int64_t j = 0; j < wCols; ++j)
        wPacked[i * wCols + j] = W.data[i * W.stride(0) + j * W.stride(1)];
    wm.desc = {wPacked.data(), wPacked.data(), 0, {wRows, wCols}, {wCols, 1}};
  }

  // On bfloat16 units the weight is rounded once here, not by each chunk's
  // logits and dx GEMMs (2 x chunks roundings of V x C values otherwise).
  if (roundWeight)
    lmcrt::kernels::convertToBf16(
        {wm.desc.aligned, wRows, wCols, wm.desc.strides[0], 1}, wRounded);
  const uint16_t *wBits = wRounded;

  for (int64_t r0 = 0; r0 < R; r0 += chunk) {
    const int64_t m = R - r0 < chunk ? R - r0 : chunk;
    float *L = block;
    Matrix2d xc(xs.data + r0 * xs.ld, m, C, xs.ld), lc(L, m, V, V);
    // Logits of the chunk: x_c op(w).
    lmcrt::kernels::cpuGemm(xc.get(), wm.get(), lc.get(), 0, tb ? 1 : 0,
                            precision, /*accumulate=*/false, wBits);

#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; ++i)
      rowLoss[r0 + i] =
          lossAndGradientRow(L + i * V, N, V, target[r0 + i], scale);

    // dx_c = dL op(w)^T.
    Matrix2d dxc(dxs.data + r0 * dxs.ld, m, C, dxs.ld);
    lmcrt::kernels::cpuGemm(lc.get(), wm.get(), dxc.get(), 0, tb ? 0 : 1,
                            precision, /*accumulate=*/false, wBits);
    // The weight's gradient: dL^T x_c ([V, C]) or x_c^T dL ([C, V]).
    Matrix2d dwm(dwData, wRows, wCols, ldw);
    lmcrt::kernels::cpuGemm(tb ? lc.get() : xc.get(), tb ? xc.get() : lc.get(),
                            dwm.get(), 1, 0, precision,
                            /*accumulate=*/r0 > 0);
  }
  dxs.copyBack(DX, C);
  if (!dwDirect)
    for (int64_t i = 0; i < wRows; ++i)
      for (int64_t j = 0; j < wCols; ++j)
        DW.data[i * DW.stride(0) + j * DW.stride(1)] = dwPacked[i * wCols + j];

  double total = 0.0;
  for (int64_t r = 0; r < R; ++r)
    total += rowLoss[r];
  Loss.data[0] = static_cast<float>(total / static_cast<double>(R));
}
