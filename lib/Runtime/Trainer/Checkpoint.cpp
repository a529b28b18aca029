//===- Checkpoint.cpp - Training checkpoints ------------------------------===//

#include "Trainer/Checkpoint.h"

#include "Comm/Collectives.h"
#include "Core/Error.h"
#include "Core/Fault.h"
#include "Core/ModelInfo.h"
#include "Core/Sharding.h"
#include "Trainer/Fingerprint.h"
#include "Trainer/Flags.h"
#include "Trainer/InitFrom.h"
#include "Trainer/Json.h"
#include "Trainer/Retention.h"
#include "Trainer/Safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace lmcrt {

namespace {

constexpr const char *kFormat = "lmc-checkpoint 1";
constexpr const char *kLatest = "latest";
constexpr const char *kBest = "best";

void fsyncDir(const std::string &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    fail(dir + ": cannot open directory: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0)
    fail(dir + ": fsync failed: " + std::strerror(err));
}

std::string flagsText(const Config &config) {
  std::string text;
  for (auto &kv : mustMatchFlags(config))
    text += kv.first + "=" + kv.second + "\n";
  return text;
}

int64_t metaInt(const std::map<std::string, std::string> &meta,
                const std::string &path, const char *key) {
  auto it = meta.find(key);
  if (it == meta.end())
    fail(path + ": metadata has no " + key);
  char *end = nullptr;
  errno = 0;
  long long value = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno != 0 || value < 0)
    fail(path + ": metadata " + key + " is not an integer >= 0: '" +
         it->second + "'");
  return value;
}

/// A double that reads back exactly (%.17g).
std::string formatDouble(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

/// The finite number under `key`; NaN when the key is absent.
double metaDouble(const std::map<std::string, std::string> &meta,
                  const std::string &path, const char *key) {
  auto it = meta.find(key);
  if (it == meta.end())
    return std::numeric_limits<double>::quiet_NaN();
  char *end = nullptr;
  errno = 0;
  double value = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0' || errno != 0 || !std::isfinite(value))
    fail(path + ": metadata " + key + " is not a finite number: '" +
         it->second + "'");
  return value;
}

/// Checks an F32 tensor read into `data` against its checksum.<name> in the
/// metadata, when the file has one (lmc checkpoints; not Hugging Face's).
void verifyChecksum(const SafetensorsHeader &file, const TensorEntry &t,
                    const float *data) {
  auto it = file.metadata.find("checksum." + t.name);
  if (it == file.metadata.end() || t.dtype != "F32")
    return;
  std::string actual = toHex(hash64(data, t.end - t.begin));
  if (actual != it->second)
    fail(file.path + ": tensor '" + t.name + "' is corrupt: its data does not "
         "match the checksum the checkpoint recorded (" + it->second +
         ", the data hashes to " + actual + ")");
}

/// Reads the global tensor `name` of `param` into `dst` (param.numel
/// floats), checking its dtype and shape (the stored shape: of a parameter
/// padded along the vocabulary, its real rows, the padding set to zero).
/// F32 always; with `widened`, F16 and BF16 too (as Hugging Face writes
/// them), converted to f32 and counted in `widened` by dtype.
void readParam(const SafetensorsHeader &file, const std::string &name,
               const ParamInfo &param, float *dst,
               std::map<std::string, int64_t> *widened = nullptr) {
  const TensorEntry *t = file.find(name);
  if (!t)
    fail(file.path + ": missing tensor '" + name + "'");
  bool half = t->dtype == "F16" || t->dtype == "BF16";
  if (t->dtype != "F32" && !(widened && half))
    fail(file.path + ": tensor '" + name + "' is " + t->dtype + ", expected " +
         (widened ? "F32, F16 or BF16" : "F32"));
  if (t->shape != param.storedShape)
    fail(file.path + ": tensor '" + name + "' has shape " +
         shapeString(t->shape) + ", the model expects " +
         shapeString(param.storedShape) +
         (param.padded() ? " (its real rows; the model pads them to " +
                               shapeString(param.shape) + ")"
                         : std::string()));
  if (!readTensorAsF32(file, *t, dst))
    fail(file.path + ": tensor '" + name + "': cannot read " + t->dtype);
  verifyChecksum(file, *t, dst);
  std::fill(dst + param.storedNumel, dst + param.numel, 0.0f);
  if (half)
    ++(*widened)[t->dtype];
}

/// Fails, naming the parameter and the row, when a padding row of a
/// parameter padded along the vocabulary (`global`: the global layout) is
/// not zero: its logits are masked out of the loss, so nothing should have
/// changed it, and a checkpoint (which holds the real rows) would lose it.
void checkPaddingIsZero(const ModelInfo &model, const float *global,
                        const char *what) {
  for (const ParamInfo &p : model.params) {
    if (!p.padded())
      continue;
    const float *data = global + p.globalOffset;
    for (int64_t i = p.storedNumel; i < p.numel; ++i)
      if (data[i] != 0.0f) {
        int64_t rowSize = p.numel / p.shape[0];
        fail(std::string(what) + " '" + p.name + "': padding row " +
             std::to_string(i / rowSize) + " (rows " +
             std::to_string(p.storedShape[0]) + ".." +
             std::to_string(p.shape[0] - 1) +
             " pad the vocabulary) is not zero; checkpoints hold the real "
             "rows only");
      }
  }
}

/// ckpt_<step, 8 digits>.safetensors.
std::string checkpointName(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "ckpt_%08lld.safetensors",
                static_cast<long long>(step));
  return name;
}

/// Checks that `coord` is a rank of the model's mesh (empty: rank 0).
void checkCoord(const ModelInfo &model, const MeshCoord &coord) {
  if (coord.empty())
    return;
  bool inside = coord.size() == model.mesh.axes.size();
  std::string text;
  for (size_t i = 0; i < coord.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(coord[i]);
    if (inside && (coord[i] < 0 || coord[i] >= model.mesh.axes[i].size))
      inside = false;
  }
  if (!inside)
    fail("rank (" + text + ") is not in the mesh " + model.meshText());
}

/// Reads the global tensor `name` of `p` and keeps the piece of this rank's
/// parameter buffer (p.localShape at `local`).
void readParamPiece(const SafetensorsHeader &file, const std::string &name,
                    const ModelInfo &model, const ParamInfo &p,
                    const MeshCoord &coord, std::vector<float> &global,
                    float *local,
                    std::map<std::string, int64_t> *widened = nullptr) {
  global.resize(p.numel);
  readParam(file, name, p, global.data(), widened);
  sliceParam(model, p, coord, global.data(), local);
}

/// Reads the global tensor `name` of a moment of `p` and keeps this rank's
/// piece of it (p.stateShape at `piece`).
void readStatePiece(const SafetensorsHeader &file, const std::string &name,
                    const ModelInfo &model, const ParamInfo &p,
                    const MeshCoord &coord, std::vector<float> &global,
                    std::vector<float> &local, float *piece) {
  local.resize(p.localNumel);
  readParamPiece(file, name, model, p, coord, global, local.data());
  sliceState(model, p, coord, local.data(), piece);
}

/// True when a rank's buffers are laid out as the global model: nothing
/// split, every tensor at its global offset.
bool hasGlobalLayout(const ModelInfo &model) {
  if (model.isSharded() || model.total != model.globalTotal ||
      model.stateTotal != model.globalTotal)
    return false;
  for (const ParamInfo &p : model.params)
    if (p.offset != p.globalOffset || p.stateOffset != p.globalOffset)
      return false;
  return true;
}

/// On world rank 0: the global tensors of the buffer `buffer` (parameters,
/// or moments) into `global`. Each tensor is gathered over the group of
/// the axes that split it (its shard lines, and for ZeRO-1 moments the
/// state's axis) among the ranks of world rank 0's group, which hold every
/// piece; the other ranks hold copies and do not take part.
void gatherToRoot(const ModelInfo &model, const MeshCoord &coord,
                  const float *buffer, bool moments, float *global) {
  const bool root = comm::rank() == 0;
  std::vector<float> recv, local;
  for (const ParamInfo &p : model.params) {
    const bool zero = moments && model.zeroAxis >= 0 && p.stateDim >= 0;
    comm::Group group = shardAxes(p) | (zero ? 1u << model.zeroAxis : 0u);
    // Only world rank 0's group gathers: the other groups hold copies.
    if (model.mesh.groupColor(fullCoord(model, coord), group) != 0)
      continue;
    const int64_t count = moments ? p.stateNumel : p.localNumel;
    const int64_t size = model.mesh.groupSize(group);
    recv.resize(root ? count * size : 1);
    comm::gatherToRoot(group, buffer + (moments ? p.stateOffset : p.offset),
                       count, recv.data());
    if (!root)
      continue;
    // Group index q is row-major over the group's axes: the member's
    // coordinates are rank 0's (all zero) with those axes set from q.
    local.resize(p.localNumel);
    for (int64_t q = 0; q < size; ++q) {
      MeshCoord member(model.mesh.axes.size(), 0);
      int64_t rest = q;
      for (size_t i = model.mesh.axes.size(); i-- > 0;)
        if (group & (1u << i)) {
          member[i] = rest % model.mesh.axes[i].size;
          rest /= model.mesh.axes[i].size;
        }
      const float *piece = recv.data() + q * count;
      float *out = global + p.globalOffset;
      if (!moments) {
        placeParam(model, p, member, piece, out);
        continue;
      }
      sliceParam(model, p, member, out, local.data());
      placeState(model, p, member, piece, local.data());
      placeParam(model, p, member, local.data(), out);
    }
  }
}

} // namespace

