// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule and constraint of the ops of
// LMCShardingOps.td, in the order of that file. Rules checked by result
// type inference report while parsing the custom form; rules the custom form
// cannot express use the generic form.

//===----------------------------------------------------------------------===//
// lmc.axis_index
//===----------------------------------------------------------------------===//

// Tests that the axis is one of the mesh in scope (on a model).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @f() -> index {
    // expected-error @+1 {{'lmc.axis_index' op mesh axis 'pp' is not in the mesh #lmc.mesh<dp = 2, tp = 2>}}
    %0 = lmc.axis_index "pp"
    return %0 : index
  }
}

// -----

// Tests that the axis is one of the mesh in scope (on a module).

module attributes {lmc.mesh = #lmc.mesh<dp = 4>} {
  func.func @f() -> index {
    // expected-error @+1 {{'lmc.axis_index' op mesh axis 'tp' is not in the mesh #lmc.mesh<dp = 4>}}
    %0 = lmc.axis_index "tp"
    return %0 : index
  }
}

// -----

// Tests that the axis is a string (generic form).

func.func @f() -> index {
  // expected-error @+1 {{invalid properties {axis = 1 : i64} for op lmc.axis_index: Invalid attribute `axis` in property conversion: 1 : i64}}
  %0 = "lmc.axis_index"() <{axis = 1 : i64}> : () -> index
  return %0 : index
}

// -----

// Tests that the result is an index (generic form).

func.func @f() -> i64 {
  // expected-error @+1 {{'lmc.axis_index' op result #0 must be index, but got 'i64'}}
  %0 = "lmc.axis_index"() <{axis = "tp"}> : () -> i64
  return %0 : i64
}

// -----

//===----------------------------------------------------------------------===//
// lmc.cross_entropy_stats
//===----------------------------------------------------------------------===//

// Tests that the logits have rank at least 2.

func.func @f(%l: tensor<128xf32>, %t: tensor<i32>, %off: index) {
  // expected-error @+1 {{logits must have rank at least 2, got rank 1}}
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) : tensor<128xf32>, tensor<i32>
  return
}

// -----

// Tests that the vocabulary dimension is static.

func.func @f(%l: tensor<?x?x?xf32>, %t: tensor<?x?xi32>, %off: index) {
  // expected-error @+1 {{the vocabulary dimension of the logits must be static}}
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) : tensor<?x?x?xf32>, tensor<?x?xi32>
  return
}

// -----

// Tests that the targets have one rank less than the logits.

func.func @f(%l: tensor<?x?x128xf32>, %t: tensor<?xi32>, %off: index) {
  // expected-error @+1 {{targets must have rank 2 (one less than the logits), got rank 1}}
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) : tensor<?x?x128xf32>, tensor<?xi32>
  return
}

// -----

// Tests that static leading dimensions of logits and targets agree.

func.func @f(%l: tensor<2x?x128xf32>, %t: tensor<3x?xi32>, %off: index) {
  // expected-error @+1 {{dimension 0 differs: logits have 2, targets have 3}}
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) : tensor<2x?x128xf32>, tensor<3x?xi32>
  return
}

// -----

// Tests that the targets are integers.

func.func @f(%l: tensor<?x?x128xf32>, %t: tensor<?x?xf32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_stats' op operand #1 must be ranked tensor of 8-, 16-, 32- or 64-bit signless integer values, but got 'tensor<?x?xf32>'}}
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) : tensor<?x?x128xf32>, tensor<?x?xf32>
  return
}

// -----

// Tests that the logits are f32 or f64.

func.func @f(%l: tensor<?x?x128xf16>, %t: tensor<?x?xi32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_stats' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<?x?x128xf16>'}}
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) : tensor<?x?x128xf16>, tensor<?x?xi32>
  return
}

// -----

// Tests that the offset is an index (generic form).

func.func @f(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %off: i64) {
  // expected-error @+1 {{'lmc.cross_entropy_stats' op operand #2 must be index, but got 'i64'}}
  %0 = "lmc.cross_entropy_stats"(%l, %t, %off) : (tensor<?x?x128xf32>, tensor<?x?xi32>, i64) -> tensor<?x?x3xf32>
  return
}

// -----

