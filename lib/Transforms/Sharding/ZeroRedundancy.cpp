//===- ZeroRedundancy.cpp - ZeRO-1/2/3 updates for lmc-shard --------------===//
//
// See ZeroRedundancy.h.
//
//===----------------------------------------------------------------------===//

#include "ZeroRedundancy.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// The first op of `block` at or after... that uses `value`, other than
/// `except`; null if none.
Operation *firstUser(Block *block, Value value, Operation *except) {
  Operation *first = nullptr;
  for (Operation *user : value.getUsers()) {
    if (user == except)
      continue;
    Operation *inBlock = block->findAncestorOpInBlock(*user);
    if (inBlock && (!first || inBlock->isBeforeInBlock(first)))
      first = inBlock;
  }
  return first;
}

/// Moves every op between `from` (included) and `anchor` that depends on a
/// result of `anchor` to right after it, keeping their order.
void sinkDependents(Operation *from, Operation *anchor) {
  llvm::SmallPtrSet<Value, 16> tainted(anchor->result_begin(),
                                       anchor->result_end());
  SmallVector<Operation *> moved;
  for (Operation *op = from; op && op != anchor; op = op->getNextNode())
    if (llvm::any_of(op->getOperands(),
                     [&](Value v) { return tainted.contains(v); })) {
      moved.push_back(op);
      tainted.insert(op->result_begin(), op->result_end());
    }
  Operation *after = anchor;
  for (Operation *op : moved) {
    op->moveAfter(after);
    after = op;
  }
}

} // namespace

