// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --lmc-kernels-to-runtime="precision=bf16" | FileCheck %s --check-prefix=BF16
// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --lmc-kernels-to-runtime="precision=tf32" | FileCheck %s --check-prefix=TF32
// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --lmc-kernels-to-runtime | FileCheck %s --check-prefix=FP32
// RUN: not lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --lmc-kernels-to-runtime="precision=fp16" 2>&1 | FileCheck %s --check-prefix=BAD

// Tests that the GEMM's compute precision picks the runtime function (the
// operands stay float32 buffers), that every GEMM of the function gets it,
// and that an unknown precision is an error naming the choices.

// BF16:     func.func private @lmcrt_gemm_bf16(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32) attributes {llvm.emit_c_interface}
// BF16:     call @lmcrt_gemm_bf16
// BF16:     call @lmcrt_gemm_bf16
// BF16-NOT: lmcrt_gemm_f32
// TF32:     func.func private @lmcrt_gemm_tf32(
// TF32:     call @lmcrt_gemm_tf32
// TF32:     call @lmcrt_gemm_tf32
// TF32-NOT: lmcrt_gemm_f32
// FP32:     call @lmcrt_gemm_f32
// FP32:     call @lmcrt_gemm_f32
// BAD:      error: lmc-kernels-to-runtime: unknown precision 'fp16' (expected fp32, tf32 or bf16)
func.func @mlp(%x: tensor<?x?x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>) -> tensor<?x?x64xf32> {
  %h = lmc.matmul %x, %w1 : tensor<?x?x64xf32>, tensor<64x256xf32>
  %y = lmc.matmul %h, %w2 : tensor<?x?x256xf32>, tensor<256x64xf32>
  return %y : tensor<?x?x64xf32>
}

// Tests that a GEMM with an epilogue takes the precision too.

// BF16:     call @lmcrt_gemm_bias_bf16
// TF32:     call @lmcrt_gemm_bias_tf32
// FP32:     call @lmcrt_gemm_bias_f32
func.func @linear(%x: tensor<?x?x64xf32>, %w: tensor<64x256xf32>, %b: tensor<256xf32>) -> tensor<?x?x256xf32> {
  %y = lmc.matmul_bias %x, %w, %b : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x?x256xf32>
  return %y : tensor<?x?x256xf32>
}
