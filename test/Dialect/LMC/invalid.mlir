// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of the lmc ops, in the order of LMCOps.td. Rules
// checked by result type inference report while parsing the custom form;
// rules the custom form cannot express use the generic form.

//===----------------------------------------------------------------------===//
// lmc.model
//===----------------------------------------------------------------------===//

// Tests that a model body rejects ops other than lmc.param and func.func.

lmc.model @m {
  // expected-error @+1 {{'arith.constant' op is not allowed in an lmc.model; only lmc.param and func.func are}}
  %c = arith.constant 0 : i32
}

// -----

// Tests that a model cannot be nested in a model.

lmc.model @outer {
  // expected-error @+1 {{'lmc.model' op is not allowed in an lmc.model; only lmc.param and func.func are}}
  lmc.model @inner {
  }
}

// -----

// Tests that a model's context_length is at least 1.

// expected-error @+1 {{'lmc.model' op context_length must be at least 1, got 0}}
lmc.model @m attributes {context_length = 0 : i64} {
}

// -----

// Tests that a stated context_length agrees with the position table.

lmc.model @m attributes {context_length = 32 : i64} {
  lmc.param @wpe : tensor<16x8xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wpe = lmc.param_ref @wpe : tensor<16x8xf32>
    // expected-error @+1 {{'lmc.position_embedding' op has a position table of 16 rows but the model's context_length is 32}}
    %p = lmc.position_embedding %wpe like %tokens : tensor<16x8xf32>, tensor<?x?xi32>
    %l = arith.constant dense<0.0> : tensor<f32>
    return %l : tensor<f32>
  }
}

// -----

// Tests that parameter names are unique within a model.

lmc.model @m {
  // expected-note @+1 {{see existing symbol definition here}}
  lmc.param @w : tensor<4xf32> init(ones)
  // expected-error @+1 {{redefinition of symbol named 'w'}}
  lmc.param @w : tensor<4xf32> init(zeros)
}

// -----

// Tests that the model body has no block arguments.

// expected-error @+1 {{'lmc.model' op region should have no arguments}}
"lmc.model"() <{sym_name = "m"}> ({
^bb0(%arg0: i32):
}) : () -> ()

// -----

// Tests that the model body is a single block.

// expected-error @+1 {{'lmc.model' op expects region #0 to have 0 or 1 blocks}}
"lmc.model"() <{sym_name = "m"}> ({
^bb0:
  "lmc.param"() <{init = 1 : i32, sym_name = "a", type = tensor<4xf32>}> : () -> ()
^bb1:
  "lmc.param"() <{init = 1 : i32, sym_name = "b", type = tensor<4xf32>}> : () -> ()
}) : () -> ()

// -----

// Tests that `forward` takes exactly two arguments.

lmc.model @m {
  // expected-error @+1 {{'func.func' op 'forward' must take (tokens, targets) as two rank-2 tensors of signless integers, got '(tensor<?x?xi32>) -> tensor<f32>'}}
  func.func @forward(%tokens: tensor<?x?xi32>) -> tensor<f32> {
    %c = arith.constant dense<0.0> : tensor<f32>
    return %c : tensor<f32>
  }
}

// -----

// Tests that the tokens of `forward` are integers.

lmc.model @m {
  // expected-error @+1 {{'func.func' op 'forward' must take (tokens, targets) as two rank-2 tensors of signless integers, got '(tensor<?x?xf32>, tensor<?x?xi32>) -> tensor<f32>'}}
  func.func @forward(%tokens: tensor<?x?xf32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %c = arith.constant dense<0.0> : tensor<f32>
    return %c : tensor<f32>
  }
}

// -----

// Tests that the targets of `forward` are rank 2.

lmc.model @m {
  // expected-error @+1 {{'func.func' op 'forward' must take (tokens, targets) as two rank-2 tensors of signless integers, got '(tensor<?x?xi32>, tensor<?xi32>) -> tensor<f32>'}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?xi32>) -> tensor<f32> {
    %c = arith.constant dense<0.0> : tensor<f32>
    return %c : tensor<f32>
  }
}

// -----

// Tests that the ids of `forward` are signless integers.

lmc.model @m {
  // expected-error @+1 {{'func.func' op 'forward' must take (tokens, targets) as two rank-2 tensors of signless integers}}
  func.func @forward(%tokens: tensor<?x?xui32>, %targets: tensor<?x?xui32>) -> tensor<f32> {
    %c = arith.constant dense<0.0> : tensor<f32>
    return %c : tensor<f32>
  }
}

// -----

// Tests that `forward` returns a 0-d tensor, not a vector of losses.

lmc.model @m {
  // expected-error @+1 {{'func.func' op 'forward' must return the loss as one 0-d float tensor, got '(tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<1xf32>'}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<1xf32> {
    %c = arith.constant dense<0.0> : tensor<1xf32>
    return %c : tensor<1xf32>
  }
}

// -----

// Tests that `forward` returns a tensor, not a scalar.

lmc.model @m {
  // expected-error @+1 {{'func.func' op 'forward' must return the loss as one 0-d float tensor, got '(tensor<?x?xi32>, tensor<?x?xi32>) -> f32'}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> f32 {
    %c = arith.constant 0.0 : f32
    return %c : f32
  }
}

// -----

// Tests that the loss of `forward` is a float.

lmc.model @m {
  // expected-error @+1 {{'func.func' op 'forward' must return the loss as one 0-d float tensor, got '(tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<i32>'}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<i32> {
    %c = arith.constant dense<0> : tensor<i32>
    return %c : tensor<i32>
  }
}

// -----

// Tests that `forward` returns exactly one value.

lmc.model @m {
  // expected-error @+1 {{'func.func' op 'forward' must return the loss as one 0-d float tensor, got '(tensor<?x?xi32>, tensor<?x?xi32>) -> (tensor<f32>, tensor<f32>)'}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<f32>) {
    %c = arith.constant dense<0.0> : tensor<f32>
    return %c, %c : tensor<f32>, tensor<f32>
  }
}

// -----

//===----------------------------------------------------------------------===//
// lmc.param
//===----------------------------------------------------------------------===//

// Tests that a parameter lives in a model.

// expected-error @+1 {{'lmc.param' op expects parent op 'lmc.model'}}
lmc.param @w : tensor<4xf32> init(ones)

// -----

// Tests that a parameter has a static shape.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op type must be a statically shaped tensor of f32 or f64, got 'tensor<?x4xf32>'}}
  lmc.param @w : tensor<?x4xf32> init(ones)
}

// -----

// Tests that a parameter is ranked.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op type must be a statically shaped tensor of f32 or f64, got 'tensor<*xf32>'}}
  lmc.param @w : tensor<*xf32> init(zeros)
}

// -----

// Tests that a parameter is f32 or f64, not f16.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op type must be a statically shaped tensor of f32 or f64, got 'tensor<4xf16>'}}
  lmc.param @w : tensor<4xf16> init(ones)
}

// -----

// Tests that a parameter is not an integer tensor.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op type must be a statically shaped tensor of f32 or f64, got 'tensor<4xi32>'}}
  lmc.param @w : tensor<4xi32> init(zeros)
}

// -----

// Tests that a parameter is a tensor, not a memref.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op type must be a statically shaped tensor of f32 or f64, got 'memref<4xf32>'}}
  lmc.param @w : memref<4xf32> init(zeros)
}

// -----