void gatherParamsToRoot(const ModelInfo &model, const MeshCoord &coord,
                        const float *buffer, float *global) {
  gatherToRoot(model, coord, buffer, /*moments=*/false, global);
}

void readParamPieces(const std::string &path, const std::string &prefix,
                     const ModelInfo &model, const MeshCoord &coord,
                     float *params) {
  checkCoord(model, coord);
  SafetensorsHeader file = readSafetensorsHeader(path);
  std::vector<float> global;
  for (const ParamInfo &p : model.params)
    readParamPiece(file, prefix + p.name, model, p, coord, global,
                   params + p.offset);
}

std::string checkpointPath(const std::string &dir, int64_t step) {
  return dir + "/" + checkpointName(step);
}

void atomicWriteFile(
    const std::string &dir, const std::string &name,
    const std::function<void(int fd, const std::string &path)> &write) {
  std::string final = dir + "/" + name;
  std::string tmpl = dir + "/.tmp-" + name + ".XXXXXX";
  std::vector<char> tmp(tmpl.begin(), tmpl.end());
  tmp.push_back('\0');
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    fail(final + ": cannot create a temporary file: " + std::strerror(errno));
  std::string tmpPath = tmp.data();
  try {
    ::fchmod(fd, 0644);
    write(fd, final);
    if (::fsync(fd) != 0)
      fail(final + ": fsync failed: " + std::strerror(errno));
    if (::close(fd) != 0) {
      fd = -1;
      fail(final + ": close failed: " + std::strerror(errno));
    }
    fd = -1;
    if (::rename(tmpPath.c_str(), final.c_str()) != 0)
      fail(final + ": rename failed: " + std::strerror(errno));
    fsyncDir(dir);
  } catch (...) {
    if (fd >= 0)
      ::close(fd);
    ::unlink(tmpPath.c_str());
    throw;
  }
}

