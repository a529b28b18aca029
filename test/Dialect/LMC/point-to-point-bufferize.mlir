// RUN: lmc-opt %s --lmc-bufferize --split-input-file | FileCheck %s
// RUN: lmc-opt %s --lmc-bufferize --lmc-free-buffers --split-input-file | FileCheck %s --check-prefix=FREE
// RUN: lmc-opt %s --lmc-bufferize --lmc-free-buffers --convert-lmc-to-runtime --split-input-file | FileCheck %s --check-prefix=CALLS

// Tests that lmc.send bufferizes to lmc.buffer_send of its operand's buffer
// as it is (a strided view, no copy: the runtime reads any layout); that
// lmc.recv_start becomes a new 64-byte-aligned buffer of the received type
// (its dynamic size from the size operand) and lmc.buffer_recv_start into
// it where the recv_start was, and lmc.wait one lmc.buffer_wait on the
// handles, whose results are the received buffers; i64 like f32. After
// convert-lmc-to-runtime the buffers are the calls' unranked memrefs.

// CHECK-LABEL: func.func @stage
// CHECK-SAME:    (%[[X:[^:]+]]: memref<?x8xf32>, %[[N:[^:]+]]: memref<2xi64>, %[[D:[^:]+]]: index)
// CHECK:         %[[V:.+]] = memref.subview %[[X]][0, 0] [%[[D]], 4] [1, 2] : memref<?x8xf32> to memref<?x4xf32, strided<[8, 2]>>
// CHECK-NEXT:    lmc.buffer_send %[[V]] to 1 over ["pp"] tag 1 : memref<?x4xf32, strided<[8, 2]>>
// CHECK-NEXT:    lmc.buffer_send %[[N]] to 1 over ["pp"] tag 2 : memref<2xi64>
// CHECK-NEXT:    %[[A:.+]] = memref.alloc(%[[D]]) {alignment = 64 : i64} : memref<?x8xf32>
// CHECK-NEXT:    %[[H0:.+]] = lmc.buffer_recv_start %[[A]] from 0 over ["pp"] tag 3 : memref<?x8xf32>
// CHECK-NEXT:    %[[B:.+]] = memref.alloc() {alignment = 64 : i64} : memref<2xi64>
// CHECK-NEXT:    %[[H1:.+]] = lmc.buffer_recv_start %[[B]] from 1 over ["pp", "tp"] tag 4 : memref<2xi64>
// CHECK-NEXT:    lmc.buffer_wait %[[H0]], %[[H1]]
// CHECK-NEXT:    return %[[A]], %[[B]]
// CHECK-NOT:     lmc.send
// CHECK-NOT:     lmc.recv_start
// CALLS-LABEL: func.func @stage
// CALLS:         memref.cast %{{.+}} : memref<?x4xf32, strided<[8, 2]>> to memref<*xf32>
// CALLS:         call @lmcrt_send_f32(
// CALLS:         call @lmcrt_send_i64(
// CALLS:         %[[H0:.+]] = call @lmcrt_recv_start_f32(
// CALLS:         %[[H1:.+]] = call @lmcrt_recv_start_i64(
// CALLS-NEXT:    call @lmcrt_collective_wait(%[[H0]])
// CALLS-NEXT:    call @lmcrt_collective_wait(%[[H1]])
module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @stage(%x: tensor<?x8xf32>, %n: tensor<2xi64>, %d: index)
      -> (tensor<?x8xf32>, tensor<2xi64>) attributes {llvm.emit_c_interface} {
    %half = tensor.extract_slice %x[0, 0] [%d, 4] [1, 2] : tensor<?x8xf32> to tensor<?x4xf32>
    lmc.send %half to 1 over ["pp"] tag 1 : tensor<?x4xf32>
    lmc.send %n to 1 over ["pp"] tag 2 : tensor<2xi64>
    %p = lmc.recv_start from 0 over ["pp"] tag 3 [%d] : !lmc.pending<tensor<?x8xf32>>
    %q = lmc.recv_start from 1 over ["pp", "tp"] tag 4 : !lmc.pending<tensor<2xi64>>
    %r:2 = lmc.wait %p, %q : !lmc.pending<tensor<?x8xf32>>, !lmc.pending<tensor<2xi64>>
    return %r#0, %r#1 : tensor<?x8xf32>, tensor<2xi64>
  }
}

// -----

// Tests the lifetimes lmc-free-buffers gives the buffers: a sent buffer is
// freed right after the send (the runtime has copied it), a received buffer
// whose tensor is never used stays alive until the wait (the transfer
// writes it until then), and a received buffer that is returned is not
// freed.

// FREE-LABEL: func.func @free
// FREE:         %[[S:.+]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// FREE-NEXT:    linalg.fill ins(%{{.+}} : f32) outs(%[[S]] : memref<4xf32>)
// FREE-NEXT:    lmc.buffer_send %[[S]] to 1 over ["pp"] tag 1 : memref<4xf32>
// FREE-NEXT:    memref.dealloc %[[S]] : memref<4xf32>
// FREE-NEXT:    %[[R0:.+]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// FREE-NEXT:    %[[H0:.+]] = lmc.buffer_recv_start %[[R0]] from 1 over ["pp"] tag 2
// FREE-NEXT:    %[[R1:.+]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// FREE-NEXT:    %[[H1:.+]] = lmc.buffer_recv_start %[[R1]] from 1 over ["pp"] tag 3
// FREE-NEXT:    lmc.buffer_wait %[[H0]], %[[H1]]
// FREE-NEXT:    memref.dealloc %[[R1]] : memref<4xf32>
// FREE-NEXT:    return %[[R0]] : memref<4xf32>
module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @free(%x: tensor<4xf32>) -> tensor<4xf32> attributes {llvm.emit_c_interface} {
    %one = arith.constant 1.0 : f32
    %e = tensor.empty() : tensor<4xf32>
    %f = linalg.fill ins(%one : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
    lmc.send %f to 1 over ["pp"] tag 1 : tensor<4xf32>
    %p = lmc.recv_start from 1 over ["pp"] tag 2 : !lmc.pending<tensor<4xf32>>
    %q = lmc.recv_start from 1 over ["pp"] tag 3 : !lmc.pending<tensor<4xf32>>
    %w:2 = lmc.wait %p, %q : !lmc.pending<tensor<4xf32>>, !lmc.pending<tensor<4xf32>>
    return %w#0 : tensor<4xf32>
  }
}
