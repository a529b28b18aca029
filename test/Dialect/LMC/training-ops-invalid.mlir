// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule and constraint of the ops of
// LMCTrainingOps.td, in the order of that file. Rules checked by result type
// inference report while parsing the custom form; rules the custom form
// cannot express use the generic form.

//===----------------------------------------------------------------------===//
// lmc.zeros_like
//===----------------------------------------------------------------------===//

// Tests that the result type equals the input type (generic form).

func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'lmc.zeros_like' op failed to verify that all of {input, result} have same type}}
  %0 = "lmc.zeros_like"(%x) : (tensor<?x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

// Tests that the operand is a tensor of f32 or f64.

func.func @f(%x: tensor<4xi32>) {
  // expected-error @+1 {{'lmc.zeros_like' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<4xi32>'}}
  %0 = lmc.zeros_like %x : tensor<4xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.mul
//===----------------------------------------------------------------------===//

// Tests that lhs, rhs and the result have the same type (generic form).

func.func @f(%a: tensor<4xf32>, %b: tensor<4xf64>) {
  // expected-error @+1 {{'lmc.mul' op failed to verify that all of {lhs, rhs, result} have same type}}
  %0 = "lmc.mul"(%a, %b) : (tensor<4xf32>, tensor<4xf64>) -> tensor<4xf32>
  return
}

// -----

// Tests that mul takes float tensors.

func.func @f(%a: tensor<4xf16>) {
  // expected-error @+1 {{'lmc.mul' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<4xf16>'}}
  %0 = lmc.mul %a, %a : tensor<4xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.reduce_sum
//===----------------------------------------------------------------------===//

// Tests that dims are within the rank of the input.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{dimension 3 is out of range for rank 3}}
  %0 = lmc.reduce_sum %x dims [0, 3] : tensor<?x?x64xf32>
  return
}

// -----

// Tests that dims are not negative.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{dimension -1 is out of range for rank 3}}
  %0 = lmc.reduce_sum %x dims [-1] : tensor<?x?x64xf32>
  return
}

// -----

// Tests that dims are strictly increasing: not decreasing.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{dims must be strictly increasing}}
  %0 = lmc.reduce_sum %x dims [1, 0] : tensor<?x?x64xf32>
  return
}

// -----

// Tests that dims are strictly increasing: no repeats.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{dims must be strictly increasing}}
  %0 = lmc.reduce_sum %x dims [1, 1] : tensor<?x?x64xf32>
  return
}

// -----

// Tests that the result type is the inferred one (generic form): the summed
// dimensions are dropped, not kept as size 1.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+2 {{'lmc.reduce_sum' op inferred type(s) 'tensor<64xf32>' are incompatible with return type(s) of operation 'tensor<1x1x64xf32>'}}
  // expected-error @+1 {{'lmc.reduce_sum' op failed to infer returned types}}
  %0 = "lmc.reduce_sum"(%x) <{dims = array<i64: 0, 1>}> : (tensor<?x?x64xf32>) -> tensor<1x1x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.broadcast
//===----------------------------------------------------------------------===//

// Tests that the result has the type of `like` (generic form).

