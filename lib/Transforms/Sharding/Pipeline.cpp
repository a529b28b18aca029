//===- Pipeline.cpp - lmc-pipeline: the step split into pipeline stages ---===//
//
// Pipeline parallelism over the mesh axis `pp`: @grad_step becomes one
// function per stage that runs the stage's share of the forward and
// backward passes over the micro-batches in a 1F1B or GPipe order, with
// point-to-point transfers between the stages; @apply_step becomes one
// function per stage that updates the parameters the stage holds. See the
// pass description in include/lmc/Transforms/Sharding/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "ParameterGather.h"
#include "ShardingStrategy.h"
#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCDialect.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <numeric>

#define DEBUG_TYPE "lmc-pipeline"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCPIPELINE
#include "lmc/Transforms/Sharding/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

constexpr StringLiteral kAxis = ShardingStrategy::pipelineAxis;

/// A value's place in the staged program.
constexpr int kReplicable = -1; // Depends on the batch and constants only.

/// One slot of a stage's schedule: the forward or the backward pass of a
/// micro-batch.
struct Slot {
  bool forward;
  int64_t micro;
};

/// The slots of stage `s` of `P` over `M` micro-batches.
SmallVector<Slot> scheduleOf(int64_t s, int64_t P, int64_t M, bool gpipe) {
  SmallVector<Slot> slots;
  if (gpipe) {
    for (int64_t i = 0; i < M; ++i)
      slots.push_back({true, i});
    for (int64_t i = 0; i < M; ++i)
      slots.push_back({false, i});
    return slots;
  }
  int64_t warmup = std::min(P - s - 1, M);
  for (int64_t i = 0; i < warmup; ++i)
    slots.push_back({true, i});
  for (int64_t j = 0; j < M - warmup; ++j) {
    slots.push_back({true, warmup + j});
    slots.push_back({false, j});
  }
  for (int64_t j = M - warmup; j < M; ++j)
    slots.push_back({false, j});
  return slots;
}

/// Splits contiguous `costs` into `parts` runs (each non-empty) minimising
/// the largest run's cost, with `first` added to the first run and `last`
/// to the last. Returns the index of each run's first element.
SmallVector<int64_t> balance(ArrayRef<double> costs, int64_t parts,
                             double first, double last) {
  int64_t n = costs.size();
  SmallVector<double> prefix(n + 1, 0.0);
  for (int64_t i = 0; i < n; ++i)
    prefix[i + 1] = prefix[i] + costs[i];
  const double inf = std::numeric_limits<double>::infinity();
  // best[k][j]: the cheapest largest run splitting costs[0, j) into k runs.
  std::vector<std::vector<double>> best(parts + 1,
                                        std::vector<double>(n + 1, inf));
  std::vector<std::vector<int64_t>> from(parts + 1,
                                         std::vector<int64_t>(n + 1, 0));
  best[0][0] = 0.0;
  for (int64_t k = 1; k <= parts; ++k)
    for (int64_t j = k; j <= n; ++j)
      for (int64_t i = k - 1; i < j; ++i) {
        double run = prefix[j] - prefix[i];
        if (k == 1)
          run += first;
        if (k == parts && j == n)
          run += last;
        double cost = std::max(best[k - 1][i], run);
        if (cost < best[k][j]) {
          best[k][j] = cost;
          from[k][j] = i;
        }
      }
  SmallVector<int64_t> starts(parts);
  int64_t j = n;
  for (int64_t k = parts; k >= 1; --k) {
    starts[k - 1] = from[k][j];
    j = from[k][j];
  }
  return starts;
}

/// The bytes of `type` with its dynamic dimensions at `rows` x `seq`
/// (the first at rows, the others at seq), for the report.
int64_t reportBytes(Type type, int64_t rows, int64_t seq) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked)
    return 4;
  int64_t n = 1;
  bool firstDynamic = true;
  for (int64_t d : ranked.getShape()) {
    if (ShapedType::isDynamic(d)) {
      n *= firstDynamic ? rows : seq;
      firstDynamic = false;
    } else {
      n *= d;
    }
  }
  return n * std::max<int64_t>(1, ranked.getElementTypeBitWidth() / 8);
}

/// The plan: which stage computes each op of @grad_step and which stages
/// hold each parameter.
struct Plan {
  int64_t P = 1, M = 1;
  bool gpipe = false;
  mutable func::FuncOp grad, apply;
  int64_t n = 0; // Parameters.
  SmallVector<StringAttr> names;
  SmallVector<SmallVector<int64_t>> holders; // Home first.
  SmallVector<SmallVector<std::string>> stageLayers;
  DenseMap<Value, int> stageOf;       // Values of the body and arguments.
  DenseMap<Operation *, int> opStage; // Ops of the body.
  DenseSet<Operation *> forwardOps;   // The ops the loss depends on.
  DenseSet<Operation *> accumulation; // The adds into the accumulators.
  // Per accumulator (result k + 1 of @grad_step): the gradient before its
  // reduction over other axes (`raw`), that reduction (`chain`: the linear
  // collectives and scales between `raw` and the accumulation, from the
  // accumulation down), and the terms of `raw` by stage (`leaves`: one, or
  // a tied parameter's gradients from several stages).
  SmallVector<Value> raw;
  SmallVector<SmallVector<Operation *>> chains;
  SmallVector<SmallVector<Value>> leaves;
  // The values a stage other than their own reads, numbered in program
  // order (their message tags), with the stages that read them.
  llvm::MapVector<Value, SmallVector<int64_t>> crossing;

  bool isParam(Value v) const {
    auto arg = dyn_cast<BlockArgument>(v);
    return arg && arg.getOwner() == &grad.getBody().front() &&
           arg.getArgNumber() < 2 * n;
  }
  int64_t paramIndex(Value v) const {
    return cast<BlockArgument>(v).getArgNumber() % n;
  }
  int stage(Value v) const {
    auto it = stageOf.find(v);
    return it == stageOf.end() ? kReplicable : it->second;
  }
  void hold(int64_t param, int64_t s) {
    if (!llvm::is_contained(holders[param], s))
      holders[param].push_back(s);
  }
};

