//===- TensorParallel.cpp - Tensor-parallel planning and partitioning -----===//
//
// See TensorParallel.h. The partitioner is a single walk in program order:
// the training functions are straight-line SSA, so when an op is reached the
// placements of all its operands are known; its rule (an
// ShardingRuleOpInterface, or the few builtin rules below for arith and
// tensor ops) says what it needs and gives. Backward and optimizer ops get
// their placements the same way as forward ones.
//
//===----------------------------------------------------------------------===//

#include "TensorParallel.h"

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>

using namespace mlir;
using namespace mlir::lmc;

namespace {

using PL = Placement;

//===----------------------------------------------------------------------===//
// Planner
//===----------------------------------------------------------------------===//

/// The parameter a value of `func` reads directly, if any: an argument
/// with `lmc.param` (and no `lmc.state`) or an lmc.param_ref.
ParamOp paramOf(ModelOp model, Value value) {
  FlatSymbolRefAttr name;
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
    if (!func || func.getArgAttr(arg.getArgNumber(),
                                 LMCDialect::StateAttrHelper::getNameStr()))
      return nullptr;
    name = func.getArgAttrOfType<FlatSymbolRefAttr>(
        arg.getArgNumber(), LMCDialect::ParamAttrHelper::getNameStr());
  } else if (auto ref = value.getDefiningOp<ParamRefOp>()) {
    name = ref.getNameAttr();
  }
  if (!name)
    return nullptr;
  return dyn_cast_or_null<ParamOp>(SymbolTable::lookupSymbolIn(model, name));
}

class Planner {
public:
  Planner(ModelOp model, StringRef axis, int64_t parts)
      : model(model), axis(axis), parts(parts) {}

  LogicalResult run(func::FuncOp reference) {
    this->reference = reference;
    // Every size that does not divide is reported, not just the first.
    bool ok = true;
    reference.walk([&](Operation *op) {
      if (auto attention = dyn_cast<CausalAttentionOp>(op))
        ok &= succeeded(planAttention(attention));
      else if (op->hasTrait<OpTrait::lmc::Activation>())
        ok &= succeeded(planMlp(op));
      else if (auto embedding = dyn_cast<EmbeddingOp>(op))
        ok &= succeeded(planEmbedding(embedding));
      else if (auto loss = dyn_cast<CrossEntropyOp>(op))
        ok &= succeeded(planLmHead(loss));
    });
    if (!ok)
      return failure();
    warnReplicated(reference);
    MeshAttr mesh = getMeshInScope(model);
    for (auto [param, placement] : planned) {
      SmallVector<PL> perAxis(mesh.getRank(), PL::replicated());
      perAxis[*mesh.getAxisIndex(axis)] = placement;
      param->setAttr(LMCDialect::getShardingAttrName(),
                     ShardingAttr::get(mesh, perAxis));
    }
    return success();
  }

private:
  /// Parameters above this size that no pattern places are warned about.
  static constexpr int64_t kWarnBytes = int64_t(1) << 20;

  /// Operands that stay replicated by design, as in Megatron: the position
  /// table (added to the replicated residual stream), the parameters of a
  /// normalisation (LayerNorm's scale and shift, RMSNorm's scale: ops with
  /// the LMC_Normalization trait), a bias added to a whole (all-reduced)
  /// output.
  static bool replicatedByDesign(OpOperand &use) {
    Operation *op = use.getOwner();
    unsigned i = use.getOperandNumber();
    if (auto pos = dyn_cast<PositionEmbeddingOp>(op))
      return &use == &pos.getTableMutable();
    if (op->hasTrait<OpTrait::lmc::Normalization>())
      return i != 0;
    if (auto add = dyn_cast<BiasAddOp>(op))
      return &use == &add.getBiasMutable();
    return false;
  }

  /// A located warning for each parameter over kWarnBytes that no pattern
  /// placed and that the planner has not already explained: at its first
  /// use in `reference` that is not replicated by design, naming the op
  /// whose use no pattern matched.
  void warnReplicated(func::FuncOp reference) {
    // The uses of each parameter in `reference`, in program order.
    llvm::MapVector<Operation *, SmallVector<OpOperand *>> uses;
    reference.walk([&](Operation *op) {
      for (OpOperand &operand : op->getOpOperands())
        if (ParamOp param = paramOf(model, operand.get()))
          uses[param].push_back(&operand);
    });
    for (ParamOp param : model.getParams()) {
      if (planned.contains(param) || explained.contains(param))
        continue;
      RankedTensorType type = param.getTensorType();
      if (!type.hasStaticShape())
        continue;
      int64_t bytes =
          type.getNumElements() * (type.getElementTypeBitWidth() / 8);
      if (bytes <= kWarnBytes)
        continue;
      auto it = uses.find(param);
      if (it == uses.end())
        continue; // Not read: nothing to split.
      OpOperand *unmatched = nullptr;
      for (OpOperand *use : it->second)
        if (!replicatedByDesign(*use)) {
          unmatched = use;
          break;
        }
      if (!unmatched)
        continue;
      emitWarning(
          unmatched->getOwner()->getLoc(),
          llvm::formatv(
              "tensor parallelism: parameter @{0} ({1:F1} MiB) stays "
              "replicated "
              "over {2}={3}: no tensor-parallel pattern (attention, MLP, "
              "vocabulary-split embedding) matched its use as operand {4} of "
              "'{5}'",
              param.getSymName(), static_cast<double>(bytes) / kWarnBytes, axis,
              parts, unmatched->getOperandNumber(),
              unmatched->getOwner()->getName().getStringRef()));
    }
  }

