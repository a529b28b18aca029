//===- StridedCopy.h - A strided copy as 2-D memory copies ------*- C++ -*-===//
//
// The collectives pack a non-contiguous input into a temporary and unpack a
// temporary into a non-contiguous output. On the GPU these copies must be
// stream-ordered without the host waiting, so they are queued as the
// driver's 2-D copies (cuMemcpy2DAsync: `height` rows of `widthBytes` bytes,
// `srcPitch` and `dstPitch` bytes apart). planCopies turns a copy between
// two strided views into such copies; it includes no CUDA header, so that
// it is tested on the CPU (test/Runtime/PollTest.cpp) by running the copies
// with memcpy.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_STRIDEDCOPY_H
#define LMC_LIB_RUNTIME_CUDA_STRIDEDCOPY_H

#include "Core/MemrefView.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmcrt::cuda {

/// `height` rows of `widthBytes` bytes; row r is at src + r * srcPitch and
/// goes to dst + r * dstPitch.
struct Copy2D {
  const char *src = nullptr;
  char *dst = nullptr;
  size_t srcPitch = 0, dstPitch = 0;
  size_t widthBytes = 0, height = 0;
};

/// Appends to `copies` the 2-D copies that copy `src` into `dst` (the same
/// sizes, any strides, not overlapping): the dimensions of size 1 dropped,
/// the neighbouring ones that are contiguous in both views merged; rows of
/// the innermost dimension when it has stride 1 in both, else rows of one
/// element. Returns false (appending nothing) when that takes more than
/// `maxCopies` copies, a stride is negative, or a pitch is below the row
/// width or above `maxPitch`; the caller then copies on the host.
template <typename T>
bool planCopies(const MemrefView<T> &src, const MemrefView<T> &dst,
                size_t maxCopies, std::vector<Copy2D> &copies,
                int64_t maxPitch = 2147483647) {
  const int64_t elem = static_cast<int64_t>(sizeof(T));
  const CopyLoops merged = copyLoops(src, dst);
  if (merged.empty)
    return true; // nothing to copy
  const std::vector<int64_t> &sizes = merged.sizes,
                             &sStrides = merged.srcStrides,
                             &dStrides = merged.dstStrides;
  for (size_t d = 0; d < sizes.size(); ++d)
    if (sStrides[d] < 0 || dStrides[d] < 0)
      return false;
  Copy2D shape;
  size_t loops = sizes.size(); // the dimensions [0, loops) are looped over
  if (sizes.empty()) {
    shape.widthBytes = static_cast<size_t>(elem);
    shape.height = 1;
  } else if (sStrides.back() == 1 && dStrides.back() == 1) {
    shape.widthBytes = static_cast<size_t>(sizes.back() * elem);
    shape.height = 1;
    --loops;
    if (loops > 0) {
      --loops;
      shape.height = static_cast<size_t>(sizes[loops]);
      shape.srcPitch = static_cast<size_t>(sStrides[loops] * elem);
      shape.dstPitch = static_cast<size_t>(dStrides[loops] * elem);
    }
  } else {
    shape.widthBytes = static_cast<size_t>(elem);
    shape.height = static_cast<size_t>(sizes.back());
    shape.srcPitch = static_cast<size_t>(sStrides.back() * elem);
    shape.dstPitch = static_cast<size_t>(dStrides.back() * elem);
    --loops;
  }
  if (shape.height == 1) {
    shape.srcPitch = shape.dstPitch = shape.widthBytes;
  } else if (shape.srcPitch < shape.widthBytes ||
             shape.dstPitch < shape.widthBytes ||
             shape.srcPitch > static_cast<size_t>(maxPitch) ||
             shape.dstPitch > static_cast<size_t>(maxPitch)) {
    return false;
  }
  size_t count = 1;
  for (size_t d = 0; d < loops; ++d) {
    count *= static_cast<size_t>(sizes[d]);
    if (count > maxCopies)
      return false;
  }
  // Odometer over the looped dimensions.
  std::vector<int64_t> index(loops, 0);
  const char *s = reinterpret_cast<const char *>(src.data);
  char *o = reinterpret_cast<char *>(dst.data);
  for (;;) {
    Copy2D c = shape;
    c.src = s;
    c.dst = o;
    copies.push_back(c);
    int64_t d = static_cast<int64_t>(loops) - 1;
    for (; d >= 0; --d) {
      s += sStrides[d] * elem;
      o += dStrides[d] * elem;
      if (++index[d] < sizes[d])
        break;
      s -= sStrides[d] * sizes[d] * elem;
      o -= dStrides[d] * sizes[d] * elem;
      index[d] = 0;
    }
    if (d < 0)
      return true;
  }
}

} // namespace lmcrt::cuda

#endif // LMC_LIB_RUNTIME_CUDA_STRIDEDCOPY_H
