// RUN: lmc-opt %s --lmc-bufferize --convert-lmc-to-runtime --split-input-file --verify-diagnostics | FileCheck %s
// RUN: lmc-opt %s --lmc-bufferize --lmc-free-buffers --convert-lmc-to-runtime --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=FREE

// Tests that lmc.all_gather bufferizes to one runtime call from the
// operand's buffer, as it is, into a new 64-byte-aligned buffer for the
// result (dimension 1 doubled over tp, axis mask 2), with the dimension
// as an i64; and lmc.reduce_scatter the same way with a dynamic scattered
// dimension (the result's is the operand's divided by the 2 ranks of dp,
// axis mask 1). The functions are declared once with a C interface.

// CHECK-LABEL: module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>}
// CHECK-DAG:   func.func private @lmcrt_all_gather_f32(memref<*xf32>, memref<*xf32>, i32, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_reduce_scatter_f32(memref<*xf32>, memref<*xf32>, i32, i64) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @blocking
// CHECK-SAME:    (%[[A:.+]]: memref<4x8xf32>, %[[B:.+]]: memref<?x64xf32>)
// CHECK:         %[[G:.+]] = memref.alloc() {alignment = 64 : i64} : memref<4x16xf32>
// CHECK-DAG:     %[[AXIS1:.+]] = arith.constant 2 : i32
// CHECK-DAG:     %[[DIM1:.+]] = arith.constant 1 : i64
// CHECK-DAG:     %[[UA:.+]] = memref.cast %[[A]] : memref<4x8xf32> to memref<*xf32>
// CHECK-DAG:     %[[UG:.+]] = memref.cast %[[G]] : memref<4x16xf32> to memref<*xf32>
// CHECK:         call @lmcrt_all_gather_f32(%[[UA]], %[[UG]], %[[AXIS1]], %[[DIM1]]) : (memref<*xf32>, memref<*xf32>, i32, i64) -> ()
// CHECK:         %[[N:.+]] = memref.dim %[[B]], %{{.+}} : memref<?x64xf32>
// CHECK:         %[[HALF:.+]] = arith.divui %[[N]], %{{.+}} : index
// CHECK-NEXT:    %[[S:.+]] = memref.alloc(%[[HALF]]) {alignment = 64 : i64} : memref<?x64xf32>
// CHECK-DAG:     %[[AXIS0:.+]] = arith.constant 1 : i32
// CHECK-DAG:     %[[DIM0:.+]] = arith.constant 0 : i64
// CHECK-DAG:     %[[UB:.+]] = memref.cast %[[B]] : memref<?x64xf32> to memref<*xf32>
// CHECK-DAG:     %[[US:.+]] = memref.cast %[[S]] : memref<?x64xf32> to memref<*xf32>
// CHECK:         call @lmcrt_reduce_scatter_f32(%[[UB]], %[[US]], %[[AXIS0]], %[[DIM0]]) : (memref<*xf32>, memref<*xf32>, i32, i64) -> ()
// CHECK-NOT:     lmc.all_gather
// CHECK-NOT:     lmc.reduce_scatter
// CHECK:         return %[[G]], %[[S]]
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @blocking(%a: tensor<4x8xf32>, %b: tensor<?x64xf32>)
      -> (tensor<4x16xf32>, tensor<?x64xf32>) attributes {llvm.emit_c_interface} {
    %g = lmc.all_gather %a over ["tp"] dim 1 : tensor<4x8xf32> -> tensor<4x16xf32>
    %s = lmc.reduce_scatter %b over ["dp"] dim 0 : tensor<?x64xf32> -> tensor<?x64xf32>
    return %g, %s : tensor<4x16xf32>, tensor<?x64xf32>
  }
}

// -----

// Tests that a gather over both axes in mesh order (dp major) is the
// runtime's world group (axis mask 3), whose group index is the world rank; the
// group has 2 x 4 ranks.

// CHECK-LABEL: func.func @world
// CHECK:         memref.alloc(%{{.+}}) {alignment = 64 : i64} : memref<32x?xf32>
// CHECK:         %[[AXIS:.+]] = arith.constant 3 : i32
// CHECK:         call @lmcrt_all_gather_f32(%{{.+}}, %{{.+}}, %[[AXIS]], %{{.+}})
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 4>} {
  func.func @world(%a: tensor<4x?xf32>) -> tensor<32x?xf32> attributes {llvm.emit_c_interface} {
    %r = lmc.all_gather %a over ["dp", "tp"] dim 0 : tensor<4x?xf32> -> tensor<32x?xf32>
    return %r : tensor<32x?xf32>
  }
}

// -----

