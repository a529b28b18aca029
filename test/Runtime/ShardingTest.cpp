//===- ShardingTest.cpp - Unit tests of tensor parallelism and ZeRO-1 -----===//
//
// Tests, in one process, the runtime's side of a model split over a dp x tp
// mesh: the shard and state lines of the model description and their errors,
// the local shapes and offsets, slicing global tensors into the pieces of
// every rank and assembling them back (lib/Runtime/Core/Sharding.h), the model
// hash across meshes, initialisation, checkpoints read under any mesh, and
// lmcrt_axis_index. Part of lmcrt-unittests (test/Runtime/runtime-unit.test);
// test/Runtime/checkpoint-mpi.test runs the assembly over MPI.
//
//===----------------------------------------------------------------------===//

#include "Core/Sharding.h"
#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "ShardedModel.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/Flags.h"
#include "Trainer/Init.h"
#include "Trainer/Safetensors.h"

#include "lmc/Runtime/lmcrt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <unistd.h>

using namespace lmcrt;
using namespace lmcrt::testing_sharded;

namespace {

template <typename Fn> std::string errorMessage(Fn fn) {
  try {
    fn();
  } catch (const RuntimeError &e) {
    return e.what();
  }
  return "<no error>";
}

/// A mesh 2 x 2 model with one parameter of each kind, written out.
const char *kShardedModel =
    "lmc-model 2\n"
    "name qkv\n"
    "dtype f32\n"
    "vocab 16\n"
    "context 8\n"
    "mesh dp=2,tp=2\n"
    "params 4 66\n"
    "param wte.weight 0 2 16 4 normal 2.000000e-02 1\n" // line 8
    "shard wte.weight tp 0 1\n"                         // local 8x4 = 32
    "param h.0.attn.c_attn.weight 32 2 4 12 normal 2.000000e-02 1\n"
    "shard h.0.attn.c_attn.weight tp 1 3\n" // local 4x6 = 24
    "param h.0.attn.c_attn.bias 56 1 12 zeros 0 0\n"
    "shard h.0.attn.c_attn.bias tp 0 3\n" // local 6
    "param ln_f.weight 62 1 4 ones 0 0\n" // line 14, replicated: 4
    "state 4 36 dp\n"                     // line 15
    "state wte.weight 0 0\n"              // 4x4 = 16
    "state h.0.attn.c_attn.weight 16 1\n" // 4x3 = 12
    "state h.0.attn.c_attn.bias 28 -1\n"  // 6
    "state ln_f.weight 34 0\n"            // 2
    "end\n";

std::string replaced(std::string text, const std::string &from,
                     const std::string &to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos)
    text.replace(at, from.size(), to);
  return text;
}

//===----------------------------------------------------------------------===//
// The description
//===----------------------------------------------------------------------===//

