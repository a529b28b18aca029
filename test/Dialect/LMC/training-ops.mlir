// RUN: lmc-opt %s | lmc-opt | FileCheck %s
// RUN: lmc-opt %s --mlir-print-op-generic | lmc-opt | FileCheck %s
// RUN: lmc-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Round trip of every op of LMCTrainingOps.td (and of the `zero` form of
// causal_mask, the gradient of the mask), in its custom and its generic form.
// Ops with inferred result types return their results, so the function
// signatures pin the inferred types down.

// Tests that zeros_like keeps its operand's type, static or dynamic, f32 or
// f64, of any rank (0-d included).

// CHECK-LABEL: func.func @zeros_like
// CHECK-SAME:    -> (tensor<?x?x64xf32>, tensor<3xf64>, tensor<f32>)
// CHECK-NEXT:    %[[Z0:.+]] = lmc.zeros_like %{{.+}} : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[Z1:.+]] = lmc.zeros_like %{{.+}} : tensor<3xf64>
// CHECK-NEXT:    %[[Z2:.+]] = lmc.zeros_like %{{.+}} : tensor<f32>
// CHECK-NEXT:    return %[[Z0]], %[[Z1]], %[[Z2]]
// GENERIC-LABEL: sym_name = "zeros_like"
// GENERIC:       "lmc.zeros_like"(%{{.+}}) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
func.func @zeros_like(%x: tensor<?x?x64xf32>, %v: tensor<3xf64>, %s: tensor<f32>)
    -> (tensor<?x?x64xf32>, tensor<3xf64>, tensor<f32>) {
  %0 = lmc.zeros_like %x : tensor<?x?x64xf32>
  %1 = lmc.zeros_like %v : tensor<3xf64>
  %2 = lmc.zeros_like %s : tensor<f32>
  return %0, %1, %2 : tensor<?x?x64xf32>, tensor<3xf64>, tensor<f32>
}

// Tests that mul keeps the operand type, and that a value may be multiplied
// by itself.

// CHECK-LABEL: func.func @mul
// CHECK-SAME:    -> (tensor<?x?x64xf32>, tensor<4x4xf64>)
// CHECK-NEXT:    %[[M0:.+]] = lmc.mul %[[A:.+]], %[[B:.+]] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[M1:.+]] = lmc.mul %[[C:.+]], %[[C]] : tensor<4x4xf64>
// CHECK-NEXT:    return %[[M0]], %[[M1]]
// GENERIC-LABEL: sym_name = "mul"
// GENERIC:       "lmc.mul"(%{{.+}}, %{{.+}}) : (tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
func.func @mul(%a: tensor<?x?x64xf32>, %b: tensor<?x?x64xf32>, %c: tensor<4x4xf64>)
    -> (tensor<?x?x64xf32>, tensor<4x4xf64>) {
  %0 = lmc.mul %a, %b : tensor<?x?x64xf32>
  %1 = lmc.mul %c, %c : tensor<4x4xf64>
  return %0, %1 : tensor<?x?x64xf32>, tensor<4x4xf64>
}

// Tests reduce_sum result inference: the leading dimensions (a bias
// gradient), every dimension (a 0-d result), a middle dimension (dynamic
// sizes kept), the last dimension, and no dimension (the identity shape).

// CHECK-LABEL: func.func @reduce_sum
// CHECK-SAME:    -> (tensor<192xf32>, tensor<f32>, tensor<2x?xf64>, tensor<?x3xf64>, tensor<4x4xf32>)
// CHECK-NEXT:    %[[R0:.+]] = lmc.reduce_sum %[[DY:.+]] dims [0, 1] : tensor<?x?x192xf32>
// CHECK-NEXT:    %[[R1:.+]] = lmc.reduce_sum %{{.+}} dims [0, 1, 2] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[R2:.+]] = lmc.reduce_sum %[[Y:.+]] dims [1] : tensor<2x?x?xf64>
// CHECK-NEXT:    %[[R3:.+]] = lmc.reduce_sum %{{.+}} dims [2] : tensor<?x3x5xf64>
// CHECK-NEXT:    %[[R4:.+]] = lmc.reduce_sum %{{.+}} dims [] : tensor<4x4xf32>
// CHECK-NEXT:    return %[[R0]], %[[R1]], %[[R2]], %[[R3]], %[[R4]]
// GENERIC-LABEL: sym_name = "reduce_sum"
// GENERIC:       "lmc.reduce_sum"(%{{.+}}) <{dims = array<i64: 0, 1>}> : (tensor<?x?x192xf32>) -> tensor<192xf32>
// GENERIC:       "lmc.reduce_sum"(%{{.+}}) <{dims = array<i64: 0, 1, 2>}> : (tensor<?x?x64xf32>) -> tensor<f32>
func.func @reduce_sum(%dy: tensor<?x?x192xf32>, %x: tensor<?x?x64xf32>,
                      %y: tensor<2x?x?xf64>, %z: tensor<?x3x5xf64>,
                      %m: tensor<4x4xf32>)
    -> (tensor<192xf32>, tensor<f32>, tensor<2x?xf64>, tensor<?x3xf64>, tensor<4x4xf32>) {
  %0 = lmc.reduce_sum %dy dims [0, 1] : tensor<?x?x192xf32>
  %1 = lmc.reduce_sum %x dims [0, 1, 2] : tensor<?x?x64xf32>
  %2 = lmc.reduce_sum %y dims [1] : tensor<2x?x?xf64>
  %3 = lmc.reduce_sum %z dims [2] : tensor<?x3x5xf64>
  %4 = lmc.reduce_sum %m dims [] : tensor<4x4xf32>
  return %0, %1, %2, %3, %4 : tensor<192xf32>, tensor<f32>, tensor<2x?xf64>, tensor<?x3xf64>, tensor<4x4xf32>
}

