// RUN: lmc-opt %s -split-input-file | lmc-opt -split-input-file | FileCheck %s
// RUN: lmc-opt %s -split-input-file --mlir-print-op-generic | lmc-opt -split-input-file | FileCheck %s
// RUN: lmc-opt %s -split-input-file --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: lmc-opt %s -split-input-file -canonicalize -cse | FileCheck %s --check-prefix=OPT

// Round trip of every op of LMCShardingOps.td, in its custom and its generic
// form. Ops with inferred result types return their results, so the function
// signatures pin the inferred types down.

// Tests axis_index with the mesh on a model and on a module, and without a
// mesh in scope; it is pure, so CSE merges two reads of one axis and
// canonicalization drops an unused one.

// CHECK-LABEL: lmc.model @m
// CHECK-LABEL: func.func @axis_index
// CHECK-SAME:    -> (index, index)
// CHECK-NEXT:    %[[TP:.+]] = lmc.axis_index "tp"
// CHECK-NEXT:    %[[DP:.+]] = lmc.axis_index "dp"
// CHECK-NEXT:    return %[[TP]], %[[DP]] : index, index
// GENERIC-LABEL: sym_name = "axis_index"
// GENERIC:       "lmc.axis_index"() <{axis = "tp"}> : () -> index
// OPT-LABEL:   func.func @axis_index
// OPT-NEXT:      %[[TP:.+]] = lmc.axis_index "tp"
// OPT-NEXT:      %[[DP:.+]] = lmc.axis_index "dp"
// OPT-NEXT:      return %[[TP]], %[[DP]]
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @axis_index() -> (index, index) {
    %0 = lmc.axis_index "tp"
    %1 = lmc.axis_index "dp"
    return %0, %1 : index, index
  }
}

// -----

// CHECK-LABEL: module attributes {lmc.mesh = #lmc.mesh<tp = 4>}
// CHECK-LABEL: func.func @on_module
// CHECK-NEXT:    %[[A:.+]] = lmc.axis_index "tp"
// CHECK-NEXT:    %[[B:.+]] = lmc.axis_index "tp"
// CHECK-NEXT:    %[[C:.+]] = lmc.axis_index "tp"
// CHECK-NEXT:    return %[[A]], %[[B]]
// OPT-LABEL:   func.func @on_module
// OPT-NEXT:      %[[A:.+]] = lmc.axis_index "tp"
// OPT-NEXT:      return %[[A]], %[[A]]
module attributes {lmc.mesh = #lmc.mesh<tp = 4>} {
  func.func @on_module() -> (index, index) {
    %0 = lmc.axis_index "tp"
    %1 = lmc.axis_index "tp"
    %2 = lmc.axis_index "tp"
    return %0, %1 : index, index
  }
}

// -----

// CHECK-LABEL: func.func @no_mesh
// CHECK-NEXT:    lmc.axis_index "tp"
func.func @no_mesh() -> index {
  %0 = lmc.axis_index "tp"
  return %0 : index
}

// -----

// Tests cross_entropy_stats: the logits' leading dimensions followed by 3, of
// the logits' element type, for rank-3 dynamic f32 logits with i32 targets
// and rank-2 static f64 logits with i64 targets.

// CHECK-LABEL: func.func @cross_entropy_stats
// CHECK-SAME:    (%{{.+}}: tensor<?x?x128xf32>, %{{.+}}: tensor<?x?xi32>, %{{.+}}: tensor<6x8xf64>, %{{.+}}: tensor<6xi64>, %[[OFF:.+]]: index)
// CHECK-SAME:    -> (tensor<?x?x3xf32>, tensor<6x3xf64>)
// CHECK-NEXT:    %[[S0:.+]] = lmc.cross_entropy_stats %{{.+}}, %{{.+}} offset(%[[OFF]]) : tensor<?x?x128xf32>, tensor<?x?xi32>
// CHECK-NEXT:    %[[S1:.+]] = lmc.cross_entropy_stats %{{.+}}, %{{.+}} offset(%[[OFF]]) : tensor<6x8xf64>, tensor<6xi64>
// CHECK-NEXT:    return %[[S0]], %[[S1]]
// GENERIC-LABEL: sym_name = "cross_entropy_stats"
// GENERIC:       "lmc.cross_entropy_stats"(%{{.+}}, %{{.+}}, %{{.+}}) : (tensor<?x?x128xf32>, tensor<?x?xi32>, index) -> tensor<?x?x3xf32>
func.func @cross_entropy_stats(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>,
                               %l2: tensor<6x8xf64>, %t2: tensor<6xi64>, %off: index)
    -> (tensor<?x?x3xf32>, tensor<6x3xf64>) {
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>
  %1 = lmc.cross_entropy_stats %l2, %t2 offset(%off) : tensor<6x8xf64>, tensor<6xi64>
  return %0, %1 : tensor<?x?x3xf32>, tensor<6x3xf64>
}

