// RUN: lmc-opt %s --lmc-bufferize --convert-lmc-to-runtime --split-input-file | FileCheck %s
// RUN: lmc-opt %s --lmc-bufferize --split-input-file | FileCheck %s --check-prefix=BUFFER
// RUN: not lmc-opt %s --lmc-bufferize "--convert-lmc-to-runtime=device=gpu" --split-input-file 2>&1 | FileCheck %s --check-prefix=GPU

// Tests that lmc.chunked_head_loss bufferizes to lmc.buffer_head_loss on the
// operands' buffers and new 64-byte-aligned buffers for the loss (0-d), the
// input's gradient ([B, T, C] sizes of the input) and the weight's gradient
// (static), and that convert-lmc-to-runtime makes it one call of
// lmcrt_head_cross_entropy_f32 with the layout of the weight (i32), the
// classes (i64; 0 for all columns), the rows per chunk (i64) and the GEMM
// precision (i32), declared once with a C interface. On the GPU the runtime
// has no such function: an error.

// CHECK-DAG:   func.func private @lmcrt_head_cross_entropy_f32(memref<*xf32>, memref<*xf32>, memref<*xi32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i64, i64, i32) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @head
// CHECK:         %[[LOSS:.+]] = memref.alloc() {alignment = 64 : i64} : memref<f32>
// CHECK:         %[[B:.+]] = memref.dim %[[X:.+]], %c0
// CHECK:         %[[T:.+]] = memref.dim %[[X]], %c1
// CHECK:         %[[DX:.+]] = memref.alloc(%[[B]], %[[T]]) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         %[[DW:.+]] = memref.alloc() {alignment = 64 : i64} : memref<256x64xf32>
// CHECK:         %[[TB:.+]] = arith.constant 1 : i32
// CHECK-NEXT:    %[[N:.+]] = arith.constant 250 : i64
// CHECK-NEXT:    %[[R:.+]] = arith.constant 32 : i64
// CHECK-NEXT:    %[[P:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    call @lmcrt_head_cross_entropy_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[TB]], %[[N]], %[[R]], %[[P]])
// CHECK-NOT:     lmc.buffer_head_loss
// CHECK:         return

// BUFFER-LABEL: func.func @head
// BUFFER:         lmc.buffer_head_loss %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}}, %{{.+}}, %{{.+}} transpose_b classes(250) rows(32)

// GPU: error: 'lmc.buffer_head_loss' op has no GPU implementation in the runtime
func.func @head(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>) {
  %seed = arith.constant dense<1.0> : tensor<f32>
  %loss, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %seed transpose_b classes(250) rows(32)
      : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
  return %loss, %dx, %dw : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>
}

// -----

// Tests that an untied [C, V] head without padding passes transpose_b 0 and
// classes 0 (all columns).

// CHECK-LABEL: func.func @untied
// CHECK:         %[[DW:.+]] = memref.alloc() {alignment = 64 : i64} : memref<64x256xf32>
// CHECK:         %[[TB:.+]] = arith.constant 0 : i32
// CHECK-NEXT:    %[[N:.+]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[R:.+]] = arith.constant 128 : i64
// CHECK:         call @lmcrt_head_cross_entropy_f32({{.+}}, %[[TB]], %[[N]], %[[R]], %{{.+}})
func.func @untied(%x: tensor<?x?x64xf32>, %w: tensor<64x256xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<64x256xf32>) {
  %seed = arith.constant dense<1.0> : tensor<f32>
  %loss, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %seed rows(128)
      : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<?x?xi32>, tensor<f32>
  return %loss, %dx, %dw : tensor<f32>, tensor<?x?x64xf32>, tensor<64x256xf32>
}
