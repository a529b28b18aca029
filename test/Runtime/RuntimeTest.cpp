//===- RuntimeTest.cpp - Unit tests of the lmc runtime --------------------===//
//
// Tests the pieces of lib/Runtime that need no compiled model: the model
// description, flags, the data loader, safetensors, checkpoints, memrefCopy
// and initialisation; and the trainer itself, driven by a fake model.
// test/Runtime/runtime-unit.test runs this binary under lit.
//
//===----------------------------------------------------------------------===//

#include "Core/Error.h"
#include "Core/ModelFunctions.h"
#include "Core/ModelInfo.h"
#include "Core/StepMemory.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/DataLoader.h"
#include "Trainer/Flags.h"
#include "Trainer/Init.h"
#include "Trainer/Json.h"
#include "Trainer/LogitsDump.h"
#include "Trainer/Safetensors.h"
#include "Trainer/Sampler.h"

#include "lmc/Runtime/lmcrt.h"
#include "TrainerTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tuple>
#include <unistd.h>

#include <omp.h>

using namespace lmcrt;
using lmcrt::test::errorOf;
using lmcrt::test::TempDir;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string le32(int32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i)
    s[i] = static_cast<char>(static_cast<uint32_t>(v) >> (8 * i));
  return s;
}

/// An llm.c shard with the given header fields and tokens.
std::string shardBytes(const std::vector<int> &tokens,
                       int32_t magic = kShardMagic,
                       int32_t version = kShardVersion, int64_t count = -1) {
  std::string s = le32(magic) + le32(version) +
                  le32(static_cast<int32_t>(count < 0 ? tokens.size() : count));
  s.resize(kShardHeaderBytes, '\0');
  for (int t : tokens) {
    s += static_cast<char>(t & 0xff);
    s += static_cast<char>((t >> 8) & 0xff);
  }
  return s;
}

#define EXPECT_ERROR(stmt, substring)                                          \
  do {                                                                         \
    std::string message_ = errorOf([&] { stmt; });                             \
    EXPECT_NE(message_.find(substring), std::string::npos)                     \
        << "message: " << message_;                                            \
  } while (0)

const char *kTinyModel = "lmc-model 2\n"
                         "name fake\n"
                         "dtype f32\n"
                         "vocab 16\n"
                         "context 8\n"
                         "params 4 79\n"
                         "param wte.weight 0 2 16 4 normal 2.000000e-02 1\n"
                         "param h.0.ln_1.weight 64 1 4 ones 0 0\n"
                         "param h.1.mlp.c_fc.weight 68 2 4 2 normal 0.5 1\n"
                         "param ln_f.bias 76 1 3 zeros 0 0\n"
                         "end\n";

ModelInfo tinyModel() { return parseModelInfo(kTinyModel); }

/// argv from a list of words (argv[0] = "train").
struct Args {
  explicit Args(std::vector<std::string> words) : storage(std::move(words)) {
    storage.insert(storage.begin(), "train");
    for (std::string &w : storage)
      pointers.push_back(&w[0]);
    pointers.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(storage.size()); }
  char **argv() { return pointers.data(); }
  std::vector<std::string> storage;
  std::vector<char *> pointers;
};

Config flags(std::vector<std::string> words) {
  Args args(std::move(words));
  return parseFlags(args.argc(), args.argv());
}

//===----------------------------------------------------------------------===//
// Model description
//===----------------------------------------------------------------------===//

TEST(ModelInfo, ReadsTheMeshAndLeavesItOutOfTheHash) {
  ModelInfo plain = tinyModel();
  EXPECT_EQ(plain.numRanks(), 1);
  EXPECT_TRUE(plain.mesh.axes.empty());
  std::string text = kTinyModel;
  text.insert(text.find("params "), "mesh dp=2,tp=1\nbatch dp\n");
  ModelInfo meshed = parseModelInfo(text);
  ASSERT_EQ(meshed.mesh.axes.size(), 2u);
  EXPECT_EQ(meshed.mesh.axes[0].name, "dp");
  EXPECT_EQ(meshed.mesh.axes[0].size, 2);
  EXPECT_EQ(meshed.mesh.axes[1].name, "tp");
  EXPECT_EQ(meshed.mesh.axes[1].size, 1);
  EXPECT_EQ(meshed.batchAxes, 1u);
  EXPECT_EQ(meshed.batchParts(), 2);
  EXPECT_EQ(meshed.meshText(), "dp=2 x tp=1");
  // Checkpoints hold the full model: programs for other meshes share them.
  EXPECT_EQ(meshed.hash(), plain.hash());
  std::string renamed = kTinyModel;
  renamed.replace(renamed.find("fake"), 4, "other");
  EXPECT_NE(parseModelInfo(renamed).hash(), plain.hash());
  for (const char *bad :
       {"mesh dp=0,tp=1\n", "mesh 2 1\n", "mesh dp=two\n", "mesh\n",
        "mesh dp=2,dp=2\n", "mesh dp=2\nbatch tp\n", "mesh dp=2\nbatch dp dp\n",
        "mesh a=1,b=1,c=1,d=1,e=1,f=1,g=1\n"}) {
    std::string broken = kTinyModel;
    broken.insert(broken.find("params "), bad);
    EXPECT_THROW(parseModelInfo(broken), RuntimeError) << bad;
  }
  // A mesh of other axes: the runtime gives none a meaning of its own.
  std::string other = kTinyModel;
  other.insert(other.find("params "), "mesh pp=2,sp=3\nbatch sp\n");
  ModelInfo generic = parseModelInfo(other);
  EXPECT_EQ(generic.numRanks(), 6);
  EXPECT_EQ(generic.batchAxes, 2u);
  EXPECT_EQ(generic.batchParts(), 3);
  EXPECT_EQ(generic.hash(), plain.hash());
  std::string unknownBatch = kTinyModel;
  unknownBatch.insert(unknownBatch.find("params "), "mesh dp=2\nbatch tp\n");
  EXPECT_ERROR(parseModelInfo(unknownBatch),
               "line 7: batch axis 'tp' is not an axis of the mesh dp=2");
}

TEST(ModelInfo, ReadsTheSequenceAxesOfSequenceParallelism) {
  // Without a `sequence` line nothing splits the sequence.
  EXPECT_EQ(tinyModel().sequenceAxes, 0u);
  EXPECT_EQ(tinyModel().sequenceParts(), 1);
  std::string text = kTinyModel;
  text.insert(text.find("params "), "mesh dp=2,tp=4\nbatch dp\nsequence tp\n");
  ModelInfo split = parseModelInfo(text);
  EXPECT_EQ(split.sequenceAxes, 2u);
  EXPECT_EQ(split.sequenceParts(), 4);
  EXPECT_EQ(split.batchParts(), 2);
  // The checkpoint layout does not depend on it.
  EXPECT_EQ(split.hash(), tinyModel().hash());
  std::string twice = kTinyModel;
  twice.insert(twice.find("params "), "mesh dp=2,tp=4\nsequence tp tp\n");
  EXPECT_ERROR(parseModelInfo(twice), "sequence axis 'tp' given twice");
  std::string unknown = kTinyModel;
  unknown.insert(unknown.find("params "), "mesh dp=2\nsequence tp\n");
  EXPECT_ERROR(parseModelInfo(unknown),
               "sequence axis 'tp' is not an axis of the mesh dp=2");
}

