// RUN: lmc-opt %s -split-input-file | lmc-opt -split-input-file | FileCheck %s
// RUN: lmc-opt %s -split-input-file --mlir-print-op-generic | lmc-opt -split-input-file | FileCheck %s
// RUN: lmc-opt %s -split-input-file --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: lmc-opt %s -split-input-file -canonicalize -cse | FileCheck %s --check-prefix=OPT

// Round trip of every op of LMCCollectiveOps.td, in its custom and its
// generic form, with the mesh on an lmc.model and on a module; and what the
// memory effects of the asynchronous forms keep from generic cleanups.

// Tests all_reduce with the mesh on a model: one operand over one axis, a
// bucket of operands of different types over both axes, and f64.

// CHECK-LABEL: lmc.model @m
// CHECK-SAME:    attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>}
// CHECK-LABEL: func.func @all_reduce
// CHECK-NEXT:    %[[R0:.+]] = lmc.all_reduce %{{.+}} over ["dp"] : tensor<64x256xf32>
// CHECK-NEXT:    %[[R1:.+]]:2 = lmc.all_reduce %{{.+}}, %{{.+}} over ["dp", "tp"] : tensor<64x256xf32>, tensor<?x256xf32>
// CHECK-NEXT:    %[[R2:.+]] = lmc.all_reduce %{{.+}} over ["tp"] : tensor<f64>
// CHECK-NEXT:    return %[[R0]], %[[R1]]#0, %[[R1]]#1, %[[R2]]
// GENERIC-LABEL: sym_name = "all_reduce"
// GENERIC:       "lmc.all_reduce"(%{{.+}}) <{axes = ["dp"]}> : (tensor<64x256xf32>) -> tensor<64x256xf32>
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @all_reduce(%a: tensor<64x256xf32>, %b: tensor<?x256xf32>, %s: tensor<f64>)
      -> (tensor<64x256xf32>, tensor<64x256xf32>, tensor<?x256xf32>, tensor<f64>) {
    %0 = lmc.all_reduce %a over ["dp"] : tensor<64x256xf32>
    %1:2 = lmc.all_reduce %a, %b over ["dp", "tp"] : tensor<64x256xf32>, tensor<?x256xf32>
    %2 = lmc.all_reduce %s over ["tp"] : tensor<f64>
    return %0, %1#0, %1#1, %2 : tensor<64x256xf32>, tensor<64x256xf32>, tensor<?x256xf32>, tensor<f64>
  }
}

// -----

// Tests all_gather with the mesh on a module: a static gathered dimension,
// a dynamic one (stays dynamic), two axes in either order (the group size
// is their product), and integer ids.

// CHECK:       module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 4>}
// CHECK-LABEL: func.func @all_gather
// CHECK-NEXT:    lmc.all_gather %{{.+}} over ["tp"] dim 2 : tensor<4x?x32xf32> -> tensor<4x?x128xf32>
// CHECK-NEXT:    lmc.all_gather %{{.+}} over ["tp"] dim 1 : tensor<4x?x32xf32> -> tensor<4x?x32xf32>
// CHECK-NEXT:    lmc.all_gather %{{.+}} over ["dp", "tp"] dim 0 : tensor<4x?x32xf32> -> tensor<32x?x32xf32>
// CHECK-NEXT:    lmc.all_gather %{{.+}} over ["tp", "dp"] dim 0 : tensor<4x?x32xf32> -> tensor<32x?x32xf32>
// CHECK-NEXT:    lmc.all_gather %{{.+}} over ["dp"] dim 0 : tensor<?x?xi32> -> tensor<?x?xi32>
// GENERIC-LABEL: sym_name = "all_gather"
// GENERIC:       "lmc.all_gather"(%{{.+}}) <{axes = ["tp"], dim = 2 : i64}> : (tensor<4x?x32xf32>) -> tensor<4x?x128xf32>
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 4>} {
  func.func @all_gather(%x: tensor<4x?x32xf32>, %ids: tensor<?x?xi32>)
      -> (tensor<4x?x128xf32>, tensor<4x?x32xf32>, tensor<32x?x32xf32>, tensor<32x?x32xf32>, tensor<?x?xi32>) {
    %0 = lmc.all_gather %x over ["tp"] dim 2 : tensor<4x?x32xf32> -> tensor<4x?x128xf32>
    %1 = lmc.all_gather %x over ["tp"] dim 1 : tensor<4x?x32xf32> -> tensor<4x?x32xf32>
    %2 = lmc.all_gather %x over ["dp", "tp"] dim 0 : tensor<4x?x32xf32> -> tensor<32x?x32xf32>
    %3 = lmc.all_gather %x over ["tp", "dp"] dim 0 : tensor<4x?x32xf32> -> tensor<32x?x32xf32>
    %4 = lmc.all_gather %ids over ["dp"] dim 0 : tensor<?x?xi32> -> tensor<?x?xi32>
    return %0, %1, %2, %3, %4 : tensor<4x?x128xf32>, tensor<4x?x32xf32>, tensor<32x?x32xf32>, tensor<32x?x32xf32>, tensor<?x?xi32>
  }
}

