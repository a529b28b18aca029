// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="precision=bf16" -split-input-file | FileCheck %s
// RUN: not lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="device=gpu precision=bf16" 2>&1 | FileCheck %s --check-prefix=GPU

// Tests that GEMMs on bfloat16 operands (lmc-bf16-storage) become calls of
// the runtime's bfloat16 GEMMs on bfloat16 buffers: a plain GEMM with its
// float32 C (the mask 0), a biased GELU GEMM writing C as bfloat16 and its
// pre-activation as float32 (the mask 1), and one writing both as bfloat16
// (the mask 3); the bias stays float32. No float32 GEMM is called, and the
// GPU runtime, which has no such GEMM yet, is refused.

// CHECK-DAG: func.func private @lmcrt_gemm_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @lmcrt_gemm_bias_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xf32>, i32, i32, i32, i32) attributes {llvm.emit_c_interface}
// CHECK-NOT: @lmcrt_gemm(
// CHECK-NOT: @lmcrt_gemm_bias(
// CHECK-LABEL: func.func @gemms
// CHECK:         %[[MASK0:.+]] = arith.constant 0 : i32
// CHECK:         call @lmcrt_gemm_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[MASK0]]) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, i32, i32, i32) -> ()
// CHECK:         %[[GELU:.+]] = arith.constant 1 : i32
// CHECK:         %[[MASK1:.+]] = arith.constant 1 : i32
// CHECK:         call @lmcrt_gemm_bias_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[GELU]], %[[MASK1]]) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xf32>, i32, i32, i32, i32) -> ()
// CHECK:         %[[MASK3:.+]] = arith.constant 3 : i32
// CHECK:         call @lmcrt_gemm_bias_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[MASK3]]) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<*xbf16>, memref<*xbf16>, i32, i32, i32, i32) -> ()
// CHECK-NOT:     linalg.generic {{.*}}reduction
// GPU: error: 'linalg.generic' op has no GPU implementation in the runtime
func.func @gemms(%x: tensor<?x?x64xbf16>, %w: tensor<64x64xbf16>, %b: tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>) {
  %y = lmc.matmul %x, %w : tensor<?x?x64xbf16>, tensor<64x64xbf16>
  %h, %pre = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32> -> tensor<?x?x64xbf16>, tensor<?x?x64xf32>
  %h2, %pre2 = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32> -> tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
  return %y, %h, %pre, %h2, %pre2 : tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
}
