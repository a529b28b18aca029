//===- KernelCount.h - Kernels per step, for the passes' reports -*- C++
//-*-===//
//
// What lmc-fuse and lmc-gemm-epilogues count when they report kernels per
// training step: the lmc compute ops and fusion groups of a function.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TRANSFORMS_KERNELCOUNT_H
#define LMC_TRANSFORMS_KERNELCOUNT_H

#include "mlir/IR/Block.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::lmc {

/// True for an op that becomes a kernel of its own: an lmc compute op (not
/// a collective, a parameter, the model or an axis index) or a fusion group.
bool isKernel(Operation *op);

/// The kernels of `block`.
unsigned countKernels(Block &block);

/// True for the functions whose kernels the reports count (the training
/// step, the evaluation step and the logits, before they are exported).
bool isReportedFunction(StringRef name);

} // namespace mlir::lmc

#endif // LMC_TRANSFORMS_KERNELCOUNT_H
