//===- Trainer.cpp - The training loop ------------------------------------===//
//
// runTrainer: flags -> model description -> parameters (resume, --init-from
// or init) -> per step: next batch (in --data-order, DataLoader.h), train_step
// (which updates parameters and moments in place, see lmcrt.h) or, with
// --grad-accum K, grad_step on each of the K micro-batches of the step's
// batch and apply_step; print and log; eval on --val (--val-batches) every
// K steps and at the end; checkpoints every K steps and at the end; then
// --sample. SIGTERM and SIGINT stop the loop at the next step boundary,
// with a checkpoint (Stop.h). A pipelined program (Pipeline.h) always steps
// through grad_step and apply_step, and its stages' copies of the state are
// made one (broadcast from each parameter's home stage) before anything
// else reads them.
//
// On a mesh (the model description's) every rank holds its pieces of the
// parameters and moments (Sharding.h): initialisation draws every global
// tensor on every rank and keeps the rank's piece, checkpoints are assembled
// on rank 0 and hold the global model, and resuming reads the rank's pieces
// of it. Each rank reads the rows of the batch of its index in the group of
// the description's `batch` axes (the ranks that differ only on the other
// axes read the same rows). Everything that calls compiled code (steps,
// evaluation, sampling) runs on every rank; only rank 0 prints and logs.
// A program compiled with `--dp-sync local` trains its dp replicas apart
// between the synchronisations every --sync-every H steps (LocalSgd.h);
// evaluations, the checkpoints' own tensors and --sample use the averaged
// model.
//
// Throughput: FLOPs per step = 6 * N * B*T + 12 * L * C * T * B*T, with N the
// global parameter count, L the number of causal attentions and C the query
// width of each, from the description's `attention` line (the PaLM
// estimate: matmuls forward and backward plus attention scores and values;
// no parameter name is read). Without that line the attention term is
// dropped and the FLOPs line says so.
//
//===----------------------------------------------------------------------===//

#include "Comm/Collectives.h"
#include "Core/Device.h"
#include "Core/DeviceArray.h"
#include "Core/Error.h"
#include "Core/Fault.h"
#include "Core/ModelFunctions.h"
#include "Core/ModelInfo.h"
#include "Core/Sharding.h"
#include "Core/StepMemory.h"
#include "Trainer/Agreement.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/DataLoader.h"
#include "Trainer/Fingerprint.h"
#include "Trainer/Flags.h"
#include "Trainer/Init.h"
#include "Trainer/LocalSgd.h"
#include "Trainer/Log.h"
#include "Trainer/Paths.h"
#include "Trainer/Pipeline.h"
#include "Trainer/Numerics.h"
#include "Trainer/PeakFlops.h"
#include "Trainer/Retention.h"
#include "Trainer/Safetensors.h"
#include "Trainer/LogitsDump.h"
#include "Trainer/Sampler.h"
#include "Trainer/Stop.h"
#include "Trainer/Threads.h"
#include "Trainer/Tokenizer.h"
#include "lmc/Version.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <unistd.h>
#include <vector>

namespace lmcrt {

namespace {

/// Parameters and AdamW moments: this rank's `total` parameter elements and
/// `stateTotal` elements of each moment, in device memory, with the host's
/// copies that initialisation, checkpoints and the numerics scans use
/// (DeviceArray.h): toDevice() after the host wrote them, toHost() before it
/// reads them.
class State {
public:
  State(int64_t paramTotal, int64_t stateTotal)
      : arrays{DeviceArray<float>(paramTotal), DeviceArray<float>(stateTotal),
               DeviceArray<float>(stateTotal)} {
    for (int i = 0; i < 3; ++i) {
      const DeviceArray<float> &a = arrays[i];
      std::memset(a.host(), 0, a.bytes());
      device::zero(a.device(), a.bytes());
      *refs[i] = {a.device(), a.device(), 0, {a.size()}, {1}};
    }
  }
  State(const State &) = delete;
  State &operator=(const State &) = delete;

  float *hostParams() const { return arrays[0].host(); }
  float *hostExpAvg() const { return arrays[1].host(); }
  float *hostExpAvgSq() const { return arrays[2].host(); }
  const DeviceArray<float> &paramArray() const { return arrays[0]; }
  /// The first element of a buffer compiled code takes.
  static float *data(const lmcrt_memref_f32_1d &m) {
    return m.aligned + m.offset;
  }

  /// The host's parameters and moments to the device.
  void toDevice() const {
    for (const DeviceArray<float> &a : arrays)
      a.toDevice();
  }
  /// The device's parameters and moments to the host.
  void toHost() const {
    for (const DeviceArray<float> &a : arrays)
      a.toHost();
  }

