//===- LocalSgd.h - Periodic averaging of data-parallel replicas -*- C++ -*-===//
//
// The trainer's outer loop for programs compiled with `lmc compile --mesh
// dp=D[,tp=T] --dp-sync local`: their train_step exchanges no gradient over
// dp, so each dp index is a replica that takes local AdamW steps with its
// own moments on its own rows of each batch. Every --sync-every H steps (a
// round) the replicas average their pseudo-gradient
//   delta = theta(round start) - theta(local)
// over dp (lmc_dp_average, lmcrt.h) and apply it with the outer optimizer,
// element by element in float32 on this rank's buffer (its tp piece):
//   avg:       g <- g - mean(delta)
//   nesterov:  m <- mu m + mean(delta);  g <- g - lr (mean(delta) + mu m)
// (SGD with Nesterov momentum, --outer-lr lr, --outer-momentum mu), then
// every replica continues from g: the replicas are identical right after
// each synchronisation. g (the round-start parameters) and m live in host
// memory, float32, laid out as this rank's parameters; the buffers that
// lmc_dp_average* see come from the device (managed memory on a GPU).
//
// --async-sync: at the end of round k the replica computes delta_k (against
// the round's start) and starts its averaging (lmc_dp_average_start)
// without waiting; at the end of round k+1 it waits for it and applies
// mean(delta_k) to g, then starts delta_{k+1}'s and continues from the new
// g. So round k+1 starts from g_k (g_0 for rounds 0 and 1), the outer step
// of round k's mean is applied one round late, and the replicas are
// identical right after each application. Nothing depends on timing: the
// only wait is at a fixed step. A checkpoint, evaluation or the end of the
// run waits for an averaging in flight and keeps its result as the pending
// mean (saved in checkpoints), applied at the next round end.
//
// The averaged model (evaluations, the parameters and moments a checkpoint
// holds under their own names, --sample) is the mean over dp of the
// replicas' parameters and moments; right after a synchronisation, the
// replicas' own (identical) parameters.
//
// Data: each global batch of B rows is cut among the D replicas, B/D rows
// each: --data-partition uniform gives replica d the contiguous rows
// [d B/D, (d+1) B/D) of every batch; random gives it the rows of a seeded
// random permutation of the batch's rows (seeded by --seed and the step and
// micro-batch, recorded in checkpoints), so a resume reads the same rows.
//
// Checkpoints (Checkpoint.h) add the tensors local.round_start.NAME,
// local.outer_momentum.NAME (nesterov), local.pending_delta.NAME (a pending
// mean, --async-sync), and each replica d's local.replica<d>.NAME,
// local.replica<d>.exp_avg.NAME, local.replica<d>.exp_avg_sq.NAME, and the
// metadata dp_sync=local, local_replicas, local_mesh, sync_every,
// outer_optimizer, outer_lr, outer_momentum, async_sync, data_partition,
// partition_seed, round_base, local_pending. A resume under another mesh,
// mode (allreduce or local) or outer configuration is refused unless
// --export-averaged: the run then starts from the checkpoint's averaged
// parameters and moments with fresh outer state (zero momentum, nothing
// pending) and its first round starting at the checkpoint's step.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_LOCALSGD_H
#define LMC_LIB_RUNTIME_LOCALSGD_H

#include "Core/ModelFunctions.h"
#include "Core/ModelInfo.h"
#include "Trainer/Checkpoint.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lmcrt {

struct Config;

/// The first local-SGD flag `config` sets (--sync-every, --outer-*,
/// --async-sync, --data-partition), or null.
const char *firstLocalSgdFlag(const Config &config);

/// True when the program was compiled with `--dp-sync local`.
bool compiledLocal(const ModelInfo &model, const ModelFunctions &fns);

/// Checks the local-SGD flags against the program; fills their defaults
/// (--outer-optimizer avg, --outer-lr 0.7 and --outer-momentum 0.9 with
/// nesterov, --data-partition uniform). Throws a usage error naming the flag.
void validateLocalSgd(Config &config, const ModelInfo &model,
                      const ModelFunctions &fns);

