//===- Nccl.cpp - Collectives of compiled code over NCCL ------------------===//
//
// _mlir_ciface_lmcrt_gpu_{all_reduce,all_gather,reduce_scatter}[_start]_f32,
// lmcrt_gpu_collective_wait, the sends and receives
// (_mlir_ciface_lmcrt_gpu_{send,recv_start}_{f32,i64}) and
// lmcrt_gpu_p2p_flush: the semantics of the CPU collectives
// (lmcrt.h) over NCCL, on GPU memory, stream-ordered: a collective takes
// effect after the work queued before it on the compute stream, and the
// work queued on the compute stream after its wait (or after a blocking
// form) sees its result; none of them waits on the host.
//
// - One communicator per group (a bit mask over the mesh axes, as the C ABI
//   names it), created at the group's first collective: the group's rank 0
//   draws the id (ncclGetUniqueId) and broadcasts it over the group's MPI
//   communicator (Collectives.h). Every
//   group is an NCCL communicator, a group of one included. They are
//   non-blocking communicators (ncclConfig_t::blocking = 0): creating one,
//   and any call that answers ncclInProgress, is polled until done with the
//   timeout below, so that a peer that never arrives ends the job.
//   comm::finalize() finalises and destroys them (nccl::destroyCommunicators).
// - Collectives run on a stream of their own, after an event recorded on the
//   compute stream; an event recorded after the operation (`done`) tells
//   when it is done. A _start form returns once the operation is queued, so
//   it overlaps the kernels queued after it. lmcrt_gpu_collective_wait (and
//   the blocking forms: start, then wait) makes the compute stream wait for
//   `done` (cuStreamWaitEvent) and returns at once.
// - The host waits only in synchronizeCompute() (mgpuStreamSynchronize,
//   Device::synchronize, Device::release). While collectives are outstanding
//   this runtime's hook does it by polling the compute stream and checking
//   the asynchronous errors of the communicators of the collectives not yet
//   done; on an error, or after LMCRT_COLLECTIVE_TIMEOUT seconds (default
//   600; LMCRT_NCCL_TIMEOUT is its older name),
//   it aborts the communicators and ends the job with one line, so that a
//   dead peer does not hang the others. With none outstanding, it is a
//   plain cuStreamSynchronize.
// - Buffers are prepared as on the CPU (CollectiveShapes.h): a memref that
//   is not contiguous, or whose blocks do not follow each other, goes
//   through a device temporary, filled (before the operation) or emptied
//   (after its wait) by 2-D copies on the compute stream (StridedCopy.h);
//   where those cannot express the copy, through the host (HostStaging.h),
//   after waiting for the compute stream. Temporaries are kept until the host has waited for
//   the compute stream after the wait, then reused by later collectives of
//   the same size.
//
// - Sends and receives (_mlir_ciface_lmcrt_gpu_send_*, _recv_start_*) run
//   on a stream of their own (the point-to-point stream), over the group's
//   communicator, in which the peer's index is its rank. ncclSend and
//   ncclRecv block their stream until the peer's matching call runs, so two
//   neighbours that each send to the other before receiving would deadlock
//   if each were issued alone. A send therefore copies its input into a
//   temporary on the compute stream (the caller may reuse the input at
//   once) and waits on the host side; the next receive start issues the
//   sends waiting and itself as one NCCL group (ncclGroupStart/End), which
//   NCCL progresses together. Sends still waiting are issued alone by
//   lmcrt_gpu_p2p_flush (which also makes the compute stream wait for every
//   send), by synchronizeCompute's hook (a peer may be waiting for them) and
//   at finalisation. A receive's handle is waited like a collective's
//   (lmcrt_gpu_collective_wait). NCCL has no tags: messages between two
//   ranks are matched in the order their sends and receives are issued, so
//   a rank must start its receives from a peer in the order that peer sends
//   (what lmc-pipeline does; the CPU runtime matches by tag), and the sizes
//   are not checked (a receive of another size is undefined). int64 data
//   moves as pairs of float32; the wait of an int64 receive also waits on
//   the host for the compute stream (the host code reads received sizes
//   right after the wait, with no host wait of its own), a float32 one only
//   orders the compute stream. Untested on a GPU so far (no GPU where it was
//   written); the CPU runtime's tests cover the semantics.
//
// The library is libnccl.so.2, opened at the first collective:
// $LMCRT_NCCL_LIBRARY, else searched on the loader's path, in the CUDA
// toolkit and in the Python packages' nvidia/*/lib (Library.h).
//
//===----------------------------------------------------------------------===//

#include "Cuda/Nccl.h"
#include "Cuda/StepGraph.h"

#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/HostStaging.h"
#include "Cuda/Library.h"
#include "Cuda/Poll.h"
#include "Cuda/StridedCopy.h"

#include "Comm/CollectiveShapes.h"
#include "Comm/Collectives.h"
#include "Comm/Deadline.h"
#include "Comm/PointToPoint.h"
#include "Core/MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <nccl.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::cuda;
using comm::Group;

