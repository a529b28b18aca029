//===- LMCShardingRules.cpp - Sharding rules of lmc ops -------------------===//
//
// The rule of each op for one mesh axis (ShardingRuleOpInterface in
// LMCInterfaces.td, declared on the op in its .td as its gradient rule is):
// given the placements its operands have, the placements it needs of them
// and gives its results, and, where the local op is not a clone with smaller
// types, how to build it.
//
// Notation in the comments: R replicated, P partial, S(d) shard(d),
// S(d, k) shard(d, blocks = k).
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::lmc;

namespace {

using PL = Placement;

PL R() { return PL::replicated(); }
PL P() { return PL::partial(); }
PL S(int64_t dim, int64_t blocks = 1) { return PL::shard(dim, blocks); }

bool isShardOf(const PL &p, int64_t dim) {
  return p.isShard() && p.getDim() == dim;
}

int64_t rankOf(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type ? type.getRank() : 0;
}

/// The size of dimension `dim` of `v` (dynamic when not static).
int64_t sizeOf(Value v, int64_t dim) {
  return cast<RankedTensorType>(v.getType()).getDimSize(dim);
}

/// True when a static dimension of size `size` splits into `parts` ranks
/// times `blocks` blocks.
bool divides(int64_t size, int64_t parts, int64_t blocks = 1) {
  return !ShapedType::isDynamic(size) && size % (parts * blocks) == 0;
}

/// A rule with the given operand and result placements.
LogicalResult set(ShardingRule &rule, ArrayRef<PL> operands,
                  ArrayRef<PL> results) {
  rule.operands.assign(operands.begin(), operands.end());
  rule.results.assign(results.begin(), results.end());
  return success();
}

void setAll(ShardingRule &rule, size_t operands, PL in, size_t results,
            PL out) {
  rule.operands.assign(operands, in);
  rule.results.assign(results, out);
}

/// Ops whose tensor operands and results all have one shape, computed
/// position by position: all take the first shard placement found among the
/// operands (when `canShard` allows its dimension), or partial when every
/// operand is partial and `linear` (the op is a sum of its operands, or
/// scales one), else replicated. Scalar operands stay replicated.
LogicalResult sameLayout(Operation *op, ArrayRef<PL> in, ShardingRule &rule,
                         bool linear,
                         function_ref<bool(int64_t)> canShard = nullptr) {
  std::optional<PL> target;
  bool allPartial = true;
  for (auto [value, placement] : llvm::zip(op->getOperands(), in)) {
    if (!isa<RankedTensorType>(value.getType()))
      continue;
    // A run-time size (the sequence) splits in one block: the runtime
    // checks it divides.
    int64_t size = placement.isShard() ? sizeOf(value, placement.getDim()) : 0;
    if (placement.isShard() && !target &&
        (!canShard || canShard(placement.getDim())) &&
        ((ShapedType::isDynamic(size) && placement.getBlocks() == 1) ||
         divides(size, 1, placement.getBlocks())))
      target = placement;
    allPartial &= placement.isPartial();
  }
  if (!target)
    target = (allPartial && linear) ? P() : R();
  rule.operands.clear();
  for (Value value : op->getOperands())
    rule.operands.push_back(isa<RankedTensorType>(value.getType()) ? *target
                                                                   : R());
  rule.results.assign(op->getNumResults(), *target);
  return success();
}

bool notLast(Value v, int64_t dim) { return dim != rankOf(v) - 1; }

} // namespace

//===----------------------------------------------------------------------===//
// Rules
//===----------------------------------------------------------------------===//