/// What refuses resuming from a checkpoint with `metadata` under this
/// program and flags ("" when allowed): another mode, mesh or outer
/// configuration, unless --export-averaged.
std::string localResumeMismatch(
    const std::map<std::string, std::string> &metadata, const Config &config,
    const ModelInfo &model, const ModelFunctions &fns);

class LocalSgd {
public:
  /// `params`, `expAvg`, `expAvgSq`: this rank's buffers (the replica's).
  LocalSgd(const Config &config, const ModelInfo &model,
           const ModelFunctions &fns, lmcrt_memref_f32_1d &params,
           float *expAvg, float *expAvgSq);
  ~LocalSgd();
  LocalSgd(const LocalSgd &) = delete;
  LocalSgd &operator=(const LocalSgd &) = delete;

  /// A fresh start (or --export-averaged) at `step`: the parameters are the
  /// round start, no momentum, nothing pending.
  void begin(int64_t step, uint64_t partitionSeed);
  /// Resumes from the checkpoint at `path` (its main tensors were read into
  /// the buffers already): this replica's parameters and moments and the
  /// outer state, unless --export-averaged (then begin(step)).
  void resume(const std::string &path, const MeshCoord &coord, int64_t step);

  /// The rows of micro-batch `micro` of step `step` (0-based) that this
  /// replica trains on, as indices into the micro-batch's B rows.
  std::vector<int64_t> rows(int64_t step, int64_t micro, int64_t b) const;
  bool contiguousRows() const;

  struct Sync {
    int64_t round = 0;   // rounds completed (1-based number of this one)
    int64_t applied = 0; // the round whose mean was applied (0: none)
    double deltaRms = 0; // RMS of the mean applied (this rank's piece)
  };
  /// After step `step` (1-based) completed: at a round end, synchronises
  /// (collective over dp).
  std::optional<Sync> afterStep(int64_t step);

  /// Collective: the averaged model's parameters (a device buffer kept
  /// here, valid until the next call).
  lmcrt_memref_f32_1d &averagedParams();
  /// Collective: the averaged parameters and moments (host) and the
  /// checkpoint's local-SGD tensors and metadata, gathered on world rank 0.
  /// `storage` keeps the buffers alive.
  CheckpointExtras checkpointExtras(const MeshCoord &coord,
                                    std::vector<std::vector<float>> &storage,
                                    std::vector<float> &avgParams,
                                    std::vector<float> &avgExpAvg,
                                    std::vector<float> &avgExpAvgSq);
  /// Waits for an averaging in flight (kept as the pending mean).
  void drain();

private:
  /// A buffer of n floats from the device (what lmc_dp_average* see).
  struct DeviceBuffer {
    explicit DeviceBuffer(int64_t n);
    ~DeviceBuffer();
    DeviceBuffer(const DeviceBuffer &) = delete;
    DeviceBuffer &operator=(const DeviceBuffer &) = delete;
    float *data;
  };

  void outerStep(const float *meanDelta);
  /// The mean over dp of `n` floats at `buffer` (a device buffer), in place.
  void average(float *buffer);
  /// The mean over dp of `n` floats at `from` into `to` (host).
  void averageInto(const float *from, std::vector<float> &to);
  std::string describe() const;

  const Config &config;
  const ModelInfo &model;
  const ModelFunctions &fns;
  lmcrt_memref_f32_1d &params;
  float *expAvg, *expAvgSq;
  const int64_t n;
  int64_t replica = 0, replicas = 1;
  int64_t roundBase = 0;
  uint64_t partitionSeed = 0;
  std::vector<float> roundStart, momentum;
  // The mean in flight or pending, and the next round's change (async).
  DeviceBuffer pending, next, scratch;
  bool havePending = false, inFlight = false;
  int64_t handle = 0;
  bool identical = true; // replicas known identical (right after a sync)
  lmcrt_memref_f32_1d averagedRef{};
};

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_LOCALSGD_H
