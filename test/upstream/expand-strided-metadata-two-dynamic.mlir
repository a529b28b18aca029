// Tests that upstream expand-strided-metadata (LLVM 22.1.8) still crashes on
// a memref.expand_shape with two dynamic sizes in one reassociation group.
// The lowering of lmc.unflatten (lib/Conversion/LMCToLinalg/
// TrainingOpsToLinalg.cpp) reshapes by a shape tensor in that case instead;
// if this test starts failing, the defect is fixed upstream and the
// workaround can go.

// RUN: not --crash mlir-opt %s --expand-strided-metadata

func.func @f(%m: memref<?xf64>, %a: index, %b: index) -> memref<?x?xf64> {
  %e = memref.expand_shape %m [[0, 1]] output_shape [%a, %b] : memref<?xf64> into memref<?x?xf64>
  return %e : memref<?x?xf64>
}