func.func @f(%b: tensor<64xf32>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.broadcast' op failed to verify that all of {like, result} have same type}}
  %0 = "lmc.broadcast"(%b, %x) <{dims = array<i64: 0, 1>}> : (tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<2x3x64xf32>
  return
}

// -----

// Tests that dims are within the rank of `like`.

func.func @f(%b: tensor<64xf32>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.broadcast' op dimension 3 is out of range for rank 3}}
  %0 = lmc.broadcast %b like %x dims [0, 3] : tensor<64xf32>, tensor<?x?x64xf32>
  return
}

// -----

// Tests that dims are strictly increasing.

func.func @f(%b: tensor<64xf32>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.broadcast' op dims must be strictly increasing}}
  %0 = lmc.broadcast %b like %x dims [1, 0] : tensor<64xf32>, tensor<?x?x64xf32>
  return
}

// -----

// Tests that the input has the rank of `like` without dims.

func.func @f(%b: tensor<64xf32>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.broadcast' op input 'tensor<64xf32>' does not match 'tensor<?x?x64xf32>' without dims}}
  %0 = lmc.broadcast %b like %x dims [0] : tensor<64xf32>, tensor<?x?x64xf32>
  return
}

// -----

// Tests that the input has the static sizes of `like` without dims, in order.

func.func @f(%m: tensor<3x2xf32>, %x: tensor<2x7x3xf32>) {
  // expected-error @+1 {{'lmc.broadcast' op input 'tensor<3x2xf32>' does not match 'tensor<2x7x3xf32>' without dims}}
  %0 = lmc.broadcast %m like %x dims [1] : tensor<3x2xf32>, tensor<2x7x3xf32>
  return
}

// -----

// Tests that the input has the element type of `like`.

func.func @f(%b: tensor<64xf64>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.broadcast' op input 'tensor<64xf64>' does not match 'tensor<?x?x64xf32>' without dims}}
  %0 = lmc.broadcast %b like %x dims [0, 1] : tensor<64xf64>, tensor<?x?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.transpose
//===----------------------------------------------------------------------===//

// Tests that transpose needs rank at least 2.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{input must have rank at least 2}}
  %0 = lmc.transpose %x : tensor<4xf32>
  return
}

// -----

// Tests that the result type is the inferred one (generic form).

func.func @f(%x: tensor<3x5xf32>) {
  // expected-error @+2 {{'lmc.transpose' op inferred type(s) 'tensor<5x3xf32>' are incompatible with return type(s) of operation 'tensor<3x5xf32>'}}
  // expected-error @+1 {{'lmc.transpose' op failed to infer returned types}}
  %0 = "lmc.transpose"(%x) : (tensor<3x5xf32>) -> tensor<3x5xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.flatten
//===----------------------------------------------------------------------===//

// Tests that flatten needs rank at least 2.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{input must have rank at least 2}}
  %0 = lmc.flatten %x : tensor<4xf32>
  return
}

// -----

// Tests that the result type is the inferred one (generic form).

func.func @f(%x: tensor<2x3x4xf32>) {
  // expected-error @+2 {{'lmc.flatten' op inferred type(s) 'tensor<6x4xf32>' are incompatible with return type(s) of operation 'tensor<2x12xf32>'}}
  // expected-error @+1 {{'lmc.flatten' op failed to infer returned types}}
  %0 = "lmc.flatten"(%x) : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.unflatten
//===----------------------------------------------------------------------===//

// Tests that the input is rank 2.

func.func @f(%f: tensor<2x3x64xf32>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.unflatten' op expects a rank-2 input and a reference of rank at least 2}}
  %0 = lmc.unflatten %f like %x : tensor<2x3x64xf32>, tensor<?x?x64xf32>
  return
}

// -----

// Tests that the reference has rank at least 2.

func.func @f(%f: tensor<?x64xf32>, %x: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.unflatten' op expects a rank-2 input and a reference of rank at least 2}}
  %0 = lmc.unflatten %f like %x : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that the input and the reference have the same last dimension.

func.func @f(%f: tensor<?x32xf32>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.unflatten' op input 'tensor<?x32xf32>' cannot take the shape of 'tensor<?x?x64xf32>'}}
  %0 = lmc.unflatten %f like %x : tensor<?x32xf32>, tensor<?x?x64xf32>
  return
}

// -----

// Tests that the input and the reference have the same element type.

func.func @f(%f: tensor<?x64xf64>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.unflatten' op input 'tensor<?x64xf64>' cannot take the shape of 'tensor<?x?x64xf32>'}}
  %0 = lmc.unflatten %f like %x : tensor<?x64xf64>, tensor<?x?x64xf32>
  return
}

// -----

// Tests that the result has the type of `like` (generic form).

func.func @f(%f: tensor<?x64xf32>, %x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.unflatten' op failed to verify that all of {like, result} have same type}}
  %0 = "lmc.unflatten"(%f, %x) : (tensor<?x64xf32>, tensor<?x?x64xf32>) -> tensor<2x?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.concat
//===----------------------------------------------------------------------===//

// Tests that concat has at least one operand (generic form).

func.func @f() {
  // expected-error @+2 {{expects at least one operand}}
  // expected-error @+1 {{'lmc.concat' op failed to infer returned types}}
  %0 = "lmc.concat"() : () -> tensor<4xf32>
  return
}

// -----

// Tests that all operands have one type: the same shape.

func.func @f(%a: tensor<?x?x64xf32>, %b: tensor<2x?x64xf32>) {
  // expected-error @+1 {{all operands must have one type}}
  %0 = lmc.concat %a, %b : tensor<?x?x64xf32>, tensor<2x?x64xf32>
  return
}

// -----

// Tests that all operands have one type: the same element type.

func.func @f(%a: tensor<4xf32>, %b: tensor<4xf64>) {
  // expected-error @+1 {{all operands must have one type}}
  %0 = lmc.concat %a, %b : tensor<4xf32>, tensor<4xf64>
  return
}

// -----

// Tests that the operands have a static last dimension.

func.func @f(%a: tensor<4x?xf32>) {
  // expected-error @+1 {{operands need a static last dimension}}
  %0 = lmc.concat %a, %a : tensor<4x?xf32>, tensor<4x?xf32>
  return
}

// -----

// Tests that the operands have rank at least 1.

func.func @f(%a: tensor<f32>) {
  // expected-error @+1 {{operands need a static last dimension}}
  %0 = lmc.concat %a, %a : tensor<f32>, tensor<f32>
  return
}

// -----

// Tests that the result type is the inferred one (generic form).

func.func @f(%a: tensor<?x64xf32>) {
  // expected-error @+2 {{'lmc.concat' op inferred type(s) 'tensor<?x128xf32>' are incompatible with return type(s) of operation 'tensor<?x64xf32>'}}
  // expected-error @+1 {{'lmc.concat' op failed to infer returned types}}
  %0 = "lmc.concat"(%a, %a) : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.silu_grad
//===----------------------------------------------------------------------===//

// Tests that input, grad and the result of silu_grad have the same type
// (generic form).

func.func @f(%x: tensor<?x256xf32>, %dy: tensor<4x256xf32>) {
  // expected-error @+1 {{'lmc.silu_grad' op failed to verify that all of {input, grad, result} have same type}}
  %0 = "lmc.silu_grad"(%x, %dy) : (tensor<?x256xf32>, tensor<4x256xf32>) -> tensor<?x256xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.gelu_grad
//===----------------------------------------------------------------------===//

// Tests that input, grad and the result have the same type (generic form).

func.func @f(%x: tensor<?x256xf32>, %dy: tensor<4x256xf32>) {
  // expected-error @+1 {{'lmc.gelu_grad' op failed to verify that all of {input, grad, result} have same type}}
  %0 = "lmc.gelu_grad"(%x, %dy) <{approximation = 0 : i32}> : (tensor<?x256xf32>, tensor<4x256xf32>) -> tensor<?x256xf32>
  return
}

// -----

// Tests that the approximation is tanh or exact.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'approximation' [tanh, exact]}}
  %0 = lmc.gelu_grad %x, %x erf : tensor<4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.layer_norm_grad
//===----------------------------------------------------------------------===//

// Tests that the input has rank at least 1 (generic form).

func.func @f(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op input must have rank at least 1}}
  %0:3 = "lmc.layer_norm_grad"(%x, %w, %x) <{eps = 1.0e-05 : f64}> : (tensor<f32>, tensor<1xf32>, tensor<f32>) -> (tensor<f32>, tensor<1xf32>, tensor<1xf32>)
  return
}

// -----

// Tests that the last dimension of the input is static.

func.func @f(%x: tensor<?x?xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op last dimension of the input must be static}}
  %0:3 = lmc.layer_norm_grad %x, %w, %x eps(1.0e-05) : tensor<?x?xf32>, tensor<64xf32>
  return
}

// -----

// Tests that the weight has the size of the last dimension.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op weight must be a vector of 64 elements (the last dimension of the input), got 'tensor<32xf32>'}}
  %0:3 = lmc.layer_norm_grad %x, %w, %x eps(1.0e-05) : tensor<?x?x64xf32>, tensor<32xf32>
  return
}

// -----

// Tests that the weight is a vector.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<1x64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op weight must be a vector of 64 elements (the last dimension of the input), got 'tensor<1x64xf32>'}}
  %0:3 = lmc.layer_norm_grad %x, %w, %x eps(1.0e-05) : tensor<?x?x64xf32>, tensor<1x64xf32>
  return
}

