//===- StepGraph.cpp - The training step as one CUDA graph ----------------===//
//
// See StepGraph.h. All of it runs on the thread that runs the step (the
// compiled code's), as the stream operations it gates do.
//
//===----------------------------------------------------------------------===//

#include "Cuda/StepGraph.h"

#include "Comm/Collectives.h"
#include "Core/StepMemory.h"
#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/EpilogueFallback.h"
#include "Cuda/GpuProfile.h"

#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace lmcrt::cuda::step_graph {
namespace {

/// What the gates do in the current step.
enum class Phase {
  Idle,      // outside a step, or a step that runs uncaptured throughout
  Capturing, // the compute stream captures; gates record
  Replaying, // gates compare with the recorded operations
  Flushed,   // the graph (or its captured part) was launched at a flush
  Eager,     // after a divergence: the rest of the step runs uncaptured
  Lost,      // a capture failed: the rest of the step queues nothing
};

/// One gated operation of the recorded step.
struct Operation {
  std::string signature; // kind and arguments (a launch's: but parameters)
  std::vector<CUgraphNode> tail; // the capture's tail once it was queued
  // Kernel launches.
  bool kernel = false;
  CUgraphNode node = nullptr;
  CUfunction function = nullptr;
  unsigned dims[6] = {0, 0, 0, 0, 0, 0};
  unsigned smem = 0;
  std::vector<size_t> sizes; // of each parameter
  std::string params;        // the bytes the instantiated graph holds now
  std::string captured;      // the bytes captured
};

struct State {
  bool configured = false;
  bool enabled = false;  // LMCRT_CUDA_GRAPH, LMCRT_PROFILE, the driver
  bool disabled = false; // turned off during the run (said once)
  Phase phase = Phase::Idle;
  bool fromCapture = false; // the flush ended this step's capture
  bool flushWasWait = false;
  std::string flushWhat;
  std::vector<Operation> ops;
  size_t next = 0; // replay: the operation the next gate compares with
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  bool announced = false;
  bool divergenceSaid = false;
  int failedReplays = 0; // captures in a row whose first replay diverged
  bool replayedSinceCapture = false;
  int64_t patched = 0; // this step
  bool rerun = false;
  std::vector<void *> deferred;
  std::unordered_map<CUfunction, std::vector<size_t>> paramSizes;
  Stats stats;
};

State &state() {
  static State *s = new State; // used until exit
  return *s;
}

void say(const std::string &line) {
  std::fprintf(stderr, "lmcrt: %s\n", line.c_str());
  std::fflush(stderr);
}

void configure(State &s) {
  if (s.configured)
    return;
  s.configured = true;
  const char *env = std::getenv("LMCRT_CUDA_GRAPH");
  s.enabled = !(env && std::strcmp(env, "0") == 0) && !profile::enabled();
  if (s.enabled && driver().missingGraphFunction) {
    say(std::string("CUDA graphs off: the driver has no ") +
        driver().missingGraphFunction + " (the steps run uncaptured)");
    s.enabled = false;
  }
}

/// Turns graphs off for the rest of the run, saying why once.
void disable(State &s, const std::string &why) {
  if (!s.disabled)
    say("CUDA graphs off: " + why + "; the steps run uncaptured");
  s.disabled = true;
  s.stats.disabled = true;
}

void dropGraph(State &s) {
  if (s.exec)
    check(driver().cuGraphExecDestroy(s.exec), "cuGraphExecDestroy");
  if (s.graph)
    check(driver().cuGraphDestroy(s.graph), "cuGraphDestroy");
  s.exec = nullptr;
  s.graph = nullptr;
  s.ops.clear();
  s.next = 0;
}

/// The capture's current tail: the nodes the next captured node depends on.
std::vector<CUgraphNode> captureTail() {
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  CUgraph graph = nullptr;
  const CUgraphNode *deps = nullptr;
  size_t count = 0;
  check(driver().cuStreamGetCaptureInfo(computeStream(), &status, nullptr,
                                        &graph, &deps, nullptr, &count),
        "cuStreamGetCaptureInfo");
  if (status != CU_STREAM_CAPTURE_STATUS_ACTIVE || !deps)
    return {};
  return std::vector<CUgraphNode>(deps, deps + count);
}

std::vector<CUgraphNode> nodesOf(CUgraph graph) {
  size_t count = 0;
  check(driver().cuGraphGetNodes(graph, nullptr, &count), "cuGraphGetNodes");
  std::vector<CUgraphNode> nodes(count);
  if (count)
    check(driver().cuGraphGetNodes(graph, nodes.data(), &count),
          "cuGraphGetNodes");
  nodes.resize(count);
  return nodes;
}

/// `tail` and its ancestors.
std::unordered_set<CUgraphNode>
ancestors(const std::vector<CUgraphNode> &tail) {
  std::unordered_set<CUgraphNode> seen(tail.begin(), tail.end());
  std::vector<CUgraphNode> work(tail.begin(), tail.end());
  while (!work.empty()) {
    CUgraphNode n = work.back();
    work.pop_back();
    size_t count = 0;
    check(driver().cuGraphNodeGetDependencies(n, nullptr, nullptr, &count),
          "cuGraphNodeGetDependencies");
    std::vector<CUgraphNode> deps(count);
    if (count)
      check(
          driver().cuGraphNodeGetDependencies(n, deps.data(), nullptr, &count),
          "cuGraphNodeGetDependencies");
    for (size_t i = 0; i < count; ++i)
      if (seen.insert(deps[i]).second)
        work.push_back(deps[i]);
  }
  return seen;
}

/// A kernel node's parameters from `op` with `bytes` as its values.
struct KernelParams {
  std::vector<void *> pointers;
  CUDA_KERNEL_NODE_PARAMS p = {};
  KernelParams(const Operation &op, const std::string &bytes) {
    size_t at = 0;
    for (size_t size : op.sizes) {
      pointers.push_back(const_cast<char *>(bytes.data()) + at);
      at += size;
    }
    p.func = op.function;
    p.gridDimX = op.dims[0];
    p.gridDimY = op.dims[1];
    p.gridDimZ = op.dims[2];
    p.blockDimX = op.dims[3];
    p.blockDimY = op.dims[4];
    p.blockDimZ = op.dims[5];
    p.sharedMemBytes = op.smem;
    p.kernelParams = pointers.data();
    p.extra = nullptr;
  }
};

/// Runs the recorded operations 0..k-1 (replay skipped them): the graph's
/// nodes they made, with this step's parameters, as a graph of their own.
void runPrefix(State &s, size_t k) {
  if (k == 0)
    return;
  const DriverApi &d = driver();
  const std::unordered_set<CUgraphNode> keep = ancestors(s.ops[k - 1].tail);
  if (keep.empty())
    return; // the operations so far queued nothing
  CUgraph clone = nullptr;
  check(d.cuGraphClone(&clone, s.graph), "cuGraphClone");
  if (k < s.ops.size())
    for (CUgraphNode n : nodesOf(s.graph))
      if (!keep.count(n)) {
        CUgraphNode c = nullptr;
        check(d.cuGraphNodeFindInClone(&c, n, clone), "cuGraphNodeFindInClone");
        check(d.cuGraphDestroyNode(c), "cuGraphDestroyNode");
      }
  for (size_t i = 0; i < k; ++i) {
    const Operation &op = s.ops[i];
    if (!op.kernel || op.params == op.captured)
      continue;
    CUgraphNode c = nullptr;
    check(d.cuGraphNodeFindInClone(&c, op.node, clone),
          "cuGraphNodeFindInClone");
    KernelParams kp(op, op.params);
    check(d.cuGraphKernelNodeSetParams(c, &kp.p), "cuGraphKernelNodeSetParams");
  }
  CUgraphExec exec = nullptr;
  check(d.cuGraphInstantiate(&exec, clone, 0),
        "cuGraphInstantiate(the replayed part of the step)");
  check(d.cuGraphLaunch(exec, computeStream()),
        "cuGraphLaunch(the replayed part of the step)");
  // Both are freed once the launch completes.
  check(d.cuGraphExecDestroy(exec), "cuGraphExecDestroy");
  check(d.cuGraphDestroy(clone), "cuGraphDestroy");
}

/// Replay of operation `k` failed (`why`): runs what was skipped, drops the
/// graph; the rest of the step runs uncaptured and the next planned step
/// captures again.
void diverge(State &s, size_t k, const std::string &why) {
  runPrefix(s, k);
  ++s.stats.divergences;
  std::string line = "the step's operation " + std::to_string(k) + " of " +
                     std::to_string(s.ops.size()) + " differs from the " +
                     "captured one (" + why + ")";
  if (!s.replayedSinceCapture && ++s.failedReplays >= 2)
    disable(s, line + " again after a new capture");
  else if (!s.divergenceSaid) {
    s.divergenceSaid = true;
    say("CUDA graph replay stopped: " + line +
        "; the step goes on uncaptured and the next one is captured again");
  }
  dropGraph(s);
  s.phase = Phase::Eager;
}

/// A gate after the flush: the graph held only part of the step.
void afterFlush(State &s) {
  if (s.flushWasWait && s.fromCapture)
    disable(s, "the step waits for the GPU before its end (" + s.flushWhat +
                   "), so no graph can hold all of it");
  else if (!s.fromCapture)
    ++s.stats.divergences; // more operations than recorded
  dropGraph(s);
  s.phase = Phase::Eager;
}

/// Loses the capture (see the invariant in StepGraph.h).
void lose(State &s, const std::string &why) {
  CUgraph graph = nullptr;
  (void)driver().cuStreamEndCapture(computeStream(), &graph);
  if (graph)
    (void)driver().cuGraphDestroy(graph);
  dropGraph(s);
  if (!s.disabled)
    say("CUDA graphs off: capturing the step failed (" + why +
        "); nothing of it had run on the GPU, and it runs again "
        "uncaptured, as every later step does");
  s.disabled = true;
  s.stats.disabled = true;
  s.phase = Phase::Lost;
  s.rerun = true;
}

const std::vector<size_t> &sizesOf(State &s, CUfunction f, size_t count,
                                   bool &known) {
  auto [it, inserted] = s.paramSizes.try_emplace(f);
  if (inserted)
    for (size_t i = 0;; ++i) {
      size_t offset = 0, size = 0;
      if (driver().cuFuncGetParamInfo(f, i, &offset, &size) != CUDA_SUCCESS)
        break;
      it->second.push_back(size);
    }
  known = it->second.size() == count;
  return it->second;
}

} // namespace

