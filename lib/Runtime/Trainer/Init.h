//===- Init.h - Deterministic RNG and parameter initialisation --*- C++ -*-===//
//
// The generator is splitmix64 (Steele, Lea, Flood 2014): state += 0x9e37...;
// then the usual xor-shift-multiply finaliser. Its whole state is one
// uint64, stored in checkpoints.
//   uniform(): (next() >> 11) * 2^-53, in [0, 1).
//   normal():  Box-Muller on two uniforms, u1 = 1 - uniform() in (0, 1],
//              u2 = uniform(): sqrt(-2 ln u1) * cos(2 pi u2) (the sine
//              branch is discarded, so every draw consumes two outputs).
// initParams generates the parameters in description order, each as its
// GLOBAL tensor in row-major element order: zeros, ones, or
// float(std * normal()) -- of a parameter padded along the vocabulary (a
// `pad` line) only its real rows, the padding zero, so that it draws what
// the unpadded model draws; a rank keeps its piece of each (Sharding.h), so
// every rank of every mesh draws the same numbers and ends with the same
// generator state, and the pieces are those of the single-rank run. The
// generator is seeded with --seed, and sampling continues with the same
// generator.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_INIT_H
#define LMC_LIB_RUNTIME_INIT_H

#include "Core/ModelInfo.h"

#include <cstdint>

namespace lmcrt {

class Rng {
public:
  /// splitmix64's step: the state after k draws is the seed + k steps, so a
  /// stream can be entered anywhere (skip).
  static constexpr uint64_t kStep = 0x9e3779b97f4a7c15ULL;

  explicit Rng(uint64_t seed = 0) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += kStep);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Box-Muller: two draws per value.
  double normal();
  /// Moves the stream past `draws` draws, as that many next() would.
  void skip(uint64_t draws) { state += draws * kStep; }

  uint64_t state;
};

/// Fills `params` (model.total floats, this rank's parameter buffer) as
/// described above, for the rank at `coord` (empty: rank 0).
void initParams(const ModelInfo &model, float *params, Rng &rng,
                const MeshCoord &coord = {});

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_INIT_H
