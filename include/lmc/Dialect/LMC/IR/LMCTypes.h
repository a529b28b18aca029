//===- LMCTypes.h - Types of the lmc dialect --------------------*- C++ -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCTYPES_H
#define LMC_DIALECT_LMC_IR_LMCTYPES_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "lmc/Dialect/LMC/IR/LMCTypes.h.inc"

#endif // LMC_DIALECT_LMC_IR_LMCTYPES_H
