//===- Shard.cpp - Partition the training step over a mesh of ranks -------===//
//
// lmc-shard: records the mesh on the model and makes the training functions
// an SPMD program for it. Tensor parallelism first (TensorParallel.h): the
// parameters are placed over tp as Megatron does and train_step, eval_step
// and logits are partitioned into their local forms. Then data parallelism:
// gradients and losses of each rank's rows are all-reduced over dp (in
// buckets, right after the backward pass produces them) and scaled to the
// mean. With dp-sync=local the training step reduces nothing over dp: each
// replica trains on its own rows (local SGD; the trainer averages the
// parameters through lmc_dp_average, lmc-export-entry-points).
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "ParameterGather.h"
#include "ShardingStrategy.h"
#include "TensorParallel.h"
#include "ZeroRedundancy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

#define DEBUG_TYPE "lmc-shard"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCSHARD
#include "lmc/Transforms/Sharding/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// The mesh lmc-shard partitions for (the strategy's axes, in its order)
/// and the sizes of its data- and tensor-parallel axes.
struct MeshShape {
  ::lmc::MeshSpec mesh;
  int64_t dp = 1, tp = 1;
};

constexpr StringLiteral kDataAxis = ShardingStrategy::dataAxis;
constexpr StringLiteral kTensorAxis = ShardingStrategy::tensorAxis;

FailureOr<MeshShape> parseMesh(StringRef text, std::string &error) {
  // Empty: one rank (the strategy's axes, each of size 1).
  ::lmc::MeshSpec requested;
  if (!text.trim().empty() &&
      !::lmc::MeshSpec::parse(text.str(), requested, error))
    return failure();
  MeshShape shape;
  if (!ShardingStrategy::complete(requested, shape.mesh, error))
    return failure();
  shape.dp = shape.mesh.sizeOf(kDataAxis.str());
  shape.tp = shape.mesh.sizeOf(kTensorAxis.str());
  return shape;
}

int64_t bytesOf(Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  return type.getNumElements() *
         static_cast<int64_t>(type.getElementTypeBitWidth() / 8);
}

/// One all-reduce over dp of `values` (already computed), started right
/// after the last of them, then a scale by 1/dp; every other use of each
/// value reads the mean instead. Blocking (`overlap` false): the all-reduce
/// and the scales stand after the last value. Asynchronous: an
/// lmc.all_reduce_start there, and its lmc.wait and the scales right before
/// the first use, so that the reduction overlaps the ops in between. Fails
/// when a use comes before the last value.
LogicalResult reduceMean(OpBuilder &b, ArrayRef<Value> values, int64_t dp,
                         Operation *after, bool overlap) {
  Location loc = after->getLoc();
  Block *block = after->getBlock();
  b.setInsertionPointAfter(after);
  ArrayAttr axes = b.getStrArrayAttr({kDataAxis});
  Operation *reduce;
  ValueRange reduced;
  if (overlap) {
    auto start = AllReduceStartOp::create(b, loc, ValueRange(values), axes);
    // The first use after the start, in the block.
    Operation *first = nullptr;
    for (Value value : values)
      for (Operation *user : value.getUsers()) {
        if (user == start)
          continue;
        Operation *inBlock = block->findAncestorOpInBlock(*user);
        if (inBlock && !inBlock->isBeforeInBlock(start) &&
            (!first || inBlock->isBeforeInBlock(first)))
          first = inBlock;
      }
    b.setInsertionPoint(first ? first : block->getTerminator());
    auto wait = WaitOp::create(b, loc, start.getPending());
    reduce = start;
    reduced = wait.getResults();
  } else {
    auto allReduce = AllReduceOp::create(b, loc, ValueRange(values), axes);
    reduce = allReduce;
    reduced = allReduce.getResults();
  }
  FloatAttr factor = b.getF64FloatAttr(1.0 / static_cast<double>(dp));
  for (auto [value, result] : llvm::zip(values, reduced)) {
    auto mean = ScaleOp::create(b, loc, result, factor);
    for (OpOperand &use : llvm::make_early_inc_range(value.getUses())) {
      Operation *user = use.getOwner();
      if (user == reduce)
        continue;
      Operation *inBlock = mean->getBlock()->findAncestorOpInBlock(*user);
      if (!inBlock || inBlock->isBeforeInBlock(mean))
        return user->emitOpError("uses a gradient before the backward pass "
                                 "has produced all gradients of its bucket");
      use.set(mean);
    }
  }
  return success();
}

