//===- Dnnl.h - oneDNN, opened at run time ----------------------*- C++ -*-===//
//
// The CPU GEMMs run on oneDNN (dnnl_sgemm in float32 and TF32, its matmul
// primitive for bfloat16: DnnlMatmul.h), but the runtime links no oneDNN:
// the library (40 MB) is opened with dlopen at the first CPU GEMM, so that a
// trainer that never runs one (a `--target cuda` trainer) starts without it.
// After the first call a GEMM costs one more indirect call, nothing else.
//
// The library: $LMCRT_DNNL_LIBRARY if set, else the soname lmc was built
// with (libdnnl.so.2 or .3) on the loader's path, else in the folder it was
// found in at build time. When it cannot be opened the process prints one
// line naming where it looked and exits 127.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_KERNELS_DNNL_H
#define LMC_LIB_RUNTIME_KERNELS_DNNL_H

#include <dnnl.h>
#include <dnnl_debug.h>

// The bfloat16 matmul (DnnlMatmul.cpp) is written against oneDNN 2's API
// (operation descriptors, dnnl_matmul_desc_init); built against another
// major version, bfloat16 GEMMs stay emulated on sgemm.
#if DNNL_VERSION_MAJOR == 2
#define LMCRT_DNNL_MATMUL 1
#else
#define LMCRT_DNNL_MATMUL 0
#endif

namespace lmcrt::kernels {

/// The oneDNN functions the runtime calls (decltype of oneDNN's own
/// prototypes: no link reference).
struct DnnlApi {
  decltype(&::dnnl_sgemm) sgemm = nullptr;
  decltype(&::dnnl_version) version = nullptr;
  decltype(&::dnnl_cpu_isa2str) cpuIsaToString = nullptr;
  decltype(&::dnnl_get_effective_cpu_isa) effectiveCpuIsa = nullptr;
#if LMCRT_DNNL_MATMUL
  // The matmul primitive (DnnlMatmul.cpp).
  decltype(&::dnnl_engine_create) engineCreate = nullptr;
  decltype(&::dnnl_stream_create) streamCreate = nullptr;
  decltype(&::dnnl_memory_desc_init_by_strides) memoryDescInitByStrides =
      nullptr;
  decltype(&::dnnl_matmul_desc_init) matmulDescInit = nullptr;
  decltype(&::dnnl_primitive_attr_create) primitiveAttrCreate = nullptr;
  decltype(&::dnnl_primitive_attr_destroy) primitiveAttrDestroy = nullptr;
  decltype(&::dnnl_primitive_attr_set_post_ops) primitiveAttrSetPostOps =
      nullptr;
  decltype(&::dnnl_post_ops_create) postOpsCreate = nullptr;
  decltype(&::dnnl_post_ops_append_sum) postOpsAppendSum = nullptr;
  decltype(&::dnnl_post_ops_destroy) postOpsDestroy = nullptr;
  decltype(&::dnnl_primitive_desc_create) primitiveDescCreate = nullptr;
  decltype(&::dnnl_primitive_desc_query) primitiveDescQuery = nullptr;
  decltype(&::dnnl_primitive_desc_destroy) primitiveDescDestroy = nullptr;
  decltype(&::dnnl_primitive_create) primitiveCreate = nullptr;
  decltype(&::dnnl_primitive_execute) primitiveExecute = nullptr;
  decltype(&::dnnl_stream_wait) streamWait = nullptr;
  decltype(&::dnnl_memory_create) memoryCreate = nullptr;
  decltype(&::dnnl_memory_destroy) memoryDestroy = nullptr;
#endif
};

/// The table, loading oneDNN on first use (exits 127 when it cannot).
const DnnlApi &dnnl();

} // namespace lmcrt::kernels

#endif // LMC_LIB_RUNTIME_KERNELS_DNNL_H
