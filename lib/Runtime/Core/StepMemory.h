//===- StepMemory.h - One planned arena for the training step ---*- C++ -*-===//
//
// Compiled code allocates and frees its buffers through
// `_mlir_memref_to_llvm_alloc` / `_mlir_memref_to_llvm_free` (the lowering's
// generic allocation functions, which lmc compile selects). The runtime
// implements them here, so that the training step does not call malloc once
// it is warm:
//
// - the first step runs on malloc while the sequence of its allocations
//   (sizes) and their lifetimes (allocation and free times) is recorded;
// - from it, a plan places every buffer at an offset in one arena so that
//   buffers alive at the same time do not overlap (largest first, each at the
//   lowest offset free over its lifetime);
// - later steps take the k-th allocation from the plan's k-th offset.
//
// Batch and sequence lengths are fixed for a run, so every step allocates
// the same sequence; if a step ever differs (a size or the count), the rest
// of that step falls back to malloc and the next step records anew.
// Allocations from other threads, and outside a step (evaluation, logits,
// the model description), are individual allocations. Frees tell arena
// pointers from the others by address.
//
// Every allocation comes from lmcrt::device (Device.h): host memory on the
// CPU, device memory once a GPU is initialised, so that the arena is one
// device allocation planned once per run (the few buffers the host code
// reads itself are `gpu.alloc host_shared`, not from here). Buffers that compiled code
// returns (the model description, logits) are released with
// _mlir_memref_to_llvm_free.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_STEPMEMORY_H
#define LMC_LIB_RUNTIME_STEPMEMORY_H

#include <cstddef>
#include <cstdint>

namespace lmcrt::step_memory {

/// Marks the start and the end of one training step on the calling thread.
void begin();
void end();

/// True inside a step that places its buffers by the plan and has not left
/// it (every buffer at the address it had in the previous planned step).
bool replayingPlan();

/// The number of steps begun so far (the GPU profile's per-step figures).
int64_t stepsBegun();

/// Bytes of the arena (0 before the plan exists), and the number of
/// buffers the plan places.
size_t arenaBytes();
size_t plannedBuffers();
/// Sum of the sizes of all planned buffers (what malloc would hand out if
/// nothing were reused).
size_t plannedTotalBytes();

} // namespace lmcrt::step_memory

extern "C" {
/// The lowering's allocation functions, implemented in StepMemory.cpp.
void *_mlir_memref_to_llvm_alloc(uint64_t size);
void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment, uint64_t size);
void _mlir_memref_to_llvm_free(void *ptr);
}

#endif // LMC_LIB_RUNTIME_STEPMEMORY_H
