//===- EmbeddingGradAccumulate.cpp - Tied head gradient into the scatter --===//
//
// lmc-embedding-grad-accumulate: folds the lmc.add of a tied LM head's
// weight gradient and the embedding gradient into the embedding gradient
// (`into`), so the table gradient is neither zeroed nor summed in a pass of
// its own. See the pass description in
// include/lmc/Transforms/Fusion/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "lmc-embedding-grad-accumulate"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCEMBEDDINGGRADACCUMULATE
#include "lmc/Transforms/Fusion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// The embedding gradient among `add`'s operands that can take the other
/// one as its accumulator, or null.
EmbeddingGradOp foldableScatter(AddOp add, Value &other) {
  for (unsigned i = 0; i < 2; ++i) {
    auto scatter = add->getOperand(i).getDefiningOp<EmbeddingGradOp>();
    if (!scatter || scatter.getAcc() || !scatter->hasOneUse())
      continue;
    other = add->getOperand(1 - i);
    if (other.getType() != add.getType() ||
        scatter.getType() != add.getType() || other == scatter.getResult())
      continue;
    return scatter;
  }
  return nullptr;
}

struct LMCEmbeddingGradAccumulatePass
    : mlir::lmc::impl::LMCEmbeddingGradAccumulateBase<
          LMCEmbeddingGradAccumulatePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp add) { adds.push_back(add); });
    for (AddOp add : adds) {
      Value other;
      EmbeddingGradOp scatter = foldableScatter(add, other);
      if (!scatter)
        continue;
      // The accumulator must exist where the scatter runs: the new op takes
      // the add's place, after both operands.
      OpBuilder b(add);
      auto folded = EmbeddingGradOp::create(b, scatter.getLoc(), add.getType(),
                                            scatter.getGrad(), scatter.getIds(),
                                            scatter.getOffset(), other);
      LLVM_DEBUG(llvm::dbgs() << "folded " << add << "\n");
      add.replaceAllUsesWith(folded.getResult());
      add.erase();
      scatter.erase();
    }
  }
};

} // namespace
