// RUN: lmc-opt %s --lmc-bufferize | FileCheck %s
// RUN: lmc-opt %s --lmc-bufferize --drop-equivalent-buffer-results --canonicalize | FileCheck %s --check-prefix=INPLACE

// Tests that kernels (private functions) take and return memrefs with a
// fully dynamic layout, so that a view into a flat buffer reaches them
// without a copy, while entry points (llvm.emit_c_interface) keep identity
// layouts as the C ABI requires.

// CHECK-LABEL: func.func private @scale
// CHECK-SAME:    (%{{.+}}: memref<4x4xf32, strided<[?, ?], offset: ?>>) -> memref<4x4xf32, strided<[?, ?], offset: ?>>
// CHECK-LABEL: func.func @update
// CHECK-SAME:    (%{{.+}}: memref<20xf32>)
// CHECK-NOT:     memref.alloc
// CHECK:         call @scale
// CHECK-LABEL: func.func @fresh
// CHECK-SAME:    (%{{.+}}: memref<?xf32>) -> memref<?xf32>

// Tests that an update written into its operand (the AdamW shape) of a view
// of the entry point's buffer leaves no allocation and no copy once the
// kernel's result, equivalent to its argument, is dropped.

// INPLACE-LABEL: func.func private @scale
// INPLACE-SAME:    (%{{.+}}: memref<4x4xf32, strided<[?, ?], offset: ?>>) {
// INPLACE-LABEL: func.func @update
// INPLACE-NOT:     memref.alloc
// INPLACE-NOT:     memref.copy
// INPLACE:         call @scale
// INPLACE-NOT:     memref.copy
// INPLACE:         return

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func private @scale(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %c = arith.constant 2.0 : f32
  %0 = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]}
      outs(%x : tensor<4x4xf32>) {
  ^bb0(%a: f32):
    %m = arith.mulf %a, %c : f32
    linalg.yield %m : f32
  } -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

func.func @update(%flat: memref<20xf32>) attributes {llvm.emit_c_interface} {
  %v = memref.subview %flat[4] [16] [1] : memref<20xf32> to memref<16xf32, strided<[1], offset: 4>>
  %e = memref.expand_shape %v [[0, 1]] output_shape [4, 4] : memref<16xf32, strided<[1], offset: 4>> into memref<4x4xf32, strided<[4, 1], offset: 4>>
  %t = bufferization.to_tensor %e restrict writable : memref<4x4xf32, strided<[4, 1], offset: 4>> to tensor<4x4xf32>
  %r = call @scale(%t) : (tensor<4x4xf32>) -> tensor<4x4xf32>
  bufferization.materialize_in_destination %r in restrict writable %e : (tensor<4x4xf32>, memref<4x4xf32, strided<[4, 1], offset: 4>>) -> ()
  return
}

func.func @fresh(%x: tensor<?xf32>) -> tensor<?xf32> attributes {llvm.emit_c_interface} {
  %c = arith.constant 1.0 : f32
  %0 = linalg.fill ins(%c : f32) outs(%x : tensor<?xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}