// -----

// Tests that the weight has the element type of the input.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf64>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op weight element type 'f64' differs from the input's 'f32'}}
  %0:3 = lmc.layer_norm_grad %x, %w, %x eps(1.0e-05) : tensor<?x?x64xf32>, tensor<64xf64>
  return
}

// -----

// Tests that eps is greater than zero: not zero.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op eps must be greater than zero}}
  %0:3 = lmc.layer_norm_grad %x, %w, %x eps(0.0) : tensor<?x?x64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that eps is greater than zero: not negative.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op eps must be greater than zero}}
  %0:3 = lmc.layer_norm_grad %x, %w, %x eps(-1.0e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that eps is greater than zero: not NaN (generic form).

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op eps must be greater than zero}}
  %0:3 = "lmc.layer_norm_grad"(%x, %w, %x) <{eps = 0x7FF8000000000000 : f64}> : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>)
  return
}

// -----

// Tests that grad and the input gradient have the input's type (generic
// form).

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<2x?x64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op failed to verify that all of {input, grad, input_grad} have same type}}
  %0:3 = "lmc.layer_norm_grad"(%x, %w, %dy) <{eps = 1.0e-05 : f64}> : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<2x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>)
  return
}

// -----

// Tests that the weight and bias gradients have the weight's type (generic
// form).

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm_grad' op failed to verify that all of {weight, weight_grad, bias_grad} have same type}}
  %0:3 = "lmc.layer_norm_grad"(%x, %w, %x) <{eps = 1.0e-05 : f64}> : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.rms_norm_grad
