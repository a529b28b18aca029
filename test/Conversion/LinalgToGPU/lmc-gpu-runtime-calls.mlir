// RUN: lmc-opt %s --lmc-gpu-runtime-calls -split-input-file | FileCheck %s

// Tests that the GEMMs and the collectives go to the GPU runtime's
// functions (declaration and every call renamed, C interface kept), and
// that host functions without buffers (lmcrt_axis_index) keep their names.

// CHECK-DAG: func.func private @lmcrt_gpu_gemm_bf16(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG: func.func private @lmcrt_gpu_all_reduce_f32(memref<*xf32>, memref<*xf32>, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG: func.func private @lmcrt_gpu_all_gather_start_f32(
// CHECK-DAG: func.func private @lmcrt_gpu_reduce_scatter_start_f32(
// CHECK-DAG: func.func private @lmcrt_gpu_collective_wait(i64)
// CHECK-DAG: func.func private @lmcrt_axis_index(i32) -> i64
// CHECK-NOT: @lmcrt_gemm_bf16
// CHECK-NOT: @lmcrt_all_reduce_f32
// CHECK-LABEL: func.func @step
// CHECK:       call @lmcrt_gpu_gemm_bf16(
// CHECK:       call @lmcrt_gpu_gemm_bf16(
// CHECK:       call @lmcrt_gpu_all_reduce_f32(
// CHECK:       call @lmcrt_axis_index(
// CHECK:       %[[H:.+]] = call @lmcrt_gpu_all_gather_start_f32(
// CHECK:       call @lmcrt_gpu_collective_wait(%[[H]])
// CHECK:       %[[G:.+]] = call @lmcrt_gpu_reduce_scatter_start_f32(
// CHECK:       call @lmcrt_gpu_collective_wait(%[[G]])
func.func private @lmcrt_gemm_bf16(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32) attributes {llvm.emit_c_interface}
func.func private @lmcrt_all_reduce_f32(memref<*xf32>, memref<*xf32>, i32) attributes {llvm.emit_c_interface}
func.func private @lmcrt_all_gather_start_f32(memref<*xf32>, memref<*xf32>, i32, i64) -> i64 attributes {llvm.emit_c_interface}
func.func private @lmcrt_reduce_scatter_start_f32(memref<*xf32>, memref<*xf32>, i32, i64) -> i64 attributes {llvm.emit_c_interface}
func.func private @lmcrt_collective_wait(i64)
func.func private @lmcrt_axis_index(i32) -> i64
func.func @step(%a: memref<*xf32>, %b: memref<*xf32>, %c: memref<*xf32>) -> i64 {
  %f = arith.constant 0 : i32
  %ax = arith.constant 1 : i32
  %d = arith.constant 0 : i64
  call @lmcrt_gemm_bf16(%a, %b, %c, %f, %f) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32) -> ()
  call @lmcrt_gemm_bf16(%c, %b, %a, %f, %f) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32) -> ()
  call @lmcrt_all_reduce_f32(%c, %c, %ax) : (memref<*xf32>, memref<*xf32>, i32) -> ()
  %i = call @lmcrt_axis_index(%ax) : (i32) -> i64
  %h = call @lmcrt_all_gather_start_f32(%a, %b, %ax, %d) : (memref<*xf32>, memref<*xf32>, i32, i64) -> i64
  call @lmcrt_collective_wait(%h) : (i64) -> ()
  %g = call @lmcrt_reduce_scatter_start_f32(%a, %b, %ax, %d) : (memref<*xf32>, memref<*xf32>, i32, i64) -> i64
  call @lmcrt_collective_wait(%g) : (i64) -> ()
  return %i : i64
}

// -----

// Tests that the embedding gradient goes to the GPU runtime's scatter-add.

// CHECK-LABEL: func.func private @lmcrt_gpu_embedding_grad_f32(memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-NOT:   @lmcrt_embedding_grad_f32
// CHECK-LABEL: func.func @wte_grad
// CHECK:         call @lmcrt_gpu_embedding_grad_f32(
func.func private @lmcrt_embedding_grad_f32(memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface}
func.func @wte_grad(%g: memref<*xf32>, %ids: memref<*xi32>, %w: memref<*xf32>) {
  %off = arith.constant 0 : i64
  call @lmcrt_embedding_grad_f32(%g, %ids, %w, %off) : (memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) -> ()
  return
}

// -----

// Tests that the GEMMs with a bias (and GELU) epilogue go to the GPU
// runtime's cuBLASLt epilogue forms, in every precision.

// CHECK-DAG: func.func private @lmcrt_gpu_gemm_bias_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG: func.func private @lmcrt_gpu_gemm_bias_tf32(
// CHECK-DAG: func.func private @lmcrt_gpu_gemm_bias_bf16(
// CHECK-LABEL: func.func @linear
// CHECK:       call @lmcrt_gpu_gemm_bias_f32(
// CHECK:       call @lmcrt_gpu_gemm_bias_tf32(
// CHECK:       call @lmcrt_gpu_gemm_bias_bf16(
func.func private @lmcrt_gemm_bias_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
func.func private @lmcrt_gemm_bias_tf32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
func.func private @lmcrt_gemm_bias_bf16(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
func.func @linear(%a: memref<*xf32>, %b: memref<*xf32>, %bias: memref<*xf32>, %c: memref<*xf32>, %aux: memref<*xf32>) {
  %f = arith.constant 0 : i32
  %t = arith.constant 1 : i32
  call @lmcrt_gemm_bias_f32(%a, %b, %bias, %c, %c, %f, %f, %f) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) -> ()
  call @lmcrt_gemm_bias_tf32(%a, %b, %bias, %c, %aux, %f, %f, %t) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) -> ()
  call @lmcrt_gemm_bias_bf16(%a, %b, %bias, %c, %aux, %f, %t, %t) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) -> ()
  return
}