#define LMCRT_NCCL_FUNCTIONS(X)                                                \
  X(ncclGetVersion)                                                            \
  X(ncclGetUniqueId)                                                           \
  X(ncclCommInitRankConfig)                                                    \
  X(ncclCommFinalize)                                                          \
  X(ncclCommDestroy)                                                           \
  X(ncclCommAbort)                                                             \
  X(ncclCommGetAsyncError)                                                     \
  X(ncclGetErrorString)                                                        \
  X(ncclAllReduce)                                                             \
  X(ncclAllGather)                                                             \
  X(ncclReduceScatter)                                                         \
  X(ncclSend)                                                                  \
  X(ncclRecv)                                                                  \
  X(ncclGroupStart)                                                            \
  X(ncclGroupEnd)

namespace {

using View = MemrefView<float>;

/// The most 2-D copies a pack or unpack is queued as; beyond, the host
/// copies.
constexpr size_t kMaxCopies = 1024;

struct NcclApi {
#define LMCRT_DECLARE(fn) decltype(&::fn) fn = nullptr;
  LMCRT_NCCL_FUNCTIONS(LMCRT_DECLARE)
#undef LMCRT_DECLARE
};

enum class Kind { AllReduce, AllGather, ReduceScatter, Send, Receive };

/// One collective: its buffers, its completion event and the copy that
/// completes it.
struct Operation {
  std::string what; // "all_reduce_f32 over tp", for messages
  Kind kind = Kind::AllReduce;
  Group axis = 0;
  int peer = 0; // a send's or receive's peer: its rank in the communicator
  const float *send = nullptr;
  float *recv = nullptr;
  size_t count = 0; // all_reduce: all elements; otherwise one rank's block
  std::vector<std::pair<float *, size_t>> temps; // device, with their sizes
  bool unpack = false; // copy unpackFrom into unpackTo after the wait
  View unpackFrom, unpackTo;
  CUevent done = nullptr;
  /// A send's or receive's point in the compute stream (recorded when it
  /// was called), which the point-to-point stream waits for.
  CUevent ready = nullptr;
  /// A receive whose wait also waits on the host (int64 data: sizes the
  /// host code reads).
  bool hostWait = false;
};

/// LMCRT_COLLECTIVE_TIMEOUT (the CPU collectives' variable; the older
/// LMCRT_NCCL_TIMEOUT when it is unset), 600 s by default (comm/Deadline.h).
const comm::TimeoutSetting &timeoutSetting() {
  static const comm::TimeoutSetting setting =
      comm::timeoutFromEnvironment(comm::kGpuDefaultTimeout);
  if (!setting.error.empty())
    comm::fatal(setting.error);
  return setting;
}

double timeoutSeconds() { return timeoutSetting().seconds; }

std::string timeoutText() {
  double t = timeoutSeconds();
  const std::string &variable = timeoutSetting().variable;
  std::string text = t == static_cast<double>(static_cast<long>(t))
                         ? std::to_string(static_cast<long>(t))
                         : std::to_string(t);
  return " did not complete within " + text +
         " s (" + (variable.empty() ? comm::kTimeoutVariable : variable) +
         "); a peer may have died";
}

/// Queues `copies` on `stream`.
void queueCopies(const std::vector<Copy2D> &copies, CUstream stream) {
  const DriverApi &d = driver();
  for (const Copy2D &c : copies) {
    if (c.height == 1) {
      cuda::check(d.cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(c.dst),
                                  reinterpret_cast<CUdeviceptr>(c.src),
                                  c.widthBytes, stream),
                  "cuMemcpyAsync(" + std::to_string(c.widthBytes) + " bytes)");
      continue;
    }
    CUDA_MEMCPY2D m = {};
    m.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
    m.srcDevice = reinterpret_cast<CUdeviceptr>(c.src);
    m.srcPitch = c.srcPitch;
    m.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
    m.dstDevice = reinterpret_cast<CUdeviceptr>(c.dst);
    m.dstPitch = c.dstPitch;
    m.WidthInBytes = c.widthBytes;
    m.Height = c.height;
    cuda::check(d.cuMemcpy2DAsync(&m, stream),
                "cuMemcpy2DAsync(" + std::to_string(c.height) + " rows of " +
                    std::to_string(c.widthBytes) + " bytes)");
  }
}

/// Copies `from` into `to` in the order of the compute stream: as 2-D
/// copies queued on it, or, when they cannot express the copy, through the
/// host (device memory: both spans read after the stream's work, the
/// destination's written back; HostStaging.h).
void copyOnStream(const View &from, const View &to) {
  std::vector<Copy2D> copies;
  if (planCopies(from, to, kMaxCopies, copies)) {
    queueCopies(copies, computeStream());
    return;
  }
  Staged<float> src(from), dst(to);
  copyElements(src.view(), dst.view());
  dst.commit();
}

class Nccl {
public:
  static Nccl &get() {
    static Nccl *nccl = new Nccl; // used until exit
    return *nccl;
  }

