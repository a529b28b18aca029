//===- OutlineKernels.cpp - One shared function per distinct lmc op -------===//
//
// Replaces each lmc compute op by a call to a private kernel function that
// holds a copy of the op, one kernel per distinct (op, attributes, types).
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <tuple>

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

/// Ops that stay where they are: symbol references, structure, collectives
/// and axis_index (each is one runtime call already).
bool isOutlinable(Operation *op) {
  return isa<LMCDialect>(op->getDialect()) &&
         !isa<ModelOp, ParamOp, ParamRefOp, AllReduceOp, AllGatherOp,
              ReduceScatterOp, AllReduceStartOp, AllGatherStartOp,
              ReduceScatterStartOp, WaitOp, AxisIndexOp>(op) &&
         op->getNumRegions() == 0 && op->getNumResults() > 0;
}

struct LMCOutlineKernelsPass
    : mlir::lmc::impl::LMCOutlineKernelsBase<LMCOutlineKernelsPass> {
  void runOnOperation() override {
    for (ModelOp model : getOperation().getOps<ModelOp>())
      outline(model);
  }

  void outline(ModelOp model) {
    llvm::DenseMap<KernelKey, func::FuncOp> kernels;
    llvm::StringMap<unsigned> counts;
    SmallVector<Operation *> ops;
    for (auto fn : model.getBody().front().getOps<func::FuncOp>())
      fn.walk([&](Operation *op) {
        if (isOutlinable(op))
          ops.push_back(op);
      });
    Block &body = model.getBody().front();
    for (Operation *op : ops) {
      auto type = FunctionType::get(op->getContext(), op->getOperandTypes(),
                                    op->getResultTypes());
      KernelKey key{op->getName().getAsOpaquePointer(),
                    op->getAttrDictionary().getAsOpaquePointer(),
                    type.getAsOpaquePointer()};
      func::FuncOp &kernel = kernels[key];
      if (!kernel) {
        StringRef mnemonic = op->getName().stripDialect();
        std::string name = (model.getSymName() + "_" + mnemonic + "_" +
                            std::to_string(counts[mnemonic]++))
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
        mapping.map(op->getOperands(), entry->getArguments());
        Operation *copy = kb.clone(*op, mapping);
        func::ReturnOp::create(kb, op->getLoc(), copy->getResults());
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
