//===- LMCToLinalg.h - lmc to linalg conversion -----------------*- C++ -*-===//

#ifndef LMC_CONVERSION_LMCTOLINALG_LMCTOLINALG_H
#define LMC_CONVERSION_LMCTOLINALG_LMCTOLINALG_H

namespace mlir {
class RewritePatternSet;
namespace lmc {

/// Adds the patterns lowering lmc compute ops to linalg on tensors.
void populateLMCToLinalgPatterns(RewritePatternSet &patterns);

} // namespace lmc
} // namespace mlir

#endif // LMC_CONVERSION_LMCTOLINALG_LMCTOLINALG_H
