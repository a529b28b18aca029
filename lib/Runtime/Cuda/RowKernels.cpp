//===- RowKernels.cpp - Norms and the cross-entropy on the GPU ------------===//
//
// lmcrt_gpu_layer_norm_{fwd,bwd}_f32, lmcrt_gpu_rms_norm_{fwd,bwd}_f32,
// lmcrt_gpu_softmax_{fwd,bwd}_f32 and lmcrt_gpu_cross_entropy_{fwd,bwd}_f32
// (and the bfloat16 outputs of lmc-bf16-storage: the norms' _fwd_bf16, the
// cross-entropy's _bwd_bf16) (lmcrt.h): the row reductions of a
// `target cuda` training step, which the GPU pipeline leaves to the runtime
// instead of generating a kernel with a thread per row. The kernels are
// RowKernels.cu, compiled by nvcc into a fatbin that CMake embeds
// (lmcrtRowFatbin), loaded at the first call; everything runs in order on
// the compute stream, with a scratch buffer (row statistics, per-chunk
// parameter sums, per-row losses) reused by later calls.
//
//===----------------------------------------------------------------------===//

#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/StepGraph.h"

#include "Comm/Collectives.h"
#include "Core/MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <map>
#include <string>

extern "C" const unsigned char lmcrtRowFatbin[];
extern "C" const size_t lmcrtRowFatbinSize;

using namespace lmcrt;
using namespace lmcrt::cuda;

namespace {

using View = MemrefView<float>;

/// RowKernels.cu's RowIndex: where row r of an operand starts.
struct RowIndex {
  long long size1, size2;
  long long stride0, stride1, stride2;
  long long column;
};

constexpr unsigned kBlock = 256, kWarps = kBlock / 32;

class RowKernels {
public:
  static RowKernels &get() {
    static RowKernels kernels;
    return kernels;
  }

  CUfunction function(const char *name) {
    if (!module)
      check(driver().cuModuleLoadData(&module, lmcrtRowFatbin),
            "cuModuleLoadData (row kernels)");
    auto it = functions.find(name);
    if (it != functions.end())
      return it->second;
    CUfunction f = nullptr;
    check(driver().cuModuleGetFunction(&f, module, name),
          std::string("cuModuleGetFunction(") + name + ")");
    return functions[name] = f;
  }

  /// A device buffer of at least `bytes`, reused across calls (the calls
  /// are ordered on the compute stream).
  float *scratch(size_t bytes) {
    if (bytes > scratchBytes) {
      if (scratchBuffer) {
        check(driver().cuStreamSynchronize(computeStream()),
              "cuStreamSynchronize (row kernels' scratch)");
        check(driver().cuMemFree(scratchBuffer), "cuMemFree (row kernels)");
      }
      check(driver().cuMemAlloc(&scratchBuffer, bytes),
            "cuMemAlloc(" + std::to_string(bytes) + " bytes, row kernels)");
      scratchBytes = bytes;
    }
    return reinterpret_cast<float *>(scratchBuffer);
  }

private:
  CUmodule module = nullptr;
  std::map<std::string, CUfunction> functions;
  CUdeviceptr scratchBuffer = 0;
  size_t scratchBytes = 0;
};

void launch(const char *name, unsigned gridX, unsigned gridY, void **args) {
  CUfunction f = RowKernels::get().function(name);
  profile::mark(KernelClass::RowReduction);
  check(driver().cuLaunchKernel(f, gridX, gridY, 1, kBlock, 1, 1, 0,
                                computeStream(), args, nullptr),
        std::string("cuLaunchKernel(") + name + ")");
}

[[noreturn]] void fail(const char *what, const std::string &message) {
  comm::fatal(std::string(what) + ": " + message);
}

/// The rows of `v` with its first `leading` dimensions as the row index (at
/// most 3); the last dimension, if any remains, is the column.
template <typename T>
RowIndex rowIndex(const char *what, const MemrefView<T> &v, int64_t leading) {
  if (leading > 3)
    fail(what, "operand " + v.shapeString() +
                   " has more than 3 leading dimensions");
  RowIndex ix{1, 1, 0, 0, 0, leading < v.rank() ? v.stride(-1) : 0};
  if (leading >= 1) {
    ix.size2 = v.size(leading - 1);
    ix.stride2 = v.stride(leading - 1);
  }
  if (leading >= 2) {
    ix.size1 = v.size(leading - 2);
    ix.stride1 = v.stride(leading - 2);
  }
  if (leading >= 3)
    ix.stride0 = v.stride(0);
  return ix;
}

/// The number of rows of `v` (the product of all but its last dimension).
int64_t rowsOf(const View &v) {
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < v.rank(); ++d)
    rows *= v.size(d);
  return rows;
}

