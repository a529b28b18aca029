//===- BucketCollectives.cpp - Bucket the asynchronous gathers and scatters ===//
//
// lmc-bucket-collectives: merges the per-tensor lmc.reduce_scatter_start and
// lmc.all_gather_start ops of a block (ZeRO's gradient reduce-scatters and
// parameter all-gathers) into buckets of at least `bucket-bytes` bytes. Each
// bucket is one collective along dimension 0 of a packed [G, S] tensor (G
// ranks in the group) whose row r holds, one after the other, the row-major
// pieces that rank r owns of every tensor of the bucket: a reduce-scatter of
// it leaves each rank its pieces, an all-gather of the pieces gives every
// rank every piece. See Passes.td for the rules and the IR.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCAttrs.h"
#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#define DEBUG_TYPE "lmc-bucket-collectives"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCBUCKETCOLLECTIVES
#include "lmc/Transforms/Sharding/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// One asynchronous gather or scatter that may join a bucket.
struct Member {
  Operation *start;
  Value input, pending;
  /// The whole tensor (the scatter's operand, the gather's result) and the
  /// rank's piece of it.
  RankedTensorType whole, piece;
  int64_t dim;
  int64_t bytes;
};

struct Bucket {
  bool gather;
  ArrayAttr axes;
  SmallVector<Member> members;
  int64_t bytes = 0;
  /// The last op of the block that defines an input (null: all are block
  /// arguments), and the earliest wait of a member.
  Operation *lastDef = nullptr;
  Operation *firstWait = nullptr;
};

/// The later of two ops of one block (null counts as the block's start).
Operation *later(Operation *a, Operation *b) {
  if (!a)
    return b;
  if (!b)
    return a;
  return a->isBeforeInBlock(b) ? b : a;
}

Operation *earlier(Operation *a, Operation *b) {
  if (!a)
    return b;
  if (!b)
    return a;
  return a->isBeforeInBlock(b) ? a : b;
}

/// The lmc.wait of a start's pending result, when it is the one use and in
/// the start's block.
WaitOp waitOf(Value pending) {
  if (!pending.hasOneUse())
    return nullptr;
  auto wait = dyn_cast<WaitOp>(*pending.getUsers().begin());
  if (!wait || wait->getBlock() != pending.getParentBlock())
    return nullptr;
  return wait;
}

/// The op of `block` that defines `value` (null for a value defined before
/// the block's first op).
Operation *defIn(Block *block, Value value) {
  Operation *def = value.getDefiningOp();
  return def ? block->findAncestorOpInBlock(*def) : nullptr;
}

/// `op` as a bucket member, if it is a static float32 gather or scatter
/// started asynchronously and waited for in its block.
std::optional<Member> asMember(Operation *op) {
  Member m;
  m.start = op;
  bool gather;
  if (auto rs = dyn_cast<ReduceScatterStartOp>(op)) {
    m.input = rs.getInput();
    m.pending = rs.getPending();
    m.dim = rs.getDim();
    gather = false;
  } else if (auto ag = dyn_cast<AllGatherStartOp>(op)) {
    m.input = ag.getInput();
    m.pending = ag.getPending();
    m.dim = ag.getDim();
    gather = true;
  } else {
    return std::nullopt;
  }
  auto in = cast<RankedTensorType>(m.input.getType());
  auto out = cast<PendingType>(m.pending.getType()).getValueType();
  if (!in.getElementType().isF32() || !in.hasStaticShape() ||
      !out.hasStaticShape() || !waitOf(m.pending))
    return std::nullopt;
  m.whole = gather ? out : in;
  m.piece = gather ? in : out;
  m.bytes = 4 * m.whole.getNumElements();
  return m;
}

/// The product of the sizes of `type` before `dim`: 1 when each rank's
/// piece is one contiguous run of the whole.
int64_t leading(RankedTensorType type, int64_t dim) {
  int64_t n = 1;
  for (int64_t d = 0; d < dim; ++d)
    n *= type.getDimSize(d);
  return n;
}

/// `value` (static shape) as a 1-d tensor.
Value flatten(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getRank() == 1)
    return value;
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({type.getNumElements()}, b.getF32Type()),
      value, ArrayRef<ReassociationIndices>{all});
}

/// The 1-d static `value` as a tensor of `type`.
Value unflatten(OpBuilder &b, Location loc, Value value,
                RankedTensorType type) {
  if (type.getRank() == 1)
    return value;
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  return tensor::ExpandShapeOp::create(b, loc, type, value,
                                       ArrayRef<ReassociationIndices>{all});
}

