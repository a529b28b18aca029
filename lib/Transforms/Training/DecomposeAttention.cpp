//===- DecomposeAttention.cpp - causal_attention to primitive ops ---------===//
//
// Rewrites lmc.causal_attention into split_heads, repeat_heads (grouped-query
// attention), matmul, scale, causal_mask, softmax and merge_heads. The same
// patterns serve the reference lowering (convert-lmc-to-linalg).
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

#define DEBUG_TYPE "lmc-decompose-attention"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCDECOMPOSEATTENTION
#include "lmc/Transforms/Training/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

struct DecomposeCausalAttention : OpRewritePattern<CausalAttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CausalAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t heads = op.getHeads(), kvHeads = op.getNumKvHeads();
    auto splitHeads = [&](Value v, int64_t n) -> Value {
      return SplitHeadsOp::create(rewriter, loc, v, n);
    };
    // Grouped-query attention: each key/value head repeated to the query
    // heads of its group.
    auto repeat = [&](Value v) -> Value {
      if (kvHeads == heads)
        return v;
      return RepeatHeadsOp::create(rewriter, loc, v, heads / kvHeads);
    };
    Value q = splitHeads(op.getQuery(), heads);
    Value k = repeat(splitHeads(op.getKey(), kvHeads));
    Value v = repeat(splitHeads(op.getValue(), kvHeads));
    Value scores = MatmulOp::create(rewriter, loc, q, k,
                                    /*transpose_a=*/false,
                                    /*transpose_b=*/true);
    double factor = 1.0 / std::sqrt(static_cast<double>(op.getHeadDim()));
    Value scaled = ScaleOp::create(rewriter, loc, scores,
                                   rewriter.getF64FloatAttr(factor));
    Value masked = CausalMaskOp::create(rewriter, loc, scaled);
    Value probs = SoftmaxOp::create(rewriter, loc, masked);
    Value out = MatmulOp::create(rewriter, loc, probs, v,
                                 /*transpose_a=*/false,
                                 /*transpose_b=*/false);
    rewriter.replaceOpWithNewOp<MergeHeadsOp>(op, out);
    return success();
  }
};

struct LMCDecomposeAttentionPass
    : mlir::lmc::impl::LMCDecomposeAttentionBase<LMCDecomposeAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateDecomposeAttentionPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace

void mlir::lmc::populateDecomposeAttentionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DecomposeCausalAttention>(patterns.getContext());
}
