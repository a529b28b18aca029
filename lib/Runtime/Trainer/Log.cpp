//===- Log.cpp - The JSONL training log -----------------------------------===//

#include "Trainer/Log.h"

#include "Core/Error.h"

#include <cerrno>
#include <cmath>
#include <cstring>

namespace lmcrt {

std::string jsonNumber(double value) {
  if (!std::isfinite(value))
    return "null";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.9g", value);
  return buffer;
}

JsonlLog::~JsonlLog() {
  if (file)
    std::fclose(file);
}

void JsonlLog::open(const std::string &logPath, bool append) {
  path = logPath;
  file = std::fopen(path.c_str(), append ? "ab" : "wb");
  if (!file)
    fail("--log " + path + ": cannot open: " + std::strerror(errno));
}

void JsonlLog::write(const std::string &line) {
  if (!file)
    return;
  if (std::fputs(line.c_str(), file) < 0 || std::fflush(file) != 0)
    fail("--log " + path + ": write failed: " + std::strerror(errno));
}

void JsonlLog::step(int64_t step, double loss, double gradNorm, double lr,
                    double ms, double tokS) {
  write("{\"step\":" + std::to_string(step) + ",\"loss\":" + jsonNumber(loss) +
        ",\"grad_norm\":" + jsonNumber(gradNorm) + ",\"lr\":" + jsonNumber(lr) +
        ",\"ms\":" + jsonNumber(ms) + ",\"tok_s\":" + jsonNumber(tokS) + "}\n");
}

void JsonlLog::eval(int64_t step, double valLoss) {
  write("{\"step\":" + std::to_string(step) +
        ",\"val_loss\":" + jsonNumber(valLoss) + "}\n");
}

} // namespace lmcrt
