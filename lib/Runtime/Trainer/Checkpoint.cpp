//===- Checkpoint.cpp - Training checkpoints ------------------------------===//

#include "Trainer/Checkpoint.h"

#include "Comm/Collectives.h"
#include "Core/Error.h"
#include "Core/ModelInfo.h"
#include "Core/Sharding.h"
#include "Trainer/Flags.h"
#include "Trainer/Json.h"
#include "Trainer/Safetensors.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace lmcrt {

namespace {

constexpr const char *kFormat = "lmc-checkpoint 1";
constexpr const char *kLatest = "latest";

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

/// IEEE half precision (1 sign, 5 exponent, 10 fraction bits) to float:
/// exact, subnormals, infinities and NaN included.
float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu, fraction = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (fraction << 13); // inf, NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (fraction << 13);
  } else if (fraction == 0) {
    bits = sign; // +-0
  } else {
    // Subnormal: fraction * 2^-24, normalised for the wider exponent.
    int shift = 0;
    while (!(fraction & 0x400u)) {
      fraction <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) |
           ((fraction & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

/// bfloat16 (the upper half of a float) to float: exact.
float bf16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

/// Reads the global tensor `name` of `param` into `dst` (param.numel
/// floats), checking its dtype and shape. F32 always; with `widened`, F16
/// and BF16 too (as Hugging Face writes them), converted to f32 and
/// counted in `widened` by dtype.
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
  if (t->shape != param.shape)
    fail(file.path + ": tensor '" + name + "' has shape " +
         shapeString(t->shape) + ", the model expects " +
         shapeString(param.shape));
  if (!half) {
    readTensorBytes(file, *t, dst);
    return;
  }
  std::vector<uint16_t> raw(param.numel);
  readTensorBytes(file, *t, raw.data());
  float (*widen)(uint16_t) = t->dtype == "F16" ? halfToFloat : bf16ToFloat;
  for (int64_t i = 0; i < param.numel; ++i) {
    // Little-endian on disk.
    const auto *bytes = reinterpret_cast<const unsigned char *>(&raw[i]);
    dst[i] = widen(static_cast<uint16_t>(bytes[0] | (bytes[1] << 8)));
  }
  ++(*widened)[t->dtype];
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
  meta["model_name"] = model.name;
  meta["model_hash"] = toHex(model.hash());
  meta["flags_hash"] = toHex(fnv1a64(flagsText(config)));
  for (auto &kv : mustMatchFlags(config))
    meta["flag." + kv.first] = kv.second;
  return meta;
}

std::string writeCheckpoint(const std::string &dir, const ModelInfo &model,
                            const Config &config, const TrainState &state,
                            const float *params, const float *expAvg,
                            const float *expAvgSq) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    fail(dir + ": cannot create directory: " + std::strerror(errno));
  std::vector<TensorOut> tensors;
  for (const ParamInfo &p : model.params)
    tensors.push_back({p.name, p.shape, params + p.globalOffset});
  for (const ParamInfo &p : model.params)
    tensors.push_back({"exp_avg." + p.name, p.shape, expAvg + p.globalOffset});
  for (const ParamInfo &p : model.params)
    tensors.push_back(
        {"exp_avg_sq." + p.name, p.shape, expAvgSq + p.globalOffset});
  std::string name = checkpointName(state.step);
  std::map<std::string, std::string> meta =
      checkpointMetadata(model, config, state);
  atomicWriteFile(dir, name, [&](int fd, const std::string &path) {
    writeSafetensors(fd, path, tensors, meta);
  });
  std::string marker = std::string(name) + "\n";
  atomicWriteFile(dir, kLatest, [&](int fd, const std::string &path) {
    if (::write(fd, marker.data(), marker.size()) !=
        static_cast<ssize_t>(marker.size()))
      fail(path + ": write failed: " + std::strerror(errno));
  });
  return dir + "/" + name;
}

std::string saveCheckpoint(const std::string &dir, const ModelInfo &model,
                           const Config &config, const TrainState &state,
                           const float *params, const float *expAvg,
                           const float *expAvgSq) {
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
      writeCheckpoint(dir, model, config, state, out[0], out[1], out[2]);
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

std::string latestCheckpoint(const std::string &dir) {
  std::string markerPath = dir + "/" + kLatest;
  FILE *f = std::fopen(markerPath.c_str(), "rb");
  if (!f)
    fail(markerPath + ": no checkpoint to resume from (" +
         std::strerror(errno) + ")");
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
  return dir + "/" + name;
}

std::string resumeMismatch(const std::map<std::string, std::string> &meta,
                           const ModelInfo &model, const Config &config) {
  std::vector<std::string> diffs;
  auto get = [&](const std::string &key) -> std::string {
    auto it = meta.find(key);
    return it == meta.end() ? "<missing>" : it->second;
  };
  if (get("model_hash") != toHex(model.hash()))
    diffs.push_back("model: checkpoint has '" + get("model_name") +
                    "' (description hash " + get("model_hash") +
                    "), this program is '" + model.name + "' (hash " +
                    toHex(model.hash()) + ")");
  for (auto &kv : mustMatchFlags(config)) {
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
  if (diffs.empty() && get("flags_hash") != toHex(fnv1a64(flagsText(config))))
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
  if (config.dataOrder == "shuffled") {
    unsigned long long seed = 0;
    if (!parseHex(file.metadata["data_seed"], seed))
      fail(path + ": metadata data_seed is not 1-16 hex digits");
    state.dataSeed = seed;
    state.dataEpoch = metaInt(file.metadata, path, "data_epoch");
    state.dataShardPos = metaInt(file.metadata, path, "data_shard_pos");
    state.dataBatchPos = metaInt(file.metadata, path, "data_batch_pos");
  }

  std::set<std::string> expected;
  for (const ParamInfo &p : model.params) {
    expected.insert(p.name);
    expected.insert("exp_avg." + p.name);
    expected.insert("exp_avg_sq." + p.name);
  }
  for (const TensorEntry &t : file.tensors)
    if (!expected.count(t.name))
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
  std::memset(params, 0, sizeof(float) * model.total);
  std::vector<float> global;
  std::map<std::string, int64_t> widened;
  for (const ParamInfo &p : model.params)
    readParamPiece(file, p.name, model, p, coord, global, params + p.offset,
                   &widened);
  if (widened.empty())
    return "";
  std::string counts;
  int64_t total = 0;
  for (const auto &[dtype, n] : widened) {
    counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + dtype;
    total += n;
  }
  return path + ": converted " + counts + " tensor" + (total == 1 ? "" : "s") +
         " to f32 (exact)";
}

} // namespace lmcrt