// Tests that a parameter is not a scalar.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op type must be a statically shaped tensor of f32 or f64, got 'f32'}}
  lmc.param @w : f32 init(zeros)
}

// -----

// Tests that init(normal) requires a std.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op init(normal) requires a std}}
  lmc.param @w : tensor<4xf32> init(normal)
}

// -----

// Tests that std is greater than zero: zero is rejected.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op std must be finite and greater than zero, got 0}}
  lmc.param @w : tensor<4xf32> init(normal, std = 0.0)
}

// -----

// Tests that a negative std is rejected.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op std must be finite and greater than zero, got -2.000000e-02}}
  lmc.param @w : tensor<4xf32> init(normal, std = -0.02)
}

// -----

// Tests that a NaN std is rejected.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op std must be finite and greater than zero, got nan}}
  lmc.param @w : tensor<4xf32> init(normal, std = 0x7FF8000000000000)
}

// -----

// Tests that an infinite std is rejected.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op std must be finite and greater than zero, got INF}}
  lmc.param @w : tensor<4xf32> init(normal, std = 0x7FF0000000000000)
}

// -----

// Tests that init(zeros) takes no std.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op init(zeros) takes no std}}
  lmc.param @w : tensor<4xf32> init(zeros, std = 0.02)
}

// -----

// Tests that init(ones) takes no std.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op init(ones) takes no std}}
  lmc.param @w : tensor<4xf32> init(ones, std = 0.02)
}

// -----

// Tests that an unknown initialiser is a parse error.

lmc.model @m {
  // expected-error @+1 {{unknown initialiser 'uniform'; expected zeros, ones or normal}}
  lmc.param @w : tensor<4xf32> init(uniform)
}

// -----

// Tests that the type of a parameter is a type attribute (generic form).

lmc.model @m {
  // expected-error @+1 {{invalid properties {init = 1 : i32, sym_name = "w", type = 4 : i64} for op lmc.param: Invalid attribute `type` in property conversion: 4 : i64}}
  "lmc.param"() <{init = 1 : i32, sym_name = "w", type = 4 : i64}> : () -> ()
}

// -----

//===----------------------------------------------------------------------===//
// lmc.param_ref
//===----------------------------------------------------------------------===//

// Tests that param_ref outside a model is rejected.

func.func @f() -> tensor<4xf32> {
  // expected-error @+1 {{'lmc.param_ref' op must be nested in an lmc.model}}
  %w = lmc.param_ref @w : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// Tests that param_ref names a declared parameter.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(ones)
  func.func @f() -> tensor<4xf32> {
    // expected-error @+1 {{'lmc.param_ref' op 'v' does not name an lmc.param of model @m}}
    %v = lmc.param_ref @v : tensor<4xf32>
    return %v : tensor<4xf32>
  }
}

// -----

// Tests that param_ref names a parameter, not another symbol of the model.

lmc.model @m {
  func.func @f() -> tensor<4xf32> {
    // expected-error @+1 {{'lmc.param_ref' op 'f' does not name an lmc.param of model @m}}
    %v = lmc.param_ref @f : tensor<4xf32>
    return %v : tensor<4xf32>
  }
}

// -----

// Tests that the type of param_ref equals the parameter's type (shape).

lmc.model @m {
  lmc.param @w : tensor<4x8xf32> init(ones)
  func.func @f() -> tensor<8x4xf32> {
    // expected-error @+1 {{'lmc.param_ref' op type 'tensor<8x4xf32>' does not match the type 'tensor<4x8xf32>' of parameter 'w'}}
    %w = lmc.param_ref @w : tensor<8x4xf32>
    return %w : tensor<8x4xf32>
  }
}

// -----

// Tests that the type of param_ref equals the parameter's type (element
// type).

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(ones)
  func.func @f() -> tensor<4xf64> {
    // expected-error @+1 {{'lmc.param_ref' op type 'tensor<4xf64>' does not match the type 'tensor<4xf32>' of parameter 'w'}}
    %w = lmc.param_ref @w : tensor<4xf64>
    return %w : tensor<4xf64>
  }
}

// -----

// Tests that param_ref yields a float tensor.

lmc.model @m {
  func.func @f() -> tensor<4xi32> {
    // expected-error @+1 {{'lmc.param_ref' op result #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<4xi32>'}}
    %w = lmc.param_ref @w : tensor<4xi32>
    return %w : tensor<4xi32>
  }
}

// -----

//===----------------------------------------------------------------------===//
// lmc.embedding
//===----------------------------------------------------------------------===//

// Tests that the embedding table is rank 2.

func.func @f(%t: tensor<256xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{table must be rank 2, got rank 1}}
  %0 = lmc.embedding %t[%ids] : tensor<256xf32>, tensor<?x?xi32>
  return
}

// -----

// Tests that the ids are rank 2 (batch, sequence).

func.func @f(%t: tensor<256x64xf32>, %ids: tensor<2x3x4xi32>) {
  // expected-error @+1 {{ids must be rank 2 (batch, sequence), got rank 3}}
  %0 = lmc.embedding %t[%ids] : tensor<256x64xf32>, tensor<2x3x4xi32>
  return
}

// -----

// Tests that the ids are integers, not floats.

func.func @f(%t: tensor<256x64xf32>, %ids: tensor<?x?xf32>) {
  // expected-error @+1 {{'lmc.embedding' op operand #1 must be ranked tensor of 8-, 16-, 32- or 64-bit signless integer values, but got 'tensor<?x?xf32>'}}
  %0 = lmc.embedding %t[%ids] : tensor<256x64xf32>, tensor<?x?xf32>
  return
}

// -----

// Tests that the ids are signless integers.

func.func @f(%t: tensor<256x64xf32>, %ids: tensor<?x?xui32>) {
  // expected-error @+1 {{'lmc.embedding' op operand #1 must be ranked tensor of 8-, 16-, 32- or 64-bit signless integer values, but got 'tensor<?x?xui32>'}}
  %0 = lmc.embedding %t[%ids] : tensor<256x64xf32>, tensor<?x?xui32>
  return
}

// -----

// Tests that the table is f32 or f64, not f16.

func.func @f(%t: tensor<256x64xf16>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.embedding' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<256x64xf16>'}}
  %0 = lmc.embedding %t[%ids] : tensor<256x64xf16>, tensor<?x?xi32>
  return
}

// -----

// Tests that the offset is an index (generic form).

func.func @f(%t: tensor<256x64xf32>, %ids: tensor<2x3xi32>, %off: i32) {
  // expected-error @+1 {{'lmc.embedding' op operand #2 must be index, but got 'i32'}}
  %0 = "lmc.embedding"(%t, %ids, %off) : (tensor<256x64xf32>, tensor<2x3xi32>, i32) -> tensor<2x3x64xf32>
  return
}

// -----

// Tests that the result type is the inferred one (generic form).

