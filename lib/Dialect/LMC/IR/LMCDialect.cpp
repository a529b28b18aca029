//===- LMCDialect.cpp - The lmc dialect -----------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"

using namespace mlir;
using namespace mlir::lmc;

#include "lmc/Dialect/LMC/IR/LMCDialect.cpp.inc"

void LMCDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "lmc/Dialect/LMC/IR/LMCOps.cpp.inc"
      >();
}
