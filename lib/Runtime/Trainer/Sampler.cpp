//===- Sampler.cpp - Text generation --------------------------------------===//

#include "Trainer/Sampler.h"

#include "Comm/Collectives.h"
#include "Core/Device.h"
#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Core/Sharding.h"
#include "Core/StepMemory.h"
#include "Trainer/Checkpoint.h"
#include "Trainer/Flags.h"
#include "Trainer/Init.h"
#include "Trainer/Tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <glob.h>
#include <numeric>
#include <sys/stat.h>

namespace lmcrt {

int64_t sampleSoftmax(const float *logits, int64_t stride, int64_t n,
                      double u) {
  double maxLogit = -INFINITY;
  for (int64_t i = 0; i < n; ++i)
    maxLogit = std::fmax(maxLogit, logits[i * stride]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += std::exp(logits[i * stride] - maxLogit);
  double target = u * sum, cumulative = 0;
  for (int64_t i = 0; i < n; ++i) {
    cumulative += std::exp(logits[i * stride] - maxLogit);
    if (target < cumulative)
      return i;
  }
  return n - 1;
}

int64_t sampleToken(const float *logits, int64_t stride, int64_t n,
                    float temperature, int64_t topK, double u) {
  // The candidates, best first (ties: lower index first).
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto better = [&](int64_t a, int64_t b) {
    float x = logits[a * stride], y = logits[b * stride];
    return x > y || (x == y && a < b);
  };
  const int64_t k = temperature == 0 ? 1 : topK > 0 && topK < n ? topK : n;
  if (k == 1)
    return *std::min_element(order.begin(), order.end(), better);
  if (k < n) {
    std::partial_sort(order.begin(), order.begin() + k, order.end(), better);
    order.resize(static_cast<size_t>(k));
    std::sort(order.begin(), order.end()); // inverse CDF in index order
  }
  double maxLogit = -INFINITY;
  for (int64_t i : order)
    maxLogit = std::fmax(maxLogit, logits[i * stride]);
  std::vector<double> weights;
  weights.reserve(order.size());
  double sum = 0;
  for (int64_t i : order) {
    double w = std::exp((logits[i * stride] - maxLogit) / temperature);
    weights.push_back(w);
    sum += w;
  }
  double target = u * sum, cumulative = 0;
  for (size_t j = 0; j < order.size(); ++j) {
    cumulative += weights[j];
    if (target < cumulative)
      return order[j];
  }
  return order.back();
}

SampleOptions sampleOptions(const Config &config, int64_t count,
                            const std::vector<int32_t> &prompt) {
  SampleOptions options;
  options.count = count;
  options.temperature = config.temperature;
  options.topK = config.topK;
  options.prompt = prompt;
  return options;
}

std::unique_ptr<Tokenizer> findTokenizer(const Config &config,
                                         const ModelInfo &model) {
  std::string path = config.tokenizer;
  if (path.empty() && !config.data.empty()) {
    // The directory of the first shard --data names.
    glob_t matches;
    std::string first = config.data;
    if (::glob(config.data.c_str(), 0, nullptr, &matches) == 0 &&
        matches.gl_pathc > 0)
      first = matches.gl_pathv[0];
    ::globfree(&matches);
    size_t slash = first.rfind('/');
    std::string candidate =
        (slash == std::string::npos ? std::string()
                                    : first.substr(0, slash + 1)) +
        "tokenizer.bin";
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0)
      path = candidate;
  }
  std::unique_ptr<Tokenizer> tokenizer;
  if (!path.empty())
    tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(path));
  else if (model.vocab == 256)
    return std::make_unique<Tokenizer>(Tokenizer::bytes());
  else
    return nullptr;
  if (tokenizer->vocab() != model.vocab)
    usageError((config.tokenizer.empty() ? "" : "--tokenizer: ") + path +
               " has a vocabulary of " + std::to_string(tokenizer->vocab()) +
               " tokens but the model's vocab is " +
               std::to_string(model.vocab) +
               (config.tokenizer.empty()
                    ? " (give the model's tokenizer with --tokenizer FILE)"
                    : ""));
  return tokenizer;
}

std::vector<int32_t> encodePrompt(const Config &config, const ModelInfo &model,
                                  const Tokenizer *tokenizer, FILE *note) {
  if (config.prompt.empty())
    return {};
  if (!tokenizer)
    usageError("--prompt: the model's vocabulary of " +
               std::to_string(model.vocab) +
               " tokens needs a tokenizer to encode it: give --tokenizer FILE "
               "(the tokenizer.bin that python3 -m lmc.data prepare wrote)");
  if (!tokenizer->canEncode())
    usageError("--prompt: cannot encode with " + tokenizer->path() +
               ": merges.bin is not beside it (prepare the data again to "
               "write it)");
  std::vector<int32_t> tokens;
  try {
    tokens = tokenizer->encode(config.prompt);
  } catch (const RuntimeError &e) {
    usageError(std::string("--prompt: ") + e.what());
  }
  if (note && model.context &&
      static_cast<int64_t>(tokens.size()) > model.context)
    std::fprintf(note,
                 "note: the prompt is %lld tokens, longer than the model's "
                 "context of %lld: the model sees only its last %lld\n",
                 static_cast<long long>(tokens.size()),
                 static_cast<long long>(model.context),
                 static_cast<long long>(model.context));
  return tokens;
}

