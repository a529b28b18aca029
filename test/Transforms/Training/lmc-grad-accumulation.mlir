// RUN: lmc-opt %s --lmc-autodiff --lmc-optimizer --lmc-grad-accumulation | FileCheck %s
// RUN: lmc-opt %s --lmc-autodiff --lmc-optimizer --lmc-grad-accumulation --lmc-export-entry-points | FileCheck %s --check-prefix=EXPORT
// RUN: lmc-opt %s --lmc-autodiff --lmc-optimizer --lmc-grad-accumulation | lmc-opt -verify-roundtrip > /dev/null

// ZeRO-1 on tiny (dp=2): grad_step reduce-scatters each gradient (and
// all-reduces the loss), and its accumulated gradients have the types of
// this rank's optimizer state; apply_step all-reduces the partial squared
// norm and all-gathers the updated parameters.
// RUN: %python -m lmc.models.gpt2 --preset tiny -o %t.mlir
// RUN: lmc-opt %t.mlir --lmc-autodiff --lmc-optimizer --lmc-shard="mesh=dp=2 zero=1" --lmc-grad-accumulation \
// RUN:   | FileCheck %s --check-prefix=ZERO

// Tests that grad_step takes the parameters, one accumulated gradient per
// parameter (of its type, unannotated) and the batch, computes the loss and
// the gradients as train_step does, and returns the loss and each
// accumulated gradient plus this batch's gradient; and that apply_step takes
// the parameters, moments and accumulated gradients, then grad_scale and
// train_step's hyperparameters, computes the norm of the accumulated
// gradients times grad_scale (every use of the norm reads the scaled one),
// and runs each update on the accumulated gradient with the clipping
// coefficient times grad_scale; train_step stays.

// CHECK-LABEL: func.func @train_step(
// CHECK-LABEL: func.func @grad_step(
// CHECK-SAME:    %[[P0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte}, %[[P1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b},
// CHECK-SAME:    %[[A0:[a-z0-9]+]]: tensor<8x4xf32>, %[[A1:[a-z0-9]+]]: tensor<4xf32>,
// CHECK-SAME:    %[[TOK:[a-z0-9]+]]: tensor<?x?xi32>, %[[TGT:[a-z0-9]+]]: tensor<?x?xi32>)
// CHECK-SAME:    -> (f32 {lmc.output = "loss"}, tensor<8x4xf32>, tensor<4xf32>)
// CHECK-NOT:     lmc.adamw
// CHECK:         %[[X:.+]] = lmc.embedding %[[P0]][%[[TOK]]]
// CHECK:         %[[LOSS:.+]] = lmc.cross_entropy %[[X]], %[[TGT]]
// CHECK:         %[[DX:.+]] = lmc.cross_entropy_grad %[[X]], %[[TGT]]
// CHECK:         %[[DW:.+]] = lmc.embedding_grad %[[DX]][%[[TOK]]]
// CHECK:         %[[DB:.+]] = arith.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK:         %[[L:.+]] = tensor.extract %[[LOSS]][]
// CHECK-NOT:     lmc.adamw
// CHECK:         %[[S0:.+]] = lmc.add %[[A0]], %[[DW]] : tensor<8x4xf32>
// CHECK:         %[[S1:.+]] = lmc.add %[[A1]], %[[DB]] : tensor<4xf32>
// CHECK:         return %[[L]], %[[S0]], %[[S1]]
// CHECK-LABEL: func.func @apply_step(
// CHECK-SAME:    %[[Q0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte}, %[[Q1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b},
// CHECK-SAME:    %[[M0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte, lmc.state = "exp_avg"}, %[[M1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b, lmc.state = "exp_avg"},
// CHECK-SAME:    %[[V0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte, lmc.state = "exp_avg_sq"}, %[[V1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b, lmc.state = "exp_avg_sq"},
// CHECK-SAME:    %[[G0:[a-z0-9]+]]: tensor<8x4xf32>, %[[G1:[a-z0-9]+]]: tensor<4xf32>,
// CHECK-SAME:    %[[SCALE:[a-z0-9]+]]: f32 {lmc.hparam = "grad_scale"}, %[[STEP:[a-z0-9]+]]: i64 {lmc.hparam = "step"}, %{{.+}}: f32 {lmc.hparam = "lr"},
// CHECK-SAME:    %[[CLIP:[a-z0-9]+]]: f32 {lmc.hparam = "grad_clip"})
// CHECK-SAME:    -> (f32 {lmc.output = "grad_norm"}, f32 {lmc.output = "lr"}, tensor<8x4xf32> {lmc.param = @wte}, tensor<4xf32> {lmc.param = @b},
// CHECK-NOT:     lmc.embedding
// CHECK:         lmc.mul %[[G0]], %[[G0]]
// CHECK:         lmc.mul %[[G1]], %[[G1]]
// CHECK:         %[[NORM0:.+]] = math.sqrt
// CHECK-NEXT:    %[[NORM:.+]] = arith.mulf %[[NORM0]], %[[SCALE]] : f32
// CHECK:         arith.addf %[[NORM]], %{{.+}} : f32
// CHECK:         %[[COEF:.+]] = arith.select
// CHECK-NEXT:    %[[GS:.+]] = arith.mulf %[[COEF]], %[[SCALE]] : f32
// CHECK:         %[[NP0:[a-z0-9_]+]], %[[NM0:[a-z0-9_]+]], %[[NV0:[a-z0-9_]+]] = lmc.adamw %[[Q0]], %[[G0]], %[[M0]], %[[V0]] lr(%[[LR:.+]]) grad_scale(%[[GS]]) step(%[[STEP]])
// CHECK:         %[[NP1:[a-z0-9_]+]], %[[NM1:[a-z0-9_]+]], %[[NV1:[a-z0-9_]+]] = lmc.adamw %[[Q1]], %[[G1]], %[[M1]], %[[V1]] lr(%[[LR]]) grad_scale(%[[GS]]) step(%[[STEP]])
// CHECK:         return %[[NORM]], %[[LR]], %[[NP0]], %[[NP1]], %[[NM0]], %[[NM1]], %[[NV0]], %[[NV1]]