//===----------------------------------------------------------------------===//

// Tests that the rms_norm_grad input has rank at least 1 (generic form).

func.func @f(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{'lmc.rms_norm_grad' op input must have rank at least 1}}
  %0:2 = "lmc.rms_norm_grad"(%x, %w, %x) <{eps = 1.0e-05 : f64}> : (tensor<f32>, tensor<1xf32>, tensor<f32>) -> (tensor<f32>, tensor<1xf32>)
  return
}

// -----

// Tests that the last dimension of the rms_norm_grad input is static.

func.func @f(%x: tensor<?x?xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.rms_norm_grad' op last dimension of the input must be static}}
  %0:2 = lmc.rms_norm_grad %x, %w, %x eps(1.0e-05) : tensor<?x?xf32>, tensor<64xf32>
  return
}

// -----

// Tests that the rms_norm_grad weight has the size of the last dimension.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'lmc.rms_norm_grad' op weight must be a vector of 64 elements (the last dimension of the input), got 'tensor<32xf32>'}}
  %0:2 = lmc.rms_norm_grad %x, %w, %x eps(1.0e-05) : tensor<?x?x64xf32>, tensor<32xf32>
  return
}

// -----

// Tests that the rms_norm_grad weight has the element type of the input.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf64>) {
  // expected-error @+1 {{'lmc.rms_norm_grad' op weight element type 'f64' differs from the input's 'f32'}}
  %0:2 = lmc.rms_norm_grad %x, %w, %x eps(1.0e-05) : tensor<?x?x64xf32>, tensor<64xf64>
  return
}

// -----

// Tests that the rms_norm_grad eps is greater than zero.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.rms_norm_grad' op eps must be greater than zero}}
  %0:2 = lmc.rms_norm_grad %x, %w, %x eps(0.0) : tensor<?x?x64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that grad and the input gradient of rms_norm_grad have the input's
// type (generic form).

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<2x?x64xf32>) {
  // expected-error @+1 {{'lmc.rms_norm_grad' op failed to verify that all of {input, grad, input_grad} have same type}}
  %0:2 = "lmc.rms_norm_grad"(%x, %w, %dy) <{eps = 1.0e-05 : f64}> : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<2x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>)
  return
}

// -----

// Tests that the rms_norm_grad weight gradient has the weight's type
// (generic form).

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.rms_norm_grad' op failed to verify that all of {weight, weight_grad} have same type}}
  %0:2 = "lmc.rms_norm_grad"(%x, %w, %x) <{eps = 1.0e-05 : f64}> : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf64>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.softmax_grad
//===----------------------------------------------------------------------===//

// Tests that the operands have rank at least 1.

func.func @f(%y: tensor<f32>) {
  // expected-error @+1 {{'lmc.softmax_grad' op operands must have rank at least 1}}
  %0 = lmc.softmax_grad %y, %y : tensor<f32>
  return
}

// -----

// Tests that output, grad and the result have one type (generic form).

