//===- LocalSgd.cpp - Periodic averaging of data-parallel replicas --------===//
//
// See LocalSgd.h for the rules (rounds, outer optimizers, the one-round
// delay of --async-sync, data partition, checkpoint contents).
//
//===----------------------------------------------------------------------===//

#include "Trainer/LocalSgd.h"

#include "Comm/Collectives.h"
#include "Core/Device.h"
#include "Core/Error.h"
#include "Trainer/Flags.h"
#include "Trainer/Safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace lmcrt {

namespace {

lmcrt_memref_f32_1d view(float *data, int64_t n) {
  return {data, data, 0, {n}, {1}};
}

uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string meta(const std::map<std::string, std::string> &m,
                 const std::string &key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

/// The outer configuration a checkpoint records and a resume must match.
std::map<std::string, std::string> outerMetadata(const Config &c,
                                                 const ModelInfo &model) {
  std::map<std::string, std::string> m;
  m["dp_sync"] = "local";
  m["local_replicas"] = std::to_string(model.batchParts());
  m["local_mesh"] = model.meshText();
  m["sync_every"] = std::to_string(c.syncEvery);
  m["outer_optimizer"] = c.outerOptimizer;
  m["outer_lr"] = formatFloat(c.outerLr);
  m["outer_momentum"] = formatFloat(c.outerMomentum);
  m["async_sync"] = c.asyncSync ? "1" : "0";
  m["data_partition"] = c.dataPartition;
  return m;
}

std::string describeOuter(const std::map<std::string, std::string> &m) {
  std::string text = "--dp-sync local on " + meta(m, "local_mesh") +
                     ": --sync-every " + meta(m, "sync_every") +
                     " --outer-optimizer " + meta(m, "outer_optimizer");
  if (meta(m, "outer_optimizer") == "nesterov")
    text += " --outer-lr " + meta(m, "outer_lr") + " --outer-momentum " +
            meta(m, "outer_momentum");
  if (meta(m, "async_sync") == "1")
    text += " --async-sync";
  return text + " --data-partition " + meta(m, "data_partition");
}

} // namespace

bool compiledLocal(const ModelInfo &model, const ModelFunctions &fns) {
  (void)fns;
  return model.dpSyncLocal;
}

const char *firstLocalSgdFlag(const Config &c) {
  return c.syncEvery > 0              ? "--sync-every"
         : !c.outerOptimizer.empty()  ? "--outer-optimizer"
         : c.outerLr >= 0             ? "--outer-lr"
         : c.outerMomentum >= 0       ? "--outer-momentum"
         : c.asyncSync                ? "--async-sync"
         : !c.dataPartition.empty()   ? "--data-partition"
                                      : nullptr;
}

void validateLocalSgd(Config &c, const ModelInfo &model,
                      const ModelFunctions &fns) {
  if (c.exportAveraged && !c.resume)
    usageError("--export-averaged: needs --resume");
  if (!compiledLocal(model, fns)) {
    const char *flag = firstLocalSgdFlag(c);
    if (flag)
      usageError(std::string(flag) +
                 ": this program averages gradients every step (compiled "
                 "with --dp-sync allreduce); local SGD needs a program "
                 "compiled with `lmc compile --mesh dp=D --dp-sync local`");
    return;
  }
  if (model.batchParts() <= 1)
    usageError("--sync-every: the program's mesh (" + model.meshText() +
               ") has no dp axis of more than one rank: local SGD averages "
               "dp replicas");
  if (!fns.dpAverage || !fns.dpAverageStart || !fns.dpAverageFinish)
    fail("this --dp-sync local program lacks lmc_dp_average{,_start,"
         "_finish}");
  if (model.zero1)
    fail("this --dp-sync local program splits its moments (ZeRO-1): each "
         "local replica needs its own");
  if (c.syncEvery == 0)
    usageError("--sync-every: missing: this program was compiled with "
               "--dp-sync local (no gradient exchange per step); give the "
               "local steps per round, e.g. --sync-every 8");
  if (c.outerOptimizer.empty())
    c.outerOptimizer = "avg";
  if (c.outerOptimizer != "avg" && c.outerOptimizer != "nesterov")
    usageError("--outer-optimizer: expected avg or nesterov, got '" +
               c.outerOptimizer + "'");
  if (c.outerOptimizer == "avg") {
    if (c.outerLr >= 0)
      usageError("--outer-lr: only with --outer-optimizer nesterov (avg "
                 "applies the mean change as it is)");
    if (c.outerMomentum >= 0)
      usageError("--outer-momentum: only with --outer-optimizer nesterov");
    c.outerLr = 1.0f;
    c.outerMomentum = 0.0f;
  } else {
    if (c.outerLr < 0)
      c.outerLr = 0.7f;
    if (c.outerMomentum < 0)
      c.outerMomentum = 0.9f;
    if (c.outerMomentum >= 1)
      usageError("--outer-momentum: must be < 1, got " +
                 formatFloat(c.outerMomentum));
  }
  if (c.dataPartition.empty())
    c.dataPartition = "uniform";
  if (c.dataPartition != "uniform" && c.dataPartition != "random")
    usageError("--data-partition: expected uniform or random, got '" +
               c.dataPartition + "'");
}

std::string localResumeMismatch(const std::map<std::string, std::string> &m,
                                const Config &config, const ModelInfo &model,
                                const ModelFunctions &fns) {
  if (config.exportAveraged)
    return "";
  const bool local = compiledLocal(model, fns);
  const bool saved = meta(m, "dp_sync") == "local";
  const std::string hint =
      "; pass --export-averaged to start from its averaged model with fresh "
      "outer state";
  if (!local && !saved)
    return "";
  if (saved && !local)
    return "it holds the state of " + meta(m, "local_replicas") +
           " local-SGD replicas (" + describeOuter(m) +
           "), but this program averages gradients every step" + hint;
  if (!saved)
    return "it was written by a run that averages gradients every step, "
           "but this run is " +
           describeOuter(outerMetadata(config, model)) + hint;
  std::map<std::string, std::string> now = outerMetadata(config, model);
  for (auto &kv : now)
    if (meta(m, kv.first) != kv.second)
      return "it holds the state of " + describeOuter(m) +
             ", but this run is " + describeOuter(now) + hint;
  return "";
}

LocalSgd::LocalSgd(const Config &config, const ModelInfo &model,
                   const ModelFunctions &fns, lmcrt_memref_f32_1d &params,
                   float *expAvg, float *expAvgSq)
    : config(config), model(model), fns(fns), params(params), expAvg(expAvg),
      expAvgSq(expAvgSq), n(model.total), pending(n), next(n), scratch(n) {
  replica = comm::groupRank(model.batchAxes);
  replicas = model.batchParts();
  roundStart.assign(n, 0.0f);
  if (config.outerOptimizer == "nesterov")
    momentum.assign(n, 0.0f);
  averagedRef = view(scratch.data, n);
}

LocalSgd::~LocalSgd() = default;

LocalSgd::DeviceBuffer::DeviceBuffer(int64_t n)
    : data(static_cast<float *>(device::allocate(sizeof(float) * n))) {
  std::memset(data, 0, sizeof(float) * n);
}

LocalSgd::DeviceBuffer::~DeviceBuffer() { device::release(data); }

void LocalSgd::begin(int64_t step, uint64_t seed) {
  std::memcpy(roundStart.data(), params.aligned + params.offset,
              sizeof(float) * n);
  std::fill(momentum.begin(), momentum.end(), 0.0f);
  havePending = inFlight = false;
  roundBase = step;
  partitionSeed = seed;
  identical = step == 0; // every replica drew the same initialisation
}

void LocalSgd::resume(const std::string &path, const MeshCoord &coord,
                      int64_t step) {
  SafetensorsHeader file = readSafetensorsHeader(path);
  unsigned long long seed = config.seed;
  if (config.exportAveraged || meta(file.metadata, "dp_sync") != "local") {
    // Fresh outer state on the checkpoint's averaged model (read already).
    begin(step, seed);
    identical = true;
    return;
  }
  if (!parseHex(meta(file.metadata, "partition_seed"), seed))
    fail(path + ": metadata partition_seed is not 1-16 hex digits");
  const std::string prefix = "local.replica" + std::to_string(replica) + ".";
  readParamPieces(path, prefix, model, coord, params.aligned + params.offset);
  readParamPieces(path, prefix + "exp_avg.", model, coord, expAvg);
  readParamPieces(path, prefix + "exp_avg_sq.", model, coord, expAvgSq);
  readParamPieces(path, "local.round_start.", model, coord, roundStart.data());
  if (!momentum.empty())
    readParamPieces(path, "local.outer_momentum.", model, coord,
                    momentum.data());
  havePending = meta(file.metadata, "local_pending") == "1";
  if (havePending)
    readParamPieces(path, "local.pending_delta.", model, coord, pending.data);
  inFlight = false;
  partitionSeed = seed;
  roundBase = std::stoll(meta(file.metadata, "round_base"));
  identical = (step - roundBase) % config.syncEvery == 0;
}

bool LocalSgd::contiguousRows() const {
  return config.dataPartition != "random";
}

std::vector<int64_t> LocalSgd::rows(int64_t step, int64_t micro,
                                    int64_t b) const {
  const int64_t localB = b / replicas;
  std::vector<int64_t> order(b);
  std::iota(order.begin(), order.end(), 0);
  if (!contiguousRows()) {
    // Fisher-Yates with splitmix64 over (seed, step, micro-batch).
    uint64_t state = mix(partitionSeed ^ mix(static_cast<uint64_t>(step) ^
                                             mix(static_cast<uint64_t>(micro))));
    for (int64_t i = b - 1; i > 0; --i) {
      state = mix(state);
      std::swap(order[i], order[state % static_cast<uint64_t>(i + 1)]);
    }
  }
  return std::vector<int64_t>(order.begin() + replica * localB,
                              order.begin() + (replica + 1) * localB);
}

void LocalSgd::average(float *buffer) {
  lmcrt_memref_f32_1d ref = view(buffer, n);
  fns.dpAverage(&ref);
  device::synchronize();
}

void LocalSgd::averageInto(const float *from, std::vector<float> &to) {
  std::memcpy(scratch.data, from, sizeof(float) * n);
  if (!identical || from != params.aligned + params.offset)
    average(scratch.data);
  to.assign(scratch.data, scratch.data + n);
}

void LocalSgd::outerStep(const float *d) {
  float *g = roundStart.data();
  if (momentum.empty()) {
    for (int64_t i = 0; i < n; ++i)
      g[i] = g[i] - d[i];
    return;
  }
  const float lr = config.outerLr, mu = config.outerMomentum;
  float *m = momentum.data();
  for (int64_t i = 0; i < n; ++i) {
    const float mi = mu * m[i] + d[i];
    m[i] = mi;
    const float step = d[i] + mu * mi;
    g[i] = g[i] - lr * step;
  }
}

std::optional<LocalSgd::Sync> LocalSgd::afterStep(int64_t step) {
  identical = false;
  if ((step - roundBase) % config.syncEvery != 0)
    return std::nullopt;
  Sync sync;
  sync.round = (step - roundBase) / config.syncEvery;
  float *x = params.aligned + params.offset;
  auto rms = [&](const float *v) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i)
      s += static_cast<double>(v[i]) * v[i];
    return n ? std::sqrt(s / static_cast<double>(n)) : 0.0;
  };
  if (!config.asyncSync) {
    for (int64_t i = 0; i < n; ++i)
      pending.data[i] = roundStart[i] - x[i];
    average(pending.data);
    outerStep(pending.data);
    sync.applied = sync.round;
    sync.deltaRms = rms(pending.data);
  } else {
    // This round's change against its start, before the start moves.
    for (int64_t i = 0; i < n; ++i)
      next.data[i] = roundStart[i] - x[i];
    drain();
    if (havePending) {
      outerStep(pending.data);
      sync.applied = sync.round - 1;
      sync.deltaRms = rms(pending.data);
      havePending = false;
    }
    std::swap(pending.data, next.data);
    lmcrt_memref_f32_1d ref = view(pending.data, n);
    handle = fns.dpAverageStart(&ref);
    inFlight = true;
  }
  std::memcpy(x, roundStart.data(), sizeof(float) * n);
  device::synchronize();
  identical = true;
  return sync;
}

