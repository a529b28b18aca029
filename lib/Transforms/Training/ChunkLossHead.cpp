//===- ChunkLossHead.cpp - The LM head and its loss in row chunks ---------===//
//
// lmc-chunk-loss-head: replaces a training step's LM head matmul, its
// cross-entropy, the cross-entropy's gradient and the two matmuls of the
// head's gradient by one lmc.chunked_head_loss, which the CPU runtime
// computes a block of rows at a time, so that the [B*T, V] logits and their
// gradient are never stored whole. Patterns it does not recognise are left
// alone. See the pass description in
// include/lmc/Transforms/Training/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "lmc-chunk-loss-head"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCCHUNKLOSSHEAD
#include "lmc/Transforms/Training/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// `v`, or the input of the lmc.flatten that defines it.
Value throughFlatten(Value v) {
  if (auto flatten = v.getDefiningOp<FlattenOp>())
    return flatten.getInput();
  return v;
}

/// True when `a` and `b` compute the same value: the same value, or the
/// results of two equivalent pure ops (same name, attributes and operands,
/// no regions): a value that the backward pass recomputes (`lmc-autodiff
/// {recompute=block}` recomputes the final norm and the head).
bool sameValue(Value a, Value b) {
  if (a == b)
    return true;
  Operation *x = a.getDefiningOp(), *y = b.getDefiningOp();
  auto result = dyn_cast<OpResult>(a);
  return x && y && x != y && x->getNumRegions() == 0 &&
         isMemoryEffectFree(x) && isMemoryEffectFree(y) &&
         result.getResultNumber() == cast<OpResult>(b).getResultNumber() &&
         OperationEquivalence::isEquivalentTo(
             x, y, OperationEquivalence::IgnoreLocations);
}

/// The ops of one LM head and loss. `lossHead` is `head`, or the matmul
/// whose logits the loss reads when the backward pass recomputed the head
/// (then the loss, its logits and their input are replaced at the gradient).
struct HeadPattern {
  MatmulOp head;
  MatmulOp lossHead;
  CrossEntropyOp loss;
  CrossEntropyGradOp grad;
  MatmulOp inputGrad;
  MatmulOp weightGrad;
};

/// Why `grad` is not the gradient of an LM head and loss that one
/// lmc.chunked_head_loss computes, or the pattern.
FailureOr<HeadPattern> match(CrossEntropyGradOp grad) {
  auto skip = [&](StringRef why) {
    LLVM_DEBUG(llvm::dbgs() << "skipped at " << grad.getLoc() << ": " << why
                            << "\n");
    return failure();
  };
  HeadPattern p;
  p.grad = grad;
  TypedValue<RankedTensorType> logits = grad.getLogits();
  if (!logits.getType().getElementType().isF32() ||
      !grad.getTargets().getType().getElementType().isInteger(32))
    return skip("not float32 logits and int32 targets");
  p.head = logits.getDefiningOp<MatmulOp>();
  if (!p.head || p.head.getTransposeA() ||
      p.head.getRhs().getType().getRank() != 2 ||
      p.head.getLhs().getType().getRank() != logits.getType().getRank())
    return skip("the logits are not the product of an input and a matrix");
  Value x = p.head.getLhs(), w = p.head.getRhs();
  bool tb = p.head.getTransposeB();
  // The logits feed the loss and its gradient, nothing else.
  for (Operation *user : logits.getUsers()) {
    if (user == grad.getOperation())
      continue;
    auto loss = dyn_cast<CrossEntropyOp>(user);
    if (!loss || p.loss || loss.getTargets() != grad.getTargets() ||
        loss.getClasses() != grad.getClasses() || loss.getLogits() != logits)
      return skip("the logits have other readers");
    p.loss = loss;
  }
  if (!p.loss) {
    // A recomputed head: the loss reads logits of the same matmul of the
    // same (or a recomputed) input, which feed nothing else.
    for (Operation *user : grad.getTargets().getUsers()) {
      auto loss = dyn_cast<CrossEntropyOp>(user);
      if (!loss || loss.getTargets() != grad.getTargets() ||
          loss.getClasses() != grad.getClasses())
        continue;
      auto other = loss.getLogits().getDefiningOp<MatmulOp>();
      if (!other || !loss.getLogits().hasOneUse() ||
          other.getRhs() != w || other.getTransposeA() ||
          other.getTransposeB() != tb || other.getType() != p.head.getType() ||
          !sameValue(other.getLhs(), x))
        continue;
      if (p.loss)
        return skip("two losses of recomputed logits");
      p.loss = loss;
      p.lossHead = other;
    }
  } else {
    p.lossHead = p.head;
  }
  if (!p.loss || grad.getLogits() != logits ||
      llvm::count(grad->getOperands(), logits) != 1)
    return skip("no cross_entropy of the same logits and targets");
  // The gradient feeds the two matmuls of the head's rule (the weight's
  // through lmc.flatten for a batch of rows), nothing else.
  for (OpOperand &use : grad.getResult().getUses()) {
    Operation *user = use.getOwner();
    if (auto flatten = dyn_cast<FlattenOp>(user)) {
      if (!flatten->hasOneUse())
        return skip("the flattened gradient has other readers");
      user = *flatten->user_begin();
    }
    auto mm = dyn_cast<MatmulOp>(user);
    if (!mm)
      return skip("the logits' gradient has other readers");
    Value lhs = throughFlatten(mm.getLhs()), rhs = throughFlatten(mm.getRhs());
    if (mm.getLhs() == grad.getResult() && mm.getRhs() == w &&
        !mm.getTransposeA() && mm.getTransposeB() == !tb && !p.inputGrad &&
        mm.getType() == x.getType()) {
      p.inputGrad = mm;
      continue;
    }
    bool weightGrad =
        mm.getTransposeA() && !mm.getTransposeB() && !p.weightGrad &&
        mm.getType() == w.getType() &&
        (tb ? (lhs == grad.getResult() && rhs == x)
            : (lhs == x && rhs == grad.getResult()));
    if (!weightGrad)
      return skip("the logits' gradient has other readers");
    p.weightGrad = mm;
  }
  if (!p.inputGrad || !p.weightGrad)
    return skip("not both gradients of the head");
  return p;
}

