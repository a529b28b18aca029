//===- Autodiff.cpp - Reverse-mode differentiation of lmc models ----------===//
//
// Builds `<function>_grad`: the forward ops, then the backward pass emitted
// op by op in reverse through DifferentiableOpInterface. Gradients are
// accumulated per value (fan-out) and per parameter name (tying). The
// recompute policy decides which forward values the backward pass reads and
// which it recomputes.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/raw_ostream.h"

#define DEBUG_TYPE "lmc-autodiff"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCAUTODIFF
#include "lmc/Transforms/Training/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// Bytes of a value of `type` with dynamic dimensions bound to the batch
/// (the first one) and the sequence (the others).
int64_t bytesAt(Type type, int64_t batch, int64_t seq) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return 0;
  int64_t n = 1;
  bool sawDynamic = false;
  for (int64_t d : tensor.getShape()) {
    if (ShapedType::isDynamic(d)) {
      n *= sawDynamic ? seq : batch;
      sawDynamic = true;
    } else {
      n *= d;
    }
  }
  return n * static_cast<int64_t>(
                 tensor.getElementType().getIntOrFloatBitWidth() / 8);
}

/// Emits the backward pass of one function, in place after its forward ops.
class BackwardEmitter : public GradientBuilder {
public:
  BackwardEmitter(func::FuncOp func, Recompute policy)
      : func(func), policy(policy), b(func.getContext()) {}

  /// Emits the backward pass and rewrites the return to (loss, grads...).
  LogicalResult run(ModelOp model) {
    Block &body = func.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    Value loss = ret.getOperand(0);
    for (Operation &op : body.without_terminator())
      forwardOps.push_back(&op);
    markActive(loss);

    b.setInsertionPoint(ret);
    Value one = arith::ConstantOp::create(
        b, loss.getLoc(),
        DenseElementsAttr::get(
            cast<RankedTensorType>(loss.getType()),
            b.getFloatAttr(getElementTypeOrSelf(loss), 1.0)));
    adjoints[loss] = one;

    for (Operation *op : llvm::reverse(forwardOps)) {
      if (auto ref = dyn_cast<ParamRefOp>(op)) {
        if (Value g = adjoints.lookup(ref.getResult()))
          accumulate(paramGrads[ref.getNameAttr().getAttr()], g);
        continue;
      }
      if (llvm::none_of(op->getResults(),
                        [&](Value r) { return adjoints.count(r); }))
        continue;
      auto diff = dyn_cast<DifferentiableOpInterface>(op);
      if (!diff)
        return op->emitOpError("has no gradient rule, but the loss depends "
                               "on a parameter through it");
      current = op;
      if (failed(diff.buildGradient(*this)))
        return failure();
    }
    current = nullptr;

    // The new results: the loss, then one gradient per parameter.
    SmallVector<Value> results = {loss};
    SmallVector<Type> types = {loss.getType()};
    SmallVector<Attribute> resultAttrs = {b.getDictionaryAttr({})};
    for (ParamOp param : model.getParams()) {
      Value g = paramGrads.lookup(param.getSymNameAttr());
      if (!g)
        g = arith::ConstantOp::create(
            b, param.getLoc(),
            DenseElementsAttr::get(
                param.getTensorType(),
                b.getFloatAttr(param.getTensorType().getElementType(), 0.0)));
      results.push_back(g);
      types.push_back(g.getType());
      resultAttrs.push_back(b.getDictionaryAttr(
          b.getNamedAttr(LMCDialect::GradOfAttrHelper::getNameStr(),
                         FlatSymbolRefAttr::get(param.getSymNameAttr()))));
    }
    func::ReturnOp::create(b, ret.getLoc(), results);
    ret.erase();
    func.setFunctionType(
        b.getFunctionType(func.getFunctionType().getInputs(), types));
    func.setAllResultAttrs(resultAttrs);
    eraseDeadOps();
    return success();
  }

