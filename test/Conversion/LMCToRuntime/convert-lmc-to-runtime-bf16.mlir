// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="precision=bf16" -split-input-file -verify-diagnostics | FileCheck %s
// RUN: not lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="device=gpu precision=bf16" 2>&1 | FileCheck %s --check-prefix=GPU

// Tests that GEMMs on bfloat16 operands (lmc-bf16-storage) become calls of
// the runtime's bfloat16 GEMMs on bfloat16 buffers, named after C's type: a
// plain GEMM with its float32 C, a biased GELU GEMM writing C as bfloat16
// (its pre-activation float32), a biased one writing C as float32 (aux is
// C) and one writing C as bfloat16 (aux is the float32 bias, ignored); the
// bias stays float32 and no precision argument is passed. No float32 GEMM
// is called, and the GPU runtime, which has no such GEMM yet, is refused.

// CHECK-DAG: func.func private @lmcrt_gemm_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i32, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @lmcrt_gemm_bias_bf16_out_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @lmcrt_gemm_bias_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
// CHECK-NOT: @lmcrt_gemm(
// CHECK-NOT: @lmcrt_gemm_bias(
// CHECK-LABEL: func.func @gemms
// CHECK-SAME:    (%{{.+}}: memref<?x?x64xbf16>, %{{.+}}: memref<64x64xbf16>, %[[B:.+]]: memref<64xf32>)
// CHECK:         call @lmcrt_gemm_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i32, i32) -> ()
// CHECK:         call @lmcrt_gemm_bias_bf16_out_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xf32>, i32, i32, i32) -> ()
// CHECK:         call @lmcrt_gemm_bias_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %[[C:.+]], %[[C]], %{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) -> ()
// CHECK:         %[[UB:.+]] = memref.cast %[[B]] : memref<64xf32> to memref<*xf32>
// CHECK:         call @lmcrt_gemm_bias_bf16_out_bf16(%{{.+}}, %{{.+}}, %[[UB]], %{{.+}}, %[[UB]], %{{.+}}, %{{.+}}, %{{.+}})
// CHECK-NOT:     linalg.generic {{.*}}reduction
// GPU: error: 'linalg.generic' op has no GPU implementation in the runtime
func.func @gemms(%x: tensor<?x?x64xbf16>, %w: tensor<64x64xbf16>, %b: tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>) {
  %y = lmc.matmul %x, %w : tensor<?x?x64xbf16>, tensor<64x64xbf16>
  %h, %pre = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32> -> tensor<?x?x64xbf16>, tensor<?x?x64xf32>
  %q = lmc.matmul_bias %x, %w, %b : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32> -> tensor<?x?x64xf32>
  %r = lmc.matmul_bias %x, %w, %b : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32> -> tensor<?x?x64xbf16>
  return %y, %h, %pre, %q, %r : tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>
}

// -----

// Tests that a bfloat16 pre-activation, which the runtime's GEMMs do not
// write, is an error.

func.func @bf16_pre(%x: tensor<?x?x64xbf16>, %w: tensor<64x64xbf16>, %b: tensor<64xf32>) -> (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>) {
  // expected-error @+1 {{is a bfloat16 GEMM with a 'bf16' pre-activation: the runtime writes it as float32}}
  %h, %pre = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32> -> tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
  return %h, %pre : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
}