LogicalResult AddOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                     ShardingRule &r) {
  AddOp op = *this;
  return sameLayout(op, in, r, /*linear=*/true);
}
LogicalResult ScaleOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                       ShardingRule &r) {
  setAll(r, 1, in[0], 1, in[0]);
  return success();
}
LogicalResult ZerosLikeOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                           ShardingRule &r) {
  setAll(r, 1, in[0], 1, in[0]);
  return success();
}
// mul is linear in each operand: P * R is P.
LogicalResult MulOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                     ShardingRule &r) {
  MulOp op = *this;
  if (in[0].isPartial() != in[1].isPartial() &&
      (in[0].isReplicated() || in[1].isReplicated())) {
    r.operands = {in[0], in[1]};
    r.results = {P()};
    return success();
  }
  return sameLayout(op, in, r, /*linear=*/false);
}
LogicalResult GeluOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                      ShardingRule &r) {
  GeluOp op = *this;
  return sameLayout(op, in, r, /*linear=*/false);
}
LogicalResult GeluGradOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                          ShardingRule &r) {
  GeluGradOp op = *this;
  return sameLayout(op, in, r, /*linear=*/false);
}
LogicalResult SiluOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                      ShardingRule &r) {
  return sameLayout(*this, in, r, /*linear=*/false);
}
LogicalResult SiluGradOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                          ShardingRule &r) {
  return sameLayout(*this, in, r, /*linear=*/false);
}
// Softmax and its gradient normalise along the last dimension; the mask
// compares the last two.
LogicalResult SoftmaxOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                         ShardingRule &r) {
  SoftmaxOp op = *this;
  return sameLayout(op, in, r, false,
                    [&](int64_t d) { return notLast(op.getInput(), d); });
}
LogicalResult SoftmaxGradOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                             ShardingRule &r) {
  SoftmaxGradOp op = *this;
  return sameLayout(op, in, r, false,
                    [&](int64_t d) { return notLast(op.getOutput(), d); });
}
LogicalResult CausalMaskOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                            ShardingRule &r) {
  CausalMaskOp op = *this;
  return sameLayout(op, in, r, false,
                    [&](int64_t d) { return d < rankOf(op.getInput()) - 2; });
}

// x + bias along the last dimension: S(last, k) takes the bias as S(0, k),
// a shard of another dimension the whole bias.
LogicalResult BiasAddOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                         ShardingRule &r) {
  BiasAddOp op = *this;
  int64_t last = rankOf(op.getInput()) - 1;
  PL x = in[0].isShard() ? in[0] : R();
  PL bias = R();
  if (isShardOf(x, last))
    bias = S(0, x.getBlocks());
  return set(r, {x, bias}, {x});
}

// Normalisation over the last dimension (layer_norm, rms_norm and their
// gradients): it must be whole; rows may be split.

/// The placement of a norm's rows: the first of `candidates` that splits a
/// dimension of `input` other than the last, else replicated.
static PL normRows(Value input, ArrayRef<PL> candidates) {
  for (PL p : candidates)
    if (p.isShard() && notLast(input, p.getDim()))
      return p;
  return R();
}

/// A norm's gradient (operands input, weight, grad): the rows as the input's
/// or the gradient's; the input gradient in the same placement, the
/// `paramGrads` parameter gradients (sums over rows) partial when rows are
/// split.
static LogicalResult normGradRule(Value input, ArrayRef<PL> in,
                                  unsigned paramGrads, ShardingRule &r) {
  PL x = normRows(input, {in[0], in[2]});
  r.operands = {x, R(), x};
  r.results.assign(1, x);
  r.results.append(paramGrads, x.isShard() ? P() : R());
  return success();
}

LogicalResult LayerNormOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                           ShardingRule &r) {
  PL x = normRows(getInput(), in[0]);
  return set(r, {x, R(), R()}, {x});
}
LogicalResult LayerNormGradOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                               ShardingRule &r) {
  return normGradRule(getInput(), in, /*paramGrads=*/2, r);
}
LogicalResult RMSNormOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                         ShardingRule &r) {
  PL x = normRows(getInput(), in[0]);
  return set(r, {x, R()}, {x});
}
LogicalResult RMSNormGradOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                             ShardingRule &r) {
  return normGradRule(getInput(), in, /*paramGrads=*/1, r);
}

