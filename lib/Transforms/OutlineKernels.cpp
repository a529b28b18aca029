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
#include "llvm/ADT/StringMap.h"

#include <map>
#include <tuple>
#include <vector>

#define DEBUG_TYPE "lmc-outline-kernels"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCOUTLINEKERNELS
#include "lmc/Transforms/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// What makes two ops the same kernel: op name, attributes and types (all
/// uniqued, so their pointers identify them).
using KernelKey = std::tuple<const void *, const void *, const void *>;

/// Ops that stay where they are: symbol references, structure and
/// collectives (each is one runtime call already). A fusion group is one
/// kernel.
bool isOutlinable(Operation *op) {
  if (isa<FusedOp>(op))
    return true;
  return isa<LMCDialect>(op->getDialect()) && !isCollective(op) &&
         !isa<ModelOp, ParamOp, ParamRefOp, YieldOp>(op) &&
         op->getNumRegions() == 0 && op->getNumResults() > 0;
}

/// What makes two fusion groups the same kernel: kind, types and the body
/// up to the names of its values (each op's name, attributes, result types
/// and operands, numbered in order of definition).
std::vector<const void *> groupKey(FusedOp op) {
  std::vector<const void *> key = {
      op.getKindAttr().getAsOpaquePointer(),
      FunctionType::get(op.getContext(), op->getOperandTypes(),
                        op->getResultTypes())
          .getAsOpaquePointer()};
  llvm::DenseMap<Value, uintptr_t> number;
  for (BlockArgument arg : op.getBody().front().getArguments())
    number[arg] = number.size();
  for (Operation &inner : op.getBody().front()) {
    key.push_back(inner.getName().getAsOpaquePointer());
    key.push_back(inner.getAttrDictionary().getAsOpaquePointer());
    key.push_back(reinterpret_cast<const void *>(
        static_cast<uintptr_t>(inner.getNumOperands())));
    for (Value v : inner.getOperands())
      key.push_back(reinterpret_cast<const void *>(number.lookup(v)));
    for (Value v : inner.getResults()) {
      key.push_back(v.getType().getAsOpaquePointer());
      number[v] = number.size();
    }
  }
  return key;
}

struct LMCOutlineKernelsPass
    : mlir::lmc::impl::LMCOutlineKernelsBase<LMCOutlineKernelsPass> {
  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>())
      outline(model);
  }

  void outline(ModelOp model) {
    llvm::DenseMap<KernelKey, func::FuncOp> kernels;
    std::map<std::vector<const void *>, func::FuncOp> groupKernels;
    llvm::StringMap<unsigned> counts;
    SmallVector<Operation *> ops;
    for (auto fn : model.getBody().front().getOps<func::FuncOp>())
      fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
        if (!isOutlinable(op))
          return WalkResult::advance();
        ops.push_back(op);
        // The ops of a group go with it.
        return WalkResult::skip();
      });
    Block &body = model.getBody().front();
    for (Operation *op : ops) {
      auto type = FunctionType::get(op->getContext(), op->getOperandTypes(),
                                    op->getResultTypes());
      auto fused = dyn_cast<FusedOp>(op);
      func::FuncOp *slot;
      if (fused) {
        slot = &groupKernels[groupKey(fused)];
      } else {
        KernelKey key{op->getName().getAsOpaquePointer(),
                      op->getAttrDictionary().getAsOpaquePointer(),
                      type.getAsOpaquePointer()};
        slot = &kernels[key];
      }
      func::FuncOp &kernel = *slot;
      if (!kernel) {
        std::string base = fused ? ("fused_" + fused.getKind()).str()
                                 : op->getName().stripDialect().str();
        std::string name = (model.getSymName() + "_" + base + "_" +
                            std::to_string(counts[base]++))
                               .str();
        OpBuilder b = OpBuilder::atBlockEnd(&body);
        kernel = func::FuncOp::create(b, op->getLoc(), name, type);
        kernel.setPrivate();
        // Kept out of line by LLVM too: inlining them back would rebuild the
        // one huge function that outlining avoids (code generation time
        // grows faster than linearly with function size).
        kernel->setAttr("passthrough",
                        b.getArrayAttr({b.getStringAttr("noinline")}));
        Block *entry = kernel.addEntryBlock();
        OpBuilder kb = OpBuilder::atBlockEnd(entry);
        IRMapping mapping;
        if (fused) {
          // The group's body, its yield becoming the return; the kernel is
          // marked for the lowering that makes it one loop nest.
          kernel->setAttr(FusedOp::getKernelAttrName(), fused.getKindAttr());
          mapping.map(fused.getBody().front().getArguments(),
                      entry->getArguments());
          for (Operation &inner : fused.getBodyOps())
            kb.clone(inner, mapping);
          SmallVector<Value> results;
          for (Value v : fused.getYield().getValues())
            results.push_back(mapping.lookup(v));
          func::ReturnOp::create(kb, op->getLoc(), results);
        } else {
          mapping.map(op->getOperands(), entry->getArguments());
          Operation *copy = kb.clone(*op, mapping);
          func::ReturnOp::create(kb, op->getLoc(), copy->getResults());
        }
        ++numKernels;
      }
      OpBuilder b(op);
      auto call =
          func::CallOp::create(b, op->getLoc(), kernel, op->getOperands());
      op->replaceAllUsesWith(call.getResults());
      op->erase();
      ++numOutlined;
    }
  }
};

} // namespace
