//===- LogitsDump.h - The logits of a batch, for other frameworks -*- C++ -*-===//
//
// `--logits FILE` (instead of training): the model's logits at every
// position of a batch of token ids, written to FILE as a safetensors file
// with two tensors,
//   tokens  [B, T]     I32  the input ids
//   logits  [B, T, V]  F32  logits[b, t] = next-token logits after
//                           tokens[b, 0..t] (what PyTorch's
//                           `model(tokens).logits` holds)
// and metadata {"format": "lmc-logits 1", "model_name": ...}, for a
// comparison with another framework on the same weights. The tokens are the
// tensor `tokens` ([B, T], any integer dtype) of `--logits-tokens
// FILE.safetensors` (the `expected.safetensors` of the test fixtures is such
// a file), or else the first batch of `--data` (--batch x --seq, from the
// shard's start). The parameters are the trainer's: --init-from, --resume's
// checkpoint, or the initialisation of --seed.
//
// The compiled `lmc_logits` entry point gives the logits of the last
// position only, so position t is the last of the prefix tokens[:, 0..t]:
// T calls, each on every rank of a mesh (the logits of a partitioned
// program come from collectives), with the whole batch; rank 0 writes the
// file, atomically. The mean cross-entropy of the positions whose next
// token is known (from --data: every position; from a tokens file: all but
// the last) is printed, the same number as the eval loss of that batch.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_LOGITSDUMP_H
#define LMC_LIB_RUNTIME_LOGITSDUMP_H

#include "Core/ModelFunctions.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt {

struct Config;
struct ModelInfo;

/// A batch of token ids [batch, seq] and, when known, the next token of
/// each position (targets, -1 where unknown).
struct TokenBatch {
  int64_t batch = 0, seq = 0;
  std::vector<int32_t> tokens, targets;
};

/// The batch of `--logits-tokens`, or the first of `--data`; checks the ids
/// against the vocabulary and the length against the context.
TokenBatch logitsBatch(const Config &config, const ModelInfo &model);

/// Computes the logits of `batch` with the parameters `params` (this rank's
/// buffer) on every rank and, if `write`, writes `path`; returns the mean
/// cross-entropy over the positions with a known target (NaN if none).
double dumpLogits(const ModelFunctions &fns, const ModelInfo &model,
                  float *params, const TokenBatch &batch,
                  const std::string &path, bool write);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_LOGITSDUMP_H