// Tests that lmc.reduce_scatter_start copies its operand into one buffer
// after room for the result (4 x 64 + 8 x 64 floats), starts the runtime's
// nonblocking reduce-scatter from the copy into the result's view, and that
// lmc.wait waits for the handle, the result being the view; the buffer,
// which the runtime reads until the wait, is freed after the result's last
// use.

// CHECK-DAG:   func.func private @lmcrt_reduce_scatter_start_f32(memref<*xf32>, memref<*xf32>, i32, i64) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_collective_wait(i64){{$}}
// CHECK-LABEL: func.func @start_static
// CHECK-SAME:    (%[[A:.+]]: memref<8x64xf32>)
// CHECK:         %[[FLAT:.+]] = memref.alloc() {alignment = 64 : i64} : memref<768xf32>
// CHECK-NEXT:    %[[SOUT:.+]] = memref.subview %[[FLAT]][0] [256] [1]
// CHECK-NEXT:    %[[OUT:.+]] = memref.expand_shape %[[SOUT]] {{\[}}[0, 1]] output_shape [4, 64] {{.+}} into memref<4x64xf32>
// CHECK-NEXT:    %[[SIN:.+]] = memref.subview %[[FLAT]][256] [512] [1]
// CHECK-NEXT:    %[[IN:.+]] = memref.expand_shape %[[SIN]] {{\[}}[0, 1]] output_shape [8, 64] {{.+}} into memref<8x64xf32, strided<[64, 1], offset: 256>>
// CHECK-NEXT:    memref.copy %[[A]], %[[IN]]
// CHECK-DAG:     %[[UIN:.+]] = memref.cast %[[IN]]
// CHECK-DAG:     %[[UOUT:.+]] = memref.cast %[[OUT]]
// CHECK:         %[[H:.+]] = call @lmcrt_reduce_scatter_start_f32(%[[UIN]], %[[UOUT]], %{{.+}}, %{{.+}}) : (memref<*xf32>, memref<*xf32>, i32, i64) -> i64
// CHECK:         linalg.fill
// CHECK-NEXT:    call @lmcrt_collective_wait(%[[H]]) : (i64) -> ()
// CHECK-NOT:     unrealized_conversion_cast
// CHECK:         linalg.generic {{.+}} ins(%[[OUT]]
// FREE-LABEL:  func.func @start_static
// FREE:          %[[FLAT:.+]] = memref.alloc() {alignment = 64 : i64} : memref<768xf32>
// FREE:          call @lmcrt_reduce_scatter_start_f32
// FREE-NOT:      memref.dealloc %[[FLAT]] :
// FREE:          call @lmcrt_collective_wait
// FREE-NOT:      memref.dealloc %[[FLAT]] :
// FREE:          linalg.generic {{.+}} ins(%{{.+}} : memref<4x64xf32>) outs(%[[Y:.+]] : memref<4x64xf32>)
// FREE:          memref.dealloc %[[FLAT]] :
// FREE-NEXT:     return %[[Y]]
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @start_static(%a: tensor<8x64xf32>) -> tensor<4x64xf32> attributes {llvm.emit_c_interface} {
    %p = lmc.reduce_scatter_start %a over ["dp"] dim 0 : tensor<8x64xf32> -> !lmc.pending<tensor<4x64xf32>>
    %c = arith.constant 1.0 : f32
    %e = tensor.empty() : tensor<8xf32>
    %f = linalg.fill ins(%c : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
    %r = lmc.wait %p : !lmc.pending<tensor<4x64xf32>>
    %init = tensor.empty() : tensor<4x64xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                         iterator_types = ["parallel", "parallel"]}
        ins(%r : tensor<4x64xf32>) outs(%init : tensor<4x64xf32>) {
    ^bb0(%x: f32, %o: f32):
      %d = arith.addf %x, %x : f32
      linalg.yield %d : f32
    } -> tensor<4x64xf32>
    return %y : tensor<4x64xf32>
  }
}

// -----

// Tests lmc.all_gather_start with dynamic sizes: the buffer holds
// 4 x n x 64 + 4 x n x 32 floats, the views are reinterpret_casts (row-major
// strides from the sizes; the operand's copy at offset 4 x n x 64), and a
// wait on two gathers waits for both handles in operand order.

