//===- Numerics.cpp - Non-finite state and the loss-spike guard -----------===//
//
// See Numerics.h.
//
//===----------------------------------------------------------------------===//

#include "Trainer/Numerics.h"

#include "Core/Error.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <vector>

namespace lmcrt {

namespace {

/// Index of the first non-finite element of [p, p + n), or -1.
int64_t firstBad(const float *p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i]))
      return i;
  return -1;
}

std::string element(const std::string &what, int64_t index, float value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), " element %lld (%g)",
                static_cast<long long>(index), static_cast<double>(value));
  return what + buffer;
}

} // namespace

std::string firstNonFinite(const ModelInfo &model, const float *params,
                           const float *expAvg, const float *expAvgSq) {
  for (const ParamInfo &p : model.params) {
    int64_t i = firstBad(params + p.offset, p.localNumel);
    if (i >= 0)
      return element("parameter " + p.name, i, params[p.offset + i]);
  }
  const float *moments[] = {expAvg, expAvgSq};
  const char *names[] = {"exp_avg", "exp_avg_sq"};
  for (int k = 0; k < 2; ++k) {
    if (!moments[k])
      continue;
    for (const ParamInfo &p : model.params) {
      int64_t i = firstBad(moments[k] + p.stateOffset, p.stateNumel);
      if (i >= 0)
        return element(std::string(names[k]) + " of " + p.name, i,
                       moments[k][p.stateOffset + i]);
    }
  }
  return "";
}

void checkFiniteParameters(const ModelInfo &model, const float *params,
                           const std::string &source) {
  std::string bad = firstNonFinite(model, params, nullptr, nullptr);
  if (!bad.empty())
    fail(source + ": " + bad + " is not finite; refusing to train from it");
}

float SpikeGuard::maxLoss() const {
  if (!enabled() || static_cast<int64_t>(losses.size()) < window)
    return std::numeric_limits<float>::infinity();
  double sum = 0;
  for (float l : losses)
    sum += l;
  double mean = sum / static_cast<double>(losses.size());
  double sq = 0;
  for (float l : losses)
    sq += (l - mean) * (l - mean);
  double stddev = std::sqrt(sq / static_cast<double>(losses.size()));
  return static_cast<float>(mean + zscore * stddev);
}

bool SpikeGuard::record(float loss, float maxLoss, int64_t step) {
  if (!enabled())
    return false;
  bool skipped = loss > maxLoss;
  if (!skipped) {
    consecutive = 0;
    // A non-finite loss (which stops the run) never enters the window.
    if (!std::isfinite(loss))
      return false;
    losses.push_back(loss);
    while (static_cast<int64_t>(losses.size()) > window)
      losses.pop_front();
    return false;
  }
  ++skips;
  ++consecutive;
  if (consecutive >= maxSkips) {
    char buffer[160];
    std::snprintf(buffer, sizeof(buffer),
                  "--spike-max-skips %lld: %lld consecutive loss spikes "
                  "skipped, the last at step %lld (loss %g > %g)",
                  static_cast<long long>(maxSkips),
                  static_cast<long long>(consecutive),
                  static_cast<long long>(step), static_cast<double>(loss),
                  static_cast<double>(maxLoss));
    fail(buffer);
  }
  return true;
}

std::string SpikeGuard::save() const {
  std::string text = std::to_string(skips) + " " + std::to_string(consecutive);
  char buffer[32];
  for (float l : losses) {
    std::snprintf(buffer, sizeof(buffer), " %a", static_cast<double>(l));
    text += buffer;
  }
  return text;
}

void SpikeGuard::load(const std::string &text, const std::string &path) {
  std::istringstream in(text);
  std::string word;
  std::vector<std::string> words;
  while (in >> word)
    words.push_back(word);
  auto bad = [&]() {
    fail(path + ": metadata spike_guard is malformed: '" + text + "'");
  };
  if (words.size() < 2)
    bad();
  auto integer = [&](const std::string &w) {
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(w.c_str(), &end, 10);
    if (*end != '\0' || errno != 0 || v < 0)
      bad();
    return static_cast<int64_t>(v);
  };
  skips = integer(words[0]);
  consecutive = integer(words[1]);
  losses.clear();
  for (size_t i = 2; i < words.size(); ++i) {
    char *end = nullptr;
    errno = 0;
    double v = std::strtod(words[i].c_str(), &end);
    if (*end != '\0' || errno != 0 || !std::isfinite(v))
      bad();
    losses.push_back(static_cast<float>(v));
  }
  // A resumed run may use another --spike-window: keep the newest losses.
  while (static_cast<int64_t>(losses.size()) > window)
    losses.pop_front();
}

} // namespace lmcrt
