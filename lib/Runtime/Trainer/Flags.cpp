//===- Flags.cpp - The trainer's command line -----------------------------===//

#include "Trainer/Flags.h"

#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Trainer/Pipeline.h"
#include "Trainer/Threads.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <omp.h>

namespace lmcrt {

namespace {

enum class Kind { Int, UInt, Float, String, Bool };

struct FlagSpec {
  const char *name;
  Kind kind;
  void *field;
  double min; // inclusive lower bound of numbers
  const char *help;
};

std::vector<FlagSpec> specs(Config &c) {
  return {
      {"data", Kind::String, &c.data, 0,
       "training shard or glob (llm.c format)"},
      {"val", Kind::String, &c.val, 0, "validation shard or glob"},
      {"steps", Kind::Int, &c.steps, 0, "optimizer steps (default 100)"},
      {"batch", Kind::Int, &c.batch, 1,
       "batch size B (default 4); a pipelined program (lmc compile "
       "--microbatches M) cuts each replica's rows into M micro-batches, so "
       "they must divide by M"},
      {"seq", Kind::Int, &c.seq, 1,
       "sequence length T <= context (default min(64, context); 64 for "
       "a model without a fixed context; a multiple of tp for a program "
       "compiled with --sequence-parallel)"},
      {"lr", Kind::Float, &c.lr, 0, "peak learning rate (default 3e-4)"},
      {"lr-schedule", Kind::String, &c.lrSchedule, 0,
       "constant|cosine (default constant)"},
      {"warmup", Kind::Int, &c.warmup, 0, "linear warm-up steps (default 0)"},
      {"min-lr", Kind::Float, &c.minLr, 0,
       "final learning rate of cosine (default 0)"},
      {"beta1", Kind::Float, &c.beta1, 0, "AdamW beta1 (default 0.9)"},
      {"beta2", Kind::Float, &c.beta2, 0, "AdamW beta2 (default 0.95)"},
      {"eps", Kind::Float, &c.eps, 0, "AdamW epsilon (default 1e-8)"},
      {"weight-decay", Kind::Float, &c.weightDecay, 0,
       "AdamW weight decay (default 0)"},
      {"grad-clip", Kind::Float, &c.gradClip, 0,
       "max gradient norm, 0 disables (default 1)"},
      {"seed", Kind::UInt, &c.seed, 0,
       "RNG seed of init and sampling (default 1337)"},
      {"init-from", Kind::String, &c.initFrom, 0,
       "initial parameters (safetensors; lmc's or save_pretrained's)"},
      {"init-only", Kind::Bool, &c.initOnly, 0,
       "write the initial checkpoint and exit"},
      {"ckpt-dir", Kind::String, &c.ckptDir, 0, "checkpoint directory"},
      {"ckpt-every", Kind::Int, &c.ckptEvery, 0,
       "checkpoint every K steps (0: at the end only)"},
      {"resume", Kind::Bool, &c.resume, 0,
       "resume from the latest checkpoint in --ckpt-dir (--steps may be "
       "larger than the run's; the flags that define the steps already "
       "taken must match: data, batch, seq, lr, lr-schedule, warmup, "
       "min-lr (cosine), beta1, beta2, eps, weight-decay, grad-clip; and "
       "the model description and the --data shards' contents; a damaged "
       "newest checkpoint is skipped for the newest complete one)"},
      {"keep-last", Kind::Int, &c.keepLast, 0,
       "keep the K newest step checkpoints, deleting older ones after each "
       "save (0: keep all; default 0); the ones `latest` and `best` name "
       "are never deleted"},
      {"keep-best", Kind::Bool, &c.keepBest, 0,
       "also keep the checkpoint of the lowest val loss (evaluated at every "
       "checkpoint step; needs --val), named by DIR/best"},
      {"lr-decay-steps", Kind::Int, &c.lrDecaySteps, 1,
       "cosine horizon: the lr reaches --min-lr at this step and stays there "
       "(default --steps; on --resume the checkpoint's, unless given)"},
      {"eval-every", Kind::Int, &c.evalEvery, 0,
       "evaluate on --val every K steps (0: at the end)"},
      {"log", Kind::String, &c.log, 0, "JSONL log file"},
      {"sample", Kind::Int, &c.sample, 0, "generate N tokens after training"},
      {"threads", Kind::Int, &c.threads, 0,
       "threads (0: all cores, divided among the ranks of a machine; at "
       "most 4x the cores); "
       "they wait with a bounded spin, GOMP_SPINCOUNT=1000, unless "
       "OMP_WAIT_POLICY or GOMP_SPINCOUNT is set"},
      {"tokenizer", Kind::String, &c.tokenizer, 0,
       "decode table for samples and prompts (default: tokenizer.bin beside "
       "the first --data shard; none needed for 256 bytes)"},
      {"prompt", Kind::String, &c.prompt, 0,
       "text that samples continue (default: a newline)"},
      {"temperature", Kind::Float, &c.temperature, 0,
       "sampling temperature, 0 = greedy (default 1)"},
      {"top-k", Kind::Int, &c.topK, 0,
       "sample among the K likeliest tokens, 0 = all (default 0)"},
      {"generate", Kind::Bool, &c.generate, 0,
       "sample --tokens N from --init-from FILE or the latest checkpoint in "
       "--ckpt-dir, without training"},
      {"tokens", Kind::Int, &c.tokens, 1, "tokens --generate produces"},
      {"logits", Kind::String, &c.logits, 0,
       "write a batch's logits [B,T,V] to S (safetensors), no training"},
      {"logits-tokens", Kind::String, &c.logitsTokens, 0,
       "--logits' batch: tensor 'tokens' [B,T] of S (default: --data)"},
      {"help", Kind::Bool, &c.help, 0, "print this help"},
      {"version", Kind::Bool, &c.version, 0,
       "print the version of lmc that built this trainer's runtime"},
      // Data order and validation.
      {"data-order", Kind::String, &c.dataOrder, 0,
       "shuffled|sequential (default shuffled: each epoch visits the shards "
       "and the batches in each in a new order seeded by --seed; validation "
       "is always sequential)"},
      {"val-batches", Kind::Int, &c.valBatches, 0,
       "batches per evaluation (default min(20, one epoch of --val); more "
       "than one epoch is clamped to one, with a note)"},
      // Gradient accumulation.
      {"grad-accum", Kind::Int, &c.gradAccum, 1,
       "micro-batches per optimizer step (default 1): a step's batch is K x "
       "--batch rows, read as one batch of K*B rows, with the gradients of "
       "the K micro-batches of --batch rows averaged; the loss printed is "
       "their mean (needs a program compiled with lmc compile --grad-accum, "
       "or a pipelined one: --microbatches M, whose steps then average K*M "
       "micro-batches)"},
      // Resume checks (Checkpoint.h).
      {"allow-data-change", Kind::Bool, &c.allowDataChange, 0,
       "with --resume: accept --data shards that differ from the "
       "checkpoint's (added, removed or changed); the data position then "
       "restarts at the first batch of the new shards' order"},
      // Loss-spike guard (Numerics.h).
      {"spike-zscore", Kind::Float, &c.spikeZscore, 0,
       "skip the update of a step whose loss is more than Z standard "
       "deviations above the mean of the last --spike-window applied steps "
       "(0: off, the default)"},
      {"spike-window", Kind::Int, &c.spikeWindow, 2,
       "losses the spike guard's mean and deviation cover; it acts once "
       "that many steps were applied (default 128)"},
      {"spike-max-skips", Kind::Int, &c.spikeMaxSkips, 1,
       "stop with an error after K consecutive skipped steps (default 10)"},
      // Local SGD (LocalSgd.h).
      {"sync-every", Kind::Int, &c.syncEvery, 1,
       "local steps per round of a program compiled with --dp-sync local "
       "(required there): each replica takes H AdamW steps on its rows, "
       "then the replicas average their parameter change"},
      {"outer-optimizer", Kind::String, &c.outerOptimizer, 0,
       "avg|nesterov (default avg): how the mean parameter change of a round "
       "is applied (avg: parameter averaging; nesterov: SGD with Nesterov "
       "momentum, as DiLoCo)"},
      {"outer-lr", Kind::Float, &c.outerLr, 0,
       "learning rate of --outer-optimizer nesterov (default 0.7)"},
      {"outer-momentum", Kind::Float, &c.outerMomentum, 0,
       "momentum of --outer-optimizer nesterov (default 0.9)"},
      {"async-sync", Kind::Bool, &c.asyncSync, 0,
       "start a round's averaging without waiting and apply it at the end of "
       "the next round (overlapped; exact, docs/Runtime.md)"},
      {"data-partition", Kind::String, &c.dataPartition, 0,
       "uniform|random (default uniform): which rows of each batch a local "
       "replica trains on (contiguous, or a permutation seeded by --seed)"},
      {"export-averaged", Kind::Bool, &c.exportAveraged, 0,
       "with --resume: start from the checkpoint's averaged model and "
       "moments with fresh outer state, under another mesh or --dp-sync "
       "mode or outer configuration"},
  };
}

void setValue(const FlagSpec &spec, const std::string &value) {
  std::string flag = std::string("--") + spec.name;
  auto bad = [&](const std::string &expected) {
    usageError(flag + ": expected " + expected + ", got '" + value + "'");
  };
  const char *text = value.c_str();
  char *end = nullptr;
  errno = 0;
  switch (spec.kind) {
  case Kind::String:
    if (value.empty())
      usageError(flag + ": empty value");
    *static_cast<std::string *>(spec.field) = value;
    return;
  case Kind::Int: {
    long long v = std::strtoll(text, &end, 10);
    if (value.empty() || *end != '\0' || errno != 0 || v < spec.min)
      bad("an integer >= " + std::to_string(static_cast<long long>(spec.min)));
    *static_cast<int64_t *>(spec.field) = v;
    return;
  }
  case Kind::UInt: {
    unsigned long long v = std::strtoull(text, &end, 0);
    if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0)
      bad("an unsigned 64-bit integer");
    *static_cast<uint64_t *>(spec.field) = v;
    return;
  }
  case Kind::Float: {
    float v = std::strtof(text, &end);
    if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) ||
        v < spec.min)
      bad("a finite number >= 0");
    *static_cast<float *>(spec.field) = v;
    return;
  }
  case Kind::Bool:
    *static_cast<bool *>(spec.field) = true;
    return;
  }
}

} // namespace