/// Checks that `v` has the shape of `like`.
template <typename T>
void sameShape(const char *what, const char *name, const MemrefView<T> &v,
               const View &like) {
  if (v.sizes != like.sizes)
    fail(what, std::string(name) + " " + v.shapeString() +
                   " does not match the input " + like.shapeString());
}

/// Checks that `v` is a vector of `c` elements.
void vectorOf(const char *what, const char *name, const View &v, int64_t c) {
  if (v.rank() != 1 || v.size(0) != c)
    fail(what, std::string(name) + " " + v.shapeString() + " is not [" +
                   std::to_string(c) + "]");
}

/// The input's rows and columns, checked for the kernels' limits.
struct Rows {
  int64_t rows;
  int columns;
};

Rows checkInput(const char *what, const View &x) {
  if (x.rank() < 1 || x.rank() > 4)
    fail(what, "input " + x.shapeString() + " is not of rank 1 to 4");
  if (x.size(-1) > std::numeric_limits<int>::max())
    fail(what, "too many columns in " + x.shapeString());
  return {rowsOf(x), static_cast<int>(x.size(-1))};
}

/// Blocks of kWarps warps, a warp per row.
unsigned warpBlocks(const char *what, int64_t rows) {
  const int64_t blocks = (rows + kWarps - 1) / kWarps;
  if (blocks > std::numeric_limits<int32_t>::max())
    fail(what, std::to_string(rows) + " rows are too many for one launch");
  return static_cast<unsigned>(blocks);
}

/// A block per row.
unsigned rowBlocks(const char *what, int64_t rows) {
  if (rows > std::numeric_limits<int32_t>::max())
    fail(what, std::to_string(rows) + " rows are too many for one launch");
  return static_cast<unsigned>(rows);
}

/// The norms' backward pass: the input gradient (a warp per row, saving
/// each row's mean and rstd), then the weight (and bias) gradients summed
/// over chunks of rows and then over the chunks.
void normBackward(const char *what, lmcrt_unranked_memref *x,
                  lmcrt_unranked_memref *w, lmcrt_unranked_memref *dy,
                  lmcrt_unranked_memref *dx, lmcrt_unranked_memref *dw,
                  lmcrt_unranked_memref *db, double eps) {
  requireReady(what);
  View X(x), W(w), DY(dy), DX(dx), DW(dw);
  View DB = db ? View(db) : View();
  auto [rows, C] = checkInput(what, X);
  vectorOf(what, "weight", W, C);
  vectorOf(what, "weight gradient", DW, C);
  if (db)
    vectorOf(what, "bias gradient", DB, C);
  sameShape(what, "output gradient", DY, X);
  sameShape(what, "input gradient", DX, X);
  if (C == 0)
    return;
  const int64_t leading = X.rank() - 1;
  RowIndex xi = rowIndex(what, X, leading), dyi = rowIndex(what, DY, leading),
           dxi = rowIndex(what, DX, leading);
  long long ws = W.stride(0), dws = DW.stride(0), dbs = db ? DB.stride(0) : 0;
  // Chunks of at least 32 rows, at most 64 chunks.
  long long chunkRows = std::max<long long>(32, (rows + 63) / 64);
  long long chunks = (rows + chunkRows - 1) / chunkRows;
  float *stats = RowKernels::get().scratch(
      sizeof(float) * static_cast<size_t>(2 * rows + 2 * chunks * C));
  float *partial = stats + 2 * rows;
  float e = static_cast<float>(eps);
  int centred = db ? 1 : 0, bias = centred;
  long long n = rows;
  if (rows > 0) {
    void *args[] = {&X.data, &xi,  &DY.data, &dyi, &DX.data, &dxi, &W.data,
                    &ws,     &stats, &n,     &C,   &e,       &centred};
    launch("lmc_norm_bwd_input", warpBlocks(what, rows), 1, args);
    void *pargs[] = {&X.data, &xi, &DY.data, &dyi,      &stats,
                     &partial, &n, &chunkRows, &C, &bias};
    launch("lmc_norm_bwd_params_partial",
           static_cast<unsigned>((C + 31) / 32), static_cast<unsigned>(chunks),
           pargs);
  }
  float *dbData = db ? DB.data : nullptr;
  void *sargs[] = {&partial, &chunks, &C, &DW.data, &dws, &dbData, &dbs};
  launch("lmc_norm_bwd_params_sum",
         static_cast<unsigned>((C + kBlock - 1) / kBlock), 1, sargs);
}