class PipelineBuilder {
public:
  PipelineBuilder(Plan &plan) : plan(plan) {}

  LogicalResult planStages();
  LogicalResult assignOps();
  FailureOr<func::FuncOp> buildGradStage(int64_t s);
  FailureOr<func::FuncOp> buildApplyStage(int64_t s);
  void printReport(ModelOp model, int64_t rows, int64_t seq);

private:
  Plan &plan;
  // The stage functions built so far, in stage order.
  func::FuncOp lastGrad, lastApply;

  // State while building one stage's function.
  struct StageState {
    StageState(int64_t s, OpBuilder &b, Location loc) : s(s), b(&b), loc(loc) {}
    int64_t s;
    OpBuilder *b;
    Location loc;
    SmallVector<IRMapping> maps;
    DenseMap<std::pair<Value, int64_t>, Value> pending;
    DenseMap<Value, SmallVector<Value>> sizes; // Received dynamic sizes.
  };

  int64_t tagOf(Value v, int64_t micro) const {
    auto it = plan.crossing.find(v);
    int64_t index = it - plan.crossing.begin();
    return 2 * (index * plan.M + micro);
  }
  FailureOr<Value> materialize(StageState &st, Value v, int64_t micro);
  LogicalResult postReceives(StageState &st, const Slot &slot, bool ahead);
  LogicalResult emitSlot(StageState &st, const Slot &slot,
                         function_ref<void(Operation *)> computed);
  SmallVector<Operation *> slotOps(int64_t s, bool forward) const;
};

LogicalResult PipelineBuilder::planStages() {
  func::FuncOp grad = plan.grad;
  Block &body = grad.getBody().front();
  int64_t n = 0;
  while (n < grad.getNumArguments() &&
         grad.getArgAttr(n, LMCDialect::ParamAttrHelper::getNameStr()))
    ++n;
  plan.n = n;
  if (n == 0 || grad.getNumArguments() != 2 * n + 2 ||
      grad.getNumResults() != n + 1)
    return grad.emitOpError("lmc-pipeline expects @grad_step(params, "
                            "accumulators, tokens, targets) -> (loss, "
                            "accumulators) (lmc-grad-accumulation's)");
  for (int64_t i = 0; i < n; ++i)
    plan.names.push_back(
        grad.getArgAttrOfType<FlatSymbolRefAttr>(
                i, LMCDialect::ParamAttrHelper::getNameStr())
            .getAttr());

  // The forward pass: what the loss depends on.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<Operation *> worklist;
  if (Operation *def = ret.getOperand(0).getDefiningOp())
    worklist.push_back(def);
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (!plan.forwardOps.insert(op).second)
      continue;
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        worklist.push_back(def);
  }

  // Layers, in the order of their first forward use, and their costs.
  DenseMap<Operation *, int64_t> position;
  for (auto [i, op] : llvm::enumerate(body.without_terminator()))
    position[&op] = i;
  SmallVector<int64_t> firstUse(n, std::numeric_limits<int64_t>::max());
  SmallVector<double> cost(n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    BlockArgument arg = body.getArgument(i);
    auto type = cast<RankedTensorType>(arg.getType());
    // The parameter bytes break ties between splits of equal FLOPs.
    cost[i] += type.hasStaticShape() ? 1e-3 * type.getNumElements() : 0;
    for (Operation *user : arg.getUsers()) {
      Operation *op = body.findAncestorOpInBlock(*user);
      if (!op || !plan.forwardOps.contains(op))
        continue;
      firstUse[i] = std::min(firstUse[i], position[op]);
      // A GEMM with a parameter operand: 2 K N FLOPs per token.
      if (isa<MatmulOp>(op) && type.hasStaticShape())
        cost[i] += 2.0 * type.getNumElements();
    }
  }
  auto numbered = [](StringRef key) {
    SmallVector<StringRef> parts;
    key.split(parts, '.');
    return llvm::any_of(parts, [](StringRef p) {
      return !p.empty() && llvm::all_of(p, llvm::isDigit);
    });
  };
  llvm::MapVector<std::string, SmallVector<int64_t>,
                  std::map<std::string, unsigned>>
      layers;
  SmallVector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  llvm::stable_sort(order,
                    [&](int64_t a, int64_t b) { return firstUse[a] < firstUse[b]; });
  SmallVector<int64_t> before, after;
  int64_t firstLayerUse = std::numeric_limits<int64_t>::max();
  for (int64_t i : order) {
    std::string key = layerKey(plan.names[i].getValue());
    if (numbered(key)) {
      layers[key].push_back(i);
      firstLayerUse = std::min(firstLayerUse, firstUse[i]);
    }
  }
  for (int64_t i : order) {
    if (numbered(layerKey(plan.names[i].getValue())))
      continue;
    (firstUse[i] < firstLayerUse ? before : after).push_back(i);
  }
  int64_t L = layers.size();
  if (L < plan.P) {
    std::string found;
    for (auto &[key, members] : layers)
      found += (found.empty() ? "" : ", ") + key;
    return grad.emitOpError("lmc-pipeline: ")
           << kAxis << "=" << plan.P << " needs at least " << plan.P
           << " layers (one per stage); the model has " << L
           << (found.empty() ? "" : " (" + found + ")");
  }
  SmallVector<double> layerCost;
  for (auto &[key, members] : layers) {
    double c = 0.0;
    for (int64_t i : members)
      c += cost[i];
    layerCost.push_back(c);
  }
  double firstCost = 0.0, lastCost = 0.0;
  for (int64_t i : before)
    firstCost += cost[i];
  for (int64_t i : after)
    lastCost += cost[i];
  // The LM head of a tied model reads the embedding in the last stage.
  for (int64_t i : before)
    for (Operation *user : body.getArgument(i).getUsers()) {
      Operation *op = body.findAncestorOpInBlock(*user);
      auto type = cast<RankedTensorType>(body.getArgument(i).getType());
      if (op && plan.forwardOps.contains(op) && isa<MatmulOp>(op) &&
          type.hasStaticShape()) {
        firstCost -= 2.0 * type.getNumElements();
        lastCost += 2.0 * type.getNumElements();
      }
    }
  SmallVector<int64_t> starts = balance(layerCost, plan.P, firstCost, lastCost);
  plan.holders.assign(n, {});
  plan.stageLayers.assign(plan.P, {});
  for (int64_t i : before) {
    plan.holders[i].push_back(0);
    plan.stageLayers[0].push_back(plan.names[i].getValue().str());
  }
  int64_t stage = 0;
  for (auto [l, entry] : llvm::enumerate(layers)) {
    while (stage + 1 < plan.P && static_cast<int64_t>(l) >= starts[stage + 1])
      ++stage;
    plan.stageLayers[stage].push_back(entry.first);
    for (int64_t i : entry.second)
      plan.holders[i].push_back(stage);
  }
  for (int64_t i : after) {
    plan.holders[i].push_back(plan.P - 1);
    plan.stageLayers[plan.P - 1].push_back(plan.names[i].getValue().str());
  }
  // Parameters the forward pass does not read: with their gradient's stage
  // (assignOps), else the last stage.
  for (int64_t i = 0; i < n; ++i)
    if (plan.holders[i].empty())
      plan.holders[i].push_back(plan.P - 1);
  return success();
}