/// Static offsets/sizes/strides as attributes.
SmallVector<OpFoldResult> indices(OpBuilder &b, ArrayRef<int64_t> values) {
  SmallVector<OpFoldResult> r;
  for (int64_t v : values)
    r.push_back(b.getIndexAttr(v));
  return r;
}

/// The slice of `whole` along `dim` that rank `r` owns.
Value pieceOf(OpBuilder &b, Location loc, Value whole, RankedTensorType piece,
              int64_t dim, int64_t r) {
  SmallVector<int64_t> offsets(piece.getRank(), 0), strides(piece.getRank(), 1);
  offsets[dim] = r * piece.getDimSize(dim);
  return tensor::ExtractSliceOp::create(b, loc, piece, whole,
                                        indices(b, offsets),
                                        indices(b, piece.getShape()),
                                        indices(b, strides));
}

/// Inserts the 1-d `row` (m elements) into the [R, S] `packed` at row `r`,
/// column `column`.
Value insertRow(OpBuilder &b, Location loc, Value row, Value packed, int64_t r,
                int64_t column) {
  int64_t m = cast<RankedTensorType>(row.getType()).getDimSize(0);
  return tensor::InsertSliceOp::create(b, loc, row, packed,
                                       indices(b, {r, column}),
                                       indices(b, {1, m}), indices(b, {1, 1}));
}

/// Row `r` of the [R, S] `packed`, columns [column, column + m), as 1-d.
Value extractRow(OpBuilder &b, Location loc, Value packed, int64_t r,
                 int64_t column, int64_t m) {
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({m}, b.getF32Type()), packed,
      indices(b, {r, column}), indices(b, {1, m}), indices(b, {1, 1}));
}

