//===- Sum.cpp - Sums of a tensor to a scalar on the GPU ------------------===//
//
// lmcrt_gpu_sum_f32 (lmcrt.h): what a `target cuda` program's float32 sums
// to a scalar become (the gradients' squared norms for clipping, the last
// step of a fusion group's sum over its rows), instead of a kernel per
// chunk of partial sums and a one-thread kernel at the end. The kernels are
// SumKernels.cu, compiled by nvcc into a fatbin that CMake embeds
// (lmcrtSumFatbin), loaded at the first call; they run in order on the
// compute stream, the chunks' sums in a small device buffer reused by later
// calls. How the input splits: SumPlan.h.
//
//===----------------------------------------------------------------------===//

#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/StepGraph.h"
#include "Cuda/SumPlan.h"

#include "Comm/Collectives.h"
#include "Core/MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <string>

extern "C" const unsigned char lmcrtSumFatbin[];
extern "C" const size_t lmcrtSumFatbinSize;

using namespace lmcrt;
using namespace lmcrt::cuda;

namespace {

static_assert(kSumOneBlock == LMCRT_SUM_ONE_BLOCK,
              "lmcrt.h and SumPlan.h disagree");

/// SumKernels.cu's SumIndex.
struct SumIndex {
  long long size1, size2, size3;
  long long stride0, stride1, stride2, stride3;
  int flat;
};

class SumKernels {
public:
  static SumKernels &get() {
    static SumKernels kernels;
    return kernels;
  }

  CUfunction function(const char *name, CUfunction &slot) {
    if (!module)
      check(driver().cuModuleLoadData(&module, lmcrtSumFatbin),
            "cuModuleLoadData (sum kernels)");
    if (!slot)
      check(driver().cuModuleGetFunction(&slot, module, name),
            std::string("cuModuleGetFunction(") + name + ")");
    return slot;
  }

  CUfunction chunks() { return function("lmc_sum_chunks", chunksFn); }
  CUfunction finalKernel() { return function("lmc_sum_final", finalFn); }

  /// The chunks' sums (at most kSumMaxChunks floats), allocated once; the
  /// calls that use it are ordered on the compute stream.
  float *partials() {
    if (!partialsBuffer)
      check(driver().cuMemAlloc(&partialsBuffer, sizeof(float) * kSumMaxChunks),
            "cuMemAlloc (sum kernels)");
    return reinterpret_cast<float *>(partialsBuffer);
  }

private:
  CUmodule module = nullptr;
  CUfunction chunksFn = nullptr, finalFn = nullptr;
  CUdeviceptr partialsBuffer = 0;
};

[[noreturn]] void fail(const std::string &message) {
  comm::fatal("gpu_sum_f32: " + message);
}

/// SumKernels.cu's index of `v`'s elements (SumPlan.h's sumLayout).
SumIndex sumIndex(const MemrefView<float> &v) {
  const SumLayout l = sumLayout(v.sizes, v.strides);
  if (!l.ok)
    fail("input " + v.shapeString() +
         " has more than 4 dimensions that are "
         "not contiguous with each other");
  return {l.sizes[1],   l.sizes[2],   l.sizes[3],   l.strides[0],
          l.strides[1], l.strides[2], l.strides[3], l.flat ? 1 : 0};
}

void launch(CUfunction f, const char *name, unsigned blocks, void **args) {
  profile::mark(KernelClass::RowReduction);
  check(driver().cuLaunchKernel(f, blocks, 1, 1, kSumBlock, 1, 1, 0,
                                computeStream(), args, nullptr),
        std::string("cuLaunchKernel(") + name + ")");
}

} // namespace

extern "C" void _mlir_ciface_lmcrt_gpu_sum_f32(lmcrt_unranked_memref *in,
                                               lmcrt_unranked_memref *out,
                                               int32_t square) {
  step_graph::Gate gate("gpu_sum_f32", in, out, square);
  if (gate.skip())
    return;
  requireReady("gpu_sum_f32");
  MemrefView<float> X(in), Y(out);
  if (X.rank() < 1 || X.rank() > 4)
    fail("input " + X.shapeString() + " is not of rank 1 to 4");
  if (Y.numElements() != 1)
    fail("output " + Y.shapeString() + " is not a scalar");
  if (square != 0 && square != 1)
    fail("square is " + std::to_string(square) + ", not 0 or 1");
  SumKernels &kernels = SumKernels::get();
  long long n = X.numElements();
  SumIndex ix = sumIndex(X);
  int sq = square;
  const SumPlan plan = planSum(n);
  if (plan.chunks == 0) {
    void *args[] = {&X.data, &ix, &n, &sq, &Y.data};
    launch(kernels.finalKernel(), "lmc_sum_final", 1, args);
    return;
  }
  float *partials = kernels.partials();
  long long chunk = plan.chunk, chunks = plan.chunks;
  void *cargs[] = {&X.data, &ix, &n, &chunk, &sq, &partials};
  launch(kernels.chunks(), "lmc_sum_chunks", static_cast<unsigned>(chunks),
         cargs);
  SumIndex flat{1, 1, chunks, 0, 0, 0, 1, 1};
  int identity = 0;
  void *fargs[] = {&partials, &flat, &chunks, &identity, &Y.data};
  launch(kernels.finalKernel(), "lmc_sum_final", 1, fargs);
}
