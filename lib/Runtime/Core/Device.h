//===- Device.h - Where compiled code runs and its memory lives -*- C++ -*-===//
//
// Every buffer that crosses the C ABI between the trainer and compiled code
// is allocated here. On a GPU these are device memory, which the host cannot
// address: the trainer keeps host copies of what it reads and writes
// (parameters, moments, tokens, logits; DeviceArray.h) and moves them with
// copyToDevice/copyToHost at the points where it hands them over. The few
// scalars that compiled host code itself loads and stores (the loss, the
// gradient norms) are allocated by it as shared memory (allocateShared:
// managed memory on a GPU, a small pool of it).
//
// The device is the CPU unless a GPU runtime registered another one (the
// CUDA runtime, lib/Runtime/Cuda, does so from its `main`). A registered
// device is inert until initialize(): the model description is read, flags
// are parsed and MPI is set up first, on any machine. Until then, and always
// on the CPU, allocate() is posix_memalign and the copies are memcpy. After
// it, allocate() asks the device (cuMemAlloc on CUDA); release() knows which
// allocator made each pointer, so buffers allocated before initialisation
// are freed correctly.
//
// LMCRT_SEPARATE_HOST_COPIES=1 (a testing aid) makes the CPU behave as a GPU
// does for the trainer: hostAddressable() is false, so the trainer keeps
// its host copies apart from the buffers of compiled code and every copy it
// forgets shows as a wrong result (test/e2e/trainer/trainer-host-copies.test).
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
  /// Device memory (the host cannot address it), aligned to at least 256
  /// bytes; never null (throws std::bad_alloc).
  virtual void *allocate(size_t bytes) = 0;
  /// Memory that the host and the device can both read and write, aligned
  /// to at least 256 bytes; never null. For the scalars that compiled host
  /// code loads and stores.
  virtual void *allocateShared(size_t bytes) = 0;
  /// Frees what allocate() or allocateShared() returned.
  virtual void release(void *ptr) = 0;
  /// Copies `bytes` from `src` to `dst` (either may be device or host
  /// memory) after all work queued on the device, and returns when the
  /// copy is complete.
  virtual void copy(void *dst, const void *src, size_t bytes) = 0;
  /// Sets `bytes` at `dst` (device memory) to zero, in the order of the
  /// queued work (it need not be complete on return).
  virtual void zero(void *dst, size_t bytes) = 0;
  /// Waits until all work queued on the device has completed.
  virtual void synchronize() = 0;
  /// A training step begins (after step_memory::begin) and ends (after
  /// the trainer's synchronize, before step_memory::end). `capturable`:
  /// the step is one call of the compiled train step, which the device may
  /// record and replay (a GPU captures it as a CUDA graph,
  /// Cuda/StepGraph.h). endStep returns true when the trainer must run the
  /// step again: nothing of it ran (a failed capture). No-ops on the CPU.
  virtual void beginStep(bool capturable) { (void)capturable; }
  virtual bool endStep() { return false; }
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

/// Memory of the device (see above): host memory on the CPU, device
/// memory on a GPU (not host-addressable); 64-byte aligned at least, never
/// null (throws std::bad_alloc). `bytes` may be 0.
void *allocate(size_t bytes);
/// Memory both the host and the device address (host memory on the CPU
/// and before initialisation, managed memory on a GPU); for the scalars that
/// compiled host code reads and writes.
void *allocateShared(size_t bytes);
/// Frees memory from allocate() or allocateShared(), or from malloc; null
/// is ignored.
void release(void *ptr);

/// True when the host may read and write what allocate() returns: on the
/// CPU (unless LMCRT_SEPARATE_HOST_COPIES=1), false on a GPU.
bool hostAddressable();

/// Copies `bytes` between host memory and memory from allocate(), after the
/// device's queued work; complete on return. Plain memcpy on the CPU.
void copyToDevice(void *deviceDst, const void *hostSrc, size_t bytes);
void copyToHost(void *hostDst, const void *deviceSrc, size_t bytes);
/// Zeroes `bytes` of memory from allocate(), in the order of queued work.
void zero(void *deviceDst, size_t bytes);

/// Waits for the device's queued work (nothing on the CPU). The trainer
/// calls it after each call into compiled code, before reading results.
void synchronize();

/// The registered device's step hooks (Device::beginStep/endStep); nothing
/// before initialisation and on the CPU.
void beginStep(bool capturable);
bool endStep();

} // namespace lmcrt::device

#endif // LMC_LIB_RUNTIME_DEVICE_H
