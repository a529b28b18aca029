//===- Device.cpp - Where compiled code runs and its memory lives ---------===//
//
// See Device.h. Pointers handed out by an active device are kept in a set, so
// that release() tells them from host memory allocated before the device
// was initialised (or by plain malloc, as the tests' fake models do).
//
//===----------------------------------------------------------------------===//

#include "Core/Device.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_set>

namespace lmcrt::device {
namespace {

struct Registry {
  Device *device = nullptr;
  bool active = false;
  std::mutex mutex; // guards `owned`
  std::unordered_set<void *> owned;
};

Registry &registry() {
  static Registry r;
  return r;
}

} // namespace

Device::~Device() = default;

void registerDevice(Device &device) { registry().device = &device; }

const char *target() {
  Registry &r = registry();
  return r.device ? r.device->target() : "cpu";
}

void initialize(int localRank) {
  Registry &r = registry();
  if (!r.device || r.active)
    return;
  r.device->init(localRank);
  r.active = true;
}

bool active() { return registry().active; }

std::string description() {
  Registry &r = registry();
  return r.active ? r.device->description() : "CPU";
}

std::string name() {
  Registry &r = registry();
  return r.active ? r.device->name() : "CPU";
}

namespace {

void *hostAllocate(size_t bytes) {
  void *p = nullptr;
  if (::posix_memalign(&p, 64, bytes ? bytes : 1) != 0)
    throw std::bad_alloc();
  return p;
}

void *own(Registry &r, void *p) {
  std::lock_guard<std::mutex> lock(r.mutex);
  r.owned.insert(p);
  return p;
}

} // namespace

void *allocate(size_t bytes) {
  Registry &r = registry();
  if (r.active)
    return own(r, r.device->allocate(bytes ? bytes : 1));
  return hostAllocate(bytes);
}

void *allocateShared(size_t bytes) {
  Registry &r = registry();
  if (r.active)
    return own(r, r.device->allocateShared(bytes ? bytes : 1));
  return hostAllocate(bytes);
}

bool hostAddressable() {
  if (registry().active)
    return false;
  static const bool separate = [] {
    const char *env = std::getenv("LMCRT_SEPARATE_HOST_COPIES");
    return env && std::strcmp(env, "1") == 0;
  }();
  return !separate;
}

void copyToDevice(void *deviceDst, const void *hostSrc, size_t bytes) {
  Registry &r = registry();
  if (!bytes || deviceDst == hostSrc)
    return;
  if (r.active)
    r.device->copy(deviceDst, hostSrc, bytes);
  else
    std::memcpy(deviceDst, hostSrc, bytes);
}

void copyToHost(void *hostDst, const void *deviceSrc, size_t bytes) {
  Registry &r = registry();
  if (!bytes || hostDst == deviceSrc)
    return;
  if (r.active)
    r.device->copy(hostDst, deviceSrc, bytes);
  else
    std::memcpy(hostDst, deviceSrc, bytes);
}

void zero(void *deviceDst, size_t bytes) {
  Registry &r = registry();
  if (!bytes)
    return;
  if (r.active)
    r.device->zero(deviceDst, bytes);
  else
    std::memset(deviceDst, 0, bytes);
}

void release(void *ptr) {
  if (!ptr)
    return;
  Registry &r = registry();
  if (r.active) {
    bool mine;
    {
      std::lock_guard<std::mutex> lock(r.mutex);
      mine = r.owned.erase(ptr) != 0;
    }
    if (mine) {
      r.device->release(ptr);
      return;
    }
  }
  std::free(ptr);
}

void synchronize() {
  Registry &r = registry();
  if (r.active)
    r.device->synchronize();
}

} // namespace lmcrt::device

namespace lmcrt::device {

void beginStep(bool capturable) {
  Registry &r = registry();
  if (r.active)
    r.device->beginStep(capturable);
}

bool endStep() {
  Registry &r = registry();
  return r.active && r.device->endStep();
}

} // namespace lmcrt::device
