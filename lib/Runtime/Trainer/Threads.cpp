//===- Threads.cpp - The trainer's OpenMP threads -------------------------===//
//
// See Threads.h: the pool's size and the bounded spin of its waits.
//
//===----------------------------------------------------------------------===//

#include "Trainer/Threads.h"

#include <algorithm>
#include <cstdlib>
#include <unistd.h>

#include <omp.h>

namespace lmcrt {

namespace {

/// Set beside GOMP_SPINCOUNT by the re-execution, so that the configuration
/// table can tell the trainer's default from the user's setting.
constexpr const char *kMarker = "LMCRT_GOMP_SPINCOUNT_DEFAULT";

} // namespace

void ensureOpenMPWaitPolicy(char **argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT"))
    return;
  if (setenv("GOMP_SPINCOUNT", kDefaultSpinCount, 1) != 0 ||
      setenv(kMarker, "1", 1) != 0)
    return;
  execv("/proc/self/exe", argv);
  // No /proc (or no permission): carry on with libgomp's defaults, and say
  // so in the configuration table.
  unsetenv("GOMP_SPINCOUNT");
  unsetenv(kMarker);
}

std::string openMPWaitPolicy() {
  const char *policy = std::getenv("OMP_WAIT_POLICY");
  const char *spin = std::getenv("GOMP_SPINCOUNT");
  if (spin && std::getenv(kMarker) && !policy)
    return std::string("GOMP_SPINCOUNT=") + spin + " (the trainer's default)";
  std::string text;
  if (policy)
    text = std::string("OMP_WAIT_POLICY=") + policy;
  if (spin)
    text += (text.empty() ? "" : " ") + std::string("GOMP_SPINCOUNT=") + spin;
  if (text.empty())
    return "libgomp's default (GOMP_SPINCOUNT=300000)";
  return text + " (from the environment)";
}

void setThreadCount(int64_t requested, int worldSize) {
  int threads = static_cast<int>(requested);
  if (threads <= 0 && worldSize > 1) {
    const char *local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int ranksHere = local ? std::max(1, std::atoi(local)) : worldSize;
    threads = std::max(1, omp_get_num_procs() / ranksHere);
  }
  if (threads > 0)
    omp_set_num_threads(threads);
}

} // namespace lmcrt
