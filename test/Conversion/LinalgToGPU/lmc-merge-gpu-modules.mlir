// RUN: lmc-opt %s --lmc-merge-gpu-modules -split-input-file | FileCheck %s
// RUN: lmc-opt %s --lmc-merge-gpu-modules="name=step" -split-input-file | FileCheck %s --check-prefix=NAME

// Tests that the kernels of gpu-kernel-outlining's modules (one kernel each,
// the same name in two of them) move into one module, each named after the
// module it came from, and that every launch follows its kernel.

// CHECK-LABEL: module attributes {gpu.container_module}
// CHECK:         func.func @f
// CHECK:           gpu.launch_func @lmc_kernels::@f_kernel blocks
// CHECK:           gpu.launch_func @lmc_kernels::@f_kernel_0 blocks
// CHECK:           gpu.launch_func @lmc_kernels::@f_kernel blocks
// CHECK:         gpu.module @lmc_kernels {
// CHECK-NEXT:      gpu.func @f_kernel(%{{.+}}: memref<4xf32>) kernel
// CHECK:             memref.store
// CHECK:           gpu.func @f_kernel_0(%{{.+}}: memref<4xf32>) kernel
// CHECK:             memref.load
// CHECK-NOT:     gpu.module

// NAME: gpu.launch_func @step::@f_kernel blocks
// NAME: gpu.module @step {
module attributes {gpu.container_module} {
  func.func @f(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @f_kernel::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @f_kernel_0::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @f_kernel::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  gpu.module @f_kernel {
    gpu.func @f_kernel(%m: memref<4xf32>) kernel {
      %i = gpu.thread_id x
      %z = arith.constant 0.0 : f32
      memref.store %z, %m[%i] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @f_kernel_0 {
    gpu.func @f_kernel(%m: memref<4xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %m[%i] : memref<4xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %m[%i] : memref<4xf32>
      gpu.return
    }
  }
}

// -----

// Tests that a module without GPU modules is left as it is.

// CHECK-LABEL: func.func @host
// CHECK-NOT:     gpu.module
func.func @host() {
  return
}
