//===- Sampler.h - Text generation ------------------------------*- C++ -*-===//
//
// Generates tokens one at a time with the model's `logits` entry point
// (batch 1, the last min(len, context) tokens as input), after training
// (--sample N) or from loaded parameters without training (--generate). The
// sequence starts with the tokens of --prompt, or without one with the
// tokenizer's start token (Tokenizer::startToken: the newline), or a newline
// (10) for a byte vocabulary without a tokenizer file, else token 0. Each
// next token is drawn by sampleToken: the logits divided by the temperature,
// restricted to the top k, softmax, inverse CDF with one rng.uniform() (drawn
// for every token, greedy ones too). With a tokenizer the prompt and the
// tokens are written as text (TextWriter); without one, byte vocabularies as
// text (non-printable bytes other than newline and tab as '?') and others as
// space-separated token ids.
//
// In a process group of several ranks every rank samples (the logits
// function of a partitioned program runs collectives and returns the full
// logits on every rank) and every rank continues with the token of world
// rank 0, which it broadcasts: the ranks' inputs stay identical.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_SAMPLER_H
#define LMC_LIB_RUNTIME_SAMPLER_H

#include "Core/DeviceArray.h"
#include "Core/ModelFunctions.h"
#include "Core/ModelInfo.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace lmcrt {

class Rng;
class Tokenizer;
struct Config;

struct SampleOptions {
  int64_t count = 0;           // tokens to generate
  float temperature = 1.0f;    // 0: greedy (argmax)
  int64_t topK = 0;            // 0: the whole vocabulary
  std::vector<int32_t> prompt; // empty: the start token
};

/// The options of --temperature and --top-k, for `count` tokens after
/// `prompt`.
SampleOptions sampleOptions(const Config &config, int64_t count,
                            const std::vector<int32_t> &prompt);

/// Returns the generated tokens (not including the prompt or start token)
/// and writes the prompt and them to `out` (if not null) as they come.
/// `params` is this rank's parameter buffer as compiled code takes it
/// (device memory on a GPU). `tokenizer` may be null.
std::vector<int32_t> sample(const ModelFunctions &fns, const ModelInfo &model,
                            float *params, const SampleOptions &options,
                            Rng &rng, const Tokenizer *tokenizer, FILE *out);

/// Index drawn from softmax(logits[0..n)) with the uniform `u` in [0, 1).
int64_t sampleSoftmax(const float *logits, int64_t stride, int64_t n, double u);

/// Index drawn with the uniform `u` in [0, 1) from softmax(logits /
/// temperature) over the `topK` largest logits (0: all; ties go to the lower
/// index), by inverse CDF in index order. Temperature 0 is the argmax (the
/// lowest index among equal maxima), as is topK 1.
int64_t sampleToken(const float *logits, int64_t stride, int64_t n,
                    float temperature, int64_t topK, double u);

/// The tokenizer for sampling and prompts: --tokenizer FILE, else
/// tokenizer.bin in the directory of the first --data shard when there is
/// one, else the byte tokenizer for a vocabulary of 256; null when none
/// applies. Throws RuntimeError when its vocabulary differs from the
/// model's (naming both) or the file is malformed.
std::unique_ptr<Tokenizer> findTokenizer(const Config &config,
                                         const ModelInfo &model);

/// Encodes --prompt (empty for none); throws a usage error naming --prompt
/// when it cannot be encoded. Prints a note to `note` (if not null) when
/// the prompt is longer than the model's context.
std::vector<int32_t> encodePrompt(const Config &config, const ModelInfo &model,
                                  const Tokenizer *tokenizer, FILE *note);

/// --generate: loads the parameters (--init-from FILE, else the latest
/// checkpoint in --ckpt-dir; this rank's pieces at `coord`) into `params`
/// (its host copy, then the device's), then samples --tokens N continuing `prompt` with an Rng seeded by --seed,
/// writing to `out` (rank 0's stdout; null on the other ranks).
void generate(const ModelFunctions &fns, const ModelInfo &model,
              const Config &config, const DeviceArray<float> &params,
              const MeshCoord &coord,
              const Tokenizer *tokenizer, const std::vector<int32_t> &prompt,
              FILE *out);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_SAMPLER_H
