//===- DeviceScalars.cpp - Scalar chains from group results on the device -===//
//
// The GPU's training step reads no result mid-step: the scalar code that
// starts from values a kernel computed (the gradients' squared norms) and
// ends in an operand of a fusion group (the AdamW updates' clipping
// coefficient) becomes one-thread device code on 0-d tensors
// (`linalg.generic` with no loops) whose result the updates read in their
// loops; the reads that are left (the logged norm, the loss, the
// non-finite flag) move to the end of the step.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

#include <algorithm>
#include <functional>

#define DEBUG_TYPE "lmc-device-scalars"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCDEVICESCALARS
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

bool isScalarType(Type t) { return isa<IntegerType, FloatType>(t); }

/// A read of a 0-d tensor's element.
bool isScalarRead(Operation *op) {
  auto extract = dyn_cast<tensor::ExtractOp>(op);
  return extract && extract.getTensor().getType().getRank() == 0;
}

/// A pure `arith` or `math` op on scalars (constants included).
bool isScalarOp(Operation *op) {
  if (op->getNumRegions() != 0 || op->getNumResults() == 0 || !isPure(op))
    return false;
  if (!isa<arith::ArithDialect, math::MathDialect>(op->getDialect()))
    return false;
  return llvm::all_of(op->getOperandTypes(), isScalarType) &&
         llvm::all_of(op->getResultTypes(), isScalarType);
}

/// The operand uses that take a 0-d tensor in place of a scalar: an AdamW
/// update's `grad_scale`, directly or through a fusion group's argument
/// whose every use is one, and `tensor.from_elements` to a 0-d tensor.
bool takesTensor(OpOperand &use) {
  Operation *user = use.getOwner();
  // The scalar made a 0-d tensor (the partial squared norms all-reduced
  // over tp or ZeRO's dp).
  if (auto wrap = dyn_cast<tensor::FromElementsOp>(user))
    return wrap.getType().getRank() == 0;
  if (auto adamw = dyn_cast<AdamWOp>(user))
    return &use == &adamw.getGradScaleMutable();
  auto group = dyn_cast<FusedOp>(user);
  if (!group)
    return false;
  BlockArgument arg = group.getBody().getArgument(use.getOperandNumber());
  return !arg.use_empty() && llvm::all_of(arg.getUses(), [](OpOperand &u) {
    return takesTensor(u);
  });
}

/// Gives `use` the 0-d tensor `value`, retyping a group's block argument
/// (or replacing the tensor.from_elements that made one).
void useTensor(OpOperand &use, Value value) {
  if (auto wrap = dyn_cast<tensor::FromElementsOp>(use.getOwner())) {
    wrap.getResult().replaceAllUsesWith(value);
    wrap.erase();
    return;
  }
  use.set(value);
  if (auto group = dyn_cast<FusedOp>(use.getOwner()))
    group.getBody()
        .getArgument(use.getOperandNumber())
        .setType(value.getType());
}

/// Moves the scalar code at the top of `group`'s body that computes its
/// scalar results out of it, after it: the group yields the 0-d tensors that
/// code reads instead (outlining does the same with the scalar code between
/// a group's parts). Returns the new group, or null when nothing moved.
FusedOp hoistScalarResults(FusedOp group) {
  Block &body = group.getBody().front();
  YieldOp yield = group.getYield();
  SmallVector<Value> results(yield.getOperands());
  // The scalar code each scalar result needs, or none if any of it is not
  // scalar code on reads, constants and block arguments.
  llvm::SetVector<Operation *> slice;
  SmallVector<unsigned> scalarResults;
  for (auto [i, v] : llvm::enumerate(results)) {
    if (!isScalarType(v.getType()))
      continue;
    SmallVector<Value> work = {v};
    while (!work.empty()) {
      Value w = work.pop_back_val();
      if (isa<BlockArgument>(w))
        continue;
      Operation *def = w.getDefiningOp();
      if (!isScalarRead(def) && !isScalarOp(def))
        return nullptr;
      if (!slice.insert(def) || isScalarRead(def))
        continue;
      llvm::append_range(work, def->getOperands());
    }
    scalarResults.push_back(i);
  }
  if (scalarResults.empty())
    return nullptr;
  SmallVector<Operation *> ops(slice.begin(), slice.end());
  llvm::sort(ops,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });

  // The group yields its other results and the tensors read.
  llvm::SetVector<Value> read;
  for (Operation *op : ops)
    if (isScalarRead(op))
      read.insert(cast<tensor::ExtractOp>(op).getTensor());
  SmallVector<Value> yielded;
  SmallVector<unsigned> kept;
  for (auto [i, v] : llvm::enumerate(results))
    if (!llvm::is_contained(scalarResults, unsigned(i))) {
      yielded.push_back(v);
      kept.push_back(i);
    }
  llvm::append_range(yielded, read);
  OpBuilder b(group);
  auto hoisted =
      FusedOp::create(b, group.getLoc(), ValueRange(yielded).getTypes(),
                      group.getKindAttr(), group.getInputs());
  hoisted.getBody().takeBody(group.getBody());
  OpBuilder(yield).create<YieldOp>(yield.getLoc(), yielded);
  yield.erase();

  // The scalar code after the group, reading its new results.
  b.setInsertionPointAfter(hoisted);
  IRMapping map;
  for (BlockArgument arg : body.getArguments())
    map.map(arg, hoisted.getInputFor(arg));
  for (auto [i, v] : llvm::enumerate(read))
    map.map(v, hoisted.getResult(kept.size() + i));
  for (Operation *op : ops)
    b.clone(*op, map);
  for (auto [n, i] : llvm::enumerate(kept))
    group.getResult(i).replaceAllUsesWith(hoisted.getResult(n));
  for (unsigned i : scalarResults)
    group.getResult(i).replaceAllUsesWith(map.lookup(results[i]));
  group.erase();
  for (Operation *op : llvm::reverse(ops))
    if (op->use_empty())
      op->erase();
  return hoisted;
}

