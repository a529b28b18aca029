//===- Device.h - Where compiled code runs and its memory lives -*- C++ -*-===//
//
// The trainer and the compiled code share their buffers: the compiled host
// code loads and stores scalars (the loss, gradient norms, the loss seed),
// and the trainer writes parameters, checkpoints and tokens on the host. On a
// GPU these buffers must be reachable from both sides, so every buffer that
// crosses the C ABI is allocated here.
//
// The device is the CPU unless a GPU runtime registered another one (the
// CUDA runtime, lib/Runtime/Cuda, does so from its `main`). A registered
// device is inert until initialize(): the model description is read, flags
// are parsed and MPI is set up first, on any machine. Until then, and always
// on the CPU, allocate() is posix_memalign. After it, allocate() asks the
// device (managed memory on CUDA); release() knows which allocator made each
// pointer, so buffers allocated before initialisation are freed correctly.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_DEVICE_H
#define LMC_LIB_RUNTIME_DEVICE_H

#include <cstddef>
#include <string>

namespace lmcrt::device {

/// A device implementation. Its allocate/release/synchronize are called only
/// after a successful init().
class Device {
public:
  virtual ~Device();
  /// "cpu" or "cuda": the `target` of the programs it runs.
  virtual const char *target() const = 0;
  /// Prepares the device for the process with local rank `localRank` (its
  /// index among the ranks of this machine). Throws RuntimeError (NoGpuError
  /// when there is no usable GPU).
  virtual void init(int localRank) = 0;
  /// One line about the device ("NVIDIA H200, 139.8 GiB, device 0").
  virtual std::string description() const = 0;
  /// The device's name as its driver reports it ("NVIDIA H200"); the
  /// trainer looks up its peak FLOP/s by it (Trainer/PeakFlops.h).
  virtual std::string name() const { return description(); }
  /// Memory that the host and the device can both read and write, aligned
  /// to at least 256 bytes; never null (throws std::bad_alloc).
  virtual void *allocate(size_t bytes) = 0;
  virtual void release(void *ptr) = 0;
  /// Waits until all work queued on the device has completed.
  virtual void synchronize() = 0;
};

/// Makes `device` the process's device (it must outlive every use). Called
/// before lmcrt_main, at most once.
void registerDevice(Device &device);

/// The registered device's target: "cuda" for a registered GPU runtime,
/// "cpu" otherwise.
const char *target();

/// Initialises the registered device (nothing to do on the CPU). Throws
/// what Device::init throws; a second call does nothing.
void initialize(int localRank);

/// True once initialize() succeeded with a registered device.
bool active();

/// The registered device's description ("CPU" on the CPU).
std::string description();

/// The registered device's name ("CPU" on the CPU).
std::string name();

/// Host- and device-accessible memory (see above); 64-byte aligned at
/// least, never null (throws std::bad_alloc). `bytes` may be 0.
void *allocate(size_t bytes);
/// Frees memory from allocate(), or from malloc; null is ignored.
void release(void *ptr);

/// Waits for the device's queued work (nothing on the CPU). The trainer
/// calls it after each call into compiled code, before reading results.
void synchronize();

} // namespace lmcrt::device

#endif // LMC_LIB_RUNTIME_DEVICE_H
