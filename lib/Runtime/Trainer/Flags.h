//===- Flags.h - The trainer's command line ---------------------*- C++ -*-===//
//
// `--flag value` and `--flag=value`. Any error (unknown flag, missing value,
// bad number, value out of range) is a RuntimeError with exit code 2 whose
// one-line message names the flag.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_FLAGS_H
#define LMC_LIB_RUNTIME_FLAGS_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lmcrt {

struct ModelInfo;

struct Config {
  std::string data;    // --data: a shard or a glob (required to train)
  std::string val;     // --val: validation shard(s); empty: no eval
  int64_t steps = 100; // --steps: total optimizer steps
  int64_t batch = 4;   // --batch B
  int64_t seq = 0;     // --seq T; 0: min(64, context)
  float lr = 3e-4f;    // --lr: peak learning rate
  std::string lrSchedule = "constant"; // --lr-schedule constant|cosine
  int64_t warmup = 0;                  // --warmup: linear warm-up steps
  float minLr = 0.0f;       // --min-lr: final learning rate of cosine
  float beta1 = 0.9f;       // --beta1
  float beta2 = 0.95f;      // --beta2
  float eps = 1e-8f;        // --eps
  float weightDecay = 0.0f; // --weight-decay (on parameters with DECAY 1)
  float gradClip = 1.0f;    // --grad-clip: max global norm; 0 disables
  uint64_t seed = 1337;     // --seed: initialisation and sampling RNG
  std::string initFrom;     // --init-from FILE.safetensors (parameters only)
  bool initOnly = false;    // --init-only: write the initial checkpoint, exit
  std::string ckptDir;      // --ckpt-dir: where checkpoints go
  int64_t ckptEvery = 0;    // --ckpt-every K: also every K steps (0: at end)
  bool resume = false;      // --resume: from the latest checkpoint in ckpt-dir
  // Checkpoint retention and the schedule's horizon (Retention.h).
  int64_t keepLast = 0;     // --keep-last K: K newest step checkpoints (0: all)
  bool keepBest = false;    // --keep-best: also the lowest val loss one
  int64_t lrDecaySteps = 0; // --lr-decay-steps: cosine horizon (0: --steps,
                            // or the checkpoint's when resuming)
  int64_t evalEvery = 0;    // --eval-every K (0: only at the end)
  std::string log;          // --log FILE.jsonl
  int64_t sample = 0;       // --sample N: tokens generated after training
  int64_t threads = 0;      // --threads N (0: all cores)
  // Generation (Sampler.h, Tokenizer.h).
  std::string tokenizer;    // --tokenizer FILE: decode table (tokenizer.bin)
  std::string prompt;       // --prompt TEXT: what samples continue
  float temperature = 1.0f; // --temperature X (0: greedy)
  int64_t topK = 0;         // --top-k K (0: the whole vocabulary)
  bool generate = false;    // --generate: sample from loaded parameters only
  int64_t tokens = 0;       // --tokens N: tokens --generate produces
  // Logits of a batch instead of training (LogitsDump.h).
  std::string logits;       // --logits OUT.safetensors
  std::string logitsTokens; // --logits-tokens FILE.safetensors ('tokens')
  bool help = false;        // --help
  bool version = false;     // --version: lmc's version line (lmc/Version.h)
  // Data order and validation (DataLoader.h).
  std::string dataOrder = "shuffled"; // --data-order shuffled|sequential
  int64_t valBatches = 0; // --val-batches N (0: min(20, one epoch of --val))
  // Gradient accumulation: a step is K micro-batches of --batch rows.
  int64_t gradAccum = 1; // --grad-accum K
  // Resume checks (Checkpoint.h).
  bool allowDataChange = false; // --allow-data-change: resume on new data
  // Loss-spike guard (Numerics.h): off while spikeZscore is 0.
  float spikeZscore = 0.0f;  // --spike-zscore Z
  int64_t spikeWindow = 128; // --spike-window N: losses of applied steps
  int64_t spikeMaxSkips = 10; // --spike-max-skips K: consecutive skips
  // Local SGD (LocalSgd.h): programs compiled with --dp-sync local. The
  // sentinels (0, "", -1) mean "not given"; validateLocalSgd fills defaults.
  int64_t syncEvery = 0;       // --sync-every H: local steps per round
  std::string outerOptimizer;  // --outer-optimizer avg|nesterov
  float outerLr = -1.0f;       // --outer-lr (nesterov; default 0.7)
  float outerMomentum = -1.0f; // --outer-momentum (nesterov; default 0.9)
  bool asyncSync = false;      // --async-sync: one-round-delayed averaging
  std::string dataPartition;   // --data-partition uniform|random
  bool exportAveraged = false; // --export-averaged: resume from the average
};

/// Parses argv[1..argc); throws RuntimeError(2) on errors.
Config parseFlags(int argc, char **argv);

/// Checks the flags against each other and the model and fills defaults
/// that depend on the model (--seq); throws RuntimeError(2).
void validateConfig(Config &config, const ModelInfo &model);

/// The --help text.
std::string usage(const std::string &program);

/// The flags a resumed run must share with the checkpoint, as
/// (flag, value) pairs in a fixed order.
std::vector<std::pair<std::string, std::string>>
mustMatchFlags(const Config &config);

/// Cosine decay horizon passed to train_step (0 for a constant schedule):
/// --lr-decay-steps, else --steps.
int64_t decaySteps(const Config &config);

/// The configuration table printed at start.
std::string configTable(const Config &config, const ModelInfo &model);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_FLAGS_H
