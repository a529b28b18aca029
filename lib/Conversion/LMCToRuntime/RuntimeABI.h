//===- RuntimeABI.h - The runtime's C ABI, as the compiler sees it -*- C++ -*-//
//
// One table of the functions of include/lmc/Runtime/lmcrt.h that generated
// code calls: for each, its symbol in the CPU runtime (liblmcrt.a) and in
// the GPU runtime (lib/Runtime/Cuda), its arguments and result, and whether
// the GPU form is ordered on the rank's compute stream. convert-lmc-to-runtime
// emits every call into the runtime from it; RuntimeABI.cpp is the one
// compiler file that spells the runtime's symbols.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_CONVERSION_LMCTORUNTIME_RUNTIMEABI_H
#define LMC_LIB_CONVERSION_LMCTORUNTIME_RUNTIMEABI_H

#include "lmc/Support/Options.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace mlir::lmc::runtime {

/// Where the program's buffers live, hence which runtime's function a call
/// names.
enum class Device { CPU, GPU };

/// The runtime's functions that generated code calls.
enum class Function {
  Gemm,
  GemmBias,
  /// The GEMMs on bfloat16 A and B (lmc-bf16-storage): C float32, or
  /// bfloat16 (`...OutBf16`); the epilogue's bias and pre-activation of
  /// C's type.
  GemmBf16,
  GemmBf16OutBf16,
  GemmBiasBf16,
  GemmBiasBf16OutBf16,
  EmbeddingGrad,
  EmbeddingGradAcc,
  AttentionFwd,
  AttentionBwd,
  /// Attention on the GPU's tensor cores, for programs whose GEMMs run in
  /// bf16 (no CPU symbol: the CPU's attention is float32 at every precision).
  AttentionFwdBf16,
  AttentionBwdBf16,
  /// Attention on bfloat16 activations (lmc-bf16-storage), both targets:
  /// bf16 inputs, and float32 or (InOut) bf16 outputs.
  AttentionFwdBf16In,
  AttentionFwdBf16InOut,
  AttentionBwdBf16In,
  AttentionBwdBf16InOut,
  AllReduce,
  AllGather,
  ReduceScatter,
  AllReduceStart,
  AllGatherStart,
  ReduceScatterStart,
  CollectiveWait,
  SendF32,
  SendI64,
  RecvStartF32,
  RecvStartI64,
  AxisIndex,
  // The GPU runtime's row kernels (no CPU symbol: on the CPU these ops are
  // loops).
  LayerNormFwd,
  LayerNormBwd,
  RmsNormFwd,
  RmsNormBwd,
  CrossEntropyFwd,
  CrossEntropyBwd,
  /// CrossEntropyBwd writing a bfloat16 gradient, the norms' forward passes
  /// writing a bfloat16 output (lmc-bf16-storage).
  CrossEntropyBwdBf16,
  LayerNormFwdBf16,
  RmsNormFwdBf16,
  SoftmaxFwd,
  SoftmaxBwd,
  /// The sum of a float32 tensor (or of its squares) into a scalar, one
  /// parallel kernel (lib/Runtime/Cuda/SumKernels.cu): GPU only.
  SumF32,
  /// The LM head's chunked loss (lmc.buffer_head_loss): CPU only.
  HeadCrossEntropy,
};

/// The compute precision argument of the GEMMs (lmcrt.h's
/// LMCRT_PRECISION_*).
enum class Precision : int32_t { FP32 = 0, TF32 = 1, BF16 = 2 };

/// The epilogue argument of the biased GEMM (lmcrt.h's LMCRT_GEMM_BIAS*).
enum class GemmEpilogue : int32_t { Bias = 0, BiasGeluTanh = 1 };

/// One function of the ABI.
struct Entry {
  Function function;
  /// The symbol of the CPU runtime's function, null when there is none.
  const char *cpuName;
  /// The symbol of the GPU runtime's function, null when there is none.
  /// Functions without buffers (the axis index) run on the host and have
  /// the CPU symbol here too.
  const char *gpuName;
  /// Whether the GPU function queues its work on the rank's compute stream,
  /// in order with the kernels (lmc-gpu-async-launches need not wait before
  /// calling it).
  bool gpuStreamOrdered;
  /// The arguments, one letter each: `m` a buffer (an unranked memref of
  /// the operand's element type, passed through the C interface), `i` an
  /// `i32`, `l` an `i64`, `d` an `f64`.
  const char *arguments;
  /// The result: `-` none, `l` an `i64`.
  char result;

  /// The symbol on `device`, null when the device has none.
  const char *getName(Device device) const {
    return device == Device::CPU ? cpuName : gpuName;
  }
  bool takesBuffers() const { return llvm::StringRef(arguments).contains('m'); }
};

/// The entry of `function`.
const Entry &lookup(Function function);

/// Every entry of the table.
llvm::ArrayRef<Entry> entries();

/// The ABI's code of a compute precision (the `precision` argument of the
/// GEMM entry points).
Precision abiPrecision(::mlir::lmc::Precision precision);

/// The device named `name` (cpu, gpu).
std::optional<Device> parseDevice(llvm::StringRef name);

} // namespace mlir::lmc::runtime

#endif // LMC_LIB_CONVERSION_LMCTORUNTIME_RUNTIMEABI_H