  /// Records `placement` for `param`; the same parameter planned twice (a
  /// tied weight) must agree.
  LogicalResult place(ParamOp param, PL placement, Operation *at) {
    auto [it, inserted] = planned.try_emplace(param, placement);
    if (!inserted && it->second != placement)
      return emitError(at->getLoc(), "tensor parallelism: parameter @")
             << param.getSymName()
             << " is used in two ways that need different layouts";
    return success();
  }

  /// `dim` of the parameter's type must split into `parts` x `blocks`.
  LogicalResult checkDivides(ParamOp param, int64_t dim, int64_t blocks,
                             Operation *at, StringRef what) {
    int64_t size = param.getTensorType().getDimSize(dim);
    if (ShapedType::isDynamic(size) || size % (parts * blocks) != 0)
      return emitError(
          at->getLoc(),
          llvm::formatv("tensor parallelism: {0}={1} does not divide {2} "
                        "(dimension {3} of "
                        "@{4}, size {5}{6})",
                        axis, parts, what, dim, param.getSymName(), size,
                        blocks > 1
                            ? llvm::formatv(", in {0} blocks", blocks).str()
                            : ""));
    return success();
  }

  /// A linear layer: y = matmul(x, W) (W [in, out]) or y = matmul(x, W,
  /// transpose_b) (W [out, in], nn.Linear's layout), optionally followed by
  /// bias_add(y, b); W and b are parameters (b null when absent).
  struct Linear {
    ParamOp weight, bias;
    bool transposed = false;
    explicit operator bool() const { return weight != nullptr; }
    /// The dimension of W that indexes the output features (split by a
    /// column-parallel layer) and the one that indexes the input features
    /// (split by a row-parallel one).
    int64_t outDim() const { return transposed ? 0 : 1; }
    int64_t inDim() const { return transposed ? 1 : 0; }
  };

