//===- Fuse.cpp - Fusion groups of elementwise ops and reductions ---------===//
//
// lmc-fuse: forms fusion groups (lmc.fused) in the functions of a training
// program. A group is a set of ops that a target runs as one kernel. The
// pass knows no op by name: each op declares its role (elementwise,
// row-wise, reduction, update, layout, or opaque by declaring none), its
// fused operands and results, its partners and siblings and the group kind
// it names (FusionOpInterface, LMC_Elementwise and friends in
// LMCInterfaces.td), and the groups follow from the declarations:
//
// - an elementwise or row-wise op (bias_add, add, gelu, layer_norm,
//   softmax, ...) joins the group of its consumer when the consumer reads it
//   over the same iteration space (its "domain" operand: the input of a
//   layer_norm, either side of an add, the input of a reduce_sum, ...);
// - cross_entropy joins the cross_entropy_grad of the same logits and
//   targets (siblings sharing the row maximum and sum of exponentials);
//   the vocabulary-parallel pieces (lmc-shard) are row-wise in the same way:
//   cross_entropy_stats and cross_entropy_combine reduce rows,
//   cross_entropy_shard_grad joins the cross_entropy_combine whose
//   log-sum-exp it reads (stats and shard_grad share the logits, but the
//   all_gather between them keeps them apart);
// - all lmc.adamw ops of a function form one group (a multi-tensor
//   update), and so do the squared-norm reductions that lmc-optimizer sums
//   into the global gradient norm.
//
// Groups stay convex: merging two groups is refused when a path leaves the
// union and comes back into it (through single ops or through other groups), so
// that every group can become one op. The check searches only between the two
// groups in a topological order of the groups that each merge updates (the
// dynamic topological order of Pearce and Kelly), so that forming the groups
// grows with the depth of the model, not with its square. Collectives and ops
// with side effects never join a group, nor do gathers and scatters (embedding
// and its gradient, with or without an offset) or lmc.axis_index (a scalar
// source: groups read it as an operand). The function is then reordered
// topologically (keeping the original order where the groups allow, and
// collectives and ops with side effects in their order, so that every rank
// issues the same collectives in the same order as before), with each group
// replaced by an lmc.fused op.
//
// The pass runs after lmc-shard: groups then hold the local ops of the
// partitioned program, and the collectives that the partitioner inserts
// between them bound the groups.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "KernelCount.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <limits>
#include <map>
#include <numeric>
#include <queue>

#define DEBUG_TYPE "lmc-fuse"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCFUSE
#include "lmc/Transforms/Fusion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// How an op takes part in fusion: the role it declares (FusionOpInterface,
/// LMC_Elementwise and friends in LMCInterfaces.td), none for an opaque op.
std::optional<FusionRole> roleOf(Operation *op) {
  if (auto fusion = dyn_cast<FusionOpInterface>(op))
    return fusion.getFusionRole();
  return std::nullopt;
}

/// True when `role` fuses with its producers and consumers.
bool joinsGroups(std::optional<FusionRole> role) {
  return role == FusionRole::Elementwise || role == FusionRole::RowWise ||
         role == FusionRole::Reduction;
}

/// True when operand `i` of `op` is read over the op's domain (its whole
/// iteration space), rather than broadcast (a bias, a LayerNorm weight, the
/// log-sum-exp of cross_entropy_shard_grad) or read as an index (targets,
/// offsets).
bool isDomainOperand(Operation *op, unsigned i) {
  auto fusion = dyn_cast<FusionOpInterface>(op);
  return fusion && fusion.isFusedOperand(i);
}

/// True when `v` is a full-domain result that a consumer can fuse: a result
/// of an elementwise or row-wise op that the op declares fused (for
/// layer_norm_grad, the input gradient; its weight and bias gradients are
/// reductions).
bool isDomainResult(Value v) {
  auto result = dyn_cast<OpResult>(v);
  if (!result)
    return false;
  auto fusion = dyn_cast<FusionOpInterface>(result.getOwner());
  if (!fusion || (fusion.getFusionRole() != FusionRole::Elementwise &&
                  fusion.getFusionRole() != FusionRole::RowWise))
    return false;
  return fusion.isFusedResult(result.getResultNumber());
}

