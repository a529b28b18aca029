//===- FlatViews.h - Views of a flat buffer as shaped tensors ---*- C++ -*-===//
//
// The runtime keeps parameters, moments and collective buckets in flat
// one-dimensional buffers; compiled code sees each piece through a view:
// a subview at its offset, expanded (or collapsed, for rank 0) to its shape.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_SUPPORT_FLATVIEWS_H
#define LMC_SUPPORT_FLATVIEWS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::lmc {

/// The elements [offset, offset + product(shape)) of the 1-d memref `flat`
/// as a row-major memref of `shape` (static).
inline Value viewOfFlat(OpBuilder &b, Location loc, Value flat, int64_t offset,
                        ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t s : shape)
    n *= s;
  Value view = memref::SubViewOp::create(
      b, loc, flat, ArrayRef<OpFoldResult>{b.getIndexAttr(offset)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(n)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  if (shape.empty())
    return memref::CollapseShapeOp::create(b, loc, view,
                                           ArrayRef<ReassociationIndices>{});
  if (shape.size() == 1)
    return view;
  ReassociationIndices all;
  for (int64_t d = 0, e = shape.size(); d < e; ++d)
    all.push_back(d);
  return memref::ExpandShapeOp::create(b, loc, shape, view,
                                       SmallVector<ReassociationIndices>{all});
}

} // namespace mlir::lmc

#endif // LMC_SUPPORT_FLATVIEWS_H
