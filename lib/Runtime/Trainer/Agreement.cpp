//===- Agreement.cpp - Ranks agree on what they run before step 1 ---------===//

#include "Trainer/Agreement.h"

#include "Comm/Collectives.h"
#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Trainer/Fingerprint.h"
#include "Trainer/Flags.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <unistd.h>

namespace lmcrt {

namespace {

constexpr uint64_t kHeaderWord = 0x6c6d632d61677231ull; // "lmc-agr1"

/// The shortest %g text that reads back as `value` (two flags differ in
/// their texts exactly when their values differ).
std::string exact(float value) {
  char buffer[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", digits, value);
    if (std::strtof(buffer, nullptr) == value)
      break;
  }
  return buffer;
}

std::string yesNo(bool value) { return value ? "on" : "off"; }

/// "rank 1" or "ranks 1, 3".
std::string rankList(const std::vector<int> &ranks) {
  std::string text = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i)
    text += (i ? ", " : "") + std::to_string(ranks[i]);
  return text;
}

void allgather(const void *send, int bytes, void *recv) {
  MPI_Comm world = comm::communicator(comm::worldGroup());
  comm::checkMpi(MPI_Allgather(send, bytes, MPI_BYTE, recv, bytes, MPI_BYTE,
                               world),
                 "startup agreement (allgather)");
}

/// Every rank's `text`, indexed by rank.
std::vector<std::string> allgatherText(const std::string &text) {
  const int world = comm::world();
  int64_t length = static_cast<int64_t>(text.size());
  std::vector<int64_t> lengths(world);
  allgather(&length, sizeof(length), lengths.data());
  std::vector<int> counts(world), displs(world);
  int64_t total = 0;
  for (int r = 0; r < world; ++r) {
    if (lengths[r] > (1 << 28))
      fail("startup agreement: rank " + std::to_string(r) +
           " sent an oversized value");
    counts[r] = static_cast<int>(lengths[r]);
    displs[r] = static_cast<int>(total);
    total += lengths[r];
  }
  std::string all(static_cast<size_t>(total), '\0');
  comm::checkMpi(MPI_Allgatherv(text.data(), static_cast<int>(text.size()),
                                MPI_BYTE, &all[0], counts.data(), displs.data(),
                                MPI_BYTE,
                                comm::communicator(comm::worldGroup())),
                 "startup agreement (allgatherv)");
  std::vector<std::string> values(world);
  for (int r = 0; r < world; ++r)
    values[r] = all.substr(displs[r], counts[r]);
  return values;
}

} // namespace

std::vector<std::pair<std::string, std::string>>
agreedFlags(const Config &c) {
  // Every flag but --threads, --log, --help and --version (Agreement.h).
  return {
      {"data", c.data},
      {"val", c.val},
      {"steps", std::to_string(c.steps)},
      {"batch", std::to_string(c.batch)},
      {"seq", std::to_string(c.seq)},
      {"lr", exact(c.lr)},
      {"lr-schedule", c.lrSchedule},
      {"warmup", std::to_string(c.warmup)},
      {"min-lr", exact(c.minLr)},
      {"beta1", exact(c.beta1)},
      {"beta2", exact(c.beta2)},
      {"eps", exact(c.eps)},
      {"weight-decay", exact(c.weightDecay)},
      {"grad-clip", exact(c.gradClip)},
      {"seed", std::to_string(c.seed)},
      {"init-from", c.initFrom},
      {"init-only", yesNo(c.initOnly)},
      {"ckpt-dir", c.ckptDir},
      {"ckpt-every", std::to_string(c.ckptEvery)},
      {"resume", yesNo(c.resume)},
      {"keep-last", std::to_string(c.keepLast)},
      {"keep-best", yesNo(c.keepBest)},
      {"lr-decay-steps", std::to_string(c.lrDecaySteps)},
      {"eval-every", std::to_string(c.evalEvery)},
      {"sample", std::to_string(c.sample)},
      {"tokenizer", c.tokenizer},
      {"prompt", c.prompt},
      {"temperature", exact(c.temperature)},
      {"top-k", std::to_string(c.topK)},
      {"generate", yesNo(c.generate)},
      {"tokens", std::to_string(c.tokens)},
      {"logits", c.logits},
      {"logits-tokens", c.logitsTokens},
      {"data-order", c.dataOrder},
      {"val-batches", std::to_string(c.valBatches)},
      {"grad-accum", std::to_string(c.gradAccum)},
      {"allow-data-change", yesNo(c.allowDataChange)},
      {"spike-zscore", exact(c.spikeZscore)},
      {"spike-window", std::to_string(c.spikeWindow)},
      {"spike-max-skips", std::to_string(c.spikeMaxSkips)},
      // Local SGD (LocalSgd.h).
      {"sync-every", std::to_string(c.syncEvery)},
      {"outer-optimizer", c.outerOptimizer},
      {"outer-lr", exact(c.outerLr)},
      {"outer-momentum", exact(c.outerMomentum)},
      {"async-sync", yesNo(c.asyncSync)},
      {"data-partition", c.dataPartition},
      {"export-averaged", yesNo(c.exportAveraged)},
  };
}

