//===- Driver.cpp - The CUDA driver API, loaded at run time ---------------===//

#include "Cuda/Driver.h"

#include "Cuda/Library.h"
#include "Cuda/StepGraph.h"

#include "Comm/Collectives.h"

#include <cstdlib>

namespace lmcrt::cuda {
namespace {

DriverApi api;

/// Names of the results that mean "no usable GPU", for drivers (the
/// toolkit's stub) that cannot name their own errors.
const char *knownName(CUresult result) {
  switch (result) {
  case CUDA_ERROR_NOT_INITIALIZED:
    return "CUDA_ERROR_NOT_INITIALIZED";
  case CUDA_ERROR_STUB_LIBRARY:
    return "CUDA_ERROR_STUB_LIBRARY";
  case CUDA_ERROR_NO_DEVICE:
    return "CUDA_ERROR_NO_DEVICE";
  case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
    return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
  case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
    return "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE";
  default:
    return nullptr;
  }
}

} // namespace

bool loadDriver(std::string &reason) {
  static bool loaded = false;
  static std::string failure;
  if (loaded || !failure.empty()) {
    reason = failure;
    return loaded;
  }
  static Library library;
  const char *override = std::getenv("LMCRT_CUDA_DRIVER");
  std::string path = override && *override ? override : "libcuda.so.1";
  std::string error;
  if (!library.open({path}, error)) {
    failure = "cannot load the CUDA driver " + path + " (" + error + ")";
    reason = failure;
    return false;
  }
#define LMCRT_RESOLVE(fn)                                                      \
  api.fn = reinterpret_cast<decltype(api.fn)>(                                 \
      library.find(LMCRT_CUDA_NAME(fn)));                                      \
  if (!api.fn) {                                                               \
    failure = "the CUDA driver " + path + " has no " LMCRT_CUDA_NAME(fn);      \
    reason = failure;                                                          \
    return false;                                                              \
  }
  LMCRT_CUDA_DRIVER_FUNCTIONS(LMCRT_RESOLVE)
#undef LMCRT_RESOLVE
#define LMCRT_RESOLVE_GRAPH(fn)                                                \
  api.fn =                                                                     \
      reinterpret_cast<decltype(api.fn)>(library.find(LMCRT_CUDA_NAME(fn)));   \
  if (!api.fn && !api.missingGraphFunction)                                    \
    api.missingGraphFunction = LMCRT_CUDA_NAME(fn);
  LMCRT_CUDA_GRAPH_FUNCTIONS(LMCRT_RESOLVE_GRAPH)
#undef LMCRT_RESOLVE_GRAPH
  loaded = true;
  return true;
}

const DriverApi &driver() { return api; }

std::string errorText(CUresult result) {
  const char *name = nullptr, *text = nullptr;
  if (api.cuGetErrorName && api.cuGetErrorName(result, &name) != CUDA_SUCCESS)
    name = nullptr;
  if (api.cuGetErrorString &&
      api.cuGetErrorString(result, &text) != CUDA_SUCCESS)
    text = nullptr;
  if (!name)
    name = knownName(result);
  std::string out = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(": ") + text;
  return out;
}

void check(CUresult result, const std::string &what) {
  if (result == CUDA_SUCCESS)
    return;
  std::string hint;
  if (step_graph::active())
    hint = " (in a step captured or replayed as a CUDA graph; "
           "LMCRT_CUDA_GRAPH=0 runs the steps uncaptured)";
  comm::fatal(what + " failed: " + errorText(result) + hint);
}

} // namespace lmcrt::cuda
