//===- StreamFunctions.cpp - Host functions that only queue GPU work ------===//
//
// Keeps the host functions of a GPU program that only queue work on the
// compute stream out of line, marked stream-ordered, so that the entry
// points call them (as the CPU target calls its kernels) instead of
// inlining every launch sequence. See the pass description in
// include/lmc/Conversion/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"
#include "lmc/Dialect/LMC/IR/LMCDialect.h"

#include "ViewSource.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "lmc-gpu-stream-functions"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCGPUSTREAMFUNCTIONS
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

constexpr StringLiteral kStreamOrdered =
    LMCDialect::StreamOrderedAttrHelper::getNameStr();

class LMCGpuStreamFunctionsPass
    : public mlir::lmc::impl::LMCGpuStreamFunctionsBase<
          LMCGpuStreamFunctionsPass> {
public:
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);

    // Candidates: private host functions whose every op queues GPU work,
    // computes on the host without touching memory, or manages buffers.
    llvm::SetVector<func::FuncOp> kept;
    for (auto fn : module.getOps<func::FuncOp>())
      if (!fn.isDeclaration() && fn.isPrivate() &&
          !fn->hasAttr(kStreamOrdered) && fn.getBody().hasOneBlock())
        kept.insert(fn);

    // Call sites of each candidate (a call from anywhere in the module).
    llvm::DenseMap<func::FuncOp, SmallVector<func::CallOp>> callers;
    module.walk([&](func::CallOp call) {
      if (auto callee = symbols.lookup<func::FuncOp>(call.getCallee()))
        callers[callee].push_back(call);
    });

    // Drop candidates until none changes: a function's own ops, and the
    // uses its callers make of the buffers it returns, must need no host
    // wait given the functions kept so far.
    bool changed = true;
    while (changed) {
      changed = false;
      for (func::FuncOp fn : llvm::to_vector(kept)) {
        bool keep = onlyQueuesWork(fn, kept, symbols);
        if (keep)
          for (func::CallOp call : callers.lookup(fn))
            if (!resultsStayOnDevice(call, kept, symbols)) {
              LLVM_DEBUG(llvm::dbgs() << "not kept (the host uses a result): "
                                      << fn.getSymName() << "\n");
              keep = false;
              break;
            }
        if (!keep) {
          kept.remove(fn);
          changed = true;
        }
      }
    }

    UnitAttr unit = UnitAttr::get(module.getContext());
    for (func::FuncOp fn : kept) {
      LLVM_DEBUG(llvm::dbgs() << "stream function: " << fn.getSymName()
                              << "\n");
      fn->setAttr(kStreamOrdered, unit);
      fn.setNoInlineAttr(unit);
      ++numStreamFunctions;
    }
  }

private:
  /// True when the callee of `call` is stream-ordered: a GPU runtime
  /// function, or a function kept by this pass.
  static bool callsStreamOrdered(func::CallOp call,
                                 const llvm::SetVector<func::FuncOp> &kept,
                                 SymbolTable &symbols) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    return callee && (callee->hasAttr(kStreamOrdered) || kept.contains(callee));
  }

  /// True when no op of `fn` touches memory on the host: each is a kernel
  /// launch, a stream-ordered call, an allocation, a deallocation, a host
  /// check of sizes, a pure op, or the return.
  static bool onlyQueuesWork(func::FuncOp fn,
                             const llvm::SetVector<func::FuncOp> &kept,
                             SymbolTable &symbols) {
    for (Operation &op : fn.getBody().front()) {
      if (auto launch = dyn_cast<gpu::LaunchFuncOp>(&op)) {
        if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty() ||
            launch.getAsyncObject())
          return false;
        continue;
      }
      if (auto call = dyn_cast<func::CallOp>(&op)) {
        if (!callsStreamOrdered(call, kept, symbols))
          return false;
        continue;
      }
      if (isa<func::ReturnOp, memref::AllocOp, memref::DeallocOp,
              cf::AssertOp>(&op))
        continue;
      if (op.getNumRegions() != 0 || !isMemoryEffectFree(&op))
        return false;
    }
    return true;
  }

  /// True when result `index` of `fn` is (a view of) a buffer `fn`
  /// allocates, or gets so from a kept function it calls: the caller owns
  /// it as if it had allocated it, and may read it on the host
  /// (lmc-host-shared-buffers then allocates it shared in `fn`).
  static bool returnsFresh(func::FuncOp fn, unsigned index,
                           const llvm::SetVector<func::FuncOp> &kept,
                           SymbolTable &symbols, unsigned depth = 0) {
    if (!fn || fn.isDeclaration() || !fn.getBody().hasOneBlock() ||
        depth > 8)
      return false;
    Value returned = fn.getBody().front().getTerminator()->getOperand(index);
    Value source = viewSource(returned);
    Operation *def = source.getDefiningOp();
    if (def && isa<memref::AllocOp>(def))
      return true;
    auto call = dyn_cast_or_null<func::CallOp>(def);
    if (!call)
      return false;
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    return callee && kept.contains(callee) &&
           returnsFresh(callee, cast<OpResult>(source).getResultNumber(),
                        kept, symbols, depth + 1);
  }

  /// True when the buffers `call` returns, but the fresh ones, are used
  /// only by the GPU: kernel
  /// launches, stream-ordered calls, deallocations, and pure ops (views,
  /// casts, sizes), transitively through the buffers pure ops return and
  /// into the functions that will be inlined (a buffer passed to one is
  /// used as its body uses the argument). Returned to a caller, it is not. A buffer the host
  /// loads or copies, or that is returned, is host memory the caller must
  /// see allocate (lmc-host-shared-buffers, lmc-gpu-async-launches).
  static bool resultsStayOnDevice(func::CallOp call,
                                  const llvm::SetVector<func::FuncOp> &kept,
                                  SymbolTable &symbols) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    SmallVector<Value> work;
    for (OpResult result : call->getResults())
      if (isa<BaseMemRefType>(result.getType()) &&
          !returnsFresh(callee, result.getResultNumber(), kept, symbols))
        work.push_back(result);
    llvm::SmallPtrSet<Value, 16> seen;
    while (!work.empty()) {
      Value value = work.pop_back_val();
      if (!seen.insert(value).second)
        continue;
      for (Operation *user : value.getUsers()) {
        if (isa<gpu::LaunchFuncOp, memref::DeallocOp>(user))
          continue;
        if (auto other = dyn_cast<func::CallOp>(user)) {
          if (callsStreamOrdered(other, kept, symbols))
            continue;
          // A function that will be inlined: what its body does with the
          // buffer is what the caller does.
          auto callee = symbols.lookup<func::FuncOp>(other.getCallee());
          if (!callee || callee.isDeclaration())
            return false;
          for (OpOperand &operand : other->getOpOperands())
            if (operand.get() == value)
              work.push_back(
                  callee.getArgument(operand.getOperandNumber()));
          continue;
        }
        if (user->getNumRegions() != 0 || !isMemoryEffectFree(user))
          return false;
        // A view, cast or reshape: its uses are the buffer's.
        for (Value result : user->getResults())
          if (isa<BaseMemRefType>(result.getType()))
            work.push_back(result);
      }
    }
    return true;
  }
};

} // namespace
