//===- FingerprintTest.cpp - Fingerprints and the startup agreement -------===//
//
// Tests hash64 and hashFile (Fingerprint.h) and reports their throughput on
// 100 MB, the wording of data and description differences, and that the
// startup agreement (Agreement.h) covers every trainer flag but the
// per-rank ones, the heads line of the model description, and the order of
// the checkpoints a resume tries.
//
//===----------------------------------------------------------------------===//

#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Trainer/Agreement.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/Fingerprint.h"
#include "Trainer/Flags.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <unistd.h>
#include <vector>

using namespace lmcrt;

namespace {

std::vector<unsigned char> pattern(size_t n) {
  std::vector<unsigned char> v(n);
  uint64_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = static_cast<unsigned char>(x >> 56);
  }
  return v;
}

std::string tempFile(const std::vector<unsigned char> &data) {
  char name[] = "/tmp/lmc-fingerprint-XXXXXX";
  int fd = ::mkstemp(name);
  EXPECT_GE(fd, 0);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    EXPECT_GT(n, 0);
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return name;
}

} // namespace

TEST(Fingerprint, HashSeesEveryByteAndTheLength) {
  for (size_t n : {0, 1, 7, 8, 31, 32, 33, 100, 4096}) {
    std::vector<unsigned char> v = pattern(n + 1);
    uint64_t h = hash64(v.data(), n);
    EXPECT_EQ(h, hash64(v.data(), n)) << n;
    EXPECT_NE(h, hash64(v.data(), n + 1)) << n;
    EXPECT_NE(h, hash64(v.data(), n, 1)) << n;
    // The same bytes at another alignment.
    std::vector<unsigned char> shifted(n + 3);
    std::copy(v.begin(), v.begin() + n, shifted.begin() + 3);
    EXPECT_EQ(h, hash64(shifted.data() + 3, n)) << n;
    for (size_t i = 0; i < n; ++i)
      for (int bit : {0, 7}) {
        v[i] ^= 1 << bit;
        EXPECT_NE(h, hash64(v.data(), n)) << n << " byte " << i;
        v[i] ^= 1 << bit;
      }
  }
}

TEST(Fingerprint, HashFileChainsBlocks) {
  std::vector<unsigned char> small = pattern(1000);
  std::string path = tempFile(small);
  int64_t size = 0;
  EXPECT_EQ(hashFile(path, &size), hash64(small.data(), small.size()));
  EXPECT_EQ(size, 1000);
  ::unlink(path.c_str());
  // Over several 4 MiB blocks: the last byte counts.
  std::vector<unsigned char> big = pattern((9 << 20) + 17);
  path = tempFile(big);
  uint64_t h = hashFile(path, &size);
  EXPECT_EQ(size, static_cast<int64_t>(big.size()));
  ::unlink(path.c_str());
  big.back() ^= 1;
  path = tempFile(big);
  EXPECT_NE(h, hashFile(path));
  ::unlink(path.c_str());
  EXPECT_THROW(hashFile("/nonexistent/shard.bin"), RuntimeError);
}

TEST(Fingerprint, Throughput100MB) {
  std::vector<unsigned char> data = pattern(100 * 1000 * 1000);
  auto t0 = std::chrono::steady_clock::now();
  volatile uint64_t h = hash64(data.data(), data.size());
  double memory = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
  std::string path = tempFile(data);
  t0 = std::chrono::steady_clock::now();
  uint64_t fileHash = hashFile(path);
  double file = std::chrono::duration<double>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
  ::unlink(path.c_str());
  (void)h;
  EXPECT_NE(fileHash, 0u);
  std::printf("hash64: 100 MB in memory %.3f s (%.2f GB/s); hashFile of a "
              "100 MB file (page cache) %.3f s (%.2f GB/s)\n",
              memory, 0.1 / memory, file, 0.1 / file);
}

TEST(Fingerprint, DataChangesInWords) {
  std::string before = "a.bin 1224 00000000000000aa\n"
                       "b.bin 2024 00000000000000bb\n"
                       "c.bin 3024 00000000000000cc\n";
  std::string after = "a.bin 1224 00000000000000aa\n"
                      "b.bin 2024 0000000000000bbb\n"
                      "c.bin 3224 00000000000000cc\n"
                      "d.bin 1024 00000000000000dd\n";
  EXPECT_EQ(describeDataChange(before, before), "");
  EXPECT_EQ(describeDataChange(before, after),
            "shard d.bin added; shard b.bin changed (same size 2024 bytes, "
            "different contents); shard c.bin changed (size 3024 -> 3224 "
            "bytes)");
  EXPECT_EQ(describeDataChange(after, before),
            "shard d.bin removed; shard b.bin changed (same size 2024 bytes, "
            "different contents); shard c.bin changed (size 3224 -> 3024 "
            "bytes)");
}