// Tests broadcast, the inverse shape map of reduce_sum: a 0-d input to every
// dimension, a bias vector to the leading dimensions, a middle dimension, and
// a dynamic input dimension against a static one of `like`. The result has
// the type of `like`.

// CHECK-LABEL: func.func @broadcast
// CHECK-SAME:    -> (tensor<?x?x64xf32>, tensor<?x?x192xf32>, tensor<2x7x3xf64>, tensor<2x7x3xf64>)
// CHECK-NEXT:    %[[B0:.+]] = lmc.broadcast %{{.+}} like %[[X:.+]] dims [0, 1, 2] : tensor<f32>, tensor<?x?x64xf32>
// CHECK-NEXT:    %[[B1:.+]] = lmc.broadcast %{{.+}} like %{{.+}} dims [0, 1] : tensor<192xf32>, tensor<?x?x192xf32>
// CHECK-NEXT:    %[[B2:.+]] = lmc.broadcast %{{.+}} like %[[L:.+]] dims [1] : tensor<2x3xf64>, tensor<2x7x3xf64>
// CHECK-NEXT:    %[[B3:.+]] = lmc.broadcast %{{.+}} like %[[L]] dims [0, 1] : tensor<?xf64>, tensor<2x7x3xf64>
// CHECK-NEXT:    return %[[B0]], %[[B1]], %[[B2]], %[[B3]]
// GENERIC-LABEL: sym_name = "broadcast"
// GENERIC:       "lmc.broadcast"(%{{.+}}, %{{.+}}) <{dims = array<i64: 0, 1, 2>}> : (tensor<f32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
func.func @broadcast(%s: tensor<f32>, %x: tensor<?x?x64xf32>,
                     %b: tensor<192xf32>, %dy: tensor<?x?x192xf32>,
                     %m: tensor<2x3xf64>, %l: tensor<2x7x3xf64>, %d: tensor<?xf64>)
    -> (tensor<?x?x64xf32>, tensor<?x?x192xf32>, tensor<2x7x3xf64>, tensor<2x7x3xf64>) {
  %0 = lmc.broadcast %s like %x dims [0, 1, 2] : tensor<f32>, tensor<?x?x64xf32>
  %1 = lmc.broadcast %b like %dy dims [0, 1] : tensor<192xf32>, tensor<?x?x192xf32>
  %2 = lmc.broadcast %m like %l dims [1] : tensor<2x3xf64>, tensor<2x7x3xf64>
  %3 = lmc.broadcast %d like %l dims [0, 1] : tensor<?xf64>, tensor<2x7x3xf64>
  return %0, %1, %2, %3 : tensor<?x?x64xf32>, tensor<?x?x192xf32>, tensor<2x7x3xf64>, tensor<2x7x3xf64>
}

// Tests that transpose swaps the last two dimensions, with leading batch
// dimensions, of a matrix, and with dynamic sizes.

// CHECK-LABEL: func.func @transpose
// CHECK-SAME:    -> (tensor<?x192x64xf32>, tensor<5x3xf64>, tensor<2x?x?x7xf32>)
// CHECK-NEXT:    %[[T0:.+]] = lmc.transpose %{{.+}} : tensor<?x64x192xf32>
// CHECK-NEXT:    %[[T1:.+]] = lmc.transpose %{{.+}} : tensor<3x5xf64>
// CHECK-NEXT:    %[[T2:.+]] = lmc.transpose %{{.+}} : tensor<2x?x7x?xf32>
// CHECK-NEXT:    return %[[T0]], %[[T1]], %[[T2]]
// GENERIC-LABEL: sym_name = "transpose"
// GENERIC:       "lmc.transpose"(%{{.+}}) : (tensor<?x64x192xf32>) -> tensor<?x192x64xf32>
func.func @transpose(%x: tensor<?x64x192xf32>, %m: tensor<3x5xf64>, %y: tensor<2x?x7x?xf32>)
    -> (tensor<?x192x64xf32>, tensor<5x3xf64>, tensor<2x?x?x7xf32>) {
  %0 = lmc.transpose %x : tensor<?x64x192xf32>
  %1 = lmc.transpose %m : tensor<3x5xf64>
  %2 = lmc.transpose %y : tensor<2x?x7x?xf32>
  return %0, %1, %2 : tensor<?x192x64xf32>, tensor<5x3xf64>, tensor<2x?x?x7xf32>
}

