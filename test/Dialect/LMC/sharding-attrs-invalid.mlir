// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// One case per rule of the mesh and sharding attributes (LMCAttrs.td) and of
// the discardable attributes `lmc.mesh` and `lmc.sharding`. Rules of an
// attribute on its own report while parsing; rules that need a mesh and a
// tensor type report on the `lmc.param` that carries the sharding.

//===----------------------------------------------------------------------===//
// #lmc.mesh
//===----------------------------------------------------------------------===//

// Tests that a mesh has at least one axis.

// expected-error @+1 {{a mesh needs at least one axis}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<>} {
}

// -----

// Tests that a mesh axis has size at least 1.

// expected-error @+1 {{mesh axis 'tp' has size 0; sizes must be at least 1}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 0>} {
}

// -----

// Tests that a negative size is rejected too.

// expected-error @+1 {{mesh axis 'dp' has size -2; sizes must be at least 1}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = -2>} {
}

// -----

// Tests that mesh axis names are unique.

// expected-error @+1 {{mesh axis 'dp' is listed twice}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2, dp = 2>} {
}

// -----

// Tests that mesh axis names are identifiers.

// expected-error @+1 {{mesh axis name 'd-p' is not an identifier}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<"d-p" = 2>} {
}

// -----

// Tests that an empty axis name is not an identifier.

// expected-error @+1 {{mesh axis name '' is not an identifier}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<"" = 2>} {
}

// -----

// Tests that the number of devices fits in 32 bits.

// expected-error @+1 {{a mesh has at most 2147483647 devices}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<a = 65536, b = 65536>} {
}

// -----

// Tests that every axis has a size.

// expected-error @+1 {{expected '='}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp>} {
}

// -----

//===----------------------------------------------------------------------===//
// lmc.mesh
//===----------------------------------------------------------------------===//

// Tests that `lmc.mesh` holds a mesh.

// expected-error @+1 {{'lmc.mesh' must be an #lmc.mesh attribute, got 4 : i64}}
lmc.model @m attributes {lmc.mesh = 4} {
}

// -----

// Tests that `lmc.mesh` sits on a model or a module only.

// expected-error @+1 {{'lmc.mesh' is only allowed on an lmc.model or a builtin.module}}
func.func @f() attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #lmc.sharding
//===----------------------------------------------------------------------===//

// Tests that a placement is shard(<dim>), partial or replicated.

// expected-error @+1 {{unknown placement 'split'; expected shard(<dim>), partial or replicated}}
func.func @f() attributes {s = #lmc.sharding<{dp = split(0)}>} {
  return
}

// -----

// Tests that shard takes a dimension.

// expected-error @+1 {{expected '('}}
func.func @f() attributes {s = #lmc.sharding<{dp = shard}>} {
  return
}

// -----

// Tests that an axis is listed once.

// expected-error @+1 {{mesh axis 'dp' is listed twice}}
func.func @f() attributes {s = #lmc.sharding<{dp = shard(0), tp = partial, dp = partial}>} {
  return
}

// -----

// Tests that an axis is listed once even when one entry says replicated.

// expected-error @+1 {{mesh axis 'dp' is listed twice}}
func.func @f() attributes {s = #lmc.sharding<{dp = replicated, dp = shard(1)}>} {
  return
}

// -----

// Tests that a sharded dimension is non-negative.

// expected-error @+1 {{mesh axis 'dp' shards dimension -1; dimensions are non-negative}}
func.func @f() attributes {s = #lmc.sharding<{dp = shard(-1)}>} {
  return
}

// -----

// Tests that an axis name is not empty.

// expected-error @+1 {{mesh axis names must not be empty}}
func.func @f() attributes {s = #lmc.sharding<{"" = partial}>} {
  return
}

// -----

// Tests that the placements are written in braces.

// expected-error @+1 {{expected '{' in a sharding}}
func.func @f() attributes {s = #lmc.sharding<dp = partial>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// lmc.sharding: checked against the mesh in scope and the parameter type
//===----------------------------------------------------------------------===//

// Tests that every axis of a sharding is an axis of the mesh.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  // expected-error @+1 {{'lmc.sharding' #lmc.sharding<{pp = shard(0)}> does not fit 'tensor<4x4xf32>': mesh axis 'pp' is not in the mesh #lmc.mesh<dp = 2, tp = 2>}}
  lmc.param @w : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{pp = shard(0)}>}
}

// -----

// Tests that a partial axis is an axis of the mesh too.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  // expected-error @+1 {{mesh axis 'tp' is not in the mesh #lmc.mesh<dp = 2>}}
  lmc.param @w : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = partial}>}
}

// -----

// Tests that a sharded dimension is below the rank.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  // expected-error @+1 {{mesh axis 'tp' shards dimension 2, out of range for rank 2}}
  lmc.param @w : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(2)}>}
}

// -----

// Tests that a sharded static dimension is divisible by the axis size.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 4>} {
  // expected-error @+1 {{dimension 1 (size 6) is not divisible by 4, the number of ranks along mesh axes tp}}
  lmc.param @w : tensor<4x6xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(1)}>}
}

// -----

// Tests that a dimension split by two axes is divisible by the product of
// their sizes (6 is divisible by 2 but not by 2 * 2).

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  // expected-error @+1 {{dimension 0 (size 6) is not divisible by 4, the number of ranks along mesh axes dp, tp}}
  lmc.param @w : tensor<6x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = shard(0), tp = shard(0)}>}
}

// -----

// Tests that the axes of a sharding are listed in mesh order.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  // expected-error @+1 {{mesh axis 'dp' is listed after mesh axis 'tp'; axes are listed in mesh order}}
  lmc.param @w : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(1), dp = shard(0)}>}
}

// -----

// Tests that `lmc.sharding` holds a sharding.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  // expected-error @+1 {{'lmc.sharding' must be an #lmc.sharding attribute, got #lmc.mesh<dp = 2>}}
  lmc.param @w : tensor<4xf32> init(zeros) {lmc.sharding = #lmc.mesh<dp = 2>}
}

// -----

// Tests that `lmc.sharding` sits on a parameter only.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  // expected-error @+1 {{'lmc.sharding' is only allowed on an lmc.param}}
  func.func @f() attributes {lmc.sharding = #lmc.sharding<{}>} {
    return
  }
}

// -----

// Tests that a sharded parameter needs a mesh in scope.

lmc.model @m {
  // expected-error @+1 {{'lmc.sharding' needs an #lmc.mesh in scope (an 'lmc.mesh' attribute on the enclosing lmc.model or module)}}
  lmc.param @w : tensor<4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = shard(0)}>}
}

// -----

// Tests that a shard placement's blocks are positive.

// expected-error @+1 {{the number of blocks must be positive}}
func.func @f() attributes {s = #lmc.sharding<{tp = shard(1, blocks = 0)}>} {
  return
}

// -----

// Tests that `blocks` is the only keyword after the dimension.

// expected-error @+1 {{expected 'blocks'}}
func.func @f() attributes {s = #lmc.sharding<{tp = shard(1, parts = 3)}>} {
  return
}

// -----

// Tests that a dimension sharded in blocks splits into ranks times blocks.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 1, tp = 2>} {
  // expected-error @+1 {{dimension 1 (size 9) is not divisible by 2, the number of ranks along mesh axes tp times 3 blocks}}
  lmc.param @w : tensor<4x9xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(1, blocks = 3)}>}
}
