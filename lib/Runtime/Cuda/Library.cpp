//===- Library.cpp - Shared libraries opened at run time ------------------===//

#include "Cuda/Library.h"

#include "Comm/Collectives.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>

namespace lmcrt::cuda {

bool Library::open(const std::vector<std::string> &paths, std::string &error) {
  error.clear();
  for (const std::string &path : paths) {
    handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) {
      opened = path;
      return true;
    }
    const char *why = ::dlerror();
    error += (error.empty() ? "" : "; ") + std::string(why ? why : path);
  }
  return false;
}

bool Library::search(const LibrarySearch &search, std::string &error) {
  OpenedLibrary lib = openLibrary(search, error);
  if (!lib.handle)
    return false;
  handle = lib.handle;
  opened = lib.path;
  return true;
}

LibrarySearch cudaLibrarySearch(const std::string &what,
                                const std::string &overrideVariable,
                                const std::vector<std::string> &sonames) {
  LibrarySearch search;
  search.what = what;
  search.overrideVariable = overrideVariable;
  search.sonames = sonames;
#ifdef LMCRT_CUDA_TOOLKIT_DIR
  search.directories = cudaToolkitLibDirs(LMCRT_CUDA_TOOLKIT_DIR);
#else
  search.directories = cudaToolkitLibDirs("");
#endif
  const char *path = std::getenv("PATH");
  const char *home = std::getenv("HOME");
  for (const std::string &dir : nvidiaPackageLibDirs(
           pythonSitePackages(path ? path : "", home ? home : "")))
    search.directories.push_back(dir);
  return search;
}

LibrarySearch cublasLtLibrarySearch() {
  return cudaLibrarySearch("cuBLASLt (the GPU GEMMs)", "LMCRT_CUBLASLT_LIBRARY",
                           {"libcublasLt.so.13", "libcublasLt.so.12"});
}

LibrarySearch ncclLibrarySearch() {
  return cudaLibrarySearch("NCCL (the GPU collectives)", "LMCRT_NCCL_LIBRARY",
                           {"libnccl.so.2"});
}

void missingLibrary(const std::string &error) {
  std::string line = "lmcrt: ";
  if (comm::world() > 1)
    line += "rank " + std::to_string(comm::rank()) + ": ";
  line += error + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  comm::abortAll(kMissingLibraryExit);
}

void *Library::find(const char *symbol) const {
  return handle ? ::dlsym(handle, symbol) : nullptr;
}

} // namespace lmcrt::cuda