func.func @f(%y: tensor<?x2x?x?xf32>, %dy: tensor<?x2x?x?xf64>) {
  // expected-error @+1 {{'lmc.softmax_grad' op failed to verify that all of {output, grad, result} have same type}}
  %0 = "lmc.softmax_grad"(%y, %dy) : (tensor<?x2x?x?xf32>, tensor<?x2x?x?xf64>) -> tensor<?x2x?x?xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.embedding_grad
//===----------------------------------------------------------------------===//

// Tests that the offset is an index (generic form).

func.func @f(%g: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>, %off: i64) {
  // expected-error @+1 {{'lmc.embedding_grad' op operand #2 must be index, but got 'i64'}}
  %0 = "lmc.embedding_grad"(%g, %ids, %off) <{operandSegmentSizes = array<i32: 1, 1, 1, 0>}> : (tensor<?x?x64xf32>, tensor<?x?xi32>, i64) -> tensor<256x64xf32>
  return
}

// -----

// Tests that the accumulator has the result's type.

func.func @f(%g: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>, %acc: tensor<128x64xf32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op failed to verify that acc has the result's type}}
  %0 = "lmc.embedding_grad"(%g, %ids, %acc) <{operandSegmentSizes = array<i32: 1, 1, 0, 1>}> : (tensor<?x?x64xf32>, tensor<?x?xi32>, tensor<128x64xf32>) -> tensor<256x64xf32>
  return
}

// -----

// Tests that grad is rank 3.

func.func @f(%g: tensor<?x64xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op grad must be rank 3 (batch, sequence, channels)}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
  return
}

// -----

// Tests that the result is a static table.

func.func @f(%g: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op result must be a static rank-2 table}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<?x64xf32>
  return
}

// -----

// Tests that the result is rank 2.

func.func @f(%g: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op result must be a static rank-2 table}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<1x256x64xf32>
  return
}

// -----

// Tests that the result has the channels of grad.

func.func @f(%g: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op result 'tensor<256x32xf32>' does not match the channels of 'tensor<?x?x64xf32>'}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x32xf32>
  return
}

// -----

// Tests that the result has the element type of grad.

func.func @f(%g: tensor<?x?x64xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op result 'tensor<256x64xf64>' does not match the channels of 'tensor<?x?x64xf32>'}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf64>
  return
}

// -----

// Tests that ids is rank 2.

func.func @f(%g: tensor<?x?x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op ids 'tensor<?xi32>' do not match grad 'tensor<?x?x64xf32>'}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<?x?x64xf32>, tensor<?xi32> -> tensor<256x64xf32>
  return
}

// -----

// Tests that ids has the batch size of grad where both are static.

func.func @f(%g: tensor<2x?x64xf32>, %ids: tensor<3x?xi32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op ids 'tensor<3x?xi32>' do not match grad 'tensor<2x?x64xf32>'}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<2x?x64xf32>, tensor<3x?xi32> -> tensor<256x64xf32>
  return
}

// -----

// Tests that ids has the sequence length of grad where both are static.

func.func @f(%g: tensor<?x8x64xf32>, %ids: tensor<?x4xi32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op ids 'tensor<?x4xi32>' do not match grad 'tensor<?x8x64xf32>'}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<?x8x64xf32>, tensor<?x4xi32> -> tensor<256x64xf32>
  return
}

// -----

// Tests that ids are signless integers.

