// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime -split-input-file | FileCheck %s
// RUN: lmc-opt %s --convert-lmc-to-linalg --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --convert-lmc-to-runtime="kernels=gemm" -split-input-file | FileCheck %s --check-prefix=GEMM

// Tests that a float32 matmul (here the tied LM head, transposed rhs) becomes
// a call of the runtime's GEMM on unranked views of its buffers, with the
// transposes as i32 flags and the precision (0, fp32) last, that the
// declaration has a C interface, and that
// the zero fill of the output (dead: the call overwrites it) is gone.

// CHECK-LABEL: func.func private @lmcrt_gemm(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @head
// CHECK-SAME:    (%[[X:.+]]: memref<?x?x64xf32>, %[[W:.+]]: memref<256x64xf32>)
// CHECK:         %[[C:.+]] = memref.alloc
// CHECK-NOT:     linalg.fill
// CHECK-DAG:     %[[UX:.+]] = memref.cast %[[X]] : memref<?x?x64xf32> to memref<*xf32>
// CHECK-DAG:     %[[UW:.+]] = memref.cast %[[W]] : memref<256x64xf32> to memref<*xf32>
// CHECK-DAG:     %[[UC:.+]] = memref.cast %[[C]] : memref<?x?x256xf32> to memref<*xf32>
// CHECK-DAG:     %[[F:.+]] = arith.constant 0 : i32
// CHECK-DAG:     %[[T:.+]] = arith.constant 1 : i32
// CHECK:         %[[FP32:.+]] = arith.constant 0 : i32
// CHECK:         call @lmcrt_gemm(%[[UX]], %[[UW]], %[[UC]], %[[F]], %[[T]], %[[FP32]])
// CHECK-NOT:     linalg.generic {{.*}}reduction
// CHECK:         return %[[C]]
func.func @head(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>) -> tensor<?x?x256xf32> {
  %y = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  return %y : tensor<?x?x256xf32>
}

// -----

// Tests that the embedding gradient becomes the runtime's scatter-add, with
// offset 0 for a whole table and the offset cast to i64 for a block of rows;
// the function is declared once, and the zero fills of the table gradients
// (dead: the call zeroes the table) are gone.

