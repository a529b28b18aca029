//===- TrainerFilesTest.cpp - Retention, the JSONL log, MFU ---------------===//
//
// Tests the trainer's file rules that need no compiled model: which
// checkpoints --keep-last and --keep-best keep, the `best` marker and the
// retention metadata across a write and a read, the cosine horizon a
// checkpoint records (and checkpoints written before it existed), the
// temporaries of interrupted writes, the JSONL lines a resumed run keeps, and
// the peak FLOP/s table behind MFU. Part of lmcrt-unittests.
//
//===----------------------------------------------------------------------===//

#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/Flags.h"
#include "Trainer/Log.h"
#include "Trainer/PeakFlops.h"
#include "Trainer/Retention.h"
#include "Trainer/Safetensors.h"
#include "TrainerTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace lmcrt;
using lmcrt::test::errorOf;

namespace {

class Dir {
public:
  Dir() {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base ? base : "/tmp") + "/lmcrt-files.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path = ::mkdtemp(buf.data());
  }
  ~Dir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string operator/(const std::string &name) const {
    return path + "/" + name;
  }
  std::string path;
};

void put(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string get(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const char *kModel = "lmc-model 2\n"
                     "name fake\n"
                     "dtype f32\n"
                     "vocab 16\n"
                     "context 8\n"
                     "params 2 8\n"
                     "param a 0 1 4 ones 0 0\n"
                     "param b 4 1 4 zeros 0 0\n"
                     "end\n";

Config config(std::vector<std::string> words) {
  words.insert(words.begin(), "train");
  std::vector<char *> argv;
  for (std::string &w : words)
    argv.push_back(&w[0]);
  Config c = parseFlags(static_cast<int>(argv.size()), argv.data());
  validateConfig(c, parseModelInfo(kModel));
  return c;
}

std::string ckpt(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "ckpt_%08lld.safetensors",
                static_cast<long long>(step));
  return name;
}

/// The step checkpoints in DIR, as their steps.
std::vector<int64_t> stepsIn(const std::string &dir) {
  std::vector<int64_t> steps;
  for (const std::string &name : listDirectory(dir))
    if (checkpointStep(name) >= 0)
      steps.push_back(checkpointStep(name));
  return steps;
}

TEST(Retention, CheckpointNames) {
  EXPECT_EQ(checkpointStep("ckpt_00000012.safetensors"), 12);
  EXPECT_EQ(checkpointStep("ckpt_123456789.safetensors"), 123456789);
  EXPECT_EQ(checkpointStep("ckpt_0000012.safetensors"), -1); // 7 digits
  EXPECT_EQ(checkpointStep("ckpt_0000001x.safetensors"), -1);
  EXPECT_EQ(checkpointStep("ckpt_00000012.safetensors.bak"), -1);
  EXPECT_EQ(checkpointStep(".tmp-ckpt_00000012.safetensors.AbC123"), -1);
  EXPECT_EQ(checkpointStep("latest"), -1);
}

TEST(Retention, TheRule) {
  std::vector<std::string> names = {"latest", "best", "notes.txt"};
  for (int64_t s : {0, 10, 20, 30, 40, 50})
    names.push_back(ckpt(s));
  // 0: everything stays.
  EXPECT_TRUE(checkpointsToDelete(names, 0, ckpt(50), "").empty());
  EXPECT_EQ(checkpointsToDelete(names, 2, ckpt(50), ""),
            (std::vector<std::string>{ckpt(0), ckpt(10), ckpt(20), ckpt(30)}));
  // The best and the latest marker's are kept beyond the K newest.
  EXPECT_EQ(checkpointsToDelete(names, 2, ckpt(50), ckpt(10)),
            (std::vector<std::string>{ckpt(0), ckpt(20), ckpt(30)}));
  EXPECT_EQ(checkpointsToDelete(names, 1, ckpt(30), ckpt(0)),
            (std::vector<std::string>{ckpt(10), ckpt(20), ckpt(40)}));
  EXPECT_TRUE(checkpointsToDelete(names, 6, ckpt(50), "").empty());
  EXPECT_TRUE(checkpointsToDelete(names, 100, ckpt(50), "").empty());
}

TEST(Retention, WritesKeepWhatTheRuleSays) {
  Dir dir;
  ModelInfo m = parseModelInfo(kModel);
  std::vector<float> p(8, 1.0f), a(8, 0.5f), v(8, 0.25f);
  Config c = config({"--data", "d.bin", "--val", "v.bin", "--ckpt-dir",
                     dir.path, "--keep-last", "2", "--keep-best"});
  put(dir / "notes.txt", "mine\n");
  // Val losses at steps 10..60: the best is at 20 until 60 beats it.
  double losses[] = {3.0, 2.0, 2.5, 2.6, 2.7, 1.5};
  TrainState s;
  std::vector<std::string> deleted;
  for (int i = 0; i < 6; ++i) {
    s.step = 10 * (i + 1);
    s.valLoss = losses[i];
    if (s.bestStep < 0 || losses[i] < s.bestValLoss) {
      s.bestStep = s.step;
      s.bestValLoss = losses[i];
    }
    writeCheckpoint(dir.path, m, c, s, p.data(), a.data(), v.data(), &deleted);
    EXPECT_EQ(readMarker(dir.path, "latest"), ckpt(s.step));
    EXPECT_EQ(readMarker(dir.path, "best"), ckpt(s.bestStep));
    if (s.step == 50) {
      EXPECT_EQ(stepsIn(dir.path), (std::vector<int64_t>{20, 40, 50}));
      EXPECT_EQ(deleted, (std::vector<std::string>{ckpt(10), ckpt(30)}));
    }
  }
  EXPECT_EQ(stepsIn(dir.path), (std::vector<int64_t>{50, 60}));
  EXPECT_EQ(get(dir / "notes.txt"), "mine\n");
  EXPECT_EQ(get(dir / "best"), ckpt(60) + "\n");

  // The metadata holds what a resumed run needs to go on with the rule.
  std::vector<float> p2(8), a2(8), v2(8);
  TrainState back =
      readCheckpoint(dir / ckpt(50), m, c, p2.data(), a2.data(), v2.data());
  EXPECT_EQ(back.valLoss, 2.7);
  EXPECT_EQ(back.bestStep, 20);
  EXPECT_EQ(back.bestValLoss, 2.0);
  EXPECT_EQ(back.lrDecaySteps, 0); // constant schedule
}

TEST(Retention, WithoutKeepLastNothingIsDeleted) {
  Dir dir;
  ModelInfo m = parseModelInfo(kModel);
  std::vector<float> p(8), a(8), v(8);
  Config c = config({"--data", "d.bin", "--ckpt-dir", dir.path});
  for (int64_t step : {1, 2, 3})
    writeCheckpoint(dir.path, m, c, TrainState{step, 0, 0, 1}, p.data(),
                    a.data(), v.data());
  EXPECT_EQ(stepsIn(dir.path), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(readMarker(dir.path, "best"), ""); // no --keep-best, no marker
  TrainState back =
      readCheckpoint(dir / ckpt(3), m, c, p.data(), a.data(), v.data());
  EXPECT_TRUE(std::isnan(back.valLoss));
  EXPECT_EQ(back.bestStep, -1);
}

TEST(Retention, StaleTemporariesAreRemoved) {
  Dir dir;
  put(dir / ".tmp-ckpt_00000010.safetensors.Ab12Cd", "partial");
  put(dir / ".tmp-latest.XyZ987", "ckpt_0000");
  put(dir / ".tmp-short", "not mkstemp's");
  put(dir / "ckpt_00000005.safetensors", "x");
  EXPECT_EQ(removeStaleTemporaries(dir.path), 2);
  EXPECT_EQ(
      listDirectory(dir.path),
      (std::vector<std::string>{".tmp-short", "ckpt_00000005.safetensors"}));
  EXPECT_EQ(removeStaleTemporaries(dir / "missing"), 0);
}

TEST(Schedule, TheCosineHorizonIsRecordedNotMatched) {
  Dir dir;
  ModelInfo m = parseModelInfo(kModel);
  std::vector<float> p(8), a(8), v(8);
  Config first = config({"--data", "d.bin", "--ckpt-dir", dir.path, "--steps",
                         "300", "--lr-schedule", "cosine"});
  EXPECT_EQ(decaySteps(first), 300);
  writeCheckpoint(dir.path, m, first, TrainState{300, 0, 0, 1}, p.data(),
                  a.data(), v.data());
  // More steps resume, and read back the horizon.
  Config longer = config({"--data", "d.bin", "--ckpt-dir", dir.path, "--steps",
                          "400", "--lr-schedule", "cosine", "--resume"});
  TrainState back =
      readCheckpoint(dir / ckpt(300), m, longer, p.data(), a.data(), v.data());
  EXPECT_EQ(back.lrDecaySteps, 300);
  Config horizon = config({"--data", "d.bin", "--steps", "400", "--lr-schedule",
                           "cosine", "--lr-decay-steps", "300"});
  EXPECT_EQ(decaySteps(horizon), 300);
  // What defines the steps taken must still match.
  Config other =
      config({"--data", "d.bin", "--ckpt-dir", dir.path, "--steps", "400",
              "--lr-schedule", "cosine", "--min-lr", "1e-5", "--resume"});
  EXPECT_NE(errorOf([&] {
              readCheckpoint(dir / ckpt(300), m, other, p.data(), a.data(),
                             v.data());
            }).find("--min-lr 1e-05 (checkpoint: 0)"),
            std::string::npos);

  // A checkpoint written before lr_decay_steps existed: the horizon was the
  // flag `steps`, hashed with the others.
  std::map<std::string, std::string> meta =
      checkpointMetadata(m, first, TrainState{300, 0, 0, 1});
  meta.erase("lr_decay_steps");
  meta["flag.steps"] = "300";
  std::string legacy;
  for (auto &kv : mustMatchFlags(first)) {
    legacy += kv.first + "=" + kv.second + "\n";
    if (kv.first == "min-lr")
      legacy += "steps=300\n";
  }
  meta["flags_hash"] = toHex(fnv1a64(legacy));
  std::vector<TensorOut> tensors;
  for (const char *prefix : {"", "exp_avg.", "exp_avg_sq."})
    for (const char *name : {"a", "b"})
      tensors.push_back({std::string(prefix) + name, {4}, p.data()});
  atomicWriteFile(dir.path, "old.safetensors",
                  [&](int fd, const std::string &path) {
                    writeSafetensors(fd, path, tensors, meta);
                  });
  back = readCheckpoint(dir / "old.safetensors", m, longer, p.data(), a.data(),
                        v.data());
  EXPECT_EQ(back.lrDecaySteps, 300);
  meta["flags_hash"] = "0123";
  atomicWriteFile(dir.path, "bad.safetensors",
                  [&](int fd, const std::string &path) {
                    writeSafetensors(fd, path, tensors, meta);
                  });
  EXPECT_NE(errorOf([&] {
              readCheckpoint(dir / "bad.safetensors", m, longer, p.data(),
                             a.data(), v.data());
            }).find("flags hash"),
            std::string::npos);
}

TEST(Flags, RetentionAndHorizonNeedTheirCompanions) {
  struct Case {
    std::vector<std::string> args;
    const char *message;
  } cases[] = {
      {{"--data", "x", "--keep-last", "2"}, "--keep-last: needs --ckpt-dir"},
      {{"--data", "x", "--ckpt-dir", "d", "--keep-best"},
       "--keep-best: needs --val"},
      {{"--data", "x", "--val", "v", "--keep-best"},
       "--keep-best: needs --ckpt-dir"},
      {{"--data", "x", "--lr-decay-steps", "10"},
       "--lr-decay-steps: needs --lr-schedule cosine"},
      {{"--data", "x", "--lr-decay-steps", "0"},
       "--lr-decay-steps: expected an integer >= 1"},
      {{"--data", "x", "--keep-last", "-1"},
       "--keep-last: expected an integer >= 0"},
  };
  for (const Case &c : cases)
    EXPECT_NE(errorOf([&] { config(c.args); }).find(c.message),
              std::string::npos)
        << c.message;
}

TEST(Log, AResumedRunKeepsTheStepsUpToItsCheckpoint) {
  std::string text = "{\"step\":1,\"loss\":3,\"time\":1.5}\n"
                     "{\"step\":2,\"loss\":2,\"time\":1.6}\n"
                     "{\"step\":2,\"val_loss\":2.5,\"time\":1.7}\n"
                     "{\"event\":\"resume\",\"step\":2,\"time\":1.8}\n"
                     "{\"step\":3,\"loss\":1,\"time\":1.9}\n"
                     "{\"step\":3,\"val_loss\":2.4,\"time\":2.0}\n"
                     "{\"step\":4,\"lo";
  int64_t dropped = 0;
  EXPECT_EQ(keepLogThrough(text, 2, dropped),
            text.substr(0, text.find("{\"step\":3")));
  EXPECT_EQ(dropped, 3);
  EXPECT_EQ(keepLogThrough(text, 0, dropped), "");
  EXPECT_EQ(dropped, 7);
  EXPECT_EQ(keepLogThrough("", 5, dropped), "");
  EXPECT_EQ(dropped, 0);
}

TEST(Log, LinesCarryTheTimeAndTheResumeMarker) {
  Dir dir;
  put(dir / "run.jsonl", "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2}\n");
  {
    JsonlLog log;
    EXPECT_EQ(log.resume(dir / "run.jsonl", 1, "ckpt_00000001.safetensors"), 1);
    log.step(2, 1.5, 0.5, 1e-3, 10, 100, 64, std::nullopt);
    log.step(3, 1.25, 0.5, 1e-3, 10, 100, 96, 12.5);
    log.eval(3, 2.25);
  }
  std::istringstream in(get(dir / "run.jsonl"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "{\"step\":1,\"loss\":3}");
  EXPECT_EQ(lines[1].rfind("{\"event\":\"resume\",\"step\":1,\"checkpoint\":"
                           "\"ckpt_00000001.safetensors\",\"dropped\":1,"
                           "\"time\":",
                           0),
            0u)
      << lines[1];
  EXPECT_EQ(lines[2].rfind("{\"step\":2,\"loss\":1.5,\"grad_norm\":0.5,"
                           "\"lr\":0.001,\"ms\":10,\"tok_s\":100,"
                           "\"tokens\":64,\"time\":",
                           0),
            0u)
      << lines[2];
  EXPECT_NE(lines[3].find("\"tokens\":96,\"mfu\":12.5,\"time\":"),
            std::string::npos)
      << lines[3];
  EXPECT_EQ(lines[4].rfind("{\"step\":3,\"val_loss\":2.25,\"time\":", 0), 0u);
  // Unix seconds with milliseconds, within a minute of now.
  std::string t = lines[4].substr(lines[4].find("\"time\":") + 7);
  double seconds = std::strtod(t.c_str(), nullptr);
  EXPECT_NEAR(seconds, static_cast<double>(std::time(nullptr)), 60.0);
  EXPECT_EQ(t.find('.'), t.size() - 5) << t; // 3 digits and '}'
}

TEST(PeakFlops, ByTheNamesTheDriverReports) {
  EXPECT_EQ(peakBf16Tflops("NVIDIA H100 80GB HBM3"), 989);
  EXPECT_EQ(peakBf16Tflops("NVIDIA H100 PCIe"), 756);
  EXPECT_EQ(peakBf16Tflops("NVIDIA H100 NVL"), 835);
  EXPECT_EQ(peakBf16Tflops("NVIDIA H200"), 989);
  EXPECT_EQ(peakBf16Tflops("NVIDIA GH200 480GB"), 989);
  EXPECT_EQ(peakBf16Tflops("NVIDIA A100-SXM4-80GB"), 312);
  EXPECT_EQ(peakBf16Tflops("NVIDIA A100-PCIE-40GB"), 312);
  EXPECT_EQ(peakBf16Tflops("NVIDIA A10"), 125);
  EXPECT_EQ(peakBf16Tflops("NVIDIA L4"), 121);
  EXPECT_EQ(peakBf16Tflops("NVIDIA L40S"), 362);
  EXPECT_EQ(peakBf16Tflops("NVIDIA L40"), 181);
  EXPECT_EQ(peakBf16Tflops("Tesla V100-SXM2-16GB"), 0);
  EXPECT_EQ(peakBf16Tflops("NVIDIA GeForce RTX 3090"), 0);
  EXPECT_EQ(peakBf16Tflops(""), 0);
  EXPECT_EQ(mfuText(494.5e12, 989, 1), "50.0%");
  EXPECT_EQ(mfuText(494.5e12, 989, 2), "25.0%");
  EXPECT_EQ(mfuText(1e12, 0, 1), "n/a");
}

} // namespace
