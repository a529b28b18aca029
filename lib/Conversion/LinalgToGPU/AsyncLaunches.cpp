//===- AsyncLaunches.cpp - Kernel launches without host waits -------------===//
//
// Makes the host code's kernel launches asynchronous, chained on one token,
// with a host wait only before an op that touches memory on the host. See
// the pass description in include/lmc/Conversion/Passes.td.
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
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/SetVector.h"

#define DEBUG_TYPE "lmc-gpu-async-launches"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCGPUASYNCLAUNCHES
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// The attribute that marks a function as stream-ordered (set by
/// convert-lmc-to-runtime on the GPU runtime's stream-ordered functions).
constexpr StringLiteral kStreamOrdered =
    LMCDialect::StreamOrderedAttrHelper::getNameStr();

/// Every value that aliases the allocation `root`: itself and the views,
/// casts and reshapes taken from it, transitively.
llvm::SetVector<Value> aliasesOf(Value root) {
  llvm::SetVector<Value> aliases;
  aliases.insert(root);
  for (unsigned i = 0; i < aliases.size(); ++i)
    for (Operation *user : aliases[i].getUsers())
      if (isa<ViewLikeOpInterface, memref::CastOp>(user))
        for (Value result : user->getResults())
          if (viewSource(result) == root)
            aliases.insert(result);
  return aliases;
}

/// A load of a buffer the function allocated itself, or got freshly
/// allocated from a stream-ordered function it called: nothing outside the
/// function can write it, so only the ops that use it (or a view of it)
/// order the read.
bool isLocalRead(Operation *op) {
  auto load = dyn_cast<memref::LoadOp>(op);
  return load && freshAllocation(load.getMemRef());
}

bool isPureScalarOp(Operation *op) {
  return op->getNumRegions() == 0 && !op->hasTrait<OpTrait::IsTerminator>() &&
         isMemoryEffectFree(op);
}

class LMCGpuAsyncLaunchesPass
    : public mlir::lmc::impl::LMCGpuAsyncLaunchesBase<LMCGpuAsyncLaunchesPass> {
public:
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isDeclaration())
        continue;
      // A stream-ordered host function (lmc-gpu-stream-functions) returns
      // with its work queued: its callers wait where they touch memory.
      bool streamOrdered = fn->hasAttr(kStreamOrdered);
      for (Block &block : fn.getBody()) {
        delayLocalReads(block);
        chainLaunches(block, streamOrdered);
      }
    }
  }