bool gating() {
  Phase p = state().phase;
  return p == Phase::Capturing || p == Phase::Replaying;
}

bool active() { return state().phase != Phase::Idle; }

Signature &Signature::memref(const lmcrt_unranked_memref *m) {
  if (!on)
    return *this;
  if (!m) {
    value(int64_t(-1));
    return *this;
  }
  value(m->rank);
  const size_t bytes = 2 * sizeof(void *) + sizeof(int64_t) * (1 + 2 * m->rank);
  if (m->descriptor && m->rank >= 0)
    this->bytes.append(static_cast<const char *>(m->descriptor), bytes);
  return *this;
}

bool skip(const Signature &sig) {
  State &s = state();
  switch (s.phase) {
  case Phase::Capturing: {
    Operation op;
    op.signature = sig.text();
    s.ops.push_back(std::move(op));
    return false;
  }
  case Phase::Replaying: {
    if (s.next < s.ops.size() && !s.ops[s.next].kernel &&
        s.ops[s.next].signature == sig.text()) {
      ++s.next;
      return true;
    }
    diverge(s, s.next,
            s.next >= s.ops.size() ? "more operations than captured"
                                   : "other arguments or another operation");
    return false;
  }
  case Phase::Flushed:
    afterFlush(s);
    return false;
  case Phase::Lost:
    return true;
  default:
    return false;
  }
}