Config parseFlags(int argc, char **argv) {
  Config config;
  std::vector<FlagSpec> table = specs(config);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h")
      arg = "--help";
    if (arg.compare(0, 2, "--") != 0 || arg.size() == 2)
      usageError("unexpected argument '" + arg + "' (flags start with --)");
    std::string name = arg.substr(2);
    std::string value;
    bool hasValue = false;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      hasValue = true;
    }
    const FlagSpec *spec = nullptr;
    for (const FlagSpec &s : table)
      if (name == s.name)
        spec = &s;
    if (!spec)
      usageError("unknown flag --" + name + " (see --help)");
    if (spec->kind == Kind::Bool) {
      if (hasValue)
        usageError("--" + name + " takes no value");
      setValue(*spec, "");
      continue;
    }
    if (!hasValue) {
      if (i + 1 >= argc)
        usageError("--" + name + ": missing value");
      value = argv[++i];
    }
    setValue(*spec, value);
  }
  return config;
}

void validateConfig(Config &c, const ModelInfo &model) {
  if (c.help)
    return;
  if (c.lrSchedule != "constant" && c.lrSchedule != "cosine")
    usageError("--lr-schedule: expected constant or cosine, got '" +
               c.lrSchedule + "'");
  // A model without a fixed context (rotary position embeddings) takes any
  // sequence length.
  if (c.seq == 0)
    c.seq = model.context && model.context < 64 ? model.context : 64;
  if (model.context && c.seq > model.context)
    usageError("--seq: " + std::to_string(c.seq) +
               " is longer than the model's context " +
               std::to_string(model.context));
  if (c.batch > (int64_t(1) << 31) / c.seq)
    usageError("--batch: B*T is too large");
  // --threads: at most 4x the cores (libgomp fails far beyond that).
  if (c.threads > 4 * static_cast<int64_t>(omp_get_num_procs()))
    usageError("--threads " + std::to_string(c.threads) +
               ": more than 4x the " + std::to_string(omp_get_num_procs()) +
               " cores (at most " + std::to_string(4 * omp_get_num_procs()) +
               ")");
  if (c.beta1 >= 1)
    usageError("--beta1: must be < 1");
  if (c.beta2 >= 1)
    usageError("--beta2: must be < 1");
  if (c.eps <= 0)
    usageError("--eps: must be > 0");
  if (c.generate) {
    if (c.initFrom.empty() && c.ckptDir.empty())
      usageError("--generate: needs --init-from FILE or --ckpt-dir DIR (its "
                 "latest checkpoint)");
    if (c.tokens == 0)
      usageError("--generate: needs --tokens N");
    if (c.resume || c.initOnly)
      usageError(std::string("--generate: cannot be combined with --") +
                 (c.resume ? "resume" : "init-only"));
    if (c.sample > 0)
      usageError("--sample: not with --generate (use --tokens N)");
  } else if (c.tokens > 0) {
    usageError("--tokens: only with --generate (after training: --sample N)");
  } else if (!c.prompt.empty() && c.sample == 0) {
    usageError("--prompt: needs --sample N (or --generate)");
  }
  if (c.resume && c.ckptDir.empty())
    usageError("--resume: needs --ckpt-dir");
  if (c.initOnly && c.ckptDir.empty())
    usageError("--init-only: needs --ckpt-dir");
  if (c.resume && !c.initFrom.empty())
    usageError("--init-from: cannot be combined with --resume");
  if (c.resume && c.initOnly)
    usageError("--init-only: cannot be combined with --resume");
  if (!c.logitsTokens.empty() && c.logits.empty())
    usageError("--logits-tokens: needs --logits");
  if (!c.logits.empty()) {
    if (c.initOnly)
      usageError("--logits: cannot be combined with --init-only");
    if (c.generate)
      usageError("--logits: cannot be combined with --generate");
    if (!c.logitsTokens.empty() && !c.data.empty())
      usageError("--logits-tokens: cannot be combined with --data (the batch "
                 "comes from one or the other)");
    if (c.logitsTokens.empty() && c.data.empty())
      usageError("--logits: needs --logits-tokens FILE or --data (the batch)");
  }
  if (!c.initOnly && !c.generate && c.logits.empty() && c.steps > 0 &&
      c.data.empty())
    usageError("--data: missing (the training shard or glob is required)");
  if (c.evalEvery > 0 && c.val.empty())
    usageError("--eval-every: needs --val");
  if (c.keepLast > 0 && c.ckptDir.empty())
    usageError("--keep-last: needs --ckpt-dir");
  if (c.keepBest && c.ckptDir.empty())
    usageError("--keep-best: needs --ckpt-dir");
  if (c.keepBest && c.val.empty())
    usageError("--keep-best: needs --val (the checkpoints are ranked by val "
               "loss)");
  if (c.lrDecaySteps > 0 && c.lrSchedule != "cosine")
    usageError("--lr-decay-steps: needs --lr-schedule cosine");
  if (c.dataOrder != "shuffled" && c.dataOrder != "sequential")
    usageError("--data-order: expected shuffled or sequential, got '" +
               c.dataOrder + "'");
  if (c.valBatches > 0 && c.val.empty())
    usageError("--val-batches: needs --val");
  if (c.batch > (int64_t(1) << 31) / c.seq / c.gradAccum)
    usageError("--grad-accum: K*B*T is too large");
}

