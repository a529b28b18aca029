//===- ModelInfo.cpp - The model description of a compiled model ----------===//

#include "Core/ModelInfo.h"

#include "Core/Error.h"

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
/// The most mesh axes the runtime sets up groups for (a communicator per
/// set of axes).
constexpr size_t kMaxMeshAxes = 6;

class Parser {
public:
  explicit Parser(const std::string &text) : text(text) {}

  ModelInfo parse() {
    ModelInfo info;
    info.text = text;
    if (text.empty() || text.back() != '\n')
      error("the description does not end with a newline");
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);)
      lines.push_back(split(line));
    std::set<std::string> declared; // every name of a param line
    for (const std::vector<std::string> &l : lines)
      if (l.size() >= 2 && l[0] == "param")
        declared.insert(l[1]);

    nextLine("lmc-model");
    expectWords(2);
    if (words[1] != "2")
      error("unsupported description version '" + words[1] +
            "' (this runtime reads version 2; recompile the model with the "
            "lmc that built it)");
    nextLine("name");
    expectWords(2);
    info.name = words[1];
    nextLine("dtype");
    expectWords(2);
    if (words[1] != "f32")
      error("unsupported dtype '" + words[1] + "' (only f32)");
    // Optional: where the compiled code runs (cpu when absent).
    if (peek() == "target") {
      nextLine("target");
      expectWords(2);
      if (words[1] != "cpu" && words[1] != "cuda")
        error("unknown target '" + words[1] + "' (cpu or cuda)");
      info.target = words[1];
    }
    nextLine("vocab");
    expectWords(2);
    info.vocab = integer(words[1], "vocab", 1, kMaxElements);
    // Optional: the longest sequence, when the model fixes one (a position
    // table; a model with rotary embeddings has none).
    if (peek() == "context") {
      nextLine("context");
      expectWords(2);
      info.context = integer(words[1], "context", 1, kMaxElements);
    }
    // Optional: the causal attentions and their query width (the FLOPs of
    // their products).
    if (peek() == "attention") {
      nextLine("attention");
      expectWords(3);
      info.attentionLayers = integer(words[1], "attention count", 1, 1 << 20);
      info.attentionWidth =
          integer(words[2], "attention width", 1, kMaxElements);
    }
    // Optional: the attentions' head counts (query, key/value).
    if (peek() == "heads") {
      nextLine("heads");
      expectWords(3);
      info.heads = integer(words[1], "heads", 1, 1 << 20);
      info.kvHeads = integer(words[2], "kv heads", 1, 1 << 20);
    }
    // Optional: the mesh the program was partitioned for (lmc-shard), its
    // axes in order, and the axes that split the batch.
    if (peek() == "mesh") {
      nextLine("mesh");
      expectWords(2);
      std::string why;
      if (!::lmc::MeshSpec::parse(words[1], info.mesh, why))
        error("bad mesh '" + words[1] + "': " + why);
      if (info.mesh.axes.size() > kMaxMeshAxes)
        error("the mesh has " + std::to_string(info.mesh.axes.size()) +
              " axes; the runtime supports at most " +
              std::to_string(kMaxMeshAxes));
      // Optional lines naming mesh axes: the axes that split the batch, then
      // those that split the sequence (sequence parallelism).
      auto readAxes = [&](const std::string &key, uint32_t &mask) {
        if (peek() != key)
          return;
        nextLine(key.c_str());
        for (size_t w = 1; w < words.size(); ++w) {
          int axis = meshAxis(info, words[w], key.c_str());
          if (mask & (1u << axis))
            error(key + " axis '" + words[w] + "' given twice");
          mask |= 1u << axis;
        }
      };
      readAxes("batch", info.batchAxes);
      readAxes("sequence", info.sequenceAxes);
      // Optional, after batch: the training step keeps its gradients local
      // to each replica (`lmc compile --dp-sync local`).
      if (peek() == "dp_sync") {
        nextLine("dp_sync");
        expectWords(2);
        if (words[1] != "local" && words[1] != "allreduce")
          error("unknown dp_sync '" + words[1] + "' (local or allreduce)");
        if (words[1] == "local" && info.batchParts() < 2)
          error("dp_sync local needs batch axes spanning more than one rank");
        info.dpSyncLocal = words[1] == "local";
      }
    }
    // Optional, after the mesh's lines: pipeline parallelism.
    if (peek() == "pipeline")
      parsePipeline(info);
    nextLine("params");
    expectWords(3);
    int64_t count = integer(words[1], "parameter count", 1, 1 << 20);
    info.total = integer(words[2], "total elements", 1, kMaxElements);

    std::set<std::string> names;
    std::vector<int64_t> paramLines;
    for (int64_t i = 0; i < count; ++i) {
      nextLine("param");
      paramLines.push_back(lineNo);
      ParamInfo p = parseParam();
      if (!names.insert(p.name).second)
        error("duplicate parameter '" + p.name + "'");
      // Optional: its vocabulary padding, right after the param line.
      if (peek() == "pad")
        parsePad(p, declared);
      // Its shard lines, right after the param line, one per axis that
      // splits it, in mesh order.
      while (peek() == "shard") {
        nextLine("shard");
        if (words.size() >= 2 && words[1] != p.name)
          error("shard line for " +
                (declared.count(words[1])
                     ? "'" + words[1] + "' does not follow its param line"
                     : "unknown parameter '" + words[1] + "'") +
                " (the line before is about '" + p.name + "')");
        parseShard(info, p);
      }
      // Pipelined: its stage line, after the shard lines.
      if (info.pipelined() || peek() == "stage")
        parseStage(info, p, declared);
      info.params.push_back(std::move(p));
    }
    // The parameter buffer: local pieces in order, covering it exactly.
    int64_t end = 0;
    for (size_t i = 0; i < info.params.size(); ++i) {
      ParamInfo &p = info.params[i];
      lineNo = paramLines[i];
      checkRange(p.name, p.offset, p.localNumel, end, info.total, "parameter",
                 "total elements");
      p.globalOffset = info.globalTotal;
      info.globalTotal += p.numel;
      info.storedTotal += p.storedNumel;
      if (info.globalTotal > kMaxElements)
        error("the model has more than 2^40 elements");
    }
    if (end != info.total)
      error("parameters cover " + std::to_string(end) + " of the " +
            std::to_string(info.total) + " total elements");

    // Optional (ZeRO-1): where this rank's piece of each moment lives.
    if (peek() == "state") {
      nextLine("state");
      expectWords(4);
      int64_t stateCount = integer(words[1], "state count", 1, 1 << 20);
      info.zeroAxis = meshAxis(info, words[3], "state");
      if (info.zeroAxis == info.pipeline.axis)
        error("the moments are split over the pipeline axis '" + words[3] +
              "'");
      const int64_t parts = info.mesh.axes[info.zeroAxis].size;
      const std::string axisText = words[3] + "=" + std::to_string(parts);
      if (stateCount != count)
        error("the state section has " + std::to_string(stateCount) +
              " lines, the model " + std::to_string(count) + " parameters");
      info.stateTotal = integer(words[2], "state total", 1, kMaxElements);
      info.zero1 = true;
      int64_t stateEnd = 0;
      for (ParamInfo &p : info.params) {
        nextLine("state");
        expectWords(4);
        if (words[1] != p.name)
          error("expected the state line of '" + p.name +
                "' (one per parameter, in parameter order), got '" + words[1] +
                "'");
        p.stateOffset = integer(words[2], "state offset", 0, kMaxElements);
        int64_t rank = static_cast<int64_t>(p.localShape.size());
        p.stateDim = integer(words[3], "state dimension", -1, rank - 1);
        p.stateShape = p.localShape;
        p.stateNumel = p.localNumel;
        if (p.stateDim >= 0) {
          int64_t n = p.localShape[p.stateDim];
          if (n % parts != 0)
            error("dimension " + std::to_string(p.stateDim) + " of '" + p.name +
                  "' (local shape " + shapeString(p.localShape) +
                  ") does not split into " + axisText + " equal parts");
          p.stateShape[p.stateDim] = n / parts;
          p.stateNumel = p.localNumel / parts;
        }
        checkRange(p.name, p.stateOffset, p.stateNumel, stateEnd,
                   info.stateTotal, "state of", "state elements");
      }
      if (stateEnd != info.stateTotal)
        error("state pieces cover " + std::to_string(stateEnd) + " of the " +
              std::to_string(info.stateTotal) + " state elements");
    } else {
      // The moments are laid out like the parameters.
      info.stateTotal = info.total;
      for (ParamInfo &p : info.params) {
        p.stateOffset = p.offset;
        p.stateShape = p.localShape;
        p.stateNumel = p.localNumel;
      }
    }
    nextLine("end");
    expectWords(1);
    if (next < lines.size()) {
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

  /// The first word of the next line ("" at the end or on an empty line).
  std::string peek() const {
    return next < lines.size() && !lines[next].empty() ? lines[next][0] : "";
  }

  /// Moves to the next line, which must start with `what`.
  void nextLine(const char *what) {
    if (next >= lines.size())
      error(std::string("missing line '") + what + "'");
    words = lines[next++];
    ++lineNo;
    if (words.empty() || words[0] != what)
      error(std::string("expected '") + what + "'");
  }

  void expectWords(size_t n) {
    if (words.size() != n)
      error("expected " + std::to_string(n) + " fields, got " +
            std::to_string(words.size()));
  }

  /// `param NAME OFFSET RANK DIM... INIT STD DECAY`.
  ParamInfo parseParam() {
    if (words.size() < 4)
      error("expected 'param NAME OFFSET RANK DIM... INIT STD DECAY'");
    ParamInfo p;
    p.name = words[1];
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
    p.initText = words[4 + rank];
    if (p.initText == "zeros")
      p.init = InitKind::Zeros;
    else if (p.initText == "ones")
      p.init = InitKind::Ones;
    else if (p.initText == "normal")
      p.init = InitKind::Normal;
    else
      error("unknown init '" + p.initText + "' (zeros, ones or normal)");
    p.stdText = words[5 + rank];
    p.std = real(p.stdText, "std");
    p.decayText = words[6 + rank];
    if (p.decayText != "0" && p.decayText != "1")
      error("decay must be 0 or 1, got '" + p.decayText + "'");
    p.decay = p.decayText == "1";
    p.localShape = p.shape;
    p.localNumel = p.numel;
    p.storedShape = p.shape;
    p.storedNumel = p.numel;
    return p;
  }

  /// `pad NAME ROWS` for `p`: only its first ROWS rows are real.
  void parsePad(ParamInfo &p, const std::set<std::string> &declared) {
    nextLine("pad");
    expectWords(3);
    if (words[1] != p.name)
      error("pad line for " +
            (declared.count(words[1])
                 ? "'" + words[1] + "' does not follow its param line"
                 : "unknown parameter '" + words[1] + "'") +
            " (the line before is about '" + p.name + "')");
    if (p.shape.empty())
      error("the scalar parameter '" + p.name + "' cannot be padded");
    int64_t rows = integer(words[2], "pad rows", 1, p.shape[0]);
    p.storedShape[0] = rows;
    p.storedNumel = p.numel / p.shape[0] * rows;
  }

  /// The index of the mesh axis `name` (for a line starting with `what`).
  int meshAxis(const ModelInfo &info, const std::string &name,
               const char *what) {
    int axis = info.mesh.find(name);
    if (axis < 0)
      error(std::string(what) + " axis '" + name + "' is not an axis of the " +
            (info.mesh.axes.empty()
                 ? std::string("mesh (there is no mesh line)")
                 : "mesh " + info.mesh.str()));
    return axis;
  }

  /// `pipeline AXIS STAGES MICROBATCHES SCHEDULE`.
  void parsePipeline(ModelInfo &info) {
    nextLine("pipeline");
    expectWords(5);
    const int axis = meshAxis(info, words[1], "pipeline");
    const uint32_t bit = 1u << axis;
    if (info.batchAxes & bit)
      error("the pipeline axis '" + words[1] + "' also splits the batch");
    if (info.sequenceAxes & bit)
      error("the pipeline axis '" + words[1] + "' also splits the sequence");
    if (info.dpSyncLocal)
      error("a pipeline does not compose with dp_sync local");
    PipelineInfo &pipe = info.pipeline;
    pipe.axis = axis;
    pipe.stages = integer(words[2], "pipeline stages", 1, 1 << 16);
    const int64_t size = info.mesh.axes[axis].size;
    if (pipe.stages != size)
      error("the pipeline has " + std::to_string(pipe.stages) +
            " stages, but its axis '" + words[1] + "' has " +
            std::to_string(size) + " ranks");
    pipe.microbatches = integer(words[3], "micro-batch count", 1, 1 << 20);
    pipe.schedule = words[4];
    if (pipe.schedule != "1f1b" && pipe.schedule != "gpipe")
      error("unknown pipeline schedule '" + pipe.schedule +
            "' (1f1b or gpipe)");
  }

  /// `stage NAME HOME [OTHER...]` for `p`: the stages holding it, HOME
  /// first, each once.
  void parseStage(const ModelInfo &info, ParamInfo &p,
                  const std::set<std::string> &declared) {
    if (peek() != "stage") {
      ++lineNo; // the line where it belongs
      error("expected the stage line of '" + p.name +
            "' (every parameter of a pipelined program has one, after its "
            "param and shard lines)");
    }
    nextLine("stage");
    if (!info.pipelined())
      error("a stage line without a pipeline line");
    if (words.size() < 3)
      error("expected 'stage NAME HOME [OTHER...]'");
    if (words[1] != p.name)
      error("stage line for " +
            (declared.count(words[1])
                 ? "'" + words[1] + "' does not follow its param line"
                 : "unknown parameter '" + words[1] + "'") +
            " (the line before is about '" + p.name + "')");
    for (size_t w = 2; w < words.size(); ++w) {
      int64_t stage = integer(words[w], "stage", 0, 1 << 16);
      if (stage >= info.pipeline.stages)
        error("stage " + words[w] + " of '" + p.name + "' is not a stage of "
              "the pipeline (0 to " +
              std::to_string(info.pipeline.stages - 1) + ")");
      for (int64_t seen : p.stages)
        if (seen == stage)
          error("stage " + words[w] + " given twice for '" + p.name + "'");
      p.stages.push_back(stage);
    }
  }

  /// `shard NAME AXIS DIM BLOCKS` for `p` (whose name the caller checked):
  /// dimension DIM, cut into BLOCKS blocks, each split over the axis AXIS.
  void parseShard(const ModelInfo &info, ParamInfo &p) {
    expectWords(5);
    int axis = meshAxis(info, words[2], "shard");
    if (axis == info.pipeline.axis)
      error("'" + p.name + "' is split over the pipeline axis '" + words[2] +
            "' (a stage holds whole parameters)");
    if (!p.shards.empty() && p.shards.back().axis >= axis)
      error(p.shards.back().axis == axis
                ? "a second shard line for '" + p.name + "' over '" + words[2] +
                      "'"
                : "the shard lines of '" + p.name +
                      "' are not in mesh order (" + info.mesh.str() + ")");
    int64_t rank = static_cast<int64_t>(p.shape.size());
    if (rank == 0)
      error("the scalar parameter '" + p.name + "' cannot be sharded");
    ParamInfo::Shard shard;
    shard.axis = axis;
    shard.dim = integer(words[3], "shard dimension", 0, rank - 1);
    shard.blocks = integer(words[4], "shard blocks", 1, kMaxElements);
    const int64_t parts = info.mesh.axes[axis].size;
    // A dimension split over several axes is split in mesh order, each axis
    // splitting the blocks of the piece the axes before it left.
    int64_t n = p.localShape[shard.dim];
    if (n % (shard.blocks * parts) != 0)
      error("dimension " + std::to_string(shard.dim) + " of '" + p.name +
            "' (size " + std::to_string(n) + ") does not split into " +
            std::to_string(shard.blocks) + " block(s) of " + words[2] + "=" +
            std::to_string(parts) + " equal parts");
    p.localShape[shard.dim] = n / parts;
    p.localNumel /= parts;
    p.shards.push_back(shard);
  }

  /// Checks that [offset, offset + size) starts at or after `end` and ends
  /// within `total`, then moves `end` past it.
  void checkRange(const std::string &name, int64_t offset, int64_t size,
                  int64_t &end, int64_t total, const char *what,
                  const char *totalWhat) {
    if (offset < end)
      error(std::string(what) + " '" + name + "' at offset " +
            std::to_string(offset) +
            " overlaps the previous one or is out of order");
    end = offset + size;
    if (end > total)
      error(std::string(what) + " '" + name + "' ends at " +
            std::to_string(end) + ", past the " + std::to_string(total) + " " +
            totalWhat);
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
  std::vector<std::vector<std::string>> lines;
  size_t next = 0; // index of the next line
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

std::string ModelInfo::canonicalText() const {
  std::string out =
      "lmc-model 2\nname " + name + "\ndtype f32\nvocab " +
      std::to_string(vocab) + "\n" +
      (context ? "context " + std::to_string(context) + "\n" : "") +
      (attentionLayers ? "attention " + std::to_string(attentionLayers) + " " +
                             std::to_string(attentionWidth) + "\n"
                       : "") +
      "params " + std::to_string(params.size()) + " " +
      std::to_string(storedTotal) + "\n";
  // The stored shapes and their offsets: a model padded along the
  // vocabulary describes (and hashes) as the unpadded one, whose
  // checkpoints it shares.
  int64_t offset = 0;
  for (const ParamInfo &p : params) {
    out += "param " + p.name + " " + std::to_string(offset) + " " +
           std::to_string(p.storedShape.size());
    offset += p.storedNumel;
    for (int64_t d : p.storedShape)
      out += " " + std::to_string(d);
    out += " " + p.initText + " " + p.stdText + " " + p.decayText + "\n";
  }
  return out + "end\n";
}

std::string ModelInfo::globalText() const {
  std::string text = canonicalText();
  if (heads) {
    // After the attention line, or where it would be.
    size_t at = text.find("\nparams ") + 1;
    text.insert(at, "heads " + std::to_string(heads) + " " +
                        std::to_string(kvHeads) + "\n");
  }
  return text;
}

unsigned long long ModelInfo::hash() const {
  // Of the global model only: a checkpoint holds the full (unsharded) model,
  // so programs partitioned for other meshes share checkpoints.
  return fnv1a64(canonicalText());
}

std::string ModelInfo::meshText() const {
  std::string text;
  for (const ::lmc::MeshAxis &axis : mesh.axes)
    text += (text.empty() ? "" : " x ") + axis.name + "=" +
            std::to_string(axis.size);
  return text.empty() ? "none" : text;
}

bool ModelInfo::isSharded() const {
  for (const ParamInfo &p : params)
    if (p.localNumel != p.numel || p.stateNumel != p.numel)
      return true;
  return false;
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