std::vector<AgreementItem> agreementItems(const Config &config,
                                          const ModelInfo &model) {
  std::vector<AgreementItem> items;
  auto add = [&](const std::string &name, uint64_t digest,
                 const std::string &value) {
    items.push_back({name, digest, value});
  };
  add("model", hash64(model.text.data(), model.text.size()), model.text);
  int64_t size = 0;
  uint64_t exe = hashFile("/proc/self/exe", &size);
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string path = n > 0 ? std::string(self, static_cast<size_t>(n))
                           : std::string("/proc/self/exe");
  add("executable", exe,
      path + " (" + std::to_string(size) + " bytes, hash " + toHex(exe) + ")");
  for (auto &[flag, value] : agreedFlags(config))
    add("flag." + flag, hash64(value.data(), value.size()), value);
  for (const char *flag : {"data", "val"}) {
    const std::string &pattern = flag[0] == 'd' ? config.data : config.val;
    std::string text =
        pattern.empty()
            ? std::string()
            : dataFingerprint(std::string("--") + flag, pattern, false);
    add(flag, hash64(text.data(), text.size()), text);
  }
  return items;
}

std::string describeDisagreement(const std::string &name,
                                 const std::vector<std::string> &values) {
  // The ranks grouped by value, rank 0's group first.
  std::vector<std::pair<std::string, std::vector<int>>> groups;
  for (int r = 0; r < static_cast<int>(values.size()); ++r) {
    auto it = groups.begin();
    while (it != groups.end() && it->first != values[r])
      ++it;
    if (it == groups.end())
      groups.push_back({values[r], {r}});
    else
      it->second.push_back(r);
  }
  std::string text;
  if (name.rfind("flag.", 0) == 0) {
    text = "--" + name.substr(5) + " differs:";
    for (size_t g = 0; g < groups.size(); ++g)
      text += std::string(g ? "," : "") + " " + rankList(groups[g].second) +
              " '" + groups[g].first + "'";
    return text;
  }
  if (name == "executable") {
    text = "the executable differs:";
    for (size_t g = 0; g < groups.size(); ++g)
      text += std::string(g ? "," : "") + " " + rankList(groups[g].second) +
              " " + groups[g].first;
    return text;
  }
  const std::vector<int> &base = groups[0].second;
  for (size_t g = 1; g < groups.size(); ++g) {
    std::string what;
    if (name == "model")
      what = "the model description differs between " + rankList(base) +
             " and " + rankList(groups[g].second) + ", " +
             firstDifferentLine(groups[0].first, groups[g].first);
    else
      what = "--" + name + ": the shards of " + rankList(groups[g].second) +
             " differ from " + rankList(base) + "'s: " +
             describeDataChange(groups[0].first, groups[g].first);
    text += (g > 1 ? "; " : "") + what;
  }
  return text;
}

double checkAgreement(const Config &config, const ModelInfo &model) {
  if (!comm::usesMpi() || comm::world() <= 1)
    return 0;
  auto start = std::chrono::steady_clock::now();
  const int world = comm::world();
  std::vector<AgreementItem> items = agreementItems(config, model);
  std::string names;
  for (const AgreementItem &item : items)
    names += item.name + "\n";
  uint64_t header[3] = {kHeaderWord, items.size(),
                        hash64(names.data(), names.size())};
  std::vector<uint64_t> headers(3 * world);
  allgather(header, sizeof(header), headers.data());
  for (int r = 1; r < world; ++r)
    if (std::equal(header, header + 3, headers.data() + 3 * r) == false)
      fail("the ranks do not agree at startup: rank " + std::to_string(r) +
           " runs a trainer that compares other items than rank 0's (the "
           "executables differ)");
  std::vector<uint64_t> digests(items.size()), all(items.size() * world);
  for (size_t i = 0; i < items.size(); ++i)
    digests[i] = items[i].digest;
  allgather(digests.data(), static_cast<int>(sizeof(uint64_t) * items.size()),
            all.data());
  std::string message;
  for (size_t i = 0; i < items.size(); ++i) {
    bool same = true;
    for (int r = 1; r < world; ++r)
      same = same && all[r * items.size() + i] == all[i];
    if (same)
      continue;
    std::vector<std::string> values = allgatherText(items[i].value);
    message += (message.empty() ? "" : "; ") +
               describeDisagreement(items[i].name, values);
  }
  if (!message.empty())
    usageError("the ranks do not agree at startup: " + message);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace lmcrt
