//===- Passes.h - lmc fusion passes -----------------------------*- C++ -*-===//
//
// Stage: fusion groups (lmc-fuse) and GEMM epilogues
// (lmc-gemm-epilogues).
// The passes are declared in Passes.td next to this file.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_FUSION_PASSES_H
#define LMC_TRANSFORMS_FUSION_PASSES_H

#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "lmc/Support/Options.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::lmc {

#define GEN_PASS_DECL
#include "lmc/Transforms/Fusion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lmc/Transforms/Fusion/Passes.h.inc"

} // namespace mlir::lmc

#endif // LMC_TRANSFORMS_FUSION_PASSES_H
