// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="precision=bf16" | FileCheck %s --check-prefix=BF16
// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="precision=tf32" | FileCheck %s --check-prefix=TF32
// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime | FileCheck %s --check-prefix=FP32
// RUN: not lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="precision=fp16" 2>&1 | FileCheck %s --check-prefix=BAD

// Tests that the GEMM's compute precision is the last argument of every GEMM
// call (0 fp32, 1 tf32, 2 bf16; the operands stay float32 buffers and the
// function is one whatever the precision), and that an unknown precision is
// an error naming the choices.

// BF16:     func.func private @lmcrt_gemm(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
// BF16:      %[[TA0:.+]] = arith.constant 0 : i32
// BF16-NEXT: %[[TB0:.+]] = arith.constant 0 : i32
// BF16-NEXT: %[[P0:.+]] = arith.constant 2 : i32
// BF16-NEXT: call @lmcrt_gemm(%{{.+}}, %{{.+}}, %{{.+}}, %[[TA0]], %[[TB0]], %[[P0]])
// BF16:      %[[TA1:.+]] = arith.constant 0 : i32
// BF16-NEXT: %[[TB1:.+]] = arith.constant 0 : i32
// BF16-NEXT: %[[P1:.+]] = arith.constant 2 : i32
// BF16-NEXT: call @lmcrt_gemm(%{{.+}}, %{{.+}}, %{{.+}}, %[[TA1]], %[[TB1]], %[[P1]])
// TF32:      %[[TA0:.+]] = arith.constant 0 : i32
// TF32-NEXT: %[[TB0:.+]] = arith.constant 0 : i32
// TF32-NEXT: %[[P0:.+]] = arith.constant 1 : i32
// TF32-NEXT: call @lmcrt_gemm(%{{.+}}, %{{.+}}, %{{.+}}, %[[TA0]], %[[TB0]], %[[P0]])
// TF32:      %[[TA1:.+]] = arith.constant 0 : i32
// TF32-NEXT: %[[TB1:.+]] = arith.constant 0 : i32
// TF32-NEXT: %[[P1:.+]] = arith.constant 1 : i32
// TF32-NEXT: call @lmcrt_gemm(%{{.+}}, %{{.+}}, %{{.+}}, %[[TA1]], %[[TB1]], %[[P1]])
// FP32:      %[[TA0:.+]] = arith.constant 0 : i32
// FP32-NEXT: %[[TB0:.+]] = arith.constant 0 : i32
// FP32-NEXT: %[[P0:.+]] = arith.constant 0 : i32
// FP32-NEXT: call @lmcrt_gemm(%{{.+}}, %{{.+}}, %{{.+}}, %[[TA0]], %[[TB0]], %[[P0]])
// FP32:      %[[TA1:.+]] = arith.constant 0 : i32
// FP32-NEXT: %[[TB1:.+]] = arith.constant 0 : i32
// FP32-NEXT: %[[P1:.+]] = arith.constant 0 : i32
// FP32-NEXT: call @lmcrt_gemm(%{{.+}}, %{{.+}}, %{{.+}}, %[[TA1]], %[[TB1]], %[[P1]])
// BAD: for the --precision option: 'fp16' is not one of: fp32, tf32, bf16
func.func @mlp(%x: tensor<?x?x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>) -> tensor<?x?x64xf32> {
  %h = lmc.matmul %x, %w1 : tensor<?x?x64xf32>, tensor<64x256xf32>
  %y = lmc.matmul %h, %w2 : tensor<?x?x256xf32>, tensor<256x64xf32>
  return %y : tensor<?x?x64xf32>
}

// Tests that a GEMM with an epilogue takes the precision too.

// BF16:      arith.constant 0 : i32
// BF16-NEXT: arith.constant 0 : i32
// BF16-NEXT: %[[EP:.+]] = arith.constant 0 : i32
// BF16-NEXT: %[[P:.+]] = arith.constant 2 : i32
// BF16-NEXT: call @lmcrt_gemm_bias({{.*}}, %[[EP]], %[[P]])
// TF32:      arith.constant 0 : i32
// TF32-NEXT: arith.constant 0 : i32
// TF32-NEXT: %[[EP:.+]] = arith.constant 0 : i32
// TF32-NEXT: %[[P:.+]] = arith.constant 1 : i32
// TF32-NEXT: call @lmcrt_gemm_bias({{.*}}, %[[EP]], %[[P]])
// FP32:      arith.constant 0 : i32
// FP32-NEXT: arith.constant 0 : i32
// FP32-NEXT: %[[EP:.+]] = arith.constant 0 : i32
// FP32-NEXT: %[[P:.+]] = arith.constant 0 : i32
// FP32-NEXT: call @lmcrt_gemm_bias({{.*}}, %[[EP]], %[[P]])
func.func @linear(%x: tensor<?x?x64xf32>, %w: tensor<64x256xf32>, %b: tensor<256xf32>) -> tensor<?x?x256xf32> {
  %y = lmc.matmul_bias %x, %w, %b : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x?x256xf32>
  return %y : tensor<?x?x256xf32>
}
