//===- Compile.h - What `lmc compile` does ----------------------*- C++ -*-===//
//
// The library behind `lmc compile`: parse a model, run the training and
// lowering pipelines, generate code for the host in process and link it with
// the lmc runtime into an executable; for --target cuda, the GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DRIVER_COMPILE_H
#define LMC_DRIVER_COMPILE_H

#include "lmc/Pipelines/Pipelines.h"

#include "llvm/Support/LogicalResult.h"

#include <string>
#include <vector>

namespace mlir::lmc {

/// What `lmc compile` produces. `Ptx` is the GPU kernels of `--target cuda`.
enum class EmitKind { Mlir, Llvm, Obj, Exe, Ptx };

struct CompileOptions {
  std::string input;
  std::string output;
  EmitKind emit = EmitKind::Exe;
  /// When set, the IR after every stage is written there as NN-stage.mlir.
  std::string dumpDir;
  /// The options of the stages (lib/Pipelines chooses their passes).
  CompilePipelineOptions pipeline;
  /// Passes added to the stages (`--passes-after`).
  std::vector<ExtraPasses> extraPasses;
  /// The static runtime library linked into executables, and for
  /// --target cuda the GPU runtime linked before it.
  std::string runtimeLibrary;
  std::string cudaRuntimeLibrary;
  /// The C++ compiler driver used to link.
  std::string linker = "c++";
  /// Print the time of each stage to stderr.
  bool timing = false;
  /// Threads that optimise and compile the LLVM module's partitions
  /// (0: one per core); the executable does not depend on it.
  unsigned jobs = 0;
};

/// Runs `lmc compile`; diagnostics go to stderr.
llvm::LogicalResult compile(const CompileOptions &options);

} // namespace mlir::lmc

#endif // LMC_DRIVER_COMPILE_H
