//===- FakeCudaDriver.cpp - A libcuda stand-in that logs its calls --------===//
//
// A shared library with the driver entry points the GPU runtime resolves
// (Driver.h), each defined with cuda.h's own prototype (so under the
// versioned name the runtime looks up), that work on host memory and log
// each call ("cuMemAlloc_v2 1000"). Loaded with LMCRT_CUDA_DRIVER by
// lmcrt-fake-driver-tests (FakeDriverTest.cpp), which reads the log through
// lmcrt_fake_cuda_log to check which calls the runtime makes: allocation
// kinds, copies, the shared pool, the profile's events. Nothing runs on a
// GPU: events complete at once, 1 ms apart; copies and fills are done on
// the host at once; a kernel made by lmcrt_fake_cuda_function (a name and
// its parameters' sizes, which cuFuncGetParamInfo reports) is "run" by
// logging its name and parameter values ("cuLaunchKernel step 3 1").
//
// Stream capture is simulated: between cuStreamBeginCapture and
// cuStreamEndCapture launches, copies and fills become nodes of a graph
// (each depending on the capture's tail, which cuStreamGetCaptureInfo
// reports), nothing is logged or done for them, and a wait on the stream or
// an allocation fails as the driver's thread-local mode makes them fail.
// cuGraphLaunch logs "cuGraphLaunch N nodes" and then runs the executable
// graph's nodes in order ("graph kernel step 3 1", "graph memcpy 16");
// parameter updates, clones and node removal work on these nodes.
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
std::string &log() {
  static std::string text;
  return text;
}
void note(const std::string &line) { log() += line + "\n"; }
CUresult ok(const char *name) {
  note(name);
  return CUDA_SUCCESS;
}
int dummy;

/// A kernel: its name and its parameters' sizes.
struct FakeFunction {
  std::string name;
  std::vector<size_t> sizes;
};

struct FakeGraph;

/// A graph node: a kernel launch (its parameters' bytes), a copy or a fill.
struct FakeNode {
  enum Kind { Kernel, Memcpy, Memset } kind = Kernel;
  FakeFunction *function = nullptr;
  unsigned dims[6] = {0, 0, 0, 0, 0, 0};
  std::vector<std::string> params;
  void *dst = nullptr;
  const void *src = nullptr;
  size_t bytes = 0; // a fill: the count of elements
  unsigned value = 0;
  unsigned elementSize = 1;
  std::vector<FakeNode *> deps;
  FakeGraph *graph = nullptr;
  const FakeNode *origin = nullptr; // in a clone: the node it copies
};

struct FakeGraph {
  std::vector<FakeNode *> nodes; // in creation order (a topological one)
  ~FakeGraph() {
    for (FakeNode *n : nodes)
      delete n;
  }
};

/// An executable graph: copies of the nodes, by their graph's node.
struct FakeExec {
  std::vector<std::pair<const FakeNode *, FakeNode>> nodes;
};

struct Capture {
  bool active = false;
  bool invalidated = false;
  FakeGraph *graph = nullptr;
  std::vector<CUgraphNode> tail;
  unsigned long long id = 0;
};
Capture capture;
int failLaunches = 0; // lmcrt_fake_cuda_fail_launches

std::vector<std::string> paramBytes(const FakeFunction *f, void **params) {
  std::vector<std::string> out;
  for (size_t i = 0; i < f->sizes.size(); ++i)
    out.emplace_back(static_cast<const char *>(params[i]), f->sizes[i]);
  return out;
}

/// "name v0 v1 ...": each parameter as an unsigned integer of its bytes
/// (up to 8, little-endian).
std::string describe(const FakeNode &n) {
  std::string text = n.function->name;
  for (const std::string &p : n.params) {
    unsigned long long v = 0;
    std::memcpy(&v, p.data(), std::min<size_t>(p.size(), sizeof(v)));
    text += " " + std::to_string(v);
  }
  return text;
}

/// Does what `n` stands for and logs it: "graph kernel init 5" in a graph,
/// else as the call that queued it ("cuLaunchKernel init 5").
void run(const FakeNode &n, bool inGraph) {
  std::string bits = std::to_string(8 * n.elementSize);
  switch (n.kind) {
  case FakeNode::Kernel:
    note((inGraph ? "graph kernel " : "cuLaunchKernel ") + describe(n));
    break;
  case FakeNode::Memcpy:
    std::memcpy(n.dst, n.src, n.bytes);
    note((inGraph ? "graph memcpy " : "cuMemcpyAsync ") +
         std::to_string(n.bytes));
    break;
  case FakeNode::Memset:
    for (size_t i = 0; i < n.bytes; ++i)
      std::memcpy(static_cast<char *>(n.dst) + i * n.elementSize, &n.value,
                  n.elementSize);
    note((inGraph ? "graph memset" + bits + " "
                  : "cuMemsetD" + bits + "Async ") +
         std::to_string(n.bytes));
    break;
  }
}