// CHECK-DAG:   func.func private @lmcrt_all_gather_start_f32(memref<*xf32>, memref<*xf32>, i32, i64) -> i64 attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @start_dynamic
// CHECK-SAME:    (%[[A:.+]]: memref<4x?x32xf32>)
// CHECK:         %[[N:.+]] = memref.dim %[[A]], %{{.+}} : memref<4x?x32xf32>
// CHECK:         %[[FLAT:.+]] = memref.alloc(%{{.+}}) {alignment = 64 : i64} : memref<?xf32>
// CHECK:         %[[OUT:.+]] = memref.reinterpret_cast %[[FLAT]] to offset: [0], sizes: [4, %[[N]], 64], strides: [%{{.+}}, 64, 1] : memref<?xf32> to memref<4x?x64xf32, strided<[?, 64, 1]>>
// CHECK:         %[[IN:.+]] = memref.reinterpret_cast %[[FLAT]] to offset: [%{{.+}}], sizes: [4, %[[N]], 32], strides: [%{{.+}}, 32, 1] : memref<?xf32> to memref<4x?x32xf32, strided<[?, 32, 1], offset: ?>>
// CHECK-NEXT:    memref.copy %[[A]], %[[IN]]
// CHECK:         %[[AXIS:.+]] = arith.constant 2 : i32
// CHECK-NEXT:    %[[DIM:.+]] = arith.constant 2 : i64
// CHECK:         %[[H0:.+]] = call @lmcrt_all_gather_start_f32(%{{.+}}, %{{.+}}, %[[AXIS]], %[[DIM]])
// CHECK:         %[[H1:.+]] = call @lmcrt_all_gather_start_f32
// CHECK-NEXT:    call @lmcrt_collective_wait(%[[H0]])
// CHECK-NEXT:    call @lmcrt_collective_wait(%[[H1]])
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @start_dynamic(%a: tensor<4x?x32xf32>)
      -> (tensor<4x?x64xf32>, tensor<4x?x64xf32>) attributes {llvm.emit_c_interface} {
    %p = lmc.all_gather_start %a over ["tp"] dim 2 : tensor<4x?x32xf32> -> !lmc.pending<tensor<4x?x64xf32>>
    %q = lmc.all_gather_start %a over ["tp"] dim 2 : tensor<4x?x32xf32> -> !lmc.pending<tensor<4x?x64xf32>>
    %r:2 = lmc.wait %p, %q : !lmc.pending<tensor<4x?x64xf32>>, !lmc.pending<tensor<4x?x64xf32>>
    return %r#0, %r#1 : tensor<4x?x64xf32>, tensor<4x?x64xf32>
  }
}

// -----

// Tests that only float32 tensors bufferize to the runtime (it has no other
// gathers).

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @ids(%a: tensor<?x?xi32>) -> tensor<?x?xi32> attributes {llvm.emit_c_interface} {
    // expected-error @below {{bufferizes to the runtime only for float32 tensors}}
    // expected-error @below {{failed to bufferize op}}
    %r = lmc.all_gather %a over ["dp"] dim 0 : tensor<?x?xi32> -> tensor<?x?xi32>
    return %r : tensor<?x?xi32>
  }
}

// -----

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @f64(%a: tensor<8xf64>) -> tensor<4xf64> attributes {llvm.emit_c_interface} {
    // expected-error @below {{bufferizes to the runtime only for float32 tensors}}
    // expected-error @below {{failed to bufferize op}}
    %p = lmc.reduce_scatter_start %a over ["dp"] dim 0 : tensor<8xf64> -> !lmc.pending<tensor<4xf64>>
    %r = lmc.wait %p : !lmc.pending<tensor<4xf64>>
    return %r : tensor<4xf64>
  }
}

// -----

// Tests that a gather over both axes listed tp first is an error: the
// runtime numbers the ranks of a group row-major over the mesh's axes.

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @order(%a: tensor<4xf32>) -> tensor<16xf32> attributes {llvm.emit_c_interface} {
    // expected-error @below {{gathers or scatters over mesh axes out of mesh order: the runtime numbers the ranks of a group row-major over the mesh's axes}}
    // expected-error @below {{failed to bufferize op}}
    %r = lmc.all_gather %a over ["tp", "dp"] dim 0 : tensor<4xf32> -> tensor<16xf32>
    return %r : tensor<16xf32>
  }
}

// -----

// Tests that an axis other than dp and tp is named by its bit in the axis
// mask: pp, the mesh's first axis, is 1.

// CHECK-LABEL: func.func @pp
// CHECK:         %[[AXIS:.+]] = arith.constant 1 : i32
// CHECK:         call @lmcrt_reduce_scatter_f32(%{{.+}}, %{{.+}}, %[[AXIS]], %{{.+}})
module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @pp(%a: tensor<8xf32>) -> tensor<4xf32> attributes {llvm.emit_c_interface} {
    %r = lmc.reduce_scatter %a over ["pp"] dim 0 : tensor<8xf32> -> tensor<4xf32>
    return %r : tensor<4xf32>
  }
}
