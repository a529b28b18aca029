//===- Passes.h - lmc sharding passes ---------------------------*- C++ -*-===//
//
// Stage: the SPMD program for a mesh of ranks: the plan of parameter
// placements, the partitioning of every op by its sharding rule, ZeRO, and
// the gradient collectives (lmc-shard).
// The passes are declared in Passes.td next to this file.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_SHARDING_PASSES_H
#define LMC_TRANSFORMS_SHARDING_PASSES_H

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
#include "lmc/Transforms/Sharding/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lmc/Transforms/Sharding/Passes.h.inc"

} // namespace mlir::lmc

#endif // LMC_TRANSFORMS_SHARDING_PASSES_H
