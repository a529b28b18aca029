//===- Optimizer.cpp - AdamW training step, eval step, logits -------------===//
//
// Builds the functions a trainer calls, with parameters and optimizer state
// as arguments: train_step (gradient, global norm, clipping, learning-rate
// schedule, AdamW), eval_step and logits.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <numeric>

#define DEBUG_TYPE "lmc-optimizer"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCOPTIMIZER
#include "lmc/Transforms/Training/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

enum class DecayOn { Matrices, All, None };

/// The hyperparameter arguments of train_step, after the state.
struct HParam {
  const char *name;
  bool isInteger;
};
constexpr HParam kHParams[] = {{"step", true},          {"lr", false},
                               {"min_lr", false},       {"warmup", true},
                               {"decay_steps", true},   {"beta1", false},
                               {"beta2", false},        {"eps", false},
                               {"weight_decay", false}, {"grad_clip", false}};
constexpr unsigned kNumHParams = sizeof(kHParams) / sizeof(kHParams[0]);

/// Clones the body of `src` (without its return) into `b`'s block, with
/// parameter references replaced by `paramArgs` (by name) and the arguments
/// of `src` mapped as in `mapping`. Ops that read an unmapped value are
/// skipped, and so are their users. Returns the mapped return operands
/// (null where skipped).
SmallVector<Value> cloneBody(OpBuilder &b, func::FuncOp src,
                             const llvm::DenseMap<StringAttr, Value> &paramArgs,
                             IRMapping &mapping) {
  Block &body = src.getBody().front();
  for (Operation &op : body.without_terminator()) {
    if (auto ref = dyn_cast<ParamRefOp>(op)) {
      mapping.map(ref.getResult(),
                  paramArgs.lookup(ref.getNameAttr().getAttr()));
      continue;
    }
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return !mapping.contains(v); }))
      continue;
    b.clone(op, mapping);
  }
  SmallVector<Value> results;
  for (Value v : body.getTerminator()->getOperands())
    results.push_back(mapping.lookupOrNull(v));
  return results;
}