// Rotary embedding of [B, T, C]: a rotation of each head's channels by an
// angle of the position, linear in its input (a partial input stays
// partial). The batch may be split; the channels only in whole heads (every
// block of a rank's channels a multiple of head_dim: the local op is the
// same); the sequence in one block per rank, each rank's rows starting at
// its own position (the local form adds the rank's first row to the
// offset). Any other split is gathered first.
LogicalResult RopeOp::getShardingRule(ArrayRef<PL> in, int64_t parts,
                                      ShardingRule &r) {
  RopeOp op = *this;
  PL x = in[0];
  if (isShardOf(x, 2) && !divides(sizeOf(op.getInput(), 2) / op.getHeadDim(),
                                  parts, x.getBlocks()))
    x = R();
  else if (isShardOf(x, 1) && x.getBlocks() != 1)
    x = R();
  r.operands = {x};
  if (op.getOffset())
    r.operands.push_back(R());
  r.results = {x};
  return success();
}

// [..., M, K] x [K, N] (or batched): a shard of a batch, M or N dimension
// carries to the result; a shard of K on both sides makes the result
// partial; a partial operand times a replicated one stays partial.
LogicalResult MatmulOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                        ShardingRule &r) {
  MatmulOp op = *this;
  int64_t rank = rankOf(op.getLhs());
  bool ta = op.getTransposeA(), tb = op.getTransposeB();
  bool shared = rankOf(op.getRhs()) == 2 && rank > 2;
  int64_t rrank = rankOf(op.getRhs());
  int64_t lhsM = ta ? rank - 1 : rank - 2, lhsK = ta ? rank - 2 : rank - 1;
  int64_t rhsK = tb ? rrank - 1 : rrank - 2, rhsN = tb ? rrank - 2 : rrank - 1;
  PL l = in[0], rh = in[1];
  auto choose = [&](PL a, PL b, PL out) { return set(r, {a, b}, {out}); };
  if (l.isPartial() && rh.isReplicated())
    return choose(P(), R(), P());
  if (rh.isPartial() && l.isReplicated())
    return choose(R(), P(), P());
  if (l.isPartial())
    l = R();
  if (rh.isPartial())
    rh = R();
  // Batch dimensions.
  if (l.isShard() && l.getDim() < rank - 2) {
    if (shared)
      return choose(l, R(), l);
    return choose(l, l, l);
  }
  if (!shared && rh.isShard() && rh.getDim() < rrank - 2 && l.isReplicated())
    return choose(rh, rh, rh);
  // Contraction.
  if (isShardOf(l, lhsK)) {
    PL k = S(rhsK, l.getBlocks());
    if (rh.isReplicated() || rh == k)
      return choose(l, k, P());
  }
  if (isShardOf(rh, rhsK) && l.isReplicated())
    return choose(S(lhsK, rh.getBlocks()), rh, P());
  // Rows of the left, columns of the right. A matrix shared by the batch
  // (a weight) keeps its split columns, the left operand is gathered: under
  // sequence parallelism a column-parallel layer all-gathers its input
  // along the sequence rather than the weight.
  if (shared && isShardOf(rh, rhsN) && isShardOf(l, lhsM))
    return choose(R(), rh, S(rank - 1, rh.getBlocks()));
  // A whole weight reads whole rows too (an LM head the vocabulary does not
  // split, under sequence parallelism): split rows of the left would make
  // the weight's gradient, a contraction over all rows, partial, and the
  // product's reader (the loss) would gather the far larger result.
  if (shared && isShardOf(l, lhsM) && rh.isReplicated())
    return choose(R(), R(), R());
  if (isShardOf(l, lhsM))
    return choose(l, R(), S(rank - 2, l.getBlocks()));
  if (isShardOf(rh, rhsN))
    return choose(R(), rh, S(rank - 1, rh.getBlocks()));
  return choose(R(), R(), R());
}

