// RUN: lmc-opt %s --lmc-linalg-to-gpu --canonicalize --cse -split-input-file | FileCheck %s
// RUN: lmc-opt %s --lmc-linalg-to-gpu="block-size=128" --canonicalize -split-input-file | FileCheck %s --check-prefix=B128

// Tests that an elementwise op becomes one launch with one thread per element:
// the parallel loops flattened row-major (the innermost index is the
// remainder, so that neighbouring threads touch neighbouring elements), blocks
// of 256 threads, and a bounds check.

// CHECK-LABEL: func.func @elementwise
// CHECK-SAME:    (%[[X:[a-z0-9_]+]]: memref<?x256xf32>, %[[Y:[a-z0-9_]+]]: memref<?x256xf32>)
// CHECK-DAG:     %[[C256:[a-z0-9_]+]] = arith.constant 256 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK:         %[[ROWS:[a-z0-9_]+]] = memref.dim %[[X]]
// CHECK:         %[[N:[a-z0-9_]+]] = arith.muli %[[ROWS]], %[[C256]] : index
// CHECK:         %[[BLOCKS:[a-z0-9_]+]] = arith.ceildivui %[[N]], %[[C256]] : index
// CHECK:         gpu.launch blocks(%[[BX:[a-z0-9_]+]], %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}) in (%{{[a-z0-9_]+}} = %[[BLOCKS]], %{{[a-z0-9_]+}} = %[[C1]], %{{[a-z0-9_]+}} = %[[C1]])
// CHECK-SAME:               threads(%[[TX:[a-z0-9_]+]], %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}) in (%{{[a-z0-9_]+}} = %[[C256]], %{{[a-z0-9_]+}} = %[[C1]], %{{[a-z0-9_]+}} = %[[C1]])
// CHECK:           %[[BASE:[a-z0-9_]+]] = arith.muli %[[BX]], %[[C256]] : index
// CHECK:           %[[I:[a-z0-9_]+]] = arith.addi %[[BASE]], %[[TX]] : index
// CHECK:           %[[IN:[a-z0-9_]+]] = arith.cmpi ult, %[[I]], %[[N]] : index
// CHECK:           scf.if %[[IN]] {
// CHECK:             %[[COL:[a-z0-9_]+]] = arith.remui %[[I]], %[[C256]] : index
// CHECK:             %[[ROW:[a-z0-9_]+]] = arith.divui %[[I]], %[[C256]] : index
// CHECK:             %[[V:[a-z0-9_]+]] = memref.load %[[X]][%[[ROW]], %[[COL]]]
// CHECK:             %[[E:[a-z0-9_]+]] = math.exp %[[V]] : f32
// CHECK:             memref.store %[[E]], %[[Y]][%[[ROW]], %[[COL]]]
// CHECK:           gpu.terminator
// CHECK-NOT:     SCFToGPU_visited
// CHECK-NOT:     linalg.

// B128-LABEL: func.func @elementwise
// B128:         %[[C128:[a-z0-9_]+]] = arith.constant 128 : index
// B128:         threads(%{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}) in (%{{[a-z0-9_]+}} = %[[C128]],
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @elementwise(%x: memref<?x256xf32>, %y: memref<?x256xf32>) {
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<?x256xf32>) outs(%y : memref<?x256xf32>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  }
  return
}

// -----

// Tests that a row reduction (LayerNorm's statistics) is one thread per row,
// which runs the reduction loop itself.

