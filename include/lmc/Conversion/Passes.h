//===- Passes.h - lmc conversion passes -------------------------*- C++ -*-===//

#ifndef LMC_CONVERSION_PASSES_H
#define LMC_CONVERSION_PASSES_H

#include "lmc/Conversion/LMCToLinalg/LMCToLinalg.h"
#include "lmc/Support/Options.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::lmc {

#define GEN_PASS_DECL
#include "lmc/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lmc/Conversion/Passes.h.inc"

} // namespace mlir::lmc

#endif // LMC_CONVERSION_PASSES_H
