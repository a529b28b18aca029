// RUN: lmc-opt %s --lmc-bufferize | FileCheck %s

// Tests that after bufferization the module's global buffers and external
// declarations come first, ordered by name, whatever order the functions
// were bufferized in, and that definitions keep their order after them.

// CHECK:       memref.global "private" constant @__constant_4xf32
// CHECK-NEXT:  func.func private @alpha(memref<4xf32
// CHECK-NEXT:  func.func private @zeta(memref<4xf32
// CHECK-NEXT:  func.func @second
// CHECK:       func.func @first

func.func @second(%x: tensor<4xf32>) {
  %c = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  call @zeta(%c) : (tensor<4xf32>) -> ()
  return
}
func.func private @zeta(tensor<4xf32>)
func.func @first(%x: tensor<4xf32>) {
  call @alpha(%x) : (tensor<4xf32>) -> ()
  call @second(%x) : (tensor<4xf32>) -> ()
  return
}
func.func private @alpha(tensor<4xf32>)