LogicalResult
mlir::lmc::applyZero1(func::FuncOp train, ModelOp model, StringRef axis,
                      int64_t dp, bool overlap,
                      const llvm::StringMap<int64_t> &shardedParams,
                      llvm::SmallPtrSetImpl<Value> &handled, ZeroStats &stats) {
  if (dp <= 1)
    return success();
  Block &body = train.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  OpBuilder b(train.getContext());
  ArrayAttr axes = b.getStrArrayAttr({axis});
  b.setInsertionPointToStart(&body);
  Value dpIndex = AxisIndexOp::create(b, train.getLoc(), b.getStringAttr(axis));
  FloatAttr mean = b.getF64FloatAttr(1.0 / static_cast<double>(dp));

  SmallVector<AdamWOp> updates(body.getOps<AdamWOp>());
  SmallVector<Value> partialSums;
  for (AdamWOp op : updates) {
    Location loc = op.getLoc();
    auto param = dyn_cast<BlockArgument>(op.getParam());
    auto expAvg = dyn_cast<BlockArgument>(op.getExpAvg());
    auto expAvgSq = dyn_cast<BlockArgument>(op.getExpAvgSq());
    Value grad = op.getGrad();
    Operation *def = grad.getDefiningOp();
    if (!param || !expAvg || !expAvgSq || !def || def->getBlock() != &body)
      continue;
    auto name = train.getArgAttrOfType<FlatSymbolRefAttr>(
        param.getArgNumber(), LMCDialect::ParamAttrHelper::getNameStr());
    auto paramOp = name ? dyn_cast_or_null<ParamOp>(
                              SymbolTable::lookupSymbolIn(model, name))
                        : nullptr;
    // The tp-local type the gradient has; under ZeRO-3 the argument is
    // already this rank's piece of it.
    auto type = cast<RankedTensorType>(grad.getType());
    auto sharded =
        name ? shardedParams.find(name.getValue()) : shardedParams.end();
    const bool stage3 = sharded != shardedParams.end();
    int64_t dim = stage3 ? sharded->second : -1;
    for (int64_t d = 0; d < type.getRank() && dim < 0; ++d)
      if (!type.isDynamicDim(d) && type.getDimSize(d) % dp == 0)
        dim = d;
    if (!paramOp || dim < 0)
      continue; // The data-parallel all-reduce keeps this one.
    SmallVector<int64_t> shape(type.getShape());
    int64_t piece = shape[dim] / dp;
    shape[dim] = piece;
    auto localType = type.clone(shape);

    // The gradient: reduce-scattered as soon as it exists, then the mean.
    b.setInsertionPointAfter(def);
    Value scattered;
    Operation *collective;
    if (overlap) {
      auto start =
          ReduceScatterStartOp::create(b, loc, PendingType::get(localType),
                                       grad, axes, b.getI64IntegerAttr(dim));
      collective = start;
      b.setInsertionPoint(firstUser(&body, grad, start));
      scattered = WaitOp::create(b, loc, TypeRange{localType},
                                 ValueRange{start.getPending()})
                      .getResult(0);
    } else {
      auto reduce = ReduceScatterOp::create(b, loc, localType, grad, axes,
                                            b.getI64IntegerAttr(dim));
      collective = reduce;
      scattered = reduce.getResult();
    }
    ++stats.reduceScatters;
    Value meanGrad = ScaleOp::create(b, loc, scattered, mean);
    grad.replaceAllUsesExcept(meanGrad, collective);
    handled.insert(meanGrad);
    // Squared norms of the piece: partial over dp. The update and these
    // squares are the only readers of a gradient that lmc-optimizer makes.
    for (Operation *user : llvm::make_early_inc_range(meanGrad.getUsers())) {
      if (user == op)
        continue;
      auto square = dyn_cast<MulOp>(user);
      if (!square || square.getLhs() != meanGrad ||
          square.getRhs() != meanGrad || !square->hasOneUse())
        return user->emitOpError("ZeRO-1: a gradient read other than by its "
                                 "update and its squared norm");
      auto sum = dyn_cast<ReduceSumOp>(*square->user_begin());
      if (!sum || sum.getType().getRank() != 0)
        return user->emitOpError("ZeRO-1: a squared gradient not summed to "
                                 "a scalar");
      square.getResult().setType(localType);
      if (!llvm::is_contained(partialSums, sum.getResult()))
        partialSums.push_back(sum.getResult());
    }

    expAvg.setType(localType);
    expAvgSq.setType(localType);
    if (stage3) {
      // The argument is the piece; so is the result.
      if (param.getType() != localType)
        return op.emitOpError("ZeRO-3: the parameter argument is ")
               << param.getType() << ", not its piece " << localType;
      b.setInsertionPoint(op);
      IRMapping mapping;
      mapping.map(op.getGrad(), meanGrad);
      Operation *update = b.clone(*op, mapping);
      for (Value result : update->getResults())
        result.setType(localType);
      op.getNewParam().replaceAllUsesWith(update->getResult(0));
      op.getNewExpAvg().replaceAllUsesWith(update->getResult(1));
      op.getNewExpAvgSq().replaceAllUsesWith(update->getResult(2));
      op.erase();
      continue;
    }

    // AdamW on this rank's piece of the parameter and its state.
    b.setInsertionPoint(op);
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(b, loc, op.getParam());
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    offsets[dim] =
        arith::MulIOp::create(b, loc, dpIndex,
                              arith::ConstantIndexOp::create(b, loc, piece))
            .getResult();
    sizes[dim] = b.getIndexAttr(piece);
    Value paramPiece = tensor::ExtractSliceOp::create(b, loc, localType, param,
                                                      offsets, sizes, strides);
    IRMapping mapping;
    mapping.map(op.getParam(), paramPiece);
    mapping.map(op.getGrad(), meanGrad);
    Operation *update = b.clone(*op, mapping);
    for (Value result : update->getResults())
      result.setType(localType);
    // The updated parameter, gathered back over dp.
    b.setInsertionPointAfter(update);
    Value gathered;
    if (overlap) {
      auto start = AllGatherStartOp::create(b, loc, PendingType::get(type),
                                            update->getResult(0), axes,
                                            b.getI64IntegerAttr(dim));
      b.setInsertionPoint(ret);
      gathered = WaitOp::create(b, loc, TypeRange{type},
                                ValueRange{start.getPending()})
                     .getResult(0);
    } else {
      gathered = AllGatherOp::create(b, loc, type, update->getResult(0), axes,
                                     b.getI64IntegerAttr(dim));
    }
    ++stats.allGathers;
    op.getNewParam().replaceAllUsesWith(gathered);
    op.getNewExpAvg().replaceAllUsesWith(update->getResult(1));
    op.getNewExpAvgSq().replaceAllUsesWith(update->getResult(2));
    op.erase();
    paramOp->setAttr(LMCDialect::ZeroDimAttrHelper::getNameStr(),
                     b.getI64IntegerAttr(dim));
    paramOp->setAttr(LMCDialect::ZeroAxisAttrHelper::getNameStr(),
                     b.getStringAttr(axis));
  }

  // One all-reduce of the partial squared norms, after the last of them;
  // what reads them moves after it.
  if (!partialSums.empty()) {
    llvm::sort(partialSums, [](Value x, Value y) {
      return x.getDefiningOp()->isBeforeInBlock(y.getDefiningOp());
    });
    Operation *last = partialSums.back().getDefiningOp();
    b.setInsertionPointAfter(last);
    auto reduce =
        AllReduceOp::create(b, last->getLoc(), ValueRange(partialSums), axes);
    for (auto [sum, total] : llvm::zip(partialSums, reduce.getResults()))
      sum.replaceAllUsesExcept(total, reduce);
    sinkDependents(partialSums.front().getDefiningOp(), reduce);
  }

  train.setType(FunctionType::get(train.getContext(), body.getArgumentTypes(),
                                  ret.getOperandTypes()));
  return success();
}