func.func @f(%t: tensor<256x64xf32>, %ids: tensor<2x3xi32>) {
  // expected-error @+2 {{'lmc.embedding' op inferred type(s) 'tensor<2x3x64xf32>' are incompatible with return type(s) of operation 'tensor<2x3x32xf32>'}}
  // expected-error @+1 {{'lmc.embedding' op failed to infer returned types}}
  %0 = "lmc.embedding"(%t, %ids) : (tensor<256x64xf32>, tensor<2x3xi32>) -> tensor<2x3x32xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.position_embedding
//===----------------------------------------------------------------------===//

// Tests that a static sequence longer than the context is rejected.

func.func @f(%t: tensor<64x32xf32>, %ids: tensor<?x65xi32>) {
  // expected-error @+1 {{'lmc.position_embedding' op sequence length 65 exceeds the context 64 of the position table}}
  %0 = lmc.position_embedding %t like %ids : tensor<64x32xf32>, tensor<?x65xi32>
  return
}

// -----

// Tests that the position table is rank 2.

func.func @f(%t: tensor<2x64x32xf32>, %ids: tensor<?x?xi32>) {
  // expected-error @+1 {{table must be rank 2, got rank 3}}
  %0 = lmc.position_embedding %t like %ids : tensor<2x64x32xf32>, tensor<?x?xi32>
  return
}

// -----

// Tests that the ids of position_embedding are rank 2.

func.func @f(%t: tensor<64x32xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{ids must be rank 2 (batch, sequence), got rank 1}}
  %0 = lmc.position_embedding %t like %ids : tensor<64x32xf32>, tensor<?xi32>
  return
}

// -----

// Tests that the ids of position_embedding are integers.

func.func @f(%t: tensor<64x32xf32>, %ids: tensor<?x?xf32>) {
  // expected-error @+1 {{'lmc.position_embedding' op operand #1 must be ranked tensor of 8-, 16-, 32- or 64-bit signless integer values, but got 'tensor<?x?xf32>'}}
  %0 = lmc.position_embedding %t like %ids : tensor<64x32xf32>, tensor<?x?xf32>
  return
}

// -----

// Tests that the generic form with rank-1 ids reports the rank, and does not
// read the missing sequence dimension.

func.func @f(%t: tensor<64x32xf32>, %ids: tensor<4xi32>) {
  // expected-error @+2 {{ids must be rank 2 (batch, sequence), got rank 1}}
  // expected-error @+1 {{'lmc.position_embedding' op failed to infer returned types}}
  %0 = "lmc.position_embedding"(%t, %ids) : (tensor<64x32xf32>, tensor<4xi32>) -> tensor<4x32xf32>
  return
}

// -----

// Tests that the generic form with a rank-1 table reports the rank, not a
// context taken from the wrong dimension.

func.func @f(%t: tensor<64xf32>, %ids: tensor<4x100xi32>) {
  // expected-error @+2 {{table must be rank 2, got rank 1}}
  // expected-error @+1 {{'lmc.position_embedding' op failed to infer returned types}}
  %0 = "lmc.position_embedding"(%t, %ids) : (tensor<64xf32>, tensor<4x100xi32>) -> tensor<4x100x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.rope
//===----------------------------------------------------------------------===//

// Tests that rope needs a rank-3 input (batch, sequence, channels).

func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'lmc.rope' op input must have rank 3 (batch, sequence, channels), got rank 2}}
  %0 = lmc.rope %x head_dim(16) theta(1.0e4) : tensor<?x64xf32>
  return
}

// -----

// Tests that rope needs a static channel dimension.

func.func @f(%x: tensor<?x?x?xf32>) {
  // expected-error @+1 {{'lmc.rope' op the channel dimension of the input must be static}}
  %0 = lmc.rope %x head_dim(16) theta(1.0e4) : tensor<?x?x?xf32>
  return
}

// -----

// Tests that head_dim must be even.

func.func @f(%x: tensor<?x?x63xf32>) {
  // expected-error @+1 {{'lmc.rope' op head_dim must be even and greater than zero, got 21}}
  %0 = lmc.rope %x head_dim(21) theta(1.0e4) : tensor<?x?x63xf32>
  return
}

// -----

// Tests that head_dim must be greater than zero.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.rope' op head_dim must be even and greater than zero, got 0}}
  %0 = lmc.rope %x head_dim(0) theta(1.0e4) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that head_dim must divide the channels.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.rope' op head_dim 24 does not divide the 64 channels}}
  %0 = lmc.rope %x head_dim(24) theta(1.0e4) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that theta must be greater than zero.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.rope' op theta must be finite and greater than zero, got 0}}
  %0 = lmc.rope %x head_dim(16) theta(0.0) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that theta must be finite.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.rope' op theta must be finite and greater than zero, got INF}}
  %0 = lmc.rope %x head_dim(16) theta(0x7FF0000000000000) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that the offset is an index.

func.func @f(%x: tensor<?x?x64xf32>, %off: i64) {
  // expected-error @+1 {{'lmc.rope' op operand #1 must be index, but got 'i64'}}
  %0 = "lmc.rope"(%x, %off) <{head_dim = 16 : i64, theta = 1.0e4 : f64}> : (tensor<?x?x64xf32>, i64) -> tensor<?x?x64xf32>
  return
}

// -----

// Tests that the result type of rope is the input type (generic form).

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{'lmc.rope' op failed to verify that all of {input, result} have same type}}
  %0 = "lmc.rope"(%x) <{head_dim = 16 : i64, theta = 1.0e4 : f64}> : (tensor<?x?x64xf32>) -> tensor<2x?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.layer_norm
//===----------------------------------------------------------------------===//

// Tests that layer_norm needs an input of rank at least 1.

func.func @f(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op input must have rank at least 1}}
  %0 = "lmc.layer_norm"(%x, %w, %w) <{eps = 1.0e-05 : f64}> : (tensor<f32>, tensor<1xf32>, tensor<1xf32>) -> tensor<f32>
  return
}

// -----

// Tests that layer_norm's result has the input's type, or (a float32 input)
// its shape with bfloat16 elements.

func.func @f(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op result must have the input's type 'tensor<2x4xf32>' (or its shape with bf16 elements), got 'tensor<2x4xf64>'}}
  %0 = lmc.layer_norm %x, %w, %w eps(1.0e-05) : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf64>
  return
}

// -----

// Tests that rms_norm's bfloat16 result keeps the input's shape, and needs a
// float32 input.

func.func @f(%x: tensor<2x4xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.rms_norm' op result must have the input's type 'tensor<2x4xf32>' (or its shape with bf16 elements), got 'tensor<4x2xbf16>'}}
  %0 = lmc.rms_norm %x, %w eps(1.0e-05) : tensor<2x4xf32>, tensor<4xf32> -> tensor<4x2xbf16>
  return
}

// -----

func.func @f(%x: tensor<2x4xf64>, %w: tensor<4xf64>) {
  // expected-error @+1 {{'lmc.rms_norm' op result must have the input's type 'tensor<2x4xf64>' (or its shape with bf16 elements), got 'tensor<2x4xbf16>'}}
  %0 = lmc.rms_norm %x, %w eps(1.0e-05) : tensor<2x4xf64>, tensor<4xf64> -> tensor<2x4xbf16>
  return
}

// -----

// Tests that layer_norm needs a static last dimension.

func.func @f(%x: tensor<2x?xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op last dimension of the input must be static}}
  %0 = lmc.layer_norm %x, %w, %w eps(1.0e-05) : tensor<2x?xf32>, tensor<4xf32>
  return
}

// -----

// Tests that the weight size matches the last dimension.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op weight must be a vector of 64 elements (the last dimension of the input), got 'tensor<32xf32>'}}
  %0 = lmc.layer_norm %x, %w, %w eps(1.0e-05) : tensor<?x?x64xf32>, tensor<32xf32>
  return
}

// -----

