//===- ShardedModel.h - A synthetic model split over a mesh -----*- C++ -*-===//
//
// Test helpers shared by the unit tests (ShardingTest.cpp) and the MPI
// checkpoint tests (CheckpointMpiTest.cpp): the description of a small
// model for any dp x tp mesh (tp sharding with 1 and 3 blocks along either
// dimension, a replicated parameter, and optionally a ZeRO-1 state section
// with dimensions -1, 0 and 1), distinct values for every element of its
// global tensors, and each rank's pieces computed in closed form from the
// rule in lmcrt.h, independently of lib/Runtime/Core/Sharding.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TEST_RUNTIME_SHARDEDMODEL_H
#define LMC_TEST_RUNTIME_SHARDEDMODEL_H

#include "Core/ModelInfo.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt::testing_sharded {

struct Spec {
  const char *name;
  std::vector<int64_t> shape; // global
  int64_t shardDim;           // -1: replicated over tp
  int64_t blocks;
  int64_t stateDim; // of the local shape, under ZeRO-1
  const char *init;
};

/// Shapes that split on every mesh with dp, tp in {1, 2, 4}.
inline const std::vector<Spec> &specs() {
  static const std::vector<Spec> s = {
      {"wte.weight", {16, 8}, 0, 1, 1, "normal 2.000000e-02 1"},
      {"h.0.attn.c_attn.weight", {8, 24}, 1, 3, 0, "normal 2.000000e-02 1"},
      {"h.0.attn.c_attn.bias", {24}, 0, 3, -1, "zeros 0 0"},
      {"h.0.ln_1.weight", {8}, -1, 1, 0, "ones 0 0"},
      {"h.0.mlp.c_proj.weight", {32, 8}, 0, 1, 0, "normal 1.000000e-01 1"},
      {"ln_f.bias", {8}, -1, 1, -1, "zeros 0 0"},
  };
  return s;
}

/// The test model's view of the generic description: the sizes of its dp
/// and tp axes (1 for an axis the mesh does not have) and its tp split.
inline int64_t dpOf(const ModelInfo &m) { return m.mesh.sizeOf("dp"); }
inline int64_t tpOf(const ModelInfo &m) { return m.mesh.sizeOf("tp"); }
inline int64_t shardDimOf(const ParamInfo &p) {
  return p.shards.empty() ? -1 : p.shards[0].dim;
}
inline int64_t shardBlocksOf(const ParamInfo &p) {
  return p.shards.empty() ? 1 : p.shards[0].blocks;
}
/// The coordinates (dp index, tp index) of the model's mesh dp x tp.
inline int64_t dpIndexOf(const MeshCoord &c) { return c.empty() ? 0 : c[0]; }
inline int64_t tpIndexOf(const MeshCoord &c) { return c.empty() ? 0 : c[1]; }

inline int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t s : shape)
    n *= s;
  return n;
}

/// The description of the model for the mesh dp x tp, as the compiler would
/// write it: local pieces end to end, shard lines after their param lines,
/// and (zero1) a state section. `shards` false leaves the shard lines out
/// (only meaningful for tp = 1).
inline std::string modelText(int64_t dp, int64_t tp, bool zero1,
                             bool shards = true, bool meshLine = true,
                             const std::string &name = "sharded") {
  std::string params, state;
  int64_t offset = 0, stateOffset = 0;
  for (const Spec &s : specs()) {
    std::vector<int64_t> local = s.shape;
    if (s.shardDim >= 0)
      local[s.shardDim] /= tp;
    params += "param " + std::string(s.name) + " " + std::to_string(offset) +
              " " + std::to_string(s.shape.size());
    for (int64_t d : s.shape)
      params += " " + std::to_string(d);
    params += " " + std::string(s.init) + "\n";
    if (shards && s.shardDim >= 0)
      params += "shard " + std::string(s.name) + " tp " +
                std::to_string(s.shardDim) + " " + std::to_string(s.blocks) +
                "\n";
    offset += product(local);
    std::vector<int64_t> piece = local;
    if (s.stateDim >= 0)
      piece[s.stateDim] /= dp;
    state += "state " + std::string(s.name) + " " +
             std::to_string(stateOffset) + " " + std::to_string(s.stateDim) +
             "\n";
    stateOffset += product(piece);
  }
  std::string text =
      "lmc-model 2\nname " + name + "\ndtype f32\nvocab 16\ncontext 8\n";
  if (meshLine)
    text += "mesh dp=" + std::to_string(dp) + ",tp=" + std::to_string(tp) +
            "\nbatch dp\n";
  text += "params " + std::to_string(specs().size()) + " " +
          std::to_string(offset) + "\n" + params;
  if (zero1)
    text += "state " + std::to_string(specs().size()) + " " +
            std::to_string(stateOffset) + " dp\n" + state;
  return text + "end\n";
}