LogicalResult PipelineBuilder::assignOps() {
  func::FuncOp grad = plan.grad;
  Block &body = grad.getBody().front();
  int64_t n = plan.n;
  auto ret = cast<func::ReturnOp>(body.getTerminator());

  // The accumulations: result k + 1 = lmc.add(accumulator k, g), g a tree
  // of lmc.adds whose operands come from different stages (a tied
  // parameter's gradients) or one gradient.
  plan.leaves.assign(n, {});
  SmallVector<Operation *> accumulationRoots(n, nullptr);
  for (int64_t k = 0; k < n; ++k) {
    Value r = ret.getOperand(k + 1);
    BlockArgument acc = body.getArgument(n + k);
    if (r == acc)
      continue;
    auto add = r.getDefiningOp<AddOp>();
    if (!add || !add->hasOneUse() ||
        (add.getLhs() != acc && add.getRhs() != acc))
      return grad.emitOpError("lmc-pipeline: the accumulated gradient of @")
             << plan.names[k].getValue()
             << " is not an lmc.add of its accumulator and a gradient";
    plan.accumulation.insert(add);
    accumulationRoots[k] = add;
  }

  // Each gradient's reduction over dp (tp) is linear: the stage sums the
  // micro-batches' gradients first and reduces the sum once.
  plan.raw.assign(n, Value());
  plan.chains.assign(n, {});
  DenseMap<Operation *, int64_t> rootOf;
  for (int64_t k = 0; k < n; ++k) {
    Operation *root = accumulationRoots[k];
    if (!root)
      continue;
    BlockArgument acc = body.getArgument(n + k);
    Value raw = root->getOperand(0) == acc ? root->getOperand(1)
                                           : root->getOperand(0);
    SmallVector<Operation *> chain;
    while (Operation *def = raw.getDefiningOp()) {
      if (!raw.hasOneUse() || def->getNumOperands() != 1 ||
          def->getNumResults() != 1 ||
          !isa<ScaleOp, WaitOp, AllReduceStartOp, ReduceScatterStartOp,
               AllReduceOp, ReduceScatterOp>(def))
        break;
      chain.push_back(def);
      raw = def->getOperand(0);
    }
    auto rawType = dyn_cast<RankedTensorType>(raw.getType());
    if (!rawType || !rawType.hasStaticShape()) {
      chain.clear();
      raw = root->getOperand(0) == acc ? root->getOperand(1)
                                       : root->getOperand(0);
    }
    for (Operation *op : chain)
      plan.accumulation.insert(op);
    plan.raw[k] = raw;
    plan.chains[k] = chain;
    rootOf[chain.empty() ? root : chain.back()] = k;
  }

  SmallVector<Operation *> movable;
  // Stages in program order. A forward op runs on the latest stage among
  // its operands and its parameters' homes. A backward op runs where the
  // forward op it mirrors ran: the latest stage among the forward values
  // it reads and its parameters' homes; one that reads only gradients and parameters runs on the
  // earliest stage among the gradients, or on the latest holder of its
  // parameters before that (the LM head's gradient of a tied embedding
  // reads the embedding on the last stage).
  for (Operation &op : body.without_terminator()) {
    bool forward = plan.forwardOps.contains(&op);
    int latestForward = kReplicable;
    int earliestGradient = std::numeric_limits<int>::max();
    SmallVector<int64_t> params;
    for (Value operand : op.getOperands()) {
      if (plan.isParam(operand)) {
        params.push_back(plan.paramIndex(operand));
        continue;
      }
      int s = plan.stage(operand);
      if (s == kReplicable)
        continue;
      Operation *def = operand.getDefiningOp();
      if (forward || (def && plan.forwardOps.contains(def)))
        latestForward = std::max(latestForward, s);
      else
        earliestGradient = std::min(earliestGradient, s);
    }
    bool gradients = earliestGradient != std::numeric_limits<int>::max();
    int s;
    if (latestForward == kReplicable && !gradients && params.empty() &&
        isMemoryEffectFree(&op) && op.getNumRegions() == 0) {
      s = kReplicable;
    } else if (forward || latestForward != kReplicable) {
      s = std::max(latestForward, 0);
      for (int64_t p : params)
        s = std::max<int>(s, plan.holders[p].front());
    } else if (!params.empty()) {
      s = 0;
      for (int64_t p : params) {
        int64_t chosen = plan.holders[p].front();
        for (int64_t h : plan.holders[p])
          if (gradients && h <= earliestGradient && h > chosen)
            chosen = h;
        s = std::max<int>(s, chosen);
      }
    } else {
      s = gradients ? earliestGradient : 0;
    }
    if (!forward && latestForward == kReplicable && params.empty() &&
        gradients)
      movable.push_back(&op);
    for (int64_t p : params)
      plan.hold(p, s);
    plan.opStage[&op] = s;
    for (Value result : op.getResults())
      plan.stageOf[result] = s;
  }

  // An op that reads only gradients (a bias gradient's sum, a reshape)
  // moves to the earlier stage all its readers are on when that stage
  // receives its operands anyway: the gradient of a parameter then stays
  // on the parameter's stage instead of crossing back.
  for (Operation *op : llvm::reverse(movable)) {
    int s = plan.opStage[op];
    int target = -1;
    bool same = true;
    for (Operation *user : op->getUsers()) {
      int t;
      if (auto it = rootOf.find(user); it != rootOf.end())
        t = plan.holders[it->second].front();
      else if (user->getBlock() == &body && plan.opStage.count(user))
        t = plan.opStage[user];
      else
        t = -1;
      if (t < 0 || (target >= 0 && t != target)) {
        same = false;
        break;
      }
      target = t;
    }
    if (!same || target < 0 || target >= s)
      continue;
    bool received = llvm::all_of(op->getOperands(), [&](Value v) {
      int t = plan.stage(v);
      if (t == kReplicable || t == target)
        return true;
      return llvm::any_of(v.getUsers(), [&](Operation *user) {
        return user != op && plan.opStage.lookup(user) == target &&
               !plan.accumulation.contains(user);
      });
    });
    if (!received)
      continue;
    plan.opStage[op] = target;
    for (Value result : op->getResults())
      plan.stageOf[result] = target;
  }

  // The accumulated gradients: each leaf accumulates on its own stage.
  for (int64_t k = 0; k < n; ++k) {
    Operation *root = accumulationRoots[k];
    if (!root)
      continue;
    SmallVector<Value> stack = {plan.raw[k]};
    SmallVector<Value> leaves;
    while (!stack.empty()) {
      Value v = stack.pop_back_val();
      auto add = v.getDefiningOp<AddOp>();
      if (add && add->hasOneUse() && plan.stage(add.getLhs()) >= 0 &&
          plan.stage(add.getRhs()) >= 0 &&
          plan.stage(add.getLhs()) != plan.stage(add.getRhs())) {
        plan.accumulation.insert(add);
        stack.push_back(add.getRhs());
        stack.push_back(add.getLhs());
        continue;
      }
      leaves.push_back(v);
    }
    for (Value leaf : leaves) {
      int s = plan.stage(leaf);
      if (s == kReplicable)
        return grad.emitOpError("lmc-pipeline: the gradient of @")
               << plan.names[k].getValue()
               << " does not depend on the batch or the parameters";
      plan.hold(k, s);
    }
    plan.leaves[k] = leaves;
  }

  // The values read on another stage than their own.
  for (Operation &op : body.without_terminator()) {
    if (plan.accumulation.contains(&op))
      continue;
    int s = plan.opStage.lookup(&op);
    if (s == kReplicable)
      continue;
    for (Value operand : op.getOperands()) {
      int t = plan.stage(operand);
      if (t == kReplicable || t == s || plan.isParam(operand))
        continue;
      if (isa<PendingType>(operand.getType()))
        return op.emitOpError("lmc-pipeline: an asynchronous collective "
                              "would be waited for on another stage");
      auto type = dyn_cast<RankedTensorType>(operand.getType());
      if (!type || !(type.getElementType().isF32()))
        return op.emitOpError("lmc-pipeline: cannot send a value of type ")
               << operand.getType() << " between pipeline stages";
      SmallVector<int64_t> &readers = plan.crossing[operand];
      if (!llvm::is_contained(readers, s))
        readers.push_back(s);
    }
  }
  for (int64_t k = 0; k < n; ++k)
    llvm::sort(plan.holders[k].begin() + 1, plan.holders[k].end());
  return success();
}