// Tests that the weight is rank 1.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<1x64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op weight must be a vector of 64 elements (the last dimension of the input), got 'tensor<1x64xf32>'}}
  %0 = lmc.layer_norm %x, %w, %w eps(1.0e-05) : tensor<?x?x64xf32>, tensor<1x64xf32>
  return
}

// -----

// Tests that the weight has the element type of the input.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf64>) {
  // expected-error @+1 {{'lmc.layer_norm' op weight element type 'f64' differs from the input's 'f32'}}
  %0 = lmc.layer_norm %x, %w, %w eps(1.0e-05) : tensor<?x?x64xf32>, tensor<64xf64>
  return
}

// -----

// Tests that weight and bias have one type (generic form).

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %b: tensor<64xf64>) {
  // expected-error @+1 {{'lmc.layer_norm' op failed to verify that all of {weight, bias} have same type}}
  %0 = "lmc.layer_norm"(%x, %w, %b) <{eps = 1.0e-05 : f64}> : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf64>) -> tensor<?x64xf32>
  return
}

// -----

// Tests that the result type of layer_norm is the input type (generic form).

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op result must have the input's type 'tensor<?x64xf32>' (or its shape with bf16 elements), got 'tensor<2x64xf32>'}}
  %0 = "lmc.layer_norm"(%x, %w, %w) <{eps = 1.0e-05 : f64}> : (tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x64xf32>
  return
}

// -----

// Tests that eps is greater than zero: zero is rejected.

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op eps must be greater than zero, got 0}}
  %0 = lmc.layer_norm %x, %w, %w eps(0.0) : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that a negative eps is rejected.

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op eps must be greater than zero, got -1.000000e-05}}
  %0 = lmc.layer_norm %x, %w, %w eps(-1.0e-05) : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that a NaN eps is rejected.

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.layer_norm' op eps must be greater than zero, got nan}}
  %0 = lmc.layer_norm %x, %w, %w eps(0x7FF8000000000000) : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.rms_norm
//===----------------------------------------------------------------------===//

// Tests that rms_norm needs an input of rank at least 1.

func.func @f(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{'lmc.rms_norm' op input must have rank at least 1}}
  %0 = "lmc.rms_norm"(%x, %w) <{eps = 1.0e-05 : f64}> : (tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return
}

// -----

// Tests that rms_norm needs a static last dimension.

func.func @f(%x: tensor<2x?xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.rms_norm' op last dimension of the input must be static}}
  %0 = lmc.rms_norm %x, %w eps(1.0e-05) : tensor<2x?xf32>, tensor<4xf32>
  return
}

// -----

// Tests that the rms_norm weight size matches the last dimension.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'lmc.rms_norm' op weight must be a vector of 64 elements (the last dimension of the input), got 'tensor<32xf32>'}}
  %0 = lmc.rms_norm %x, %w eps(1.0e-05) : tensor<?x?x64xf32>, tensor<32xf32>
  return
}

// -----

// Tests that the rms_norm weight is rank 1.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<1x64xf32>) {
  // expected-error @+1 {{'lmc.rms_norm' op weight must be a vector of 64 elements (the last dimension of the input), got 'tensor<1x64xf32>'}}
  %0 = lmc.rms_norm %x, %w eps(1.0e-05) : tensor<?x?x64xf32>, tensor<1x64xf32>
  return
}

// -----

// Tests that the rms_norm weight has the element type of the input.

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf64>) {
  // expected-error @+1 {{'lmc.rms_norm' op weight element type 'f64' differs from the input's 'f32'}}
  %0 = lmc.rms_norm %x, %w eps(1.0e-05) : tensor<?x?x64xf32>, tensor<64xf64>
  return
}

// -----

// Tests that the result type of rms_norm is the input type (generic form).

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.rms_norm' op result must have the input's type 'tensor<?x64xf32>' (or its shape with bf16 elements), got 'tensor<2x64xf32>'}}
  %0 = "lmc.rms_norm"(%x, %w) <{eps = 1.0e-05 : f64}> : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<2x64xf32>
  return
}

// -----

// Tests that the rms_norm eps is greater than zero: zero is rejected.

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.rms_norm' op eps must be greater than zero, got 0}}
  %0 = lmc.rms_norm %x, %w eps(0.0) : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that a NaN rms_norm eps is rejected.

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.rms_norm' op eps must be greater than zero, got nan}}
  %0 = lmc.rms_norm %x, %w eps(0x7FF8000000000000) : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.matmul
//===----------------------------------------------------------------------===//

// Tests that the lhs of matmul has rank at least 2.

func.func @f(%a: tensor<4xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+1 {{lhs must have rank at least 2, got rank 1}}
  %0 = lmc.matmul %a, %b : tensor<4xf32>, tensor<4x5xf32>
  return
}

// -----

// Tests that the rhs of matmul has rank 2 or the rank of lhs.

func.func @f(%a: tensor<2x3x4x5xf32>, %b: tensor<3x5x6xf32>) {
  // expected-error @+1 {{rhs must have rank 2 or the rank of lhs (4), got rank 3}}
  %0 = lmc.matmul %a, %b : tensor<2x3x4x5xf32>, tensor<3x5x6xf32>
  return
}

// -----

// Tests that the rhs of matmul is not a vector.

func.func @f(%a: tensor<3x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{rhs must have rank 2 or the rank of lhs (2), got rank 1}}
  %0 = lmc.matmul %a, %b : tensor<3x4xf32>, tensor<4xf32>
  return
}

// -----

// Tests that the operands of matmul have one element type.

func.func @f(%a: tensor<3x4xf32>, %b: tensor<4x5xf64>) {
  // expected-error @+1 {{element types differ: 'f32' and 'f64'}}
  %0 = lmc.matmul %a, %b : tensor<3x4xf32>, tensor<4x5xf64>
  return
}

// -----

// Tests that the contraction dimensions agree.

func.func @f(%a: tensor<?x?x64xf32>, %b: tensor<32x192xf32>) {
  // expected-error @+1 {{contraction dimensions differ: lhs has 64, rhs has 32}}
  %0 = lmc.matmul %a, %b : tensor<?x?x64xf32>, tensor<32x192xf32>
  return
}

// -----

// Tests that transpose_a contracts over the second to last lhs dimension.

func.func @f(%a: tensor<4x3xf32>, %b: tensor<3x5xf32>) {
  // expected-error @+1 {{contraction dimensions differ: lhs has 4, rhs has 3}}
  %0 = lmc.matmul %a, %b transpose_a : tensor<4x3xf32>, tensor<3x5xf32>
  return
}

// -----

// Tests that transpose_b contracts over the last rhs dimension.

func.func @f(%h: tensor<?x?x64xf32>, %wte: tensor<64x256xf32>) {
  // expected-error @+1 {{contraction dimensions differ: lhs has 64, rhs has 256}}
  %0 = lmc.matmul %h, %wte transpose_b : tensor<?x?x64xf32>, tensor<64x256xf32>
  return
}

// -----

// Tests that a batched rhs has the batch dimensions of lhs.

func.func @f(%q: tensor<2x4x?x32xf32>, %k: tensor<2x3x?x32xf32>) {
  // expected-error @+1 {{batch dimension 1 differs: lhs has 4, rhs has 3}}
  %0 = lmc.matmul %q, %k transpose_b : tensor<2x4x?x32xf32>, tensor<2x3x?x32xf32>
  return
}

// -----

// Tests that matmul rejects non-float operands.

