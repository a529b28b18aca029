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
#if LMCRT_DNNL_MATMUL
  resolve(api.engineCreate, "dnnl_engine_create");
  resolve(api.streamCreate, "dnnl_stream_create");
  resolve(api.memoryDescInitByStrides, "dnnl_memory_desc_init_by_strides");
  resolve(api.matmulDescInit, "dnnl_matmul_desc_init");
  resolve(api.primitiveAttrCreate, "dnnl_primitive_attr_create");
  resolve(api.primitiveAttrDestroy, "dnnl_primitive_attr_destroy");
  resolve(api.primitiveAttrSetPostOps, "dnnl_primitive_attr_set_post_ops");
  resolve(api.postOpsCreate, "dnnl_post_ops_create");
  resolve(api.postOpsAppendSum, "dnnl_post_ops_append_sum");
  resolve(api.postOpsDestroy, "dnnl_post_ops_destroy");
  resolve(api.primitiveDescCreate, "dnnl_primitive_desc_create");
  resolve(api.primitiveDescQuery, "dnnl_primitive_desc_query");
  resolve(api.primitiveDescDestroy, "dnnl_primitive_desc_destroy");
  resolve(api.primitiveCreate, "dnnl_primitive_create");
  resolve(api.primitiveExecute, "dnnl_primitive_execute");
  resolve(api.streamWait, "dnnl_stream_wait");
  resolve(api.memoryCreate, "dnnl_memory_create");
  resolve(api.memoryDestroy, "dnnl_memory_destroy");
#endif
  return api;
}

} // namespace

const DnnlApi &dnnl() {
  static const DnnlApi api = load();
  return api;
}

} // namespace lmcrt::kernels