// Split along the last dimension into n parts: S(last, k) with n | k
// leaves each part S(last, k / n).
LogicalResult SplitOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                       ShardingRule &r) {
  SplitOp op = *this;
  int64_t last = rankOf(op.getInput()) - 1;
  int64_t n = op.getParts();
  PL x = in[0], out = in[0];
  if (isShardOf(x, last)) {
    if (x.getBlocks() % n == 0)
      out = S(last, x.getBlocks() / n);
    else
      x = out = R();
  }
  r.operands = {x};
  r.results.assign(op.getNumResults(), out);
  return success();
}
// The inverse: n inputs S(last, k) make S(last, n * k).
LogicalResult ConcatOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                        ShardingRule &r) {
  ConcatOp op = *this;
  int64_t last = rankOf(op.getResult()) - 1;
  int64_t n = op.getNumOperands();
  PL first = in[0];
  bool same = llvm::all_of(in, [&](PL p) { return p == first; });
  PL x = same ? first : R(), out = x;
  if (isShardOf(x, last))
    out = S(last, n * x.getBlocks());
  r.operands.assign(n, x);
  r.results = {out};
  return success();
}

// [B, T, H*D] <-> [B, H, T, D]: a shard of the channels that splits whole
// heads becomes a shard of the heads.
LogicalResult SplitHeadsOp::getShardingRule(ArrayRef<PL> in, int64_t parts,
                                            ShardingRule &r) {
  SplitHeadsOp op = *this;
  PL x = in[0], out = R();
  if (x.isPartial())
    out = P();
  else if (isShardOf(x, 0))
    out = S(0);
  else if (isShardOf(x, 1))
    out = S(2);
  else if (isShardOf(x, 2) && x.getBlocks() == 1 && op.getHeads() % parts == 0)
    out = S(1);
  else
    x = R();
  return set(r, {x}, {out});
}
LogicalResult MergeHeadsOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                            ShardingRule &r) {
  PL x = in[0], out = R();
  if (x.isPartial())
    out = P();
  else if (isShardOf(x, 0))
    out = S(0);
  else if (isShardOf(x, 1))
    out = S(2);
  else if (isShardOf(x, 2))
    out = S(1);
  else
    x = R();
  return set(r, {x}, {out});
}
/// The placement of attention's [B, T, H*D] queries and [B, T, Hkv*D] keys
/// and values (all placed alike): the common placement of `in` when it
/// splits the batch, or the channels in whole heads (`parts` divides both
/// `heads` and `kvHeads`: each rank keeps whole groups of query heads with
/// the key/value heads they read), else R.
static PL attentionPlacement(ArrayRef<PL> in, int64_t heads, int64_t kvHeads,
                             int64_t parts) {
  if (llvm::all_equal(in) && in[0].isShard() &&
      ((in[0].getDim() == 2 && in[0].getBlocks() == 1 && heads % parts == 0 &&
        kvHeads % parts == 0) ||
       in[0].getDim() == 0))
    return in[0];
  return R();
}
// Attention over [B, T, H*D] operands: split by whole heads or by batch.
LogicalResult CausalAttentionOp::getShardingRule(ArrayRef<PL> in, int64_t parts,
                                                 ShardingRule &r) {
  CausalAttentionOp op = *this;
  PL x = attentionPlacement(in, op.getHeads(), op.getNumKvHeads(), parts);
  setAll(r, 3, x, 1, x);
  return success();
}
/// lse [B, H, T] beside [B, T, H*D] operands placed as `x`.
static PL lsePlacement(const PL &x) {
  if (isShardOf(x, 2))
    return S(1);
  return x;
}
// Like causal_attention; lse is split along H or B with the operands.
LogicalResult FlashAttentionOp::getShardingRule(ArrayRef<PL> in, int64_t parts,
                                                ShardingRule &r) {
  FlashAttentionOp op = *this;
  PL x = attentionPlacement(in, op.getHeads(), op.getNumKvHeads(), parts);
  return set(r, {x, x, x}, {x, lsePlacement(x)});
}
LogicalResult FlashAttentionGradOp::getShardingRule(ArrayRef<PL> in,
                                                    int64_t parts,
                                                    ShardingRule &r) {
  FlashAttentionGradOp op = *this;
  SmallVector<PL> tensors = {in[0], in[1], in[2], in[3], in[5]};
  PL x = attentionPlacement(tensors, op.getHeads(), op.getNumKvHeads(), parts);
  return set(r, {x, x, x, x, lsePlacement(x), x}, {x, x, x});
}

