//===- InitFrom.h - Matching a parameters file to the model -----*- C++ -*-===//
//
// How `--init-from FILE.safetensors` finds the model's parameters in a file
// that lmc, or Hugging Face's save_pretrained, wrote (loadParameters in
// Checkpoint.h reads them).
//
// Names. Each parameter is looked up under its own name, then under
// `transformer.NAME` (GPT2LMHeadModel's names) and `model.NAME` (the prefix
// of Hugging Face's *ForCausalLM models, for a model whose own names lack
// it); a parameter present under two of these names is an error. The note
// says which prefix was stripped from how many names.
//
// The other tensors of the file, each classified:
//   exp_avg.NAME, exp_avg_sq.NAME   AdamW moments of an lmc checkpoint:
//                                    ignored, silently (--init-from takes
//                                    parameters only);
//   local.*                          local SGD's state (LocalSgd.h):
//                                    ignored, silently (the file's own
//                                    parameters are the averaged model);
//   ...attn.bias, ...attn.masked_bias (GPT-2's causal mask buffers),
//   ...rotary_emb.inv_freq (Llama's)  non-parameter buffers that older
//                                    transformers wrote: ignored, named in
//                                    the note;
//   lm_head.weight (model without one)  a head written out although tied:
//                                    accepted with a note when its values
//                                    equal the embedding the model ties its
//                                    head to (wte.weight or
//                                    model.embed_tokens.weight, else the one
//                                    parameter of its shape with `vocab`
//                                    rows), an error when they differ;
//   anything else                    an error naming the tensor and the
//                                    nearest parameter names: a parameter
//                                    file holds the model's parameters, and
//                                    one tensor more is never dropped.
//
// A parameter found under no name is an error with a hint: a prefix of the
// file's names that is not stripped, the tied head of the file's model when
// the parameter is lm_head.weight, else the nearest names in the file.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_INITFROM_H
#define LMC_LIB_RUNTIME_INITFROM_H

#include <string>
#include <vector>

namespace lmcrt {

struct ModelInfo;
struct SafetensorsHeader;
struct TensorEntry;

struct InitSources {
  /// Per model.params entry: the file's tensor for it, null when missing.
  std::vector<const TensorEntry *> tensors;
  /// Notes, each a phrase ("stripped the prefix 'transformer.' from 27
  /// tensor names").
  std::vector<std::string> notes;
};

/// Finds each parameter of `model` in `file` (fails only when a parameter
/// is present under two names).
InitSources findInitTensors(const SafetensorsHeader &file,
                            const ModelInfo &model);

/// Fails with the missing-tensor error of parameter `index` and its hint.
[[noreturn]] void failMissingParameter(const SafetensorsHeader &file,
                                       const ModelInfo &model,
                                       const InitSources &sources,
                                       size_t index);

/// Classifies the tensors no parameter took (see above): fails on an
/// unexpected one, adds notes for the ones ignored.
void checkOtherTensors(const SafetensorsHeader &file, const ModelInfo &model,
                       InitSources &sources);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_INITFROM_H