  /// The device buffers, as compiled code takes them.
  lmcrt_memref_f32_1d params{}, expAvg{}, expAvgSq{};

private:
  DeviceArray<float> arrays[3];
  lmcrt_memref_f32_1d *refs[3] = {&params, &expAvg, &expAvgSq};
};

/// A [B, T] int32 batch: the data loader fills host(), toDevice() before
/// compiled code reads device().
using Batch = DeviceArray<int32_t>;

ModelInfo queryModel(const ModelFunctions &fns) {
  // Before the device is initialised: the compiled code allocates the
  // description in host memory and launches no kernel.
  lmcrt_memref_i8_1d desc;
  fns.modelInfo(&desc);
  if (desc.sizes[0] < 0 || (desc.strides[0] != 1 && desc.sizes[0] > 1)) {
    _mlir_memref_to_llvm_free(desc.allocated);
    fail("model_info returned a malformed buffer");
  }
  std::string text(reinterpret_cast<const char *>(desc.aligned + desc.offset),
                   static_cast<size_t>(desc.sizes[0]));
  _mlir_memref_to_llvm_free(desc.allocated);
  return parseModelInfo(text);
}

/// The local rank of this process among the ranks of its machine (mpirun's
/// OMPI_COMM_WORLD_LOCAL_RANK; the world rank otherwise, which the device
/// takes modulo its number of GPUs).
int localRank() {
  if (const char *local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK"))
    return std::max(0, std::atoi(local));
  return comm::rank();
}

/// Sets up the device the program was compiled for (model.target).
void initDevice(const ModelInfo &model) {
  if (model.target == device::target()) {
    device::initialize(localRank());
    return;
  }
  if (model.target == "cuda")
    fail("this program was compiled for --target cuda, but its runtime has "
         "no GPU support (link liblmcrt_cuda.a before liblmcrt.a)");
  fail("this program was compiled for --target " + model.target +
       ", but its runtime is for " + device::target());
}

/// The rows [firstRow, firstRow + rows) of a [B, T] batch.
lmcrt_memref_i32_2d batchRows(int32_t *batch, int64_t firstRow, int64_t rows,
                              int64_t t) {
  return {batch, batch, firstRow * t, {rows, t}, {t, 1}};
}

double evaluate(const ModelFunctions &fns, DataLoader &val, int64_t batches,
                lmcrt_memref_f32_1d &params, Batch &tokens, Batch &targets,
                int64_t b, int64_t t, int64_t firstRow, int64_t rows) {
  val.reset();
  double sum = 0;
  for (int64_t i = 0; i < batches; ++i) {
    val.next(tokens.host(), targets.host());
    tokens.toDevice(0, b * t);
    targets.toDevice(0, b * t);
    lmcrt_memref_i32_2d in = batchRows(tokens.device(), firstRow, rows, t);
    lmcrt_memref_i32_2d out = batchRows(targets.device(), firstRow, rows, t);
    sum += fns.evalStep(&params, &in, &out);
    device::synchronize();
  }
  return sum / static_cast<double>(batches);
}

std::string duration(double seconds) {
  char buffer[32];
  long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600)
    std::snprintf(buffer, sizeof(buffer), "%ldh%02ldm", s / 3600, s / 60 % 60);
  else
    std::snprintf(buffer, sizeof(buffer), "%ldm%02lds", s / 60, s % 60);
  return buffer;
}

int train(int argc, char **argv, const ModelFunctions &fns,
          const std::string &program) {
  Config config = parseFlags(argc, argv);
  if (config.help) {
    std::fputs(usage(program).c_str(), stdout);
    return 0;
  }
  if (config.version) {
    std::printf("%s\n", LMC_VERSION_LINE);
    return 0;
  }
  ModelInfo model = queryModel(fns);
  // The process group of the mesh the program was partitioned for (one
  // process unless started by mpirun). Only rank 0 prints, logs, writes
  // checkpoints and samples.
  comm::init(model.mesh);
  const bool rank0 = comm::rank() == 0;
  if (!rank0 && !std::freopen("/dev/null", "w", stdout))
    fail("cannot silence the standard output of rank " +
         std::to_string(comm::rank()));
  validateConfig(config, model);
  // Pipeline parallelism (Pipeline.h): its flags, before local SGD's.
  validatePipeline(config, model, fns);
  // Local SGD (LocalSgd.h): its flags against the program's --dp-sync.
  validateLocalSgd(config, model, fns);
  const bool local = compiledLocal(model, fns);
  fault::init(); // LMCRT_FAULT, a testing aid (Core/Fault.h)
  // Outputs that name an input, and outputs that cannot be written: before
  // anything is written (Paths.h).
  checkOutputsAreNotInputs(config, inputPaths(config, "/proc/self/exe"));
  // Before any work: every rank runs the same model, executable, flags and
  // data, or all stop naming what differs (Agreement.h).
  checkAgreement(config, model);
  // The GPU, for a program compiled for one: after the flags, the model
  // description and MPI, so that --help and usage errors need no GPU.
  initDevice(model);
  // Local SGD's outer step reads and writes the parameters and moments on
  // the host (LocalSgd.cpp), which a GPU's device memory is not.
  if (local && !device::hostAddressable())
    fail("--sync-every: local SGD's outer step runs on the host and needs "
         "host-addressable parameters (the CPU target); this program keeps "
         "them in device memory (" +
         model.target + ")");
  // The outputs can be written (Paths.h): a --ckpt-dir is created here.
  if (rank0 && !config.generate && config.logits.empty()) {
    if (!config.ckptDir.empty())
      checkWritableDirectory("--ckpt-dir", config.ckptDir);
    if (!config.log.empty())
      checkWritableFile("--log", config.log);
  }
  if (rank0 && !config.logits.empty())
    checkWritableFile("--logits", config.logits);
  // The axes of the description's `batch` line split the batch: each rank
  // reads the rows of its index in that group.
  const int64_t parts = model.batchParts();
  if (config.logits.empty() && !config.generate && config.batch % parts != 0)
    usageError("--batch: the global batch " + std::to_string(config.batch) +
               " is not divisible by " + model.mesh.groupName(model.batchAxes) +
               "=" + std::to_string(parts));
  // The axes of the description's `sequence` line split the sequence of
  // the training and evaluation steps (sequence parallelism).
  const int64_t sequenceParts = model.sequenceParts();
  if (config.logits.empty() && !config.generate &&
      config.seq % sequenceParts != 0)
    usageError("--seq: the sequence length " + std::to_string(config.seq) +
               " is not divisible by " +
               model.mesh.groupName(model.sequenceAxes) + "=" +
               std::to_string(sequenceParts) +
               ", which splits it (the program was compiled with "
               "--sequence-parallel)");
  // Threads of oneDNN and of compiled loops: --threads, or the cores shared
  // among the ranks on this machine (Threads.h).
  setThreadCount(config.threads, comm::world());

  // --grad-accum K: a step reads K x B rows as one batch (so its order and
  // rows are those of --batch K*B) and runs K micro-batches of B rows.
  const int64_t accum = config.gradAccum;
  if (accum > 1 && (!fns.gradStep || !fns.applyStep))
    usageError("--grad-accum " + std::to_string(accum) +
               ": this program has no gradient accumulation entry points; "
               "compile the model with `lmc compile --grad-accum`");
  const int64_t b = config.batch, t = config.seq,
                tokensPerStep = accum * b * t;
  // A pipelined program (Pipeline.h) steps through grad_step and
  // apply_step only: grad_step runs the M micro-batches of its rows through
  // the stages and returns the sum of their mean losses.
  const bool pipelined = model.pipelined();
  const bool viaGradStep = accum > 1 || pipelined;
  const int64_t microbatches = pipelined ? model.pipeline.microbatches : 1;
  PipelineSync pipelineSync(model);
  // This rank's rows of each global batch.
  const int64_t localB = b / parts,
                firstRow = comm::groupRank(model.batchAxes) * localB;
  // The attention products (q k^T and p v, forward and backward) from the
  // description's `attention` line: L attentions of query width C.
  const int64_t layers = model.attentionLayers, channels = model.attentionWidth;
  double flopsPerStep = 6.0 * model.globalTotal * tokensPerStep;
  std::string flopsFormula = "6*N*tokens";
  if (layers > 0 && channels > 0) {
    flopsPerStep += 12.0 * layers * channels * t * tokensPerStep;
    flopsFormula = "6*N*tokens + 12*L*C*T*tokens (L=" + std::to_string(layers) +
                   ", C=" + std::to_string(channels) + ")";
  } else {
    flopsFormula += " (the model description has no attention line: "
                    "attention not counted)";
  }
  if (!config.generate) { // generate() prints what it uses
    std::string table = configTable(config, model);
    std::fputs(table.c_str(), stdout);
    std::printf("FLOPs/step = %s = %.3f GFLOP\n", flopsFormula.c_str(),
                flopsPerStep * 1e-9);
  }
  // MFU on the GPU: the model's FLOP/s over the dense bf16 peak of every
  // rank's GPU (PeakFlops.h).
  const bool gpu = device::active();
  const double peakTflops = gpu ? peakBf16Tflops(device::name()) : 0;
  if (gpu) {
    std::string peak = peakTflops > 0 ? "dense bf16 peak " +
                                            formatFloat(peakTflops) + " TFLOP/s"
                                      : "peak of this card unknown: MFU n/a";
    std::printf("device: %s (%s)\n", device::description().c_str(),
                peak.c_str());
  }
  // Temporaries of checkpoint writes that a kill interrupted.
  if (rank0 && !config.ckptDir.empty())
    if (int64_t n = removeStaleTemporaries(config.ckptDir))
      std::printf("note: removed %lld temporary file%s of interrupted "
                  "checkpoint writes from %s\n",
                  static_cast<long long>(n), n == 1 ? "" : "s",
                  config.ckptDir.c_str());
  // Generation: the tokenizer and prompt, before any work (Sampler.h).
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<int32_t> prompt;
  if (config.sample > 0 || config.generate) {
    tokenizer = findTokenizer(config, model);
    prompt = encodePrompt(config, model, tokenizer.get(), stdout);
  }

  // This rank's pieces of the parameters and moments.
  const MeshCoord coord = meshCoordOf(model, comm::rank());
  State state(model.total, model.stateTotal);
  if (config.generate) {
    generate(fns, model, config, state.paramArray(), coord,
             tokenizer.get(), prompt, rank0 ? stdout : nullptr);
    return 0;
  }
  Rng rng(config.seed);
  TrainState position;
  std::string resumeCheckpointPath;
  // Resume checks (Checkpoint.h): the fingerprint of --data, content hashes
  // included, recorded in every checkpoint and compared on --resume.
  std::string dataPrint;
  if (!config.data.empty() && !config.ckptDir.empty() &&
      config.logits.empty())
    dataPrint = dataFingerprint("--data", config.data, true);
  bool dataRestarted = false;
  if (config.resume) {
    // The newest complete checkpoint: a damaged newer one is skipped.
    // Rank 0 renames each damaged one to NAME.damaged, kept for inspection
    // and no longer counted by --keep-last.
    std::string path;
    for (const std::string &candidate : resumeCandidates(config.ckptDir)) {
      std::string damage = checkpointDamage(candidate);
      if (damage.empty()) {
        path = candidate;
        break;
      }
      std::fprintf(stderr, "warning: skipping a damaged checkpoint: %s\n",
                   damage.c_str());
      if (rank0 && ::access(candidate.c_str(), F_OK) == 0 &&
          std::rename(candidate.c_str(), (candidate + ".damaged").c_str()) ==
              0)
        std::fprintf(stderr, "warning: renamed it to %s.damaged\n",
                     candidate.c_str());
    }
    if (path.empty())
      fail(config.ckptDir + ": no complete checkpoint to resume from");
    position = readCheckpoint(path, model, config, state.hostParams(),
                              state.hostExpAvg(), state.hostExpAvgSq(), coord);
    // Local SGD: the same mesh, mode and outer configuration, or
    // --export-averaged (LocalSgd.h).
    std::string localMismatch = localResumeMismatch(
        readSafetensorsHeader(path).metadata, config, model, fns);
    if (!localMismatch.empty())
      fail("cannot resume from " + path + ": " + localMismatch);
    if (!position.dataFingerprint.empty() && !dataPrint.empty() &&
        position.dataFingerprint != dataPrint) {
      std::string change =
          describeDataChange(position.dataFingerprint, dataPrint);
      if (!config.allowDataChange)
        fail("cannot resume from " + path + ": --data " + config.data +
             " differs from the checkpoint's data: " + change +
             " (--allow-data-change to train on it)");
      // The position restarts at the first batch of the new shards' order.
      std::printf("note: --allow-data-change: %s; the data position "
                  "restarts at the first batch\n",
                  change.c_str());
      position.dataShard = position.dataOffset = 0;
      position.dataEpoch = position.dataShardPos = position.dataBatchPos = 0;
      dataRestarted = true;
    }
    rng.state = position.rng;
    std::printf("resumed from %s at step %lld\n", path.c_str(),
                static_cast<long long>(position.step));
    resumeCheckpointPath = path;
    // The cosine horizon: the checkpoint's unless --lr-decay-steps is given
    // (an init-only checkpoint, at step 0, has taken no step of it).
    if (config.lrSchedule == "cosine" && position.step > 0 &&
        position.lrDecaySteps > 0) {
      if (config.lrDecaySteps == 0) {
        config.lrDecaySteps = position.lrDecaySteps;
        std::printf("lr decay steps: %lld (the checkpoint's)\n",
                    static_cast<long long>(config.lrDecaySteps));
      } else if (config.lrDecaySteps != position.lrDecaySteps) {
        std::printf("note: --lr-decay-steps %lld replaces the checkpoint's "
                    "%lld from step %lld on\n",
                    static_cast<long long>(config.lrDecaySteps),
                    static_cast<long long>(position.lrDecaySteps),
                    static_cast<long long>(position.step + 1));
      }
    }
    // --keep-best goes on from the checkpoint's best, when its file is
    // still there; its marker is rewritten so that retention keeps it.
    if (!config.keepBest) {
      position.bestStep = -1;
    } else if (position.bestStep >= 0) {
      std::string best = checkpointPath(config.ckptDir, position.bestStep);
      if (::access(best.c_str(), F_OK) != 0) {
        std::printf("note: --keep-best: the best checkpoint so far, %s, is "
                    "gone; the best starts anew\n",
                    best.c_str());
        position.bestStep = -1;
      } else if (rank0) {
        writeMarker(config.ckptDir, "best",
                    best.substr(config.ckptDir.size() + 1));
      }
    }
  } else if (!config.initFrom.empty()) {
    std::string note =
        loadParameters(config.initFrom, model, state.hostParams(), coord);
    checkFiniteParameters(model, state.hostParams(),
                          "--init-from " + config.initFrom);
    if (!note.empty())
      std::printf("note: %s\n", note.c_str());
    std::printf("parameters from %s\n", config.initFrom.c_str());
  } else {
    initParams(model, state.hostParams(), rng, coord);
  }
  // The host wrote the initial state; compiled code reads it from here on.
  state.toDevice();
  position.rng = rng.state;
  position.dataFingerprint = dataPrint;
  // Local SGD's outer state: fresh, or this replica's from the checkpoint.
  std::unique_ptr<LocalSgd> localSgd;
  if (local) {
    localSgd = std::make_unique<LocalSgd>(config, model, fns, state.params,
                                          State::data(state.expAvg),
                                          State::data(state.expAvgSq));
    if (config.resume)
      localSgd->resume(resumeCheckpointPath, coord, position.step);
    else
      localSgd->begin(position.step, config.seed);
  }
  // Collective: a checkpoint of the current state; under local SGD its
  // parameters and moments are the averaged model's, with the outer state
  // and every replica's beside them.
  auto saveState = [&](std::vector<std::string> *deleted) {
    if (!localSgd)
      return saveCheckpoint(config.ckptDir, model, config, position,
                            state.hostParams(), state.hostExpAvg(),
                            state.hostExpAvgSq(), deleted);
    std::vector<std::vector<float>> storage;
    std::vector<float> avgParams, avgExpAvg, avgExpAvgSq;
    CheckpointExtras extras = localSgd->checkpointExtras(
        coord, storage, avgParams, avgExpAvg, avgExpAvgSq);
    return saveCheckpoint(config.ckptDir, model, config, position,
                          avgParams.data(), avgExpAvg.data(),
                          avgExpAvgSq.data(), deleted, &extras);
  };

  if (!config.logits.empty()) {
    // Instead of training: the logits of one batch (every rank computes).
    TokenBatch batch = logitsBatch(config, model);
    double loss = dumpLogits(fns, model, state.params.aligned, batch,
                             config.logits, rank0);
    std::printf("wrote %s: tokens [%lld, %lld], logits [%lld, %lld, %lld]; "
                "next-token loss %.6f\n",
                config.logits.c_str(), static_cast<long long>(batch.batch),
                static_cast<long long>(batch.seq),
                static_cast<long long>(batch.batch),
                static_cast<long long>(batch.seq),
                static_cast<long long>(model.vocab), loss);
    return 0;
  }

  if (config.initOnly) {
    std::string path = saveState(nullptr);
    std::printf("wrote %s\n", path.c_str());
    return 0;
  }

  // Training data in --data-order (the shuffled order's seed is --seed, or
  // the checkpoint's on resume); validation always sequential from the start.
  std::unique_ptr<DataLoader> trainData, valData;
  const bool shuffled = config.dataOrder == "shuffled";
  if (!config.resume)
    position.dataSeed = config.seed;
  if (!config.data.empty()) {
    trainData = std::make_unique<DataLoader>(
        "--data", config.data, model.vocab, accum * b, t,
        shuffled ? DataOrder::Shuffled : DataOrder::Sequential,
        position.dataSeed);
    if (!shuffled) {
      trainData->seek(position.dataShard, position.dataOffset);
    } else if (config.resume) {
      trainData->seekShuffled(ShufflePosition{
          position.dataEpoch, position.dataShardPos, position.dataBatchPos});
      // (An --init-only checkpoint, at step 0, read no data.)
      if (position.step > 0 && !dataRestarted &&
          (trainData->shardIndex() != position.dataShard ||
           trainData->tokenOffset() != position.dataOffset))
        fail("--data " + config.data +
             ": the shards differ from the checkpoint's (its next batch is "
             "at shard " + std::to_string(position.dataShard) + ", token " +
             std::to_string(position.dataOffset) + "; the shuffled order "
             "over these shards puts it at shard " +
             std::to_string(trainData->shardIndex()) + ", token " +
             std::to_string(trainData->tokenOffset()) + ")");
    }
  }
  int64_t valBatches = 0;
  if (!config.val.empty()) {
    valData =
        std::make_unique<DataLoader>("--val", config.val, model.vocab, b, t);
    const int64_t epoch = valData->batchesPerEpoch();
    valBatches = config.valBatches > 0 ? config.valBatches
                                       : std::min<int64_t>(20, epoch);
    if (valBatches > epoch) {
      std::printf("note: --val-batches %lld: --val holds %lld batches of "
                  "%lldx%lld tokens; evaluating on those %lld\n",
                  static_cast<long long>(valBatches),
                  static_cast<long long>(epoch), static_cast<long long>(b),
                  static_cast<long long>(t), static_cast<long long>(epoch));
      valBatches = epoch;
    }
  }
  JsonlLog log;
  if (!config.log.empty() && rank0) {
    if (!config.resume) {
      log.open(config.log);
    } else {
      // Lines of steps after the checkpoint (logged by a run that stopped
      // before its next checkpoint) are dropped: no step is logged twice.
      std::string name =
          resumeCheckpointPath.substr(resumeCheckpointPath.rfind('/') + 1);
      if (int64_t dropped = log.resume(config.log, position.step, name))
        std::printf("note: --log %s: dropped %lld line%s of steps after %lld "
                    "(logged after the last checkpoint)\n",
                    config.log.c_str(), static_cast<long long>(dropped),
                    dropped == 1 ? "" : "s",
                    static_cast<long long>(position.step));
    }
  }
  std::fflush(stdout);

  Batch tokens(tokensPerStep), targets(tokensPerStep);
  // The accumulated gradients (moment layout), with --grad-accum K > 1 or
  // a pipelined program.
  float *gradAcc = nullptr;
  struct Release {
    float *&p;
    ~Release() {
      if (p)
        device::release(p);
    }
  } releaseGradAcc{gradAcc};
  lmcrt_memref_f32_1d gradAccRef{};
  if (viaGradStep) {
    gradAcc = static_cast<float *>(
        device::allocate(sizeof(float) * model.stateTotal)); // device only
    gradAccRef = {gradAcc, gradAcc, 0, {model.stateTotal}, {1}};
  }
  const bool tty = ::isatty(STDOUT_FILENO);
  const int64_t decay = decaySteps(config);
  const int64_t firstStep = position.step;
  double trainSeconds = 0;
  // Pipelined: every rank of a pipeline group takes its parameters and
  // moments from their home stages before anything but the step reads them
  // (evaluation, checkpoints, samples); the host's copies are the ones
  // broadcast (Pipeline.h).
  auto makeConsistent = [&] {
    if (!pipelineSync.needed())
      return;
    state.toHost();
    pipelineSync.sync(state.hostParams(), state.hostExpAvg(),
                      state.hostExpAvgSq());
    state.toDevice();
  };
  auto doEval = [&](int64_t step) -> double {
    makeConsistent();
    // Local SGD: the averaged model.
    lmcrt_memref_f32_1d &evalParams =
        localSgd ? localSgd->averagedParams() : state.params;
    double loss = evaluate(fns, *valData, valBatches, evalParams, tokens,
                           targets, b, t, firstRow, localB);
    std::printf("step %lld/%lld | val loss %.4f (%lld batches)\n",
                static_cast<long long>(step),
                static_cast<long long>(config.steps), loss,
                static_cast<long long>(valBatches));
    log.eval(step, loss);
    return loss;
  };
  // The step of the last checkpoint written or resumed from (-1: none).
  int64_t checkpointStep = config.resume ? firstStep : -1;
  auto doCheckpoint = [&](double valLoss) {
    checkpointStep = position.step;
    // With --keep-best, the best (lowest val loss) of the checkpoint steps.
    position.valLoss = valLoss;
    if (config.keepBest && std::isfinite(valLoss) &&
        (position.bestStep < 0 || valLoss < position.bestValLoss)) {
      position.bestStep = position.step;
      position.bestValLoss = valLoss;
    }
    // Collective: rank 0 writes the pieces of every rank, then deletes what
    // --keep-last lets go.
    std::vector<std::string> deleted;
    makeConsistent();
    // The device's state to the host, which scans and writes it.
    state.toHost();
    // What the compiled flag cannot have seen (a value changed on the host
    // after the step) never reaches a file either: one scan per save.
    std::string bad = firstNonFinite(model, state.hostParams(),
                                     state.hostExpAvg(), state.hostExpAvgSq());
    if (!bad.empty())
      fail("non-finite values at step " + std::to_string(position.step) +
           ": " + bad + "; not saved (" + config.ckptDir +
           "/latest is unchanged)");
    std::string path = saveState(&deleted);
    std::string note;
    if (config.keepBest && position.bestStep == position.step)
      note += " (best: val loss " + formatFloat(valLoss) + ")";
    for (size_t i = 0; i < deleted.size(); ++i)
      note += (i ? ", " : "; deleted ") + deleted[i];
    std::printf("checkpoint %s%s\n", path.c_str(), note.c_str());
  };

  // Numerics (Numerics.h): the loss-spike guard, its state carried by the
  // checkpoints.
  SpikeGuard spikeGuard(config.spikeZscore, config.spikeWindow,
                        config.spikeMaxSkips);
  if (spikeGuard.enabled() && gpu)
    usageError("--spike-zscore: not supported by GPU programs yet (their "
               "step applies every update)");
  if (spikeGuard.enabled() && !position.spikeGuard.empty())
    spikeGuard.load(position.spikeGuard, resumeCheckpointPath);

  // Graceful stop (Stop.h): from here on SIGTERM and SIGINT are polled at
  // each step boundary, agreed on by every rank.
  stop::install();
  int stopSignal = 0;
  for (int64_t step = firstStep; step < config.steps; ++step) {
    if ((stopSignal = stop::agree()) != 0)
      break;
    comm::setStep(step + 1); // named by the collective timeout's message
    auto start = std::chrono::steady_clock::now();
    fault::maybe("crash", step + 1);
    fault::maybe("hang", step + 1);
    trainData->next(tokens.host(), targets.host());
    // Local SGD, --data-partition random: this replica's rows of each
    // micro-batch, gathered to the front of it (LocalSgd.h).
    if (localSgd && !localSgd->contiguousRows())
      for (int64_t k = 0; k < accum; ++k)
        for (int32_t *buffer : {tokens.host(), targets.host()}) {
          int32_t *micro = buffer + k * b * t;
          std::vector<int32_t> copy(micro, micro + b * t);
          std::vector<int64_t> rows = localSgd->rows(step, k, b);
          for (int64_t j = 0; j < localB; ++j)
            std::memcpy(micro + (firstRow + j) * t, copy.data() + rows[j] * t,
                        sizeof(int32_t) * t);
        }
    tokens.toDevice();
    targets.toDevice();
    lmcrt_train_step_result r{};
    const float maxLoss = spikeGuard.maxLoss();
    // A device may record the step and replay it (a GPU captures it as
    // one CUDA graph): only one call of the compiled train step on one
    // rank. It asks for the step again when nothing of it ran.
    const bool capturable = !viaGradStep && !pipelined && comm::world() == 1;
    bool again = false;
    do {
      step_memory::begin();
      device::beginStep(capturable);
      if (!viaGradStep) {
        lmcrt_memref_i32_2d in =
            batchRows(tokens.device(), firstRow, localB, t);
        lmcrt_memref_i32_2d out =
            batchRows(targets.device(), firstRow, localB, t);
        fns.trainStep(&r, &state.params, &state.expAvg, &state.expAvgSq, step,
                      config.lr, config.minLr, config.warmup, decay,
                      config.beta1, config.beta2, config.eps,
                      config.weightDecay, config.gradClip, &in, &out, maxLoss);
      } else {
        // Micro-batch k is rows [k B, (k+1) B) of the step's batch; this rank
        // takes its rows of each. A pipelined grad_step cuts them into M
        // micro-batches of its own and returns the sum of their losses: the
        // mean is over K*M, and so is the gradient (grad_scale).
        device::zero(gradAcc, sizeof(float) * model.stateTotal);
        double lossSum = 0;
        for (int64_t k = 0; k < accum; ++k) {
          lmcrt_memref_i32_2d in =
              batchRows(tokens.device(), k * b + firstRow, localB, t);
          lmcrt_memref_i32_2d out =
              batchRows(targets.device(), k * b + firstRow, localB, t);
          lossSum += fns.gradStep(&state.params, &gradAccRef, &in, &out);
        }
        const int64_t terms = accum * microbatches;
        r.loss = static_cast<float>(lossSum / static_cast<double>(terms));
        // The spike guard decides before the update: a skipped step does not
        // call apply_step (its norm and lr are then not computed: NaN).
        if (!(r.loss > maxLoss)) {
          lmcrt_apply_step_result a{};
          fns.applyStep(&a, &state.params, &state.expAvg, &state.expAvgSq,
                        &gradAccRef, 1.0f / static_cast<float>(terms), step,
                        config.lr, config.minLr, config.warmup, decay,
                        config.beta1, config.beta2, config.eps,
                        config.weightDecay, config.gradClip);
          r.grad_norm = a.grad_norm;
          r.lr = a.lr;
          r.nonfinite = a.nonfinite;
        } else {
          r.grad_norm = r.lr = NAN;
        }
      }
      if (pipelined) {
        // The sends of the step complete (on a GPU: are queued) before the
        // step ends; the stages' copies of the state now differ.
        flushPipelineSends();
        pipelineSync.stepTaken();
      }
      device::synchronize();
      again = device::endStep();
      step_memory::end();
    } while (again);
    if (fault::maybe("nan", step + 1)) {
      const float nan = NAN; // the device's first parameter
      device::copyToDevice(state.params.aligned, &nan, sizeof(nan));
    }
    if (fault::maybe("nan-loss", step + 1))
      r.loss = NAN;
    fault::maybe("sigterm", step + 1);
    fault::maybe("sigint", step + 1);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    trainSeconds += seconds;
    position.step = step + 1;
    position.dataShard = trainData->shardIndex();
    position.dataOffset = trainData->tokenOffset();
    if (shuffled) {
      ShufflePosition p = trainData->shufflePosition();
      position.dataEpoch = p.epoch;
      position.dataShardPos = p.shard;
      position.dataBatchPos = p.batch;
    }
    position.rng = rng.state;
    // Non-finite state stops the run before anything is logged or saved;
    // the tensor is found by one scan of this rank's pieces, only now.
    if (r.nonfinite != 0.0f) {
      state.toHost();
      std::string bad = firstNonFinite(model, state.hostParams(),
                                       state.hostExpAvg(), state.hostExpAvgSq());
      fail("non-finite values after the update of step " +
           std::to_string(step + 1) + ": " +
           (bad.empty() ? std::string("a sum of the parameters or moments "
                                      "overflowed")
                        : bad) +
           "; nothing of this state was saved" +
           (config.ckptDir.empty() ? "" : " (" + config.ckptDir +
                                              "/latest is unchanged)"));
    }
    const bool skipped = spikeGuard.record(r.loss, maxLoss, step + 1);
    if (spikeGuard.enabled())
      position.spikeGuard = spikeGuard.save();

    double ms = seconds * 1e3, tokS = tokensPerStep / seconds;
    std::printf("step %lld/%lld | loss %.4f | norm %.4f | lr %.2e | %.1f ms "
                "| %.0f tok/s | %.2f GFLOP/s",
                static_cast<long long>(step + 1),
                static_cast<long long>(config.steps), r.loss, r.grad_norm, r.lr,
                ms, tokS, flopsPerStep / seconds * 1e-9);
    std::optional<double> mfu;
    if (gpu) {
      const double flopS = flopsPerStep / seconds;
      mfu = peakTflops > 0 ? 100.0 * flopS / (peakTflops * 1e12 * comm::world())
                           : NAN;
      std::printf(" | MFU %s",
                  mfuText(flopS, peakTflops, comm::world()).c_str());
    }
    if (tty) {
      double perStep = trainSeconds / static_cast<double>(step + 1 - firstStep);
      std::printf(" | %3.0f%% ETA %s",
                  100.0 * (step + 1) / static_cast<double>(config.steps),
                  duration(perStep * (config.steps - step - 1)).c_str());
    }
    if (spikeGuard.enabled() && spikeGuard.totalSkips() > 0)
      std::printf(" | %sskips %lld", skipped ? "SKIPPED (loss spike) | " : "",
                  static_cast<long long>(spikeGuard.totalSkips()));
    std::printf("\n");
    std::fflush(stdout);
    std::optional<std::pair<bool, int64_t>> spike;
    if (spikeGuard.enabled())
      spike = std::make_pair(skipped, spikeGuard.totalSkips());
    log.step(step + 1, r.loss, r.grad_norm, r.lr, ms, tokS,
             (step + 1) * tokensPerStep, mfu, spike);
    if (!std::isfinite(r.loss))
      fail("the training loss is not finite at step " +
           std::to_string(step + 1));
    // Local SGD: the end of a round averages the replicas (LocalSgd.h).
    if (localSgd)
      if (std::optional<LocalSgd::Sync> sync = localSgd->afterStep(step + 1)) {
        std::printf("step %lld/%lld | sync: round %lld averaged over %s=%lld",
                    static_cast<long long>(step + 1),
                    static_cast<long long>(config.steps),
                    static_cast<long long>(sync->round),
                    model.mesh.groupName(model.batchAxes).c_str(),
                    static_cast<long long>(parts));
        if (config.asyncSync)
          std::printf(" (started; %s)",
                      sync->applied ? ("round " +
                                       std::to_string(sync->applied) +
                                       "'s mean applied").c_str()
                                    : "nothing to apply yet");
        std::printf(" | outer %s | mean change rms %.3e\n",
                    config.outerOptimizer.c_str(), sync->deltaRms);
        std::fflush(stdout);
        log.sync(step + 1, sync->round, sync->applied, config.outerOptimizer,
                 config.asyncSync, sync->deltaRms);
      }

    // Evaluations every --eval-every steps and at the end; checkpoints
    // every --ckpt-every steps and at the end, each evaluated first with
    // --keep-best.
    const bool last = step + 1 == config.steps;
    const bool checkpointNow =
        !config.ckptDir.empty() &&
        (last || (config.ckptEvery > 0 && (step + 1) % config.ckptEvery == 0));
    const bool evalNow =
        valData &&
        (last || (config.evalEvery > 0 && (step + 1) % config.evalEvery == 0) ||
         (checkpointNow && config.keepBest));
    double valLoss = NAN;
    if (evalNow)
      valLoss = doEval(step + 1);
    if (checkpointNow)
      doCheckpoint(valLoss);
  }
  // The end of the run: one state on every rank of a pipeline group.
  makeConsistent();
  if (pipelined)
    flushPipelineSends();
  if (!stopSignal) // a signal during the last step or its checkpoint
    stopSignal = stop::agree();
  if (localSgd) // no averaging left in flight (kept as the pending mean)
    localSgd->drain();
  if (stopSignal) {
    // Stopped at the boundary after step position.step: its checkpoint
    // (unless just written, or no step was taken), the log line, the exit.
    if (!config.ckptDir.empty() && checkpointStep != position.step &&
        position.step > firstStep)
      doCheckpoint(NAN);
    std::string name;
    if (!config.ckptDir.empty() && checkpointStep == position.step) {
      name = checkpointPath(config.ckptDir, position.step);
      name = name.substr(name.rfind('/') + 1);
    }
    log.stopped(position.step, stop::signalName(stopSignal), name);
    std::printf("stopped by %s at step %lld%s\n",
                stop::signalName(stopSignal),
                static_cast<long long>(position.step),
                name.empty() ? " (no checkpoint written)"
                             : (" (checkpoint " + name + ")").c_str());
    std::fflush(stdout);
    // No rank exits before rank 0 has logged (mpirun may end the others as
    // soon as one exits with SIGINT's 130).
    stop::agree();
    return stop::exitStatus(stopSignal);
  }
  if (firstStep < config.steps) {
    std::printf("trained %lld steps in %.1f s\n",
                static_cast<long long>(config.steps - firstStep), trainSeconds);
  } else {
    std::printf("nothing to train: the checkpoint is at step %lld of %lld\n",
                static_cast<long long>(position.step),
                static_cast<long long>(config.steps));
  }
  if (config.sample > 0) {
    // On every rank: the logits function of a partitioned program runs
    // collectives. Rank 0's tokens are the ones every rank continues with.
    std::printf("sample (%lld tokens):\n",
                static_cast<long long>(config.sample));
    std::fflush(stdout);
    // Local SGD: the averaged model.
    sample(fns, model,
           localSgd ? State::data(localSgd->averagedParams())
                    : State::data(state.params),
           sampleOptions(config, config.sample, prompt), rng, tokenizer.get(),
           rank0 ? stdout : nullptr);
  }
  return 0;
}

} // namespace

int runTrainer(int argc, char **argv, const ModelFunctions &fns) {
  std::string program = argc > 0 && argv[0] ? argv[0] : "train";
  size_t slash = program.rfind('/');
  if (slash != std::string::npos)
    program = program.substr(slash + 1);
  // Under mpirun an error on any rank ends the whole job (MPI_Abort), so
  // that no rank waits forever in a collective for one that has left.
  auto fatalExit = [&](const std::string &message, int code) {
    std::fflush(stdout);
    if (comm::world() > 1)
      std::fprintf(stderr, "%s: rank %d: error: %s\n", program.c_str(),
                   comm::rank(), message.c_str());
    else
      std::fprintf(stderr, "%s: error: %s\n", program.c_str(), message.c_str());
    if (comm::world() > 1)
      comm::abortAll(code);
    comm::finalize();
    return code;
  };
  try {
    int status = train(argc, argv, fns, program);
    std::fflush(stdout);
    comm::finalize();
    return status;
  } catch (const NoGpuError &e) {
    // One line, the same on every rank, whatever the program's name.
    std::fflush(stdout);
    std::fprintf(stderr, "lmc: no GPU found: %s\n", e.what());
    if (comm::world() > 1)
      comm::abortAll(e.exitCode);
    comm::finalize();
    return e.exitCode;
  } catch (const RuntimeError &e) {
    return fatalExit(e.what(), e.exitCode);
  } catch (const std::bad_alloc &) {
    return fatalExit("out of memory", kFailureExit);
  }
}

} // namespace lmcrt
