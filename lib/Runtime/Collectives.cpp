//===- Collectives.cpp - The process group and collectives over MPI -------===//
//
// The process group of Collectives.h and the collectives of lmcrt.h.
//
// Every collective is prepared the same way: the shapes are checked, the
// input is packed into a contiguous buffer when it is not one already, and
// the result goes either straight into the output (when the output is
// contiguous and the blocks of the ranks are consecutive in it) or into a
// temporary that is copied out when the operation completes. For all_gather
// and reduce_scatter along a dimension `dim`, the copy between the MPI buffer
// and the memref goes through a view that splits dimension `dim` into
// (group size, block) and puts the group size outermost, so that MPI sees
// the blocks of the ranks one after the other.
//
// The blocking forms call the blocking MPI collectives; the _start forms the
// non-blocking ones, and keep the operation (its temporaries, its request and
// the final copy) under a handle until lmcrt_collective_wait.
//
//===----------------------------------------------------------------------===//

#include "Collectives.h"
#include "CollectiveShapes.h"
#include "Error.h"
#include "MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::comm;

namespace {

using View = MemrefView<float>;

enum class Kind { Copy, AllReduce, AllGather, ReduceScatter };

/// One collective: its MPI buffers, its request while in flight and the copy
/// that completes it.
struct Operation {
  std::string what; // "all_reduce_f32 over tp", for messages
  Kind kind = Kind::Copy;
  MPI_Comm comm = MPI_COMM_NULL;
  const float *send = nullptr; // nullptr: in place on `recv` (all_reduce)
  float *recv = nullptr;
  int count = 0; // all_reduce: all elements; otherwise one rank's block
  std::vector<float> sendTemp, recvTemp;
  MPI_Request request = MPI_REQUEST_NULL;
  bool unpack = false; // copy unpackFrom into unpackTo at completion
  View unpackFrom, unpackTo;
};

struct State {
  bool initialized = false;
  bool mpi = false;     // the group communicates over MPI
  bool ownsMpi = false; // init called MPI_Init_thread
  int worldRank = 0;
  int worldSize = 1;
  int sizes[3] = {1, 1, 1}; // per Axis
  int ranks[3] = {0, 0, 0};
  MPI_Comm comms[3] = {MPI_COMM_NULL, MPI_COMM_NULL, MPI_COMM_NULL};
  std::map<int64_t, std::unique_ptr<Operation>> pending;
  int64_t nextHandle = 1;
};

State &state() {
  static State s;
  return s;
}

int axisIndex(Axis axis) { return static_cast<int>(axis); }

/// The group named by the C ABI's axis mask; ends the job when the group is
/// not set up or the mask is not one of the three.
Axis checkedAxis(int32_t axis, const char *function) {
  if (!state().initialized)
    fatal(std::string(function) +
          ": the process group is not initialised (lmcrt::comm::init)");
  Axis group;
  if (!axisOfMask(axis, group))
    fatal(std::string(function) + ": axis mask " + std::to_string(axis) +
          " is not 1 (dp), 2 (tp) or 3 (dp x tp)");
  return group;
}

/// `n` as an MPI count; ends the job when it does not fit.
int toCount(int64_t n, const std::string &what) {
  if (n > INT_MAX)
    fatal(what + ": " + std::to_string(n) +
          " elements exceed MPI's count limit (2^31 - 1)");
  return static_cast<int>(n);
}

/// Copies `v` into `buffer`, row-major, and returns the buffer's data.
float *packInto(const View &v, std::vector<float> &buffer) {
  buffer.resize(v.numElements());
  copyElements(v, View::packed(buffer.data(), v.sizes));
  return buffer.data();
}

/// Starts `op` (blocking: completes the MPI part too).
void launch(Operation &op, bool blocking) {
  int rc = MPI_SUCCESS;
  switch (op.kind) {
  case Kind::Copy:
    return;
  case Kind::AllReduce: {
    const void *send = op.send ? op.send : MPI_IN_PLACE;
    rc = blocking ? MPI_Allreduce(send, op.recv, op.count, MPI_FLOAT, MPI_SUM,
                                  op.comm)
                  : MPI_Iallreduce(send, op.recv, op.count, MPI_FLOAT, MPI_SUM,
                                   op.comm, &op.request);
    break;
  }
  case Kind::AllGather:
    rc = blocking ? MPI_Allgather(op.send, op.count, MPI_FLOAT, op.recv,
                                  op.count, MPI_FLOAT, op.comm)
                  : MPI_Iallgather(op.send, op.count, MPI_FLOAT, op.recv,
                                   op.count, MPI_FLOAT, op.comm, &op.request);
    break;
  case Kind::ReduceScatter:
    rc = blocking
             ? MPI_Reduce_scatter_block(op.send, op.recv, op.count, MPI_FLOAT,
                                        MPI_SUM, op.comm)
             : MPI_Ireduce_scatter_block(op.send, op.recv, op.count, MPI_FLOAT,
                                         MPI_SUM, op.comm, &op.request);
    break;
  }
  checkMpi(rc, op.what);
}

/// Waits for `op`'s request, if any, and copies its result into place.
void complete(Operation &op) {
  if (op.request != MPI_REQUEST_NULL)
    checkMpi(MPI_Wait(&op.request, MPI_STATUS_IGNORE), op.what);
  if (op.unpack)
    copyElements(op.unpackFrom, op.unpackTo);
}

/// Sets the result buffer of `op`: `out` itself when `direct`, otherwise a
/// temporary that completion copies into `out` through `outBlocks` (a view of
/// `out` with the temporary's row-major shape).
void setResult(Operation &op, const View &out, bool direct,
               const View &outBlocks) {
  if (direct) {
    op.recv = out.data;
    return;
  }
  op.recvTemp.resize(outBlocks.numElements());
  op.recv = op.recvTemp.data();
  op.unpack = true;
  op.unpackFrom = View::packed(op.recv, outBlocks.sizes);
  op.unpackTo = outBlocks;
}

std::unique_ptr<Operation> prepareAllReduce(lmcrt_unranked_memref *inRef,
                                            lmcrt_unranked_memref *outRef,
                                            int32_t axisArg,
                                            const char *function) {
  Axis axis = checkedAxis(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + axisName(axis);
  View in(inRef), out(outRef);
  if (in.sizes != out.sizes)
    fatal(op->what + ": the input is " + in.shapeString() +
          " but the output is " + out.shapeString());
  if (axisSize(axis) == 1) {
    if (!in.sameAs(out))
      copyElements(in, out);
    return op;
  }
  op->kind = Kind::AllReduce;
  op->comm = communicator(axis);
  op->count = toCount(in.numElements(), op->what);
  setResult(*op, out, out.isContiguous(), out);
  bool overlapping = !in.sameAs(out) && overlaps(in, out);
  if (in.isContiguous() && in.data == op->recv)
    op->send = nullptr; // in place: in is out
  else if (in.isContiguous() && !overlapping)
    op->send = in.data;
  else if (!overlapping) {
    copyElements(in, View::packed(op->recv, in.sizes));
    op->send = nullptr;
  } else {
    op->send = packInto(in, op->sendTemp);
  }
  return op;
}

/// Ends the job unless `in` and `out` have the shapes of a block collective
/// (blockShapeError).
void checkBlockShapes(const Operation &op, const View &in, const View &out,
                      int64_t dim, int groupSize, bool gather) {
  std::string error = blockShapeError(in, out, dim, groupSize, gather);
  if (!error.empty())
    fatal(op.what + ": " + error);
}

std::unique_ptr<Operation> prepareAllGather(lmcrt_unranked_memref *inRef,
                                            lmcrt_unranked_memref *outRef,
                                            int32_t axisArg, int64_t dim,
                                            const char *function) {
  Axis axis = checkedAxis(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + axisName(axis);
  View in(inRef), out(outRef);
  int groupSize = axisSize(axis);
  checkBlockShapes(*op, in, out, dim, groupSize, /*gather=*/true);
  if (groupSize == 1) {
    if (!in.sameAs(out))
      copyElements(in, out);
    return op;
  }
  op->kind = Kind::AllGather;
  op->comm = communicator(axis);
  op->count = toCount(in.numElements(), op->what);
  toCount(out.numElements(), op->what);
  if (in.isContiguous() && !overlaps(in, out))
    op->send = in.data;
  else
    op->send = packInto(in, op->sendTemp);
  setResult(*op, out, blocksAreConsecutive(out, dim),
            blocksAlong(out, dim, groupSize));
  return op;
}

std::unique_ptr<Operation> prepareReduceScatter(lmcrt_unranked_memref *inRef,
                                                lmcrt_unranked_memref *outRef,
                                                int32_t axisArg, int64_t dim,
                                                const char *function) {
  Axis axis = checkedAxis(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + axisName(axis);
  View in(inRef), out(outRef);
  int groupSize = axisSize(axis);
  checkBlockShapes(*op, in, out, dim, groupSize, /*gather=*/false);
  if (groupSize == 1) {
    if (!in.sameAs(out))
      copyElements(in, out);
    return op;
  }
  op->kind = Kind::ReduceScatter;
  op->comm = communicator(axis);
  op->count = toCount(out.numElements(), op->what);
  toCount(in.numElements(), op->what);
  if (blocksAreConsecutive(in, dim) && !overlaps(in, out)) {
    op->send = in.data;
  } else {
    View blocks = blocksAlong(in, dim, groupSize);
    op->sendTemp.resize(in.numElements());
    copyElements(blocks, View::packed(op->sendTemp.data(), blocks.sizes));
    op->send = op->sendTemp.data();
  }
  setResult(*op, out, out.isContiguous(), out);
  return op;
}

/// Runs a blocking collective.
void run(std::unique_ptr<Operation> op) {
  launch(*op, /*blocking=*/true);
  complete(*op);
}

/// Starts a non-blocking collective and returns its handle.
int64_t start(std::unique_ptr<Operation> op) {
  launch(*op, /*blocking=*/false);
  State &s = state();
  int64_t handle = s.nextHandle++;
  s.pending.emplace(handle, std::move(op));
  return handle;
}

} // namespace

//===----------------------------------------------------------------------===//
// The process group
//===----------------------------------------------------------------------===//

bool comm::axisOfMask(int32_t axes, Axis &axis) {
  switch (axes) {
  case 1:
    axis = Axis::DP;
    return true;
  case 2:
    axis = Axis::TP;
    return true;
  case 3:
    axis = Axis::World;
    return true;
  }
  return false;
}

const char *comm::axisName(Axis axis) {
  switch (axis) {
  case Axis::DP:
    return "dp";
  case Axis::TP:
    return "tp";
  case Axis::World:
    return "world";
  }
  return "?";
}

void comm::init(int dp, int tp) {
  State &s = state();
  if (s.initialized)
    fail("the process group is already initialised");
  std::string mesh =
      "mesh dp=" + std::to_string(dp) + " x tp=" + std::to_string(tp);
  if (dp < 1 || tp < 1)
    usageError(mesh + ": both sizes must be at least 1");

  // MPI only under mpirun: a process started on its own is a world of one and
  // never initialises MPI.
  s.mpi = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
  s.worldRank = 0;
  s.worldSize = 1;
  if (s.mpi) {
    int finalized = 0, initialized = 0;
    MPI_Finalized(&finalized);
    if (finalized)
      fail("MPI is finalised; the process group cannot be set up again");
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      checkMpi(
          MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
          "MPI_Init_thread");
      s.ownsMpi = true;
      if (provided < MPI_THREAD_FUNNELED)
        fatal("MPI provides thread level " + std::to_string(provided) +
              ", the runtime needs MPI_THREAD_FUNNELED");
    }
    checkMpi(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
             "MPI_Comm_set_errhandler");
    checkMpi(MPI_Comm_rank(MPI_COMM_WORLD, &s.worldRank), "MPI_Comm_rank");
    checkMpi(MPI_Comm_size(MPI_COMM_WORLD, &s.worldSize), "MPI_Comm_size");
  }

  if (static_cast<int64_t>(dp) * tp != s.worldSize) {
    // Every rank sees the same mismatch. MPI stays initialised until
    // finalize(), so that the caller can report the error before any rank
    // exits (mpirun ends the job as soon as one rank exits with an error).
    bool underMpirun = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
    usageError(mesh + " needs " + std::to_string(int64_t(dp) * tp) +
               " processes, but " +
               (underMpirun ? "mpirun started " + std::to_string(s.worldSize)
                            : std::string("this one was not started by "
                                          "mpirun")));
  }

  // Rank r is at (r / tp, r % tp): tensor-parallel groups are neighbours.
  int dpIndex = s.worldRank / tp, tpIndex = s.worldRank % tp;
  int expectedSize[3] = {dp, tp, s.worldSize};
  int expectedRank[3] = {dpIndex, tpIndex, s.worldRank};
  for (int a = 0; a < 3; ++a) {
    s.sizes[a] = expectedSize[a];
    s.ranks[a] = expectedRank[a];
  }
  if (s.mpi) {
    MPI_Comm *comms = s.comms;
    checkMpi(MPI_Comm_dup(MPI_COMM_WORLD, &comms[axisIndex(Axis::World)]),
             "creating the world communicator");
    checkMpi(MPI_Comm_split(MPI_COMM_WORLD, /*color=*/tpIndex, /*key=*/dpIndex,
                            &comms[axisIndex(Axis::DP)]),
             "creating the dp communicators");
    checkMpi(MPI_Comm_split(MPI_COMM_WORLD, /*color=*/dpIndex, /*key=*/tpIndex,
                            &comms[axisIndex(Axis::TP)]),
             "creating the tp communicators");
    for (int a = 0; a < 3; ++a) {
      std::string name = axisName(static_cast<Axis>(a));
      checkMpi(MPI_Comm_set_errhandler(comms[a], MPI_ERRORS_RETURN),
               "MPI_Comm_set_errhandler on the " + name + " communicator");
      int size = 0, rank = 0;
      checkMpi(MPI_Comm_size(comms[a], &size), "MPI_Comm_size");
      checkMpi(MPI_Comm_rank(comms[a], &rank), "MPI_Comm_rank");
      if (size != expectedSize[a] || rank != expectedRank[a])
        fatal("the " + name + " communicator has rank " + std::to_string(rank) +
              " of " + std::to_string(size) + ", expected " +
              std::to_string(expectedRank[a]) + " of " +
              std::to_string(expectedSize[a]));
    }
  }
  s.initialized = true;
}

namespace {
std::vector<void (*)()> &finalizeHooks() {
  static std::vector<void (*)()> hooks;
  return hooks;
}
} // namespace

void comm::atFinalize(void (*hook)()) {
  std::vector<void (*)()> &hooks = finalizeHooks();
  if (std::find(hooks.begin(), hooks.end(), hook) == hooks.end())
    hooks.push_back(hook);
}

void comm::finalize() {
  State &s = state();
  if (s.initialized)
    for (void (*hook)() : finalizeHooks())
      hook();
  if (!s.initialized) {
    // After a failed init: only MPI itself to finalise.
    if (s.ownsMpi)
      MPI_Finalize();
    s = State();
    return;
  }
  if (!s.pending.empty())
    fatal("finalize: " + std::to_string(s.pending.size()) +
          " asynchronous collective(s) started and never waited");
  if (s.mpi) {
    for (MPI_Comm &c : s.comms)
      if (c != MPI_COMM_NULL)
        checkMpi(MPI_Comm_free(&c), "MPI_Comm_free");
    if (s.ownsMpi)
      checkMpi(MPI_Finalize(), "MPI_Finalize");
  }
  s = State();
}

bool comm::initialized() { return state().initialized; }
bool comm::usesMpi() { return state().initialized && state().mpi; }
int comm::rank() { return state().worldRank; }
int comm::world() { return state().worldSize; }
int comm::axisSize(Axis axis) { return state().sizes[axisIndex(axis)]; }
int comm::axisRank(Axis axis) { return state().ranks[axisIndex(axis)]; }

MPI_Comm comm::communicator(Axis axis) {
  return state().comms[axisIndex(axis)];
}

void comm::abortAll(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    // mpirun forwards the ranks' output asynchronously and drops what it has
    // not read yet when MPI_Abort ends the job (seen under load): give it a
    // moment to forward the error line first.
    usleep(300 * 1000);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
  _exit(code);
}

void comm::fatal(const std::string &message) {
  std::string line = "lmcrt: ";
  if (state().worldSize > 1)
    line += "rank " + std::to_string(state().worldRank) + ": ";
  line += message + "\n";
  // One write, so that lines of different ranks do not interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
  abortAll(1);
}

void comm::checkMpi(int rc, const std::string &what) {
  if (rc == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS)
    std::snprintf(text, sizeof(text), "MPI error code %d", rc);
  fatal(what + " failed: " + text);
}

int64_t comm::pendingCount() {
  return static_cast<int64_t>(state().pending.size());
}

//===----------------------------------------------------------------------===//
// The C ABI
//===----------------------------------------------------------------------===//

extern "C" void _mlir_ciface_lmcrt_all_reduce_f32(lmcrt_unranked_memref *in,
                                                  lmcrt_unranked_memref *out,
                                                  int32_t axis) {
  run(prepareAllReduce(in, out, axis, "all_reduce_f32"));
}

extern "C" void _mlir_ciface_lmcrt_all_gather_f32(lmcrt_unranked_memref *in,
                                                  lmcrt_unranked_memref *out,
                                                  int32_t axis, int64_t dim) {
  run(prepareAllGather(in, out, axis, dim, "all_gather_f32"));
}

extern "C" void
_mlir_ciface_lmcrt_reduce_scatter_f32(lmcrt_unranked_memref *in,
                                      lmcrt_unranked_memref *out, int32_t axis,
                                      int64_t dim) {
  run(prepareReduceScatter(in, out, axis, dim, "reduce_scatter_f32"));
}

extern "C" int64_t _mlir_ciface_lmcrt_all_reduce_start_f32(
    lmcrt_unranked_memref *in, lmcrt_unranked_memref *out, int32_t axis) {
  return start(prepareAllReduce(in, out, axis, "all_reduce_start_f32"));
}

extern "C" int64_t
_mlir_ciface_lmcrt_all_gather_start_f32(lmcrt_unranked_memref *in,
                                        lmcrt_unranked_memref *out,
                                        int32_t axis, int64_t dim) {
  return start(prepareAllGather(in, out, axis, dim, "all_gather_start_f32"));
}

extern "C" int64_t
_mlir_ciface_lmcrt_reduce_scatter_start_f32(lmcrt_unranked_memref *in,
                                            lmcrt_unranked_memref *out,
                                            int32_t axis, int64_t dim) {
  return start(
      prepareReduceScatter(in, out, axis, dim, "reduce_scatter_start_f32"));
}

extern "C" void lmcrt_collective_wait(int64_t handle) {
  State &s = state();
  auto it = s.pending.find(handle);
  if (it == s.pending.end())
    fatal("lmcrt_collective_wait: unknown handle " + std::to_string(handle) +
          " (not returned by a _start function, or already waited)");
  std::unique_ptr<Operation> op = std::move(it->second);
  s.pending.erase(it);
  complete(*op);
}

void comm::progress() {
  State &s = state();
  if (!s.mpi)
    return;
  for (auto &entry : s.pending) {
    Operation &op = *entry.second;
    if (op.request == MPI_REQUEST_NULL)
      continue;
    int done = 0;
    // A completed request is left for lmcrt_collective_wait: MPI_Test on a
    // nonblocking collective's request frees it and sets it to null, and
    // wait then finds it done.
    checkMpi(MPI_Test(&op.request, &done, MPI_STATUS_IGNORE),
             op.what + " (progress)");
  }
}

void comm::gatherToRoot(Axis axis, const float *send, int64_t count,
                        float *recv) {
  std::string what = std::string("gather to rank 0 over ") + axisName(axis);
  if (!usesMpi() || axisSize(axis) == 1) {
    if (count > 0 && send != recv)
      std::memmove(recv, send, sizeof(float) * count);
    return;
  }
  int n = toCount(count, what);
  checkMpi(MPI_Gather(send, n, MPI_FLOAT, axisRank(axis) == 0 ? recv : nullptr,
                      n, MPI_FLOAT, /*root=*/0, communicator(axis)),
           what);
}

void comm::broadcast(Axis axis, void *data, int64_t bytes) {
  if (!usesMpi() || axisSize(axis) == 1)
    return;
  std::string what =
      std::string("broadcast from rank 0 over ") + axisName(axis);
  checkMpi(MPI_Bcast(data, toCount(bytes, what), MPI_BYTE, /*root=*/0,
                     communicator(axis)),
           what);
}

extern "C" int64_t lmcrt_axis_index(int32_t axis) {
  return axisRank(checkedAxis(axis, "lmcrt_axis_index"));
}

extern "C" int32_t lmcrt_world_rank(void) {
  if (!state().initialized)
    fatal("lmcrt_world_rank: the process group is not initialised");
  return state().worldRank;
}

extern "C" int32_t lmcrt_world_size(void) {
  if (!state().initialized)
    fatal("lmcrt_world_size: the process group is not initialised");
  return state().worldSize;
}
