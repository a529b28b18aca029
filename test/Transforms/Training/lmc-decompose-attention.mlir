// RUN: lmc-opt %s -lmc-decompose-attention -split-input-file | FileCheck %s

// Tests that causal_attention becomes split_heads of q, k and v, the scores
// q k^T scaled by 1/sqrt(D) (D = 64 / 2 = 32), the causal mask, softmax, the
// weighted sum of the values and merge_heads.

// CHECK-LABEL: func.func @two_heads
// CHECK-SAME:    (%[[Q:.+]]: tensor<?x?x64xf32>, %[[K:.+]]: tensor<?x?x64xf32>, %[[V:.+]]: tensor<?x?x64xf32>)
// CHECK-NOT:     lmc.causal_attention
// CHECK:         %[[QH:.+]] = lmc.split_heads %[[Q]] heads(2) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[KH:.+]] = lmc.split_heads %[[K]] heads(2) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[VH:.+]] = lmc.split_heads %[[V]] heads(2) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[S:.+]] = lmc.matmul %[[QH]], %[[KH]] transpose_b : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
// CHECK-NEXT:    %[[SS:.+]] = lmc.scale %[[S]] by 0.1767766{{[0-9]*}} : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[M:.+]] = lmc.causal_mask %[[SS]] : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[P:.+]] = lmc.softmax %[[M]] : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[YH:.+]] = lmc.matmul %[[P]], %[[VH]] : tensor<?x2x?x?xf32>, tensor<?x2x?x32xf32>
// CHECK-NEXT:    %[[Y:.+]] = lmc.merge_heads %[[YH]] : tensor<?x2x?x32xf32>
// CHECK-NEXT:    return %[[Y]] : tensor<?x?x64xf32>
func.func @two_heads(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.causal_attention %q, %k, %v heads(2) : tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that static sizes and f64 carry through, with D = 48 / 3 = 16 and a
// scale of 1/4.

// CHECK-LABEL: func.func @static_f64
// CHECK:         %[[QH:.+]] = lmc.split_heads %{{.+}} heads(3) : tensor<2x5x48xf64>
// CHECK-NEXT:    %[[KH:.+]] = lmc.split_heads %{{.+}} heads(3) : tensor<2x5x48xf64>
// CHECK-NEXT:    %[[VH:.+]] = lmc.split_heads %{{.+}} heads(3) : tensor<2x5x48xf64>
// CHECK-NEXT:    %[[S:.+]] = lmc.matmul %[[QH]], %[[KH]] transpose_b : tensor<2x3x5x16xf64>, tensor<2x3x5x16xf64>
// CHECK-NEXT:    %[[SS:.+]] = lmc.scale %[[S]] by 2.500000e-01 : tensor<2x3x5x5xf64>
// CHECK-NEXT:    %[[M:.+]] = lmc.causal_mask %[[SS]] : tensor<2x3x5x5xf64>
// CHECK-NEXT:    %[[P:.+]] = lmc.softmax %[[M]] : tensor<2x3x5x5xf64>
// CHECK-NEXT:    %[[YH:.+]] = lmc.matmul %[[P]], %[[VH]] : tensor<2x3x5x5xf64>, tensor<2x3x5x16xf64>
// CHECK-NEXT:    %[[Y:.+]] = lmc.merge_heads %[[YH]] : tensor<2x3x5x16xf64>
// CHECK-NEXT:    return %[[Y]] : tensor<2x5x48xf64>
func.func @static_f64(%q: tensor<2x5x48xf64>, %k: tensor<2x5x48xf64>, %v: tensor<2x5x48xf64>) -> tensor<2x5x48xf64> {
  %0 = lmc.causal_attention %q, %k, %v heads(3) : tensor<2x5x48xf64>
  return %0 : tensor<2x5x48xf64>
}

// -----

// Tests that one head with D = 1 needs no scale (scaling by 1 folds away).

// CHECK-LABEL: func.func @unit_head
// CHECK:         %[[S:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_b : tensor<?x1x?x1xf32>, tensor<?x1x?x1xf32>
// CHECK-NOT:     lmc.scale
// CHECK:         lmc.causal_mask %[[S]] : tensor<?x1x?x?xf32>
func.func @unit_head(%q: tensor<?x?x1xf32>, %k: tensor<?x?x1xf32>, %v: tensor<?x?x1xf32>) -> tensor<?x?x1xf32> {
  %0 = lmc.causal_attention %q, %k, %v heads(1) : tensor<?x?x1xf32>
  return %0 : tensor<?x?x1xf32>
}

// -----

// Tests that the attention of every layer of a model is decomposed and the
// rest of the model is left alone.

// CHECK-LABEL: lmc.model @m
// CHECK:         lmc.param @w : tensor<8x8xf32>
// CHECK:         func.func @f
// CHECK-NOT:     lmc.causal_attention
// CHECK:         %[[W:.+]] = lmc.param_ref @w
// CHECK:         %[[H:.+]] = lmc.matmul %{{.+}}, %[[W]]
// CHECK:         lmc.split_heads %[[H]] heads(2)
// CHECK:         lmc.scale %{{.+}} by 5.000000e-01 : tensor<?x2x?x?xf32>
// CHECK:         %[[A:.+]] = lmc.merge_heads %{{.+}} : tensor<?x2x?x4xf32>
// CHECK:         lmc.split_heads %[[A]] heads(4)
// CHECK:         lmc.scale %{{.+}} by 0.707106{{[0-9]*}} : tensor<?x4x?x?xf32>
// CHECK:         %[[B:.+]] = lmc.merge_heads %{{.+}} : tensor<?x4x?x2xf32>
// CHECK-NOT:     lmc.causal_attention
// CHECK:         return %[[B]]
lmc.model @m {
  lmc.param @"w" : tensor<8x8xf32> init(normal, std = 2.000000e-02)
  func.func @f(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
    %w = lmc.param_ref @"w" : tensor<8x8xf32>
    %h = lmc.matmul %x, %w : tensor<?x?x8xf32>, tensor<8x8xf32>
    %a = lmc.causal_attention %h, %h, %h heads(2) : tensor<?x?x8xf32>
    %b = lmc.causal_attention %a, %a, %a heads(4) : tensor<?x?x8xf32>
    return %b : tensor<?x?x8xf32>
  }
}

// -----

// Tests grouped-query attention: the keys and values split into kv_heads(2)
// heads of D = 64 / 4 = 16 channels, each repeated to the query heads of its
// group (repeat_heads times(2)) before the products.

// CHECK-LABEL: func.func @grouped_query
// CHECK-SAME:    (%[[Q:.+]]: tensor<?x?x64xf32>, %[[K:.+]]: tensor<?x?x32xf32>, %[[V:.+]]: tensor<?x?x32xf32>)
// CHECK:         %[[QH:.+]] = lmc.split_heads %[[Q]] heads(4) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[KH:.+]] = lmc.split_heads %[[K]] heads(2) : tensor<?x?x32xf32>
// CHECK-NEXT:    %[[KR:.+]] = lmc.repeat_heads %[[KH]] times(2) : tensor<?x2x?x16xf32>
// CHECK-NEXT:    %[[VH:.+]] = lmc.split_heads %[[V]] heads(2) : tensor<?x?x32xf32>
// CHECK-NEXT:    %[[VR:.+]] = lmc.repeat_heads %[[VH]] times(2) : tensor<?x2x?x16xf32>
// CHECK-NEXT:    %[[S:.+]] = lmc.matmul %[[QH]], %[[KR]] transpose_b : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>
// CHECK-NEXT:    %[[SS:.+]] = lmc.scale %[[S]] by 2.500000e-01 : tensor<?x4x?x?xf32>
// CHECK-NEXT:    %[[M:.+]] = lmc.causal_mask %[[SS]] : tensor<?x4x?x?xf32>
// CHECK-NEXT:    %[[P:.+]] = lmc.softmax %[[M]] : tensor<?x4x?x?xf32>
// CHECK-NEXT:    %[[YH:.+]] = lmc.matmul %[[P]], %[[VR]] : tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>
// CHECK-NEXT:    %[[Y:.+]] = lmc.merge_heads %[[YH]] : tensor<?x4x?x16xf32>
// CHECK-NEXT:    return %[[Y]] : tensor<?x?x64xf32>
func.func @grouped_query(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.causal_attention %q, %k, %v heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that kv_heads equal to heads needs no repetition.

// CHECK-LABEL: func.func @kv_heads_equal
// CHECK-NOT:     lmc.repeat_heads
// CHECK:         return
func.func @kv_heads_equal(%q: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %0 = lmc.causal_attention %q, %q, %q heads(4) kv_heads(4) : tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}