TEST(ShardedModelInfo, ParsesShardAndStateLines) {
  ModelInfo m = parseModelInfo(kShardedModel);
  EXPECT_EQ(dpOf(m), 2);
  EXPECT_EQ(tpOf(m), 2);
  EXPECT_EQ(m.total, 66);
  EXPECT_EQ(m.stateTotal, 36);
  EXPECT_TRUE(m.zero1);
  EXPECT_TRUE(m.isSharded());
  EXPECT_EQ(m.globalTotal, 64 + 48 + 12 + 4);
  ASSERT_EQ(m.params.size(), 4u);
  struct Expected {
    std::vector<int64_t> shape, localShape, stateShape;
    int64_t shardDim, blocks, offset, stateOffset, stateDim, globalOffset;
  } expected[] = {
      {{16, 4}, {8, 4}, {4, 4}, 0, 1, 0, 0, 0, 0},
      {{4, 12}, {4, 6}, {4, 3}, 1, 3, 32, 16, 1, 64},
      {{12}, {6}, {6}, 0, 3, 56, 28, -1, 112},
      {{4}, {4}, {2}, -1, 1, 62, 34, 0, 124},
  };
  for (size_t i = 0; i < 4; ++i) {
    const ParamInfo &p = m.params[i];
    const Expected &e = expected[i];
    EXPECT_EQ(p.shape, e.shape) << p.name;
    EXPECT_EQ(p.localShape, e.localShape) << p.name;
    EXPECT_EQ(p.stateShape, e.stateShape) << p.name;
    EXPECT_EQ(shardDimOf(p), e.shardDim) << p.name;
    EXPECT_EQ(shardBlocksOf(p), e.blocks) << p.name;
    EXPECT_EQ(p.offset, e.offset) << p.name;
    EXPECT_EQ(p.stateOffset, e.stateOffset) << p.name;
    EXPECT_EQ(p.stateDim, e.stateDim) << p.name;
    EXPECT_EQ(p.globalOffset, e.globalOffset) << p.name;
    EXPECT_EQ(p.numel, product(e.shape)) << p.name;
    EXPECT_EQ(p.localNumel, product(e.localShape)) << p.name;
    EXPECT_EQ(p.stateNumel, product(e.stateShape)) << p.name;
  }
  // The global model keeps what the other code reads: names, global shapes.
  ASSERT_NE(m.find("wte.weight"), nullptr);
  EXPECT_EQ(m.find("wte.weight")->shape, (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(m.find("h.0.attn.c_attn.weight")->shape,
            (std::vector<int64_t>{4, 12}));

  // Without a state section the moments are laid out like the parameters.
  std::string noState = kShardedModel;
  noState.erase(noState.find("state 4 36 dp"),
                noState.find("end\n") - noState.find("state 4 36 dp"));
  ModelInfo plain = parseModelInfo(noState);
  EXPECT_FALSE(plain.zero1);
  EXPECT_EQ(plain.stateTotal, 66);
  for (const ParamInfo &p : plain.params) {
    EXPECT_EQ(p.stateOffset, p.offset) << p.name;
    EXPECT_EQ(p.stateShape, p.localShape) << p.name;
    EXPECT_EQ(p.stateDim, -1) << p.name;
  }
}

TEST(ShardedModelInfo, ComputesLocalShapesOnEveryMesh) {
  for (int64_t dp : {1, 2, 4})
    for (int64_t tp : {1, 2, 4})
      for (bool zero1 : {false, true}) {
        SCOPED_TRACE("dp=" + std::to_string(dp) + " tp=" + std::to_string(tp) +
                     (zero1 ? " zero1" : ""));
        ModelInfo m = parseModelInfo(modelText(dp, tp, zero1));
        int64_t offset = 0, stateOffset = 0, global = 0;
        ASSERT_EQ(m.params.size(), specs().size());
        for (size_t i = 0; i < specs().size(); ++i) {
          const Spec &s = specs()[i];
          const ParamInfo &p = m.params[i];
          std::vector<int64_t> local = s.shape;
          if (s.shardDim >= 0)
            local[s.shardDim] /= tp;
          std::vector<int64_t> piece = local;
          if (zero1 && s.stateDim >= 0)
            piece[s.stateDim] /= dp;
          EXPECT_EQ(p.shape, s.shape);
          EXPECT_EQ(p.localShape, local);
          EXPECT_EQ(p.stateShape, piece);
          EXPECT_EQ(p.offset, offset);
          EXPECT_EQ(p.stateOffset, zero1 ? stateOffset : offset);
          EXPECT_EQ(p.globalOffset, global);
          offset += product(local);
          stateOffset += product(piece);
          global += product(s.shape);
        }
        EXPECT_EQ(m.total, offset);
        EXPECT_EQ(m.stateTotal, zero1 ? stateOffset : offset);
        EXPECT_EQ(m.globalTotal, global);
        EXPECT_EQ(m.isSharded(), tp > 1 || (zero1 && dp > 1));
      }
}

TEST(ShardedModelInfo, RejectsBadShardAndStateLines) {
  const std::string text = kShardedModel;
  auto r = [&](const std::string &from, const std::string &to) {
    return replaced(text, from, to);
  };
  struct Case {
    std::string text, message;
  } cases[] = {
      // shard lines
      {r("shard wte.weight tp 0 1", "shard nope tp 0 1"),
       "line 9: shard line for unknown parameter 'nope'"},
      {r("shard h.0.attn.c_attn.bias tp 0 3", "shard wte.weight tp 0 1"),
       "line 13: shard line for 'wte.weight' does not follow its param line"},
      {r("shard wte.weight tp 0 1\n",
         "shard wte.weight tp 0 1\nshard wte.weight tp 1 1\n"),
       "line 10: a second shard line for 'wte.weight'"},
      {r("shard wte.weight tp 0 1", "shard wte.weight pp 0 1"),
       "line 9: shard axis 'pp' is not an axis of the mesh dp=2,tp=2"},
      {r("shard wte.weight tp 0 1\n",
         "shard wte.weight tp 0 1\nshard wte.weight dp 1 1\n"),
       "line 10: the shard lines of 'wte.weight' are not in mesh order "
       "(dp=2,tp=2)"},
      {r("shard wte.weight tp 0 1", "shard wte.weight tp 2 1"),
       "line 9: bad shard dimension '2'"},
      {r("shard wte.weight tp 0 1", "shard wte.weight tp -1 1"),
       "bad shard dimension '-1'"},
      {r("shard wte.weight tp 0 1", "shard wte.weight tp 0 0"),
       "bad shard blocks '0'"},
      {r("shard wte.weight tp 0 1", "shard wte.weight tp 0"),
       "line 9: expected 5 fields, got 4"},
      {r("shard h.0.attn.c_attn.weight tp 1 3",
         "shard h.0.attn.c_attn.weight tp 1 5"),
       "line 11: dimension 1 of 'h.0.attn.c_attn.weight' (size 12) does not "
       "split into 5 block(s) of tp=2 equal parts"},
      {r("shard h.0.attn.c_attn.weight tp 1 3\n", ""),
       // Replicated, the weight has 48 elements: they no longer fit.
       "line 10: parameter 'h.0.attn.c_attn.weight' ends at 80, past the 66 "
       "total elements"},
      // offsets and totals against the local sizes
      {r("params 4 66", "params 4 128"), "parameters cover 66 of the 128"},
      {r("param h.0.attn.c_attn.weight 32", "param h.0.attn.c_attn.weight 31"),
       "line 10: parameter 'h.0.attn.c_attn.weight' at offset 31 overlaps"},
      {r("param ln_f.weight 62", "param ln_f.weight 63"),
       "line 14: parameter 'ln_f.weight' ends at 67, past the 66 total"},
      // the state section
      {r("state 4 36 dp", "state 3 36 dp"),
       "line 15: the state section has 3 lines, the model 4 parameters"},
      {r("state 4 36 dp", "state 4 37 dp"), "state pieces cover 36 of the 37"},
      {r("state 4 36 dp", "state 4 x dp"), "line 15: bad state total 'x'"},
      {r("state 4 36 dp", "state 4 36 pp"),
       "line 15: state axis 'pp' is not an axis of the mesh dp=2,tp=2"},
      {r("state 4 36 dp", "state 4 36"), "line 15: expected 4 fields, got 3"},
      {r("state h.0.attn.c_attn.weight 16 1", "state ln_f.weight 16 1"),
       "line 17: expected the state line of 'h.0.attn.c_attn.weight'"},
      {r("state h.0.attn.c_attn.weight 16 1",
         "state h.0.attn.c_attn.weight 16 2"),
       "line 17: bad state dimension '2'"},
      {r("state h.0.attn.c_attn.weight 16 1",
         "state h.0.attn.c_attn.weight 16 -2"),
       "bad state dimension '-2'"},
      {r("mesh dp=2,tp=2", "mesh dp=4,tp=2"),
       "line 17: dimension 1 of 'h.0.attn.c_attn.weight' (local shape 4x6) "
       "does not split into dp=4 equal parts"},
      {r("state h.0.attn.c_attn.weight 16 1",
         "state h.0.attn.c_attn.weight 15 1"),
       "line 17: state of 'h.0.attn.c_attn.weight' at offset 15 overlaps"},
      {r("state ln_f.weight 34 0", "state ln_f.weight 35 0"),
       "line 19: state of 'ln_f.weight' ends at 37, past the 36 state"},
      {r("state ln_f.weight 34 0", "state ln_f.weight 34"),
       "line 19: expected 4 fields, got 3"},
      {r("state ln_f.weight 34 0\n", ""), "line 19: expected 'state'"},
      {r("state wte.weight 0 0", "state wte.weight -1 0"),
       "bad state offset '-1'"},
      // sections out of order
      {r("end\n", "shard ln_f.weight tp 0 1\nend\n"),
       "line 20: expected 'end'"},
  };
  for (const Case &c : cases) {
    std::string message = errorMessage([&] { parseModelInfo(c.text); });
    EXPECT_NE(message.find(c.message), std::string::npos)
        << "expected: " << c.message << "\n     got: " << message;
  }
  // A scalar cannot be sharded.
  std::string scalar = replaced(
      replaced(text, "param ln_f.weight 62 1 4 ones 0 0",
               "param ln_f.weight 62 0 ones 0 0\nshard ln_f.weight tp 0 1"),
      "params 4 66", "params 4 63");
  EXPECT_NE(errorMessage([&] {
              parseModelInfo(scalar);
            }).find("the scalar parameter 'ln_f.weight' cannot be sharded"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// Slicing and assembling
//===----------------------------------------------------------------------===//

/// The global tensor of `p` with element i = i (exact in float).
std::vector<float> iota(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(i);
  return v;
}

TEST(Sharding, ExplicitSmallExamples) {
  ModelInfo m = parseModelInfo(kShardedModel);
  // QKV [4, 12], 3 blocks over tp=2: c = 2; tp index 0 holds columns
  // 0 1 | 4 5 | 8 9, index 1 holds 2 3 | 6 7 | 10 11 of every row.
  const ParamInfo &qkv = m.params[1];
  std::vector<float> global = iota(48), local(24);
  sliceParam(m, qkv, MeshCoord{0, 1}, global.data(), local.data());
  const float row2tp1[6] = {26, 27, 30, 31, 34, 35};
  for (int j = 0; j < 6; ++j)
    EXPECT_EQ(local[2 * 6 + j], row2tp1[j]) << j;
  sliceParam(m, qkv, MeshCoord{0, 0}, global.data(), local.data());
  const float row0tp0[6] = {0, 1, 4, 5, 8, 9};
  for (int j = 0; j < 6; ++j)
    EXPECT_EQ(local[j], row0tp0[j]) << j;
  // ZeRO-1 along dimension 1 of the local [4, 6]: dp index 1 holds columns
  // 3..5 of each row, i.e. global columns 5 8 9 for tp index 0.
  std::vector<float> piece(12);
  sliceState(m, qkv, MeshCoord{1, 0}, local.data(), piece.data());
  const float expectedPiece[12] = {5, 8, 9, 17, 20, 21, 29, 32, 33, 41, 44, 45};
  for (int j = 0; j < 12; ++j)
    EXPECT_EQ(piece[j], expectedPiece[j]) << j;

  // The bias [12] in 3 blocks: tp index 1 holds 2 3 6 7 10 11.
  const ParamInfo &bias = m.params[2];
  std::vector<float> b = iota(12), bLocal(6);
  sliceParam(m, bias, MeshCoord{0, 1}, b.data(), bLocal.data());
  EXPECT_EQ(bLocal, (std::vector<float>{2, 3, 6, 7, 10, 11}));
  // State dimension -1: the whole local tensor, on every dp index.
  std::vector<float> bPiece(6);
  sliceState(m, bias, MeshCoord{1, 1}, bLocal.data(), bPiece.data());
  EXPECT_EQ(bPiece, bLocal);

  // wte [16, 4] by rows, 1 block: tp index 1 holds rows 8..15; ZeRO-1 along
  // dimension 0 of the local [8, 4]: dp index 1 holds its rows 4..7, i.e.
  // global rows 12..15.
  const ParamInfo &wte = m.params[0];
  std::vector<float> w = iota(64), wLocal(32), wPiece(16);
  sliceParam(m, wte, MeshCoord{1, 1}, w.data(), wLocal.data());
  sliceState(m, wte, MeshCoord{1, 1}, wLocal.data(), wPiece.data());
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(wPiece[j], 48 + j) << j;

  // Placing pieces back writes exactly their elements.
  std::vector<float> back(48, -1.0f);
  for (int t = 0; t < 2; ++t) {
    sliceParam(m, qkv, MeshCoord{0, t}, global.data(), local.data());
    placeParam(m, qkv, MeshCoord{0, t}, local.data(), back.data());
  }
  EXPECT_EQ(back, global);
}

// A mesh of other axes, a parameter split over both (along different
// dimensions) and one split twice along the same dimension: the runtime
// reads any axis names and applies the shard lines in mesh order.
TEST(Sharding, AnyAxesAndNestedSplits) {
  const char *text = "lmc-model 2\n"
                     "name nested\n"
                     "dtype f32\n"
                     "vocab 16\n"
                     "context 8\n"
                     "mesh a=2,b=3\n"
                     "batch b\n"
                     "params 2 14\n"
                     "param w 0 2 6 12 normal 2.000000e-02 1\n"
                     "shard w a 1 1\n"
                     "shard w b 0 1\n"
                     "param v 12 1 12 zeros 0 0\n"
                     "shard v a 0 1\n"
                     "shard v b 0 2\n"
                     "end\n";
  ModelInfo m = parseModelInfo(text);
  EXPECT_EQ(m.numRanks(), 6);
  EXPECT_EQ(m.batchParts(), 3);
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0].localShape, (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(m.params[1].localShape, (std::vector<int64_t>{2}));
  EXPECT_EQ(m.globalTotal, 72 + 12);
  std::vector<float> global = iota(m.globalTotal);
  std::vector<std::vector<float>> buffers;
  for (int64_t r = 0; r < 6; ++r) {
    MeshCoord coord = meshCoordOf(m, r);
    ASSERT_EQ(coord, (MeshCoord{r / 3, r % 3}));
    const int64_t i = coord[0], j = coord[1];
    std::vector<float> params(m.total);
    sliceParams(m, coord, global.data(), params.data());
    // w [6, 12]: a takes columns [6 i, 6 i + 6), b rows [2 j, 2 j + 2).
    for (int64_t row = 0; row < 2; ++row)
      for (int64_t col = 0; col < 6; ++col)
        EXPECT_EQ(params[row * 6 + col], (2 * j + row) * 12 + 6 * i + col)
            << "rank " << r;
    // v [12]: a takes [6 i, 6 i + 6); b, in 2 blocks of 3, element j of
    // each.
    for (int64_t k = 0; k < 2; ++k)
      EXPECT_EQ(params[12 + k], 72 + 6 * i + 3 * k + j) << "rank " << r;
    buffers.push_back(params);
  }
  std::vector<const float *> ranks;
  for (const std::vector<float> &b : buffers)
    ranks.push_back(b.data());
  std::vector<float> back(m.globalTotal, -1.0f);
  assembleParams(m, ranks, back.data());
  EXPECT_EQ(back, global);
  // Shard lines out of mesh order, or twice over one axis.
  std::string swapped = text;
  swapped.replace(swapped.find("shard w a 1 1\nshard w b 0 1"), 27,
                  "shard w b 0 1\nshard w a 1 1");
  EXPECT_NE(errorMessage([&] { parseModelInfo(swapped); })
                .find("line 11: the shard lines of 'w' are not in mesh order "
                      "(a=2,b=3)"),
            std::string::npos);
}

TEST(Sharding, PiecesMatchTheRuleAndAssembleBackOnEveryMesh) {
  for (int64_t dp : {1, 2, 4})
    for (int64_t tp : {1, 2, 4})
      for (bool zero1 : {false, true}) {
        SCOPED_TRACE("dp=" + std::to_string(dp) + " tp=" + std::to_string(tp) +
                     (zero1 ? " zero1" : ""));
        ModelInfo m = parseModelInfo(modelText(dp, tp, zero1));
        std::vector<std::vector<float>> global = globalBuffers(m);
        std::vector<std::vector<std::vector<float>>> ranks;
        for (int64_t r = 0; r < dp * tp; ++r) {
          MeshCoord coord = meshCoordOf(m, r);
          EXPECT_EQ(dpIndexOf(coord), r / tp);
          EXPECT_EQ(tpIndexOf(coord), r % tp);
          std::vector<std::vector<float>> mine = rankBuffers(m, coord);
          // Slicing gives the closed-form pieces.
          std::vector<float> params(m.total), a(m.stateTotal), b(m.stateTotal);
          sliceParams(m, coord, global[0].data(), params.data());
          sliceStates(m, coord, global[1].data(), a.data());
          sliceStates(m, coord, global[2].data(), b.data());
          EXPECT_EQ(params, mine[0]) << "rank " << r;
          EXPECT_EQ(a, mine[1]) << "rank " << r;
          EXPECT_EQ(b, mine[2]) << "rank " << r;
          ranks.push_back(std::move(mine));
        }
        // Assembling every rank's pieces gives the global buffers back.
        std::vector<std::vector<float>> back(
            3, std::vector<float>(m.globalTotal, -7.0f));
        for (int kind = 0; kind < 3; ++kind) {
          std::vector<const float *> buffers;
          for (auto &r : ranks)
            buffers.push_back(r[kind].data());
          if (kind == 0)
            assembleParams(m, buffers, back[kind].data());
          else
            assembleStates(m, buffers, back[kind].data());
          EXPECT_EQ(back[kind], global[kind]) << "kind " << kind;
        }
      }
}

//===----------------------------------------------------------------------===//
// The model hash
//===----------------------------------------------------------------------===//

TEST(ShardedModelInfo, HashIsThatOfTheGlobalModel) {
  // The plain description of the global model, as before meshes existed.
  std::string global = modelText(1, 1, false, /*shards=*/false,
                                 /*meshLine=*/false);
  ModelInfo plain = parseModelInfo(global);
  EXPECT_EQ(plain.canonicalText(), global);
  EXPECT_EQ(plain.hash(), fnv1a64(global));
  for (int64_t dp : {1, 2, 4})
    for (int64_t tp : {1, 2, 4})
      for (bool zero1 : {false, true}) {
        ModelInfo m = parseModelInfo(modelText(dp, tp, zero1));
        EXPECT_EQ(m.hash(), plain.hash())
            << "dp=" << dp << " tp=" << tp << (zero1 ? " zero1" : "");
        EXPECT_EQ(m.canonicalText(), global);
      }
  // A different model: name, a global shape, an initialiser, a decay.
  ModelInfo renamed =
      parseModelInfo(modelText(2, 2, true, true, true, /*name=*/"other"));
  EXPECT_NE(renamed.hash(), plain.hash());
  std::string sharded = modelText(1, 2, false);
  for (auto change : std::vector<std::pair<std::string, std::string>>{
           {"param ln_f.bias 308 1 8 zeros 0 0",
            "param ln_f.bias 308 1 8 ones 0 0"},
           {"param ln_f.bias 308 1 8 zeros 0 0",
            "param ln_f.bias 308 1 8 zeros 0 1"},
           {"1.000000e-01", "2.000000e-01"},
           {"vocab 16", "vocab 17"}}) {
    ModelInfo a = parseModelInfo(sharded);
    ModelInfo b =
        parseModelInfo(replaced(sharded, change.first, change.second));
    EXPECT_NE(a.hash(), b.hash()) << change.second;
  }
  std::string bigger = replaced(
      replaced(sharded, "param ln_f.bias 308 1 8", "param ln_f.bias 308 1 10"),
      "params 6 316", "params 6 318");
  EXPECT_NE(parseModelInfo(bigger).hash(), parseModelInfo(sharded).hash());
}

//===----------------------------------------------------------------------===//
// Initialisation and checkpoints
//===----------------------------------------------------------------------===//

TEST(Sharding, InitKeepsThePiecesOfTheSingleRankRun) {
  ModelInfo one = parseModelInfo(modelText(1, 1, false));
  std::vector<float> full(one.total);
  Rng rngOne(11);
  initParams(one, full.data(), rngOne);
  for (int64_t tp : {2, 4}) {
    ModelInfo m = parseModelInfo(modelText(2, tp, true));
    for (int64_t t = 0; t < tp; ++t) {
      std::vector<float> mine(m.total), expected(m.total);
      Rng rng(11);
      initParams(m, mine.data(), rng, MeshCoord{0, t});
      EXPECT_EQ(rng.state, rngOne.state) << "tp=" << tp;
      sliceParams(m, MeshCoord{0, t}, full.data(), expected.data());
      EXPECT_EQ(mine, expected) << "tp=" << tp << " index " << t;
    }
  }
}

TEST(Sharding, CheckpointsHoldTheGlobalModelAndResumeUnderAnyMesh) {
  char tmpl[] = "/tmp/lmcrt-sharding.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  // Written from global buffers (what rank 0 assembles).
  ModelInfo writer = parseModelInfo(modelText(2, 2, true));
  std::vector<std::vector<float>> global = globalBuffers(writer);
  std::vector<std::string> words = {"train",      "--data", "d.bin",
                                    "--ckpt-dir", dir,      "--resume"};
  std::vector<char *> argv;
  for (std::string &w : words)
    argv.push_back(&w[0]);
  Config config = parseFlags(static_cast<int>(argv.size()), argv.data());
  validateConfig(config, writer);
  std::string path =
      writeCheckpoint(dir, writer, config, TrainState{3, 0, 0, 5},
                      global[0].data(), global[1].data(), global[2].data());
  // The file holds global tensors under their names.
  SafetensorsHeader file = readSafetensorsHeader(path);
  for (const ParamInfo &p : writer.params)
    for (const char *prefix : {"", "exp_avg.", "exp_avg_sq."}) {
      const TensorEntry *t = file.find(prefix + p.name);
      ASSERT_NE(t, nullptr) << prefix << p.name;
      EXPECT_EQ(t->shape, p.shape) << prefix << p.name;
    }
  // Every rank of every mesh reads its pieces.
  for (int64_t dp : {1, 2, 4})
    for (int64_t tp : {1, 2, 4})
      for (bool zero1 : {false, true}) {
        ModelInfo m = parseModelInfo(modelText(dp, tp, zero1));
        for (int64_t r = 0; r < dp * tp; ++r) {
          MeshCoord coord = meshCoordOf(m, r);
          std::vector<float> p(m.total), a(m.stateTotal), b(m.stateTotal);
          TrainState s = readCheckpoint(path, m, config, p.data(), a.data(),
                                        b.data(), coord);
          EXPECT_EQ(s.step, 3);
          std::vector<std::vector<float>> mine = rankBuffers(m, coord);
          EXPECT_EQ(p, mine[0]) << dp << "x" << tp << " rank " << r;
          EXPECT_EQ(a, mine[1]) << dp << "x" << tp << " rank " << r;
          EXPECT_EQ(b, mine[2]) << dp << "x" << tp << " rank " << r;
          std::vector<float> only(m.total);
          loadParameters(path, m, only.data(), coord);
          EXPECT_EQ(only, mine[0]);
        }
      }
  // In one process, saveCheckpoint writes its buffers of a one-rank model
  // as they are.
  ModelInfo single = parseModelInfo(modelText(1, 1, true));
  std::vector<std::vector<float>> mine = rankBuffers(single, MeshCoord{});
  config.ckptDir = dir + "/single";
  std::string saved =
      saveCheckpoint(config.ckptDir, single, config, TrainState{4, 0, 0, 5},
                     mine[0].data(), mine[1].data(), mine[2].data());
  EXPECT_EQ(saved, dir + "/single/ckpt_00000004.safetensors");
  std::vector<float> p(writer.total), a(writer.stateTotal),
      b(writer.stateTotal);
  readCheckpoint(saved, writer, config, p.data(), a.data(), b.data(),
                 MeshCoord{1, 1});
  EXPECT_EQ(p, rankBuffers(writer, MeshCoord{1, 1})[0]);
  // A model of another mesh in this one-rank process cannot save.
  EXPECT_NE(errorMessage([&] {
              saveCheckpoint(config.ckptDir, writer, config, TrainState{},
                             p.data(), a.data(), b.data());
            })
                .find("the process group is a mesh of one rank, the model's is "
                      "dp=2 x tp=2"),
            std::string::npos);
  // Coordinates outside the mesh.
  EXPECT_NE(errorMessage([&] {
              readCheckpoint(path, writer, config, p.data(), a.data(), b.data(),
                             MeshCoord{2, 0});
            }).find("rank (2, 0) is not in the mesh dp=2 x tp=2"),
            std::string::npos);
  std::system(("rm -rf '" + dir + "'").c_str());
}

//===----------------------------------------------------------------------===//
// lmcrt_axis_index
//===----------------------------------------------------------------------===//

TEST(ShardingDeathTest, AxisIndexBeforeTheGroupIsSetUp) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(lmcrt_axis_index(1), testing::ExitedWithCode(1),
              "lmcrt: lmcrt_axis_index: the process group is not initialised");
}

} // namespace
