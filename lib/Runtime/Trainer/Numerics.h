//===- Numerics.h - Non-finite state and the loss-spike guard ---*- C++ -*-===//
//
// Two guards on the numbers a run trains:
//
// - Non-finite values. The compiled step returns one flag (the `nonfinite`
//   field of lmcrt_train_step_result / lmcrt_apply_step_result) computed
//   over this rank's pieces of the updated parameters and moments. Only when
//   it fires does the trainer scan those pieces on the host
//   (firstNonFinite) to name the tensor and the element, and stop before
//   anything is saved. Parameters loaded by --init-from (and so those
//   --init-only would save) are scanned once, the same way.
//
// - Loss spikes (--spike-zscore Z, --spike-window N, --spike-max-skips K;
//   Z = 0, the default, turns the guard off). Over the losses of the last N
//   applied steps, a step whose loss exceeds mean + Z * stddev is a spike:
//   its update is skipped inside the compiled step, which receives that
//   bound as `max_loss` (+inf until the window is full) and skips the
//   update when loss > max_loss. K consecutive skips stop the run.
//   The guard's state is saved in the checkpoint metadata as `spike_guard`:
//   "SKIPS_TOTAL CONSECUTIVE LOSS..." with each loss a C99 hex float
//   (%a), so that a resumed run makes bitwise the same decisions.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_NUMERICS_H
#define LMC_LIB_RUNTIME_NUMERICS_H

#include "Core/ModelInfo.h"

#include <cstdint>
#include <deque>
#include <string>

namespace lmcrt {

/// The first non-finite element of this rank's pieces, as
/// "parameter NAME element I (VALUE)" or "exp_avg of NAME element I
/// (VALUE)" (I: the flat index in the rank's piece, which is the whole
/// tensor without a mesh); empty when every element is finite. Null moment
/// pointers are not scanned.
std::string firstNonFinite(const ModelInfo &model, const float *params,
                           const float *expAvg, const float *expAvgSq);

/// Fails naming `source`, the tensor and the element when some parameter
/// of this rank's pieces is not finite.
void checkFiniteParameters(const ModelInfo &model, const float *params,
                           const std::string &source);

class SpikeGuard {
public:
  SpikeGuard(double zscore, int64_t window, int64_t maxSkips)
      : zscore(zscore), window(window), maxSkips(maxSkips) {}

  bool enabled() const { return zscore > 0; }
  /// The bound to pass as max_loss for the next step: +inf while the guard
  /// is off or its window is not full.
  float maxLoss() const;
  /// Records the step's loss; returns true when the step was skipped (the
  /// compiled step's decision: loss > maxLoss; a NaN loss is not a spike,
  /// the non-finite checks stop it). Fails after maxSkips consecutive
  /// skips, naming `step`.
  bool record(float loss, float maxLoss, int64_t step);

  int64_t totalSkips() const { return skips; }
  std::string save() const;
  /// Restores save()'s text; fails naming `path` on malformed text.
  void load(const std::string &text, const std::string &path);

private:
  double zscore;
  int64_t window, maxSkips;
  std::deque<float> losses;
  int64_t skips = 0, consecutive = 0;
};

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_NUMERICS_H
