//===- ShapeParallelLoops.cpp - Which loop dimensions run on threads ------===//
//
// lmc-shape-parallel-loops: after convert-linalg-to-parallel-loops every
// parallel dimension of a linalg op is one dimension of an scf.parallel.
// Threads should split the outer dimensions only: the innermost one is what
// LLVM vectorises, and one-dimensional loops (biases, norms' parameters) are
// too small to pay for waking the pool. This pass keeps the outer
// dimensions of each outermost scf.parallel parallel (at most `max-dims`,
// never the innermost loop of the nest) and turns the others, and every
// nested scf.parallel, into scf.for loops.
//
//===----------------------------------------------------------------------===//

#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

#define DEBUG_TYPE "lmc-shape-parallel-loops"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCSHAPEPARALLELLOOPS
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// Replaces `op` (no reductions) by scf.parallel over its first `keep`
/// dimensions (none: no scf.parallel) around scf.for loops over the rest.
void reshape(scf::ParallelOp op, unsigned keep) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  unsigned n = op.getNumLoops();
  IRMapping mapping;
  Block *body = op.getBody();

  // Emits the scf.for nest over dimensions [from, n) at `b`, then the body.
  std::function<void(OpBuilder &, unsigned)> emitFors = [&](OpBuilder &fb,
                                                            unsigned d) {
    if (d == n) {
      for (Operation &inner : body->without_terminator())
        fb.clone(inner, mapping);
      return;
    }
    scf::ForOp::create(fb, loc, op.getLowerBound()[d], op.getUpperBound()[d],
                       op.getStep()[d], ValueRange{},
                       [&](OpBuilder &ib, Location, Value iv, ValueRange) {
                         mapping.map(body->getArgument(d), iv);
                         emitFors(ib, d + 1);
                         scf::YieldOp::create(ib, loc);
                       });
  };

  if (keep == 0) {
    emitFors(b, 0);
  } else {
    scf::ParallelOp::create(b, loc, op.getLowerBound().take_front(keep),
                            op.getUpperBound().take_front(keep),
                            op.getStep().take_front(keep),
                            [&](OpBuilder &pb, Location, ValueRange ivs) {
                              for (unsigned d = 0; d < keep; ++d)
                                mapping.map(body->getArgument(d), ivs[d]);
                              emitFors(pb, keep);
                            });
  }
  op.erase();
}

struct LMCShapeParallelLoopsPass
    : mlir::lmc::impl::LMCShapeParallelLoopsBase<LMCShapeParallelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    // Innermost first, so that nested ones are sequential before their
    // parents are looked at.
    SmallVector<scf::ParallelOp> loops;
    getOperation()->walk([&](scf::ParallelOp op) { loops.push_back(op); });
    for (scf::ParallelOp op : loops) {
      if (op.getNumReductions() != 0)
        continue; // left as it is (convert-scf-to-openmp handles it)
      bool nested = op->getParentOfType<scf::ParallelOp>() != nullptr;
      unsigned n = op.getNumLoops();
      // Does the nest end in a sequential loop (a reduction dimension)?
      bool innerFor = false;
      op.getBody()->walk([&](scf::ForOp) { innerFor = true; });
      unsigned keep = 0;
      if (!nested) {
        unsigned candidates = innerFor ? n : n - 1;
        keep = std::min<unsigned>(candidates, maxDims);
      }
      if (keep == n)
        continue;
      reshape(op, keep);
      ++numReshaped;
    }
  }
};

} // namespace
