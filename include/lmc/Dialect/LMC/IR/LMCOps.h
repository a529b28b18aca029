//===- LMCOps.h - Operations of the lmc dialect -----------------*- C++ -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCOPS_H
#define LMC_DIALECT_LMC_IR_LMCOPS_H

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "lmc/Dialect/LMC/IR/LMCInterfaces.h"
#include "lmc/Dialect/LMC/IR/LMCTypes.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "lmc/Dialect/LMC/IR/LMCEnums.h.inc"

namespace mlir::lmc {
class ParamOp;

/// The collective communication of a program. Asynchronous collectives and
/// `lmc.wait` read and write it, so that generic transformations keep them in
/// program order and do not delete them.
struct CollectiveResource
    : public SideEffects::Resource::Base<CollectiveResource> {
  StringRef getName() final { return "lmc.collectives"; }
};
} // namespace mlir::lmc

namespace mlir::OpTrait::lmc {
/// The trait of the collective ops (LMCCollectiveOps.td): ops that exchange
/// data between ranks.
template <typename ConcreteType>
class Collective : public TraitBase<ConcreteType, Collective> {};
} // namespace mlir::OpTrait::lmc

namespace mlir::lmc {
/// True for the ops that exchange data between ranks (lmc's collectives).
inline bool isCollective(Operation *op) {
  return op->hasTrait<::mlir::OpTrait::lmc::Collective>();
}
} // namespace mlir::lmc

#include "lmc/Dialect/LMC/IR/LMCCollectiveInterface.h.inc"

#define GET_OP_CLASSES
#include "lmc/Dialect/LMC/IR/LMCOps.h.inc"

namespace mlir::lmc {
/// True for the row reductions that the GPU runtime computes
/// (lmc.buffer_row_reduction, lib/Runtime/Cuda/RowKernels.cu): a
/// float32 lmc.layer_norm, lmc.layer_norm_grad, lmc.rms_norm or
/// lmc.rms_norm_grad of rank 1 to 4, or a float32 lmc.cross_entropy or
/// lmc.cross_entropy_grad of rank 2 to 4 with int32 targets. lmc-fuse and
/// convert-lmc-to-linalg leave them to the runtime on the GPU pipeline.
bool isRuntimeRowReduction(Operation *op);
} // namespace mlir::lmc

#endif // LMC_DIALECT_LMC_IR_LMCOPS_H
