//===- GemmEpilogues.cpp - Bias and GELU epilogues of linear layers -------===//
//
// lmc-gemm-epilogues: folds the bias add after a linear layer's GEMM, and
// the tanh GELU after that, into one lmc.matmul_bias (one runtime call with
// an epilogue). Runs after lmc-fuse: a bias add found as the first op of a
// fusion group moves out of the group into the GEMM. See the pass
// description in include/lmc/Transforms/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "KernelCount.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#define DEBUG_TYPE "lmc-gemm-epilogues"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCGEMMEPILOGUES
#include "lmc/Transforms/Fusion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// A kernel as lmc-fuse counts them: an lmc compute op or a fusion group.
bool isLinearLayer(MatmulOp mm) {
  return mm.getRhs().getType().getRank() == 2 && !mm.getTransposeA() &&
         mm.getType().getElementType().isF32() && mm->hasOneUse();
}

/// The tanh GELU reading `v` (the first one, when there are several).
GeluOp geluTanhUserOf(Value v) {
  for (Operation *user : v.getUsers())
    if (auto gelu = dyn_cast<GeluOp>(user))
      if (gelu.getInput() == v &&
          gelu.getApproximation() == GeluApproximation::tanh)
        return gelu;
  return nullptr;
}

struct LMCGemmEpiloguesPass
    : mlir::lmc::impl::LMCGemmEpiloguesBase<LMCGemmEpiloguesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> funcs;
    module.walk([&](func::FuncOp fn) {
      if (!fn.isExternal() && fn.getBody().hasOneBlock())
        funcs.push_back(fn);
    });
    bool hasEntries = llvm::any_of(funcs, [](func::FuncOp fn) {
      return isReportedFunction(fn.getSymName());
    });
    for (func::FuncOp fn : funcs) {
      Block &block = fn.getBody().front();
      unsigned before = countKernels(block);
      unsigned bias = 0, gelu = 0;
      SmallVector<MatmulOp> matmuls(block.getOps<MatmulOp>());
      for (MatmulOp mm : matmuls) {
        if (!isLinearLayer(mm))
          continue;
        Operation *user = *mm->getUsers().begin();
        bool withGelu = false;
        if (auto add = dyn_cast<BiasAddOp>(user))
          withGelu = foldBiasAdd(mm, add);
        else if (auto group = dyn_cast<FusedOp>(user))
          withGelu = foldIntoGroup(mm, group);
        else
          continue;
        if (!mm->use_empty())
          continue; // not folded
        mm.erase();
        ++(withGelu ? gelu : bias);
      }
      numBias += bias;
      numGelu += gelu;
      if (!report || (hasEntries && !isReportedFunction(fn.getSymName())))
        continue;
      std::string where;
      if (auto model = fn->getParentOfType<ModelOp>())
        where = ("@" + model.getSymName() + " ").str();
      llvm::outs() << llvm::formatv(
          "lmc-gemm-epilogues: {0}{1}: {2} kernels before, {3} after ({4} "
          "bias, {5} bias + gelu epilogues)\n",
          where, fn.getSymName(), before, countKernels(block), bias, gelu);
    }
  }

  /// Builds the lmc.matmul_bias of `mm` and `bias` at `at`: one result, or
  /// (activation, pre-activation) with `withGelu`.
  MatmulBiasOp build(Operation *at, MatmulOp mm, Value bias, bool withGelu) {
    OpBuilder b(at);
    Type type = mm.getType();
    SmallVector<Type> types = {type};
    if (withGelu)
      types.push_back(type);
    auto op = MatmulBiasOp::create(
        b, at->getLoc(), types, mm.getLhs(), mm.getRhs(), bias,
        mm.getTransposeB(),
        withGelu ? GeluApproximationAttr::get(b.getContext(),
                                              GeluApproximation::tanh)
                 : GeluApproximationAttr());
    return op;
  }

  /// `mm`'s only user is the top-level bias add `add`: both (and a tanh
  /// GELU of the sum) become one op. Returns whether a GELU was folded.
  bool foldBiasAdd(MatmulOp mm, BiasAddOp add) {
    if (add.getInput() != mm.getResult())
      return false;
    GeluOp gelu = geluTanhUserOf(add.getResult());
    MatmulBiasOp op = build(add, mm, add.getBias(), gelu != nullptr);
    if (gelu) {
      gelu.getResult().replaceAllUsesWith(op.getResult());
      gelu.erase();
      add.getResult().replaceAllUsesWith(op.getPreActivation());
    } else {
      add.getResult().replaceAllUsesWith(op.getResult());
    }
    add.erase();
    return gelu != nullptr;
  }

  /// `mm`'s only user is `group`, whose body adds a bias to it first: the
  /// bias add (and a tanh GELU of the sum in the group) move into the GEMM;
  /// the group reads the results instead, or goes when nothing is left.
  bool foldIntoGroup(MatmulOp mm, FusedOp group) {
    Block &body = group.getBody().front();
    unsigned index = mm->getUses().begin()->getOperandNumber();
    BlockArgument arg = body.getArgument(index);
    if (!arg.hasOneUse())
      return false;
    auto add = dyn_cast<BiasAddOp>(*arg.getUsers().begin());
    auto biasArg = add ? dyn_cast<BlockArgument>(add.getBias()) : nullptr;
    if (!add || add.getInput() != arg || !biasArg ||
        biasArg.getOwner() != &body)
      return false;
    GeluOp gelu = geluTanhUserOf(add.getResult());
    MatmulBiasOp op =
        build(group, mm, group.getInputFor(biasArg), gelu != nullptr);
    // The group reads the biased sum where it read the GEMM's result.
    group->setOperand(index, gelu ? op.getPreActivation() : op.getResult());
    add.getResult().replaceAllUsesWith(arg);
    add.erase();
    if (gelu) {
      group.getInputsMutable().append(op.getResult());
      BlockArgument act =
          body.addArgument(op.getResult().getType(), gelu.getLoc());
      gelu.getResult().replaceAllUsesWith(act);
      gelu.erase();
    }
    simplify(group);
    return gelu != nullptr;
  }

  /// Drops the operands that `group`'s body no longer reads; dissolves the
  /// group (inlines its body) when it holds no lmc op any more.
  void simplify(FusedOp group) {
    Block &body = group.getBody().front();
    for (unsigned i = body.getNumArguments(); i-- > 0;) {
      if (!body.getArgument(i).use_empty())
        continue;
      body.eraseArgument(i);
      group->eraseOperand(i);
    }
    bool hasLMCOp = llvm::any_of(group.getBodyOps(), [](Operation &op) {
      return isa<LMCDialect>(op.getDialect());
    });
    if (hasLMCOp)
      return;
    for (BlockArgument arg : body.getArguments())
      arg.replaceAllUsesWith(group.getInputFor(arg));
    SmallVector<Value> yielded(group.getYield().getValues());
    for (Operation &op : llvm::make_early_inc_range(group.getBodyOps()))
      op.moveBefore(group);
    group->replaceAllUsesWith(yielded);
    group.erase();
  }
};

} // namespace
