//===- StepGraph.h - The training step as one CUDA graph --------*- C++ -*-===//
//
// A training step's host code queues ~1,300 operations on the compute
// stream (kernel launches, copies and fills through the mgpu* functions,
// and the GPU runtime's lmcrt_gpu_* calls: GEMMs, attention, row kernels,
// sums, the embedding gradient), then waits once, at its end. Once the step
// arena's plan gives every buffer the same address each step, the runtime
// captures one step as a CUDA graph and replays it: later steps still run
// the compiled host code, but it queues nothing; the host's first wait
// launches the graph once and waits for it.
//
// Steps (the trainer's Device::beginStep/endStep hooks, CudaDevice.cpp):
//
// - Step 0 runs uncaptured: modules load, cuBLASLt picks its algorithms, the
//   arena records. A step is captured only when the arena replays its plan
//   (StepMemory.h), the step is one call of `train_step` (not gradient
//   accumulation's grad_step/apply_step calls, whose host sums the
//   micro-batches' losses), the job is one rank, LMCRT_PROFILE is off and
//   LMCRT_CUDA_GRAPH is not 0.
// - Capture (the first such step): cuStreamBeginCapture on the compute
//   stream (thread-local mode). Every stream operation of the compiled code
//   comes through one gate first (skip(), skipLaunch(), Gate), which
//   records its signature (its kind and the bytes of its arguments: a
//   launch's function, grid, block, shared memory and parameter bytes,
//   sized with cuFuncGetParamInfo; a runtime call's scalars and the
//   descriptors of its memrefs, not the addresses of the descriptors) and,
//   once the operation is queued, the capture's tail
//   (cuStreamGetCaptureInfo): the nodes of operations 0..k are the tail
//   after k and its ancestors, and a launch's node is its tail.
// - Flush: the step's first host wait (synchronizeCompute, a copy to or
//   from the host, which waits) ends the capture, instantiates the graph,
//   launches it, then waits. So does anything the driver forbids while a
//   stream captures (a device or managed allocation: the arena left its
//   plan, the shared pool grew). A flush before the step's end (more gated
//   operations follow it) leaves a graph of part of the step: it is
//   dropped, the rest of the step runs uncaptured, and a host wait in the
//   middle of the step (a host-staged GEMM epilogue, say) turns graphs off
//   for the run, saying so once.
// - Replay (later steps): each gated operation compares its signature with
//   the recorded operation k and queues nothing. A launch that differs only
//   in its parameter bytes (the schedule's learning rate, AdamW's bias
//   corrections, computed by the host code from the step number) has its
//   node patched (cuGraphExecKernelNodeSetParams). Any other difference
//   (another function, grid or runtime call, other arguments, more or fewer
//   operations) is a divergence: the operations already skipped, 0..k-1,
//   run as a graph of their own (a clone of the graph without the later
//   nodes, with this step's patches), the rest of the step runs uncaptured,
//   and the next planned step captures again. So does work that no gate
//   saw (every piece of work first calls profile::mark, which tells the
//   step graph): a runtime function without its gate is then replayed
//   correctly, only slowly, and two such captures in a row turn graphs
//   off. At the flush the graph is launched once (cuGraphLaunch), then the
//   host waits.
// - Frees of device memory, which wait for the stream, are deferred until
//   the step's end while a step is captured or replayed. Events on the
//   compute stream (mgpuEventRecord, mgpuStreamWaitEvent) order nothing in
//   one stream and are dropped meanwhile; mgpuEventSynchronize waits for
//   the stream. Collectives (NCCL's stream) turn graphs off.
//
// The invariant: each operation the compiled code queues runs exactly
// once, in the order queued. Until the flush an operation is either in the
// graph being captured or (replay) a recorded node; the flush launches
// exactly the nodes of the operations gated so far; after it, and after a
// divergence, operations are queued as they come. If the driver fails an
// operation while capturing (an invalidated capture loses every operation
// captured so far), nothing of the step has run on the GPU: the rest of the
// step queues nothing, the flush waits for nothing, and endStep() asks the
// trainer to run the step again, uncaptured, with graphs off for the run.
// A failure inside a runtime function's library (cuBLASLt) ends the job as
// before, its message naming LMCRT_CUDA_GRAPH=0.
//
// Host-shared memory (the scalars compiled host code loads and stores,
// CudaDevice.h). In a replayed step every operation runs after all of the
// step's host code up to its wait. That is one of the schedules the
// uncaptured step already allows (it waits only at its end; the GPU may lag
// the host by any amount), so a host store whose value a replay would get
// wrong (one written twice with a kernel reading it in between, or a slot
// recycled and written while work queued before still reads it) is a race
// in the uncaptured step too. The generated train step stores into no
// buffer and loads none before its wait, and its gpu.memcpy copy only
// between buffers of the GPU's allocations, never from a host stack or
// global value that a later statement could overwrite
// (test/Tools/lmc/cuda-graph-host-shared.test checks this on the GPU
// pipeline's output). Host scalars reach kernels as parameters, which the
// replay compares and patches.
//
// With LMCRT_PROFILE=1 (its events between launch groups), under a
// multi-rank job (collectives run on NCCL's stream, waited for by events
// and polled by the host) and with LMCRT_CUDA_GRAPH=0 every step runs
// uncaptured. When graphs are on, the first replayed step prints one line:
//   lmcrt: step captured as a CUDA graph: N nodes for K operations, M
//   kernel launches patched per step
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_STEPGRAPH_H
#define LMC_LIB_RUNTIME_CUDA_STEPGRAPH_H

