//===- StridedMemref.h - Test buffers as generated code passes them -*- C++ -*-===//
//
// Strides of the layouts the runtime tests exercise, and the MLIR memref
// descriptor ({allocated, aligned, offset, sizes[rank], strides[rank]})
// that generated code passes to the runtime for a buffer of any strides.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TEST_RUNTIME_STRIDEDMEMREF_H
#define LMC_TEST_RUNTIME_STRIDEDMEMREF_H

#include "lmc/Runtime/lmcrt.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace lmcrt::test {

/// Row-major strides, each row (the innermost dimension) padded by `pad`
/// elements (not contiguous when `pad` > 0).
inline std::vector<int64_t> rowMajor(const std::vector<int64_t> &sizes,
                                     int64_t pad = 0) {
  std::vector<int64_t> strides(sizes.size());
  int64_t stride = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= sizes[d] + (d + 1 == sizes.size() ? pad : 0);
  }
  return strides;
}

/// Column-major strides: the first dimension varies fastest.
inline std::vector<int64_t> columnMajor(const std::vector<int64_t> &sizes) {
  std::vector<int64_t> strides(sizes.size());
  int64_t stride = 1;
  for (size_t d = 0; d < sizes.size(); ++d) {
    strides[d] = stride;
    stride *= sizes[d];
  }
  return strides;
}

/// Fills `descriptor` and `memref` for the view of `base` at `offset` with
/// `sizes` and `strides` (pointers and int64_t have the same size here).
template <typename T>
void describe(T *base, int64_t offset, const std::vector<int64_t> &sizes,
              const std::vector<int64_t> &strides,
              std::vector<int64_t> &descriptor, lmcrt_unranked_memref &memref) {
  static_assert(sizeof(T *) == sizeof(int64_t), "64-bit descriptor");
  descriptor.resize(3 + 2 * sizes.size());
  std::memcpy(&descriptor[0], &base, sizeof(base));
  std::memcpy(&descriptor[1], &base, sizeof(base));
  descriptor[2] = offset;
  for (size_t d = 0; d < sizes.size(); ++d) {
    descriptor[3 + d] = sizes[d];
    descriptor[3 + sizes.size() + d] = strides[d];
  }
  memref.rank = static_cast<int64_t>(sizes.size());
  memref.descriptor = descriptor.data();
}

} // namespace lmcrt::test

#endif // LMC_TEST_RUNTIME_STRIDEDMEMREF_H