struct LMCShardPass : mlir::lmc::impl::LMCShardBase<LMCShardPass> {
  using Base::Base;

  /// The local values of train_step whose dynamic dimensions tp splits (the
  /// sequence, under sequence parallelism), for the report.
  llvm::DenseSet<Value> trainSplit;

  void runOnOperation() override {
    std::string error;
    FailureOr<MeshShape> shape = parseMesh(mesh, error);
    if (failed(shape)) {
      // Located at the module without printing it (the module is large).
      emitError(getOperation().getLoc(), "lmc-shard: bad mesh '")
          << mesh << "': " << error;
      return signalPassFailure();
    }
    if (sequenceParallel && shape->tp <= 1) {
      emitError(getOperation().getLoc(),
                "lmc-shard: sequence-parallel splits the sequence over ")
          << kTensorAxis << " and needs " << kTensorAxis
          << " > 1; the mesh is '" << shape->mesh.str() << "'";
      return signalPassFailure();
    }
    if (zero > 3) {
      emitError(getOperation().getLoc(), "lmc-shard: ZeRO stage ")
          << static_cast<unsigned>(zero) << " does not exist (0, 1, 2 or 3)";
      return signalPassFailure();
    }
    if (dpSync == DpSync::Local && failed(checkLocalSync(*shape)))
      return signalPassFailure();
    for (ModelOp model : getOperation().getOps<ModelOp>())
      if (failed(runOnModel(model, *shape)))
        return signalPassFailure();
  }

  /// dp-sync=local needs replicas (dp > 1) and replicated optimizer state:
  /// ZeRO would shard the state of parameters that differ between replicas.
  LogicalResult checkLocalSync(const MeshShape &shape) {
    Location loc = getOperation().getLoc();
    if (shape.dp < 2)
      return emitError(loc, "lmc-shard: dp-sync=local (lmc compile "
                            "--dp-sync local) needs a mesh with ")
             << kDataAxis << " > 1, not '" << shape.mesh.str()
             << "': without replicas there is nothing to average";
    if (zero != 0)
      return emitError(loc, "lmc-shard: dp-sync=local (lmc compile "
                            "--dp-sync local) cannot be combined with ZeRO "
                            "(zero=")
             << static_cast<unsigned>(zero)
             << "): ZeRO shards the optimizer state over " << kDataAxis
             << ", whose replicas diverge between averagings";
    return success();
  }

