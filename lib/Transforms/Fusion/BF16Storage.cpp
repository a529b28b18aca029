//===- BF16Storage.cpp - bfloat16 storage of the GEMMs' operands ----------===//
//
// lmc-bf16-storage: under --precision bf16, every GEMM reads bfloat16
// operands from memory; values whose readers all accept bfloat16 are stored
// so by the op that writes them, the others (parameters first) are converted
// once for all the GEMMs that read them. What each op allows comes from its
// BF16StorageOpInterface. See the pass description in
// include/lmc/Transforms/Fusion/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#define DEBUG_TYPE "lmc-bf16-storage"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCBF16STORAGE
#include "lmc/Transforms/Fusion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

RankedTensorType tensorOf(Value v, bool (Type::*is)() const) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && (type.getElementType().*is)() ? type : nullptr;
}

RankedTensorType asBF16(RankedTensorType type) {
  return RankedTensorType::get(type.getShape(),
                               BFloat16Type::get(type.getContext()),
                               type.getEncoding());
}

struct LMCBF16StoragePass
    : mlir::lmc::impl::LMCBF16StorageBase<LMCBF16StoragePass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<func::FuncOp> funcs;
    getOperation().walk([&](func::FuncOp fn) {
      if (!fn.isExternal())
        funcs.push_back(fn);
    });
    for (func::FuncOp fn : funcs)
      run(fn);
  }

  void run(func::FuncOp fn) {
    // The ops outside group bodies, in order.
    ops.clear();
    fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op == fn.getOperation())
        return WalkResult::advance();
      ops.push_back(op);
      return isa<FusedOp>(op) ? WalkResult::skip() : WalkResult::advance();
    });

    // 1. Float32-bound values: read by an op that reads only float32, or by
    // a group (computing in float32) with a float32-bound result. Readers
    // come after the values they read (loops aside): walking backwards
    // finds nearly all at once; repeat until nothing changes.
    llvm::DenseSet<Value> bound;
    for (bool changed = true; changed;) {
      changed = false;
      for (Operation *op : llvm::reverse(ops)) {
        auto storage = dyn_cast<BF16StorageOpInterface>(op);
        bool resultBound = storage && !storage.computesInBF16() &&
                           llvm::any_of(op->getResults(), [&](Value r) {
                             return bound.contains(r);
                           });
        for (OpOperand &use : op->getOpOperands()) {
          Value v = use.get();
          if (!tensorOf(v, &Type::isF32) || bound.contains(v))
            continue;
          if (!storage || !storage.canReadBF16(use.getOperandNumber()) ||
              resultBound) {
            bound.insert(v);
            changed = true;
          }
        }
      }
    }

    // 2. Values stored as bfloat16 by the op that writes them: not bound,
    // and every reader reads them as bfloat16. An op that writes its
    // results together (a GEMM's result and pre-activation, one epilogue)
    // stores all of them so, or none.
    retyped.clear();
    auto storable = [&](BF16StorageOpInterface storage, OpResult r) {
      return !bound.contains(r) &&
             storage.canWriteBF16(r.getResultNumber()) &&
             llvm::all_of(r.getUses(), [](OpOperand &use) {
               auto reader = dyn_cast<BF16StorageOpInterface>(use.getOwner());
               return reader && reader.canReadBF16(use.getOperandNumber());
             });
    };
    for (Operation *op : ops) {
      auto storage = dyn_cast<BF16StorageOpInterface>(op);
      if (!storage)
        continue;
      SmallVector<OpResult> stored;
      for (OpResult r : op->getResults())
        if (tensorOf(r, &Type::isF32) && !r.use_empty() && storable(storage, r))
          stored.push_back(r);
      if (storage.writesBF16Together()) {
        bool all = !stored.empty() && llvm::all_of(op->getResults(), [&](
                                                       OpResult r) {
          return !tensorOf(r, &Type::isF32) || llvm::is_contained(stored, r) ||
                 (r.use_empty() && storage.canWriteBF16(r.getResultNumber()));
        });
        stored.clear();
        if (all)
          for (OpResult r : op->getResults())
            if (tensorOf(r, &Type::isF32))
              stored.push_back(r);
      }
      for (OpResult r : stored) {
        r.setType(asBF16(cast<RankedTensorType>(r.getType())));
        retyped.insert(op);
        for (Operation *user : r.getUsers())
          retyped.insert(user);
        ++numStored;
      }
    }

    // 3. Every GEMM reads bfloat16: an operand still float32 is converted
    // once, where it is defined, for all the GEMMs that read it.
    converted.clear();
    for (Operation *op : ops) {
      auto storage = dyn_cast<BF16StorageOpInterface>(op);
      if (!storage || !storage.computesInBF16())
        continue;
      SmallVector<OpOperand *> operands;
      bool supported = true;
      for (OpOperand &use : op->getOpOperands()) {
        if (!storage.canReadBF16(use.getOperandNumber()))
          continue;
        if (!tensorOf(use.get(), &Type::isF32) &&
            !tensorOf(use.get(), &Type::isBF16))
          supported = false;
        operands.push_back(&use);
      }
      if (!supported || operands.empty())
        continue;
      for (OpOperand *use : operands) {
        Value v = use->get();
        if (!tensorOf(v, &Type::isF32))
          continue;
        use->set(convert(v));
      }
      retyped.insert(op);
      ++numGemms;
    }

    for (Operation *op : retyped)
      if (auto storage = dyn_cast<BF16StorageOpInterface>(op))
        storage.adaptToBF16Storage();
    // A data-moving op repeated on converted operands may have no reader
    // left.
    for (Operation *op : repeated)
      if (op->use_empty())
        op->erase();
    repeated.clear();
  }

  /// `v` rounded to bfloat16, once: where an op that only moves data
  /// (`isBF16PassThrough`) out of one value defines it (a flatten, a split),
  /// that op again on the rounded copy of its operand, so that one
  /// conversion serves every view of a value; where a fusion group defines
  /// it, one more result of that group, which writes both (rather than a
  /// kernel that reads the value back); else a group of its own, placed
  /// where `v` is defined (a function argument: at the top of the
  /// function). A concat is converted itself: repeating it would convert
  /// each of its operands.
  Value convert(Value v) {
    if (Value known = converted.lookup(v))
      return known;
    Operation *def = v.getDefiningOp();
    if (auto group = dyn_cast_or_null<FusedOp>(def))
      return writeAlsoAsBF16(group, cast<OpResult>(v).getResultNumber());
    auto storage = dyn_cast_or_null<BF16StorageOpInterface>(def);
    if (storage && storage.isBF16PassThrough() &&
        llvm::count_if(def->getOperands(), [](Value operand) {
          return tensorOf(operand, &Type::isF32) != nullptr;
        }) == 1) {
      IRMapping mapping;
      for (Value operand : def->getOperands())
        if (tensorOf(operand, &Type::isF32))
          mapping.map(operand, convert(operand));
      OpBuilder b(def);
      b.setInsertionPointAfter(def);
      Operation *copy = b.clone(*def, mapping);
      for (auto [result, rounded] :
           llvm::zip(def->getResults(), copy->getResults())) {
        if (RankedTensorType type = tensorOf(result, &Type::isF32))
          rounded.setType(asBF16(type));
        converted[result] = rounded;
      }
      repeated.push_back(def);
      ++numPassedThrough;
      return converted.lookup(v);
    }
    OpBuilder b(v.getContext());
    if (auto arg = dyn_cast<BlockArgument>(v))
      b.setInsertionPointToStart(arg.getOwner());
    else
      b.setInsertionPointAfter(v.getDefiningOp());
    Location loc = v.getLoc();
    auto type = cast<RankedTensorType>(v.getType());
    RankedTensorType bf16 = asBF16(type);
    auto group = FusedOp::create(b, loc, TypeRange{bf16},
                                 b.getStringAttr("to_bf16"), ValueRange{v});
    Block *body = b.createBlock(&group.getBody());
    Value in = body->addArgument(type, loc);
    Value out = ConvertOp::create(b, loc, bf16, in);
    YieldOp::create(b, loc, ValueRange{out});
    ++numConversions;
    converted[v] = group.getResult(0);
    return group.getResult(0);
  }

  /// Replaces `group` by a copy with one more result, its result `index`
  /// rounded to bfloat16 (the body rounds it before the store:
  /// adaptToBF16Storage), and returns that result.
  Value writeAlsoAsBF16(FusedOp group, unsigned index) {
    OpBuilder b(group);
    SmallVector<Type> types(group->getResultTypes());
    types.push_back(
        asBF16(cast<RankedTensorType>(group->getResult(index).getType())));
    auto wide = FusedOp::create(b, group.getLoc(), types, group.getKindAttr(),
                                group.getInputs());
    wide->setDiscardableAttrs(group->getDiscardableAttrDictionary());
    wide.getBody().takeBody(group.getBody());
    YieldOp yield = wide.getYield();
    yield->insertOperands(yield->getNumOperands(), yield->getOperand(index));
    for (auto [from, to] : llvm::zip(group->getResults(), wide->getResults())) {
      if (Value copy = converted.lookup(from)) {
        converted.erase(from);
        converted[to] = copy;
      }
      from.replaceAllUsesWith(to);
    }
    // The body adapts once the pass is done (the new result, and any
    // retyped before).
    retyped.remove(group);
    retyped.insert(wide);
    std::replace(ops.begin(), ops.end(), group.getOperation(),
                 wide.getOperation());
    group->erase();
    ++numWrittenTwice;
    Value copy = wide->getResults().back();
    converted[wide->getResult(index)] = copy;
    return copy;
  }

  /// The ops outside group bodies of the function, in order.
  SmallVector<Operation *> ops;
  /// The ops some of whose operands or results were given bfloat16 types.
  llvm::SetVector<Operation *> retyped;
  /// The bfloat16 copy of each float32 value converted in this function.
  llvm::DenseMap<Value, Value> converted;
  /// The data-moving ops repeated on converted operands.
  SmallVector<Operation *> repeated;
};

} // namespace
