//===- Passes.h - lmc training passes ---------------------------*- C++ -*-===//
//
// Stage: the training step from a forward model: differentiation
// (lmc-autodiff), the optimizer (lmc-optimizer), and graph-level rewrites and
// analyses of the forward model.
// The passes are declared in Passes.td next to this file.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_TRAINING_PASSES_H
#define LMC_TRANSFORMS_TRAINING_PASSES_H

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
#include "lmc/Transforms/Training/Passes.h.inc"

/// Adds the patterns that rewrite lmc.causal_attention into primitive ops.
void populateDecomposeAttentionPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "lmc/Transforms/Training/Passes.h.inc"

} // namespace mlir::lmc

#endif // LMC_TRANSFORMS_TRAINING_PASSES_H
