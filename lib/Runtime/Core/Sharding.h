//===- Sharding.h - Pieces of parameters and moments on a mesh --*- C++ -*-===//
//
// Which part of each global tensor a rank of the model's mesh holds, as the
// model description says (lmcrt.h, ModelInfo.h), and the copies between a
// global tensor and the pieces. These functions are pure (no MPI): the
// checkpoint code gathers pieces with the collectives and places them here.
// Nothing here knows what an axis is for.
//
// Parameters. A `shard NAME AXIS DIM BLOCKS` line splits the parameter along
// DIM over the mesh axis AXIS (size P): with the dimension's size (in the
// piece the earlier lines left) n = BLOCKS * P * c, the rank with index i
// along AXIS holds, for each block b = 0..BLOCKS-1 in order, the elements
// [b*P*c + i*c, b*P*c + (i+1)*c) along DIM, and every index of the other
// dimensions. The lines apply in mesh order. A parameter is replicated over
// every axis without a line.
//
// Moments. Without a state section a rank's moment of a parameter has the
// parameter's local shape (and offset). With one (ZeRO-1, `state COUNT
// TOTAL AXIS`), the rank with index j along AXIS holds, of its local moment,
// the j-th of P equal contiguous parts along the state line's DIM, or the
// whole local moment for DIM = -1 (then replicated over AXIS).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_SHARDING_H
#define LMC_LIB_RUNTIME_SHARDING_H

#include "Core/ModelInfo.h"

#include <cstdint>
#include <vector>

namespace lmcrt {

/// The coordinates of world rank `rank` in the model's mesh (row-major).
MeshCoord meshCoordOf(const ModelInfo &model, int64_t rank);

/// `coord`, with every axis of the mesh (an empty `coord` is rank 0's).
MeshCoord fullCoord(const ModelInfo &model, const MeshCoord &coord);

/// Copies between a tensor of shape `shape` (row-major, `whole`) and the
/// piece `index` of `parts` along dimension `dim` split into `blocks` blocks
/// (the shard rule above; `dim` = -1: the piece is the whole tensor).
/// `toPiece` copies from `whole` into `piece`, otherwise back.
void copyPiece(const std::vector<int64_t> &shape, int64_t dim, int64_t blocks,
               int64_t parts, int64_t index, float *whole, float *piece,
               bool toPiece);

/// The piece (p.localShape) of the global parameter tensor `global`
/// (p.shape) that the rank at `coord` holds, and back.
void sliceParam(const ModelInfo &model, const ParamInfo &p,
                const MeshCoord &coord, const float *global, float *local);
void placeParam(const ModelInfo &model, const ParamInfo &p,
                const MeshCoord &coord, const float *local, float *global);

/// The piece (p.stateShape) of a local moment tensor `local`
/// (p.localShape) that the rank at `coord` holds, and back.
void sliceState(const ModelInfo &model, const ParamInfo &p,
                const MeshCoord &coord, const float *local, float *piece);
void placeState(const ModelInfo &model, const ParamInfo &p,
                const MeshCoord &coord, const float *piece, float *local);

/// The bit mask of the axes that split `p` (its shard lines): the ranks
/// whose coordinates on the other axes are 0, one per index in that group,
/// hold every piece of it.
uint32_t shardAxes(const ParamInfo &p);

/// Whole buffers. `global` is in the global layout (model.globalTotal
/// floats, parameter p at p.globalOffset); `params` is a rank's parameter
/// buffer (model.total), `state` one of its moment buffers
/// (model.stateTotal).
void sliceParams(const ModelInfo &model, const MeshCoord &coord,
                 const float *global, float *params);
void sliceStates(const ModelInfo &model, const MeshCoord &coord,
                 const float *global, float *state);

/// The global buffer from the buffers of every world rank (`ranks[r]` is
/// rank r's; model.numRanks() of them).
void assembleParams(const ModelInfo &model,
                    const std::vector<const float *> &ranks, float *global);
void assembleStates(const ModelInfo &model,
                    const std::vector<const float *> &ranks, float *global);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_SHARDING_H