func.func @f(%a: tensor<3x4xi32>, %b: tensor<4x5xi32>) {
  // expected-error @+1 {{'lmc.matmul' op operand #0 must be ranked tensor of 32-bit float or 64-bit float or bfloat16 type values, but got 'tensor<3x4xi32>'}}
  %0 = lmc.matmul %a, %b : tensor<3x4xi32>, tensor<4x5xi32>
  return
}

// -----

// Tests that the result type of matmul is the inferred one (generic form).

func.func @f(%a: tensor<3x4xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+2 {{'lmc.matmul' op inferred type(s) 'tensor<3x5xf32>' are incompatible with return type(s) of operation 'tensor<3x4xf32>'}}
  // expected-error @+1 {{'lmc.matmul' op failed to infer returned types}}
  %0 = "lmc.matmul"(%a, %b) : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.silu
//===----------------------------------------------------------------------===//

// Tests that silu's result has the input type (generic form).

func.func @f(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'lmc.silu' op failed to verify that all of {input, result} have same type}}
  %0 = "lmc.silu"(%x) : (tensor<?x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that silu takes a float tensor.

func.func @f(%x: tensor<4xi32>) {
  // expected-error @+1 {{'lmc.silu' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<4xi32>'}}
  %0 = lmc.silu %x : tensor<4xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.bias_add
//===----------------------------------------------------------------------===//

// Tests that bias_add needs an input of rank at least 1.

func.func @f(%x: tensor<f32>, %b: tensor<1xf32>) {
  // expected-error @+1 {{'lmc.bias_add' op input must have rank at least 1}}
  %0 = lmc.bias_add %x, %b : tensor<f32>, tensor<1xf32>
  return
}

// -----

// Tests that bias_add needs a static last dimension.

func.func @f(%x: tensor<?x?xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.bias_add' op last dimension of the input must be static}}
  %0 = lmc.bias_add %x, %b : tensor<?x?xf32>, tensor<4xf32>
  return
}

// -----

// Tests that the bias size matches the last dimension.

func.func @f(%x: tensor<?x?x192xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{'lmc.bias_add' op bias must be a vector of 192 elements (the last dimension of the input), got 'tensor<64xf32>'}}
  %0 = lmc.bias_add %x, %b : tensor<?x?x192xf32>, tensor<64xf32>
  return
}

// -----

// Tests that the bias has the element type of the input.

func.func @f(%x: tensor<?x4xf64>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.bias_add' op bias element type 'f32' differs from the input's 'f64'}}
  %0 = lmc.bias_add %x, %b : tensor<?x4xf64>, tensor<4xf32>
  return
}

// -----

// Tests that the result type of bias_add is the input type (generic form).

func.func @f(%x: tensor<?x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.bias_add' op failed to verify that all of {input, result} have same type}}
  %0 = "lmc.bias_add"(%x, %b) : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.gelu
//===----------------------------------------------------------------------===//

// Tests that gelu accepts only the tanh and exact approximations.

func.func @f(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'approximation' [tanh, exact]}}
  %0 = lmc.gelu %x sigmoid : tensor<?x4xf32>
  return
}

// -----

// Tests that the result type of gelu is the input type (generic form).

func.func @f(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'lmc.gelu' op failed to verify that all of {input, result} have same type}}
  %0 = "lmc.gelu"(%x) <{approximation = 0 : i32}> : (tensor<?x4xf32>) -> tensor<?x4xf64>
  return
}

// -----

// Tests that gelu rejects f16.

func.func @f(%x: tensor<4xf16>) {
  // expected-error @+1 {{'lmc.gelu' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<4xf16>'}}
  %0 = lmc.gelu %x tanh : tensor<4xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.add
//===----------------------------------------------------------------------===//

// Tests that the operands of add have one type (generic form).

func.func @f(%a: tensor<?x64xf32>, %b: tensor<?x32xf32>) {
  // expected-error @+1 {{'lmc.add' op failed to verify that all of {lhs, rhs, result} have same type}}
  %0 = "lmc.add"(%a, %b) : (tensor<?x64xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

// Tests that add rejects integer tensors.

func.func @f(%a: tensor<4xi32>) {
  // expected-error @+1 {{'lmc.add' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<4xi32>'}}
  %0 = lmc.add %a, %a : tensor<4xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.split
//===----------------------------------------------------------------------===//

// Tests that split needs an input of rank at least 1.

func.func @f(%x: tensor<f32>) {
  // expected-error @+1 {{input must have rank at least 1}}
  %0 = lmc.split %x into 1 : tensor<f32>
  return
}

// -----

// Tests that split needs a static last dimension.

func.func @f(%x: tensor<2x?xf32>) {
  // expected-error @+1 {{last dimension of the input must be static}}
  %0:3 = lmc.split %x into 3 : tensor<2x?xf32>
  return
}

// -----

// Tests that parts divides the last dimension.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{cannot split a last dimension of 64 into 3 equal parts}}
  %0:3 = lmc.split %x into 3 : tensor<?x?x64xf32>
  return
}

// -----

// Tests that parts is at least 1.

func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{cannot split a last dimension of 64 into 0 equal parts}}
  %0 = lmc.split %x into 0 : tensor<?x64xf32>
  return
}

// -----

// Tests that a negative parts is rejected.

func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{cannot split a last dimension of 64 into -2 equal parts}}
  %0 = lmc.split %x into -2 : tensor<?x64xf32>
  return
}

// -----

// Tests that the number of results equals parts (generic form).

func.func @f(%x: tensor<2x6xf32>) {
  // expected-error @+1 {{'lmc.split' op has 2 results but splits into 3 parts}}
  %0:2 = "lmc.split"(%x) <{parts = 3 : i64}> : (tensor<2x6xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>)
  return
}

// -----

// Tests that the custom form binds as many values as parts.

func.func @f(%x: tensor<2x6xf32>) {
  // expected-error @+1 {{operation defines 3 results but was provided 2 to bind}}
  %0:2 = lmc.split %x into 3 : tensor<2x6xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.causal_attention
//===----------------------------------------------------------------------===//

// Tests that causal_attention needs rank-3 operands.

func.func @f(%q: tensor<?x2x?x32xf32>) {
  // expected-error @+1 {{expected a rank-3 (batch, sequence, channels) tensor, got 'tensor<?x2x?x32xf32>'}}
  %0 = lmc.causal_attention %q, %q, %q heads(2) : tensor<?x2x?x32xf32>
  return
}

// -----

// Tests that causal_attention needs a static channel dimension.

func.func @f(%q: tensor<?x?x?xf32>) {
  // expected-error @+1 {{the channel dimension must be static}}
  %0 = lmc.causal_attention %q, %q, %q heads(2) : tensor<?x?x?xf32>
  return
}

// -----

// Tests that the head count divides d_model.

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error @+1 {{heads (3) must be at least 1 and divide the channels (64)}}
  %0 = lmc.causal_attention %q, %q, %q heads(3) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that the head count is at least 1.

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error @+1 {{heads (0) must be at least 1 and divide the channels (64)}}
  %0 = lmc.causal_attention %q, %q, %q heads(0) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that key and value have one type (generic form).

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>) {
  // expected-error @+1 {{'lmc.causal_attention' op failed to verify that all of {key, value} have same type}}
  %0 = "lmc.causal_attention"(%q, %k, %q) <{heads = 2 : i64}> : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

// Tests that the query and the result of causal_attention have one type
// (generic form).

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>) {
  // expected-error @+1 {{'lmc.causal_attention' op failed to verify that all of {query, result} have same type}}
  %0 = "lmc.causal_attention"(%q, %k, %k) <{heads = 2 : i64, kv_heads = 1 : i64}> : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

// Tests that kv_heads divides heads.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x48xf32>) {
  // expected-error @+1 {{kv_heads (3) must be at least 1 and divide heads (4)}}
  %0 = lmc.causal_attention %q, %k, %k heads(4) kv_heads(3) : tensor<?x?x64xf32>, tensor<?x?x48xf32>
  return
}