/// The group kind an op declares, or empty.
StringRef kindOf(Operation *op) {
  auto fusion = dyn_cast<FusionOpInterface>(op);
  return fusion ? fusion.getFusionKind() : StringRef();
}

/// The name of a group: the kind declared by the op of lowest kind rank in
/// it (the op it is built around), `elementwise` when none declares one.
std::string kindOf(ArrayRef<Operation *> ops) {
  int best = std::numeric_limits<int>::max();
  std::string kind = "elementwise";
  for (Operation *op : ops) {
    auto fusion = dyn_cast<FusionOpInterface>(op);
    if (!fusion || fusion.getFusionKind().empty())
      continue;
    if (fusion.getFusionKindRank() < best) {
      best = fusion.getFusionKindRank();
      kind = fusion.getFusionKind().str();
    }
  }
  return kind;
}

/// Forms the groups of one single-block function and rewrites it.
class FunctionFuser {
public:
  /// With `runtimeRowReductions`, the ops isRuntimeRowReduction names stay
  /// out of every group (the GPU runtime's row kernels compute them).
  FunctionFuser(Block &block, bool runtimeRowReductions)
      : block(block), runtimeRowReductions(runtimeRowReductions) {
    Operation *lastEffect = nullptr;
    for (Operation &op : block) {
      position[&op] = ops.size();
      parent.push_back(ops.size());
      members.push_back({&op});
      ops.push_back(&op);
      if (&op != block.getTerminator() &&
          (isCollective(&op) || !isMemoryEffectFree(&op))) {
        if (lastEffect)
          nextEffect[lastEffect] = &op;
        lastEffect = &op;
      }
    }
    buildEdges();
  }

  /// Forms the groups.
  void formGroups() {
    // Producers into consumers, in program order.
    for (Operation *op : ops) {
      if (!joinsGroups(roleOf(op)))
        continue;
      for (OpOperand &operand : op->getOpOperands()) {
        if (!isDomainOperand(op, operand.getOperandNumber()) ||
            !isDomainResult(operand.get()))
          continue;
        Operation *producer = operand.get().getDefiningOp();
        if (producer->getBlock() == &block)
          tryMerge(producer, op);
      }
    }
    // Siblings: ops of one group kind reading the same values in the
    // positions an op declares (cross_entropy with the cross_entropy_grad of
    // the same logits and targets).
    for (Operation *op : ops) {
      auto fusion = dyn_cast<FusionOpInterface>(op);
      if (!fusion || fusion.getSiblingOperands().empty())
        continue;
      ArrayRef<unsigned> positions = fusion.getSiblingOperands();
      Value first = op->getOperand(positions.front());
      for (Operation *user : first.getUsers()) {
        if (user == op || user->getBlock() != &block ||
            kindOf(user) != fusion.getFusionKind())
          continue;
        if (llvm::all_of(positions, [&](unsigned p) {
              return p < user->getNumOperands() &&
                     user->getOperand(p) == op->getOperand(p);
            }))
          tryMerge(user, op);
      }
    }
    // Partners: the producer of a partner operand, of the op's group kind
    // (cross_entropy_shard_grad with the cross_entropy_combine of its lse).
    for (Operation *op : ops) {
      auto fusion = dyn_cast<FusionOpInterface>(op);
      if (!fusion)
        continue;
      for (OpOperand &operand : op->getOpOperands()) {
        if (!fusion.isPartnerOperand(operand.getOperandNumber()))
          continue;
        Operation *producer = operand.get().getDefiningOp();
        if (producer && producer->getBlock() == &block &&
            kindOf(producer) == fusion.getFusionKind())
          tryMerge(producer, op);
      }
    }
    // All optimizer updates together.
    Operation *firstUpdate = nullptr;
    for (Operation *op : ops)
      if (roleOf(op) == FusionRole::Update) {
        if (firstUpdate)
          tryMerge(firstUpdate, op);
        else
          firstUpdate = op;
      }
    formNormGroups();
  }

