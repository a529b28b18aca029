//===- Driver.h - The CUDA driver API, loaded at run time -------*- C++ -*-===//
//
// The entry points of libcuda the runtime uses, resolved with dlsym from the
// library named by LMCRT_CUDA_DRIVER (default "libcuda.so.1"). Each member
// is named as cuda.h spells the call, so `driver().cuMemAlloc(...)` reads
// like the API and, through cuda.h's macros, is the versioned entry point
// (cuMemAlloc_v2) whose prototype the header declares.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_DRIVER_H
#define LMC_LIB_RUNTIME_CUDA_DRIVER_H

#include <cuda.h>

#include <string>

// X(function) for every driver entry point the runtime calls.
#define LMCRT_CUDA_DRIVER_FUNCTIONS(X)                                         \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceTotalMem)                                                          \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuCtxSetCurrent)                                                           \
  X(cuCtxSynchronize)                                                          \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamSynchronize)                                                       \
  X(cuStreamQuery)                                                             \
  X(cuStreamWaitEvent)                                                         \
  X(cuEventCreate)                                                             \
  X(cuEventDestroy)                                                            \
  X(cuEventRecord)                                                             \
  X(cuEventSynchronize)                                                        \
  X(cuEventElapsedTime)                                                        \
  X(cuEventQuery)                                                              \
  X(cuModuleLoadData)                                                          \
  X(cuModuleLoadDataEx)                                                        \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuLaunchKernel)                                                            \
  X(cuLaunchKernelEx)                                                          \
  X(cuMemAlloc)                                                                \
  X(cuMemAllocManaged)                                                         \
  X(cuMemFree)                                                                 \
  X(cuMemcpyAsync)                                                             \
  X(cuMemcpy2DAsync)                                                           \
  X(cuMemsetD8Async)                                                           \
  X(cuMemsetD32Async)                                                          \
  X(cuMemsetD16Async)                                                          \
  X(cuMemHostRegister)                                                         \
  X(cuMemHostUnregister)

// X(function) for the entry points of the step's CUDA graph (StepGraph.h):
// resolved when the driver has them (cuFuncGetParamInfo and the _v2/_v3
// forms need a 12.4 driver); without one of them the step runs uncaptured.
#define LMCRT_CUDA_GRAPH_FUNCTIONS(X)                                          \
  X(cuFuncGetParamInfo)                                                        \
  X(cuStreamBeginCapture)                                                      \
  X(cuStreamEndCapture)                                                        \
  X(cuStreamGetCaptureInfo)                                                    \
  X(cuGraphInstantiate)                                                        \
  X(cuGraphLaunch)                                                             \
  X(cuGraphExecDestroy)                                                        \
  X(cuGraphDestroy)                                                            \
  X(cuGraphExecKernelNodeSetParams)                                            \
  X(cuGraphKernelNodeSetParams)                                                \
  X(cuGraphClone)                                                              \
  X(cuGraphNodeFindInClone)                                                    \
  X(cuGraphDestroyNode)                                                        \
  X(cuGraphGetNodes)                                                           \
  X(cuGraphNodeGetDependencies)

namespace lmcrt::cuda {

struct DriverApi {
#define LMCRT_DECLARE(fn) decltype(&::fn) fn = nullptr;
  LMCRT_CUDA_DRIVER_FUNCTIONS(LMCRT_DECLARE)
  LMCRT_CUDA_GRAPH_FUNCTIONS(LMCRT_DECLARE)
#undef LMCRT_DECLARE
  /// The first of LMCRT_CUDA_GRAPH_FUNCTIONS the driver lacks (null: it
  /// has them all).
  const char *missingGraphFunction = nullptr;
};

/// Loads the driver and resolves its entry points, once. Returns false with
/// `reason` set when the library or one of its functions is missing.
bool loadDriver(std::string &reason);

/// The driver's functions; loadDriver must have succeeded.
const DriverApi &driver();

/// "CUDA_ERROR_NAME: description" for `result`.
std::string errorText(CUresult result);

/// Does nothing on CUDA_SUCCESS; otherwise ends the job with one line
/// naming `what` (the call, e.g. "cuMemAllocManaged(1024 bytes)") and the
/// error.
void check(CUresult result, const std::string &what);

} // namespace lmcrt::cuda

#endif // LMC_LIB_RUNTIME_CUDA_DRIVER_H