// Tests that flatten collapses the leading dimensions: dynamic if any of them
// is, their product if all are static, and a matrix unchanged.

// CHECK-LABEL: func.func @flatten
// CHECK-SAME:    -> (tensor<?x64xf32>, tensor<42x3xf64>, tensor<?x3xf64>, tensor<5x8xf32>)
// CHECK-NEXT:    %[[F0:.+]] = lmc.flatten %{{.+}} : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[F1:.+]] = lmc.flatten %{{.+}} : tensor<2x7x3x3xf64>
// CHECK-NEXT:    %[[F2:.+]] = lmc.flatten %{{.+}} : tensor<2x?x3xf64>
// CHECK-NEXT:    %[[F3:.+]] = lmc.flatten %{{.+}} : tensor<5x8xf32>
// CHECK-NEXT:    return %[[F0]], %[[F1]], %[[F2]], %[[F3]]
// GENERIC-LABEL: sym_name = "flatten"
// GENERIC:       "lmc.flatten"(%{{.+}}) : (tensor<2x7x3x3xf64>) -> tensor<42x3xf64>
func.func @flatten(%x: tensor<?x?x64xf32>, %y: tensor<2x7x3x3xf64>,
                   %z: tensor<2x?x3xf64>, %m: tensor<5x8xf32>)
    -> (tensor<?x64xf32>, tensor<42x3xf64>, tensor<?x3xf64>, tensor<5x8xf32>) {
  %0 = lmc.flatten %x : tensor<?x?x64xf32>
  %1 = lmc.flatten %y : tensor<2x7x3x3xf64>
  %2 = lmc.flatten %z : tensor<2x?x3xf64>
  %3 = lmc.flatten %m : tensor<5x8xf32>
  return %0, %1, %2, %3 : tensor<?x64xf32>, tensor<42x3xf64>, tensor<?x3xf64>, tensor<5x8xf32>
}

// Tests that unflatten takes the type of `like`: dynamic rows into dynamic
// leading sizes, static rows into static ones, a dynamic last dimension of
// the input against a static one, and a matrix reference.

// CHECK-LABEL: func.func @unflatten
// CHECK-SAME:    -> (tensor<?x?x64xf32>, tensor<2x7x3xf64>, tensor<2x7x3xf64>, tensor<5x8xf32>)
// CHECK-NEXT:    %[[U0:.+]] = lmc.unflatten %{{.+}} like %{{.+}} : tensor<?x64xf32>, tensor<?x?x64xf32>
// CHECK-NEXT:    %[[U1:.+]] = lmc.unflatten %{{.+}} like %[[L:.+]] : tensor<14x3xf64>, tensor<2x7x3xf64>
// CHECK-NEXT:    %[[U2:.+]] = lmc.unflatten %{{.+}} like %[[L]] : tensor<?x?xf64>, tensor<2x7x3xf64>
// CHECK-NEXT:    %[[U3:.+]] = lmc.unflatten %{{.+}} like %{{.+}} : tensor<5x8xf32>, tensor<5x8xf32>
// CHECK-NEXT:    return %[[U0]], %[[U1]], %[[U2]], %[[U3]]
// GENERIC-LABEL: sym_name = "unflatten"
// GENERIC:       "lmc.unflatten"(%{{.+}}, %{{.+}}) : (tensor<?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
func.func @unflatten(%f: tensor<?x64xf32>, %ref: tensor<?x?x64xf32>,
                     %g: tensor<14x3xf64>, %l: tensor<2x7x3xf64>,
                     %d: tensor<?x?xf64>, %m: tensor<5x8xf32>)
    -> (tensor<?x?x64xf32>, tensor<2x7x3xf64>, tensor<2x7x3xf64>, tensor<5x8xf32>) {
  %0 = lmc.unflatten %f like %ref : tensor<?x64xf32>, tensor<?x?x64xf32>
  %1 = lmc.unflatten %g like %l : tensor<14x3xf64>, tensor<2x7x3xf64>
  %2 = lmc.unflatten %d like %l : tensor<?x?xf64>, tensor<2x7x3xf64>
  %3 = lmc.unflatten %m like %m : tensor<5x8xf32>, tensor<5x8xf32>
  return %0, %1, %2, %3 : tensor<?x?x64xf32>, tensor<2x7x3xf64>, tensor<2x7x3xf64>, tensor<5x8xf32>
}

// Tests that concat multiplies the last dimension by the number of operands
// (three, the inverse of split into 3; one; two of rank 1) and keeps the
// leading dimensions.

