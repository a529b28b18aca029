//===- NumericsTest.cpp - Non-finite scans and the loss-spike guard -------===//
//
// Tests that the host scan names the first non-finite element (parameters
// first, then the moments at their state offsets) and that the loss-spike
// guard's bound, decisions, stop and saved state are as Numerics.h says,
// against a mean and deviation computed here.
//
//===----------------------------------------------------------------------===//

#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Trainer/Numerics.h"
#include "TrainerTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

using namespace lmcrt;
using lmcrt::test::errorOf;

namespace {

const char *kModel = "lmc-model 2\n"
                     "name fake\n"
                     "dtype f32\n"
                     "vocab 16\n"
                     "context 8\n"
                     "params 2 68\n"
                     "param wte.weight 0 2 16 4 normal 2.000000e-02 1\n"
                     "param ln.weight 64 1 4 ones 0 0\n"
                     "end\n";

TEST(Numerics, FirstNonFiniteNamesTheTensorAndElement) {
  ModelInfo model = parseModelInfo(kModel);
  std::vector<float> p(68, 1.0f), m(68, 0.0f), v(68, 0.0f);
  EXPECT_EQ(firstNonFinite(model, p.data(), m.data(), v.data()), "");
  v[66] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(firstNonFinite(model, p.data(), m.data(), v.data()),
            "exp_avg_sq of ln.weight element 2 (inf)");
  m[5] = NAN;
  EXPECT_EQ(firstNonFinite(model, p.data(), m.data(), v.data()),
            "exp_avg of wte.weight element 5 (nan)");
  p[65] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(firstNonFinite(model, p.data(), m.data(), v.data()),
            "parameter ln.weight element 1 (-inf)");
  EXPECT_NE(errorOf([&] { checkFiniteParameters(model, p.data(), "--init-from x"); })
                .find("--init-from x: parameter ln.weight element 1 (-inf) is "
                      "not finite"),
            std::string::npos);
}

TEST(Numerics, SpikeGuardSkipsAboveMeanPlusZStddev) {
  SpikeGuard off(0, 4, 2);
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(std::isinf(off.maxLoss()));
  EXPECT_FALSE(off.record(1e30f, off.maxLoss(), 1));

  SpikeGuard guard(2, 4, 2);
  const float losses[] = {4.0f, 3.0f, 3.5f, 2.5f};
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(std::isinf(guard.maxLoss())); // window not full
    EXPECT_FALSE(guard.record(losses[i], guard.maxLoss(), i + 1));
  }
  // mean 3.25, population stddev sqrt(0.3125).
  double bound = 3.25 + 2 * std::sqrt(0.3125);
  EXPECT_EQ(guard.maxLoss(), static_cast<float>(bound));
  EXPECT_TRUE(guard.record(9.0f, guard.maxLoss(), 5));
  EXPECT_EQ(guard.totalSkips(), 1);
  // A skipped loss stays out of the window; NaN is not a spike.
  EXPECT_EQ(guard.maxLoss(), static_cast<float>(bound));
  EXPECT_FALSE(guard.record(NAN, guard.maxLoss(), 6));
  // The state round-trips bit for bit.
  SpikeGuard copy(2, 4, 2);
  copy.load(guard.save(), "ckpt");
  EXPECT_EQ(copy.save(), guard.save());
  EXPECT_EQ(copy.maxLoss(), guard.maxLoss());
  // Two consecutive skips stop.
  EXPECT_TRUE(copy.record(9.0f, copy.maxLoss(), 7));
  EXPECT_NE(errorOf([&] { copy.record(9.0f, copy.maxLoss(), 8); })
                .find("--spike-max-skips 2: 2 consecutive loss spikes "
                      "skipped, the last at step 8"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { copy.load("1 x", "ckpt"); })
                .find("ckpt: metadata spike_guard is malformed"),
            std::string::npos);
}

} // namespace
