//===- FakeClock.h - A clock for testing poll loops -------------*- C++ -*-===//
//
// A comm::WaitClock (Comm/Deadline.h; Cuda/Poll.h's PollClock is the same
// type) whose time only moves when the loop sleeps, and by `tick` per
// reading; it records the sleeps. For DeadlineTest and PollTest.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TEST_RUNTIME_FAKECLOCK_H
#define LMC_TEST_RUNTIME_FAKECLOCK_H

#include "Comm/Deadline.h"

#include <vector>

namespace lmcrt::testing {

struct FakeClock {
  explicit FakeClock(double start) : time(start) {}
  double time;
  double tick = 0.0;
  std::vector<double> sleeps;
  comm::WaitClock clock() {
    return {[this] {
              time += tick;
              return time;
            },
            [this](double s) {
              sleeps.push_back(s);
              time += s;
            }};
  }
};

} // namespace lmcrt::testing

#endif // LMC_TEST_RUNTIME_FAKECLOCK_H
