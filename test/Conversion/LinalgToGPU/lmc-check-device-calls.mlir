// RUN: rm -rf %t && mkdir -p %t/cuda/nvvm/libdevice && touch %t/cuda/nvvm/libdevice/libdevice.10.bc
// RUN: lmc-opt %s --lmc-check-device-calls="toolkit=%t/cuda" -split-input-file | FileCheck %s
// RUN: not lmc-opt %s --lmc-check-device-calls -split-input-file 2>&1 | FileCheck %s --check-prefix=NOKIT
// RUN: not lmc-opt %s --lmc-check-device-calls="toolkit=%t/none" -split-input-file 2>&1 | FileCheck %s --check-prefix=MISSING

// Tests that kernels calling libdevice and PTX's system calls pass when the
// toolkit has libdevice, and that without a toolkit, or with one that has no
// libdevice, the check fails: upstream gpu-module-to-binary would leave the
// calls unresolved.

// CHECK-LABEL: gpu.module @lmc_kernels
// NOKIT: error: 'llvm.func' op lmc-check-device-calls: the kernels call libdevice ('__nv_expf'), but no CUDA toolkit is set to link it from
// MISSING: error: 'llvm.func' op lmc-check-device-calls: the kernels call libdevice ('__nv_expf'), but '{{.*}}none/nvvm/libdevice/libdevice.10.bc' does not exist
module attributes {gpu.container_module} {
  gpu.module @lmc_kernels {
    llvm.func @__nv_expf(f32) -> f32
    llvm.func @__assertfail(!llvm.ptr, !llvm.ptr, i32, !llvm.ptr, i64)
    llvm.func @vprintf(!llvm.ptr, !llvm.ptr) -> i32
    llvm.func @k(%x: f32) attributes {gpu.kernel, nvvm.kernel} {
      %y = llvm.call @__nv_expf(%x) : (f32) -> f32
      llvm.return
    }
  }
}

// -----

// Tests that kernels without libdevice calls need no toolkit.

// CHECK-LABEL: gpu.module @plain
// NOKIT-NOT: error:
module attributes {gpu.container_module} {
  gpu.module @plain {
    llvm.func @k() attributes {gpu.kernel, nvvm.kernel} {
      llvm.return
    }
  }
}
