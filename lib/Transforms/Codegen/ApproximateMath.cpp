//===- ApproximateMath.cpp - Polynomial float32 transcendentals -----------===//
//
// Applies upstream's polynomial approximations to the float32
// transcendental functions that lmc's lowering produces, so that the loops
// around them contain no libm calls and vectorise.
//
//===----------------------------------------------------------------------===//

#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "lmc-approximate-math"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCAPPROXIMATEMATH
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

struct LMCApproximateMathPass
    : mlir::lmc::impl::LMCApproximateMathBase<LMCApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // Only float32 is rewritten (upstream's patterns match f32 alone, and
    // no f32 expansion of f64 or f16 is added).
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      return llvm::is_contained({"math.exp", "math.expm1", "math.log",
                                 "math.log1p", "math.tanh", "math.erf"},
                                name);
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