std::map<std::string, std::string> checkpointMetadata(const ModelInfo &model,
                                                      const Config &config,
                                                      const TrainState &state) {
  std::map<std::string, std::string> meta;
  meta["format"] = kFormat;
  meta["step"] = std::to_string(state.step);
  meta["data_shard"] = std::to_string(state.dataShard);
  meta["data_offset"] = std::to_string(state.dataOffset);
  meta["rng_state"] = toHex(state.rng);
  meta["data_order"] = config.dataOrder;
  meta["grad_accum"] = std::to_string(config.gradAccum);
  if (config.dataOrder == "shuffled") {
    meta["data_seed"] = toHex(state.dataSeed);
    meta["data_epoch"] = std::to_string(state.dataEpoch);
    meta["data_shard_pos"] = std::to_string(state.dataShardPos);
    meta["data_batch_pos"] = std::to_string(state.dataBatchPos);
  }
  if (!state.spikeGuard.empty())
    meta["spike_guard"] = state.spikeGuard;
  meta["model_name"] = model.name;
  meta["model_hash"] = toHex(model.hash());
  // Resume checks (Checkpoint.h): the whole global description and the
  // data's fingerprint.
  meta["model_description"] = model.globalText();
  if (!state.dataFingerprint.empty())
    meta["data_fingerprint"] = state.dataFingerprint;
  meta["flags_hash"] = toHex(fnv1a64(flagsText(config)));
  for (auto &kv : mustMatchFlags(config))
    meta["flag." + kv.first] = kv.second;
  meta["lr_decay_steps"] = std::to_string(decaySteps(config));
  if (std::isfinite(state.valLoss))
    meta["val_loss"] = formatDouble(state.valLoss);
  if (state.bestStep >= 0) {
    meta["best_step"] = std::to_string(state.bestStep);
    meta["best_val_loss"] = formatDouble(state.bestValLoss);
  }
  return meta;
}