  /// True when `op` computes its result position by position along the last
  /// dimension as far as a split of it goes: its sharding rule, given
  /// `operands` split along their last dimension (the other operands
  /// replicated), keeps them so and gives the result split the same way.
  /// Head-local ops (a rotary embedding of q or k, when the split keeps
  /// whole heads) and elementwise ones (the gating product of a GLU) are.
  bool keepsChannelSplit(Operation *op, ArrayRef<Value> operands) {
    auto iface = dyn_cast<ShardingRuleOpInterface>(op);
    if (!iface || op->getNumResults() != 1)
      return false;
    auto resultType = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!resultType || resultType.getRank() == 0)
      return false;
    PL channels = PL::shard(resultType.getRank() - 1);
    SmallVector<PL> in;
    for (Value operand : op->getOperands()) {
      bool split = llvm::is_contained(operands, operand);
      if (split && cast<RankedTensorType>(operand.getType()).getRank() !=
                       resultType.getRank())
        return false;
      in.push_back(split ? channels : PL::replicated());
    }
    ShardingRule rule;
    if (failed(iface.getShardingRule(in, parts, rule)))
      return false;
    return ArrayRef<PL>(rule.operands) == ArrayRef<PL>(in) &&
           rule.results.size() == 1 && rule.results[0] == channels;
  }

  /// The linear layer that computes `v`. With `throughChannelLocal`, ops of
  /// one tensor operand that keep a split of the channels (a rotary
  /// embedding between the projection and the attention) are looked
  /// through.
  Linear linearOf(Value v, bool throughChannelLocal = false) {
    while (throughChannelLocal) {
      Operation *def = v.getDefiningOp();
      if (!def || isa<MatmulOp, BiasAddOp>(def) || def->getNumOperands() == 0)
        break;
      Value input = def->getOperand(0);
      bool oneTensor = llvm::count_if(def->getOperands(), [](Value operand) {
                         return isa<RankedTensorType>(operand.getType());
                       }) == 1;
      if (!oneTensor || !isa<RankedTensorType>(input.getType()) ||
          !keepsChannelSplit(def, {input}))
        break;
      v = input;
    }
    Linear linear;
    if (auto add = v.getDefiningOp<BiasAddOp>()) {
      linear.bias = paramOf(model, add.getBias());
      v = add.getInput();
    }
    auto matmul = v.getDefiningOp<MatmulOp>();
    if (!matmul || matmul.getTransposeA())
      return {};
    linear.weight = paramOf(model, matmul.getRhs());
    linear.transposed = matmul.getTransposeB();
    if (!linear.weight || linear.weight.getTensorType().getRank() != 2)
      return {};
    return linear;
  }

  /// The row-parallel projection that consumes `v`: matmul(v, W) or
  /// matmul(v, W, transpose_b).
  Linear projectionOf(Value v) {
    for (Operation *user : v.getUsers())
      if (auto matmul = dyn_cast<MatmulOp>(user))
        if (matmul.getLhs() == v && !matmul.getTransposeA())
          if (ParamOp weight = paramOf(model, matmul.getRhs()))
            if (weight.getTensorType().getRank() == 2) {
              Linear linear;
              linear.weight = weight;
              linear.transposed = matmul.getTransposeB();
              return linear;
            }
    return {};
  }

  /// Places `linear` column-parallel: its output features split into
  /// `blocks` blocks each split over the ranks, its bias likewise.
  LogicalResult placeColumns(const Linear &linear, int64_t blocks,
                             Operation *at) {
    if (failed(place(linear.weight, PL::shard(linear.outDim(), blocks), at)))
      return failure();
    return success(!linear.bias ||
                   succeeded(place(linear.bias, PL::shard(0, blocks), at)));
  }

  /// Places `linear` row-parallel: its input features split over the ranks.
  LogicalResult placeRows(const Linear &linear, Operation *at) {
    return place(linear.weight, PL::shard(linear.inDim()), at);
  }

  // Attention: heads split over the axis (key/value heads too, under
  // grouped-query attention: rank r's query heads read exactly rank r's
  // key/value heads). A fused QKV projection (one linear layer split into
  // three) is column-parallel in 3 blocks, separate ones plainly, each
  // looked through a head-local op (the rotary embedding of q and k); the
  // output projection is row-parallel.
  LogicalResult planAttention(CausalAttentionOp op) {
    if (op.getHeads() % parts != 0)
      return emitError(
          op.getLoc(),
          llvm::formatv(
              "tensor parallelism: {0}={1} does not divide the {2} attention "
              "heads",
              axis, parts, op.getHeads()));
    int64_t kvHeads = op.getNumKvHeads();
    if (kvHeads % parts != 0)
      return emitError(
          op.getLoc(),
          llvm::formatv("tensor parallelism: {0}={1} does not divide the {2} "
                        "key/value heads (kv_heads) of grouped-query "
                        "attention; use a {0} that divides {2}",
                        axis, parts, kvHeads));
    SmallVector<Linear> inputs;
    int64_t blocks = 1;
    auto split = op.getQuery().getDefiningOp<SplitOp>();
    if (split && split.getParts() == 3 && split.getResult(0) == op.getQuery() &&
        split.getResult(1) == op.getKey() &&
        split.getResult(2) == op.getValue()) {
      inputs.push_back(linearOf(split.getInput()));
      blocks = 3;
    } else {
      for (Value v : {op.getQuery(), op.getKey(), op.getValue()})
        inputs.push_back(linearOf(v, /*throughChannelLocal=*/true));
    }
    for (const Linear &linear : inputs) {
      if (!linear)
        return success(); // Not a recognised layout: stays replicated.
      if (failed(checkDivides(linear.weight, linear.outDim(), blocks, op,
                              "the QKV columns")))
        return failure();
    }
    for (const Linear &linear : inputs)
      if (failed(placeColumns(linear, blocks, op)))
        return failure();
    if (Linear out = projectionOf(op.getResult())) {
      if (failed(checkDivides(out.weight, out.inDim(), 1, op,
                              "the attention output rows")) ||
          failed(placeRows(out, op)))
        return failure();
    }
    return success();
  }

  // MLP around an activation (an op with the Activation trait: gelu,
  // silu): up-projection column-parallel, down-projection row-parallel. A
  // gated MLP (SwiGLU, GeGLU: act(x W_gate) * (x W_up), then W_down)
  // combines the activation with a second linear layer of the same input
  // by an op that keeps a split of the channels (the product): both
  // column-parallel, the down-projection row-parallel.
  LogicalResult planMlp(Operation *op) {
    Linear up = linearOf(op->getOperand(0));
    if (!up)
      return success();
    SmallVector<Linear, 2> columns = {up};
    Linear down = projectionOf(op->getResult(0));
    if (!down) {
      for (Operation *user : op->getResult(0).getUsers()) {
        if (user->getNumOperands() != 2 || user->getNumResults() != 1)
          continue;
        Value other = user->getOperand(0) == op->getResult(0)
                          ? user->getOperand(1)
                          : user->getOperand(0);
        if (other.getType() != op->getResult(0).getType() ||
            !keepsChannelSplit(user,
                               {user->getOperand(0), user->getOperand(1)}))
          continue;
        Linear gated = linearOf(other);
        Linear gatedDown = gated ? projectionOf(user->getResult(0)) : Linear();
        if (!gatedDown)
          continue;
        columns.push_back(gated);
        down = gatedDown;
        break;
      }
    }
    if (!down)
      return success();
    for (const Linear &linear : columns)
      if (failed(checkDivides(linear.weight, linear.outDim(), 1, op,
                              "the MLP hidden width")) ||
          failed(placeColumns(linear, 1, op)))
        return failure();
    return placeRows(down, op);
  }

  // Token embedding (and the LM head tied to it): split along the
  // vocabulary.
  LogicalResult planEmbedding(EmbeddingOp op) {
    ParamOp table = paramOf(model, op.getTable());
    if (!table)
      return success();
    // A vocabulary the ranks do not divide (GPT-2's 50257) keeps the table
    // and the LM head replicated: correct, only less parallel. Padding the
    // vocabulary (to 50304, say) makes them vocabulary-parallel.
    int64_t vocab = table.getTensorType().getDimSize(0);
    if (ShapedType::isDynamic(vocab) || vocab % parts != 0) {
      explained.insert(table);
      bool tied = headOf(table) != nullptr;
      emitWarning(
          op.getLoc(),
          llvm::formatv(
              "tensor parallelism: {0}={1} does not divide the vocabulary of "
              "@{2} ({3}); {4} (pad the vocabulary to a multiple of {1} to "
              "split "
              "{5})",
              axis, parts, table.getSymName(), vocab,
              tied ? "the embedding and the LM head stay replicated"
                   : "the embedding stays replicated",
              tied ? "them" : "it"));
      return success();
    }
    return place(table, PL::shard(0), op);
  }

  // The LM head, logits = matmul(x, W, transpose_b) read by the loss:
  // split along the vocabulary, so that the logits and the cross-entropy
  // are vocabulary-parallel. A tied head is the embedding's table, placed
  // the same way by planEmbedding (or already explained there); an untied
  // one (its own parameter) gets the same placement here.
  /// The LM head's matmul of a loss: logits = matmul(x, W, transpose_b).
  MatmulOp headMatmulOf(CrossEntropyOp op) {
    auto matmul = op.getLogits().getDefiningOp<MatmulOp>();
    if (!matmul || !matmul.getTransposeB() || matmul.getTransposeA())
      return nullptr;
    return matmul;
  }

  /// The matmul that reads `param` as the LM head, if any.
  MatmulOp headOf(ParamOp param) {
    MatmulOp found;
    reference.walk([&](CrossEntropyOp op) {
      if (MatmulOp matmul = headMatmulOf(op))
        if (paramOf(model, matmul.getRhs()) == param)
          found = matmul;
    });
    return found;
  }

  LogicalResult planLmHead(CrossEntropyOp op) {
    MatmulOp matmul = headMatmulOf(op);
    if (!matmul)
      return success();
    ParamOp head = paramOf(model, matmul.getRhs());
    if (!head || head.getTensorType().getRank() != 2 ||
        explained.contains(head))
      return success();
    int64_t vocab = head.getTensorType().getDimSize(0);
    if (ShapedType::isDynamic(vocab) || vocab % parts != 0) {
      explained.insert(head);
      emitWarning(matmul.getLoc(),
                  llvm::formatv("tensor parallelism: {0}={1} does not divide "
                                "the vocabulary of the "
                                "LM head @{2} ({3}); it stays replicated (pad "
                                "the vocabulary to a "
                                "multiple of {1} to split it)",
                                axis, parts, head.getSymName(), vocab));
      return success();
    }
    return place(head, PL::shard(0), matmul);
  }

  ModelOp model;
  func::FuncOp reference;
  StringRef axis;
  int64_t parts;
  llvm::MapVector<Operation *, PL> planned;
  /// Parameters left replicated with a warning of their own.
  llvm::SmallPtrSet<Operation *, 4> explained;
};