// -----

// Tests that kv_heads is at least 1.

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error @+1 {{kv_heads (0) must be at least 1 and divide heads (4)}}
  %0 = lmc.causal_attention %q, %q, %q heads(4) kv_heads(0) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that the keys and values have kv_heads heads of the query's head
// size.

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error @+1 {{keys and values must have kv_heads * D = 2 * 16 = 32 channels, got 'tensor<?x?x64xf32>'}}
  %0 = lmc.causal_attention %q, %q, %q heads(4) kv_heads(2) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that without kv_heads the keys and values have the query's channels.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>) {
  // expected-error @+1 {{keys and values must have kv_heads * D = 2 * 32 = 64 channels, got 'tensor<?x?x32xf32>'}}
  %0 = lmc.causal_attention %q, %k, %k heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32>
  return
}

// -----

// Tests that the keys and values have the batch and sequence dimensions of
// the queries.

func.func @f(%q: tensor<2x8x64xf32>, %k: tensor<2x4x32xf32>) {
  // expected-error @+1 {{keys and values must have the batch and sequence dimensions of the queries, got 'tensor<2x4x32xf32>' for 'tensor<2x8x64xf32>'}}
  %0 = lmc.causal_attention %q, %k, %k heads(4) kv_heads(2) : tensor<2x8x64xf32>, tensor<2x4x32xf32>
  return
}

// -----

// Tests that the keys and values have rank 3.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x2x?x16xf32>) {
  // expected-error @+1 {{expected rank-3 (batch, sequence, channels) keys and values, got 'tensor<?x2x?x16xf32>'}}
  %0 = lmc.causal_attention %q, %k, %k heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x2x?x16xf32>
  return
}

// -----

// Tests that the keys and values have the element type of the queries.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf64>) {
  // expected-error @+1 {{keys and values must have the element type of the queries, got 'tensor<?x?x32xf64>' for 'tensor<?x?x64xf32>'}}
  %0 = lmc.causal_attention %q, %k, %k heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf64>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.flash_attention, lmc.flash_attention_grad
//===----------------------------------------------------------------------===//

// Tests that flash_attention needs rank-3 operands.

func.func @f(%q: tensor<?x2x?x32xf32>) {
  // expected-error @+1 {{expected a rank-3 (batch, sequence, channels) tensor, got 'tensor<?x2x?x32xf32>'}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x2x?x32xf32> -> tensor<?x2x?xf32>
  return
}

// -----

// Tests that flash_attention needs a static channel dimension.

func.func @f(%q: tensor<?x?x?xf32>) {
  // expected-error @+1 {{the channel dimension must be static}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x?xf32> -> tensor<?x2x?xf32>
  return
}

// -----

// Tests that the head count of flash_attention divides the channels.

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error @+1 {{heads (3) must be at least 1 and divide the channels (64)}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(3) : tensor<?x?x64xf32> -> tensor<?x3x?xf32>
  return
}

// -----

// Tests that lse has rank 3.

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error @+1 {{lse must have rank 3 ([B, heads, T]), got rank 2}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x64xf32> -> tensor<?x?xf32>
  return
}

// -----

// Tests that lse is [B, heads, T].

func.func @f(%q: tensor<4x8x64xf32>) {
  // expected-error @+1 {{lse must be [B, heads, T] = [4, 2, 8], got 'tensor<4x2x7xf32>'}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<4x8x64xf32> -> tensor<4x2x7xf32>
  return
}

// -----

// Tests that lse holds float32.

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error @+1 {{result #1 must be ranked tensor of 32-bit float values}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x64xf32> -> tensor<?x2x?xf64>
  return
}

// -----

// Tests that k and v of flash_attention have one type.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>) {
  // expected-error @+1 {{all of {key, value} have same type}}
  %y, %lse = "lmc.flash_attention"(%q, %k, %q) {heads = 2 : i64} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x2x?xf32>)
  return
}

// -----

// Tests that flash_attention_grad needs rank-3 operands.

func.func @f(%q: tensor<?x2x?x32xf32>, %lse: tensor<?x2x?xf32>) {
  // expected-error @+1 {{expected a rank-3 (batch, sequence, channels) tensor, got 'tensor<?x2x?x32xf32>'}}
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %q, %q, %q, %lse, %q heads(2) : tensor<?x2x?x32xf32>, tensor<?x2x?xf32>
  return
}

// -----

// Tests that flash_attention_grad needs a static channel dimension.

func.func @f(%q: tensor<?x?x?xf32>, %lse: tensor<?x2x?xf32>) {
  // expected-error @+1 {{the channel dimension must be static}}
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %q, %q, %q, %lse, %q heads(2) : tensor<?x?x?xf32>, tensor<?x2x?xf32>
  return
}

// -----

// Tests that the head count of flash_attention_grad divides the channels.

func.func @f(%q: tensor<?x?x64xf32>, %lse: tensor<?x0x?xf32>) {
  // expected-error @+1 {{heads (0) must be at least 1 and divide the channels (64)}}
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %q, %q, %q, %lse, %q heads(0) : tensor<?x?x64xf32>, tensor<?x0x?xf32>
  return
}

// -----

// Tests that the lse of flash_attention_grad has rank 3.

func.func @f(%q: tensor<?x?x64xf32>, %lse: tensor<?x?xf32>) {
  // expected-error @+1 {{lse must have rank 3 ([B, heads, T]), got rank 2}}
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %q, %q, %q, %lse, %q heads(2) : tensor<?x?x64xf32>, tensor<?x?xf32>
  return
}

// -----

// Tests that the lse of flash_attention_grad is [B, heads, T].

func.func @f(%q: tensor<?x?x64xf32>, %lse: tensor<?x4x?xf32>) {
  // expected-error @+1 {{lse must be [B, heads, T] = [?, 2, ?], got 'tensor<?x4x?xf32>'}}
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %q, %q, %q, %lse, %q heads(2) : tensor<?x?x64xf32>, tensor<?x4x?xf32>
  return
}
// -----

// Tests that the kv_heads of flash_attention divides heads.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x48xf32>) {
  // expected-error @+1 {{kv_heads (3) must be at least 1 and divide heads (4)}}
  %y, %lse = lmc.flash_attention %q, %k, %k heads(4) kv_heads(3) : tensor<?x?x64xf32>, tensor<?x?x48xf32> -> tensor<?x4x?xf32>
  return
}

// -----

// Tests that the keys and values of flash_attention have kv_heads * D
// channels.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>) {
  // expected-error @+1 {{keys and values must have kv_heads * D = 1 * 16 = 16 channels, got 'tensor<?x?x32xf32>'}}
  %y, %lse = lmc.flash_attention %q, %k, %k heads(4) kv_heads(1) : tensor<?x?x64xf32>, tensor<?x?x32xf32> -> tensor<?x4x?xf32>
  return
}