// CHECK-LABEL: func.func @concat
// CHECK-SAME:    -> (tensor<?x?x192xf32>, tensor<2x5xf64>, tensor<8xf32>)
// CHECK-NEXT:    %[[C0:.+]] = lmc.concat %[[Q:.+]], %[[K:.+]], %[[V:.+]] : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
// CHECK-NEXT:    %[[C1:.+]] = lmc.concat %{{.+}} : tensor<2x5xf64>
// CHECK-NEXT:    %[[C2:.+]] = lmc.concat %[[W:.+]], %[[W]] : tensor<4xf32>, tensor<4xf32>
// CHECK-NEXT:    return %[[C0]], %[[C1]], %[[C2]]
// GENERIC-LABEL: sym_name = "concat"
// GENERIC:       "lmc.concat"(%{{.+}}, %{{.+}}, %{{.+}}) : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x192xf32>
func.func @concat(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>,
                  %one: tensor<2x5xf64>, %w: tensor<4xf32>)
    -> (tensor<?x?x192xf32>, tensor<2x5xf64>, tensor<8xf32>) {
  %0 = lmc.concat %q, %k, %v : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %1 = lmc.concat %one : tensor<2x5xf64>
  %2 = lmc.concat %w, %w : tensor<4xf32>, tensor<4xf32>
  return %0, %1, %2 : tensor<?x?x192xf32>, tensor<2x5xf64>, tensor<8xf32>
}

// Tests gelu_grad with both approximations.

// CHECK-LABEL: func.func @gelu_grad
// CHECK-SAME:    -> (tensor<?x?x256xf32>, tensor<2x3xf64>)
// CHECK-NEXT:    %[[G0:.+]] = lmc.gelu_grad %[[X:.+]], %[[DY:.+]] tanh : tensor<?x?x256xf32>
// CHECK-NEXT:    %[[G1:.+]] = lmc.gelu_grad %{{.+}}, %{{.+}} exact : tensor<2x3xf64>
// CHECK-NEXT:    return %[[G0]], %[[G1]]
// GENERIC-LABEL: sym_name = "gelu_grad"
// GENERIC:       "lmc.gelu_grad"(%{{.+}}, %{{.+}}) <{approximation = 0 : i32}> : (tensor<?x?x256xf32>, tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
// GENERIC-NEXT:  "lmc.gelu_grad"(%{{.+}}, %{{.+}}) <{approximation = 1 : i32}> : (tensor<2x3xf64>, tensor<2x3xf64>) -> tensor<2x3xf64>
func.func @gelu_grad(%x: tensor<?x?x256xf32>, %dy: tensor<?x?x256xf32>,
                     %y: tensor<2x3xf64>, %dz: tensor<2x3xf64>)
    -> (tensor<?x?x256xf32>, tensor<2x3xf64>) {
  %0 = lmc.gelu_grad %x, %dy tanh : tensor<?x?x256xf32>
  %1 = lmc.gelu_grad %y, %dz exact : tensor<2x3xf64>
  return %0, %1 : tensor<?x?x256xf32>, tensor<2x3xf64>
}

// Tests layer_norm_grad: the input gradient has the input's type, the weight
// and bias gradients the weight's; a rank-1 input and f64 with a non-default
// eps round trip too.

// CHECK-LABEL: func.func @layer_norm_grad
// CHECK-SAME:    -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<4xf64>, tensor<4xf64>, tensor<4xf64>)
// CHECK-NEXT:    %[[DX:.+]], %[[DW:.+]], %[[DB:.+]] = lmc.layer_norm_grad %{{.+}}, %{{.+}}, %{{.+}} eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
// CHECK-NEXT:    %[[EX:.+]], %[[EW:.+]], %[[EB:.+]] = lmc.layer_norm_grad %{{.+}}, %{{.+}}, %{{.+}} eps(1.000000e-03) : tensor<4xf64>, tensor<4xf64>
// CHECK-NEXT:    return %[[DX]], %[[DW]], %[[DB]], %[[EX]], %[[EW]], %[[EB]]
// GENERIC-LABEL: sym_name = "layer_norm_grad"
// GENERIC:       "lmc.layer_norm_grad"(%{{.+}}, %{{.+}}, %{{.+}}) <{eps = 1.000000e-05 : f64}> : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>)
func.func @layer_norm_grad(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<?x?x64xf32>,
                           %v: tensor<4xf64>)
    -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<4xf64>, tensor<4xf64>, tensor<4xf64>) {
  %dx, %dw, %db = lmc.layer_norm_grad %x, %w, %dy eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  %ex, %ew, %eb = lmc.layer_norm_grad %v, %v, %v eps(1.0e-3) : tensor<4xf64>, tensor<4xf64>
  return %dx, %dw, %db, %ex, %ew, %eb : tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<4xf64>, tensor<4xf64>, tensor<4xf64>
}

// Tests rms_norm_grad: the input gradient has the input's type, the weight
// gradient the weight's; a rank-1 f64 input with a non-default eps round
// trips too.

