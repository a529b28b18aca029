//===- Pipeline.h - The trainer's side of pipeline parallelism --*- C++ -*-===//
//
// A program compiled with `lmc compile --mesh pp=P[,...] --microbatches M`
// (its description's `pipeline` and `stage` lines, ModelInfo.h) runs one
// stage of the training step on each rank of its pipeline axis. The trainer
// drives it through lmc_grad_step and lmc_apply_step (lmcrt.h): per step,
// grad_acc zeroed, grad_step over this replica's rows (which returns the SUM
// of the M micro-batches' mean losses), then apply_step with grad_scale 1/M
// (1/(K*M) with --grad-accum K). Every rank holds the full parameter and
// moment buffers, but after a step a parameter is current only on the stages
// that hold it (its `stage` line); eval_step, logits and checkpoints read
// every parameter. PipelineSync makes the state consistent before those:
// each parameter and both of its moments are broadcast over the pipeline
// group from the rank of its HOME stage, after which every rank holds what
// one rank training the whole model would hold.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_TRAINER_PIPELINE_H
#define LMC_LIB_RUNTIME_TRAINER_PIPELINE_H

#include <cstdint>
#include <string>

namespace lmcrt {

struct Config;
struct ModelFunctions;
struct ModelInfo;

/// Checks the flags against a pipelined program (nothing to check for
/// another one): its entry points, --batch against its micro-batches (the
/// rows of each replica split into M micro-batches), no local-SGD flags.
/// Throws RuntimeError (a usage error, exit 2) naming the flag.
void validatePipeline(const Config &config, const ModelInfo &model,
                      const ModelFunctions &fns);

/// "pp=2, 4 micro-batches, 1f1b", or "-" without a pipeline (the startup
/// table's `pipeline` row).
std::string pipelineText(const ModelInfo &model);

/// For every parameter of a pipelined model, its range of `params` and its
/// ranges of `expAvg` and `expAvgSq` (the description's offsets, the state
/// lines' under ZeRO-1) broadcast over the pipeline group from the rank of
/// its HOME stage; ranges of one home that follow each other go as one
/// broadcast. Collective over the world: every rank calls it. Host memory.
void broadcastFromHomeStages(const ModelInfo &model, float *params,
                             float *expAvg, float *expAvgSq);

/// Waits for this rank's outstanding point-to-point sends (lmcrt_p2p_flush,
/// which on a GPU also issues the deferred NCCL sends and queues the wait
/// for them on the compute stream): after each step of a pipelined program,
/// before the device is synchronised, and before the trainer exits.
void flushPipelineSends();

/// Whether the ranks of the pipeline group hold the same parameters and
/// moments: stale after a step, consistent again after sync().
class PipelineSync {
public:
  explicit PipelineSync(const ModelInfo &model);
  bool enabled() const { return pipelined; }
  /// After a training step: the stages' copies differ.
  void stepTaken() { stale = pipelined; }
  /// True when sync() has work to do.
  bool needed() const { return stale; }
  /// broadcastFromHomeStages when stale (the caller copies the device's
  /// state to these host buffers before and back after).
  void sync(float *params, float *expAvg, float *expAvgSq);

private:
  const ModelInfo &model;
  bool pipelined = false;
  bool stale = false;
};

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_TRAINER_PIPELINE_H