// -----

// Tests that the key and value gradients of flash_attention_grad have one
// type (generic form).

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %lse: tensor<?x4x?xf32>) {
  // expected-error @+1 {{all of {key_grad, value_grad} have same type}}
  %dq, %dk, %dv = "lmc.flash_attention_grad"(%q, %k, %k, %q, %lse, %q) <{heads = 4 : i64, kv_heads = 2 : i64}> : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x64xf32>, tensor<?x4x?xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x32xf32>)
  return
}

// -----

// Tests that the key and value gradients of flash_attention_grad have the
// key's shape.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %lse: tensor<?x4x?xf32>) {
  // expected-error @+1 {{the gradients must have the shapes of the query and the key, got 'tensor<?x?x64xf32>' and 'tensor<?x?x64xf32>'}}
  %dq, %dk, %dv = "lmc.flash_attention_grad"(%q, %k, %k, %q, %lse, %q) <{heads = 4 : i64, kv_heads = 2 : i64}> : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x64xf32>, tensor<?x4x?xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>)
  return
}

// -----

// Tests that flash_attention_grad reads its activations in one element type
// (bfloat16 storage converts them all).

func.func @f(%q: tensor<?x?x64xbf16>, %k: tensor<?x?x64xf32>, %lse: tensor<?x2x?xf32>) {
  // expected-error @+1 {{keys and values must have the element type of the queries}}
  %dq, %dk, %dv = "lmc.flash_attention_grad"(%q, %k, %k, %q, %lse, %q) <{heads = 2 : i64}> : (tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xbf16>, tensor<?x2x?xf32>, tensor<?x?x64xbf16>) -> (tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xf32>)
  return
}

// -----

// Tests that flash_attention_grad writes its three gradients in one element
// type.

func.func @f(%q: tensor<?x?x64xbf16>, %lse: tensor<?x2x?xf32>) {
  // expected-error @+1 {{the activations written must have one element type, got 'tensor<?x?x64xf32>' beside 'tensor<?x?x64xbf16>'}}
  %dq, %dk, %dv = "lmc.flash_attention_grad"(%q, %q, %q, %q, %lse, %q) <{heads = 2 : i64}> : (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x2x?xf32>, tensor<?x?x64xbf16>) -> (tensor<?x?x64xbf16>, tensor<?x?x64xf32>, tensor<?x?x64xf32>)
  return
}

// -----

// Tests that flash_attention writes bfloat16 only from bfloat16 operands.

func.func @f(%q: tensor<?x?x64xf32>) {
  // expected-error @+1 {{writes 'bf16' from 'f32' operands: the results have the operands' element type, or float32 when they are bfloat16}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x64xf32> -> tensor<?x?x64xbf16>, tensor<?x2x?xf32>
  return
}

// -----

// Tests that the result of flash_attention has the query's shape.

func.func @f(%q: tensor<?x?x64xbf16>) {
  // expected-error @+1 {{the result must have the query's shape, got 'tensor<?x?x32xf32>' for 'tensor<?x?x64xbf16>'}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x64xbf16> -> tensor<?x?x32xf32>, tensor<?x2x?xf32>
  return
}

// -----

// Tests that the kv_heads of flash_attention_grad divides heads.

func.func @f(%q: tensor<?x?x64xf32>, %k: tensor<?x?x48xf32>, %lse: tensor<?x4x?xf32>) {
  // expected-error @+1 {{kv_heads (3) must be at least 1 and divide heads (4)}}
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %k, %k, %q, %lse, %q heads(4) kv_heads(3) : tensor<?x?x64xf32>, tensor<?x?x48xf32>, tensor<?x4x?xf32>
  return
}

// -----

// Tests that the keys and values of flash_attention_grad have kv_heads * D
// channels.

func.func @f(%q: tensor<?x?x64xf32>, %lse: tensor<?x4x?xf32>) {
  // expected-error @+1 {{keys and values must have kv_heads * D = 2 * 16 = 32 channels, got 'tensor<?x?x64xf32>'}}
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %q, %q, %q, %lse, %q heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x4x?xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.repeat_heads, lmc.repeat_heads_grad
//===----------------------------------------------------------------------===//

// Tests that repeat_heads needs a rank-4 input.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{expected a rank-4 (batch, heads, sequence, head channels) tensor with static heads, got 'tensor<?x?x64xf32>'}}
  %0 = lmc.repeat_heads %x times(2) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that repeat_heads needs static heads.

func.func @f(%x: tensor<?x?x?x16xf32>) {
  // expected-error @+1 {{expected a rank-4 (batch, heads, sequence, head channels) tensor with static heads, got 'tensor<?x?x?x16xf32>'}}
  %0 = lmc.repeat_heads %x times(2) : tensor<?x?x?x16xf32>
  return
}

// -----

// Tests that repeat_heads repeats at least once.

func.func @f(%x: tensor<?x2x?x16xf32>) {
  // expected-error @+1 {{times (0) must be at least 1}}
  %0 = lmc.repeat_heads %x times(0) : tensor<?x2x?x16xf32>
  return
}

// -----

// Tests that the result of repeat_heads has times as many heads (generic
// form).

func.func @f(%x: tensor<?x2x?x16xf32>) {
  // expected-error @+2 {{'lmc.repeat_heads' op inferred type(s) 'tensor<?x4x?x16xf32>' are incompatible with return type(s) of operation 'tensor<?x6x?x16xf32>'}}
  // expected-error @+1 {{'lmc.repeat_heads' op failed to infer returned types}}
  %0 = "lmc.repeat_heads"(%x) <{times = 2 : i64}> : (tensor<?x2x?x16xf32>) -> tensor<?x6x?x16xf32>
  return
}

// -----

// Tests that the group size of repeat_heads_grad divides the heads.

func.func @f(%x: tensor<?x6x?x16xf32>) {
  // expected-error @+1 {{times (4) must be at least 1 and divide the heads (6)}}
  %0 = lmc.repeat_heads_grad %x times(4) : tensor<?x6x?x16xf32>
  return
}

// -----

// Tests that repeat_heads_grad needs a rank-4 input.

func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{expected a rank-4 (batch, heads, sequence, head channels) tensor with static heads, got 'tensor<?x64xf32>'}}
  %0 = lmc.repeat_heads_grad %x times(2) : tensor<?x64xf32>
  return
}

// -----

// Tests that the tensors of flash_attention_grad have one type.

func.func @f(%q: tensor<?x?x64xf32>, %o: tensor<?x?x32xf32>, %lse: tensor<?x2x?xf32>) {
  // expected-error @+1 {{have same type}}
  %dq, %dk, %dv = "lmc.flash_attention_grad"(%q, %q, %q, %o, %lse, %q) {heads = 2 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x2x?xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.split_heads
//===----------------------------------------------------------------------===//

// Tests that split_heads needs a rank-3 input.

func.func @f(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{expected a rank-3 (batch, sequence, channels) tensor, got 'tensor<?x64xf32>'}}
  %0 = lmc.split_heads %x heads(2) : tensor<?x64xf32>
  return
}

// -----

// Tests that split_heads needs a static channel dimension.

func.func @f(%x: tensor<2x8x?xf32>) {
  // expected-error @+1 {{the channel dimension must be static}}
  %0 = lmc.split_heads %x heads(2) : tensor<2x8x?xf32>
  return
}

// -----

// Tests that the head count of split_heads divides the channels.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{heads (5) must be at least 1 and divide the channels (64)}}
  %0 = lmc.split_heads %x heads(5) : tensor<?x?x64xf32>
  return
}

