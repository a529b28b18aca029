//===- MeshTestMain.h - main() of the runtime's MPI test binaries -*- C++ -*-=//
//
// The test binaries that run as one process and under mpirun on several
// meshes (lmcrt-collectives-tests, lmcrt-checkpoint-mpi-tests) share their
// main: `--dp=N --tp=N` (or LMCRT_TEST_DP / LMCRT_TEST_TP) give the mesh
// (default: tp 1, dp every process; `--pp=N` instead of `--dp=N` names the
// major axis pp, as pipeline parallelism does), the process group is set up for it, rank
// 0 prints the usual report and the other ranks only their failures, and the
// exit status, agreed over the world, is the same on every rank.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TEST_RUNTIME_MESHTESTMAIN_H
#define LMC_TEST_RUNTIME_MESHTESTMAIN_H

#include "Comm/Collectives.h"
#include "Core/Error.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace lmcrt::testing_mesh {

/// On ranks other than 0: print failures only, with the rank.
class FailurePrinter : public testing::EmptyTestEventListener {
public:
  explicit FailurePrinter(int rank) : rank(rank) {}
  void OnTestPartResult(const testing::TestPartResult &result) override {
    if (result.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank,
                   result.file_name() ? result.file_name() : "?",
                   result.line_number(), result.message());
  }
  void OnTestEnd(const testing::TestInfo &info) override {
    if (info.result()->Failed())
      std::fprintf(stderr, "[rank %d] [  FAILED  ] %s.%s\n", rank,
                   info.test_suite_name(), info.name());
  }

private:
  int rank;
};

/// Parses a positive integer; -1 on anything else.
inline int parsePositive(const char *text) {
  char *end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (!*text || *end || value < 1 || value > 1 << 20)
    return -1;
  return static_cast<int>(value);
}

/// The whole main(): `onMesh(dp, tp)` is called once the group is set up,
/// before the tests run.
inline int runMeshTests(int argc, char **argv, const char *program,
                        void (*onMesh)(int dp, int tp)) {
  testing::InitGoogleTest(&argc, argv);
  int dp = 0, tp = 0;
  if (const char *env = std::getenv("LMCRT_TEST_DP"))
    dp = parsePositive(env);
  if (const char *env = std::getenv("LMCRT_TEST_TP"))
    tp = parsePositive(env);
  std::string major = "dp";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--dp=", 0) == 0)
      dp = parsePositive(arg.c_str() + 5);
    else if (arg.rfind("--pp=", 0) == 0) {
      dp = parsePositive(arg.c_str() + 5);
      major = "pp";
    }
    else if (arg.rfind("--tp=", 0) == 0)
      tp = parsePositive(arg.c_str() + 5);
    else {
      std::fprintf(stderr,
                   "%s: error: unknown argument '%s' (--dp=N or --pp=N, "
                   "--tp=N and gtest's flags)\n",
                   program, argv[i]);
      return 2;
    }
    if (dp < 0 || tp < 0) {
      std::fprintf(stderr, "%s: error: bad mesh size in '%s'\n", program,
                   argv[i]);
      return 2;
    }
  }
  // Default mesh: tp = 1 and dp = every process.
  if (tp == 0)
    tp = 1;
  if (dp == 0) {
    const char *size = std::getenv("OMPI_COMM_WORLD_SIZE");
    int world = size ? parsePositive(size) : 1;
    dp = world > 0 && world % tp == 0 ? world / tp : 1;
  }

  try {
    comm::init(::lmc::MeshSpec{{{major, dp}, {"tp", tp}}});
  } catch (const RuntimeError &error) {
    // Every rank fails the same way; one of them says so before any exits.
    if (comm::rank() == 0)
      std::fprintf(stderr, "%s: error: %s\n", program, error.what());
    comm::finalize();
    return error.exitCode;
  }
  onMesh(dp, tp);

  int rank = comm::rank();
  if (rank != 0) {
    testing::TestEventListeners &listeners =
        testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }
  int failed = RUN_ALL_TESTS() != 0;
  // One status for the whole job.
  if (comm::usesMpi())
    comm::checkMpi(MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX,
                                 comm::communicator(comm::worldGroup())),
                   "agreeing on the test status");
  comm::finalize();
  return failed;
}

} // namespace lmcrt::testing_mesh

#endif // LMC_TEST_RUNTIME_MESHTESTMAIN_H