// -----

// Tests reduce_scatter: a static dimension divided by the group size, a
// dynamic one (stays dynamic), and a group of two axes.

// CHECK-LABEL: func.func @reduce_scatter
// CHECK-NEXT:    lmc.reduce_scatter %{{.+}} over ["dp"] dim 0 : tensor<8x64xf32> -> tensor<4x64xf32>
// CHECK-NEXT:    lmc.reduce_scatter %{{.+}} over ["dp"] dim 0 : tensor<?x64xf64> -> tensor<?x64xf64>
// CHECK-NEXT:    lmc.reduce_scatter %{{.+}} over ["dp", "tp"] dim 1 : tensor<8x64xf32> -> tensor<8x16xf32>
// GENERIC-LABEL: sym_name = "reduce_scatter"
// GENERIC:       "lmc.reduce_scatter"(%{{.+}}) <{axes = ["dp"], dim = 0 : i64}> : (tensor<8x64xf32>) -> tensor<4x64xf32>
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @reduce_scatter(%x: tensor<8x64xf32>, %y: tensor<?x64xf64>)
      -> (tensor<4x64xf32>, tensor<?x64xf64>, tensor<8x16xf32>) {
    %0 = lmc.reduce_scatter %x over ["dp"] dim 0 : tensor<8x64xf32> -> tensor<4x64xf32>
    %1 = lmc.reduce_scatter %y over ["dp"] dim 0 : tensor<?x64xf64> -> tensor<?x64xf64>
    %2 = lmc.reduce_scatter %x over ["dp", "tp"] dim 1 : tensor<8x64xf32> -> tensor<8x16xf32>
    return %0, %1, %2 : tensor<4x64xf32>, tensor<?x64xf64>, tensor<8x16xf32>
  }
}

// -----

// Tests the asynchronous forms: a bucket all_reduce_start, all_gather_start
// and reduce_scatter_start, computation between start and wait, and one
// wait for several transfers.