std::string usage(const std::string &program) {
  Config config;
  std::string text = "usage: " + program + " --data PATH [flags]\n" +
                     "       " + program +
                     " --generate --init-from FILE --tokens N [--prompt "
                     "TEXT] [--tokenizer FILE]\n\n" +
                     "Trains the compiled model, or generates text from it. "
                     "Flags (--flag value or --flag=value):\n";
  for (const FlagSpec &s : specs(config)) {
    std::string left = std::string("  --") + s.name;
    switch (s.kind) {
    case Kind::Int:
    case Kind::UInt:
      left += " N";
      break;
    case Kind::Float:
      left += " X";
      break;
    case Kind::String:
      left += " S";
      break;
    case Kind::Bool:
      break;
    }
    left.resize(left.size() < 24 ? 24 : left.size() + 1, ' ');
    // The help wrapped at 79 columns, continuation lines under its start.
    std::string line = left;
    bool empty = true; // no word on `line` yet
    const std::string help = s.help;
    for (size_t pos = 0; pos < help.size();) {
      size_t end = help.find(' ', pos);
      if (end == std::string::npos)
        end = help.size();
      std::string word = help.substr(pos, end - pos);
      if (!empty && line.size() + 1 + word.size() > 79) {
        text += line + "\n";
        line = std::string(24, ' ');
        empty = true;
      }
      line += (empty ? "" : " ") + word;
      empty = false;
      pos = end + 1;
    }
    text += line + "\n";
  }
  // Signals (Trainer/Stop.h) and the fault injector (Core/Fault.h).
  text += "\nSIGTERM or SIGINT (Ctrl-C) stops training after the current step, "
          "with a\ncheckpoint when --ckpt-dir is set; exit status 0 after "
          "SIGTERM, 130 after\nSIGINT. A second signal stops at once. "
          "LMCRT_FAULT=KIND[:rank=R][:step=S]\ninjects faults for testing "
          "(docs/Runtime.md). LMCRT_PROFILE=1 prints, at exit, the GEMMs' time\n"
          "per shape (CPU) or the GPU time by kernel class; on a GPU,\n"
          "LMCRT_STRICT_EPILOGUE=1 ends the job where a GEMM epilogue would run\n"
          "on the host (docs/Gpu.md).\n";
  // Libraries opened when first used (Core/SharedLibrary.h).
  text += "\noneDNN (at the first CPU GEMM), MPI (under mpirun) and, on a GPU, "
          "cuBLASLt and\nNCCL are opened when first used; LMCRT_DNNL_LIBRARY, "
          "LMCRT_MPI_LIBRARY,\nLMCRT_CUBLASLT_LIBRARY and LMCRT_NCCL_LIBRARY "
          "name them. Exit status 127\nwhen one cannot be opened.\n";
  return text;
}

