//===- FuseKernelLoops.cpp - One loop nest per fusion-group kernel --------===//
//
// lmc-fuse-kernel-loops: the CPU lowering of a fusion group. After
// convert-lmc-to-linalg, the kernel function of a group (lmc-outline-kernels
// marks it with lmc.fusion_group) holds one or more linalg.generic ops per
// lmc op. This pass makes them one loop nest:
//
// 1. common subexpressions go (cross_entropy and its gradient compute the
//    same row maximum and sum of exponentials);
// 2. upstream elementwise fusion merges an elementwise producer into its
//    consumer when it has one (bias add into the residual add, scale into
//    the causal mask, the LayerNorm input gradient into the residual
//    gradient sum);
// 3. the remaining generics, which share the leading "row" dimensions of
//    the group (batch and sequence; batch, head and query for attention
//    scores; rows of a parameter), go into one scf.forall over blocks of
//    rows. Each generic that produces a result of the group is tiled to the
//    block (TilingInterface); its producers are fused into the loop at the
//    slices the block reads (upstream scf::tileAndFuseProducerOfSlice).
//
// Upstream tile-and-fuse handles one consumer and no reduction across the
// tiled dimensions. A group has several results, and some are sums over
// the rows (the bias and LayerNorm parameter gradients, the loss, the
// squared gradient norm); those are written here directly: each block
// computes its partial sum into its own slot of a partials tensor, and a
// generic after the loop adds the partials in block order. The block size
// is fixed (`rows-per-block`), so the order of every sum, and therefore the
// result, does not depend on the number of threads. The additions of the
// sums inside the loop are marked reassociable, so that LLVM vectorises
// them (allowSumReassociation); their order is then fixed by the code.
//
// Generics that read no row dimension (scalars before and after the loop)
// stay outside it. A group whose generics do not share one row space (the
// AdamW update of all parameters, one generic per parameter) keeps one loop
// nest per generic, in one kernel.
//
//===----------------------------------------------------------------------===//

#include "lmc/Dialect/LMC/IR/LMCOps.h"
#include "lmc/Transforms/Passes.h"

#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/EquivalenceClasses.h"
#include "llvm/ADT/SetVector.h"

#define DEBUG_TYPE "lmc-fuse-kernel-loops"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCFUSEKERNELLOOPS
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

using utils::IteratorType;

/// How a generic takes part in the row loop of rank `rows`.
enum class Placement {
  Outside, // reads no row dimension: before or after the loop
  Row,     // parallel over the rows: tiled to a block of rows
  RowSum,  // a sum over the rows: partial sums per block, added after
  Unknown, // anything else: the group cannot be one loop
};

/// True when `map` reads the rows as its leading results, in order, and
/// no row dimension elsewhere.
bool isRowIndexed(AffineMap map, unsigned rows) {
  if (map.getNumResults() < rows)
    return false;
  for (unsigned k = 0; k < map.getNumResults(); ++k) {
    AffineExpr e = map.getResult(k);
    if (k < rows) {
      if (e != getAffineDimExpr(k, map.getContext()))
        return false;
      continue;
    }
    for (unsigned d = 0; d < rows; ++d)
      if (e.isFunctionOfDim(d))
        return false;
  }
  return true;
}

/// True when `map` reads no row dimension (a bias, a LayerNorm weight).
bool isRowInvariant(AffineMap map, unsigned rows) {
  for (unsigned d = 0; d < rows && d < map.getNumDims(); ++d)
    if (map.isFunctionOfDim(d))
      return false;
  return true;
}

/// True when the body yields `out + x` (or `x + out`) for every output and
/// reads no output otherwise: partial sums can be added afterwards.
bool isSumOverOutputs(linalg::GenericOp op) {
  Block *body = op.getBody();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  for (OpOperand &init : op.getDpsInitsMutable()) {
    BlockArgument acc = op.getMatchingBlockArgument(&init);
    Value yielded =
        yield.getOperand(init.getOperandNumber() - op.getNumDpsInputs());
    auto add = yielded.getDefiningOp<arith::AddFOp>();
    if (!add || add->getBlock() != body ||
        (add.getLhs() != acc && add.getRhs() != acc))
      return false;
    if (!acc.hasOneUse())
      return false;
  }
  return true;
}

/// True when every loop of `op` is parallel and every operand is read
/// through a projected permutation (an element, or a broadcast one: a bias).
bool isElementwise(linalg::GenericOp op) {
  return op.getNumReductionLoops() == 0 &&
         llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
           return map.isProjectedPermutation();
         });
}