private:
  /// Moves each local read, and the pure ops computing from what it read,
  /// down to just before its first user, while nothing in between uses the
  /// buffer; a deallocation of the buffer in between moves along.
  void delayLocalReads(Block &block) {
    llvm::SmallPtrSet<Operation *, 16> movable;
    for (Operation &op : block) {
      bool fromRead = isPureScalarOp(&op) &&
                      llvm::any_of(op.getOperands(), [&](Value v) {
                        Operation *def = v.getDefiningOp();
                        return def && movable.contains(def);
                      });
      if (isLocalRead(&op) || fromRead)
        movable.insert(&op);
    }
    if (movable.empty())
      return;
    SmallVector<Operation *> order;
    for (Operation &op : block)
      if (movable.contains(&op))
        order.push_back(&op);
    // Last first: the users of an op have moved before the op itself does.
    for (Operation *op : llvm::reverse(order)) {
      Operation *firstUser = nullptr;
      for (Operation *user : op->getUsers()) {
        Operation *inBlock = block.findAncestorOpInBlock(*user);
        if (inBlock && (!firstUser || inBlock->isBeforeInBlock(firstUser)))
          firstUser = inBlock;
      }
      if (!firstUser || firstUser == op->getNextNode())
        continue;
      SmallVector<Operation *> deallocs;
      Operation *target = firstUser;
      if (auto load = dyn_cast<memref::LoadOp>(op)) {
        llvm::SetVector<Value> aliases =
            aliasesOf(viewSource(load.getMemRef()));
        for (Operation *it = op->getNextNode(); it != firstUser;
             it = it->getNextNode()) {
          bool uses = llvm::any_of(it->getOperands(), [&](Value v) {
            return aliases.contains(v);
          });
          if (!uses)
            continue;
          if (isa<memref::DeallocOp>(it)) {
            deallocs.push_back(it);
            continue;
          }
          target = it;
          break;
        }
      }
      if (target == op->getNextNode())
        continue;
      op->moveBefore(target);
      Operation *after = op;
      for (Operation *dealloc : deallocs) {
        dealloc->moveAfter(after);
        after = dealloc;
      }
      if (isa<memref::LoadOp>(op))
        ++numDelayedReads;
    }
  }

  /// True when `op` may touch memory on the host, so the GPU work queued
  /// before it must be complete.
  bool needsWait(Operation *op) {
    if (op->hasTrait<OpTrait::IsTerminator>() || op->getNumRegions() != 0)
      return true;
    // Host checks of sizes abort the program; they read no buffer.
    if (isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp,
            cf::AssertOp>(op))
      return false;
    if (auto call = dyn_cast<func::CallOp>(op)) {
      auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
          call, call.getCalleeAttr());
      return !callee || !callee->hasAttr(kStreamOrdered);
    }
    return !isMemoryEffectFree(op);
  }

  /// True when `op` calls a stream-ordered host function of the module
  /// (one that lmc-gpu-stream-functions kept out of line), which launches
  /// kernels as the caller would. The GPU runtime's stream-ordered
  /// functions (declarations) say themselves when the host must wait for
  /// their work (a received size is read after lmcrt_gpu_collective_wait,
  /// which synchronises).
  static bool callsStreamFunction(Operation *op) {
    auto call = dyn_cast<func::CallOp>(op);
    if (!call)
      return false;
    auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
        call, call.getCalleeAttr());
    return callee && !callee.isDeclaration() &&
           callee->hasAttr(kStreamOrdered);
  }

  /// Chains the block's synchronous launches on one token per stretch of
  /// GPU work and waits for it before each host access. A call of a
  /// stream-ordered host function queues kernels too: without a token
  /// pending it starts one, so that the next host access waits for them.
  /// In a stream-ordered function the terminator does not wait.
  void chainLaunches(Block &block, bool streamOrdered) {
    OpBuilder builder(block.getParentOp()->getContext());
    Type tokenType = builder.getType<gpu::AsyncTokenType>();
    Value token;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      auto launch = dyn_cast<gpu::LaunchFuncOp>(&op);
      if (launch && !launch.getAsyncToken() &&
          launch.getAsyncDependencies().empty() && !launch.getAsyncObject()) {
        builder.setInsertionPoint(launch);
        if (!token)
          token = gpu::WaitOp::create(builder, launch.getLoc(), tokenType,
                                      ValueRange())
                      .getAsyncToken();
        std::optional<gpu::KernelDim3> cluster;
        if (launch.hasClusterSize())
          cluster = launch.getClusterSizeOperandValues();
        auto async = gpu::LaunchFuncOp::create(
            builder, launch.getLoc(), launch.getKernelAttr(),
            launch.getGridSizeOperandValues(),
            launch.getBlockSizeOperandValues(),
            launch.getDynamicSharedMemorySize(), launch.getKernelOperands(),
            tokenType, ValueRange{token}, cluster);
        async->setDiscardableAttrs(launch->getDiscardableAttrDictionary());
        launch.erase();
        token = async.getAsyncToken();
        ++numAsyncLaunches;
        continue;
      }
      if (!token && !streamOrdered && callsStreamFunction(&op)) {
        builder.setInsertionPoint(&op);
        token = gpu::WaitOp::create(builder, op.getLoc(), tokenType,
                                    ValueRange())
                    .getAsyncToken();
        continue;
      }
      if (streamOrdered && op.hasTrait<OpTrait::IsTerminator>())
        continue;
      if (!token || !needsWait(&op))
        continue;
      builder.setInsertionPoint(&op);
      gpu::WaitOp::create(builder, op.getLoc(), Type(), ValueRange{token});
      token = nullptr;
      ++numWaits;
    }
  }
};

} // namespace
