//===- Library.h - Shared libraries opened at run time ----------*- C++ -*-===//
//
// The CUDA runtime links no CUDA library: the driver, cuBLASLt and NCCL are
// opened with dlopen when first needed, so that one executable starts on a
// machine without them (and says what is missing).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_LIBRARY_H
#define LMC_LIB_RUNTIME_CUDA_LIBRARY_H

#include "Core/SharedLibrary.h"

#include <string>
#include <vector>

namespace lmcrt::cuda {

/// The search for a CUDA library (cuBLASLt, NCCL): `override` (its
/// LMCRT_*_LIBRARY variable) first, then each of `sonames` on the loader's
/// path (LD_LIBRARY_PATH), in the CUDA toolkit's folders (cudaToolkitLibDirs,
/// the toolkit lmc was built with among them), then in the `nvidia/*/lib`
/// folders of the Python packages (pythonSitePackages of PATH and HOME).
LibrarySearch cudaLibrarySearch(const std::string &what,
                                const std::string &overrideVariable,
                                const std::vector<std::string> &sonames);

/// The searches of cuBLASLt (libcublasLt.so.13, .12; LMCRT_CUBLASLT_LIBRARY)
/// and NCCL (libnccl.so.2; LMCRT_NCCL_LIBRARY).
LibrarySearch cublasLtLibrarySearch();
LibrarySearch ncclLibrarySearch();

/// Prints "lmcrt: `error`" and ends the job with kMissingLibraryExit (127).
[[noreturn]] void missingLibrary(const std::string &error);

/// A library opened with dlopen (never closed: its functions are used until
/// the process exits).
class Library {
public:
  /// Opens the first of `paths` that loads; on failure returns false and
  /// sets `error` to the loader's messages.
  bool open(const std::vector<std::string> &paths, std::string &error);
  /// Runs `search` (SharedLibrary.h); on failure `error` lists where it
  /// looked.
  bool search(const LibrarySearch &search, std::string &error);
  bool isOpen() const { return handle != nullptr; }
  /// The path that was opened.
  const std::string &path() const { return opened; }
  /// The address of `symbol`, or null.
  void *find(const char *symbol) const;

private:
  void *handle = nullptr;
  std::string opened;
};

} // namespace lmcrt::cuda

/// The name a CUDA header's macros give an entry point (cuMemAlloc ->
/// "cuMemAlloc_v2"): the versioned symbol the header's prototype is for.
#define LMCRT_CUDA_NAME(fn) LMCRT_CUDA_NAME_(fn)
#define LMCRT_CUDA_NAME_(fn) #fn

#endif // LMC_LIB_RUNTIME_CUDA_LIBRARY_H