TEST(ModelInfo, ReadsThePipelineAndLeavesItOutOfTheHash) {
  EXPECT_FALSE(tinyModel().pipelined());
  EXPECT_EQ(tinyModel().pipelineGroup(), 0u);
  EXPECT_TRUE(tinyModel().params[0].stages.empty());
  // pp=2 x dp=2: a stage line after each param line (and its shard lines),
  // the tied embedding held by both stages, HOME first.
  auto pipelined = [](const std::string &pipeline,
                      const std::vector<std::string> &stages) {
    std::string text = kTinyModel;
    text.insert(text.find("params "), "mesh pp=2,dp=2\nbatch dp\n" + pipeline);
    const char *names[] = {"wte.weight", "h.0.ln_1.weight",
                           "h.1.mlp.c_fc.weight", "ln_f.bias"};
    for (size_t i = 0; i < 4; ++i) {
      if (stages[i].empty())
        continue;
      size_t line = text.find(std::string("param ") + names[i] + " ");
      size_t end = text.find('\n', line) + 1;
      text.insert(end, stages[i]);
    }
    return text;
  };
  const std::vector<std::string> stages = {
      "stage wte.weight 0 1\n", "stage h.0.ln_1.weight 0\n",
      "stage h.1.mlp.c_fc.weight 1\n", "stage ln_f.bias 1\n"};
  ModelInfo m = parseModelInfo(pipelined("pipeline pp 2 4 1f1b\n", stages));
  ASSERT_TRUE(m.pipelined());
  EXPECT_EQ(m.pipeline.axis, 0);
  EXPECT_EQ(m.pipelineGroup(), 1u);
  EXPECT_EQ(m.pipeline.stages, 2);
  EXPECT_EQ(m.pipeline.microbatches, 4);
  EXPECT_EQ(m.pipeline.schedule, "1f1b");
  EXPECT_EQ(m.params[0].stages, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(m.params[1].stages, (std::vector<int64_t>{0}));
  EXPECT_EQ(m.params[2].stages, (std::vector<int64_t>{1}));
  EXPECT_EQ(m.params[3].stages, (std::vector<int64_t>{1}));
  // Every rank holds the full layout: nothing is split.
  EXPECT_FALSE(m.isSharded());
  // Checkpoints move between programs with and without a pipeline.
  EXPECT_EQ(m.hash(), tinyModel().hash());
  EXPECT_EQ(m.globalText(), tinyModel().globalText());
  ModelInfo gpipe = parseModelInfo(pipelined(
      "pipeline pp 2 1 gpipe\n",
      {"stage wte.weight 1 0\n", "stage h.0.ln_1.weight 0\n",
       "stage h.1.mlp.c_fc.weight 1\n", "stage ln_f.bias 1\n"}));
  EXPECT_EQ(gpipe.pipeline.schedule, "gpipe");
  EXPECT_EQ(gpipe.pipeline.microbatches, 1);
  EXPECT_EQ(gpipe.params[0].stages, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(gpipe.hash(), tinyModel().hash());

  // Located one-line errors. Lines: 6 mesh, 7 batch, 8 pipeline, 9 params,
  // 10 param wte.weight, 11 its stage line.
  struct Case {
    std::string pipeline;
    std::vector<std::string> stages;
    std::string message;
  } cases[] = {
      {"pipeline pp 2 4\n", stages, "line 8: expected 5 fields, got 4"},
      {"pipeline xp 2 4 1f1b\n", stages,
       "line 8: pipeline axis 'xp' is not an axis of the mesh pp=2,dp=2"},
      {"pipeline dp 2 4 1f1b\n", stages,
       "line 8: the pipeline axis 'dp' also splits the batch"},
      {"pipeline pp 3 4 1f1b\n", stages,
       "line 8: the pipeline has 3 stages, but its axis 'pp' has 2 ranks"},
      {"pipeline pp 2 0 1f1b\n", stages, "line 8: bad micro-batch count '0'"},
      {"pipeline pp 2 4 zb\n", stages,
       "line 8: unknown pipeline schedule 'zb' (1f1b or gpipe)"},
      {"pipeline pp 2 4 1f1b\n",
       {"", stages[1], stages[2], stages[3]},
       "line 11: expected the stage line of 'wte.weight' (every parameter of "
       "a pipelined program has one"},
      {"pipeline pp 2 4 1f1b\n",
       {"stage wte.weight 0 2\n", stages[1], stages[2], stages[3]},
       "line 11: stage 2 of 'wte.weight' is not a stage of the pipeline (0 "
       "to 1)"},
      {"pipeline pp 2 4 1f1b\n",
       {"stage wte.weight 1 1\n", stages[1], stages[2], stages[3]},
       "line 11: stage 1 given twice for 'wte.weight'"},
      {"pipeline pp 2 4 1f1b\n",
       {"stage wte.weight\n", stages[1], stages[2], stages[3]},
       "line 11: expected 'stage NAME HOME [OTHER...]'"},
      {"pipeline pp 2 4 1f1b\n",
       {"stage wte.weight -1\n", stages[1], stages[2], stages[3]},
       "line 11: bad stage '-1'"},
      {"pipeline pp 2 4 1f1b\n",
       {"stage ln_f.bias 0\n", stages[1], stages[2], stages[3]},
       "line 11: stage line for 'ln_f.bias' does not follow its param line "
       "(the line before is about 'wte.weight')"},
      {"pipeline pp 2 4 1f1b\n",
       {"stage lm_head.weight 0\n", stages[1], stages[2], stages[3]},
       "line 11: stage line for unknown parameter 'lm_head.weight'"},
      // A stage line without a pipeline line.
      {"", stages, "line 10: a stage line without a pipeline line"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.pipeline);
    EXPECT_ERROR(parseModelInfo(pipelined(c.pipeline, c.stages)), c.message);
  }
  // No pipeline without a mesh axis for it; not over a split of the
  // parameters or the moments; not with dp_sync local.
  std::string noMesh = kTinyModel;
  noMesh.insert(noMesh.find("params "), "pipeline pp 2 4 1f1b\n");
  EXPECT_ERROR(parseModelInfo(noMesh),
               "line 6: pipeline axis 'pp' is not an axis of the mesh (there "
               "is no mesh line)");
  std::string local = kTinyModel;
  local.insert(local.find("params "),
               "mesh pp=2,dp=2\nbatch dp\ndp_sync local\npipeline pp 2 4 "
               "1f1b\n");
  EXPECT_ERROR(parseModelInfo(local),
               "line 9: a pipeline does not compose with dp_sync local");
  std::string split = pipelined("pipeline pp 2 4 1f1b\n", stages);
  split.insert(split.find("stage wte.weight"), "shard wte.weight pp 0 1\n");
  EXPECT_ERROR(parseModelInfo(split),
               "line 11: 'wte.weight' is split over the pipeline axis 'pp'");
  // The stage line after the shard lines.
  std::string sharded = pipelined("pipeline pp 2 4 1f1b\n", stages);
  sharded.insert(sharded.find("stage wte.weight"), "shard wte.weight dp 0 1\n");
  ModelInfo withShard = parseModelInfo(sharded);
  EXPECT_EQ(withShard.params[0].localShape, (std::vector<int64_t>{8, 4}));
  EXPECT_EQ(withShard.params[0].stages, (std::vector<int64_t>{0, 1}));
}

TEST(MeshSpec, ParsesOrderedNamedAxes) {
  ::lmc::MeshSpec mesh;
  std::string error;
  ASSERT_TRUE(::lmc::MeshSpec::parse("dp=2, tp=3", mesh, error)) << error;
  ASSERT_EQ(mesh.axes.size(), 2u);
  EXPECT_EQ(mesh.str(), "dp=2,tp=3");
  EXPECT_EQ(mesh.numDevices(), 6);
  EXPECT_EQ(mesh.find("tp"), 1);
  EXPECT_EQ(mesh.find("pp"), -1);
  EXPECT_EQ(mesh.sizeOf("pp"), 1);
  // Row-major, the last axis fastest: rank 5 is (1, 2).
  EXPECT_EQ(mesh.coordsOf(5), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(mesh.rankOf({1, 2}), 5);
  // Groups are bit masks: 1 dp, 2 tp, 3 both.
  EXPECT_EQ(mesh.groupSize(1), 2);
  EXPECT_EQ(mesh.groupSize(2), 3);
  EXPECT_EQ(mesh.groupSize(3), 6);
  EXPECT_EQ(mesh.groupIndex({1, 2}, 1), 1);
  EXPECT_EQ(mesh.groupIndex({1, 2}, 2), 2);
  EXPECT_EQ(mesh.groupIndex({1, 2}, 3), 5);
  EXPECT_EQ(mesh.groupColor({1, 2}, 1), 2); // the tp coordinate
  EXPECT_EQ(mesh.groupColor({1, 2}, 2), 1); // the dp coordinate
  EXPECT_EQ(mesh.groupName(3), "dp x tp");
  ASSERT_TRUE(::lmc::MeshSpec::parse("pp=4", mesh, error)) << error;
  EXPECT_EQ(mesh.allAxes(), 1u);
  for (auto [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"", "expected axis=size"},
           {"dp", "'dp': the size must be a positive integer"},
           {"dp=0", "'dp=0': the size must be a positive integer"},
           {"dp=-1", "the size must be a positive integer"},
           {"2=dp", "'2=dp': the axis name must be an identifier"},
           {"dp=2,dp=2", "axis 'dp' given twice"},
           {"dp=2,,tp=2", "expected axis=size"},
           {"a=65536,b=65536", "a mesh has at most 1048576 ranks"},
           {"dp=65537", "axis 'dp': size 65537 is above 65536"},
           {"dp=99999999999", "axis 'dp': size 99999999999 is above 65536"},
           {"dp=99999999999999999999999", "is above 65536"}}) {
    EXPECT_FALSE(::lmc::MeshSpec::parse(text, mesh, error)) << text;
    EXPECT_NE(error.find(message), std::string::npos) << text << ": " << error;
  }
}

TEST(ModelInfo, ReadsTheDpSyncModeAndLeavesItOutOfTheHash) {
  ModelInfo plain = tinyModel();
  EXPECT_FALSE(plain.dpSyncLocal);
  std::string text = kTinyModel;
  text.insert(text.find("params "), "mesh dp=2,tp=1\nbatch dp\n");
  EXPECT_FALSE(parseModelInfo(text).dpSyncLocal);
  std::string local = kTinyModel;
  local.insert(local.find("params "),
               "mesh dp=2,tp=1\nbatch dp\ndp_sync local\n");
  ModelInfo info = parseModelInfo(local);
  EXPECT_TRUE(info.dpSyncLocal);
  // A checkpoint of the averaged model loads into either mode's program.
  EXPECT_EQ(info.hash(), plain.hash());
  std::string allreduce = kTinyModel;
  allreduce.insert(allreduce.find("params "),
                   "mesh dp=2\nbatch dp\ndp_sync allreduce\n");
  EXPECT_FALSE(parseModelInfo(allreduce).dpSyncLocal);
  std::string unknown = kTinyModel;
  unknown.insert(unknown.find("params "),
                 "mesh dp=2\nbatch dp\ndp_sync sometimes\n");
  EXPECT_ERROR(parseModelInfo(unknown),
               "line 8: unknown dp_sync 'sometimes' (local or allreduce)");
  std::string oneReplica = kTinyModel;
  oneReplica.insert(oneReplica.find("params "),
                    "mesh dp=1,tp=2\nbatch dp\ndp_sync local\n");
  EXPECT_ERROR(parseModelInfo(oneReplica),
               "line 8: dp_sync local needs batch axes spanning more than one "
               "rank");
  // Only after the mesh (and its batch line).
  std::string noMesh = kTinyModel;
  noMesh.insert(noMesh.find("params "), "dp_sync local\n");
  EXPECT_THROW(parseModelInfo(noMesh), RuntimeError);
}

TEST(ModelInfo, ReadsTheTargetAndLeavesItOutOfTheHash) {
  EXPECT_EQ(tinyModel().target, "cpu");
  for (const char *target : {"cpu", "cuda"}) {
    std::string text = kTinyModel;
    text.insert(text.find("vocab "), std::string("target ") + target + "\n");
    ModelInfo m = parseModelInfo(text);
    EXPECT_EQ(m.target, target);
    // Checkpoints move between targets.
    EXPECT_EQ(m.hash(), tinyModel().hash());
  }
  // Unknown targets, missing or extra fields, and a target line elsewhere
  // than right after dtype.
  for (const char *bad : {"target gpu\n", "target\n", "target cuda cpu\n"}) {
    std::string broken = kTinyModel;
    broken.insert(broken.find("vocab "), bad);
    SCOPED_TRACE(bad);
    EXPECT_ERROR(parseModelInfo(broken), "line 4");
  }
  std::string unknown = kTinyModel;
  unknown.insert(unknown.find("vocab "), "target rocm\n");
  EXPECT_ERROR(parseModelInfo(unknown), "unknown target 'rocm' (cpu or cuda)");
  std::string late = kTinyModel;
  late.insert(late.find("params "), "target cuda\n");
  EXPECT_THROW(parseModelInfo(late), RuntimeError);
}

TEST(ModelInfo, ParsesTheDescription) {
  ModelInfo m = tinyModel();
  EXPECT_EQ(m.name, "fake");
  EXPECT_EQ(m.vocab, 16);
  EXPECT_EQ(m.context, 8);
  EXPECT_EQ(m.total, 79);
  ASSERT_EQ(m.params.size(), 4u);
  EXPECT_EQ(m.params[0].shape, (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(m.params[0].init, InitKind::Normal);
  EXPECT_DOUBLE_EQ(m.params[0].std, 0.02);
  EXPECT_TRUE(m.params[0].decay);
  EXPECT_EQ(m.params[1].init, InitKind::Ones);
  EXPECT_FALSE(m.params[1].decay);
  EXPECT_EQ(m.params[3].offset, 76);
  // Layers and attention width come from the attention line (none here).
  EXPECT_EQ(m.attentionLayers, 0);
  std::string text = kTinyModel;
  text.insert(text.find("params "), "attention 2 4\n");
  ModelInfo withAttention = parseModelInfo(text);
  EXPECT_EQ(withAttention.attentionLayers, 2);
  EXPECT_EQ(withAttention.attentionWidth, 4);
  EXPECT_NE(m.find("ln_f.bias"), nullptr);
  EXPECT_EQ(m.find("nope"), nullptr);
}

TEST(ModelInfo, ContextAndAttentionAreOptionalAndNamesMeanNothing) {
  // A model with rotary embeddings fixes no context; the attention line
  // alone gives layers and width, whatever the parameters are called
  // (Llama's names here), and both lines count in the hash when present.
  std::string text = kTinyModel;
  text.replace(text.find("context 8"), 9, "attention 3 8");
  for (const char *from :
       {"wte.weight", "h.0.ln_1.weight", "h.1.mlp.c_fc.weight", "ln_f.bias"}) {
    std::string to = std::string("model.layers.") + from;
    text.replace(text.find(from), std::strlen(from), to);
  }
  ModelInfo m = parseModelInfo(text);
  EXPECT_EQ(m.context, 0);
  EXPECT_EQ(m.attentionLayers, 3);
  EXPECT_EQ(m.attentionWidth, 8);
  EXPECT_EQ(m.canonicalText().find("context"), std::string::npos);
  EXPECT_NE(m.canonicalText().find("\nattention 3 8\n"), std::string::npos);
  std::string withAttention = kTinyModel;
  withAttention.insert(withAttention.find("params "), "attention 2 4\n");
  EXPECT_NE(parseModelInfo(withAttention).hash(), tinyModel().hash());
  // Any --seq for a model without a context; 64 by default.
  Config c = flags({"--data", "d.bin", "--seq", "4096"});
  validateConfig(c, m);
  EXPECT_EQ(c.seq, 4096);
  Config byDefault = flags({"--data", "d.bin"});
  validateConfig(byDefault, m);
  EXPECT_EQ(byDefault.seq, 64);
  // Malformed lines, and lines out of order.
  for (const char *bad : {"attention 2\n", "attention 0 4\n", "attention x 4\n",
                          "attention 2 4 1\n"}) {
    std::string broken = kTinyModel;
    broken.insert(broken.find("params "), bad);
    SCOPED_TRACE(bad);
    EXPECT_ERROR(parseModelInfo(broken), "line 6");
  }
  std::string late = kTinyModel;
  late.insert(late.find("params "), "mesh dp=1\nattention 2 4\n");
  EXPECT_THROW(parseModelInfo(late), RuntimeError);
}

TEST(ModelInfo, RejectsBadDescriptions) {
  auto replace = [](std::string from, std::string to) {
    std::string text = kTinyModel;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  struct Case {
    std::string text, message;
  } cases[] = {
      {"", "does not end with a newline"},
      {replace("lmc-model 2", "lmc-model 1"),
       "line 1: unsupported description version '1' (this runtime reads "
       "version 2; recompile the model"},
      {replace("dtype f32", "dtype bf16"), "line 3: unsupported dtype"},
      {replace("vocab 16", "vocab 0"), "line 4: bad vocab '0'"},
      {replace("context 8", "context x"), "line 5: bad context"},
      {replace("params 4 79", "params 4 80"), "cover 79 of the 80"},
      {replace("params 4 79", "params 5 79"), "expected 'param'"},
      {replace("1 4 ones", "1 4 uniform"), "line 8: unknown init 'uniform'"},
      {replace("normal 0.5 1", "normal -0.5 1"), "bad std"},
      {replace("ones 0 0", "ones 0 2"), "decay must be 0 or 1"},
      {replace("h.0.ln_1.weight 64", "h.0.ln_1.weight 63"), "overlaps"},
      {replace("ln_f.bias 76 1 3", "ln_f.bias 76 1 4"), "past the 79 total"},
      {replace("h.1.mlp.c_fc.weight", "wte.weight"),
       "duplicate parameter 'wte.weight'"},
      {replace("2 16 4 normal", "2 16 0 normal"), "bad dimension"},
      {replace("2 16 4 normal", "3 16 4 normal"), "expected 10 fields"},
      {replace("end\n", "end\nmore\n"), "unexpected text after 'end'"},
      {replace("end\n", ""), "missing line 'end'"},
  };
  for (const Case &c : cases)
    EXPECT_ERROR(parseModelInfo(c.text), c.message);
}

//===----------------------------------------------------------------------===//
// Flags
//===----------------------------------------------------------------------===//

TEST(Flags, ParsesBothForms) {
  Config c = flags({"--data", "a.bin", "--steps=7", "--batch", "3", "--seq=5",
                    "--lr", "1e-3", "--lr-schedule=cosine", "--grad-clip", "0",
                    "--seed", "42", "--resume", "--ckpt-dir", "d"});
  EXPECT_EQ(c.data, "a.bin");
  EXPECT_EQ(c.steps, 7);
  EXPECT_EQ(c.batch, 3);
  EXPECT_EQ(c.seq, 5);
  EXPECT_FLOAT_EQ(c.lr, 1e-3f);
  EXPECT_EQ(c.lrSchedule, "cosine");
  EXPECT_EQ(c.gradClip, 0.0f);
  EXPECT_EQ(c.seed, 42u);
  EXPECT_TRUE(c.resume);
  ModelInfo m = tinyModel();
  validateConfig(c, m);
  EXPECT_EQ(decaySteps(c), 7);
  Config d = flags({"--data", "x"});
  validateConfig(d, m);
  EXPECT_EQ(d.seq, 8); // min(64, context)
  EXPECT_EQ(decaySteps(d), 0);
  EXPECT_NE(configTable(d, m).find("| batch"), std::string::npos);
}

TEST(Flags, RejectsBadCommandLines) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--bogus", "1"}, "unknown flag --bogus"},
      {{"--steps"}, "--steps: missing value"},
      {{"--steps", "ten"}, "--steps: expected an integer"},
      {{"--steps=-1"}, "--steps: expected an integer >= 0"},
      {{"--batch", "0"}, "--batch: expected an integer >= 1"},
      {{"--seq", "0"}, "--seq: expected an integer >= 1"},
      {{"--lr", "nan"}, "--lr: expected a finite number"},
      {{"--lr", "1e-3x"}, "--lr: expected a finite number"},
      {{"--seed", "-3"}, "--seed: expected an unsigned"},
      {{"--resume=yes"}, "--resume takes no value"},
      {{"positional"}, "unexpected argument 'positional'"},
      {{"--data="}, "--data: empty value"},
  };
  for (const Case &c : cases) {
    int code = 0;
    std::string message = errorOf([&] { flags(c.args); }, &code);
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
    EXPECT_EQ(code, kUsageExit) << message;
  }
  ModelInfo m = tinyModel();
  struct Late {
    std::vector<std::string> args;
    std::string message;
  } late[] = {
      {{"--data", "x", "--seq", "9"},
       "--seq: 9 is longer than the model's context 8"},
      {{"--steps", "3"}, "--data: missing"},
      {{"--data", "x", "--lr-schedule", "step"},
       "--lr-schedule: expected constant or cosine"},
      {{"--data", "x", "--resume"}, "--resume: needs --ckpt-dir"},
      {{"--init-only"}, "--init-only: needs --ckpt-dir"},
      {{"--data", "x", "--beta2", "1"}, "--beta2: must be < 1"},
      {{"--data", "x", "--eval-every", "5"}, "--eval-every: needs --val"},
  };
  for (const Late &c : late) {
    int code = 0;
    std::string message = errorOf(
        [&] {
          Config config = flags(c.args);
          validateConfig(config, m);
        },
        &code);
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
    EXPECT_EQ(code, kUsageExit) << message;
  }
}

TEST(Flags, DataOrderValBatchesGradAccum) {
  ModelInfo m = tinyModel();
  Config c = flags({"--data", "x"});
  validateConfig(c, m);
  EXPECT_EQ(c.dataOrder, "shuffled");
  EXPECT_EQ(c.valBatches, 0);
  EXPECT_EQ(c.gradAccum, 1);
  c = flags({"--data", "x", "--data-order", "sequential", "--val", "v",
             "--val-batches", "7", "--grad-accum", "4"});
  validateConfig(c, m);
  EXPECT_EQ(c.dataOrder, "sequential");
  EXPECT_EQ(c.valBatches, 7);
  EXPECT_EQ(c.gradAccum, 4);
  EXPECT_ERROR(flags({"--grad-accum", "0"}),
               "--grad-accum: expected an integer >= 1, got '0'");
  EXPECT_ERROR(
      [&] {
        Config bad = flags({"--data", "x", "--data-order", "random"});
        validateConfig(bad, m);
      }(),
      "--data-order: expected shuffled or sequential, got 'random'");
  EXPECT_ERROR(
      [&] {
        Config bad = flags({"--data", "x", "--val-batches", "3"});
        validateConfig(bad, m);
      }(),
      "--val-batches: needs --val");
  // The help is wrapped: compare with its runs of spaces and newlines
  // collapsed to one space.
  std::string help;
  for (char ch : usage("train")) {
    bool space = ch == ' ' || ch == '\n';
    if (!space || help.empty() || help.back() != ' ')
      help += space ? ' ' : ch;
  }
  for (const char *flag : {"--data-order S", "--val-batches N",
                           "--grad-accum N", "lmc compile --grad-accum"})
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
}

//===----------------------------------------------------------------------===//
// Data loader
//===----------------------------------------------------------------------===//

TEST(DataLoader, ReadsBatchesAndWrapsAcrossShards) {
  TempDir dir;
  std::vector<int> a, b;
  for (int i = 0; i < 11; ++i)
    a.push_back(i);
  for (int i = 0; i < 6; ++i)
    b.push_back(100 + i);
  writeFile(dir / "s_000001.bin", shardBytes(b)); // sorted second
  writeFile(dir / "s_000000.bin", shardBytes(a));
  DataLoader loader("--data", dir / "s_*.bin", 200, 1, 4);
  ASSERT_EQ(loader.shards().size(), 2u);
  EXPECT_EQ(loader.shards()[0].tokens, 11);
  int32_t in[4], out[4];
  auto expect = [&](std::vector<int> inputs) {
    loader.next(in, out);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(in[i], inputs[i]);
      EXPECT_EQ(out[i], inputs[i] + 1);
    }
  };
  expect({0, 1, 2, 3});
  expect({4, 5, 6, 7});
  // 3 tokens remain in shard 0 (< B*T+1): next shard.
  expect({100, 101, 102, 103});
  EXPECT_EQ(loader.shardIndex(), 1);
  EXPECT_EQ(loader.tokenOffset(), 4);
  // Then wrap to the first shard.
  expect({0, 1, 2, 3});
  loader.seek(1, 1);
  expect({101, 102, 103, 104});
  EXPECT_ERROR(loader.seek(2, 0), "outside the 2 data shard(s)");

  // B x T layout: row b is tokens [b*T, (b+1)*T).
  DataLoader two("--data", dir / "s_000000.bin", 200, 2, 3);
  int32_t in6[6], out6[6];
  two.next(in6, out6);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(in6[i], i);
    EXPECT_EQ(out6[i], i + 1);
  }
}

TEST(DataLoader, ShufflePermutationIsAFixedPermutation) {
  for (int64_t n : {0, 1, 2, 7, 100}) {
    std::vector<int64_t> p = shufflePermutation(n, shuffleKey(5, 0, 0));
    std::vector<int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < n; ++i)
      EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  }
  // The same key gives the same order; other keys (seed, epoch, stream)
  // other orders.
  std::vector<int64_t> a = shufflePermutation(100, shuffleKey(5, 0, 0));
  EXPECT_EQ(a, shufflePermutation(100, shuffleKey(5, 0, 0)));
  EXPECT_NE(a, shufflePermutation(100, shuffleKey(6, 0, 0)));
  EXPECT_NE(a, shufflePermutation(100, shuffleKey(5, 1, 0)));
  EXPECT_NE(a, shufflePermutation(100, shuffleKey(5, 0, 1)));
  // Pinned values, also computed by python/lmc/testing/trainer_reference.py
  // (shuffle_key, permutation), the independent implementation.
  EXPECT_EQ(shuffleKey(1337, 2, 3), 0x5c10b4ae7aab3cbaULL);
  EXPECT_EQ(shufflePermutation(8, shuffleKey(1337, 0, 0)),
            (std::vector<int64_t>{2, 3, 5, 0, 4, 6, 1, 7}));
}