/// The cross-entropy's logits, targets and classes, checked.
struct Logits {
  View logits;
  MemrefView<int32_t> targets;
  int64_t rows, columns;
  long long classes;
  RowIndex li, ti;
};

Logits checkLogits(const char *what, lmcrt_unranked_memref *logits,
                   lmcrt_unranked_memref *targets, int64_t classes) {
  Logits l{View(logits), MemrefView<int32_t>(targets), 0, 0, classes, {}, {}};
  if (l.logits.rank() < 2 || l.logits.rank() > 4)
    fail(what, "logits " + l.logits.shapeString() + " are not of rank 2 to 4");
  if (l.targets.rank() != l.logits.rank() - 1 ||
      !std::equal(l.targets.sizes.begin(), l.targets.sizes.end(),
                  l.logits.sizes.begin()))
    fail(what, "targets " + l.targets.shapeString() +
                   " do not match the logits " + l.logits.shapeString());
  l.rows = rowsOf(l.logits);
  l.columns = l.logits.size(-1);
  if (classes < 1 || classes > l.columns)
    fail(what, "classes " + std::to_string(classes) + " is not in [1, " +
                   std::to_string(l.columns) + "]");
  const int64_t leading = l.logits.rank() - 1;
  l.li = rowIndex(what, l.logits, leading);
  l.ti = rowIndex(what, l.targets, leading);
  return l;
}

} // namespace

/// LayerNorm forward into y of element type T (float, or uint16_t:
/// bfloat16), with `kernel`.
template <typename T>
void layerNormForward(const char *what, const char *kernel,
                      lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
                      lmcrt_unranked_memref *b, lmcrt_unranked_memref *y,
                      double eps) {
  requireReady(what);
  View X(x), W(w), B(b);
  MemrefView<T> Y(y);
  auto [rows, C] = checkInput(what, X);
  vectorOf(what, "weight", W, C);
  vectorOf(what, "bias", B, C);
  sameShape(what, "output", Y, X);
  if (rows == 0 || C == 0)
    return;
  const int64_t leading = X.rank() - 1;
  RowIndex xi = rowIndex(what, X, leading), yi = rowIndex(what, Y, leading);
  long long ws = W.stride(0), bs = B.stride(0), n = rows;
  float e = static_cast<float>(eps);
  void *args[] = {&X.data, &xi, &Y.data, &yi, &W.data, &ws,
                  &B.data, &bs, &n,      &C,  &e};
  launch(kernel, warpBlocks(what, rows), 1, args);
}

/// RMSNorm forward into y of element type T, with `kernel`.
template <typename T>
void rmsNormForward(const char *what, const char *kernel,
                    lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
                    lmcrt_unranked_memref *y, double eps) {
  requireReady(what);
  View X(x), W(w);
  MemrefView<T> Y(y);
  auto [rows, C] = checkInput(what, X);
  vectorOf(what, "weight", W, C);
  sameShape(what, "output", Y, X);
  if (rows == 0 || C == 0)
    return;
  const int64_t leading = X.rank() - 1;
  RowIndex xi = rowIndex(what, X, leading), yi = rowIndex(what, Y, leading);
  long long ws = W.stride(0), n = rows;
  float e = static_cast<float>(eps);
  void *args[] = {&X.data, &xi, &Y.data, &yi, &W.data, &ws, &n, &C, &e};
  launch(kernel, warpBlocks(what, rows), 1, args);
}

extern "C" void _mlir_ciface_lmcrt_gpu_layer_norm_fwd_f32(
    lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
    lmcrt_unranked_memref *b, lmcrt_unranked_memref *y, double eps) {
  step_graph::Gate gate("gpu_layer_norm_fwd_f32", x, w, b, y, eps);
  if (gate.skip())
    return;
  layerNormForward<float>("gpu_layer_norm_fwd", "lmc_layer_norm_fwd", x, w, b,
                          y, eps);
}

