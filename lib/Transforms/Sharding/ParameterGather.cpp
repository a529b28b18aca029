//===- ParameterGather.cpp - ZeRO-3 parameter shards for lmc-shard --------===//
//
// See ParameterGather.h.
//
//===----------------------------------------------------------------------===//

#include "ParameterGather.h"

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::lmc;

std::string mlir::lmc::layerKey(StringRef name) {
  SmallVector<StringRef> parts;
  name.split(parts, '.');
  for (size_t i = 0; i < parts.size(); ++i)
    if (!parts[i].empty() && llvm::all_of(parts[i], llvm::isDigit))
      return llvm::join(ArrayRef<StringRef>(parts).take_front(i + 1), ".");
  if (parts.size() > 1)
    parts.pop_back();
  return llvm::join(parts, ".");
}

namespace {

/// One parameter argument and the uses of one pass (forward or backward).
struct ParamUses {
  BlockArgument arg;
  RankedTensorType full; // Its type before ZeRO-3 (the gathered type).
  int64_t dim;
  std::string key;
  SmallVector<OpOperand *> uses;
  Operation *first = nullptr; // The first user, in the function's block.
};

/// Gathers the parameters of `params` (one pass's uses) layer by layer; the
/// first layer's gathers start at `start` (before it, or at the top of the
/// block when null). Returns the number of layers.
int64_t gatherLayers(OpBuilder &b, Block &body, SmallVector<ParamUses> params,
                     Operation *startAfter, StringRef axis, int64_t dp,
                     bool overlap) {
  llvm::stable_sort(params, [](const ParamUses &x, const ParamUses &y) {
    return x.first != y.first && x.first->isBeforeInBlock(y.first);
  });
  ArrayAttr axes = b.getStrArrayAttr({axis});
  Operation *previousWait = nullptr;
  int64_t layers = 0;
  for (size_t begin = 0; begin < params.size();) {
    size_t end = begin + 1;
    while (end < params.size() && params[end].key == params[begin].key)
      ++end;
    ArrayRef<ParamUses> layer =
        ArrayRef<ParamUses>(params).slice(begin, end - begin);
    ++layers;
    Operation *firstUse = layer.front().first;
    Location loc = firstUse->getLoc();
    SmallVector<Value> gathered;
    if (overlap) {
      if (previousWait)
        b.setInsertionPointAfter(previousWait);
      else if (startAfter)
        b.setInsertionPointAfter(startAfter);
      else
        b.setInsertionPointToStart(&body);
      SmallVector<Value> pending;
      SmallVector<Type> types;
      for (const ParamUses &p : layer) {
        pending.push_back(AllGatherStartOp::create(
            b, p.arg.getLoc(), PendingType::get(p.full), p.arg, axes,
            b.getI64IntegerAttr(p.dim)));
        types.push_back(p.full);
      }
      b.setInsertionPoint(firstUse);
      auto wait = WaitOp::create(b, loc, types, pending);
      previousWait = wait;
      llvm::append_range(gathered, wait.getResults());
    } else {
      b.setInsertionPoint(firstUse);
      for (const ParamUses &p : layer) {
        gathered.push_back(AllGatherOp::create(b, p.arg.getLoc(), p.full, p.arg,
                                               axes,
                                               b.getI64IntegerAttr(p.dim)));
      }
    }
    for (auto [p, value] : llvm::zip(layer, gathered))
      for (OpOperand *use : p.uses)
        use->set(value);
    begin = end;
  }
  return layers;
}

} // namespace