TEST(DataLoader, ShuffledEpochVisitsEveryBatchOnce) {
  TempDir dir;
  // Token j of shard f is 1000 f + j, so a batch names where it starts.
  // With B*T = 4: shard 0 holds (13-1)/4 = 3 batches, shard 1 none (4 tokens
  // < B*T+1), shard 2 2 batches, shard 3 5.
  std::vector<int> sizes = {13, 4, 9, 21};
  for (size_t f = 0; f < sizes.size(); ++f) {
    std::vector<int> tokens;
    for (int j = 0; j < sizes[f]; ++j)
      tokens.push_back(1000 * static_cast<int>(f) + j);
    writeFile(dir / ("s_00000" + std::to_string(f) + ".bin"),
              shardBytes(tokens));
  }
  DataLoader loader("--data", dir / "s_*.bin", 4000, 2, 2,
                    DataOrder::Shuffled, 42);
  EXPECT_EQ(loader.batchesPerEpoch(), 10);
  int32_t in[4], out[4];
  std::vector<std::vector<int>> epochs(3);
  std::vector<ShufflePosition> positions;
  for (int e = 0; e < 3; ++e) {
    for (int i = 0; i < 10; ++i) {
      positions.push_back(loader.shufflePosition());
      EXPECT_EQ(loader.shufflePosition().epoch, e);
      int64_t shard = loader.shardIndex(), offset = loader.tokenOffset();
      loader.next(in, out);
      // The batch read is the one the position named: B*T+1 consecutive
      // tokens of one shard, starting at a multiple of B*T.
      EXPECT_EQ(in[0], 1000 * shard + offset);
      EXPECT_EQ(offset % 4, 0);
      for (int k = 0; k < 4; ++k) {
        EXPECT_EQ(in[k], in[0] + k);
        EXPECT_EQ(out[k], in[0] + k + 1);
      }
      epochs[static_cast<size_t>(e)].push_back(in[0]);
    }
  }
  std::vector<int> all = {0,    4,    8,    2000, 2004,
                          3000, 3004, 3008, 3012, 3016};
  for (auto &epoch : epochs) {
    std::vector<int> sorted = epoch;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, all); // every batch exactly once
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
  EXPECT_NE(epochs[0], all); // not the sequential order

  // Any saved position continues exactly where the run was.
  for (size_t i : {0u, 3u, 9u, 10u, 17u}) {
    DataLoader again("--data", dir / "s_*.bin", 4000, 2, 2,
                     DataOrder::Shuffled, 42);
    again.seekShuffled(positions[i]);
    for (size_t j = i; j < positions.size(); ++j) {
      again.next(in, out);
      EXPECT_EQ(in[0], epochs[j / 10][j % 10]) << "from position " << i;
    }
  }
  // reset() is the start of epoch 0; another seed is another order.
  loader.reset();
  loader.next(in, out);
  EXPECT_EQ(in[0], epochs[0][0]);
  DataLoader other("--data", dir / "s_*.bin", 4000, 2, 2, DataOrder::Shuffled,
                   43);
  std::vector<int> otherEpoch;
  for (int i = 0; i < 10; ++i) {
    other.next(in, out);
    otherEpoch.push_back(in[0]);
  }
  EXPECT_NE(otherEpoch, epochs[0]);
  EXPECT_ERROR(loader.seekShuffled(ShufflePosition{0, 3, 0}),
               "outside the 3 usable data shard(s)");
  EXPECT_ERROR(loader.seekShuffled(ShufflePosition{0, 0, 5}),
               "(epoch 0, shard 0, batch 5 of the shuffled order)");
  EXPECT_ERROR(loader.seek(0, 0), "a sequential position for a loader in "
                                  "shuffled order");
}

TEST(DataLoader, RejectsBadShards) {
  TempDir dir;
  std::vector<int> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  writeFile(dir / "magic.bin", shardBytes(tokens, 12345));
  EXPECT_ERROR(DataLoader("--data", dir / "magic.bin", 16, 1, 4),
               "magic.bin: bad magic 12345 at byte offset 0");
  writeFile(dir / "version.bin", shardBytes(tokens, kShardMagic, 7));
  EXPECT_ERROR(DataLoader("--data", dir / "version.bin", 16, 1, 4),
               "version.bin: unsupported version 7 at byte offset 4");
  writeFile(dir / "short.bin", shardBytes(tokens).substr(0, 100));
  EXPECT_ERROR(DataLoader("--data", dir / "short.bin", 16, 1, 4),
               "short.bin: file is 100 bytes, shorter than the 1024-byte");
  std::string truncated = shardBytes(tokens);
  truncated.resize(truncated.size() - 3);
  writeFile(dir / "trunc.bin", truncated);
  EXPECT_ERROR(DataLoader("--data", dir / "trunc.bin", 16, 1, 4),
               "trunc.bin: header token count 9 at byte offset 8");
  EXPECT_ERROR(DataLoader("--data", dir / "none*.bin", 16, 1, 4),
               "--data " + (dir / "none*.bin") + ": no such file");
  writeFile(dir / "small.bin", shardBytes({1, 2, 3}));
  EXPECT_ERROR(DataLoader("--data", dir / "small.bin", 16, 1, 4),
               "no shard holds B*T+1 = 5 tokens");

  std::vector<int> bad = {1, 2, 3, 4, 5, 6, 16, 8, 9};
  writeFile(dir / "vocab.bin", shardBytes(bad));
  // Token index 6 is at byte 1024 + 12: found by the scan when the loader
  // opens, before the batch holding it is read.
  EXPECT_ERROR(DataLoader("--data", dir / "vocab.bin", 16, 1, 4),
               "vocab.bin: token 16 at byte offset 1036 is outside the "
               "vocabulary (16 tokens): token index 6 of the shard");
}

//===----------------------------------------------------------------------===//
// JSON and safetensors
//===----------------------------------------------------------------------===//