std::vector<int32_t> sample(const ModelFunctions &fns, const ModelInfo &model,
                            float *params, const SampleOptions &options,
                            Rng &rng, const Tokenizer *tokenizer, FILE *out) {
  const bool bytes = model.vocab == 256;
  std::vector<int32_t> tokens = options.prompt;
  if (tokens.empty())
    tokens.push_back(tokenizer ? tokenizer->startToken() : bytes ? 10 : 0);
  std::vector<int32_t> generated;
  std::unique_ptr<TextWriter> text;
  if (out && tokenizer) {
    text = std::make_unique<TextWriter>(out);
    if (!options.prompt.empty())
      text->write(tokenizer->decode(options.prompt));
  } else if (out && !options.prompt.empty()) {
    for (size_t i = 0; i < options.prompt.size(); ++i)
      std::fprintf(out, "%s%d", i ? " " : "", options.prompt[i]);
  }
  lmcrt_memref_f32_1d p = {params, params, 0, {model.total}, {1}};
  // The window of the last `context` tokens (all of them for a model
  // without a fixed context), in memory the device reaches.
  const int64_t context =
      model.context ? model.context
                    : options.count + static_cast<int64_t>(tokens.size());
  DeviceArray<int32_t> window(context);
  for (int64_t n = 0; n < options.count; ++n) {
    int64_t len = static_cast<int64_t>(tokens.size());
    int64_t t = len < context ? len : context;
    std::copy(tokens.end() - t, tokens.end(), window.host());
    window.toDevice(0, t);
    lmcrt_memref_i32_2d in = {window.device(), window.device(), 0, {1, t},
                              {t, 1}};
    lmcrt_memref_f32_2d logits;
    fns.logits(&logits, &p, &in);
    device::synchronize();
    if (logits.sizes[0] != 1 || logits.sizes[1] != model.vocab)
      fail("logits returned shape " + std::to_string(logits.sizes[0]) + "x" +
           std::to_string(logits.sizes[1]) + ", expected 1x" +
           std::to_string(model.vocab));
    // The logits are in device memory: one copy of their span.
    std::vector<float> row = spanToHost(logits.aligned + logits.offset,
                                        logits.sizes, logits.strides);
    _mlir_memref_to_llvm_free(logits.allocated);
    int32_t next = static_cast<int32_t>(
        sampleToken(row.data(), logits.strides[1], model.vocab,
                    options.temperature, options.topK, rng.uniform()));
    // Every rank samples (the logits of a partitioned program come from
    // collectives) and continues with rank 0's token.
    comm::broadcast(comm::worldGroup(), &next, sizeof(next));
    tokens.push_back(next);
    generated.push_back(next);
    if (text) {
      text->write(tokenizer->decode(next));
      std::fflush(out);
    } else if (out) {
      if (bytes) {
        int c = next;
        std::fputc(c == '\n' || c == '\t' || (c >= 32 && c < 127) ? c : '?',
                   out);
      } else {
        std::fprintf(out, "%s%d", n || !options.prompt.empty() ? " " : "",
                     next);
      }
      std::fflush(out);
    }
  }
  if (text)
    text->finish();
  if (out)
    std::fputc('\n', out);
  return generated;
}

void generate(const ModelFunctions &fns, const ModelInfo &model,
              const Config &config, const DeviceArray<float> &params,
              const MeshCoord &coord,
              const Tokenizer *tokenizer, const std::vector<int32_t> &prompt,
              FILE *out) {
  std::string path = config.initFrom.empty() ? latestCheckpoint(config.ckptDir)
                                             : config.initFrom;
  std::string note = loadParameters(path, model, params.host(), coord);
  params.toDevice();
  if (out && !note.empty())
    std::fprintf(out, "note: %s\n", note.c_str());
  if (out) {
    std::fprintf(out,
                 "model %s: %lld parameters, vocab %lld, context %s\n"
                 "tokenizer %s\n",
                 model.name.c_str(), static_cast<long long>(model.globalTotal),
                 static_cast<long long>(model.vocab),
                 model.context ? std::to_string(model.context).c_str() : "-",
                 !tokenizer                  ? "none (token ids)"
                 : tokenizer->path().empty() ? "bytes"
                                             : tokenizer->path().c_str());
    std::fprintf(out, "temperature %s, top-k %s, seed %llu\n",
                 formatFloat(config.temperature).c_str(),
                 config.topK ? std::to_string(config.topK).c_str() : "all",
                 static_cast<unsigned long long>(config.seed));
    std::fprintf(out, "parameters from %s\n", path.c_str());
    std::fprintf(out, "sample (%lld tokens):\n",
                 static_cast<long long>(config.tokens));
    std::fflush(out);
  }
  Rng rng(config.seed);
  sample(fns, model, params.device(),
         sampleOptions(config, config.tokens, prompt), rng,
         tokenizer, out);
}

} // namespace lmcrt
