//===- Dnnl.h - oneDNN, opened at run time ----------------------*- C++ -*-===//
//
// The CPU GEMMs run on oneDNN's dnnl_sgemm, but the runtime links no oneDNN:
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

namespace lmcrt::kernels {

/// The oneDNN functions the runtime calls (decltype of oneDNN's own
/// prototypes: no link reference).
struct DnnlApi {
  decltype(&::dnnl_sgemm) sgemm = nullptr;
  decltype(&::dnnl_version) version = nullptr;
  decltype(&::dnnl_cpu_isa2str) cpuIsaToString = nullptr;
  decltype(&::dnnl_get_effective_cpu_isa) effectiveCpuIsa = nullptr;
};

/// The table, loading oneDNN on first use (exits 127 when it cannot).
const DnnlApi &dnnl();

} // namespace lmcrt::kernels

#endif // LMC_LIB_RUNTIME_KERNELS_DNNL_H