std::string writeCheckpoint(const std::string &dir, const ModelInfo &model,
                            const Config &config, const TrainState &state,
                            const float *params, const float *expAvg,
                            const float *expAvgSq,
                            std::vector<std::string> *deleted,
                            const CheckpointExtras *extras) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    fail(dir + ": cannot create directory: " + std::strerror(errno));
  // Each tensor with its stored shape: of a parameter padded along the
  // vocabulary, the real rows (a prefix of the global tensor). The padding
  // must have stayed zero, or the file would lose what the model computes
  // with.
  checkPaddingIsZero(model, params, "parameter");
  std::vector<TensorOut> tensors;
  for (const ParamInfo &p : model.params)
    tensors.push_back({p.name, p.storedShape, params + p.globalOffset});
  for (const ParamInfo &p : model.params)
    tensors.push_back(
        {"exp_avg." + p.name, p.storedShape, expAvg + p.globalOffset});
  for (const ParamInfo &p : model.params)
    tensors.push_back(
        {"exp_avg_sq." + p.name, p.storedShape, expAvgSq + p.globalOffset});
  if (extras)
    for (auto &set : extras->tensors)
      for (const ParamInfo &p : model.params)
        tensors.push_back(
            {set.first + p.name, p.storedShape, set.second + p.globalOffset});
  std::string name = checkpointName(state.step);
  std::map<std::string, std::string> meta =
      checkpointMetadata(model, config, state);
  if (extras)
    for (auto &kv : extras->metadata)
      meta[kv.first] = kv.second;
  for (const TensorOut &t : tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape)
      numel *= d;
    meta["checksum." + t.name] =
        toHex(hash64(t.data, sizeof(float) * static_cast<size_t>(numel)));
  }
  atomicWriteFile(dir, name, [&](int fd, const std::string &path) {
    writeSafetensors(fd, path, tensors, meta);
    // LMCRT_FAULT=crash-in-save (Core/Fault.h): die with half the file in
    // its temporary, as a crash in the middle of the write leaves it.
    if (fault::at("crash-in-save", state.step)) {
      if (::ftruncate(fd, ::lseek(fd, 0, SEEK_CUR) / 2) == 0)
        ::fsync(fd);
      fault::maybe("crash-in-save", state.step);
    }
  });
  writeMarker(dir, kLatest, name);
  // Only once the checkpoint and its markers are durable: what they name is
  // never deleted.
  if (config.keepBest && state.bestStep == state.step)
    writeMarker(dir, kBest, name);
  if (config.keepLast > 0) {
    std::vector<std::string> gone = applyRetention(dir, config.keepLast);
    if (deleted)
      deleted->insert(deleted->end(), gone.begin(), gone.end());
  }
  return dir + "/" + name;
}

void writeMarker(const std::string &dir, const std::string &marker,
                 const std::string &name) {
  std::string text = name + "\n";
  atomicWriteFile(dir, marker, [&](int fd, const std::string &path) {
    if (::write(fd, text.data(), text.size()) !=
        static_cast<ssize_t>(text.size()))
      fail(path + ": write failed: " + std::strerror(errno));
  });
}

