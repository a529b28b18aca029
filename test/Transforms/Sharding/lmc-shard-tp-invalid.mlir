// RUN: lmc-opt %s --lmc-shard="mesh=tp=2" --split-input-file --verify-diagnostics

// Tests that tensor parallelism refuses a training step with nested
// regions (it partitions straight-line functions) with a located error.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(zeros)
  func.func @forward(%ids: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %c = arith.constant dense<0.0> : tensor<f32>
    return %c : tensor<f32>
  }
  func.func @train_step(%w: tensor<4xf32> {lmc.param = @w}) -> (f32 {lmc.output = "loss"}) {
    // expected-error @below {{tensor parallelism partitions straight-line functions; this op has regions}}
    %r = scf.execute_region -> f32 {
      %c = arith.constant 0.0 : f32
      scf.yield %c : f32
    }
    return %r : f32
  }
}
