//===- VocabPaddingTest.cpp - Parameters padded along the vocabulary ------===//
//
// Tests the runtime's side of vocabulary padding (the `pad` lines of the
// model description): the stored shape and the hash of the unpadded model,
// the description's errors, an initialisation that draws the unpadded
// model's numbers and leaves the padding zero (also split over a mesh), and
// checkpoints that hold the real rows, read back with zeros in the padding,
// exchanged with the unpadded model, and refused when the padding is not
// zero. Part of lmcrt-unittests.
//
//===----------------------------------------------------------------------===//

#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/Flags.h"
#include "Trainer/Init.h"
#include "Trainer/Safetensors.h"
#include "TrainerTestUtil.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

using namespace lmcrt;
using lmcrt::test::errorOf;
using lmcrt::test::TempDir;

namespace {

/// A 5-token vocabulary: the table `emb` [5, 2] and a bias `b` [2]; padded,
/// the table has 8 rows of which 5 are real.
std::string model(bool padded) {
  std::string text = "lmc-model 2\nname fake\ndtype f32\nvocab 5\n";
  if (!padded)
    return text + "params 2 12\nparam emb 0 2 5 2 normal 1.0 1\n"
                  "param b 10 1 2 ones 0 0\nend\n";
  return text + "params 2 18\nparam emb 0 2 8 2 normal 1.0 1\npad emb 5\n"
                "param b 16 1 2 ones 0 0\nend\n";
}

Config config(const ModelInfo &m, std::vector<std::string> words) {
  words.insert(words.begin(), "train");
  std::vector<char *> argv;
  for (std::string &w : words)
    argv.push_back(&w[0]);
  Config c = parseFlags(static_cast<int>(argv.size()), argv.data());
  validateConfig(c, m);
  return c;
}

} // namespace

TEST(VocabPadding, StoredShapeAndTheUnpaddedModelsHash) {
  ModelInfo plain = parseModelInfo(model(false));
  ModelInfo padded = parseModelInfo(model(true));
  const ParamInfo &emb = padded.params[0];
  EXPECT_TRUE(emb.padded());
  EXPECT_EQ(emb.shape, (std::vector<int64_t>{8, 2}));
  EXPECT_EQ(emb.storedShape, (std::vector<int64_t>{5, 2}));
  EXPECT_EQ(emb.storedNumel, 10);
  EXPECT_FALSE(padded.params[1].padded());
  EXPECT_EQ(padded.globalTotal, 18);
  EXPECT_EQ(padded.storedTotal, 12);
  // Described and hashed as the unpadded model: they share checkpoints.
  EXPECT_EQ(padded.canonicalText(), plain.canonicalText());
  EXPECT_EQ(padded.globalText(), plain.globalText());
  EXPECT_EQ(padded.hash(), plain.hash());
  EXPECT_EQ(padded.vocab, 5);
}

TEST(VocabPadding, RejectsBadPadLines) {
  auto error = [](const std::string &text) {
    return errorOf([&] { parseModelInfo(text); });
  };
  std::string text = model(true);
  std::string other = text;
  other.replace(other.find("pad emb 5"), 9, "pad b 5");
  EXPECT_NE(error(other).find("line 7: pad line for 'b' does not follow its "
                              "param line (the line before is about 'emb')"),
            std::string::npos)
      << error(other);
  std::string tooMany = text;
  tooMany.replace(tooMany.find("pad emb 5"), 9, "pad emb 9");
  EXPECT_NE(error(tooMany).find("line 7: bad pad rows '9'"), std::string::npos)
      << error(tooMany);
  std::string none = text;
  none.replace(none.find("pad emb 5"), 9, "pad emb 0");
  EXPECT_NE(error(none).find("bad pad rows '0'"), std::string::npos);
  std::string words = text;
  words.replace(words.find("pad emb 5"), 9, "pad emb");
  EXPECT_NE(error(words).find("expected 3 fields"), std::string::npos);
}

