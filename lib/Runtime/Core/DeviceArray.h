//===- DeviceArray.h - A device buffer and the host's copy of it -*- C++ -*-=//
//
// The trainer's buffers that compiled code reads or writes (parameters,
// moments, token batches, the sampler's window) live in device memory
// (Device.h); the trainer reads and writes them on the host. A DeviceArray
// holds both: device() is what compiled code gets, host() what the trainer
// touches, and the two meet only at toDevice() (after the host wrote) and
// toHost() (before the host reads). Where the host addresses device memory
// (the CPU) they are one buffer and the copies do nothing.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_DEVICEARRAY_H
#define LMC_LIB_RUNTIME_DEVICEARRAY_H

#include "Core/Device.h"

#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace lmcrt {

template <typename T> class DeviceArray {
public:
  /// `n` elements, uninitialised on both sides.
  explicit DeviceArray(int64_t n)
      : n(n), dev(static_cast<T *>(device::allocate(bytes()))) {
    if (device::hostAddressable()) {
      hostData = dev;
      return;
    }
    void *p = nullptr;
    if (::posix_memalign(&p, 64, bytes() ? bytes() : 1) != 0) {
      device::release(dev);
      throw std::bad_alloc();
    }
    hostData = static_cast<T *>(p);
  }
  ~DeviceArray() {
    if (hostData != dev)
      std::free(hostData);
    device::release(dev);
  }
  DeviceArray(const DeviceArray &) = delete;
  DeviceArray &operator=(const DeviceArray &) = delete;

  int64_t size() const { return n; }
  size_t bytes() const { return sizeof(T) * static_cast<size_t>(n); }
  /// The buffer compiled code reads and writes.
  T *device() const { return dev; }
  /// The host's copy (the same buffer where the host addresses the device's).
  T *host() const { return hostData; }

  /// The host's elements [first, first + count) to the device (all: none
  /// given), after the device's queued work.
  void toDevice() const { toDevice(0, n); }
  void toDevice(int64_t first, int64_t count) const {
    device::copyToDevice(dev + first, hostData + first, sizeof(T) * count);
  }
  /// The device's elements to the host, once its queued work is done.
  void toHost() const { toHost(0, n); }
  void toHost(int64_t first, int64_t count) const {
    device::copyToHost(hostData + first, dev + first, sizeof(T) * count);
  }

private:
  int64_t n;
  T *dev;
  T *hostData = nullptr;
};

/// The elements of a strided 2-D buffer that compiled code returned (in
/// device memory: logits), copied to the host with one copy of the span
/// they cover: element (i, j) is at `result[i * strides[0] + j * strides[1]]`
/// of the returned vector. Strides are non-negative.
template <typename T>
std::vector<T> spanToHost(const T *deviceData, const int64_t sizes[2],
                          const int64_t strides[2]) {
  if (sizes[0] <= 0 || sizes[1] <= 0)
    return {};
  const int64_t span =
      1 + (sizes[0] - 1) * strides[0] + (sizes[1] - 1) * strides[1];
  std::vector<T> out(static_cast<size_t>(span));
  device::copyToHost(out.data(), deviceData, sizeof(T) * out.size());
  return out;
}

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_DEVICEARRAY_H
