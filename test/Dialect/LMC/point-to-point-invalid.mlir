// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule and constraint of the ops of
// LMCPointToPointOps.td, in the order of that file, and the rules of
// lmc.wait and lmc.buffer_wait about them. Rules the custom form cannot
// express use the generic form.

//===----------------------------------------------------------------------===//
// lmc.send (and the group, peer and tag rules shared by every op)
//===----------------------------------------------------------------------===//

// Tests that a send moves f32 or i64 tensors only.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%x: tensor<4xi32>) {
    // expected-error @+1 {{'lmc.send' op operand #0 must be ranked tensor of 32-bit float or 64-bit signless integer values, but got 'tensor<4xi32>'}}
    lmc.send %x to 1 over ["pp"] tag 0 : tensor<4xi32>
    return
  }
}

// -----

// Tests that a send names at least one mesh axis.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.send' op must name at least one mesh axis}}
    lmc.send %x to 1 over [] tag 0 : tensor<4xf32>
    return
  }
}

// -----

// Tests that a send needs a mesh in scope.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.send' op has no mesh in scope: an enclosing lmc.model or module needs an 'lmc.mesh' attribute}}
  lmc.send %x to 1 over ["pp"] tag 0 : tensor<4xf32>
  return
}

// -----

// Tests that the axes of a send are axes of the mesh.

module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.send' op mesh axis 'dp' is not in the mesh #lmc.mesh<pp = 2, tp = 2>}}
    lmc.send %x to 1 over ["dp"] tag 0 : tensor<4xf32>
    return
  }
}

// -----

// Tests that no axis is listed twice.

module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.send' op mesh axis 'pp' is listed twice}}
    lmc.send %x to 1 over ["pp", "pp"] tag 0 : tensor<4xf32>
    return
  }
}

// -----

// Tests that the axes are listed in mesh order (the runtime's numbering of
// the group's ranks).

module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.send' op axes must be listed in mesh order (the runtime numbers the ranks of a group row-major over the mesh's axes), got ["tp", "pp"] on #lmc.mesh<pp = 2, tp = 2>}}
    lmc.send %x to 1 over ["tp", "pp"] tag 0 : tensor<4xf32>
    return
  }
}

// -----

// Tests that the peer is a rank of the group: below its size.

module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 4>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.send' op peer 2 is not a rank of the group: ["pp"] on #lmc.mesh<pp = 2, tp = 4> has 2 ranks (0 to 1)}}
    lmc.send %x to 2 over ["pp"] tag 0 : tensor<4xf32>
    return
  }
}

// -----

// Tests that the peer is a rank of the group: not negative.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.send' op peer -1 is not a rank of the group}}
    lmc.send %x to -1 over ["pp"] tag 0 : tensor<4xf32>
    return
  }
}

// -----

// Tests that the tag is not negative.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%x: tensor<4xf32>) {
    // expected-error @+1 {{'lmc.send' op tag must be non-negative, got -3}}
    lmc.send %x to 1 over ["pp"] tag -3 : tensor<4xf32>
    return
  }
}

//===----------------------------------------------------------------------===//
// lmc.recv_start
//===----------------------------------------------------------------------===//

// -----

// Tests that a receive moves f32 or i64 tensors only.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f() {
    // expected-error @+1 {{'lmc.recv_start' op moves f32 or i64 elements only, got 'tensor<4xf64>'}}
    %p = lmc.recv_start from 1 over ["pp"] tag 0 : !lmc.pending<tensor<4xf64>>
    %x = lmc.wait %p : !lmc.pending<tensor<4xf64>>
    return
  }
}

// -----

// Tests that a receive has one size operand per dynamic dimension: too few.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%d: index) {
    // expected-error @+1 {{'lmc.recv_start' op needs one size operand per dynamic dimension of 'tensor<?x?x8xf32>' (2), got 1}}
    %p = lmc.recv_start from 1 over ["pp"] tag 0 [%d] : !lmc.pending<tensor<?x?x8xf32>>
    %x = lmc.wait %p : !lmc.pending<tensor<?x?x8xf32>>
    return
  }
}

// -----