TEST(Json, ParsesAndRejects) {
  json::Value v;
  std::string error;
  ASSERT_TRUE(
      json::parse(" {\"a\": [1, -2, \"x\\u00e9\\n\"], \"b\": {}} ", v, error))
      << error;
  ASSERT_EQ(v.kind, json::Value::Kind::Object);
  EXPECT_EQ(v.find("a")->items[1].integer, -2);
  EXPECT_EQ(v.find("a")->items[2].string, "x\xc3\xa9\n");
  for (const char *bad : {"", "{", "{\"a\":1,}", "{\"a\":1.5}", "{\"a\":1e3}",
                          "[01]", "{\"a\":1,\"a\":2}", "\"\x01\"", "{} x",
                          "[99999999999999999999]", "\"\\ud800\"", "\"\\q\""})
    EXPECT_FALSE(json::parse(bad, v, error)) << bad;
  EXPECT_EQ(json::quote("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
}

/// A safetensors file with a hand-written header and `data` bytes.
std::string rawSafetensors(const std::string &header, size_t dataBytes,
                           int64_t lengthOverride = -1) {
  uint64_t n = lengthOverride < 0 ? header.size()
                                  : static_cast<uint64_t>(lengthOverride);
  std::string s;
  for (int i = 0; i < 8; ++i)
    s += static_cast<char>(n >> (8 * i));
  return s + header + std::string(dataBytes, '\0');
}

TEST(Safetensors, RoundTrip) {
  TempDir dir;
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {-1.5f};
  int fd = ::open((dir / "t.safetensors").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  writeSafetensors(fd, "t", {{"a", {2, 3}, a.data()}, {"b\"q", {}, b.data()}},
                   {{"k", "v\n"}});
  ::close(fd);
  SafetensorsHeader h = readSafetensorsHeader(dir / "t.safetensors");
  EXPECT_EQ(h.dataStart % 8, 0u);
  EXPECT_EQ(h.metadata.at("k"), "v\n");
  ASSERT_EQ(h.tensors.size(), 2u);
  const TensorEntry *ta = h.find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, "F32");
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  std::vector<float> back(6);
  readTensorBytes(h, *ta, back.data());
  EXPECT_EQ(back, a);
  const TensorEntry *tb = h.find("b\"q");
  ASSERT_NE(tb, nullptr);
  EXPECT_TRUE(tb->shape.empty());
  float scalar = 0;
  readTensorBytes(h, *tb, &scalar);
  EXPECT_EQ(scalar, -1.5f);
}

TEST(Safetensors, RejectsEveryMalformation) {
  TempDir dir;
  std::string path = dir / "bad.safetensors";
  auto check = [&](const std::string &bytes, const std::string &message) {
    writeFile(path, bytes);
    std::string got = errorOf([&] { readSafetensorsHeader(path); });
    EXPECT_NE(got.find(message), std::string::npos)
        << "got: " << got << "\nwanted: " << message;
    EXPECT_EQ(got.rfind(path, 0), 0u) << "the message names the file: " << got;
  };
  const std::string t = "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],"
                        "\"data_offsets\":[0,8]}}";
  check("abc", "too short for the 8-byte header length");
  check(rawSafetensors(t, 8, 1000), "runs past the end");
  check(rawSafetensors(t, 8, int64_t(1) << 40), "exceeds the 100 MiB limit");
  check(rawSafetensors(t, 8, 1), "too small");
  check(rawSafetensors("{\"t\":", 0), "bad header: JSON error");
  check(rawSafetensors("[1]", 0), "not a JSON object");
  check(rawSafetensors("{\"__metadata__\":{\"a\":1}}", 0),
        "metadata value of \"a\" is not a string");
  check(rawSafetensors("{\"__metadata__\":[]}", 0),
        "__metadata__ is not an object");
  check(rawSafetensors("{\"t\":{\"dtype\":\"F33\",\"shape\":[2],"
                       "\"data_offsets\":[0,8]}}",
                       8),
        "unknown dtype \"F33\"");
  check(rawSafetensors("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
        "missing or non-string dtype");
  check(rawSafetensors("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],"
                       "\"data_offsets\":[0,8]}}",
                       8),
        "shape entries must be integers >= 0");
  check(rawSafetensors("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],"
                       "\"data_offsets\":[0,8]}}",
                       8),
        "holds 8 bytes, but F32 of shape [3] needs 12");
  check(rawSafetensors("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[0,8],\"x\":1}}",
                       8),
        "unknown field \"x\"");
  check(rawSafetensors("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[0]}}",
                       8),
        "data_offsets must be two integers");
  check(rawSafetensors("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[8,0]}}",
                       8),
        "begin > end");
  check(rawSafetensors(t, 4), "run past the 4-byte data section");
  check(rawSafetensors(t, 12),
        "data section is 12 bytes but the tensors cover 8");
  check(rawSafetensors("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[0,8]},"
                       "\"u\":{\"dtype\":\"F32\",\"shape\":[1],"
                       "\"data_offsets\":[4,8]}}",
                       8),
        "overlaps another tensor");
  check(rawSafetensors("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],"
                       "\"data_offsets\":[4,8]}}",
                       8),
        "data bytes [0, 4) belong to no tensor");
  EXPECT_ERROR(readSafetensorsHeader(dir / "missing"), "cannot open");
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

struct Buffers {
  explicit Buffers(int64_t n, float base = 0)
      : params(n), expAvg(n), expAvgSq(n) {
    for (int64_t i = 0; i < n; ++i) {
      params[i] = base + i * 0.5f;
      expAvg[i] = base - i;
      expAvgSq[i] = base + i * i;
    }
  }
  std::vector<float> params, expAvg, expAvgSq;
};

Config resumeConfig(const std::string &dir) {
  Config c = flags({"--data", "d.bin", "--ckpt-dir", dir, "--resume"});
  validateConfig(c, tinyModel());
  return c;
}

TEST(Checkpoint, RoundTripAndLatest) {
  TempDir dir;
  ModelInfo m = tinyModel();
  Config c = resumeConfig(dir.path);
  Buffers saved(m.total, 1.0f);
  TrainState state{12, 1, 345, 0xdeadbeefcafef00dULL};
  std::string path =
      writeCheckpoint(dir.path, m, c, state, saved.params.data(),
                      saved.expAvg.data(), saved.expAvgSq.data());
  EXPECT_EQ(path, dir / "ckpt_00000012.safetensors");
  EXPECT_EQ(readFile(dir / "latest"), "ckpt_00000012.safetensors\n");
  EXPECT_EQ(latestCheckpoint(dir.path), path);

  SafetensorsHeader h = readSafetensorsHeader(path);
  EXPECT_EQ(h.metadata.at("step"), "12");
  EXPECT_EQ(h.metadata.at("model_name"), "fake");
  EXPECT_NE(h.find("exp_avg.wte.weight"), nullptr);
  EXPECT_NE(h.find("exp_avg_sq.ln_f.bias"), nullptr);

  Buffers loaded(m.total, 99.0f);
  TrainState back =
      readCheckpoint(path, m, c, loaded.params.data(), loaded.expAvg.data(),
                     loaded.expAvgSq.data());
  EXPECT_EQ(back.step, 12);
  EXPECT_EQ(back.dataShard, 1);
  EXPECT_EQ(back.dataOffset, 345);
  EXPECT_EQ(back.rng, 0xdeadbeefcafef00dULL);
  EXPECT_EQ(loaded.params, saved.params);
  EXPECT_EQ(loaded.expAvg, saved.expAvg);
  EXPECT_EQ(loaded.expAvgSq, saved.expAvgSq);

  std::vector<float> only(m.total, 7.0f);
  loadParameters(path, m, only.data());
  EXPECT_EQ(only, saved.params);
}

/// A safetensors file of (name, dtype, shape, little-endian bytes) tensors.
std::string typedSafetensors(
    const std::vector<std::tuple<std::string, std::string, std::string,
                                 std::string>> &tensors) {
  std::string header = "{", data;
  for (const auto &[name, dtype, shape, bytes] : tensors) {
    header += (header.size() > 1 ? "," : "") + std::string("\"") + name +
              "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(data.size()) + "," +
              std::to_string(data.size() + bytes.size()) + "]}";
    data += bytes;
  }
  return rawSafetensors(header + "}", 0) + data;
}

/// Little-endian bytes of 16-bit words.
std::string halfBytes(const std::vector<uint16_t> &words) {
  std::string s;
  for (uint16_t w : words)
    s += std::string{static_cast<char>(w & 0xff), static_cast<char>(w >> 8)};
  return s;
}

TEST(Checkpoint, DataOrderPosition) {
  TempDir dir;
  ModelInfo m = tinyModel();
  Buffers saved(m.total, 1.0f);
  // Shuffled (the default): the order, its seed and position round-trip.
  Config c = resumeConfig(dir.path);
  EXPECT_EQ(c.dataOrder, "shuffled");
  TrainState state{12, 1, 8, 3};
  state.dataSeed = 0xfedcba9876543210ULL;
  state.dataEpoch = 4;
  state.dataShardPos = 2;
  state.dataBatchPos = 5;
  std::string path =
      writeCheckpoint(dir.path, m, c, state, saved.params.data(),
                      saved.expAvg.data(), saved.expAvgSq.data());
  SafetensorsHeader h = readSafetensorsHeader(path);
  EXPECT_EQ(h.metadata.at("data_order"), "shuffled");
  EXPECT_EQ(h.metadata.at("data_seed"), "fedcba9876543210");
  EXPECT_EQ(h.metadata.at("data_epoch"), "4");
  EXPECT_EQ(h.metadata.at("data_shard_pos"), "2");
  EXPECT_EQ(h.metadata.at("data_batch_pos"), "5");
  Buffers loaded(m.total, 99.0f);
  TrainState back =
      readCheckpoint(path, m, c, loaded.params.data(), loaded.expAvg.data(),
                     loaded.expAvgSq.data());
  EXPECT_EQ(back.dataSeed, state.dataSeed);
  EXPECT_EQ(back.dataEpoch, 4);
  EXPECT_EQ(back.dataShardPos, 2);
  EXPECT_EQ(back.dataBatchPos, 5);
  EXPECT_EQ(back.dataShard, 1);
  EXPECT_EQ(back.dataOffset, 8);
  // Another order is refused, saying so.
  Config sequential = flags({"--data", "d.bin", "--ckpt-dir", dir.path,
                             "--resume", "--data-order", "sequential"});
  validateConfig(sequential, m);
  EXPECT_ERROR(readCheckpoint(path, m, sequential, loaded.params.data(),
                              loaded.expAvg.data(), loaded.expAvgSq.data()),
               "--data-order sequential (checkpoint: shuffled)");

  // A checkpoint written before --data-order (no data_order) was read in
  // sequential order: it resumes so, and not shuffled.
  std::map<std::string, std::string> meta =
      checkpointMetadata(m, sequential, TrainState{3, 0, 64, 1});
  EXPECT_EQ(meta.at("data_order"), "sequential");
  EXPECT_EQ(meta.count("data_epoch"), 0u);
  meta.erase("data_order");
  std::vector<TensorOut> tensors;
  for (const ParamInfo &p : m.params)
    tensors.push_back({p.name, p.shape, saved.params.data() + p.offset});
  for (const char *prefix : {"exp_avg.", "exp_avg_sq."})
    for (const ParamInfo &p : m.params)
      tensors.push_back({prefix + p.name, p.shape,
                         saved.params.data() + p.offset});
  atomicWriteFile(dir.path, "old.safetensors",
                  [&](int fd, const std::string &p) {
                    writeSafetensors(fd, p, tensors, meta);
                  });
  back = readCheckpoint(dir / "old.safetensors", m, sequential,
                        loaded.params.data(), loaded.expAvg.data(),
                        loaded.expAvgSq.data());
  EXPECT_EQ(back.step, 3);
  EXPECT_EQ(back.dataOffset, 64);
  EXPECT_ERROR(readCheckpoint(dir / "old.safetensors", m, c,
                              loaded.params.data(), loaded.expAvg.data(),
                              loaded.expAvgSq.data()),
               "--data-order shuffled (checkpoint: sequential)");
}

TEST(Checkpoint, InitFromHalfPrecision) {
  // Hugging Face writes F16 and BF16 files: --init-from converts them to f32
  // exactly and says so in one line; F32 tensors load as before.
  TempDir dir;
  ModelInfo m = tinyModel();
  // wte.weight [16, 4] in BF16: 0x3f80 = 1, 0xc040 = -3, 0x3e20 = 0.15625,
  // 0x0001 the smallest subnormal (2^-133).
  std::vector<uint16_t> wte(64);
  for (size_t i = 0; i < wte.size(); ++i)
    wte[i] = std::vector<uint16_t>{0x3f80, 0xc040, 0x3e20, 0x0001}[i % 4];
  // h.0.ln_1.weight [4] in F16: 1, -2.5, 65504 (the largest), 2^-24 (the
  // smallest subnormal); ln_f.bias [3]: -0, 0x0300 = 3 * 2^-16 (subnormal),
  // infinity.
  std::vector<uint16_t> ln1 = {0x3c00, 0xc100, 0x7bff, 0x0001};
  std::vector<uint16_t> lnf = {0x8000, 0x0300, 0x7c00};
  std::vector<float> fc = {1, 2, 3, 4, 5, 6, 7, 8.5f};
  std::string fcBytes(reinterpret_cast<const char *>(fc.data()),
                      fc.size() * sizeof(float));
  writeFile(dir / "half.safetensors",
            typedSafetensors({{"wte.weight", "BF16", "16,4", halfBytes(wte)},
                              {"h.0.ln_1.weight", "F16", "4", halfBytes(ln1)},
                              {"h.1.mlp.c_fc.weight", "F32", "4,2", fcBytes},
                              {"ln_f.bias", "F16", "3", halfBytes(lnf)}}));
  std::vector<float> p(m.total, 7.0f);
  std::string note = loadParameters(dir / "half.safetensors", m, p.data());
  EXPECT_EQ(note, dir / "half.safetensors" +
                      ": converted 1 BF16, 2 F16 tensors to f32 (exact)");
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(p[i], (std::vector<float>{1.0f, -3.0f, 0.15625f,
                                        std::ldexp(1.0f, -133)}[i % 4]))
        << i;
  EXPECT_EQ(std::vector<float>(p.begin() + 64, p.begin() + 68),
            (std::vector<float>{1.0f, -2.5f, 65504.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(std::vector<float>(p.begin() + 68, p.begin() + 76), fc);
  EXPECT_EQ(p[76], 0.0f);
  EXPECT_TRUE(std::signbit(p[76]));
  EXPECT_EQ(p[77], 3 * std::ldexp(1.0f, -16));
  EXPECT_TRUE(std::isinf(p[78]) && p[78] > 0);

  // An F32 file gives no note.
  std::vector<float> ones(m.total, 1.0f);
  writeFile(dir / "f32.safetensors",
            typedSafetensors(
                {{"wte.weight", "F32", "16,4",
                  std::string(reinterpret_cast<const char *>(ones.data()),
                              64 * sizeof(float))},
                 {"h.0.ln_1.weight", "F32", "4", std::string(16, '\0')},
                 {"h.1.mlp.c_fc.weight", "F32", "4,2", fcBytes},
                 {"ln_f.bias", "F32", "3", std::string(12, '\0')}}));
  EXPECT_EQ(loadParameters(dir / "f32.safetensors", m, p.data()), "");
  EXPECT_EQ(p[0], 1.0f);

  // Other dtypes are refused, naming the ones accepted.
  writeFile(dir / "f64.safetensors",
            typedSafetensors(
                {{"wte.weight", "F64", "16,4", std::string(64 * 8, '\0')}}));
  EXPECT_ERROR(loadParameters(dir / "f64.safetensors", m, p.data()),
               "tensor 'wte.weight' is F64, expected F32, F16 or BF16");
}

/// Little-endian bytes of floats.
std::string floatBytes(const std::vector<float> &values) {
  return std::string(reinterpret_cast<const char *>(values.data()),
                     values.size() * sizeof(float));
}

/// The tensors of tinyModel() under `prefix` + their names, filled with
/// 1, 2, 3, ... in model order, plus `extra`.
std::string tinyParamsFile(
    const std::string &prefix,
    std::vector<std::tuple<std::string, std::string, std::string, std::string>>
        extra = {}) {
  std::vector<float> values(79);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(i + 1);
  auto range = [&](int begin, int end) {
    return floatBytes(std::vector<float>(values.begin() + begin,
                                         values.begin() + end));
  };
  std::vector<std::tuple<std::string, std::string, std::string, std::string>>
      tensors = {{prefix + "wte.weight", "F32", "16,4", range(0, 64)},
                 {prefix + "h.0.ln_1.weight", "F32", "4", range(64, 68)},
                 {prefix + "h.1.mlp.c_fc.weight", "F32", "4,2", range(68, 76)},
                 {prefix + "ln_f.bias", "F32", "3", range(76, 79)}};
  tensors.insert(tensors.end(), extra.begin(), extra.end());
  return typedSafetensors(tensors);
}

TEST(Checkpoint, InitFromHuggingFaceNames) {
  // save_pretrained's names: GPT2LMHeadModel's `transformer.` prefix (and
  // the causal-mask buffers older transformers wrote), or `model.`.
  TempDir dir;
  ModelInfo m = tinyModel();
  std::vector<float> want(79);
  for (size_t i = 0; i < want.size(); ++i)
    want[i] = static_cast<float>(i + 1);
  std::string mask(4 * 64, '\0');
  writeFile(dir / "gpt2.safetensors",
            tinyParamsFile("transformer.",
                           {{"transformer.h.0.attn.bias", "F32", "1,1,8,8", mask},
                            {"transformer.h.1.attn.bias", "BOOL", "1,1,8,8",
                             std::string(64, '\1')},
                            {"transformer.h.0.attn.masked_bias", "F32", "",
                             floatBytes({-1e4f})}}));
  std::vector<float> p(m.total, 7.0f);
  EXPECT_EQ(loadParameters(dir / "gpt2.safetensors", m, p.data()),
            dir / "gpt2.safetensors" +
                ": stripped the prefix 'transformer.' from 4 tensor names; "
                "ignored 3 non-parameter buffers (transformer.h.*.attn.bias, "
                "transformer.h.*.attn.masked_bias)");
  EXPECT_EQ(p, want);
  writeFile(dir / "model.safetensors", tinyParamsFile("model."));
  std::fill(p.begin(), p.end(), 7.0f);
  EXPECT_EQ(loadParameters(dir / "model.safetensors", m, p.data()),
            dir / "model.safetensors" +
                ": stripped the prefix 'model.' from 4 tensor names");
  EXPECT_EQ(p, want);
  // The buffers without a prefix (the Hub's gpt2 file) and the moments of
  // an lmc checkpoint: ignored, the moments silently.
  writeFile(dir / "plain.safetensors",
            tinyParamsFile("", {{"h.0.attn.bias", "F32", "1,1,8,8", mask},
                                {"exp_avg.wte.weight", "F32", "1",
                                 floatBytes({3.0f})}}));
  EXPECT_EQ(loadParameters(dir / "plain.safetensors", m, p.data()),
            dir / "plain.safetensors" +
                ": ignored 1 non-parameter buffer (h.*.attn.bias)");

  // A parameter under two names is ambiguous.
  writeFile(dir / "both.safetensors",
            tinyParamsFile("", {{"transformer.ln_f.bias", "F32", "3",
                                 floatBytes({1, 2, 3})}}));
  EXPECT_ERROR(loadParameters(dir / "both.safetensors", m, p.data()),
               "both 'ln_f.bias' and 'transformer.ln_f.bias' are in the file");
}

TEST(Checkpoint, InitFromRefusesWhatItCannotPlace) {
  TempDir dir;
  ModelInfo m = tinyModel();
  std::vector<float> p(m.total);
  // A head of its own, in a file for a model that ties it to wte.weight:
  // accepted when it is the embedding written out, an error when it differs.
  std::vector<float> wte(64);
  for (size_t i = 0; i < wte.size(); ++i)
    wte[i] = static_cast<float>(i + 1);
  writeFile(dir / "tied.safetensors",
            tinyParamsFile("transformer.",
                           {{"lm_head.weight", "F32", "16,4", floatBytes(wte)}}));
  EXPECT_EQ(loadParameters(dir / "tied.safetensors", m, p.data()),
            dir / "tied.safetensors" +
                ": stripped the prefix 'transformer.' from 4 tensor names; "
                "lm_head.weight equals the tied embedding "
                "'transformer.wte.weight' (not loaded twice)");
  wte[5] += 0.25f;
  writeFile(dir / "untied.safetensors",
            tinyParamsFile("", {{"lm_head.weight", "F32", "16,4",
                                 floatBytes(wte)}}));
  EXPECT_ERROR(loadParameters(dir / "untied.safetensors", m, p.data()),
               "tensor 'lm_head.weight' is an LM head of its own (max abs "
               "difference 0.25 from 'wte.weight'), but model 'fake' ties its "
               "head to 'wte.weight': build the model with an untied head");
  // Any other tensor is refused, with the nearest parameter names.
  writeFile(dir / "bigger.safetensors",
            tinyParamsFile("", {{"h.2.mlp.c_fc.weight", "F32", "4,2",
                                 std::string(32, '\0')},
                                {"h.3.mlp.c_fc.weight", "F32", "4,2",
                                 std::string(32, '\0')}}));
  EXPECT_ERROR(loadParameters(dir / "bigger.safetensors", m, p.data()),
               "tensor 'h.2.mlp.c_fc.weight' is not a parameter of model "
               "'fake' (nearest: 'h.1.mlp.c_fc.weight', 'h.0.ln_1.weight', "
               "'wte.weight', and 1 more)");
  // Missing tensors come with a hint: a prefix not stripped ...
  writeFile(dir / "gpt.safetensors", tinyParamsFile("gpt."));
  EXPECT_ERROR(loadParameters(dir / "gpt.safetensors", m, p.data()),
               "missing tensor 'wte.weight' (the file's names start with "
               "'gpt.' ('gpt.wte.weight'), a prefix --init-from does not "
               "strip");
  // ... or the nearest names.
  writeFile(dir / "renamed.safetensors",
            typedSafetensors({{"wte.weight", "F32", "16,4",
                               std::string(256, '\0')},
                              {"h.0.ln1.weight", "F32", "4",
                               std::string(16, '\0')}}));
  EXPECT_ERROR(loadParameters(dir / "renamed.safetensors", m, p.data()),
               "missing tensor 'h.0.ln_1.weight' (nearest: 'h.0.ln1.weight' "
               "of the file's 1 other tensors)");
  // A model with a head of its own, from a tied model's file.
  ModelInfo untied = parseModelInfo("lmc-model 2\n"
                                    "name untied\n"
                                    "dtype f32\n"
                                    "vocab 16\n"
                                    "params 2 128\n"
                                    "param wte.weight 0 2 16 4 normal 0.02 1\n"
                                    "param lm_head.weight 64 2 16 4 normal "
                                    "0.02 1\n"
                                    "end\n");
  writeFile(dir / "wte.safetensors",
            typedSafetensors({{"transformer.wte.weight", "F32", "16,4",
                               floatBytes(wte)}}));
  std::vector<float> q(untied.total);
  EXPECT_ERROR(loadParameters(dir / "wte.safetensors", untied, q.data()),
               "missing tensor 'lm_head.weight' (the file has no LM head of "
               "its own: it is of a model whose head is tied to its embedding");
}

TEST(Checkpoint, InterruptedWriteLeavesThePreviousOne) {
  TempDir dir;
  ModelInfo m = tinyModel();
  Config c = resumeConfig(dir.path);
  Buffers saved(m.total, 2.0f);
  std::string first = writeCheckpoint(dir.path, m, c, TrainState{5, 0, 0, 1},
                                      saved.params.data(), saved.expAvg.data(),
                                      saved.expAvgSq.data());
  // A kill during the next write leaves a partial temporary file, or a
  // renamed checkpoint whose marker update never happened.
  writeFile(dir / ".tmp-ckpt_00000010.safetensors.AbC123", "\x10\0\0garbage");
  writeFile(dir / ".tmp-latest.XyZ987", "ckpt_00000010.saf");
  writeFile(dir / "ckpt_00000010.safetensors", "partial");
  EXPECT_EQ(latestCheckpoint(dir.path), first);
  Buffers loaded(m.total);
  EXPECT_EQ(readCheckpoint(first, m, c, loaded.params.data(),
                           loaded.expAvg.data(), loaded.expAvgSq.data())
                .step,
            5);
  EXPECT_EQ(loaded.params, saved.params);
}

TEST(Checkpoint, SigkillDuringWritesLeavesALoadableCheckpoint) {
  TempDir dir;
  ModelInfo m = tinyModel();
  Config c = resumeConfig(dir.path);
  Buffers saved(m.total, 3.0f);
  writeCheckpoint(dir.path, m, c, TrainState{0, 0, 0, 1}, saved.params.data(),
                  saved.expAvg.data(), saved.expAvgSq.data());
  for (int attempt = 0; attempt < 5; ++attempt) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int64_t step = 1;; ++step)
        writeCheckpoint(dir.path, m, c, TrainState{step, 0, 0, 1},
                        saved.params.data(), saved.expAvg.data(),
                        saved.expAvgSq.data());
    }
    ::usleep(2000 + attempt * 3000);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    std::string latest = latestCheckpoint(dir.path);
    Buffers loaded(m.total);
    readCheckpoint(latest, m, c, loaded.params.data(), loaded.expAvg.data(),
                   loaded.expAvgSq.data());
    EXPECT_EQ(loaded.params, saved.params);
  }
}

TEST(Checkpoint, ResumeRefusesOtherModelsAndFlags) {
  TempDir dir;
  ModelInfo m = tinyModel();
  Config c = resumeConfig(dir.path);
  Buffers saved(m.total);
  std::string path =
      writeCheckpoint(dir.path, m, c, TrainState{}, saved.params.data(),
                      saved.expAvg.data(), saved.expAvgSq.data());
  Buffers loaded(m.total);
  auto load = [&](const ModelInfo &model, const Config &config) {
    std::vector<float> p(model.total), a(model.total), b(model.total);
    readCheckpoint(path, model, config, p.data(), a.data(), b.data());
  };
  Config other = flags({"--data", "e.bin", "--ckpt-dir", dir.path, "--resume",
                        "--lr", "0.001", "--batch", "8"});
  validateConfig(other, m);
  std::string message = errorOf([&] { load(m, other); });
  EXPECT_NE(message.find("cannot resume from " + path), std::string::npos);
  EXPECT_NE(message.find("--data e.bin (checkpoint: d.bin)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("--batch 8 (checkpoint: 4)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("--lr 0.001 (checkpoint: 0.0003)"), std::string::npos)
      << message;
  Config cosine = flags({"--data", "d.bin", "--ckpt-dir", dir.path, "--resume",
                         "--lr-schedule", "cosine"});
  validateConfig(cosine, m);
  EXPECT_ERROR(load(m, cosine), "--lr-schedule cosine (checkpoint: constant)");

  std::string text = kTinyModel;
  text.replace(text.find("name fake"), 9, "name other");
  ModelInfo renamed = parseModelInfo(text);
  // The line that differs, not two hashes (issue 18).
  EXPECT_ERROR(load(renamed, c),
               "model: the checkpoint's description differs from this "
               "program's ('other'), line 2: 'name fake' / 'name other'");
  // A checkpoint without model_description (written before it existed):
  // the hash.
  {
    std::map<std::string, std::string> legacy =
        checkpointMetadata(m, c, TrainState{});
    legacy.erase("model_description");
    EXPECT_NE(resumeMismatch(legacy, renamed, c)
                  .find("model: checkpoint has 'fake' (description hash " +
                        toHex(m.hash()) + "), this program is 'other'"),
              std::string::npos);
  }

  // A checkpoint whose tensor does not match the model.
  std::vector<TensorOut> tensors = {
      {"wte.weight", {4, 16}, saved.params.data()}};
  std::map<std::string, std::string> meta =
      checkpointMetadata(m, c, TrainState{});
  atomicWriteFile(dir.path, "shape.safetensors",
                  [&](int fd, const std::string &p) {
                    writeSafetensors(fd, p, tensors, meta);
                  });
  std::vector<float> p(m.total), a(m.total), b(m.total);
  EXPECT_ERROR(readCheckpoint(dir / "shape.safetensors", m, c, p.data(),
                              a.data(), b.data()),
               "tensor 'wte.weight' has shape 4x16, the model expects 16x4");
  EXPECT_ERROR(loadParameters(dir / "shape.safetensors", m, p.data()),
               "has shape 4x16");
  writeFile(dir / "latest", "../etc/passwd\n");
  EXPECT_ERROR(latestCheckpoint(dir.path), "malformed marker");
  ::unlink((dir / "latest").c_str());
  EXPECT_ERROR(latestCheckpoint(dir.path), "no checkpoint to resume from");
}

//===----------------------------------------------------------------------===//
// memrefCopy
//===----------------------------------------------------------------------===//

template <int Rank> struct Desc {
  float *allocated, *aligned;
  int64_t offset, sizes[Rank], strides[Rank];
};

TEST(MemrefCopy, StridedCases) {
  // 3x4 row-major source; copy its transpose view into a contiguous 4x3.
  float src[12], dst[12] = {};
  for (int i = 0; i < 12; ++i)
    src[i] = static_cast<float>(i);
  Desc<2> s = {src, src, 0, {4, 3}, {1, 4}};
  Desc<2> d = {dst, dst, 0, {4, 3}, {3, 1}};
  lmcrt_unranked_memref us = {2, &s}, ud = {2, &d};
  memrefCopy(sizeof(float), &us, &ud);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(dst[i * 3 + j], src[j * 4 + i]);

  // Contiguous with offsets.
  float out[12] = {};
  Desc<2> s2 = {src, src, 2, {2, 5}, {5, 1}};
  Desc<2> d2 = {out, out, 1, {2, 5}, {5, 1}};
  lmcrt_unranked_memref us2 = {2, &s2}, ud2 = {2, &d2};
  memrefCopy(sizeof(float), &us2, &ud2);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(out[1 + i], src[2 + i]);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[11], 0.0f);

  // Sub-block of rows (contiguous inner run, strided outer), 3-d with a
  // broadcast (stride 0) dimension and a negative stride.
  float block[24] = {};
  Desc<3> s3 = {src, src, 8, {2, 2, 3}, {0, -4, 1}};
  Desc<3> d3 = {block, block, 0, {2, 2, 3}, {6, 3, 1}};
  lmcrt_unranked_memref us3 = {3, &s3}, ud3 = {3, &d3};
  memrefCopy(sizeof(float), &us3, &ud3);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(block[a * 6 + b * 3 + c], src[8 - 4 * b + c]);

  // Rank 0 and empty memrefs.
  float one = 0;
  Desc<1> s0 = {src, src, 7, {0}, {1}};
  Desc<1> d0 = {&one, &one, 0, {0}, {1}};
  lmcrt_unranked_memref r0s = {0, &s0}, r0d = {0, &d0};
  memrefCopy(sizeof(float), &r0s, &r0d);
  EXPECT_EQ(one, 7.0f);
  one = -1;
  lmcrt_unranked_memref e0s = {1, &s0}, e0d = {1, &d0};
  memrefCopy(sizeof(float), &e0s, &e0d);
  EXPECT_EQ(one, -1.0f);

  // Other element sizes (i8 with a strided innermost dimension).
  int8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8}, every[4] = {};
  struct {
    int8_t *allocated, *aligned;
    int64_t offset, sizes[1], strides[1];
  } sb = {bytes, bytes, 1, {4}, {2}}, db = {every, every, 0, {4}, {1}};
  lmcrt_unranked_memref usb = {1, &sb}, udb = {1, &db};
  memrefCopy(1, &usb, &udb);
  EXPECT_EQ(every[0], 2);
  EXPECT_EQ(every[3], 8);
}

//===----------------------------------------------------------------------===//
// Initialisation and sampling
//===----------------------------------------------------------------------===//

TEST(Init, ParallelDrawsAreTheSequentialStream) {
  // initParams draws each value from its place in the stream, in parallel:
  // the same values, and the same state after, as one sequential pass of
  // normal(), with 1 thread or 3.
  ModelInfo m = tinyModel();
  std::vector<float> expected(m.total, 0.0f);
  Rng sequential(11);
  for (const ParamInfo &p : m.params) {
    if (p.init != InitKind::Normal)
      continue;
    ASSERT_EQ(p.localNumel, p.storedNumel);
    for (int64_t i = 0; i < p.storedNumel; ++i)
      expected[p.offset + i] = static_cast<float>(p.std * sequential.normal());
  }
  const int before = omp_get_max_threads();
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    std::vector<float> got(m.total);
    Rng rng(11);
    initParams(m, got.data(), rng);
    for (const ParamInfo &p : m.params)
      if (p.init == InitKind::Normal)
        for (int64_t i = 0; i < p.storedNumel; ++i)
          ASSERT_EQ(got[p.offset + i], expected[p.offset + i])
              << "threads " << threads << ", element " << i;
    EXPECT_EQ(rng.state, sequential.state) << "threads " << threads;
  }
  omp_set_num_threads(before);
  Rng skipped(5), stepped(5);
  skipped.skip(7);
  for (int i = 0; i < 7; ++i)
    stepped.next();
  EXPECT_EQ(skipped.next(), stepped.next());
}

TEST(Init, DeterministicSplitmixBoxMuller) {
  Rng zero(0);
  EXPECT_EQ(zero.next(), 0xe220a8397b1dcdafULL); // splitmix64 reference value
  ModelInfo m = tinyModel();
  std::vector<float> a(m.total), b(m.total), c(m.total);
  Rng ra(7), rb(7), rc(8);
  initParams(m, a.data(), ra);
  initParams(m, b.data(), rb);
  initParams(m, c.data(), rc);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(ra.state, rb.state);
  // The first element: 0.02 * Box-Muller of the first two uniforms.
  Rng manual(7);
  double u1 = 1.0 - manual.uniform(), u2 = manual.uniform();
  EXPECT_EQ(a[0], static_cast<float>(0.02 * std::sqrt(-2 * std::log(u1)) *
                                     std::cos(2 * M_PI * u2)));
  for (int i = 64; i < 68; ++i)
    EXPECT_EQ(a[i], 1.0f); // ones
  for (int i = 76; i < 79; ++i)
    EXPECT_EQ(a[i], 0.0f); // zeros
  // Standard deviation of a large draw.
  Rng big(1);
  double sum = 0, sq = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double x = big.normal();
    sum += x;
    sq += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(sq / n), 1.0, 0.02);
}

TEST(Sampler, InverseCdf) {
  float logits[3] = {0, std::log(3.0f), -INFINITY};
  EXPECT_EQ(sampleSoftmax(logits, 1, 3, 0.0), 0);
  EXPECT_EQ(sampleSoftmax(logits, 1, 3, 0.24), 0);
  EXPECT_EQ(sampleSoftmax(logits, 1, 3, 0.26), 1);
  EXPECT_EQ(sampleSoftmax(logits, 1, 3, 0.999999), 1);
}

//===----------------------------------------------------------------------===//
// The trainer, over a fake model
//===----------------------------------------------------------------------===//

/// A deterministic stand-in for a compiled model: "loss" is the mean of
/// params[target] and the gradient counts the targets; AdamW-like update.
float *mallocCopy(const float *src, int64_t n) {
  float *p = static_cast<float *>(std::malloc(sizeof(float) * n));
  std::memcpy(p, src, sizeof(float) * n);
  return p;
}

void fakeTrainStep(lmcrt_train_step_result *r, lmcrt_memref_f32_1d *params,
                   lmcrt_memref_f32_1d *m, lmcrt_memref_f32_1d *v, int64_t step,
                   float lr, float, int64_t, int64_t, float beta1, float beta2,
                   float eps, float, float, lmcrt_memref_i32_2d *tokens,
                   lmcrt_memref_i32_2d *targets, float) {
  int64_t n = params->sizes[0];
  const float *p = params->aligned + params->offset;
  int64_t bt = targets->sizes[0] * targets->sizes[1];
  std::vector<float> grad(n, 0.0f);
  double loss = 0;
  for (int64_t i = 0; i < bt; ++i) {
    int32_t t = targets->aligned[targets->offset + i];
    int32_t x = tokens->aligned[tokens->offset + i];
    loss += p[t] * p[x + 16];
    grad[t] += p[x + 16] / bt;
    grad[x + 16] += p[t] / bt;
  }
  // In place, as compiled steps do.
  float *np = params->aligned + params->offset, *nm = m->aligned + m->offset,
        *nv = v->aligned + v->offset;
  double norm = 0;
  for (int64_t i = 0; i < n; ++i) {
    norm += grad[i] * grad[i];
    nm[i] = beta1 * nm[i] + (1 - beta1) * grad[i];
    nv[i] = beta2 * nv[i] + (1 - beta2) * grad[i] * grad[i];
    np[i] -= lr * nm[i] / (std::sqrt(nv[i]) + eps);
  }
  r->loss = static_cast<float>(loss / bt);
  r->grad_norm = static_cast<float>(std::sqrt(norm));
  r->lr = lr * (step + 1);
  r->nonfinite = 0.0f;
}

float fakeEvalStep(lmcrt_memref_f32_1d *params, lmcrt_memref_i32_2d *,
                   lmcrt_memref_i32_2d *targets) {
  return params->aligned[params->offset + targets->aligned[targets->offset]];
}

void fakeLogits(lmcrt_memref_f32_2d *result, lmcrt_memref_f32_1d *params,
                lmcrt_memref_i32_2d *) {
  float *l = mallocCopy(params->aligned + params->offset, 16);
  *result = {l, l, 0, {1, 16}, {16, 1}};
}

/// The description fakeModelInfo returns (kTinyModel unless a test changes
/// it).
std::string fakeDescription = kTinyModel;

void fakeModelInfo(lmcrt_memref_i8_1d *result) {
  size_t n = fakeDescription.size();
  int8_t *p = static_cast<int8_t *>(std::malloc(n));
  std::memcpy(p, fakeDescription.data(), n);
  *result = {p, p, 0, {static_cast<int64_t>(n)}, {1}};
}

const ModelFunctions kFake = {&fakeTrainStep, &fakeEvalStep, &fakeLogits,
                              &fakeModelInfo};

int runFake(std::vector<std::string> words) {
  Args args(std::move(words));
  std::fflush(stdout);
  return runTrainer(args.argc(), args.argv(), kFake);
}

/// Logits of a prefix [B, t], laid out column-major (strides {1, B}): row b
/// holds (sum of the row's tokens) + t / 8 + v / 1024 at token v.
void prefixLogits(lmcrt_memref_f32_2d *result, lmcrt_memref_f32_1d *,
                  lmcrt_memref_i32_2d *tokens) {
  const int64_t B = tokens->sizes[0], t = tokens->sizes[1], V = 16;
  auto *l = static_cast<float *>(std::malloc(sizeof(float) * B * V));
  for (int64_t b = 0; b < B; ++b) {
    float sum = 0;
    for (int64_t i = 0; i < t; ++i)
      sum += tokens->aligned[tokens->offset + b * tokens->strides[0] +
                             i * tokens->strides[1]];
    for (int64_t v = 0; v < V; ++v)
      l[v * B + b] = sum + t / 8.0f + v / 1024.0f;
  }
  *result = {l, l, 0, {B, V}, {1, B}};
}

TEST(Logits, EveryPositionFromItsPrefix) {
  // --logits: position t of row b is the last of the prefix tokens[b, 0..t],
  // whatever the strides of the entry point's result; the file holds the
  // tokens (I32) and the logits [B, T, V] (F32).
  TempDir dir;
  ModelInfo m = tinyModel();
  ModelFunctions fns = kFake;
  fns.logits = &prefixLogits;
  TokenBatch batch;
  batch.batch = 2;
  batch.seq = 3;
  batch.tokens = {1, 2, 3, 10, 0, 5};
  batch.targets = {2, 3, -1, 0, 5, -1};
  std::vector<float> params(m.total);
  double loss = dumpLogits(fns, m, params.data(), batch, dir / "l.safetensors",
                           /*write=*/true);
  SafetensorsHeader h = readSafetensorsHeader(dir / "l.safetensors");
  EXPECT_EQ(h.metadata.at("format"), "lmc-logits 1");
  ASSERT_NE(h.find("tokens"), nullptr);
  ASSERT_NE(h.find("logits"), nullptr);
  EXPECT_EQ(h.find("tokens")->dtype, "I32");
  EXPECT_EQ(h.find("tokens")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(h.find("logits")->shape, (std::vector<int64_t>{2, 3, 16}));
  std::vector<int32_t> tokens(6);
  readTensorBytes(h, *h.find("tokens"), tokens.data());
  EXPECT_EQ(tokens, batch.tokens);
  std::vector<float> logits(2 * 3 * 16);
  readTensorBytes(h, *h.find("logits"), logits.data());
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t) {
      float sum = 0;
      for (int i = 0; i <= t; ++i)
        sum += batch.tokens[b * 3 + i];
      for (int v = 0; v < 16; ++v)
        EXPECT_EQ(logits[(b * 3 + t) * 16 + v],
                  sum + (t + 1) / 8.0f + v / 1024.0f)
            << b << " " << t << " " << v;
    }
  // Within a row the logits differ by v / 1024 only: the loss of target v
  // is log(sum_u exp(u / 1024)) - v / 1024, over the four known targets.
  double lse = 0;
  for (int u = 0; u < 16; ++u)
    lse += std::exp(u / 1024.0);
  lse = std::log(lse);
  EXPECT_NEAR(loss, lse - (2 + 3 + 0 + 5) / 4.0 / 1024.0, 1e-6);
  // write=false (ranks other than 0): computed, not written.
  double again = dumpLogits(fns, m, params.data(), batch,
                            dir / "none.safetensors", /*write=*/false);
  EXPECT_EQ(again, loss);
  EXPECT_NE(::access((dir / "none.safetensors").c_str(), F_OK), 0);
}

std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    result.push_back(line);
  return result;
}