/// The placement of a head repetition's result (or, for its gradient, of
/// its input) from that of its [B, H, T, D] input: every dimension keeps
/// its shard, the heads when `parts` divides the smaller head count
/// (`fewHeads`), so that each rank's key/value heads are those its query
/// heads read; linear, so partial stays partial.
static PL repeatPlacement(const PL &x, int64_t fewHeads, int64_t parts) {
  if (x.isPartial())
    return P();
  if (x.isShard() && (x.getDim() != 1 ||
                      (x.getBlocks() == 1 && !ShapedType::isDynamic(fewHeads) &&
                       fewHeads % parts == 0)))
    return x;
  return R();
}
// [B, Hkv, T, D] -> [B, Hkv * G, T, D].
LogicalResult RepeatHeadsOp::getShardingRule(ArrayRef<PL> in, int64_t parts,
                                             ShardingRule &r) {
  RepeatHeadsOp op = *this;
  PL x = repeatPlacement(in[0], sizeOf(op.getInput(), 1), parts);
  return set(r, {x}, {x});
}
// [B, Hkv * G, T, D] -> [B, Hkv, T, D].
LogicalResult RepeatHeadsGradOp::getShardingRule(ArrayRef<PL> in, int64_t parts,
                                                 ShardingRule &r) {
  RepeatHeadsGradOp op = *this;
  PL x = repeatPlacement(in[0], sizeOf(op.getResult(), 1), parts);
  return set(r, {x}, {x});
}

// [d0, ..., C] <-> [d0 * ..., C].
LogicalResult FlattenOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                         ShardingRule &r) {
  FlattenOp op = *this;
  int64_t last = rankOf(op.getInput()) - 1;
  PL x = in[0], out = in[0];
  if (isShardOf(x, last))
    out = S(1, x.getBlocks());
  else if (x.isShard() && x.getDim() != 0)
    x = out = R();
  return set(r, {x}, {out});
}
LogicalResult UnflattenOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                           ShardingRule &r) {
  UnflattenOp op = *this;
  int64_t last = rankOf(op.getLike()) - 1;
  PL x = in[0], out = in[0];
  if (isShardOf(x, 1))
    out = S(last, x.getBlocks());
  // The result has the type of `like`: it takes the same placement, unless
  // that is partial (a shape reference is never summed).
  return set(r, {x, out.isPartial() ? R() : out}, {out});
}
// Swaps the last two dimensions.
LogicalResult TransposeOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                           ShardingRule &r) {
  TransposeOp op = *this;
  int64_t rank = rankOf(op.getInput());
  PL x = in[0], out = in[0];
  if (isShardOf(x, rank - 1))
    out = S(rank - 2, x.getBlocks());
  else if (isShardOf(x, rank - 2))
    out = S(rank - 1, x.getBlocks());
  return set(r, {x}, {out});
}
// Summing over a sharded dimension leaves partial sums.
LogicalResult ReduceSumOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                           ShardingRule &r) {
  ReduceSumOp op = *this;
  PL x = in[0], out = in[0];
  if (x.isShard()) {
    ArrayRef<int64_t> dims = op.getDims();
    int64_t d = x.getDim();
    if (llvm::is_contained(dims, d))
      out = P();
    else
      out = S(d - llvm::count_if(dims, [&](int64_t e) { return e < d; }),
              x.getBlocks());
  }
  return set(r, {x}, {out});
}
LogicalResult BroadcastOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                           ShardingRule &r) {
  BroadcastOp op = *this;
  PL x = in[0], out = in[0];
  if (x.isShard()) {
    // Result dimension of input dimension d: the d-th one not inserted.
    int64_t d = x.getDim(), seen = -1, resultDim = 0;
    ArrayRef<int64_t> dims = op.getDims();
    for (; resultDim < rankOf(op.getResult()); ++resultDim)
      if (!llvm::is_contained(dims, resultDim) && ++seen == d)
        break;
    out = S(resultDim, x.getBlocks());
  }
  return set(r, {x, out.isPartial() ? R() : out}, {out});
}

