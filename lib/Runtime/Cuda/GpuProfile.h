//===- GpuProfile.h - LMCRT_PROFILE=1 on the GPU: time by class -*- C++ -*-===//
//
// With LMCRT_PROFILE=1, every piece of work the runtime queues on the
// compute stream first calls mark(class) (a kernel launch with its kernel's
// class, a GEMM, attention, the embedding gradient, a copy or fill, the wait
// for a collective), and where the class changes an event is recorded on
// the stream: a launch group is the run of work of one class between two
// events. synchronizeCompute() marks a host wait before it blocks (the
// stream is idle from then until the next work: the host reading results,
// loading the next batch) and, once the stream is done, adds the elapsed
// time between consecutive events to the group's class (ProfileTable.h).
// The table is printed on stderr at exit. Without LMCRT_PROFILE=1 mark()
// returns at once and records nothing.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_GPUPROFILE_H
#define LMC_LIB_RUNTIME_CUDA_GPUPROFILE_H

#include "Cuda/ProfileTable.h"

#include <cuda.h>

namespace lmcrt::cuda::profile {

/// True when LMCRT_PROFILE=1.
bool enabled();

/// Work of class `c` is about to be queued on the compute stream.
void mark(KernelClass c);

/// The class of a kernel function (by the name it was loaded with).
void nameFunction(CUfunction f, const char *name);
KernelClass classOf(CUfunction f);

/// Called by synchronizeCompute: before it blocks, and after the stream is
/// done (the events so far are complete).
void beforeWait();
void afterWait();

} // namespace lmcrt::cuda::profile

#endif // LMC_LIB_RUNTIME_CUDA_GPUPROFILE_H
