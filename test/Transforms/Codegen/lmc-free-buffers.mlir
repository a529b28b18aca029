// RUN: lmc-opt %s --lmc-free-buffers --split-input-file --verify-diagnostics | FileCheck %s

// Tests that each buffer is freed right after the last use of any of its
// aliases (here a view of %a used by the second call), that the buffers a
// kernel returns are the caller's to free, and that a returned buffer is
// handed over, not freed.

// CHECK-LABEL: func.func private @k
// CHECK:         %[[R:.+]] = memref.alloc() : memref<4xf32>
// CHECK-NOT:     memref.dealloc
// CHECK:         return %[[R]]
// CHECK-LABEL: func.func @step
// CHECK:         %[[A:.+]] = memref.alloc() : memref<8xf32>
// CHECK-NEXT:    %[[S:.+]] = memref.subview %[[A]][4] [4] [1]
// CHECK-NEXT:    %[[V:.+]] = memref.cast %[[S]]
// CHECK-NEXT:    %[[B:.+]] = call @k(%[[V]])
// CHECK-NEXT:    %[[C:.+]] = call @k(%[[V]])
// CHECK-NEXT:    memref.dealloc %[[A]]
// CHECK-NEXT:    %[[BC:.+]] = memref.cast %[[B]]
// CHECK-NEXT:    %[[D:.+]] = call @k(%[[BC]])
// CHECK-NEXT:    memref.dealloc %[[B]]
// CHECK-NEXT:    memref.copy %[[C]], %[[D]]
// CHECK-NEXT:    memref.dealloc %[[C]]
// CHECK-NEXT:    return %[[D]]
func.func private @k(%x: memref<4xf32, strided<[1], offset: ?>>) -> memref<4xf32> {
  %r = memref.alloc() : memref<4xf32>
  memref.copy %x, %r : memref<4xf32, strided<[1], offset: ?>> to memref<4xf32>
  return %r : memref<4xf32>
}
func.func @step() -> memref<4xf32> {
  %a = memref.alloc() : memref<8xf32>
  %v = memref.subview %a[4] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 4>>
  %vc = memref.cast %v : memref<4xf32, strided<[1], offset: 4>> to memref<4xf32, strided<[1], offset: ?>>
  %b = call @k(%vc) : (memref<4xf32, strided<[1], offset: ?>>) -> memref<4xf32>
  %c = call @k(%vc) : (memref<4xf32, strided<[1], offset: ?>>) -> memref<4xf32>
  %bc = memref.cast %b : memref<4xf32> to memref<4xf32, strided<[1], offset: ?>>
  %d = call @k(%bc) : (memref<4xf32, strided<[1], offset: ?>>) -> memref<4xf32>
  memref.copy %c, %d : memref<4xf32> to memref<4xf32>
  return %d : memref<4xf32>
}

// -----

// Tests that a function returning a view of its argument, or a global,
// hands over a copy, so that its callers own (and free) every buffer
// result.

// CHECK-LABEL: func.func private @view
// CHECK:         %[[S:.+]] = memref.subview
// CHECK:         %[[SC:.+]] = memref.cast %[[S]]
// CHECK:         %[[N:.+]] = memref.alloc() : memref<2xf32>
// CHECK:         memref.copy %[[SC]], %[[N]]
// CHECK:         %[[NC:.+]] = memref.cast %[[N]]
// CHECK:         return %[[NC]]
// CHECK-LABEL: func.func @global
// CHECK:         %[[G:.+]] = memref.get_global @g
// CHECK:         %[[N:.+]] = memref.alloc() : memref<2xf32>
// CHECK:         memref.copy %[[G]], %[[N]]
// CHECK-NOT:     memref.dealloc
// CHECK:         return %[[N]]
memref.global "private" constant @g : memref<2xf32> = dense<1.0>
func.func private @view(%x: memref<4xf32>) -> memref<2xf32, strided<[1], offset: ?>> {
  %s = memref.subview %x[1] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 1>>
  %c = memref.cast %s : memref<2xf32, strided<[1], offset: 1>> to memref<2xf32, strided<[1], offset: ?>>
  return %c : memref<2xf32, strided<[1], offset: ?>>
}
func.func @global() -> memref<2xf32> {
  %g = memref.get_global @g : memref<2xf32>
  return %g : memref<2xf32>
}

// -----

// Tests that functions with control flow are left to upstream's
// ownership-based deallocation.

// expected-error @below {{lmc-free-buffers handles straight-line functions only}}
func.func @branches(%c: i1) {
  cf.cond_br %c, ^a, ^b
^a:
  return
^b:
  return
}

// -----

// Tests that the buffers of a collective started on buffers stay alive
// until its wait (the transfer reads and writes them until then), even when
// nothing uses them after the start: each is freed after lmc.buffer_wait,
// not after lmc.buffer_collective_start.

// CHECK-LABEL: func.func @in_flight
// CHECK:         %[[IN:.+]] = memref.alloc() : memref<8xf32>
// CHECK:         %[[OUT:.+]] = memref.alloc() : memref<4xf32>
// CHECK:         %[[H:.+]] = lmc.buffer_collective_start reduce_scatter %[[IN]] into %[[OUT]]
// CHECK-NOT:     memref.dealloc
// CHECK:         linalg.fill
// CHECK-NOT:     memref.dealloc
// CHECK:         lmc.buffer_wait %[[H]]
// CHECK-DAG:     memref.dealloc %[[IN]] :
// CHECK-DAG:     memref.dealloc %[[OUT]] :
// CHECK:         return
module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @in_flight(%x: memref<16xf32>) {
    %in = memref.alloc() : memref<8xf32>
    %out = memref.alloc() : memref<4xf32>
    %h = lmc.buffer_collective_start reduce_scatter %in into %out over ["dp"] dim 0 : memref<8xf32>, memref<4xf32>
    %c = arith.constant 1.0 : f32
    linalg.fill ins(%c : f32) outs(%x : memref<16xf32>)
    lmc.buffer_wait %h
    return
  }
}