  std::unique_ptr<Operation> prepareAllReduce(lmcrt_unranked_memref *in,
                                              lmcrt_unranked_memref *out,
                                              int32_t axis,
                                              const char *function);
  std::unique_ptr<Operation> prepareBlocks(lmcrt_unranked_memref *in,
                                           lmcrt_unranked_memref *out,
                                           int32_t axis, int64_t dim,
                                           bool gather, const char *function);
  /// Queues `op` on the collective stream.
  void launch(Operation &op);
  /// Makes the compute stream wait for `op` and queues the copy of its
  /// result into place; `op` is kept until the host has waited for the
  /// compute stream.
  void wait(std::unique_ptr<Operation> op);
  /// Blocks the host until the compute stream is done (synchronizeCompute's
  /// hook), polling the outstanding collectives with the timeout.
  void synchronize();
  /// nccl::destroyCommunicators.
  void destroy();

  /// A send of `in` (float32, or int64 when `i64`: moved as pairs of
  /// float32) to `peer` of the group `axis`: copied into a temporary on the
  /// compute stream and kept until the next receive start (grouped with
  /// it) or issueSends().
  void send(lmcrt_unranked_memref *in, int32_t axis, int64_t peer,
            int64_t tag, bool i64, const char *function);
  /// Starts a receive into `out` from `peer` of the group `axis`, grouped
  /// with the sends not yet issued; returns its handle for
  /// lmcrt_gpu_collective_wait.
  int64_t receiveStart(lmcrt_unranked_memref *out, int32_t axis, int64_t peer,
                       int64_t tag, bool i64, const char *function);
  /// Issues the sends not yet issued (alone) and makes the compute stream
  /// wait for every send issued (lmcrt_gpu_p2p_flush).
  void flushSends();
  int openCount() const {
    int n = 0;
    for (ncclComm_t c : comms)
      n += c != nullptr;
    return n;
  }

  int64_t keep(std::unique_ptr<Operation> op) {
    int64_t handle = nextHandle++;
    pending.emplace(handle, std::move(op));
    return handle;
  }
  std::unique_ptr<Operation> take(int64_t handle) {
    auto it = pending.find(handle);
    if (it == pending.end())
      comm::fatal("lmcrt_gpu_collective_wait: unknown handle " +
                  std::to_string(handle) +
                  " (not returned by a _start function, or already waited)");
    std::unique_ptr<Operation> op = std::move(it->second);
    pending.erase(it);
    return op;
  }

private:
  void open();
  /// "" when `c` has no asynchronous error (ncclInProgress is none), else
  /// NCCL's text of it.
  std::string asyncError(ncclComm_t c);
  /// Polls `c` until its state is no longer ncclInProgress (a non-blocking
  /// communicator's calls finish in the background); ends the job on an
  /// error or after the timeout, naming `what`.
  void settle(ncclComm_t c, const std::string &what);
  /// The result of a call on the non-blocking communicator `c`:
  /// ncclInProgress is settled, an error ends the job.
  void checkCall(ncclResult_t result, ncclComm_t c, const std::string &what) {
    if (result == ncclInProgress) {
      settle(c, what);
      return;
    }
    if (result != ncclSuccess)
      abortAndFail(what + " failed: " + api.ncclGetErrorString(result));
  }
  Group checkedAxis(int32_t axis, const char *function);
  ncclComm_t communicator(Group group);
  float *temporary(Operation &op, size_t elements);
  /// A packed row-major copy of `v` in a temporary of `op`, made in the
  /// order of the compute stream.
  float *packed(Operation &op, const View &v) {
    float *p = temporary(op, v.numElements());
    copyOnStream(v, View::packed(p, v.sizes));
    return p;
  }
  /// Points `op`'s result at `target` when `direct`, else at a packed
  /// temporary of `target`'s shape that is unpacked into it after the wait.
  void receiveInto(Operation &op, const View &target, bool direct) {
    if (direct) {
      op.recv = target.data;
      return;
    }
    op.recv = temporary(op, target.numElements());
    op.unpack = true;
    op.unpackFrom = View::packed(op.recv, target.sizes);
    op.unpackTo = target;
  }
  /// True while `op`'s collective has not finished on the device.
  bool running(const Operation &op);
  /// Frees what the waited collectives held (the host waited for the
  /// compute stream, which waited for them), and what the sends that are
  /// done held.
  void retire();
  /// The group, after checking `peer` (in the group) and `tag` (>= 0).
  Group checkedPeer(int32_t axis, int64_t peer, int64_t tag,
                    const char *function);
  /// Records `op.ready` on the compute stream.
  void markReady(Operation &op);
  /// Issues the deferred sends and `receive` (if any) as one NCCL group on
  /// the point-to-point stream, after their points in the compute stream;
  /// records each one's `done`. The sends move to `sent`.
  void issue(Operation *receive);
  [[noreturn]] void abortAndFail(const std::string &message);