bool skipLaunch(CUfunction f, const unsigned dims[6], unsigned smem,
                void **params, size_t count) {
  State &s = state();
  if (s.phase == Phase::Flushed) {
    afterFlush(s);
    return false;
  }
  if (s.phase == Phase::Lost)
    return true;
  if (s.phase != Phase::Capturing && s.phase != Phase::Replaying)
    return false;
  bool known = false;
  const std::vector<size_t> &sizes = sizesOf(s, f, count, known);
  if (!known) {
    // Parameters of unknown size cannot be compared: this launch and the
    // rest of the step run uncaptured.
    std::string why = "cuFuncGetParamInfo does not size the " +
                      std::to_string(count) + " parameters of a kernel";
    if (s.phase == Phase::Capturing) {
      flush("a kernel whose parameters cannot be sized", false);
      afterFlush(s);
    } else {
      diverge(s, s.next, why);
    }
    disable(s, why);
    return false;
  }
  std::string signature("launch");
  signature.append(reinterpret_cast<const char *>(&f), sizeof(f));
  signature.append(reinterpret_cast<const char *>(dims), 6 * sizeof(unsigned));
  signature.append(reinterpret_cast<const char *>(&smem), sizeof(smem));
  std::string bytes;
  for (size_t i = 0; i < count; ++i)
    bytes.append(static_cast<const char *>(params[i]), sizes[i]);
  if (s.phase == Phase::Capturing) {
    Operation op;
    op.signature = std::move(signature);
    op.kernel = true;
    op.function = f;
    std::copy(dims, dims + 6, op.dims);
    op.smem = smem;
    op.sizes = sizes;
    op.params = bytes;
    op.captured = std::move(bytes);
    s.ops.push_back(std::move(op));
    return false;
  }
  // Replaying.
  if (s.next >= s.ops.size() || !s.ops[s.next].kernel ||
      s.ops[s.next].signature != signature) {
    diverge(s, s.next,
            s.next >= s.ops.size() ? "more operations than captured"
                                   : "another kernel, grid or block");
    return false;
  }
  Operation &op = s.ops[s.next];
  if (op.params != bytes) {
    KernelParams kp(op, bytes);
    CUresult r =
        driver().cuGraphExecKernelNodeSetParams(s.exec, op.node, &kp.p);
    if (r != CUDA_SUCCESS) {
      diverge(s, s.next,
              "cuGraphExecKernelNodeSetParams failed: " + errorText(r));
      return false;
    }
    op.params = std::move(bytes);
    ++s.patched;
  }
  ++s.next;
  return true;
}