//===----------------------------------------------------------------------===//
// Partitioner
//===----------------------------------------------------------------------===//

class Partitioner : public PartitionBuilder {
public:
  Partitioner(func::FuncOp func, ModelOp model, StringRef axisName,
              int64_t numParts, PartitionStats &stats, bool sequenceParallel)
      : func(func), model(model), b(func.getContext()), axisName(axisName),
        numParts(numParts), stats(stats), sequenceParallel(sequenceParallel) {}

  LogicalResult run();

  // PartitionBuilder.
  OpBuilder &builder() override { return b; }
  Operation *op() override { return current; }
  ValueRange operands() override { return currentOperands; }
  const ShardingRule &rule() override { return currentRule; }
  int64_t parts() override { return numParts; }
  StringRef axis() override { return axisName; }
  Value axisIndex() override {
    if (!index) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&func.getBody().front());
      index = AxisIndexOp::create(b, func.getLoc(), b.getStringAttr(axisName));
    }
    return index;
  }
  Type localType(Type type, const PL &placement) override {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !placement.isShard())
      return type;
    SmallVector<int64_t> shape(tensor.getShape());
    int64_t &size = shape[placement.getDim()];
    if (!ShapedType::isDynamic(size))
      size /= numParts;
    return tensor.clone(shape);
  }
  /// Records `local` when `placement` splits one of its dynamic dimensions.
  void noteDynamicSplit(Value local, const PL &placement) {
    auto type = dyn_cast<RankedTensorType>(local.getType());
    if (type && placement.isShard() && type.isDynamicDim(placement.getDim()))
      stats.dynamicSplit.insert(local);
  }
  Value &memo(StringRef kind, Value key) override {
    return memos[{kind.str(), key.getAsOpaquePointer()}];
  }
  FailureOr<SmallVector<Value>> cloneWithLocalTypes() override {
    IRMapping mapping;
    mapping.map(current->getOperands(), currentOperands);
    Operation *clone = b.clone(*current, mapping);
    for (auto [result, placement] :
         llvm::zip(clone->getResults(), currentRule.results))
      result.setType(localType(result.getType(), placement));
    return SmallVector<Value>(clone->getResults());
  }