std::string saveCheckpoint(const std::string &dir, const ModelInfo &model,
                           const Config &config, const TrainState &state,
                           const float *params, const float *expAvg,
                           const float *expAvgSq,
                           std::vector<std::string> *deleted,
                           const CheckpointExtras *extras) {
  // Before the process group is set up, this process is a world of one.
  if (comm::initialized() ? comm::mesh() != model.mesh
                          : model.numRanks() != 1) {
    ModelInfo group;
    group.mesh = comm::mesh();
    auto text = [](const ModelInfo &m) {
      return m.mesh.axes.empty() ? std::string("of one rank") : m.meshText();
    };
    fail("checkpoint: the process group is a mesh " + text(group) +
         ", the model's is " + text(model));
  }
  const MeshCoord coord = meshCoordOf(model, comm::rank());
  const bool root = comm::rank() == 0;
  const float *out[3] = {params, expAvg, expAvgSq};
  std::vector<float> full[3];
  if (!hasGlobalLayout(model)) {
    // Rank 0 assembles the global model from the pieces.
    if (root)
      for (std::vector<float> &f : full)
        f.assign(model.globalTotal, 0.0f);
    for (int k = 0; k < 3; ++k)
      gatherToRoot(model, coord, out[k], /*moments=*/k > 0, full[k].data());
    for (int k = 0; k < 3; ++k)
      out[k] = full[k].data();
  }
  // Rank 0 writes; then every rank learns whether it could, so that no rank
  // goes on after a failed write.
  int32_t outcome[2] = {0, 0}; // exit code (0: written), message length
  std::string message;
  if (root) {
    try {
      // Rank 0 alone writes, and deletes what retention removes.
      writeCheckpoint(dir, model, config, state, out[0], out[1], out[2],
                      deleted, extras);
    } catch (const RuntimeError &e) {
      message = e.what();
      outcome[0] = e.exitCode ? e.exitCode : kFailureExit;
      outcome[1] = static_cast<int32_t>(message.size());
    }
  }
  comm::broadcast(comm::worldGroup(), outcome, sizeof(outcome));
  if (outcome[0] != 0) {
    message.resize(outcome[1]);
    comm::broadcast(comm::worldGroup(), &message[0], outcome[1]);
    throw RuntimeError(outcome[0], message);
  }
  return checkpointPath(dir, state.step);
}

std::string readMarker(const std::string &dir, const std::string &marker) {
  std::string markerPath = dir + "/" + marker;
  FILE *f = std::fopen(markerPath.c_str(), "rb");
  if (!f) {
    if (errno == ENOENT)
      return "";
    fail(markerPath + ": cannot open: " + std::strerror(errno));
  }
  char buffer[256];
  size_t n = std::fread(buffer, 1, sizeof(buffer), f);
  std::fclose(f);
  std::string name(buffer, n);
  if (name.empty() || name.back() != '\n' || n == sizeof(buffer))
    fail(markerPath + ": malformed marker (expected a file name and a "
                      "newline)");
  name.pop_back();
  if (name.empty() || name.find('/') != std::string::npos ||
      name.find('\n') != std::string::npos || name[0] == '.')
    fail(markerPath + ": malformed marker '" + name + "'");
  return name;
}

std::string latestCheckpoint(const std::string &dir) {
  std::string markerPath = dir + "/" + kLatest;
  std::string name = readMarker(dir, kLatest);
  if (name.empty())
    fail(markerPath + ": no checkpoint to resume from (" +
         std::strerror(ENOENT) + ")");
  return dir + "/" + name;
}

std::vector<std::string> resumeCandidates(const std::string &dir) {
  std::string latest = readMarker(dir, kLatest);
  std::vector<std::pair<int64_t, std::string>> steps;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (struct dirent *e = ::readdir(d)) {
      std::string name = e->d_name;
      int64_t step = checkpointStep(name);
      if (step >= 0 && name != latest)
        steps.push_back({step, name});
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    fail(dir + ": cannot list the directory: " + std::strerror(errno));
  }
  std::sort(steps.rbegin(), steps.rend());
  std::vector<std::string> out;
  if (!latest.empty())
    out.push_back(dir + "/" + latest);
  for (auto &[step, name] : steps)
    out.push_back(dir + "/" + name);
  if (out.empty())
    fail(dir + "/" + kLatest + ": no checkpoint to resume from (" +
         std::strerror(ENOENT) + ")");
  return out;
}

std::string checkpointDamage(const std::string &path) {
  try {
    SafetensorsHeader file = readSafetensorsHeader(path);
    auto format = file.metadata.find("format");
    if (format == file.metadata.end() || format->second != kFormat)
      return path + ": not an lmc checkpoint";
    std::vector<float> data;
    for (const TensorEntry &t : file.tensors) {
      if (t.dtype != "F32")
        continue;
      data.resize((t.end - t.begin) / sizeof(float));
      readTensorBytes(file, t, data.data());
      verifyChecksum(file, t, data.data());
    }
  } catch (const RuntimeError &e) {
    return e.what();
  }
  return "";
}