  LogicalResult runOnModel(ModelOp model, const MeshShape &shape) {
    auto train = dyn_cast_or_null<func::FuncOp>(
        SymbolTable::lookupSymbolIn(model, "train_step"));
    if (!train)
      return emitError(model.getLoc(), "lmc-shard needs @train_step (run "
                                       "lmc-autodiff and lmc-optimizer first)");

    MLIRContext *ctx = model.getContext();
    Builder builder(ctx);
    // The axes that split the batch: the runtime gives each rank its rows.
    model->setAttr(LMCDialect::BatchAxesAttrHelper::getNameStr(),
                   builder.getStrArrayAttr({kDataAxis}));
    SmallVector<StringAttr> names;
    SmallVector<int64_t> sizes;
    for (const ::lmc::MeshAxis &axis : shape.mesh.axes) {
      names.push_back(builder.getStringAttr(axis.name));
      sizes.push_back(axis.size);
    }
    model->setAttr(LMCDialect::getMeshAttrName(),
                   MeshAttr::get(ctx, names, sizes));
    bool local = dpSync == DpSync::Local;
    if (local)
      model->setAttr(LMCDialect::DpSyncAttrHelper::getNameStr(),
                     builder.getStringAttr(stringify(DpSync::Local)));

    if (shape.tp > 1) {
      auto reference = dyn_cast_or_null<func::FuncOp>(
          SymbolTable::lookupSymbolIn(model, "eval_step"));
      if (!reference)
        reference = train;
      if (failed(planTensorParallel(model, reference, kTensorAxis, shape.tp)))
        return failure();
      // The report compares sequence parallelism with tensor parallelism
      // alone: a copy of train_step partitioned without it.
      if (report && sequenceParallel) {
        auto alone = cast<func::FuncOp>(train->clone());
        PartitionStats stats;
        LogicalResult partitioned =
            partitionFunction(alone, model, kTensorAxis, shape.tp, stats);
        if (succeeded(partitioned))
          tpAlone = measureTp(alone, stats.dynamicSplit, shape);
        alone->erase();
        if (failed(partitioned))
          return failure();
      }
      for (StringRef name : {"train_step", "eval_step", "logits"}) {
        auto func = dyn_cast_or_null<func::FuncOp>(
            SymbolTable::lookupSymbolIn(model, name));
        if (!func)
          continue;
        PartitionStats stats;
        // Sequence parallelism splits the steps' fixed-length sequences,
        // not the logits of a prompt of any length (sampling).
        bool splitSequence = sequenceParallel && name != "logits";
        if (failed(partitionFunction(func, model, kTensorAxis, shape.tp, stats,
                                     splitSequence)))
          return failure();
        if (name == "train_step") {
          numTpAllReduces += stats.allReduces;
          numTpAllGathers += stats.allGathers;
          numTpSlices += stats.slices;
          numTpReduceScatters += stats.reduceScatters;
          trainSplit = std::move(stats.dynamicSplit);
        }
      }
      if (sequenceParallel)
        model->setAttr(LMCDialect::SequenceAxesAttrHelper::getNameStr(),
                       builder.getStrArrayAttr({kTensorAxis}));
    }

    // ZeRO-3: the parameters dp can split live as pieces, gathered for
    // their uses in every function of the step (before the losses are
    // all-reduced below, so that the loss marks the end of the forward).
    llvm::StringMap<int64_t> shardedParams;
    if (zero == 3 && shape.dp > 1) {
      shardedParams = planParameterShards(model, kDataAxis, shape.dp);
      for (StringRef name : {"train_step", "eval_step", "logits"}) {
        auto func = dyn_cast_or_null<func::FuncOp>(
            SymbolTable::lookupSymbolIn(model, name));
        if (!func)
          continue;
        Operation *forwardEnd = nullptr;
        if (func == train) {
          auto ret =
              cast<func::ReturnOp>(train.getBody().front().getTerminator());
          auto extract =
              ret.getNumOperands()
                  ? ret.getOperand(0).getDefiningOp<tensor::ExtractOp>()
                  : nullptr;
          forwardEnd = extract ? extract.getTensor().getDefiningOp() : nullptr;
          if (!forwardEnd || forwardEnd->getBlock() != &train.getBody().front())
            return train.emitOpError("ZeRO-3 expects the loss to be read from "
                                     "a rank-0 tensor computed in the body");
        }
        GatherStats stats;
        if (failed(gatherParameters(func, kDataAxis, shape.dp, shardedParams,
                                    forwardEnd, overlap, stats)))
          return failure();
        if (func == train)
          numParamAllGathers += stats.forwardGathers + stats.backwardGathers;
      }
    }

    // ZeRO-1/2/3: the gradients it reduce-scatters leave the all-reduce.
    llvm::SmallPtrSet<Value, 32> seen;
    if (zero >= 1) {
      ZeroStats stats;
      if (failed(applyZero1(train, model, kDataAxis, shape.dp, overlap,
                            shardedParams, seen, stats)))
        return failure();
      numReduceScatters += stats.reduceScatters;
    }

    // The gradients, in the order the backward pass produces them.
    SmallVector<Value> grads;
    train.walk([&](AdamWOp op) {
      if (seen.insert(op.getGrad()).second)
        grads.push_back(op.getGrad());
    });
    for (Value g : grads)
      if (!g.getDefiningOp() ||
          g.getDefiningOp()->getBlock() != &train.getBody().front())
        return train.emitOpError("lmc-shard expects every gradient to be "
                                 "computed in the body of the step");
    llvm::stable_sort(grads, [](Value a, Value b) {
      return a.getDefiningOp()->isBeforeInBlock(b.getDefiningOp());
    });

    // Buckets of at least bucketBytes, closed in production order.
    SmallVector<SmallVector<Value>> buckets;
    int64_t filled = 0;
    for (Value g : grads) {
      if (buckets.empty() || filled >= bucketBytes) {
        buckets.emplace_back();
        filled = 0;
      }
      buckets.back().push_back(g);
      filled += bytesOf(g);
    }

    // dp-sync=local: train_step keeps the gradients, their norm (tp
    // reduces it as before) and the loss of the replica's own rows.
    if (shape.dp > 1 && !local) {
      OpBuilder b(ctx);
      for (ArrayRef<Value> bucket : buckets) {
        if (failed(reduceMean(b, bucket, shape.dp,
                              bucket.back().getDefiningOp(), overlap)))
          return failure();
        ++numAllReduces;
      }
      // The loss: train_step's first result (a tensor.extract of the loss
      // tensor).
      auto trainReturn =
          cast<func::ReturnOp>(train.getBody().front().getTerminator());
      auto extract =
          trainReturn.getOperand(0).getDefiningOp<tensor::ExtractOp>();
      if (!extract)
        return train.emitOpError("lmc-shard expects the loss to be read "
                                 "from a rank-0 tensor");
      if (failed(reduceLoss(b, extract->getOpOperand(0), shape.dp)))
        return failure();
    }
    // The evaluation loss is the mean over dp in both modes (under local,
    // each replica evaluates its own parameters on its rows).
    if (shape.dp > 1) {
      OpBuilder b(ctx);
      if (auto eval = dyn_cast_or_null<func::FuncOp>(
              SymbolTable::lookupSymbolIn(model, "eval_step"))) {
        auto evalReturn =
            cast<func::ReturnOp>(eval.getBody().front().getTerminator());
        if (failed(reduceLoss(b, evalReturn->getOpOperand(0), shape.dp)))
          return failure();
      }
    }

    if (report) {
      if (reportBatch % shape.dp != 0)
        return emitError(model.getLoc(), "lmc-shard: report-batch ")
               << static_cast<int64_t>(reportBatch) << " is not divisible by "
               << kDataAxis << "=" << shape.dp;
      if (reportSyncEvery < 1)
        return emitError(model.getLoc(), "lmc-shard: report-sync-every ")
               << static_cast<int64_t>(reportSyncEvery)
               << " must be at least 1";
      printReport(model, shape, train, buckets);
    }
    return success();
  }

