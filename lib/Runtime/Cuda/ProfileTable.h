//===- ProfileTable.h - The GPU step's time by kernel class -----*- C++ -*-===//
//
// LMCRT_PROFILE=1 on a GPU (GpuProfile.h) times the compute stream with CUDA
// events around each launch group and prints, at exit, the time by class:
//
//   lmcrt profile: GPU time by kernel class (CUDA events), 20 steps, 412.6 ms in all
//   class               groups          ms   ms/step       %
//   GEMM                  2940       201.3     10.07      48.8
//   ...
//
// The class of a kernel comes from its name: the GPU pipeline names every
// kernel after the op kernel it was outlined from (lmc-outline-kernels,
// lmc-merge-gpu-modules: `<model>_<op>_<n>_kernel[_<k>]`, a fusion group's
// `fused_<first op>`), so the op names of the lmc dialect decide it; the
// runtime's own work (cuBLASLt, attention, the embedding gradient, NCCL)
// knows its class. No CUDA here: the unit tests run anywhere.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_PROFILETABLE_H
#define LMC_LIB_RUNTIME_CUDA_PROFILETABLE_H

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace lmcrt::cuda {

enum class KernelClass {
  Gemm,
  Attention,
  RowReduction,
  Elementwise,
  Optimizer,
  Collective,
  HostWait,
};
constexpr int kKernelClasses = 7;

/// "GEMM", "attention", "row reductions", "elementwise", "optimizer",
/// "collectives", "host waits".
const char *className(KernelClass c);

/// The class of a compiled kernel from its name (see above): the optimizer
/// (adamw, sgd, the gradient norms and clipping), attention (attention,
/// softmax, causal masks), row reductions (norms, cross-entropy, sums, means,
/// reductions over rows), elementwise otherwise (GELU, SiLU, residual adds,
/// embeddings, copies, fills). `model` (may be empty) is the model's name,
/// a prefix of every kernel's that is ignored.
KernelClass classifyKernel(std::string_view name, std::string_view model);

/// Time per class.
class ProfileTable {
public:
  void add(KernelClass c, double ms, int64_t groups = 1) {
    ms_[static_cast<int>(c)] += ms;
    groups_[static_cast<int>(c)] += groups;
  }
  double ms(KernelClass c) const { return ms_[static_cast<int>(c)]; }
  double totalMs() const;
  /// The table (header and one line per class with time), `steps` training
  /// steps (0: unknown, no per-step column).
  std::string format(int64_t steps) const;

private:
  std::array<double, kKernelClasses> ms_{};
  std::array<int64_t, kKernelClasses> groups_{};
};

} // namespace lmcrt::cuda

#endif // LMC_LIB_RUNTIME_CUDA_PROFILETABLE_H