llvm::StringMap<int64_t>
mlir::lmc::planParameterShards(ModelOp model, StringRef axis, int64_t dp) {
  llvm::StringMap<int64_t> dims;
  MeshAttr mesh = getMeshInScope(model);
  std::optional<unsigned> axisIndex =
      mesh ? mesh.getAxisIndex(axis) : std::nullopt;
  if (dp <= 1 || !axisIndex)
    return dims;
  StringRef attrName = LMCDialect::getShardingAttrName();
  for (ParamOp p : model.getParams()) {
    RankedTensorType type = p.getTensorType();
    auto sharding = p->getAttrOfType<ShardingAttr>(attrName);
    if (!sharding)
      sharding = ShardingAttr::getReplicated(model.getContext());
    if (!sharding.getPlacement(axis).isReplicated())
      continue;
    FailureOr<SmallVector<int64_t>> local =
        sharding.getLocalShape(type.getShape(), mesh);
    if (failed(local))
      continue;
    int64_t dim = -1;
    for (int64_t d = 0; d < type.getRank() && dim < 0; ++d)
      if (!ShapedType::isDynamic((*local)[d]) && (*local)[d] % dp == 0 &&
          sharding.getAxesShardingDim(d, mesh).empty())
        dim = d;
    if (dim < 0)
      continue;
    SmallVector<Placement> perAxis;
    for (StringAttr name : mesh.getAxisNames())
      perAxis.push_back(name.getValue() == axis
                            ? Placement::shard(dim)
                            : sharding.getPlacement(name.getValue()));
    p->setAttr(attrName, ShardingAttr::get(mesh, perAxis));
    dims[p.getSymName()] = dim;
  }
  return dims;
}

LogicalResult
mlir::lmc::gatherParameters(func::FuncOp func, StringRef axis, int64_t dp,
                            const llvm::StringMap<int64_t> &sharded,
                            Operation *forwardEnd, bool overlap,
                            GatherStats &stats) {
  if (sharded.empty())
    return success();
  Block &body = func.getBody().front();
  SmallVector<ParamUses> forward, backward;
  for (BlockArgument arg : body.getArguments()) {
    auto name = func.getArgAttrOfType<FlatSymbolRefAttr>(
        arg.getArgNumber(), LMCDialect::ParamAttrHelper::getNameStr());
    auto found = name ? sharded.find(name.getValue()) : sharded.end();
    if (found == sharded.end())
      continue;
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    int64_t dim = found->second;
    if (!type || dim >= type.getRank() || type.isDynamicDim(dim) ||
        type.getDimSize(dim) % dp != 0)
      return func.emitOpError("ZeRO-3: argument ")
             << arg.getArgNumber() << " (" << name << ", " << arg.getType()
             << ") does not split over " << axis << "=" << dp
             << " along dimension " << dim;
    ParamUses fwd{arg, type, dim, layerKey(name.getValue()), {}, nullptr};
    ParamUses bwd = fwd;
    for (OpOperand &use : arg.getUses()) {
      if (isa<AdamWOp>(use.getOwner()))
        continue; // The update reads the piece.
      Operation *op = body.findAncestorOpInBlock(*use.getOwner());
      if (!op)
        return use.getOwner()->emitOpError("ZeRO-3: a parameter read outside "
                                           "the body of @")
               << func.getSymName();
      bool isForward = !forwardEnd || !forwardEnd->isBeforeInBlock(op);
      ParamUses &p = isForward ? fwd : bwd;
      p.uses.push_back(&use);
      if (!p.first || op->isBeforeInBlock(p.first))
        p.first = op;
    }
    if (!fwd.uses.empty())
      forward.push_back(std::move(fwd));
    if (!bwd.uses.empty())
      backward.push_back(std::move(bwd));
    SmallVector<int64_t> shape(type.getShape());
    shape[dim] /= dp;
    arg.setType(type.clone(shape));
  }
  // The uses still read the argument (now the piece): the gathers replace
  // it in each of them.
  OpBuilder b(func.getContext());
  auto gatherAll = [&](SmallVector<ParamUses> &params, Operation *after,
                       int64_t &gathers, int64_t &layers) {
    gathers += params.size();
    layers += gatherLayers(b, body, params, after, axis, dp, overlap);
  };
  gatherAll(forward, nullptr, stats.forwardGathers, stats.forwardLayers);
  gatherAll(backward, forwardEnd, stats.backwardGathers, stats.backwardLayers);
  func.setType(FunctionType::get(func.getContext(), body.getArgumentTypes(),
                                 func.getResultTypes()));
  return success();
}