/// Moves `generic` into a new private function beside the one holding it,
/// named `<kernelName>_<n>`, and calls it in its place: the entry
/// points call kernels and launch nothing themselves
/// (lmc-gpu-stream-functions), and the kernel's name says what it is
/// (`<model>_clip_<n>_kernel`, the optimizer's class in the GPU profile).
/// Its arguments are the generic's inputs and the host values it uses from
/// above; constants are cloned into it.
func::CallOp outlineKernel(linalg::GenericOp generic, StringRef kernelName,
                           Operation *&after) {
  llvm::SetVector<Value> above;
  getUsedValuesDefinedAbove(generic.getRegion(), above);
  SmallVector<Value> args(generic.getInputs());
  SmallVector<Operation *> constants;
  for (Value v : above) {
    Operation *def = v.getDefiningOp();
    if (def && def->hasTrait<OpTrait::ConstantLike>())
      constants.push_back(def);
    else
      args.push_back(v);
  }
  auto fn = generic->getParentOfType<func::FuncOp>();
  Operation *table = fn->getParentOp();
  OpBuilder b(fn->getContext());
  b.setInsertionPointAfter(after ? after : fn.getOperation());
  auto type =
      b.getFunctionType(ValueRange(args).getTypes(), generic.getResultTypes());
  // `<kernelName>_<n>`, the first n free in the module.
  std::string name;
  for (unsigned n = 0;; ++n) {
    name = (kernelName + "_" + std::to_string(n)).str();
    if (!SymbolTable::lookupSymbolIn(table, name))
      break;
  }
  auto kernel = func::FuncOp::create(b, generic.getLoc(), name, type);
  kernel.setPrivate();
  // Out of line for LLVM too, as lmc-outline-kernels' kernels.
  kernel->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
  SymbolTable(table).insert(kernel, Block::iterator(kernel));
  after = kernel;
  Block *entry = kernel.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping map;
  for (auto [v, arg] : llvm::zip(args, entry->getArguments()))
    map.map(v, arg);
  for (Operation *op : constants)
    b.clone(*op, map);
  for (Value init : generic.getOutputs())
    b.clone(*init.getDefiningOp(), map);
  Operation *copy = b.clone(*generic, map);
  func::ReturnOp::create(b, generic.getLoc(), copy->getResults());

  OpBuilder cb(generic);
  auto call = func::CallOp::create(cb, generic.getLoc(), kernel, args);
  SmallVector<Operation *> inits;
  for (Value init : generic.getOutputs())
    inits.push_back(init.getDefiningOp());
  generic.erase();
  for (Operation *init : inits)
    if (init->use_empty())
      init->erase();
  return call;
}

