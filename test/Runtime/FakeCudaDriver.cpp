//===- FakeCudaDriver.cpp - A libcuda stand-in that logs its calls --------===//
//
// A shared library with the driver entry points the GPU runtime resolves
// (Driver.h), each defined with cuda.h's own prototype (so under the
// versioned name the runtime looks up), that work on host memory and log
// each call ("cuMemAlloc_v2 1000"). Loaded with LMCRT_CUDA_DRIVER by
// lmcrt-fake-driver-tests (FakeDriverTest.cpp), which reads the log through
// lmcrt_fake_cuda_log to check which calls the runtime makes: allocation
// kinds, copies, the shared pool, the profile's events. Nothing runs:
// kernels are not launched, events complete at once, 1 ms apart.
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {
std::string &log() {
  static std::string text;
  return text;
}
void note(const std::string &line) { log() += line + "\n"; }
CUresult ok(const char *name) {
  note(name);
  return CUDA_SUCCESS;
}
int dummy;
} // namespace

extern "C" {
const char *lmcrt_fake_cuda_log() { return log().c_str(); }
void lmcrt_fake_cuda_clear() { log().clear(); }

CUresult CUDAAPI cuGetErrorName(CUresult, const char **s) {
  *s = "CUDA_ERROR_FAKE";
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGetErrorString(CUresult, const char **s) {
  *s = "fake";
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuInit(unsigned int) { return ok("cuInit"); }
CUresult CUDAAPI cuDriverGetVersion(int *v) {
  *v = 13000;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetCount(int *n) {
  *n = 1;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGet(CUdevice *d, int) {
  *d = 0;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice) {
  std::strncpy(name, "Fake GPU", len);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceTotalMem(size_t *bytes, CUdevice) {
  *bytes = size_t(1) << 30;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetAttribute(int *v, CUdevice_attribute, CUdevice) {
  *v = 1;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice) {
  *c = reinterpret_cast<CUcontext>(&dummy);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuCtxSetCurrent(CUcontext) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuCtxSynchronize() { return ok("cuCtxSynchronize"); }
CUresult CUDAAPI cuStreamCreate(CUstream *s, unsigned int) {
  *s = reinterpret_cast<CUstream>(&dummy);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamDestroy(CUstream) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuStreamSynchronize(CUstream) {
  return ok("cuStreamSynchronize");
}
CUresult CUDAAPI cuStreamQuery(CUstream) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuStreamWaitEvent(CUstream, CUevent, unsigned int) {
  return ok("cuStreamWaitEvent");
}
CUresult CUDAAPI cuEventCreate(CUevent *e, unsigned int flags) {
  *e = reinterpret_cast<CUevent>(new int(0));
  note("cuEventCreate flags=" + std::to_string(flags));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventDestroy(CUevent e) {
  delete reinterpret_cast<int *>(e);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventRecord(CUevent, CUstream) {
  return ok("cuEventRecord");
}
CUresult CUDAAPI cuEventSynchronize(CUevent) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuEventElapsedTime(float *ms, CUevent, CUevent) {
  *ms = 1.0f;
  return ok("cuEventElapsedTime");
}
CUresult CUDAAPI cuEventQuery(CUevent) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuModuleLoadData(CUmodule *, const void *) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *, const void *, unsigned int,
                                    CUjit_option *, void **) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuModuleUnload(CUmodule) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuModuleGetFunction(CUfunction *, CUmodule, const char *) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuLaunchKernel(CUfunction, unsigned, unsigned, unsigned,
                                unsigned, unsigned, unsigned, unsigned,
                                CUstream, void **, void **) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig *, CUfunction, void **,
                                  void **) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuMemAlloc(CUdeviceptr *p, size_t bytes) {
  *p = reinterpret_cast<CUdeviceptr>(std::aligned_alloc(256, (bytes + 255) / 256 * 256));
  note("cuMemAlloc " + std::to_string(bytes));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemAllocManaged(CUdeviceptr *p, size_t bytes,
                                   unsigned int flags) {
  *p = reinterpret_cast<CUdeviceptr>(std::aligned_alloc(256, (bytes + 255) / 256 * 256));
  note("cuMemAllocManaged " + std::to_string(bytes) +
       (flags == CU_MEM_ATTACH_GLOBAL ? " global" : " other"));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemFree(CUdeviceptr p) {
  std::free(reinterpret_cast<void *>(p));
  return ok("cuMemFree");
}
CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                               CUstream) {
  std::memcpy(reinterpret_cast<void *>(dst), reinterpret_cast<void *>(src),
              bytes);
  note("cuMemcpyAsync " + std::to_string(bytes));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemcpy2DAsync(const CUDA_MEMCPY2D *, CUstream) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dst, unsigned char value,
                                 size_t n, CUstream) {
  std::memset(reinterpret_cast<void *>(dst), value, n);
  note("cuMemsetD8Async " + std::to_string(n));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr, unsigned int, size_t,
                                  CUstream) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuMemsetD16Async(CUdeviceptr, unsigned short, size_t,
                                  CUstream) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuMemHostRegister(void *, size_t, unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuMemHostUnregister(void *) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
}
