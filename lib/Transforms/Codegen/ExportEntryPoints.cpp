//===- ExportEntryPoints.cpp - The runtime's fixed-signature entry points -===//
//
// Wraps train_step, eval_step and logits (and grad_step and apply_step,
// when lmc-grad-accumulation built them) into functions whose signatures do
// not depend on the model: parameters, optimizer state and accumulated
// gradients travel as flat buffers. Also describes the model (parameters,
// offsets, initialisers) as text for the runtime, and, on a mesh whose batch
// axes span several ranks, builds the entry points that average a buffer of the
// parameters' layout over the replicas (lmc_dp_average and its asynchronous
// form).
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Support/FlatViews.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <numeric>

#define DEBUG_TYPE "lmc-export-entry-points"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCEXPORTENTRYPOINTS
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// Where each tensor lives in a flat buffer.
struct FlatLayout {
  SmallVector<RankedTensorType> types;
  SmallVector<int64_t> offsets;
  int64_t total = 0;

  void add(RankedTensorType type) {
    types.push_back(type);
    offsets.push_back(total);
    total += type.getNumElements();
  }
};

/// The flat buffers of the parameters and of the AdamW state. Under a mesh,
/// each rank holds its piece of a sharded parameter (`lmc.sharding`), of the
/// local type; with ZeRO-1 its piece of the state (`lmc.zero_dim`, the
/// dimension dp splits).
struct Layout {
  SmallVector<ParamOp> params;
  FlatLayout local, state;
  /// Per parameter, the dimension of the state split over the ZeRO axis, or
  /// -1; and that axis (one for the model).
  SmallVector<int64_t> zeroDims;
  StringAttr zeroAxis;
  Type elementType;
};

/// The views of a flat buffer (a memref) as the tensors of `layout`.
SmallVector<Value> unpack(OpBuilder &b, Location loc, Value flat,
                          const FlatLayout &layout) {
  SmallVector<Value> views;
  for (auto [type, offset] : llvm::zip(layout.types, layout.offsets))
    views.push_back(viewOfFlat(b, loc, flat, offset, type.getShape()));
  return views;
}

/// The views read as tensors of `types`. `restrict`: nothing else reaches
/// that memory while the function runs; `writable` when the function updates
/// them in place.
SmallVector<Value> readViews(OpBuilder &b, Location loc, ValueRange views,
                             ArrayRef<RankedTensorType> types, bool writable) {
  SmallVector<Value> tensors;
  for (auto [view, type] : llvm::zip(views, types))
    tensors.push_back(bufferization::ToTensorOp::create(
        b, loc, type, view, /*restrict=*/true, writable));
  return tensors;
}

/// The body of `callee` cloned at `b` on `args`; returns its results. The
/// entry points take the bodies of train_step, eval_step and logits rather
/// than calling them, so that no function returns an aggregate of hundreds
/// of memrefs (slow to generate code for, and it keeps every parameter's
/// buffer alive across the call).
SmallVector<Value> inlineBody(OpBuilder &b, func::FuncOp callee,
                              ValueRange args) {
  IRMapping mapping;
  mapping.map(callee.getArguments(), args);
  Block &body = callee.getBody().front();
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping);
  SmallVector<Value> results;
  for (Value v : body.getTerminator()->getOperands())
    results.push_back(mapping.lookup(v));
  return results;
}