// CHECK-LABEL: func.func @rms_norm_grad
// CHECK-SAME:    -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<4xf64>, tensor<4xf64>)
// CHECK-NEXT:    %[[DX:.+]], %[[DW:.+]] = lmc.rms_norm_grad %{{.+}}, %{{.+}}, %{{.+}} eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
// CHECK-NEXT:    %[[EX:.+]], %[[EW:.+]] = lmc.rms_norm_grad %{{.+}}, %{{.+}}, %{{.+}} eps(1.000000e-03) : tensor<4xf64>, tensor<4xf64>
// CHECK-NEXT:    return %[[DX]], %[[DW]], %[[EX]], %[[EW]]
// GENERIC-LABEL: sym_name = "rms_norm_grad"
// GENERIC:       "lmc.rms_norm_grad"(%{{.+}}, %{{.+}}, %{{.+}}) <{eps = 1.000000e-05 : f64}> : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>)
func.func @rms_norm_grad(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<?x?x64xf32>,
                         %v: tensor<4xf64>)
    -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<4xf64>, tensor<4xf64>) {
  %dx, %dw = lmc.rms_norm_grad %x, %w, %dy eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  %ex, %ew = lmc.rms_norm_grad %v, %v, %v eps(1.0e-3) : tensor<4xf64>, tensor<4xf64>
  return %dx, %dw, %ex, %ew : tensor<?x?x64xf32>, tensor<64xf32>, tensor<4xf64>, tensor<4xf64>
}

// Tests softmax_grad over attention probabilities and over a vector.

// CHECK-LABEL: func.func @softmax_grad
// CHECK-SAME:    -> (tensor<?x2x?x?xf32>, tensor<7xf64>)
// CHECK-NEXT:    %[[S0:.+]] = lmc.softmax_grad %[[P:.+]], %[[DP:.+]] : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[S1:.+]] = lmc.softmax_grad %{{.+}}, %{{.+}} : tensor<7xf64>
// CHECK-NEXT:    return %[[S0]], %[[S1]]
// GENERIC-LABEL: sym_name = "softmax_grad"
// GENERIC:       "lmc.softmax_grad"(%{{.+}}, %{{.+}}) : (tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32>
func.func @softmax_grad(%p: tensor<?x2x?x?xf32>, %dp: tensor<?x2x?x?xf32>,
                        %y: tensor<7xf64>, %dy: tensor<7xf64>)
    -> (tensor<?x2x?x?xf32>, tensor<7xf64>) {
  %0 = lmc.softmax_grad %p, %dp : tensor<?x2x?x?xf32>
  %1 = lmc.softmax_grad %y, %dy : tensor<7xf64>
  return %0, %1 : tensor<?x2x?x?xf32>, tensor<7xf64>
}

// Tests embedding_grad and position_embedding_grad: the table type is the
// result type; dynamic and static grads, i32 and i64 ids, f32 and f64; a
// static sequence length may equal the rows of the position table.

// CHECK-LABEL: func.func @embedding_grads
// CHECK-SAME:    -> (tensor<256x64xf32>, tensor<10x4xf64>, tensor<64x64xf32>, tensor<16x4xf64>)
// CHECK-NEXT:    %[[E0:.+]] = lmc.embedding_grad %[[DX:.+]][%[[TOK:.+]]] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
// CHECK-NEXT:    %[[E1:.+]] = lmc.embedding_grad %{{.+}}[%{{.+}}] : tensor<2x16x4xf64>, tensor<2x16xi64> -> tensor<10x4xf64>
// CHECK-NEXT:    %[[P0:.+]] = lmc.position_embedding_grad %[[DX]] : tensor<?x?x64xf32> -> tensor<64x64xf32>
// CHECK-NEXT:    %[[P1:.+]] = lmc.position_embedding_grad %{{.+}} : tensor<2x16x4xf64> -> tensor<16x4xf64>
// CHECK-NEXT:    return %[[E0]], %[[E1]], %[[P0]], %[[P1]]
// GENERIC-LABEL: sym_name = "embedding_grads"
// GENERIC:       "lmc.embedding_grad"(%{{.+}}, %{{.+}}) <{operandSegmentSizes = array<i32: 1, 1, 0, 0>}> : (tensor<?x?x64xf32>, tensor<?x?xi32>) -> tensor<256x64xf32>
// GENERIC:       "lmc.position_embedding_grad"(%{{.+}}) : (tensor<?x?x64xf32>) -> tensor<64x64xf32>
func.func @embedding_grads(%dx: tensor<?x?x64xf32>, %tokens: tensor<?x?xi32>,
                           %g: tensor<2x16x4xf64>, %ids: tensor<2x16xi64>)
    -> (tensor<256x64xf32>, tensor<10x4xf64>, tensor<64x64xf32>, tensor<16x4xf64>) {
  %0 = lmc.embedding_grad %dx[%tokens] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %1 = lmc.embedding_grad %g[%ids] : tensor<2x16x4xf64>, tensor<2x16xi64> -> tensor<10x4xf64>
  %2 = lmc.position_embedding_grad %dx : tensor<?x?x64xf32> -> tensor<64x64xf32>
  %3 = lmc.position_embedding_grad %g : tensor<2x16x4xf64> -> tensor<16x4xf64>
  return %0, %1, %2, %3 : tensor<256x64xf32>, tensor<10x4xf64>, tensor<64x64xf32>, tensor<16x4xf64>
}