// CHECK-LABEL: func.func @row_sum
// CHECK-SAME:    (%[[X:[a-z0-9_]+]]: memref<?x64xf32>, %[[Y:[a-z0-9_]+]]: memref<?xf32>)
// CHECK:         %[[ROWS:[a-z0-9_]+]] = memref.dim %[[X]]
// CHECK:         gpu.launch
// CHECK:           %[[ROW:[a-z0-9_]+]] = arith.addi
// CHECK:           %[[IN:[a-z0-9_]+]] = arith.cmpi ult, %[[ROW]], %[[ROWS]] : index
// CHECK:           scf.if %[[IN]] {
// CHECK:             scf.for %[[K:[a-z0-9_]+]] = %{{[a-z0-9_]+}} to %{{[a-z0-9_]+}} step
// CHECK:               memref.load %[[X]][%[[ROW]], %[[K]]]
// CHECK:               memref.store %{{[a-z0-9_]+}}, %[[Y]][%[[ROW]]]
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @row_sum(%x: memref<?x64xf32>, %y: memref<?xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%y : memref<?xf32>) {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests that reduction loops outside a parallel one (a bias gradient: a sum
// over batch and sequence) move inside the thread, that the launch has no
// host loop around it, and that a parallel extent smaller than a block (64)
// is the block size.

// CHECK-LABEL: func.func @bias_grad
// CHECK-SAME:    (%[[X:[a-z0-9_]+]]: memref<?x?x64xf32>, %[[Y:[a-z0-9_]+]]: memref<64xf32>)
// CHECK-DAG:     %[[C64:[a-z0-9_]+]] = arith.constant 64 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK-NOT:     scf.for
// CHECK:         gpu.launch blocks({{[^)]*}}) in (%{{[a-z0-9_]+}} = %[[C1]], %{{[a-z0-9_]+}} = %[[C1]], %{{[a-z0-9_]+}} = %[[C1]]) threads(%[[TX:[a-z0-9_]+]], %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}) in (%{{[a-z0-9_]+}} = %[[C64]],
// CHECK:           scf.if
// CHECK:             scf.for %[[B:[a-z0-9_]+]] =
// CHECK:               scf.for %[[T:[a-z0-9_]+]] =
// CHECK:                 memref.load %[[X]][%[[B]], %[[T]], %[[TX]]]
// CHECK:                 memref.store %{{[a-z0-9_]+}}, %[[Y]][%[[TX]]]
#red3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>
func.func @bias_grad(%x: memref<?x?x64xf32>, %y: memref<64xf32>) {
  linalg.generic {indexing_maps = [#red3, #col3], iterator_types = ["reduction", "reduction", "parallel"]}
      ins(%x : memref<?x?x64xf32>) outs(%y : memref<64xf32>) {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests that an op without parallel loops (a sum to a scalar, such as a
// squared gradient norm) is one thread of one block.

// CHECK-LABEL: func.func @total
// CHECK:         %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK:         gpu.launch blocks({{[^)]*}}) in (%{{[a-z0-9_]+}} = %[[C1]], %{{[a-z0-9_]+}} = %[[C1]], %{{[a-z0-9_]+}} = %[[C1]]) threads({{[^)]*}}) in (%{{[a-z0-9_]+}} = %[[C1]], %{{[a-z0-9_]+}} = %[[C1]], %{{[a-z0-9_]+}} = %[[C1]])
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               memref.store %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}[] : memref<f32>
#all = affine_map<(d0, d1) -> (d0, d1)>
#none = affine_map<(d0, d1) -> ()>
func.func @total(%x: memref<?x64xf32>, %y: memref<f32>) {
  linalg.generic {indexing_maps = [#all, #none], iterator_types = ["reduction", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%y : memref<f32>) {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Tests that named ops (a fill) and copies between buffers become kernels,
// and that a copy out of a global (host data: the model description) stays
// a host copy.

// CHECK-LABEL: func.func @fill_copy
// CHECK-SAME:    (%[[X:[a-z0-9_]+]]: memref<?x64xf32>, %[[Y:[a-z0-9_]+]]: memref<?x64xf32, strided<[128, 1]>>, %[[Z:[a-z0-9_]+]]: memref<4xi8>)
// CHECK:         gpu.launch
// CHECK:           memref.store %{{[a-z0-9_]+}}, %[[X]]
// CHECK:         gpu.launch
// CHECK:           %[[V:[a-z0-9_]+]] = memref.load %[[X]]
// CHECK:           memref.store %[[V]], %[[Y]]
// CHECK:         %[[G:[a-z0-9_]+]] = memref.get_global @info
// CHECK:         memref.copy %[[G]], %[[Z]]
// CHECK-NOT:     gpu.launch
memref.global "private" constant @info : memref<4xi8> = dense<[1, 2, 3, 4]>
func.func @fill_copy(%x: memref<?x64xf32>, %y: memref<?x64xf32, strided<[128, 1]>>, %z: memref<4xi8>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%x : memref<?x64xf32>)
  memref.copy %x, %y : memref<?x64xf32> to memref<?x64xf32, strided<[128, 1]>>
  %g = memref.get_global @info : memref<4xi8>
  memref.copy %g, %z : memref<4xi8> to memref<4xi8>
  return
}

// -----

// Tests that a gather (an embedding: linalg.index and a load in the body)
// keeps its loads, indexed by the thread's position.

// CHECK-LABEL: func.func @gather
// CHECK-SAME:    (%[[TABLE:[a-z0-9_]+]]: memref<256x64xf32>, %[[IDS:[a-z0-9_]+]]: memref<?xi32>, %[[OUT:[a-z0-9_]+]]: memref<?x64xf32>)
// CHECK:         gpu.launch
// CHECK:           %[[C:[a-z0-9_]+]] = arith.remui
// CHECK:           %[[R:[a-z0-9_]+]] = arith.divui
// CHECK:           %[[ID:[a-z0-9_]+]] = memref.load %[[IDS]][%[[R]]]
// CHECK:           %[[ROW:[a-z0-9_]+]] = arith.index_cast %[[ID]]
// CHECK:           %[[V:[a-z0-9_]+]] = memref.load %[[TABLE]][%[[ROW]], %[[C]]]
// CHECK:           memref.store %[[V]], %[[OUT]][%[[R]], %[[C]]]
#ids = affine_map<(d0, d1) -> (d0)>
#out = affine_map<(d0, d1) -> (d0, d1)>
func.func @gather(%table: memref<256x64xf32>, %ids: memref<?xi32>, %out: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#ids, #out], iterator_types = ["parallel", "parallel"]}
      ins(%ids : memref<?xi32>) outs(%out : memref<?x64xf32>) {
  ^bb0(%id: i32, %o: f32):
    %c = linalg.index 1 : index
    %r = arith.index_cast %id : i32 to index
    %v = memref.load %table[%r, %c] : memref<256x64xf32>
    linalg.yield %v : f32
  }
  return
}
