//===- GemmProfile.h - GEMM time per shape (LMCRT_PROFILE) ------*- C++ -*-===//
//
// With LMCRT_PROFILE=1 in the environment, every CPU GEMM adds its time to
// its shape's row; at exit a table goes to stderr: per shape the calls, the
// time and GFLOP/s inside the step beside the GFLOP/s of the same GEMM timed
// alone (GemmFloor.h), then the step's GEMM time and its floor in all:
//
//   lmcrt profile: GEMM 0.612 s in all
//   ...one row per shape...
//   lmcrt profile: GEMM floor 0.480 s in all (each shape alone x its calls)
//
// (utils/bench.py reads both "in all" lines.)
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_KERNELS_GEMMPROFILE_H
#define LMC_LIB_RUNTIME_KERNELS_GEMMPROFILE_H

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

namespace lmcrt::kernels {

/// A GEMM as the profile tells them apart: C [batch, M, N] = op(A) op(B),
/// A [batch, ...], B shared by the batch or not, at a precision.
struct GemmShape {
  int64_t batch, m, n, k;
  int transposeA, transposeB;
  int32_t precision; // LMCRT_PRECISION_*
  bool sharedB;

  auto tie() const {
    return std::tie(batch, m, n, k, transposeA, transposeB, precision, sharedB);
  }
  bool operator<(const GemmShape &o) const { return tie() < o.tie(); }
};

class GemmProfile {
public:
  /// The profile when LMCRT_PROFILE=1, else nullptr.
  static GemmProfile *get();

  /// Adds one GEMM of `shape` that took `seconds` (ignored while the floor
  /// is being measured).
  void add(const GemmShape &shape, double seconds);

private:
  GemmProfile();
  void print();

  struct Entry {
    double seconds = 0;
    int64_t calls = 0;
  };
  std::mutex mutex;
  std::map<GemmShape, Entry> entries;
  bool recording = true;
};

} // namespace lmcrt::kernels

#endif // LMC_LIB_RUNTIME_KERNELS_GEMMPROFILE_H
