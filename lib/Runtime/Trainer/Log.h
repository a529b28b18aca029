//===- Log.h - The JSONL training log ---------------------------*- C++ -*-===//
//
// One JSON object per line, flushed as written:
//   {"step":N,"loss":X,"grad_norm":X,"lr":X,"ms":X,"tok_s":X,"tokens":N,
//    ["mfu":X,]"time":T}                                       per step
//   {"step":N,"val_loss":X,"time":T}                           per eval
//   {"event":"resume","step":N,"checkpoint":"NAME","dropped":K,"time":T}
//                                              when a resumed run starts
//   {"event":"stop","signal":"SIGTERM","step":N,"checkpoint":"NAME"|null,
//    "time":T}              when SIGTERM or SIGINT stopped the run (Stop.h)
// `step` counts from 1 (the number of updates after the line's step); loss is
// the batch's training loss before the update; `tokens` the training tokens
// consumed up to and including the step; `mfu` (GPU runs only) the model
// FLOPs utilisation in percent, null on a card of unknown peak; `time` the
// wall-clock time the line was written, in Unix seconds with milliseconds
// (UTC). Non-finite numbers are null.
//
// A resumed run never repeats a step: before appending, resume() drops the
// lines of steps after the checkpoint's (train steps and evaluations a
// killed run logged after its last checkpoint, and resume markers of later
// steps) and a torn last line (no newline), rewriting the file atomically;
// the marker line says how many lines it dropped.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_LOG_H
#define LMC_LIB_RUNTIME_LOG_H

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

namespace lmcrt {

class JsonlLog {
public:
  JsonlLog() = default;
  ~JsonlLog();
  JsonlLog(const JsonlLog &) = delete;
  JsonlLog &operator=(const JsonlLog &) = delete;

  /// Opens `path` for a new run, truncating it.
  void open(const std::string &path);
  /// Opens `path` for a run resumed from checkpoint file `checkpoint` at
  /// `step`: keeps the lines of steps <= `step` (see above), appends the
  /// resume marker; returns the number of lines dropped.
  int64_t resume(const std::string &path, int64_t step,
                 const std::string &checkpoint);
  /// `mfu`: absent on the CPU, NaN (written null) on an unknown GPU.
  /// `spike`: with the loss-spike guard on, whether this step's update was
  /// skipped and the run's skips so far ("skipped", "skips").
  void step(int64_t step, double loss, double gradNorm, double lr, double ms,
            double tokS, int64_t tokens, std::optional<double> mfu,
            std::optional<std::pair<bool, int64_t>> spike = std::nullopt);
  void eval(int64_t step, double valLoss);
  /// Local SGD (LocalSgd.h): round `round` ended after `step`; `applied`
  /// the round whose mean change was applied (0: none yet, --async-sync),
  /// `deltaRms` the RMS of that mean (rank 0's piece).
  void sync(int64_t step, int64_t round, int64_t applied,
            const std::string &outer, bool async, double deltaRms);
  /// The run stopped by `signal` after `step`; `checkpoint` the file of that
  /// step, empty (null) when none was written.
  void stopped(int64_t step, const std::string &signal,
               const std::string &checkpoint);

private:
  void write(const std::string &line);
  FILE *file = nullptr;
  std::string path;
};

/// A JSON number, or null when not finite.
std::string jsonNumber(double value);

/// The current wall-clock time as Unix seconds with milliseconds
/// ("1765012345.678").
std::string unixTimeText();

/// The lines of a JSONL log `text` that a run resumed at `step` keeps: those
/// whose "step" is <= `step` or that have none, each with its newline; a
/// last line without a newline is dropped. `dropped` gets the count of
/// lines left out.
std::string keepLogThrough(const std::string &text, int64_t step,
                           int64_t &dropped);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_LOG_H
