//===- Fault.h - Fault injection for testing --------------------*- C++ -*-===//
//
// A testing aid compiled into every trainer: the environment variable
// LMCRT_FAULT names faults that the trainer injects into itself, so that
// tests can exercise what happens when a rank hangs, a NaN appears, the
// process dies while writing a checkpoint, or a signal arrives. Unset (or
// empty), nothing happens and each query is one test of an empty vector.
//
// Format: LMCRT_FAULT=FAULT[,FAULT...], FAULT = KIND[:KEY=VALUE...], keys
//   rank=R   only on world rank R (default: every rank)
//   step=S   only at training step S, 1-based as printed "step S/N"
//            (default: every step)
// Kinds (what maybe() does, or what the trainer does when at() is true):
//   hang           sleeps forever at the start of step S, before the step's
//                  collectives (the other ranks wait in them)
//   crash          abort() at the start of step S (SIGABRT)
//   nan            the trainer writes a NaN into element 0 of this rank's
//                  parameters right after step S's update (so the loss of
//                  step S+1 is NaN)
//   nan-loss       the trainer reports step S's loss as NaN
//   sigterm/sigint raise(SIGTERM/SIGINT) right after step S's update
//   crash-in-save  _exit(kFaultExit) in the middle of writing the
//                  checkpoint of step S: after half of the file's bytes are
//                  in its temporary file, before the rename
// Each injection prints "lmcrt: fault injected[ on rank R]: KIND at step S"
// on stderr first. A malformed LMCRT_FAULT is a usage error (exit 2).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CORE_FAULT_H
#define LMC_LIB_RUNTIME_CORE_FAULT_H

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt::fault {

/// The exit status of crash-in-save.
constexpr int kFaultExit = 70;

struct Spec {
  std::string kind;
  int rank = -1;     ///< -1: every rank
  int64_t step = -1; ///< -1: every step
};

/// Parses an LMCRT_FAULT value; throws RuntimeError (exit 2) naming
/// LMCRT_FAULT and the offending part. An empty value is no fault.
std::vector<Spec> parse(const std::string &text);

/// Reads and parses LMCRT_FAULT (once; later calls do nothing). The trainer
/// calls it at start so that a malformed value fails before any work; at()
/// calls it too.
void init();

/// True when a fault of `kind` is set for this process's rank at `step`.
bool at(const char *kind, int64_t step);

/// When at(kind, step): prints the injection line and performs the kind's
/// built-in action (hang, crash, sigterm, sigint, crash-in-save); for the
/// kinds the caller performs (nan, nan-loss) it prints the line only and
/// returns true. False, and nothing done, otherwise.
bool maybe(const char *kind, int64_t step);

} // namespace lmcrt::fault

#endif // LMC_LIB_RUNTIME_CORE_FAULT_H
