// RUN: lmc-opt %s | lmc-opt | FileCheck %s

// Tests that every discardable lmc attribute is accepted with its type in
// its place (declared in LMCDialect.td), and round trips.

// CHECK-LABEL: lmc.model @m attributes {lmc.activation_bytes = array<i64: 0, 0, 96, 4>, lmc.batch_axes = ["dp"], lmc.dp_sync = "local", lmc.mesh = #lmc.mesh<dp = 2>}
// CHECK:         lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.zero_axis = "dp", lmc.zero_dim = 0 : i64}
// CHECK:         func.func @train_step(%{{.+}}: tensor<4x8xf32> {lmc.param = @w}, %{{.+}}: tensor<4x8xf32> {lmc.param = @w, lmc.state = "exp_avg_sq"}, %{{.+}}: f32 {lmc.hparam = "lr"}) -> (f32 {lmc.output = "loss"}, tensor<4x8xf32> {lmc.grad_of = @w})
// CHECK:         func.func private @k() attributes {lmc.fusion_group = "silu", lmc.stream_ordered}
// CHECK:         lmc.scale %{{.+}} by 2.000000e+00 {lmc.library_call = {kernel = "none"}}
lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>, lmc.activation_bytes = array<i64: 0, 0, 96, 4>, lmc.batch_axes = ["dp"], lmc.dp_sync = "local"} {
  lmc.param @w : tensor<4x8xf32> init(zeros) {lmc.zero_dim = 0 : i64, lmc.zero_axis = "dp"}
  func.func @train_step(%w: tensor<4x8xf32> {lmc.param = @w},
                        %v: tensor<4x8xf32> {lmc.param = @w, lmc.state = "exp_avg_sq"},
                        %lr: f32 {lmc.hparam = "lr"})
      -> (f32 {lmc.output = "loss"}, tensor<4x8xf32> {lmc.grad_of = @w}) {
    return %lr, %w : f32, tensor<4x8xf32>
  }
  func.func private @k() attributes {lmc.fusion_group = "silu", lmc.stream_ordered}
  func.func @scale(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = lmc.scale %x by 2.0 {lmc.library_call = {kernel = "none"}} : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}
