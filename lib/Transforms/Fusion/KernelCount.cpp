//===- KernelCount.cpp - Kernels per step, for the passes' reports --------===//

#include "KernelCount.h"

#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;

bool lmc::isKernel(Operation *op) {
  if (isa<FusedOp>(op))
    return true;
  return isa<LMCDialect>(op->getDialect()) && !isCollective(op) &&
         !isa<ModelOp, ParamOp, ParamRefOp, YieldOp, AxisIndexOp>(op) &&
         op->getNumRegions() == 0 && op->getNumResults() > 0;
}

unsigned lmc::countKernels(Block &block) {
  return llvm::count_if(block, [](Operation &op) { return isKernel(&op); });
}

bool lmc::isReportedFunction(StringRef name) {
  return llvm::is_contained(ModelOp::getEntryFunctionNames(), name);
}
