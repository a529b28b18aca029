//===- StepMemory.cpp - One planned arena for the training step -----------===//
//
// See StepMemory.h. The plan is a greedy interval packing: buffers sorted by
// size (largest first), each placed at the lowest 64-byte aligned offset
// where it overlaps no already placed buffer whose lifetime intersects its
// own.
//
//===----------------------------------------------------------------------===//

#include "Core/StepMemory.h"

#include "Core/Device.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <new>
#include <thread>
#include <unordered_map>
#include <vector>

namespace lmcrt::step_memory {
namespace {

constexpr size_t kAlign = 64;

size_t roundUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct Buffer {
  size_t size = 0;
  int64_t born = 0, died = -1; // event times; -1: not freed in the step
  size_t offset = 0;
};

enum class Mode { Off, Record, Replay };

struct State {
  Mode mode = Mode::Off;
  std::thread::id owner; // the thread that runs the step
  int64_t clock = 0;
  // Recording.
  std::vector<Buffer> recorded;
  std::unordered_map<void *, size_t> live; // pointer -> recorded index
  // The plan.
  std::vector<Buffer> plan;
  char *arena = nullptr;
  size_t arenaSize = 0;
  size_t next = 0; // replay: index of the next allocation
  bool diverged = false;
};

State &state() {
  static State s;
  return s;
}

bool mine(const State &s) {
  return s.mode != Mode::Off && std::this_thread::get_id() == s.owner;
}

bool inArena(const State &s, void *p) {
  return s.arena && p >= s.arena && p < s.arena + s.arenaSize;
}

void makePlan(State &s) {
  std::vector<Buffer> plan = s.recorded;
  int64_t end = s.clock + 1;
  for (Buffer &b : plan)
    if (b.died < 0)
      b.died = end;
  std::vector<size_t> order(plan.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return plan[a].size > plan[b].size;
  });
  std::vector<size_t> placed;
  size_t total = 0;
  for (size_t i : order) {
    Buffer &b = plan[i];
    size_t need = roundUp(std::max<size_t>(b.size, 1));
    // Buffers alive at the same time, by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed) {
      const Buffer &o = plan[j];
      if (o.born < b.died && b.born < o.died)
        busy.push_back(
            {o.offset, o.offset + roundUp(std::max<size_t>(o.size, 1))});
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (auto [lo, hi] : busy) {
      if (offset + need <= lo)
        break;
      offset = std::max(offset, hi);
    }
    b.offset = offset;
    total = std::max(total, offset + need);
    placed.push_back(i);
  }
  // One allocation from the device (managed memory on a GPU), made once
  // per run: later steps replay the plan in it.
  void *arena = lmcrt::device::allocate(std::max<size_t>(total, kAlign));
  lmcrt::device::release(s.arena);
  s.arena = static_cast<char *>(arena);
  s.arenaSize = total;
  s.plan = std::move(plan);
}

/// device::allocate without exceptions (compiled code expects null).
void *allocateOrNull(size_t size) {
  try {
    return lmcrt::device::allocate(size);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}

void *record(State &s, size_t size) {
  void *p = allocateOrNull(size);
  if (!p)
    return nullptr;
  s.live[p] = s.recorded.size();
  s.recorded.push_back({size, s.clock++, -1, 0});
  return p;
}

} // namespace

namespace {
int64_t begun = 0;
} // namespace

int64_t stepsBegun() { return begun; }

void begin() {
  State &s = state();
  ++begun;
  s.owner = std::this_thread::get_id();
  s.clock = 0;
  s.next = 0;
  s.diverged = false;
  if (s.plan.empty()) {
    s.mode = Mode::Record;
    s.recorded.clear();
    s.live.clear();
  } else {
    s.mode = Mode::Replay;
  }
}

void end() {
  State &s = state();
  if (s.mode == Mode::Record) {
    makePlan(s);
    // On the CPU the recording step's buffers came from the heap, which
    // keeps freed memory (the trainer disables trimming); give it back now
    // that the arena holds them all.
    ::malloc_trim(0);
    if (const char *env = std::getenv("LMCRT_PROFILE"))
      if (std::strcmp(env, "1") == 0)
        std::fprintf(stderr,
                     "lmcrt profile: step arena %.1f MiB for %zu buffers "
                     "(%.1f MiB without reuse)\n",
                     s.arenaSize / 1048576.0, s.plan.size(),
                     plannedTotalBytes() / 1048576.0);
  } else if (s.mode == Mode::Replay && (s.diverged || s.next != s.plan.size()))
    s.plan.clear(); // record the next step anew
  s.mode = Mode::Off;
  s.live.clear();
}

bool replayingPlan() {
  const State &s = state();
  return s.mode == Mode::Replay && !s.diverged;
}

size_t arenaBytes() { return state().arenaSize; }
size_t plannedBuffers() { return state().plan.size(); }
size_t plannedTotalBytes() {
  size_t total = 0;
  for (const Buffer &b : state().plan)
    total += b.size;
  return total;
}

} // namespace lmcrt::step_memory

using namespace lmcrt::step_memory;

/// The lowering's generic allocation functions (finalize-memref-to-llvm
/// with use-generic-functions). Buffers are aligned by the caller, which
/// over-allocates; the arena's offsets are 64-byte aligned anyway.
extern "C" void *_mlir_memref_to_llvm_alloc(uint64_t size) {
  State &s = state();
  if (!mine(s))
    return allocateOrNull(size);
  if (s.mode == Mode::Record)
    return record(s, size);
  if (!s.diverged && s.next < s.plan.size() && s.plan[s.next].size == size) {
    ++s.clock;
    return s.arena + s.plan[s.next++].offset;
  }
  s.diverged = true;
  return allocateOrNull(size);
}

extern "C" void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment,
                                                    uint64_t size) {
  // Device memory is aligned to 256 bytes, the host's to 64.
  if (alignment > (lmcrt::device::active() ? 256u : 64u)) {
    if (lmcrt::device::active()) {
      std::fprintf(stderr,
                   "lmcrt: an allocation aligned to %llu bytes; "
                   "device memory is aligned to 256\n",
                   static_cast<unsigned long long>(alignment));
      std::abort();
    }
    void *p = nullptr;
    size_t align = alignment < sizeof(void *) ? sizeof(void *) : alignment;
    return ::posix_memalign(&p, align, size ? size : 1) == 0 ? p : nullptr;
  }
  return _mlir_memref_to_llvm_alloc(size);
}

extern "C" void _mlir_memref_to_llvm_free(void *ptr) {
  State &s = state();
  if (!ptr)
    return;
  if (inArena(s, ptr)) {
    if (mine(s))
      ++s.clock;
    return;
  }
  if (s.mode == Mode::Record && std::this_thread::get_id() == s.owner) {
    auto it = s.live.find(ptr);
    if (it != s.live.end()) {
      s.recorded[it->second].died = s.clock++;
      s.live.erase(it);
    }
  }
  lmcrt::device::release(ptr);
}
