//===- GemmProfile.cpp - Time per CPU GEMM shape under LMCRT_PROFILE ------===//

#include "Kernels/GemmProfile.h"
#include "Kernels/Dnnl.h"
#include "Kernels/DnnlMatmul.h"
#include "Kernels/GemmFloor.h"

#include "lmc/Runtime/lmcrt.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

namespace lmcrt::kernels {

GemmProfile *GemmProfile::get() {
  static GemmProfile *profile = [] {
    const char *env = std::getenv("LMCRT_PROFILE");
    return env && std::strcmp(env, "1") == 0 ? new GemmProfile : nullptr;
  }();
  return profile;
}

GemmProfile::GemmProfile() = default;

void GemmProfile::add(const GemmShape &shape, double seconds) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!recording)
    return;
  auto [it, isNew] = entries.try_emplace(shape);
  it->second.seconds += seconds;
  ++it->second.calls;
  // The table is printed by the exit handler registered last: after the
  // first GEMM of every shape, so after oneDNN made the statics (JIT
  // kernels) that GEMM needed, which exit destroys in the reverse order
  // of their making; the floor runs GEMMs again.
  if (isNew)
    std::atexit([] {
      static bool printed = false;
      if (!printed) {
        printed = true;
        get()->print();
      }
    });
}

namespace {

const char *precisionName(int32_t precision) {
  switch (precision) {
  case LMCRT_PRECISION_TF32:
    return "tf32";
  case LMCRT_PRECISION_BF16:
    return "bf16";
  default:
    return "fp32";
  }
}

} // namespace

void GemmProfile::print() {
  std::map<GemmShape, Entry> steps;
  {
    std::lock_guard<std::mutex> lock(mutex);
    recording = false;
    steps = entries;
  }
  // Each shape alone first, so that the table is not interleaved with the
  // floor's own GEMMs.
  std::vector<double> alone;
  double total = 0, floor = 0;
  for (const auto &[shape, e] : steps) {
    alone.push_back(gemmAloneSeconds(shape));
    total += e.seconds;
    floor += alone.back() * static_cast<double>(e.calls);
  }

  const DnnlApi &dnnl = kernels::dnnl();
  const dnnl_version_t *v = dnnl.version();
  bool bf16 = false, sgemm = false;
  for (const auto &[shape, e] : steps) {
    bf16 |= shape.precision == LMCRT_PRECISION_BF16 && bf16Available();
    sgemm |= !(shape.precision == LMCRT_PRECISION_BF16 && bf16Available());
  }
  std::string how;
  if (sgemm || !bf16)
    how = "dnnl_sgemm";
  if (bf16)
    how += (how.empty() ? "" : " and ") + std::string("bf16 matmul (") +
           matmulCacheStats().implementations + ")";
  std::fprintf(stderr,
               "lmcrt profile: GEMM on oneDNN %d.%d.%d %s, ISA %s, "
               "%d threads\n",
               v->major, v->minor, v->patch, how.c_str(),
               dnnl.cpuIsaToString(dnnl.effectiveCpuIsa()),
               omp_get_max_threads());
  std::fprintf(stderr,
               "lmcrt profile: GEMM %.3f s in all\n"
               "%6s %6s %6s %6s %3s %3s %4s %8s %10s %9s %10s %9s\n",
               total, "batch", "M", "N", "K", "tA", "tB", "prec", "calls", "ms",
               "GFLOP/s", "alone ms", "GFLOP/s");
  size_t i = 0;
  for (const auto &[shape, e] : steps) {
    double flops = 2.0 * shape.batch * shape.m * shape.n * shape.k *
                   static_cast<double>(e.calls);
    double aloneSeconds = alone[i++] * static_cast<double>(e.calls);
    std::fprintf(
        stderr,
        "%6lld %6lld %6lld %6lld %3d %3d %4s %8lld %10.1f %9.1f %10.1f "
        "%9.1f\n",
        (long long)shape.batch, (long long)shape.m, (long long)shape.n,
        (long long)shape.k, shape.transposeA, shape.transposeB,
        precisionName(shape.precision), (long long)e.calls, e.seconds * 1e3,
        e.seconds > 0 ? flops / e.seconds / 1e9 : 0.0, aloneSeconds * 1e3,
        aloneSeconds > 0 ? flops / aloneSeconds / 1e9 : 0.0);
  }
  std::fprintf(stderr,
               "lmcrt profile: GEMM floor %.3f s in all (each shape alone x "
               "its calls)\n",
               floor);
}

} // namespace lmcrt::kernels
