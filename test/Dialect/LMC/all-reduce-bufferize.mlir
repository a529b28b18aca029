// RUN: lmc-opt %s --lmc-bufferize --convert-lmc-to-runtime --split-input-file --verify-diagnostics | FileCheck %s

// Tests that lmc.all_reduce of a bucket bufferizes to one runtime call
// (lmc.buffer_collective, which convert-lmc-to-runtime lowers): the
// operands are copied into one contiguous 64-byte-aligned buffer of
// 4 + 16 + 1 floats, the runtime reduces it in place over the dp group (axis
// mask 1), and the results are views of that buffer (a 4x4 view at offset 4, a
// rank-0 view at offset 20). The runtime function is declared once with a C
// interface.

// CHECK-LABEL: module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 1>}
// CHECK:       func.func private @lmcrt_all_reduce_f32(memref<*xf32>, memref<*xf32>, i32) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @bucket
// CHECK-SAME:    (%[[A:.+]]: memref<4xf32>, %[[B:.+]]: memref<4x4xf32>, %[[C:.+]]: memref<f32>)
// CHECK:         %[[FLAT:.+]] = memref.alloc() {alignment = 64 : i64} : memref<21xf32>
// CHECK:         %[[VA:.+]] = memref.subview %[[FLAT]][0] [4] [1]
// CHECK:         memref.copy %[[A]], %[[VA]]
// CHECK:         %[[SB:.+]] = memref.subview %[[FLAT]][4] [16] [1]
// CHECK:         %[[VB:.+]] = memref.expand_shape %[[SB]] {{\[}}[0, 1]] output_shape [4, 4]
// CHECK:         memref.copy %[[B]], %[[VB]]
// CHECK:         %[[SC:.+]] = memref.subview %[[FLAT]][20] [1] [1]
// CHECK:         %[[VC:.+]] = memref.collapse_shape %[[SC]] []
// CHECK:         memref.copy %[[C]], %[[VC]]
// CHECK:         %[[U:.+]] = memref.cast %[[FLAT]] : memref<21xf32> to memref<*xf32>
// CHECK:         %[[AXIS:.+]] = arith.constant 1 : i32
// CHECK:         call @lmcrt_all_reduce_f32(%[[U]], %[[U]], %[[AXIS]])
// CHECK-NOT:     lmc.all_reduce
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 1>} {
  func.func @bucket(%a: tensor<4xf32>, %b: tensor<4x4xf32>, %c: tensor<f32>)
      -> (tensor<4xf32>, tensor<4x4xf32>, tensor<f32>)
      attributes {llvm.emit_c_interface} {
    %r:3 = lmc.all_reduce %a, %b, %c over ["dp"] : tensor<4xf32>, tensor<4x4xf32>, tensor<f32>
    return %r#0, %r#1, %r#2 : tensor<4xf32>, tensor<4x4xf32>, tensor<f32>
  }
}

// -----

// Tests that a group over both axes is the runtime's world group (axis
// mask 3).

// CHECK-LABEL: func.func @world
// CHECK:         %[[AXIS:.+]] = arith.constant 3 : i32
// CHECK:         call @lmcrt_all_reduce_f32(%{{.+}}, %{{.+}}, %[[AXIS]])
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @world(%a: tensor<4xf32>) -> tensor<4xf32> attributes {llvm.emit_c_interface} {
    %r = lmc.all_reduce %a over ["dp", "tp"] : tensor<4xf32>
    return %r : tensor<4xf32>
  }
}

// -----

// Tests that lmc.all_reduce_start packs its bucket the same way and starts
// the runtime's nonblocking all-reduce, whose handle lmc.wait waits for (by
// name: no memref argument, no C interface), its results being the views
// of the packed buffer.