/// Shards with tokens 0..15 repeating, 40 and 25 tokens long.
void writeFakeData(const TempDir &dir) {
  std::vector<int> a, b;
  for (int i = 0; i < 40; ++i)
    a.push_back(i * 7 % 16);
  for (int i = 0; i < 25; ++i)
    b.push_back(i * 5 % 16);
  writeFile(dir / "train_000000.bin", shardBytes(a));
  writeFile(dir / "train_000001.bin", shardBytes(b));
  writeFile(dir / "val_000000.bin", shardBytes(b));
}

TEST(Trainer, ResumeIsBitIdentical) {
  TempDir dir;
  writeFakeData(dir);
  std::vector<std::string> common = {"--data",       dir / "train_*.bin",
                                     "--batch",      "2",
                                     "--seq",        "4",
                                     "--lr",         "0.01",
                                     "--val",        dir / "val_000000.bin",
                                     "--eval-every", "3",
                                     "--sample",     "5"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> all = common;
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  ASSERT_EQ(runFake(with({"--steps", "12", "--ckpt-dir", dir / "straight",
                          "--log", dir / "straight.jsonl"})),
            0);
  ASSERT_EQ(runFake(with({"--steps", "5", "--ckpt-dir", dir / "split", "--log",
                          dir / "split.jsonl"})),
            0);
  ASSERT_EQ(runFake(with({"--steps", "12", "--ckpt-dir", dir / "split",
                          "--resume", "--log", dir / "split.jsonl"})),
            0);
  std::vector<std::string> straight = lines(readFile(dir / "straight.jsonl"));
  std::vector<std::string> split = lines(readFile(dir / "split.jsonl"));
  // The split run evaluated once more (at the end of its first part).
  std::vector<std::string> straightSteps, splitSteps;
  for (auto &l : straight)
    if (l.find("\"loss\"") != std::string::npos)
      straightSteps.push_back(l.substr(0, l.find(",\"ms\"")));
  for (auto &l : split)
    if (l.find("\"loss\"") != std::string::npos)
      splitSteps.push_back(l.substr(0, l.find(",\"ms\"")));
  ASSERT_EQ(straightSteps.size(), 12u);
  EXPECT_EQ(straightSteps, splitSteps);
  EXPECT_EQ(straight[0].rfind("{\"step\":1,\"loss\":", 0), 0u) << straight[0];
  EXPECT_NE(straight[3].find("\"val_loss\""), std::string::npos) << straight[3];
  // Final checkpoints hold the same bytes of tensors.
  std::string a = readFile(dir / "straight/ckpt_00000012.safetensors");
  std::string b = readFile(dir / "split/ckpt_00000012.safetensors");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

TEST(Trainer, InitOnlyAndInitFrom) {
  TempDir dir;
  writeFakeData(dir);
  ASSERT_EQ(runFake({"--init-only", "--ckpt-dir", dir / "init", "--seed", "3"}),
            0);
  std::string init = dir / "init/ckpt_00000000.safetensors";
  ModelInfo m = tinyModel();
  std::vector<float> expected(m.total), loaded(m.total);
  Rng rng(3);
  initParams(m, expected.data(), rng);
  loadParameters(init, m, loaded.data());
  EXPECT_EQ(loaded, expected);
  EXPECT_EQ(
      runFake({"--data", dir / "train_000000.bin", "--batch", "1", "--seq", "4",
               "--steps", "2", "--init-from", init, "--log", dir / "l.jsonl"}),
      0);
  EXPECT_EQ(lines(readFile(dir / "l.jsonl")).size(), 2u);
}

TEST(Trainer, ErrorsAreOneLineWithExitCodes) {
  TempDir dir;
  writeFakeData(dir);
  EXPECT_EQ(runFake({"--help"}), 0);
  EXPECT_EQ(runFake({"--nope"}), 2);
  EXPECT_EQ(runFake({"--steps", "3"}), 2);              // --data missing
  EXPECT_EQ(runFake({"--data", "x", "--seq", "9"}), 2); // > context
  writeFile(dir / "bad.bin", shardBytes({1, 2, 3, 4, 5, 6}, 1));
  EXPECT_EQ(runFake({"--data", dir / "bad.bin", "--seq", "2", "--batch", "1"}),
            1);
  EXPECT_EQ(runFake({"--data", dir / "train_000000.bin", "--ckpt-dir",
                     dir / "empty", "--resume"}),
            1);
  writeFile(dir / "lying.safetensors", rawSafetensors("{}", 0, 99));
  EXPECT_EQ(runFake({"--data", dir / "train_000000.bin", "--init-from",
                     dir / "lying.safetensors"}),
            1);
}

TEST(Trainer, RefusesACudaProgramWithoutTheCudaRuntime) {
  // This binary registers no GPU device: a `target cuda` program linked
  // like it fails after the flags, saying what is missing; --help works.
  TempDir dir;
  writeFakeData(dir);
  fakeDescription = kTinyModel;
  fakeDescription.insert(fakeDescription.find("vocab "), "target cuda\n");
  EXPECT_EQ(runFake({"--help"}), 0);
  testing::internal::CaptureStderr();
  int status = runFake({"--init-only", "--ckpt-dir", dir / "ckpt"});
  std::string err = testing::internal::GetCapturedStderr();
  fakeDescription = kTinyModel;
  EXPECT_EQ(status, 1);
  EXPECT_NE(err.find("compiled for --target cuda, but its runtime has no GPU "
                     "support (link liblmcrt_cuda.a before liblmcrt.a)"),
            std::string::npos)
      << err;
  EXPECT_NE(::access((dir / "ckpt").c_str(), F_OK), 0);
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

//===----------------------------------------------------------------------===//
// Library kernels
//===----------------------------------------------------------------------===//

namespace {
/// Element (i, j) of a matrix stored with strides (rs, cs).
float at(const float *m, int64_t rs, int64_t cs, int64_t i, int64_t j) {
  return m[i * rs + j * cs];
}
} // namespace

TEST(Kernels, GemmTransposesAndStrides) {
  // C[3x5] = op(A) op(B) with K = 4, every combination of transposes, A and
  // B stored either way round.
  const int64_t M = 3, N = 5, K = 4;
  std::vector<float> a(M * K), b(K * N);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = 0.125f * static_cast<float>(i % 5) + 0.1f;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      // A is stored as [M, K] (or [K, M] when transposed), row-major.
      Desc<2> da = {
          a.data(), a.data(), 0, {ta ? K : M, ta ? M : K}, {ta ? M : K, 1}};
      Desc<2> db = {
          b.data(), b.data(), 0, {tb ? N : K, tb ? K : N}, {tb ? K : N, 1}};
      std::vector<float> c(M * N, 99.0f);
      Desc<2> dc = {c.data(), c.data(), 0, {M, N}, {N, 1}};
      lmcrt_unranked_memref ua = {2, &da}, ub = {2, &db}, uc = {2, &dc};
      _mlir_ciface_lmcrt_gemm(&ua, &ub, &uc, ta, tb, LMCRT_PRECISION_FP32);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          float expect = 0;
          for (int64_t k = 0; k < K; ++k)
            expect +=
                (ta ? at(a.data(), M, 1, k, i) : at(a.data(), K, 1, i, k)) *
                (tb ? at(b.data(), K, 1, j, k) : at(b.data(), N, 1, k, j));
          EXPECT_NEAR(c[i * N + j], expect, 1e-5) << ta << tb << i << j;
        }
    }
}

TEST(Kernels, GemmBatchedAndShared) {
  // A [2, 3, 4] x shared B [4, 2] (a linear layer over a batch), and the
  // same A x batched B [2, 4, 2]; also an A whose rows are not packed (a
  // column-major view) and a strided C.
  std::vector<float> a(24), b(8), bb(16);
  for (int i = 0; i < 24; ++i)
    a[i] = static_cast<float>(i % 5) - 2.0f;
  for (int i = 0; i < 8; ++i)
    b[i] = 0.5f * static_cast<float>(i) - 1.0f;
  for (int i = 0; i < 16; ++i)
    bb[i] = static_cast<float>(i % 3);
  auto check = [&](bool sharedB) {
    Desc<3> da = {a.data(), a.data(), 0, {2, 3, 4}, {12, 4, 1}};
    std::vector<float> c(2 * 3 * 2 * 2, -7.0f); // row stride 4: padded
    Desc<3> dc = {c.data(), c.data(), 0, {2, 3, 2}, {12, 4, 1}};
    lmcrt_unranked_memref ua = {3, &da}, uc = {3, &dc};
    Desc<2> d2 = {b.data(), b.data(), 0, {4, 2}, {2, 1}};
    Desc<3> d3 = {bb.data(), bb.data(), 0, {2, 4, 2}, {8, 2, 1}};
    lmcrt_unranked_memref ub2 = {2, &d2}, ub3 = {3, &d3};
    _mlir_ciface_lmcrt_gemm(&ua, sharedB ? &ub2 : &ub3, &uc, 0, 0,
                            LMCRT_PRECISION_FP32);
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) {
          float expect = 0;
          for (int k = 0; k < 4; ++k)
            expect += a[n * 12 + i * 4 + k] *
                      (sharedB ? b[k * 2 + j] : bb[n * 8 + k * 2 + j]);
          EXPECT_NEAR(c[n * 12 + i * 4 + j], expect, 1e-5);
        }
    // The padding of C is untouched.
    EXPECT_EQ(c[2], -7.0f);
  };
  check(true);
  check(false);

  // A given through a transposed (column-major) view: A^T stored [4, 3].
  std::vector<float> at_(12);
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 4; ++k)
      at_[k * 3 + i] = a[i * 4 + k];
  Desc<2> da = {at_.data(), at_.data(), 0, {3, 4}, {1, 3}};
  Desc<2> db = {b.data(), b.data(), 0, {4, 2}, {2, 1}};
  std::vector<float> c(6);
  Desc<2> dc = {c.data(), c.data(), 0, {3, 2}, {2, 1}};
  lmcrt_unranked_memref ua = {2, &da}, ub = {2, &db}, uc = {2, &dc};
  _mlir_ciface_lmcrt_gemm(&ua, &ub, &uc, 0, 0, LMCRT_PRECISION_FP32);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j) {
      float expect = 0;
      for (int k = 0; k < 4; ++k)
        expect += a[i * 4 + k] * b[k * 2 + j];
      EXPECT_NEAR(c[i * 2 + j], expect, 1e-5);
    }
}