struct LMCBucketCollectivesPass
    : mlir::lmc::impl::LMCBucketCollectivesBase<LMCBucketCollectivesPass> {
  using Base::Base;

  /// Per function, collective kind and group, for the report: per-tensor
  /// collectives before, and collectives after.
  struct Tally {
    std::string function, kind, axis;
    int64_t before = 0, after = 0, bytes = 0;
  };
  SmallVector<Tally> tallies;

  Tally &tallyOf(StringRef function, StringRef kind, StringRef axis) {
    for (Tally &t : tallies)
      if (t.function == function && t.kind == kind && t.axis == axis)
        return t;
    tallies.push_back({function.str(), kind.str(), axis.str()});
    return tallies.back();
  }

  void runOnOperation() override {
    if (bucketBytes < 0) {
      getOperation()->emitError("lmc-bucket-collectives: bucket-bytes must "
                                "not be negative, got ")
          << static_cast<int64_t>(bucketBytes);
      return signalPassFailure();
    }
    tallies.clear();
    SmallVector<Block *> blocks;
    getOperation()->walk([&](Operation *op) {
      if (!isa<ReduceScatterStartOp, AllGatherStartOp>(op))
        return;
      if (!llvm::is_contained(blocks, op->getBlock()))
        blocks.push_back(op->getBlock());
    });
    for (Block *block : blocks)
      if (failed(runOnBlock(block)))
        return signalPassFailure();
    // Programs without gathers or scatters to bucket (no ZeRO) print
    // nothing.
    if (report && !tallies.empty())
      printReport();
  }

  LogicalResult runOnBlock(Block *block) {
    // Buckets, formed in program order per kind and group.
    SmallVector<Bucket> closed;
    llvm::MapVector<std::pair<unsigned, Attribute>, Bucket> open;
    auto close = [&](std::pair<unsigned, Attribute> key) {
      auto it = open.find(key);
      if (it == open.end())
        return;
      closed.push_back(std::move(it->second));
      open.erase(it);
    };
    for (Operation &op : *block) {
      std::optional<Member> m = asMember(&op);
      if (!m)
        continue;
      bool gather = isa<AllGatherStartOp>(op);
      auto axes = cast<CollectiveOpInterface>(op).getAxes();
      std::pair<unsigned, Attribute> key{gather ? 1u : 0u, axes};
      Operation *def = defIn(block, m->input);
      Operation *wait = waitOf(m->pending);
      if (auto it = open.find(key); it != open.end()) {
        // The bucket starts after its first member's start and its last
        // input, and is waited for before its first member's wait. A
        // member started after that wait starts a new bucket: a bucket
        // never reaches over a wait of its own, so that an input computed
        // from a waited result is not hoisted above it, and ZeRO-3's
        // layer-by-layer gathers (each layer's started after the previous
        // layer's wait) stay one bucket per layer, prefetched as placed.
        Bucket &b = it->second;
        Operation *anchor =
            later(b.members.front().start, later(b.lastDef, def));
        if (!op.isBeforeInBlock(b.firstWait) ||
            !anchor->isBeforeInBlock(earlier(b.firstWait, wait)))
          close(key);
      }
      Bucket &b = open[key];
      b.gather = gather;
      b.axes = axes;
      b.members.push_back(*m);
      b.bytes += m->bytes;
      b.lastDef = later(b.lastDef, def);
      b.firstWait = earlier(b.firstWait, wait);
      if (bucketBytes == 0 || b.bytes >= bucketBytes)
        close(key);
    }
    while (!open.empty())
      close(open.front().first);

    Operation *parent = block->getParentOp();
    auto fn = isa<func::FuncOp>(parent) ? cast<func::FuncOp>(parent)
                                        : parent->getParentOfType<func::FuncOp>();
    StringRef fnName = fn ? fn.getSymName() : StringRef("<block>");
    for (Bucket &bucket : closed) {
      std::string axis;
      for (auto [i, a] : llvm::enumerate(bucket.axes.getAsRange<StringAttr>()))
        axis += (i ? "," : "") + a.getValue().str();
      StringRef kind = bucket.gather ? "all_gather" : "reduce_scatter";
      Tally &tally = tallyOf(fnName, kind, axis);
      tally.before += bucket.members.size();
      tally.after += 1;
      tally.bytes += bucket.bytes;
      if (bucket.members.size() < 2)
        continue;
      FailureOr<bool> merged = rewrite(block, bucket);
      if (failed(merged))
        return failure();
      if (!*merged) {
        tally.after += bucket.members.size() - 1;
        continue;
      }
      ++numBuckets;
      numMerged += bucket.members.size();
    }
    return success();
  }

  /// Replaces the members of `bucket` by one packed collective.
  /// Returns whether it did (false: the bucket no longer fits, after the
  /// rewriting of an earlier one).
  FailureOr<bool> rewrite(Block *block, Bucket &bucket) {
    Operation *first = bucket.members.front().start;
    // Earlier buckets may have replaced an input or narrowed a wait: take
    // both afresh, and leave the bucket alone if it no longer fits.
    bucket.lastDef = bucket.firstWait = nullptr;
    for (Member &m : bucket.members) {
      m.input = m.start->getOperand(0);
      bucket.lastDef = later(bucket.lastDef, defIn(block, m.input));
      bucket.firstWait = earlier(bucket.firstWait, waitOf(m.pending));
    }
    if (!bucket.firstWait ||
        !later(first, bucket.lastDef)->isBeforeInBlock(bucket.firstWait))
      return false;
    auto collective = cast<CollectiveOpInterface>(first);
    MeshAttr mesh = collective.getMesh();
    if (!mesh)
      return first->emitOpError("has no mesh in scope");
    int64_t group = collective.getGroupSize();
    Location loc = first->getLoc();
    Type f32 = Float32Type::get(first->getContext());
    SmallVector<int64_t> columns;
    int64_t width = 0;
    for (Member &m : bucket.members) {
      columns.push_back(width);
      width += m.piece.getNumElements();
    }

    // Pack and start right after the later of the first start and the
    // last input.
    OpBuilder b(first->getContext());
    Operation *anchor = later(first, bucket.lastDef);
    b.setInsertionPointAfter(anchor);
    Value pending;
    auto packedType = [&](int64_t rows) {
      return RankedTensorType::get({rows, width}, f32);
    };
    if (!bucket.gather) {
      Value packed = tensor::EmptyOp::create(b, loc, packedType(group).getShape(), f32);
      for (auto [m, column] : llvm::zip(bucket.members, columns)) {
        int64_t n = m.piece.getNumElements();
        if (leading(m.whole, m.dim) == 1) {
          // Rank r's piece is the r-th run of n elements of the whole.
          Value rows = tensor::ExpandShapeOp::create(
              b, loc, RankedTensorType::get({group, n}, f32),
              flatten(b, loc, m.input),
              ArrayRef<ReassociationIndices>{{0, 1}});
          packed = tensor::InsertSliceOp::create(
              b, loc, rows, packed, indices(b, {0, column}),
              indices(b, {group, n}), indices(b, {1, 1}));
          continue;
        }
        for (int64_t r = 0; r < group; ++r)
          packed = insertRow(
              b, loc,
              flatten(b, loc, pieceOf(b, loc, m.input, m.piece, m.dim, r)),
              packed, r, column);
      }
      pending = ReduceScatterStartOp::create(
          b, loc, PendingType::get(packedType(1)), packed, bucket.axes,
          b.getI64IntegerAttr(0));
    } else {
      Value packed = tensor::EmptyOp::create(b, loc, packedType(1).getShape(), f32);
      for (auto [m, column] : llvm::zip(bucket.members, columns))
        packed = insertRow(b, loc, flatten(b, loc, m.input), packed, 0, column);
      pending = AllGatherStartOp::create(
          b, loc, PendingType::get(packedType(group)), packed, bucket.axes,
          b.getI64IntegerAttr(0));
    }

    // Wait before the first member's wait, and unpack.
    b.setInsertionPoint(bucket.firstWait);
    Value done = WaitOp::create(b, loc, TypeRange{bucket.gather
                                                      ? packedType(group)
                                                      : packedType(1)},
                                ValueRange{pending})
                     .getResult(0);
    SmallVector<Value> results;
    for (auto [m, column] : llvm::zip(bucket.members, columns)) {
      int64_t n = m.piece.getNumElements();
      if (!bucket.gather) {
        results.push_back(
            unflatten(b, loc, extractRow(b, loc, done, 0, column, n), m.piece));
        continue;
      }
      if (leading(m.whole, m.dim) == 1) {
        Value rows = tensor::ExtractSliceOp::create(
            b, loc, RankedTensorType::get({group, n}, f32), done,
            indices(b, {0, column}), indices(b, {group, n}),
            indices(b, {1, 1}));
        Value flat = tensor::CollapseShapeOp::create(
            b, loc, RankedTensorType::get({group * n}, f32), rows,
            ArrayRef<ReassociationIndices>{{0, 1}});
        results.push_back(unflatten(b, loc, flat, m.whole));
        continue;
      }
      Value whole = tensor::EmptyOp::create(b, loc, m.whole.getShape(), f32);
      SmallVector<int64_t> offsets(m.whole.getRank(), 0),
          strides(m.whole.getRank(), 1);
      for (int64_t r = 0; r < group; ++r) {
        offsets[m.dim] = r * m.piece.getDimSize(m.dim);
        Value piece =
            unflatten(b, loc, extractRow(b, loc, done, r, column, n), m.piece);
        whole = tensor::InsertSliceOp::create(
            b, loc, piece, whole, indices(b, offsets),
            indices(b, m.piece.getShape()), indices(b, strides));
      }
      results.push_back(whole);
    }

    // Each member's wait loses its operand; its result is the unpacked one.
    for (auto [m, result] : llvm::zip(bucket.members, results)) {
      WaitOp wait = waitOf(m.pending);
      unsigned index = 0;
      for (OpOperand &use : wait->getOpOperands())
        if (use.get() == m.pending)
          index = use.getOperandNumber();
      wait.getResult(index).replaceAllUsesWith(result);
      SmallVector<Value> rest;
      SmallVector<Type> restTypes;
      SmallVector<Value> oldResults;
      for (auto [i, operand] : llvm::enumerate(wait.getPending()))
        if (i != index) {
          rest.push_back(operand);
          restTypes.push_back(wait.getResult(i).getType());
          oldResults.push_back(wait.getResult(i));
        }
      if (!rest.empty()) {
        b.setInsertionPoint(wait);
        auto narrowed = WaitOp::create(b, wait.getLoc(), restTypes, rest);
        for (auto [old, now] : llvm::zip(oldResults, narrowed.getResults()))
          old.replaceAllUsesWith(now);
      }
      wait.erase();
      m.start->erase();
    }
    return true;
  }

  void printReport() {
    raw_ostream &os = llvm::outs();
    os << llvm::formatv("lmc-bucket-collectives report: buckets of at least "
                        "{0} bytes ({1})\n",
                        static_cast<int64_t>(bucketBytes),
                        bucketBytes == 0 ? "0: one collective per tensor"
                                         : "tensors merged in program order");
    os << llvm::formatv("  {0,-12} {1,-14} {2,-4} {3,8} {4,8} {5,14}\n",
                        "function", "collective", "axis", "tensors",
                        "buckets", "payload bytes");
    for (const Tally &t : tallies)
      os << llvm::formatv("  {0,-12} {1,-14} {2,-4} {3,8} {4,8} {5,14}\n",
                          t.function, t.kind, t.axis, t.before, t.after,
                          t.bytes);
  }
};

} // namespace
