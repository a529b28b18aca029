//===- ModelInfo.cpp - The model description of a compiled model ----------===//

#include "ModelInfo.h"

#include "Error.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

namespace lmcrt {

namespace {

/// Maximum parameter rank and elements (guards the arithmetic below).
constexpr int64_t kMaxRank = 8;
constexpr int64_t kMaxElements = int64_t(1) << 40;

class Parser {
public:
  explicit Parser(const std::string &text) : text(text) {}

  ModelInfo parse() {
    ModelInfo info;
    info.text = text;
    if (text.empty() || text.back() != '\n')
      error("the description does not end with a newline");
    std::istringstream lines(text);
    std::string line;
    auto nextLine = [&](const char *what) {
      if (!std::getline(lines, line))
        error(std::string("missing line '") + what + "'");
      ++lineNo;
      words = split(line);
      if (words.empty() || words[0] != what)
        error(std::string("expected '") + what + "'");
    };
    nextLine("lmc-model");
    expectWords(2);
    if (words[1] != "1")
      error("unsupported description version '" + words[1] + "'");
    nextLine("name");
    expectWords(2);
    info.name = words[1];
    nextLine("dtype");
    expectWords(2);
    if (words[1] != "f32")
      error("unsupported dtype '" + words[1] + "' (only f32)");
    nextLine("vocab");
    expectWords(2);
    info.vocab = integer(words[1], "vocab", 1, kMaxElements);
    nextLine("context");
    expectWords(2);
    info.context = integer(words[1], "context", 1, kMaxElements);
    // Optional: the mesh the program was partitioned for (lmc-shard).
    if (!std::getline(lines, line))
      error("missing line 'params'");
    ++lineNo;
    words = split(line);
    if (!words.empty() && words[0] == "mesh") {
      expectWords(3);
      info.dp = integer(words[1], "mesh dp", 1, 1 << 20);
      info.tp = integer(words[2], "mesh tp", 1, 1 << 20);
      nextLine("params");
    } else if (words.empty() || words[0] != "params") {
      error("expected 'params'");
    }
    expectWords(3);
    int64_t count = integer(words[1], "parameter count", 1, 1 << 20);
    info.total = integer(words[2], "total elements", 1, kMaxElements);

    std::set<std::string> names;
    int64_t end = 0;
    for (int64_t i = 0; i < count; ++i) {
      nextLine("param");
      if (words.size() < 4)
        error("expected 'param NAME OFFSET RANK DIM... INIT STD DECAY'");
      ParamInfo p;
      p.name = words[1];
      if (!names.insert(p.name).second)
        error("duplicate parameter '" + p.name + "'");
      p.offset = integer(words[2], "offset", 0, kMaxElements);
      int64_t rank = integer(words[3], "rank", 0, kMaxRank);
      expectWords(4 + rank + 3);
      for (int64_t d = 0; d < rank; ++d) {
        int64_t dim = integer(words[4 + d], "dimension", 1, kMaxElements);
        if (p.numel > kMaxElements / dim)
          error("parameter '" + p.name + "' is too large");
        p.numel *= dim;
        p.shape.push_back(dim);
      }
      const std::string &init = words[4 + rank];
      if (init == "zeros")
        p.init = InitKind::Zeros;
      else if (init == "ones")
        p.init = InitKind::Ones;
      else if (init == "normal")
        p.init = InitKind::Normal;
      else
        error("unknown init '" + init + "' (zeros, ones or normal)");
      p.std = real(words[5 + rank], "std");
      const std::string &decay = words[6 + rank];
      if (decay != "0" && decay != "1")
        error("decay must be 0 or 1, got '" + decay + "'");
      p.decay = decay == "1";
      if (p.offset < end)
        error("parameter '" + p.name + "' at offset " +
              std::to_string(p.offset) +
              " overlaps the previous one or is out of order");
      end = p.offset + p.numel;
      if (end > info.total)
        error("parameter '" + p.name + "' ends at " + std::to_string(end) +
              ", past the " + std::to_string(info.total) + " total elements");
      info.params.push_back(std::move(p));
    }
    if (end != info.total)
      error("parameters cover " + std::to_string(end) + " of the " +
            std::to_string(info.total) + " total elements");
    nextLine("end");
    expectWords(1);
    std::string rest;
    if (std::getline(lines, rest)) {
      ++lineNo;
      error("unexpected text after 'end'");
    }
    return info;
  }

private:
  [[noreturn]] void error(const std::string &message) {
    fail("model description line " + std::to_string(lineNo) + ": " + message);
  }

  static std::vector<std::string> split(const std::string &line) {
    std::vector<std::string> result;
    std::istringstream in(line);
    std::string word;
    while (in >> word)
      result.push_back(word);
    return result;
  }

  void expectWords(size_t n) {
    if (words.size() != n)
      error("expected " + std::to_string(n) + " fields, got " +
            std::to_string(words.size()));
  }

  int64_t integer(const std::string &word, const char *what, int64_t min,
                  int64_t max) {
    errno = 0;
    char *end = nullptr;
    long long value = std::strtoll(word.c_str(), &end, 10);
    if (word.empty() || *end != '\0' || errno != 0 || value < min ||
        value > max)
      error(std::string("bad ") + what + " '" + word + "'");
    return value;
  }

  double real(const std::string &word, const char *what) {
    errno = 0;
    char *end = nullptr;
    double value = std::strtod(word.c_str(), &end);
    if (word.empty() || *end != '\0' || errno != 0 || !std::isfinite(value) ||
        value < 0)
      error(std::string("bad ") + what + " '" + word + "'");
    return value;
  }

  const std::string &text;
  std::vector<std::string> words;
  int64_t lineNo = 0;
};

} // namespace

ModelInfo parseModelInfo(const std::string &text) {
  return Parser(text).parse();
}

const ParamInfo *ModelInfo::find(const std::string &paramName) const {
  for (const ParamInfo &p : params)
    if (p.name == paramName)
      return &p;
  return nullptr;
}

unsigned long long ModelInfo::hash() const {
  // Without the mesh line: a checkpoint holds the full (unsharded) model,
  // so programs partitioned differently share checkpoints.
  std::string model;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.compare(0, 5, "mesh ") != 0)
      model += line + "\n";
  return fnv1a64(model);
}

int64_t ModelInfo::numLayers() const {
  int64_t layers = 0;
  for (const ParamInfo &p : params) {
    if (p.name.compare(0, 2, "h.") != 0)
      continue;
    char *end = nullptr;
    long long i = std::strtoll(p.name.c_str() + 2, &end, 10);
    if (end != p.name.c_str() + 2 && *end == '.' && i >= 0 && i + 1 > layers)
      layers = i + 1;
  }
  return layers;
}

int64_t ModelInfo::channels() const {
  const ParamInfo *wte = find("wte.weight");
  return wte && wte->shape.size() == 2 ? wte->shape[1] : 0;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  if (shape.empty())
    return "scalar";
  std::string result;
  for (size_t i = 0; i < shape.size(); ++i)
    result += (i ? "x" : "") + std::to_string(shape[i]);
  return result;
}

} // namespace lmcrt
