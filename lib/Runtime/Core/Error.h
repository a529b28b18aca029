//===- Error.h - Errors of the lmc runtime ----------------------*- C++ -*-===//
//
// The runtime reports every user-facing failure (bad flag, bad data file,
// corrupt checkpoint) as a RuntimeError: a one-line message and the exit code
// the trainer returns (2 for command-line errors, 1 for everything else).
// lmcrt_main catches it, prints "NAME: error: MESSAGE" and exits (a
// NoGpuError prints "lmc: no GPU found: REASON" instead).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_ERROR_H
#define LMC_LIB_RUNTIME_ERROR_H

#include <stdexcept>
#include <string>

namespace lmcrt {

/// Exit code of command-line errors.
constexpr int kUsageExit = 2;
/// Exit code of every other error.
constexpr int kFailureExit = 1;

class RuntimeError : public std::runtime_error {
public:
  RuntimeError(int exitCode, const std::string &message)
      : std::runtime_error(message), exitCode(exitCode) {}
  int exitCode;
};

/// No usable GPU for a program compiled for one: the trainer prints the one
/// line "lmc: no GPU found: REASON" and exits with kUsageExit.
class NoGpuError : public RuntimeError {
public:
  explicit NoGpuError(const std::string &reason)
      : RuntimeError(kUsageExit, reason) {}
};

[[noreturn]] inline void fail(const std::string &message) {
  throw RuntimeError(kFailureExit, message);
}
[[noreturn]] inline void usageError(const std::string &message) {
  throw RuntimeError(kUsageExit, message);
}

/// 64-bit FNV-1a hash (the model and flag hashes stored in checkpoints).
inline unsigned long long fnv1a64(const std::string &text) {
  unsigned long long hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// `value` as 16 lowercase hex digits.
std::string toHex(unsigned long long value);
/// Parses 1-16 hex digits; false on anything else.
bool parseHex(const std::string &text, unsigned long long &value);
/// The shortest text that strtof reads back as `value` exactly.
std::string formatFloat(float value);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_ERROR_H
