//===- Sampler.cpp - Text generation after training -----------------------===//

#include "Trainer/Sampler.h"

#include "Comm/Collectives.h"
#include "Core/Device.h"
#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Core/StepMemory.h"
#include "Trainer/Init.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

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

std::vector<int32_t> sample(const ModelFunctions &fns, const ModelInfo &model,
                            float *params, int64_t count, Rng &rng, FILE *out) {
  bool bytes = model.vocab == 256;
  std::vector<int32_t> tokens = {bytes ? 10 : 0};
  std::vector<int32_t> generated;
  lmcrt_memref_f32_1d p = {params, params, 0, {model.total}, {1}};
  // The window of the last `context` tokens (all of them for a model
  // without a fixed context), in memory the device reaches.
  const int64_t context = model.context ? model.context : count + 1;
  struct Window {
    explicit Window(int64_t n)
        : data(static_cast<int32_t *>(device::allocate(sizeof(int32_t) * n))) {}
    ~Window() { device::release(data); }
    int32_t *data;
  } window(context);
  for (int64_t n = 0; n < count; ++n) {
    int64_t len = static_cast<int64_t>(tokens.size());
    int64_t t = len < context ? len : context;
    std::copy(tokens.end() - t, tokens.end(), window.data);
    lmcrt_memref_i32_2d in = {window.data, window.data, 0, {1, t}, {t, 1}};
    lmcrt_memref_f32_2d logits;
    fns.logits(&logits, &p, &in);
    device::synchronize();
    if (logits.sizes[0] != 1 || logits.sizes[1] != model.vocab)
      fail("logits returned shape " + std::to_string(logits.sizes[0]) + "x" +
           std::to_string(logits.sizes[1]) + ", expected 1x" +
           std::to_string(model.vocab));
    int32_t next = static_cast<int32_t>(
        sampleSoftmax(logits.aligned + logits.offset, logits.strides[1],
                      model.vocab, rng.uniform()));
    _mlir_memref_to_llvm_free(logits.allocated);
    // Every rank samples (the logits of a partitioned program come from
    // collectives) and continues with rank 0's token.
    comm::broadcast(comm::worldGroup(), &next, sizeof(next));
    tokens.push_back(next);
    generated.push_back(next);
    if (out) {
      if (bytes) {
        int c = next;
        std::fputc(c == '\n' || c == '\t' || (c >= 32 && c < 127) ? c : '?',
                   out);
      } else {
        std::fprintf(out, "%s%d", n ? " " : "", next);
      }
      std::fflush(out);
    }
  }
  if (out)
    std::fputc('\n', out);
  return generated;
}

} // namespace lmcrt
