// RUN: lmc-opt %s -split-input-file | lmc-opt -split-input-file | FileCheck %s
// RUN: lmc-opt %s -split-input-file --mlir-print-op-generic | lmc-opt -split-input-file | FileCheck %s
// RUN: lmc-opt %s -split-input-file --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC
// RUN: lmc-opt %s -split-input-file -canonicalize -cse | FileCheck %s --check-prefix=OPT

// Round trip of every op of LMCPointToPointOps.td, in its custom and its
// generic form, and what their memory effects keep from generic cleanups.

// Tests a send and a receive of f32 activations with dynamic sizes between
// the stages of a pp x tp mesh, and of their sizes as i64, waited together.

// CHECK-LABEL: lmc.model @m
// CHECK-SAME:    attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>}
// CHECK-LABEL: func.func @tensors
// CHECK-SAME:    (%[[X:[^:]+]]: tensor<?x?x64xf32>, %[[S:[^:]+]]: tensor<2xi64>, %[[D0:[^:]+]]: index, %[[D1:[^:]+]]: index)
// CHECK-NEXT:    lmc.send %[[X]] to 1 over ["pp"] tag 12 : tensor<?x?x64xf32>
// CHECK-NEXT:    lmc.send %[[S]] to 0 over ["pp", "tp"] tag 0 : tensor<2xi64>
// CHECK-NEXT:    %[[P0:.+]] = lmc.recv_start from 0 over ["pp"] tag 12 [%[[D0]], %[[D1]]] : !lmc.pending<tensor<?x?x64xf32>>
// CHECK-NEXT:    %[[P1:.+]] = lmc.recv_start from 3 over ["pp", "tp"] tag 7 : !lmc.pending<tensor<2xi64>>
// CHECK-NEXT:    %[[W:.+]]:2 = lmc.wait %[[P0]], %[[P1]] : !lmc.pending<tensor<?x?x64xf32>>, !lmc.pending<tensor<2xi64>>
// CHECK-NEXT:    return %[[W]]#0, %[[W]]#1
// GENERIC-LABEL: sym_name = "tensors"
// GENERIC:       "lmc.send"(%{{.+}}) <{axes = ["pp"], peer = 1 : i64, tag = 12 : i64}> : (tensor<?x?x64xf32>) -> ()
// GENERIC:       "lmc.recv_start"(%{{.+}}, %{{.+}}) <{axes = ["pp"], peer = 0 : i64, tag = 12 : i64}> : (index, index) -> !lmc.pending<tensor<?x?x64xf32>>
// OPT-LABEL:     func.func @tensors
// OPT-COUNT-2:     lmc.send
// OPT-COUNT-2:     lmc.recv_start
// OPT:             lmc.wait
lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @tensors(%x: tensor<?x?x64xf32>, %s: tensor<2xi64>, %d0: index, %d1: index)
      -> (tensor<?x?x64xf32>, tensor<2xi64>) {
    lmc.send %x to 1 over ["pp"] tag 12 : tensor<?x?x64xf32>
    lmc.send %s to 0 over ["pp", "tp"] tag 0 : tensor<2xi64>
    %p0 = lmc.recv_start from 0 over ["pp"] tag 12 [%d0, %d1] : !lmc.pending<tensor<?x?x64xf32>>
    %p1 = lmc.recv_start from 3 over ["pp", "tp"] tag 7 : !lmc.pending<tensor<2xi64>>
    %w:2 = lmc.wait %p0, %p1 : !lmc.pending<tensor<?x?x64xf32>>, !lmc.pending<tensor<2xi64>>
    return %w#0, %w#1 : tensor<?x?x64xf32>, tensor<2xi64>
  }
}

// -----

// Tests that a send whose input is otherwise unused and a receive whose
// result is unused stay: their effects on the collective resource keep
// canonicalization and CSE from deleting or merging them.

// OPT-LABEL: func.func @kept
// OPT-NEXT:    lmc.send %{{.+}} to 1 over ["pp"] tag 3 : tensor<4xf32>
// OPT-NEXT:    lmc.send %{{.+}} to 1 over ["pp"] tag 3 : tensor<4xf32>
// OPT-NEXT:    %[[P:.+]] = lmc.recv_start from 1 over ["pp"] tag 4 : !lmc.pending<tensor<4xf32>>
// OPT-NEXT:    lmc.wait %[[P]]
// OPT-NEXT:    return
module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @kept(%x: tensor<4xf32>) {
    lmc.send %x to 1 over ["pp"] tag 3 : tensor<4xf32>
    lmc.send %x to 1 over ["pp"] tag 3 : tensor<4xf32>
    %p = lmc.recv_start from 1 over ["pp"] tag 4 : !lmc.pending<tensor<4xf32>>
    %y = lmc.wait %p : !lmc.pending<tensor<4xf32>>
    return
  }
}

// -----

// Tests the forms on buffers: a send of a strided f32 buffer, a receive
// into an i64 buffer and into a dynamic f32 buffer, waited by one
// buffer_wait.

// CHECK-LABEL: func.func @buffers
// CHECK-SAME:    (%[[A:[^:]+]]: memref<4x8xf32, strided<[16, 1]>>, %[[B:[^:]+]]: memref<3xi64>, %[[C:[^:]+]]: memref<?x8xf32>)
// CHECK-NEXT:    lmc.buffer_send %[[A]] to 1 over ["pp"] tag 2 : memref<4x8xf32, strided<[16, 1]>>
// CHECK-NEXT:    %[[H0:.+]] = lmc.buffer_recv_start %[[B]] from 1 over ["pp"] tag 5 : memref<3xi64>
// CHECK-NEXT:    %[[H1:.+]] = lmc.buffer_recv_start %[[C]] from 0 over ["tp"] tag 0 : memref<?x8xf32>
// CHECK-NEXT:    lmc.buffer_wait %[[H0]], %[[H1]]
// GENERIC-LABEL: sym_name = "buffers"
// GENERIC:       "lmc.buffer_send"(%{{.+}}) <{axes = ["pp"], peer = 1 : i64, tag = 2 : i64}> : (memref<4x8xf32, strided<[16, 1]>>) -> ()
// GENERIC:       "lmc.buffer_recv_start"(%{{.+}}) <{axes = ["pp"], peer = 1 : i64, tag = 5 : i64}> : (memref<3xi64>) -> i64
// OPT-LABEL:   func.func @buffers
// OPT-NEXT:      lmc.buffer_send
// OPT-NEXT:      lmc.buffer_recv_start
// OPT-NEXT:      lmc.buffer_recv_start
// OPT-NEXT:      lmc.buffer_wait
module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @buffers(%a: memref<4x8xf32, strided<[16, 1]>>, %b: memref<3xi64>, %c: memref<?x8xf32>) {
    lmc.buffer_send %a to 1 over ["pp"] tag 2 : memref<4x8xf32, strided<[16, 1]>>
    %h0 = lmc.buffer_recv_start %b from 1 over ["pp"] tag 5 : memref<3xi64>
    %h1 = lmc.buffer_recv_start %c from 0 over ["tp"] tag 0 : memref<?x8xf32>
    lmc.buffer_wait %h0, %h1
    return
  }
}