/// Makes the scalar code of `ops` (in program order, each a read of a 0-d
/// tensor or scalar code with an operand that comes from one) one-thread
/// device code: `linalg.generic`s without loops, each reading at most
/// `maxInputs` tensors and in one block, with the same arithmetic in the
/// same order. Operands from the host (arguments, constants, host scalar
/// code) are used from above. The uses in `tensorUses` get the 0-d result;
/// other uses outside read it back (`tensor.extract`, moved to the end by
/// sinkReads). Each generic is a kernel function of its own, called where it
/// stood (see outlineKernel).
void toDevice(ArrayRef<Operation *> ops,
              const llvm::DenseSet<OpOperand *> &tensorUses, unsigned maxInputs,
              StringRef kernelName) {
  llvm::DenseSet<Operation *> inSet(ops.begin(), ops.end());
  MLIRContext *ctx = ops.front()->getContext();
  // Each value of device code, as the 0-d tensor holding it once computed.
  llvm::DenseMap<Value, Value> asTensor;
  size_t begin = 0;
  Operation *lastKernel = nullptr;
  while (begin < ops.size()) {
    // The next segment: ops of one block up to the input limit. A segment
    // also ends before an op that comes after a use outside the device code
    // of a value it computed, so that its generic, placed after its last
    // op, comes before every such use.
    llvm::SetVector<Value> inputs;
    Operation *firstUse = nullptr;
    size_t end = begin;
    for (; end < ops.size(); ++end) {
      llvm::SetVector<Value> more;
      Operation *op = ops[end];
      if (op->getBlock() != ops[begin]->getBlock() ||
          (firstUse && !op->isBeforeInBlock(firstUse)))
        break;
      if (isScalarRead(op))
        more.insert(cast<tensor::ExtractOp>(op).getTensor());
      else
        for (Value v : op->getOperands())
          if (asTensor.count(v))
            more.insert(asTensor.lookup(v));
      size_t n = inputs.size();
      for (Value v : more)
        n += !inputs.contains(v);
      if (n > maxInputs && end > begin)
        break;
      inputs.insert(more.begin(), more.end());
      for (Operation *user : op->getUsers()) {
        if (inSet.count(user))
          continue;
        // A use in a branch of an scf.if of this block: the scf.if.
        user = op->getBlock()->findAncestorOpInBlock(*user);
        if (user && (!firstUse || user->isBeforeInBlock(firstUse)))
          firstUse = user;
      }
    }
    ArrayRef<Operation *> segment(ops.data() + begin, end - begin);
    llvm::DenseSet<Operation *> inSegment(segment.begin(), segment.end());
    // Its results: the values used outside it.
    SmallVector<Value> outs;
    for (Operation *op : segment)
      for (Value v : op->getResults())
        if (llvm::any_of(v.getUsers(),
                         [&](Operation *u) { return !inSegment.count(u); }))
          outs.push_back(v);

    OpBuilder b(ctx);
    b.setInsertionPointAfter(segment.back());
    Location loc = segment.back()->getLoc();
    SmallVector<Value> inits;
    SmallVector<Type> types;
    for (Value v : outs) {
      auto type = RankedTensorType::get({}, v.getType());
      types.push_back(type);
      inits.push_back(tensor::EmptyOp::create(b, loc, type, ValueRange()));
    }
    SmallVector<AffineMap> maps(inputs.size() + outs.size(),
                                AffineMap::get(ctx));
    auto generic = linalg::GenericOp::create(
        b, loc, types, inputs.getArrayRef(), inits, maps,
        SmallVector<utils::IteratorType>(),
        [&](OpBuilder &nb, Location, ValueRange args) {
          IRMapping map;
          llvm::DenseMap<Value, Value> element;
          for (auto [v, arg] : llvm::zip(inputs, args))
            element[v] = arg;
          for (Operation *op : segment) {
            if (isScalarRead(op)) {
              map.map(op->getResult(0),
                      element.lookup(cast<tensor::ExtractOp>(op).getTensor()));
              continue;
            }
            for (Value v : op->getOperands())
              if (!map.contains(v) && asTensor.count(v))
                map.map(v, element.lookup(asTensor.lookup(v)));
            nb.clone(*op, map);
          }
          SmallVector<Value> yielded;
          for (Value v : outs)
            yielded.push_back(map.lookupOrDefault(v));
          linalg::YieldOp::create(nb, loc, yielded);
        });
    func::CallOp call = outlineKernel(generic, kernelName, lastKernel);
    for (auto [v, t] : llvm::zip(outs, call.getResults()))
      asTensor[v] = t;
    // Uses outside the device code: a tensor where one is taken, else a
    // read.
    for (auto [v, t] : llvm::zip(outs, call.getResults())) {
      Value readBack;
      for (OpOperand &use : llvm::make_early_inc_range(v.getUses())) {
        if (inSet.count(use.getOwner()))
          continue;
        if (tensorUses.count(&use)) {
          useTensor(use, t);
          continue;
        }
        if (!readBack) {
          OpBuilder rb(ctx);
          rb.setInsertionPointAfter(call);
          readBack = tensor::ExtractOp::create(rb, loc, t, ValueRange());
        }
        use.set(readBack);
      }
    }
    begin = end;
  }
  for (Operation *op : llvm::reverse(ops))
    if (op->use_empty())
      op->erase();
}

