//===- Tokenizer.cpp - Decoding samples and encoding prompts --------------===//

#include "Trainer/Tokenizer.h"

#include "Core/Error.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

namespace lmcrt {

namespace {

constexpr uint32_t kTableMagic = 20240328, kTableVersion = 2;
constexpr uint32_t kMergesMagic = 20261206, kMergesVersion = 1;
constexpr uint32_t kNoEot = 0xFFFFFFFFu;

std::string readWhole(const std::string &path, bool &found) {
  std::ifstream in(path, std::ios::binary);
  found = static_cast<bool>(in);
  if (!found)
    return {};
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

uint32_t u32(const std::string &blob, size_t offset) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = v << 8 | static_cast<unsigned char>(blob[offset + i]);
  return v;
}

/// Unicode White_Space (what \s matches in the pre-tokenizer's regex).
bool isSpace(uint32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool inRanges(const std::vector<std::pair<uint32_t, uint32_t>> &ranges,
              uint32_t cp) {
  auto it =
      std::upper_bound(ranges.begin(), ranges.end(), cp,
                       [](uint32_t v, const std::pair<uint32_t, uint32_t> &r) {
                         return v < r.first;
                       });
  return it != ranges.begin() && cp <= std::prev(it)->second;
}

/// The length of the UTF-8 sequence a lead byte starts (0: not a lead).
size_t sequenceLength(unsigned char c) {
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return 2;
  if (c >= 0xE0 && c <= 0xEF)
    return 3;
  if (c >= 0xF0 && c <= 0xF4)
    return 4;
  return 0;
}

/// Decodes valid UTF-8 into code points and their byte offsets (one more
/// offset than code points); throws on invalid input.
void decodeUtf8(const std::string &text, std::vector<uint32_t> &cps,
                std::vector<size_t> &offsets) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = sequenceLength(c);
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    bool ok = n > 0 && i + n <= text.size();
    for (size_t k = 1; ok && k < n; ++k) {
      auto d = static_cast<unsigned char>(text[i + k]);
      ok = (d & 0xC0) == 0x80;
      cp = cp << 6 | (d & 0x3F);
    }
    // Overlong three-byte forms, surrogates, beyond U+10FFFF.
    ok = ok && !(n == 3 && cp < 0x800) && !(cp >= 0xD800 && cp <= 0xDFFF) &&
         !(n == 4 && (cp < 0x10000 || cp > 0x10FFFF));
    if (!ok)
      fail("the text to encode is not valid UTF-8 (byte " + std::to_string(i) +
           ")");
    cps.push_back(cp);
    offsets.push_back(i);
    i += n;
  }
  offsets.push_back(text.size());
}

} // namespace

Tokenizer Tokenizer::bytes() {
  Tokenizer t;
  for (int i = 0; i < 256; ++i) {
    t.table.push_back(std::string(1, static_cast<char>(i)));
    t.byteToken[i] = i;
  }
  t.encoder = true;
  return t;
}

