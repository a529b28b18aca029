// RUN: lmc-opt %s --lmc-shape-parallel-loops | FileCheck %s
// RUN: lmc-opt %s --lmc-shape-parallel-loops=max-dims=1 | FileCheck %s --check-prefix=ONE

// Tests that an elementwise nest over (b, t, c) keeps b and t on threads and
// runs c (the vectorised loop) sequentially inside; that a nest ending in a
// reduction loop keeps both of its parallel dimensions; that a 1-d loop
// becomes sequential; and that max-dims caps the parallel dimensions.

// CHECK-LABEL: func.func @elementwise
// CHECK:         scf.parallel (%[[B:.+]], %[[T:.+]]) = (%{{.+}}, %{{.+}}) to (%{{.+}}, %{{.+}}) step (%{{.+}}, %{{.+}}) {
// CHECK-NEXT:      scf.for %[[C:.+]] = %{{.+}} to %{{.+}} step %{{.+}} {
// CHECK-NEXT:        memref.load %{{.+}}[%[[B]], %[[T]], %[[C]]]
// ONE-LABEL:   func.func @elementwise
// ONE:           scf.parallel (%[[B:.+]]) = (%{{.+}}) to (%{{.+}}) step (%{{.+}}) {
// ONE-NEXT:        scf.for
// ONE-NEXT:          scf.for
func.func @elementwise(%x: memref<?x?x64xf32>, %y: memref<?x?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c64 = arith.constant 64 : index
  %b = memref.dim %x, %c0 : memref<?x?x64xf32>
  %t = memref.dim %x, %c1 : memref<?x?x64xf32>
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%b, %t, %c64) step (%c1, %c1, %c1) {
    %v = memref.load %x[%i, %j, %k] : memref<?x?x64xf32>
    memref.store %v, %y[%i, %j, %k] : memref<?x?x64xf32>
    scf.reduce
  }
  return
}

// CHECK-LABEL: func.func @rows
// CHECK:         scf.parallel (%{{.+}}, %{{.+}}) = (%{{.+}}, %{{.+}}) to (%{{.+}}, %{{.+}}) step (%{{.+}}, %{{.+}}) {
// CHECK-NEXT:      scf.for
func.func @rows(%x: memref<?x?x64xf32>, %y: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %b = memref.dim %x, %c0 : memref<?x?x64xf32>
  %t = memref.dim %x, %c1 : memref<?x?x64xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%b, %t) step (%c1, %c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %v = memref.load %x[%i, %j, %k] : memref<?x?x64xf32>
      %s = memref.load %y[%i, %j] : memref<?x?xf32>
      %a = arith.addf %s, %v : f32
      memref.store %a, %y[%i, %j] : memref<?x?xf32>
    }
    scf.reduce
  }
  return
}

// CHECK-LABEL: func.func @vector
// CHECK-NOT:     scf.parallel
// CHECK:         scf.for
func.func @vector(%x: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    memref.store %f, %x[%i] : memref<64xf32>
    scf.reduce
  }
  return
}