  /// True when some group has two ops or more.
  bool hasGroups() {
    return llvm::any_of(members, [](const auto &m) { return m.size() > 1; });
  }

  /// Replaces the groups by lmc.fused ops, reordering the block.
  LogicalResult materialize() {
    Operation *terminator = block.getTerminator();
    // Nodes: one per group (of two ops or more), one per other op.
    llvm::DenseMap<Operation *, unsigned> nodeOf;
    SmallVector<SmallVector<Operation *>> nodes;
    llvm::DenseMap<unsigned, unsigned> nodeOfGroup;
    for (Operation *op : ops) {
      if (op == terminator)
        continue;
      unsigned g = leader(op);
      bool grouped = members[g].size() > 1;
      if (grouped) {
        auto [it, inserted] = nodeOfGroup.try_emplace(g, nodes.size());
        if (inserted)
          nodes.emplace_back();
        nodes[it->second].push_back(op);
        nodeOf[op] = it->second;
      } else {
        nodeOf[op] = nodes.size();
        nodes.push_back({op});
      }
    }
    // Edges: def -> use; collectives (all ranks must issue them in one
    // order, and some are pure) and ops with side effects keep their order.
    size_t n = nodes.size();
    SmallVector<SmallVector<unsigned>> succs(n);
    SmallVector<unsigned> indegree(n, 0);
    auto addEdge = [&](unsigned from, unsigned to) {
      if (from == to)
        return;
      succs[from].push_back(to);
      ++indegree[to];
    };
    std::optional<unsigned> lastEffect;
    for (Operation *op : ops) {
      if (op == terminator)
        continue;
      unsigned to = nodeOf[op];
      op->walk([&](Operation *nested) {
        for (Value v : nested->getOperands())
          if (Operation *def = v.getDefiningOp())
            if (Operation *inBlock = block.findAncestorOpInBlock(*def))
              if (inBlock != op || nested == op)
                if (nodeOf.count(inBlock))
                  addEdge(nodeOf[inBlock], to);
      });
      if (isCollective(op) || !isMemoryEffectFree(op)) {
        if (lastEffect)
          addEdge(*lastEffect, to);
        lastEffect = to;
      }
    }
    // Kahn's algorithm, the earliest node first; a node's place is that of
    // its last op (a group goes where its last op was).
    auto key = [&](unsigned node) { return position[nodes[node].back()]; };
    using Entry = std::pair<size_t, unsigned>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> ready;
    for (unsigned i = 0; i < n; ++i)
      if (indegree[i] == 0)
        ready.push({key(i), i});
    SmallVector<unsigned> order;
    while (!ready.empty()) {
      unsigned node = ready.top().second;
      ready.pop();
      order.push_back(node);
      for (unsigned s : succs[node])
        if (--indegree[s] == 0)
          ready.push({key(s), s});
    }
    // canMerge keeps the graph of groups acyclic; an order that misses a
    // node would drop ops.
    if (order.size() != n)
      return block.getParentOp()->emitError(
          "lmc-fuse: the fusion groups left a cycle (an lmc bug)");

    for (unsigned node : order) {
      ArrayRef<Operation *> group = nodes[node];
      if (group.size() == 1) {
        group.front()->moveBefore(terminator);
        continue;
      }
      buildFusedOp(group, terminator);
    }
    return success();
  }

