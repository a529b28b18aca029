//===- CudaDevice.h - The GPU of this process -------------------*- C++ -*-===//
//
// One GPU per process, chosen by its local rank (modulo the number of GPUs),
// in the driver's primary context. Buffers are device memory (cuMemAlloc);
// the host reaches them through copies on the compute stream
// (cuMemcpyAsync, then a wait). Memory shared with the host, for the
// scalars compiled host code loads and stores, is managed memory
// (cuMemAllocManaged, attached globally) from a small pool: slots of 256
// bytes carved from 64 KiB blocks and recycled, so that a step's scalars
// neither call the driver nor share pages with its activations. All compiled work (kernels,
// GEMMs) runs in order on one compute stream; collectives run on a stream
// of their own (Nccl.cpp), and the compute stream waits for them on the
// device. The host waits for the compute stream in synchronizeCompute():
// while collectives are outstanding, NCCL installs a hook that polls with a
// timeout instead of blocking in the driver.
//
// initDevice() reports a machine without a usable GPU (no driver library,
// cuInit failing, CUDA_ERROR_STUB_LIBRARY from the toolkit's stub,
// CUDA_ERROR_NO_DEVICE, no device) as NoGpuError; every other driver error
// ends the job with the call and CUDA's error name and text (Driver.h).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_CUDADEVICE_H
#define LMC_LIB_RUNTIME_CUDA_CUDADEVICE_H

#include "Core/Device.h"

#include <cuda.h>

#include <string>

namespace lmcrt::cuda {

/// The CUDA implementation of lmcrt::device::Device.
device::Device &cudaDevice();

/// Registers cudaDevice() as the process's device (the CUDA runtime's
/// `main` does, before lmcrt_main).
void registerCudaDevice();

/// Initialises the GPU for `localRank`; false with `reason` when there is
/// no usable GPU (instead of NoGpuError). For the tests.
bool tryInitDevice(int localRank, std::string &reason);

/// True once the GPU is initialised.
bool ready();

/// Ends the job unless the GPU is initialised (`what`: the caller), and
/// makes its context current on the calling thread.
void requireReady(const char *what);

/// The compute stream (requireReady first).
CUstream computeStream();

/// Blocks the host until the work queued on the compute stream is done:
/// the synchronize hook when one is installed, else cuStreamSynchronize.
/// Device::synchronize, Device::release and mgpuStreamSynchronize (of the
/// compute stream) come here.
void synchronizeCompute();

/// Installs `hook` (null: none) to do synchronizeCompute's waiting. NCCL's
/// polls the stream and the communicators while collectives are
/// outstanding (Nccl.cpp).
void setSynchronizeHook(void (*hook)());

/// The device ordinal in use, and the one requested by
/// mgpuSetDefaultDevice (-1: none).
int deviceOrdinal();
void requestOrdinal(int ordinal);

} // namespace lmcrt::cuda

#endif // LMC_LIB_RUNTIME_CUDA_CUDADEVICE_H