SmallVector<Operation *> PipelineBuilder::slotOps(int64_t s,
                                                  bool forward) const {
  SmallVector<Operation *> ops;
  for (Operation &op : plan.grad.getBody().front().without_terminator()) {
    if (plan.accumulation.contains(&op) ||
        plan.forwardOps.contains(&op) != forward)
      continue;
    if (plan.opStage.lookup(&op) == s)
      ops.push_back(&op);
  }
  return ops;
}

/// The value `v` of @grad_step for micro-batch `micro` in the function
/// being built: mapped, an argument, recomputed (replicable) or received.
FailureOr<Value> PipelineBuilder::materialize(StageState &st, Value v,
                                              int64_t micro) {
  IRMapping &map = st.maps[micro];
  if (Value mapped = map.lookupOrNull(v))
    return mapped;
  int t = plan.stage(v);
  if (t == kReplicable) {
    Operation *def = v.getDefiningOp();
    if (!def)
      return failure();
    for (Value operand : def->getOperands())
      if (failed(materialize(st, operand, micro)))
        return failure();
    st.b->clone(*def, map);
    return map.lookup(v);
  }
  if (t == st.s)
    return failure(); // Not computed yet: a bug in the schedule.
  auto it = st.pending.find({v, micro});
  if (it == st.pending.end())
    return failure();
  Value received =
      WaitOp::create(*st.b, st.loc, ValueRange{it->second}).getResult(0);
  st.pending.erase(it);
  map.map(v, received);
  return received;
}

// Point-to-point ops (lmc.send, lmc.recv_start) over the pipeline axis.
Operation *createSend(OpBuilder &b, Location loc, Value value, int64_t peer,
                      int64_t tag) {
  return SendOp::create(b, loc, value, peer, b.getStrArrayAttr({kAxis}), tag);
}
Value createRecvStart(OpBuilder &b, Location loc, RankedTensorType type,
                      ValueRange sizes, int64_t peer, int64_t tag) {
  return RecvStartOp::create(b, loc, PendingType::get(b.getContext(), type),
                             peer, b.getStrArrayAttr({kAxis}), tag, sizes)
      .getPending();
}

