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

#include "Comm/Collectives.h"
#include "Comm/CollectiveShapes.h"
#include "Core/Error.h"
#include "Core/MemrefView.h"

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

/// The most mesh axes (a communicator per non-empty subset of them).
constexpr size_t kMaxAxes = 6;

struct State {
  bool initialized = false;
  bool mpi = false;     // the group communicates over MPI
  bool ownsMpi = false; // init called MPI_Init_thread
  int worldRank = 0;
  int worldSize = 1;
  ::lmc::MeshSpec mesh;
  std::vector<int64_t> coords; // this rank's, per axis
  /// Per group (mask): its size, this rank's index in it, its communicator.
  std::vector<int> sizes = {1}, ranks = {0};
  std::vector<MPI_Comm> comms = {MPI_COMM_NULL};
  std::map<int64_t, std::unique_ptr<Operation>> pending;
  int64_t nextHandle = 1;
};

State &state() {
  static State s;
  return s;
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
  Group axis = checkedGroup(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + groupName(axis);
  View in(inRef), out(outRef);
  if (in.sizes != out.sizes)
    fatal(op->what + ": the input is " + in.shapeString() +
          " but the output is " + out.shapeString());
  if (groupSize(axis) == 1) {
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
  Group axis = checkedGroup(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + groupName(axis);
  View in(inRef), out(outRef);
  int groupSize = comm::groupSize(axis);
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
  Group axis = checkedGroup(axisArg, function);
  auto op = std::make_unique<Operation>();
  op->what = std::string(function) + " over " + groupName(axis);
  View in(inRef), out(outRef);
  int groupSize = comm::groupSize(axis);
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

const ::lmc::MeshSpec &comm::mesh() { return state().mesh; }

Group comm::worldGroup() { return state().mesh.allAxes(); }

std::string comm::groupName(Group group) {
  const ::lmc::MeshSpec &m = state().mesh;
  if (group == m.allAxes() && m.axes.size() > 1)
    return "world";
  return m.groupName(group);
}

Group comm::checkedGroup(int32_t group, const char *function) {
  State &s = state();
  if (!s.initialized)
    fatal(std::string(function) +
          ": the process group is not initialised (lmcrt::comm::init)");
  if (group < 0 || static_cast<uint32_t>(group) > s.mesh.allAxes()) {
    std::string axes;
    for (size_t i = 0; i < s.mesh.axes.size(); ++i)
      axes += (i ? ", " : "") + std::to_string(1u << i) + " (" +
              s.mesh.axes[i].name + ")";
    fatal(std::string(function) + ": axes " + std::to_string(group) +
          " is not a mask over the mesh " +
          (s.mesh.axes.empty() ? std::string("(no axes)")
                               : s.mesh.str() + " (bits " + axes + ")"));
  }
  return static_cast<Group>(group);
}

void comm::init(const ::lmc::MeshSpec &mesh) {
  State &s = state();
  if (s.initialized)
    fail("the process group is already initialised");
  std::string meshText = "mesh ";
  for (size_t i = 0; i < mesh.axes.size(); ++i)
    meshText += (i ? " x " : "") + mesh.axes[i].name + "=" +
                std::to_string(mesh.axes[i].size);
  if (mesh.axes.empty())
    meshText += "of one rank";
  if (mesh.axes.size() > kMaxAxes)
    usageError(meshText + ": the runtime supports at most " +
               std::to_string(kMaxAxes) + " mesh axes");
  for (const ::lmc::MeshAxis &axis : mesh.axes)
    if (axis.size < 1)
      usageError(meshText + ": every size must be at least 1");
  const int64_t devices = mesh.numDevices();

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

  if (devices != s.worldSize) {
    // Every rank sees the same mismatch. MPI stays initialised until
    // finalize(), so that the caller can report the error before any rank
    // exits (mpirun ends the job as soon as one rank exits with an error).
    bool underMpirun = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
    usageError(meshText + " needs " + std::to_string(devices) +
               " processes, but " +
               (underMpirun ? "mpirun started " + std::to_string(s.worldSize)
                            : std::string("this one was not started by "
                                          "mpirun")));
  }

  // Rank r is at the row-major coordinates of r: the last axis's groups are
  // neighbours.
  s.mesh = mesh;
  s.coords = mesh.coordsOf(s.worldRank);
  const size_t groups = size_t(1) << mesh.axes.size();
  s.sizes.assign(groups, 1);
  s.ranks.assign(groups, 0);
  s.comms.assign(groups, MPI_COMM_NULL);
  for (size_t g = 0; g < groups; ++g) {
    Group group = static_cast<Group>(g);
    s.sizes[g] = static_cast<int>(mesh.groupSize(group));
    s.ranks[g] = static_cast<int>(mesh.groupIndex(s.coords, group));
    if (!s.mpi || group == 0)
      continue;
    std::string name = "the " + mesh.groupName(group) + " communicator";
    MPI_Comm &c = s.comms[g];
    if (group == mesh.allAxes())
      checkMpi(MPI_Comm_dup(MPI_COMM_WORLD, &c), "creating " + name);
    else
      checkMpi(MPI_Comm_split(
                   MPI_COMM_WORLD,
                   /*color=*/static_cast<int>(mesh.groupColor(s.coords, group)),
                   /*key=*/s.ranks[g], &c),
               "creating " + name);
    checkMpi(MPI_Comm_set_errhandler(c, MPI_ERRORS_RETURN),
             "MPI_Comm_set_errhandler on " + name);
    int size = 0, rank = 0;
    checkMpi(MPI_Comm_size(c, &size), "MPI_Comm_size");
    checkMpi(MPI_Comm_rank(c, &rank), "MPI_Comm_rank");
    if (size != s.sizes[g] || rank != s.ranks[g])
      fatal(name + " has rank " + std::to_string(rank) + " of " +
            std::to_string(size) + ", expected " + std::to_string(s.ranks[g]) +
            " of " + std::to_string(s.sizes[g]));
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
namespace {
/// The index of `group` in the State's tables; ends the job for a mask
/// beyond the mesh's axes.
size_t groupIndexOf(Group group) {
  const State &s = state();
  if (group >= s.sizes.size())
    fatal("axes " + std::to_string(group) + " is not a mask over the mesh " +
          (s.mesh.axes.empty() ? std::string("(no axes)") : s.mesh.str()));
  return group;
}
} // namespace

int comm::groupSize(Group group) { return state().sizes[groupIndexOf(group)]; }
int comm::groupRank(Group group) { return state().ranks[groupIndexOf(group)]; }

MPI_Comm comm::communicator(Group group) {
  return state().comms[groupIndexOf(group)];
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

void comm::gatherToRoot(Group axis, const float *send, int64_t count,
                        float *recv) {
  std::string what = std::string("gather to rank 0 over ") + groupName(axis);
  if (!usesMpi() || groupSize(axis) == 1) {
    if (count > 0 && send != recv)
      std::memmove(recv, send, sizeof(float) * count);
    return;
  }
  int n = toCount(count, what);
  checkMpi(MPI_Gather(send, n, MPI_FLOAT, groupRank(axis) == 0 ? recv : nullptr,
                      n, MPI_FLOAT, /*root=*/0, communicator(axis)),
           what);
}

void comm::broadcast(Group axis, void *data, int64_t bytes) {
  if (!usesMpi() || groupSize(axis) == 1)
    return;
  std::string what =
      std::string("broadcast from rank 0 over ") + groupName(axis);
  checkMpi(MPI_Bcast(data, toCount(bytes, what), MPI_BYTE, /*root=*/0,
                     communicator(axis)),
           what);
}

extern "C" int64_t lmcrt_axis_index(int32_t axes) {
  return groupRank(checkedGroup(axes, "lmcrt_axis_index"));
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