  /// Groups formed, by kind; groups, and the lmc compute ops in them.
  std::map<std::string, unsigned> groupsByKind;
  unsigned numGroups = 0, numGroupedOps = 0;

private:
  unsigned leader(Operation *op) {
    unsigned i = position[op];
    while (parent[i] != i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  }

  /// Merges the groups of `a` and `b` when the union stays convex.
  bool tryMerge(Operation *a, Operation *b) {
    if (runtimeRowReductions &&
        (isRuntimeRowReduction(a) || isRuntimeRowReduction(b)))
      return false;
    unsigned ga = leader(a), gb = leader(b);
    if (ga == gb)
      return true;
    SmallVector<unsigned> after;
    if (!canMerge(ga, gb, after))
      return false;
    SmallVector<unsigned> before = groupsBefore(ga, gb);
    // Union by size.
    if (members[ga].size() < members[gb].size())
      std::swap(ga, gb);
    parent[gb] = ga;
    members[ga].append(members[gb].begin(), members[gb].end());
    members[gb].clear();
    reorder(before, ga, gb, after);
    return true;
  }

  /// The in-block ops that read a result of each op (users nested in
  /// another op count as that op), and the next op with effects after one
  /// with effects (the order materialize keeps: a path through the
  /// collectives counts); `preds` is the reverse. Indices into `ops`.
  void buildEdges() {
    succs.resize(ops.size());
    preds.resize(ops.size());
    for (auto [i, op] : llvm::enumerate(ops)) {
      llvm::SmallDenseSet<unsigned, 8> seen;
      auto add = [&](Operation *to) {
        Operation *inBlock = block.findAncestorOpInBlock(*to);
        if (!inBlock || inBlock == op || !seen.insert(position[inBlock]).second)
          return;
        succs[i].push_back(position[inBlock]);
        preds[position[inBlock]].push_back(i);
      };
      for (Operation *user : op->getUsers())
        add(user);
      if (Operation *next = nextEffect.lookup(op))
        add(next);
    }
    // Program order is a topological order of the ops.
    order.resize(ops.size());
    std::iota(order.begin(), order.end(), 0u);
  }

  /// True when no path leaves the union of groups `ga` and `gb` and comes
  /// back into it. Other groups count as one node each: a path reaching one
  /// of their ops continues from all of them.
  ///
  /// `order` ranks the groups (at their leaders) so that every edge between
  /// two groups goes from a lower rank to a higher one. A path that leaves
  /// the union and comes back ends at a member of rank at most the union's
  /// highest, so the search visits only groups ranked below that: the
  /// window between the two groups, not the rest of the function. `after`
  /// returns the groups the search reached (those reachable from the union
  /// inside the window), which reorder() moves behind the merged group.
  bool canMerge(unsigned ga, unsigned gb, SmallVector<unsigned> &after) {
    unsigned hi = std::max(order[ga], order[gb]);
    llvm::DenseSet<unsigned> visited = {ga, gb};
    SmallVector<unsigned> stack = {ga, gb};
    while (!stack.empty()) {
      unsigned g = stack.pop_back_val();
      bool fromOutside = g != ga && g != gb;
      for (Operation *member : members[g])
        for (unsigned s : succs[position[member]]) {
          unsigned h = leader(ops[s]);
          if (h == ga || h == gb) {
            if (fromOutside)
              return false;
            continue;
          }
          if (order[h] < hi && visited.insert(h).second) {
            stack.push_back(h);
            after.push_back(h);
          }
        }
    }
    return true;
  }

  /// The groups ranked between `ga` and `gb` from which a path reaches
  /// either.
  SmallVector<unsigned> groupsBefore(unsigned ga, unsigned gb) {
    unsigned lo = std::min(order[ga], order[gb]);
    llvm::DenseSet<unsigned> visited = {ga, gb};
    SmallVector<unsigned> stack = {ga, gb}, before;
    while (!stack.empty()) {
      unsigned g = stack.pop_back_val();
      for (Operation *member : members[g])
        for (unsigned p : preds[position[member]]) {
          unsigned h = leader(ops[p]);
          if (order[h] > lo && visited.insert(h).second) {
            stack.push_back(h);
            before.push_back(h);
          }
        }
    }
    return before;
  }

  /// Keeps `order` topological after `merged` absorbed `absorbed`: the
  /// ranks of the groups that reach the union inside its window (`before`),
  /// of the two groups and of the groups the union reaches inside the window
  /// (`after`) are handed out again, `before` first, then the merged group,
  /// then `after`, each list in its old order. No group of one list reaches
  /// a group of an earlier one (the union is convex), and groups outside
  /// the lists keep their ranks, which no edge to or from the lists
  /// contradicts.
  void reorder(SmallVector<unsigned> &before, unsigned merged,
               unsigned absorbed, SmallVector<unsigned> &after) {
    auto byRank = [&](unsigned x, unsigned y) { return order[x] < order[y]; };
    llvm::sort(before, byRank);
    llvm::sort(after, byRank);
    SmallVector<unsigned> ranks;
    for (unsigned g : before)
      ranks.push_back(order[g]);
    for (unsigned g : after)
      ranks.push_back(order[g]);
    ranks.push_back(order[merged]);
    ranks.push_back(order[absorbed]);
    llvm::sort(ranks);
    unsigned next = 0;
    for (unsigned g : before)
      order[g] = ranks[next++];
    order[merged] = ranks[next++];
    // One rank is left over (two groups became one): the lists after the
    // merged group take the highest.
    next = ranks.size() - after.size();
    for (unsigned g : after)
      order[g] = ranks[next++];
  }

  /// Merges the squared-norm reductions that a chain of arith.addf sums
  /// (`s = 0 + sum(g0 * g0) + sum(g1 * g1) + ...`, the global gradient norm
  /// of lmc-optimizer) into one group, with the extracts and the adds.
  void formNormGroups() {
    // The reduction behind a summand: reduce_sum to a 0-d tensor whose one
    // use is a tensor.extract whose one use is the add.
    auto term = [&](Value v, Operation *add) -> Operation * {
      auto extract = v.getDefiningOp<tensor::ExtractOp>();
      if (!extract || extract->getBlock() != &block || !extract->hasOneUse() ||
          *extract->getUsers().begin() != add)
        return nullptr;
      auto reduce = extract.getTensor().getDefiningOp<ReduceSumOp>();
      if (!reduce || reduce.getType().getRank() != 0 || !reduce->hasOneUse())
        return nullptr;
      return reduce;
    };
    llvm::DenseSet<Operation *> inChain;
    for (Operation *op : ops) {
      auto add = dyn_cast<arith::AddFOp>(op);
      if (!add || inChain.contains(add) ||
          !add.getLhs().getDefiningOp<arith::ConstantOp>() ||
          !term(add.getRhs(), add))
        continue;
      // Follow the chain: each add's one use is the next add's lhs.
      SmallVector<arith::AddFOp> chain = {add};
      while (chain.back()->hasOneUse()) {
        auto next = dyn_cast<arith::AddFOp>(*chain.back()->getUsers().begin());
        if (!next || next.getLhs() != chain.back().getResult() ||
            !term(next.getRhs(), next))
          break;
        chain.push_back(next);
      }
      if (chain.size() < 2)
        continue;
      Operation *anchor = nullptr;
      for (arith::AddFOp a : chain) {
        inChain.insert(a);
        Operation *reduce = term(a.getRhs(), a);
        Operation *extract = a.getRhs().getDefiningOp();
        if (!anchor) {
          if (!tryMerge(reduce, extract) || !tryMerge(extract, a))
            break;
          anchor = a;
          normGroups.insert(leader(anchor));
          continue;
        }
        if (!tryMerge(anchor, reduce) || !tryMerge(anchor, extract) ||
            !tryMerge(anchor, a))
          break;
        normGroups.insert(leader(anchor));
      }
    }
  }

  /// Replaces the ops of `group` (in program order) by one lmc.fused op
  /// before `at`.
  void buildFusedOp(ArrayRef<Operation *> group, Operation *at) {
    llvm::SmallPtrSet<Operation *, 16> inGroup(group.begin(), group.end());
    // Operands: values from outside, in order of first use; constants are
    // copied into the body instead.
    llvm::SetVector<Value> inputs;
    llvm::SetVector<Operation *> constants;
    for (Operation *op : group)
      for (Value v : op->getOperands()) {
        Operation *def = v.getDefiningOp();
        if (def && inGroup.contains(def))
          continue;
        if (def && def->hasTrait<OpTrait::ConstantLike>())
          constants.insert(def);
        else
          inputs.insert(v);
      }
    // Results: values used outside.
    SmallVector<Value> results;
    for (Operation *op : group)
      for (Value v : op->getResults())
        if (llvm::any_of(v.getUsers(), [&](Operation *user) {
              return !inGroup.contains(block.findAncestorOpInBlock(*user));
            }))
          results.push_back(v);

    bool norm = normGroups.contains(leader(group.front()));
    std::string kind = norm ? "grad_norm" : kindOf(group);
    OpBuilder b(at);
    Location loc = group.back()->getLoc();
    auto fused = FusedOp::create(b, loc, ValueRange(results).getTypes(),
                                 b.getStringAttr(kind), inputs.getArrayRef());
    Block *body = b.createBlock(&fused.getBody());
    IRMapping mapping;
    for (Value v : inputs)
      mapping.map(v, body->addArgument(v.getType(), v.getLoc()));
    OpBuilder bb = OpBuilder::atBlockEnd(body);
    for (Operation *c : constants)
      bb.clone(*c, mapping);
    for (Operation *op : group)
      bb.clone(*op, mapping);
    SmallVector<Value> yielded;
    for (Value v : results)
      yielded.push_back(mapping.lookup(v));
    YieldOp::create(bb, loc, yielded);

    for (auto [v, r] : llvm::zip(results, fused.getResults()))
      v.replaceUsesWithIf(r, [&](OpOperand &use) {
        return !inGroup.contains(block.findAncestorOpInBlock(*use.getOwner()));
      });
    // Counted before the ops are erased.
    ++groupsByKind[kind];
    ++numGroups;
    numGroupedOps += llvm::count_if(group, isKernel);
    for (Operation *op : llvm::reverse(group))
      op->erase();
    for (Operation *c : constants)
      if (c->use_empty())
        c->erase();
  }

  Block &block;
  SmallVector<Operation *> ops;
  llvm::DenseMap<Operation *, unsigned> position;
  /// For each collective or op with effects, the next one in the block.
  llvm::DenseMap<Operation *, Operation *> nextEffect;
  /// Union-find over `ops`: the parent of each op's index, and the
  /// members of each group (at its leader's index).
  SmallVector<unsigned> parent;
  SmallVector<SmallVector<Operation *>> members;
  /// The edges between ops (buildEdges) and each group's rank in a
  /// topological order of the groups (at its leader's index; canMerge).
  SmallVector<SmallVector<unsigned>> succs, preds;
  SmallVector<unsigned> order;
  /// Groups formed by formNormGroups.
  llvm::DenseSet<unsigned> normGroups;
  bool runtimeRowReductions;
};

struct LMCFusePass : mlir::lmc::impl::LMCFuseBase<LMCFusePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> funcs;
    module.walk([&](func::FuncOp fn) {
      if (!fn.isExternal() && fn.getBody().hasOneBlock())
        funcs.push_back(fn);
    });
    // The functions the runtime calls, when there are any; otherwise all.
    bool hasEntries = llvm::any_of(funcs, [](func::FuncOp fn) {
      return isReportedFunction(fn.getSymName());
    });
    for (func::FuncOp fn : funcs) {
      Block &block = fn.getBody().front();
      unsigned before = countKernels(block);
      FunctionFuser fuser(block, runtimeRowReductions);
      fuser.formGroups();
      if (fuser.hasGroups() && failed(fuser.materialize()))
        return signalPassFailure();
      numGroups += fuser.numGroups;
      numFusedOps += fuser.numGroupedOps;
      if (!report || (hasEntries && !isReportedFunction(fn.getSymName())))
        continue;
      unsigned after = countKernels(block);
      std::string where;
      if (auto model = fn->getParentOfType<ModelOp>())
        where = ("@" + model.getSymName() + " ").str();
      llvm::outs() << llvm::formatv(
          "lmc-fuse: {0}{1}: {2} kernels before fusion, {3} after ({4} "
          "group{5} of {6} ops",
          where, fn.getSymName(), before, after, fuser.numGroups,
          fuser.numGroups == 1 ? "" : "s", fuser.numGroupedOps);
      if (!fuser.groupsByKind.empty()) {
        llvm::outs() << ":";
        for (auto [kind, count] : fuser.groupsByKind)
          llvm::outs() << " " << kind << " " << count;
      }
      llvm::outs() << ")\n";
    }
  }
};

} // namespace