/// Posts the receives of `slot` in stage `st.s`. Ahead of the slot (while
/// the one before it computes) only those whose sizes are known.
LogicalResult PipelineBuilder::postReceives(StageState &st, const Slot &slot,
                                            bool ahead) {
  OpBuilder &b = *st.b;
  for (Operation *op : slotOps(st.s, slot.forward)) {
    SmallVector<Value> operands(op->getOperands());
    // Through replicable values to what they read (none is staged).
    for (Value operand : operands) {
      int t = plan.stage(operand);
      if (t == kReplicable || t == st.s || plan.isParam(operand))
        continue;
      if (st.maps[slot.micro].contains(operand) ||
          st.pending.count({operand, slot.micro}))
        continue;
      auto type = cast<RankedTensorType>(operand.getType());
      int64_t tag = tagOf(operand, slot.micro);
      SmallVector<Value> sizes;
      if (!type.hasStaticShape()) {
        auto known = st.sizes.find(operand);
        if (known == st.sizes.end()) {
          if (ahead)
            continue;
          auto dynamicDims = static_cast<int64_t>(type.getNumDynamicDims());
          auto sizesType =
              RankedTensorType::get({dynamicDims}, b.getI64Type());
          Value p = createRecvStart(b, st.loc, sizesType, {}, t, tag + 1);
          Value got = WaitOp::create(b, st.loc, ValueRange{p}).getResult(0);
          SmallVector<Value> dims;
          for (int64_t d = 0; d < dynamicDims; ++d) {
            Value idx = arith::ConstantIndexOp::create(b, st.loc, d);
            Value x = tensor::ExtractOp::create(b, st.loc, got, idx);
            dims.push_back(arith::IndexCastOp::create(b, st.loc,
                                                      b.getIndexType(), x));
          }
          known = st.sizes.try_emplace(operand, dims).first;
        }
        sizes = known->second;
      }
      st.pending[{operand, slot.micro}] =
          createRecvStart(b, st.loc, type, sizes, t, tag);
    }
  }
  return success();
}

/// Emits the ops of `slot`, calling `computed` with each original op after
/// its clone (and the sends of its results).
LogicalResult PipelineBuilder::emitSlot(StageState &st, const Slot &slot,
                                        function_ref<void(Operation *)> computed) {
  OpBuilder &b = *st.b;
  for (Operation *op : slotOps(st.s, slot.forward)) {
    for (Value operand : op->getOperands()) {
      if (plan.isParam(operand))
        continue;
      if (failed(materialize(st, operand, slot.micro)))
        return op->emitOpError("lmc-pipeline: stage ")
               << st.s << " has no value for an operand in micro-batch "
               << slot.micro << " (an unsupported dependence between stages)";
    }
    Operation *clone = b.clone(*op, st.maps[slot.micro]);
    // Send what other stages read.
    for (auto [result, cloned] :
         llvm::zip(op->getResults(), clone->getResults())) {
      auto it = plan.crossing.find(result);
      if (it == plan.crossing.end())
        continue;
      int64_t tag = tagOf(result, slot.micro);
      auto type = cast<RankedTensorType>(result.getType());
      for (int64_t reader : it->second) {
        if (!type.hasStaticShape() && slot.micro == 0) {
          SmallVector<Value> dims;
          for (int64_t d = 0; d < type.getRank(); ++d)
            if (type.isDynamicDim(d)) {
              Value dim = tensor::DimOp::create(b, st.loc, cloned, d);
              dims.push_back(arith::IndexCastOp::create(b, st.loc,
                                                        b.getI64Type(), dim));
            }
          Value packed = tensor::FromElementsOp::create(b, st.loc, dims);
          createSend(b, st.loc, packed, reader, tag + 1);
        }
        createSend(b, st.loc, cloned, reader, tag);
      }
    }
    computed(op);
  }
  return success();
}