int64_t decaySteps(const Config &c) {
  if (c.lrSchedule != "cosine")
    return 0;
  return c.lrDecaySteps > 0 ? c.lrDecaySteps : c.steps;
}

std::vector<std::pair<std::string, std::string>>
mustMatchFlags(const Config &c) {
  std::vector<std::pair<std::string, std::string>> flags = {
      {"data", c.data},
      {"batch", std::to_string(c.batch)},
      {"seq", std::to_string(c.seq)},
      {"lr", formatFloat(c.lr)},
      {"lr-schedule", c.lrSchedule},
      {"warmup", std::to_string(c.warmup)},
  };
  // Not --steps: a resumed run may go further. The cosine horizon is
  // recorded in the checkpoint apart (lr_decay_steps, Checkpoint.h).
  if (c.lrSchedule == "cosine")
    flags.push_back({"min-lr", formatFloat(c.minLr)});
  flags.insert(flags.end(), {{"beta1", formatFloat(c.beta1)},
                             {"beta2", formatFloat(c.beta2)},
                             {"eps", formatFloat(c.eps)},
                             {"weight-decay", formatFloat(c.weightDecay)},
                             {"grad-clip", formatFloat(c.gradClip)}});
  return flags;
}

std::string configTable(const Config &c, const ModelInfo &model) {
  // A vocabulary padded for the kernels: the rows of its padded parameters.
  std::string padding;
  for (const ParamInfo &p : model.params)
    if (p.padded())
      padding = " (padded to " + std::to_string(p.shape[0]) + ")";
  std::vector<std::pair<std::string, std::string>> rows = {
      {"model", model.name},
      {"parameters",
       std::to_string(model.globalTotal) +
           (model.isSharded() ? " (" + std::to_string(model.total) +
                                    " on each rank, moments " +
                                    std::to_string(model.stateTotal) + ")"
                              : "")},
      {"vocab", std::to_string(model.vocab) + padding},
      {"context", model.context ? std::to_string(model.context) : "-"},
      {"data", c.data.empty() ? "-" : c.data},
      {"val", c.val.empty() ? "-" : c.val},
      {"steps", std::to_string(c.steps)},
      {"mesh",
       model.meshText() + " (" + std::to_string(model.numRanks()) + " ranks)"},
      // Pipeline parallelism (Pipeline.h).
      {"pipeline", pipelineText(model)},
      {"batch", std::to_string(c.batch) +
                    (model.batchParts() > 1
                         ? " (" + std::to_string(c.batch / model.batchParts()) +
                               " rows per rank)"
                         : "")},
      {"seq", std::to_string(c.seq)},
      {"lr", formatFloat(c.lr)},
      {"lr-schedule", c.lrSchedule},
      {"warmup", std::to_string(c.warmup)},
      {"min-lr", formatFloat(c.minLr)},
      {"lr-decay-steps", c.lrSchedule != "cosine" ? "-"
                         : c.lrDecaySteps > 0 ? std::to_string(c.lrDecaySteps)
                         : c.resume           ? "the checkpoint's"
                                              : std::to_string(c.steps)},
      {"beta1", formatFloat(c.beta1)},
      {"beta2", formatFloat(c.beta2)},
      {"eps", formatFloat(c.eps)},
      {"weight-decay", formatFloat(c.weightDecay)},
      {"grad-clip", c.gradClip > 0 ? formatFloat(c.gradClip) : "off"},
      {"seed", std::to_string(c.seed)},
      {"init-from", c.initFrom.empty() ? "-" : c.initFrom},
      {"init-only", c.initOnly ? "yes" : "no"},
      {"ckpt-dir", c.ckptDir.empty() ? "-" : c.ckptDir},
      {"ckpt-every", c.ckptEvery ? std::to_string(c.ckptEvery) : "end"},
      {"resume", c.resume ? "yes" : "no"},
      {"keep-last", c.keepLast ? std::to_string(c.keepLast) : "all"},
      {"keep-best", c.keepBest ? "yes" : "no"},
      {"eval-every", c.val.empty() ? "-"
                     : c.evalEvery ? std::to_string(c.evalEvery)
                                   : "end"},
      {"log", c.log.empty() ? "-" : c.log},
      {"sample", std::to_string(c.sample)},
      {"temperature", formatFloat(c.temperature)},
      {"top-k", c.topK ? std::to_string(c.topK) : "all"},
      {"threads", (c.threads ? std::to_string(c.threads) : "auto") + " (" +
                      std::to_string(omp_get_max_threads()) + " in use)"},
      {"omp-wait", openMPWaitPolicy()},
      {"data-order", c.dataOrder},
      {"grad-accum",
       std::to_string(c.gradAccum) +
           (c.gradAccum > 1 ? " (" + std::to_string(c.gradAccum * c.batch) +
                                  " rows per step)"
                            : "")},
      {"spike-guard",
       c.spikeZscore > 0
           ? "z > " + formatFloat(c.spikeZscore) + " over " +
                 std::to_string(c.spikeWindow) + " steps, stop after " +
                 std::to_string(c.spikeMaxSkips) + " skips"
           : "off"},
      {"val-batches", c.val.empty()     ? "-"
                      : c.valBatches ? std::to_string(c.valBatches)
                                     : "auto"},
      // Local SGD (LocalSgd.h): filled by validateLocalSgd.
      {"dp-sync",
       c.syncEvery == 0
           ? std::string(model.batchParts() > 1 ? "allreduce" : "-")
           : "local: sync every " + std::to_string(c.syncEvery) +
                 " steps, outer " + c.outerOptimizer +
                 (c.outerOptimizer == "nesterov"
                      ? " (lr " + formatFloat(c.outerLr) + ", momentum " +
                            formatFloat(c.outerMomentum) + ")"
                      : std::string()) +
                 (c.asyncSync ? ", async (one round late)" : "") +
                 ", data " + c.dataPartition},
  };
  size_t width = 0;
  for (auto &row : rows)
    width = row.first.size() > width ? row.first.size() : width;
  std::string line =
      "+" + std::string(width + 2, '-') + "+" + std::string(40, '-') + "\n";
  std::string text = line;
  for (auto &row : rows) {
    std::string key = row.first;
    key.resize(width, ' ');
    text += "| " + key + " | " + row.second + "\n";
  }
  return text + line;
}

} // namespace lmcrt
