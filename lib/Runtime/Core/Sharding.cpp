//===- Sharding.cpp - Pieces of parameters and moments on a mesh ----------===//

#include "Core/Sharding.h"

#include <algorithm>
#include <cstring>

namespace lmcrt {

MeshCoord meshCoordOf(const ModelInfo &model, int64_t rank) {
  return model.mesh.coordsOf(rank);
}

MeshCoord fullCoord(const ModelInfo &model, const MeshCoord &coord) {
  return coord.empty() ? MeshCoord(model.mesh.axes.size(), 0) : coord;
}

void copyPiece(const std::vector<int64_t> &shape, int64_t dim, int64_t blocks,
               int64_t parts, int64_t index, float *whole, float *piece,
               bool toPiece) {
  int64_t numel = 1;
  for (int64_t s : shape)
    numel *= s;
  if (dim < 0 || parts == 1) {
    if (toPiece)
      std::memcpy(piece, whole, sizeof(float) * numel);
    else
      std::memcpy(whole, piece, sizeof(float) * numel);
    return;
  }
  // Row-major: [outer, n, inner] with n = blocks * parts * c; the piece is
  // [outer, blocks * c, inner].
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d)
    outer *= shape[d];
  for (size_t d = dim + 1; d < shape.size(); ++d)
    inner *= shape[d];
  const int64_t n = shape[dim], c = n / (blocks * parts);
  const size_t run = sizeof(float) * c * inner;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t b = 0; b < blocks; ++b) {
      float *w = whole + (o * n + b * parts * c + index * c) * inner;
      float *q = piece + (o * blocks * c + b * c) * inner;
      if (toPiece)
        std::memcpy(q, w, run);
      else
        std::memcpy(w, q, run);
    }
}

