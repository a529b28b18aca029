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
// Every form starts the non-blocking MPI collective (MPI_Iallreduce, ...);
// the blocking forms wait for it at once, the _start forms keep the operation
// (its temporaries, its request and the final copy) under a handle until
// lmcrt_collective_wait.
//
// Waits have a deadline (Deadline.h: LMCRT_COLLECTIVE_TIMEOUT, default 300 s)
// and back off (a millisecond of polling with MPI_Test, then sleeps growing
// to 2 ms), so that a rank waiting on a hung peer neither hangs forever nor
// spins a core. Each rank counts the collectives it has started on each
// group; a collective's number in that count names it across the ranks (MPI
// requires the ranks of a communicator to start its collectives in the same
// order). When a wait expires, the rank asks the other ranks of the group,
// with point-to-point messages on a communicator of their own, how many
// collectives they have started on the group: a rank waiting anywhere answers
// between its polls. The ranks that have not started this one, or that do not
// answer within 2 s, did not arrive. The rank prints one line (the
// collective, its size, its number, the step the trainer set with setStep,
// the ranks that did not arrive) and ends the job. A healthy run sends no
// such message: the watchdog costs nothing but the polling.
//
//===----------------------------------------------------------------------===//

#include "Comm/Collectives.h"
#include "Comm/CollectiveShapes.h"
#include "Comm/Deadline.h"
#include "Comm/PointToPoint.h"
#include "Core/Error.h"
#include "Core/MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <numeric>
#include <sstream>
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
  MPI_Comm comm = kNoComm;
  Group group = 0;
  int64_t seq = 0;   // its number among the collectives started on `group`
  int64_t bytes = 0; // the whole tensor's (the larger of input and output)
  const float *send = nullptr; // nullptr: in place on `recv` (all_reduce)
  float *recv = nullptr;
  int count = 0; // all_reduce: all elements; otherwise one rank's block
  std::vector<float> sendTemp, recvTemp;
  MPI_Request request = kNoRequest;
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
  std::vector<MPI_Comm> comms = {kNoComm};
  std::map<int64_t, std::unique_ptr<Operation>> pending;
  int64_t nextHandle = 1;
  /// The watchdog: the timeout, its communicator (a duplicate of the world's,
  /// for its questions and answers only), the collectives started per group,
  /// the collective being waited for (to answer questions) and the answers
  /// in flight.
  double timeout = kCpuDefaultTimeout;
  std::string timeoutVariable = kTimeoutVariable;
  MPI_Comm watch = kNoComm;
  std::vector<int64_t> started = {0};
  Group waitingGroup = 0;
  int64_t waitingSeq = -1;
  struct Answer {
    int64_t data[4];
    MPI_Request request = kNoRequest;
  };
  std::deque<Answer> answers;
};

/// Whether `request` is none: never started (kNoRequest) or completed and
/// freed by MPI (MPI_REQUEST_NULL, asked only of a started one).
bool isNull(MPI_Request request) {
  return request == kNoRequest || request == MPI_REQUEST_NULL;
}

/// The watchdog's message tags on State::watch.
constexpr int kQueryTag = 1, kAnswerTag = 2;

/// The step the trainer is taking (setStep); outside State, which finalize
/// resets.
int64_t &currentStep() {
  static int64_t step = -1;
  return step;
}

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

/// Counts a collective started on `group` and returns its number.
int64_t countStarted(Group group) { return ++state().started[group]; }

/// Answers the other ranks' questions (timedOut): for each, this rank's count
/// of collectives started on the group asked about, its step and the
/// collective it waits for. Cheap when there is none (one MPI_Iprobe).
void answerQuestions() {
  State &s = state();
  if (s.watch == kNoComm)
    return;
  for (;;) {
    int flag = 0;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kQueryTag, s.watch, &flag, &status) !=
            MPI_SUCCESS ||
        !flag)
      break;
    int64_t question[2] = {0, 0};
    checkMpi(MPI_Recv(question, 2, MPI_INT64_T, status.MPI_SOURCE, kQueryTag,
                      s.watch, MPI_STATUS_IGNORE),
             "the watchdog's question");
    Group group = static_cast<Group>(question[0]);
    State::Answer &a = s.answers.emplace_back();
    a.data[0] = group < s.started.size() ? s.started[group] : -1;
    a.data[1] = currentStep();
    a.data[2] = s.waitingSeq;
    a.data[3] = s.waitingGroup;
    checkMpi(MPI_Isend(a.data, 4, MPI_INT64_T, status.MPI_SOURCE, kAnswerTag,
                       s.watch, &a.request),
             "the watchdog's answer");
  }
  while (!s.answers.empty()) {
    int done = 0;
    checkMpi(MPI_Test(&s.answers.front().request, &done, MPI_STATUS_IGNORE),
             "the watchdog's answer");
    if (!done)
      break;
    s.answers.pop_front();
  }
}

std::string stepText(int64_t step) {
  return step < 0 ? std::string("before the first step")
                  : "at step " + std::to_string(step);
}