// Tests that embedding_grad takes an offset (the gradient of a block of rows
// of a larger table).

// CHECK-LABEL: func.func @embedding_grad_offset
// CHECK-SAME:    (%{{.+}}: tensor<?x?x64xf32>, %{{.+}}: tensor<?x?xi32>, %[[OFF:.+]]: index)
// CHECK-NEXT:    %[[E:.+]] = lmc.embedding_grad %{{.+}}[%{{.+}}] offset(%[[OFF]]) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<128x64xf32>
// CHECK-NEXT:    return %[[E]]
// GENERIC-LABEL: sym_name = "embedding_grad_offset"
// GENERIC:       "lmc.embedding_grad"(%{{.+}}, %{{.+}}, %{{.+}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> : (tensor<?x?x64xf32>, tensor<?x?xi32>, index) -> tensor<128x64xf32>
func.func @embedding_grad_offset(%dx: tensor<?x?x64xf32>, %tokens: tensor<?x?xi32>, %off: index)
    -> tensor<128x64xf32> {
  %0 = lmc.embedding_grad %dx[%tokens] offset(%off) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<128x64xf32>
  return %0 : tensor<128x64xf32>
}

// Tests that embedding_grad takes an accumulator (`into`), alone and after
// an offset.

// CHECK-LABEL: func.func @embedding_grad_into
// CHECK-SAME:    (%{{.+}}: tensor<?x?x64xf32>, %{{.+}}: tensor<?x?xi32>, %[[OFF:.+]]: index, %[[ACC:.+]]: tensor<256x64xf32>, %[[BLOCK:.+]]: tensor<128x64xf32>)
// CHECK-NEXT:    %[[E:.+]] = lmc.embedding_grad %{{.+}}[%{{.+}}] into(%[[ACC]]) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
// CHECK-NEXT:    %[[F:.+]] = lmc.embedding_grad %{{.+}}[%{{.+}}] offset(%[[OFF]]) into(%[[BLOCK]]) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<128x64xf32>
// CHECK-NEXT:    return %[[E]], %[[F]]
// GENERIC-LABEL: sym_name = "embedding_grad_into"
// GENERIC:       "lmc.embedding_grad"(%{{.+}}, %{{.+}}, %{{.+}}) <{operandSegmentSizes = array<i32: 1, 1, 0, 1>}> : (tensor<?x?x64xf32>, tensor<?x?xi32>, tensor<256x64xf32>) -> tensor<256x64xf32>
// GENERIC:       "lmc.embedding_grad"(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 1>}> : (tensor<?x?x64xf32>, tensor<?x?xi32>, index, tensor<128x64xf32>) -> tensor<128x64xf32>
func.func @embedding_grad_into(%dx: tensor<?x?x64xf32>, %tokens: tensor<?x?xi32>, %off: index,
                               %acc: tensor<256x64xf32>, %block: tensor<128x64xf32>)
    -> (tensor<256x64xf32>, tensor<128x64xf32>) {
  %0 = lmc.embedding_grad %dx[%tokens] into(%acc) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  %1 = lmc.embedding_grad %dx[%tokens] offset(%off) into(%block) : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<128x64xf32>
  return %0, %1 : tensor<256x64xf32>, tensor<128x64xf32>
}

// Tests cross_entropy_grad: the result has the logits' type; rank-3 f32
// logits with i32 targets, and rank-2 f64 logits with i64 targets.

// CHECK-LABEL: func.func @cross_entropy_grad
// CHECK-SAME:    -> (tensor<?x?x256xf32>, tensor<8x5xf64>)
// CHECK-NEXT:    %[[D0:.+]] = lmc.cross_entropy_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
// CHECK-NEXT:    %[[D1:.+]] = lmc.cross_entropy_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<8x5xf64>, tensor<8xi64>, tensor<f64>
// CHECK-NEXT:    return %[[D0]], %[[D1]]
// GENERIC-LABEL: sym_name = "cross_entropy_grad"
// GENERIC:       "lmc.cross_entropy_grad"(%{{.+}}, %{{.+}}, %{{.+}}) : (tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>) -> tensor<?x?x256xf32>
func.func @cross_entropy_grad(%logits: tensor<?x?x256xf32>, %targets: tensor<?x?xi32>, %dloss: tensor<f32>,
                              %l2: tensor<8x5xf64>, %t2: tensor<8xi64>, %d2: tensor<f64>)
    -> (tensor<?x?x256xf32>, tensor<8x5xf64>) {
  %0 = lmc.cross_entropy_grad %logits, %targets, %dloss : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %1 = lmc.cross_entropy_grad %l2, %t2, %d2 : tensor<8x5xf64>, tensor<8xi64>, tensor<f64>
  return %0, %1 : tensor<?x?x256xf32>, tensor<8x5xf64>
}

