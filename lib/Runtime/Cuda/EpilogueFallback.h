//===- EpilogueFallback.h - Saying when a GEMM epilogue runs on the host -===//
//
// A GEMM with a bias (+ GELU) epilogue that cuBLASLt cannot apply (no
// algorithm from its heuristic, or an output it cannot address with one)
// runs the plain GEMM and the epilogue on the host: correct, but a full
// wait and two copies of C per call. The first time each (epilogue, shape,
// reason) happens, the runtime says so in one line on stderr
//
//   lmcrt: gpu_gemm_bias_bf16: the bias_gelu_tanh epilogue runs on the host
//   for m=2048 n=3072 k=768 (cuBLASLt has no algorithm for it)
//
// and under LMCRT_STRICT_EPILOGUE=1 ends the job with that line instead, so
// that a benchmark cannot silently measure the slow path.
//
// No CUDA here: the unit tests (test/Runtime/GpuHostTest.cpp) run anywhere.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_EPILOGUEFALLBACK_H
#define LMC_LIB_RUNTIME_CUDA_EPILOGUEFALLBACK_H

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace lmcrt::cuda {

class EpilogueFallbacks {
public:
  /// `strict`: every fallback is an error; `out`: where the notes go.
  EpilogueFallbacks(bool strict, FILE *out) : strict(strict), out(out) {}

  /// Records one fallback of `function` (the GEMM's name, e.g.
  /// "gpu_gemm_bias_bf16"). Prints its line the first time this
  /// (epilogue, shape, reason) is seen; when strict, returns the line as
  /// the error to end the job with (every time).
  std::optional<std::string> report(const std::string &function,
                                    const std::string &epilogue, int64_t m,
                                    int64_t n, int64_t k,
                                    const std::string &reason);

  /// Lines printed so far.
  size_t printed() const { return seen.size(); }

private:
  bool strict;
  FILE *out;
  std::mutex mutex;
  std::set<std::string> seen;
};

/// The process's reporter: strict when LMCRT_STRICT_EPILOGUE=1, notes on
/// stderr. reportEpilogueFallback ends the job (comm::fatal) when strict.
EpilogueFallbacks &epilogueFallbacks();
void reportEpilogueFallback(const std::string &function,
                            const std::string &epilogue, int64_t m, int64_t n,
                            int64_t k, const std::string &reason);

} // namespace lmcrt::cuda

#endif // LMC_LIB_RUNTIME_CUDA_EPILOGUEFALLBACK_H
