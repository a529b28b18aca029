//===- Sampler.h - Text generation after training ---------------*- C++ -*-===//
//
// Generates tokens one at a time with the model's `logits` entry point
// (batch 1, the last min(len, context) tokens as input). The first token is
// a newline (10) when the vocabulary is 256 bytes, else token 0. Each next
// token is drawn from softmax(logits) by inverse CDF with one rng.uniform().
// Byte vocabularies are written as text (non-printable bytes other than
// newline and tab as '?'); others as space-separated token ids.
//
// In a process group of several ranks every rank samples (the logits
// function of a partitioned program runs collectives and returns the full
// logits on every rank) and every rank continues with the token of world
// rank 0, which it broadcasts: the ranks' inputs stay identical.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_SAMPLER_H
#define LMC_LIB_RUNTIME_SAMPLER_H

#include "Core/ModelFunctions.h"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace lmcrt {

class Rng;
struct ModelInfo;

/// Returns the generated tokens (not including the start token) and writes
/// them to `out` (if not null) as they come.
std::vector<int32_t> sample(const ModelFunctions &fns, const ModelInfo &model,
                            float *params, int64_t count, Rng &rng, FILE *out);

/// Index drawn from softmax(logits[0..n)) with the uniform `u` in [0, 1).
int64_t sampleSoftmax(const float *logits, int64_t stride, int64_t n, double u);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_SAMPLER_H
