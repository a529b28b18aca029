//===- EpilogueFallback.cpp - Saying when a GEMM epilogue runs on the host ===//

#include "Cuda/EpilogueFallback.h"

#include "Comm/Collectives.h"

#include <cstdlib>
#include <cstring>

namespace lmcrt::cuda {

std::optional<std::string>
EpilogueFallbacks::report(const std::string &function,
                          const std::string &epilogue, int64_t m, int64_t n,
                          int64_t k, const std::string &reason) {
  std::string line = function + ": the " + epilogue +
                     " epilogue runs on the host for m=" + std::to_string(m) +
                     " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                     " (" + reason + ")";
  if (strict)
    return line + "; LMCRT_STRICT_EPILOGUE=1 forbids it";
  std::lock_guard<std::mutex> lock(mutex);
  if (seen.insert(line).second && out) {
    std::fprintf(out, "lmcrt: %s\n", line.c_str());
    std::fflush(out);
  }
  return std::nullopt;
}

EpilogueFallbacks &epilogueFallbacks() {
  static EpilogueFallbacks *fallbacks = [] {
    const char *env = std::getenv("LMCRT_STRICT_EPILOGUE");
    return new EpilogueFallbacks(env && std::strcmp(env, "1") == 0, stderr);
  }();
  return *fallbacks;
}

void reportEpilogueFallback(const std::string &function,
                            const std::string &epilogue, int64_t m, int64_t n,
                            int64_t k, const std::string &reason) {
  if (std::optional<std::string> error =
          epilogueFallbacks().report(function, epilogue, m, n, k, reason))
    comm::fatal(*error);
}

} // namespace lmcrt::cuda
