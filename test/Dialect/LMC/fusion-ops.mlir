// RUN: lmc-opt %s | lmc-opt | FileCheck %s
// RUN: lmc-opt %s --mlir-print-op-generic | lmc-opt | FileCheck %s

// Round trip of lmc.fused and lmc.yield in their custom and generic forms.

// Tests that a group prints its kind, the assignment of block arguments to
// operands, the function type and the body with an explicit yield.

// CHECK-LABEL: func.func @bias_gelu
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x256xf32>, %[[B:.+]]: tensor<256xf32>)
// CHECK:         %[[R:.+]]:2 = lmc.fused "gelu" (%[[A:.+]] = %[[X]], %[[C:.+]] = %[[B]]) : (tensor<?x?x256xf32>, tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
// CHECK-NEXT:      %[[H:.+]] = lmc.bias_add %[[A]], %[[C]] : tensor<?x?x256xf32>, tensor<256xf32>
// CHECK-NEXT:      %[[G:.+]] = lmc.gelu %[[H]] tanh : tensor<?x?x256xf32>
// CHECK-NEXT:      lmc.yield %[[H]], %[[G]] : tensor<?x?x256xf32>, tensor<?x?x256xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return %[[R]]#0, %[[R]]#1
func.func @bias_gelu(%x: tensor<?x?x256xf32>, %b: tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
  %h, %g = lmc.fused "gelu" (%a = %x, %c = %b) : (tensor<?x?x256xf32>, tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
    %0 = lmc.bias_add %a, %c : tensor<?x?x256xf32>, tensor<256xf32>
    %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
    lmc.yield %0, %1 : tensor<?x?x256xf32>, tensor<?x?x256xf32>
  }
  return %h, %g : tensor<?x?x256xf32>, tensor<?x?x256xf32>
}

// Tests that a group may take scalars, hold arith and tensor.extract ops and
// constants, take no operand, and carry discardable attributes.

// CHECK-LABEL: func.func @scalars
// CHECK:         lmc.fused "grad_norm" (%{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) attributes {note = 1 : i64} : (tensor<4xf32>, f32) -> f32 {
// CHECK:           tensor.extract
// CHECK:           arith.addf
// CHECK:           lmc.yield %{{.+}} : f32
// CHECK:         lmc.fused "elementwise" () : () -> tensor<f32> {
// CHECK-NEXT:      arith.constant
// CHECK-NEXT:      lmc.scale
func.func @scalars(%g: tensor<4xf32>, %s: f32) -> (f32, tensor<f32>) {
  %n = lmc.fused "grad_norm" (%x = %g, %y = %s) attributes {note = 1} : (tensor<4xf32>, f32) -> f32 {
    %0 = lmc.mul %x, %x : tensor<4xf32>
    %1 = lmc.reduce_sum %0 dims [0] : tensor<4xf32>
    %2 = tensor.extract %1[] : tensor<f32>
    %3 = arith.addf %y, %2 : f32
    lmc.yield %3 : f32
  }
  %c = lmc.fused "elementwise" () : () -> tensor<f32> {
    %0 = arith.constant dense<1.0> : tensor<f32>
    %1 = lmc.scale %0 by 2.0 : tensor<f32>
    lmc.yield %1 : tensor<f32>
  }
  return %n, %c : f32, tensor<f32>
}

// Tests that lmc.matmul_bias prints its transpose and GELU epilogue and
// both results.

