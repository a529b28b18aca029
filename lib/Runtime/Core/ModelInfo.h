//===- ModelInfo.h - The model description of a compiled model --*- C++ -*-===//
//
// Parses the text `_mlir_ciface_lmc_model_info` returns (format in lmcrt.h)
// and validates it strictly: every field present and in range, parameter
// names unique, shard and state lines consistent with the parameters and the
// mesh, parameters (and ZeRO-1 state pieces) in ascending, non-overlapping
// ranges that cover their flat buffer exactly.
//
// Shapes come in three kinds. A parameter's `shape` is its GLOBAL (full)
// shape, the one checkpoints hold. Its `localShape` is what this rank holds
// in the parameter buffer: the global shape with each dimension a `shard`
// line names divided by the size of that line's mesh axis (equal to `shape`
// for a replicated parameter). Its `storedShape` is what checkpoints hold: the
// global shape, but with only the first (real) rows of a parameter padded
// along the vocabulary (`pad` line), so that a padded model's checkpoints are
// those of the unpadded one. Its `stateShape` is what this rank holds of
// each AdamW moment: the local shape with the ZeRO-1 dimension divided by the
// size of the state section's axis (equal to `localShape` without a state
// section, or for a state line with dimension -1). A pipelined program
// (`pipeline` and `stage` lines) holds every parameter in full layout on
// every rank of its pipeline axis; the stage lines say which stages update
// which parameters. Nothing here knows what
// an axis is for: the mesh, the axes that split the batch, every split of a
// parameter and of its moments are in the description.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_MODELINFO_H
#define LMC_LIB_RUNTIME_MODELINFO_H

#include "lmc/Support/Mesh.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt {

enum class InitKind { Zeros, Ones, Normal };

struct ParamInfo {
  std::string name;
  int64_t offset = 0; // in elements, into this rank's flat parameter buffer
  std::vector<int64_t> shape; // global shape
  int64_t numel = 1;          // elements of the global shape
  InitKind init = InitKind::Zeros;
  double std = 0; // standard deviation of InitKind::Normal
  bool decay = false;
  /// The words INIT, STD and DECAY as the description wrote them (hashed).
  std::string initText, stdText, decayText;

  /// Vocabulary padding (`pad NAME ROWS`): only the first ROWS rows
  /// (dimension 0) are real; the rest are zero at initialisation, stay zero
  /// (their logits are masked out of the loss) and are left out of
  /// checkpoints. storedShape is the shape with ROWS rows (`shape` when not
  /// padded), storedNumel its elements: a row-major prefix of the global
  /// tensor.
  std::vector<int64_t> storedShape;
  int64_t storedNumel = 1;
  bool padded() const { return storedNumel != numel; }

  /// The splits of the parameter (`shard NAME AXIS DIM BLOCKS`), in mesh
  /// order: over the mesh axis `axis` (its index), along dimension `dim`,
  /// cut into `blocks` blocks first. A parameter is replicated over every
  /// axis without one.
  struct Shard {
    int axis = 0;
    int64_t dim = 0;
    int64_t blocks = 1;
  };
  std::vector<Shard> shards;
  std::vector<int64_t> localShape; // this rank's piece of the parameter
  int64_t localNumel = 1;

  /// ZeRO-1 (`state NAME OFFSET DIM`): where this rank's piece of each AdamW
  /// moment lives in the moment buffers, and the dimension of the local
  /// parameter split over the state section's axis (-1: the whole local
  /// parameter). Without a state section: stateOffset = offset and
  /// stateDim = -1.
  int64_t stateOffset = 0;
  int64_t stateDim = -1;
  std::vector<int64_t> stateShape;
  int64_t stateNumel = 1;

  /// Offset of the parameter in the global (checkpoint) layout: parameters
  /// laid end to end in description order, each with its global shape.
  int64_t globalOffset = 0;

  /// Pipeline parallelism (`stage NAME HOME [OTHER...]`): the stages that
  /// hold the parameter, its HOME stage first (the one whose copy is the
  /// parameter's value after a step; the others apply identical updates).
  /// Empty without a `pipeline` line.
  std::vector<int64_t> stages;
};

/// The `pipeline AXIS STAGES MICROBATCHES SCHEDULE` line: the mesh axis
/// whose ranks run the stages of the training step (each its own), how many
/// micro-batches each step's rows are cut into, and the schedule (1f1b or
/// gpipe). axis -1: no pipeline.
struct PipelineInfo {
  int axis = -1;
  int64_t stages = 1;
  int64_t microbatches = 1;
  std::string schedule;
};