// -----

// Tests cross_entropy_combine: a 0-d loss and the leading dimensions for
// lse, for 2 blocks (f32, dynamic) and 1 block (f64, static).

// CHECK-LABEL: func.func @cross_entropy_combine
// CHECK-SAME:    -> (tensor<f32>, tensor<?x?xf32>, tensor<f64>, tensor<5xf64>)
// CHECK-NEXT:    %[[L0:.+]], %[[E0:.+]] = lmc.cross_entropy_combine %{{.+}} : tensor<?x?x6xf32>
// CHECK-NEXT:    %[[L1:.+]], %[[E1:.+]] = lmc.cross_entropy_combine %{{.+}} : tensor<5x3xf64>
// CHECK-NEXT:    return %[[L0]], %[[E0]], %[[L1]], %[[E1]]
// GENERIC-LABEL: sym_name = "cross_entropy_combine"
// GENERIC:       "lmc.cross_entropy_combine"(%{{.+}}) : (tensor<?x?x6xf32>) -> (tensor<f32>, tensor<?x?xf32>)
func.func @cross_entropy_combine(%s: tensor<?x?x6xf32>, %s2: tensor<5x3xf64>)
    -> (tensor<f32>, tensor<?x?xf32>, tensor<f64>, tensor<5xf64>) {
  %loss, %lse = lmc.cross_entropy_combine %s : tensor<?x?x6xf32>
  %loss2, %lse2 = lmc.cross_entropy_combine %s2 : tensor<5x3xf64>
  return %loss, %lse, %loss2, %lse2 : tensor<f32>, tensor<?x?xf32>, tensor<f64>, tensor<5xf64>
}

// -----

// Tests cross_entropy_shard_grad: the result has the logits' type; lse may be
// more static than the logits.

// CHECK-LABEL: func.func @cross_entropy_shard_grad
// CHECK-SAME:    -> (tensor<?x?x128xf32>, tensor<6x8xf64>)
// CHECK-NEXT:    %[[G0:.+]] = lmc.cross_entropy_shard_grad %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} offset(%{{.+}}) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<2x?xf32>
// CHECK-NEXT:    %[[G1:.+]] = lmc.cross_entropy_shard_grad %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} offset(%{{.+}}) : tensor<6x8xf64>, tensor<6xi64>, tensor<f64>, tensor<6xf64>
// CHECK-NEXT:    return %[[G0]], %[[G1]]
// GENERIC-LABEL: sym_name = "cross_entropy_shard_grad"
// GENERIC:       "lmc.cross_entropy_shard_grad"(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) : (tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<2x?xf32>, index) -> tensor<?x?x128xf32>
func.func @cross_entropy_shard_grad(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>,
                                    %g: tensor<f32>, %lse: tensor<2x?xf32>,
                                    %l2: tensor<6x8xf64>, %t2: tensor<6xi64>,
                                    %g2: tensor<f64>, %lse2: tensor<6xf64>, %off: index)
    -> (tensor<?x?x128xf32>, tensor<6x8xf64>) {
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<2x?xf32>
  %1 = lmc.cross_entropy_shard_grad %l2, %t2, %g2, %lse2 offset(%off) : tensor<6x8xf64>, tensor<6xi64>, tensor<f64>, tensor<6xf64>
  return %0, %1 : tensor<?x?x128xf32>, tensor<6x8xf64>
}

// -----

// Tests the vocabulary-parallel ops over padded logits: classes(N) counts
// global columns, so it may exceed the block's width.

// CHECK-LABEL: func.func @padded_blocks
// CHECK-NEXT:    %[[S:.+]] = lmc.cross_entropy_stats %{{.+}}, %{{.+}} offset(%{{.+}}) classes(250) : tensor<?x?x128xf32>, tensor<?x?xi32>
// CHECK-NEXT:    %[[G:.+]] = lmc.cross_entropy_shard_grad %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} offset(%{{.+}}) classes(250) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<?x?xf32>
// CHECK-NEXT:    return %[[S]], %[[G]]
// GENERIC-LABEL: sym_name = "padded_blocks"
// GENERIC:       "lmc.cross_entropy_stats"(%{{.+}}, %{{.+}}, %{{.+}}) <{classes = 250 : i64}>
// GENERIC:       "lmc.cross_entropy_shard_grad"(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) <{classes = 250 : i64}>
func.func @padded_blocks(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>,
                         %lse: tensor<?x?xf32>, %off: index)
    -> (tensor<?x?x3xf32>, tensor<?x?x128xf32>) {
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) classes(250) : tensor<?x?x128xf32>, tensor<?x?xi32>
  %1 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) classes(250) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<?x?xf32>
  return %0, %1 : tensor<?x?x3xf32>, tensor<?x?x128xf32>
}
