// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// One case per rule of the discardable `lmc.*` attributes that passes hand
// to each other (declared in LMCDialect.td, verified in LMCDialect.cpp):
// each has one type and a place where it may appear. `lmc.mesh` and
// `lmc.sharding` are in sharding-attrs-invalid.mlir.

//===----------------------------------------------------------------------===//
// Attributes of ops
//===----------------------------------------------------------------------===//

// Tests that an unknown lmc attribute is rejected.

// expected-error @+1 {{'lmc.meshes' is not an lmc attribute}}
lmc.model @m attributes {lmc.meshes = 1 : i64} {
}

// -----

// Tests that lmc.zero_dim is an integer.

lmc.model @m {
  // expected-error @+1 {{'lmc.zero_dim' must be an integer, got "0"}}
  lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.zero_dim = "0"}
}

// -----

// Tests that lmc.zero_dim is a dimension of the parameter.

lmc.model @m {
  // expected-error @+1 {{'lmc.zero_dim' 2 is not a dimension of 'tensor<4x8xf32>'}}
  lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.zero_dim = 2 : i64}
}

// -----

// Tests that lmc.zero_dim is only allowed on an lmc.param.

// expected-error @+1 {{'lmc.zero_dim' is only allowed on an lmc.param}}
lmc.model @m attributes {lmc.zero_dim = 0 : i64} {
}

// -----

// Tests that lmc.zero_axis stands beside lmc.zero_dim.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  // expected-error @+1 {{'lmc.zero_axis' needs 'lmc.zero_dim' beside it}}
  lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.zero_axis = "dp"}
}

// -----

// Tests that lmc.zero_axis names an axis of the mesh in scope.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  // expected-error @+1 {{'lmc.zero_axis' names 'tp', which is not an axis of the mesh in scope}}
  lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.zero_dim = 0 : i64, lmc.zero_axis = "tp"}
}

// -----

// Tests that lmc.batch_axes is only allowed on an lmc.model.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  // expected-error @+1 {{'lmc.batch_axes' is only allowed on an lmc.model}}
  lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.batch_axes = ["dp"]}
}

// -----

// Tests that lmc.batch_axes names axes of the mesh in scope.

// expected-error @+1 {{'lmc.batch_axes' names 'pp', which is not an axis of the mesh in scope}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>, lmc.batch_axes = ["pp"]} {
}

// -----

// Tests that lmc.batch_axes is an array of strings.

// expected-error @+1 {{'lmc.batch_axes' must be an array of strings}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>, lmc.batch_axes = [1]} {
}

// -----

// Tests that lmc.dp_sync is only allowed on an lmc.model.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  // expected-error @+1 {{'lmc.dp_sync' is only allowed on an lmc.model}}
  lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.dp_sync = "local"}
}

// -----

// Tests that lmc.dp_sync names a mode.

// expected-error @+1 {{'lmc.dp_sync' must be "local" or "allreduce", not "sometimes"}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>, lmc.batch_axes = ["dp"], lmc.dp_sync = "sometimes"} {
}

// -----

// Tests that lmc.dp_sync needs the batch axes it is about.

// expected-error @+1 {{'lmc.dp_sync' needs 'lmc.batch_axes' beside it}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>, lmc.dp_sync = "local"} {
}

// -----

// Tests that lmc.dp_sync is a string.

// expected-error @+1 {{'lmc.dp_sync' must be a string, got 1 : i64}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>, lmc.batch_axes = ["dp"], lmc.dp_sync = 1} {
}

// -----

// Tests that lmc.activation_bytes is an array of i64.

// expected-error @+1 {{'lmc.activation_bytes' must be an array of i64, got 16 : i64}}
lmc.model @m attributes {lmc.activation_bytes = 16 : i64} {
}

// -----

// Tests that lmc.activation_bytes has non-negative coefficients.

// expected-error @+1 {{'lmc.activation_bytes' must have non-negative coefficients}}
lmc.model @m attributes {lmc.activation_bytes = array<i64: 0, -4>} {
}

// -----

// Tests that lmc.activation_bytes is only allowed on an lmc.model.

// expected-error @+1 {{'lmc.activation_bytes' is only allowed on an lmc.model}}
func.func @f() attributes {lmc.activation_bytes = array<i64: 0, 4>} {
  return
}