/// A rank's coordinates in the model's mesh, one per axis in mesh order
/// (row-major: the last axis fastest). Empty: the coordinates of rank 0.
using MeshCoord = std::vector<int64_t>;

struct ModelInfo {
  std::string text; // the description as the compiled code returned it
  std::string name;
  /// Where the compiled code runs: "cpu" or "cuda" (the `target` line;
  /// not part of the hash, so checkpoints move between targets).
  std::string target = "cpu";
  int64_t vocab = 0;
  /// The longest sequence (`context`), 0 when the model fixes none (rotary
  /// position embeddings).
  int64_t context = 0;
  /// The model's causal attentions (`attention COUNT WIDTH`: one per layer)
  /// and the query width of each (heads x head dimension); 0 when the
  /// description has no such line.
  int64_t attentionLayers = 0;
  int64_t attentionWidth = 0;
  /// Their head counts (`heads HEADS KV_HEADS`, when all attentions share
  /// them); 0 when the description has no such line.
  int64_t heads = 0;
  int64_t kvHeads = 0;
  /// The mesh the program was partitioned for (`mesh`; one axis `world` of
  /// size 1 when absent), the axes that split the batch (`batch`: each rank
  /// reads its rows, by its index in that group), and the axis the ZeRO-1
  /// moments are split over (-1: none).
  ::lmc::MeshSpec mesh;
  uint32_t batchAxes = 0;
  /// The axes that split the sequence of the step's activations
  /// (`sequence`: sequence parallelism); the sequence length must divide
  /// among them.
  uint32_t sequenceAxes = 0;
  /// `dp_sync local`: the training step reduces nothing over the batch
  /// axes; each replica trains on its own until the trainer averages the
  /// parameters (lmc_dp_average*). False: gradients are averaged every step.
  bool dpSyncLocal = false;
  int zeroAxis = -1;
  /// Pipeline parallelism (not part of the hash: checkpoints move between
  /// programs with and without it).
  PipelineInfo pipeline;
  int64_t total = 0;       // elements of this rank's flat parameter buffer
  int64_t stateTotal = 0;  // elements of each of this rank's moment buffers
  bool zero1 = false;      // the description has a state section
  int64_t globalTotal = 0; // elements of the global model (sum of numel)
  int64_t storedTotal = 0; // elements checkpoints hold (sum of storedNumel)
  std::vector<ParamInfo> params;

  const ParamInfo *find(const std::string &name) const;
  /// FNV-1a hash of the canonical global description (canonicalText): the
  /// same for every mesh and layout of one model, so that a checkpoint
  /// written under one mesh resumes under another.
  unsigned long long hash() const;
  /// The description of the global model, without mesh, shard, pad and
  /// state lines, with stored shapes and offsets, including the heads line
  /// (what checkpoints record as model_description; hash() leaves the heads
  /// line out, as descriptions did before it existed).
  std::string globalText() const;
  /// The description of the global model, without mesh, shard, pad and
  /// state lines, with stored shapes and offsets (storedShape: a model
  /// padded along the vocabulary describes as the unpadded one; for a
  /// description without shard and pad lines whose parameters are laid end
  /// to end, its text minus the mesh line).
  std::string canonicalText() const;
  /// True when some parameter or moment is split: the rank's buffers do not
  /// hold the global model.
  bool isSharded() const;
  /// The number of ranks, and how many parts the batch is split into.
  int64_t numRanks() const { return mesh.numDevices(); }
  int64_t batchParts() const { return mesh.groupSize(batchAxes); }
  int64_t sequenceParts() const { return mesh.groupSize(sequenceAxes); }
  /// True when the program is pipelined (a `pipeline` line).
  bool pipelined() const { return pipeline.axis >= 0; }
  /// The group (mask) of the pipeline axis; 0 without one.
  uint32_t pipelineGroup() const {
    return pipelined() ? 1u << pipeline.axis : 0u;
  }
  /// "dp=2 x tp=2".
  std::string meshText() const;
};

/// Parses and validates a description; throws RuntimeError naming the line.
ModelInfo parseModelInfo(const std::string &text);

/// "64x192"-style shape text.
std::string shapeString(const std::vector<int64_t> &shape);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_MODELINFO_H
