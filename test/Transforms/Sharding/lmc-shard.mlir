// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2 overlap=false" | FileCheck %s
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=4 bucket-bytes=1 overlap=false" | FileCheck %s --check-prefix=EACH
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2" | FileCheck %s --check-prefix=ASYNC
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard | FileCheck %s --check-prefix=ONE

// Tests that under dp=2 the model records its mesh; that the gradients
// (here 64 + 16 bytes, one bucket) are all-reduced together over dp right
// after the backward pass produces the last of them, then scaled by 1/2, and
// that the optimizer reads the means; and that the losses of train_step and
// eval_step are all-reduced and halved before they are returned.

// CHECK-LABEL: lmc.model @m attributes {{{.*}}lmc.mesh = #lmc.mesh<dp = 2, tp = 1>}
// CHECK:       func.func @train_step
// CHECK:         %[[GB:.+]] = lmc.reduce_sum
// CHECK-NEXT:    %[[GW:.+]] = lmc.embedding_grad
// CHECK-NEXT:    %[[R:.+]]:2 = lmc.all_reduce %[[GB]], %[[GW]] over ["dp"] : tensor<4xf32>, tensor<4x4xf32>
// CHECK-NEXT:    %[[MB:.+]] = lmc.scale %[[R]]#0 by 5.000000e-01 : tensor<4xf32>
// CHECK-NEXT:    %[[MW:.+]] = lmc.scale %[[R]]#1 by 5.000000e-01 : tensor<4x4xf32>
// CHECK-NEXT:    %[[RL:.+]] = lmc.all_reduce %[[LOSS:.+]] over ["dp"] : tensor<f32>
// CHECK-NEXT:    %[[ML:.+]] = lmc.scale %[[RL]] by 5.000000e-01 : tensor<f32>
// CHECK-NEXT:    %[[L:.+]] = tensor.extract %[[ML]][] : tensor<f32>
// CHECK-NOT:     lmc.all_reduce
// CHECK:         lmc.adamw %{{.+}}, %[[MW]],
// CHECK:         lmc.adamw %{{.+}}, %[[MB]],
// CHECK:         return %[[L]],
// CHECK:       func.func @eval_step
// CHECK:         %[[E:.+]] = lmc.cross_entropy
// CHECK-NEXT:    %[[RE:.+]] = lmc.all_reduce %[[E]] over ["dp"] : tensor<f32>
// CHECK-NEXT:    %[[ME:.+]] = lmc.scale %[[RE]] by 5.000000e-01 : tensor<f32>
// CHECK-NEXT:    return %[[ME]]
// CHECK:       func.func @logits
// CHECK-NOT:     lmc.all_reduce

// Tests that with 1-byte buckets every gradient gets its own all-reduce,
// each right after its gradient, in the order the backward pass produces
// them, and that the scale follows dp (1/4).

// EACH-LABEL: func.func @train_step
// EACH:       %[[GB:.+]] = lmc.reduce_sum
// EACH-NEXT:  %[[RB:.+]] = lmc.all_reduce %[[GB]] over ["dp"] : tensor<4xf32>
// EACH-NEXT:  lmc.scale %[[RB]] by 2.500000e-01 : tensor<4xf32>
// EACH-NEXT:  %[[GW:.+]] = lmc.embedding_grad
// EACH-NEXT:  %[[RW:.+]] = lmc.all_reduce %[[GW]] over ["dp"] : tensor<4x4xf32>
// EACH-NEXT:  lmc.scale %[[RW]] by 2.500000e-01 : tensor<4x4xf32>

// Tests that with overlap (the default) the bucket's all-reduce starts right
// after its last gradient and is waited for right before the first use of
// its gradients (the global norm's lmc.mul), the loss's blocking all-reduce
// standing in between.

// ASYNC-LABEL: func.func @train_step
// ASYNC:         %[[GB:.+]] = lmc.reduce_sum
// ASYNC-NEXT:    %[[GW:.+]] = lmc.embedding_grad
// ASYNC-NEXT:    %[[P:.+]]:2 = lmc.all_reduce_start %[[GB]], %[[GW]] over ["dp"] : tensor<4xf32>, tensor<4x4xf32>
// ASYNC-NEXT:    lmc.all_reduce %{{.+}} over ["dp"] : tensor<f32>
// ASYNC:         %[[W:.+]]:2 = lmc.wait %[[P]]#0, %[[P]]#1 : !lmc.pending<tensor<4xf32>>, !lmc.pending<tensor<4x4xf32>>
// ASYNC-NEXT:    %[[MB:.+]] = lmc.scale %[[W]]#0 by 5.000000e-01 : tensor<4xf32>
// ASYNC-NEXT:    %[[MW:.+]] = lmc.scale %[[W]]#1 by 5.000000e-01 : tensor<4x4xf32>
// ASYNC-NEXT:    lmc.mul %[[MW]], %[[MW]]
// ASYNC:         lmc.adamw %{{.+}}, %[[MW]],
// ASYNC:         lmc.adamw %{{.+}}, %[[MB]],

// Tests that the default mesh (one rank) only records itself.

// ONE:     lmc.model @m attributes {{{.*}}lmc.mesh = #lmc.mesh<dp = 1, tp = 1>}
// ONE-NOT: lmc.all_reduce
// ONE-NOT: lmc.scale

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @b : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %b = lmc.param_ref @b : tensor<4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %y = lmc.bias_add %x, %b : tensor<?x?x4xf32>, tensor<4xf32>
    %loss = lmc.cross_entropy %y, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