TEST(Fingerprint, FirstDifferentLine) {
  EXPECT_EQ(firstDifferentLine("a\nb\n", "a\nb\n"), "");
  EXPECT_EQ(firstDifferentLine("a\nheads 2 2\nc\n", "a\nheads 4 4\nc\n"),
            "line 2: 'heads 2 2' / 'heads 4 4'");
  EXPECT_EQ(firstDifferentLine("a\n", "a\nb\n"), "line 2: <none> / 'b'");
}

TEST(Agreement, EveryFlagButThePerRankOnes) {
  // The flags of --help, less the ones each rank may set alone.
  std::string help = usage("train");
  std::set<std::string> flags;
  std::regex flag("\n  --([a-z0-9-]+)");
  for (std::sregex_iterator it(help.begin(), help.end(), flag), end; it != end;
       ++it)
    flags.insert((*it)[1]);
  for (const char *perRank : {"threads", "log", "help", "version"})
    EXPECT_EQ(flags.erase(perRank), 1u) << perRank;
  std::set<std::string> agreed;
  for (auto &[name, value] : agreedFlags(Config{}))
    agreed.insert(name);
  EXPECT_EQ(flags, agreed);
}

TEST(Agreement, MessagesNameTheRanksAndValues) {
  EXPECT_EQ(describeDisagreement("flag.steps", {"10", "20", "10", "30"}),
            "--steps differs: ranks 0, 2 '10', rank 1 '20', rank 3 '30'");
  EXPECT_EQ(describeDisagreement("model", {"a\nheads 2 2\n", "a\nheads 4 4\n"}),
            "the model description differs between rank 0 and rank 1, line "
            "2: 'heads 2 2' / 'heads 4 4'");
  EXPECT_EQ(describeDisagreement("data", {"s0.bin 1224\n",
                                          "s0.bin 1224\ns1.bin 2048\n"}),
            "--data: the shards of rank 1 differ from rank 0's: shard s1.bin "
            "added");
}

TEST(ModelDescription, HeadsLineIsInTheGlobalTextNotTheHash) {
  std::string without = "lmc-model 2\nname m\ndtype f32\nvocab 4\n"
                        "attention 1 8\nparams 1 32\n"
                        "param wte.weight 0 2 4 8 normal 0.02 1\nend\n";
  std::string with = without;
  with.insert(with.find("params"), "heads 2 1\n");
  ModelInfo a = parseModelInfo(without), b = parseModelInfo(with);
  EXPECT_EQ(b.heads, 2);
  EXPECT_EQ(b.kvHeads, 1);
  // Checkpoints written before the line existed still match by hash.
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_EQ(a.globalText(), a.canonicalText());
  EXPECT_EQ(firstDifferentLine(a.globalText(), b.globalText()),
            "line 6: 'params 1 32' / 'heads 2 1'");
  std::string bad = with;
  bad.replace(bad.find("heads 2 1"), 9, "heads 0 1");
  EXPECT_THROW(parseModelInfo(bad), RuntimeError);
}

TEST(ResumeCandidates, LatestFirstThenNewestFirst) {
  char tmpl[] = "/tmp/lmc-candidates-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  for (const char *name :
       {"ckpt_00000002.safetensors", "ckpt_00000010.safetensors",
        "ckpt_00000006.safetensors", "ckpt_00000004.safetensors.damaged",
        "notes.txt"})
    std::fclose(std::fopen((dir + "/" + name).c_str(), "w"));
  writeMarker(dir, "latest", "ckpt_00000006.safetensors");
  std::vector<std::string> expected = {dir + "/ckpt_00000006.safetensors",
                                       dir + "/ckpt_00000010.safetensors",
                                       dir + "/ckpt_00000002.safetensors"};
  EXPECT_EQ(resumeCandidates(dir), expected);
  // An empty file is damaged, naming itself.
  EXPECT_NE(checkpointDamage(expected[0]).find(expected[0]),
            std::string::npos);
  std::system(("rm -rf " + dir).c_str());
  EXPECT_THROW(resumeCandidates(dir), RuntimeError);
}