// A vocabulary shard of the table: each rank looks up the ids in its rows
// and yields zeros for the others, so the rows sum to the embedding.
LogicalResult EmbeddingOp::getShardingRule(ArrayRef<PL> in, int64_t parts,
                                           ShardingRule &r) {
  PL table = in[0], out = R();
  if (isShardOf(table, 0) && table.getBlocks() == 1)
    out = P();
  else if (isShardOf(table, 1))
    out = S(2, table.getBlocks());
  else
    table = R();
  return set(r, {table, R()}, {out});
}
// The gradient [B, T, C] with the ids [B, T]: a split of the batch or the
// sequence splits the ids alike and leaves partial sums of the table
// gradient; but the table gradient of a vocabulary-split table then needs a
// reduce-scatter of the whole table, so a sequence split (sequence
// parallelism) is gathered instead, as the gradient of a replicated
// embedding output is whole.
LogicalResult EmbeddingGradOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                               ShardingRule &r) {
  // The accumulating form is made after partitioning
  // (lmc-embedding-grad-accumulate): it has no rule of its own.
  if (getAcc())
    return failure();
  PL g = in[0], out = in[0], ids = R();
  if (isShardOf(g, 2)) {
    out = S(1, g.getBlocks());
  } else if (isShardOf(g, 0) && g.getBlocks() == 1) {
    out = P(); // rows of the batch: partial sums of the table gradient
    ids = g;
  } else if (g.isShard()) {
    g = out = R();
  }
  return set(r, {g, ids}, {out});
}
LogicalResult PositionEmbeddingOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                                   ShardingRule &r) {
  PL table = in[0], out = in[0];
  if (isShardOf(table, 1))
    out = S(2, table.getBlocks());
  else if (table.isShard())
    table = out = R();
  return set(r, {table, R()}, {out});
}
LogicalResult PositionEmbeddingGradOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                                       ShardingRule &r) {
  PL g = in[0], out = in[0];
  if (isShardOf(g, 2))
    out = S(1, g.getBlocks());
  else if (isShardOf(g, 0))
    out = P();
  else if (g.isShard())
    g = out = R();
  return set(r, {g}, {out});
}

// Logits split along the vocabulary: a vocabulary-parallel cross-entropy.
LogicalResult CrossEntropyOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                              ShardingRule &r) {
  CrossEntropyOp op = *this;
  int64_t last = rankOf(op.getLogits()) - 1;
  PL logits = isShardOf(in[0], last) && in[0].getBlocks() == 1 ? in[0] : R();
  return set(r, {logits, R()}, {R()});
}
LogicalResult CrossEntropyGradOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                                  ShardingRule &r) {
  CrossEntropyGradOp op = *this;
  int64_t last = rankOf(op.getLogits()) - 1;
  PL logits = isShardOf(in[0], last) && in[0].getBlocks() == 1 ? in[0] : R();
  return set(r, {logits, R(), R()}, {logits});
}