TEST(Kernels, GemmReducedPrecisionRoundsOperands) {
  // C[1x4] = A[1x1] B[1x4] with A = 1 and B's elements on either side of
  // the rounding points of bfloat16 (7 mantissa bits, ulp 2^-7 at 1) and
  // TF32 (10 bits, ulp 2^-10): the products show how B was rounded.
  const float e = std::ldexp(1.0f, -8); // half a bfloat16 ulp at 1
  std::vector<float> a = {1.0f};
  std::vector<float> b = {1.0f + e,          // a tie: to even, 1
                          1.0f + 3 * e,      // a tie above an odd one: up
                          1.0f + e / 4,      // one TF32 ulp: bf16 drops it
                          -(1.0f + 1.5f * e)}; // above the tie: away
  const float bf16[] = {1.0f, 1.0f + 4 * e, 1.0f, -(1.0f + 2 * e)};
  const float tf32[] = {1.0f + e, 1.0f + 3 * e, 1.0f + e / 4,
                        -(1.0f + 1.5f * e)};
  for (auto [precision, expect] :
       {std::pair<int32_t, const float *>{LMCRT_PRECISION_BF16, bf16},
        {LMCRT_PRECISION_TF32, tf32},
        {LMCRT_PRECISION_FP32, b.data()}}) {
    Desc<2> da = {a.data(), a.data(), 0, {1, 1}, {1, 1}};
    Desc<2> db = {b.data(), b.data(), 0, {1, 4}, {4, 1}};
    std::vector<float> c(4, 0.0f);
    Desc<2> dc = {c.data(), c.data(), 0, {1, 4}, {4, 1}};
    lmcrt_unranked_memref ua = {2, &da}, ub = {2, &db}, uc = {2, &dc};
    _mlir_ciface_lmcrt_gemm(&ua, &ub, &uc, 0, 0, precision);
    for (int j = 0; j < 4; ++j)
      EXPECT_EQ(c[j], expect[j]) << j;
  }

  // A bfloat16 GEMM of a transposed, strided operand stays within the
  // rounding bound of the float32 one: |error| <= 2 * 2^-8 * sum |a||b|.
  const int64_t M = 3, N = 4, K = 16;
  std::vector<float> x(K * M), y(K * N);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = std::sin(0.7f * static_cast<float>(i)) + 0.01f;
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = std::cos(1.3f * static_cast<float>(i));
  Desc<2> dx = {x.data(), x.data(), 0, {K, M}, {M, 1}}; // A^T stored [K, M]
  Desc<2> dy = {y.data(), y.data(), 0, {K, N}, {N, 1}};
  std::vector<float> full(M * N), half(M * N);
  Desc<2> df = {full.data(), full.data(), 0, {M, N}, {N, 1}};
  Desc<2> dh = {half.data(), half.data(), 0, {M, N}, {N, 1}};
  lmcrt_unranked_memref ux = {2, &dx}, uy = {2, &dy}, uf = {2, &df},
                        uh = {2, &dh};
  _mlir_ciface_lmcrt_gemm(&ux, &uy, &uf, 1, 0, LMCRT_PRECISION_FP32);
  _mlir_ciface_lmcrt_gemm(&ux, &uy, &uh, 1, 0, LMCRT_PRECISION_BF16);
  bool anyDifferent = false;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float bound = 0;
      for (int64_t k = 0; k < K; ++k)
        bound += std::fabs(x[k * M + i] * y[k * N + j]);
      bound *= 2 * std::ldexp(1.0f, -8);
      EXPECT_LE(std::fabs(half[i * N + j] - full[i * N + j]), bound);
      anyDifferent |= half[i * N + j] != full[i * N + j];
    }
  EXPECT_TRUE(anyDifferent);
}

