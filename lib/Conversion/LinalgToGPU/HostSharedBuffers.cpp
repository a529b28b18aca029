//===- HostSharedBuffers.cpp - Buffers the host code touches, shared ------===//
//
// Allocates the buffers that the host code of a GPU program loads, stores or
// copies on the host as `gpu.alloc host_shared`, which the GPU runtime gives
// from memory both sides address; every other buffer stays device memory.
// See the pass description in include/lmc/Conversion/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"

#include "ViewSource.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "lmc-host-shared-buffers"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCHOSTSHAREDBUFFERS
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// The buffers `op` reads or writes on the host.
SmallVector<Value> hostAccessed(Operation *op) {
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return {load.getMemRef()};
  if (auto store = dyn_cast<memref::StoreOp>(op))
    return {store.getMemRef()};
  if (auto copy = dyn_cast<memref::CopyOp>(op))
    return {copy.getSource(), copy.getTarget()};
  return {};
}

class LMCHostSharedBuffersPass
    : public mlir::lmc::impl::LMCHostSharedBuffersBase<
          LMCHostSharedBuffersPass> {
public:
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Host functions only: the kernels are in gpu.module ops. A buffer
    // that a stream-ordered function allocates and returns, and its caller
    // reads, is allocated shared in that function.
    llvm::SetVector<memref::AllocOp> shared;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isDeclaration())
        continue;
      fn.walk([&](Operation *op) {
        for (Value buffer : hostAccessed(op))
          if (auto alloc =
                  dyn_cast_or_null<memref::AllocOp>(freshAllocation(buffer)))
            shared.insert(alloc);
      });
    }
    for (memref::AllocOp alloc : shared) {
      OpBuilder builder(alloc);
      // Synchronous (no async token): upstream lowers a host_shared
      // allocation only without one; it needs no stream order, as the
      // runtime's shared memory is reused only after a free that follows
      // the host's last use.
      auto replacement = gpu::AllocOp::create(
          builder, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
          /*asyncDependencies=*/ValueRange(), alloc.getDynamicSizes(),
          alloc.getSymbolOperands(), /*hostShared=*/true);
      LLVM_DEBUG(llvm::dbgs() << "host-shared: " << alloc << "\n");
      alloc.getResult().replaceAllUsesWith(replacement.getMemref());
      alloc.erase();
    }
  }
};

} // namespace