extern "C" void _mlir_ciface_lmcrt_gpu_layer_norm_fwd_bf16(
    lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
    lmcrt_unranked_memref *b, lmcrt_unranked_memref *y, double eps) {
  step_graph::Gate gate("gpu_layer_norm_fwd_bf16", x, w, b, y, eps);
  if (gate.skip())
    return;
  layerNormForward<uint16_t>("gpu_layer_norm_fwd_bf16",
                             "lmc_layer_norm_fwd_bf16", x, w, b, y, eps);
}

extern "C" void
_mlir_ciface_lmcrt_gpu_rms_norm_fwd_f32(lmcrt_unranked_memref *x,
                                        lmcrt_unranked_memref *w,
                                        lmcrt_unranked_memref *y, double eps) {
  step_graph::Gate gate("gpu_rms_norm_fwd_f32", x, w, y, eps);
  if (gate.skip())
    return;
  rmsNormForward<float>("gpu_rms_norm_fwd", "lmc_rms_norm_fwd", x, w, y, eps);
}

extern "C" void
_mlir_ciface_lmcrt_gpu_rms_norm_fwd_bf16(lmcrt_unranked_memref *x,
                                         lmcrt_unranked_memref *w,
                                         lmcrt_unranked_memref *y, double eps) {
  step_graph::Gate gate("gpu_rms_norm_fwd_bf16", x, w, y, eps);
  if (gate.skip())
    return;
  rmsNormForward<uint16_t>("gpu_rms_norm_fwd_bf16", "lmc_rms_norm_fwd_bf16", x,
                           w, y, eps);
}

extern "C" void _mlir_ciface_lmcrt_gpu_layer_norm_bwd_f32(
    lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
    lmcrt_unranked_memref *dy, lmcrt_unranked_memref *dx,
    lmcrt_unranked_memref *dw, lmcrt_unranked_memref *db, double eps) {
  step_graph::Gate gate("gpu_layer_norm_bwd_f32", x, w, dy, dx, dw, db, eps);
  if (gate.skip())
    return;
  normBackward("gpu_layer_norm_bwd", x, w, dy, dx, dw, db, eps);
}

extern "C" void _mlir_ciface_lmcrt_gpu_rms_norm_bwd_f32(
    lmcrt_unranked_memref *x, lmcrt_unranked_memref *w,
    lmcrt_unranked_memref *dy, lmcrt_unranked_memref *dx,
    lmcrt_unranked_memref *dw, double eps) {
  step_graph::Gate gate("gpu_rms_norm_bwd_f32", x, w, dy, dx, dw, eps);
  if (gate.skip())
    return;
  normBackward("gpu_rms_norm_bwd", x, w, dy, dx, dw, nullptr, eps);
}

extern "C" void _mlir_ciface_lmcrt_gpu_cross_entropy_fwd_f32(
    lmcrt_unranked_memref *logits, lmcrt_unranked_memref *targets,
    lmcrt_unranked_memref *loss, int64_t classes) {
  step_graph::Gate gate("gpu_cross_entropy_fwd_f32", logits, targets, loss,
                        classes);
  if (gate.skip())
    return;
  const char *what = "gpu_cross_entropy_fwd";
  requireReady(what);
  Logits l = checkLogits(what, logits, targets, classes);
  View L(loss);
  if (L.numElements() != 1)
    fail(what, "loss " + L.shapeString() + " is not a scalar");
  float *rowLoss =
      RowKernels::get().scratch(sizeof(float) * static_cast<size_t>(l.rows));
  if (l.rows > 0) {
    void *args[] = {&l.logits.data, &l.li, &l.targets.data, &l.ti, &rowLoss,
                    &l.classes};
    launch("lmc_cross_entropy_fwd", rowBlocks(what, l.rows), 1, args);
  }
  long long n = l.rows;
  void *margs[] = {&rowLoss, &n, &L.data};
  launch("lmc_cross_entropy_mean", 1, 1, margs);
}