/// Queues `n` on the (only) stream: a node of the capture, else done now.
CUresult enqueue(FakeNode n) {
  if (!capture.active) {
    run(n, false);
    return CUDA_SUCCESS;
  }
  if (capture.invalidated)
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  auto *node = new FakeNode(std::move(n));
  node->graph = capture.graph;
  for (CUgraphNode d : capture.tail)
    node->deps.push_back(reinterpret_cast<FakeNode *>(d));
  capture.graph->nodes.push_back(node);
  capture.tail = {reinterpret_cast<CUgraphNode>(node)};
  return CUDA_SUCCESS;
}

/// What the driver does with a call a thread-local capture forbids.
CUresult forbiddenWhileCapturing(const char *name) {
  if (!capture.active)
    return CUDA_SUCCESS;
  capture.invalidated = true;
  note(std::string(name) + " while capturing");
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

FakeNode *node(CUgraphNode n) { return reinterpret_cast<FakeNode *>(n); }
FakeGraph *graphOf(CUgraph g) { return reinterpret_cast<FakeGraph *>(g); }
} // namespace

extern "C" {
const char *lmcrt_fake_cuda_log() { return log().c_str(); }
void lmcrt_fake_cuda_clear() { log().clear(); }
/// A kernel named `name` with `count` parameters of `sizes` bytes.
CUfunction lmcrt_fake_cuda_function(const char *name, int count,
                                    const size_t *sizes) {
  auto *f = new FakeFunction{name, std::vector<size_t>(sizes, sizes + count)};
  return reinterpret_cast<CUfunction>(f);
}
/// The next `n` kernel launches fail (an invalidated capture's error).
void lmcrt_fake_cuda_fail_launches(int n) { failLaunches = n; }

CUresult CUDAAPI cuGetErrorName(CUresult, const char **s) {
  *s = "CUDA_ERROR_FAKE";
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGetErrorString(CUresult, const char **s) {
  *s = "fake";
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuInit(unsigned int) { return ok("cuInit"); }
CUresult CUDAAPI cuDriverGetVersion(int *v) {
  *v = 13000;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetCount(int *n) {
  *n = 1;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGet(CUdevice *d, int) {
  *d = 0;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice) {
  std::strncpy(name, "Fake GPU", len);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceTotalMem(size_t *bytes, CUdevice) {
  *bytes = size_t(1) << 30;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDeviceGetAttribute(int *v, CUdevice_attribute, CUdevice) {
  *v = 1;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice) {
  *c = reinterpret_cast<CUcontext>(&dummy);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuCtxSetCurrent(CUcontext) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuCtxSynchronize() { return ok("cuCtxSynchronize"); }
CUresult CUDAAPI cuStreamCreate(CUstream *s, unsigned int) {
  *s = reinterpret_cast<CUstream>(&dummy);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamDestroy(CUstream) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuStreamSynchronize(CUstream) {
  if (CUresult r = forbiddenWhileCapturing("cuStreamSynchronize"))
    return r;
  return ok("cuStreamSynchronize");
}
CUresult CUDAAPI cuStreamQuery(CUstream) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuStreamWaitEvent(CUstream, CUevent, unsigned int) {
  return ok("cuStreamWaitEvent");
}
CUresult CUDAAPI cuEventCreate(CUevent *e, unsigned int flags) {
  *e = reinterpret_cast<CUevent>(new int(0));
  note("cuEventCreate flags=" + std::to_string(flags));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventDestroy(CUevent e) {
  delete reinterpret_cast<int *>(e);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventRecord(CUevent, CUstream) {
  return ok("cuEventRecord");
}
CUresult CUDAAPI cuEventSynchronize(CUevent) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuEventElapsedTime(float *ms, CUevent, CUevent) {
  *ms = 1.0f;
  return ok("cuEventElapsedTime");
}
CUresult CUDAAPI cuEventQuery(CUevent) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuModuleLoadData(CUmodule *, const void *) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuModuleLoadDataEx(CUmodule *, const void *, unsigned int,
                                    CUjit_option *, void **) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuModuleUnload(CUmodule) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuModuleGetFunction(CUfunction *, CUmodule, const char *) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy,
                                unsigned gz, unsigned bx, unsigned by,
                                unsigned bz, unsigned, CUstream, void **params,
                                void **) {
  if (!f)
    return CUDA_ERROR_NOT_SUPPORTED;
  if (failLaunches > 0) {
    --failLaunches;
    if (capture.active)
      capture.invalidated = true;
    note("cuLaunchKernel fails");
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  FakeNode n;
  n.function = reinterpret_cast<FakeFunction *>(f);
  unsigned dims[6] = {gx, gy, gz, bx, by, bz};
  std::copy(dims, dims + 6, n.dims);
  n.params = paramBytes(n.function, params);
  return enqueue(std::move(n));
}
CUresult CUDAAPI cuFuncGetParamInfo(CUfunction f, size_t index, size_t *offset,
                                    size_t *size) {
  auto *fn = reinterpret_cast<FakeFunction *>(f);
  if (!fn || index >= fn->sizes.size())
    return CUDA_ERROR_INVALID_VALUE;
  *offset = 0;
  for (size_t i = 0; i < index; ++i)
    *offset += fn->sizes[i];
  *size = fn->sizes[index];
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig *, CUfunction, void **,
                                  void **) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuMemAlloc(CUdeviceptr *p, size_t bytes) {
  if (CUresult r = forbiddenWhileCapturing("cuMemAlloc"))
    return r;
  *p = reinterpret_cast<CUdeviceptr>(std::aligned_alloc(256, (bytes + 255) / 256 * 256));
  note("cuMemAlloc " + std::to_string(bytes));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemAllocManaged(CUdeviceptr *p, size_t bytes,
                                   unsigned int flags) {
  if (CUresult r = forbiddenWhileCapturing("cuMemAllocManaged"))
    return r;
  *p = reinterpret_cast<CUdeviceptr>(std::aligned_alloc(256, (bytes + 255) / 256 * 256));
  note("cuMemAllocManaged " + std::to_string(bytes) +
       (flags == CU_MEM_ATTACH_GLOBAL ? " global" : " other"));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemFree(CUdeviceptr p) {
  if (CUresult r = forbiddenWhileCapturing("cuMemFree"))
    return r;
  std::free(reinterpret_cast<void *>(p));
  return ok("cuMemFree");
}
CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                               CUstream) {
  FakeNode n;
  n.kind = FakeNode::Memcpy;
  n.dst = reinterpret_cast<void *>(dst);
  n.src = reinterpret_cast<const void *>(src);
  n.bytes = bytes;
  if (capture.active)
    return enqueue(std::move(n));
  std::memcpy(n.dst, n.src, bytes);
  note("cuMemcpyAsync " + std::to_string(bytes));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemcpy2DAsync(const CUDA_MEMCPY2D *, CUstream) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dst, unsigned char value,
                                 size_t n, CUstream) {
  if (capture.active) {
    FakeNode f;
    f.kind = FakeNode::Memset;
    f.dst = reinterpret_cast<void *>(dst);
    f.bytes = n;
    f.value = value;
    return enqueue(std::move(f));
  }
  std::memset(reinterpret_cast<void *>(dst), value, n);
  note("cuMemsetD8Async " + std::to_string(n));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t n,
                                  CUstream) {
  FakeNode f;
  f.kind = FakeNode::Memset;
  f.dst = reinterpret_cast<void *>(dst);
  f.bytes = n;
  f.value = value;
  f.elementSize = 4;
  return enqueue(std::move(f));
}
CUresult CUDAAPI cuMemsetD16Async(CUdeviceptr dst, unsigned short value,
                                  size_t n, CUstream) {
  FakeNode f;
  f.kind = FakeNode::Memset;
  f.dst = reinterpret_cast<void *>(dst);
  f.bytes = n;
  f.value = value;
  f.elementSize = 2;
  return enqueue(std::move(f));
}
CUresult CUDAAPI cuMemHostRegister(void *, size_t, unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuMemHostUnregister(void *) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

// Stream capture and graphs (see the top of the file).
CUresult CUDAAPI cuStreamBeginCapture(CUstream, CUstreamCaptureMode mode) {
  if (capture.active)
    return CUDA_ERROR_ILLEGAL_STATE;
  capture = Capture();
  capture.active = true;
  capture.graph = new FakeGraph;
  capture.id = 1;
  note("cuStreamBeginCapture " +
       std::string(mode == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL ? "thread-local"
                                                               : "other"));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamEndCapture(CUstream, CUgraph *g) {
  if (!capture.active)
    return CUDA_ERROR_ILLEGAL_STATE;
  capture.active = false;
  if (capture.invalidated) {
    delete capture.graph;
    *g = nullptr;
    note("cuStreamEndCapture invalidated");
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  *g = reinterpret_cast<CUgraph>(capture.graph);
  note("cuStreamEndCapture " + std::to_string(capture.graph->nodes.size()) +
       " nodes");
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamGetCaptureInfo(CUstream, CUstreamCaptureStatus *status,
                                        cuuint64_t *id, CUgraph *g,
                                        const CUgraphNode **deps,
                                        const CUgraphEdgeData **edges,
                                        size_t *count) {
  *status = capture.active
                ? (capture.invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
                                       : CU_STREAM_CAPTURE_STATUS_ACTIVE)
                : CU_STREAM_CAPTURE_STATUS_NONE;
  if (id)
    *id = capture.id;
  if (g)
    *g = capture.active ? reinterpret_cast<CUgraph>(capture.graph) : nullptr;
  if (deps)
    *deps = capture.tail.empty() ? nullptr : capture.tail.data();
  if (edges)
    *edges = nullptr;
  if (count)
    *count = capture.active ? capture.tail.size() : 0;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphInstantiate(CUgraphExec *e, CUgraph g,
                                    unsigned long long) {
  auto *exec = new FakeExec;
  for (FakeNode *n : graphOf(g)->nodes)
    exec->nodes.emplace_back(n, *n);
  *e = reinterpret_cast<CUgraphExec>(exec);
  note("cuGraphInstantiate " + std::to_string(exec->nodes.size()) + " nodes");
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphLaunch(CUgraphExec e, CUstream) {
  if (capture.active)
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  auto *exec = reinterpret_cast<FakeExec *>(e);
  note("cuGraphLaunch " + std::to_string(exec->nodes.size()) + " nodes");
  for (const auto &entry : exec->nodes)
    run(entry.second, true);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec e) {
  delete reinterpret_cast<FakeExec *>(e);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphDestroy(CUgraph g) {
  delete graphOf(g);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphExecKernelNodeSetParams(
    CUgraphExec e, CUgraphNode n, const CUDA_KERNEL_NODE_PARAMS *p) {
  auto *exec = reinterpret_cast<FakeExec *>(e);
  for (size_t i = 0; i < exec->nodes.size(); ++i) {
    FakeNode &copy = exec->nodes[i].second;
    if (exec->nodes[i].first != node(n) || copy.kind != FakeNode::Kernel)
      continue;
    if (reinterpret_cast<FakeFunction *>(p->func) != copy.function)
      return CUDA_ERROR_INVALID_VALUE;
    copy.params = paramBytes(copy.function, p->kernelParams);
    note("cuGraphExecKernelNodeSetParams node " + std::to_string(i) + ": " +
         describe(copy));
    return CUDA_SUCCESS;
  }
  return CUDA_ERROR_INVALID_VALUE;
}
CUresult CUDAAPI cuGraphKernelNodeSetParams(CUgraphNode n,
                                            const CUDA_KERNEL_NODE_PARAMS *p) {
  FakeNode *k = node(n);
  if (!k || k->kind != FakeNode::Kernel)
    return CUDA_ERROR_INVALID_VALUE;
  k->params = paramBytes(k->function, p->kernelParams);
  note("cuGraphKernelNodeSetParams " + describe(*k));
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphClone(CUgraph *out, CUgraph g) {
  auto *clone = new FakeGraph;
  for (FakeNode *n : graphOf(g)->nodes) {
    auto *c = new FakeNode(*n);
    c->graph = clone;
    c->origin = n;
    for (FakeNode *&d : c->deps)
      for (FakeNode *earlier : clone->nodes)
        if (earlier->origin == d)
          d = earlier;
    clone->nodes.push_back(c);
  }
  *out = reinterpret_cast<CUgraph>(clone);
  note("cuGraphClone " + std::to_string(clone->nodes.size()) + " nodes");
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphNodeFindInClone(CUgraphNode *out, CUgraphNode n,
                                        CUgraph clone) {
  for (FakeNode *c : graphOf(clone)->nodes)
    if (c->origin == node(n)) {
      *out = reinterpret_cast<CUgraphNode>(c);
      return CUDA_SUCCESS;
    }
  return CUDA_ERROR_INVALID_VALUE;
}
CUresult CUDAAPI cuGraphDestroyNode(CUgraphNode n) {
  FakeNode *k = node(n);
  FakeGraph *g = k->graph;
  g->nodes.erase(std::find(g->nodes.begin(), g->nodes.end(), k));
  for (FakeNode *other : g->nodes)
    other->deps.erase(std::remove(other->deps.begin(), other->deps.end(), k),
                      other->deps.end());
  delete k;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphGetNodes(CUgraph g, CUgraphNode *nodes, size_t *n) {
  const std::vector<FakeNode *> &all = graphOf(g)->nodes;
  if (nodes)
    for (size_t i = 0; i < std::min(*n, all.size()); ++i)
      nodes[i] = reinterpret_cast<CUgraphNode>(all[i]);
  *n = all.size();
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphNodeGetDependencies(CUgraphNode n, CUgraphNode *deps,
                                            CUgraphEdgeData *, size_t *count) {
  const std::vector<FakeNode *> &d = node(n)->deps;
  if (deps)
    for (size_t i = 0; i < std::min(*count, d.size()); ++i)
      deps[i] = reinterpret_cast<CUgraphNode>(d[i]);
  *count = d.size();
  return CUDA_SUCCESS;
}
}