// The update is elementwise: everything in the parameter's placement.
LogicalResult AdamWOp::getShardingRule(ArrayRef<PL> in, int64_t,
                                       ShardingRule &r) {
  AdamWOp op = *this;
  PL p = in[0].isPartial() ? R() : in[0];
  r.operands.assign(op->getNumOperands(), R());
  for (unsigned i = 0; i < 4; ++i)
    r.operands[i] = p;
  r.results.assign(3, p);
  return success();
}

//===----------------------------------------------------------------------===//
// Local forms that are not clones
//===----------------------------------------------------------------------===//

/// `index` * `size`.
static Value offsetOf(PartitionBuilder &pb, int64_t size) {
  OpBuilder &b = pb.builder();
  Location loc = pb.op()->getLoc();
  return arith::MulIOp::create(b, loc, pb.axisIndex(),
                               arith::ConstantIndexOp::create(b, loc, size));
}

FailureOr<SmallVector<Value>> SplitHeadsOp::partition(PartitionBuilder &pb) {
  SplitHeadsOp op = *this;
  if (!isShardOf(pb.rule().results[0], 1))
    return pb.cloneWithLocalTypes();
  Value local = SplitHeadsOp::create(
      pb.builder(), op.getLoc(), pb.operands()[0], op.getHeads() / pb.parts());
  return SmallVector<Value>{local};
}

/// The local `kv_heads` attribute of attention split by heads over `parts`
/// ranks: absent stays absent (as many as the local query heads).
static IntegerAttr localKvHeads(OpBuilder &b, std::optional<uint64_t> kvHeads,
                                int64_t parts) {
  if (!kvHeads)
    return {};
  return b.getI64IntegerAttr(static_cast<int64_t>(*kvHeads) / parts);
}

FailureOr<SmallVector<Value>>
CausalAttentionOp::partition(PartitionBuilder &pb) {
  CausalAttentionOp op = *this;
  if (!isShardOf(pb.rule().results[0], 2))
    return pb.cloneWithLocalTypes();
  ValueRange x = pb.operands();
  OpBuilder &b = pb.builder();
  Value local = CausalAttentionOp::create(
      b, op.getLoc(), x[0].getType(), x[0], x[1], x[2],
      b.getI64IntegerAttr(op.getHeads() / pb.parts()),
      localKvHeads(b, op.getKvHeads(), pb.parts()));
  return SmallVector<Value>{local};
}

FailureOr<SmallVector<Value>>
FlashAttentionOp::partition(PartitionBuilder &pb) {
  FlashAttentionOp op = *this;
  if (!isShardOf(pb.rule().results[0], 2))
    return pb.cloneWithLocalTypes();
  ValueRange x = pb.operands();
  auto local = FlashAttentionOp::create(pb.builder(), op.getLoc(), x[0], x[1],
                                        x[2], op.getHeads() / pb.parts(),
                                        op.getNumKvHeads() / pb.parts());
  return SmallVector<Value>{local.getResult(), local.getLse()};
}

FailureOr<SmallVector<Value>>
FlashAttentionGradOp::partition(PartitionBuilder &pb) {
  FlashAttentionGradOp op = *this;
  if (!isShardOf(pb.rule().results[0], 2))
    return pb.cloneWithLocalTypes();
  ValueRange x = pb.operands();
  OpBuilder &b = pb.builder();
  auto local = FlashAttentionGradOp::create(
      b, op.getLoc(), x[0].getType(), x[1].getType(), x[1].getType(), x[0],
      x[1], x[2], x[3], x[4], x[5],
      b.getI64IntegerAttr(op.getHeads() / pb.parts()),
      localKvHeads(b, op.getKvHeads(), pb.parts()));
  return SmallVector<Value>(local->getResults());
}