  /// Forward values (results of forward ops other than parameter references
  /// and constants) that backward ops read.
  SmallVector<Value> keptValues() {
    llvm::DenseSet<Operation *> fwd(forwardOps.begin(), forwardOps.end());
    SmallVector<Value> kept;
    for (Operation *op : forwardOps) {
      if (isa<ParamRefOp, arith::ConstantOp>(op))
        continue;
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *user) {
              return !fwd.contains(user) && !isa<func::ReturnOp>(user);
            }))
          kept.push_back(r);
    }
    return kept;
  }

  // GradientBuilder.
  OpBuilder &builder() override { return b; }
  Operation *op() override { return current; }

  Value forward(Value v) override {
    if (policy != Recompute::Block || isCheckpoint(v))
      return v;
    if (Value r = recomputed.lookupOrNull(v))
      return r;
    Operation *def = v.getDefiningOp();
    IRMapping mapping;
    for (Value operand : def->getOperands())
      mapping.map(operand, forward(operand));
    Operation *clone = b.clone(*def, mapping);
    for (auto [orig, copy] : llvm::zip(def->getResults(), clone->getResults()))
      recomputed.map(orig, copy);
    return recomputed.lookup(v);
  }

  Value resultGrad(unsigned i) override {
    Value r = current->getResult(i);
    if (Value g = adjoints.lookup(r))
      return g;
    return ZerosLikeOp::create(b, r.getLoc(), forward(r));
  }

  void addOperandGrad(unsigned i, Value grad) override {
    Value operand = current->getOperand(i);
    if (active.contains(operand))
      accumulate(adjoints[operand], grad);
  }

private:
  /// Values on a path from a parameter to the loss.
  void markActive(Value loss) {
    llvm::DenseSet<Value> fromParams;
    for (Operation *op : forwardOps) {
      bool varied =
          isa<ParamRefOp>(op) || llvm::any_of(op->getOperands(), [&](Value v) {
            return fromParams.contains(v);
          });
      if (varied)
        fromParams.insert(op->result_begin(), op->result_end());
    }
    SmallVector<Value> worklist = {loss};
    while (!worklist.empty()) {
      Value v = worklist.pop_back_val();
      if (!fromParams.contains(v) || !active.insert(v).second)
        continue;
      if (Operation *def = v.getDefiningOp())
        worklist.append(def->operand_begin(), def->operand_end());
    }
  }

  void accumulate(Value &slot, Value grad) {
    slot =
        slot ? AddOp::create(b, grad.getLoc(), slot, grad).getResult() : grad;
  }

  /// Values the `block` policy keeps: inputs, parameters, constants and the
  /// residual stream entering each normalisation (LayerNorm, RMSNorm: the
  /// ops with the LMC_Normalization trait, whose input is operand 0).
  bool isCheckpoint(Value v) {
    Operation *def = v.getDefiningOp();
    if (!def || isa<ParamRefOp, arith::ConstantOp>(def))
      return true;
    return llvm::any_of(v.getUses(), [&](OpOperand &use) {
      return use.getOwner()->hasTrait<OpTrait::lmc::Normalization>() &&
             use.getOperandNumber() == 0;
    });
  }

  /// Erases ops whose results are unused (forward values the loss and the
  /// gradients do not need, rule outputs for inactive operands).
  void eraseDeadOps() {
    SmallVector<Operation *> ops;
    for (Operation &op : func.getBody().front().without_terminator())
      ops.push_back(&op);
    llvm::DenseSet<Operation *> erased;
    for (Operation *op : llvm::reverse(ops))
      if (isOpTriviallyDead(op)) {
        erased.insert(op);
        op->erase();
      }
    llvm::erase_if(forwardOps,
                   [&](Operation *op) { return erased.contains(op); });
  }

  func::FuncOp func;
  Recompute policy;
  OpBuilder b;
  Operation *current = nullptr;
  SmallVector<Operation *> forwardOps;
  llvm::DenseSet<Value> active;
  llvm::DenseMap<Value, Value> adjoints;
  llvm::MapVector<StringAttr, Value> paramGrads;
  IRMapping recomputed;
};

