// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="precision=bf16" -split-input-file -verify-diagnostics | FileCheck %s --check-prefixes=CHECK,CPU
// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="device=gpu precision=bf16" -split-input-file -verify-diagnostics | FileCheck %s --check-prefixes=CHECK,GPU

// Tests that GEMMs on bfloat16 operands (lmc-bf16-storage) become calls of
// the runtime's bfloat16 GEMMs on bfloat16 buffers, named after C's type,
// on the CPU (lmcrt_gemm_*) and on the GPU (cuBLASLt: lmcrt_gpu_gemm_*): a
// plain GEMM with its float32 C, a biased GELU GEMM writing C, the bias and
// the pre-activation as bfloat16 (an epilogue's vectors have C's type), a
// biased one writing C as float32 (aux is C), one writing C as bfloat16
// (aux is C again) and a plain GEMM writing C as bfloat16; no precision
// argument is passed, and no float32 GEMM is called.

// CPU-DAG: func.func private @lmcrt_gemm_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i32, i32) attributes {llvm.emit_c_interface}
// CPU-DAG: func.func private @lmcrt_gemm_bias_bf16_out_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, i32, i32, i32) attributes {llvm.emit_c_interface}
// CPU-DAG: func.func private @lmcrt_gemm_bias_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
// GPU-DAG: func.func private @lmcrt_gpu_gemm_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i32, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG: func.func private @lmcrt_gpu_gemm_bias_bf16_out_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, i32, i32, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG: func.func private @lmcrt_gpu_gemm_bias_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-NOT: @lmcrt_{{(gpu_)?}}gemm(
// CHECK-NOT: @lmcrt_{{(gpu_)?}}gemm_bias(
// CHECK-LABEL: func.func @gemms
// CHECK-SAME:    (%{{.+}}: memref<?x?x64xbf16>, %{{.+}}: memref<64x64xbf16>, %[[B:.+]]: memref<64xf32>, %[[BB:.+]]: memref<64xbf16>)
// CHECK:         call @lmcrt_{{(gpu_)?}}gemm_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i32, i32) -> ()
// CHECK:         %[[UBB:.+]] = memref.cast %[[BB]] : memref<64xbf16> to memref<*xbf16>
// CHECK:         call @lmcrt_{{(gpu_)?}}gemm_bias_bf16_out_bf16(%{{.+}}, %{{.+}}, %[[UBB]], %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, i32, i32, i32) -> ()
// CHECK:         call @lmcrt_{{(gpu_)?}}gemm_bias_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %[[C:.+]], %[[C]], %{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) -> ()
// CHECK:         %[[UBB2:.+]] = memref.cast %[[BB]] : memref<64xbf16> to memref<*xbf16>
// CHECK:         call @lmcrt_{{(gpu_)?}}gemm_bias_bf16_out_bf16(%{{.+}}, %{{.+}}, %[[UBB2]], %[[D:.+]], %[[D]], %{{.+}}, %{{.+}}, %{{.+}})
// CHECK:         call @lmcrt_{{(gpu_)?}}gemm_bf16_out_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, i32, i32) -> ()
// CHECK-NOT:     linalg.generic {{.*}}reduction
func.func @gemms(%x: tensor<?x?x64xbf16>, %w: tensor<64x64xbf16>, %b: tensor<64xf32>, %bb: tensor<64xbf16>) -> (tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>) {
  %y = lmc.matmul %x, %w : tensor<?x?x64xbf16>, tensor<64x64xbf16>
  %h, %pre = lmc.matmul_bias %x, %w, %bb gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xbf16> -> tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
  %q = lmc.matmul_bias %x, %w, %b : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32> -> tensor<?x?x64xf32>
  %r = lmc.matmul_bias %x, %w, %bb : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xbf16> -> tensor<?x?x64xbf16>
  %t = lmc.matmul %x, %w transpose_b : tensor<?x?x64xbf16>, tensor<64x64xbf16> -> tensor<?x?x64xbf16>
  return %y, %h, %pre, %q, %r, %t : tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
}

// -----

