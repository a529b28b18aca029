//===- Log.h - The JSONL training log ---------------------------*- C++ -*-===//
//
// One JSON object per line, flushed as written:
//   {"step":N,"loss":X,"grad_norm":X,"lr":X,"ms":X,"tok_s":X}   per step
//   {"step":N,"val_loss":X}                                      per eval
// `step` counts from 1 (the number of updates after the line's step); loss is
// the batch's training loss before the update. Non-finite numbers are null.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_LOG_H
#define LMC_LIB_RUNTIME_LOG_H

#include <cstdint>
#include <cstdio>
#include <string>

namespace lmcrt {

class JsonlLog {
public:
  JsonlLog() = default;
  ~JsonlLog();
  JsonlLog(const JsonlLog &) = delete;
  JsonlLog &operator=(const JsonlLog &) = delete;

  /// Opens `path` (truncating, or appending when resuming).
  void open(const std::string &path, bool append);
  void step(int64_t step, double loss, double gradNorm, double lr, double ms,
            double tokS);
  void eval(int64_t step, double valLoss);

private:
  void write(const std::string &line);
  FILE *file = nullptr;
  std::string path;
};

/// A JSON number, or null when not finite.
std::string jsonNumber(double value);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_LOG_H