/// The cross-entropy's gradient into dlogits of element type T (float, or
/// uint16_t: bfloat16), with `kernel`.
template <typename T>
void crossEntropyBackward(const char *what, const char *kernel,
                          lmcrt_unranked_memref *logits,
                          lmcrt_unranked_memref *targets,
                          lmcrt_unranked_memref *dloss,
                          lmcrt_unranked_memref *dlogits, int64_t classes) {
  requireReady(what);
  Logits l = checkLogits(what, logits, targets, classes);
  View G(dloss);
  MemrefView<T> D(dlogits);
  if (G.numElements() != 1)
    fail(what, "loss gradient " + G.shapeString() + " is not a scalar");
  sameShape(what, "logits gradient", D, l.logits);
  if (l.rows == 0)
    return;
  RowIndex di = rowIndex(what, D, D.rank() - 1);
  long long n = l.rows, v = l.columns;
  void *args[] = {&l.logits.data, &l.li, &l.targets.data, &l.ti, &G.data,
                  &D.data,        &di,   &n,              &v,    &l.classes};
  launch(kernel, rowBlocks(what, l.rows), 1, args);
}

extern "C" void _mlir_ciface_lmcrt_gpu_cross_entropy_bwd_f32(
    lmcrt_unranked_memref *logits, lmcrt_unranked_memref *targets,
    lmcrt_unranked_memref *dloss, lmcrt_unranked_memref *dlogits,
    int64_t classes) {
  step_graph::Gate gate("gpu_cross_entropy_bwd_f32", logits, targets, dloss,
                        dlogits, classes);
  if (gate.skip())
    return;
  crossEntropyBackward<float>("gpu_cross_entropy_bwd", "lmc_cross_entropy_bwd",
                              logits, targets, dloss, dlogits, classes);
}

extern "C" void _mlir_ciface_lmcrt_gpu_cross_entropy_bwd_bf16(
    lmcrt_unranked_memref *logits, lmcrt_unranked_memref *targets,
    lmcrt_unranked_memref *dloss, lmcrt_unranked_memref *dlogits,
    int64_t classes) {
  step_graph::Gate gate("gpu_cross_entropy_bwd_bf16", logits, targets, dloss,
                        dlogits, classes);
  if (gate.skip())
    return;
  crossEntropyBackward<uint16_t>("gpu_cross_entropy_bwd_bf16",
                                 "lmc_cross_entropy_bwd_bf16", logits, targets,
                                 dloss, dlogits, classes);
}

extern "C" void
_mlir_ciface_lmcrt_gpu_softmax_fwd_f32(lmcrt_unranked_memref *x,
                                       lmcrt_unranked_memref *y) {
  step_graph::Gate gate("gpu_softmax_fwd_f32", x, y);
  if (gate.skip())
    return;
  const char *what = "gpu_softmax_fwd";
  requireReady(what);
  View X(x), Y(y);
  auto [rows, C] = checkInput(what, X);
  sameShape(what, "output", Y, X);
  if (rows == 0 || C == 0)
    return;
  const int64_t leading = X.rank() - 1;
  RowIndex xi = rowIndex(what, X, leading), yi = rowIndex(what, Y, leading);
  long long n = rows;
  void *args[] = {&X.data, &xi, &Y.data, &yi, &n, &C};
  launch("lmc_softmax_fwd", warpBlocks(what, rows), 1, args);
}

extern "C" void
_mlir_ciface_lmcrt_gpu_softmax_bwd_f32(lmcrt_unranked_memref *y,
                                       lmcrt_unranked_memref *dy,
                                       lmcrt_unranked_memref *dx) {
  step_graph::Gate gate("gpu_softmax_bwd_f32", y, dy, dx);
  if (gate.skip())
    return;
  const char *what = "gpu_softmax_bwd";
  requireReady(what);
  View Y(y), DY(dy), DX(dx);
  auto [rows, C] = checkInput(what, Y);
  sameShape(what, "output gradient", DY, Y);
  sameShape(what, "input gradient", DX, Y);
  if (rows == 0 || C == 0)
    return;
  const int64_t leading = Y.rank() - 1;
  RowIndex yi = rowIndex(what, Y, leading), dyi = rowIndex(what, DY, leading),
           dxi = rowIndex(what, DX, leading);
  long long n = rows;
  void *args[] = {&Y.data, &yi, &DY.data, &dyi, &DX.data, &dxi, &n, &C};
  launch("lmc_softmax_bwd", warpBlocks(what, rows), 1, args);
}