  NcclApi api;
  bool opened = false;
  /// Per group (bit mask over the mesh axes), created at its first use.
  std::vector<ncclComm_t> comms;
  CUstream stream = nullptr;
  /// The sends and receives' own stream, so that a send waiting for its
  /// receiver never holds up a collective (nor a collective a send).
  CUstream p2pStream = nullptr;
  /// Sends called and not yet issued to NCCL (their data copied).
  std::vector<std::unique_ptr<Operation>> deferred;
  /// Sends issued and not yet known to be done.
  std::vector<std::unique_ptr<Operation>> sent;
  /// Started and not yet waited.
  std::map<int64_t, std::unique_ptr<Operation>> pending;
  int64_t nextHandle = 1;
  /// Waited (the compute stream waits for them) and not yet retired.
  std::vector<std::unique_ptr<Operation>> waited;
  /// Temporaries free for reuse, by number of elements.
  std::multimap<size_t, float *> spare;
};

void synchronizeHook() { Nccl::get().synchronize(); }
void finalizeHook() { Nccl::get().destroy(); }
void p2pFlushHook() { Nccl::get().flushSends(); }

void Nccl::open() {
  if (opened)
    return;
  static Library library;
  std::string error;
  if (!library.search(ncclLibrarySearch(), error))
    missingLibrary(error);
#define LMCRT_RESOLVE(fn)                                                      \
  api.fn = reinterpret_cast<decltype(api.fn)>(library.find(#fn));              \
  if (!api.fn)                                                                 \
    comm::fatal(library.path() + " has no " #fn);
  LMCRT_NCCL_FUNCTIONS(LMCRT_RESOLVE)
#undef LMCRT_RESOLVE
  cuda::check(driver().cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING),
              "cuStreamCreate(collective stream)");
  cuda::check(driver().cuStreamCreate(&p2pStream, CU_STREAM_NON_BLOCKING),
              "cuStreamCreate(point-to-point stream)");
  setSynchronizeHook(&synchronizeHook);
  comm::atFinalize(&finalizeHook);
  comm::atP2pFlush(&p2pFlushHook);
  opened = true;
}

std::string Nccl::asyncError(ncclComm_t c) {
  ncclResult_t state = ncclSuccess;
  ncclResult_t r = api.ncclCommGetAsyncError(c, &state);
  if (r != ncclSuccess)
    return std::string("ncclCommGetAsyncError: ") + api.ncclGetErrorString(r);
  if (state == ncclSuccess || state == ncclInProgress)
    return "";
  return api.ncclGetErrorString(state);
}

void Nccl::settle(ncclComm_t c, const std::string &what) {
  PollResult r = pollUntil(
      [&] {
        ncclResult_t state = ncclSuccess;
        return api.ncclCommGetAsyncError(c, &state) != ncclSuccess ||
               state != ncclInProgress;
      },
      [] { return std::string(); }, timeoutSeconds(), PollClock::steady());
  if (r.outcome == PollResult::TimedOut)
    abortAndFail(what + timeoutText());
  std::string error = asyncError(c);
  if (!error.empty())
    abortAndFail(what + " failed: " + error);
}

Group Nccl::checkedAxis(int32_t axis, const char *function) {
  requireReady(function);
  Group group = comm::checkedGroup(axis, function);
  open();
  return group;
}

ncclComm_t Nccl::communicator(Group axis) {
  if (comms.size() <= axis)
    comms.resize(size_t(axis) + 1, nullptr);
  ncclComm_t &c = comms[axis];
  if (c)
    return c;
  ncclUniqueId id = {};
  std::string name = comm::groupName(axis);
  int size = comm::groupSize(axis), rank = comm::groupRank(axis);
  if (rank == 0) {
    ncclResult_t r = api.ncclGetUniqueId(&id);
    if (r != ncclSuccess)
      abortAndFail(std::string("ncclGetUniqueId failed: ") +
                   api.ncclGetErrorString(r));
  }
  comm::broadcast(axis, &id, sizeof(id));
  // Non-blocking: the creation goes on in the background and is polled, so
  // that a peer that never arrives ends the job after the timeout.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  std::string what = "creating the NCCL communicator of " + name + " (rank " +
                     std::to_string(rank) + " of " + std::to_string(size) + ")";
  ncclResult_t r = api.ncclCommInitRankConfig(&c, size, id, rank, &config);
  if (r != ncclSuccess && r != ncclInProgress)
    abortAndFail(what + " failed: " + api.ncclGetErrorString(r));
  if (!c)
    abortAndFail(what + " failed: NCCL returned no communicator");
  settle(c, what);
  return c;
}

float *Nccl::temporary(Operation &op, size_t elements) {
  float *p = nullptr;
  auto it = spare.find(elements);
  if (it != spare.end()) {
    p = it->second;
    spare.erase(it);
  } else {
    p = static_cast<float *>(device::allocate(sizeof(float) * elements));
  }
  op.temps.emplace_back(p, elements);
  return p;
}

std::unique_ptr<Operation>
Nccl::prepareAllReduce(lmcrt_unranked_memref *inRef,
                       lmcrt_unranked_memref *outRef, int32_t axisArg,
                       const char *function) {
  Group axis = checkedAxis(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + comm::groupName(axis);
  op->kind = Kind::AllReduce;
  op->axis = axis;
  View in(inRef), out(outRef);
  if (in.sizes != out.sizes)
    comm::fatal(op->what + ": the input is " + in.shapeString() +
                " but the output is " + out.shapeString());
  op->count = static_cast<size_t>(in.numElements());
  receiveInto(*op, out, out.isContiguous());
  // NCCL reduces in place when send == recv.
  if (in.isContiguous() && (in.data == op->recv || !overlaps(in, out)))
    op->send = in.data;
  else
    op->send = packed(*op, in);
  return op;
}

std::unique_ptr<Operation>
Nccl::prepareBlocks(lmcrt_unranked_memref *inRef, lmcrt_unranked_memref *outRef,
                    int32_t axisArg, int64_t dim, bool gather,
                    const char *function) {
  Group axis = checkedAxis(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + comm::groupName(axis);
  op->kind = gather ? Kind::AllGather : Kind::ReduceScatter;
  op->axis = axis;
  View in(inRef), out(outRef);
  int groupSize = comm::groupSize(axis);
  std::string error = blockShapeError(in, out, dim, groupSize, gather);
  if (!error.empty())
    comm::fatal(op->what + ": " + error);
  if (gather) {
    op->count = static_cast<size_t>(in.numElements());
    op->send = in.isContiguous() && !overlaps(in, out) ? in.data
                                                       : packed(*op, in);
    const bool direct = blocksAreConsecutive(out, dim);
    receiveInto(*op, direct ? out : blocksAlong(out, dim, groupSize), direct);
  } else {
    op->count = static_cast<size_t>(out.numElements());
    op->send = blocksAreConsecutive(in, dim) && !overlaps(in, out)
                   ? in.data
                   : packed(*op, blocksAlong(in, dim, groupSize));
    receiveInto(*op, out, out.isContiguous());
  }
  return op;
}

void Nccl::launch(Operation &op) {
  const DriverApi &d = driver();
  ncclComm_t c = communicator(op.axis);
  // After the work already queued on the compute stream (the packing of
  // the input included).
  CUevent ready = nullptr;
  cuda::check(d.cuEventCreate(&ready, CU_EVENT_DISABLE_TIMING),
              "cuEventCreate");
  cuda::check(d.cuEventRecord(ready, computeStream()), "cuEventRecord");
  cuda::check(d.cuStreamWaitEvent(stream, ready, 0), "cuStreamWaitEvent");
  cuda::check(d.cuEventDestroy(ready), "cuEventDestroy");
  switch (op.kind) {
  case Kind::AllReduce:
    checkCall(api.ncclAllReduce(op.send, op.recv, op.count, ncclFloat32,
                                ncclSum, c, stream),
              c, op.what);
    break;
  case Kind::AllGather:
    checkCall(
        api.ncclAllGather(op.send, op.recv, op.count, ncclFloat32, c, stream),
        c, op.what);
    break;
  case Kind::ReduceScatter:
    checkCall(api.ncclReduceScatter(op.send, op.recv, op.count, ncclFloat32,
                                    ncclSum, c, stream),
              c, op.what);
    break;
  case Kind::Send:
  case Kind::Receive:
    abortAndFail(op.what + ": a send or receive is issued by issue(), not "
                           "as a collective");
  }
  // The operation is on the stream now (checkCall settled ncclInProgress).
  cuda::check(d.cuEventCreate(&op.done, CU_EVENT_DISABLE_TIMING),
              "cuEventCreate");
  cuda::check(d.cuEventRecord(op.done, stream), "cuEventRecord");
}

void Nccl::wait(std::unique_ptr<Operation> op) {
  // The compute stream's wait for the collective (and the unpacking after).
  profile::mark(KernelClass::Collective);
  cuda::check(driver().cuStreamWaitEvent(computeStream(), op->done, 0),
              "cuStreamWaitEvent(compute stream, " + op->what + ")");
  const bool unpack = op->unpack;
  const View from = op->unpackFrom, to = op->unpackTo;
  // Kept before the copy: a host copy waits for the compute stream, and
  // with it for this collective, through the hook (which may retire `op`;
  // its temporaries stay allocated, as spares, until the next collective).
  waited.push_back(std::move(op));
  if (unpack)
    copyOnStream(from, to);
}

bool Nccl::running(const Operation &op) {
  CUresult r = driver().cuEventQuery(op.done);
  if (r == CUDA_SUCCESS)
    return false;
  if (r != CUDA_ERROR_NOT_READY)
    cuda::check(r, "waiting for " + op.what);
  return true;
}

void Nccl::synchronize() {
  const DriverApi &d = driver();
  CUstream compute = computeStream();
  // A peer may wait for them while this rank waits.
  if (!deferred.empty())
    issue(nullptr);
  if (pending.empty() && waited.empty() && sent.empty()) {
    cuda::check(d.cuStreamSynchronize(compute),
                "cuStreamSynchronize(compute stream)");
    return;
  }
  // Only collectives can wait forever: poll while one is running.
  const Operation *stuck = nullptr;
  auto firstRunning = [&]() -> const Operation * {
    for (const auto &op : waited)
      if (running(*op))
        return op.get();
    for (const auto &entry : pending)
      if (running(*entry.second))
        return entry.second.get();
    for (const auto &op : sent)
      if (running(*op))
        return op.get();
    return nullptr;
  };
  PollResult r = pollUntil(
      [&] {
        CUresult q = d.cuStreamQuery(compute);
        if (q == CUDA_SUCCESS)
          return true;
        if (q != CUDA_ERROR_NOT_READY)
          cuda::check(q, "cuStreamQuery(compute stream)");
        stuck = firstRunning();
        return stuck == nullptr;
      },
      [&]() -> std::string {
        std::vector<const Operation *> outstanding;
        for (const auto &op : waited)
          outstanding.push_back(op.get());
        for (const auto &entry : pending)
          outstanding.push_back(entry.second.get());
        for (const auto &op : sent)
          outstanding.push_back(op.get());
        for (const Operation *op : outstanding)
          if (running(*op)) {
            std::string e = asyncError(comms[op->axis]);
            if (!e.empty())
              return op->what + " failed: " + e;
          }
        return "";
      },
      timeoutSeconds(), PollClock::steady());
  if (r.outcome == PollResult::Failed)
    abortAndFail(r.error);
  if (r.outcome == PollResult::TimedOut)
    abortAndFail((stuck ? stuck->what : std::string("a GPU collective")) +
                 timeoutText());
  // No collective running: what is left on the stream is compute.
  cuda::check(d.cuStreamSynchronize(compute),
              "cuStreamSynchronize(compute stream)");
  retire();
}

void Nccl::retire() {
  auto release = [&](Operation &op) {
    for (CUevent *event : {&op.done, &op.ready})
      if (*event) {
        cuda::check(driver().cuEventDestroy(*event), "cuEventDestroy");
        *event = nullptr;
      }
    for (const auto &temp : op.temps)
      spare.emplace(temp.second, temp.first);
  };
  for (std::unique_ptr<Operation> &op : waited)
    release(*op);
  waited.clear();
  // Sends nobody waited for: those done on the device.
  std::vector<std::unique_ptr<Operation>> running;
  for (std::unique_ptr<Operation> &op : sent) {
    if (this->running(*op))
      running.push_back(std::move(op));
    else
      release(*op);
  }
  sent = std::move(running);
}

Group Nccl::checkedPeer(int32_t axisArg, int64_t peer, int64_t tag,
                        const char *function) {
  Group axis = checkedAxis(axisArg, function);
  int size = comm::groupSize(axis);
  if (peer < 0 || peer >= size)
    comm::fatal(std::string(function) + ": peer " + std::to_string(peer) +
                " is not a rank of the group " + comm::groupName(axis) + " (" +
                std::to_string(size) + " ranks)");
  if (tag < 0)
    comm::fatal(std::string(function) + ": tag " + std::to_string(tag) +
                " is out of range (at least 0)");
  return axis;
}

void Nccl::markReady(Operation &op) {
  const DriverApi &d = driver();
  cuda::check(d.cuEventCreate(&op.ready, CU_EVENT_DISABLE_TIMING),
              "cuEventCreate");
  cuda::check(d.cuEventRecord(op.ready, computeStream()), "cuEventRecord");
}

/// A float32 view of the memref `ref`: itself, or for int64 elements the
/// same bytes as pairs of float32 (a last dimension of 2).
View floatView(lmcrt_unranked_memref *ref, bool i64) {
  if (!i64)
    return View(ref);
  MemrefView<int64_t> v(ref);
  std::vector<int64_t> sizes = v.sizes, strides = v.strides;
  for (int64_t &stride : strides)
    stride *= 2;
  sizes.push_back(2);
  strides.push_back(1);
  return View(reinterpret_cast<float *>(v.data), sizes, strides);
}

void Nccl::send(lmcrt_unranked_memref *in, int32_t axisArg, int64_t peer,
                int64_t tag, bool i64, const char *function) {
  Group axis = checkedPeer(axisArg, peer, tag, function);
  // The group's communicator now, at the rank's first transfer over the
  // group in program order, rather than when the send is issued: its
  // creation is collective over the group.
  communicator(axis);
  auto op = std::make_unique<Operation>();
  op->kind = Kind::Send;
  op->axis = axis;
  op->peer = static_cast<int>(peer);
  op->what = std::string(function) + " to rank " +
             std::to_string(comm::peerWorldRank(axis, peer)) + " (peer " +
             std::to_string(peer) + " over " + comm::groupName(axis) +
             ") with tag " + std::to_string(tag);
  View v = floatView(in, i64);
  op->count = static_cast<size_t>(v.numElements());
  // Always a copy of the runtime's: the caller may free or overwrite `in`
  // once the call returns (the copy is ordered before its later kernels).
  if (op->count)
    op->send = packed(*op, v);
  markReady(*op);
  deferred.push_back(std::move(op));
}

int64_t Nccl::receiveStart(lmcrt_unranked_memref *out, int32_t axisArg,
                           int64_t peer, int64_t tag, bool i64,
                           const char *function) {
  Group axis = checkedPeer(axisArg, peer, tag, function);
  auto op = std::make_unique<Operation>();
  op->kind = Kind::Receive;
  op->axis = axis;
  op->peer = static_cast<int>(peer);
  op->what = std::string(function) + " from rank " +
             std::to_string(comm::peerWorldRank(axis, peer)) + " (peer " +
             std::to_string(peer) + " over " + comm::groupName(axis) +
             ") with tag " + std::to_string(tag);
  View v = floatView(out, i64);
  op->count = static_cast<size_t>(v.numElements());
  op->hostWait = i64;
  if (op->count)
    receiveInto(*op, v, v.isContiguous());
  markReady(*op);
  issue(op.get());
  return keep(std::move(op));
}

void Nccl::issue(Operation *receive) {
  const DriverApi &d = driver();
  std::vector<Operation *> ops;
  for (std::unique_ptr<Operation> &op : deferred)
    ops.push_back(op.get());
  if (receive)
    ops.push_back(receive);
  if (ops.empty())
    return;
  for (Operation *op : ops) {
    cuda::check(d.cuStreamWaitEvent(p2pStream, op->ready, 0),
                "cuStreamWaitEvent(point-to-point stream)");
    communicator(op->axis); // created before the group
  }
  // One group: the sends and the receive progress together, so that two
  // neighbours sending to each other before receiving do not deadlock
  // (ncclSend and ncclRecv block the stream until matched).
  std::string what = ops.back()->what;
  ncclResult_t r = api.ncclGroupStart();
  if (r != ncclSuccess)
    abortAndFail(what + ": ncclGroupStart failed: " +
                 api.ncclGetErrorString(r));
  for (Operation *op : ops) {
    if (!op->count)
      continue;
    ncclComm_t c = comms[op->axis];
    r = op->kind == Kind::Send
            ? api.ncclSend(op->send, op->count, ncclFloat32, op->peer, c,
                           p2pStream)
            : api.ncclRecv(op->recv, op->count, ncclFloat32, op->peer, c,
                           p2pStream);
    if (r != ncclSuccess && r != ncclInProgress)
      abortAndFail(op->what + " failed: " + api.ncclGetErrorString(r));
  }
  r = api.ncclGroupEnd();
  // Non-blocking communicators: settle each one the group used.
  std::vector<Group> used;
  for (Operation *op : ops)
    if (std::find(used.begin(), used.end(), op->axis) == used.end())
      used.push_back(op->axis);
  for (Group g : used)
    checkCall(r, comms[g], what);
  for (Operation *op : ops) {
    cuda::check(d.cuEventCreate(&op->done, CU_EVENT_DISABLE_TIMING),
                "cuEventCreate");
    cuda::check(d.cuEventRecord(op->done, p2pStream), "cuEventRecord");
  }
  for (std::unique_ptr<Operation> &op : deferred)
    sent.push_back(std::move(op));
  deferred.clear();
}

void Nccl::flushSends() {
  if (!opened)
    return;
  issue(nullptr);
  for (const std::unique_ptr<Operation> &op : sent)
    cuda::check(driver().cuStreamWaitEvent(computeStream(), op->done, 0),
                "cuStreamWaitEvent(compute stream, " + op->what + ")");
}

void Nccl::destroy() {
  if (!opened)
    return;
  if (!pending.empty())
    comm::fatal("finalize: " + std::to_string(pending.size()) +
                " GPU collective(s) or receive(s) started and never waited");
  // Every send done before the communicators go (synchronize times out on
  // one that is never received).
  flushSends();
  synchronize();
  for (size_t a = 0; a < comms.size(); ++a) {
    ncclComm_t &c = comms[a];
    if (!c)
      continue;
    std::string name = comm::groupName(static_cast<Group>(a));
    checkCall(api.ncclCommFinalize(c), c,
              "ncclCommFinalize(the " + name + " communicator)");
    ncclResult_t r = api.ncclCommDestroy(c);
    if (r != ncclSuccess && r != ncclInProgress)
      abortAndFail("ncclCommDestroy(the " + name +
                   " communicator) failed: " + api.ncclGetErrorString(r));
    c = nullptr;
  }
  for (const auto &temp : spare)
    device::release(temp.second);
  spare.clear();
}

void Nccl::abortAndFail(const std::string &message) {
  for (ncclComm_t &c : comms)
    if (c) {
      api.ncclCommAbort(c);
      c = nullptr;
    }
  comm::fatal(message);
}

/// Runs a blocking collective: started and waited (stream-ordered; the
/// host does not wait).
void run(std::unique_ptr<Operation> op) {
  Nccl &n = Nccl::get();
  n.launch(*op);
  n.wait(std::move(op));
}

/// Starts a collective and returns its handle.
int64_t start(std::unique_ptr<Operation> op) {
  Nccl &n = Nccl::get();
  n.launch(*op);
  return n.keep(std::move(op));
}

} // namespace

int nccl::openCommunicators() { return Nccl::get().openCount(); }

void nccl::destroyCommunicators() { Nccl::get().destroy(); }

extern "C" void _mlir_ciface_lmcrt_gpu_all_reduce_f32(lmcrt_unranked_memref *in,
                                                      lmcrt_unranked_memref *out,
                                                      int32_t axis) {
  step_graph::unsupported("a collective");
  run(Nccl::get().prepareAllReduce(in, out, axis, "gpu_all_reduce_f32"));
}

extern "C" void _mlir_ciface_lmcrt_gpu_all_gather_f32(lmcrt_unranked_memref *in,
                                                      lmcrt_unranked_memref *out,
                                                      int32_t axis,
                                                      int64_t dim) {
  step_graph::unsupported("a collective");
  run(Nccl::get().prepareBlocks(in, out, axis, dim, /*gather=*/true,
                                "gpu_all_gather_f32"));
}

extern "C" void
_mlir_ciface_lmcrt_gpu_reduce_scatter_f32(lmcrt_unranked_memref *in,
                                          lmcrt_unranked_memref *out,
                                          int32_t axis, int64_t dim) {
  step_graph::unsupported("a collective");
  run(Nccl::get().prepareBlocks(in, out, axis, dim, /*gather=*/false,
                                "gpu_reduce_scatter_f32"));
}

extern "C" int64_t
_mlir_ciface_lmcrt_gpu_all_reduce_start_f32(lmcrt_unranked_memref *in,
                                            lmcrt_unranked_memref *out,
                                            int32_t axis) {
  step_graph::unsupported("a collective");
  return start(
      Nccl::get().prepareAllReduce(in, out, axis, "gpu_all_reduce_start_f32"));
}

extern "C" int64_t
_mlir_ciface_lmcrt_gpu_all_gather_start_f32(lmcrt_unranked_memref *in,
                                            lmcrt_unranked_memref *out,
                                            int32_t axis, int64_t dim) {
  step_graph::unsupported("a collective");
  return start(Nccl::get().prepareBlocks(in, out, axis, dim, /*gather=*/true,
                                         "gpu_all_gather_start_f32"));
}

extern "C" int64_t
_mlir_ciface_lmcrt_gpu_reduce_scatter_start_f32(lmcrt_unranked_memref *in,
                                                lmcrt_unranked_memref *out,
                                                int32_t axis, int64_t dim) {
  step_graph::unsupported("a collective");
  return start(Nccl::get().prepareBlocks(in, out, axis, dim, /*gather=*/false,
                                         "gpu_reduce_scatter_start_f32"));
}

extern "C" void lmcrt_gpu_collective_wait(int64_t handle) {
  step_graph::unsupported("a collective");
  Nccl &n = Nccl::get();
  std::unique_ptr<Operation> op = n.take(handle);
  bool hostWait = op->hostWait;
  n.wait(std::move(op));
  // The host code reads received sizes right after the wait (a stream-
  // ordered call: lmc-gpu-async-launches puts no host wait after it).
  if (hostWait)
    n.synchronize();
}

extern "C" void _mlir_ciface_lmcrt_gpu_send_f32(lmcrt_unranked_memref *in,
                                                int32_t axes, int64_t peer,
                                                int64_t tag) {
  step_graph::unsupported("a collective");
  Nccl::get().send(in, axes, peer, tag, /*i64=*/false, "gpu_send_f32");
}

extern "C" void _mlir_ciface_lmcrt_gpu_send_i64(lmcrt_unranked_memref *in,
                                                int32_t axes, int64_t peer,
                                                int64_t tag) {
  step_graph::unsupported("a collective");
  Nccl::get().send(in, axes, peer, tag, /*i64=*/true, "gpu_send_i64");
}

extern "C" int64_t
_mlir_ciface_lmcrt_gpu_recv_start_f32(lmcrt_unranked_memref *out, int32_t axes,
                                      int64_t peer, int64_t tag) {
  step_graph::unsupported("a collective");
  return Nccl::get().receiveStart(out, axes, peer, tag, /*i64=*/false,
                                  "gpu_recv_start_f32");
}

extern "C" int64_t
_mlir_ciface_lmcrt_gpu_recv_start_i64(lmcrt_unranked_memref *out, int32_t axes,
                                      int64_t peer, int64_t tag) {
  step_graph::unsupported("a collective");
  return Nccl::get().receiveStart(out, axes, peer, tag, /*i64=*/true,
                                  "gpu_recv_start_i64");
}

extern "C" void lmcrt_gpu_p2p_flush(void) { Nccl::get().flushSends(); }
