//===- Nccl.cpp - Collectives of compiled code over NCCL ------------------===//
//
// _mlir_ciface_lmcrt_gpu_{all_reduce,all_gather,reduce_scatter}[_start]_f32
// and lmcrt_gpu_collective_wait: the semantics of the CPU collectives
// (lmcrt.h) over NCCL, on GPU memory.
//
// - One communicator per mesh axis (dp, tp, world), created at the axis's
//   first collective: the group's rank 0 draws the id (ncclGetUniqueId) and
//   broadcasts it over the axis's MPI communicator (Collectives.h). Every
//   group is an NCCL communicator, a group of one included.
// - Collectives run on a stream of their own, ordered after the work queued
//   on the compute stream by an event; an event recorded after the operation
//   tells when it is done. The blocking forms and lmcrt_gpu_collective_wait
//   wait for it on the host, so the host may read the result (the trainer
//   and the compiled host code read some, e.g. a 4-byte norm).
// - Buffers are prepared as on the CPU (CollectiveShapes.h): a memref that
//   is not contiguous, or whose blocks do not follow each other, goes
//   through a managed temporary that the host fills (after synchronising
//   the compute stream) or empties (after the operation).
// - Errors are checked asynchronously: while waiting, the communicator's
//   asynchronous error is polled, and after LMCRT_NCCL_TIMEOUT seconds
//   (default 600) the communicators are aborted and the job ends with a
//   message, so that a dead peer does not hang the others.
//
// The library is libnccl.so.2, opened at the first collective.
//
//===----------------------------------------------------------------------===//

#include "CudaDevice.h"
#include "Driver.h"
#include "Library.h"

#include "CollectiveShapes.h"
#include "Collectives.h"
#include "MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::cuda;
using comm::Axis;

#define LMCRT_NCCL_FUNCTIONS(X)                                                \
  X(ncclGetVersion)                                                            \
  X(ncclGetUniqueId)                                                           \
  X(ncclCommInitRank)                                                          \
  X(ncclCommAbort)                                                             \
  X(ncclCommGetAsyncError)                                                     \
  X(ncclGetErrorString)                                                        \
  X(ncclAllReduce)                                                             \
  X(ncclAllGather)                                                             \
  X(ncclReduceScatter)

namespace {

using View = MemrefView<float>;

struct NcclApi {
#define LMCRT_DECLARE(fn) decltype(&::fn) fn = nullptr;
  LMCRT_NCCL_FUNCTIONS(LMCRT_DECLARE)
#undef LMCRT_DECLARE
};

enum class Kind { AllReduce, AllGather, ReduceScatter };

/// One collective: its buffers, its completion event and the copy that
/// completes it.
struct Operation {
  std::string what; // "all_reduce_f32 over tp", for messages
  Kind kind = Kind::AllReduce;
  Axis axis = Axis::World;
  const float *send = nullptr;
  float *recv = nullptr;
  size_t count = 0; // all_reduce: all elements; otherwise one rank's block
  std::vector<float *> temps; // managed, released at completion
  bool unpack = false;        // copy unpackFrom into unpackTo at completion
  View unpackFrom, unpackTo;
  CUevent done = nullptr;
};

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
  /// Waits for `op` and copies its result into place.
  void complete(Operation &op);

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
  void check(ncclResult_t result, const std::string &what) {
    if (result == ncclSuccess)
      return;
    comm::fatal(what + " failed: " + api.ncclGetErrorString(result));
  }
  Axis checkedAxis(int32_t axis, const char *function);
  ncclComm_t communicator(Axis axis);
  float *temporary(Operation &op, size_t elements) {
    auto *p = static_cast<float *>(device::allocate(sizeof(float) * elements));
    op.temps.push_back(p);
    return p;
  }
  /// A packed row-major copy of `v` in a temporary of `op`.
  float *packed(Operation &op, const View &v) {
    float *p = temporary(op, v.numElements());
    device::synchronize(); // the host copies what kernels wrote
    copyElements(v, View::packed(p, v.sizes));
    return p;
  }
  /// Points `op`'s result at `target` when `direct`, else at a packed
  /// temporary of `target`'s shape that is unpacked into it at completion.
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
  [[noreturn]] void abortAndFail(const std::string &message);

