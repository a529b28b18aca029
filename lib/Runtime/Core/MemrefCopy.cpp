//===- MemrefCopy.cpp - Strided copies of memrefs -------------------------===//
//
// `memrefCopy` is the function MLIR's memref.copy lowering calls for copies
// it does not inline (see lmcrt.h). It copies rank-N strided memrefs with an
// odometer over the outer dimensions and memcpy for contiguous runs.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include <cstring>
#include <vector>

namespace {

/// The view of a ranked descriptor of any element type.
struct StridedView {
  char *data; // aligned pointer + offset
  const int64_t *sizes;
  const int64_t *strides;
};

StridedView view(const lmcrt_unranked_memref *memref, int64_t elemSize) {
  // {allocated, aligned, offset, sizes[rank], strides[rank]}
  auto *pointers = static_cast<char **>(memref->descriptor);
  auto *ints = reinterpret_cast<int64_t *>(pointers + 2);
  StridedView result;
  result.data = pointers[1] + ints[0] * elemSize;
  result.sizes = ints + 1;
  result.strides = ints + 1 + memref->rank;
  return result;
}

} // namespace

extern "C" void memrefCopy(int64_t elemSize, lmcrt_unranked_memref *src,
                           lmcrt_unranked_memref *dst) {
  int64_t rank = src->rank;
  StridedView s = view(src, elemSize);
  StridedView d = view(dst, elemSize);
  if (rank == 0) {
    std::memmove(d.data, s.data, elemSize);
    return;
  }
  for (int64_t i = 0; i < rank; ++i)
    if (s.sizes[i] == 0)
      return;

  // Merge the innermost dimensions that are contiguous in both memrefs into
  // one run of `runElems` elements copied with memcpy.
  int64_t runElems = 1;
  int64_t inner = rank; // dimensions [inner, rank) form the run
  while (inner > 0 &&
         (s.sizes[inner - 1] == 1 || (s.strides[inner - 1] == runElems &&
                                      d.strides[inner - 1] == runElems))) {
    runElems *= s.sizes[inner - 1];
    --inner;
  }
  if (inner == rank) {
    // The innermost dimension is strided: copy element by element.
    inner = rank - 1;
    runElems = 0;
  }
  const int64_t runBytes = runElems * elemSize;
  const int64_t innerSize = s.sizes[inner];
  const int64_t sInner = s.strides[inner] * elemSize;
  const int64_t dInner = d.strides[inner] * elemSize;

  // Odometer over dimensions [0, inner).
  std::vector<int64_t> index(inner, 0);
  char *sp = s.data;
  char *dp = d.data;
  while (true) {
    if (runElems > 0) {
      std::memcpy(dp, sp, runBytes);
    } else {
      char *si = sp, *di = dp;
      for (int64_t i = 0; i < innerSize; ++i, si += sInner, di += dInner)
        std::memcpy(di, si, elemSize);
    }
    int64_t dim = inner - 1;
    for (; dim >= 0; --dim) {
      sp += s.strides[dim] * elemSize;
      dp += d.strides[dim] * elemSize;
      if (++index[dim] < s.sizes[dim])
        break;
      sp -= s.strides[dim] * elemSize * s.sizes[dim];
      dp -= d.strides[dim] * elemSize * s.sizes[dim];
      index[dim] = 0;
    }
    if (dim < 0)
      return;
  }
}
