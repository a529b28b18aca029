// RUN: lmc-opt %s --lmc-check-device-calls -split-input-file -verify-diagnostics

// Tests that device code calling a host function (a runtime or C library
// function that leaked into a kernel) is an error at its declaration.

module attributes {gpu.container_module} {
  gpu.module @lmc_kernels {
    // expected-error @below {{lmc-check-device-calls: device code calls 'memrefCopy', which is neither a libdevice function nor a PTX system call}}
    llvm.func @memrefCopy(i64, !llvm.ptr, !llvm.ptr)
    // expected-error @below {{device code calls 'lmcrt_gemm_f32'}}
    llvm.func @lmcrt_gemm_f32(!llvm.ptr, !llvm.ptr, !llvm.ptr, i32, i32)
    llvm.func @k() attributes {gpu.kernel, nvvm.kernel} {
      llvm.return
    }
  }
}
