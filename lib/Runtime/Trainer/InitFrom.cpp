//===- InitFrom.cpp - Matching a parameters file to the model -------------===//
//
// See InitFrom.h for the rules.
//
//===----------------------------------------------------------------------===//

#include "Trainer/InitFrom.h"

#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Trainer/Safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace lmcrt {

namespace {

/// The prefixes stripped from the file's names, in the order tried.
const char *const kPrefixes[] = {"transformer.", "model."};

/// Non-parameter buffers Hugging Face models have written (name suffixes).
const char *const kBuffers[] = {".attn.bias", ".attn.masked_bias",
                                ".rotary_emb.inv_freq"};

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string quoted(const std::string &s) { return "'" + s + "'"; }

/// Levenshtein distance (names are short).
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

/// "nearest: 'a', 'b', 'c'": the (at most three) names closest to `name`.
std::string nearest(const std::string &name,
                    const std::vector<std::string> &names) {
  std::vector<std::pair<size_t, size_t>> ranked; // (distance, index)
  for (size_t i = 0; i < names.size(); ++i)
    ranked.push_back({editDistance(name, names[i]), i});
  std::stable_sort(ranked.begin(), ranked.end());
  std::string text;
  for (size_t i = 0; i < ranked.size() && i < 3; ++i)
    text += (i ? ", " : "") + quoted(names[ranked[i].second]);
  return text.empty() ? "" : "nearest: " + text;
}

/// `name` with each all-digit component (a layer index) written as '*'.
std::string namePattern(const std::string &name) {
  std::string out;
  size_t begin = 0;
  while (true) {
    size_t end = name.find('.', begin);
    std::string part = name.substr(begin, end - begin);
    bool digits = !part.empty() &&
                  std::all_of(part.begin(), part.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    out += digits ? "*" : part;
    if (end == std::string::npos)
      return out;
    out += '.';
    begin = end + 1;
  }
}

/// The parameter a tied head reads: the embedding of `shape` (as files hold
/// it: the real rows of a padded vocabulary).
const ParamInfo *tiedEmbedding(const ModelInfo &model,
                               const std::vector<int64_t> &shape) {
  for (const char *name : {"wte.weight", "model.embed_tokens.weight"})
    if (const ParamInfo *p = model.find(name))
      if (p->storedShape == shape)
        return p;
  const ParamInfo *found = nullptr;
  for (const ParamInfo &p : model.params)
    if (p.storedShape == shape && !shape.empty() && shape[0] == model.vocab) {
      if (found)
        return nullptr; // two candidates: not knowable
      found = &p;
    }
  return found;
}

/// Reads a whole tensor as f32 (F32, F16 or BF16); fails otherwise.
std::vector<float> readWhole(const SafetensorsHeader &file,
                             const TensorEntry &t) {
  int64_t n = 1;
  for (int64_t d : t.shape)
    n *= d;
  std::vector<float> values(static_cast<size_t>(n));
  if (!readTensorAsF32(file, t, values.data()))
    fail(file.path + ": tensor '" + t.name + "' is " + t.dtype +
         ", expected F32, F16 or BF16");
  return values;
}

} // namespace

InitSources findInitTensors(const SafetensorsHeader &file,
                            const ModelInfo &model) {
  InitSources sources;
  std::map<std::string, int64_t> stripped;
  for (const ParamInfo &p : model.params) {
    const TensorEntry *found = file.find(p.name);
    std::string via;
    for (const char *prefix : kPrefixes) {
      if (startsWith(p.name, prefix))
        continue; // the model's own name has it
      const TensorEntry *t = file.find(prefix + p.name);
      if (!t)
        continue;
      if (found)
        fail(file.path + ": both " + quoted(found->name) + " and " +
             quoted(t->name) + " are in the file: which one is parameter " +
             quoted(p.name) + " is ambiguous");
      found = t;
      via = prefix;
    }
    if (found && !via.empty())
      ++stripped[via];
    sources.tensors.push_back(found);
  }
  for (const auto &[prefix, count] : stripped)
    sources.notes.push_back("stripped the prefix '" + prefix + "' from " +
                            std::to_string(count) + " tensor name" +
                            (count == 1 ? "" : "s"));
  return sources;
}

void failMissingParameter(const SafetensorsHeader &file, const ModelInfo &model,
                          const InitSources &sources, size_t index) {
  const std::string &name = model.params[index].name;
  std::string message = file.path + ": missing tensor '" + name + "'";
  std::string hint;
  // A prefix the loader does not strip, or one the file lacks.
  for (const TensorEntry &t : file.tensors)
    if (t.name.size() > name.size() && endsWith(t.name, "." + name)) {
      std::string prefix = t.name.substr(0, t.name.size() - name.size());
      hint = "the file's names start with '" + prefix + "' (" +
             quoted(t.name) +
             "), a prefix --init-from does not strip (it strips "
             "'transformer.' and 'model.')";
      break;
    }
  for (const char *prefix : kPrefixes)
    if (hint.empty() && startsWith(name, prefix) &&
        file.find(name.substr(std::string(prefix).size())))
      hint = "the file's names lack the prefix '" + std::string(prefix) +
             "' of the model's (the file has " +
             quoted(name.substr(std::string(prefix).size())) + ")";
  if (hint.empty() && name == "lm_head.weight")
    hint = "the file has no LM head of its own: it is of a model whose head "
           "is tied to its embedding (Hugging Face's tie_word_embeddings); "
           "build this model tied (lmc.models.gpt2 without --untie-head, "
           "lmc.models.llama --tie-embeddings)";
  if (hint.empty()) {
    // The nearest of the tensors no parameter took.
    std::set<const TensorEntry *> taken(sources.tensors.begin(),
                                        sources.tensors.end());
    std::vector<std::string> names;
    for (const TensorEntry &t : file.tensors)
      if (!taken.count(&t))
        names.push_back(t.name);
    hint = names.empty()
               ? "the file has " + std::to_string(file.tensors.size()) +
                     " tensors, all of them other parameters of the model"
               : nearest(name, names) + " of the file's " +
                     std::to_string(names.size()) + " other tensors";
  }
  fail(message + " (" + hint + ")");
}

void checkOtherTensors(const SafetensorsHeader &file, const ModelInfo &model,
                       InitSources &sources) {
  std::set<const TensorEntry *> taken(sources.tensors.begin(),
                                      sources.tensors.end());
  std::vector<std::string> unexpected, buffers;
  std::set<std::string> bufferPatterns;
  const TensorEntry *head = nullptr;
  for (const TensorEntry &t : file.tensors) {
    if (taken.count(&t) || startsWith(t.name, "exp_avg.") ||
        startsWith(t.name, "exp_avg_sq.") || startsWith(t.name, "local."))
      continue;
    bool buffer = false;
    for (const char *suffix : kBuffers)
      buffer = buffer || endsWith(t.name, suffix);
    if (buffer) {
      buffers.push_back(t.name);
      bufferPatterns.insert(namePattern(t.name));
    } else if (t.name == "lm_head.weight") {
      head = &t;
    } else {
      unexpected.push_back(t.name);
    }
  }
  if (!unexpected.empty()) {
    std::vector<std::string> params;
    for (const ParamInfo &p : model.params)
      params.push_back(p.name);
    std::string more =
        unexpected.size() > 1
            ? ", and " + std::to_string(unexpected.size() - 1) + " more"
            : "";
    fail(file.path + ": tensor '" + unexpected[0] + "' is not a parameter of model '" +
         model.name + "' (" + nearest(unexpected[0], params) + more +
         "): --init-from loads a file of exactly the model's parameters, "
         "and drops none");
  }
  if (head) {
    const ParamInfo *embedding = tiedEmbedding(model, head->shape);
    const TensorEntry *source = nullptr;
    if (embedding)
      for (size_t i = 0; i < model.params.size(); ++i)
        if (&model.params[i] == embedding)
          source = sources.tensors[i];
    if (!source)
      fail(file.path + ": tensor 'lm_head.weight' (an LM head of its own, " +
           shapeString(head->shape) + ") has no place in model '" +
           model.name + "', which has no lm_head.weight and no embedding "
                        "of that shape");
    std::vector<float> a = readWhole(file, *head), b = readWhole(file, *source);
    double worst = 0;
    bool same = true;
    for (size_t i = 0; i < a.size(); ++i)
      if (!(a[i] == b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) {
        same = false;
        worst = std::fmax(worst, std::fabs(double(a[i]) - double(b[i])));
      }
    if (!same) {
      char diff[32];
      std::snprintf(diff, sizeof(diff), "%.3g", worst);
      fail(file.path + ": tensor 'lm_head.weight' is an LM head of its own " +
           "(max abs difference " + diff + " from " + quoted(source->name) +
           "), but model '" + model.name + "' ties its head to " +
           quoted(embedding->name) +
           ": build the model with an untied head (lmc.models.gpt2 "
           "--untie-head, lmc.models.llama --untie-embeddings)");
    }
    sources.notes.push_back("lm_head.weight equals the tied embedding " +
                            quoted(source->name) + " (not loaded twice)");
  }
  if (!buffers.empty()) {
    std::string patterns;
    for (const std::string &p : bufferPatterns)
      patterns += (patterns.empty() ? "" : ", ") + p;
    sources.notes.push_back("ignored " + std::to_string(buffers.size()) +
                            " non-parameter buffer" +
                            (buffers.size() == 1 ? "" : "s") + " (" +
                            patterns + ")");
  }
}

} // namespace lmcrt
