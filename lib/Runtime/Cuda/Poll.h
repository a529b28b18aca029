//===- Poll.h - Waiting with a timeout by polling ---------------*- C++ -*-===//
//
// The GPU runtime never blocks in the driver or in NCCL while collectives
// may be stuck on a dead peer: it polls (a stream, an event, a
// communicator's state), checks the communicators' asynchronous errors
// between polls, and gives up after LMCRT_COLLECTIVE_TIMEOUT seconds (read by
// Nccl.cpp with Comm/Deadline.h, which rejects bad values). This header
// is the loop itself, with the clock and the sleep injected, so that it is
// tested on the CPU (test/Runtime/PollTest.cpp); it includes no CUDA header.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_POLL_H
#define LMC_LIB_RUNTIME_CUDA_POLL_H

#include "Comm/Deadline.h"

#include <functional>
#include <string>

namespace lmcrt::cuda {

/// The clock and the sleep a poll loop uses (seconds): the collective
/// deadline's (Comm/Deadline.h).
using PollClock = comm::WaitClock;

/// How often a poll loop looks: the first `spins` polls follow each other
/// at once, then it sleeps `firstSleep` seconds, doubling up to `maxSleep`.
struct PollPace {
  int spins = 100;
  double firstSleep = 20e-6;
  double maxSleep = 200e-6;
};

struct PollResult {
  enum Outcome { Done, Failed, TimedOut };
  Outcome outcome = Done;
  std::string error; // Failed: what error() returned
  double waited = 0; // seconds
  int polls = 0;     // calls of done()
};

/// Calls `done` until it returns true (Done). After each poll that is not
/// done, calls `error`: a non-empty string ends the wait (Failed, with that
/// string); then, once `timeout` seconds have passed since the start, the
/// wait ends (TimedOut); otherwise it sleeps as `pace` says and polls again.
inline PollResult pollUntil(const std::function<bool()> &done,
                            const std::function<std::string()> &error,
                            double timeout, const PollClock &clock,
                            PollPace pace = PollPace()) {
  PollResult result;
  const double start = clock.now();
  double nap = pace.firstSleep;
  for (;;) {
    ++result.polls;
    if (done()) {
      result.waited = clock.now() - start;
      return result;
    }
    std::string message = error();
    result.waited = clock.now() - start;
    if (!message.empty()) {
      result.outcome = PollResult::Failed;
      result.error = std::move(message);
      return result;
    }
    if (result.waited > timeout) {
      result.outcome = PollResult::TimedOut;
      return result;
    }
    if (result.polls > pace.spins) {
      clock.sleep(nap);
      nap = nap * 2 < pace.maxSleep ? nap * 2 : pace.maxSleep;
    }
  }
}

} // namespace lmcrt::cuda

#endif // LMC_LIB_RUNTIME_CUDA_POLL_H