private:
  PL placementOfParam(DictionaryAttr attrs) {
    auto name = attrs ? attrs.getAs<FlatSymbolRefAttr>(
                            LMCDialect::ParamAttrHelper::getNameStr())
                      : nullptr;
    if (!name)
      return PL::replicated();
    auto param =
        dyn_cast_or_null<ParamOp>(SymbolTable::lookupSymbolIn(model, name));
    auto sharding = param ? param->getAttrOfType<ShardingAttr>(
                                LMCDialect::getShardingAttrName())
                          : nullptr;
    return sharding ? sharding.getPlacement(axisName) : PL::replicated();
  }

  PL placementOf(Value v) {
    auto it = placements.find(v);
    return it == placements.end() ? PL::replicated() : it->second;
  }

  /// The builtin rules of the non-lmc ops in the training functions.
  void builtinRule(Operation *op, ArrayRef<PL> in, ShardingRule &rule);
  /// The rule of `op` (its interface's or the builtin one) for `in`.
  LogicalResult ruleOf(Operation *op, ArrayRef<PL> in, ShardingRule &rule) {
    if (auto iface = dyn_cast<ShardingRuleOpInterface>(op))
      return iface.getShardingRule(in, numParts, rule);
    builtinRule(op, in, rule);
    return success();
  }
  /// Sequence parallelism: where `rule` resolves partial [B, T, C] operands
  /// (asks them whole or otherwise not partial), asks the rule again with
  /// those operands split along the sequence; when it keeps that split for
  /// every one of them, that rule replaces `rule` (the operands stay
  /// partial in `in`: resharding reduce-scatters them).
  void preferSequenceSplit(Operation *op, ArrayRef<PL> in, ShardingRule &rule);
  FailureOr<SmallVector<Value>> builtinPartition(Operation *op);

  FailureOr<Value> reshard(Value local, Type global, PL from, PL to);
  /// reshard, once per local value and target placement: every later reader
  /// that needs the same placement (a residual stream left partial by the
  /// sum of two row-parallel outputs, read again by the backward pass) gets
  /// the first one's value, which dominates it in the straight-line body.
  FailureOr<Value> reshardOnce(Value local, Type global, PL from, PL to) {
    if (from == to)
      return local;
    Value &slot = memo(llvm::formatv("reshard {0} {1} {2}",
                                     static_cast<int>(to.getKind()),
                                     to.isShard() ? to.getDim() : -1,
                                     to.isShard() ? to.getBlocks() : 0)
                           .str(),
                       local);
    if (!slot) {
      FailureOr<Value> resharded = reshard(local, global, from, to);
      if (failed(resharded))
        return failure();
      slot = *resharded;
      noteDynamicSplit(slot, to);
    }
    return slot;
  }
  Value allReduce(Value local);
  Value reduceScatter(Value local, int64_t dim);
  Value gather(Value local, Type global, PL from);
  Value slice(Value local, Type global, PL to);

  func::FuncOp func;
  ModelOp model;
  OpBuilder b;
  StringRef axisName;
  int64_t numParts;
  PartitionStats &stats;
  bool sequenceParallel;
  Value index;

  Operation *current = nullptr;
  SmallVector<Value> currentOperands;
  ShardingRule currentRule;
  /// Original value -> its local value and placement.
  DenseMap<Value, Value> locals;
  DenseMap<Value, PL> placements;
  std::map<std::pair<std::string, void *>, Value> memos;
};