TEST(Kernels, GemmBiasEpilogues) {
  // lmcrt_gemm_bias: a linear layer [2, 3, K] x [K, N] (and [N, K] with
  // transpose_b) + bias [N], and with the tanh GELU epilogue the
  // pre-activation in aux: against the plain GEMM of the same precision
  // followed by the epilogue in double. Also a C with padded rows and an
  // aux with other strides than C's.
  const int64_t R = 6, K = 8, N = 5;
  std::vector<float> a(R * K), w(K * N), wt(N * K), bias(N);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = std::sin(0.37f * static_cast<float>(i)) * 2.0f;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) {
      w[k * N + j] = std::cos(0.11f * static_cast<float>(k * N + j)) - 0.2f;
      wt[j * K + k] = w[k * N + j];
    }
  for (int64_t j = 0; j < N; ++j)
    bias[j] = 0.3f * static_cast<float>(j) - 0.6f;
  const int32_t precisions[] = {LMCRT_PRECISION_FP32, LMCRT_PRECISION_TF32,
                                LMCRT_PRECISION_BF16};
  for (int32_t precision : precisions)
    for (int tb = 0; tb < 2; ++tb)
      for (int epilogue : {LMCRT_GEMM_BIAS, LMCRT_GEMM_BIAS_GELU_TANH}) {
        Desc<3> da = {a.data(), a.data(), 0, {2, 3, K}, {3 * K, K, 1}};
        Desc<2> dw = tb ? Desc<2>{wt.data(), wt.data(), 0, {N, K}, {K, 1}}
                        : Desc<2>{w.data(), w.data(), 0, {K, N}, {N, 1}};
        Desc<1> dbias = {bias.data(), bias.data(), 0, {N}, {1}};
        std::vector<float> ref(R * N);
        Desc<3> dref = {ref.data(), ref.data(), 0, {2, 3, N}, {3 * N, N, 1}};
        // C with row stride N + 2 (padding untouched); aux column-major.
        std::vector<float> c(R * (N + 2), -9.0f), aux(R * N, -9.0f);
        Desc<3> dc = {
            c.data(), c.data(), 0, {2, 3, N}, {3 * (N + 2), N + 2, 1}};
        Desc<3> daux = {aux.data(), aux.data(), 0, {2, 3, N}, {3, 1, R}};
        lmcrt_unranked_memref ua = {3, &da}, uw = {2, &dw}, ub = {1, &dbias},
                              uref = {3, &dref}, uc = {3, &dc},
                              uaux = {3, &daux};
        _mlir_ciface_lmcrt_gemm(&ua, &uw, &uref, 0, tb, precision);
        _mlir_ciface_lmcrt_gemm_bias(&ua, &uw, &ub, &uc,
                                     epilogue == LMCRT_GEMM_BIAS ? &uc : &uaux,
                                     0, tb, epilogue, precision);
        for (int64_t r = 0; r < R; ++r) {
          for (int64_t j = 0; j < N; ++j) {
            double pre = static_cast<double>(ref[r * N + j] + bias[j]);
            double expect = pre;
            if (epilogue == LMCRT_GEMM_BIAS_GELU_TANH) {
              expect = 0.5 * pre *
                       (1.0 + std::tanh(std::sqrt(2.0 / M_PI) *
                                        (pre + 0.044715 * pre * pre * pre)));
              EXPECT_EQ(aux[j * R + r], static_cast<float>(pre)) << r << j;
            }
            EXPECT_NEAR(c[r * (N + 2) + j], expect, 1e-5) << r << j << tb;
          }
          EXPECT_EQ(c[r * (N + 2) + N], -9.0f);
        }
        if (epilogue == LMCRT_GEMM_BIAS) {
          EXPECT_EQ(aux[0], -9.0f); // aux is not written
        }
      }
}