// CHECK-LABEL: func.func @async
// CHECK-NEXT:    %[[P:.+]]:2 = lmc.all_reduce_start %[[A:.+]], %[[B:.+]] over ["dp"] : tensor<64x256xf32>, tensor<256xf32>
// CHECK-NEXT:    %[[G:.+]] = lmc.all_gather_start %[[X:.+]] over ["tp"] dim 1 : tensor<?x32xf32> -> !lmc.pending<tensor<?x64xf32>>
// CHECK-NEXT:    %[[S:.+]] = lmc.reduce_scatter_start %[[A]] over ["dp", "tp"] dim 0 : tensor<64x256xf32> -> !lmc.pending<tensor<16x256xf32>>
// CHECK-NEXT:    %[[Y:.+]] = lmc.gelu %[[X]] tanh : tensor<?x32xf32>
// CHECK-NEXT:    %[[W:.+]]:2 = lmc.wait %[[P]]#0, %[[P]]#1 : !lmc.pending<tensor<64x256xf32>>, !lmc.pending<tensor<256xf32>>
// CHECK-NEXT:    %[[W2:.+]]:2 = lmc.wait %[[G]], %[[S]] : !lmc.pending<tensor<?x64xf32>>, !lmc.pending<tensor<16x256xf32>>
// CHECK-NEXT:    return %[[W]]#0, %[[W]]#1, %[[W2]]#0, %[[W2]]#1, %[[Y]]
// GENERIC-LABEL: sym_name = "async"
// GENERIC:       "lmc.all_reduce_start"(%{{.+}}, %{{.+}}) <{axes = ["dp"]}> : (tensor<64x256xf32>, tensor<256xf32>) -> (!lmc.pending<tensor<64x256xf32>>, !lmc.pending<tensor<256xf32>>)
// GENERIC:       "lmc.all_gather_start"(%{{.+}}) <{axes = ["tp"], dim = 1 : i64}> : (tensor<?x32xf32>) -> !lmc.pending<tensor<?x64xf32>>
// GENERIC:       "lmc.reduce_scatter_start"(%{{.+}}) <{axes = ["dp", "tp"], dim = 0 : i64}> : (tensor<64x256xf32>) -> !lmc.pending<tensor<16x256xf32>>
// GENERIC:       "lmc.wait"(%{{.+}}, %{{.+}}) : (!lmc.pending<tensor<64x256xf32>>, !lmc.pending<tensor<256xf32>>) -> (tensor<64x256xf32>, tensor<256xf32>)
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @async(%a: tensor<64x256xf32>, %b: tensor<256xf32>, %x: tensor<?x32xf32>)
      -> (tensor<64x256xf32>, tensor<256xf32>, tensor<?x64xf32>, tensor<16x256xf32>, tensor<?x32xf32>) {
    %p:2 = lmc.all_reduce_start %a, %b over ["dp"] : tensor<64x256xf32>, tensor<256xf32>
    %g = lmc.all_gather_start %x over ["tp"] dim 1 : tensor<?x32xf32> -> !lmc.pending<tensor<?x64xf32>>
    %s = lmc.reduce_scatter_start %a over ["dp", "tp"] dim 0 : tensor<64x256xf32> -> !lmc.pending<tensor<16x256xf32>>
    %y = lmc.gelu %x tanh : tensor<?x32xf32>
    %w:2 = lmc.wait %p#0, %p#1 : !lmc.pending<tensor<64x256xf32>>, !lmc.pending<tensor<256xf32>>
    %w2:2 = lmc.wait %g, %s : !lmc.pending<tensor<?x64xf32>>, !lmc.pending<tensor<16x256xf32>>
    return %w#0, %w#1, %w2#0, %w2#1, %y : tensor<64x256xf32>, tensor<256xf32>, tensor<?x64xf32>, tensor<16x256xf32>, tensor<?x32xf32>
  }
}

// -----

// Tests what canonicalization and CSE do: an unused blocking all_reduce
// (Pure) goes, two identical ones become one; the asynchronous collectives
// (an effect on the collective resource) stay, unused or identical.

// OPT-LABEL: func.func @effects
// OPT-NEXT:    %[[R:.+]] = lmc.all_reduce %[[A:.+]] over ["dp"]
// OPT-NEXT:    %[[P1:.+]] = lmc.all_reduce_start %[[A]] over ["dp"]
// OPT-NEXT:    %[[P2:.+]] = lmc.all_reduce_start %[[A]] over ["dp"]
// OPT-NEXT:    %[[W1:.+]] = lmc.wait %[[P1]]
// OPT-NEXT:    %[[W2:.+]] = lmc.wait %[[P2]]
// OPT-NEXT:    %[[P3:.+]] = lmc.all_reduce_start %[[A]] over ["dp"]
// OPT-NEXT:    %{{.+}} = lmc.wait %[[P3]]
// OPT-NEXT:    return %[[R]], %[[R]], %[[W1]], %[[W2]]
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @effects(%a: tensor<4xf32>)
      -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
    %unused = lmc.all_reduce %a over ["dp"] : tensor<4xf32>
    %0 = lmc.all_reduce %a over ["dp"] : tensor<4xf32>
    %1 = lmc.all_reduce %a over ["dp"] : tensor<4xf32>
    %p1 = lmc.all_reduce_start %a over ["dp"] : tensor<4xf32>
    %p2 = lmc.all_reduce_start %a over ["dp"] : tensor<4xf32>
    %w1 = lmc.wait %p1 : !lmc.pending<tensor<4xf32>>
    %w2 = lmc.wait %p2 : !lmc.pending<tensor<4xf32>>
    %p3 = lmc.all_reduce_start %a over ["dp"] : tensor<4xf32>
    %w3 = lmc.wait %p3 : !lmc.pending<tensor<4xf32>>
    return %0, %1, %w1, %w2 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  }
}