/// The value of element `index` of the global tensor at `globalOffset`:
/// kind 0 parameters, 1 exp_avg, 2 exp_avg_sq. Distinct and exact in float.
inline float globalValue(int kind, int64_t globalOffset, int64_t index) {
  return static_cast<float>((globalOffset + index) * (kind == 1 ? -1 : 1)) +
         (kind == 2 ? 0.5f : 0.0f);
}

inline std::vector<int64_t> unravel(int64_t linear,
                                    const std::vector<int64_t> &shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = linear % shape[d];
    linear /= shape[d];
  }
  return index;
}

inline int64_t ravel(const std::vector<int64_t> &index,
                     const std::vector<int64_t> &shape) {
  int64_t linear = 0;
  for (size_t d = 0; d < shape.size(); ++d)
    linear = linear * shape[d] + index[d];
  return linear;
}

/// The global index of element `local` of the tp piece `tpIndex` of `p`:
/// along the shard dimension, local j = b * c + k is global
/// b * tp * c + tpIndex * c + k.
inline int64_t globalIndexOf(const ModelInfo &model, const ParamInfo &p,
                             int64_t tpIndex, int64_t local) {
  std::vector<int64_t> index = unravel(local, p.localShape);
  const int64_t dim = shardDimOf(p), tp = tpOf(model);
  if (dim >= 0) {
    int64_t c = p.shape[dim] / (shardBlocksOf(p) * tp);
    int64_t j = index[dim];
    index[dim] = j / c * tp * c + tpIndex * c + j % c;
  }
  return ravel(index, p.shape);
}

/// The local index of element `element` of the ZeRO-1 piece `dpIndex`:
/// along the state dimension, the piece starts at dpIndex * its size.
inline int64_t localIndexOf(const ParamInfo &p, int64_t dpIndex,
                            int64_t element) {
  std::vector<int64_t> index = unravel(element, p.stateShape);
  if (p.stateDim >= 0)
    index[p.stateDim] += dpIndex * p.stateShape[p.stateDim];
  return ravel(index, p.localShape);
}

/// The three global buffers (global layout).
inline std::vector<std::vector<float>> globalBuffers(const ModelInfo &model) {
  std::vector<std::vector<float>> buffers(3);
  for (int kind = 0; kind < 3; ++kind) {
    buffers[kind].resize(model.globalTotal);
    for (const ParamInfo &p : model.params)
      for (int64_t i = 0; i < p.numel; ++i)
        buffers[kind][p.globalOffset + i] =
            globalValue(kind, p.globalOffset, i);
  }
  return buffers;
}

/// The buffers of the rank at `coord`, in closed form: parameters
/// (model.total floats), exp_avg and exp_avg_sq (model.stateTotal each).
inline std::vector<std::vector<float>> rankBuffers(const ModelInfo &model,
                                                   const MeshCoord &coord) {
  std::vector<std::vector<float>> buffers = {
      std::vector<float>(model.total, -1e9f),
      std::vector<float>(model.stateTotal, -1e9f),
      std::vector<float>(model.stateTotal, -1e9f)};
  for (const ParamInfo &p : model.params) {
    for (int64_t i = 0; i < p.localNumel; ++i)
      buffers[0][p.offset + i] = globalValue(
          0, p.globalOffset, globalIndexOf(model, p, tpIndexOf(coord), i));
    for (int kind = 1; kind < 3; ++kind)
      for (int64_t i = 0; i < p.stateNumel; ++i)
        buffers[kind][p.stateOffset + i] =
            globalValue(kind, p.globalOffset,
                        globalIndexOf(model, p, tpIndexOf(coord),
                                      localIndexOf(p, dpIndexOf(coord), i)));
  }
  return buffers;
}

} // namespace lmcrt::testing_sharded

#endif // LMC_TEST_RUNTIME_SHARDEDMODEL_H