func.func @f(%g: tensor<?x?x64xf32>, %ids: tensor<?x?xf32>) {
  // expected-error @+1 {{'lmc.embedding_grad' op operand #1 must be ranked tensor of 8-, 16-, 32- or 64-bit signless integer values, but got 'tensor<?x?xf32>'}}
  %0 = lmc.embedding_grad %g[%ids] : tensor<?x?x64xf32>, tensor<?x?xf32> -> tensor<256x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.position_embedding_grad
//===----------------------------------------------------------------------===//

// Tests that grad is rank 3.

func.func @f(%g: tensor<?x?x2x64xf32>) {
  // expected-error @+1 {{'lmc.position_embedding_grad' op grad must be rank 3 (batch, sequence, channels)}}
  %0 = lmc.position_embedding_grad %g : tensor<?x?x2x64xf32> -> tensor<64x64xf32>
  return
}

// -----

// Tests that the result is a static table.

func.func @f(%g: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.position_embedding_grad' op result must be a static rank-2 table}}
  %0 = lmc.position_embedding_grad %g : tensor<?x?x64xf32> -> tensor<?x64xf32>
  return
}

// -----

// Tests that the result has the channels of grad.

func.func @f(%g: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.position_embedding_grad' op result 'tensor<64x128xf32>' does not match the channels of 'tensor<?x?x64xf32>'}}
  %0 = lmc.position_embedding_grad %g : tensor<?x?x64xf32> -> tensor<64x128xf32>
  return
}

// -----

// Tests that the result has the element type of grad.

func.func @f(%g: tensor<?x?x64xf64>) {
  // expected-error @+1 {{'lmc.position_embedding_grad' op result 'tensor<64x64xf32>' does not match the channels of 'tensor<?x?x64xf64>'}}
  %0 = lmc.position_embedding_grad %g : tensor<?x?x64xf64> -> tensor<64x64xf32>
  return
}

// -----

// Tests that a static sequence length does not exceed the rows of the table.

func.func @f(%g: tensor<?x65x64xf32>) {
  // expected-error @+1 {{'lmc.position_embedding_grad' op sequence length 65 exceeds the 64 rows of the table}}
  %0 = lmc.position_embedding_grad %g : tensor<?x65x64xf32> -> tensor<64x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.cross_entropy_grad
//===----------------------------------------------------------------------===//

// Tests that the result has the logits' type, or their shape in bfloat16
// (a gradient stored by lmc-bf16-storage), not another shape.

func.func @f(%l: tensor<4x256xf32>, %t: tensor<4xi32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op result must have the logits' type 'tensor<4x256xf32>' (or their shape with bf16 elements), got 'tensor<4x128xbf16>'}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<4x256xf32>, tensor<4xi32>, tensor<f32> -> tensor<4x128xbf16>
  return
}

// -----

// Tests that only float32 logits give a bfloat16 gradient.

func.func @f(%l: tensor<4x256xf64>, %t: tensor<4xi32>, %d: tensor<f64>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op result must have the logits' type 'tensor<4x256xf64>' (or their shape with bf16 elements), got 'tensor<4x256xbf16>'}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<4x256xf64>, tensor<4xi32>, tensor<f64> -> tensor<4x256xbf16>
  return
}

// -----

// Tests that the logits have rank at least 2.

func.func @f(%l: tensor<256xf32>, %t: tensor<i32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op logits need rank at least 2 and a static vocabulary}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<256xf32>, tensor<i32>, tensor<f32>
  return
}

// -----

// Tests that the vocabulary is static.

func.func @f(%l: tensor<?x?x?xf32>, %t: tensor<?x?xi32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op logits need rank at least 2 and a static vocabulary}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<?x?x?xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that the targets have one rank less than the logits.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?xi32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op targets must have rank 2}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<?x?x256xf32>, tensor<?xi32>, tensor<f32>
  return
}

// -----

// Tests that the targets have the leading dimensions of the logits where
// both are static.

func.func @f(%l: tensor<?x8x256xf32>, %t: tensor<?x4xi32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op dimension 1 of logits and targets differ}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<?x8x256xf32>, tensor<?x4xi32>, tensor<f32>
  return
}

// -----

// Tests that grad has the element type of the logits.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %d: tensor<f64>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op grad must have the logits' element type}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f64>
  return
}

// -----

// Tests that classes (the real vocabulary of padded logits) is at most the
// logits' width.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op classes (300) exceeds the 256 columns of the logits}}
  %0 = lmc.cross_entropy_grad %l, %t, %d classes(300) : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that classes is at least 1.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op classes must be at least 1, got -3}}
  %0 = lmc.cross_entropy_grad %l, %t, %d classes(-3) : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that grad is a 0-d tensor.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %d: tensor<1xf32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op operand #2 must be 0D tensor of 32-bit float or 64-bit float values, but got 'tensor<1xf32>'}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<1xf32>
  return
}

// -----

// Tests that the targets are signless integers.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xf32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op operand #1 must be ranked tensor of 8-, 16-, 32- or 64-bit signless integer values, but got 'tensor<?x?xf32>'}}
  %0 = lmc.cross_entropy_grad %l, %t, %d : tensor<?x?x256xf32>, tensor<?x?xf32>, tensor<f32>
  return
}

// -----

// Tests that the result has the logits' type (generic form).

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %d: tensor<f32>) {
  // expected-error @+1 {{'lmc.cross_entropy_grad' op result must have the logits' type 'tensor<?x?x256xf32>' (or their shape with bf16 elements), got 'tensor<2x?x256xf32>'}}
  %0 = "lmc.cross_entropy_grad"(%l, %t, %d) : (tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>) -> tensor<2x?x256xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.chunked_head_loss
//===----------------------------------------------------------------------===//

// Tests that the input has rank at least 2 and static channels.

func.func @f(%x: tensor<?x?x?xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op input must have rank at least 2 and a static channel dimension}}
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s transpose_b rows(8) : tensor<?x?x?xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that the weight is a static matrix.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<?x64xf32>, %t: tensor<?x?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op weight must be a static matrix}}
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s transpose_b rows(8) : tensor<?x?x64xf32>, tensor<?x64xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that the weight takes the input's channels in its layout: a [V, C] weight
// without transpose_b does not.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op weight 'tensor<256x64xf32>' does not take the 64 channels of the input}}
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s rows(8) : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that the targets have one rank less than the input.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op targets must have rank 2 (one less than the input)}}
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s transpose_b rows(8) : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?xi32>, tensor<f32>
  return
}