TEST(Kernels, GemmRejectsAnUnknownPrecision) {
  // The precision is an argument: a value outside LMCRT_PRECISION_* ends
  // the job rather than running some GEMM.
  std::vector<float> a = {1.0f}, b = {2.0f}, c = {0.0f};
  Desc<2> da = {a.data(), a.data(), 0, {1, 1}, {1, 1}};
  Desc<2> db = {b.data(), b.data(), 0, {1, 1}, {1, 1}};
  Desc<2> dc = {c.data(), c.data(), 0, {1, 1}, {1, 1}};
  Desc<1> dbias = {c.data(), c.data(), 0, {1}, {1}};
  lmcrt_unranked_memref ua = {2, &da}, ub = {2, &db}, uc = {2, &dc},
                        ubias = {1, &dbias};
  EXPECT_DEATH(_mlir_ciface_lmcrt_gemm(&ua, &ub, &uc, 0, 0, 3),
               "lmcrt: gemm: unknown precision 3 \\(expected 0 fp32, 1 tf32 "
               "or 2 bf16\\)");
  EXPECT_DEATH(_mlir_ciface_lmcrt_gemm_bias(&ua, &ub, &ubias, &uc, &uc, 0, 0,
                                            LMCRT_GEMM_BIAS, -1),
               "lmcrt: gemm: unknown precision -1");
  _mlir_ciface_lmcrt_gemm(&ua, &ub, &uc, 0, 0, LMCRT_PRECISION_FP32);
  EXPECT_EQ(c[0], 2.0f);
}

TEST(Kernels, GemmBiasGeluAcrossItsRange) {
  // The GELU epilogue (a vectorisable tanh) against GELU in double over
  // [-12, 12]: C [1, n] = 1 x B [1, n] + 0.
  const int64_t n = 4801;
  std::vector<float> one = {1.0f}, x(n), zero(n, 0.0f), c(n), pre(n);
  for (int64_t j = 0; j < n; ++j)
    x[j] = -12.0f + 24.0f * static_cast<float>(j) / (n - 1);
  Desc<2> da = {one.data(), one.data(), 0, {1, 1}, {1, 1}};
  Desc<2> db = {x.data(), x.data(), 0, {1, n}, {n, 1}};
  Desc<1> dbias = {zero.data(), zero.data(), 0, {n}, {1}};
  Desc<2> dc = {c.data(), c.data(), 0, {1, n}, {n, 1}};
  Desc<2> dpre = {pre.data(), pre.data(), 0, {1, n}, {n, 1}};
  lmcrt_unranked_memref ua = {2, &da}, ub = {2, &db}, ubias = {1, &dbias},
                        uc = {2, &dc}, upre = {2, &dpre};
  _mlir_ciface_lmcrt_gemm_bias(&ua, &ub, &ubias, &uc, &upre, 0, 0,
                               LMCRT_GEMM_BIAS_GELU_TANH, LMCRT_PRECISION_FP32);
  for (int64_t j = 0; j < n; ++j) {
    double v = x[j];
    double expect =
        0.5 * v *
        (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    EXPECT_EQ(pre[j], x[j]);
    EXPECT_NEAR(c[j], expect, 2e-6 * (1.0 + std::fabs(v))) << v;
  }
}

namespace {

/// The embedding gradient's operands: grad [1, 4, 2] = 1..8, ids {2, 0, 2,
/// 9} (row 2 gets two positions, 9 is out of range), a [4, 2] table.
struct EmbeddingGradOperands {
  float grad[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  int32_t ids[4] = {2, 0, 2, 9};
  float table[8] = {};
  Desc<3> dg = {grad, grad, 0, {1, 4, 2}, {8, 2, 1}};
  struct {
    int32_t *allocated, *aligned;
    int64_t offset, sizes[2], strides[2];
  } di = {ids, ids, 0, {1, 4}, {4, 1}};
  Desc<2> dt = {table, table, 0, {4, 2}, {2, 1}};
  lmcrt_unranked_memref ug = {3, &dg}, ui = {2, &di}, ut = {2, &dt};
};

} // namespace

TEST(Kernels, EmbeddingGradScatterAdds) {
  // Row 2 gets two positions, row 9 is out of range and skipped, row 1
  // stays zero (and previous contents are cleared).
  EmbeddingGradOperands e;
  std::fill(e.table, e.table + 8, 42.0f);
  _mlir_ciface_lmcrt_embedding_grad_f32(&e.ug, &e.ui, &e.ut, 0);
  float expect[8] = {3, 4, 0, 0, 1 + 5, 2 + 6, 0, 0};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(e.table[i], expect[i]) << i;

  // The block of rows [2, 6) of a larger table (offset 2): ids 2 land in
  // row 0, id 0 is below the block and skipped, id 9 above it.
  std::fill(e.table, e.table + 8, 42.0f);
  _mlir_ciface_lmcrt_embedding_grad_f32(&e.ug, &e.ui, &e.ut, 2);
  float block[8] = {1 + 5, 2 + 6, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(e.table[i], block[i]) << i;
}

TEST(Kernels, EmbeddingGradAccumulatesIntoTheTable) {
  // The `into` form: the table keeps its contents and the positions are
  // added to them, in position order (row 2: 0.5 + 1 + 5), out-of-range ids
  // skipped; with an offset, into the block.
  EmbeddingGradOperands e;
  const float start[8] = {0.25f, -1, 3, 4, 0.5f, 0.75f, -2, 7};
  std::copy(start, start + 8, e.table);
  _mlir_ciface_lmcrt_embedding_grad_acc_f32(&e.ug, &e.ui, &e.ut, 0);
  float expect[8] = {0.25f + 3,    -1 + 4,        3,  4,
                     0.5f + 1 + 5, 0.75f + 2 + 6, -2, 7};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(e.table[i], expect[i]) << i;

  std::fill(e.table, e.table + 8, 1.0f);
  _mlir_ciface_lmcrt_embedding_grad_acc_f32(&e.ug, &e.ui, &e.ut, 2);
  float block[8] = {1 + 1 + 5, 1 + 2 + 6, 1, 1, 1, 1, 1, 1};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(e.table[i], block[i]) << i;
}

//===----------------------------------------------------------------------===//
// The training step's arena
//===----------------------------------------------------------------------===//

extern "C" void *_mlir_memref_to_llvm_alloc(uint64_t size);
extern "C" void _mlir_memref_to_llvm_free(void *ptr);

namespace {

/// One "step" as compiled code would run it: a (100 B), b (200 B), free a,
/// c (100 B), free b, free c. `cSize` changes c's size.
std::vector<char *> fakeStep(uint64_t cSize = 100) {
  step_memory::begin();
  auto *a = static_cast<char *>(_mlir_memref_to_llvm_alloc(100));
  auto *b = static_cast<char *>(_mlir_memref_to_llvm_alloc(200));
  std::memset(a, 1, 100);
  std::memset(b, 2, 200);
  _mlir_memref_to_llvm_free(a);
  auto *c = static_cast<char *>(_mlir_memref_to_llvm_alloc(cSize));
  std::memset(c, 3, cSize);
  EXPECT_EQ(b[199], 2); // c does not overlap b, which is still alive
  _mlir_memref_to_llvm_free(b);
  _mlir_memref_to_llvm_free(c);
  step_memory::end();
  return {a, b, c};
}

} // namespace

TEST(StepMemory, PlansOneArenaReusingDeadBuffers) {
  // The first step records: 3 buffers, 64-byte slots 128 + 256 + 128 without
  // reuse; c takes a's slot, as a is dead when c is born.
  fakeStep();
  EXPECT_EQ(step_memory::plannedBuffers(), 3u);
  EXPECT_EQ(step_memory::plannedTotalBytes(), 400u);
  EXPECT_EQ(step_memory::arenaBytes(), 384u);
  // Later steps get the same addresses inside the arena, a and c sharing.
  std::vector<char *> second = fakeStep();
  std::vector<char *> third = fakeStep();
  EXPECT_EQ(second, third);
  EXPECT_EQ(second[0], second[2]);
  EXPECT_NE(second[0], second[1]);
  EXPECT_EQ(std::abs(second[1] - second[0]), 256);
  // Allocations outside a step come from malloc and free normally.
  void *outside = _mlir_memref_to_llvm_alloc(64);
  ASSERT_NE(outside, nullptr);
  _mlir_memref_to_llvm_free(outside);
}

TEST(StepMemory, AStepThatDiffersFallsBackAndIsRecordedAgain) {
  fakeStep();
  std::vector<char *> planned = fakeStep();
  // c of another size: this step's c comes from malloc ...
  std::vector<char *> differs = fakeStep(5000);
  EXPECT_EQ(differs[0], planned[0]);
  EXPECT_NE(differs[2], planned[2]);
  // ... and the next step records a new plan for 5000-byte c.
  fakeStep(5000);
  EXPECT_EQ(step_memory::plannedTotalBytes(), 5300u);
  std::vector<char *> replanned = fakeStep(5000);
  EXPECT_EQ(replanned, fakeStep(5000));
}

//===----------------------------------------------------------------------===//
// The OpenMP entry points of compiled loops (lib/Runtime/Kernels/OpenMP.cpp)
//===----------------------------------------------------------------------===//

extern "C" {
void __kmpc_fork_call(void *ident, int32_t argc,
                      void (*fn)(int32_t *, int32_t *, ...), ...);
void __kmpc_for_static_init_8u(void *ident, int32_t gtid, int32_t schedule,
                               int32_t *lastIter, uint64_t *lower,
                               uint64_t *upper, int64_t *stride, int64_t incr,
                               int64_t chunk);
void __kmpc_for_static_fini(void *ident, int32_t gtid);
void __kmpc_barrier(void *ident, int32_t gtid);
int32_t __kmpc_global_thread_num(void *ident);
}

namespace {

struct LoopCase {
  uint64_t trip;
  std::vector<int> hits;
  std::atomic<int> lastIters{0};
  std::atomic<int> threads{0};
};

/// What the lowering's outlined region does: the static schedule over
/// [0, trip - 1], each iteration marked once, then the barrier.
void loopRegion(int32_t *gtid, int32_t *, ...) {
  va_list ap;
  va_start(ap, gtid);
  auto *c = static_cast<LoopCase *>(va_arg(ap, void *));
  auto *marker = static_cast<int *>(va_arg(ap, void *));
  va_end(ap);
  uint64_t lower = 0, upper = c->trip - 1; // trip 0: upper = lower - 1
  int64_t stride = 0;
  int32_t last = 0;
  __kmpc_for_static_init_8u(nullptr, *gtid, 34, &last, &lower, &upper, &stride,
                            1, 0);
  for (uint64_t i = lower; upper - lower != uint64_t(-1) && i <= upper; ++i)
    __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
  __kmpc_for_static_fini(nullptr, *gtid);
  if (last)
    ++c->lastIters;
  ++c->threads;
  EXPECT_EQ(stride, static_cast<int64_t>(c->trip));
  EXPECT_EQ(*marker, 42);
  __kmpc_barrier(nullptr, __kmpc_global_thread_num(nullptr));
}

} // namespace

TEST(OpenMP, StaticLoopsCoverEveryIterationOnce) {
  int marker = 42;
  for (int threads : {1, 2, 3, 4}) {
    omp_set_num_threads(threads);
    for (uint64_t trip : {0, 1, 2, 3, 7, 100}) {
      LoopCase c;
      c.trip = trip;
      c.hits.assign(trip, 0);
      __kmpc_fork_call(nullptr, 2, loopRegion, &c, &marker);
      EXPECT_EQ(c.threads.load(), threads) << "trip " << trip;
      for (uint64_t i = 0; i < trip; ++i)
        EXPECT_EQ(c.hits[i], 1)
            << threads << " threads, trip " << trip << ", iteration " << i;
      EXPECT_EQ(c.lastIters.load(), trip ? 1 : 0) << "trip " << trip;
    }
  }
  omp_set_num_threads(omp_get_num_procs());
}