// Tests that a receive has one size operand per dynamic dimension: none for
// a static type.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%d: index) {
    // expected-error @+1 {{'lmc.recv_start' op needs one size operand per dynamic dimension of 'tensor<4xi64>' (0), got 1}}
    %p = lmc.recv_start from 1 over ["pp"] tag 0 [%d] : !lmc.pending<tensor<4xi64>>
    %x = lmc.wait %p : !lmc.pending<tensor<4xi64>>
    return
  }
}

// -----

// Tests the group rules on a receive: an axis of the mesh.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f() {
    // expected-error @+1 {{'lmc.recv_start' op mesh axis 'tp' is not in the mesh #lmc.mesh<pp = 2>}}
    %p = lmc.recv_start from 1 over ["tp"] tag 0 : !lmc.pending<tensor<4xf32>>
    %x = lmc.wait %p : !lmc.pending<tensor<4xf32>>
    return
  }
}

// -----

// Tests the peer rule on a receive, over two axes (a group of 4).

module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @f() {
    // expected-error @+1 {{'lmc.recv_start' op peer 4 is not a rank of the group: ["pp", "tp"] on #lmc.mesh<pp = 2, tp = 2> has 4 ranks (0 to 3)}}
    %p = lmc.recv_start from 4 over ["pp", "tp"] tag 0 : !lmc.pending<tensor<4xf32>>
    %x = lmc.wait %p : !lmc.pending<tensor<4xf32>>
    return
  }
}

// -----

// Tests the tag rule on a receive.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f() {
    // expected-error @+1 {{'lmc.recv_start' op tag must be non-negative, got -1}}
    %p = lmc.recv_start from 1 over ["pp"] tag -1 : !lmc.pending<tensor<4xf32>>
    %x = lmc.wait %p : !lmc.pending<tensor<4xf32>>
    return
  }
}

// -----

// Tests that the result of a receive is waited for.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f() {
    // expected-error @+1 {{'lmc.recv_start' op result must be used exactly once, by an lmc.wait; it has 0 uses}}
    %p = lmc.recv_start from 1 over ["pp"] tag 0 : !lmc.pending<tensor<4xf32>>
    return
  }
}

// -----

// Tests that the result of a receive is waited for by an lmc.wait in the
// same block, not returned.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f() -> !lmc.pending<tensor<4xf32>> {
    // expected-error @+1 {{'lmc.recv_start' op result must be used by an lmc.wait in the same block, not by func.return}}
    %p = lmc.recv_start from 1 over ["pp"] tag 0 : !lmc.pending<tensor<4xf32>>
    return %p : !lmc.pending<tensor<4xf32>>
  }
}

// -----

// Tests that a receive's result is the operand of an lmc.wait: a pending
// that does not come from a start is refused by the wait (the message names
// lmc.recv_start).

func.func @f(%p: !lmc.pending<tensor<4xi64>>) -> tensor<4xi64> {
  // expected-error @+1 {{'lmc.wait' op operand #0 must be a result of lmc.all_reduce_start, lmc.all_gather_start or lmc.reduce_scatter_start, or of lmc.recv_start}}
  %0 = lmc.wait %p : !lmc.pending<tensor<4xi64>>
  return %0 : tensor<4xi64>
}

//===----------------------------------------------------------------------===//
// lmc.buffer_send
//===----------------------------------------------------------------------===//

// -----

// Tests that a buffer send moves f32 or i64 buffers only.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%b: memref<4xf16>) {
    // expected-error @+1 {{'lmc.buffer_send' op operand #0 must be memref of 32-bit float or 64-bit signless integer values, but got 'memref<4xf16>'}}
    lmc.buffer_send %b to 1 over ["pp"] tag 0 : memref<4xf16>
    return
  }
}

// -----

// Tests the group rules on a buffer send: a mesh in scope.

func.func @f(%b: memref<4xf32>) {
  // expected-error @+1 {{'lmc.buffer_send' op has no mesh in scope}}
  lmc.buffer_send %b to 1 over ["pp"] tag 0 : memref<4xf32>
  return
}

// -----

// Tests the group rules on a buffer send: mesh order.

