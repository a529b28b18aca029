//===- Sharding.h - Pieces of parameters and moments on a mesh --*- C++ -*-===//
//
// Which part of each global tensor a rank of the dp x tp mesh holds, as the
// model description says (lmcrt.h, ModelInfo.h), and the copies between a
// global tensor and the pieces. These functions are pure (no MPI): the
// checkpoint code gathers pieces with the collectives and places them here.
//
// Parameters. A parameter with `shard NAME tp DIM BLOCKS` is split along DIM
// (global size n = BLOCKS * tp * c): the rank with tp index i holds, for each
// block b = 0..BLOCKS-1 in order, the elements [b*tp*c + i*c, b*tp*c +
// (i+1)*c) along DIM, and every index of the other dimensions. A parameter
// without a shard line is replicated over tp. Parameters are replicated over
// dp.
//
// Moments. Without a state section a rank's moment of a parameter has the
// parameter's local shape (and offset). With one (ZeRO-1), the rank with dp
// index j holds, of its local (tp-sliced) moment, the j-th of dp equal
// contiguous parts along the state line's DIM, or the whole local moment for
// DIM = -1 (then replicated over dp).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_SHARDING_H
#define LMC_LIB_RUNTIME_SHARDING_H

#include "Core/ModelInfo.h"

#include <cstdint>
#include <vector>

namespace lmcrt {

/// The coordinates of world rank `rank` in the model's mesh: (rank / tp,
/// rank % tp).
MeshCoord meshCoordOf(const ModelInfo &model, int64_t rank);

/// Copies between a tensor of shape `shape` (row-major, `whole`) and the
/// piece `index` of `parts` along dimension `dim` split into `blocks` blocks
/// (the shard rule above; `dim` = -1: the piece is the whole tensor).
/// `toPiece` copies from `whole` into `piece`, otherwise back.
void copyPiece(const std::vector<int64_t> &shape, int64_t dim, int64_t blocks,
               int64_t parts, int64_t index, float *whole, float *piece,
               bool toPiece);

/// The piece (p.localShape) of the global parameter tensor `global`
/// (p.shape) that ranks with tp index `tpIndex` hold, and back.
void sliceParam(const ModelInfo &model, const ParamInfo &p, int64_t tpIndex,
                const float *global, float *local);
void placeParam(const ModelInfo &model, const ParamInfo &p, int64_t tpIndex,
                const float *local, float *global);

/// The piece (p.stateShape) of a local moment tensor `local`
/// (p.localShape) that ranks with dp index `dpIndex` hold, and back.
void sliceState(const ModelInfo &model, const ParamInfo &p, int64_t dpIndex,
                const float *local, float *piece);
void placeState(const ModelInfo &model, const ParamInfo &p, int64_t dpIndex,
                const float *piece, float *local);

/// The global tensor of `p` from its pieces: `pieces[t]` is the local
/// parameter (p.localShape) of the ranks with tp index t.
void assembleParam(const ModelInfo &model, const ParamInfo &p,
                   const std::vector<const float *> &pieces, float *global);
/// The global tensor of a moment of `p` from its pieces: `pieces[r]` is the
/// piece (p.stateShape) of world rank r (only the ranks with dp index 0 are
/// read when the moment is not split over dp).
void assembleState(const ModelInfo &model, const ParamInfo &p,
                   const std::vector<const float *> &pieces, float *global);

/// Whole buffers. `global` is in the global layout (model.globalTotal
/// floats, parameter p at p.globalOffset); `params` is a rank's parameter
/// buffer (model.total), `state` one of its moment buffers
/// (model.stateTotal).
void sliceParams(const ModelInfo &model, MeshCoord coord, const float *global,
                 float *params);
void sliceStates(const ModelInfo &model, MeshCoord coord, const float *global,
                 float *state);

/// The global buffer from the buffers of every world rank (`ranks[r]` is
/// rank r's; model.dp * model.tp of them).
void assembleParams(const ModelInfo &model,
                    const std::vector<const float *> &ranks, float *global);
void assembleStates(const ModelInfo &model,
                    const std::vector<const float *> &ranks, float *global);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_SHARDING_H
