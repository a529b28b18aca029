//===- Dnnl.cpp - oneDNN, opened at run time ------------------------------===//

#include "Kernels/Dnnl.h"
#include "Comm/Collectives.h"
#include "Core/SharedLibrary.h"

#include <dlfcn.h>
#include <string>

namespace lmcrt::kernels {
namespace {

DnnlApi load() {
  LibrarySearch search;
  search.what = "oneDNN (the CPU GEMMs)";
  search.overrideVariable = "LMCRT_DNNL_LIBRARY";
#ifdef LMCRT_DNNL_SONAME
  search.sonames = {LMCRT_DNNL_SONAME};
#else
  search.sonames = {"libdnnl.so.3", "libdnnl.so.2"};
#endif
#ifdef LMCRT_DNNL_LIBRARY_DIR
  search.directories = {LMCRT_DNNL_LIBRARY_DIR};
#endif
  std::string error;
  OpenedLibrary lib = openLibrary(search, error);
  if (!lib.handle) {
    // One line; under mpirun every rank ends.
    std::fprintf(stderr, "lmcrt: %s\n", error.c_str());
    comm::abortAll(kMissingLibraryExit);
  }
  DnnlApi api;
  auto resolve = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        ::dlsym(lib.handle, name));
    if (!fn) {
      std::fprintf(stderr, "lmcrt: %s has no %s\n", lib.path.c_str(), name);
      comm::abortAll(kMissingLibraryExit);
    }
  };
  resolve(api.sgemm, "dnnl_sgemm");
  resolve(api.version, "dnnl_version");
  resolve(api.cpuIsaToString, "dnnl_cpu_isa2str");
  resolve(api.effectiveCpuIsa, "dnnl_get_effective_cpu_isa");
  return api;
}

} // namespace

const DnnlApi &dnnl() {
  static const DnnlApi api = load();
  return api;
}

} // namespace lmcrt::kernels