#include "lmc/Runtime/lmcrt.h"

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace lmcrt::cuda::step_graph {

/// True while the gates compare or record (a step is captured or
/// replayed); the signatures are built only then.
bool gating();

/// True inside a step whose stream operations the step graph handles
/// (from the step's begin to its end, when graphs are on for it).
bool active();

/// The signature of one stream operation: its kind and its arguments'
/// bytes.
class Signature {
public:
  explicit Signature(const char *kind) : on(gating()) {
    if (on)
      bytes.assign(kind);
  }
  template <typename T> Signature &value(const T &v) {
    if (on)
      bytes.append(reinterpret_cast<const char *>(&v), sizeof(T));
    return *this;
  }
  /// A memref argument: its rank and descriptor (pointers, offset, sizes,
  /// strides).
  Signature &memref(const lmcrt_unranked_memref *m);
  /// A memref or a scalar, by its type.
  Signature &arg(const lmcrt_unranked_memref *m) { return memref(m); }
  Signature &arg(lmcrt_unranked_memref *m) { return memref(m); }
  template <typename T> Signature &arg(const T &v) { return value(v); }
  const std::string &text() const { return bytes; }

private:
  bool on;
  std::string bytes;
};

/// The gate of a stream operation other than a kernel launch (mgpuMemcpy,
/// mgpuMemset*): true when the caller must queue nothing (a replay matched
/// it). After queuing what it did not skip, the caller calls finished().
bool skip(const Signature &s);
void finished();

/// The gate of a GPU runtime function (each lmcrt_gpu_* entry point), for
/// its whole body, given its name and its arguments (memrefs and scalars):
///   step_graph::Gate gate("gpu_gemm", a, b, c, transpose_a, ...);
///   if (gate.skip())
///     return;
class Gate {
public:
  explicit Gate(const Signature &s) : skipped(step_graph::skip(s)) {}
  template <typename... Args>
  explicit Gate(const char *kind, const Args &...args)
      : Gate(signature(kind, args...)) {}
  ~Gate() {
    if (!skipped)
      finished();
  }
  Gate(const Gate &) = delete;
  Gate &operator=(const Gate &) = delete;
  bool skip() const { return skipped; }

private:
  template <typename... Args>
  static Signature signature(const char *kind, const Args &...args) {
    Signature s(kind);
    (s.arg(args), ...);
    return s;
  }
  bool skipped;
};

/// Work is about to be queued on the compute stream (every piece of it
/// first calls profile::mark, which calls this). In a replayed step, work
/// that no gate skipped was not recorded: a divergence before it.
void queuing();

/// The gate of a kernel launch (mgpuLaunchKernel): true when nothing must
/// be launched (a replay matched it, patching its parameters if only they
/// differ). After a launch it did not skip, the caller calls finished().
bool skipLaunch(CUfunction f, const unsigned dims[6], unsigned smem,
                void **params, size_t count);

/// A stream operation the gates cannot compare (a cluster launch, which
/// lmc does not emit): a captured step flushes, a replayed one diverges,
/// and graphs go off for the run. True when the caller must queue nothing
/// (a lost capture).
bool unsupported(const char *what);

/// Work queued while capturing failed (`result`): see the invariant above.
/// True when the step graph took it over (the caller goes on as if it
/// succeeded), false when not capturing.
bool captureFailed(CUresult result, const char *what);

/// The host is about to wait for the compute stream (`wait`), or to do
/// what a capture forbids (a device or managed allocation); `what` names
/// it. A captured step ends its capture and launches the graph; a replayed
/// one, before a wait, launches its graph. Returns false when the step's
/// work was lost to a failed capture (there is nothing to wait for).
bool flush(const char *what, bool wait = true);

/// True when a free of device memory must wait for the step's end (a
/// captured or replayed step); the pointer is then freed by endStep().
bool deferRelease(void *ptr);
/// The deferred pointers (the device frees them after endStep()).
std::vector<void *> takeDeferred();

/// The device's step hooks. endStep returns true when the trainer must run
/// the step again (see the invariant above).
void beginStep(bool capturable);
bool endStep();

/// Counters for the tests and the first replay's line.
struct Stats {
  int64_t captures = 0;        // graphs captured
  int64_t replays = 0;         // graph launches of a whole step
  int64_t divergences = 0;     // replays that ran a prefix and went on
  int64_t patchedLaunches = 0; // launches patched in the last replayed step
  int64_t nodes = 0;           // the graph's nodes
  int64_t operations = 0;      // the recorded operations
  bool disabled = false;       // graphs off for the run
};
Stats stats();

/// Forgets the graph and the settings (the tests: each starts afresh,
/// reading LMCRT_CUDA_GRAPH and LMCRT_PROFILE again).
void reset();

} // namespace lmcrt::cuda::step_graph

#endif // LMC_LIB_RUNTIME_CUDA_STEPGRAPH_H
