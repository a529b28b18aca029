//===- SamplerTest.cpp - Sampling and the trainer's tokenizer -------------===//
//
// sampleToken (temperature, top-k, greedy), TextWriter's UTF-8 output, and
// Tokenizer: the byte tokenizer, the pre-tokenizer split, BPE merges and the
// file checks. The comparison with Hugging Face's encoding is
// test/Runtime/tokenizer-hf.test.
//
//===----------------------------------------------------------------------===//

#include "Trainer/Sampler.h"
#include "Core/Error.h"
#include "Trainer/Init.h"
#include "Trainer/Tokenizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace lmcrt;

namespace {

TEST(SampleToken, DefaultEqualsSoftmax) {
  float logits[5] = {0.5f, -1.0f, 2.0f, 0.0f, 1.5f};
  for (double u = 0; u < 1; u += 0.01)
    EXPECT_EQ(sampleToken(logits, 1, 5, 1.0f, 0, u),
              sampleSoftmax(logits, 1, 5, u));
}

TEST(SampleToken, GreedyIsArgmaxAndTopKOne) {
  float logits[6] = {0.5f, 3.0f, 2.0f, 3.0f, -1.0f, 0.0f};
  for (double u : {0.0, 0.3, 0.999999}) {
    EXPECT_EQ(sampleToken(logits, 1, 6, 0.0f, 0, u), 1); // lowest of ties
    EXPECT_EQ(sampleToken(logits, 1, 6, 0.7f, 1, u), 1);
    EXPECT_EQ(sampleToken(logits, 1, 6, 0.0f, 4, u), 1);
  }
  // A strided view (a column of a [6, 2] matrix).
  float strided[12] = {0, 9, 1, 9, 5, 9, 2, 9, 0, 9, 0, 9};
  EXPECT_EQ(sampleToken(strided, 2, 6, 0.0f, 0, 0.5), 2);
}

TEST(SampleToken, TopKExcludesTheRest) {
  // The distribution over 10000 draws: only the 3 largest logits appear,
  // in proportion to softmax over them.
  float logits[8] = {1.0f, 4.0f, 0.5f, 3.0f, 3.5f, 0.0f, 2.9f, -2.0f};
  Rng rng(7);
  std::vector<int> counts(8, 0);
  const int draws = 20000;
  for (int i = 0; i < draws; ++i)
    ++counts[sampleToken(logits, 1, 8, 1.0f, 3, rng.uniform())];
  double z = std::exp(4.0) + std::exp(3.0) + std::exp(3.5);
  for (int i = 0; i < 8; ++i) {
    if (i == 1 || i == 3 || i == 4)
      EXPECT_NEAR(counts[i] / double(draws), std::exp(logits[i]) / z, 0.015)
          << i;
    else
      EXPECT_EQ(counts[i], 0) << i;
  }
}

TEST(SampleToken, TemperatureSharpensAndFlattens) {
  // Two tokens one logit apart: p(0) = 1 / (1 + e^(-1/T)).
  float logits[2] = {1.0f, 0.0f};
  for (float t : {0.25f, 1.0f, 4.0f}) {
    double p0 = 1.0 / (1.0 + std::exp(-1.0 / t));
    EXPECT_EQ(sampleToken(logits, 1, 2, t, 0, p0 - 1e-6), 0);
    EXPECT_EQ(sampleToken(logits, 1, 2, t, 0, p0 + 1e-6), 1);
  }
  // Top-k larger than the vocabulary is the whole vocabulary.
  EXPECT_EQ(sampleToken(logits, 1, 2, 1.0f, 5, 0.99), 1);
}

std::string written(const std::vector<std::string> &pieces) {
  char *buffer = nullptr;
  size_t size = 0;
  FILE *out = open_memstream(&buffer, &size);
  TextWriter writer(out);
  for (const std::string &p : pieces)
    writer.write(p);
  writer.finish();
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

TEST(TextWriter, Utf8AcrossTokensAndBadBytes) {
  EXPECT_EQ(written({"a\tb\n"}), "a\tb\n");
  // "é" (C3 A9) and "東" (E6 9D B1) split over tokens.
  EXPECT_EQ(written({"caf\xC3", "\xA9 \xE6", "\x9D", "\xB1"}),
            "caf\xC3\xA9 \xE6\x9D\xB1");
  // Controls, a stray continuation byte, a cut sequence, an overlong lead,
  // a surrogate, a truncated end.
  EXPECT_EQ(written({"\x01x\x7F"}), "?x?");
  EXPECT_EQ(written({"\x80y"}), "?y");
  EXPECT_EQ(written({"\xE6\x9Dz"}), "?z");
  EXPECT_EQ(written({"\xC0\xAF"}), "??");
  EXPECT_EQ(written({"\xED\xA0\x80"}), "???");
  EXPECT_EQ(written({"ok\xF0\x9F"}), "ok?");
}

TEST(Tokenizer, BytesEncodeDecode) {
  Tokenizer t = Tokenizer::bytes();
  EXPECT_EQ(t.vocab(), 256);
  EXPECT_EQ(t.startToken(), 10);
  std::string text = "h\xC3\xA9!";
  std::vector<int32_t> ids = t.encode(text);
  EXPECT_EQ(ids, (std::vector<int32_t>{'h', 0xC3, 0xA9, '!'}));
  EXPECT_EQ(t.decode(ids), text);
  EXPECT_THROW(t.encode("bad \xFF"), RuntimeError);
}

TEST(Tokenizer, Pretokenize) {
  Tokenizer t = Tokenizer::bytes(); // ASCII letters and digits
  using V = std::vector<std::string>;
  EXPECT_EQ(t.pretokenize("Hello, world! It's 42."),
            (V{"Hello", ",", " world", "!", " It", "'s", " 42", "."}));
  EXPECT_EQ(t.pretokenize("a   b\n\n c  "),
            (V{"a", "  ", " b", "\n\n", " c", "  "}));
  EXPECT_EQ(t.pretokenize("we'll 're 'x"),
            (V{"we", "'ll", " '", "re", " '", "x"}));
  EXPECT_EQ(t.pretokenize("x\ty"), (V{"x", "\t", "y"}));
}

struct TempFiles {
  TempFiles() {
    char pattern[] = "/tmp/lmc-tokenizer-XXXXXX";
    dir = mkdtemp(pattern);
  }
  ~TempFiles() { std::system(("rm -rf " + dir).c_str()); }
  std::string dir;
};

void put32(std::string &s, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s += static_cast<char>(v >> (8 * i) & 0xFF);
}

std::string header(std::vector<uint32_t> fields) {
  std::string s;
  fields.resize(256, 0);
  for (uint32_t f : fields)
    put32(s, f);
  return s;
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Tokenizer, LoadMergesAndEncode) {
  TempFiles tmp;
  // The 256 bytes, then "ab" (256) and "abc" (257); without letter and
  // number ranges the pre-tokenizer takes ASCII's.
  std::string table = header({20240328, 2, 258, 0xFFFFFFFF});
  for (int b = 0; b < 256; ++b)
    table += std::string(1, '\x01') + static_cast<char>(b);
  table += std::string("\x02"
                       "ab") +
           "\x03"
           "abc";
  writeFile(tmp.dir + "/tokenizer.bin", table);
  Tokenizer decodeOnly = Tokenizer::load(tmp.dir + "/tokenizer.bin");
  EXPECT_EQ(decodeOnly.vocab(), 258);
  EXPECT_FALSE(decodeOnly.canEncode());
  EXPECT_EQ(decodeOnly.decode(257), "abc");
  EXPECT_EQ(decodeOnly.startToken(), 10);

  std::string merges = header({20261206, 1, 258, 0, 2, 0, 0});
  for (uint32_t v :
       {uint32_t('a'), uint32_t('b'), 256u, 256u, uint32_t('c'), 257u})
    put32(merges, v);
  writeFile(tmp.dir + "/merges.bin", merges);
  Tokenizer t = Tokenizer::load(tmp.dir + "/tokenizer.bin");
  ASSERT_TRUE(t.canEncode());
  EXPECT_EQ(t.encode("abcab-aabc"),
            (std::vector<int32_t>{257, 256, '-', 'a', 257}));
  EXPECT_EQ(t.decode(t.encode("abcab-aabc")), "abcab-aabc");

  // A merges file for another vocabulary, a truncated table.
  writeFile(tmp.dir + "/merges.bin", header({20261206, 1, 300, 0, 0, 0, 0}));
  try {
    Tokenizer::load(tmp.dir + "/tokenizer.bin");
    FAIL() << "no error";
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("merges.bin: vocab size 300"),
              std::string::npos)
        << e.what();
  }
  writeFile(tmp.dir + "/tokenizer.bin", table.substr(0, table.size() - 2));
  try {
    Tokenizer::load(tmp.dir + "/tokenizer.bin");
    FAIL() << "no error";
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("truncated at token 257"),
              std::string::npos)
        << e.what();
  }
}

} // namespace