// Tests that the result type is the inferred one (generic form).

func.func @f(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %off: index) {
  // expected-error @+2 {{'lmc.cross_entropy_stats' op inferred type(s) 'tensor<?x?x3xf32>' are incompatible with return type(s) of operation 'tensor<?x?x128xf32>'}}
  // expected-error @+1 {{'lmc.cross_entropy_stats' op failed to infer returned types}}
  %0 = "lmc.cross_entropy_stats"(%l, %t, %off) : (tensor<?x?x128xf32>, tensor<?x?xi32>, index) -> tensor<?x?x128xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.cross_entropy_combine
//===----------------------------------------------------------------------===//

// Tests that the stats have rank at least 2.

func.func @f(%s: tensor<6xf32>) {
  // expected-error @+1 {{stats must have rank at least 2, got rank 1}}
  %0, %1 = lmc.cross_entropy_combine %s : tensor<6xf32>
  return
}

// -----

// Tests that the last dimension is static.

func.func @f(%s: tensor<?x?xf32>) {
  // expected-error @+1 {{the last dimension of stats must be a static, positive multiple of 3 (a triple per block), got ?}}
  %0, %1 = lmc.cross_entropy_combine %s : tensor<?x?xf32>
  return
}

// -----

// Tests that the last dimension is a multiple of 3.

func.func @f(%s: tensor<?x?x4xf32>) {
  // expected-error @+1 {{the last dimension of stats must be a static, positive multiple of 3 (a triple per block), got 4}}
  %0, %1 = lmc.cross_entropy_combine %s : tensor<?x?x4xf32>
  return
}

// -----

// Tests that the last dimension is positive.

func.func @f(%s: tensor<?x0xf32>) {
  // expected-error @+1 {{the last dimension of stats must be a static, positive multiple of 3 (a triple per block), got 0}}
  %0, %1 = lmc.cross_entropy_combine %s : tensor<?x0xf32>
  return
}

// -----

// Tests that the stats are f32 or f64.

func.func @f(%s: tensor<?x6xbf16>) {
  // expected-error @+1 {{'lmc.cross_entropy_combine' op operand #0 must be ranked tensor of 32-bit float or 64-bit float values, but got 'tensor<?x6xbf16>'}}
  %0, %1 = lmc.cross_entropy_combine %s : tensor<?x6xbf16>
  return
}

// -----

// Tests that the result types are the inferred ones: lse has the leading
// dimensions (generic form).

func.func @f(%s: tensor<?x?x6xf32>) {
  // expected-error @+2 {{'lmc.cross_entropy_combine' op inferred type(s) 'tensor<f32>', 'tensor<?x?xf32>' are incompatible with return type(s) of operation 'tensor<f32>', 'tensor<?x?x2xf32>'}}
  // expected-error @+1 {{'lmc.cross_entropy_combine' op failed to infer returned types}}
  %0:2 = "lmc.cross_entropy_combine"(%s) : (tensor<?x?x6xf32>) -> (tensor<f32>, tensor<?x?x2xf32>)
  return
}

// -----

// Tests that the loss has the stats' element type (generic form).

func.func @f(%s: tensor<?x6xf32>) {
  // expected-error @+2 {{'lmc.cross_entropy_combine' op inferred type(s) 'tensor<f32>', 'tensor<?xf32>' are incompatible with return type(s) of operation 'tensor<f64>', 'tensor<?xf32>'}}
  // expected-error @+1 {{'lmc.cross_entropy_combine' op failed to infer returned types}}
  %0:2 = "lmc.cross_entropy_combine"(%s) : (tensor<?x6xf32>) -> (tensor<f64>, tensor<?xf32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.cross_entropy_shard_grad
//===----------------------------------------------------------------------===//

// Tests that the logits have rank at least 2 (the rules shared with
// cross_entropy_stats).

func.func @f(%l: tensor<128xf32>, %t: tensor<i32>, %g: tensor<f32>, %lse: tensor<f32>, %off: index) {
  // expected-error @+1 {{logits must have rank at least 2, got rank 1}}
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<128xf32>, tensor<i32>, tensor<f32>, tensor<f32>
  return
}

// -----

// Tests that static leading dimensions of logits and targets agree.

func.func @f(%l: tensor<4x128xf32>, %t: tensor<5xi32>, %g: tensor<f32>, %lse: tensor<4xf32>, %off: index) {
  // expected-error @+1 {{dimension 0 differs: logits have 4, targets have 5}}
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<4x128xf32>, tensor<5xi32>, tensor<f32>, tensor<4xf32>
  return
}

// -----

// Tests that grad has the logits' element type.

func.func @f(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %g: tensor<f64>, %lse: tensor<?x?xf32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_shard_grad' op grad must have the logits' element type 'f32'}}
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f64>, tensor<?x?xf32>
  return
}

// -----

// Tests that grad is 0-d.

func.func @f(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %g: tensor<1xf32>, %lse: tensor<?x?xf32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_shard_grad' op operand #2 must be 0D tensor of 32-bit float or 64-bit float values, but got 'tensor<1xf32>'}}
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<1xf32>, tensor<?x?xf32>
  return
}

// -----

// Tests that lse has the rank of the logits' leading dimensions.

func.func @f(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>, %lse: tensor<?x?x1xf32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_shard_grad' op lse 'tensor<?x?x1xf32>' must have the leading dimensions and the element type of the logits 'tensor<?x?x128xf32>'}}
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<?x?x1xf32>
  return
}

// -----

// Tests that static leading dimensions of lse and the logits agree.

func.func @f(%l: tensor<2x?x128xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>, %lse: tensor<3x?xf32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_shard_grad' op lse 'tensor<3x?xf32>' must have the leading dimensions and the element type of the logits 'tensor<2x?x128xf32>'}}
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<2x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<3x?xf32>
  return
}

// -----

// Tests that lse has the logits' element type.

func.func @f(%l: tensor<?x?x128xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>, %lse: tensor<?x?xf64>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_shard_grad' op lse 'tensor<?x?xf64>' must have the leading dimensions and the element type of the logits 'tensor<?x?x128xf32>'}}
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) : tensor<?x?x128xf32>, tensor<?x?xi32>, tensor<f32>, tensor<?x?xf64>
  return
}