void LocalSgd::drain() {
  if (!inFlight)
    return;
  lmcrt_memref_f32_1d ref = view(pending.data, n);
  fns.dpAverageFinish(handle, &ref);
  device::synchronize();
  inFlight = false;
  havePending = true;
}

lmcrt_memref_f32_1d &LocalSgd::averagedParams() {
  drain();
  std::memcpy(scratch.data, params.aligned + params.offset, sizeof(float) * n);
  if (!identical)
    average(scratch.data);
  return averagedRef;
}

CheckpointExtras LocalSgd::checkpointExtras(
    const MeshCoord &coord, std::vector<std::vector<float>> &storage,
    std::vector<float> &avgParams, std::vector<float> &avgExpAvg,
    std::vector<float> &avgExpAvgSq) {
  drain();
  const float *x = params.aligned + params.offset;
  // The averaged model: the parameters and moments of the checkpoint's
  // own names.
  averageInto(x, avgParams);
  averageInto(expAvg, avgExpAvg);
  averageInto(expAvgSq, avgExpAvgSq);

  const bool root = comm::rank() == 0;
  const int64_t global = root ? model.globalTotal : 0;
  CheckpointExtras extras;
  auto gatherSet = [&](const std::string &prefix, const float *buffer) {
    storage.emplace_back(global, 0.0f);
    gatherParamsToRoot(model, coord, buffer, storage.back().data());
    extras.tensors.push_back({prefix, storage.back().data()});
  };
  gatherSet("local.round_start.", roundStart.data());
  if (!momentum.empty())
    gatherSet("local.outer_momentum.", momentum.data());
  if (havePending)
    gatherSet("local.pending_delta.", pending.data);
  // Each replica's parameters and moments: first over dp onto the dp index
  // 0 of each group, then each replica's pieces onto world rank 0.
  const bool dpRoot = replica == 0;
  std::vector<float> recv(dpRoot ? n * replicas : 1);
  const char *names[3] = {"", "exp_avg.", "exp_avg_sq."};
  const float *buffers[3] = {x, expAvg, expAvgSq};
  // Reserve so that the pointers handed out stay valid.
  storage.reserve(storage.size() + 3 * replicas);
  for (int k = 0; k < 3; ++k) {
    comm::gatherToRoot(model.batchAxes, buffers[k], n, recv.data());
    for (int64_t d = 0; d < replicas; ++d)
      gatherSet("local.replica" + std::to_string(d) + "." + names[k],
                dpRoot ? recv.data() + d * n : buffers[k]);
  }
  extras.metadata = outerMetadata(config, model);
  extras.metadata["partition_seed"] = toHex(partitionSeed);
  extras.metadata["round_base"] = std::to_string(roundBase);
  extras.metadata["local_pending"] = havePending ? "1" : "0";
  return extras;
}

} // namespace lmcrt