void Partitioner::builtinRule(Operation *op, ArrayRef<PL> in,
                              ShardingRule &rule) {
  rule.operands.assign(op->getNumOperands(), PL::replicated());
  rule.results.assign(op->getNumResults(), PL::replicated());
  // A scalar read from a partial 0-d tensor is partial.
  if (auto extract = dyn_cast<tensor::ExtractOp>(op)) {
    if (extract.getTensor().getType().getRank() == 0 && in[0].isPartial()) {
      rule.operands[0] = rule.results[0] = PL::partial();
    }
    return;
  }
  // Sums of scalars stay partial; a replicated addend joins as partial.
  if (isa<arith::AddFOp>(op) &&
      llvm::any_of(in, [](PL p) { return p.isPartial(); })) {
    rule.operands.assign(2, PL::partial());
    rule.results[0] = PL::partial();
    return;
  }
  // The size of a dimension is known on every rank.
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    rule.operands[0] = in[0];
    return;
  }
}

FailureOr<SmallVector<Value>> Partitioner::builtinPartition(Operation *op) {
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    PL p = currentRule.operands[0];
    std::optional<int64_t> index = dim.getConstantIndex();
    if (p.isShard() && (!index || *index == p.getDim())) {
      // The global size of a sharded dimension.
      Value local = tensor::DimOp::create(b, op->getLoc(), currentOperands[0],
                                          currentOperands[1]);
      Value global = arith::MulIOp::create(
          b, op->getLoc(), local,
          arith::ConstantIndexOp::create(b, op->getLoc(), numParts));
      if (!index)
        return op->emitOpError("tensor parallelism: a dynamic dimension "
                               "index of a sharded tensor");
      return SmallVector<Value>{global};
    }
  }
  return cloneWithLocalTypes();
}

Value Partitioner::allReduce(Value local) {
  ++stats.allReduces;
  Location loc = current->getLoc();
  ArrayAttr axes = b.getStrArrayAttr({axisName});
  if (isa<RankedTensorType>(local.getType()))
    return AllReduceOp::create(b, loc, ValueRange{local}, axes).getResult(0);
  // A scalar: through a 0-d tensor.
  Value tensor = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({}, local.getType()), ValueRange{local});
  Value sum =
      AllReduceOp::create(b, loc, ValueRange{tensor}, axes).getResult(0);
  return tensor::ExtractOp::create(b, loc, sum, ValueRange{});
}

/// The sum over the axis of the partial `local`, each rank keeping its
/// piece along `dim`.
Value Partitioner::reduceScatter(Value local, int64_t dim) {
  ++stats.reduceScatters;
  Location loc = current->getLoc();
  auto type = cast<RankedTensorType>(local.getType());
  Type localType = this->localType(type, PL::shard(dim));
  return ReduceScatterOp::create(b, loc, localType, local,
                                 b.getStrArrayAttr({axisName}),
                                 b.getI64IntegerAttr(dim));
}