// -----

// Tests that the targets have the input's leading dimensions where static.

func.func @f(%x: tensor<4x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<2x?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op dimension 0 differs: input has 4, targets have 2}}
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s transpose_b rows(8) : tensor<4x?x64xf32>, tensor<256x64xf32>, tensor<2x?xi32>, tensor<f32>
  return
}

// -----

// Tests that classes is at most V.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op classes (257) must be in [1, 256]}}
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s transpose_b classes(257) rows(8) : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that classes is at least 1.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op classes (0) must be in [1, 256]}}
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s transpose_b classes(0) rows(8) : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that rows is at least 1.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op rows must be at least 1, got 0}}
  %l, %dx, %dw = lmc.chunked_head_loss %x, %w, %t, %s transpose_b rows(0) : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
  return
}

// -----

// Tests that the gradients have the shapes of input and weight (generic
// form).

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op the gradients must have the shapes of input and weight, got 'tensor<?x?x64xf32>' and 'tensor<64x256xf32>'}}
  %l, %dx, %dw = "lmc.chunked_head_loss"(%x, %w, %t, %s) <{rows = 8 : i64, transpose_b}> : (tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>) -> (tensor<f32>, tensor<?x?x64xf32>, tensor<64x256xf32>)
  return
}

// -----

// Tests that the logits' layer is float32 (the runtime's kernel).