FailureOr<func::FuncOp> PipelineBuilder::buildGradStage(int64_t s) {
  func::FuncOp grad = plan.grad;
  int64_t n = plan.n, M = plan.M;
  OpBuilder mb(grad);
  mb.setInsertionPointAfter(lastGrad ? lastGrad : grad);
  auto fn = cast<func::FuncOp>(mb.cloneWithoutRegions(*grad.getOperation()));
  lastGrad = fn;
  fn.setSymName((grad.getSymName() + "_stage_" + Twine(s)).str());
  Block *entry = fn.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockEnd(entry);
  Location loc = grad.getLoc();
  Block &body = grad.getBody().front();

  StageState st(s, b, loc);
  st.maps.resize(M);
  // The micro-batches: consecutive blocks of B / M rows.
  Value tokens = entry->getArgument(2 * n), targets = entry->getArgument(2 * n + 1);
  Value rowsAll = tensor::DimOp::create(b, loc, tokens, 0);
  Value seq = tensor::DimOp::create(b, loc, tokens, 1);
  Value rows = arith::DivUIOp::create(
      b, loc, rowsAll, arith::ConstantIndexOp::create(b, loc, M));
  for (int64_t i = 0; i < M; ++i) {
    IRMapping &map = st.maps[i];
    for (int64_t a = 0; a < 2 * n; ++a)
      map.map(body.getArgument(a), entry->getArgument(a));
    Value offset = arith::MulIOp::create(
        b, loc, rows, arith::ConstantIndexOp::create(b, loc, i));
    for (auto [from, to] : {std::pair{body.getArgument(2 * n), tokens},
                            std::pair{body.getArgument(2 * n + 1), targets}}) {
      SmallVector<OpFoldResult> offsets = {offset, b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {rows, seq};
      SmallVector<OpFoldResult> strides = {b.getIndexAttr(1),
                                           b.getIndexAttr(1)};
      Value slice = tensor::ExtractSliceOp::create(
          b, loc, cast<RankedTensorType>(to.getType()), to, offsets, sizes,
          strides);
      map.map(from, slice);
    }
  }

  // This stage's sums over the micro-batches of its terms of each
  // gradient, added as the terms are computed.
  SmallVector<Value> sums(n);
  DenseMap<Value, SmallVector<int64_t>> leafOf; // Term -> accumulators.
  SmallVector<int64_t> leavesHere(n, 0), leavesDone(n, 0);
  for (int64_t k = 0; k < n; ++k)
    for (Value leaf : plan.leaves[k])
      if (plan.stage(leaf) == s) {
        leafOf[leaf].push_back(k);
        ++leavesHere[k];
      }
  // The reduction of a gradient that only this stage holds starts as soon
  // as the last micro-batch's terms are in (overlapping the rest of that
  // backward pass); its chain up to the asynchronous start is cloned then,
  // the rest (the wait, the scale) after the schedule.
  SmallVector<IRMapping> chainMaps(n);
  SmallVector<size_t> chainDone(n, 0); // Ops of the chain cloned, from raw.
  auto startReduction = [&](int64_t k) {
    ArrayRef<Operation *> chain = plan.chains[k];
    chainMaps[k].map(plan.raw[k], sums[k]);
    for (Operation *op : llvm::reverse(chain)) {
      b.clone(*op, chainMaps[k]);
      ++chainDone[k];
      if (isa<AllReduceStartOp, ReduceScatterStartOp>(op))
        return;
    }
  };
  SmallVector<Slot> slots = scheduleOf(s, plan.P, M, plan.gpipe);
  for (size_t k = 0; k < slots.size(); ++k) {
    if (failed(postReceives(st, slots[k], /*ahead=*/false)))
      return failure();
    if (k + 1 < slots.size() &&
        failed(postReceives(st, slots[k + 1], /*ahead=*/true)))
      return failure();
    int64_t i = slots[k].micro;
    bool last = k + 1 == slots.size();
    auto computed = [&](Operation *op) {
      if (slots[k].forward)
        return;
      for (Value result : op->getResults()) {
        auto it = leafOf.find(result);
        if (it == leafOf.end())
          continue;
        for (int64_t p : it->second) {
          Value term = st.maps[i].lookup(result);
          sums[p] = sums[p] ? AddOp::create(b, loc, sums[p], term).getResult()
                            : term;
          if (last && ++leavesDone[p] == leavesHere[p] &&
              plan.holders[p].size() == 1)
            startReduction(p);
        }
      }
    };
    if (failed(emitSlot(st, slots[k], computed)))
      return failure();
  }

  // The holders of a tied parameter exchange their sums and add them in
  // stage order; then each gradient's reduction over the other axes
  // finishes (or runs whole) and its result is added to its accumulator.
  int64_t exchangeBase = 2 * static_cast<int64_t>(plan.crossing.size()) * M;
  SmallVector<Value> results;
  for (int64_t k = 0; k < n; ++k) {
    ArrayRef<int64_t> holders = plan.holders[k];
    Value acc = entry->getArgument(n + k);
    if (!llvm::is_contained(holders, s) || plan.leaves[k].empty()) {
      results.push_back(acc);
      continue;
    }
    auto type = cast<RankedTensorType>(plan.raw[k].getType());
    if (!sums[k])
      sums[k] = arith::ConstantOp::create(
          b, loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(0.0f)));
    if (holders.size() > 1) {
      int64_t tag = exchangeBase + 2 * k;
      SmallVector<std::pair<int64_t, Value>> parts;
      for (int64_t h : holders)
        if (h != s) {
          createSend(b, loc, sums[k], h, tag);
          parts.push_back({h, createRecvStart(b, loc, type, {}, h, tag)});
        } else {
          parts.push_back({h, sums[k]});
        }
      llvm::sort(parts, [](auto &x, auto &y) { return x.first < y.first; });
      Value total;
      for (auto &[h, v] : parts) {
        Value part =
            h == s ? v : WaitOp::create(b, loc, ValueRange{v}).getResult(0);
        total = total ? AddOp::create(b, loc, total, part).getResult() : part;
      }
      sums[k] = total;
    }
    ArrayRef<Operation *> chain = plan.chains[k];
    if (chainDone[k] == 0)
      chainMaps[k].map(plan.raw[k], sums[k]);
    for (Operation *op : llvm::drop_begin(llvm::reverse(chain), chainDone[k]))
      b.clone(*op, chainMaps[k]);
    Value reduced = chain.empty()
                        ? sums[k]
                        : chainMaps[k].lookup(chain.front()->getResult(0));
    results.push_back(AddOp::create(b, loc, acc, reduced));
  }

  // The loss: the sum of the micro-batches' losses, on every stage.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value loss = ret.getOperand(0);
  auto floatType = cast<FloatType>(loss.getType());
  Value sum = arith::ConstantOp::create(b, loc, b.getFloatAttr(floatType, 0.0));
  if (plan.stage(loss) == s)
    for (int64_t i = 0; i < M; ++i)
      sum = arith::AddFOp::create(b, loc, sum, st.maps[i].lookup(loss));
  Value packed = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({}, floatType), ValueRange{sum});
  Value reduced = AllReduceOp::create(b, loc, ValueRange{packed},
                                      b.getStrArrayAttr({kAxis}))
                      .getResult(0);
  results.insert(results.begin(), tensor::ExtractOp::create(b, loc, reduced));
  func::ReturnOp::create(b, loc, results);
  return fn;
}

/// Splits the all-reduces of several tensors in `fn` (lmc-shard's gradient
/// buckets) into one per tensor, and their waits into one per pending
/// result, so that each gradient's reduction can follow it to its stage.
void splitVariadicAllReduces(func::FuncOp fn) {
  Block &body = fn.getBody().front();
  for (Operation &op : llvm::make_early_inc_range(body)) {
    OpBuilder b(&op);
    if (auto wait = dyn_cast<WaitOp>(op); wait && wait->getNumOperands() > 1) {
      for (auto [pending, result] :
           llvm::zip(wait->getOperands(), wait->getResults()))
        result.replaceAllUsesWith(
            WaitOp::create(b, op.getLoc(), ValueRange{pending}).getResult(0));
      op.erase();
    }
  }
  for (Operation &op : llvm::make_early_inc_range(body)) {
    OpBuilder b(&op);
    if (auto start = dyn_cast<AllReduceStartOp>(op);
        start && start->getNumOperands() > 1) {
      for (auto [input, pending] :
           llvm::zip(start->getOperands(), start->getResults()))
        pending.replaceAllUsesWith(
            AllReduceStartOp::create(b, op.getLoc(), ValueRange{input},
                                     start.getAxes())
                ->getResult(0));
      op.erase();
    } else if (auto allReduce = dyn_cast<AllReduceOp>(op);
               allReduce && allReduce->getNumOperands() > 1) {
      for (auto [input, result] :
           llvm::zip(allReduce->getOperands(), allReduce->getResults()))
        result.replaceAllUsesWith(
            AllReduceOp::create(b, op.getLoc(), ValueRange{input},
                                allReduce.getAxes())
                ->getResult(0));
      op.erase();
    }
  }
}