TEST(VocabPadding, InitialisationDrawsTheUnpaddedNumbers) {
  ModelInfo plain = parseModelInfo(model(false));
  ModelInfo padded = parseModelInfo(model(true));
  std::vector<float> a(plain.total), b(padded.total, 7.0f);
  Rng ra(11), rb(11);
  initParams(plain, a.data(), ra);
  initParams(padded, b.data(), rb);
  EXPECT_EQ(ra.state, rb.state);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(b[i], a[i]) << i;
  for (int i = 10; i < 16; ++i)
    EXPECT_EQ(b[i], 0.0f) << "padding " << i;
  EXPECT_EQ(b[16], 1.0f);
  EXPECT_EQ(b[17], 1.0f);

  // Split over tp=2 along the rows: rank 1 holds rows 4..7, of which 4 is
  // real.
  ModelInfo split = parseModelInfo("lmc-model 2\nname fake\ndtype f32\n"
                                   "vocab 5\nmesh tp=2\nparams 2 10\n"
                                   "param emb 0 2 8 2 normal 1.0 1\n"
                                   "pad emb 5\nshard emb tp 0 1\n"
                                   "param b 8 1 2 ones 0 0\nend\n");
  std::vector<float> piece(split.total, 7.0f);
  Rng rc(11);
  initParams(split, piece.data(), rc, MeshCoord{1});
  EXPECT_EQ(piece[0], a[8]);
  EXPECT_EQ(piece[1], a[9]);
  for (int i = 2; i < 8; ++i)
    EXPECT_EQ(piece[i], 0.0f) << "padding " << i;
}

TEST(VocabPadding, CheckpointsHoldTheRealRows) {
  TempDir dir;
  ModelInfo plain = parseModelInfo(model(false));
  ModelInfo padded = parseModelInfo(model(true));
  Config c =
      config(padded, {"--data", "d.bin", "--ckpt-dir", dir.path, "--resume"});
  std::vector<float> p(18), m(18), v(18);
  for (int i = 0; i < 18; ++i) {
    bool padding = i >= 10 && i < 16;
    p[i] = padding ? 0.0f : 1.0f + i;
    m[i] = padding ? 0.0f : 0.5f * i;
    v[i] = padding ? 0.0f : 0.25f * i;
  }
  std::string path =
      writeCheckpoint(dir.path, padded, c, TrainState{4, 0, 0, 1}, p.data(),
                      m.data(), v.data());
  SafetensorsHeader file = readSafetensorsHeader(path);
  for (const char *name : {"emb", "exp_avg.emb", "exp_avg_sq.emb"})
    EXPECT_EQ(file.find(name)->shape, (std::vector<int64_t>{5, 2})) << name;

  // Read back into the padded model: the padding zero whatever was there.
  std::vector<float> p2(18, 9.0f), m2(18, 9.0f), v2(18, 9.0f);
  readCheckpoint(path, padded, c, p2.data(), m2.data(), v2.data());
  EXPECT_EQ(p2, p);
  EXPECT_EQ(m2, m);
  EXPECT_EQ(v2, v);

  // The unpadded model reads it as its own, and the padded one reads the
  // unpadded model's parameters (--init-from) with zeros in the padding.
  Config cp =
      config(plain, {"--data", "d.bin", "--ckpt-dir", dir.path, "--resume"});
  std::vector<float> q(12), qm(12), qv(12);
  readCheckpoint(path, plain, cp, q.data(), qm.data(), qv.data());
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(q[i], p[i]);
  EXPECT_EQ(q[10], p[16]);
  std::vector<float> r(18, 9.0f);
  loadParameters(path, padded, r.data());
  EXPECT_EQ(r, p);

  // Padding that is not zero would be lost: the write is refused.
  p[13] = 0.5f;
  EXPECT_NE(errorOf([&] {
              writeCheckpoint(dir.path, padded, c, TrainState{5, 0, 0, 1},
                              p.data(), m.data(), v.data());
            })
                .find("parameter 'emb': padding row 6 (rows 5..7 pad the "
                      "vocabulary) is not zero"),
            std::string::npos);
}