  NcclApi api;
  bool opened = false;
  ncclComm_t comms[3] = {nullptr, nullptr, nullptr};
  CUstream stream = nullptr;
  std::map<int64_t, std::unique_ptr<Operation>> pending;
  int64_t nextHandle = 1;
};

void Nccl::open() {
  if (opened)
    return;
  static Library library;
  std::string error;
  if (!library.open({"libnccl.so.2"}, error))
    comm::fatal("cannot load NCCL for the GPU collectives: " + error);
#define LMCRT_RESOLVE(fn)                                                      \
  api.fn = reinterpret_cast<decltype(api.fn)>(library.find(#fn));              \
  if (!api.fn)                                                                 \
    comm::fatal(library.path() + " has no " #fn);
  LMCRT_NCCL_FUNCTIONS(LMCRT_RESOLVE)
#undef LMCRT_RESOLVE
  cuda::check(driver().cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING),
              "cuStreamCreate(collective stream)");
  opened = true;
}

Axis Nccl::checkedAxis(int32_t axis, const char *function) {
  requireReady(function);
  if (!comm::initialized())
    comm::fatal(std::string(function) +
                ": the process group is not initialised (lmcrt::comm::init)");
  if (axis < 0 || axis > 2)
    comm::fatal(std::string(function) + ": axis " + std::to_string(axis) +
                " is not 0 (dp), 1 (tp) or 2 (world)");
  open();
  return static_cast<Axis>(axis);
}

ncclComm_t Nccl::communicator(Axis axis) {
  ncclComm_t &c = comms[static_cast<int>(axis)];
  if (c)
    return c;
  ncclUniqueId id = {};
  std::string name = comm::axisName(axis);
  if (comm::axisRank(axis) == 0)
    check(api.ncclGetUniqueId(&id), "ncclGetUniqueId");
  comm::broadcast(axis, &id, sizeof(id));
  check(api.ncclCommInitRank(&c, comm::axisSize(axis), id,
                             comm::axisRank(axis)),
        "ncclCommInitRank(" + name + ")");
  return c;
}

std::unique_ptr<Operation>
Nccl::prepareAllReduce(lmcrt_unranked_memref *inRef,
                       lmcrt_unranked_memref *outRef, int32_t axisArg,
                       const char *function) {
  Axis axis = checkedAxis(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + comm::axisName(axis);
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
  Axis axis = checkedAxis(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + comm::axisName(axis);
  op->kind = gather ? Kind::AllGather : Kind::ReduceScatter;
  op->axis = axis;
  View in(inRef), out(outRef);
  int groupSize = comm::axisSize(axis);
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
  // After the work already queued on the compute stream.
  CUevent ready = nullptr;
  cuda::check(d.cuEventCreate(&ready, CU_EVENT_DISABLE_TIMING),
              "cuEventCreate");
  cuda::check(d.cuEventRecord(ready, computeStream()), "cuEventRecord");
  cuda::check(d.cuStreamWaitEvent(stream, ready, 0), "cuStreamWaitEvent");
  cuda::check(d.cuEventDestroy(ready), "cuEventDestroy");
  switch (op.kind) {
  case Kind::AllReduce:
    check(api.ncclAllReduce(op.send, op.recv, op.count, ncclFloat32, ncclSum,
                            c, stream),
          op.what);
    break;
  case Kind::AllGather:
    check(api.ncclAllGather(op.send, op.recv, op.count, ncclFloat32, c, stream),
          op.what);
    break;
  case Kind::ReduceScatter:
    check(api.ncclReduceScatter(op.send, op.recv, op.count, ncclFloat32,
                                ncclSum, c, stream),
          op.what);
    break;
  }
  cuda::check(d.cuEventCreate(&op.done, CU_EVENT_DISABLE_TIMING),
              "cuEventCreate");
  cuda::check(d.cuEventRecord(op.done, stream), "cuEventRecord");
}

void Nccl::abortAndFail(const std::string &message) {
  for (ncclComm_t &c : comms)
    if (c) {
      api.ncclCommAbort(c);
      c = nullptr;
    }
  comm::fatal(message);
}

void Nccl::complete(Operation &op) {
  static const double timeout = [] {
    const char *env = std::getenv("LMCRT_NCCL_TIMEOUT");
    double seconds = env ? std::atof(env) : 0;
    return seconds > 0 ? seconds : 600.0;
  }();
  const DriverApi &d = driver();
  ncclComm_t c = comms[static_cast<int>(op.axis)];
  auto start = std::chrono::steady_clock::now();
  for (int polls = 0;; ++polls) {
    CUresult r = d.cuEventQuery(op.done);
    if (r == CUDA_SUCCESS)
      break;
    if (r != CUDA_ERROR_NOT_READY)
      cuda::check(r, "waiting for " + op.what);
    ncclResult_t async = ncclSuccess;
    check(api.ncclCommGetAsyncError(c, &async), "ncclCommGetAsyncError");
    if (async != ncclSuccess && async != ncclInProgress)
      abortAndFail(op.what + " failed: " + api.ncclGetErrorString(async));
    double waited = std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (waited > timeout)
      abortAndFail(op.what + " did not complete within " +
                   std::to_string(static_cast<long>(timeout)) +
                   " s (LMCRT_NCCL_TIMEOUT); a peer may have died");
    if (polls > 100)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  cuda::check(d.cuEventDestroy(op.done), "cuEventDestroy");
  op.done = nullptr;
  if (op.unpack)
    copyElements(op.unpackFrom, op.unpackTo);
  for (float *p : op.temps)
    device::release(p);
  op.temps.clear();
}

/// Runs a blocking collective.
void run(std::unique_ptr<Operation> op) {
  Nccl &n = Nccl::get();
  n.launch(*op);
  n.complete(*op);
}

/// Starts a collective and returns its handle.
int64_t start(std::unique_ptr<Operation> op) {
  Nccl &n = Nccl::get();
  n.launch(*op);
  return n.keep(std::move(op));
}

} // namespace

extern "C" void _mlir_ciface_lmcrt_gpu_all_reduce_f32(lmcrt_unranked_memref *in,
                                                      lmcrt_unranked_memref *out,
                                                      int32_t axis) {
  run(Nccl::get().prepareAllReduce(in, out, axis, "gpu_all_reduce_f32"));
}

extern "C" void _mlir_ciface_lmcrt_gpu_all_gather_f32(lmcrt_unranked_memref *in,
                                                      lmcrt_unranked_memref *out,
                                                      int32_t axis,
                                                      int64_t dim) {
  run(Nccl::get().prepareBlocks(in, out, axis, dim, /*gather=*/true,
                                "gpu_all_gather_f32"));
}

extern "C" void
_mlir_ciface_lmcrt_gpu_reduce_scatter_f32(lmcrt_unranked_memref *in,
                                          lmcrt_unranked_memref *out,
                                          int32_t axis, int64_t dim) {
  run(Nccl::get().prepareBlocks(in, out, axis, dim, /*gather=*/false,
                                "gpu_reduce_scatter_f32"));
}

extern "C" int64_t
_mlir_ciface_lmcrt_gpu_all_reduce_start_f32(lmcrt_unranked_memref *in,
                                            lmcrt_unranked_memref *out,
                                            int32_t axis) {
  return start(
      Nccl::get().prepareAllReduce(in, out, axis, "gpu_all_reduce_start_f32"));
}

extern "C" int64_t
_mlir_ciface_lmcrt_gpu_all_gather_start_f32(lmcrt_unranked_memref *in,
                                            lmcrt_unranked_memref *out,
                                            int32_t axis, int64_t dim) {
  return start(Nccl::get().prepareBlocks(in, out, axis, dim, /*gather=*/true,
                                         "gpu_all_gather_start_f32"));
}

extern "C" int64_t
_mlir_ciface_lmcrt_gpu_reduce_scatter_start_f32(lmcrt_unranked_memref *in,
                                                lmcrt_unranked_memref *out,
                                                int32_t axis, int64_t dim) {
  return start(Nccl::get().prepareBlocks(in, out, axis, dim, /*gather=*/false,
                                         "gpu_reduce_scatter_start_f32"));
}

extern "C" void lmcrt_gpu_collective_wait(int64_t handle) {
  std::unique_ptr<Operation> op = Nccl::get().take(handle);
  Nccl::get().complete(*op);
}
