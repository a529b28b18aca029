//===- Compile.h - What `lmc compile` does ----------------------*- C++ -*-===//
//
// The library behind `lmc compile`: parse a model, run the training and
// lowering pipelines, generate code for the host in process and link it with
// the lmc runtime into an executable; for --target cuda, the GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DRIVER_COMPILE_H
#define LMC_DRIVER_COMPILE_H

#include "llvm/Support/LogicalResult.h"

#include <string>

namespace mlir::lmc {

/// What `lmc compile` produces. `Ptx` is the GPU kernels of `--target cuda`.
enum class EmitKind { Mlir, Llvm, Obj, Exe, Ptx };

struct CompileOptions {
  std::string input;
  std::string output;
  std::string target = "cpu";
  EmitKind emit = EmitKind::Exe;
  /// When set, the IR after every stage is written there as NN-stage.mlir.
  std::string dumpDir;
  std::string recompute = "none";
  /// decomposed or flash; empty: flash (the runtime's attention kernels,
  /// on the CPU or on the GPU).
  std::string attention;
  std::string weightDecayOn = "matrices";
  /// The mesh of ranks (lmc-shard), ZeRO stage, gradient bucket size,
  /// asynchronous all-reduces, and whether to print lmc-shard's report.
  std::string mesh = "dp=1,tp=1";
  unsigned zero = 0;
  int64_t bucketBytes = 25 * 1024 * 1024;
  bool overlap = true;
  bool report = false;
  /// Fusion groups (lmc-fuse): one loop nest per group.
  bool fuse = true;
  /// GEMM epilogues (lmc-gemm-epilogues): bias and tanh GELU in the GEMM
  /// call; only with `fuse`.
  bool gemmEpilogues = true;
  /// --target cuda: launches chained without host waits
  /// (lmc-gpu-async-launches).
  bool asyncLaunches = true;
  /// The static runtime library linked into executables, and for
  /// --target cuda the GPU runtime linked before it.
  std::string runtimeLibrary;
  std::string cudaRuntimeLibrary;
  /// Compute precision of the GEMMs: fp32, tf32 or bf16 (float32 storage,
  /// accumulation, master weights and optimizer state in all three).
  std::string precision = "fp32";
  /// The C++ compiler driver used to link.
  std::string linker = "c++";
  /// LLVM optimisation level, 0 to 3.
  unsigned optLevel = 3;
  /// Polynomial float32 exp/log/tanh/erf (lmc-approximate-math) instead of
  /// libm calls.
  bool approximateMath = true;
  /// Outer loop dimensions on OpenMP threads (the runtime's pool).
  bool threads = true;
  /// Print the time of each stage to stderr.
  bool timing = false;
  /// --target cuda: the GPU architecture (sm_90 or sm_80) and the CUDA
  /// toolkit whose libdevice is linked into the kernels.
  std::string cudaArch = "sm_90";
  std::string cudaToolkit;
};

/// Runs `lmc compile`; diagnostics go to stderr.
llvm::LogicalResult compile(const CompileOptions &options);

} // namespace mlir::lmc

#endif // LMC_DRIVER_COMPILE_H