// -----

// Tests that the offset is an index (generic form).

func.func @f(%l: tensor<?x128xf32>, %t: tensor<?xi32>, %g: tensor<f32>, %lse: tensor<?xf32>, %off: i32) {
  // expected-error @+1 {{'lmc.cross_entropy_shard_grad' op operand #4 must be index, but got 'i32'}}
  %0 = "lmc.cross_entropy_shard_grad"(%l, %t, %g, %lse, %off) : (tensor<?x128xf32>, tensor<?xi32>, tensor<f32>, tensor<?xf32>, i32) -> tensor<?x128xf32>
  return
}

// -----

// Tests that the result has the logits' type (generic form).

func.func @f(%l: tensor<?x128xf32>, %t: tensor<?xi32>, %g: tensor<f32>, %lse: tensor<?xf32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_shard_grad' op failed to verify that all of {logits, result} have same type}}
  %0 = "lmc.cross_entropy_shard_grad"(%l, %t, %g, %lse, %off) : (tensor<?x128xf32>, tensor<?xi32>, tensor<f32>, tensor<?xf32>, index) -> tensor<?x64xf32>
  return
}

// -----

// Tests that the classes of cross_entropy_stats (global columns: it may
// exceed the block's width) is at least 1.

func.func @f(%l: tensor<?x128xf32>, %t: tensor<?xi32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_stats' op classes must be at least 1, got 0}}
  %0 = lmc.cross_entropy_stats %l, %t offset(%off) classes(0) : tensor<?x128xf32>, tensor<?xi32>
  return
}

// -----

// Tests that the classes of cross_entropy_shard_grad is at least 1.

func.func @f(%l: tensor<?x128xf32>, %t: tensor<?xi32>, %g: tensor<f32>, %lse: tensor<?xf32>, %off: index) {
  // expected-error @+1 {{'lmc.cross_entropy_shard_grad' op classes must be at least 1, got 0}}
  %0 = lmc.cross_entropy_shard_grad %l, %t, %g, %lse offset(%off) classes(0) : tensor<?x128xf32>, tensor<?xi32>, tensor<f32>, tensor<?xf32>
  return
}