// Tests that a marked bfloat16 GEMM whose pre-activation or bias does not
// have C's type (which lmc.matmul_bias's verifier rules out) is an error
// of the lowering rather than a call with the wrong element types.

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#n = affine_map<(m, n, k) -> (n)>
#mn = affine_map<(m, n, k) -> (m, n)>
func.func @mismatched_aux(%a: memref<4x4xbf16>, %b: memref<4x4xbf16>, %bias: memref<4xbf16>, %c: memref<4x4xbf16>, %aux: memref<4x4xf32>) {
  // expected-error @+1 {{is a bfloat16 GEMM with a 'f32' pre-activation: the runtime writes it as C ('bf16')}}
  linalg.generic {indexing_maps = [#mk, #kn, #n, #mn, #mn], iterator_types = ["parallel", "parallel", "reduction"], lmc.library_call = {kernel = "gemm", epilogue = "bias_gelu_tanh", transpose_a = false, transpose_b = false}} ins(%a, %b, %bias : memref<4x4xbf16>, memref<4x4xbf16>, memref<4xbf16>) outs(%c, %aux : memref<4x4xbf16>, memref<4x4xf32>) {
  ^bb0(%x: bf16, %y: bf16, %z: bf16, %acc: bf16, %pre: f32):
    linalg.yield %acc, %pre : bf16, f32
  }
  return
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#n = affine_map<(m, n, k) -> (n)>
#mn = affine_map<(m, n, k) -> (m, n)>
func.func @mismatched_bias(%a: memref<4x4xbf16>, %b: memref<4x4xbf16>, %biasf: memref<4xf32>, %c: memref<4x4xbf16>) {
  // expected-error @+1 {{is a bfloat16 GEMM with a 'f32' bias: the runtime reads it as C ('bf16')}}
  linalg.generic {indexing_maps = [#mk, #kn, #n, #mn], iterator_types = ["parallel", "parallel", "reduction"], lmc.library_call = {kernel = "gemm", epilogue = "bias", transpose_a = false, transpose_b = false}} ins(%a, %b, %biasf : memref<4x4xbf16>, memref<4x4xbf16>, memref<4xf32>) outs(%c : memref<4x4xbf16>) {
  ^bb0(%x: bf16, %y: bf16, %z: f32, %acc: bf16):
    linalg.yield %acc : bf16
  }
  return
}

// -----

// Tests that attention on bfloat16 activations (lmc-bf16-storage) becomes
// the runtime's attention on bfloat16 buffers on both devices, named after
// its outputs' type: a forward pass writing bfloat16 (_bf16_in_out) and one
// writing float32 (_bf16_in), a backward pass writing bfloat16 gradients
// and one writing float32 ones; lse stays float32, and no float32 or
// float32-storage attention is called.

// CPU-DAG: func.func private @lmcrt_attention_fwd_bf16_in_out(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface}
// CPU-DAG: func.func private @lmcrt_attention_fwd_bf16_in(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface}
// CPU-DAG: func.func private @lmcrt_attention_bwd_bf16_in_out(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, i64, i64) attributes {llvm.emit_c_interface}
// CPU-DAG: func.func private @lmcrt_attention_bwd_bf16_in(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface}
// GPU-DAG: func.func private @lmcrt_gpu_attention_fwd_bf16_in_out(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG: func.func private @lmcrt_gpu_attention_fwd_bf16_in(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG: func.func private @lmcrt_gpu_attention_bwd_bf16_in_out(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, i64, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG: func.func private @lmcrt_gpu_attention_bwd_bf16_in(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-NOT: @lmcrt_{{(gpu_)?}}attention_{{(fwd|bwd)_(f32|bf16)}}(
// CHECK-LABEL: func.func @attention
// CHECK-SAME:    (%[[Q:[^:]+]]: memref<?x?x64xbf16>, %[[K:[^:]+]]: memref<?x?x32xbf16>, %[[DY:[^:]+]]: memref<?x?x64xbf16>)
// CHECK:         %[[Y:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xbf16>
// CHECK:         %[[UQ:.+]] = memref.cast %[[Q]] : memref<?x?x64xbf16> to memref<*xbf16>
// CHECK:         call @lmcrt_{{(gpu_)?}}attention_fwd_bf16_in_out(%[[UQ]], %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i64, i64) -> ()
// CHECK:         memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         call @lmcrt_{{(gpu_)?}}attention_fwd_bf16_in(
// CHECK:         memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xbf16>
// CHECK-COUNT-2: memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x32xbf16>
// CHECK:         call @lmcrt_{{(gpu_)?}}attention_bwd_bf16_in_out(
// CHECK:         memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK-COUNT-2: memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x32xf32>
// CHECK:         call @lmcrt_{{(gpu_)?}}attention_bwd_bf16_in(
func.func @attention(%q: tensor<?x?x64xbf16>, %k: tensor<?x?x32xbf16>, %dy: tensor<?x?x64xbf16>)
    -> (tensor<?x?x64xf32>, tensor<?x?x32xbf16>, tensor<?x?x32xf32>) {
  %y, %lse = lmc.flash_attention %q, %k, %k heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16> -> tensor<?x4x?xf32>
  %y32, %lse32 = lmc.flash_attention %q, %k, %k heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16> -> tensor<?x?x64xf32>, tensor<?x4x?xf32>
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %k, %k, %y, %lse, %dy heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16>, tensor<?x4x?xf32>
  %dq32, %dk32, %dv32 = lmc.flash_attention_grad %q, %k, %k, %y, %lse, %dy heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16>, tensor<?x4x?xf32> -> tensor<?x?x64xf32>
  return %y32, %dk, %dv32 : tensor<?x?x64xf32>, tensor<?x?x32xbf16>, tensor<?x?x32xf32>
}