// -----

// Tests that the head count of split_heads is positive.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{heads (-2) must be at least 1 and divide the channels (64)}}
  %0 = lmc.split_heads %x heads(-2) : tensor<?x?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.merge_heads
//===----------------------------------------------------------------------===//

// Tests that merge_heads needs a rank-4 input.

func.func @f(%x: tensor<?x?x64xf32>) {
  // expected-error @+1 {{expected a rank-4 (batch, heads, sequence, head channels) tensor, got 'tensor<?x?x64xf32>'}}
  %0 = lmc.merge_heads %x : tensor<?x?x64xf32>
  return
}

// -----

// Tests that merge_heads needs a static head dimension.

func.func @f(%x: tensor<?x?x?x32xf32>) {
  // expected-error @+1 {{head and head-channel dimensions must be static, got 'tensor<?x?x?x32xf32>'}}
  %0 = lmc.merge_heads %x : tensor<?x?x?x32xf32>
  return
}

// -----

// Tests that merge_heads needs a static head-channel dimension.

func.func @f(%x: tensor<?x2x?x?xf32>) {
  // expected-error @+1 {{head and head-channel dimensions must be static, got 'tensor<?x2x?x?xf32>'}}
  %0 = lmc.merge_heads %x : tensor<?x2x?x?xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.scale
//===----------------------------------------------------------------------===//

// Tests that an infinite scale factor is rejected.

func.func @f(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'lmc.scale' op factor must be finite}}
  %0 = lmc.scale %x by 0x7FF0000000000000 : tensor<?x4xf32>
  return
}

// -----

// Tests that a negative infinite scale factor is rejected.

func.func @f(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'lmc.scale' op factor must be finite}}
  %0 = lmc.scale %x by 0xFFF0000000000000 : tensor<?x4xf32>
  return
}

// -----

// Tests that a NaN scale factor is rejected (generic form).

func.func @f(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'lmc.scale' op factor must be finite}}
  %0 = "lmc.scale"(%x) <{factor = 0x7FF8000000000000 : f64}> : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return
}

// -----

// Tests that the result type of scale is the input type (generic form).

func.func @f(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'lmc.scale' op failed to verify that all of {input, result} have same type}}
  %0 = "lmc.scale"(%x) <{factor = 2.0 : f64}> : (tensor<?x4xf32>) -> tensor<?x5xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.causal_mask
//===----------------------------------------------------------------------===//

// Tests that causal_mask needs rank at least 2.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.causal_mask' op input must have rank at least 2, got rank 1}}
  %0 = lmc.causal_mask %x : tensor<4xf32>
  return
}

// -----

// Tests that causal_mask needs square scores where both sizes are static.

func.func @f(%x: tensor<?x2x4x5xf32>) {
  // expected-error @+1 {{'lmc.causal_mask' op query and key positions differ: 4 vs 5}}
  %0 = lmc.causal_mask %x : tensor<?x2x4x5xf32>
  return
}

// -----

// Tests that the zero mask has the same rule.

func.func @f(%x: tensor<5x4xf64>) {
  // expected-error @+1 {{'lmc.causal_mask' op query and key positions differ: 5 vs 4}}
  %0 = lmc.causal_mask %x zero : tensor<5x4xf64>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.softmax
//===----------------------------------------------------------------------===//

// Tests that softmax needs rank at least 1.

func.func @f(%x: tensor<f32>) {
  // expected-error @+1 {{'lmc.softmax' op input must have rank at least 1}}
  %0 = lmc.softmax %x : tensor<f32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.cross_entropy
//===----------------------------------------------------------------------===//

// Tests that the logits have rank at least 2.

func.func @f(%l: tensor<10xf32>, %t: tensor<i32>) {
  // expected-error @+1 {{logits must have rank at least 2, got rank 1}}
  %0 = lmc.cross_entropy %l, %t : tensor<10xf32>, tensor<i32>
  return
}

// -----

// Tests that the vocabulary dimension is static.

func.func @f(%l: tensor<?x?x?xf32>, %t: tensor<?x?xi32>) {
  // expected-error @+1 {{the vocabulary dimension of the logits must be static}}
  %0 = lmc.cross_entropy %l, %t : tensor<?x?x?xf32>, tensor<?x?xi32>
  return
}

// -----

// Tests that the targets have one rank less than the logits.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?x256xi32>) {
  // expected-error @+1 {{targets must have rank 2 (one less than the logits), got rank 3}}
  %0 = lmc.cross_entropy %l, %t : tensor<?x?x256xf32>, tensor<?x?x256xi32>
  return
}

// -----

// Tests that the leading dimensions of logits and targets agree.

func.func @f(%l: tensor<2x3x256xf32>, %t: tensor<2x4xi32>) {
  // expected-error @+1 {{dimension 1 differs: logits have 3, targets have 4}}
  %0 = lmc.cross_entropy %l, %t : tensor<2x3x256xf32>, tensor<2x4xi32>
  return
}

// -----

// Tests that the targets are integers.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xf32>) {
  // expected-error @+1 {{'lmc.cross_entropy' op operand #1 must be ranked tensor of 8-, 16-, 32- or 64-bit signless integer values, but got 'tensor<?x?xf32>'}}
  %0 = lmc.cross_entropy %l, %t : tensor<?x?x256xf32>, tensor<?x?xf32>
  return
}

// -----

// Tests that the loss is a 0-d tensor (generic form).

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.cross_entropy' op result #0 must be 0D tensor of 32-bit float or 64-bit float values, but got 'tensor<1xf32>'}}
  %0 = "lmc.cross_entropy"(%l, %t) : (tensor<?x?x256xf32>, tensor<?x?xi32>) -> tensor<1xf32>
  return
}

// -----

// Tests that the loss has the element type of the logits (generic form).

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>) {
  // expected-error @+2 {{'lmc.cross_entropy' op inferred type(s) 'tensor<f32>' are incompatible with return type(s) of operation 'tensor<f64>'}}
  // expected-error @+1 {{'lmc.cross_entropy' op failed to infer returned types}}
  %0 = "lmc.cross_entropy"(%l, %t) : (tensor<?x?x256xf32>, tensor<?x?xi32>) -> tensor<f64>
  return
}

// -----

// Tests that classes (the real vocabulary of padded logits) is at most the
// logits' width.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.cross_entropy' op classes (257) exceeds the 256 columns of the logits}}
  %0 = lmc.cross_entropy %l, %t classes(257) : tensor<?x?x256xf32>, tensor<?x?xi32>
  return
}

// -----

// Tests that classes is at least 1.

func.func @f(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>) {
  // expected-error @+1 {{'lmc.cross_entropy' op classes must be at least 1, got 0}}
  %0 = lmc.cross_entropy %l, %t classes(0) : tensor<?x?x256xf32>, tensor<?x?xi32>
  return
}

// -----

// Tests that boolean (i1) tensors are not accepted as token ids.
func.func @embedding_i1_ids(%t: tensor<16x4xf32>, %ids: tensor<?x?xi1>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 8-, 16-, 32- or 64-bit signless integer values}}
  %0 = lmc.embedding %t[%ids] : tensor<16x4xf32>, tensor<?x?xi1>
  return
}
