//===- Embedding.cpp - The embedding gradient on the GPU ------------------===//
//
// lmcrt_gpu_embedding_grad_f32: the GPU side of lmcrt_embedding_grad_f32
// (lib/Runtime/Kernels/Kernels.cpp, the same C ABI and semantics). The kernels
// are EmbeddingKernels.cu, compiled by nvcc into a fatbin that CMake embeds
// (lmcrtEmbeddingFatbin); the module is loaded at the first call. Both
// kernels run in order on the compute stream: the zero fill of the table
// gradient, then the atomic scatter-add of the output gradient's rows.
//
//===----------------------------------------------------------------------===//

#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/StepGraph.h"

#include "Comm/Collectives.h"
#include "Core/MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <cstddef>
#include <limits>
#include <string>

extern "C" const unsigned char lmcrtEmbeddingFatbin[];
extern "C" const size_t lmcrtEmbeddingFatbinSize;

using namespace lmcrt;
using namespace lmcrt::cuda;

namespace {

/// The kernels' argument structs (EmbeddingKernels.cu), strides in elements.
struct GradStrides {
  long long batch, time, channel;
};
struct IdStrides {
  long long batch, time;
};
struct TableStrides {
  long long row, channel;
};

/// Threads per block, and rows (zero) or positions (scatter) per block: one
/// warp each.
constexpr unsigned kBlock = 256;
constexpr unsigned kWarpsPerBlock = kBlock / 32;

class EmbeddingKernels {
public:
  static EmbeddingKernels &get() {
    static EmbeddingKernels kernels;
    return kernels;
  }

  CUfunction zero() { return function(zeroFn, "lmc_embedding_grad_zero"); }
  CUfunction scatter() {
    return function(scatterFn, "lmc_embedding_grad_scatter");
  }

private:
  CUfunction function(CUfunction &f, const char *name) {
    if (!module)
      check(driver().cuModuleLoadData(&module, lmcrtEmbeddingFatbin),
            "cuModuleLoadData (embedding kernels)");
    if (!f)
      check(driver().cuModuleGetFunction(&f, module, name),
            std::string("cuModuleGetFunction(") + name + ")");
    return f;
  }

  CUmodule module = nullptr;
  CUfunction zeroFn = nullptr, scatterFn = nullptr;
};

/// Blocks of kWarpsPerBlock warps for `items` rows or positions.
unsigned blocksFor(const char *what, int64_t items) {
  const int64_t blocks = (items + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (blocks > std::numeric_limits<int32_t>::max())
    comm::fatal(std::string(what) + ": " + std::to_string(items) +
                " rows are too many for one launch");
  return static_cast<unsigned>(blocks);
}

void launch(CUfunction f, const char *name, unsigned blocks, void **args) {
  profile::mark(KernelClass::Elementwise);
  check(driver().cuLaunchKernel(f, blocks, 1, 1, kBlock, 1, 1, 0,
                                computeStream(), args, nullptr),
        std::string("cuLaunchKernel(") + name + ")");
}

} // namespace

namespace {
void embeddingGrad(lmcrt_unranked_memref *grad, lmcrt_unranked_memref *ids,
                   lmcrt_unranked_memref *table_grad, int64_t offset,
                   bool accumulate) {
  const char *what =
      accumulate ? "gpu_embedding_grad_acc" : "gpu_embedding_grad";
  requireReady(what);
  MemrefView<float> G(grad), W(table_grad);
  MemrefView<int32_t> I(ids);
  if (G.rank() != 3 || I.rank() != 2 || W.rank() != 2)
    comm::fatal(std::string(what) + ": inconsistent ranks");
  if (I.size(0) != G.size(0) || I.size(1) != G.size(1) ||
      W.size(1) != G.size(2))
    comm::fatal(std::string(what) + ": ids " + I.shapeString() + ", gradient " +
                G.shapeString() + " and table gradient " + W.shapeString() +
                " do not match");
  if (G.size(2) > std::numeric_limits<int32_t>::max())
    comm::fatal(std::string(what) + ": too many channels");
  long long V = W.size(0), T = G.size(1), N = G.size(0) * G.size(1),
            off = offset;
  int C = static_cast<int>(W.size(1));
  if (V == 0 || C == 0)
    return;
  TableStrides ts{W.stride(0), W.stride(1)};
  if (!accumulate) {
    void *args[] = {&W.data, &ts, &V, &C};
    launch(EmbeddingKernels::get().zero(), "lmc_embedding_grad_zero",
           blocksFor(what, V), args);
  }
  if (N == 0)
    return;
  GradStrides gs{G.stride(0), G.stride(1), G.stride(2)};
  IdStrides is{I.stride(0), I.stride(1)};
  void *args[] = {&G.data, &gs, &I.data, &is, &W.data, &ts,
                  &T,      &N,  &V,      &C,  &off};
  launch(EmbeddingKernels::get().scatter(), "lmc_embedding_grad_scatter",
         blocksFor(what, N), args);
}
} // namespace

extern "C" void _mlir_ciface_lmcrt_gpu_embedding_grad_f32(
    lmcrt_unranked_memref *grad, lmcrt_unranked_memref *ids,
    lmcrt_unranked_memref *table_grad, int64_t offset) {
  step_graph::Gate gate("gpu_embedding_grad_f32", grad, ids, table_grad,
                        offset);
  if (gate.skip())
    return;
  embeddingGrad(grad, ids, table_grad, offset, /*accumulate=*/false);
}

extern "C" void _mlir_ciface_lmcrt_gpu_embedding_grad_acc_f32(
    lmcrt_unranked_memref *grad, lmcrt_unranked_memref *ids,
    lmcrt_unranked_memref *table_grad, int64_t offset) {
  step_graph::Gate gate("gpu_embedding_grad_acc_f32", grad, ids, table_grad,
                        offset);
  if (gate.skip())
    return;
  embeddingGrad(grad, ids, table_grad, offset, /*accumulate=*/true);
}
