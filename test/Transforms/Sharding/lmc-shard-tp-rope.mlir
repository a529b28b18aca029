// RUN: lmc-opt %s --lmc-autodiff --lmc-optimizer --lmc-shard="mesh=tp=2" | FileCheck %s

// Tests rope's and rms_norm's sharding rules under tensor parallelism. The
// weight @w is annotated column-parallel (its placement is kept: no pattern
// plans it), so q = x @ w is split along its channels, 32 of 64 per rank. A
// rope with head_dim(16) splits whole heads (2 per rank): it runs on the
// local channels as the same op, with no collective. A rope with
// head_dim(64) would split its one head: its input is gathered first. The
// rms_norm normalises whole rows and its weight stays replicated. In the
// backward pass both ropes' inverses run where their gradients are whole.

// CHECK-LABEL: func.func @train_step
// CHECK:         %[[X:.+]] = lmc.all_reduce %{{.+}} over ["tp"] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[Q:.+]] = lmc.matmul %[[X]], %{{.+}} : tensor<?x?x64xf32>, tensor<64x32xf32>
// CHECK-NEXT:    %[[R:.+]] = lmc.rope %[[Q]] head_dim(16) theta(1.000000e+04) : tensor<?x?x32xf32>
// CHECK-NEXT:    %[[G:.+]] = lmc.all_gather %[[R]] over ["tp"] dim 2 : tensor<?x?x32xf32> -> tensor<?x?x64xf32>
// CHECK-NEXT:    %[[R2:.+]] = lmc.rope %[[G]] head_dim(64) theta(1.000000e+04) : tensor<?x?x64xf32>
// CHECK-NEXT:    lmc.rms_norm %[[R2]], %{{.+}} eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
// CHECK:         %[[DX:.+]], %{{.+}} = lmc.rms_norm_grad %[[R2]], %{{.+}}, %{{.+}} eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
// CHECK-NEXT:    %[[D2:.+]] = lmc.rope %[[DX]] head_dim(64) theta(1.000000e+04) inverse : tensor<?x?x64xf32>
// CHECK-NEXT:    lmc.rope %[[D2]] head_dim(16) theta(1.000000e+04) inverse : tensor<?x?x64xf32>
lmc.model @rope_tp attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  lmc.param @emb : tensor<16x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @w : tensor<64x64xf32> init(normal, std = 2.000000e-02) {lmc.sharding = #lmc.sharding<{tp = shard(1)}>}
  lmc.param @g : tensor<64xf32> init(ones)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @emb : tensor<16x64xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<16x64xf32>, tensor<?x?xi32>
    %w = lmc.param_ref @w : tensor<64x64xf32>
    %q = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
    %r = lmc.rope %q head_dim(16) theta(1.000000e+04) : tensor<?x?x64xf32>
    %r2 = lmc.rope %r head_dim(64) theta(1.000000e+04) : tensor<?x?x64xf32>
    %gw = lmc.param_ref @g : tensor<64xf32>
    %h = lmc.rms_norm %r2, %gw eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %logits = lmc.matmul %h, %emb transpose_b : tensor<?x?x64xf32>, tensor<16x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
