//===- LMCDialect.h - The lmc dialect ---------------------------*- C++ -*-===//

#ifndef LMC_DIALECT_LMC_IR_LMCDIALECT_H
#define LMC_DIALECT_LMC_IR_LMCDIALECT_H

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Dialect.h"

#include "lmc/Dialect/LMC/IR/LMCDialect.h.inc"

#endif // LMC_DIALECT_LMC_IR_LMCDIALECT_H