// CHECK-DAG:   func.func private @lmcrt_all_reduce_start_f32(memref<*xf32>, memref<*xf32>, i32) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_collective_wait(i64){{$}}
// CHECK-LABEL: func.func @overlap
// CHECK:         %[[FLAT:.+]] = memref.alloc() {alignment = 64 : i64} : memref<20xf32>
// CHECK:         %[[U:.+]] = memref.cast %[[FLAT]]
// CHECK:         %[[H:.+]] = call @lmcrt_all_reduce_start_f32(%[[U]], %[[U]], %{{.+}}) : (memref<*xf32>, memref<*xf32>, i32) -> i64
// CHECK:         linalg.fill
// CHECK:         call @lmcrt_collective_wait(%[[H]]) : (i64) -> ()
// CHECK-NOT:     call @lmcrt_collective_wait
// CHECK-NOT:     unrealized_conversion_cast
// CHECK:         return
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 1>} {
  func.func @overlap(%a: tensor<4xf32>, %b: tensor<4x4xf32>, %x: tensor<8xf32>)
      -> (tensor<4xf32>, tensor<4x4xf32>, tensor<8xf32>)
      attributes {llvm.emit_c_interface} {
    %p:2 = lmc.all_reduce_start %a, %b over ["dp"] : tensor<4xf32>, tensor<4x4xf32>
    %c = arith.constant 1.0 : f32
    %e = tensor.empty() : tensor<8xf32>
    %f = linalg.fill ins(%c : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
    %r:2 = lmc.wait %p#0, %p#1 : !lmc.pending<tensor<4xf32>>, !lmc.pending<tensor<4x4xf32>>
    return %r#0, %r#1, %f : tensor<4xf32>, tensor<4x4xf32>, tensor<8xf32>
  }
}

// -----

// Tests that a bucket with run-time sizes (activations all-reduced over tp)
// packs at run-time offsets: B x 4 floats, then 2 at offset 4 B, in one
// buffer of 4 B + 2 floats, reduced over the tp group (axis mask 2).

// CHECK-LABEL: func.func @dynamic
// CHECK-SAME:    (%[[A:.+]]: memref<?x4xf32>, %[[B:.+]]: memref<2xf32>)
// CHECK:         %[[D:.+]] = memref.dim %[[A]], %c0
// CHECK:         %[[N:.+]] = arith.muli %{{.+}}, %c4
// CHECK:         %[[OFF:.+]] = arith.addi %c0{{.*}}, %[[N]]
// CHECK:         %[[TOTAL:.+]] = arith.addi %[[OFF]], %c2
// CHECK:         %[[FLAT:.+]] = memref.alloc(%[[TOTAL]]) {alignment = 64 : i64} : memref<?xf32>
// CHECK:         %[[VA:.+]] = memref.reinterpret_cast %[[FLAT]] to offset: [0], sizes: [%[[D]], 4], strides: [4, 1]
// CHECK:         memref.copy %[[A]], %[[VA]]
// CHECK:         %[[VB:.+]] = memref.reinterpret_cast %[[FLAT]] to offset: [%[[OFF]]], sizes: [2], strides: [1]
// CHECK:         memref.copy %[[B]], %[[VB]]
// CHECK:         %[[U:.+]] = memref.cast %[[FLAT]] : memref<?xf32> to memref<*xf32>
// CHECK:         call @lmcrt_all_reduce_f32(%[[U]], %[[U]], %c2_i32)

module attributes {lmc.mesh = #lmc.mesh<dp = 1, tp = 2>} {
  func.func @dynamic(%a: tensor<?x4xf32>, %b: tensor<2xf32>) -> (tensor<?x4xf32>, tensor<2xf32>) attributes {llvm.emit_c_interface} {
    %r:2 = lmc.all_reduce %a, %b over ["tp"] : tensor<?x4xf32>, tensor<2xf32>
    return %r#0, %r#1 : tensor<?x4xf32>, tensor<2xf32>
  }
}

// -----

// Tests that only float32 buckets bufferize to the runtime.

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 1>} {
  func.func @double(%a: tensor<4xf64>) -> tensor<4xf64> attributes {llvm.emit_c_interface} {
    // expected-error @below {{bufferizes to the runtime only for float32 tensors}}
    // expected-error @below {{failed to bufferize op}}
    %r = lmc.all_reduce %a over ["dp"] : tensor<4xf64>
    return %r : tensor<4xf64>
  }
}