/// Gathers the pieces of `local` (in `from`, a shard placement) into the
/// whole tensor. With blocks, the gathered tensor holds rank-major pieces
/// [rank][block][c], reordered into [block][rank][c].
Value Partitioner::gather(Value local, Type global, PL from) {
  ++stats.allGathers;
  Location loc = current->getLoc();
  auto localType = cast<RankedTensorType>(local.getType());
  int64_t d = from.getDim(), k = from.getBlocks();
  SmallVector<int64_t> shape(localType.getShape());
  if (!ShapedType::isDynamic(shape[d]))
    shape[d] *= numParts;
  Value gathered = AllGatherOp::create(b, loc, localType.clone(shape), local,
                                       b.getStrArrayAttr({axisName}),
                                       b.getI64IntegerAttr(d));
  if (k == 1)
    return gathered;
  int64_t c = localType.getDimSize(d) / k;
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, gathered);
  Value whole =
      tensor::EmptyOp::create(b, loc, sizes, localType.getElementType());
  sizes[d] = b.getIndexAttr(c);
  SmallVector<OpFoldResult> zeros(shape.size(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> ones(shape.size(), b.getIndexAttr(1));
  for (int64_t block = 0; block < k; ++block)
    for (int64_t rank = 0; rank < numParts; ++rank) {
      SmallVector<OpFoldResult> from(zeros), to(zeros);
      from[d] = b.getIndexAttr((rank * k + block) * c);
      to[d] = b.getIndexAttr((block * numParts + rank) * c);
      Value piece =
          tensor::ExtractSliceOp::create(b, loc, gathered, from, sizes, ones);
      whole =
          tensor::InsertSliceOp::create(b, loc, piece, whole, to, sizes, ones);
    }
  return whole;
}

/// This rank's piece of the replicated `local` in placement `to`: no
/// communication.
Value Partitioner::slice(Value local, Type global, PL to) {
  ++stats.slices;
  Location loc = current->getLoc();
  auto type = cast<RankedTensorType>(local.getType());
  int64_t d = to.getDim(), k = to.getBlocks();
  if (type.isDynamicDim(d) && k == 1) {
    // A run-time size (the sequence): each rank's rows are size / parts,
    // from index * (size / parts).
    Value size = tensor::DimOp::create(b, loc, local, d);
    Value rows = arith::DivUIOp::create(
        b, loc, size, arith::ConstantIndexOp::create(b, loc, numParts));
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, local);
    sizes[d] = rows;
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    offsets[d] = arith::MulIOp::create(b, loc, axisIndex(), rows).getResult();
    SmallVector<OpFoldResult> ones(type.getRank(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, local, offsets, sizes, ones);
  }
  int64_t c = type.getDimSize(d) / (numParts * k);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, local);
  sizes[d] = b.getIndexAttr(c);
  SmallVector<OpFoldResult> zeros(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> ones(type.getRank(), b.getIndexAttr(1));
  Value mine = arith::MulIOp::create(b, loc, axisIndex(),
                                     arith::ConstantIndexOp::create(b, loc, c));
  auto pieceAt = [&](int64_t block) {
    SmallVector<OpFoldResult> offsets(zeros);
    Value offset = arith::AddIOp::create(
        b, loc, mine,
        arith::ConstantIndexOp::create(b, loc, block * numParts * c));
    offsets[d] = offset;
    return tensor::ExtractSliceOp::create(b, loc, local, offsets, sizes, ones)
        .getResult();
  };
  if (k == 1)
    return pieceAt(0);
  SmallVector<OpFoldResult> localSizes(sizes);
  localSizes[d] = b.getIndexAttr(c * k);
  Value result =
      tensor::EmptyOp::create(b, loc, localSizes, type.getElementType());
  for (int64_t block = 0; block < k; ++block) {
    SmallVector<OpFoldResult> at(zeros);
    at[d] = b.getIndexAttr(block * c);
    result = tensor::InsertSliceOp::create(b, loc, pieceAt(block), result, at,
                                           sizes, ones);
  }
  return result;
}

FailureOr<Value> Partitioner::reshard(Value local, Type global, PL from,
                                      PL to) {
  if (from == to)
    return local;
  Location loc = current->getLoc();
  // Partial to one piece per rank: a reduce-scatter, half an all-reduce.
  if (from.isPartial() && to.isShard() && to.getBlocks() == 1 &&
      isa<RankedTensorType>(local.getType())) {
    int64_t size =
        cast<RankedTensorType>(local.getType()).getDimSize(to.getDim());
    if (ShapedType::isDynamic(size) || size % numParts == 0)
      return reduceScatter(local, to.getDim());
  }
  if (from.isPartial()) {
    local = allReduce(local);
    from = PL::replicated();
  } else if (from.isShard()) {
    if (!isa<RankedTensorType>(local.getType()))
      return current->emitOpError("tensor parallelism: a sharded scalar");
    local = gather(local, global, from);
    from = PL::replicated();
  }
  if (to.isReplicated())
    return local;
  if (to.isShard())
    return slice(local, global, to);
  // Replicated to partial: rank 0 keeps the value, the others hold zero.
  Value isFirst =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, axisIndex(),
                            arith::ConstantIndexOp::create(b, loc, 0));
  Value zero;
  if (isa<RankedTensorType>(local.getType()))
    zero = ZerosLikeOp::create(b, loc, local);
  else if (auto floatType = dyn_cast<FloatType>(local.getType()))
    zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(floatType, 0.0));
  else
    return current->emitOpError("tensor parallelism: cannot split ")
           << local.getType() << " into partial sums";
  return arith::SelectOp::create(b, loc, isFirst, local, zero).getResult();
}

void Partitioner::preferSequenceSplit(Operation *op, ArrayRef<PL> in,
                                      ShardingRule &rule) {
  SmallVector<PL> split(in.begin(), in.end());
  SmallVector<unsigned> resolved;
  for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
    auto type = dyn_cast<RankedTensorType>(operand.getType());
    if (!in[i].isPartial() || rule.operands[i].isPartial() || !type ||
        type.getRank() != 3)
      continue;
    int64_t size = type.getDimSize(1);
    if (!ShapedType::isDynamic(size) && size % numParts != 0)
      continue;
    split[i] = PL::shard(1);
    resolved.push_back(i);
  }
  if (resolved.empty())
    return;
  ShardingRule candidate;
  if (failed(ruleOf(op, split, candidate)) ||
      !llvm::all_of(resolved, [&](unsigned i) {
        return candidate.operands[i] == PL::shard(1);
      }))
    return;
  rule = std::move(candidate);
}

