// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2 zero=2" | FileCheck %s
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2 zero=2" --lmc-grad-accumulation | FileCheck %s --check-prefix=ACCUM
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2 zero=3" --lmc-grad-accumulation | FileCheck %s --check-prefix=ACCUM3

// Tests that ZeRO-2 over dp=2 keeps the parameters whole and replicated
// (no lmc.sharding; full arguments), reduce-scatters every gradient as soon
// as it exists (no gradient all-reduce), runs AdamW on this rank's slice of
// each parameter with the state pieces, and all-gathers the updated pieces:
// ZeRO-1's program, whose full gradients already die at their
// reduce-scatter.

// CHECK:       lmc.param @wte.weight : tensor<8x4xf32> init(normal, std = 2.000000e-02) {lmc.zero_axis = "dp", lmc.zero_dim = 0 : i64}
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME:    %[[WTE:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte.weight}
// CHECK-SAME:    %{{.+}}: tensor<4x4xf32> {lmc.param = @wte.weight, lmc.state = "exp_avg"}
// CHECK-NOT:     lmc.all_gather
// CHECK:         lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<4xf32> -> !lmc.pending<tensor<2xf32>>
// CHECK-NOT:     lmc.all_gather
// CHECK:         %[[RS:.+]] = lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<8x4xf32> -> !lmc.pending<tensor<4x4xf32>>
// CHECK-NOT:     lmc.all_reduce_start
// CHECK:         %[[W:.+]] = lmc.wait %[[RS]]
// CHECK-NEXT:    %[[G:.+]] = lmc.scale %[[W]] by 5.000000e-01 : tensor<4x4xf32>
// CHECK:         %[[S:.+]] = tensor.extract_slice %[[WTE]][%{{.+}}, 0] [4, 4] [1, 1] : tensor<8x4xf32> to tensor<4x4xf32>
// CHECK-NEXT:    %[[NEW:.+]], %{{.+}}, %{{.+}} = lmc.adamw %[[S]], %[[G]],
// CHECK-NEXT:    %[[AG:.+]] = lmc.all_gather_start %[[NEW]] over ["dp"] dim 0 : tensor<4x4xf32> -> !lmc.pending<tensor<8x4xf32>>
// CHECK:         %[[P:.+]] = lmc.wait %[[AG]]
// CHECK:         return %{{.+}}, %{{.+}}, %{{.+}}, %[[P]],

// Tests that under gradient accumulation the ZeRO-2 accumulators are the
// pieces: grad_step reduce-scatters each micro-batch's gradients and adds
// them to shard-sized accumulators; apply_step updates and gathers.

// ACCUM-LABEL: func.func @grad_step(
// ACCUM-SAME:    %{{.+}}: tensor<8x4xf32> {lmc.param = @wte.weight}
// ACCUM-SAME:    %[[ACC:[a-z0-9]+]]: tensor<4x4xf32>, %{{.+}}: tensor<2x4xf32>, %{{.+}}: tensor<2xf32>, %{{.+}}: tensor<2x4xf32>, %{{.+}}: tensor<2xf32>, %{{.+}}: tensor<?x?xi32>
// ACCUM:         lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<8x4xf32> -> !lmc.pending<tensor<4x4xf32>>
// ACCUM:         lmc.add %[[ACC]], %{{.+}} : tensor<4x4xf32>
// ACCUM:         return {{.*}} : f32, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2xf32>, tensor<2x4xf32>, tensor<2xf32>
// ACCUM-LABEL: func.func @apply_step(
// ACCUM-NOT:     lmc.reduce_scatter
// ACCUM:         lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<4x4xf32> -> !lmc.pending<tensor<8x4xf32>>

// Tests that under ZeRO-3 grad_step gathers the parameter pieces and
// accumulates gradient pieces, and apply_step updates the pieces with no
// collective over dp but the norm's.

// ACCUM3-LABEL: func.func @grad_step(
// ACCUM3-SAME:    %{{.+}}: tensor<4x4xf32> {lmc.param = @wte.weight}
// ACCUM3:         lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<4x4xf32> -> !lmc.pending<tensor<8x4xf32>>
// ACCUM3:         lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<8x4xf32> -> !lmc.pending<tensor<4x4xf32>>
// ACCUM3:         return {{.*}} : f32, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2xf32>, tensor<2x4xf32>, tensor<2xf32>
// ACCUM3-LABEL: func.func @apply_step(
// ACCUM3-NOT:     lmc.all_gather
// ACCUM3-NOT:     lmc.reduce_scatter
// ACCUM3:         lmc.adamw
// ACCUM3-NOT:     lmc.all_gather
// ACCUM3:         return

lmc.model @m {
  lmc.param @wte.weight : tensor<8x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @h.0.w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @h.0.b : tensor<4xf32> init(zeros)
  lmc.param @h.1.w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @h.1.b : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte.weight : tensor<8x4xf32>
    %w0 = lmc.param_ref @h.0.w : tensor<4x4xf32>
    %b0 = lmc.param_ref @h.0.b : tensor<4xf32>
    %w1 = lmc.param_ref @h.1.w : tensor<4x4xf32>
    %b1 = lmc.param_ref @h.1.b : tensor<4xf32>
    %x = lmc.embedding %wte[%tokens] : tensor<8x4xf32>, tensor<?x?xi32>
    %y0 = lmc.matmul %x, %w0 : tensor<?x?x4xf32>, tensor<4x4xf32>
    %z0 = lmc.bias_add %y0, %b0 : tensor<?x?x4xf32>, tensor<4xf32>
    %y1 = lmc.matmul %z0, %w1 : tensor<?x?x4xf32>, tensor<4x4xf32>
    %z1 = lmc.bias_add %y1, %b1 : tensor<?x?x4xf32>, tensor<4xf32>
    %logits = lmc.matmul %z1, %wte transpose_b : tensor<?x?x4xf32>, tensor<8x4xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x8xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