module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @f(%b: memref<4xf32>) {
    // expected-error @+1 {{'lmc.buffer_send' op axes must be listed in mesh order}}
    lmc.buffer_send %b to 1 over ["tp", "pp"] tag 0 : memref<4xf32>
    return
  }
}

// -----

// Tests the peer rule on a buffer send.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%b: memref<4xf32>) {
    // expected-error @+1 {{'lmc.buffer_send' op peer 2 is not a rank of the group}}
    lmc.buffer_send %b to 2 over ["pp"] tag 0 : memref<4xf32>
    return
  }
}

// -----

// Tests the tag rule on a buffer send.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%b: memref<4xi64>) {
    // expected-error @+1 {{'lmc.buffer_send' op tag must be non-negative, got -2}}
    lmc.buffer_send %b to 1 over ["pp"] tag -2 : memref<4xi64>
    return
  }
}

//===----------------------------------------------------------------------===//
// lmc.buffer_recv_start and lmc.buffer_wait
//===----------------------------------------------------------------------===//

// -----

// Tests that a buffer receive moves f32 or i64 buffers only.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%b: memref<4xi32>) {
    // expected-error @+1 {{'lmc.buffer_recv_start' op operand #0 must be memref of 32-bit float or 64-bit signless integer values, but got 'memref<4xi32>'}}
    %h = lmc.buffer_recv_start %b from 1 over ["pp"] tag 0 : memref<4xi32>
    lmc.buffer_wait %h
    return
  }
}

// -----

// Tests the group rules on a buffer receive: axes of the mesh.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%b: memref<4xf32>) {
    // expected-error @+1 {{'lmc.buffer_recv_start' op must name at least one mesh axis}}
    %h = lmc.buffer_recv_start %b from 1 over [] tag 0 : memref<4xf32>
    lmc.buffer_wait %h
    return
  }
}

// -----

// Tests the peer rule on a buffer receive.

module attributes {lmc.mesh = #lmc.mesh<pp = 4>} {
  func.func @f(%b: memref<4xf32>) {
    // expected-error @+1 {{'lmc.buffer_recv_start' op peer 4 is not a rank of the group: ["pp"] on #lmc.mesh<pp = 4> has 4 ranks (0 to 3)}}
    %h = lmc.buffer_recv_start %b from 4 over ["pp"] tag 0 : memref<4xf32>
    lmc.buffer_wait %h
    return
  }
}

// -----

// Tests the tag rule on a buffer receive.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%b: memref<4xf32>) {
    // expected-error @+1 {{'lmc.buffer_recv_start' op tag must be non-negative, got -5}}
    %h = lmc.buffer_recv_start %b from 1 over ["pp"] tag -5 : memref<4xf32>
    lmc.buffer_wait %h
    return
  }
}

// -----

// Tests that the handle of a buffer receive is waited for exactly once.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%b: memref<4xf32>) {
    // expected-error @+1 {{'lmc.buffer_recv_start' op handle must be used exactly once, by an lmc.buffer_wait; it has 2 uses}}
    %h = lmc.buffer_recv_start %b from 1 over ["pp"] tag 0 : memref<4xf32>
    lmc.buffer_wait %h
    lmc.buffer_wait %h
    return
  }
}

// -----

// Tests that the handle of a buffer receive is not returned: its wait is in
// the same block.

module attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  func.func @f(%b: memref<4xf32>) -> i64 {
    // expected-error @+1 {{'lmc.buffer_recv_start' op handle must be used by an lmc.buffer_wait in the same block, not by func.return}}
    %h = lmc.buffer_recv_start %b from 1 over ["pp"] tag 0 : memref<4xf32>
    return %h : i64
  }
}

// -----

// Tests that a buffer_wait takes handles of starts: the message names
// lmc.buffer_recv_start.

func.func @f(%b: memref<4xf32>) {
  %c = arith.constant 3 : i64
  // expected-error @+1 {{'lmc.buffer_wait' op operand #0 must be a result of lmc.buffer_collective_start or an argument of the function, or of lmc.buffer_recv_start}}
  lmc.buffer_wait %c
  return
}
