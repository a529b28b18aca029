//===- CollectiveShapes.h - Shapes and buffers of collectives ---*- C++ -*-===//
//
// Shared by the collectives over MPI (Collectives.cpp) and over NCCL
// (Cuda/Nccl.cpp), which prepare their buffers the same way: an all_gather
// or reduce_scatter along `dim` exchanges, for a group of P ranks, P blocks
// of `in` or `out` along `dim`; the collective library wants them one after
// the other in memory, so the copy between its buffer and the memref goes
// through a view that splits `dim` into (P, block) with P outermost.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_COLLECTIVESHAPES_H
#define LMC_LIB_RUNTIME_COLLECTIVESHAPES_H

#include "Core/MemrefView.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lmcrt {

/// True when the address ranges spanned by `a` and `b` intersect.
inline bool overlaps(const MemrefView<float> &a, const MemrefView<float> &b) {
  auto extent = [](const MemrefView<float> &v, uintptr_t &lo, uintptr_t &hi) {
    int64_t first = 0, last = 0;
    for (size_t d = 0; d < v.sizes.size(); ++d) {
      if (v.sizes[d] == 0)
        return false;
      int64_t span = (v.sizes[d] - 1) * v.strides[d];
      (span < 0 ? first : last) += span;
    }
    auto base = reinterpret_cast<uintptr_t>(v.data);
    lo = base + first * static_cast<int64_t>(sizeof(float));
    hi = base + (last + 1) * static_cast<int64_t>(sizeof(float));
    return true;
  };
  uintptr_t aLo, aHi, bLo, bHi;
  if (!extent(a, aLo, aHi) || !extent(b, bLo, bHi))
    return false;
  return aLo < bHi && bLo < aHi;
}

/// The view of `v` with dimension `dim` split into (groupSize, block) and the
/// group size moved outermost: element (p, i...) is v's element i with index
/// p * block + i[dim] along `dim`.
inline MemrefView<float> blocksAlong(const MemrefView<float> &v, int64_t dim,
                                     int64_t groupSize) {
  int64_t block = v.sizes[dim] / groupSize;
  std::vector<int64_t> sizes{groupSize}, strides{block * v.strides[dim]};
  sizes.insert(sizes.end(), v.sizes.begin(), v.sizes.end());
  strides.insert(strides.end(), v.strides.begin(), v.strides.end());
  sizes[dim + 1] = block;
  return MemrefView<float>(v.data, sizes, strides);
}

/// True when `v` is contiguous and the blocks along `dim` follow each other
/// in memory (every dimension before `dim` has size 1).
inline bool blocksAreConsecutive(const MemrefView<float> &v, int64_t dim) {
  if (!v.isContiguous())
    return false;
  for (int64_t d = 0; d < dim; ++d)
    if (v.sizes[d] != 1)
      return false;
  return true;
}

/// "" when `in` and `out` have the same rank and sizes except along `dim`,
/// where `big` (the all_gather output or the reduce_scatter input) is
/// group-size times `small`; otherwise what is wrong.
inline std::string blockShapeError(const MemrefView<float> &in,
                                   const MemrefView<float> &out, int64_t dim,
                                   int groupSize, bool gather) {
  const MemrefView<float> &big = gather ? out : in, &small = gather ? in : out;
  if (in.rank() != out.rank())
    return "the input is " + in.shapeString() + " but the output is " +
           out.shapeString() + " (different ranks)";
  if (dim < 0 || dim >= in.rank())
    return "dimension " + std::to_string(dim) + " is out of range for rank " +
           std::to_string(in.rank());
  if (!gather && in.sizes[dim] % groupSize != 0)
    return "dimension " + std::to_string(dim) + " of the input (" +
           in.shapeString() + ") has size " + std::to_string(in.sizes[dim]) +
           ", which does not divide among " + std::to_string(groupSize) +
           " ranks";
  for (int64_t d = 0; d < in.rank(); ++d)
    if (big.sizes[d] != (d == dim ? groupSize : 1) * small.sizes[d])
      return "the input is " + in.shapeString() + " and the output " +
             out.shapeString() + ", but along dimension " +
             std::to_string(dim) + " the " + (gather ? "output" : "input") +
             " must be " + std::to_string(groupSize) + " times the " +
             (gather ? "input" : "output") + " and the other dimensions equal";
  return "";
}

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_COLLECTIVESHAPES_H