/// True when `v` is a float tensor filled with zeros (a sum's initial
/// value as convert-lmc-to-linalg writes it).
bool isZeroFill(Value v) {
  auto fill = v.getDefiningOp<linalg::FillOp>();
  return fill && fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>() &&
         matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

/// For a sum of every element of one float32 tensor into a float32 scalar
/// that starts at zero (`out += x`, or `out += x * x`: a squared norm), the
/// runtime's sum kernel can compute it: whether it squares. Every loop is a
/// reduction and the input is read through a permutation of them, so each
/// element is read once and the order of the sum is free.
std::optional<bool> runtimeSumKind(linalg::GenericOp op) {
  if (op.getNumParallelLoops() != 0 || op.getNumDpsInputs() != 1 ||
      op.getNumDpsInits() != 1 || !isSumOverOutputs(op) ||
      !isZeroFill(op.getDpsInits()[0]))
    return std::nullopt;
  auto out = dyn_cast<RankedTensorType>(op.getDpsInits()[0].getType());
  auto in = dyn_cast<RankedTensorType>(op.getDpsInputs()[0].getType());
  if (!out || !in || out.getRank() != 0 || !out.getElementType().isF32() ||
      !in.getElementType().isF32() || in.getRank() == 0 ||
      !op.getMatchingIndexingMap(op.getDpsInputOperand(0)).isPermutation())
    return std::nullopt;
  Block *body = op.getBody();
  BlockArgument x = body->getArgument(0);
  auto add = cast<arith::AddFOp>(cast<linalg::YieldOp>(body->getTerminator())
                                     .getOperand(0)
                                     .getDefiningOp());
  Value term =
      add.getLhs() == body->getArgument(1) ? add.getRhs() : add.getLhs();
  if (term == x && body->getOperations().size() == 2)
    return false;
  auto mul = term.getDefiningOp<arith::MulFOp>();
  if (mul && mul->getBlock() == body && mul.getLhs() == x &&
      mul.getRhs() == x && body->getOperations().size() == 3)
    return true;
  return std::nullopt;
}

/// Marks `op` as the runtime's sum kernel's (lmc.library_call, read by
/// convert-lmc-to-runtime).
void markRuntimeSum(linalg::GenericOp op, bool square) {
  Builder b(op.getContext());
  op->setAttr(
      LMCDialect::LibraryCallAttrHelper::getNameStr(),
      b.getDictionaryAttr({b.getNamedAttr("kernel", b.getStringAttr("sum")),
                           b.getNamedAttr("square", b.getBoolAttr(square))}));
}

Placement placementOf(linalg::GenericOp op, unsigned rows) {
  SmallVector<IteratorType> iters = op.getIteratorTypesArray();
  // Fewer loops than row dimensions: not over the rows (a bias, a scalar).
  if (iters.size() < rows)
    return Placement::Outside;
  bool readsRows = false;
  for (OpOperand &operand : op->getOpOperands())
    readsRows |= !isRowInvariant(op.getMatchingIndexingMap(&operand), rows);
  if (!readsRows)
    return Placement::Outside;
  bool parallelRows =
      llvm::all_of(ArrayRef(iters).take_front(rows),
                   [](auto t) { return t == IteratorType::parallel; });
  bool reducedRows = llvm::all_of(ArrayRef(iters).take_front(rows), [](auto t) {
    return t == IteratorType::reduction;
  });
  // Inputs read by row or not at all; with every dimension a row
  // dimension (elements-as-rows), also broadcast along some of them.
  bool allRows = iters.size() == rows && isElementwise(op);
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!isRowIndexed(map, rows) && !isRowInvariant(map, rows) && !allRows)
      return Placement::Unknown;
    // An input read through an expression of an inner loop (a partner
    // channel in the same head, c floordiv D * D + (c + D/2) mod D) has no
    // slice that tiling computes right: upstream takes the whole inner
    // dimension as tiled and sizes the slice from the expression's value at
    // the last index. Such a generic keeps its own loop nest.
    if (!map.isProjectedPermutation(/*allowZeroInResults=*/true))
      return Placement::Unknown;
  }
  if (parallelRows &&
      llvm::all_of(op.getDpsInitsMutable(), [&](OpOperand &init) {
        return isRowIndexed(op.getMatchingIndexingMap(&init), rows);
      }))
    return Placement::Row;
  if (reducedRows &&
      llvm::all_of(op.getDpsInitsMutable(),
                   [&](OpOperand &init) {
                     return isRowInvariant(op.getMatchingIndexingMap(&init),
                                           rows) &&
                            cast<RankedTensorType>(init.get().getType())
                                .hasStaticShape();
                   }) &&
      isSumOverOutputs(op))
    return Placement::RowSum;
  return Placement::Unknown;
}

/// The largest rank of a tensor that `op` reads or writes.
int64_t maxRank(linalg::GenericOp op) {
  int64_t rank = 0;
  for (Value v : op->getOperands())
    if (auto t = dyn_cast<RankedTensorType>(v.getType()))
      rank = std::max(rank, t.getRank());
  return rank;
}

bool sameFoldResults(ArrayRef<OpFoldResult> a, ArrayRef<OpFoldResult> b) {
  return a.size() == b.size() && llvm::all_of(llvm::zip(a, b), [](auto pair) {
           return isEqualConstantIntOrValue(std::get<0>(pair),
                                            std::get<1>(pair));
         });
}

/// A sum over the rows that the loop computes as partials: output `index`
/// of `op`, added after the loop by the runtime's sum kernel or in block
/// order (addPartials).
struct SumOutput {
  linalg::GenericOp op;
  unsigned index;
  bool runtimeSum;
};

