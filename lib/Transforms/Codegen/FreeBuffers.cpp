//===- FreeBuffers.cpp - Free each buffer after its last use --------------===//
//
// lmc-free-buffers: deallocation for straight-line functions (what lmc
// compile produces after bufferization: entry points that call kernels,
// kernels of linalg ops on memrefs). Each buffer a function owns (its
// memref.alloc results, and the results of calls that return fresh buffers)
// is freed right after the last use of any value that may alias it, unless
// an alias escapes through the function's results. A collective started on
// buffers (lmc.buffer_collective_start) uses them until its wait, and so
// does a receive (lmc.buffer_recv_start) its output buffer; a send
// (lmc.buffer_send) uses its buffer only while it runs.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/EquivalenceClasses.h"

#define DEBUG_TYPE "lmc-free-buffers"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCFREEBUFFERS
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

bool isBuffer(Value v) { return isa<BaseMemRefType>(v.getType()); }

/// How a function's memref results relate to its arguments: for result i,
/// fresh (a buffer the function allocated and hands over) or not (it may
/// alias an argument, or its origin is unknown).
using FreshResults = llvm::DenseMap<Operation *, SmallVector<bool>>;

/// The value `v` comes from through view-like ops and casts.
Value rootOf(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def)) {
      v = view.getViewSource();
      continue;
    }
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      v = cast.getSource();
      continue;
    }
    break;
  }
  return v;
}

struct LMCFreeBuffersPass
    : mlir::lmc::impl::LMCFreeBuffersBase<LMCFreeBuffersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> funcs;
    module.walk([&](func::FuncOp fn) {
      if (!fn.isExternal())
        funcs.push_back(fn);
    });
    for (func::FuncOp fn : funcs)
      if (!fn.getBody().hasOneBlock()) {
        fn.emitOpError("lmc-free-buffers handles straight-line functions "
                       "only (use upstream ownership-based deallocation)");
        return signalPassFailure();
      }

    // Every function hands over the buffers it returns (the runtime frees
    // what entry points return; callers free what kernels return): a
    // returned buffer that is not an allocation of the function, returned
    // once, is copied into one first (a view of an argument, a global, a
    // value returned twice).
    FreshResults fresh;
    for (func::FuncOp fn : funcs) {
      auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
      llvm::DenseMap<Value, int> roots;
      for (Value v : ret.getOperands())
        if (isBuffer(v))
          ++roots[rootOf(v)];
      SmallVector<bool> flags;
      for (OpOperand &operand : ret->getOpOperands()) {
        Value v = operand.get();
        if (!isBuffer(v)) {
          flags.push_back(false);
          continue;
        }
        Value root = rootOf(v);
        bool owned = root.getDefiningOp<memref::AllocOp>() ||
                     root.getDefiningOp<func::CallOp>();
        if (!owned || roots[root] > 1) {
          auto type = dyn_cast<MemRefType>(v.getType());
          if (!type) {
            ret.emitOpError("returns an unranked buffer");
            return signalPassFailure();
          }
          OpBuilder b(ret);
          Location loc = ret.getLoc();
          SmallVector<Value> sizes;
          for (int64_t d = 0; d < type.getRank(); ++d)
            if (type.isDynamicDim(d))
              sizes.push_back(memref::DimOp::create(b, loc, v, d));
          auto copyType =
              MemRefType::get(type.getShape(), type.getElementType());
          Value copy = memref::AllocOp::create(b, loc, copyType, sizes);
          memref::CopyOp::create(b, loc, v, copy);
          if (copyType != type)
            copy = memref::CastOp::create(b, loc, type, copy);
          operand.set(copy);
          --roots[root];
          ++numCopies;
        }
        flags.push_back(true);
      }
      fresh[fn] = flags;
    }

    for (func::FuncOp fn : funcs)
      freeBuffers(module, fresh, fn);
  }

  static bool isFreshCallResult(ModuleOp module, const FreshResults &fresh,
                                func::CallOp call, OpResult result) {
    auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
    if (!callee)
      return false;
    auto it = fresh.find(callee);
    return it != fresh.end() && it->second[result.getResultNumber()];
  }

  void freeBuffers(ModuleOp module, const FreshResults &fresh,
                   func::FuncOp fn) {
    Block &block = fn.getBody().front();
    // Alias classes: a value joins its operands' class when it may alias
    // them (views, casts, results of calls and other ops that take buffers,
    // except the fresh results of calls).
    llvm::EquivalenceClasses<Value> aliases;
    SmallVector<Value> owned;
    for (Operation &op : block) {
      for (OpResult result : op.getResults()) {
        if (!isBuffer(result))
          continue;
        aliases.insert(result);
        if (isa<memref::AllocOp>(op)) {
          owned.push_back(result);
          continue;
        }
        if (auto call = dyn_cast<func::CallOp>(op))
          if (isFreshCallResult(module, fresh, call, result)) {
            owned.push_back(result);
            continue;
          }
        for (Value operand : op.getOperands())
          if (isBuffer(operand))
            aliases.unionSets(result, operand);
      }
    }
    Operation *terminator = block.getTerminator();
    for (Value buffer : owned) {
      // The last op of the block that uses any alias; none when an alias
      // is returned.
      Operation *last = buffer.getDefiningOp();
      bool escapes = false;
      for (auto it = aliases.findLeader(buffer); it != aliases.member_end();
           ++it) {
        for (Operation *user : (*it).getUsers()) {
          // A started collective reads and writes its buffers, and a
          // started receive writes its buffer, until the ops that complete
          // them (the waits on their handles). A send's buffer is free right
          // after it (the runtime copies the data).
          SmallVector<Operation *> uses = {user};
          auto collective = dyn_cast<CollectiveOpInterface>(user);
          if ((collective && collective.isStart()) ||
              isa<BufferRecvStartOp>(user))
            llvm::append_range(uses, user->getUsers());
          for (Operation *use : uses) {
            Operation *inBlock = block.findAncestorOpInBlock(*use);
            if (!inBlock)
              continue;
            if (inBlock == terminator) {
              escapes = true;
              break;
            }
            if (last->isBeforeInBlock(inBlock))
              last = inBlock;
          }
          if (escapes)
            break;
        }
        if (escapes)
          break;
      }
      if (escapes)
        continue;
      OpBuilder b = OpBuilder::atBlockBegin(&block);
      b.setInsertionPointAfter(last);
      memref::DeallocOp::create(b, last->getLoc(), buffer);
      ++numFrees;
    }
  }
};

} // namespace
