//===- LMCTypes.cpp - Types of the lmc dialect ----------------------------===//

#include "lmc/Dialect/LMC/IR/LMCTypes.h"
#include "lmc/Dialect/LMC/IR/LMCDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::lmc;

#define GET_TYPEDEF_CLASSES
#include "lmc/Dialect/LMC/IR/LMCTypes.cpp.inc"

void LMCDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "lmc/Dialect/LMC/IR/LMCTypes.cpp.inc"
      >();
}