/// Erases the ops of `fn` whose results nobody reads, collectives
/// included (every rank of their group runs the same stage's function).
void eraseDeadOps(func::FuncOp fn) {
  bool changed = true;
  while (changed) {
    changed = false;
    Block &body = fn.getBody().front();
    SmallVector<Operation *> ops;
    for (Operation &op : body.without_terminator())
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops)) {
      if (!op->use_empty())
        continue;
      bool collective =
          isa<AllReduceOp, AllGatherOp, ReduceScatterOp, WaitOp,
              AllReduceStartOp, AllGatherStartOp, ReduceScatterStartOp>(op);
      if (!collective && !wouldOpBeTriviallyDead(op))
        continue;
      op->erase();
      changed = true;
    }
  }
}

FailureOr<func::FuncOp> PipelineBuilder::buildApplyStage(int64_t s) {
  func::FuncOp apply = plan.apply;
  int64_t n = plan.n;
  OpBuilder mb(apply);
  mb.setInsertionPointAfter(lastApply ? lastApply : apply);
  auto fn = cast<func::FuncOp>(mb.clone(*apply.getOperation()));
  lastApply = fn;
  fn.setSymName((apply.getSymName() + "_stage_" + Twine(s)).str());
  Block &body = fn.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  if (fn.getNumArguments() < 4 * n || ret.getNumOperands() != 3 * n + 2)
    return apply.emitOpError("lmc-pipeline expects @apply_step(params, "
                             "exp_avg, exp_avg_sq, gradients, ...) -> "
                             "(grad_norm, lr, params, exp_avg, exp_avg_sq)");
  // Parameters this stage does not hold stay as they are.
  for (int64_t k = 0; k < n; ++k) {
    if (llvm::is_contained(plan.holders[k], s))
      continue;
    for (int64_t j = 0; j < 3; ++j)
      ret->setOperand(2 + j * n + k, body.getArgument(j * n + k));
  }
  // The gradient norm: each parameter counted on its home stage, the sum
  // of squares reduced over the stages.
  SmallVector<math::SqrtOp> roots(body.getOps<math::SqrtOp>());
  if (roots.size() != 1)
    return apply.emitOpError("lmc-pipeline: expected one square root (the "
                             "gradient norm's), found ")
           << roots.size();
  math::SqrtOp sqrt = roots.front();
  OpBuilder b(sqrt);
  Location loc = sqrt.getLoc();
  // Through the reduction of the sum over other axes (tp) to the sum.
  Value chain = sqrt.getOperand();
  while (Operation *def = chain.getDefiningOp()) {
    if (!isa<tensor::ExtractOp, tensor::FromElementsOp, AllReduceOp>(def) ||
        def->getNumOperands() == 0 || def->getNumResults() != 1)
      break;
    chain = def->getOperand(0);
  }
  if (!chain.getDefiningOp<arith::AddFOp>())
    return apply.emitOpError("lmc-pipeline: the gradient norm is not the "
                             "square root of a sum of per-parameter terms");
  while (auto add = chain.getDefiningOp<arith::AddFOp>()) {
    Value term = add.getRhs();
    SetVector<Operation *> slice;
    SmallVector<Value> work = {term};
    DenseSet<int64_t> grads;
    DenseSet<Value> seen;
    while (!work.empty()) {
      Value v = work.pop_back_val();
      if (!seen.insert(v).second)
        continue;
      if (auto arg = dyn_cast<BlockArgument>(v)) {
        if (arg.getOwner() == &body && arg.getArgNumber() >= 3 * n &&
            arg.getArgNumber() < 4 * n)
          grads.insert(arg.getArgNumber() - 3 * n);
        continue;
      }
      // Result k of a (variadic) all-reduce is the sum of its operand k.
      auto result = cast<OpResult>(v);
      Operation *def = result.getOwner();
      if (auto allReduce = dyn_cast<AllReduceOp>(def)) {
        work.push_back(allReduce->getOperand(result.getResultNumber()));
        continue;
      }
      if (auto wait = dyn_cast<WaitOp>(def)) {
        auto pending = cast<OpResult>(wait->getOperand(result.getResultNumber()));
        if (isa<AllReduceStartOp>(pending.getOwner())) {
          work.push_back(
              pending.getOwner()->getOperand(pending.getResultNumber()));
          continue;
        }
      }
      for (Value operand : def->getOperands())
        work.push_back(operand);
    }
    if (grads.size() != 1)
      return apply.emitOpError("lmc-pipeline: a term of the gradient norm "
                               "reads ")
             << grads.size() << " gradients, not one";
    int64_t k = *grads.begin();
    if (plan.holders[k].front() != s) {
      OpBuilder at(add);
      add.setOperand(1, arith::ConstantOp::create(
                            at, loc, at.getFloatAttr(term.getType(), 0.0)));
    }
    chain = add.getLhs();
  }
  Value sumSq = sqrt.getOperand();
  Value packed = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({}, sumSq.getType()), ValueRange{sumSq});
  Value reduced = AllReduceOp::create(b, loc, ValueRange{packed},
                                      b.getStrArrayAttr({kAxis}))
                      .getResult(0);
  sqrt->setOperand(0, tensor::ExtractOp::create(b, loc, reduced));
  eraseDeadOps(fn);
  return fn;
}