// CHECK-LABEL: func.func @matmul_bias
// CHECK:         %{{.+}} = lmc.matmul_bias %{{.+}}, %{{.+}}, %{{.+}} transpose_b : tensor<?x?x64xf32>, tensor<192x64xf32>, tensor<192xf32> -> tensor<?x?x192xf32>
// CHECK:         %{{.+}}, %{{.+}} = lmc.matmul_bias %{{.+}}, %{{.+}}, %{{.+}} gelu(tanh) : tensor<?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x256xf32>, tensor<?x256xf32>
func.func @matmul_bias(%x: tensor<?x?x64xf32>, %w: tensor<192x64xf32>, %b: tensor<192xf32>, %y: tensor<?x64xf32>, %w1: tensor<64x256xf32>, %b1: tensor<256xf32>) -> (tensor<?x?x192xf32>, tensor<?x256xf32>, tensor<?x256xf32>) {
  %0 = lmc.matmul_bias %x, %w, %b transpose_b : tensor<?x?x64xf32>, tensor<192x64xf32>, tensor<192xf32> -> tensor<?x?x192xf32>
  %1, %2 = lmc.matmul_bias %y, %w1, %b1 gelu(tanh) : tensor<?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x256xf32>, tensor<?x256xf32>
  return %0, %1, %2 : tensor<?x?x192xf32>, tensor<?x256xf32>, tensor<?x256xf32>
}

// -----

// Tests that lmc.convert prints both types, and that GEMMs take bfloat16
// operands (lmc-bf16-storage): lmc.matmul's result is then float32, or
// bfloat16 printed after `->`; lmc.matmul_bias's result is float32 or
// bfloat16, with a bias and a pre-activation of its type; lmc.flatten moves
// bfloat16.

// CHECK-LABEL: func.func @bf16_storage
// CHECK:         %[[WB:.+]] = lmc.convert %{{.+}} : tensor<64x256xf32> -> tensor<64x256xbf16>
// CHECK:         %[[H:.+]], %[[PRE:.+]] = lmc.matmul_bias %{{.+}}, %[[WB]], %{{.+}} gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x256xbf16>, tensor<256xbf16> -> tensor<?x?x256xbf16>, tensor<?x?x256xbf16>
// CHECK:         %[[Y:.+]] = lmc.matmul %[[H]], %{{.+}} : tensor<?x?x256xbf16>, tensor<256x64xbf16>
// CHECK:         lmc.convert %[[Y]] : tensor<?x?x64xf32> -> tensor<?x?x64xbf16>
// CHECK:         lmc.flatten %[[H]] : tensor<?x?x256xbf16>
// CHECK:         lmc.matmul_bias %{{.+}}, %[[WB]], %{{.+}} : tensor<?x?x64xbf16>, tensor<64x256xbf16>, tensor<256xf32> -> tensor<?x?x256xf32>
// CHECK:         lmc.matmul %[[H]], %{{.+}} transpose_b : tensor<?x?x256xbf16>, tensor<64x256xbf16> -> tensor<?x?x64xbf16>
func.func @bf16_storage(%x: tensor<?x?x64xbf16>, %w: tensor<64x256xf32>, %b: tensor<256xbf16>, %w2: tensor<256x64xbf16>, %bf: tensor<256xf32>) -> (tensor<?x?x64xbf16>, tensor<?x?x256xbf16>, tensor<?x256xbf16>, tensor<?x?x256xf32>, tensor<?x?x64xbf16>) {
  %wb = lmc.convert %w : tensor<64x256xf32> -> tensor<64x256xbf16>
  %h, %pre = lmc.matmul_bias %x, %wb, %b gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x256xbf16>, tensor<256xbf16> -> tensor<?x?x256xbf16>, tensor<?x?x256xbf16>
  %y = lmc.matmul %h, %w2 : tensor<?x?x256xbf16>, tensor<256x64xbf16>
  %r = lmc.convert %y : tensor<?x?x64xf32> -> tensor<?x?x64xbf16>
  %f = lmc.flatten %h : tensor<?x?x256xbf16>
  %z = lmc.matmul_bias %x, %wb, %bf : tensor<?x?x64xbf16>, tensor<64x256xbf16>, tensor<256xf32> -> tensor<?x?x256xf32>
  %t = lmc.matmul %h, %wb transpose_b : tensor<?x?x256xbf16>, tensor<64x256xbf16> -> tensor<?x?x64xbf16>
  return %r, %pre, %f, %z, %t : tensor<?x?x64xbf16>, tensor<?x?x256xbf16>, tensor<?x256xbf16>, tensor<?x?x256xf32>, tensor<?x?x64xbf16>
}