struct LMCExportEntryPointsPass
    : mlir::lmc::impl::LMCExportEntryPointsBase<LMCExportEntryPointsPass> {
  using LMCExportEntryPointsBase::LMCExportEntryPointsBase;

  void runOnOperation() override {
    ModelOp model;
    for (ModelOp m : getOperation().getOps<ModelOp>()) {
      if (!SymbolTable::lookupSymbolIn(m, "train_step"))
        continue;
      if (model) {
        m.emitError("the runtime serves one model per program; @")
            << model.getSymName() << " already has a train_step";
        return signalPassFailure();
      }
      model = m;
    }
    if (!model) {
      getOperation().emitError("no lmc.model with a train_step (run "
                               "lmc-autodiff and lmc-optimizer first)");
      return signalPassFailure();
    }
    auto train = lookup(model, "train_step");
    auto eval = lookup(model, "eval_step");
    auto logits = lookup(model, "logits");
    if (!train || !eval || !logits) {
      model.emitError("needs @train_step, @eval_step and @logits");
      return signalPassFailure();
    }
    for (StringRef name :
         {"lmc_train_step", "lmc_eval_step", "lmc_logits", "lmc_model_info",
          "lmc_grad_step", "lmc_apply_step", "lmc_dp_average",
          "lmc_dp_average_start", "lmc_dp_average_finish"})
      if (SymbolTable::lookupSymbolIn(model, name)) {
        model.emitError("already has a function @") << name;
        return signalPassFailure();
      }

    Layout layout;
    MeshAttr mesh = getMeshInScope(model);
    for (ParamOp p : model.getParams()) {
      RankedTensorType type = p.getTensorType();
      if (auto sharding = p->getAttrOfType<ShardingAttr>(
              LMCDialect::getShardingAttrName())) {
        std::string why;
        FailureOr<SmallVector<int64_t>> shape =
            mesh ? sharding.getLocalShape(type.getShape(), mesh, &why)
                 : FailureOr<SmallVector<int64_t>>(failure());
        if (failed(shape)) {
          p.emitError("cannot lay out the sharded parameter: ")
              << (mesh ? why : "no mesh in scope");
          return signalPassFailure();
        }
        type = type.clone(*shape);
      }
      layout.params.push_back(p);
      layout.local.add(type);
      int64_t zeroDim = -1;
      if (auto dim = p->getAttrOfType<IntegerAttr>(
              LMCDialect::ZeroDimAttrHelper::getNameStr())) {
        zeroDim = dim.getInt();
        auto axis = p->getAttrOfType<StringAttr>(
            LMCDialect::ZeroAxisAttrHelper::getNameStr());
        std::optional<int64_t> parts =
            axis && mesh ? mesh.getAxisSize(axis.getValue()) : std::nullopt;
        if (!parts) {
          p.emitError("lmc.zero_dim needs lmc.zero_axis, an axis of the "
                      "mesh in scope");
          return signalPassFailure();
        }
        if (layout.zeroAxis && layout.zeroAxis != axis) {
          p.emitError("ZeRO state split over '")
              << axis.getValue() << "' and over '" << layout.zeroAxis.getValue()
              << "' in one model";
          return signalPassFailure();
        }
        layout.zeroAxis = axis;
        SmallVector<int64_t> shape(type.getShape());
        if (zeroDim < 0 || zeroDim >= type.getRank() ||
            shape[zeroDim] % *parts != 0) {
          p.emitError("lmc.zero_dim ")
              << zeroDim << " does not split " << type << " over "
              << axis.getValue() << "=" << *parts;
          return signalPassFailure();
        }
        shape[zeroDim] /= *parts;
        type = type.clone(shape);
      }
      layout.zeroDims.push_back(zeroDim);
      layout.state.add(type);
      layout.elementType = type.getElementType();
    }
    for (ParamOp p : layout.params)
      if (p.getTensorType().getElementType() != layout.elementType) {
        p.emitError("all parameters must have one element type for the "
                    "flat runtime buffers");
        return signalPassFailure();
      }

    OpBuilder b(model.getContext());
    b.setInsertionPointToEnd(&model.getBody().front());
    buildTrainStep(b, train, layout);
    buildWrapper(b, eval, "lmc_eval_step", layout, /*returnsScalar=*/true);
    buildWrapper(b, logits, "lmc_logits", layout, /*returnsScalar=*/false);
    auto gradStep = lookup(model, "grad_step");
    auto applyStep = lookup(model, "apply_step");
    if (gradStep && applyStep &&
        failed(buildAccumulationSteps(b, model, gradStep, applyStep, layout)))
      return signalPassFailure();
    if (failed(buildAverages(b, model, layout)))
      return signalPassFailure();
    if (failed(buildModelInfo(b, model, train, layout)))
      return signalPassFailure();
    // Only the exported functions are entry points now; the others become
    // private so that symbol-dce can drop what the entry points do not call
    // (forward and its gradient still read parameters as symbols).
    for (auto fn : model.getBody().front().getOps<func::FuncOp>())
      if (!fn->hasAttr("llvm.emit_c_interface"))
        fn.setPrivate();
  }

  static func::FuncOp lookup(ModelOp model, StringRef name) {
    return dyn_cast_or_null<func::FuncOp>(
        SymbolTable::lookupSymbolIn(model, name));
  }

  static func::FuncOp createExported(OpBuilder &b, Location loc, StringRef name,
                                     TypeRange inputs, TypeRange results) {
    auto fn =
        func::FuncOp::create(b, loc, name, b.getFunctionType(inputs, results));
    fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    fn.addEntryBlock();
    return fn;
  }

  /// The views of the parameters, exp_avg and exp_avg_sq in the flat
  /// buffers that are `fn`'s first three arguments, in that order.
  static SmallVector<Value> unpackState(OpBuilder &b, Location loc,
                                        func::FuncOp fn, const Layout &layout) {
    SmallVector<Value> views;
    for (int i = 0; i < 3; ++i)
      llvm::append_range(views,
                         unpack(b, loc, fn.getArgument(i),
                                i == 0 ? layout.local : layout.state));
    return views;
  }

  /// The tensors of unpackState's views, which the function updates.
  static SmallVector<Value> readState(OpBuilder &b, Location loc,
                                      ValueRange views, const Layout &layout) {
    SmallVector<RankedTensorType> types(layout.local.types);
    for (int i = 0; i < 2; ++i)
      llvm::append_range(types, layout.state.types);
    return readViews(b, loc, views, types, /*writable=*/true);
  }

  /// Moves the ops after `before` that only the update needs (the
  /// producers of results[first...] that results[0, first) do not need)
  /// into the then-block of an `scf.if` on `applied` returning one
  /// `flagType` value, and returns it: the caller ends the then-block
  /// (writing the new state and yielding its non-finite flag); the
  /// else-block, which leaves the state as it was, yields 0. The state is
  /// written inside the branch, so that bufferization still updates it in
  /// place. Every rank decides alike: the loss is the same on every rank.
  static scf::IfOp guardUpdate(OpBuilder &b, Location loc, Operation *before,
                               Value applied, ArrayRef<Value> results,
                               size_t first, Type flagType) {
    Block *block = applied.getParentBlock();
    // Ops the scalar results (and the condition) need stay where they are.
    llvm::SetVector<Operation *> keep;
    SmallVector<Value> work(results.begin(), results.begin() + first);
    work.push_back(applied);
    while (!work.empty()) {
      Value v = work.pop_back_val();
      Operation *def = v.getDefiningOp();
      if (!def || def->getBlock() != block || !keep.insert(def))
        continue;
      llvm::append_range(work, def->getOperands());
      def->walk([&](Operation *nested) {
        for (Value operand : nested->getOperands())
          if (operand.getParentBlock() == block)
            work.push_back(operand);
      });
    }
    SmallVector<Operation *> moved;
    for (Operation *op = before->getNextNode(); op; op = op->getNextNode())
      if (!keep.contains(op))
        moved.push_back(op);
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{flagType}, applied,
                                  /*addThenBlock=*/true,
                                  /*addElseBlock=*/true);
    Block *thenBlock = &ifOp.getThenRegion().front();
    for (Operation *op : moved)
      op->moveBefore(thenBlock, thenBlock->end());
    OpBuilder eb = OpBuilder::atBlockEnd(&ifOp.getElseRegion().front());
    scf::YieldOp::create(
        eb, loc,
        ValueRange{arith::ConstantOp::create(
            eb, loc, eb.getFloatAttr(cast<FloatType>(flagType), 0.0))});
    b.setInsertionPointAfter(ifOp);
    return ifOp;
  }

  /// The sum of all elements of each of `values[first...]` (tensors), as
  /// 0-d tensors. A tensor that a fusion group yields is summed inside that
  /// group: the group is rebuilt with the sums as more results (and every
  /// entry of `values` that the old group yielded updated to the new one's
  /// result), so that the sum runs in the loop that computes the tensor
  /// (the AdamW update), reading values still in registers, instead of as
  /// one more pass over the whole state.
  static SmallVector<Value> sumsOf(OpBuilder &b, Location loc,
                                   MutableArrayRef<Value> values,
                                   size_t first) {
    MutableArrayRef<Value> tensors = values.drop_front(first);
    auto allDims = [](Value t) {
      SmallVector<int64_t> all(cast<RankedTensorType>(t.getType()).getRank());
      std::iota(all.begin(), all.end(), 0);
      return all;
    };
    SmallVector<Value> sums(tensors.size());
    llvm::MapVector<Operation *, SmallVector<size_t>> byGroup;
    for (auto [i, t] : llvm::enumerate(tensors))
      if (auto group = t.getDefiningOp<FusedOp>())
        byGroup[group].push_back(i);
    for (auto &[op, indices] : byGroup) {
      auto group = cast<FusedOp>(op);
      YieldOp yield = group.getYield();
      OpBuilder yb(yield);
      SmallVector<Value> yielded(yield.getValues());
      for (size_t i : indices) {
        Value v =
            yield.getValues()[cast<OpResult>(tensors[i]).getResultNumber()];
        yielded.push_back(ReduceSumOp::create(yb, loc, v, allDims(v)));
      }
      YieldOp::create(yb, yield.getLoc(), yielded);
      yield.erase();
      OpBuilder gb(group);
      auto grown =
          FusedOp::create(gb, group.getLoc(), ValueRange(yielded).getTypes(),
                          group.getKindAttr(), group.getInputs());
      grown->setDiscardableAttrs(group->getDiscardableAttrDictionary());
      grown.getBody().takeBody(group.getBody());
      unsigned n = group.getNumResults();
      group->replaceAllUsesWith(grown.getResults().take_front(n));
      for (Value &v : values)
        if (v.getDefiningOp() == group.getOperation())
          v = grown.getResult(cast<OpResult>(v).getResultNumber());
      for (auto [j, i] : llvm::enumerate(indices))
        sums[i] = grown.getResult(n + j);
      group.erase();
    }
    for (auto [i, t] : llvm::enumerate(tensors))
      if (!sums[i])
        sums[i] = ReduceSumOp::create(b, loc, t, allDims(t));
    return sums;
  }

  /// The non-finite flag of the updated state: 0 when every element of
  /// `tensors` (this rank's pieces of the new parameters and moments) is
  /// finite, 1 otherwise. One sum per tensor (sumsOf: inside the group that
  /// computes it), added up as scalars: the sum of finite values stays
  /// finite (unless it overflows, itself a blow-up) and any NaN or infinity
  /// makes it non-finite; `total * 0` is then NaN. Rank-local by design: it
  /// runs after lmc-shard, adds no collective, and the trainer of the rank
  /// whose pieces went bad stops the job. The tensors are
  /// `values[first...]`; `values` are updated as sumsOf does.
  static Value nonFiniteFlag(OpBuilder &b, Location loc,
                             MutableArrayRef<Value> values, size_t first,
                             Type elementType) {
    auto floatType = cast<FloatType>(elementType);
    auto cst = [&](double x) -> Value {
      return arith::ConstantOp::create(b, loc, b.getFloatAttr(floatType, x));
    };
    Value total = cst(0.0);
    for (Value sum : sumsOf(b, loc, values, first))
      total = arith::AddFOp::create(b, loc, total,
                                    tensor::ExtractOp::create(b, loc, sum));
    Value zeroed = arith::MulFOp::create(b, loc, total, cst(0.0));
    Value finite = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ORD,
                                         zeroed, zeroed);
    return arith::SelectOp::create(b, loc, finite, cst(0.0), cst(1.0));
  }

  /// lmc_train_step updates the flat parameter and moment buffers in place:
  /// each parameter's view is read as a tensor (restrict: nothing else
  /// reaches that memory while the step runs) and the step's new value is
  /// materialised into the same view. The AdamW update writes its outputs
  /// into its inputs' buffers (convert-lmc-to-linalg), so bufferization
  /// updates the buffers where they are and the final materialisation is a
  /// self-copy that folds away; where it cannot, it copies, and the result
  /// is still right.
  void buildTrainStep(OpBuilder &mb, func::FuncOp train, const Layout &layout) {
    Location loc = train.getLoc();
    size_t n = layout.params.size();
    auto flatType = MemRefType::get({layout.local.total}, layout.elementType);
    auto stateType = MemRefType::get({layout.state.total}, layout.elementType);
    FunctionType type = train.getFunctionType();
    // Scalars and inputs after the 3 n tensors stay as they are.
    SmallVector<Type> inputs = {flatType, stateType, stateType};
    llvm::append_range(inputs, type.getInputs().drop_front(3 * n));
    inputs.push_back(layout.elementType); // max_loss
    SmallVector<Type> results(type.getResults().take_front(3));
    results.push_back(layout.elementType); // nonfinite
    func::FuncOp fn =
        createExported(mb, loc, "lmc_train_step", inputs, results);
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    SmallVector<Value> views = unpackState(b, loc, fn, layout);
    SmallVector<Value> args = readState(b, loc, views, layout);
    llvm::append_range(args, fn.getArguments().drop_front(3).drop_back());
    Operation *before = &fn.getBody().front().back();
    SmallVector<Value> stepResults = inlineBody(b, train, args);
    Value applied = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ULE,
                                          stepResults[0],
                                          fn.getArguments().back());
    // On the GPU, lmc-gpu-async-launches queues only the launches of the
    // function's top level: the guard's branch would launch its kernels
    // synchronously, so the CUDA step applies every update (max_loss is
    // ignored; the trainer refuses --spike-zscore there) and computes the
    // flag after it.
    if (target == Target::CUDA) {
      Value flag = nonFiniteFlag(b, loc, stepResults, 3,
                                 layout.elementType);
      for (auto [value, view] :
           llvm::zip(ArrayRef(stepResults).drop_front(3), views))
        bufferization::MaterializeInDestinationOp::create(
            b, loc, /*result=*/Type(), value, view, /*restrict=*/true,
            /*writable=*/true);
      SmallVector<Value> rets(ValueRange(stepResults).take_front(3));
      rets.push_back(flag);
      func::ReturnOp::create(b, loc, rets);
      applied.getDefiningOp()->erase();
      return;
    }
    scf::IfOp ifOp = guardUpdate(b, loc, before, applied, stepResults, 3,
                                 layout.elementType);
    {
      OpBuilder tb = OpBuilder::atBlockEnd(&ifOp.getThenRegion().front());
      Value newFlag =
          nonFiniteFlag(tb, loc, stepResults, 3,
                        layout.elementType);
      for (auto [value, view] :
           llvm::zip(ArrayRef(stepResults).drop_front(3), views))
        bufferization::MaterializeInDestinationOp::create(
            tb, loc, /*result=*/Type(), value, view, /*restrict=*/true,
            /*writable=*/true);
      scf::YieldOp::create(tb, loc, ValueRange{newFlag});
    }
    Value flag = ifOp.getResult(0);
    SmallVector<Value> rets(ValueRange(stepResults).take_front(3));
    rets.push_back(flag);
    func::ReturnOp::create(b, loc, rets);
  }

  /// lmc_grad_step(params, grad_acc, tokens, targets) -> loss adds the
  /// batch's gradients to the flat grad_acc buffer in place (the layout of
  /// the optimizer state); lmc_apply_step(params, exp_avg, exp_avg_sq,
  /// grad_acc, grad_scale, step, lr, ...) -> (grad_norm, lr) updates the
  /// parameters and moments in place as lmc_train_step does.
  ///
  /// A pipelined model (lmc.pipeline, lmc-pipeline) has one grad_step and
  /// one apply_step per stage: each becomes a private function of the same
  /// signature (`lmc_grad_step_stage_<s>`), and the entry points dispatch
  /// on the rank's coordinate along the pipeline axis.
  LogicalResult buildAccumulationSteps(OpBuilder &mb, ModelOp model,
                                       func::FuncOp grad, func::FuncOp apply,
                                       const Layout &layout) {
    size_t n = layout.params.size();
    for (size_t i = 0; i < n; ++i)
      if (grad.getArgument(n + i).getType() != layout.state.types[i])
        return grad.emitOpError("the accumulated gradient of @")
               << ParamOp(layout.params[i]).getSymName() << " has type "
               << grad.getArgument(n + i).getType()
               << ", not the type of its optimizer state "
               << layout.state.types[i];
    auto pipeline = model->getAttrOfType<DictionaryAttr>(
        LMCDialect::PipelineAttrHelper::getNameStr());
    if (!pipeline) {
      buildGradStep(mb, grad, "lmc_grad_step", layout);
      buildApplyStep(mb, apply, "lmc_apply_step", layout);
      return success();
    }
    int64_t stages = pipeline.getAs<IntegerAttr>("stages").getInt();
    StringAttr axis = pipeline.getAs<StringAttr>("axis");
    SmallVector<func::FuncOp> grads, applies;
    for (int64_t s = 0; s < stages; ++s) {
      std::string suffix = "_stage_" + std::to_string(s);
      auto gradStage = lookup(model, ("grad_step" + suffix));
      auto applyStage = lookup(model, ("apply_step" + suffix));
      if (!gradStage || !applyStage ||
          gradStage.getFunctionType() != grad.getFunctionType() ||
          applyStage.getFunctionType() != apply.getFunctionType())
        return model.emitError("a pipelined model needs @grad_step")
               << suffix << " and @apply_step" << suffix
               << " with the types of @grad_step and @apply_step";
      grads.push_back(
          buildGradStep(mb, gradStage, "lmc_grad_step" + suffix, layout));
      applies.push_back(
          buildApplyStep(mb, applyStage, "lmc_apply_step" + suffix, layout));
    }
    for (func::FuncOp fn : llvm::concat<func::FuncOp>(grads, applies)) {
      fn->removeAttr("llvm.emit_c_interface");
      fn.setPrivate();
    }
    buildDispatch(mb, "lmc_grad_step", grads, axis);
    buildDispatch(mb, "lmc_apply_step", applies, axis);
    return success();
  }

  func::FuncOp buildGradStep(OpBuilder &mb, func::FuncOp grad, StringRef name,
                             const Layout &layout) {
    size_t n = layout.params.size();
    auto flatType = MemRefType::get({layout.local.total}, layout.elementType);
    auto stateType = MemRefType::get({layout.state.total}, layout.elementType);
    Location loc = grad.getLoc();
    SmallVector<Type> inputs = {flatType, stateType};
    llvm::append_range(inputs,
                       grad.getFunctionType().getInputs().drop_front(2 * n));
    func::FuncOp fn = createExported(mb, loc, name, inputs,
                                     {grad.getFunctionType().getResult(0)});
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    SmallVector<Value> args =
        readViews(b, loc, unpack(b, loc, fn.getArgument(0), layout.local),
                  layout.local.types, /*writable=*/false);
    SmallVector<Value> accViews =
        unpack(b, loc, fn.getArgument(1), layout.state);
    llvm::append_range(args, readViews(b, loc, accViews, layout.state.types,
                                       /*writable=*/true));
    llvm::append_range(args, fn.getArguments().drop_front(2));
    SmallVector<Value> results = inlineBody(b, grad, args);
    for (auto [value, view] :
         llvm::zip(ArrayRef(results).drop_front(1), accViews))
      bufferization::MaterializeInDestinationOp::create(
          b, loc, /*result=*/Type(), value, view, /*restrict=*/true,
          /*writable=*/true);
    func::ReturnOp::create(b, loc, results.front());
    return fn;
  }

  func::FuncOp buildApplyStep(OpBuilder &mb, func::FuncOp apply,
                              StringRef name, const Layout &layout) {
    size_t n = layout.params.size();
    auto flatType = MemRefType::get({layout.local.total}, layout.elementType);
    auto stateType = MemRefType::get({layout.state.total}, layout.elementType);
    Location loc = apply.getLoc();
    SmallVector<Type> inputs = {flatType, stateType, stateType, stateType};
    llvm::append_range(inputs,
                       apply.getFunctionType().getInputs().drop_front(4 * n));
    SmallVector<Type> resultTypes(
        apply.getFunctionType().getResults().take_front(2));
    resultTypes.push_back(layout.elementType); // nonfinite
    func::FuncOp fn = createExported(mb, loc, name, inputs, resultTypes);
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    SmallVector<Value> views = unpackState(b, loc, fn, layout);
    SmallVector<Value> args = readState(b, loc, views, layout);
    llvm::append_range(
        args, readViews(b, loc, unpack(b, loc, fn.getArgument(3), layout.state),
                        layout.state.types, /*writable=*/false));
    llvm::append_range(args, fn.getArguments().drop_front(4));
    SmallVector<Value> results = inlineBody(b, apply, args);
    Value flag = nonFiniteFlag(b, loc, results, 2,
                               layout.elementType);
    for (auto [value, view] : llvm::zip(ArrayRef(results).drop_front(2), views))
      bufferization::MaterializeInDestinationOp::create(
          b, loc, /*result=*/Type(), value, view, /*restrict=*/true,
          /*writable=*/true);
    SmallVector<Value> rets(ValueRange(results).take_front(2));
    rets.push_back(flag);
    func::ReturnOp::create(b, loc, rets);
    return fn;
  }

  /// The entry point `name`, of the type of `stages`' functions, that calls
  /// the one of this rank's coordinate along `axis`.
  static void buildDispatch(OpBuilder &mb, StringRef name,
                            MutableArrayRef<func::FuncOp> stages,
                            StringAttr axis) {
    FunctionType type = stages.front().getFunctionType();
    Location loc = stages.front().getLoc();
    func::FuncOp fn =
        createExported(mb, loc, name, type.getInputs(), type.getResults());
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    Value stage = AxisIndexOp::create(b, loc, axis);
    SmallVector<int64_t> cases;
    for (size_t s = 0; s + 1 < stages.size(); ++s)
      cases.push_back(s);
    auto dispatch = scf::IndexSwitchOp::create(b, loc, type.getResults(), stage,
                                               cases, cases.size());
    auto call = [&](Region &region, func::FuncOp callee) {
      OpBuilder rb = OpBuilder::atBlockEnd(&region.emplaceBlock());
      auto c = func::CallOp::create(rb, loc, callee, fn.getArguments());
      scf::YieldOp::create(rb, loc, c.getResults());
    };
    for (auto [s, region] : llvm::enumerate(dispatch.getCaseRegions()))
      call(region, stages[s]);
    call(dispatch.getDefaultRegion(), stages.back());
    func::ReturnOp::create(b, loc, dispatch.getResults());
  }

  /// The replicas' averages of a flat buffer in the layout of this rank's
  /// parameters, over the group of the batch axes (the ranks that hold the
  /// same pieces and train on different rows), when it has more than one
  /// rank:
  ///   lmc_dp_average(buffer): all-reduce in place, then times 1/P;
  ///   lmc_dp_average_start(buffer) -> handle: the all-reduce started;
  ///   lmc_dp_average_finish(handle, buffer): its wait, then times 1/P.
  /// The collectives are buffer ops (lowered to the runtime's collective
  /// calls, CPU or GPU, by convert-lmc-to-runtime); the start's handle
  /// leaves the function, which the op allows for a buffer that is an
  /// argument. The scale is an lmc.scale of the buffer read as a tensor and
  /// written back in place, so that it becomes a kernel like the step's.
  LogicalResult buildAverages(OpBuilder &mb, ModelOp model,
                              const Layout &layout) {
    MeshAttr mesh = getMeshInScope(model);
    auto batch = model->getAttrOfType<ArrayAttr>(
        LMCDialect::BatchAxesAttrHelper::getNameStr());
    if (!mesh || !batch || batch.empty())
      return success();
    for (auto axis : batch.getAsRange<StringAttr>())
      if (!mesh.getAxisIndex(axis.getValue()))
        return model.emitError("lmc.batch_axes names '")
               << axis.getValue() << "', not an axis of the mesh";
    int64_t replicas = mesh.getGroupSize(batch);
    if (replicas < 2)
      return success();
    Location loc = model.getLoc();
    auto flatType = MemRefType::get({layout.local.total}, layout.elementType);
    auto tensorType =
        RankedTensorType::get({layout.local.total}, layout.elementType);
    auto allReduce =
        CollectiveKindAttr::get(mb.getContext(), CollectiveKind::all_reduce);
    double factor = 1.0 / static_cast<double>(replicas);
    // buffer = buffer / P, in place.
    auto scaleInPlace = [&](OpBuilder &b, Value buffer) {
      Value t = bufferization::ToTensorOp::create(
          b, loc, tensorType, buffer, /*restrict=*/true, /*writable=*/true);
      Value mean = ScaleOp::create(b, loc, t, b.getF64FloatAttr(factor));
      bufferization::MaterializeInDestinationOp::create(
          b, loc, /*result=*/Type(), mean, buffer, /*restrict=*/true,
          /*writable=*/true);
    };
    {
      func::FuncOp fn =
          createExported(mb, loc, "lmc_dp_average", {flatType}, {});
      OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
      Value buffer = fn.getArgument(0);
      BufferCollectiveOp::create(b, loc, allReduce, buffer, buffer, batch,
                                 IntegerAttr());
      scaleInPlace(b, buffer);
      func::ReturnOp::create(b, loc);
    }
    {
      func::FuncOp fn = createExported(mb, loc, "lmc_dp_average_start",
                                       {flatType}, {mb.getI64Type()});
      OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
      Value buffer = fn.getArgument(0);
      Value handle = BufferCollectiveStartOp::create(
          b, loc, b.getI64Type(), allReduce, buffer, buffer, batch,
          IntegerAttr());
      func::ReturnOp::create(b, loc, handle);
    }
    {
      func::FuncOp fn = createExported(mb, loc, "lmc_dp_average_finish",
                                       {mb.getI64Type(), flatType}, {});
      OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
      BufferWaitOp::create(b, loc, ValueRange{fn.getArgument(0)});
      scaleInPlace(b, fn.getArgument(1));
      func::ReturnOp::create(b, loc);
    }
    return success();
  }

  /// eval_step and logits: (params..., rest) -> result.
  void buildWrapper(OpBuilder &mb, func::FuncOp target, StringRef name,
                    const Layout &layout, bool returnsScalar) {
    Location loc = target.getLoc();
    size_t n = layout.params.size();
    auto flatType = MemRefType::get({layout.local.total}, layout.elementType);
    FunctionType type = target.getFunctionType();
    SmallVector<Type> inputs = {flatType};
    llvm::append_range(inputs, type.getInputs().drop_front(n));
    Type result = returnsScalar ? layout.elementType : type.getResult(0);
    func::FuncOp fn = createExported(mb, loc, name, inputs, {result});
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    SmallVector<Value> args =
        readViews(b, loc, unpack(b, loc, fn.getArgument(0), layout.local),
                  layout.local.types, /*writable=*/false);
    llvm::append_range(args, fn.getArguments().drop_front(1));
    Value out = inlineBody(b, target, args).front();
    if (returnsScalar)
      out = tensor::ExtractOp::create(b, loc, out);
    func::ReturnOp::create(b, loc, out);
  }

  /// With a loss over logits padded along the vocabulary (`classes(N)` of
  /// lmc.cross_entropy, logits of V > N columns): sets `vocab` to N and, in
  /// `padRows`, N for each parameter whose rows are the V columns (the token
  /// embedding's table, an LM head read transposed); their rows N.. are
  /// padding, which checkpoints leave out.
  static LogicalResult findVocabPadding(func::FuncOp forward, int64_t &vocab,
                                        llvm::StringMap<int64_t> &padRows) {
    std::optional<int64_t> classes;
    int64_t width = 0;
    WalkResult walk = forward.walk([&](CrossEntropyOp op) {
      if (!op.getClasses())
        return WalkResult::advance();
      auto n = static_cast<int64_t>(*op.getClasses());
      if (classes && *classes != n) {
        op.emitOpError("classes (")
            << n << ") differs from another loss's (" << *classes << ")";
        return WalkResult::interrupt();
      }
      classes = n;
      width = op.getLogits().getType().getShape().back();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    if (!classes || *classes == width)
      return success();
    auto padded = [&](Value table) {
      if (auto ref = table.getDefiningOp<ParamRefOp>())
        if (auto type = cast<ShapedType>(ref.getType());
            type.getRank() >= 1 && type.getDimSize(0) == width)
          padRows[ref.getName()] = *classes;
    };
    forward.walk([&](Operation *op) {
      if (auto embedding = dyn_cast<EmbeddingOp>(op))
        padded(embedding.getTable());
      else if (auto matmul = dyn_cast<MatmulOp>(op))
        if (matmul.getTransposeB() && !matmul.getTransposeA() &&
            matmul.getType().getShape().back() == width)
          padded(matmul.getRhs());
    });
    if (vocab != width)
      return forward.emitOpError("the token embedding has ")
             << vocab << " rows, not the " << width
             << " columns of the padded logits";
    vocab = *classes;
    return success();
  }

  /// The text description the runtime reads, returned as bytes.
  LogicalResult buildModelInfo(OpBuilder &mb, ModelOp model, func::FuncOp train,
                               const Layout &layout) {
    func::FuncOp forward = model.getForward();
    // The vocabulary from the token embedding; the context from the
    // model (its context_length, or its position table; a model with rotary
    // embeddings that states neither fixes none); the causal attentions and their query width
    // (heads x head dimension), for the runtime's FLOPs count.
    int64_t vocab = 0, context = 0, attentions = 0, width = 0;
    bool sameWidth = true;
    forward.walk(
        [&](EmbeddingOp op) { vocab = op.getTable().getType().getDimSize(0); });
    context = model.getContextSize();
    // Their head counts (query heads, key/value heads) when all agree: part
    // of the model description, so that two models with the same parameter
    // shapes and other heads differ (checkpoints refuse the other).
    int64_t heads = 0, kvHeads = 0;
    bool sameHeads = true;
    forward.walk([&](CausalAttentionOp op) {
      int64_t w = op.getQuery().getType().getDimSize(2);
      sameWidth &= attentions == 0 || w == width;
      auto opHeads = static_cast<int64_t>(op.getHeads());
      auto opKvHeads = static_cast<int64_t>(op.getNumKvHeads());
      sameHeads &=
          attentions == 0 || (opHeads == heads && opKvHeads == kvHeads);
      width = w;
      heads = op.getHeads();
      kvHeads = op.getNumKvHeads();
      ++attentions;
    });
    if (!vocab)
      return forward.emitOpError("needs a token embedding for the runtime to "
                                 "know the vocabulary");
    // A vocabulary padded for the kernels (the loss's classes(N)): the
    // runtime's vocabulary is the real one, and the parameters with padded
    // rows get a `pad` line.
    llvm::StringMap<int64_t> padRows;
    if (failed(findVocabPadding(forward, vocab, padRows)))
      return failure();
    // Weight decay as lmc-optimizer decided: a parameter decays when its
    // lmc.adamw reads the weight_decay argument.
    size_t n = layout.params.size();
    Value wdArg;
    for (unsigned i = 0; i < train.getNumArguments(); ++i)
      if (auto name = train.getArgAttrOfType<StringAttr>(
              i, LMCDialect::HparamAttrHelper::getNameStr()))
        if (name.getValue() == "weight_decay")
          wdArg = train.getArgument(i);
    SmallVector<bool> decays(n, false);
    // The update may sit in a fusion group (lmc-fuse): its operands are
    // then the group's block arguments.
    train.walk([&](AdamWOp op) {
      // Under ZeRO-1 the update reads this rank's slice of the parameter.
      Value param = FusedOp::lookThrough(op.getParam());
      while (auto slice = param.getDefiningOp<tensor::ExtractSliceOp>())
        param = FusedOp::lookThrough(slice.getSource());
      Value wd = FusedOp::lookThrough(op.getWeightDecay());
      for (size_t i = 0; i < n; ++i)
        if (param == train.getArgument(i))
          decays[i] = wd == wdArg;
    });

    std::string text;
    llvm::raw_string_ostream os(text);
    os << "lmc-model 2\n"
       << "name " << model.getSymName() << "\n"
       << "dtype " << layout.elementType << "\n";
    // Programs for the CPU carry no target line (the runtime's default).
    if (target != Target::CPU)
      os << "target " << stringify(target) << "\n";
    os << "vocab " << vocab << "\n";
    if (context)
      os << "context " << context << "\n";
    if (attentions && sameWidth && !ShapedType::isDynamic(width))
      os << "attention " << attentions << " " << width << "\n";
    if (attentions && sameHeads)
      os << "heads " << heads << " " << kvHeads << "\n";
    // The mesh, its axes in order (the text form of lmc/Support/Mesh.h),
    // and the axes that split the batch.
    MeshAttr mesh =
        model->getAttrOfType<MeshAttr>(LMCDialect::getMeshAttrName());
    if (mesh) {
      os << "mesh ";
      for (auto [i, name, size] :
           llvm::enumerate(mesh.getAxisNames(), mesh.getAxisSizes()))
        os << (i ? "," : "") << name.getValue() << "=" << size;
      os << "\n";
      if (auto batch = model->getAttrOfType<ArrayAttr>(
              LMCDialect::BatchAxesAttrHelper::getNameStr())) {
        os << "batch";
        for (auto axis : batch.getAsRange<StringAttr>()) {
          if (!mesh.getAxisIndex(axis.getValue()))
            return model.emitError("lmc.batch_axes names '")
                   << axis.getValue() << "', not an axis of the mesh";
          os << " " << axis.getValue();
        }
        os << "\n";
      }
      // The axes that split the sequence (sequence parallelism): the
      // trainer's sequence length must divide among them.
      if (auto sequence = model->getAttrOfType<ArrayAttr>(
              LMCDialect::SequenceAxesAttrHelper::getNameStr())) {
        os << "sequence";
        for (auto axis : sequence.getAsRange<StringAttr>()) {
          if (!mesh.getAxisIndex(axis.getValue()))
            return model.emitError("lmc.sequence_axes names '")
                   << axis.getValue() << "', not an axis of the mesh";
          os << " " << axis.getValue();
        }
        os << "\n";
      }
      // lmc-shard dp-sync=local: the step reduces nothing over the batch
      // axes.
      if (auto sync = model->getAttrOfType<StringAttr>(
              LMCDialect::DpSyncAttrHelper::getNameStr());
          sync && sync.getValue() == "local")
        os << "dp_sync local\n";
      // lmc-pipeline: the stages along the pipeline axis.
      if (auto pipeline = model->getAttrOfType<DictionaryAttr>(
              LMCDialect::PipelineAttrHelper::getNameStr()))
        os << "pipeline " << pipeline.getAs<StringAttr>("axis").getValue()
           << " " << pipeline.getAs<IntegerAttr>("stages").getInt() << " "
           << pipeline.getAs<IntegerAttr>("microbatches").getInt() << " "
           << pipeline.getAs<StringAttr>("schedule").getValue() << "\n";
    }
    os << "params " << n << " " << layout.local.total << "\n";
    for (auto [i, pc] : llvm::enumerate(layout.params)) {
      ParamOp p = pc;
      os << "param " << p.getSymName() << " " << layout.local.offsets[i] << " "
         << p.getTensorType().getRank();
      for (int64_t s : p.getTensorType().getShape())
        os << " " << s;
      os << " " << stringifyInitKind(p.getInit()) << " ";
      if (FloatAttr stdev = p.getStdAttr())
        os << llvm::formatv("{0:e}", stdev.getValueAsDouble());
      else
        os << 0;
      os << " " << (decays[i] ? 1 : 0) << "\n";
      // Rows of vocabulary padding: only the first ones are real.
      if (auto it = padRows.find(p.getSymName()); it != padRows.end())
        os << "pad " << p.getSymName() << " " << it->second << "\n";
      // Its layout: one line per mesh axis that splits it, in mesh order.
      if (auto sharding = p->getAttrOfType<ShardingAttr>(
              LMCDialect::getShardingAttrName())) {
        for (auto [axis, placement] :
             llvm::zip(sharding.getAxes(), sharding.getPlacements())) {
          if (placement.isShard()) {
            os << "shard " << p.getSymName() << " " << axis.getValue() << " "
               << placement.getDim() << " " << placement.getBlocks() << "\n";
            continue;
          }
          return p.emitError("the runtime holds parameters sharded or "
                             "replicated, not ")
                 << sharding << " over '" << axis.getValue() << "'";
        }
      }
      // The pipeline stages that hold it, its home first.
      if (auto stages = p->getAttrOfType<DenseI64ArrayAttr>(
              LMCDialect::StagesAttrHelper::getNameStr())) {
        os << "stage " << p.getSymName();
        for (int64_t s : stages.asArrayRef())
          os << " " << s;
        os << "\n";
      }
    }
    if (llvm::any_of(layout.zeroDims, [](int64_t d) { return d >= 0; })) {
      os << "state " << n << " " << layout.state.total << " "
         << layout.zeroAxis.getValue() << "\n";
      for (auto [i, p] : llvm::enumerate(layout.params))
        os << "state " << ParamOp(p).getSymName() << " "
           << layout.state.offsets[i] << " " << layout.zeroDims[i] << "\n";
    }
    os << "end\n";

    Location loc = model.getLoc();
    auto bytesType = RankedTensorType::get({static_cast<int64_t>(text.size())},
                                           mb.getI8Type());
    func::FuncOp fn =
        createExported(mb, loc, "lmc_model_info", {}, {bytesType});
    OpBuilder b = OpBuilder::atBlockEnd(&fn.getBody().front());
    Value bytes = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(
            bytesType,
            ArrayRef<int8_t>(reinterpret_cast<const int8_t *>(text.data()),
                             text.size())));
    func::ReturnOp::create(b, loc, bytes);
    return success();
  }
};

} // namespace