Tokenizer Tokenizer::load(const std::string &path) {
  Tokenizer t;
  t.source = path;
  bool found = false;
  std::string blob = readWhole(path, found);
  if (!found)
    fail(path + ": cannot open the tokenizer file");
  auto bad = [&](const std::string &what) { fail(path + ": " + what); };
  if (blob.size() < 1024)
    bad("shorter than the 1024-byte header of a tokenizer file");
  if (u32(blob, 0) != kTableMagic)
    bad("bad magic " + std::to_string(u32(blob, 0)) + " (expected " +
        std::to_string(kTableMagic) + ")");
  if (u32(blob, 4) != kTableVersion)
    bad("unsupported version " + std::to_string(u32(blob, 4)) +
        " (expected 2)");
  uint32_t vocab = u32(blob, 8), eot = u32(blob, 12);
  if (vocab == 0 || vocab > 65536)
    bad("vocab size " + std::to_string(vocab) + " is not in 1..65536");
  size_t pos = 1024;
  for (uint32_t i = 0; i < vocab; ++i) {
    if (pos >= blob.size() ||
        pos + 1 + static_cast<unsigned char>(blob[pos]) > blob.size())
      bad("truncated at token " + std::to_string(i));
    size_t n = static_cast<unsigned char>(blob[pos]);
    t.table.push_back(blob.substr(pos + 1, n));
    pos += 1 + n;
  }
  if (pos != blob.size())
    bad(std::to_string(blob.size() - pos) + " bytes after the last token");
  if (eot != kNoEot) {
    if (eot >= vocab)
      bad("end-of-text id " + std::to_string(eot) + " is not below the vocab " +
          std::to_string(vocab));
    t.eotId = eot;
  }

  // The encoder, beside the table.
  size_t slash = path.rfind('/');
  std::string mergesPath =
      (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) +
      "merges.bin";
  blob = readWhole(mergesPath, found);
  if (!found)
    return t;
  auto badMerges = [&](const std::string &what) {
    fail(mergesPath + ": " + what);
  };
  if (blob.size() < 1024 || u32(blob, 0) != kMergesMagic ||
      u32(blob, 4) != kMergesVersion)
    badMerges("not a version-1 merges file (magic 20261206)");
  if (u32(blob, 8) != vocab)
    badMerges("vocab size " + std::to_string(u32(blob, 8)) +
              " differs from the " + std::to_string(vocab) + " of " + path);
  t.rule = static_cast<int>(u32(blob, 12));
  if (t.rule != 0 && t.rule != 1)
    badMerges("unknown merge rule " + std::to_string(t.rule));
  uint64_t m = u32(blob, 16), rl = u32(blob, 20), rn = u32(blob, 24);
  if (blob.size() != 1024 + 12 * m + 8 * (rl + rn))
    badMerges("size " + std::to_string(blob.size()) +
              " does not match the counts in its header");
  pos = 1024;
  for (uint64_t i = 0; i < m; ++i, pos += 12) {
    uint32_t a = u32(blob, pos), b = u32(blob, pos + 4), c = u32(blob, pos + 8);
    if (a >= vocab || b >= vocab || c >= vocab)
      badMerges("merge " + std::to_string(i) +
                " names a token id >= " + std::to_string(vocab));
    t.merges.emplace(
        std::make_pair(static_cast<int32_t>(a), static_cast<int32_t>(b)),
        std::make_pair(static_cast<int64_t>(i), static_cast<int32_t>(c)));
  }
  for (auto *ranges : {&t.letters, &t.numbers})
    for (uint64_t i = 0, n = ranges == &t.letters ? rl : rn; i < n;
         ++i, pos += 8)
      ranges->emplace_back(u32(blob, pos), u32(blob, pos + 4));
  std::fill(std::begin(t.byteToken), std::end(t.byteToken), -1);
  for (uint32_t i = 0; i < vocab; ++i) {
    const std::string &s = t.table[i];
    if (s.size() == 1 && t.byteToken[static_cast<unsigned char>(s[0])] < 0)
      t.byteToken[static_cast<unsigned char>(s[0])] = static_cast<int32_t>(i);
    if (t.rule == 1)
      t.ids.emplace(s, static_cast<int32_t>(i));
  }
  for (int b = 0; b < 256; ++b)
    if (t.byteToken[b] < 0)
      badMerges("the vocabulary has no token for byte " + std::to_string(b) +
                ": it cannot encode every text");
  t.encoder = true;
  return t;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string text;
  for (int32_t id : ids)
    text += decode(id);
  return text;
}

int32_t Tokenizer::startToken() const {
  for (size_t i = 0; i < table.size(); ++i)
    if (table[i] == "\n")
      return static_cast<int32_t>(i);
  return eotId >= 0 ? static_cast<int32_t>(eotId) : 0;
}

bool Tokenizer::isLetter(uint32_t cp) const {
  if (letters.empty()) // bytes(): ASCII letters
    return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return inRanges(letters, cp);
}

bool Tokenizer::isNumber(uint32_t cp) const {
  if (numbers.empty())
    return cp >= '0' && cp <= '9';
  return inRanges(numbers, cp);
}