  /// Replaces the loss read by `use` with its mean over dp.
  LogicalResult reduceLoss(OpBuilder &b, OpOperand &use, int64_t dp) {
    Value loss = use.get();
    Operation *user = use.getOwner();
    b.setInsertionPoint(user);
    auto reduce = AllReduceOp::create(b, user->getLoc(), ValueRange{loss},
                                      b.getStrArrayAttr({kDataAxis}));
    use.set(ScaleOp::create(b, user->getLoc(), reduce.getResult(0),
                            b.getF64FloatAttr(1.0 / static_cast<double>(dp))));
    ++numAllReduces;
    return success();
  }

  /// What the report compares between sequence parallelism and tensor
  /// parallelism alone, per rank at the report's shapes.
  struct TpFigures {
    /// Activations kept for the backward pass: forward values (defined
    /// before the loss gradient) the backward pass reads.
    int64_t kept = 0;
    /// Bytes moved over tp by collectives of activations (tensors with
    /// run-time dimensions) and by the others (parameter gradients,
    /// scalars).
    int64_t activationMoved = 0, otherMoved = 0;
  };
  std::optional<TpFigures> tpAlone;

  TpFigures measureTp(func::FuncOp func, const llvm::DenseSet<Value> &split,
                      const MeshShape &shape) {
    TpFigures figures;
    int64_t rows = reportBatch / shape.dp;
    Block &body = func.getBody().front();
    // The backward pass starts at the loss gradient.
    Operation *boundary = nullptr;
    for (Operation &op : body)
      if (isa<CrossEntropyGradOp, CrossEntropyShardGradOp>(op)) {
        boundary = &op;
        break;
      }
    for (Operation &op : body) {
      if (boundary && !op.isBeforeInBlock(boundary))
        break;
      for (Value v : op.getResults()) {
        auto type = dyn_cast<RankedTensorType>(v.getType());
        if (!type || !boundary)
          continue;
        bool read = llvm::any_of(v.getUsers(), [&](Operation *user) {
          Operation *at = body.findAncestorOpInBlock(*user);
          return at && !at->isBeforeInBlock(boundary);
        });
        if (read)
          figures.kept +=
              reportBytes(type, rows) / (split.contains(v) ? shape.tp : 1);
      }
    }
    func.walk([&](CollectiveOpInterface collective) {
      ArrayAttr axes = collective.getAxes();
      if (axes.size() != 1 ||
          cast<StringAttr>(axes[0]).getValue() != kTensorAxis)
        return;
      CollectiveKind kind = collective.getCollectiveKind();
      ValueRange data = kind == CollectiveKind::all_gather
                            ? collective.getCollectiveOutputs()
                            : collective.getCollectiveInputs();
      for (Value v : data) {
        int64_t moved = (kind == CollectiveKind::all_reduce ? 2 : 1) *
                        (shape.tp - 1) * reportBytes(v.getType(), rows) /
                        shape.tp;
        auto type = dyn_cast<RankedTensorType>(v.getType());
        if (auto pending = dyn_cast<PendingType>(v.getType()))
          type = pending.getValueType();
        (type && !type.hasStaticShape() ? figures.activationMoved
                                        : figures.otherMoved) += moved;
      }
    });
    return figures;
  }

