//===- GradAccumulation.cpp - Split the step for gradient accumulation ----===//
//
// lmc-grad-accumulation: from the (partitioned) @train_step, builds
//
//   @grad_step(params..., grad_acc..., tokens, targets)
//       -> (loss, grad_acc + gradient...)
//   @apply_step(params..., exp_avg..., exp_avg_sq..., grad_acc..., scale,
//               hyperparameters...) -> (grad_norm, lr, params...,
//               exp_avg..., exp_avg_sq...)
//
// The gradient of a parameter is the value its lmc.adamw reads (after
// lmc-shard: the mean over dp, or under ZeRO-1 this rank's reduce-scattered
// piece, so grad_acc has the layout of the optimizer state). grad_step is
// what computes the loss and these gradients (the forward and backward
// passes and their collectives), adding the gradients to grad_acc;
// apply_step is the rest of the step on grad_acc, whose norm it scales by
// `scale` (1/K for K micro-batches) and whose update it scales by `scale`
// times the clipping coefficient (lmc.adamw's grad_scale), so that
// grad_step K times then apply_step compute the step of the K times larger
// batch. What both need and does not depend on the batch (constants, axis
// indices) is built in both. train_step stays as it is.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

#define DEBUG_TYPE "lmc-grad-accumulation"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCGRADACCUMULATION
#include "lmc/Transforms/Training/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// The values defined outside `op` that `op` or its regions read.
SmallVector<Value> readsOf(Operation *op) {
  SmallVector<Value> values(op->getOperands());
  op->walk([&](Operation *nested) {
    if (nested == op)
      return;
    for (Value v : nested->getOperands())
      if (!op->isAncestor(v.getParentBlock()->getParentOp()))
        values.push_back(v);
  });
  return values;
}