struct LMCFuseKernelLoopsPass
    : mlir::lmc::impl::LMCFuseKernelLoopsBase<LMCFuseKernelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (rowsPerBlock < 1) {
      getOperation().emitError("lmc-fuse-kernel-loops: rows-per-block must "
                               "be at least 1");
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> kernels;
    getOperation().walk([&](func::FuncOp fn) {
      if (fn->hasAttr(FusedOp::getKernelAttrName()) && !fn.isExternal() &&
          fn.getBody().hasOneBlock())
        kernels.push_back(fn);
    });
    for (func::FuncOp fn : kernels) {
      if (failed(fuseKernel(fn)))
        return signalPassFailure();
      // Consumed: what follows sees ordinary loops.
      fn->removeAttr(FusedOp::getKernelAttrName());
    }
  }

  LogicalResult fuseKernel(func::FuncOp fn) {
    MLIRContext *ctx = &getContext();
    IRRewriter rewriter(ctx);
    DominanceInfo dominance;
    eliminateCommonSubExpressions(rewriter, dominance, fn);

    // Elementwise producers into the consumer they have, when they have one
    // use. A producer with several consumers stays one generic in the loop
    // (its block is read back from cache): recomputing it in every consumer
    // was measured slower (softmax: the scale and mask in each of the three
    // passes over a row).
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(
        patterns, [](OpOperand *fused) {
          Operation *producer = fused->get().getDefiningOp();
          return producer && producer->hasOneUse();
        });
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    linalg::FillOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::EmptyOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsGreedily(fn, std::move(patterns))))
      return fn.emitOpError("lmc-fuse-kernel-loops: elementwise fusion did "
                            "not converge");
    eliminateCommonSubExpressions(rewriter, dominance, fn);

    // Generics connected through the tensors they exchange, or reading the
    // same tensor (of rank 2 or more: not a bias or a scalar), share a row
    // space; each such component becomes one loop.
    Block &block = fn.getBody().front();
    SmallVector<linalg::GenericOp> generics;
    for (Operation &op : block)
      if (auto g = dyn_cast<linalg::GenericOp>(op))
        generics.push_back(g);
    llvm::EquivalenceClasses<Operation *> components;
    llvm::DenseMap<Value, Operation *> firstReader;
    for (linalg::GenericOp g : generics) {
      components.insert(g);
      for (Value v : g->getOperands()) {
        if (auto producer = v.getDefiningOp<linalg::GenericOp>())
          components.unionSets(g.getOperation(), producer.getOperation());
        auto type = dyn_cast<RankedTensorType>(v.getType());
        if (!type || type.getRank() < 2)
          continue;
        auto [it, inserted] = firstReader.try_emplace(v, g);
        if (!inserted)
          components.unionSets(g.getOperation(), it->second);
      }
    }
    // The members of each component, in program order, collected before
    // any of them is rewritten.
    SmallVector<SmallVector<linalg::GenericOp>> members;
    llvm::DenseMap<Operation *, unsigned> componentOf;
    for (linalg::GenericOp g : generics) {
      Operation *leader = components.getLeaderValue(g.getOperation());
      auto [it, inserted] = componentOf.try_emplace(leader, members.size());
      if (inserted)
        members.emplace_back();
      members[it->second].push_back(g);
    }
    bool changed = false;
    for (ArrayRef<linalg::GenericOp> component : members)
      changed |= fuseComponent(rewriter, fn, component);
    if (changed && !sortTopologically(&block))
      return fn.emitOpError("lmc-fuse-kernel-loops: the fused loop left a "
                            "cycle");
    allowSumReassociation(fn);
    return success();
  }

  /// Marks the additions of the sums inside the kernel's row loops (a
  /// reduction generic whose body yields `out + x`: a row's sum of
  /// exponentials, a block's partial sum) `reassoc`, so that LLVM vectorises
  /// them: several running sums across the lanes, added at the end. The
  /// order of the additions is then LLVM's, but still fixed by the kernel's
  /// code: the same for every thread count and every run of the trainer.
  /// Without it a sum is one chain of scalar additions, one per element at
  /// the adder's latency. The partials after the loop are still added in
  /// block order.
  static void allowSumReassociation(func::FuncOp fn) {
    fn.walk([](linalg::GenericOp g) {
      if (g.getNumReductionLoops() == 0 || !g->getParentOfType<scf::ForallOp>())
        return;
      auto yield = cast<linalg::YieldOp>(g.getBody()->getTerminator());
      for (OpOperand &init : g.getDpsInitsMutable()) {
        BlockArgument acc = g.getMatchingBlockArgument(&init);
        Value yielded =
            yield.getOperand(init.getOperandNumber() - g.getNumDpsInputs());
        auto add = yielded.getDefiningOp<arith::AddFOp>();
        if (add && (add.getLhs() == acc || add.getRhs() == acc))
          add.setFastmath(add.getFastmath() | arith::FastMathFlags::reassoc);
      }
    });
  }

  /// Puts the generics of one component (in program order) into one
  /// scf.forall at the end of the function; returns false when the
  /// component stays as it is.
  bool fuseComponent(RewriterBase &rewriter, func::FuncOp fn,
                     ArrayRef<linalg::GenericOp> members) {
    // A group that is one sum of a whole tensor (a gradient's squared norm)
    // is one call of the runtime's sum kernel: no loop, no partials.
    if (runtimeSums && members.size() == 1)
      if (std::optional<bool> square = runtimeSumKind(members.front())) {
        markRuntimeSum(members.front(), *square);
        return false;
      }
    int64_t rank = 0;
    for (linalg::GenericOp g : members)
      rank = std::max(rank, maxRank(g));
    if (rank < 1)
      return false;
    unsigned rows = rank - 1;
    // An elementwise group: every dimension is a row dimension, so the
    // innermost one is blocked too.
    if (elementsAsRows && llvm::all_of(members, [&](linalg::GenericOp g) {
          return isElementwise(g) && g.getNumLoops() == rank &&
                 maxRank(g) == rank;
        }))
      rows = rank;
    // Vectors: with elements as rows (the GPU), each element is a row, so
    // that a vector's sum (a bias gradient's squared norm) is partial sums
    // in parallel instead of one thread's loop; elsewhere rows of one
    // element leave nothing to block.
    if (rows == 0) {
      if (!elementsAsRows)
        return false;
      rows = 1;
    }
    SmallVector<linalg::GenericOp> inLoop;
    llvm::SmallPtrSet<Operation *, 8> loopSet;
    bool hasSum = false;
    for (linalg::GenericOp g : members) {
      Placement p = placementOf(g, rows);
      if (p == Placement::Unknown)
        return false;
      if (p == Placement::Outside)
        continue;
      hasSum |= p == Placement::RowSum;
      inLoop.push_back(g);
      loopSet.insert(g);
    }
    // One generic without a sum over the rows is one loop nest already.
    if (inLoop.empty() || (inLoop.size() == 1 && !hasSum))
      return false;
    // Values the loop reads must not depend on what the loop computes
    // through ops left outside it.
    if (dependsOnLoopThroughOutside(inLoop, loopSet))
      return false;

    // The results of the loop: row results used outside it, and sums.
    struct RowResult {
      linalg::GenericOp op;
      unsigned index;
    };
    SmallVector<RowResult> rowResults;
    SmallVector<linalg::GenericOp> sums;
    for (linalg::GenericOp g : inLoop) {
      if (placementOf(g, rows) == Placement::RowSum) {
        sums.push_back(g);
        continue;
      }
      for (OpResult r : g->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *user) {
              return !loopSet.contains(user);
            }))
          rowResults.push_back({g, r.getResultNumber()});
    }
    // A sum read inside the loop would need the total before it exists.
    for (linalg::GenericOp s : sums)
      for (Operation *user : s->getUsers())
        if (loopSet.contains(user))
          return false;

    Location loc = inLoop.back().getLoc();
    Block &block = fn.getBody().front();
    rewriter.setInsertionPoint(block.getTerminator());
    // The row sizes, from a tensor the first generic reads over the rows.
    Value shapeSource;
    for (OpOperand &operand : inLoop.front()->getOpOperands())
      if (isRowIndexed(inLoop.front().getMatchingIndexingMap(&operand), rows)) {
        shapeSource = operand.get();
        break;
      }
    SmallVector<OpFoldResult> rowSizes =
        tensor::getMixedSizes(rewriter, loc, shapeSource);
    rowSizes.resize(rows);
    // Blocks: one index of every row dimension but the last, and
    // `rowsPerBlock` of the last.
    AffineExpr s0 = rewriter.getAffineSymbolExpr(0);
    SmallVector<OpFoldResult> blocks(rowSizes.begin(), rowSizes.end());
    blocks.back() = affine::makeComposedFoldedAffineApply(
        rewriter, loc, s0.ceilDiv(rowsPerBlock), {rowSizes.back()});

    // Shared outputs: the inits of the row results, and for every sum a
    // zero-filled tensor of partials, one slot per block.
    SmallVector<Value> outputs;
    for (RowResult &r : rowResults) {
      // An empty init gets a tensor.empty of its own: CSE may have made one
      // value the init of several generics, and the fusion below must not
      // see a producer writing into the loop's output.
      Value init = r.op.getDpsInits()[r.index];
      if (auto empty = init.getDefiningOp<tensor::EmptyOp>())
        init = rewriter.clone(*empty)->getResult(0);
      outputs.push_back(init);
    }
    SmallVector<SumOutput> sumOutputs;
    for (linalg::GenericOp s : sums)
      for (OpOperand &init : s.getDpsInitsMutable()) {
        auto type = cast<RankedTensorType>(init.get().getType());
        // A float32 scalar from zero: the runtime's sum kernel adds the
        // partials, one slot per block that the block zeroes itself.
        bool runtimeSum =
            runtimeSums && s.getNumDpsInits() == 1 && type.getRank() == 0 &&
            type.getElementType().isF32() && isZeroFill(init.get());
        SmallVector<OpFoldResult> shape(blocks);
        // Room for whole chunks: the slots past the last block stay zero.
        if (partialsChunk > 1 && !runtimeSum)
          shape.back() = affine::makeComposedFoldedAffineApply(
              rewriter, loc, s0.ceilDiv(partialsChunk) * partialsChunk,
              {blocks.back()});
        for (int64_t d : type.getShape())
          shape.push_back(rewriter.getIndexAttr(d));
        Value empty = tensor::EmptyOp::create(rewriter, loc, shape,
                                              type.getElementType());
        sumOutputs.push_back(
            {s, init.getOperandNumber() - s.getNumDpsInputs(), runtimeSum});
        if (runtimeSum) {
          outputs.push_back(empty);
          continue;
        }
        Value zero = arith::ConstantOp::create(
            rewriter, loc, rewriter.getZeroAttr(type.getElementType()));
        outputs.push_back(
            linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0));
      }

    auto forall =
        scf::ForallOp::create(rewriter, loc, blocks, outputs, std::nullopt);
    Block *body = forall.getBody();
    OpBuilder b = OpBuilder::atBlockBegin(body);
    OpBuilder ib = OpBuilder::atBlockEnd(forall.getTerminator().getBody());
    SmallVector<Value> ivs(forall.getInductionVars());
    SmallVector<Value> shared(forall.getRegionIterArgs());
    SmallVector<OpFoldResult> offsets, sizes;
    for (unsigned d = 0; d < rows; ++d) {
      if (d + 1 < rows) {
        offsets.push_back(ivs[d]);
        sizes.push_back(b.getIndexAttr(1));
        continue;
      }
      AffineExpr d0 = b.getAffineDimExpr(0);
      OpFoldResult offset = affine::makeComposedFoldedAffineApply(
          b, loc, d0 * rowsPerBlock, {OpFoldResult(ivs[d])});
      offsets.push_back(offset);
      // One row per iteration: exactly one, a static size.
      if (rowsPerBlock == 1) {
        sizes.push_back(b.getIndexAttr(1));
        continue;
      }
      sizes.push_back(affine::makeComposedFoldedAffineMin(
          b, loc,
          AffineMap::get(1, 1,
                         {b.getAffineConstantExpr(rowsPerBlock),
                          b.getAffineSymbolExpr(0) - b.getAffineDimExpr(0)},
                         b.getContext()),
          {offset, rowSizes.back()}));
    }

    // Tiles of the loop's generics, in program order; what a block of one
    // row result is, for consumers in the loop.
    // The tile of a row result is what its parallel_insert_slice writes
    // (kept as the op, whose operands follow the rewrites below).
    llvm::DenseMap<Value, tensor::ParallelInsertSliceOp> tiles;
    llvm::SmallPtrSet<Operation *, 8> failedFusions;
    // Shared outputs: the row results first, then the partials.
    unsigned nextRowShared = 0, nextSumShared = rowResults.size();
    for (linalg::GenericOp g : inLoop) {
      bool isSum = placementOf(g, rows) == Placement::RowSum;
      bool isRowRoot = llvm::any_of(
          rowResults, [&](const RowResult &r) { return r.op == g; });
      if (!isSum && !isRowRoot)
        continue; // fused below as a producer, where it is read
      SmallVector<Range> ranges =
          cast<linalg::LinalgOp>(g.getOperation()).createLoopRanges(b, loc);
      SmallVector<OpFoldResult> opOffsets, opSizes;
      for (auto [d, range] : llvm::enumerate(ranges)) {
        opOffsets.push_back(d < rows ? offsets[d] : range.offset);
        opSizes.push_back(d < rows ? sizes[d] : range.size);
      }
      if (isSum) {
        tileSum(b, ib, loc, g, rows, opOffsets, opSizes, ivs, shared,
                nextSumShared, sumOutputs);
        continue;
      }
      auto tiling = cast<TilingInterface>(g.getOperation());
      FailureOr<TilingResult> tiled =
          tiling.getTiledImplementation(b, opOffsets, opSizes);
      if (failed(tiled))
        return false; // cannot happen for linalg.generic
      Operation *tiledOp = tiled->tiledOps.front();
      auto dps = cast<DestinationStyleOpInterface>(tiledOp);
      for (RowResult &r : rowResults) {
        if (r.op != g)
          continue;
        SmallVector<OpFoldResult> resultOffsets, resultSizes;
        if (failed(tiling.getResultTilePosition(b, r.index, opOffsets, opSizes,
                                                resultOffsets, resultSizes)))
          return false;
        SmallVector<OpFoldResult> strides(resultOffsets.size(),
                                          b.getIndexAttr(1));
        Value dest = shared[nextRowShared++];
        OpBuilder sb(tiledOp);
        Value slice = tensor::ExtractSliceOp::create(
            sb, loc, dest, resultOffsets, resultSizes, strides);
        dps.getDpsInitsMutable()[r.index].assign(slice);
        Value tile = tiledOp->getResult(r.index);
        tiles[g->getResult(r.index)] = tensor::ParallelInsertSliceOp::create(
            ib, loc, tile, dest, resultOffsets, resultSizes, strides);
      }
    }

    // Consumers in the loop read blocks of row results: the tile computed
    // in this iteration, or the producer fused at the slice. One slice at a
    // time, as fusing changes the ops around it.
    while (true) {
      // Equal offsets become equal values, so that slices can be matched.
      DominanceInfo dominance;
      eliminateCommonSubExpressions(rewriter, dominance, forall);
      tensor::ExtractSliceOp next;
      enum { Erase, UseTile, Fuse } action = Erase;
      Value tileValue;
      body->walk([&](tensor::ExtractSliceOp slice) {
        if (slice->use_empty()) {
          next = slice;
          action = Erase;
          return WalkResult::interrupt();
        }
        Value source = slice.getSource();
        auto tile = tiles.find(source);
        if (tile != tiles.end()) {
          tensor::ParallelInsertSliceOp insert = tile->second;
          Value t = insert.getSource();
          if (slice.getResultType() == t.getType() &&
              sameFoldResults(slice.getMixedOffsets(),
                              insert.getMixedOffsets()) &&
              sameFoldResults(slice.getMixedSizes(), insert.getMixedSizes()) &&
              t.getParentBlock() == slice->getBlock() &&
              t.getDefiningOp()->isBeforeInBlock(slice)) {
            next = slice;
            action = UseTile;
            tileValue = t;
            return WalkResult::interrupt();
          }
        }
        Operation *producer = source.getDefiningOp();
        if (producer && isa<TilingInterface>(producer) &&
            producer->getParentRegion() == &fn.getBody() &&
            (loopSet.contains(producer) || isa<linalg::FillOp>(producer)) &&
            !failedFusions.contains(slice)) {
          next = slice;
          action = Fuse;
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      });
      if (!next)
        break;
      if (action == Erase) {
        rewriter.eraseOp(next);
      } else if (action == UseTile) {
        rewriter.replaceOp(next, tileValue);
      } else {
        SmallVector<LoopLikeOpInterface> loops = {
            cast<LoopLikeOpInterface>(forall.getOperation())};
        if (!scf::tileAndFuseProducerOfSlice(rewriter, next, loops))
          failedFusions.insert(next);
      }
    }
    privatizeInits(rewriter, forall);
    // Sizes read from the generics of the loop (loop ranges) are those of
    // their inits, known without running them.
    {
      RewritePatternSet dimPatterns(fn.getContext());
      tensor::DimOp::getCanonicalizationPatterns(dimPatterns, fn.getContext());
      (void)applyPatternsGreedily(forall, std::move(dimPatterns));
    }
    // Every generic of the loop must now be computed in it.
    bool complete = true;
    body->walk([&](Operation *op) {
      for (Value v : op->getOperands())
        if (Operation *def = v.getDefiningOp())
          if (loopSet.contains(def))
            complete = false;
    });
    if (!complete) {
      rewriter.eraseOp(forall);
      return false;
    }

    // Uses outside the loop: its results, and the sums of the partials.
    unsigned index = 0;
    for (RowResult &r : rowResults) {
      Value original = r.op->getResult(r.index);
      rewriter.replaceUsesWithIf(
          original, forall.getResult(index++),
          [&](OpOperand &use) { return !forall->isAncestor(use.getOwner()); });
    }
    rewriter.setInsertionPointAfter(forall);
    for (SumOutput out : sumOutputs) {
      Value partials = forall.getResult(index++);
      Value init = out.op.getDpsInits()[out.index];
      Value total = out.runtimeSum
                        ? runtimeSumOf(rewriter, loc, partials)
                        : addPartials(rewriter, loc, partials, init, rows);
      rewriter.replaceAllUsesWith(out.op->getResult(out.index), total);
    }
    // What the loop replaced.
    for (linalg::GenericOp g : llvm::reverse(inLoop))
      if (g->use_empty())
        rewriter.eraseOp(g);
    return true;
  }

  /// Gives every op in the loop that writes into a block of a tensor.empty
  /// from outside (the intermediates fused into the loop: row statistics,
  /// say) its own empty tensor. Bufferization then writes each block in
  /// place into one buffer per intermediate, allocated outside the loop:
  /// two ops sharing an init (as CSE leaves them) would make it copy inside
  /// the loop, an allocation per iteration.
  void privatizeInits(RewriterBase &rewriter, scf::ForallOp forall) {
    SmallVector<OpOperand *> inits;
    forall.getBody()->walk([&](DestinationStyleOpInterface op) {
      if (op->getParentOp() != forall.getOperation())
        return;
      for (OpOperand &init : op.getDpsInitsMutable())
        inits.push_back(&init);
    });
    for (OpOperand *init : inits) {
      // init = [linalg.fill] (tensor.extract_slice (tensor.empty outside))
      Value v = init->get();
      auto fill = v.getDefiningOp<linalg::FillOp>();
      if (fill)
        v = fill.getOutputs()[0];
      auto slice = v.getDefiningOp<tensor::ExtractSliceOp>();
      if (!slice)
        continue;
      auto empty = slice.getSource().getDefiningOp<tensor::EmptyOp>();
      if (!empty || forall->isAncestor(empty))
        continue;
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(forall);
      Operation *newEmpty = rewriter.clone(*empty);
      rewriter.setInsertionPoint(init->getOwner());
      IRMapping mapping;
      mapping.map(empty.getResult(), newEmpty->getResult(0));
      Operation *newSlice = rewriter.clone(*slice, mapping);
      Value newInit = newSlice->getResult(0);
      if (fill) {
        mapping.map(slice.getResult(), newInit);
        newInit = rewriter.clone(*fill, mapping)->getResult(0);
      }
      rewriter.modifyOpInPlace(init->getOwner(), [&] { init->set(newInit); });
    }
    // The old chains, now unused.
    SmallVector<Operation *> dead;
    forall.getBody()->walk([&](Operation *op) {
      if (isa<linalg::FillOp, tensor::ExtractSliceOp>(op) && op->use_empty())
        dead.push_back(op);
    });
    for (Operation *op : llvm::reverse(dead))
      if (op->use_empty())
        rewriter.eraseOp(op);
  }

  /// Emits the partial sum of `g` over one block: a copy of `g` on the
  /// block's rows accumulating into the block's slot of the partials.
  void tileSum(OpBuilder &outer, OpBuilder &ib, Location loc,
               linalg::GenericOp g, unsigned rows,
               ArrayRef<OpFoldResult> opOffsets, ArrayRef<OpFoldResult> opSizes,
               ValueRange ivs, ValueRange shared, unsigned &nextShared,
               ArrayRef<SumOutput> sumOutputs) {
    auto copy = cast<linalg::GenericOp>(outer.clone(*g.getOperation()));
    OpBuilder b(copy); // operand slices go before the copy
    for (OpOperand *input : copy.getDpsInputOperands()) {
      AffineMap map = copy.getMatchingIndexingMap(input);
      if (!isRowIndexed(map, rows))
        continue;
      // The block of this operand: rows of the block, everything else.
      SmallVector<OpFoldResult> offsets, sizes;
      SmallVector<OpFoldResult> full =
          tensor::getMixedSizes(b, loc, input->get());
      for (unsigned k = 0; k < map.getNumResults(); ++k) {
        offsets.push_back(k < rows ? opOffsets[k] : b.getIndexAttr(0));
        sizes.push_back(k < rows ? opSizes[k] : full[k]);
      }
      SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
      input->set(tensor::ExtractSliceOp::create(b, loc, input->get(), offsets,
                                                sizes, strides));
    }
    for (OpOperand &init : copy.getDpsInitsMutable()) {
      auto type = cast<RankedTensorType>(init.get().getType());
      Value dest = shared[nextShared++];
      SmallVector<OpFoldResult> offsets(ivs.begin(), ivs.end());
      SmallVector<OpFoldResult> sizes(rows, b.getIndexAttr(1));
      for (int64_t d : type.getShape()) {
        offsets.push_back(b.getIndexAttr(0));
        sizes.push_back(b.getIndexAttr(d));
      }
      SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
      Value slot = tensor::ExtractSliceOp::create(b, loc, type, dest, offsets,
                                                  sizes, strides);
      // A slot of partials the runtime's sum kernel adds: no fill outside
      // the loop, the block zeroes its own slot.
      unsigned output = init.getOperandNumber() - copy.getNumDpsInputs();
      if (llvm::any_of(sumOutputs, [&](const SumOutput &out) {
            return out.op == g && out.index == output && out.runtimeSum;
          }))
        slot = linalg::FillOp::create(
                   b, loc,
                   Value(arith::ConstantOp::create(
                       b, loc, b.getZeroAttr(type.getElementType()))),
                   slot)
                   .getResult(0);
      init.set(slot);
      Value partial =
          copy->getResult(init.getOperandNumber() - copy.getNumDpsInputs());
      tensor::ParallelInsertSliceOp::create(ib, loc, partial, dest, offsets,
                                            sizes, strides);
    }
    // linalg.index in the body counts from the block's first row.
    SmallVector<OpFoldResult> indexOffsets(opOffsets.begin(), opOffsets.end());
    for (unsigned d = rows; d < indexOffsets.size(); ++d)
      indexOffsets[d] = b.getIndexAttr(0);
    OpBuilder ob(copy);
    linalg::offsetIndices(ob, cast<linalg::LinalgOp>(copy.getOperation()),
                          indexOffsets);
  }

  /// The sum of all the partials of a scalar (`[blocks...]`), from zero, as
  /// a generic that the runtime's sum kernel computes (on the GPU one
  /// parallel kernel, in a fixed order; elsewhere the generic's loops).
  Value runtimeSumOf(OpBuilder &b, Location loc, Value partials) {
    auto type = cast<RankedTensorType>(partials.getType());
    auto scalar = RankedTensorType::get({}, type.getElementType());
    Value zero = arith::ConstantOp::create(
        b, loc, b.getZeroAttr(scalar.getElementType()));
    Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{},
                                          scalar.getElementType());
    Value init = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    unsigned n = type.getRank();
    SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(n),
                                   AffineMap::get(n, 0, {}, b.getContext())};
    SmallVector<IteratorType> iters(n, IteratorType::reduction);
    auto sum = linalg::GenericOp::create(
        b, loc, TypeRange{scalar}, ValueRange{partials}, ValueRange{init}, maps,
        iters, [](OpBuilder &nb, Location l, ValueRange a) {
          linalg::YieldOp::create(
              nb, l, Value(arith::AddFOp::create(nb, l, a[1], a[0])));
        });
    markRuntimeSum(sum, /*square=*/false);
    return sum.getResult(0);
  }

  /// `init` plus the partials (`[blocks..., shape...]`) summed over the
  /// blocks, in block order.
  Value addPartials(OpBuilder &b, Location loc, Value partials, Value init,
                    unsigned rows) {
    if (partialsChunk > 1)
      partials = addChunks(b, loc, partials, rows);
    auto initType = cast<RankedTensorType>(init.getType());
    unsigned n = rows + initType.getRank();
    SmallVector<AffineExpr> outExprs;
    for (unsigned d = rows; d < n; ++d)
      outExprs.push_back(b.getAffineDimExpr(d));
    SmallVector<AffineMap> maps = {
        b.getMultiDimIdentityMap(n),
        AffineMap::get(n, 0, outExprs, b.getContext())};
    SmallVector<IteratorType> iters(rows, IteratorType::reduction);
    iters.append(initType.getRank(), IteratorType::parallel);
    auto merge = linalg::GenericOp::create(
        b, loc, TypeRange{initType}, ValueRange{partials}, ValueRange{init},
        maps, iters, [](OpBuilder &nb, Location l, ValueRange a) {
          linalg::YieldOp::create(
              nb, l, Value(arith::AddFOp::create(nb, l, a[1], a[0])));
        });
    return merge.getResult(0);
  }

  /// The partials summed chunk by chunk along the last block dimension,
  /// whose size the loop's partials made a multiple of `partialsChunk`
  /// (zeros past the last block): partials of `[..., blocks / chunk, ...]`,
  /// each the sum of its chunk in block order. On the GPU the sum after the
  /// loop is then two kernels parallel over chunks (and the sum's own
  /// dimensions), instead of one whose threads each add every block's
  /// partial in turn.
  Value addChunks(OpBuilder &b, Location loc, Value partials, unsigned rows) {
    auto type = cast<RankedTensorType>(partials.getType());
    const int64_t chunk = partialsChunk;
    const unsigned last = rows - 1, rank = type.getRank();
    AffineExpr s0 = b.getAffineSymbolExpr(0);
    OpFoldResult chunks = affine::makeComposedFoldedAffineApply(
        b, loc, s0.floorDiv(chunk),
        {tensor::getMixedSize(b, loc, partials, last)});
    std::optional<int64_t> staticChunks = getConstantIntValue(chunks);
    // [..., chunks * chunk, ...] -> [..., chunks, chunk, ...]
    SmallVector<int64_t> expandedShape;
    SmallVector<OpFoldResult> outputShape, sumShape;
    SmallVector<ReassociationIndices> groups;
    for (unsigned d = 0, e = 0; d < rank; ++d) {
      if (d == last) {
        expandedShape.append(
            {staticChunks ? *staticChunks : ShapedType::kDynamic, chunk});
        outputShape.append({chunks, b.getIndexAttr(chunk)});
        sumShape.push_back(chunks);
        groups.push_back({e, e + 1});
        e += 2;
        continue;
      }
      expandedShape.push_back(type.getDimSize(d));
      OpFoldResult size = tensor::getMixedSize(b, loc, partials, d);
      outputShape.push_back(size);
      sumShape.push_back(size);
      groups.push_back({e++});
    }
    Value expanded = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(expandedShape, type.getElementType()),
        partials, groups, outputShape);
    // The sum of each chunk, into zeros.
    Value zero =
        arith::ConstantOp::create(b, loc, b.getZeroAttr(type.getElementType()));
    Value empty =
        tensor::EmptyOp::create(b, loc, sumShape, type.getElementType());
    Value sums = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    unsigned n = rank + 1;
    SmallVector<AffineExpr> outExprs;
    SmallVector<IteratorType> iters;
    for (unsigned d = 0; d < n; ++d) {
      bool inChunk = d == last + 1;
      iters.push_back(inChunk ? IteratorType::reduction
                              : IteratorType::parallel);
      if (!inChunk)
        outExprs.push_back(b.getAffineDimExpr(d));
    }
    SmallVector<AffineMap> maps = {
        b.getMultiDimIdentityMap(n),
        AffineMap::get(n, 0, outExprs, b.getContext())};
    auto chunked = linalg::GenericOp::create(
        b, loc, TypeRange{sums.getType()}, ValueRange{expanded},
        ValueRange{sums}, maps, iters,
        [](OpBuilder &nb, Location l, ValueRange a) {
          linalg::YieldOp::create(
              nb, l, Value(arith::AddFOp::create(nb, l, a[1], a[0])));
        });
    return chunked.getResult(0);
  }

  /// True when an op outside `loopSet` sits on a path from one generic of
  /// the loop to another (it would have to run both before and after).
  bool dependsOnLoopThroughOutside(
      ArrayRef<linalg::GenericOp> inLoop,
      const llvm::SmallPtrSetImpl<Operation *> &loopSet) {
    // Ops outside the loop that depend on the loop.
    llvm::DenseSet<Operation *> after;
    SmallVector<Operation *> stack;
    for (linalg::GenericOp g : inLoop)
      stack.push_back(g);
    while (!stack.empty()) {
      Operation *op = stack.pop_back_val();
      for (Operation *user : op->getUsers()) {
        Operation *top = op->getBlock()->findAncestorOpInBlock(*user);
        if (!top || loopSet.contains(top))
          continue;
        if (after.insert(top).second)
          stack.push_back(top);
      }
    }
    // Does the loop read any of them (also inside its bodies)?
    for (linalg::GenericOp g : inLoop) {
      bool reads = false;
      g->walk([&](Operation *nested) {
        for (Value v : nested->getOperands())
          if (Operation *def = v.getDefiningOp())
            if (after.contains(def))
              reads = true;
      });
      if (reads)
        return true;
    }
    return false;
  }
};

} // namespace
