//===- Bufferize.cpp - One-Shot Bufferize with lmc's boundary layouts -----===//
//
// Upstream One-Shot Module Bufferize, with buffer types at function
// boundaries chosen per function: identity layouts for the C ABI entry
// points, fully dynamic strided layouts for the arguments of every other
// function (a kernel reads parameter views and slices without a copy).
// Results take the layout of what the function returns (a fresh buffer:
// the identity), so that a caller reshaping a kernel's result
// (lmc.flatten, lmc.unflatten, left inline by lmc-outline-kernels) gets a
// view, not a copy.
//
//===----------------------------------------------------------------------===//

#include "lmc/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/Transforms/Bufferize.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotModuleBufferize.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#define DEBUG_TYPE "lmc-bufferize"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCBUFFERIZE
#include "lmc/Transforms/Codegen/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// The buffer type of a tensor at the boundary of `fn`.
bufferization::BufferLikeType
boundaryType(bufferization::TensorLikeType tensorLike, Attribute memorySpace,
             func::FuncOp fn, const bufferization::BufferizationOptions &) {
  auto tensor = cast<TensorType>(tensorLike);
  auto ranked = dyn_cast<RankedTensorType>(tensor);
  if (!ranked || (fn && fn->hasAttr("llvm.emit_c_interface")))
    return cast<bufferization::BufferLikeType>(
        bufferization::getMemRefTypeWithStaticIdentityLayout(tensor,
                                                             memorySpace));
  return cast<bufferization::BufferLikeType>(
      bufferization::getMemRefTypeWithFullyDynamicLayout(tensor, memorySpace));
}

/// Puts the module's global buffers and external function declarations
/// first, ordered by name, definitions after them in their own order.
/// Upstream One-Shot Module Bufferize visits the functions in an order that
/// depends on pointer values (its call-graph walk over a DenseMap), and the
/// globals it creates for constants and the runtime functions declared while
/// bufferizing land at the top of the module in that visiting order: without
/// this, two runs of the same compile wrote the declarations in different
/// orders (test/Tools/lmc/emit-deterministic.test).
void orderDeclarations(ModuleOp module) {
  SmallVector<Operation *> declarations;
  for (Operation &op : module.getBody()->getOperations()) {
    auto fn = dyn_cast<func::FuncOp>(op);
    if (isa<memref::GlobalOp>(op) || (fn && fn.isDeclaration()))
      declarations.push_back(&op);
  }
  llvm::stable_sort(declarations, [](Operation *a, Operation *b) {
    return SymbolTable::getSymbolName(a).getValue() <
           SymbolTable::getSymbolName(b).getValue();
  });
  Block *body = module.getBody();
  for (Operation *op : llvm::reverse(declarations))
    op->moveBefore(body, body->begin());
}

struct LMCBufferizePass : mlir::lmc::impl::LMCBufferizeBase<LMCBufferizePass> {
  using Base::Base;

  void runOnOperation() override {
    bufferization::OneShotBufferizationOptions options;
    options.bufferizeFunctionBoundaries = true;
    options.allowReturnAllocsFromLoops = allowReturnAllocsFromLoops;
    options.functionArgTypeConverterFn = boundaryType;
    options.inferFunctionResultLayout = true;
    // The only parallel loops on tensors are those of fused kernels
    // (lmc-fuse-kernel-loops): every iteration writes its own block of rows
    // of each buffer, including the intermediates that live in a buffer
    // allocated before the loop. Upstream's check would copy those into a
    // fresh allocation per iteration.
    options.checkParallelRegions = false;
    options.unknownTypeConverterFn =
        [](TensorType type, Attribute memorySpace,
           const bufferization::BufferizationOptions &) {
          return bufferization::getMemRefTypeWithFullyDynamicLayout(
              type, memorySpace);
        };
    bufferization::BufferizationState state;
    if (failed(bufferization::runOneShotModuleBufferize(getOperation(), options,
                                                        state)))
      return signalPassFailure();
    bufferization::removeBufferizationAttributesInModule(getOperation());
    orderDeclarations(getOperation());
  }
};

} // namespace