struct LMCGradAccumulationPass
    : mlir::lmc::impl::LMCGradAccumulationBase<LMCGradAccumulationPass> {
  using Base::Base;

  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>())
      if (func::FuncOp train = model.getTrainStep())
        if (failed(split(model, train)))
          return signalPassFailure();
  }

  LogicalResult split(ModelOp model, func::FuncOp train) {
    for (StringRef name : {"grad_step", "apply_step"})
      if (model.getFunction(name))
        return model.emitError("model @")
               << model.getSymName() << " already has a function @" << name;
    Block &body = train.getBody().front();
    unsigned numArgs = train.getNumArguments();
    StringRef paramAttr = LMCDialect::ParamAttrHelper::getNameStr();
    StringRef stateAttr = LMCDialect::StateAttrHelper::getNameStr();
    StringRef hparamAttr = LMCDialect::HparamAttrHelper::getNameStr();
    // train_step's arguments: n parameters, n exp_avg, n exp_avg_sq, the
    // hyperparameters, then the batch.
    unsigned n = 0, numHParams = 0;
    for (unsigned i = 0; i < numArgs; ++i) {
      if (train.getArgAttr(i, paramAttr) && !train.getArgAttr(i, stateAttr))
        ++n;
      if (train.getArgAttr(i, hparamAttr))
        ++numHParams;
    }
    unsigned batchBegin = 3 * n + numHParams;
    if (n == 0 || batchBegin > numArgs)
      return train.emitOpError("lmc-grad-accumulation: not a training step "
                               "of lmc-optimizer");
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    auto lossRead = ret.getOperand(0).getDefiningOp<tensor::ExtractOp>();
    if (!lossRead || ret.getNumOperands() != 3 + 3 * n)
      return train.emitOpError("lmc-grad-accumulation: expected (loss, norm, "
                               "lr, state...) results, the loss read from a "
                               "tensor");
    Value norm = ret.getOperand(1);

    // Each parameter's gradient: what its update reads.
    SmallVector<Value> grads(n);
    SmallVector<AdamWOp> updates;
    for (AdamWOp op : body.getOps<AdamWOp>()) {
      Value param = op.getParam();
      while (auto slice = param.getDefiningOp<tensor::ExtractSliceOp>())
        param = slice.getSource();
      auto arg = dyn_cast<BlockArgument>(param);
      if (!arg || arg.getOwner() != &body || arg.getArgNumber() >= n ||
          grads[arg.getArgNumber()])
        return op.emitOpError("lmc-grad-accumulation: expected one update "
                              "per parameter argument");
      grads[arg.getArgNumber()] = op.getGrad();
      updates.push_back(op);
    }
    for (auto [i, g] : llvm::enumerate(grads))
      if (!g)
        return train.emitOpError("lmc-grad-accumulation: no update of "
                                 "parameter argument ")
               << i;

    // The ops of the gradient: those the loss and the gradients need.
    llvm::DenseSet<Operation *> gradOps;
    SmallVector<Value> work(grads.begin(), grads.end());
    work.push_back(lossRead.getTensor());
    while (!work.empty()) {
      Value v = work.pop_back_val();
      if (auto arg = dyn_cast<BlockArgument>(v)) {
        if (arg.getOwner() == &body && arg.getArgNumber() >= n &&
            arg.getArgNumber() < batchBegin)
          return train.emitOpError("lmc-grad-accumulation: the gradient "
                                   "reads optimizer state or a "
                                   "hyperparameter (argument ")
                 << arg.getArgNumber() << ")";
        continue;
      }
      Operation *def = body.findAncestorOpInBlock(*v.getDefiningOp());
      if (!def || !gradOps.insert(def).second)
        continue;
      llvm::append_range(work, readsOf(def));
    }
    // Ops that depend on the batch: the gradient's only crossing values are
    // the gradients and the loss.
    llvm::DenseSet<Value> crossing(grads.begin(), grads.end());
    llvm::DenseSet<Value> onBatch(body.args_begin() + batchBegin,
                                  body.args_end());
    llvm::DenseSet<Operation *> batchOps;
    for (Operation &op : body.without_terminator())
      if (llvm::any_of(readsOf(&op),
                       [&](Value v) { return onBatch.contains(v); })) {
        batchOps.insert(&op);
        for (Value r : op.getResults())
          if (!crossing.contains(r))
            onBatch.insert(r);
      }

    // The ops of the update: what its results need, from the gradients on;
    // none may depend on the batch otherwise.
    llvm::DenseSet<Operation *> applyOps;
    SmallVector<Value> applyWork(ret.getOperands().drop_front(1));
    while (!applyWork.empty()) {
      Value v = applyWork.pop_back_val();
      if (crossing.contains(v) || isa<BlockArgument>(v))
        continue;
      Operation *def = body.findAncestorOpInBlock(*v.getDefiningOp());
      if (!def || !applyOps.insert(def).second)
        continue;
      if (batchOps.contains(def))
        return def->emitOpError("lmc-grad-accumulation: the update reads a "
                                "value of the batch other than a gradient");
      llvm::append_range(applyWork, readsOf(def));
    }

    OpBuilder mb(model.getContext());
    mb.setInsertionPointAfter(train);
    Location loc = train.getLoc();
    auto argAttrs = [&](unsigned i) {
      return train.getArgAttrDict(i) ? train.getArgAttrDict(i)
                                     : mb.getDictionaryAttr({});
    };
    // The accumulated gradients carry no attribute: lmc.param and lmc.state
    // name parameters and optimizer state.
    auto accAttrs = [&](unsigned) { return mb.getDictionaryAttr({}); };

    // @grad_step(params..., grad_acc..., batch...) -> (loss, grad_acc...).
    {
      SmallVector<Type> inputs, results = {lossRead.getType()};
      SmallVector<DictionaryAttr> attrs, resultAttrs = {
          mb.getDictionaryAttr({mb.getNamedAttr(
              LMCDialect::OutputAttrHelper::getNameStr(),
              mb.getStringAttr("loss"))})};
      for (unsigned i = 0; i < n; ++i) {
        inputs.push_back(train.getArgument(i).getType());
        attrs.push_back(argAttrs(i));
      }
      for (unsigned i = 0; i < n; ++i) {
        inputs.push_back(grads[i].getType());
        attrs.push_back(accAttrs(i));
        results.push_back(grads[i].getType());
        resultAttrs.push_back(accAttrs(i));
      }
      for (unsigned i = batchBegin; i < numArgs; ++i) {
        inputs.push_back(train.getArgument(i).getType());
        attrs.push_back(argAttrs(i));
      }
      auto fn = func::FuncOp::create(mb, loc, "grad_step",
                                     mb.getFunctionType(inputs, results));
      fn.setAllArgAttrs(attrs);
      fn.setAllResultAttrs(resultAttrs);
      Block *entry = fn.addEntryBlock();
      IRMapping mapping;
      for (unsigned i = 0; i < n; ++i)
        mapping.map(train.getArgument(i), entry->getArgument(i));
      for (unsigned i = batchBegin; i < numArgs; ++i)
        mapping.map(train.getArgument(i),
                    entry->getArgument(2 * n + (i - batchBegin)));
      OpBuilder b = OpBuilder::atBlockEnd(entry);
      for (Operation &op : body.without_terminator())
        if (gradOps.contains(&op))
          b.clone(op, mapping);
      SmallVector<Value> rets = {
          tensor::ExtractOp::create(b, loc,
                                    mapping.lookup(lossRead.getTensor()))};
      for (unsigned i = 0; i < n; ++i)
        rets.push_back(AddOp::create(b, loc, entry->getArgument(n + i),
                                     mapping.lookup(grads[i])));
      func::ReturnOp::create(b, loc, rets);
      mb.setInsertionPointAfter(fn);
    }

    // @apply_step(params..., exp_avg..., exp_avg_sq..., grad_acc..., scale,
    //             hyperparameters...) -> (norm, lr, state...).
    {
      SmallVector<Type> inputs;
      SmallVector<DictionaryAttr> attrs;
      for (unsigned i = 0; i < 3 * n; ++i) {
        inputs.push_back(train.getArgument(i).getType());
        attrs.push_back(argAttrs(i));
      }
      for (unsigned i = 0; i < n; ++i) {
        inputs.push_back(grads[i].getType());
        attrs.push_back(accAttrs(i));
      }
      Type floatType = norm.getType();
      inputs.push_back(floatType);
      attrs.push_back(mb.getDictionaryAttr(
          {mb.getNamedAttr(hparamAttr, mb.getStringAttr("grad_scale"))}));
      for (unsigned i = 3 * n; i < batchBegin; ++i) {
        inputs.push_back(train.getArgument(i).getType());
        attrs.push_back(argAttrs(i));
      }
      SmallVector<Type> results(
          TypeRange(ret.getOperandTypes()).drop_front(1));
      SmallVector<DictionaryAttr> resultAttrs;
      for (unsigned i = 1; i < ret.getNumOperands(); ++i)
        resultAttrs.push_back(train.getResultAttrDict(i)
                                  ? train.getResultAttrDict(i)
                                  : mb.getDictionaryAttr({}));
      auto fn = func::FuncOp::create(mb, loc, "apply_step",
                                     mb.getFunctionType(inputs, results));
      fn.setAllArgAttrs(attrs);
      fn.setAllResultAttrs(resultAttrs);
      Block *entry = fn.addEntryBlock();
      Value scale = entry->getArgument(4 * n);
      IRMapping mapping;
      for (unsigned i = 0; i < 3 * n; ++i)
        mapping.map(train.getArgument(i), entry->getArgument(i));
      for (unsigned i = 0; i < n; ++i)
        mapping.map(grads[i], entry->getArgument(3 * n + i));
      for (unsigned i = 3 * n; i < batchBegin; ++i)
        mapping.map(train.getArgument(i),
                    entry->getArgument(4 * n + 1 + (i - 3 * n)));
      OpBuilder b = OpBuilder::atBlockEnd(entry);
      // The norm of grad_acc times scale is the norm of the mean gradient;
      // every use of the norm reads that.
      Value scaledNorm;
      for (Operation &op : body.without_terminator()) {
        if (!applyOps.contains(&op))
          continue;
        b.clone(op, mapping);
        if (!scaledNorm && llvm::is_contained(op.getResults(), norm)) {
          scaledNorm =
              arith::MulFOp::create(b, loc, mapping.lookup(norm), scale);
          mapping.map(norm, scaledNorm);
        }
      }
      if (!scaledNorm)
        return train.emitOpError("lmc-grad-accumulation: the gradient norm "
                                 "is not computed in the update");
      // Each update reads grad_acc: its gradient scale times `scale`.
      llvm::DenseMap<Value, Value> scaled;
      fn.walk([&](AdamWOp op) {
        Value s = op.getGradScale();
        Value &product = scaled[s];
        if (!product) {
          OpBuilder sb(op);
          if (Operation *def = s.getDefiningOp())
            sb.setInsertionPointAfter(def);
          else
            sb.setInsertionPointToStart(entry);
          product = arith::MulFOp::create(sb, loc, s, scale);
        }
        op.getGradScaleMutable().assign(product);
      });
      SmallVector<Value> rets;
      for (Value v : ret.getOperands().drop_front(1))
        rets.push_back(mapping.lookup(v));
      func::ReturnOp::create(b, loc, rets);
    }
    return success();
  }
};

} // namespace