// Tests cross_entropy_grad storing its result as bfloat16
// (lmc-bf16-storage): the result type is printed after `->` only then.

// CHECK-LABEL: func.func @cross_entropy_grad_bf16
// CHECK-NEXT:    lmc.cross_entropy_grad %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32> -> tensor<?x?x256xbf16>
// GENERIC-LABEL: sym_name = "cross_entropy_grad_bf16"
// GENERIC:       "lmc.cross_entropy_grad"(%{{.+}}, %{{.+}}, %{{.+}}) : (tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>) -> tensor<?x?x256xbf16>
func.func @cross_entropy_grad_bf16(%logits: tensor<?x?x256xf32>, %targets: tensor<?x?xi32>, %dloss: tensor<f32>) -> tensor<?x?x256xbf16> {
  %0 = lmc.cross_entropy_grad %logits, %targets, %dloss : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32> -> tensor<?x?x256xbf16>
  return %0 : tensor<?x?x256xbf16>
}

// Tests cross_entropy_grad over padded logits (classes(N)).

// CHECK-LABEL: func.func @cross_entropy_grad_padded
// CHECK-NEXT:    %[[DP:.+]] = lmc.cross_entropy_grad %{{.+}}, %{{.+}}, %{{.+}} classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
// CHECK-NEXT:    return %[[DP]]
// GENERIC-LABEL: sym_name = "cross_entropy_grad_padded"
// GENERIC:       "lmc.cross_entropy_grad"(%{{.+}}, %{{.+}}, %{{.+}}) <{classes = 250 : i64}>
func.func @cross_entropy_grad_padded(%logits: tensor<?x?x256xf32>, %targets: tensor<?x?xi32>, %dloss: tensor<f32>)
    -> tensor<?x?x256xf32> {
  %0 = lmc.cross_entropy_grad %logits, %targets, %dloss classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  return %0 : tensor<?x?x256xf32>
}

// Tests chunked_head_loss: the loss (tensor<f32>) and the gradients of the
// input's and the weight's types; a transposed [V, C] head with padding
// and an untied [C, V] head.

// CHECK-LABEL: func.func @chunked_head_loss
// CHECK-NEXT:    %{{.+}}, %{{.+}}, %{{.+}} = lmc.chunked_head_loss %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} transpose_b classes(250) rows(128) : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
// CHECK-NEXT:    %{{.+}}, %{{.+}}, %{{.+}} = lmc.chunked_head_loss %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} rows(7) : tensor<8x64xf32>, tensor<64x256xf32>, tensor<8xi32>, tensor<f32>
// GENERIC-LABEL: sym_name = "chunked_head_loss"
// GENERIC:       "lmc.chunked_head_loss"(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) <{classes = 250 : i64, rows = 128 : i64, transpose_b}> : (tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>) -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>)
func.func @chunked_head_loss(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>, %s: tensor<f32>,
                             %x2: tensor<8x64xf32>, %w2: tensor<64x256xf32>, %t2: tensor<8xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<64x256xf32>) {
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s transpose_b classes(250) rows(128) : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
  %l2, %dx2, %dw2 = lmc.chunked_head_loss %x2, %w2, %t2, %s rows(7) : tensor<8x64xf32>, tensor<64x256xf32>, tensor<8xi32>, tensor<f32>
  return %l, %dx, %dw, %dw2 : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<64x256xf32>
}

// Tests adamw: three results of the parameter's type; f32 scalars with an
// i64 step, and f64 scalars with an i32 step.

// CHECK-LABEL: func.func @adamw
// CHECK-SAME:    -> (tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>, tensor<4xf64>, tensor<4xf64>, tensor<4xf64>)
// CHECK-NEXT:    %[[P1:.+]], %[[M1:.+]], %[[V1:.+]] = lmc.adamw %[[P:[^,]+]], %[[G:[^,]+]], %[[M:[^,]+]], %[[V:[^ ]+]] lr(%[[LR:.+]]) grad_scale(%[[S:.+]]) step(%[[T:.+]]) betas(%[[B1:.+]], %[[B2:.+]]) eps(%[[EPS:.+]]) weight_decay(%[[WD:.+]]) : tensor<64x192xf32>, f32, i64
// CHECK-NEXT:    %[[Q1:.+]], %[[N1:.+]], %[[W1:.+]] = lmc.adamw %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} lr(%{{.+}}) grad_scale(%{{.+}}) step(%{{.+}}) betas(%{{.+}}, %{{.+}}) eps(%{{.+}}) weight_decay(%{{.+}}) : tensor<4xf64>, f64, i32
// CHECK-NEXT:    return %[[P1]], %[[M1]], %[[V1]], %[[Q1]], %[[N1]], %[[W1]]
// GENERIC-LABEL: sym_name = "adamw"
// GENERIC:       "lmc.adamw"(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>, f32, f32, i64, f32, f32, f32, f32) -> (tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>)
func.func @adamw(%p: tensor<64x192xf32>, %g: tensor<64x192xf32>, %m: tensor<64x192xf32>, %v: tensor<64x192xf32>,
                 %lr: f32, %s: f32, %t: i64, %b1: f32, %b2: f32, %eps: f32, %wd: f32,
                 %q: tensor<4xf64>, %lr64: f64, %t32: i32)
    -> (tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>, tensor<4xf64>, tensor<4xf64>, tensor<4xf64>) {
  %p1, %m1, %v1 = lmc.adamw %p, %g, %m, %v lr(%lr) grad_scale(%s) step(%t)
      betas(%b1, %b2) eps(%eps) weight_decay(%wd) : tensor<64x192xf32>, f32, i64
  %q1, %n1, %w1 = lmc.adamw %q, %q, %q, %q lr(%lr64) grad_scale(%lr64) step(%t32)
      betas(%lr64, %lr64) eps(%lr64) weight_decay(%lr64) : tensor<4xf64>, f64, i32
  return %p1, %m1, %v1, %q1, %n1, %w1 : tensor<64x192xf32>, tensor<64x192xf32>, tensor<64x192xf32>, tensor<4xf64>, tensor<4xf64>, tensor<4xf64>
}