func.func @f(%x: tensor<?x?x64xf64>, %w: tensor<256x64xf64>, %t: tensor<?x?xi32>, %s: tensor<f64>) {
  // expected-error @+1 {{'lmc.chunked_head_loss' op operand #0 must be ranked tensor of 32-bit float values}}
  %l, %dx, %dw = "lmc.chunked_head_loss"(%x, %w, %t, %s) <{rows = 8 : i64, transpose_b}> : (tensor<?x?x64xf64>, tensor<256x64xf64>, tensor<?x?xi32>, tensor<f64>) -> (tensor<f32>, tensor<?x?x64xf64>, tensor<256x64xf64>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.adamw
//===----------------------------------------------------------------------===//

// Tests that the float scalars have the parameter's element type.

func.func @f(%p: tensor<4xf32>, %s: f64, %t: i64) {
  // expected-error @+1 {{'lmc.adamw' op scalars must have the parameter's element type 'f32'}}
  %0:3 = lmc.adamw %p, %p, %p, %p lr(%s) grad_scale(%s) step(%t) betas(%s, %s) eps(%s) weight_decay(%s) : tensor<4xf32>, f64, i64
  return
}

// -----

// Tests that the tensors have one type (generic form).

func.func @f(%p: tensor<4xf32>, %g: tensor<?xf32>, %s: f32, %t: i64) {
  // expected-error @+1 {{'lmc.adamw' op failed to verify that all of {param, grad, exp_avg, exp_avg_sq, new_param, new_exp_avg, new_exp_avg_sq} have same type}}
  %0:3 = "lmc.adamw"(%p, %g, %p, %p, %s, %s, %t, %s, %s, %s, %s) : (tensor<4xf32>, tensor<?xf32>, tensor<4xf32>, tensor<4xf32>, f32, f32, i64, f32, f32, f32, f32) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// Tests that the float scalars have one type (generic form).

func.func @f(%p: tensor<4xf32>, %s: f32, %d: f64, %t: i64) {
  // expected-error @+1 {{'lmc.adamw' op failed to verify that all of {lr, beta1, beta2, eps, weight_decay} have same type}}
  %0:3 = "lmc.adamw"(%p, %p, %p, %p, %s, %s, %t, %s, %d, %s, %s) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, f32, f32, i64, f32, f64, f32, f32) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// Tests that a 0-d tensor grad_scale has the parameter's element type.

func.func @f(%p: tensor<4xf32>, %s: f32, %d: tensor<f64>, %t: i64) {
  // expected-error @+1 {{'lmc.adamw' op grad_scale must be the parameter's element type 'f32' or a 0-d tensor of it, got 'tensor<f64>'}}
  %0:3 = lmc.adamw %p, %p, %p, %p lr(%s) grad_scale(%d) step(%t) betas(%s, %s) eps(%s) weight_decay(%s) : tensor<4xf32>, f32, i64, tensor<f64>
  return
}

// -----

// Tests that a tensor grad_scale has rank 0.

func.func @f(%p: tensor<4xf32>, %s: f32, %d: tensor<1xf32>, %t: i64) {
  // expected-error @+1 {{'lmc.adamw' op operand #5 must be 32-bit or 64-bit float or 0D tensor of 32-bit float or 64-bit float values, but got 'tensor<1xf32>'}}
  %0:3 = lmc.adamw %p, %p, %p, %p lr(%s) grad_scale(%d) step(%t) betas(%s, %s) eps(%s) weight_decay(%s) : tensor<4xf32>, f32, i64, tensor<1xf32>
  return
}

// -----

// Tests that the float scalars are f32 or f64.

func.func @f(%p: tensor<4xf32>, %s: f16, %t: i64) {
  // expected-error @+1 {{'lmc.adamw' op operand #4 must be 32-bit or 64-bit float, but got 'f16'}}
  %0:3 = lmc.adamw %p, %p, %p, %p lr(%s) grad_scale(%s) step(%t) betas(%s, %s) eps(%s) weight_decay(%s) : tensor<4xf32>, f16, i64
  return
}

// -----

// Tests that step is a signless integer: the custom form only parses an
// integer type.

func.func @f(%p: tensor<4xf32>, %s: f32) {
  // expected-error @+1 {{invalid kind of type specified: expected builtin.integer, but found 'f32'}}
  %0:3 = lmc.adamw %p, %p, %p, %p lr(%s) grad_scale(%s) step(%s) betas(%s, %s) eps(%s) weight_decay(%s) : tensor<4xf32>, f32, f32
  return
}

// -----

// Tests that step is a signless integer: not a float (generic form).

func.func @f(%p: tensor<4xf32>, %s: f32) {
  // expected-error @+1 {{'lmc.adamw' op operand #6 must be signless integer, but got 'f32'}}
  %0:3 = "lmc.adamw"(%p, %p, %p, %p, %s, %s, %s, %s, %s, %s, %s) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, f32, f32, f32, f32, f32, f32, f32) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// Tests that step is a signless integer: not an index (generic form).

func.func @f(%p: tensor<4xf32>, %s: f32, %t: index) {
  // expected-error @+1 {{'lmc.adamw' op operand #6 must be signless integer, but got 'index'}}
  %0:3 = "lmc.adamw"(%p, %p, %p, %p, %s, %s, %t, %s, %s, %s, %s) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, f32, f32, index, f32, f32, f32, f32) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// Tests that step is a signless integer: not an unsigned one.

func.func @f(%p: tensor<4xf32>, %s: f32, %t: ui64) {
  // expected-error @+1 {{'lmc.adamw' op operand #6 must be signless integer, but got 'ui64'}}
  %0:3 = lmc.adamw %p, %p, %p, %p lr(%s) grad_scale(%s) step(%t) betas(%s, %s) eps(%s) weight_decay(%s) : tensor<4xf32>, f32, ui64
  return
}

// -----

// Tests that the parameter is a tensor of f32 or f64.

func.func @f(%p: tensor<4xbf16>, %s: f32, %t: i64) {
  // expected-error @+1 {{'lmc.adamw' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<4xbf16>'}}
  %0:3 = lmc.adamw %p, %p, %p, %p lr(%s) grad_scale(%s) step(%t) betas(%s, %s) eps(%s) weight_decay(%s) : tensor<4xbf16>, f32, i64
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.causal_mask zero
//===----------------------------------------------------------------------===//

// Tests that the `zero` form, the gradient of the mask, is verified as the
// plain form: rank at least 2.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.causal_mask' op input must have rank at least 2, got rank 1}}
  %0 = lmc.causal_mask %x zero : tensor<4xf32>
  return
}

// -----

// Tests that the `zero` form needs equal static query and key dimensions.

func.func @f(%x: tensor<2x3x4xf32>) {
  // expected-error @+1 {{'lmc.causal_mask' op query and key positions differ: 3 vs 4}}
  %0 = lmc.causal_mask %x zero : tensor<2x3x4xf32>
  return
}
