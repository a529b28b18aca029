//===- OutlineKernels.cpp - One shared function per distinct lmc op -------===//
//
// Replaces each lmc compute op by a call to a private kernel function that
// holds a copy of the op, one kernel per distinct (op, attributes, types);
// and each fusion group (lmc.fused) by a call to a kernel holding its body,
// one per distinct body.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/EquivalenceClasses.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

#include <map>
#include <tuple>
#include <vector>

#define DEBUG_TYPE "lmc-outline-kernels"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCOUTLINEKERNELS
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// What makes two ops the same kernel: op name, attributes and types (all
/// uniqued, so their pointers identify them).
using KernelKey = std::tuple<const void *, const void *, const void *>;

/// Ops that stay where they are: symbol references, structure, collectives
/// and axis_index (each is one runtime call already). A fusion group is one
/// kernel.
bool isOutlinable(Operation *op) {
  if (isa<FusedOp>(op))
    return true;
  return isa<LMCDialect>(op->getDialect()) && !isCollective(op) &&
         !isa<ModelOp, ParamOp, ParamRefOp, YieldOp, AxisIndexOp, FlattenOp,
              UnflattenOp, SplitOp>(op) &&
         op->getNumRegions() == 0 && op->getNumResults() > 0;
}

/// What makes two bodies the same kernel: a name (the group's kind), the
/// function type, and the ops up to the names of their values (each op's
/// name, attributes, result types and operands, numbered in order of
/// definition, inputs first), with the values returned.
std::vector<const void *> bodyKey(StringAttr kind, ValueRange inputs,
                                  ArrayRef<Operation *> ops,
                                  ValueRange results) {
  std::vector<const void *> key = {kind.getAsOpaquePointer(),
                                   FunctionType::get(kind.getContext(),
                                                     inputs.getTypes(),
                                                     results.getTypes())
                                       .getAsOpaquePointer()};
  auto push = [&](uintptr_t n) {
    key.push_back(reinterpret_cast<const void *>(n));
  };
  llvm::DenseMap<Value, uintptr_t> number;
  for (Value v : inputs)
    number[v] = number.size();
  for (Operation *op : ops) {
    key.push_back(op->getName().getAsOpaquePointer());
    key.push_back(op->getAttrDictionary().getAsOpaquePointer());
    push(op->getNumOperands());
    for (Value v : op->getOperands())
      push(number.lookup(v));
    for (Value v : op->getResults()) {
      key.push_back(v.getType().getAsOpaquePointer());
      number[v] = number.size();
    }
  }
  for (Value v : results)
    push(number.lookup(v));
  return key;
}

/// The independent parts of a group's body: its lmc ops joined when one
/// reads a tensor another computes, or both read the same tensor (not a
/// 0-d one); the AdamW update of each parameter, the squared norm of each
/// gradient. The scalar ops around them belong to none. Each part is in
/// program order; parts are ordered by their first op.
SmallVector<SmallVector<Operation *>> partsOf(FusedOp group) {
  llvm::EquivalenceClasses<Operation *> classes;
  llvm::DenseMap<Value, Operation *> firstReader;
  SmallVector<Operation *> lmcOps;
  for (Operation &op : group.getBodyOps()) {
    if (!isa<LMCDialect>(op.getDialect()))
      continue;
    lmcOps.push_back(&op);
    classes.insert(&op);
    for (Value v : op.getOperands()) {
      auto type = dyn_cast<RankedTensorType>(v.getType());
      if (!type || type.getRank() == 0)
        continue;
      if (Operation *def = v.getDefiningOp())
        if (isa<LMCDialect>(def->getDialect()))
          classes.unionSets(&op, def);
      auto [it, inserted] = firstReader.try_emplace(v, &op);
      if (!inserted)
        classes.unionSets(&op, it->second);
    }
  }
  SmallVector<SmallVector<Operation *>> parts;
  llvm::DenseMap<Operation *, unsigned> partOfLeader;
  for (Operation *op : lmcOps) {
    Operation *leader = classes.getLeaderValue(op);
    auto [it, inserted] = partOfLeader.try_emplace(leader, parts.size());
    if (inserted)
      parts.emplace_back();
    parts[it->second].push_back(op);
  }
  return parts;
}