/// A wait on collective number `seq` of `group` has expired: asks the other
/// ranks of the group which of them have started it, prints one line and
/// ends the job.
[[noreturn]] void timedOut(const std::string &what, Group group, int64_t seq,
                           int64_t bytes) {
  State &s = state();
  std::ostringstream line;
  line << what << " (" << bytes << " bytes, collective " << seq << " over "
       << groupName(group) << ") did not complete within " << s.timeout
       << " s (" << s.timeoutVariable << ") " << stepText(currentStep());

  // The world ranks of the group, in group-rank order.
  MPI_Comm comm = s.comms[group];
  int n = s.sizes[group];
  std::vector<int> local(n), world(n);
  std::iota(local.begin(), local.end(), 0);
  MPI_Group groupOfComm, worldGroup;
  checkMpi(MPI_Comm_group(comm, &groupOfComm), "MPI_Comm_group");
  checkMpi(MPI_Comm_group(MPI_COMM_WORLD, &worldGroup), "MPI_Comm_group");
  checkMpi(MPI_Group_translate_ranks(groupOfComm, n, local.data(), worldGroup,
                                     world.data()),
           "MPI_Group_translate_ranks");
  MPI_Group_free(&groupOfComm);
  MPI_Group_free(&worldGroup);

  struct Peer {
    int rank;
    int64_t question[2];
    int64_t answer[4];
    MPI_Request send = kNoRequest, recv = kNoRequest;
    bool answered = false;
  };
  std::deque<Peer> peers;
  for (int r : world) {
    if (r == s.worldRank)
      continue;
    Peer &p = peers.emplace_back();
    p.rank = r;
    p.question[0] = group;
    p.question[1] = seq;
    checkMpi(MPI_Irecv(p.answer, 4, MPI_INT64_T, r, kAnswerTag, s.watch,
                       &p.recv),
             "the watchdog's question");
    checkMpi(MPI_Isend(p.question, 2, MPI_INT64_T, r, kQueryTag, s.watch,
                       &p.send),
             "the watchdog's question");
  }
  waitWithDeadline(
      [&] {
        bool all = true;
        for (Peer &p : peers) {
          if (!p.answered) {
            int done = 0;
            MPI_Test(&p.recv, &done, MPI_STATUS_IGNORE);
            p.answered = done != 0;
          }
          all = all && p.answered;
        }
        return all;
      },
      answerQuestions, std::min(2.0, s.timeout), WaitClock::steady());

  std::string missing;
  for (const Peer &p : peers) {
    std::string why;
    if (!p.answered)
      why = "no answer";
    else if (p.answer[0] < seq)
      why = stepText(p.answer[1]) + ", " +
            (p.answer[2] < 0
                 ? std::string("not in a collective wait")
                 : "waiting on collective " + std::to_string(p.answer[2]) +
                       " over " +
                       groupName(static_cast<Group>(p.answer[3])));
    else
      continue;
    missing += (missing.empty() ? "" : ", ") + std::to_string(p.rank) + " (" +
               why + ")";
  }
  if (missing.empty())
    line << "; every rank of the group started it (the transfer is stuck)";
  else
    line << "; ranks that did not arrive: " << missing;
  fatal(line.str());
}

/// Waits for `request` (of collective `seq` of `group`, `what`, `bytes`
/// bytes) with the deadline, polling with backoff.
void await(MPI_Request &request, const std::string &what, Group group,
           int64_t seq, int64_t bytes) {
  if (isNull(request))
    return;
  State &s = state();
  int rc = MPI_SUCCESS;
  s.waitingGroup = group;
  s.waitingSeq = seq;
  WaitResult result = waitWithDeadline(
      [&] {
        int done = 0;
        rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        return rc != MPI_SUCCESS || done != 0;
      },
      answerQuestions, s.timeout, WaitClock::steady());
  checkMpi(rc, what);
  if (!result.done)
    timedOut(what, group, seq, bytes); // still answering as waiting on it
  s.waitingSeq = -1;
}

/// Starts `op`'s non-blocking MPI collective.
void launch(Operation &op) {
  int rc = MPI_SUCCESS;
  switch (op.kind) {
  case Kind::Copy:
    return;
  case Kind::AllReduce: {
    const void *send = op.send ? op.send : MPI_IN_PLACE;
    rc = MPI_Iallreduce(send, op.recv, op.count, MPI_FLOAT, MPI_SUM, op.comm,
                        &op.request);
    op.bytes = int64_t(op.count) * 4;
    break;
  }
  case Kind::AllGather:
    rc = MPI_Iallgather(op.send, op.count, MPI_FLOAT, op.recv, op.count,
                        MPI_FLOAT, op.comm, &op.request);
    op.bytes = int64_t(op.count) * 4 * groupSize(op.group);
    break;
  case Kind::ReduceScatter:
    rc = MPI_Ireduce_scatter_block(op.send, op.recv, op.count, MPI_FLOAT,
                                   MPI_SUM, op.comm, &op.request);
    op.bytes = int64_t(op.count) * 4 * groupSize(op.group);
    break;
  }
  op.seq = countStarted(op.group);
  checkMpi(rc, op.what);
}

