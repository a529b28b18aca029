//===- Log.cpp - The JSONL training log -----------------------------------===//

#include "Trainer/Log.h"

#include "Core/Error.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/Json.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace lmcrt {

std::string jsonNumber(double value) {
  if (!std::isfinite(value))
    return "null";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.9g", value);
  return buffer;
}

std::string unixTimeText() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  long long ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%lld.%03lld", ms / 1000, ms % 1000);
  return buffer;
}

namespace {

/// The integer after the first `"step":` of a line, or -1 when there is
/// none (the lines are the trainer's own: no string holds that text).
int64_t stepOf(const std::string &line) {
  size_t at = line.find("\"step\":");
  if (at == std::string::npos)
    return -1;
  char *end = nullptr;
  long long step = std::strtoll(line.c_str() + at + 7, &end, 10);
  return end == line.c_str() + at + 7 ? -1 : step;
}

} // namespace

std::string keepLogThrough(const std::string &text, int64_t step,
                           int64_t &dropped) {
  std::string kept;
  dropped = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t newline = text.find('\n', start);
    if (newline == std::string::npos) {
      ++dropped; // torn by a kill mid-write
      break;
    }
    std::string line = text.substr(start, newline - start);
    if (stepOf(line) > step)
      ++dropped;
    else
      kept += line + "\n";
    start = newline + 1;
  }
  return kept;
}

JsonlLog::~JsonlLog() {
  if (file)
    std::fclose(file);
}

void JsonlLog::open(const std::string &logPath) {
  path = logPath;
  file = std::fopen(path.c_str(), "wb");
  if (!file)
    fail("--log " + path + ": cannot open: " + std::strerror(errno));
}

int64_t JsonlLog::resume(const std::string &logPath, int64_t step,
                         const std::string &checkpoint) {
  path = logPath;
  int64_t dropped = 0;
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad())
      fail("--log " + path + ": cannot read: " + std::strerror(errno));
    std::string kept = keepLogThrough(text.str(), step, dropped);
    if (dropped > 0) {
      size_t slash = path.rfind('/');
      std::string dir =
          slash == std::string::npos ? "." : path.substr(0, slash);
      std::string name =
          slash == std::string::npos ? path : path.substr(slash + 1);
      if (dir.empty())
        dir = "/";
      atomicWriteFile(dir, name, [&](int fd, const std::string &p) {
        if (::write(fd, kept.data(), kept.size()) !=
            static_cast<ssize_t>(kept.size()))
          fail("--log " + p + ": write failed: " + std::strerror(errno));
      });
    }
  }
  file = std::fopen(path.c_str(), "ab");
  if (!file)
    fail("--log " + path + ": cannot open: " + std::strerror(errno));
  write("{\"event\":\"resume\",\"step\":" + std::to_string(step) +
        ",\"checkpoint\":" + json::quote(checkpoint) + ",\"dropped\":" +
        std::to_string(dropped) + ",\"time\":" + unixTimeText() + "}\n");
  return dropped;
}

void JsonlLog::write(const std::string &line) {
  if (!file)
    return;
  if (std::fputs(line.c_str(), file) < 0 || std::fflush(file) != 0)
    fail("--log " + path + ": write failed: " + std::strerror(errno));
}

void JsonlLog::step(int64_t step, double loss, double gradNorm, double lr,
                    double ms, double tokS, int64_t tokens,
                    std::optional<double> mfu,
                    std::optional<std::pair<bool, int64_t>> spike) {
  write("{\"step\":" + std::to_string(step) + ",\"loss\":" + jsonNumber(loss) +
        ",\"grad_norm\":" + jsonNumber(gradNorm) + ",\"lr\":" + jsonNumber(lr) +
        ",\"ms\":" + jsonNumber(ms) + ",\"tok_s\":" + jsonNumber(tokS) +
        ",\"tokens\":" + std::to_string(tokens) +
        (mfu ? ",\"mfu\":" + jsonNumber(*mfu) : std::string()) +
        (spike ? std::string(",\"skipped\":") +
                     (spike->first ? "true" : "false") +
                     ",\"skips\":" + std::to_string(spike->second)
               : std::string()) +
        ",\"time\":" + unixTimeText() + "}\n");
}

void JsonlLog::eval(int64_t step, double valLoss) {
  write("{\"step\":" + std::to_string(step) + ",\"val_loss\":" +
        jsonNumber(valLoss) + ",\"time\":" + unixTimeText() + "}\n");
}

void JsonlLog::sync(int64_t step, int64_t round, int64_t applied,
                    const std::string &outer, bool async, double deltaRms) {
  write("{\"event\":\"sync\",\"step\":" + std::to_string(step) +
        ",\"round\":" + std::to_string(round) + ",\"applied_round\":" +
        (applied ? std::to_string(applied) : std::string("null")) +
        ",\"outer\":" + json::quote(outer) +
        ",\"async\":" + (async ? "true" : "false") +
        ",\"delta_rms\":" + jsonNumber(deltaRms) +
        ",\"time\":" + unixTimeText() + "}\n");
}

void JsonlLog::stopped(int64_t step, const std::string &signal,
                       const std::string &checkpoint) {
  write("{\"event\":\"stop\",\"signal\":" + json::quote(signal) +
        ",\"step\":" + std::to_string(step) + ",\"checkpoint\":" +
        (checkpoint.empty() ? std::string("null") : json::quote(checkpoint)) +
        ",\"time\":" + unixTimeText() + "}\n");
}

} // namespace lmcrt