FailureOr<SmallVector<Value>> EmbeddingOp::partition(PartitionBuilder &pb) {
  EmbeddingOp op = *this;
  if (!pb.rule().results[0].isPartial())
    return pb.cloneWithLocalTypes();
  ValueRange x = pb.operands();
  int64_t rows = cast<RankedTensorType>(x[0].getType()).getDimSize(0);
  Value local = EmbeddingOp::create(pb.builder(), op.getLoc(), x[0], x[1],
                                    offsetOf(pb, rows));
  return SmallVector<Value>{local};
}

/// The log-sum-exp of each row of vocabulary-sharded logits, and the mean
/// loss: local statistics, gathered over the axis and combined. Computed
/// once per logits value and reused by the gradient.
static std::pair<Value, Value> shardedLogSumExp(PartitionBuilder &pb,
                                                Value logits, Value targets,
                                                IntegerAttr classes) {
  Value &loss = pb.memo("cross_entropy.loss", logits);
  Value &lse = pb.memo("cross_entropy.lse", logits);
  if (lse)
    return {loss, lse};
  OpBuilder &b = pb.builder();
  Location loc = pb.op()->getLoc();
  auto type = cast<RankedTensorType>(logits.getType());
  int64_t last = type.getRank() - 1;
  // `classes` counts GLOBAL columns: each block masks by its offset.
  Value stats = CrossEntropyStatsOp::create(
      b, loc, logits, targets, offsetOf(pb, type.getDimSize(last)), classes);
  auto statsType = cast<RankedTensorType>(stats.getType());
  SmallVector<int64_t> gatheredShape(statsType.getShape());
  gatheredShape[last] *= pb.parts();
  Value gathered = AllGatherOp::create(
      b, loc, RankedTensorType::get(gatheredShape, statsType.getElementType()),
      stats, b.getStrArrayAttr({pb.axis()}), b.getI64IntegerAttr(last));
  auto combine = CrossEntropyCombineOp::create(b, loc, gathered);
  loss = combine.getLoss();
  lse = combine.getLse();
  return {loss, lse};
}

FailureOr<SmallVector<Value>> CrossEntropyOp::partition(PartitionBuilder &pb) {
  if (!pb.rule().operands[0].isShard())
    return pb.cloneWithLocalTypes();
  ValueRange x = pb.operands();
  return SmallVector<Value>{
      shardedLogSumExp(pb, x[0], x[1], getClassesAttr()).first};
}

FailureOr<SmallVector<Value>>
CrossEntropyGradOp::partition(PartitionBuilder &pb) {
  CrossEntropyGradOp op = *this;
  if (!pb.rule().operands[0].isShard())
    return pb.cloneWithLocalTypes();
  ValueRange x = pb.operands();
  Value lse = shardedLogSumExp(pb, x[0], x[1], op.getClassesAttr()).second;
  int64_t vocab = cast<RankedTensorType>(x[0].getType()).getShape().back();
  Value local = CrossEntropyShardGradOp::create(
      pb.builder(), op.getLoc(), x[0], x[1], x[2], lse, offsetOf(pb, vocab),
      op.getClassesAttr());
  return SmallVector<Value>{local};
}

FailureOr<SmallVector<Value>> RopeOp::partition(PartitionBuilder &pb) {
  RopeOp op = *this;
  if (!isShardOf(pb.rule().operands[0], 1))
    return pb.cloneWithLocalTypes();
  // Rows of the sequence split over the ranks: this rank's first row is at
  // position offset + index * (local rows).
  OpBuilder &b = pb.builder();
  Location loc = op.getLoc();
  Value x = pb.operands()[0];
  Value rows = tensor::DimOp::create(b, loc, x, 1);
  Value first = arith::MulIOp::create(b, loc, pb.axisIndex(), rows);
  if (op.getOffset())
    first = arith::AddIOp::create(b, loc, pb.operands()[1], first);
  Value local = RopeOp::create(b, loc, x, first, op.getHeadDimAttr(),
                               op.getThetaAttr(), op.getInverseAttr());
  return SmallVector<Value>{local};
}
