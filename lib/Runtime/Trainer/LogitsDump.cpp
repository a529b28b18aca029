//===- LogitsDump.cpp - The logits of a batch, for other frameworks -------===//
//
// See LogitsDump.h for the file and where the tokens come from.
//
//===----------------------------------------------------------------------===//

#include "Trainer/LogitsDump.h"

#include "Core/Device.h"
#include "Core/DeviceArray.h"
#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Core/StepMemory.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/DataLoader.h"
#include "Trainer/Flags.h"
#include "Trainer/Safetensors.h"

#include <cmath>
#include <cstring>

namespace lmcrt {

namespace {

/// The integer tensor `tokens` [B, T] of a safetensors file.
TokenBatch readTokensFile(const std::string &path) {
  SafetensorsHeader file = readSafetensorsHeader(path);
  const TensorEntry *t = file.find("tokens");
  if (!t)
    usageError("--logits-tokens: " + path + " has no tensor 'tokens'");
  if (t->shape.size() != 2 || t->shape[0] < 1 || t->shape[1] < 1)
    usageError("--logits-tokens: " + path + ": tensor 'tokens' has shape " +
               shapeString(t->shape) + ", expected [B, T] with B, T >= 1");
  const std::string &dt = t->dtype;
  int size = dt == "I64" || dt == "U64"   ? 8
             : dt == "I32" || dt == "U32" ? 4
             : dt == "I16" || dt == "U16" ? 2
             : dt == "I8" || dt == "U8"   ? 1
                                          : 0;
  if (size == 0)
    usageError("--logits-tokens: " + path + ": tensor 'tokens' is " + dt +
               ", expected an integer dtype");
  TokenBatch batch;
  batch.batch = t->shape[0];
  batch.seq = t->shape[1];
  const int64_t n = batch.batch * batch.seq;
  std::vector<unsigned char> raw(t->end - t->begin);
  readTensorBytes(file, *t, raw.data());
  batch.tokens.resize(n);
  const bool sign = dt[0] == 'I';
  for (int64_t i = 0; i < n; ++i) {
    uint64_t bits = 0; // little-endian on disk
    for (int k = size - 1; k >= 0; --k)
      bits = bits << 8 | raw[i * size + k];
    int64_t value = static_cast<int64_t>(bits);
    if (sign && size < 8 && (bits >> (8 * size - 1)) & 1)
      value -= int64_t(1) << (8 * size); // sign-extend
    if (value < INT32_MIN || value > INT32_MAX ||
        (!sign && size == 8 && bits > INT32_MAX))
      value = -1; // out of range either way
    batch.tokens[i] = static_cast<int32_t>(value);
  }
  // The next token of each position but the last.
  batch.targets.assign(n, -1);
  for (int64_t b = 0; b < batch.batch; ++b)
    for (int64_t s = 0; s + 1 < batch.seq; ++s)
      batch.targets[b * batch.seq + s] = batch.tokens[b * batch.seq + s + 1];
  return batch;
}

} // namespace

TokenBatch logitsBatch(const Config &config, const ModelInfo &model) {
  TokenBatch batch;
  if (!config.logitsTokens.empty()) {
    batch = readTokensFile(config.logitsTokens);
    for (int64_t i = 0; i < batch.batch * batch.seq; ++i)
      if (batch.tokens[i] < 0 || batch.tokens[i] >= model.vocab)
        usageError("--logits-tokens: " + config.logitsTokens + ": token " +
                   std::to_string(batch.tokens[i]) + " at [" +
                   std::to_string(i / batch.seq) + ", " +
                   std::to_string(i % batch.seq) +
                   "] is outside the vocabulary (" +
                   std::to_string(model.vocab) + " tokens)");
    if (model.context && batch.seq > model.context)
      usageError("--logits-tokens: " + config.logitsTokens + ": " +
                 std::to_string(batch.seq) +
                 " tokens per row is longer than the model's context " +
                 std::to_string(model.context));
    return batch;
  }
  // The first batch of --data, as training would read it.
  batch.batch = config.batch;
  batch.seq = config.seq;
  batch.tokens.resize(batch.batch * batch.seq);
  batch.targets.resize(batch.batch * batch.seq);
  DataLoader data("--data", config.data, model.vocab, batch.batch, batch.seq);
  data.next(batch.tokens.data(), batch.targets.data());
  return batch;
}

double dumpLogits(const ModelFunctions &fns, const ModelInfo &model,
                  float *params, const TokenBatch &batch,
                  const std::string &path, bool write) {
  const int64_t B = batch.batch, T = batch.seq, V = model.vocab;
  std::vector<float> logits(static_cast<size_t>(B * T * V));
  lmcrt_memref_f32_1d p = {params, params, 0, {model.total}, {1}};
  // Each prefix [B, t], contiguous, in memory the device reaches.
  DeviceArray<int32_t> window(B * T);
  for (int64_t t = 1; t <= T; ++t) {
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(window.host() + b * t, batch.tokens.data() + b * T,
                  sizeof(int32_t) * t);
    window.toDevice(0, B * t);
    lmcrt_memref_i32_2d in = {window.device(), window.device(), 0, {B, t},
                              {t, 1}};
    lmcrt_memref_f32_2d out;
    fns.logits(&out, &p, &in);
    device::synchronize();
    if (out.sizes[0] != B || out.sizes[1] != V) {
      _mlir_memref_to_llvm_free(out.allocated);
      fail("logits returned shape " + std::to_string(out.sizes[0]) + "x" +
           std::to_string(out.sizes[1]) + ", expected " + std::to_string(B) +
           "x" + std::to_string(V));
    }
    // The logits are in device memory: one copy of their span.
    std::vector<float> host =
        spanToHost(out.aligned + out.offset, out.sizes, out.strides);
    const float *src = host.data();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t v = 0; v < V; ++v)
        logits[(b * T + t - 1) * V + v] =
            src[b * out.strides[0] + v * out.strides[1]];
    _mlir_memref_to_llvm_free(out.allocated);
  }
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < B * T; ++i) {
    if (batch.targets[i] < 0)
      continue;
    const float *row = logits.data() + i * V;
    double top = -INFINITY, total = 0;
    for (int64_t v = 0; v < V; ++v)
      top = std::fmax(top, row[v]);
    for (int64_t v = 0; v < V; ++v)
      total += std::exp(row[v] - top);
    sum += top + std::log(total) - row[batch.targets[i]];
    ++count;
  }
  if (write) {
    std::string dir = ".", name = path;
    size_t slash = path.rfind('/');
    if (slash != std::string::npos) {
      dir = slash == 0 ? "/" : path.substr(0, slash);
      name = path.substr(slash + 1);
    }
    if (name.empty())
      usageError("--logits: '" + path + "' names a directory, not a file");
    std::vector<RawTensorOut> tensors = {
        {"tokens", "I32", 4, {B, T}, batch.tokens.data()},
        {"logits", "F32", 4, {B, T, V}, logits.data()}};
    std::map<std::string, std::string> meta = {{"format", "lmc-logits 1"},
                                               {"model_name", model.name}};
    atomicWriteFile(dir, name, [&](int fd, const std::string &file) {
      writeSafetensorsRaw(fd, file, tensors, meta);
    });
  }
  return count ? sum / static_cast<double>(count) : NAN;
}

} // namespace lmcrt
