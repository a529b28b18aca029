//===- Mpi.cpp - MPI, opened at run time ----------------------------------===//

#include "Comm/Mpi.h"
#include "Core/SharedLibrary.h"

#include <atomic>
#include <cstdio>
#include <dlfcn.h>
#include <string>
#include <unistd.h>

namespace lmcrt::comm {
namespace {

std::atomic<bool> loaded{false};

[[noreturn]] void missing(const std::string &message) {
  std::string line = "lmcrt: " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(kMissingLibraryExit);
}

struct Loaded {
  void *handle = nullptr;
  MpiApi api;
  Loaded() {
    LibrarySearch search;
    search.what = "MPI (OpenMPI's libmpi, for a run under mpirun)";
    search.overrideVariable = "LMCRT_MPI_LIBRARY";
    search.sonames = {"libmpi.so.40"};
#ifdef LMCRT_MPI_LIBRARY_DIR
    search.directories = {LMCRT_MPI_LIBRARY_DIR};
#endif
    // Global: OpenMPI opens its components, which resolve libmpi's symbols.
    search.flags = RTLD_NOW | RTLD_GLOBAL;
    std::string error;
    OpenedLibrary lib = openLibrary(search, error);
    if (!lib.handle)
      missing(error);
    handle = lib.handle;
#define LMCRT_MPI_RESOLVE(name)                                                \
  api.name =                                                                   \
      reinterpret_cast<decltype(api.name)>(::dlsym(handle, "MPI_" #name));     \
  if (!api.name)                                                               \
    missing(lib.path + " has no MPI_" #name);
    LMCRT_MPI_FUNCTIONS(LMCRT_MPI_RESOLVE)
#undef LMCRT_MPI_RESOLVE
    loaded = true;
  }
};

Loaded &library() {
  static Loaded instance;
  return instance;
}

} // namespace

const MpiApi &mpi() { return library().api; }

bool mpiLoaded() { return loaded; }

void *mpiPredefined(const char *symbol) {
  void *address = ::dlsym(library().handle, symbol);
  if (!address)
    missing("the MPI library has no " + std::string(symbol) +
            " (the runtime needs OpenMPI's ABI)");
  return address;
}

} // namespace lmcrt::comm