std::string resumeMismatch(const std::map<std::string, std::string> &meta,
                           const ModelInfo &model, const Config &config) {
  std::vector<std::string> diffs;
  auto get = [&](const std::string &key) -> std::string {
    auto it = meta.find(key);
    return it == meta.end() ? "<missing>" : it->second;
  };
  if (meta.count("model_description")) {
    std::string line =
        firstDifferentLine(get("model_description"), model.globalText());
    if (!line.empty())
      diffs.push_back("model: the checkpoint's description differs from "
                      "this program's ('" + model.name + "'), " + line);
  } else if (get("model_hash") != toHex(model.hash()))
    diffs.push_back("model: checkpoint has '" + get("model_name") +
                    "' (description hash " + get("model_hash") +
                    "), this program is '" + model.name + "' (hash " +
                    toHex(model.hash()) + ")");
  for (auto &kv : mustMatchFlags(config)) {
    // --allow-data-change: another --data pattern too.
    if (kv.first == "data" && config.allowDataChange)
      continue;
    std::string saved = get("flag." + kv.first);
    if (saved != kv.second)
      diffs.push_back("--" + kv.first + " " + kv.second +
                      " (checkpoint: " + saved + ")");
  }
  // Checkpoints written before --data-order existed read data sequentially.
  std::string order = meta.count("data_order") ? get("data_order")
                                               : std::string("sequential");
  if (order != config.dataOrder)
    diffs.push_back("--data-order " + config.dataOrder +
                    " (checkpoint: " + order + ")");
  std::string accum =
      meta.count("grad_accum") ? get("grad_accum") : std::string("1");
  if (accum != std::to_string(config.gradAccum))
    diffs.push_back("--grad-accum " + std::to_string(config.gradAccum) +
                    " (checkpoint: " + accum + ")");
  // Checkpoints written before lr_decay_steps existed hashed the cosine
  // horizon as a flag (steps=N after min-lr); the horizon is no longer a
  // flag that must match.
  std::string legacyText = flagsText(config);
  size_t minLr = legacyText.find("min-lr=");
  if (!meta.count("lr_decay_steps") && meta.count("flag.steps") &&
      minLr != std::string::npos) {
    size_t next = legacyText.find('\n', minLr) + 1;
    legacyText.insert(next, "steps=" + get("flag.steps") + "\n");
  }
  if (diffs.empty() && !config.allowDataChange && get("flags_hash") != toHex(fnv1a64(flagsText(config))) &&
      get("flags_hash") != toHex(fnv1a64(legacyText)))
    diffs.push_back("flags hash " + toHex(fnv1a64(flagsText(config))) +
                    " (checkpoint: " + get("flags_hash") + ")");
  std::string text;
  for (size_t i = 0; i < diffs.size(); ++i)
    text += (i ? "; " : "") + diffs[i];
  return text;
}

TrainState readCheckpoint(const std::string &path, const ModelInfo &model,
                          const Config &config, float *params, float *expAvg,
                          float *expAvgSq) {
  return readCheckpoint(path, model, config, params, expAvg, expAvgSq,
                        MeshCoord{});
}