bool unsupported(const char *what) {
  State &s = state();
  switch (s.phase) {
  case Phase::Capturing:
    flush(what, false);
    afterFlush(s);
    break;
  case Phase::Replaying:
    diverge(s, s.next, what);
    break;
  case Phase::Flushed:
    afterFlush(s);
    break;
  case Phase::Lost:
    return true;
  default:
    return false;
  }
  disable(s, std::string(what) + " cannot be compared between steps");
  return false;
}

void finished() {
  State &s = state();
  if (s.phase != Phase::Capturing || s.ops.empty())
    return;
  Operation &op = s.ops.back();
  op.tail = captureTail();
  if (op.kernel)
    op.node = op.tail.size() == 1 ? op.tail[0] : nullptr;
}

void queuing() {
  State &s = state();
  if (s.phase == Phase::Replaying)
    diverge(s, s.next, "work queued that no gate saw");
  else if (s.phase == Phase::Lost)
    comm::fatal("lmcrt: work queued that the step graph's gates did not see, "
                "in a step whose capture failed and which runs again; "
                "LMCRT_CUDA_GRAPH=0 runs the steps uncaptured");
}

bool captureFailed(CUresult result, const char *what) {
  State &s = state();
  if (s.phase != Phase::Capturing)
    return false;
  lose(s, std::string(what) + ": " + errorText(result));
  return true;
}

