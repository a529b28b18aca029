//===- GpuProfile.cpp - LMCRT_PROFILE=1 on the GPU: time by class ---------===//

#include "Cuda/GpuProfile.h"

#include "Core/StepMemory.h"
#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/StepGraph.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lmcrt::cuda::profile {
namespace {

struct State {
  std::mutex mutex;
  ProfileTable table;
  // Events recorded since the last flush, each opening a group of a class.
  std::vector<std::pair<CUevent, KernelClass>> open;
  std::vector<CUevent> spare;
  bool current = false; // a group is open
  KernelClass currentClass = KernelClass::HostWait;
  std::unordered_map<CUfunction, KernelClass> functions;
};

State *state() {
  static State *s = [] {
    const char *env = std::getenv("LMCRT_PROFILE");
    if (!env || std::strcmp(env, "1") != 0)
      return static_cast<State *>(nullptr);
    std::atexit([] {
      State *st = state();
      std::lock_guard<std::mutex> lock(st->mutex);
      if (st->table.totalMs() > 0)
        std::fputs(st->table.format(step_memory::stepsBegun()).c_str(),
                   stderr);
    });
    return new State;
  }();
  return s;
}

void record(State &s, KernelClass c) {
  CUevent e = nullptr;
  if (!s.spare.empty()) {
    e = s.spare.back();
    s.spare.pop_back();
  } else {
    check(driver().cuEventCreate(&e, CU_EVENT_DEFAULT),
          "cuEventCreate(profile)");
  }
  check(driver().cuEventRecord(e, computeStream()), "cuEventRecord(profile)");
  s.open.emplace_back(e, c);
  s.current = true;
  s.currentClass = c;
}

} // namespace

bool enabled() { return state() != nullptr; }

void mark(KernelClass c) {
  step_graph::queuing();
  State *s = state();
  if (!s)
    return;
  std::lock_guard<std::mutex> lock(s->mutex);
  if (s->current && s->currentClass == c)
    return;
  record(*s, c);
}

void nameFunction(CUfunction f, const char *name) {
  State *s = state();
  if (!s)
    return;
  std::lock_guard<std::mutex> lock(s->mutex);
  s->functions[f] = classifyKernel(name, "");
}

KernelClass classOf(CUfunction f) {
  State *s = state();
  if (!s)
    return KernelClass::Elementwise;
  std::lock_guard<std::mutex> lock(s->mutex);
  auto it = s->functions.find(f);
  return it == s->functions.end() ? KernelClass::Elementwise : it->second;
}

void beforeWait() { mark(KernelClass::HostWait); }

void afterWait() {
  State *s = state();
  if (!s)
    return;
  std::lock_guard<std::mutex> lock(s->mutex);
  // Every event but the last is complete and closed by its successor; the
  // last (the host wait) stays open until the next work is queued.
  // A time the driver cannot give is left out of the table: profiling
  // never ends a job.
  for (size_t i = 0; i + 1 < s->open.size(); ++i) {
    float ms = 0;
    if (driver().cuEventElapsedTime(&ms, s->open[i].first,
                                    s->open[i + 1].first) == CUDA_SUCCESS)
      s->table.add(s->open[i].second, ms);
    s->spare.push_back(s->open[i].first);
  }
  if (s->open.size() > 1)
    s->open.erase(s->open.begin(), s->open.end() - 1);
}

} // namespace lmcrt::cuda::profile
