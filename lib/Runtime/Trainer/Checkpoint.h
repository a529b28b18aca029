//===- Checkpoint.h - Training checkpoints ----------------------*- C++ -*-===//
//
// A checkpoint is a safetensors file DIR/ckpt_<step, 8 digits>.safetensors
// holding, as F32 with their shapes, every parameter under its name, then
// `exp_avg.<name>` and `exp_avg_sq.<name>` (the AdamW moments). Its
// __metadata__ holds:
//   format       "lmc-checkpoint 1"
//   step         optimizer steps completed
//   data_shard, data_offset   position of the next training batch: shard
//                index in the sorted glob and token offset in it
//   data_order   "sequential" or "shuffled" (--data-order; a checkpoint
//                without it was written in sequential order)
//   data_seed, data_epoch, data_shard_pos, data_batch_pos   shuffled order
//                only: the order's seed (16 hex digits), and the position of
//                the next batch in it (epoch, index in the epoch's shard
//                order, index in the shard's batch order; DataLoader.h)
//   grad_accum   --grad-accum K (micro-batches per step; the data position
//                counts batches of K x --batch rows; absent: 1)
//   rng_state    splitmix64 state (16 hex digits)
//   model_name, model_hash    name and FNV-1a hash of the model description
//   model_description  the global model description (ModelInfo::globalText,
//                which has the heads line that the hash leaves out); a resume
//                compares it and names the first line that differs (older
//                checkpoints without it: the hash)
//   data_fingerprint  the --data shards: "NAME SIZE HASH" lines (hash64 of
//                each whole file, Fingerprint.h); a resume on other shards is
//                refused naming the shards added, removed or changed, unless
//                --allow-data-change, which restarts the data position at the
//                first batch of the new shards' order (the checkpoint's
//                data seed), keeping the step, parameters and moments
//   checksum.<tensor>  hash64 (16 hex digits) of each tensor's bytes, checked
//                whenever the tensor is read (--resume, --init-from)
//   flags_hash   FNV-1a hash of the flags a resumed run must share, which are
//                also stored one by one as flag.<name> (see mustMatchFlags)
//   lr_decay_steps  the cosine horizon the run used (0: constant schedule);
//                a resumed run keeps it unless --lr-decay-steps is given
//   val_loss     the val loss at this step, when it was evaluated
//   best_step, best_val_loss  with --keep-best: the checkpoint step of the
//                lowest val loss so far (this one or an earlier one)
//
// A damaged newest checkpoint (truncated, or a tensor whose checksum fails)
// is skipped on --resume with a warning: resumeCandidates lists `latest`
// first, then the other step checkpoints newest first, and the trainer
// resumes from the first that checkpointDamage finds complete.
//
// Writing is atomic: the file is written to a temporary in DIR, fsynced,
// renamed, and DIR fsynced; then DIR/latest (the file name of the newest
// complete checkpoint and a newline) is replaced the same way. A kill at any
// moment leaves `latest` naming a complete checkpoint. With --keep-best,
// DIR/best (the same format) names the best checkpoint, written the same way
// after `latest`; then --keep-last deletes older checkpoints (Retention.h).
//
// A checkpoint always holds the global (full) model, whatever the mesh: under
// tensor parallelism and ZeRO-1 (Sharding.h) saveCheckpoint gathers the
// pieces of every rank on world rank 0, which writes the file; reading, every
// rank reads and checks the whole file and keeps its own pieces. The model
// hash leaves the mesh and the layout out (ModelInfo::hash), so a checkpoint
// written under one mesh resumes under any other.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CHECKPOINT_H
#define LMC_LIB_RUNTIME_CHECKPOINT_H

#include "Core/ModelInfo.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace lmcrt {

struct Config;
struct ModelInfo;

struct TrainState {
  int64_t step = 0;
  int64_t dataShard = 0;
  int64_t dataOffset = 0;
  uint64_t rng = 0;
  // Checkpoint retention and the schedule (see the metadata above).
  double valLoss = std::numeric_limits<double>::quiet_NaN(); // NaN: none
  int64_t bestStep = -1;                                     // -1: no best yet
  double bestValLoss = std::numeric_limits<double>::quiet_NaN();
  int64_t lrDecaySteps = -1; // read back: the recorded horizon (-1: none)
  // The shuffled data order's seed and position (DataLoader.h); unused in
  // sequential order.
  uint64_t dataSeed = 0;
  int64_t dataEpoch = 0;
  int64_t dataShardPos = 0;
  int64_t dataBatchPos = 0;
  // Resume checks: the data fingerprint of --data (Fingerprint.h, with
  // content hashes), written as data_fingerprint; read back as recorded
  // ("" when the checkpoint has none).
  std::string dataFingerprint;
  // The loss-spike guard's state (SpikeGuard::save, Numerics.h); empty
  // while the guard is off.
  std::string spikeGuard;
};

/// What a checkpoint holds beyond the parameters and moments (local SGD's
/// state, LocalSgd.h): tensor sets named PREFIX + parameter name, each a
/// buffer in the global layout (on world rank 0; model.globalTotal floats),
/// and metadata entries. Tensors named `local.*` are skipped by
/// readCheckpoint (LocalSgd reads them).
struct CheckpointExtras {
  std::vector<std::pair<std::string, const float *>> tensors;
  std::map<std::string, std::string> metadata;
};

/// Collective over the ranks of world rank 0's group of each parameter's
/// shard axes (the others return at once): assembles the global layout of
/// `buffer` (laid out as this rank's parameters) into `global` on world
/// rank 0.
void gatherParamsToRoot(const ModelInfo &model, const MeshCoord &coord,
                        const float *buffer, float *global);