// Tests adamw with a 0-d tensor grad_scale (computed on the device,
// lmc-device-scalars): its type printed after the step's.

// CHECK-LABEL: func.func @adamw_device_scale
// CHECK-NEXT:    lmc.adamw %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} lr(%{{.+}}) grad_scale(%{{.+}}) step(%{{.+}}) betas(%{{.+}}, %{{.+}}) eps(%{{.+}}) weight_decay(%{{.+}}) : tensor<64xf32>, f32, i64, tensor<f32>
// GENERIC-LABEL: sym_name = "adamw_device_scale"
// GENERIC:       "lmc.adamw"({{.+}}) : (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, f32, tensor<f32>, i64, f32, f32, f32, f32)
func.func @adamw_device_scale(%p: tensor<64xf32>, %lr: f32, %s: tensor<f32>, %t: i64)
    -> (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) {
  %p1, %m1, %v1 = lmc.adamw %p, %p, %p, %p lr(%lr) grad_scale(%s) step(%t)
      betas(%lr, %lr) eps(%lr) weight_decay(%lr) : tensor<64xf32>, f32, i64, tensor<f32>
  return %p1, %m1, %v1 : tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
}

// Tests causal_mask with `zero` (the gradient of the mask) next to the plain
// form: the `zero` unit attribute round trips and the type is kept.

// CHECK-LABEL: func.func @causal_mask_zero
// CHECK-SAME:    -> (tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>, tensor<3x3xf64>)
// CHECK-NEXT:    %[[Z:.+]] = lmc.causal_mask %{{.+}} zero : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[M:.+]] = lmc.causal_mask %{{.+}} : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[Z2:.+]] = lmc.causal_mask %{{.+}} zero : tensor<3x3xf64>
// CHECK-NEXT:    return %[[Z]], %[[M]], %[[Z2]]
// GENERIC-LABEL: sym_name = "causal_mask_zero"
// GENERIC:       "lmc.causal_mask"(%{{.+}}) <{zero}> : (tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32>
// GENERIC-NEXT:  "lmc.causal_mask"(%{{.+}}) : (tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32>
func.func @causal_mask_zero(%dy: tensor<?x2x?x?xf32>, %s: tensor<3x3xf64>)
    -> (tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>, tensor<3x3xf64>) {
  %0 = lmc.causal_mask %dy zero : tensor<?x2x?x?xf32>
  %1 = lmc.causal_mask %dy : tensor<?x2x?x?xf32>
  %2 = lmc.causal_mask %s zero : tensor<3x3xf64>
  return %0, %1, %2 : tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>, tensor<3x3xf64>
}

// Tests silu_grad, static and dynamic.

// CHECK-LABEL: func.func @silu_grad
// CHECK-NEXT:    %[[S0:.+]] = lmc.silu_grad %{{.+}}, %{{.+}} : tensor<?x?x256xf32>
// CHECK-NEXT:    %[[S1:.+]] = lmc.silu_grad %{{.+}}, %{{.+}} : tensor<2x3xf64>
// CHECK-NEXT:    return %[[S0]], %[[S1]]
// GENERIC-LABEL: sym_name = "silu_grad"
// GENERIC:       "lmc.silu_grad"(%{{.+}}, %{{.+}}) : (tensor<?x?x256xf32>, tensor<?x?x256xf32>) -> tensor<?x?x256xf32>
func.func @silu_grad(%x: tensor<?x?x256xf32>, %dy: tensor<?x?x256xf32>,
                     %y: tensor<2x3xf64>, %dz: tensor<2x3xf64>)
    -> (tensor<?x?x256xf32>, tensor<2x3xf64>) {
  %0 = lmc.silu_grad %x, %dy : tensor<?x?x256xf32>
  %1 = lmc.silu_grad %y, %dz : tensor<2x3xf64>
  return %0, %1 : tensor<?x?x256xf32>, tensor<2x3xf64>
}
