//===- Tokenizer.h - Decoding samples and encoding prompts ------*- C++ -*-===//
//
// The tokenizer files that `python3 -m lmc.data prepare` writes beside the
// shards (python/lmc/tokenizers.py; docs/Runtime.md), all little-endian:
//
// tokenizer.bin (the decode table, llm.c's tokenizer format): a header of
//   256 uint32 -- [0] magic 20240328, [1] version 2, [2] vocab size V,
//   [3] end-of-text token id (0xFFFFFFFF: none) -- then, for each token id
//   0..V-1, a uint8 length n (1..255) and the token's n bytes.
// merges.bin (what encoding needs), read from the directory of
//   tokenizer.bin: a header of 256 uint32 -- [0] magic 20261206, [1] version
//   1, [2] vocab size V, [3] merge rule (0: the merges listed, first listed
//   first, as Hugging Face's byte-level BPE applies them; 1: any adjacent
//   pair whose concatenated bytes are a token, the lowest such token id
//   first, as tiktoken applies GPT-2's ranks), [4] merge count M, [5] RL,
//   [6] RN -- then M x (left, right, merged) token ids, RL x (first, last)
//   inclusive code point ranges of Unicode letters (\p{L}) and RN of
//   numbers (\p{N}) (none: ASCII letters and digits).
//
// Encoding splits the text as GPT-2's pre-tokenizer regex does
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (\s: Unicode White_Space), maps each piece's bytes to the single-byte
// tokens and merges adjacent pairs by the merge rule until none applies.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_TOKENIZER_H
#define LMC_LIB_RUNTIME_TOKENIZER_H

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lmcrt {

class Tokenizer {
public:
  /// The identity tokenizer of 256 bytes (no files needed).
  static Tokenizer bytes();
  /// Reads the decode table at `path` and, when present, merges.bin beside
  /// it; throws RuntimeError naming the file on a malformed one.
  static Tokenizer load(const std::string &path);

  int64_t vocab() const { return static_cast<int64_t>(table.size()); }
  /// The end-of-text id, or -1.
  int64_t eot() const { return eotId; }
  const std::string &decode(int32_t id) const { return table.at(id); }
  std::string decode(const std::vector<int32_t> &ids) const;
  /// Whether encode() can be used (merges.bin was found, or bytes()).
  bool canEncode() const { return encoder; }
  /// The tokens of UTF-8 `text`; throws RuntimeError on invalid UTF-8.
  std::vector<int32_t> encode(const std::string &text) const;
  /// The token to start a sample from without a prompt: the newline's
  /// single-byte token when there is one, else end-of-text, else 0.
  int32_t startToken() const;
  /// Where the table came from ("" for bytes()).
  const std::string &path() const { return source; }

  /// The pieces GPT-2's pre-tokenizer splits `text` into (valid UTF-8).
  std::vector<std::string> pretokenize(const std::string &text) const;

private:
  bool isLetter(uint32_t cp) const;
  bool isNumber(uint32_t cp) const;
  void bpe(const std::string &piece, std::vector<int32_t> &out) const;

  std::string source;
  std::vector<std::string> table;
  int64_t eotId = -1;
  bool encoder = false;
  int rule = 0;
  int32_t byteToken[256] = {};
  // rule 0: (left, right) -> (priority, merged)
  std::map<std::pair<int32_t, int32_t>, std::pair<int64_t, int32_t>> merges;
  // rule 1: bytes -> id
  std::unordered_map<std::string, int32_t> ids;
  std::vector<std::pair<uint32_t, uint32_t>> letters, numbers;
};

/// Writes decoded token bytes as text to a stream: complete UTF-8 sequences
/// as they are, control characters other than newline and tab and bytes
/// that are not UTF-8 as '?'. A sequence split across tokens is held until
/// its last byte comes.
class TextWriter {
public:
  explicit TextWriter(FILE *out) : out(out) {}
  void write(const std::string &bytes);
  /// Writes what is held (as '?') and flushes.
  void finish();

private:
  void emit(unsigned char c);
  FILE *out;
  std::string pending;
  size_t need = 0; // bytes the pending sequence still lacks
};

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_TOKENIZER_H