bool flush(const char *what, bool wait) {
  State &s = state();
  const DriverApi &d = driver();
  switch (s.phase) {
  case Phase::Capturing: {
    CUgraph graph = nullptr;
    CUresult r = d.cuStreamEndCapture(computeStream(), &graph);
    if (r != CUDA_SUCCESS || !graph) {
      lose(s, "cuStreamEndCapture: " + errorText(r));
      return false;
    }
    s.graph = graph;
    r = d.cuGraphInstantiate(&s.exec, graph, 0);
    if (r != CUDA_SUCCESS) {
      s.exec = nullptr;
      lose(s, "cuGraphInstantiate: " + errorText(r));
      return false;
    }
    check(d.cuGraphLaunch(s.exec, computeStream()),
          "cuGraphLaunch(the captured step)");
    ++s.stats.captures;
    s.stats.nodes = static_cast<int64_t>(nodesOf(graph).size());
    s.stats.operations = static_cast<int64_t>(s.ops.size());
    s.replayedSinceCapture = false;
    s.fromCapture = true;
    break;
  }
  case Phase::Replaying:
    if (!wait)
      return true; // nothing forbids it: no stream is capturing
    if (s.next < s.ops.size()) {
      diverge(s, s.next,
              "the step waits after " + std::to_string(s.next) + " operations");
      return true;
    }
    check(d.cuGraphLaunch(s.exec, computeStream()),
          "cuGraphLaunch(the replayed step)");
    ++s.stats.replays;
    s.stats.patchedLaunches = s.patched;
    s.replayedSinceCapture = true;
    s.failedReplays = 0;
    s.fromCapture = false;
    if (!s.announced) {
      s.announced = true;
      say("step captured as a CUDA graph: " + std::to_string(s.stats.nodes) +
          " nodes for " + std::to_string(s.ops.size()) + " operations, " +
          std::to_string(s.patched) + " kernel launches patched per step");
    }
    break;
  case Phase::Lost:
    return false;
  default:
    return true;
  }
  s.phase = Phase::Flushed;
  s.flushWasWait = wait;
  s.flushWhat = what;
  return true;
}

bool deferRelease(void *ptr) {
  State &s = state();
  if (s.phase == Phase::Idle)
    return false;
  s.deferred.push_back(ptr);
  return true;
}

std::vector<void *> takeDeferred() {
  std::vector<void *> out;
  out.swap(state().deferred);
  return out;
}

void beginStep(bool capturable) {
  State &s = state();
  configure(s);
  s.phase = Phase::Idle;
  s.patched = 0;
  s.rerun = false;
  s.next = 0;
  if (!s.enabled || s.disabled)
    return;
  if (!capturable || comm::world() > 1 || !step_memory::replayingPlan()) {
    dropGraph(s); // the arena may place buffers elsewhere
    return;
  }
  if (epilogueFallbacks().printed() > 0) {
    disable(s, "a GEMM epilogue runs on the host, which waits in the middle "
               "of the step");
    return;
  }
  if (s.exec) {
    s.phase = Phase::Replaying;
    return;
  }
  CUresult r = driver().cuStreamBeginCapture(
      computeStream(), CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
  if (r != CUDA_SUCCESS) {
    disable(s, "cuStreamBeginCapture failed: " + errorText(r));
    return;
  }
  s.ops.clear();
  s.phase = Phase::Capturing;
}

bool endStep() {
  State &s = state();
  if (s.phase == Phase::Capturing || s.phase == Phase::Replaying)
    if (flush("the step's end", true))
      synchronizeCompute();
  bool rerun = s.rerun;
  s.phase = Phase::Idle;
  s.rerun = false;
  return rerun;
}

Stats stats() { return state().stats; }

void reset() {
  State &s = state();
  if (s.phase == Phase::Capturing) {
    CUgraph graph = nullptr;
    (void)driver().cuStreamEndCapture(computeStream(), &graph);
    if (graph)
      (void)driver().cuGraphDestroy(graph);
  }
  dropGraph(s);
  s = State();
}

} // namespace lmcrt::cuda::step_graph
