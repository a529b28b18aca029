// RUN: lmc-opt %s -split-input-file | lmc-opt -split-input-file | FileCheck %s
// RUN: lmc-opt %s -split-input-file --mlir-print-op-generic | lmc-opt -split-input-file | FileCheck %s

// Round trip of the mesh and sharding attributes (LMCAttrs.td): on the ops
// that carry them (`lmc.mesh` on a model or a module, `lmc.sharding` on a
// parameter, checked against the mesh in scope) and on their own, where the
// canonical printed form is what is checked.

// Tests that a mesh on a model prints its axes in order, major to minor,
// that quoted axis names print bare, and that a sharded parameter checks
// against it: a dimension split by one axis, two dimensions split by two
// axes, one dimension split by both axes (divisible by their product), and
// a partial axis.

// CHECK-LABEL: lmc.model @two_axes
// CHECK-SAME:    attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 4>}
// CHECK-NEXT:    lmc.param @w1 : tensor<64x256xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(1)}>}
// CHECK-NEXT:    lmc.param @w2 : tensor<64x256xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = shard(0), tp = shard(1)}>}
// CHECK-NEXT:    lmc.param @w3 : tensor<8x3xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = shard(0), tp = shard(0)}>}
// CHECK-NEXT:    lmc.param @w4 : tensor<3x8xf64> init(ones) {lmc.sharding = #lmc.sharding<{dp = partial, tp = shard(1)}>}
lmc.model @two_axes attributes {lmc.mesh = #lmc.mesh<"dp" = 2, tp = 4>} {
  lmc.param @w1 : tensor<64x256xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(1)}>}
  lmc.param @w2 : tensor<64x256xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = shard(0), tp = shard(1)}>}
  lmc.param @w3 : tensor<8x3xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = shard(0), tp = shard(0)}>}
  lmc.param @w4 : tensor<3x8xf64> init(ones) {lmc.sharding = #lmc.sharding<{dp = partial, "tp" = shard(1)}>}
}

// -----

// Tests that a written `replicated` placement is dropped, so that a
// sharding has one printed form, down to the fully replicated `{}`.

// CHECK-LABEL: lmc.model @replicated
// CHECK-NEXT:    lmc.param @a : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{}>}
// CHECK-NEXT:    lmc.param @b : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{}>}
// CHECK-NEXT:    lmc.param @c : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(1)}>}
lmc.model @replicated attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  lmc.param @a : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{}>}
  lmc.param @b : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = replicated, tp = replicated}>}
  lmc.param @c : tensor<4x4xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = replicated, tp = shard(1)}>}
}

// -----

// Tests that a mesh may sit on the module, that parameters of a model in it
// resolve their axes against it, and that an axis of size 1 shards any
// size.

// CHECK:       module attributes {lmc.mesh = #lmc.mesh<dp = 4, sp = 1>}
// CHECK-LABEL: lmc.model @on_module
// CHECK-NEXT:    lmc.param @w : tensor<8x7xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = shard(0), sp = shard(1)}>}
module attributes {lmc.mesh = #lmc.mesh<dp = 4, sp = 1>} {
  lmc.model @on_module {
    lmc.param @w : tensor<8x7xf32> init(zeros) {lmc.sharding = #lmc.sharding<{dp = shard(0), sp = shard(1)}>}
  }
}

// -----

// Tests that the nearest mesh is the one in scope: the model's `tp` axis is
// found although the module's mesh has only `dp`.

// CHECK:       module attributes {lmc.mesh = #lmc.mesh<dp = 8>}
// CHECK-LABEL: lmc.model @nearest
// CHECK-SAME:    attributes {lmc.mesh = #lmc.mesh<tp = 2>}
// CHECK-NEXT:    lmc.param @w : tensor<6xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
module attributes {lmc.mesh = #lmc.mesh<dp = 8>} {
  lmc.model @nearest attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
    lmc.param @w : tensor<6xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
  }
}

// -----

// Tests the attributes on their own (under names the lmc dialect does not
// check, so without a mesh): a one-axis mesh, the written order of a
// sharding's axes kept, `replicated` entries dropped, and a sharding with
// only partial axes.

// CHECK-LABEL: func.func @standalone
// CHECK-SAME:    mesh = #lmc.mesh<world = 16>
// CHECK-SAME:    s1 = #lmc.sharding<{tp = shard(2), dp = shard(0)}>
// CHECK-SAME:    s2 = #lmc.sharding<{}>
// CHECK-SAME:    s3 = #lmc.sharding<{dp = partial, tp = partial}>
func.func @standalone() attributes {
    mesh = #lmc.mesh<world = 16>,
    s1 = #lmc.sharding<{tp = shard(2), dp = shard(0)}>,
    s2 = #lmc.sharding<{pp = replicated}>,
    s3 = #lmc.sharding<{dp = partial, pp = replicated, tp = partial}>} {
  return
}

// -----

// Tests that a shard placement with blocks prints them, and one block (the
// default) does not: a fused QKV weight split by heads.

// CHECK-LABEL: lmc.model @blocks
// CHECK-NEXT:    lmc.param @qkv : tensor<64x192xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(1, blocks = 3)}>}
// CHECK-NEXT:    lmc.param @proj : tensor<64x64xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
lmc.model @blocks attributes {lmc.mesh = #lmc.mesh<dp = 1, tp = 2>} {
  lmc.param @qkv : tensor<64x192xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(1, blocks = 3)}>}
  lmc.param @proj : tensor<64x64xf32> init(zeros) {lmc.sharding = #lmc.sharding<{tp = shard(0, blocks = 1)}>}
}