void PipelineBuilder::printReport(ModelOp model, int64_t rows, int64_t seq) {
  raw_ostream &os = llvm::outs();
  int64_t P = plan.P, M = plan.M;
  int64_t micro = std::max<int64_t>(1, rows / M);
  Block &body = plan.grad.getBody().front();
  os << llvm::formatv("lmc-pipeline: @{0}: {1}={2}, {3} micro-batch{4} of "
                      "{5} row{6} x {7} tokens, {8}\n",
                      model.getSymName(), kAxis, P, M, M == 1 ? "" : "es",
                      micro, micro == 1 ? "" : "s", seq,
                      plan.gpipe ? "gpipe" : "1f1b");
  os << "  stage | layers | parameter bytes | peak activation bytes | "
        "sent bytes/step | received bytes/step\n";
  for (int64_t s = 0; s < P; ++s) {
    int64_t paramBytes = 0;
    for (int64_t k = 0; k < plan.n; ++k)
      if (llvm::is_contained(plan.holders[k], s))
        paramBytes += reportBytes(body.getArgument(k).getType(), 1, 1);
    // Kept for the backward pass: forward values of this stage that its
    // backward ops read (and received ones), per micro-batch.
    int64_t kept = 0;
    DenseSet<Value> counted;
    for (Operation *op : slotOps(s, /*forward=*/false))
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (!def || !plan.forwardOps.contains(def) ||
            plan.stage(operand) == kReplicable || !counted.insert(operand).second)
          continue;
        kept += reportBytes(operand.getType(), micro, seq);
      }
    int64_t inFlight = plan.gpipe ? M : std::min(P - s, M);
    int64_t sent = 0, received = 0;
    for (auto &[v, readers] : plan.crossing) {
      int64_t bytes = reportBytes(v.getType(), micro, seq) * M;
      if (plan.stage(v) == s)
        sent += bytes * readers.size();
      if (llvm::is_contained(readers, s))
        received += bytes;
    }
    for (int64_t k = 0; k < plan.n; ++k) {
      ArrayRef<int64_t> holders = plan.holders[k];
      if (holders.size() < 2 || !llvm::is_contained(holders, s) ||
          plan.leaves[k].empty())
        continue;
      int64_t bytes = reportBytes(body.getArgument(k).getType(), 1, 1);
      sent += bytes * (holders.size() - 1);
      received += bytes * (holders.size() - 1);
    }
    std::string layers = llvm::join(plan.stageLayers[s], ", ");
    os << llvm::formatv("  {0,5} | {1} | {2} | {3} ({4} micro-batch{5} x "
                        "{6}) | {7} | {8}\n",
                        s, layers, paramBytes, kept * inFlight, inFlight,
                        inFlight == 1 ? "" : "es", kept, sent, received);
  }
  os << llvm::formatv("  bubble: (P - 1) / (M + P - 1) = {0} / {1} = {2:F3}\n",
                      P - 1, M + P - 1,
                      static_cast<double>(P - 1) / (M + P - 1));
}

struct LMCPipelinePass : mlir::lmc::impl::LMCPipelineBase<LMCPipelinePass> {
  using Base::Base;

  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>())
      if (failed(runOnModel(model)))
        return signalPassFailure();
  }

  LogicalResult runOnModel(ModelOp model) {
    MeshAttr mesh = model->getAttrOfType<MeshAttr>(LMCDialect::getMeshAttrName());
    std::optional<int64_t> P = mesh ? mesh.getAxisSize(kAxis) : std::nullopt;
    if (!P)
      return emitError(model.getLoc(), "lmc-pipeline: the mesh has no '")
             << kAxis << "' axis (lmc compile --mesh " << kAxis << "=P,...)";
    if (microbatches < 1)
      return emitError(model.getLoc(), "lmc-pipeline: microbatches must be "
                                       "at least 1, not ")
             << microbatches;
    if (schedule != "1f1b" && schedule != "gpipe")
      return emitError(model.getLoc(), "lmc-pipeline: unknown schedule '")
             << schedule << "' (1f1b or gpipe)";
    if (auto sync = model->getAttrOfType<StringAttr>(
            LMCDialect::DpSyncAttrHelper::getNameStr());
        sync && sync.getValue() == "local")
      return emitError(model.getLoc(), "lmc-pipeline: ")
             << kAxis << " cannot be combined with dp-sync=local (lmc compile "
             << "--dp-sync local): the trainer averages whole replicas";
    for (ParamOp param : model.getParams())
      if (auto sharding = param->getAttrOfType<ShardingAttr>(
              LMCDialect::getShardingAttrName()))
        for (auto [axis, placement] :
             llvm::zip(sharding.getAxes(), sharding.getPlacements()))
          if (placement.isShard() &&
              axis.getValue() == ShardingStrategy::dataAxis)
            return emitError(model.getLoc(), "lmc-pipeline: ")
                   << kAxis << " cannot be combined with ZeRO-3 (lmc compile "
                   << "--zero 3), which gathers parameters over "
                   << ShardingStrategy::dataAxis << "; use --zero 1";
    Plan plan;
    plan.P = *P;
    plan.M = microbatches;
    plan.gpipe = schedule == "gpipe";
    plan.grad = dyn_cast_or_null<func::FuncOp>(
        SymbolTable::lookupSymbolIn(model, "grad_step"));
    plan.apply = dyn_cast_or_null<func::FuncOp>(
        SymbolTable::lookupSymbolIn(model, "apply_step"));
    if (!plan.grad || !plan.apply)
      return emitError(model.getLoc(), "lmc-pipeline needs @grad_step and "
                                       "@apply_step (run "
                                       "lmc-grad-accumulation first)");
    splitVariadicAllReduces(plan.grad);
    PipelineBuilder builder(plan);
    if (failed(builder.planStages()) || failed(builder.assignOps()))
      return failure();
    for (int64_t s = 0; s < plan.P; ++s)
      if (failed(builder.buildGradStage(s)) ||
          failed(builder.buildApplyStage(s)))
        return failure();

    Builder b(model.getContext());
    model->setAttr(LMCDialect::PipelineAttrHelper::getNameStr(),
                   b.getDictionaryAttr({
                       b.getNamedAttr("axis", b.getStringAttr(kAxis)),
                       b.getNamedAttr("stages", b.getI64IntegerAttr(plan.P)),
                       b.getNamedAttr("microbatches", b.getI64IntegerAttr(plan.M)),
                       b.getNamedAttr("schedule", b.getStringAttr(schedule)),
                   }));
    for (auto [k, name] : llvm::enumerate(plan.names)) {
      auto param = dyn_cast_or_null<ParamOp>(
          SymbolTable::lookupSymbolIn(model, name));
      if (param)
        param->setAttr(LMCDialect::StagesAttrHelper::getNameStr(),
                       b.getDenseI64ArrayAttr(plan.holders[k]));
    }
    if (report)
      builder.printReport(model, reportBatch, reportSeq);
    return success();
  }
};

} // namespace