// CHECK-LABEL: func.func private @lmcrt_embedding_grad_f32(memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface}
// CHECK-NOT:   func.func private @lmcrt_embedding_grad_f32
// CHECK-LABEL: func.func @wte_grad
// CHECK-SAME:    (%{{.+}}: memref<?x?x64xf32>, %{{.+}}: memref<?x?xi32>, %[[OFF:.+]]: index)
// CHECK-NOT:     linalg.fill
// CHECK:         %[[ZERO:.+]] = arith.constant 0 : i64
// CHECK-NOT:     linalg.fill
// CHECK:         call @lmcrt_embedding_grad_f32(%{{.+}}, %{{.+}}, %{{.+}}, %[[ZERO]]) : (memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) -> ()
// CHECK-NOT:     linalg.fill
// CHECK:         %[[OFF64:.+]] = arith.index_cast %[[OFF]] : index to i64
// CHECK-NOT:     linalg.fill
// CHECK:         call @lmcrt_embedding_grad_f32(%{{.+}}, %{{.+}}, %{{.+}}, %[[OFF64]]) : (memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) -> ()
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     linalg.fill
func.func @wte_grad(%dy: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>, %off: index) -> (tensor<256x64xf32>, tensor<128x64xf32>) {
  %g = lmc.embedding_grad %dy[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %b = lmc.embedding_grad %dy[%ids] offset(%off) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<128x64xf32>
  return %g, %b : tensor<256x64xf32>, tensor<128x64xf32>
}

// -----

// Tests that float64 ops, which the runtime has no kernel for, stay loops.

// CHECK-LABEL: func.func @f64
// CHECK-NOT:     call @lmcrt
// CHECK:         linalg.generic
func.func @f64(%a: tensor<4x8xf64>, %b: tensor<8x2xf64>) -> tensor<4x2xf64> {
  %y = lmc.matmul %a, %b : tensor<4x8xf64>, tensor<8x2xf64>
  return %y : tensor<4x2xf64>
}

// -----

// Tests that `kernels` limits the calls to the kernels it names: the
// embedding gradient it leaves out stays a loop nest, after its zero fill.

// GEMM-LABEL: func.func @only_gemm
// GEMM:         call @lmcrt_gemm(
// GEMM-NOT:     call @lmcrt_embedding_grad_f32
// GEMM:         linalg.fill
// GEMM:         linalg.generic {{.*}}lmc.library_call = {kernel = "embedding_grad"}
func.func @only_gemm(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %ids: tensor<?x?xi32>) -> (tensor<?x?x256xf32>, tensor<256x64xf32>) {
  %y = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %g = lmc.embedding_grad %x[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  return %y, %g : tensor<?x?x256xf32>, tensor<256x64xf32>
}

// -----

// Tests that a zero fill of a GEMM's output stays when something may read
// the buffer between the fill and the GEMM, and goes when only ops without
// memory effects come between.

// CHECK-LABEL: func.func @fills
// CHECK:         linalg.fill ins(%{{.+}} : f32) outs(%[[KEEP:.+]] : memref<4x4xf32>)
// CHECK:         memref.load %[[KEEP]]
// CHECK:         call @lmcrt_gemm(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}})
// CHECK-NOT:     linalg.fill
// CHECK:         call @lmcrt_gemm(
// CHECK:         return
func.func @fills(%a: memref<4x4xf32>, %b: memref<4x4xf32>, %c: memref<4x4xf32>, %d: memref<4x4xf32>) -> f32 {
  %zero = arith.constant 0.0 : f32
  %i = arith.constant 0 : index
  linalg.fill ins(%zero : f32) outs(%c : memref<4x4xf32>)
  %seen = memref.load %c[%i, %i] : memref<4x4xf32>
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"], lmc.library_call = {kernel = "gemm", transpose_a = false, transpose_b = false}} ins(%a, %b : memref<4x4xf32>, memref<4x4xf32>) outs(%c : memref<4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%d : memref<4x4xf32>)
  %one = arith.constant 1 : index
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"], lmc.library_call = {kernel = "gemm", transpose_a = false, transpose_b = false}} ins(%a, %b : memref<4x4xf32>, memref<4x4xf32>) outs(%d : memref<4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return %seen : f32
}

// -----

// Tests that a GEMM with a bias epilogue (lmc.matmul_bias) becomes one call
// of the biased GEMM (a, b, bias, c, aux, ta, tb, epilogue, precision): C
// passed as aux (one unranked view of it for both) with epilogue 0 (bias), the pre-activation as aux with 1 (bias + tanh
// GELU); no loop nest is left.

// CHECK-LABEL: func.func private @lmcrt_gemm_bias(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32, i32) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @linear
// CHECK-SAME:    (%[[X:.+]]: memref<?x?x64xf32>, %[[W:.+]]: memref<192x64xf32>, %[[B:.+]]: memref<192xf32>, %[[W1:.+]]: memref<64x256xf32>, %[[B1:.+]]: memref<256xf32>)
// CHECK:         %[[C:.+]] = memref.alloc
// CHECK:         %[[UX:.+]] = memref.cast %[[X]]
// CHECK-NEXT:    %[[UW:.+]] = memref.cast %[[W]]
// CHECK-NEXT:    %[[UB:.+]] = memref.cast %[[B]]
// CHECK-NEXT:    %[[UC:.+]] = memref.cast %[[C]]
// CHECK-NEXT:    %[[TA:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[TB:.+]] = arith.constant 1 : i32
// CHECK-NEXT:    %[[EP:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[P:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    call @lmcrt_gemm_bias(%[[UX]], %[[UW]], %[[UB]], %[[UC]], %[[UC]], %[[TA]], %[[TB]], %[[EP]], %[[P]])
// CHECK:         %[[H:.+]] = memref.alloc
// CHECK-NEXT:    %[[PRE:.+]] = memref.alloc
// CHECK:         %[[UH:.+]] = memref.cast %[[H]]
// CHECK-NEXT:    %[[UPRE:.+]] = memref.cast %[[PRE]]
// CHECK-NEXT:    %[[TA1:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[TB1:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[EP1:.+]] = arith.constant 1 : i32
// CHECK-NEXT:    %[[P1:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    call @lmcrt_gemm_bias(%{{.+}}, %{{.+}}, %{{.+}}, %[[UH]], %[[UPRE]], %[[TA1]], %[[TB1]], %[[EP1]], %[[P1]])
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[C]], %[[H]], %[[PRE]]
// GEMM-LABEL: func.func @linear
// GEMM-COUNT-2: call @lmcrt_gemm_bias(
func.func @linear(%x: tensor<?x?x64xf32>, %w: tensor<192x64xf32>, %b: tensor<192xf32>, %w1: tensor<64x256xf32>, %b1: tensor<256xf32>) -> (tensor<?x?x192xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
  %y = lmc.matmul_bias %x, %w, %b transpose_b : tensor<?x?x64xf32>, tensor<192x64xf32>, tensor<192xf32> -> tensor<?x?x192xf32>
  %h, %pre = lmc.matmul_bias %x, %w1, %b1 gelu(tanh) : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x?x256xf32>, tensor<?x?x256xf32>
  return %y, %h, %pre : tensor<?x?x192xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>
}
