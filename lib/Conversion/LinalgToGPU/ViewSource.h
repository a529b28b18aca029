//===- ViewSource.h - The buffer a view is taken from -----------*- C++ -*-===//
//
// What lmc-gpu-async-launches and lmc-host-shared-buffers share: following
// a memref through its views and casts back to the value they are taken
// from (an allocation, a function argument, a global), and through the
// calls of stream-ordered host functions to the allocation they return.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_CONVERSION_LINALGTOGPU_VIEWSOURCE_H
#define LMC_LIB_CONVERSION_LINALGTOGPU_VIEWSOURCE_H

#include "lmc/Dialect/LMC/IR/LMCDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
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

/// The allocation `buffer` (or the buffer it is a view of) is, when it is
/// one the function owns alone: a `memref.alloc`, `memref.alloca` or
/// `gpu.alloc` in the function, or a buffer that a stream-ordered host
/// function it calls allocates and returns (lmc-gpu-stream-functions keeps
/// a function whose returned buffer the host reads only when the buffer is
/// such an allocation). Null otherwise (an argument, a global, a view of
/// one, a buffer some other call returns).
inline Operation *freshAllocation(Value buffer, unsigned depth = 0) {
  Value source = viewSource(buffer);
  Operation *def = source.getDefiningOp();
  if (!def)
    return nullptr;
  if (isa<memref::AllocOp, gpu::AllocOp>(def) ||
      (depth == 0 && isa<memref::AllocaOp>(def)))
    return def;
  auto call = dyn_cast<func::CallOp>(def);
  if (!call || depth > 8)
    return nullptr;
  auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      call, call.getCalleeAttr());
  if (!callee || callee.isDeclaration() || !callee.getBody().hasOneBlock() ||
      !callee->hasAttr(LMCDialect::StreamOrderedAttrHelper::getNameStr()))
    return nullptr;
  Operation *terminator = callee.getBody().front().getTerminator();
  unsigned index = cast<OpResult>(source).getResultNumber();
  return freshAllocation(terminator->getOperand(index), depth + 1);
}

} // namespace mlir::lmc

#endif // LMC_LIB_CONVERSION_LINALGTOGPU_VIEWSOURCE_H
