//===- SharedLibrary.h - Libraries the runtime opens itself -----*- C++ -*-===//
//
// The libraries a trainer needs only on some paths are opened with dlopen
// when first used, never linked: MPI (a process started by mpirun), oneDNN
// (a CPU GEMM), and for `--target cuda` the driver, cuBLASLt and NCCL. So a
// GPU trainer for one GPU starts on a machine with neither MPI nor oneDNN.
//
// A search (LibrarySearch) tries, in order: the override variable (a path;
// when set, nothing else is tried), each soname on the loader's own path
// (LD_LIBRARY_PATH, the run path, ld.so.cache), then each soname in each of
// the extra directories (the CUDA toolkit's, the `nvidia/*/lib` folders of
// the Python packages). When nothing loads, the one-line error lists every
// place it looked and what the loader said.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CORE_SHAREDLIBRARY_H
#define LMC_LIB_RUNTIME_CORE_SHAREDLIBRARY_H

#include <string>
#include <vector>

namespace lmcrt {

/// The exit status of a trainer that cannot load a library it needs (the
/// shell's "command not found or not loadable").
constexpr int kMissingLibraryExit = 127;

struct LibrarySearch {
  /// What it is for, in messages: "cuBLASLt (the GPU GEMMs)".
  std::string what;
  /// Its variable (LMCRT_CUBLASLT_LIBRARY): a path tried first and alone.
  std::string overrideVariable;
  /// The names tried, best first: libcublasLt.so.13, libcublasLt.so.12.
  std::vector<std::string> sonames;
  /// Folders tried after the loader's path, in order.
  std::vector<std::string> directories;
  /// dlopen's flags (RTLD_NOW | RTLD_LOCAL unless set).
  int flags = 0;
};

/// A successful search: the handle and the path opened.
struct OpenedLibrary {
  void *handle = nullptr;
  std::string path;
};

/// Runs `search`; on failure returns a null handle and sets `error` to one
/// line naming every place it looked.
OpenedLibrary openLibrary(const LibrarySearch &search, std::string &error);

/// The site-packages and dist-packages folders that exist: those of each
/// `python3` on `path` (its prefix's lib/python3*/site-packages, found
/// without running it, following the link to the real interpreter too),
/// of $VIRTUAL_ENV and $CONDA_PREFIX, of `home`/.local, of pyenv's versions
/// ($PYENV_ROOT or `home`/.pyenv), and the usual system roots
/// (/usr/local/lib, /usr/lib, /opt/conda/lib). `path` and `home` are
/// PATH and HOME; `systemRoot` prefixes the system roots (tests).
std::vector<std::string> pythonSitePackages(const std::string &path,
                                            const std::string &home,
                                            const std::string &systemRoot = "");

/// The `nvidia/*/lib` folders (the CUDA libraries of NVIDIA's Python
/// packages: nvidia/cublas/lib, nvidia/nccl/lib, nvidia/cu13/lib) under
/// `sitePackages`, in order.
std::vector<std::string>
nvidiaPackageLibDirs(const std::vector<std::string> &sitePackages);

/// The folders where the CUDA toolkit's libraries are, in order: $CUDA_HOME,
/// $CUDA_PATH, `builtToolkit` (the toolkit lmc was built with), then
/// /usr/local/cuda and /usr/local/cuda-* (newest first), each's lib64, lib
/// and targets/x86_64-linux/lib that exist.
std::vector<std::string> cudaToolkitLibDirs(const std::string &builtToolkit,
                                            const std::string &systemRoot = "");

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_CORE_SHAREDLIBRARY_H
