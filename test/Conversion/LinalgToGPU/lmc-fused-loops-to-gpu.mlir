// RUN: lmc-opt %s --lmc-fused-loops-to-gpu --cse -split-input-file | FileCheck %s
// RUN: lmc-opt %s --lmc-fused-loops-to-gpu --lmc-linalg-to-gpu --canonicalize -split-input-file | FileCheck %s --check-prefix=LAUNCH

// Tests that the loop of a fused kernel (lmc-fuse-kernel-loops, on buffers)
// becomes one thread per iteration: the iterations flattened row-major
// (batch index outer, row inner), blocks of 128 threads with a bounds check,
// the body's linalg ops sequential loops in the thread, its buffer of static
// shape private to the thread; lmc-linalg-to-gpu then makes it one launch,
// and the op after the loop (a sum of partials) another.

// CHECK-LABEL: func.func @rows
// CHECK-SAME:    (%[[X:[a-z0-9_]+]]: memref<?x?x64xf32>, %[[Y:[a-z0-9_]+]]: memref<?x?x64xf32>
// CHECK:         %[[N:[a-z0-9_]+]] = arith.muli %{{.+}}, %{{.+}} : index
// CHECK:         %[[C128:[a-z0-9_]+]] = arith.constant 128 : index
// CHECK:         %[[BLOCKS:[a-z0-9_]+]] = arith.ceildivui %[[N]], %[[C128]] : index
// CHECK:         scf.parallel (%[[BX:[a-z0-9_]+]]) = (%{{.+}}) to (%[[BLOCKS]])
// CHECK:           scf.parallel (%[[TX:[a-z0-9_]+]]) = (%{{.+}}) to (%[[C128]])
// CHECK:             %[[BASE:[a-z0-9_]+]] = arith.muli %[[BX]], %[[C128]] : index
// CHECK:             %[[I:[a-z0-9_]+]] = arith.addi %[[BASE]], %[[TX]] : index
// CHECK:             %[[IN:[a-z0-9_]+]] = arith.cmpi ult, %[[I]], %[[N]] : index
// CHECK:             scf.if %[[IN]] {
// CHECK:               %[[T:[a-z0-9_]+]] = arith.remui %[[I]], %{{.+}} : index
// CHECK:               %[[B:[a-z0-9_]+]] = arith.divui %[[I]], %{{.+}} : index
// CHECK:               memref.alloca() : memref<64xf32>
// CHECK:               scf.for
// CHECK:                 math.exp
// CHECK:             } {mapping = [#gpu.loop_dim_map<processor = thread_x
// CHECK:         } {mapping = [#gpu.loop_dim_map<processor = block_x
// CHECK:         linalg.generic
// CHECK-NOT:     scf.forall
// CHECK-NOT:     memref.alloc(

// LAUNCH-LABEL: func.func @rows
// LAUNCH-COUNT-2: gpu.launch blocks
// LAUNCH-NOT:     gpu.launch blocks
// LAUNCH-NOT:     linalg.
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#id1 = affine_map<(d0) -> (d0)>
#sum = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @rows(%x: memref<?x?x64xf32>, %y: memref<?x?x64xf32>, %partials: memref<?x?xf32>, %total: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = memref.dim %x, %c0 : memref<?x?x64xf32>
  %t = memref.dim %x, %c1 : memref<?x?x64xf32>
  scf.forall (%i, %j) in (%b, %t) {
    %xs = memref.subview %x[%i, %j, 0] [1, 1, 64] [1, 1, 1] : memref<?x?x64xf32> to memref<1x1x64xf32, strided<[?, 64, 1], offset: ?>>
    %ys = memref.subview %y[%i, %j, 0] [1, 1, 64] [1, 1, 1] : memref<?x?x64xf32> to memref<1x1x64xf32, strided<[?, 64, 1], offset: ?>>
    %tmp = memref.alloc() : memref<64xf32>
    %xs1 = memref.collapse_shape %xs [[0, 1, 2]] : memref<1x1x64xf32, strided<[?, 64, 1], offset: ?>> into memref<64xf32, strided<[1], offset: ?>>
    %ys1 = memref.collapse_shape %ys [[0, 1, 2]] : memref<1x1x64xf32, strided<[?, 64, 1], offset: ?>> into memref<64xf32, strided<[1], offset: ?>>
    linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
        ins(%xs1 : memref<64xf32, strided<[1], offset: ?>>) outs(%tmp : memref<64xf32>) {
    ^bb0(%a: f32, %o: f32):
      %e = math.exp %a : f32
      linalg.yield %e : f32
    }
    memref.copy %tmp, %ys1 : memref<64xf32> to memref<64xf32, strided<[1], offset: ?>>
    memref.dealloc %tmp : memref<64xf32>
  }
  linalg.generic {indexing_maps = [#sum, #col], iterator_types = ["reduction", "parallel"]}
      ins(%partials : memref<?x?xf32>) outs(%total : memref<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %o, %a : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests that a loop whose body allocates a buffer of dynamic shape stays as
// it is (lmc-linalg-to-gpu then launches its ops one by one).

// CHECK-LABEL: func.func @dynamic_alloc
// CHECK:         scf.forall
// CHECK:           memref.alloc(%{{.+}}) : memref<?xf32>
// CHECK-NOT:     scf.parallel
func.func @dynamic_alloc(%x: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x?xf32>
  %m = memref.dim %x, %c1 : memref<?x?xf32>
  scf.forall (%i) in (%n) {
    %tmp = memref.alloc(%m) : memref<?xf32>
    %row = memref.subview %x[%i, 0] [1, %m] [1, 1] : memref<?x?xf32> to memref<?xf32, strided<[1], offset: ?>>
    memref.copy %row, %tmp : memref<?xf32, strided<[1], offset: ?>> to memref<?xf32>
    memref.dealloc %tmp : memref<?xf32>
  }
  return
}
