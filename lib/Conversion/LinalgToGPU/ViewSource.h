//===- ViewSource.h - The buffer a view is taken from -----------*- C++ -*-===//
//
// What lmc-gpu-async-launches and lmc-host-shared-buffers share: following
// a memref through its views and casts back to the value they are taken
// from (an allocation, a function argument, a global).
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_CONVERSION_LINALGTOGPU_VIEWSOURCE_H
#define LMC_LIB_CONVERSION_LINALGTOGPU_VIEWSOURCE_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::lmc {

/// The value a view, cast or reshape of `value` is taken from, repeatedly.
inline Value viewSource(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      value = view.getViewSource();
    else if (auto cast = dyn_cast<memref::CastOp>(def))
      value = cast.getSource();
    else
      break;
  }
  return value;
}

} // namespace mlir::lmc

#endif // LMC_LIB_CONVERSION_LINALGTOGPU_VIEWSOURCE_H