struct LMCChunkLossHeadPass
    : mlir::lmc::impl::LMCChunkLossHeadBase<LMCChunkLossHeadPass> {
  using LMCChunkLossHeadBase::LMCChunkLossHeadBase;

  void runOnOperation() override {
    if (rows < 1) {
      emitError(getOperation().getLoc(), "lmc-chunk-loss-head: rows must be "
                                         "at least 1, got ")
          << static_cast<int64_t>(rows);
      return signalPassFailure();
    }
    SmallVector<CrossEntropyGradOp> grads;
    getOperation().walk([&](CrossEntropyGradOp op) { grads.push_back(op); });
    DominanceInfo dominance(getOperation());
    for (CrossEntropyGradOp grad : grads) {
      FailureOr<HeadPattern> p = match(grad);
      if (succeeded(p))
        rewrite(*p, dominance);
    }
  }

  /// Puts the lmc.chunked_head_loss where the loss was, if every value it
  /// reads is available there and everything that reads the gradients comes
  /// after it.
  void rewrite(HeadPattern &p, DominanceInfo &dominance) {
    // At the loss; with a recomputed head at the gradient, where the
    // recomputed input is, if nothing reads the loss before.
    Operation *at = p.loss;
    if (p.lossHead != p.head) {
      at = p.grad;
      for (Operation *user : p.loss->getUsers())
        if (!dominance.properlyDominates(at, user)) {
          LLVM_DEBUG(llvm::dbgs() << "skipped at " << p.grad.getLoc()
                                  << ": the loss is read before the "
                                     "recomputed head\n");
          return;
        }
    }
    Value seed = p.grad.getGrad();
    OpBuilder b(at);
    if (!dominance.properlyDominates(seed, at)) {
      // A constant seed (the loss's own gradient, 1) is cloned to the loss.
      if (!matchPattern(seed, m_Constant()) || !seed.getDefiningOp() ||
          seed.getDefiningOp()->getNumOperands() != 0) {
        LLVM_DEBUG(llvm::dbgs() << "skipped at " << p.grad.getLoc()
                                << ": the seed is computed after the loss\n");
        return;
      }
      seed = b.clone(*seed.getDefiningOp())->getResult(0);
    }
    for (MatmulOp mm : {p.inputGrad, p.weightGrad})
      for (Operation *user : mm->getUsers())
        if (!dominance.properlyDominates(at, user)) {
          LLVM_DEBUG(llvm::dbgs() << "skipped at " << p.grad.getLoc()
                                  << ": a gradient is read before the loss\n");
          return;
        }
    auto fused = ChunkedHeadLossOp::create(
        b, p.grad.getLoc(), p.head.getLhs(), p.head.getRhs(),
        p.loss.getTargets(), seed,
        p.head.getTransposeB() ? b.getUnitAttr() : UnitAttr(),
        p.loss.getClassesAttr(), b.getI64IntegerAttr(rows));
    p.loss.getResult().replaceAllUsesWith(fused.getLoss());
    p.inputGrad.getResult().replaceAllUsesWith(fused.getInputGrad());
    p.weightGrad.getResult().replaceAllUsesWith(fused.getWeightGrad());
    SmallVector<Operation *> flattens;
    for (Value v : {p.weightGrad.getLhs(), p.weightGrad.getRhs()})
      if (auto flatten = v.getDefiningOp<FlattenOp>())
        flattens.push_back(flatten);
    p.weightGrad->erase();
    for (Operation *flatten : flattens)
      if (flatten->use_empty())
        flatten->erase();
    p.inputGrad->erase();
    Operation *seedDef = p.grad.getGrad().getDefiningOp();
    p.grad->erase();
    if (seedDef && seed.getDefiningOp() != seedDef && seedDef->use_empty())
      seedDef->erase();
    p.loss->erase();
    if (p.head->use_empty())
      p.head->erase();
    if (p.lossHead != p.head) {
      // The forward's copy of the head and of its input, if nothing else
      // reads them.
      Operation *input = p.lossHead.getLhs().getDefiningOp();
      if (p.lossHead->use_empty())
        p.lossHead->erase();
      if (input && input->use_empty() && isMemoryEffectFree(input))
        input->erase();
    }
    ++numRewritten;
  }
};

} // namespace
