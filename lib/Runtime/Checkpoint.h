//===- Checkpoint.h - Training checkpoints ----------------------*- C++ -*-===//
//
// A checkpoint is a safetensors file DIR/ckpt_<step, 8 digits>.safetensors
// holding, as F32 with their shapes, every parameter under its name, then
// `exp_avg.<name>` and `exp_avg_sq.<name>` (the AdamW moments). Its
// __metadata__ holds:
//   format       "lmc-checkpoint 1"
//   step         optimizer steps completed
//   data_shard, data_offset   position of the next training batch
//   rng_state    splitmix64 state (16 hex digits)
//   model_name, model_hash    name and FNV-1a hash of the model description
//   flags_hash   FNV-1a hash of the flags a resumed run must share, which are
//                also stored one by one as flag.<name> (see mustMatchFlags)
//
// Writing is atomic: the file is written to a temporary in DIR, fsynced,
// renamed, and DIR fsynced; then DIR/latest (the file name of the newest
// complete checkpoint and a newline) is replaced the same way. A kill at any
// moment leaves `latest` naming a complete checkpoint.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CHECKPOINT_H
#define LMC_LIB_RUNTIME_CHECKPOINT_H

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace lmcrt {

struct Config;
struct ModelInfo;

struct TrainState {
  int64_t step = 0;
  int64_t dataShard = 0;
  int64_t dataOffset = 0;
  uint64_t rng = 0;
};

/// Replaces DIR/NAME atomically with what `write` writes to the descriptor.
void atomicWriteFile(
    const std::string &dir, const std::string &name,
    const std::function<void(int fd, const std::string &path)> &write);

std::map<std::string, std::string> checkpointMetadata(const ModelInfo &model,
                                                      const Config &config,
                                                      const TrainState &state);

/// Writes a checkpoint and then the `latest` marker; returns its path.
std::string writeCheckpoint(const std::string &dir, const ModelInfo &model,
                            const Config &config, const TrainState &state,
                            const float *params, const float *expAvg,
                            const float *expAvgSq);

/// The checkpoint DIR/latest names; throws RuntimeError if there is none.
std::string latestCheckpoint(const std::string &dir);

/// What differs between a checkpoint's metadata and this model and these
/// flags, as "; "-separated phrases; empty when resuming is allowed.
std::string resumeMismatch(const std::map<std::string, std::string> &metadata,
                           const ModelInfo &model, const Config &config);

/// Loads a checkpoint to resume from: checks its metadata against the model
/// and flags (refusing with resumeMismatch's message), then every tensor's
/// dtype and shape, and reads parameters and moments.
TrainState readCheckpoint(const std::string &path, const ModelInfo &model,
                          const Config &config, float *params, float *expAvg,
                          float *expAvgSq);

/// Loads only the parameters of a safetensors file (--init-from); optimizer
/// state and other tensors in the file are ignored.
void loadParameters(const std::string &path, const ModelInfo &model,
                    float *params);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_CHECKPOINT_H
