//===- HostBackend.h - LLVM IR to host objects, in parallel -----*- C++ -*-===//
//
// The host side of `lmc compile` after translation to LLVM IR: the target
// machine for the host CPU, LLVM's optimisation pipeline, object emission,
// and compileToObjects, which splits the module into independent partitions
// (the entry points in one, compiled at -O0; the kernels in a fixed number
// of others, balanced by size) and optimises and compiles them on a pool of
// threads, each in an LLVM context of its own.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_DRIVER_HOSTBACKEND_H
#define LMC_LIB_DRIVER_HOSTBACKEND_H

#include "mlir/Support/LLVM.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <memory>
#include <string>

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

namespace mlir::lmc::host {

/// A target machine for the host CPU and its features, generating code at
/// `optLevel`; null (with a message on stderr) when LLVM has no target for
/// the host.
std::unique_ptr<llvm::TargetMachine> targetMachine(unsigned optLevel);

/// LLVM's default pipeline at `optLevel` over `module`; `optnone`
/// functions are left alone.
void optimize(llvm::Module &module, llvm::TargetMachine &machine,
              unsigned optLevel);

/// Writes `module` as an object file to `path`.
LogicalResult emitObject(llvm::Module &module, llvm::TargetMachine &machine,
                         StringRef path);

/// The number of partitions of the kernels: fixed, so that the objects (and
/// the executable) do not depend on the number of threads.
constexpr unsigned kKernelPartitions = 8;

/// Optimises `module` at `optLevel` and compiles it to object files, one per
/// partition, written to temporary files whose paths are appended to
/// `objects` (the caller removes them). The functions named in `entries`
/// form a partition of their own, compiled at -O0 without the optimisation
/// pipeline (they are straight-line glue); every other definition goes to
/// one of kKernelPartitions partitions, and the local symbols a partition
/// uses are copied into it. `jobs` threads work at once (0: one per core).
/// `module` is left in an unspecified state.
LogicalResult compileToObjects(llvm::Module &module,
                               ArrayRef<StringRef> entries, unsigned optLevel,
                               unsigned jobs,
                               SmallVectorImpl<std::string> &objects);

} // namespace mlir::lmc::host

#endif // LMC_LIB_DRIVER_HOSTBACKEND_H