namespace {

int64_t numelOf(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// The shapes of `p` before each of its shard lines applies, and after the
/// last (the local shape).
std::vector<std::vector<int64_t>> shardShapes(const ModelInfo &model,
                                              const ParamInfo &p) {
  std::vector<std::vector<int64_t>> shapes = {p.shape};
  for (const ParamInfo::Shard &shard : p.shards) {
    std::vector<int64_t> next = shapes.back();
    next[shard.dim] /= model.mesh.axes[shard.axis].size;
    shapes.push_back(next);
  }
  return shapes;
}

/// The piece of `global` at every level of `p`'s shard lines for `coord`:
/// levels[k] has shapes[k] (levels[0] is a copy of the global tensor).
std::vector<std::vector<float>>
shardLevels(const ModelInfo &model, const ParamInfo &p, const MeshCoord &coord,
            const std::vector<std::vector<int64_t>> &shapes,
            const float *global) {
  std::vector<std::vector<float>> levels(shapes.size());
  levels[0].assign(global, global + p.numel);
  for (size_t k = 0; k < p.shards.size(); ++k) {
    const ParamInfo::Shard &shard = p.shards[k];
    levels[k + 1].resize(numelOf(shapes[k + 1]));
    copyPiece(shapes[k], shard.dim, shard.blocks,
              model.mesh.axes[shard.axis].size, coord[shard.axis],
              levels[k].data(), levels[k + 1].data(), /*toPiece=*/true);
  }
  return levels;
}

} // namespace

void sliceParam(const ModelInfo &model, const ParamInfo &p,
                const MeshCoord &coordIn, const float *global, float *local) {
  MeshCoord coord = fullCoord(model, coordIn);
  if (p.shards.size() == 1) {
    const ParamInfo::Shard &shard = p.shards[0];
    copyPiece(p.shape, shard.dim, shard.blocks,
              model.mesh.axes[shard.axis].size, coord[shard.axis],
              const_cast<float *>(global), local, /*toPiece=*/true);
    return;
  }
  std::vector<std::vector<int64_t>> shapes = shardShapes(model, p);
  std::vector<std::vector<float>> levels =
      shardLevels(model, p, coord, shapes, global);
  std::copy(levels.back().begin(), levels.back().end(), local);
}

void placeParam(const ModelInfo &model, const ParamInfo &p,
                const MeshCoord &coordIn, const float *local, float *global) {
  MeshCoord coord = fullCoord(model, coordIn);
  if (p.shards.size() == 1) {
    const ParamInfo::Shard &shard = p.shards[0];
    copyPiece(p.shape, shard.dim, shard.blocks,
              model.mesh.axes[shard.axis].size, coord[shard.axis], global,
              const_cast<float *>(local), /*toPiece=*/false);
    return;
  }
  if (p.shards.empty()) {
    std::memcpy(global, local, sizeof(float) * p.numel);
    return;
  }
  // Nested splits: the pieces of the global tensor at every level, with the
  // local piece placed into the last and each level into the one above, so
  // that what other ranks hold stays as it is.
  std::vector<std::vector<int64_t>> shapes = shardShapes(model, p);
  std::vector<std::vector<float>> levels =
      shardLevels(model, p, coord, shapes, global);
  std::copy(local, local + p.localNumel, levels.back().begin());
  for (size_t k = p.shards.size(); k-- > 0;) {
    const ParamInfo::Shard &shard = p.shards[k];
    copyPiece(shapes[k], shard.dim, shard.blocks,
              model.mesh.axes[shard.axis].size, coord[shard.axis],
              levels[k].data(), levels[k + 1].data(), /*toPiece=*/false);
  }
  std::copy(levels[0].begin(), levels[0].end(), global);
}

void sliceState(const ModelInfo &model, const ParamInfo &p,
                const MeshCoord &coordIn, const float *local, float *piece) {
  MeshCoord coord = fullCoord(model, coordIn);
  const bool split = model.zeroAxis >= 0;
  copyPiece(p.localShape, split ? p.stateDim : -1, 1,
            split ? model.mesh.axes[model.zeroAxis].size : 1,
            split ? coord[model.zeroAxis] : 0, const_cast<float *>(local),
            piece, /*toPiece=*/true);
}

void placeState(const ModelInfo &model, const ParamInfo &p,
                const MeshCoord &coordIn, const float *piece, float *local) {
  MeshCoord coord = fullCoord(model, coordIn);
  const bool split = model.zeroAxis >= 0;
  copyPiece(p.localShape, split ? p.stateDim : -1, 1,
            split ? model.mesh.axes[model.zeroAxis].size : 1,
            split ? coord[model.zeroAxis] : 0, local,
            const_cast<float *>(piece), /*toPiece=*/false);
}

uint32_t shardAxes(const ParamInfo &p) {
  uint32_t mask = 0;
  for (const ParamInfo::Shard &shard : p.shards)
    mask |= 1u << shard.axis;
  return mask;
}

void sliceParams(const ModelInfo &model, const MeshCoord &coord,
                 const float *global, float *params) {
  std::memset(params, 0, sizeof(float) * model.total);
  for (const ParamInfo &p : model.params)
    sliceParam(model, p, coord, global + p.globalOffset, params + p.offset);
}

void sliceStates(const ModelInfo &model, const MeshCoord &coord,
                 const float *global, float *state) {
  std::memset(state, 0, sizeof(float) * model.stateTotal);
  std::vector<float> local;
  for (const ParamInfo &p : model.params) {
    local.resize(p.localNumel);
    sliceParam(model, p, coord, global + p.globalOffset, local.data());
    sliceState(model, p, coord, local.data(), state + p.stateOffset);
  }
}

void assembleParams(const ModelInfo &model,
                    const std::vector<const float *> &ranks, float *global) {
  // The ranks at coordinate 0 on every axis that does not split a parameter
  // hold every piece of it (the others hold copies).
  const int64_t world = model.numRanks();
  for (const ParamInfo &p : model.params) {
    const uint32_t split = shardAxes(p);
    for (int64_t r = 0; r < world; ++r) {
      MeshCoord coord = model.mesh.coordsOf(r);
      if (model.mesh.groupColor(coord, split) != 0)
        continue;
      placeParam(model, p, coord, ranks[r] + p.offset, global + p.globalOffset);
    }
  }
}

void assembleStates(const ModelInfo &model,
                    const std::vector<const float *> &ranks, float *global) {
  // A moment is split like its parameter, and along the ZeRO axis too.
  const int64_t world = model.numRanks();
  std::vector<float> local;
  for (const ParamInfo &p : model.params) {
    uint32_t split = shardAxes(p);
    if (model.zeroAxis >= 0 && p.stateDim >= 0)
      split |= 1u << model.zeroAxis;
    local.resize(p.localNumel);
    for (int64_t r = 0; r < world; ++r) {
      MeshCoord coord = model.mesh.coordsOf(r);
      if (model.mesh.groupColor(coord, split) != 0)
        continue;
      // This rank's local moment: its own piece placed into the local moment
      // gathered so far (from the global one), then placed globally.
      sliceParam(model, p, coord, global + p.globalOffset, local.data());
      placeState(model, p, coord, ranks[r] + p.stateOffset, local.data());
      placeParam(model, p, coord, local.data(), global + p.globalOffset);
    }
  }
}

} // namespace lmcrt