// -----

// Tests that lmc.fusion_group is a string.

// expected-error @+1 {{'lmc.fusion_group' must be a string, got 1 : i64}}
func.func private @k() attributes {lmc.fusion_group = 1 : i64}

// -----

// Tests that lmc.fusion_group names a group kind.

// expected-error @+1 {{'lmc.fusion_group' must name a group kind}}
func.func private @k() attributes {lmc.fusion_group = ""}

// -----

// Tests that lmc.fusion_group is only allowed on a function.

// expected-error @+1 {{'lmc.fusion_group' is only allowed on a function}}
lmc.model @m attributes {lmc.fusion_group = "gelu"} {
}

// -----

// Tests that lmc.stream_ordered is a unit attribute.

// expected-error @+1 {{'lmc.stream_ordered' must be a unit attribute, got true}}
func.func private @k() attributes {lmc.stream_ordered = true}

// -----

// Tests that lmc.stream_ordered is only allowed on a function.

// expected-error @+1 {{'lmc.stream_ordered' is only allowed on a function}}
lmc.model @m attributes {lmc.stream_ordered} {
}

// -----

// Tests that lmc.library_call is a dictionary.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'lmc.library_call' must be a dictionary, got "gemm"}}
  %0 = lmc.scale %x by 2.0 {lmc.library_call = "gemm"} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that the attributes of function arguments and results are not
// allowed on ops.

// expected-error @+1 {{'lmc.param' is only allowed on function arguments or results}}
func.func @f() attributes {lmc.param = @w} {
  return
}

//===----------------------------------------------------------------------===//
// Attributes of function arguments and results
//===----------------------------------------------------------------------===//

// -----

// Tests that lmc.param is a symbol reference.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(zeros)
  // expected-error @+1 {{'lmc.param' must be a flat symbol reference, got "w"}}
  func.func @train_step(%w: tensor<4xf32> {lmc.param = "w"}) {
    return
  }
}

// -----

// Tests that lmc.param names a parameter of the enclosing model.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(zeros)
  // expected-error @+1 {{'lmc.param' names @v, which is not an lmc.param of @m}}
  func.func @train_step(%w: tensor<4xf32> {lmc.param = @v}) {
    return
  }
}

// -----

// Tests that lmc.state is exp_avg or exp_avg_sq.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(zeros)
  // expected-error @+1 {{'lmc.state' must be "exp_avg" or "exp_avg_sq", got "momentum"}}
  func.func @train_step(%m: tensor<4xf32> {lmc.param = @w, lmc.state = "momentum"}) {
    return
  }
}

// -----

// Tests that lmc.state goes with an lmc.param.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(zeros)
  // expected-error @+1 {{'lmc.state' needs an 'lmc.param' beside it}}
  func.func @train_step(%m: tensor<4xf32> {lmc.state = "exp_avg"}) {
    return
  }
}

// -----

// Tests that lmc.hparam is only allowed on an argument.

// expected-error @+1 {{'lmc.hparam' is only allowed on a function argument}}
func.func private @train_step() -> (f32 {lmc.hparam = "lr"})

// -----

// Tests that lmc.hparam names a hyperparameter.

// expected-error @+1 {{'lmc.hparam' must name a hyperparameter}}
func.func private @train_step(f32 {lmc.hparam = ""})

// -----

// Tests that lmc.hparam is a string.

// expected-error @+1 {{'lmc.hparam' must be a string, got 1 : i64}}
func.func private @train_step(f32 {lmc.hparam = 1 : i64})

// -----

// Tests that lmc.output is only allowed on a result.

// expected-error @+1 {{'lmc.output' is only allowed on a function result}}
func.func private @train_step(f32 {lmc.output = "loss"})

// -----

// Tests that lmc.output names a scalar of the training step.

// expected-error @+1 {{'lmc.output' must be "loss", "grad_norm" or "lr", got "accuracy"}}
func.func private @train_step() -> (f32 {lmc.output = "accuracy"})

// -----

// Tests that lmc.grad_of is only allowed on a result.

// expected-error @+1 {{'lmc.grad_of' is only allowed on a function result}}
func.func private @forward_grad(tensor<4xf32> {lmc.grad_of = @w})

// -----

