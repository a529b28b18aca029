//===- HostStaging.h - A device view's elements on the host -----*- C++ -*-===//
//
// The GPU runtime's few host-side paths (a GEMM epilogue cuBLASLt cannot
// apply, packing an operand no copy engine can express, a strided copy)
// work on device memory, which the host cannot address. A Staged view reads
// the span of memory a device view covers to the host with one copy (after
// the compute stream's queued work), gives a host view with the same
// strides over it, and writes the span back with commit(). The elements
// between the view's (a strided view's gaps) go back as they were read,
// so nothing else may write that span meanwhile: the copies wait for the
// compute stream, and the callers run on the thread that queues its work.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_HOSTSTAGING_H
#define LMC_LIB_RUNTIME_CUDA_HOSTSTAGING_H

#include "Core/Device.h"
#include "Core/MemrefView.h"

#include <cstdint>
#include <vector>

namespace lmcrt::cuda {

template <typename T> class Staged {
public:
  /// Reads the span of `deviceView` to the host (strides non-negative).
  explicit Staged(const MemrefView<T> &deviceView) : device(deviceView) {
    int64_t span = 1;
    for (int64_t d = 0; d < deviceView.rank(); ++d) {
      if (deviceView.sizes[d] == 0) {
        span = 0;
        break;
      }
      span += (deviceView.sizes[d] - 1) * deviceView.strides[d];
    }
    buffer.resize(static_cast<size_t>(span));
    if (span)
      device::copyToHost(buffer.data(), deviceView.data, bytes());
    host = MemrefView<T>(buffer.data(), deviceView.sizes, deviceView.strides);
  }

  /// The host's view of the elements.
  MemrefView<T> &view() { return host; }

  /// Writes the span back to the device.
  void commit() {
    if (!buffer.empty())
      device::copyToDevice(device.data, buffer.data(), bytes());
  }

private:
  size_t bytes() const { return sizeof(T) * buffer.size(); }

  MemrefView<T> device;
  std::vector<T> buffer;
  MemrefView<T> host;
};

} // namespace lmcrt::cuda

#endif // LMC_LIB_RUNTIME_CUDA_HOSTSTAGING_H