/// Moves the reads of 0-d tensors that only the return needs, with the
/// scalar code between them and the return, to just before the return, so
/// the host reads them once the step's work is queued.
void sinkReads(Block &block) {
  Operation *terminator = block.getTerminator();
  llvm::DenseSet<Operation *> sunk;
  SmallVector<Operation *> order;
  for (Operation &op : llvm::reverse(block.without_terminator())) {
    if (!isScalarRead(&op) && !isScalarOp(&op))
      continue;
    if (op.use_empty() || !llvm::all_of(op.getUsers(), [&](Operation *u) {
          return u == terminator || sunk.count(u);
        }))
      continue;
    sunk.insert(&op);
    order.push_back(&op);
  }
  // Constants stay where they are; only code that reads something moves.
  for (Operation *op : llvm::reverse(order))
    if (!op->hasTrait<OpTrait::ConstantLike>())
      op->moveBefore(terminator);
}

/// The straight-line code of `fn`: its body and, nested in it, the branches
/// of `scf.if`s (the CPU's guard around the update, lmc-export-entry-points),
/// in program order.
SmallVector<Operation *> straightLineOps(func::FuncOp fn) {
  SmallVector<Operation *> ops;
  std::function<void(Block &)> visit = [&](Block &block) {
    for (Operation &op : block) {
      ops.push_back(&op);
      if (auto ifOp = dyn_cast<scf::IfOp>(op))
        for (Region &region : ifOp->getRegions())
          for (Block &nested : region)
            visit(nested);
    }
  };
  visit(fn.getBody().front());
  return ops;
}

struct LMCDeviceScalars
    : public lmc::impl::LMCDeviceScalarsBase<LMCDeviceScalars> {
  using Base::Base;

  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp fn) {
      if (fn.isExternal() || !fn.getBody().hasOneBlock())
        return;
      for (Operation *op : straightLineOps(fn))
        if (auto group = dyn_cast<FusedOp>(op))
          if (hoistScalarResults(group))
            ++numHoisted;

      // Device values: reads of 0-d tensors and the scalar code on them.
      SmallVector<Operation *> program = straightLineOps(fn);
      llvm::DenseMap<Operation *, unsigned> position;
      llvm::DenseSet<Value> device;
      for (Operation *op : program) {
        position[op] = position.size();
        if (isScalarRead(op) ||
            (isScalarOp(op) && llvm::any_of(op->getOperands(), [&](Value v) {
               return device.contains(v);
             })))
          device.insert(op->getResults().begin(), op->getResults().end());
      }
      // The uses that take a tensor, and the device code they need.
      llvm::DenseSet<OpOperand *> tensorUses;
      llvm::SetVector<Operation *> needed;
      SmallVector<Value> work;
      for (Operation *op : program)
        for (OpOperand &use : op->getOpOperands())
          if (device.contains(use.get()) && takesTensor(use)) {
            tensorUses.insert(&use);
            work.push_back(use.get());
          }
      while (!work.empty()) {
        Operation *def = work.pop_back_val().getDefiningOp();
        if (!needed.insert(def) || isScalarRead(def))
          continue;
        for (Value v : def->getOperands())
          if (device.contains(v))
            work.push_back(v);
      }
      if (!needed.empty()) {
        SmallVector<Operation *> ops(needed.begin(), needed.end());
        llvm::sort(ops, [&](Operation *a, Operation *b) {
          return position.lookup(a) < position.lookup(b);
        });
        numUses += tensorUses.size();
        auto model = fn->getParentOfType<ModelOp>();
        std::string name =
            ((model ? model.getSymName() : fn.getSymName()) + "_clip").str();
        toDevice(ops, tensorUses, std::max(1u, unsigned(maxInputs)), name);
      }
      Block &block = fn.getBody().front();
      if (isa<func::ReturnOp>(block.getTerminator()))
        sinkReads(block);
    });
  }
};

} // namespace