void eraseDeadOps(func::FuncOp func) {
  SmallVector<Operation *> ops;
  for (Operation &op : func.getBody().front().without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (isOpTriviallyDead(op))
      op->erase();
}

DictionaryAttr attrs(OpBuilder &b, ArrayRef<NamedAttribute> list) {
  return b.getDictionaryAttr(list);
}

struct LMCOptimizerPass : mlir::lmc::impl::LMCOptimizerBase<LMCOptimizerPass> {
  using Base::Base;

  void runOnOperation() override {
    std::optional<DecayOn> decay =
        llvm::StringSwitch<std::optional<DecayOn>>(weightDecayOn)
            .Case("matrices", DecayOn::Matrices)
            .Case("all", DecayOn::All)
            .Case("none", DecayOn::None)
            .Default(std::nullopt);
    if (!decay) {
      getOperation().emitError("lmc-optimizer: weight-decay-on must be "
                               "matrices, all or none, got '")
          << weightDecayOn << "'";
      return signalPassFailure();
    }
    decayOn = *decay;
    for (ModelOp model : getOperation().getOps<ModelOp>())
      if (failed(buildModelFunctions(model)))
        return signalPassFailure();
  }

  LogicalResult buildModelFunctions(ModelOp model) {
    func::FuncOp forward = model.getForward();
    auto grad = dyn_cast_or_null<func::FuncOp>(
        SymbolTable::lookupSymbolIn(model, gradFunction));
    if (!forward || !grad)
      return model.emitError("model @")
             << model.getSymName() << " needs @forward and @" << gradFunction
             << " (run lmc-autodiff first)";
    // A body-less declaration of one of the functions (e.g. in a test
    // driver that calls it) is replaced by the definition built here.
    for (StringRef name : ModelOp::getEntryFunctionNames()) {
      Operation *existing = SymbolTable::lookupSymbolIn(model, name);
      auto decl = dyn_cast_or_null<func::FuncOp>(existing);
      if (existing && !(decl && decl.isExternal()))
        return model.emitError("model @")
               << model.getSymName() << " already has a function @" << name;
      if (decl)
        declarations[decl.getSymNameAttr()] = decl;
    }
    params = llvm::to_vector(model.getParams());
    if (grad.getFunctionType().getNumResults() != params.size() + 1)
      return grad.emitOpError("must return the loss and one gradient per "
                              "parameter");
    if (grad.getFunctionType().getInputs() !=
        forward.getFunctionType().getInputs())
      return grad.emitError("@")
             << gradFunction
             << " must take the arguments of @forward (tokens, targets), got "
             << grad.getFunctionType().getInputs();
    floatType = cast<FloatType>(
        getElementTypeOrSelf(forward.getFunctionType().getResult(0)));
    for (ParamOp param : params)
      if (param.getTensorType().getElementType() != floatType)
        return param.emitError("parameter @")
               << param.getSymName() << " has element type "
               << param.getTensorType().getElementType() << " but the loss is "
               << floatType
               << "; lmc-optimizer needs one float type for parameters, "
                  "state and hyperparameters";

    OpBuilder b(model.getContext());
    b.setInsertionPointToEnd(&model.getBody().front());
    if (failed(buildTrainStep(b, forward, grad)) ||
        failed(buildEvalStep(b, forward)) || failed(buildLogits(b, forward)))
      return failure();
    return failure(declarationMismatch);
  }

  bool decays(ParamOp param) {
    switch (decayOn) {
    case DecayOn::All:
      return true;
    case DecayOn::None:
      return false;
    case DecayOn::Matrices:
      return param.getTensorType().getRank() >= 2;
    }
    return false;
  }

  /// Adds the parameter arguments (and their attributes) of a new function.
  void addParamArgs(SmallVectorImpl<Type> &types,
                    SmallVectorImpl<DictionaryAttr> &argAttrs, OpBuilder &b,
                    StringRef state = "") {
    for (ParamOp param : params) {
      types.push_back(param.getTensorType());
      SmallVector<NamedAttribute> list = {
          b.getNamedAttr(LMCDialect::ParamAttrHelper::getNameStr(),
                         FlatSymbolRefAttr::get(param.getSymNameAttr()))};
      if (!state.empty())
        list.push_back(b.getNamedAttr(LMCDialect::StateAttrHelper::getNameStr(),
                                      b.getStringAttr(state)));
      argAttrs.push_back(attrs(b, list));
    }
  }

  func::FuncOp createFunc(OpBuilder &b, Location loc, StringRef name,
                          ArrayRef<Type> inputs, ArrayRef<Type> results,
                          ArrayRef<DictionaryAttr> argAttrs,
                          ArrayRef<DictionaryAttr> resultAttrs) {
    auto func =
        func::FuncOp::create(b, loc, name, b.getFunctionType(inputs, results));
    if (func::FuncOp decl = declarations.lookup(func.getSymNameAttr())) {
      if (decl.getFunctionType() != func.getFunctionType()) {
        decl.emitOpError("declares @")
            << name << " as " << decl.getFunctionType()
            << " but lmc-optimizer builds " << func.getFunctionType();
        declarationMismatch = true;
      }
      decl.erase();
      declarations.erase(func.getSymNameAttr());
    }
    func.setAllArgAttrs(argAttrs);
    if (!resultAttrs.empty())
      func.setAllResultAttrs(resultAttrs);
    func.addEntryBlock();
    return func;
  }

  LogicalResult buildTrainStep(OpBuilder &mb, func::FuncOp forward,
                               func::FuncOp grad) {
    Location loc = grad.getLoc();
    size_t n = params.size();
    SmallVector<Type> inputs;
    SmallVector<DictionaryAttr> argAttrs;
    addParamArgs(inputs, argAttrs, mb);
    addParamArgs(inputs, argAttrs, mb, "exp_avg");
    addParamArgs(inputs, argAttrs, mb, "exp_avg_sq");
    for (const HParam &hp : kHParams) {
      inputs.push_back(hp.isInteger ? Type(mb.getI64Type()) : floatType);
      argAttrs.push_back(
          attrs(mb, {mb.getNamedAttr(LMCDialect::HparamAttrHelper::getNameStr(),
                                     mb.getStringAttr(hp.name))}));
    }
    for (Type t : forward.getFunctionType().getInputs()) {
      inputs.push_back(t);
      argAttrs.push_back(mb.getDictionaryAttr({}));
    }
    SmallVector<Type> results = {floatType, floatType, floatType};
    StringRef output = LMCDialect::OutputAttrHelper::getNameStr();
    SmallVector<DictionaryAttr> resultAttrs = {
        attrs(mb, {mb.getNamedAttr(output, mb.getStringAttr("loss"))}),
        attrs(mb, {mb.getNamedAttr(output, mb.getStringAttr("grad_norm"))}),
        attrs(mb, {mb.getNamedAttr(output, mb.getStringAttr("lr"))})};
    addParamArgs(results, resultAttrs, mb);
    addParamArgs(results, resultAttrs, mb, "exp_avg");
    addParamArgs(results, resultAttrs, mb, "exp_avg_sq");
    func::FuncOp step = createFunc(mb, loc, ModelOp::getTrainStepName(), inputs,
                                   results, argAttrs, resultAttrs);

    Block *entry = &step.getBody().front();
    OpBuilder b = OpBuilder::atBlockEnd(entry);
    auto args = entry->getArguments();
    auto p = args.slice(0, n), m = args.slice(n, n), v = args.slice(2 * n, n);
    auto hp = [&](StringRef name) -> Value {
      for (unsigned i = 0; i < kNumHParams; ++i)
        if (name == kHParams[i].name)
          return args[3 * n + i];
      llvm_unreachable("unknown hyperparameter");
    };
    IRMapping mapping;
    for (auto [from, to] :
         llvm::zip(grad.getArguments(), args.drop_front(3 * n + kNumHParams)))
      mapping.map(from, to);
    llvm::DenseMap<StringAttr, Value> paramArgs;
    for (auto [param, arg] : llvm::zip(params, p))
      paramArgs[param.getSymNameAttr()] = arg;
    SmallVector<Value> lossAndGrads = cloneBody(b, grad, paramArgs, mapping);
    if (llvm::is_contained(lossAndGrads, Value()))
      return grad.emitOpError("could not be cloned into train_step");

    auto cst = [&](double x) -> Value {
      return arith::ConstantOp::create(b, loc, b.getFloatAttr(floatType, x));
    };
    Value loss = tensor::ExtractOp::create(b, loc, lossAndGrads[0]);

    // Global gradient norm, before clipping.
    Value sumSq = cst(0.0);
    for (Value g : ArrayRef<Value>(lossAndGrads).drop_front()) {
      int64_t rank = cast<RankedTensorType>(g.getType()).getRank();
      SmallVector<int64_t> all(rank);
      std::iota(all.begin(), all.end(), 0);
      Value sq = ReduceSumOp::create(b, loc, MulOp::create(b, loc, g, g), all);
      sumSq = arith::AddFOp::create(b, loc, sumSq,
                                    tensor::ExtractOp::create(b, loc, sq));
    }
    Value norm = math::SqrtOp::create(b, loc, sumSq);

    // Clipping: scale by min(1, clip / (norm + 1e-6)) when clip > 0.
    Value clip = hp("grad_clip");
    Value coef = arith::MinimumFOp::create(
        b, loc, cst(1.0),
        arith::DivFOp::create(b, loc, clip,
                              arith::AddFOp::create(b, loc, norm, cst(1e-6))));
    Value clipOn = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                         clip, cst(0.0));
    Value gradScale = arith::SelectOp::create(b, loc, clipOn, coef, cst(1.0));

    // Learning rate: linear warm-up, then cosine decay to min_lr.
    Value stepI = hp("step"), warmupI = hp("warmup"),
          decayI = hp("decay_steps");
    auto toFloat = [&](Value i) -> Value {
      return arith::SIToFPOp::create(b, loc, floatType, i);
    };
    Value s = toFloat(stepI), w = toFloat(warmupI), d = toFloat(decayI);
    Value lr = hp("lr"), minLr = hp("min_lr");
    Value warm = arith::DivFOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, lr,
                              arith::AddFOp::create(b, loc, s, cst(1.0))),
        w);
    Value span = arith::MaximumFOp::create(b, loc, cst(1.0),
                                           arith::SubFOp::create(b, loc, d, w));
    Value ratio = arith::MinimumFOp::create(
        b, loc, cst(1.0),
        arith::DivFOp::create(b, loc, arith::SubFOp::create(b, loc, s, w),
                              span));
    Value cosine = arith::MulFOp::create(
        b, loc, cst(0.5),
        arith::AddFOp::create(
            b, loc, cst(1.0),
            math::CosOp::create(
                b, loc, arith::MulFOp::create(b, loc, cst(M_PI), ratio))));
    Value decayed = arith::AddFOp::create(
        b, loc, minLr,
        arith::MulFOp::create(b, loc, cosine,
                              arith::SubFOp::create(b, loc, lr, minLr)));
    Value zeroI = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
    Value noDecay =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, decayI, zeroI);
    Value afterWarmup = arith::SelectOp::create(b, loc, noDecay, lr, decayed);
    Value inWarmup = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                           stepI, warmupI);
    Value lrNow = arith::SelectOp::create(b, loc, inWarmup, warm, afterWarmup);

    // AdamW per parameter.
    SmallVector<Value> newP, newM, newV;
    Value noWd = cst(0.0);
    for (size_t i = 0; i < n; ++i) {
      auto update =
          AdamWOp::create(b, loc, p[i], lossAndGrads[i + 1], m[i], v[i], lrNow,
                          gradScale, stepI, hp("beta1"), hp("beta2"), hp("eps"),
                          decays(params[i]) ? hp("weight_decay") : noWd);
      newP.push_back(update.getNewParam());
      newM.push_back(update.getNewExpAvg());
      newV.push_back(update.getNewExpAvgSq());
    }
    SmallVector<Value> rets = {loss, norm, lrNow};
    rets.append(newP);
    rets.append(newM);
    rets.append(newV);
    func::ReturnOp::create(b, loc, rets);
    eraseDeadOps(step);
    return success();
  }

  LogicalResult buildEvalStep(OpBuilder &mb, func::FuncOp forward) {
    SmallVector<Type> inputs;
    SmallVector<DictionaryAttr> argAttrs;
    addParamArgs(inputs, argAttrs, mb);
    for (Type t : forward.getFunctionType().getInputs()) {
      inputs.push_back(t);
      argAttrs.push_back(mb.getDictionaryAttr({}));
    }
    func::FuncOp eval =
        createFunc(mb, forward.getLoc(), ModelOp::getEvalStepName(), inputs,
                   forward.getFunctionType().getResults(), argAttrs, {});
    Block *entry = &eval.getBody().front();
    OpBuilder b = OpBuilder::atBlockEnd(entry);
    IRMapping mapping;
    size_t n = params.size();
    for (auto [from, to] :
         llvm::zip(forward.getArguments(), entry->getArguments().drop_front(n)))
      mapping.map(from, to);
    llvm::DenseMap<StringAttr, Value> paramArgs;
    for (auto [param, arg] : llvm::zip(params, entry->getArguments()))
      paramArgs[param.getSymNameAttr()] = arg;
    SmallVector<Value> rets = cloneBody(b, forward, paramArgs, mapping);
    func::ReturnOp::create(b, forward.getLoc(), rets);
    return success();
  }

  LogicalResult buildLogits(OpBuilder &mb, func::FuncOp forward) {
    auto ret = cast<func::ReturnOp>(forward.getBody().front().getTerminator());
    auto ce = ret.getOperand(0).getDefiningOp<CrossEntropyOp>();
    if (!ce || ce.getLogits().getType().getRank() != 3)
      return forward.emitOpError("must return the cross-entropy of [batch, "
                                 "sequence, vocabulary] logits for a logits "
                                 "function to be built");
    RankedTensorType logitsType = ce.getLogits().getType();
    // Logits padded along the vocabulary (classes(N)) are returned without
    // their padding columns: no consumer (sampling, a logits dump) sees them.
    int64_t classes = ce.getClasses() ? static_cast<int64_t>(*ce.getClasses())
                                      : logitsType.getDimSize(2);
    auto resultType = RankedTensorType::get({logitsType.getDimSize(0), classes},
                                            logitsType.getElementType());
    SmallVector<Type> inputs;
    SmallVector<DictionaryAttr> argAttrs;
    addParamArgs(inputs, argAttrs, mb);
    inputs.push_back(forward.getFunctionType().getInput(0));
    argAttrs.push_back(mb.getDictionaryAttr({}));
    Location loc = forward.getLoc();
    func::FuncOp fn = createFunc(mb, loc, ModelOp::getLogitsName(), inputs,
                                 {resultType}, argAttrs, {});
    Block *entry = &fn.getBody().front();
    OpBuilder b = OpBuilder::atBlockEnd(entry);
    IRMapping mapping;
    mapping.map(forward.getArgument(0), entry->getArguments().back());
    llvm::DenseMap<StringAttr, Value> paramArgs;
    for (auto [param, arg] : llvm::zip(params, entry->getArguments()))
      paramArgs[param.getSymNameAttr()] = arg;
    cloneBody(b, forward, paramArgs, mapping);
    Value logits = mapping.lookupOrNull(ce.getLogits());
    if (!logits)
      return forward.emitOpError("logits depend on the targets");
    // The last position of every sequence: logits[:, T - 1, :].
    OpFoldResult batch = tensor::getMixedSize(b, loc, logits, 0);
    Value seq = tensor::DimOp::create(b, loc, logits, 1);
    Value last = arith::SubIOp::create(
        b, loc, seq, arith::ConstantIndexOp::create(b, loc, 1));
    Value slice = tensor::ExtractSliceOp::create(
        b, loc, resultType, logits,
        SmallVector<OpFoldResult>{b.getIndexAttr(0), last, b.getIndexAttr(0)},
        SmallVector<OpFoldResult>{batch, b.getIndexAttr(1),
                                  b.getIndexAttr(classes)},
        SmallVector<OpFoldResult>(3, b.getIndexAttr(1)));
    func::ReturnOp::create(b, loc, slice);
    eraseDeadOps(fn);
    return success();
  }

  DecayOn decayOn = DecayOn::Matrices;
  llvm::DenseMap<StringAttr, func::FuncOp> declarations;
  bool declarationMismatch = false;
  SmallVector<ParamOp> params;
  FloatType floatType;
};

} // namespace
