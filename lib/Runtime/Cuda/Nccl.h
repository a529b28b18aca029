//===- Nccl.h - The NCCL communicators of the GPU collectives ---*- C++ -*-===//
//
// The C ABI of the GPU collectives is in Nccl.cpp (lmcrt_gpu_*); this is
// the C++ side the runtime and its tests use.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_NCCL_H
#define LMC_LIB_RUNTIME_CUDA_NCCL_H

namespace lmcrt::cuda::nccl {

/// The number of NCCL communicators open (one per group of mesh axes used).
int openCommunicators();

/// Waits for the compute stream, then finalises and destroys the
/// communicators (ncclCommFinalize, polled with the timeout, then
/// ncclCommDestroy) and frees the collectives' temporaries. Ends the job
/// when collectives were started and never waited. comm::finalize() calls
/// it (before MPI is finalised); the next collective creates its
/// communicator again.
void destroyCommunicators();

} // namespace lmcrt::cuda::nccl

#endif // LMC_LIB_RUNTIME_CUDA_NCCL_H