  /// The bytes moved per rank per step over dp by the two modes of
  /// dp-sync: allreduce (the step's gradient all-reduces and its loss;
  /// under ZeRO its reduce-scatters and all-gathers, as the table shows)
  /// and local (one average of this rank's parameters over dp per round of
  /// report-sync-every steps, lmc_dp_average: an all-reduce of paramBytes,
  /// divided by the round's steps). `otherMoved` is what the step moves
  /// over the other axes (tp), the same in both modes; `dpMoved` the step's
  /// own dp traffic (none under local).
  void printSyncComparison(const MeshShape &shape, int64_t paramBytes,
                           int64_t otherMoved, int64_t dpMoved,
                           ArrayRef<SmallVector<Value>> buckets) {
    raw_ostream &os = llvm::outs();
    int64_t dp = shape.dp;
    auto ring = [dp](int64_t payload) { return 2 * (dp - 1) * payload / dp; };
    // Under local, what allreduce's step would move over dp: the same
    // buckets and the loss (one f32).
    int64_t allreduceDp = dpMoved;
    if (dpSync == DpSync::Local) {
      allreduceDp = ring(4);
      for (ArrayRef<Value> bucket : buckets) {
        int64_t payload = 0;
        for (Value g : bucket)
          payload += bytesOf(g);
        allreduceDp += ring(payload);
      }
    }
    int64_t h = reportSyncEvery;
    int64_t round = ring(paramBytes);
    double localDp = static_cast<double>(round) / static_cast<double>(h);
    os << llvm::formatv(
        "dp synchronisation, bytes moved per rank per step over {0} (and in "
        "all, with the {1} bytes over other axes):\n",
        kDataAxis, otherMoved);
    os << llvm::formatv("  {0,-10} {1,-44} {2,14} {3,14}\n", "dp-sync",
                        "what goes over dp", "dp bytes/step", "all bytes/step");
    os << llvm::formatv("  {0,-10} {1,-44} {2,14} {3,14}\n", "allreduce",
                        "gradients and loss, every step", allreduceDp,
                        allreduceDp + otherMoved);
    std::string what = llvm::formatv("parameters ({0} bytes), every {1} "
                                     "steps",
                                     paramBytes, h)
                           .str();
    os << llvm::formatv("  {0,-10} {1,-44} {2,14:F1} {3,14:F1}\n", "local",
                        what, localDp, localDp + otherMoved);
    os << llvm::formatv("  local: {0} bytes moved per rank per round of "
                        "{1} steps (lmc_dp_average, one all-reduce of the "
                        "rank's parameters); {2:F2}x allreduce's dp "
                        "traffic\n",
                        round, h, allreduceDp ? localDp / allreduceDp : 0.0);
  }

