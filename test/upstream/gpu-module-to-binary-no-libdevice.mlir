// Tests that upstream gpu-module-to-binary (LLVM 22.1.8), given no toolkit
// path (no `toolkit=` and none of CUDA_ROOT, CUDA_HOME, CUDA_PATH set), still
// leaves libdevice unlinked without a word: the PTX declares `__nv_erff`
// `.extern` and calls it, mlir-opt exits 0, and only ptxas or the driver
// fails later ("Unresolved extern function"). lmc's GPU pipeline always
// passes its toolkit and runs lmc-check-device-calls first, which fails when
// that toolkit has no libdevice (lib/Pipelines/GpuPipeline.cpp); if this
// test starts failing, the defect is fixed upstream and the check can be
// relaxed.

// RUN: env -u CUDA_ROOT -u CUDA_HOME -u CUDA_PATH mlir-opt %s --pass-pipeline='builtin.module(gpu.module(convert-gpu-to-nvvm,reconcile-unrealized-casts),gpu-module-to-binary{format=isa})' | FileCheck %s

// CHECK: gpu.binary @kernels
// CHECK-SAME: .extern .func  (.param .b32 func_retval0) __nv_erff
// CHECK-SAME: call.uni (retval0), __nv_erff
module attributes {gpu.container_module} {
  gpu.module @kernels [#nvvm.target<chip = "sm_90", features = "+ptx80">] {
    gpu.func @k(%p: memref<4xf32>) kernel {
      %i = gpu.thread_id x
      %x = memref.load %p[%i] : memref<4xf32>
      %y = math.erf %x : f32
      memref.store %y, %p[%i] : memref<4xf32>
      gpu.return
    }
  }
}