/// Reads the tensors PREFIX + NAME of the checkpoint at `path` (checksums
/// checked) and keeps this rank's pieces, laid out as its parameters.
void readParamPieces(const std::string &path, const std::string &prefix,
                     const ModelInfo &model, const MeshCoord &coord,
                     float *params);

/// Replaces DIR/NAME atomically with what `write` writes to the descriptor.
void atomicWriteFile(
    const std::string &dir, const std::string &name,
    const std::function<void(int fd, const std::string &path)> &write);

std::map<std::string, std::string> checkpointMetadata(const ModelInfo &model,
                                                      const Config &config,
                                                      const TrainState &state);

/// DIR/ckpt_<step>.safetensors.
std::string checkpointPath(const std::string &dir, int64_t step);

/// Writes a checkpoint of the global model, then the `latest` marker, then
/// (config.keepBest and state.bestStep == state.step) the `best` marker, and
/// then applies config.keepLast (Retention.h), appending the names it
/// deleted to `deleted`; returns its path. `params`, `expAvg` and
/// `expAvgSq` are in the global layout (model.globalTotal floats each,
/// parameter p at p.globalOffset).
std::string writeCheckpoint(const std::string &dir, const ModelInfo &model,
                            const Config &config, const TrainState &state,
                            const float *params, const float *expAvg,
                            const float *expAvgSq,
                            std::vector<std::string> *deleted = nullptr,
                            const CheckpointExtras *extras = nullptr);

/// Collective over every rank of the process group (lmcrt::comm), whose mesh
/// must be the model's: assembles the global parameters and moments on world
/// rank 0, each tensor gathered over the group of the axes that split it
/// (its shard lines, and the state axis for ZeRO-1 moments) from each rank's
/// buffers (`params`:
/// model.total floats, `expAvg`, `expAvgSq`: model.stateTotal), and world
/// rank 0 writes them with writeCheckpoint. Every rank then learns whether
/// the write succeeded: on failure every rank throws RuntimeError with rank
/// 0's message, so that none runs ahead of a failed write. Returns the path
/// on every rank.
/// On rank 0, `deleted` gets the checkpoints retention deleted.
std::string saveCheckpoint(const std::string &dir, const ModelInfo &model,
                           const Config &config, const TrainState &state,
                           const float *params, const float *expAvg,
                           const float *expAvgSq,
                           std::vector<std::string> *deleted = nullptr,
                           const CheckpointExtras *extras = nullptr);

/// The file name DIR/MARKER (`latest` or `best`) holds; "" when there is no
/// such file; throws RuntimeError when it is malformed.
std::string readMarker(const std::string &dir, const std::string &marker);

/// Replaces DIR/MARKER atomically with `name` and a newline.
void writeMarker(const std::string &dir, const std::string &marker,
                 const std::string &name);

/// The checkpoint DIR/latest names; throws RuntimeError if there is none.
std::string latestCheckpoint(const std::string &dir);

/// The checkpoints to resume from, best first: the one DIR/latest names,
/// then every other step checkpoint in DIR in descending step order (the
/// fallbacks when a newer one is damaged); throws RuntimeError when there
/// is none.
std::vector<std::string> resumeCandidates(const std::string &dir);

/// Why the checkpoint at `path` cannot be read (unreadable or truncated
/// header, missing data, a tensor whose checksum does not match), as one
/// line naming the file and tensor; empty when it is complete.
std::string checkpointDamage(const std::string &path);

/// What differs between a checkpoint's metadata and this model and these
/// flags, as "; "-separated phrases; empty when resuming is allowed.
std::string resumeMismatch(const std::map<std::string, std::string> &metadata,
                           const ModelInfo &model, const Config &config);

/// Loads a checkpoint to resume from: checks its metadata against the model
/// and flags (refusing with resumeMismatch's message), then every tensor's
/// dtype and global shape, and reads into this rank's buffers (`params`:
/// model.total floats, `expAvg`, `expAvgSq`: model.stateTotal) the pieces
/// that the rank at `coord` holds (Sharding.h). Needs no other rank.
TrainState readCheckpoint(const std::string &path, const ModelInfo &model,
                          const Config &config, float *params, float *expAvg,
                          float *expAvgSq, const MeshCoord &coord);
/// The same for a rank at (0, 0).
TrainState readCheckpoint(const std::string &path, const ModelInfo &model,
                          const Config &config, float *params, float *expAvg,
                          float *expAvgSq);

/// Loads only the parameters of a safetensors file (--init-from), this
/// rank's pieces of them, from a file lmc or Hugging Face's save_pretrained
/// wrote: names with or without the prefix 'transformer.' or 'model.', the
/// moments of an lmc checkpoint and Hugging Face's non-parameter buffers
/// ignored, a tied head written out accepted when it equals the embedding,
/// every other tensor an error (InitFrom.h). Tensors may be F32, or F16 or
/// BF16 (converted to f32, exactly). The result is a one-line note of what
/// was done beyond reading F32 tensors under their own names, the phrases
/// separated by "; " ("PATH: stripped the prefix 'transformer.' from 27
/// tensor names; converted 28 BF16 tensors to f32 (exact)"), empty when
/// there is nothing to say.
std::string loadParameters(const std::string &path, const ModelInfo &model,
                           float *params, const MeshCoord &coord);
std::string loadParameters(const std::string &path, const ModelInfo &model,
                           float *params);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_CHECKPOINT_H
