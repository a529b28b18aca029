//===- ProfileTable.cpp - The GPU step's time by kernel class -------------===//

#include "Cuda/ProfileTable.h"

#include <cstdio>

namespace lmcrt::cuda {

const char *className(KernelClass c) {
  switch (c) {
  case KernelClass::Gemm:
    return "GEMM";
  case KernelClass::Attention:
    return "attention";
  case KernelClass::RowReduction:
    return "row reductions";
  case KernelClass::Elementwise:
    return "elementwise";
  case KernelClass::Optimizer:
    return "optimizer";
  case KernelClass::Collective:
    return "collectives";
  case KernelClass::HostWait:
    return "host waits";
  }
  return "?";
}

KernelClass classifyKernel(std::string_view name, std::string_view model) {
  if (!model.empty() && name.substr(0, model.size()) == model)
    name.remove_prefix(model.size());
  auto has = [&](std::string_view word) {
    return name.find(word) != std::string_view::npos;
  };
  if (has("adamw") || has("sgd") || has("grad_norm") || has("clip"))
    return KernelClass::Optimizer;
  if (has("attention") || has("softmax") || has("causal_mask"))
    return KernelClass::Attention;
  if (has("norm") || has("cross_entropy") || has("sum") || has("mean") ||
      has("reduce") || has("logsumexp"))
    return KernelClass::RowReduction;
  return KernelClass::Elementwise;
}

double ProfileTable::totalMs() const {
  double total = 0;
  for (double ms : ms_)
    total += ms;
  return total;
}

std::string ProfileTable::format(int64_t steps) const {
  const double total = totalMs();
  char line[160];
  std::string out;
  std::snprintf(line, sizeof(line),
                "lmcrt profile: GPU time by kernel class (CUDA events), "
                "%lld steps, %.1f ms in all\n",
                static_cast<long long>(steps), total);
  out += line;
  std::snprintf(line, sizeof(line), "%-16s %8s %12s %10s %7s\n", "class",
                "groups", "ms", "ms/step", "%");
  out += line;
  for (int i = 0; i < kKernelClasses; ++i) {
    if (groups_[i] == 0)
      continue;
    std::snprintf(line, sizeof(line), "%-16s %8lld %12.3f %10.3f %7.1f\n",
                  className(static_cast<KernelClass>(i)),
                  static_cast<long long>(groups_[i]), ms_[i],
                  steps > 0 ? ms_[i] / static_cast<double>(steps) : 0.0,
                  total > 0 ? 100.0 * ms_[i] / total : 0.0);
    out += line;
  }
  return out;
}

} // namespace lmcrt::cuda
