//===- ModelSummary.cpp - Parameters and FLOPs per token of a model -------===//
//
// Prints one line per lmc.model: its parameter count and the forward FLOPs
// per token, derived from the ops of its forward function.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#define DEBUG_TYPE "lmc-model-summary"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCMODELSUMMARY
#include "lmc/Transforms/Training/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

struct Summary {
  int64_t params = 0;
  int64_t layers = 0;
  int64_t context = 0;
  int64_t matmulFlops = 0;
  int64_t attentionFlops = 0;
};

/// Size of dimension `d` of `type`, with dynamic sequence dimensions taken
/// at the full context.
int64_t sizeAt(RankedTensorType type, int64_t d, int64_t context) {
  int64_t s = type.getDimSize(d);
  return ShapedType::isDynamic(s) ? context : s;
}

Summary summarize(ModelOp model) {
  Summary s;
  for (ParamOp param : model.getParams())
    s.params += param.getTensorType().getNumElements();
  func::FuncOp forward = model.getForward();
  if (!forward)
    return s;
  s.context = model.getContextSize();
  forward.walk([&](Operation *op) {
    // One attention per layer, fused or decomposed (its causal mask).
    if (auto mask = dyn_cast<CausalMaskOp>(op)) {
      if (!mask.getZero())
        ++s.layers;
      return;
    }
    if (auto attn = dyn_cast<CausalAttentionOp>(op)) {
      // q k^T and p v: 2 T C each per query token, C the query channels
      // (per query head: kv_heads changes nothing).
      ++s.layers;
      s.attentionFlops +=
          4 * s.context * attn.getQuery().getType().getDimSize(2);
      return;
    }
    auto mm = dyn_cast<MatmulOp>(op);
    if (!mm)
      return;
    RankedTensorType lhs = mm.getLhs().getType();
    RankedTensorType rhs = mm.getRhs().getType();
    int64_t rank = lhs.getRank(), r = rhs.getRank();
    int64_t k =
        sizeAt(lhs, mm.getTransposeA() ? rank - 2 : rank - 1, s.context);
    int64_t n = sizeAt(rhs, mm.getTransposeB() ? r - 2 : r - 1, s.context);
    if (mm.isSharedRhs()) {
      // A linear layer: every row of lhs is a token.
      s.matmulFlops += 2 * k * n;
      return;
    }
    // A batched product over [B, H, T, *]: per token, every head.
    int64_t perRow = 2 * k * n;
    for (int64_t d = 1; d < rank - 2; ++d)
      perRow *= sizeAt(lhs, d, s.context);
    s.attentionFlops += perRow;
  });
  return s;
}

struct LMCModelSummaryPass
    : mlir::lmc::impl::LMCModelSummaryBase<LMCModelSummaryPass> {
  using Base::Base;

  void runOnOperation() override {
    std::string error;
    std::unique_ptr<llvm::ToolOutputFile> file = openOutputFile(output, &error);
    if (!file) {
      getOperation().emitError("cannot open '") << output << "': " << error;
      return signalPassFailure();
    }
    for (ModelOp model : getOperation().getOps<ModelOp>()) {
      Summary s = summarize(model);
      int64_t total = s.matmulFlops + s.attentionFlops;
      file->os() << "lmc.model @" << model.getSymName() << ": " << s.params
                 << " parameters, " << s.layers
                 << " layers; forward FLOPs/token: " << s.matmulFlops
                 << " matmul + " << s.attentionFlops
                 << " attention (T=" << s.context << ") = " << total << "\n";
    }
    file->keep();
    markAllAnalysesPreserved();
  }
};

} // namespace
