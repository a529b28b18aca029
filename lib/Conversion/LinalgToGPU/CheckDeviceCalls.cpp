//===- CheckDeviceCalls.cpp - Device code calls only device functions -----===//
//
// Before gpu-module-to-binary: every function the kernels declare must be
// libdevice's or a PTX system call, and libdevice must be there to link.
//
//===----------------------------------------------------------------------===//

#include "lmc/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#define DEBUG_TYPE "lmc-check-device-calls"

namespace mlir::lmc {
#define GEN_PASS_DEF_LMCCHECKDEVICECALLS
#include "lmc/Conversion/Passes.h.inc"
} // namespace mlir::lmc

using namespace mlir;
using namespace mlir::lmc;

namespace {

/// Functions PTX provides to every kernel (its system calls).
bool isPtxSystemCall(StringRef name) {
  return llvm::is_contained({StringRef("vprintf"), StringRef("malloc"),
                             StringRef("free"), StringRef("__assertfail")},
                            name);
}

struct LMCCheckDeviceCallsPass
    : mlir::lmc::impl::LMCCheckDeviceCallsBase<LMCCheckDeviceCallsPass> {
  using LMCCheckDeviceCallsBase::LMCCheckDeviceCallsBase;

  void runOnOperation() override {
    bool ok = true;
    Operation *firstLibdevice = nullptr;
    for (auto gpuModule : getOperation().getOps<gpu::GPUModuleOp>()) {
      for (auto fn : gpuModule.getOps<LLVM::LLVMFuncOp>()) {
        if (!fn.isExternal())
          continue;
        StringRef name = fn.getSymName();
        if (name.starts_with("__nv_")) {
          ++numLibdevice;
          if (!firstLibdevice)
            firstLibdevice = fn;
          continue;
        }
        if (isPtxSystemCall(name) || name.starts_with("llvm."))
          continue;
        fn.emitOpError("lmc-check-device-calls: device code calls '")
            << name
            << "', which is neither a libdevice function nor a PTX system "
               "call";
        ok = false;
      }
    }
    if (!ok)
      return signalPassFailure();
    if (!firstLibdevice)
      return;

    // Upstream gpu-module-to-binary links libdevice only from a toolkit path
    // and, without one, leaves the calls unresolved without a word
    // (test/upstream/gpu-module-to-binary-no-libdevice.mlir).
    if (toolkit.empty()) {
      firstLibdevice->emitOpError("lmc-check-device-calls: the kernels call "
                                  "libdevice ('")
          << cast<LLVM::LLVMFuncOp>(firstLibdevice).getSymName()
          << "'), but no CUDA toolkit is set to link it from (the "
             "pass's toolkit option; lmc compile --cuda-toolkit DIR)";
      return signalPassFailure();
    }
    SmallString<128> libdevice(toolkit.getValue());
    llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
    if (!llvm::sys::fs::is_regular_file(libdevice)) {
      firstLibdevice->emitOpError("lmc-check-device-calls: the kernels call "
                                  "libdevice ('")
          << cast<LLVM::LLVMFuncOp>(firstLibdevice).getSymName() << "'), but '"
          << libdevice
          << "' does not exist (the pass's toolkit option; lmc compile "
             "--cuda-toolkit DIR)";
      return signalPassFailure();
    }
  }
};

} // namespace