LogicalResult Partitioner::run() {
  Block &body = func.getBody().front();
  // Arguments: parameters and their AdamW state in the parameter's
  // placement, everything else replicated.
  for (BlockArgument arg : body.getArguments()) {
    PL placement = placementOfParam(func.getArgAttrDict(arg.getArgNumber()));
    placements[arg] = placement;
    locals[arg] = arg;
    arg.setType(localType(arg.getType(), placement));
  }

  // A parameter's gradient takes the parameter's placement where the
  // backward pass produces it, once, so that all its readers (lmc-shard's
  // data-parallel reduction, the global norm, the update) read one value.
  // Resharded at each reader instead, the norm would square another value
  // than the one the update reads (the whole gradient of a vocabulary-split
  // table, say, where the update reads this rank's slice), and a later
  // stage that reduces the update's operand would leave the norm's
  // unreduced.
  DenseMap<Value, PL> gradientPlacements;
  for (auto update : body.getOps<AdamWOp>())
    if (isa<BlockArgument>(update.getParam()) &&
        !placementOf(update.getParam()).isPartial())
      gradientPlacements.try_emplace(update.getGrad(),
                                     placementOf(update.getParam()));

  SmallVector<Operation *> originals;
  for (Operation &op : body.without_terminator())
    originals.push_back(&op);

  for (Operation *op : originals) {
    // The training functions are straight-line; a nested region would read
    // values this walk has replaced.
    if (op->getNumRegions() != 0)
      return op->emitOpError("tensor parallelism partitions straight-line "
                             "functions; this op has regions");
    current = op;
    b.setInsertionPoint(op);
    SmallVector<PL> in;
    for (Value operand : op->getOperands())
      in.push_back(placementOf(operand));
    currentRule = ShardingRule();
    auto iface = dyn_cast<ShardingRuleOpInterface>(op);
    if (failed(ruleOf(op, in, currentRule)))
      return op->emitOpError("has no sharding rule for its operands");
    if (sequenceParallel)
      preferSequenceSplit(op, in, currentRule);
    currentOperands.clear();
    for (auto [operand, from, to] :
         llvm::zip(op->getOperands(), in, currentRule.operands)) {
      FailureOr<Value> local =
          reshardOnce(locals.lookup(operand), operand.getType(), from, to);
      if (failed(local))
        return failure();
      currentOperands.push_back(*local);
      // Under sequence parallelism a partial value is resolved once: every
      // later reader reads it resolved (a residual stream split along the
      // sequence stays split, not partial).
      if (sequenceParallel && from.isPartial() && !to.isPartial()) {
        locals[operand] = *local;
        placements[operand] = to;
      }
    }
    FailureOr<SmallVector<Value>> results =
        iface ? iface.partition(*this) : builtinPartition(op);
    if (failed(results))
      return failure();
    for (auto [result, local, placement] :
         llvm::zip(op->getResults(), *results, currentRule.results)) {
      locals[result] = local;
      placements[result] = placement;
      noteDynamicSplit(local, placement);
      auto gradient = gradientPlacements.find(result);
      if (gradient == gradientPlacements.end() || gradient->second == placement)
        continue;
      FailureOr<Value> resharded =
          reshard(local, result.getType(), placement, gradient->second);
      if (failed(resharded))
        return failure();
      locals[result] = *resharded;
      placements[result] = gradient->second;
      noteDynamicSplit(*resharded, gradient->second);
    }
  }

  // Results: a parameter (or its state) in the parameter's placement,
  // everything else whole.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  current = ret;
  b.setInsertionPoint(ret);
  SmallVector<Value> results;
  for (auto [i, operand] : llvm::enumerate(ret.getOperands())) {
    PL to = placementOfParam(func.getResultAttrDict(i));
    FailureOr<Value> local = reshardOnce(
        locals.lookup(operand), operand.getType(), placementOf(operand), to);
    if (failed(local))
      return failure();
    results.push_back(*local);
  }
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  for (Operation *op : llvm::reverse(originals)) {
    op->dropAllUses();
    op->erase();
  }
  func.setType(FunctionType::get(func.getContext(), body.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  return success();
}

} // namespace

LogicalResult mlir::lmc::planTensorParallel(ModelOp model,
                                            func::FuncOp reference,
                                            StringRef axis, int64_t parts) {
  return Planner(model, axis, parts).run(reference);
}

LogicalResult mlir::lmc::partitionFunction(func::FuncOp func, ModelOp model,
                                           StringRef axis, int64_t parts,
                                           PartitionStats &stats,
                                           bool sequenceParallel) {
  return Partitioner(func, model, axis, parts, stats, sequenceParallel).run();
}
