//===- Sharding.cpp - Pieces of parameters and moments on a mesh ----------===//

#include "Core/Sharding.h"

#include <cstring>

namespace lmcrt {

MeshCoord meshCoordOf(const ModelInfo &model, int64_t rank) {
  return {rank / model.tp, rank % model.tp};
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

void sliceParam(const ModelInfo &model, const ParamInfo &p, int64_t tpIndex,
                const float *global, float *local) {
  copyPiece(p.shape, p.shardDim, p.shardBlocks, model.tp, tpIndex,
            const_cast<float *>(global), local, /*toPiece=*/true);
}

void placeParam(const ModelInfo &model, const ParamInfo &p, int64_t tpIndex,
                const float *local, float *global) {
  copyPiece(p.shape, p.shardDim, p.shardBlocks, model.tp, tpIndex, global,
            const_cast<float *>(local), /*toPiece=*/false);
}

void sliceState(const ModelInfo &model, const ParamInfo &p, int64_t dpIndex,
                const float *local, float *piece) {
  copyPiece(p.localShape, p.stateDim, 1, model.dp, dpIndex,
            const_cast<float *>(local), piece, /*toPiece=*/true);
}

void placeState(const ModelInfo &model, const ParamInfo &p, int64_t dpIndex,
                const float *piece, float *local) {
  copyPiece(p.localShape, p.stateDim, 1, model.dp, dpIndex, local,
            const_cast<float *>(piece), /*toPiece=*/false);
}

void sliceParams(const ModelInfo &model, MeshCoord coord, const float *global,
                 float *params) {
  std::memset(params, 0, sizeof(float) * model.total);
  for (const ParamInfo &p : model.params)
    sliceParam(model, p, coord.tp, global + p.globalOffset, params + p.offset);
}

void sliceStates(const ModelInfo &model, MeshCoord coord, const float *global,
                 float *state) {
  std::memset(state, 0, sizeof(float) * model.stateTotal);
  std::vector<float> local;
  for (const ParamInfo &p : model.params) {
    local.resize(p.localNumel);
    sliceParam(model, p, coord.tp, global + p.globalOffset, local.data());
    sliceState(model, p, coord.dp, local.data(), state + p.stateOffset);
  }
}

void assembleParam(const ModelInfo &model, const ParamInfo &p,
                   const std::vector<const float *> &pieces, float *global) {
  for (int64_t t = 0; t < model.tp; ++t)
    placeParam(model, p, t, pieces[t], global);
}

void assembleState(const ModelInfo &model, const ParamInfo &p,
                   const std::vector<const float *> &pieces, float *global) {
  std::vector<float> local(p.localNumel);
  for (int64_t t = 0; t < model.tp; ++t) {
    for (int64_t d = 0; d < model.dp; ++d) {
      placeState(model, p, d, pieces[d * model.tp + t], local.data());
      if (p.stateDim < 0 || model.dp == 1)
        break; // the whole local moment, replicated over dp
    }
    placeParam(model, p, t, local.data(), global);
  }
}

void assembleParams(const ModelInfo &model,
                    const std::vector<const float *> &ranks, float *global) {
  // Replicated over dp: the ranks with dp index 0 (world ranks 0..tp-1) hold
  // every piece.
  std::vector<const float *> pieces(model.tp);
  for (const ParamInfo &p : model.params) {
    for (int64_t t = 0; t < model.tp; ++t)
      pieces[t] = ranks[t] + p.offset;
    assembleParam(model, p, pieces, global + p.globalOffset);
  }
}

void assembleStates(const ModelInfo &model,
                    const std::vector<const float *> &ranks, float *global) {
  std::vector<const float *> pieces(ranks.size());
  for (const ParamInfo &p : model.params) {
    for (size_t r = 0; r < ranks.size(); ++r)
      pieces[r] = ranks[r] + p.stateOffset;
    assembleState(model, p, pieces, global + p.globalOffset);
  }
}

} // namespace lmcrt
