//===- DeadlineTest.cpp - The deadline and backoff of collective waits ----===//
//
// lib/Runtime/Comm/Deadline.h without MPI: the parsing of
// LMCRT_COLLECTIVE_TIMEOUT (and its older name), the backoff (a spin, then
// sleeps doubling to a cap) and the wait loop driven by a fake clock: it
// returns as soon as the wait is done, ends at the deadline without
// oversleeping it, answers (`idle`) before each sleep, and polls a few
// hundred times a second at most once it has backed off. Part of
// lmcrt-unittests (test/Runtime/runtime-unit.test).
//
//===----------------------------------------------------------------------===//

#include "Comm/Deadline.h"

#include "FakeClock.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

using namespace lmcrt::comm;

namespace {

/// Starts at time 1000.0.
struct FakeClock : lmcrt::testing::FakeClock {
  FakeClock() : lmcrt::testing::FakeClock(1000.0) {}
};


TEST(DeadlineTest, ParsesTheTimeout) {
  EXPECT_EQ(parseTimeoutSetting("V", nullptr, 300).seconds, 300.0);
  EXPECT_EQ(parseTimeoutSetting("V", "", 300).seconds, 300.0);
  EXPECT_TRUE(parseTimeoutSetting("V", nullptr, 300).variable.empty());
  TimeoutSetting t = parseTimeoutSetting("V", "12.5", 300);
  EXPECT_EQ(t.seconds, 12.5);
  EXPECT_EQ(t.variable, "V");
  EXPECT_TRUE(t.error.empty());
  EXPECT_EQ(parseTimeoutSetting("V", "5 ", 300).seconds, 5.0);
  for (const char *bad : {"abc", "0", "-3", "5s", "inf", "nan", "1e999", " "}) {
    TimeoutSetting b = parseTimeoutSetting("LMCRT_COLLECTIVE_TIMEOUT", bad, 300);
    EXPECT_EQ(b.error, std::string("LMCRT_COLLECTIVE_TIMEOUT='") + bad +
                           "': expected a positive number of seconds (e.g. "
                           "300)")
        << bad;
  }
}

TEST(DeadlineTest, TheNewNameWinsOverTheOld) {
  ::unsetenv(kTimeoutVariable);
  ::unsetenv(kTimeoutAlias);
  EXPECT_EQ(timeoutFromEnvironment(kCpuDefaultTimeout).seconds, 300.0);
  EXPECT_EQ(timeoutFromEnvironment(kGpuDefaultTimeout).seconds, 600.0);
  ::setenv(kTimeoutAlias, "7", 1);
  TimeoutSetting old = timeoutFromEnvironment(kCpuDefaultTimeout);
  EXPECT_EQ(old.seconds, 7.0);
  EXPECT_EQ(old.variable, "LMCRT_NCCL_TIMEOUT");
  ::setenv(kTimeoutVariable, "9", 1);
  TimeoutSetting now = timeoutFromEnvironment(kCpuDefaultTimeout);
  EXPECT_EQ(now.seconds, 9.0);
  EXPECT_EQ(now.variable, "LMCRT_COLLECTIVE_TIMEOUT");
  ::setenv(kTimeoutAlias, "bad", 1);
  EXPECT_TRUE(timeoutFromEnvironment(kCpuDefaultTimeout).error.empty());
  ::unsetenv(kTimeoutVariable);
  EXPECT_FALSE(timeoutFromEnvironment(kCpuDefaultTimeout).error.empty());
  ::unsetenv(kTimeoutAlias);
}

TEST(DeadlineTest, BackoffSpinsThenDoublesToTheCap) {
  BackoffPace pace;
  pace.spin = 1e-3;
  pace.firstNap = 20e-6;
  pace.maxNap = 2e-3;
  Backoff b(10.0, pace);
  EXPECT_EQ(b.next(10.0), 0.0);
  EXPECT_EQ(b.next(10.0009), 0.0);
  std::vector<double> naps;
  for (int i = 0; i < 10; ++i)
    naps.push_back(b.next(10.0011 + i));
  EXPECT_DOUBLE_EQ(naps[0], 20e-6);
  EXPECT_DOUBLE_EQ(naps[1], 40e-6);
  EXPECT_DOUBLE_EQ(naps[6], 1280e-6);
  EXPECT_DOUBLE_EQ(naps[7], 2e-3);
  EXPECT_DOUBLE_EQ(naps[9], 2e-3);
}

TEST(DeadlineTest, ReturnsWhenDone) {
  FakeClock fake;
  fake.tick = 1e-4;
  int polls = 0;
  WaitResult r = waitWithDeadline([&] { return ++polls == 3; }, nullptr, 5.0,
                                  fake.clock());
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.polls, 3);
  EXPECT_EQ(r.naps, 0); // still spinning
  EXPECT_TRUE(fake.sleeps.empty());
}

TEST(DeadlineTest, EndsAtTheDeadlineAndBacksOff) {
  FakeClock fake;
  fake.tick = 1e-6; // a poll costs a microsecond
  int idles = 0;
  WaitResult r = waitWithDeadline([] { return false; }, [&] { ++idles; }, 5.0,
                                  fake.clock());
  EXPECT_FALSE(r.done);
  EXPECT_GE(r.waited, 5.0);
  EXPECT_LT(r.waited, 5.0 + 1e-3); // the last sleep stops at the deadline
  EXPECT_EQ(idles, r.naps);        // answered before every sleep
  EXPECT_EQ(static_cast<size_t>(r.naps), fake.sleeps.size());
  double longest = 0;
  for (double s : fake.sleeps)
    longest = std::max(longest, s);
  EXPECT_DOUBLE_EQ(longest, 2e-3);
  // A millisecond of spinning (about a thousand polls here), then about 500
  // polls a second: far from a core's worth of polling.
  EXPECT_LT(r.polls, 1000 + 600 * 5);
  EXPECT_GT(r.polls, 500 * 4);
}

TEST(DeadlineTest, ATimeoutShorterThanTheSpinStillEnds) {
  FakeClock fake;
  fake.tick = 1e-5;
  WaitResult r = waitWithDeadline([] { return false; }, nullptr, 1e-4,
                                  fake.clock());
  EXPECT_FALSE(r.done);
  EXPECT_GE(r.waited, 1e-4);
  EXPECT_LT(r.polls, 20);
}

} // namespace