  /// Bytes of a tensor type at the report's shapes: a dynamic dimension 0
  /// is this rank's rows, any other dynamic dimension the sequence.
  int64_t reportBytes(Type type, int64_t rows) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (auto pending = dyn_cast<PendingType>(type))
      tensor = pending.getValueType();
    if (!tensor)
      return 0;
    int64_t n = tensor.getElementTypeBitWidth() / 8;
    for (auto [d, size] : llvm::enumerate(tensor.getShape()))
      n *= ShapedType::isDynamic(size) ? (d == 0 ? rows : reportSeq) : size;
    return n;
  }

  void printReport(ModelOp model, const MeshShape &shape, func::FuncOp train,
                   ArrayRef<SmallVector<Value>> buckets) {
    raw_ostream &os = llvm::outs();
    int64_t rows = reportBatch / shape.dp;
    MeshAttr mesh = getMeshInScope(model);
    os << llvm::formatv("lmc-shard report: @{0} on mesh {1} "
                        "({2} ranks), ZeRO {3}, dp-sync {4}\n",
                        model.getSymName(), shape.mesh.str(),
                        shape.mesh.numDevices(), static_cast<unsigned>(zero),
                        stringify(dpSync));
    os << llvm::formatv(
        "collectives per training step at a global batch of {0} ({1} rows "
        "per rank), sequence {2}; bytes per rank. Over P ranks a ring "
        "all-reduce of G bytes moves 2(P-1)/P*G, an all-gather or "
        "reduce-scatter of a whole of G bytes (P-1)/P*G:\n",
        static_cast<int64_t>(reportBatch), rows,
        static_cast<int64_t>(reportSeq));
    os << llvm::formatv("  {0,5} {1,-14} {2,-4} {3,7} {4,14} {5,14}\n", "count",
                        "collective", "axis", "tensors", "payload bytes",
                        "moved bytes");
    // Rows in order of first appearance, equal collectives counted once.
    struct Row {
      std::string kind, axis;
      int64_t tensors, payload, moved, count;
    };
    SmallVector<Row> table;
    train.walk([&](Operation *op) {
      StringRef kind;
      ArrayAttr axes;
      int64_t payload = 0, tensors = 0;
      bool reduce = false;
      auto collective = dyn_cast<CollectiveOpInterface>(op);
      if (!collective)
        return;
      kind = stringifyCollectiveKind(collective.getCollectiveKind());
      axes = collective.getAxes();
      reduce = collective.getCollectiveKind() == CollectiveKind::all_reduce;
      // The payload: what is reduced or scattered, what is gathered.
      ValueRange data =
          collective.getCollectiveKind() == CollectiveKind::all_gather
              ? collective.getCollectiveOutputs()
              : collective.getCollectiveInputs();
      for (Value v : data)
        payload += reportBytes(v.getType(), rows), ++tensors;
      int64_t p = mesh.getGroupSize(axes);
      int64_t moved = (reduce ? 2 : 1) * (p - 1) * payload / p;
      std::string axis;
      for (auto [i, a] : llvm::enumerate(axes.getAsRange<StringAttr>()))
        axis += (i ? "," : "") + a.getValue().str();
      for (Row &row : table)
        if (row.kind == kind && row.axis == axis && row.tensors == tensors &&
            row.payload == payload) {
          ++row.count;
          return;
        }
      table.push_back({kind.str(), axis, tensors, payload, moved, 1});
    });
    int64_t totalPayload = 0, totalMoved = 0, dpMoved = 0;
    for (const Row &row : table) {
      os << llvm::formatv("  {0,5} {1,-14} {2,-4} {3,7} {4,14} {5,14}\n",
                          row.count, row.kind, row.axis, row.tensors,
                          row.payload, row.moved);
      totalPayload += row.count * row.payload;
      totalMoved += row.count * row.moved;
      if (row.axis == kDataAxis)
        dpMoved += row.count * row.moved;
    }
    os << llvm::formatv("  total: {0} payload bytes, {1} bytes moved per "
                        "rank\n",
                        totalPayload, totalMoved);

    // Per parameter, its local bytes (a ZeRO-3 piece included); the
    // gradient a rank keeps past its reduction and the AdamW state: the
    // reduce-scattered piece under ZeRO (lmc.zero_dim, or a ZeRO-3
    // parameter's own piece), else the local gradient.
    int64_t paramBytes = 0, gradBytes = 0, stateBytes = 0;
    int64_t replicatedBytes = 0, replicatedCount = 0;
    for (ParamOp p : model.getParams()) {
      RankedTensorType type = p.getTensorType();
      SmallVector<int64_t> local(type.getShape());
      auto sharding =
          p->getAttrOfType<ShardingAttr>(LMCDialect::getShardingAttrName());
      if (sharding)
        if (auto shape = sharding.getLocalShape(type.getShape(), mesh);
            succeeded(shape))
          local = *shape;
      int64_t bytes = type.getElementTypeBitWidth() / 8;
      for (int64_t size : local)
        bytes *= size;
      paramBytes += bytes;
      bool zeroPiece = p->hasAttr(LMCDialect::ZeroDimAttrHelper::getNameStr());
      int64_t kept = zeroPiece ? bytes / shape.dp : bytes;
      gradBytes += kept;
      stateBytes += 2 * kept;
      bool stage3Piece = sharding && sharding.getPlacement(kDataAxis).isShard();
      if (zero == 3 && shape.dp > 1 && !stage3Piece) {
        replicatedBytes += bytes;
        ++replicatedCount;
      }
    }
    std::string replicated;
    if (zero == 3 && shape.dp > 1)
      replicated = llvm::formatv(" (ZeRO-3 pieces over {0}; {1} bytes in {2} "
                                 "parameters no free dimension of which {0} "
                                 "divides stay replicated over it)",
                                 kDataAxis, replicatedBytes, replicatedCount);
    os << llvm::formatv("parameters per rank:      {0} bytes{1}\n", paramBytes,
                        replicated);
    os << llvm::formatv(
        "gradients per rank:       {0} bytes{1}\n", gradBytes,
        zero && shape.dp > 1
            ? (" (the reduce-scattered pieces over " + kDataAxis +
               "; each full gradient is freed at its reduce-scatter, and "
               "--grad-accum accumulates the pieces)")
                  .str()
            : "");
    os << llvm::formatv("optimizer state per rank: {0} bytes (exp_avg, "
                        "exp_avg_sq{1})\n",
                        stateBytes,
                        zero ? (", sharded over " + kDataAxis).str() : "");
    // ZeRO-3: the gathered parameters of a layer live during its compute,
    // the next layer's gathering meanwhile (one lmc.wait per layer).
    SmallVector<int64_t> layerBytes;
    ArrayAttr dataAxes =
        Builder(model.getContext()).getStrArrayAttr({kDataAxis});
    train.walk([&](WaitOp wait) {
      int64_t bytes = 0;
      for (Value pending : wait.getPending()) {
        auto start = pending.getDefiningOp<AllGatherStartOp>();
        if (!start || start.getAxes() != dataAxes ||
            !isa<BlockArgument>(start.getInput()))
          return;
        bytes += reportBytes(pending.getType(), rows);
      }
      layerBytes.push_back(bytes);
    });
    if (!layerBytes.empty()) {
      int64_t largest = 0, pair = 0;
      for (size_t i = 0; i < layerBytes.size(); ++i) {
        largest = std::max(largest, layerBytes[i]);
        if (i + 1 < layerBytes.size())
          pair = std::max(pair, layerBytes[i] + layerBytes[i + 1]);
      }
      os << llvm::formatv("gathered parameters:      {0} bytes for the "
                          "largest layer, {1} for two consecutive ones (the "
                          "prefetch), {2} layer gathers per step\n",
                          largest, std::max(pair, largest), layerBytes.size());
    }
    // lmc-autodiff's kept bytes, a polynomial in the rows B and the
    // sequence T, at this rank's rows.
    if (auto poly = model->getAttrOfType<DenseI64ArrayAttr>(
            LMCDialect::ActivationBytesAttrHelper::getNameStr())) {
      int64_t total = 0, power = rows;
      for (auto [k, c] : llvm::enumerate(poly.asArrayRef())) {
        if (k == 0) {
          total += c;
          continue;
        }
        total += c * power;
        power *= reportSeq;
      }
      os << llvm::formatv("activations per rank:     {0} bytes kept for the "
                          "backward pass at {1} rows, sequence {2}{3}\n",
                          total, rows, static_cast<int64_t>(reportSeq),
                          shape.tp > 1
                              ? (" (counted before tensor parallelism, which "
                                 "splits the attention and MLP ones over " +
                                 kTensorAxis + ")")
                                    .str()
                              : "");
    }
    if (sequenceParallel && tpAlone) {
      TpFigures sp = measureTp(train, trainSplit, shape);
      os << llvm::formatv(
          "sequence parallelism over {0}={1}: activations kept per rank "
          "{2} bytes (tensor parallelism alone: {3}); bytes moved over {0} "
          "per rank by activation collectives {4} (tensor parallelism alone, "
          "all-reduces: {5}), by others {6} (the all-reduces of norm and "
          "bias gradients, partial over the rank's tokens; alone: {7})\n",
          kTensorAxis, shape.tp, sp.kept, tpAlone->kept, sp.activationMoved,
          tpAlone->activationMoved, sp.otherMoved, tpAlone->otherMoved);
    }
    if (shape.dp > 1)
      printSyncComparison(shape, paramBytes, totalMoved - dpMoved, dpMoved,
                          buckets);
  }
};

} // namespace