struct LMCAutodiffPass : mlir::lmc::impl::LMCAutodiffBase<LMCAutodiffPass> {
  using Base::Base;

  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>())
      if (failed(differentiate(model, recompute)))
        return signalPassFailure();
  }

  LogicalResult differentiate(ModelOp model, Recompute policy) {
    auto fn = dyn_cast_or_null<func::FuncOp>(
        SymbolTable::lookupSymbolIn(model, function));
    if (!fn)
      return model.emitError("model @")
             << model.getSymName() << " has no function @" << function
             << " to differentiate";
    FunctionType type = fn.getFunctionType();
    auto lossType = type.getNumResults() == 1
                        ? dyn_cast<RankedTensorType>(type.getResult(0))
                        : RankedTensorType();
    if (!lossType || lossType.getRank() != 0 ||
        !isa<FloatType>(lossType.getElementType()))
      return fn.emitOpError("must return one scalar loss (a 0-d float "
                            "tensor) to be differentiated");
    if (!fn.getBody().hasOneBlock())
      return fn.emitOpError("must be a single block to be differentiated");
    std::string name = function + "_grad";
    // A body-less declaration (e.g. in a test driver that calls the
    // gradient) is replaced by the definition; its type must match.
    func::FuncOp declaration;
    if (Operation *existing = SymbolTable::lookupSymbolIn(model, name)) {
      declaration = dyn_cast<func::FuncOp>(existing);
      if (!declaration || !declaration.isExternal())
        return model.emitError("model @")
               << model.getSymName() << " already has a function @" << name;
    }

    OpBuilder b(model.getContext());
    b.setInsertionPointAfter(fn);
    auto grad = cast<func::FuncOp>(b.clone(*fn));
    grad.setSymName(name);

    if (attention == Attention::Flash) {
      // Float32 attention becomes flash_attention; its rule keeps q, k, v,
      // the output and lse, whatever the policy.
      SmallVector<CausalAttentionOp> ops;
      grad.walk([&](CausalAttentionOp op) {
        if (op.getType().getElementType().isF32())
          ops.push_back(op);
      });
      for (CausalAttentionOp op : ops) {
        OpBuilder ab(op);
        auto flash = FlashAttentionOp::create(
            ab, op.getLoc(), op.getQuery(), op.getKey(), op.getValue(),
            op.getHeads(), op.getNumKvHeads());
        op.getResult().replaceAllUsesWith(flash.getResult());
        op.erase();
      }
    }
    if (policy == Recompute::None) {
      // Keep the attention probabilities: decompose before differentiating.
      RewritePatternSet patterns(&getContext());
      populateDecomposeAttentionPatterns(patterns);
      if (failed(applyPatternsGreedily(grad, std::move(patterns))))
        return grad.emitOpError("cannot decompose attention");
    }

    BackwardEmitter emitter(grad, policy);
    if (failed(emitter.run(model)))
      return failure();
    if (declaration) {
      if (declaration.getFunctionType() != grad.getFunctionType())
        return declaration.emitOpError("declares @")
               << name << " as " << declaration.getFunctionType()
               << " but lmc-autodiff builds " << grad.getFunctionType();
      declaration.erase();
    }

    int64_t bytes = 0;
    SmallVector<Value> kept = emitter.keptValues();
    // Kept bytes as a polynomial in batch B and sequence T: coefficient k
    // multiplies B T^(k-1) (k >= 1), coefficient 0 is static. Recorded on
    // the model for later reports (lmc-shard's bytes per rank).
    SmallVector<int64_t> polynomial(1, 0);
    for (Value v : kept) {
      bytes += bytesAt(v.getType(), reportBatch, reportSeq);
      auto tensor = dyn_cast<RankedTensorType>(v.getType());
      if (!tensor)
        continue;
      int64_t size = tensor.getElementType().getIntOrFloatBitWidth() / 8;
      unsigned dynamic = 0;
      for (int64_t d : tensor.getShape())
        ShapedType::isDynamic(d) ? ++dynamic : size *= d;
      if (polynomial.size() <= dynamic)
        polynomial.resize(dynamic + 1, 0);
      polynomial[dynamic] += size;
    }
    model->setAttr(LMCDialect::ActivationBytesAttrHelper::getNameStr(),
                   DenseI64ArrayAttr::get(model.getContext(), polynomial));
    activationBytes += bytes;
    keptValues += kept.size();
    if (report)
      llvm::outs() << "lmc-autodiff @" << model.getSymName()
                   << " recompute=" << stringify(recompute) << ": "
                   << kept.size() << " values, " << bytes
                   << " bytes kept for the backward "
                   << "pass at batch " << reportBatch << ", sequence "
                   << reportSeq << "\n";
    return success();
  }
};

} // namespace
