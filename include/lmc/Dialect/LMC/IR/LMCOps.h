//===- LMCOps.h - Operations of the lmc dialect -----------------*- C++ -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCOPS_H
#define LMC_DIALECT_LMC_IR_LMCOPS_H

#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "lmc/Dialect/LMC/IR/LMCInterfaces.h"
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
} // namespace mlir::lmc

#define GET_OP_CLASSES
#include "lmc/Dialect/LMC/IR/LMCOps.h.inc"

#endif // LMC_DIALECT_LMC_IR_LMCOPS_H
