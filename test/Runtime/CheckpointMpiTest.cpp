//===- CheckpointMpiTest.cpp - Checkpoints of a model split over ranks ----===//
//
// Tests the checkpoint assembly of lib/Runtime/Trainer/Checkpoint.h over MPI:
// test/Runtime/checkpoint-mpi.test runs this binary as one process and under
// mpirun on the meshes dp=2, tp=2 and dp=2 x tp=2 (`--dp=N --tp=N`, see
// MeshTestMain.h). Each rank holds its pieces of a synthetic model
// (ShardedModel.h: tp sharding with 1 and 3 blocks, replicated parameters,
// with and without ZeRO-1 state), computed in closed form; saveCheckpoint
// gathers them on rank 0, which writes the global model; rank 0 checks every
// tensor of the file, then every rank reads the file back and must find its
// own pieces, and also the pieces of every rank of other meshes (resuming
// under another mesh). A write that fails on rank 0 must fail on every rank.
//
//===----------------------------------------------------------------------===//

#include "Comm/Collectives.h"
#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Core/Sharding.h"
#include "MeshTestMain.h"
#include "ShardedModel.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/Flags.h"
#include "Trainer/Safetensors.h"

#include "lmc/Runtime/lmcrt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::testing_sharded;

namespace {

int meshDp = 1, meshTp = 1;

/// A directory that every rank shares: rank 0 creates it and tells the
/// others; rank 0 removes it at the end.
class SharedDir {
public:
  SharedDir() {
    char buffer[256] = {0};
    if (comm::rank() == 0) {
      const char *base = std::getenv("TMPDIR");
      std::string tmpl =
          std::string(base ? base : "/tmp") + "/lmcrt-ckpt-mpi.XXXXXX";
      tmpl.copy(buffer, sizeof(buffer) - 1);
      if (!::mkdtemp(buffer))
        buffer[0] = '\0';
    }
    comm::broadcast(comm::worldGroup(), buffer, sizeof(buffer));
    path = buffer;
  }
  ~SharedDir() {
    // Nobody uses it any more once every rank got here (a broadcast would
    // not do: its root may return before the others arrive).
    if (comm::usesMpi())
      comm::checkMpi(MPI_Barrier(comm::communicator(comm::worldGroup())),
                     "barrier (test)");
    if (comm::rank() == 0 && !path.empty())
      std::system(("rm -rf '" + path + "'").c_str());
  }
  std::string path;
};

Config configFor(const std::string &dir, const ModelInfo &model) {
  std::vector<std::string> words = {"train",      "--data", "d.bin",
                                    "--ckpt-dir", dir,      "--resume"};
  std::vector<char *> argv;
  for (std::string &w : words)
    argv.push_back(&w[0]);
  Config config = parseFlags(static_cast<int>(argv.size()), argv.data());
  validateConfig(config, model);
  return config;
}

MeshCoord myCoord() {
  // The mesh [dp, tp]: group 1 is dp, group 2 tp.
  return {comm::groupRank(1), comm::groupRank(2)};
}

void saveAndReadBack(bool zero1) {
  SharedDir dir;
  ASSERT_FALSE(dir.path.empty());
  ModelInfo model = parseModelInfo(modelText(meshDp, meshTp, zero1));
  Config config = configFor(dir.path, model);
  const MeshCoord coord = myCoord();
  std::vector<std::vector<float>> mine = rankBuffers(model, coord);
  TrainState state{7, 1, 2, 0x1234};
  std::string path =
      saveCheckpoint(dir.path, model, config, state, mine[0].data(),
                     mine[1].data(), mine[2].data());
  EXPECT_EQ(path, dir.path + "/ckpt_00000007.safetensors");
  // saveCheckpoint returned on every rank: the file is complete.
  EXPECT_EQ(latestCheckpoint(dir.path), path);

  // Rank 0 (and everyone, the file being shared) finds the global tensors.
  std::vector<std::vector<float>> global = globalBuffers(model);
  SafetensorsHeader file = readSafetensorsHeader(path);
  EXPECT_EQ(file.tensors.size(), 3 * model.params.size());
  const char *prefixes[3] = {"", "exp_avg.", "exp_avg_sq."};
  for (const ParamInfo &p : model.params)
    for (int kind = 0; kind < 3; ++kind) {
      const TensorEntry *t = file.find(prefixes[kind] + p.name);
      ASSERT_NE(t, nullptr) << prefixes[kind] << p.name;
      EXPECT_EQ(t->shape, p.shape);
      std::vector<float> data(p.numel);
      readTensorBytes(file, *t, data.data());
      std::vector<float> expected(global[kind].begin() + p.globalOffset,
                                  global[kind].begin() + p.globalOffset +
                                      p.numel);
      EXPECT_EQ(data, expected) << prefixes[kind] << p.name;
    }

  // Every rank reads back its own pieces.
  std::vector<float> params(model.total), a(model.stateTotal),
      b(model.stateTotal);
  TrainState back = readCheckpoint(path, model, config, params.data(), a.data(),
                                   b.data(), coord);
  EXPECT_EQ(back.step, 7);
  EXPECT_EQ(back.rng, 0x1234u);
  EXPECT_EQ(params, mine[0]);
  EXPECT_EQ(a, mine[1]);
  EXPECT_EQ(b, mine[2]);

  // Resuming under other meshes: each rank reads, for every rank of every
  // mesh, that rank's pieces (the hash does not depend on the mesh).
  for (int64_t dp : {1, 2})
    for (int64_t tp : {1, 2})
      for (bool otherZero1 : {false, true}) {
        ModelInfo other = parseModelInfo(modelText(dp, tp, otherZero1));
        for (int64_t r = 0; r < dp * tp; ++r) {
          MeshCoord c = meshCoordOf(other, r);
          std::vector<float> p(other.total), m(other.stateTotal),
              v(other.stateTotal);
          readCheckpoint(path, other, config, p.data(), m.data(), v.data(), c);
          std::vector<std::vector<float>> expected = rankBuffers(other, c);
          EXPECT_EQ(p, expected[0]) << dp << "x" << tp << " rank " << r;
          EXPECT_EQ(m, expected[1]) << dp << "x" << tp << " rank " << r;
          EXPECT_EQ(v, expected[2]) << dp << "x" << tp << " rank " << r;
        }
      }

  // A second checkpoint written from the pieces read back is the same file.
  std::string again =
      saveCheckpoint(dir.path, model, config, TrainState{8, 1, 2, 0x1234},
                     params.data(), a.data(), b.data());
  SafetensorsHeader second = readSafetensorsHeader(again);
  for (const ParamInfo &p : model.params) {
    std::vector<float> x(p.numel), y(p.numel);
    readTensorBytes(file, *file.find("exp_avg_sq." + p.name), x.data());
    readTensorBytes(second, *second.find("exp_avg_sq." + p.name), y.data());
    EXPECT_EQ(x, y) << p.name;
  }
}

TEST(CheckpointMpi, AssemblesOnRankZeroAndReadsBackEachPiece) {
  saveAndReadBack(/*zero1=*/false);
}

TEST(CheckpointMpi, AssemblesZeroOneStateAndReadsBackEachPiece) {
  saveAndReadBack(/*zero1=*/true);
}

TEST(CheckpointMpi, AFailedWriteFailsOnEveryRank) {
  SharedDir dir;
  ASSERT_FALSE(dir.path.empty());
  ModelInfo model = parseModelInfo(modelText(meshDp, meshTp, true));
  // The checkpoint directory would be inside a regular file.
  std::string blocker = dir.path + "/file";
  if (comm::rank() == 0)
    std::system(("touch '" + blocker + "'").c_str());
  Config config = configFor(blocker + "/ckpt", model);
  std::vector<std::vector<float>> mine = rankBuffers(model, myCoord());
  std::string message;
  int code = 0;
  try {
    saveCheckpoint(blocker + "/ckpt", model, config, TrainState{},
                   mine[0].data(), mine[1].data(), mine[2].data());
  } catch (const RuntimeError &e) {
    message = e.what();
    code = e.exitCode;
  }
  // Every rank reports rank 0's error.
  EXPECT_EQ(code, kFailureExit);
  EXPECT_NE(message.find(blocker + "/ckpt: cannot create directory"),
            std::string::npos)
      << message;
}

TEST(CheckpointMpi, AxisIndexIsTheMeshCoordinate) {
  int rank = comm::rank();
  // Bit masks over the mesh [dp, tp]: 1 dp, 2 tp, 3 both.
  EXPECT_EQ(lmcrt_axis_index(1), rank / meshTp);
  EXPECT_EQ(lmcrt_axis_index(2), rank % meshTp);
  EXPECT_EQ(lmcrt_axis_index(3), rank);
}

} // namespace

int main(int argc, char **argv) {
  return testing_mesh::runMeshTests(argc, argv, "lmcrt-checkpoint-mpi-tests",
                                    [](int dp, int tp) {
                                      meshDp = dp;
                                      meshTp = tp;
                                    });
}
