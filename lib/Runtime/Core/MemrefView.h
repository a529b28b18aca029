//===- MemrefView.h - Strided views of MLIR memref descriptors --*- C++ -*-===//
//
// Generated code passes memrefs to the runtime as lmcrt_unranked_memref: a
// rank and a pointer to the ranked descriptor {allocated, aligned, offset,
// sizes[rank], strides[rank]} (offset and strides in elements). A MemrefView
// reads that descriptor once and keeps its own copy of the sizes and strides,
// so it stays valid after the caller's descriptor is gone (the asynchronous
// collectives keep views until they are waited). copyElements copies between
// two views of the same shape and any strides.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_MEMREFVIEW_H
#define LMC_LIB_RUNTIME_MEMREFVIEW_H

#include "lmc/Runtime/lmcrt.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lmcrt {

template <typename T> struct MemrefView {
  T *data = nullptr; // aligned pointer + offset
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;

  MemrefView() = default;
  MemrefView(T *data, std::vector<int64_t> sizes, std::vector<int64_t> strides)
      : data(data), sizes(std::move(sizes)), strides(std::move(strides)) {}

  /// Reads an MLIR ranked descriptor of element type T.
  explicit MemrefView(const lmcrt_unranked_memref *memref) {
    auto *base = static_cast<char *>(memref->descriptor);
    T *aligned = *reinterpret_cast<T **>(base + sizeof(T *));
    auto *ints = reinterpret_cast<const int64_t *>(base + 2 * sizeof(T *));
    data = aligned + ints[0];
    sizes.assign(ints + 1, ints + 1 + memref->rank);
    strides.assign(ints + 1 + memref->rank, ints + 1 + 2 * memref->rank);
  }

  /// A row-major packed view of `sizes` over `data`.
  static MemrefView packed(T *data, std::vector<int64_t> sizes) {
    std::vector<int64_t> strides(sizes.size());
    int64_t stride = 1;
    for (size_t d = sizes.size(); d-- > 0;) {
      strides[d] = stride;
      stride *= sizes[d];
    }
    return MemrefView(data, std::move(sizes), std::move(strides));
  }

  int64_t rank() const { return static_cast<int64_t>(sizes.size()); }

  /// Size and stride of dimension `d`; negative `d` counts from the end.
  int64_t size(int64_t d) const { return sizes[d < 0 ? rank() + d : d]; }
  int64_t stride(int64_t d) const { return strides[d < 0 ? rank() + d : d]; }

  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t s : sizes)
      n *= s;
    return n;
  }

  /// True when the elements lie row-major and packed from `data` on
  /// (dimensions of size 1 may have any stride).
  bool isContiguous() const {
    int64_t expected = 1;
    for (size_t d = sizes.size(); d-- > 0;) {
      if (sizes[d] == 0)
        return true;
      if (sizes[d] != 1 && strides[d] != expected)
        return false;
      expected *= sizes[d];
    }
    return true;
  }

  /// True when `other` denotes exactly the same elements in the same order.
  bool sameAs(const MemrefView &other) const {
    return data == other.data && sizes == other.sizes &&
           strides == other.strides;
  }

  /// The sizes as "AxBxC" ("scalar" for rank 0), for error messages.
  std::string shapeString() const {
    if (sizes.empty())
      return "scalar";
    std::string text;
    for (size_t d = 0; d < sizes.size(); ++d)
      text += (d ? "x" : "") + std::to_string(sizes[d]);
    return text;
  }
};

/// The loops of a copy from `src` to `dst` (the same sizes, any strides),
/// outermost first: the dimensions of size 1 dropped and neighbouring ones
/// that are contiguous in both views merged, so that the innermost loop runs
/// over as many elements as possible. `empty` when a size is 0.
struct CopyLoops {
  std::vector<int64_t> sizes, srcStrides, dstStrides;
  bool empty = false;
};

template <typename S, typename D>
CopyLoops copyLoops(const MemrefView<S> &src, const MemrefView<D> &dst) {
  CopyLoops loops;
  std::vector<int64_t> &sizes = loops.sizes, &sStrides = loops.srcStrides,
                       &dStrides = loops.dstStrides;
  for (size_t d = 0; d < src.sizes.size(); ++d) {
    if (src.sizes[d] == 0) {
      loops.empty = true;
      return loops;
    }
    if (src.sizes[d] == 1)
      continue;
    if (!sizes.empty() && sStrides.back() == src.strides[d] * src.sizes[d] &&
        dStrides.back() == dst.strides[d] * src.sizes[d]) {
      sizes.back() *= src.sizes[d];
      sStrides.back() = src.strides[d];
      dStrides.back() = dst.strides[d];
      continue;
    }
    sizes.push_back(src.sizes[d]);
    sStrides.push_back(src.strides[d]);
    dStrides.push_back(dst.strides[d]);
  }
  return loops;
}

/// Writes f(src element) into `dst` for each element; both have the same
/// sizes, any strides. Dimensions of size 1 are dropped and neighbouring
/// dimensions that are contiguous in both views are merged, so that the
/// innermost loop runs over as many elements as possible. The views must not
/// overlap.
template <typename S, typename D, typename F>
void transformElements(const MemrefView<S> &src, const MemrefView<D> &dst,
                       F f) {
  const CopyLoops loops = copyLoops(src, dst);
  if (loops.empty)
    return;
  const std::vector<int64_t> &sizes = loops.sizes, &sStrides = loops.srcStrides,
                             &dStrides = loops.dstStrides;
  if (sizes.empty()) {
    *dst.data = f(*src.data);
    return;
  }
  const size_t inner = sizes.size() - 1;
  const int64_t n = sizes[inner], sInner = sStrides[inner],
                dInner = dStrides[inner];
  std::vector<int64_t> index(inner, 0);
  const S *s = src.data;
  D *o = dst.data;
  while (true) {
    if (sInner == 1 && dInner == 1)
      for (int64_t i = 0; i < n; ++i)
        o[i] = f(s[i]);
    else
      for (int64_t i = 0; i < n; ++i)
        o[i * dInner] = f(s[i * sInner]);
    // Odometer over the outer dimensions.
    int64_t d = static_cast<int64_t>(inner) - 1;
    for (; d >= 0; --d) {
      s += sStrides[d];
      o += dStrides[d];
      if (++index[d] < sizes[d])
        break;
      s -= sStrides[d] * sizes[d];
      o -= dStrides[d] * sizes[d];
      index[d] = 0;
    }
    if (d < 0)
      return;
  }
}

/// Copies the elements of `src` into `dst` (transformElements without a
/// conversion).
template <typename T>
void copyElements(const MemrefView<T> &src, const MemrefView<T> &dst) {
  transformElements(src, dst, [](T x) { return x; });
}

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_MEMREFVIEW_H