std::vector<std::string> Tokenizer::pretokenize(const std::string &text) const {
  std::vector<uint32_t> cp;
  std::vector<size_t> at;
  decodeUtf8(text, cp, at);
  const size_t n = cp.size();
  auto other = [&](size_t k) {
    return !isSpace(cp[k]) && !isLetter(cp[k]) && !isNumber(cp[k]);
  };
  std::vector<std::string> pieces;
  size_t i = 0;
  while (i < n) {
    size_t end = i;
    // 's|'t|'re|'ve|'m|'ll|'d
    if (cp[i] == '\'' && i + 1 < n) {
      uint32_t a = cp[i + 1], b = i + 2 < n ? cp[i + 2] : 0;
      if (a == 's' || a == 't')
        end = i + 2;
      else if ((a == 'r' || a == 'v') && b == 'e')
        end = i + 3;
      else if (a == 'm')
        end = i + 2;
      else if (a == 'l' && b == 'l')
        end = i + 3;
      else if (a == 'd')
        end = i + 2;
    }
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
    size_t s = cp[i] == ' ' ? i + 1 : i;
    if (end == i && s < n) {
      for (auto cls : {0, 1, 2}) {
        auto in = [&](size_t k) {
          return cls == 0   ? isLetter(cp[k])
                 : cls == 1 ? isNumber(cp[k])
                            : other(k);
        };
        if (!in(s))
          continue;
        end = s;
        while (end < n && in(end))
          ++end;
        break;
      }
    }
    // `\s+(?!\S)|\s+`
    if (end == i) {
      size_t run = i;
      while (run < n && isSpace(cp[run]))
        ++run;
      if (run == n || run - i == 1)
        end = run;
      else
        end = run - 1; // leave the last space to the word that follows
    }
    pieces.push_back(text.substr(at[i], at[end] - at[i]));
    i = end;
  }
  return pieces;
}

void Tokenizer::bpe(const std::string &piece, std::vector<int32_t> &out) const {
  std::vector<int32_t> word;
  for (unsigned char c : piece)
    word.push_back(byteToken[c]);
  while (word.size() > 1) {
    // The applicable pair of best priority, leftmost among equals.
    int64_t best = -1;
    size_t where = 0;
    int32_t merged = 0;
    for (size_t k = 0; k + 1 < word.size(); ++k) {
      int64_t priority;
      int32_t result;
      if (rule == 0) {
        auto it = merges.find({word[k], word[k + 1]});
        if (it == merges.end())
          continue;
        priority = it->second.first;
        result = it->second.second;
      } else {
        auto it = ids.find(table[word[k]] + table[word[k + 1]]);
        if (it == ids.end())
          continue;
        priority = result = it->second;
      }
      if (best < 0 || priority < best) {
        best = priority;
        where = k;
        merged = result;
      }
    }
    if (best < 0)
      break;
    word[where] = merged;
    word.erase(word.begin() + static_cast<std::ptrdiff_t>(where) + 1);
  }
  out.insert(out.end(), word.begin(), word.end());
}

std::vector<int32_t> Tokenizer::encode(const std::string &text) const {
  if (!encoder)
    fail(source + ": no merges.bin beside it: the tokenizer cannot encode "
                  "(rerun python3 -m lmc.data prepare to write it)");
  std::vector<int32_t> result;
  if (merges.empty() && rule == 0) {
    // Bytes, or a vocabulary without merges: one token a byte. Valid UTF-8
    // is still required, as for any tokenizer.
    std::vector<uint32_t> cps;
    std::vector<size_t> offsets;
    decodeUtf8(text, cps, offsets);
    for (unsigned char c : text)
      result.push_back(byteToken[c]);
    return result;
  }
  for (const std::string &piece : pretokenize(text))
    bpe(piece, result);
  return result;
}

void TextWriter::emit(unsigned char c) {
  std::fputc(c == '\n' || c == '\t' || (c >= 32 && c != 127) ? c : '?', out);
}

void TextWriter::write(const std::string &bytes) {
  for (unsigned char c : bytes) {
    if (need > 0) {
      bool fits = (c & 0xC0) == 0x80;
      // The second byte's range excludes overlong forms, surrogates and
      // code points beyond U+10FFFF.
      if (fits && pending.size() == 1) {
        auto lead = static_cast<unsigned char>(pending[0]);
        fits = !(lead == 0xE0 && c < 0xA0) && !(lead == 0xED && c > 0x9F) &&
               !(lead == 0xF0 && c < 0x90) && !(lead == 0xF4 && c > 0x8F);
      }
      if (fits) {
        pending += static_cast<char>(c);
        if (--need == 0) {
          std::fwrite(pending.data(), 1, pending.size(), out);
          pending.clear();
        }
        continue;
      }
      std::fputc('?', out); // a sequence cut short
      pending.clear();
      need = 0;
    }
    size_t n = sequenceLength(c);
    if (n == 1)
      emit(c);
    else if (n == 0)
      std::fputc('?', out);
    else {
      pending.assign(1, static_cast<char>(c));
      need = n - 1;
    }
  }
}

void TextWriter::finish() {
  if (!pending.empty())
    std::fputc('?', out);
  pending.clear();
  need = 0;
  std::fflush(out);
}

} // namespace lmcrt
