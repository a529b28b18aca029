//===- TokenizeCheck.cpp - The trainer's tokenizer on files ---------------===//
//
// For test/Runtime/tokenizer-hf.test: `lmcrt-tokenize TOKENIZER.bin TEXT...`
// reads the tokenizer (and merges.bin beside it) and, for each text file,
// prints one line: the token ids of its encoding, space-separated. It exits
// 1 (with a message on stderr) when decode(encode(text)) is not the text.
//
//===----------------------------------------------------------------------===//

#include "Core/Error.h"
#include "Trainer/Tokenizer.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER.bin TEXT...\n", argv[0]);
    return 2;
  }
  try {
    lmcrt::Tokenizer tokenizer = lmcrt::Tokenizer::load(argv[1]);
    for (int i = 2; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "%s: cannot open\n", argv[i]);
        return 2;
      }
      std::string text((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
      std::vector<int32_t> ids = tokenizer.encode(text);
      for (size_t k = 0; k < ids.size(); ++k)
        std::printf("%s%d", k ? " " : "", ids[k]);
      std::printf("\n");
      if (tokenizer.decode(ids) != text) {
        std::fprintf(stderr, "%s: decode(encode(text)) differs from the text\n",
                     argv[i]);
        return 1;
      }
    }
  } catch (const lmcrt::RuntimeError &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
