//===- FaultTest.cpp - The LMCRT_FAULT parser -----------------------------===//
//
// Tests that LMCRT_FAULT values parse into the faults they name and that
// malformed values are usage errors naming LMCRT_FAULT (Core/Fault.h).
//
//===----------------------------------------------------------------------===//

#include "Core/Error.h"
#include "Core/Fault.h"

#include <gtest/gtest.h>

using namespace lmcrt;

namespace {

std::string parseError(const std::string &text) {
  try {
    fault::parse(text);
  } catch (const RuntimeError &e) {
    EXPECT_EQ(e.exitCode, kUsageExit) << text;
    return e.what();
  }
  ADD_FAILURE() << "no error for '" << text << "'";
  return "";
}

TEST(Fault, EmptyIsNoFault) { EXPECT_TRUE(fault::parse("").empty()); }

TEST(Fault, ParsesKindsAndKeys) {
  std::vector<fault::Spec> s = fault::parse(
      "hang:rank=1:step=5,nan:step=3:rank=0,crash-in-save:step=4,sigterm");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].kind, "hang");
  EXPECT_EQ(s[0].rank, 1);
  EXPECT_EQ(s[0].step, 5);
  EXPECT_EQ(s[1].kind, "nan");
  EXPECT_EQ(s[1].rank, 0);
  EXPECT_EQ(s[1].step, 3);
  EXPECT_EQ(s[2].kind, "crash-in-save");
  EXPECT_EQ(s[2].rank, -1);
  EXPECT_EQ(s[2].step, 4);
  EXPECT_EQ(s[3].kind, "sigterm");
  EXPECT_EQ(s[3].rank, -1);
  EXPECT_EQ(s[3].step, -1);
  for (const char *kind :
       {"crash", "nan-loss", "sigint", "sigterm", "hang", "nan"})
    EXPECT_EQ(fault::parse(std::string(kind) + ":step=2")[0].kind, kind);
}

TEST(Fault, MalformedIsUsageError) {
  EXPECT_NE(parseError("explode:step=1").find(
                "LMCRT_FAULT: 'explode:step=1': unknown kind 'explode'"),
            std::string::npos);
  EXPECT_NE(parseError("hang:step=x").find("step=x is not an integer >= 1"),
            std::string::npos);
  EXPECT_NE(parseError("hang:step=0").find("step=0 is not an integer >= 1"),
            std::string::npos);
  EXPECT_NE(parseError("hang:rank=-1").find("rank=-1 is not an integer >= 0"),
            std::string::npos);
  EXPECT_NE(parseError("hang:rank=1x").find("rank=1x"), std::string::npos);
  EXPECT_NE(parseError("hang:step").find("'step' is not KEY=VALUE"),
            std::string::npos);
  EXPECT_NE(parseError("hang:when=3").find("unknown key 'when'"),
            std::string::npos);
  EXPECT_NE(parseError("hang:step=1:step=2").find("step given twice"),
            std::string::npos);
  EXPECT_NE(parseError("hang:step=1,").find("no kind"), std::string::npos);
  EXPECT_NE(parseError(":step=1").find("no kind"), std::string::npos);
}

} // namespace
