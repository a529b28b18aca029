//===- PollTest.cpp - The GPU runtime's poll loop and strided copies ------===//
//
// The pieces of lib/Runtime/Cuda that need no GPU: the poll loop that waits
// for collectives with a timeout (Cuda/Poll.h), driven by a fake clock, and
// the planning of strided copies as 2-D copies (Cuda/StridedCopy.h), whose
// copies are run here with memcpy and compared with copyElements. Part of
// lmcrt-unittests (test/Runtime/runtime-unit.test).
//
//===----------------------------------------------------------------------===//

#include "Cuda/Poll.h"
#include "Cuda/StridedCopy.h"

#include "FakeClock.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::cuda;

namespace {

/// Starts at time 100.0.
struct FakeClock : lmcrt::testing::FakeClock {
  FakeClock() : lmcrt::testing::FakeClock(100.0) {}
};


TEST(PollUntil, DoneAtOnceNeverSleeps) {
  FakeClock fake;
  int errorCalls = 0;
  PollResult r = pollUntil([] { return true; },
                           [&] {
                             ++errorCalls;
                             return std::string();
                           },
                           10, fake.clock());
  EXPECT_EQ(r.outcome, PollResult::Done);
  EXPECT_EQ(r.polls, 1);
  EXPECT_EQ(errorCalls, 0);
  EXPECT_TRUE(fake.sleeps.empty());
}

TEST(PollUntil, SpinsThenSleepsWithBackoff) {
  FakeClock fake;
  PollPace pace;
  pace.spins = 3;
  pace.firstSleep = 1e-3;
  pace.maxSleep = 4e-3;
  int polls = 0;
  PollResult r =
      pollUntil([&] { return ++polls == 9; }, [] { return std::string(); }, 10,
                fake.clock(), pace);
  EXPECT_EQ(r.outcome, PollResult::Done);
  EXPECT_EQ(r.polls, 9);
  // Polls 1-3 spin; polls 4-8 sleep 1, 2, 4, 4, 4 ms; poll 9 is done.
  std::vector<double> expected = {1e-3, 2e-3, 4e-3, 4e-3, 4e-3};
  ASSERT_EQ(fake.sleeps.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_DOUBLE_EQ(fake.sleeps[i], expected[i]);
  EXPECT_NEAR(r.waited, 15e-3, 1e-9);
}

TEST(PollUntil, AnAsynchronousErrorEndsTheWait) {
  FakeClock fake;
  int checks = 0;
  PollResult r = pollUntil([] { return false; },
                           [&] {
                             return ++checks == 5 ? std::string("remote error")
                                                  : std::string();
                           },
                           10, fake.clock());
  EXPECT_EQ(r.outcome, PollResult::Failed);
  EXPECT_EQ(r.error, "remote error");
  EXPECT_EQ(r.polls, 5);
}

TEST(PollUntil, TimesOut) {
  FakeClock fake;
  PollPace pace;
  pace.spins = 0;
  pace.firstSleep = 0.25;
  pace.maxSleep = 1.0;
  PollResult r = pollUntil([] { return false; }, [] { return std::string(); },
                           3.0, fake.clock(), pace);
  EXPECT_EQ(r.outcome, PollResult::TimedOut);
  EXPECT_GT(r.waited, 3.0);
  EXPECT_LT(r.waited, 4.5);
}

TEST(PollUntil, TimeSpentInThePollsCounts) {
  // Without sleeps (all spins), the clock advancing at each reading still
  // ends the wait.
  FakeClock fake;
  fake.tick = 1.0;
  PollPace pace;
  pace.spins = 1 << 30;
  PollResult r = pollUntil([] { return false; }, [] { return std::string(); },
                           5.0, fake.clock(), pace);
  EXPECT_EQ(r.outcome, PollResult::TimedOut);
  EXPECT_TRUE(fake.sleeps.empty());
}

TEST(PollUntil, TheSteadyClockWorks) {
  int polls = 0;
  PollPace pace;
  pace.spins = 2;
  PollResult r =
      pollUntil([&] { return ++polls == 6; }, [] { return std::string(); }, 5.0,
                PollClock::steady(), pace);
  EXPECT_EQ(r.outcome, PollResult::Done);
  EXPECT_GT(r.waited, 0.0);
}

//===----------------------------------------------------------------------===//
// Strided copies
//===----------------------------------------------------------------------===//

using View = MemrefView<float>;

/// Runs `copies` with memcpy, as cuMemcpy2DAsync would.
void run(const std::vector<Copy2D> &copies) {
  for (const Copy2D &c : copies)
    for (size_t r = 0; r < c.height; ++r)
      std::memcpy(c.dst + r * c.dstPitch, c.src + r * c.srcPitch, c.widthBytes);
}

/// Plans and runs src -> dst, and checks the result against copyElements
/// into a second buffer of the same layout; returns the number of copies.
size_t checkCopy(const View &src, View dst, std::vector<float> &dstBuffer,
                 size_t maxCopies = 1000) {
  std::vector<float> expected(dstBuffer.size(), -1.0f);
  std::fill(dstBuffer.begin(), dstBuffer.end(), -1.0f);
  View reference(expected.data() + (dst.data - dstBuffer.data()), dst.sizes,
                 dst.strides);
  copyElements(src, reference);
  std::vector<Copy2D> copies;
  EXPECT_TRUE(planCopies(src, dst, maxCopies, copies));
  run(copies);
  EXPECT_EQ(dstBuffer, expected);
  return copies.size();
}

TEST(StridedCopy, ContiguousIsOneCopy) {
  std::vector<float> a(24), b(24);
  std::iota(a.begin(), a.end(), 0.0f);
  EXPECT_EQ(checkCopy(View::packed(a.data(), {2, 3, 4}),
                      View::packed(b.data(), {2, 3, 4}), b),
            1u);
}

TEST(StridedCopy, BlocksOfAGatherAreRowsPerBlock) {
  // A gather along dim 1 of a [4, 3*5] output: the packed [3, 4, 5] receive
  // buffer unpacked into blocks 5 wide and 15 apart.
  std::vector<float> packed(60), out(60);
  std::iota(packed.begin(), packed.end(), 0.0f);
  View blocks(out.data(), {3, 4, 5}, {5, 15, 1});
  EXPECT_EQ(checkCopy(View::packed(packed.data(), {3, 4, 5}), blocks, out), 3u);
  // And back (the reduce-scatter input packed).
  std::vector<float> back(60);
  EXPECT_EQ(checkCopy(blocks, View::packed(back.data(), {3, 4, 5}), back), 3u);
  EXPECT_EQ(back, packed);
}

TEST(StridedCopy, TransposedViewIsColumnsOfElements) {
  std::vector<float> in(24), out(24);
  std::iota(in.begin(), in.end(), 0.0f);
  View t(out.data(), {4, 6}, {1, 4});
  EXPECT_EQ(checkCopy(View::packed(in.data(), {4, 6}), t, out), 4u);
  EXPECT_EQ(out[1 + 4 * 2], 8.0f); // t[1][2] = in[1 * 6 + 2]
}

TEST(StridedCopy, OffsetsSizeOneDimensionsAndMergedDimensions) {
  std::vector<float> in(200), out(200);
  std::iota(in.begin(), in.end(), 0.0f);
  // A [2, 1, 3, 4] window at offset 7 of a [2, 1, 5, 8] buffer: rows of 4.
  View src(in.data() + 7, {2, 1, 3, 4}, {40, 999, 8, 1});
  EXPECT_EQ(checkCopy(src, View::packed(out.data(), {2, 1, 3, 4}), out), 2u);
  // Outer dimensions contiguous in both merge into one 2-D copy.
  View rows(in.data(), {2, 3, 4}, {48, 16, 1}); // 16-float rows, 4 used
  View dstRows(out.data(), {2, 3, 4}, {24, 8, 1});
  EXPECT_EQ(checkCopy(rows, dstRows, out), 1u);
}

TEST(StridedCopy, ScalarsAndEmptyViews) {
  std::vector<float> in = {5.0f}, out = {0.0f};
  EXPECT_EQ(checkCopy(View(in.data(), {}, {}), View(out.data(), {}, {}), out),
            1u);
  std::vector<Copy2D> copies;
  EXPECT_TRUE(planCopies(View::packed(in.data(), {0, 3}),
                         View::packed(out.data(), {0, 3}), 10, copies));
  EXPECT_TRUE(copies.empty());
}

TEST(StridedCopy, RefusesWhatItCannotExpress) {
  std::vector<float> in(64), out(64);
  std::vector<Copy2D> copies;
  // Too many copies: a transpose of 8 x 8 takes 8 column copies.
  EXPECT_FALSE(planCopies(View::packed(in.data(), {8, 8}),
                          View(out.data(), {8, 8}, {1, 8}), 7, copies));
  // Negative strides.
  EXPECT_FALSE(planCopies(View::packed(in.data(), {4}),
                          View(out.data() + 3, {4}, {-1}), 10, copies));
  // Rows that overlap (pitch below the width).
  EXPECT_FALSE(planCopies(View::packed(in.data(), {3, 4}),
                          View(out.data(), {3, 4}, {2, 1}), 10, copies));
  // A pitch above the limit.
  EXPECT_FALSE(planCopies(View::packed(in.data(), {2, 4}),
                          View(out.data(), {2, 4}, {8, 1}), 10, copies,
                          /*maxPitch=*/16));
  EXPECT_TRUE(copies.empty());
}

} // namespace
