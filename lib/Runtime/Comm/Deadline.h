//===- Deadline.h - Collective timeouts and the backoff of waits -*- C++ -*-===//
//
// Every wait of the runtime on other ranks (a collective, a point-to-point
// transfer) has a deadline: LMCRT_COLLECTIVE_TIMEOUT seconds (a positive
// number; the CPU runtime's default is 300 s, the GPU runtime's 600 s; the
// older name LMCRT_NCCL_TIMEOUT is read when the new one is unset). A wait
// polls (MPI_Test) instead of blocking, and backs off: it polls without
// pause for a short while (a healthy collective usually completes then),
// then sleeps between polls, each sleep twice the last up to a few
// milliseconds, so that a rank waiting on a late or hung peer costs almost
// no CPU. A wait never oversleeps its deadline by more than one sleep.
//
// This header is the logic alone, without MPI, with the clock and the sleep
// injected, so that it is tested without MPI (test/Runtime/DeadlineTest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_COMM_DEADLINE_H
#define LMC_LIB_RUNTIME_COMM_DEADLINE_H

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace lmcrt::comm {

/// The variable that sets the timeout, and its older (GPU-only) name.
constexpr const char *kTimeoutVariable = "LMCRT_COLLECTIVE_TIMEOUT";
constexpr const char *kTimeoutAlias = "LMCRT_NCCL_TIMEOUT";
/// The defaults when neither is set.
constexpr double kCpuDefaultTimeout = 300.0;
constexpr double kGpuDefaultTimeout = 600.0;

/// A timeout read from the environment: `seconds`, or `error` (a one-line
/// message naming the variable) when its value is not a positive number.
struct TimeoutSetting {
  double seconds = 0;
  std::string variable; // the variable it came from; empty: the default
  std::string error;
};

/// Parses `text`, the value of `variable`: a finite positive number of
/// seconds, nothing else (no unit, no trailing characters). Unset (nullptr)
/// or empty gives `fallback`.
inline TimeoutSetting parseTimeoutSetting(const char *variable,
                                          const char *text, double fallback) {
  TimeoutSetting setting;
  if (!text || !*text) {
    setting.seconds = fallback;
    return setting;
  }
  setting.variable = variable;
  char *end = nullptr;
  double seconds = std::strtod(text, &end);
  while (end && (*end == ' ' || *end == '\t'))
    ++end;
  if (end == text || *end != '\0' || !std::isfinite(seconds) || seconds <= 0)
    setting.error = std::string(variable) + "='" + text +
                    "': expected a positive number of seconds (e.g. 300)";
  else
    setting.seconds = seconds;
  return setting;
}

/// The timeout the environment sets: LMCRT_COLLECTIVE_TIMEOUT, else
/// LMCRT_NCCL_TIMEOUT, else `fallback`.
inline TimeoutSetting timeoutFromEnvironment(double fallback) {
  const char *text = std::getenv(kTimeoutVariable);
  if (text && *text)
    return parseTimeoutSetting(kTimeoutVariable, text, fallback);
  return parseTimeoutSetting(kTimeoutAlias, std::getenv(kTimeoutAlias),
                             fallback);
}

/// How a wait paces its polls (seconds): without pause for `spin` after the
/// start, then sleeping `firstNap`, doubling up to `maxNap`.
struct BackoffPace {
  double spin = 1e-3;
  double firstNap = 20e-6;
  double maxNap = 2e-3;
};

/// The clock and the sleep of a wait (seconds).
struct WaitClock {
  std::function<double()> now;
  std::function<void(double)> sleep;

  /// std::chrono::steady_clock and std::this_thread::sleep_for.
  static WaitClock steady() {
    return {[] {
              return std::chrono::duration<double>(
                         std::chrono::steady_clock::now().time_since_epoch())
                  .count();
            },
            [](double seconds) {
              std::this_thread::sleep_for(
                  std::chrono::duration<double>(seconds));
            }};
  }
};

/// The sleeps between polls: next() is 0 during the spin, then the naps.
class Backoff {
public:
  Backoff(double start, BackoffPace pace = BackoffPace())
      : start(start), pace(pace), nap(pace.firstNap) {}

  /// The pause before the next poll, for a poll at `now` that found the wait
  /// not done.
  double next(double now) {
    if (now - start < pace.spin)
      return 0;
    double pause = nap;
    nap = nap * 2 < pace.maxNap ? nap * 2 : pace.maxNap;
    return pause;
  }

private:
  double start;
  BackoffPace pace;
  double nap;
};

struct WaitResult {
  bool done = false; // false: timed out
  double waited = 0; // seconds
  int polls = 0;     // calls of done()
  int naps = 0;      // calls of the clock's sleep
};

/// Calls `done` until it returns true, or until `timeout` seconds have passed
/// since the start (then the result is not done). Between polls it pauses as
/// Backoff says, and calls `idle` before each sleep (the runtime answers
/// other ranks' questions there).
inline WaitResult waitWithDeadline(const std::function<bool()> &done,
                                   const std::function<void()> &idle,
                                   double timeout, const WaitClock &clock,
                                   BackoffPace pace = BackoffPace()) {
  WaitResult result;
  const double start = clock.now();
  Backoff backoff(start, pace);
  for (;;) {
    ++result.polls;
    if (done()) {
      result.done = true;
      result.waited = clock.now() - start;
      return result;
    }
    double now = clock.now();
    result.waited = now - start;
    if (result.waited >= timeout)
      return result;
    double pause = backoff.next(now);
    if (pause > 0) {
      if (idle)
        idle();
      // Never sleep past the deadline.
      double left = timeout - result.waited;
      clock.sleep(pause < left ? pause : left);
      ++result.naps;
    }
  }
}

} // namespace lmcrt::comm

#endif // LMC_LIB_RUNTIME_COMM_DEADLINE_H
