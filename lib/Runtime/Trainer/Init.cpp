//===- Init.cpp - Deterministic RNG and parameter initialisation ----------===//

#include "Trainer/Init.h"

#include "Core/ModelInfo.h"
#include "Core/Sharding.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace lmcrt {

double Rng::normal() {
  double u1 = 1.0 - uniform();
  double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

void initParams(const ModelInfo &model, float *params, Rng &rng,
                const MeshCoord &coord) {
  std::memset(params, 0, sizeof(float) * model.total);
  std::vector<float> global;
  for (const ParamInfo &p : model.params) {
    float *out = params + p.offset;
    switch (p.init) {
    case InitKind::Zeros:
      break;
    case InitKind::Ones:
      if (!p.padded()) {
        for (int64_t i = 0; i < p.localNumel; ++i)
          out[i] = 1.0f;
        break;
      }
      global.assign(p.numel, 0.0f);
      std::fill(global.begin(), global.begin() + p.storedNumel, 1.0f);
      sliceParam(model, p, coord, global.data(), out);
      break;
    case InitKind::Normal:
      // The whole global tensor, so that the draws do not depend on the mesh;
      // of a padded parameter, its real rows (a prefix), the padding zero:
      // the draws are those of the unpadded model.
      // Value i is the stream's normal() number i (draws 2i and 2i + 1),
      // so the values are computed in parallel, the same whatever the
      // threads (gpt2-124M: about 2 s on one thread).
      global.assign(p.numel, 0.0f);
      {
        const Rng first = rng;
        float *values = global.data();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < p.storedNumel; ++i) {
          Rng draw = first;
          draw.skip(2 * static_cast<uint64_t>(i));
          values[i] = static_cast<float>(p.std * draw.normal());
        }
        rng.skip(2 * static_cast<uint64_t>(p.storedNumel));
      }
      sliceParam(model, p, coord, global.data(), out);
      break;
    }
  }
}

} // namespace lmcrt