// Tests that lmc.grad_of names a parameter of the enclosing model.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(zeros)
  // expected-error @+1 {{'lmc.grad_of' names @forward, which is not an lmc.param of @m}}
  func.func private @forward_grad() -> (tensor<4xf32> {lmc.grad_of = @forward})
}

// -----

// Tests that an unknown lmc attribute of an argument is rejected.

// expected-error @+1 {{'lmc.gradient' is not an lmc attribute of function arguments}}
func.func private @f(f32 {lmc.gradient = @w})

// -----

// Tests that lmc.sequence_axes names axes of the mesh in scope.

// expected-error @+1 {{'lmc.sequence_axes' names 'sp', which is not an axis of the mesh in scope}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 1, tp = 2>, lmc.sequence_axes = ["sp"]} {
}

// -----

// Tests that lmc.sequence_axes is only allowed on an lmc.model.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 1, tp = 2>} {
  // expected-error @+1 {{'lmc.sequence_axes' is only allowed on an lmc.model}}
  lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.sequence_axes = ["tp"]}
}

// -----

// Tests that lmc.pipeline is a dictionary.

// expected-error @+1 {{'lmc.pipeline' must be a dictionary}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>, lmc.pipeline = 2} {
}

// -----

// Tests that lmc.pipeline is only allowed on an lmc.model.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  // expected-error @+1 {{'lmc.pipeline' is only allowed on an lmc.model}}
  lmc.param @w : tensor<4xf32> init(zeros) {lmc.pipeline = {axis = "pp", stages = 2 : i64, microbatches = 2 : i64, schedule = "1f1b"}}
}

// -----

// Tests that lmc.pipeline holds exactly its four entries.

// expected-error @+1 {{'lmc.pipeline' must hold exactly axis (a string), stages, microbatches (integers) and schedule (a string)}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>, lmc.pipeline = {axis = "pp", stages = 2 : i64}} {
}

// -----

// Tests that lmc.pipeline's stages are an axis of the mesh of that size.

// expected-error @+1 {{'lmc.pipeline' has 4 stages over 'pp', which is not an axis of that size in the mesh in scope}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>, lmc.pipeline = {axis = "pp", stages = 4 : i64, microbatches = 2 : i64, schedule = "1f1b"}} {
}

// -----

// Tests that lmc.pipeline has at least one micro-batch.

// expected-error @+1 {{'lmc.pipeline' needs at least one micro-batch}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>, lmc.pipeline = {axis = "pp", stages = 2 : i64, microbatches = 0 : i64, schedule = "1f1b"}} {
}

// -----

// Tests that lmc.pipeline's schedule is 1f1b or gpipe.

// expected-error @+1 {{'lmc.pipeline' schedule must be "1f1b" or "gpipe", not "zb"}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>, lmc.pipeline = {axis = "pp", stages = 2 : i64, microbatches = 2 : i64, schedule = "zb"}} {
}

// -----

// Tests that lmc.stages is only allowed on an lmc.param.

// expected-error @+1 {{'lmc.stages' is only allowed on an lmc.param}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>, lmc.stages = array<i64: 0>} {
}

// -----

// Tests that lmc.stages needs lmc.pipeline on the model.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>} {
  // expected-error @+1 {{'lmc.stages' needs 'lmc.pipeline' on the enclosing lmc.model}}
  lmc.param @w : tensor<4xf32> init(zeros) {lmc.stages = array<i64: 0>}
}

// -----

// Tests that lmc.stages lists distinct stages of the pipeline.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>, lmc.pipeline = {axis = "pp", stages = 2 : i64, microbatches = 2 : i64, schedule = "1f1b"}} {
  // expected-error @+1 {{'lmc.stages' must list distinct stages of the pipeline, from 0 to 1}}
  lmc.param @w : tensor<4xf32> init(zeros) {lmc.stages = array<i64: 1, 1>}
}

// -----

// Tests that lmc.stages names at least one stage.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<pp = 2>, lmc.pipeline = {axis = "pp", stages = 2 : i64, microbatches = 2 : i64, schedule = "1f1b"}} {
  // expected-error @+1 {{'lmc.stages' must name at least one stage}}
  lmc.param @w : tensor<4xf32> init(zeros) {lmc.stages = array<i64>}
}