struct LMCOutlineKernelsPass
    : mlir::lmc::impl::LMCOutlineKernelsBase<LMCOutlineKernelsPass> {
  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>())
      outline(model);
  }

  /// A new private kernel function of the model, kept out of line.
  func::FuncOp createKernel(ModelOp model, StringRef base, Location loc,
                            FunctionType type) {
    std::string name =
        (model.getSymName() + "_" + base + "_" + std::to_string(counts[base]++))
            .str();
    OpBuilder b = OpBuilder::atBlockEnd(&model.getBody().front());
    auto kernel = func::FuncOp::create(b, loc, name, type);
    kernel.setPrivate();
    // Kept out of line by LLVM too: inlining them back would rebuild the
    // one huge function that outlining avoids (code generation time grows
    // faster than linearly with function size).
    kernel->setAttr("passthrough",
                    b.getArrayAttr({b.getStringAttr("noinline")}));
    kernel.addEntryBlock();
    ++numKernels;
    return kernel;
  }

  /// Replaces a fusion group by a call to its kernel: the group's body, the
  /// yield becoming the return, marked for the lowering that makes it one
  /// loop nest. A body of several independent parts (see partsOf) instead
  /// becomes one call per part, to one shared kernel per distinct part, in
  /// place of the group (see the pass description).
  void outlineGroup(ModelOp model, FusedOp group) {
    Block &body = group.getBody().front();
    SmallVector<SmallVector<Operation *>> parts = partsOf(group);
    llvm::DenseMap<Operation *, unsigned> partOf;
    for (auto [i, part] : llvm::enumerate(parts))
      for (Operation *op : part)
        partOf[op] = i;
    // Calling a part where its last op was is valid unless an op outside
    // the part reads one of its values before that.
    bool split = parts.size() > 1;
    for (auto [i, part] : llvm::enumerate(parts))
      for (Operation *op : part)
        for (Operation *user : op->getUsers()) {
          auto it = partOf.find(user);
          if ((it == partOf.end() || it->second != i) &&
              user->isBeforeInBlock(part.back()))
            split = false;
        }

    OpBuilder b(group);
    IRMapping mapping;
    if (!split) {
      SmallVector<Operation *> ops;
      for (Operation &op : group.getBodyOps())
        ops.push_back(&op);
      func::FuncOp &kernel =
          groupKernels[bodyKey(group.getKindAttr(), body.getArguments(), ops,
                               group.getYield().getValues())];
      if (!kernel) {
        auto type =
            FunctionType::get(group.getContext(), group->getOperandTypes(),
                              group->getResultTypes());
        kernel = createKernel(model, ("fused_" + group.getKind()).str(),
                              group.getLoc(), type);
        kernel->setAttr(FusedOp::getKernelAttrName(), group.getKindAttr());
        Block *entry = &kernel.getBody().front();
        OpBuilder kb = OpBuilder::atBlockEnd(entry);
        mapping.map(body.getArguments(), entry->getArguments());
        for (Operation *op : ops)
          kb.clone(*op, mapping);
        SmallVector<Value> returned;
        for (Value v : group.getYield().getValues())
          returned.push_back(mapping.lookup(v));
        func::ReturnOp::create(kb, group.getLoc(), returned);
      }
      auto call =
          func::CallOp::create(b, group.getLoc(), kernel, group.getInputs());
      group->replaceAllUsesWith(call.getResults());
      group->erase();
      return;
    }

    mapping.map(body.getArguments(), group.getInputs());
    for (Operation &op : group.getBodyOps()) {
      auto it = partOf.find(&op);
      if (it == partOf.end()) {
        b.clone(op, mapping);
        continue;
      }
      ArrayRef<Operation *> part = parts[it->second];
      if (&op != part.back())
        continue;
      // The part: its inputs from outside it, its results used outside.
      llvm::SmallPtrSet<Operation *, 8> inPart(part.begin(), part.end());
      llvm::SetVector<Value> inputs;
      SmallVector<Value> results;
      for (Operation *p : part) {
        for (Value v : p->getOperands())
          if (!inPart.contains(v.getDefiningOp()))
            inputs.insert(v);
        for (Value v : p->getResults())
          if (llvm::any_of(v.getUsers(), [&](Operation *user) {
                return !inPart.contains(user);
              }))
            results.push_back(v);
      }
      func::FuncOp &partKernel = groupKernels[bodyKey(
          group.getKindAttr(), inputs.getArrayRef(), part, results)];
      if (!partKernel) {
        partKernel = createKernel(
            model, ("fused_" + group.getKind() + "_part").str(), op.getLoc(),
            FunctionType::get(group.getContext(),
                              ValueRange(inputs.getArrayRef()).getTypes(),
                              ValueRange(results).getTypes()));
        partKernel->setAttr(FusedOp::getKernelAttrName(), group.getKindAttr());
        Block *partEntry = &partKernel.getBody().front();
        OpBuilder pb = OpBuilder::atBlockEnd(partEntry);
        IRMapping partMapping;
        partMapping.map(inputs.getArrayRef(), partEntry->getArguments());
        for (Operation *p : part)
          pb.clone(*p, partMapping);
        SmallVector<Value> returned;
        for (Value v : results)
          returned.push_back(partMapping.lookup(v));
        func::ReturnOp::create(pb, op.getLoc(), returned);
      }
      SmallVector<Value> args;
      for (Value v : inputs)
        args.push_back(mapping.lookup(v));
      auto call = func::CallOp::create(b, op.getLoc(), partKernel, args);
      mapping.map(results, call.getResults());
    }
    for (auto [result, v] :
         llvm::zip(group.getResults(), group.getYield().getValues()))
      result.replaceAllUsesWith(mapping.lookup(v));
    group->erase();
  }

  void outline(ModelOp model) {
    groupKernels.clear();
    counts.clear();
    llvm::DenseMap<KernelKey, func::FuncOp> kernels;
    SmallVector<Operation *> ops;
    for (auto fn : model.getBody().front().getOps<func::FuncOp>())
      fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
        if (!isOutlinable(op))
          return WalkResult::advance();
        ops.push_back(op);
        // The ops of a group go with it.
        return WalkResult::skip();
      });
    for (Operation *op : ops) {
      if (auto group = dyn_cast<FusedOp>(op)) {
        outlineGroup(model, group);
        ++numOutlined;
        continue;
      }
      func::FuncOp kernel;
      {
        auto type = FunctionType::get(op->getContext(), op->getOperandTypes(),
                                      op->getResultTypes());
        KernelKey key{op->getName().getAsOpaquePointer(),
                      op->getAttrDictionary().getAsOpaquePointer(),
                      type.getAsOpaquePointer()};
        func::FuncOp &slot = kernels[key];
        if (!slot) {
          slot = createKernel(model, op->getName().stripDialect(), op->getLoc(),
                              type);
          Block *entry = &slot.getBody().front();
          OpBuilder kb = OpBuilder::atBlockEnd(entry);
          IRMapping mapping;
          mapping.map(op->getOperands(), entry->getArguments());
          Operation *copy = kb.clone(*op, mapping);
          func::ReturnOp::create(kb, op->getLoc(), copy->getResults());
        }
        kernel = slot;
      }
      OpBuilder b(op);
      auto call =
          func::CallOp::create(b, op->getLoc(), kernel, op->getOperands());
      op->replaceAllUsesWith(call.getResults());
      op->erase();
      ++numOutlined;
    }
  }

  std::map<std::vector<const void *>, func::FuncOp> groupKernels;
  llvm::StringMap<unsigned> counts;
};

} // namespace