TrainState readCheckpoint(const std::string &path, const ModelInfo &model,
                          const Config &config, float *params, float *expAvg,
                          float *expAvgSq, const MeshCoord &coord) {
  checkCoord(model, coord);
  SafetensorsHeader file = readSafetensorsHeader(path);
  auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != kFormat)
    fail(path + ": not an lmc checkpoint (metadata format is not '" +
         std::string(kFormat) + "')");
  std::string mismatch = resumeMismatch(file.metadata, model, config);
  if (!mismatch.empty())
    fail("cannot resume from " + path + ": " + mismatch);
  TrainState state;
  state.step = metaInt(file.metadata, path, "step");
  state.dataShard = metaInt(file.metadata, path, "data_shard");
  state.dataOffset = metaInt(file.metadata, path, "data_offset");
  unsigned long long rng = 0;
  if (!parseHex(file.metadata["rng_state"], rng))
    fail(path + ": metadata rng_state is not 1-16 hex digits");
  state.rng = rng;
  state.valLoss = metaDouble(file.metadata, path, "val_loss");
  if (file.metadata.count("best_step")) {
    state.bestStep = metaInt(file.metadata, path, "best_step");
    state.bestValLoss = metaDouble(file.metadata, path, "best_val_loss");
    if (state.bestStep > state.step || !std::isfinite(state.bestValLoss))
      fail(path + ": metadata best_step/best_val_loss are inconsistent");
  }
  if (file.metadata.count("data_fingerprint"))
    state.dataFingerprint = file.metadata["data_fingerprint"];
  if (file.metadata.count("lr_decay_steps"))
    state.lrDecaySteps = metaInt(file.metadata, path, "lr_decay_steps");
  else if (file.metadata.count("flag.steps"))
    // Written before lr_decay_steps existed: the horizon was --steps.
    state.lrDecaySteps = metaInt(file.metadata, path, "flag.steps");
  if (config.dataOrder == "shuffled") {
    unsigned long long seed = 0;
    if (!parseHex(file.metadata["data_seed"], seed))
      fail(path + ": metadata data_seed is not 1-16 hex digits");
    state.dataSeed = seed;
    state.dataEpoch = metaInt(file.metadata, path, "data_epoch");
    state.dataShardPos = metaInt(file.metadata, path, "data_shard_pos");
    state.dataBatchPos = metaInt(file.metadata, path, "data_batch_pos");
  }

  if (file.metadata.count("spike_guard"))
    state.spikeGuard = file.metadata["spike_guard"];

  std::set<std::string> expected;
  for (const ParamInfo &p : model.params) {
    expected.insert(p.name);
    expected.insert("exp_avg." + p.name);
    expected.insert("exp_avg_sq." + p.name);
  }
  for (const TensorEntry &t : file.tensors)
    // local.*: local SGD's state, read by LocalSgd (which refuses it where
    // it does not belong).
    if (!expected.count(t.name) && t.name.rfind("local.", 0) != 0)
      fail(path + ": unexpected tensor '" + t.name + "' (not in model '" +
           model.name + "')");
  std::memset(params, 0, sizeof(float) * model.total);
  std::memset(expAvg, 0, sizeof(float) * model.stateTotal);
  std::memset(expAvgSq, 0, sizeof(float) * model.stateTotal);
  std::vector<float> global, local;
  for (const ParamInfo &p : model.params) {
    readParamPiece(file, p.name, model, p, coord, global, params + p.offset);
    readStatePiece(file, "exp_avg." + p.name, model, p, coord, global, local,
                   expAvg + p.stateOffset);
    readStatePiece(file, "exp_avg_sq." + p.name, model, p, coord, global, local,
                   expAvgSq + p.stateOffset);
  }
  return state;
}

std::string loadParameters(const std::string &path, const ModelInfo &model,
                           float *params) {
  return loadParameters(path, model, params, MeshCoord{});
}

std::string loadParameters(const std::string &path, const ModelInfo &model,
                           float *params, const MeshCoord &coord) {
  checkCoord(model, coord);
  SafetensorsHeader file = readSafetensorsHeader(path);
  // Names as lmc or Hugging Face wrote them (InitFrom.h).
  InitSources sources = findInitTensors(file, model);
  std::memset(params, 0, sizeof(float) * model.total);
  std::vector<float> global;
  std::map<std::string, int64_t> widened;
  for (size_t i = 0; i < model.params.size(); ++i) {
    const ParamInfo &p = model.params[i];
    if (!sources.tensors[i])
      failMissingParameter(file, model, sources, i);
    readParamPiece(file, sources.tensors[i]->name, model, p, coord, global,
                   params + p.offset, &widened);
  }
  checkOtherTensors(file, model, sources);
  if (!widened.empty()) {
    std::string counts;
    int64_t total = 0;
    for (const auto &[dtype, n] : widened) {
      counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + dtype;
      total += n;
    }
    sources.notes.push_back("converted " + counts + " tensor" +
                            (total == 1 ? "" : "s") + " to f32 (exact)");
  }
  if (sources.notes.empty())
    return "";
  std::string note = path + ": ";
  for (size_t i = 0; i < sources.notes.size(); ++i)
    note += (i ? "; " : "") + sources.notes[i];
  return note;
}

} // namespace lmcrt