// Tests that lmc-export-entry-points exports them over flat buffers:
// lmc_grad_step(params, grad_acc, tokens, targets) -> loss, grad_acc
// (read writable) updated in place; lmc_apply_step(params, exp_avg,
// exp_avg_sq, grad_acc, grad_scale, hyperparameters...) -> (grad_norm, lr,
// nonfinite), grad_acc read only, the flag one sum per new tensor.

// EXPORT-LABEL: func.func @lmc_grad_step(
// EXPORT-SAME:    %[[P:[a-z0-9]+]]: memref<36xf32>, %[[A:[a-z0-9]+]]: memref<36xf32>, %[[T:[a-z0-9]+]]: tensor<?x?xi32>, %[[Y:[a-z0-9]+]]: tensor<?x?xi32>) -> f32 attributes {llvm.emit_c_interface}
// EXPORT:         memref.subview %[[A]][0] [32] [1]
// EXPORT:         %[[ACC0:.+]] = bufferization.to_tensor %{{.+}} restrict writable : memref<8x4xf32> to tensor<8x4xf32>
// EXPORT:         %[[SUM0:.+]] = lmc.add %[[ACC0]], %{{.+}} : tensor<8x4xf32>
// EXPORT:         bufferization.materialize_in_destination %[[SUM0]] in restrict writable
// EXPORT:         return %{{.+}} : f32
// EXPORT-LABEL: func.func @lmc_apply_step(
// EXPORT-SAME:    %[[AP:[a-z0-9]+]]: memref<36xf32>, %[[AM:[a-z0-9]+]]: memref<36xf32>, %[[AV:[a-z0-9]+]]: memref<36xf32>, %[[G:[a-z0-9]+]]: memref<36xf32>, %[[AS:[a-z0-9]+]]: f32,
// EXPORT-SAME:    %[[H0:[a-z0-9]+]]: i64, %[[H1:[a-z0-9]+]]: f32, %[[H2:[a-z0-9]+]]: f32, %[[H3:[a-z0-9]+]]: i64, %[[H4:[a-z0-9]+]]: i64, %[[H5:[a-z0-9]+]]: f32, %[[H6:[a-z0-9]+]]: f32, %[[H7:[a-z0-9]+]]: f32, %[[H8:[a-z0-9]+]]: f32, %[[H9:[a-z0-9]+]]: f32) -> (f32, f32, f32) attributes {llvm.emit_c_interface}
// EXPORT:         memref.subview %[[G]][0] [32] [1]
// EXPORT:         bufferization.to_tensor %{{.+}} restrict : memref<8x4xf32> to tensor<8x4xf32>
// EXPORT:         lmc.adamw
// EXPORT-COUNT-6: lmc.reduce_sum
// EXPORT:         arith.cmpf ord
// EXPORT:         %[[AFLAG:.+]] = arith.select
// EXPORT:         return %{{.+}}, %{{.+}}, %[[AFLAG]] : f32, f32, f32

// ZERO-LABEL: func.func @grad_step(
// ZERO-SAME:    %{{.+}}: tensor<256x64xf32> {lmc.param = @wte.weight},
// ZERO-SAME:    %{{.+}}: tensor<128x64xf32>,
// ZERO-NOT:     lmc.all_gather
// ZERO:         lmc.reduce_scatter_start
// ZERO:         lmc.all_reduce
// ZERO-NOT:     lmc.all_gather
// ZERO-NOT:     lmc.adamw
// ZERO:         return
// ZERO-LABEL: func.func @apply_step(
// ZERO-SAME:    %{{.+}}: tensor<128x64xf32> {lmc.param = @wte.weight, lmc.state = "exp_avg"}
// ZERO-NOT:     lmc.reduce_scatter
// ZERO:         lmc.all_reduce
// ZERO:         lmc.adamw
// ZERO:         lmc.all_gather_start
// ZERO:         return

lmc.model @m {
  lmc.param @wte : tensor<8x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @b : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @wte : tensor<8x4xf32>
    %b = lmc.param_ref @b : tensor<4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<8x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