/// Waits for `op`'s request, if any, and copies its result into place.
void complete(Operation &op) {
  await(op.request, op.what, op.group, op.seq, op.bytes);
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
  op->group = axis;
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
  op->group = axis;
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
  op->group = axis;
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
  launch(*op);
  complete(*op);
}

/// Starts a non-blocking collective and returns its handle.
int64_t start(std::unique_ptr<Operation> op) {
  launch(*op);
  int64_t handle = newHandle();
  state().pending.emplace(handle, std::move(op));
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

  // The deadline of every wait; a bad value stops every rank alike.
  TimeoutSetting timeout = timeoutFromEnvironment(kCpuDefaultTimeout);
  if (!timeout.error.empty())
    usageError(timeout.error);
  s.timeout = timeout.seconds;
  if (!timeout.variable.empty())
    s.timeoutVariable = timeout.variable;

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
  s.comms.assign(groups, kNoComm);
  s.started.assign(groups, 0);
  if (s.mpi) {
    checkMpi(MPI_Comm_dup(MPI_COMM_WORLD, &s.watch),
             "creating the watchdog's communicator");
    checkMpi(MPI_Comm_set_errhandler(s.watch, MPI_ERRORS_RETURN),
             "MPI_Comm_set_errhandler");
  }
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
  finalizePointToPoint();
  if (s.mpi) {
    for (MPI_Comm &c : s.comms)
      if (c != kNoComm && c != MPI_COMM_NULL)
        checkMpi(MPI_Comm_free(&c), "MPI_Comm_free");
    // Answers not yet received (their askers are ending the job) complete
    // on their own.
    for (State::Answer &a : s.answers)
      if (!isNull(a.request))
        MPI_Request_free(&a.request);
    if (s.watch != kNoComm && s.watch != MPI_COMM_NULL)
      checkMpi(MPI_Comm_free(&s.watch), "MPI_Comm_free");
    if (s.ownsMpi)
      checkMpi(MPI_Finalize(), "MPI_Finalize");
  }
  s = State();
}

bool comm::initialized() { return state().initialized; }

void comm::setStep(int64_t step) { currentStep() = step; }
int64_t comm::step() { return currentStep(); }
double comm::timeoutSeconds() { return state().timeout; }
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
  MPI_Comm c = state().comms[groupIndexOf(group)];
  return c != kNoComm ? c : MPI_COMM_NULL;
}

void comm::abortAll(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  // A process that never loaded MPI has no MPI to abort.
  int initialized = 0, finalized = 0;
  if (mpiLoaded()) {
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
  }
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

int64_t comm::newHandle() { return state().nextHandle++; }

void comm::answerWatchdog() { answerQuestions(); }

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
  if (it == s.pending.end() && waitReceive(handle))
    return;
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
  progressPointToPoint();
  for (auto &entry : s.pending) {
    Operation &op = *entry.second;
    if (isNull(op.request))
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
  MPI_Request request = kNoRequest;
  checkMpi(MPI_Igather(send, n, MPI_FLOAT,
                       groupRank(axis) == 0 ? recv : nullptr, n, MPI_FLOAT,
                       /*root=*/0, communicator(axis), &request),
           what);
  int64_t seq = countStarted(axis);
  await(request, what, axis, seq, count * 4 * int64_t(groupSize(axis)));
}

void comm::broadcast(Group axis, void *data, int64_t bytes, int root) {
  if (root < 0 || root >= groupSize(axis))
    fatal("broadcast over " + groupName(axis) + ": root " +
          std::to_string(root) + " is not an index of the group (size " +
          std::to_string(groupSize(axis)) + ")");
  if (!usesMpi() || groupSize(axis) == 1)
    return;
  std::string what = "broadcast from rank " + std::to_string(root) +
                     " over " + groupName(axis);
  constexpr int64_t kPiece = int64_t(1) << 30;
  int64_t done = 0;
  do {
    const int64_t n = std::min(kPiece, bytes - done);
    MPI_Request request = kNoRequest;
    checkMpi(MPI_Ibcast(static_cast<char *>(data) + done, toCount(n, what),
                        MPI_BYTE, root, communicator(axis), &request),
             what);
    int64_t seq = countStarted(axis);
    await(request, what, axis, seq, n);
    done += n;
  } while (done < bytes);
}

int32_t comm::allReduceMax(Group axis, int32_t value, const char *what) {
  if (!usesMpi() || groupSize(axis) == 1)
    return value;
  int32_t result = value;
  MPI_Request request = kNoRequest;
  checkMpi(MPI_Iallreduce(&value, &result, 1, MPI_INT32_T, MPI_MAX,
                          communicator(axis), &request),
           what);
  int64_t seq = countStarted(axis);
  await(request, what, axis, seq, sizeof(int32_t));
  return result;
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
