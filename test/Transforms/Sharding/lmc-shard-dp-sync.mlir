// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2,tp=2 dp-sync=local" | FileCheck %s --check-prefix=LOCAL
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2 dp-sync=local" | FileCheck %s --check-prefix=DP
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2,tp=2" | FileCheck %s --check-prefix=ALLREDUCE
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2,tp=2 dp-sync=allreduce" | FileCheck %s --check-prefix=ALLREDUCE

// Tests that dp-sync=local on dp=2 x tp=2 records the mode on the model and
// leaves train_step without any collective over dp: the tensor-parallel
// all-reduces and all-gathers stay, the global gradient norm sums this
// rank's squares and all-reduces them over tp only (so the norm and the
// clipping are the replica's), AdamW reads the unreduced gradients, and the
// loss returned is the replica's own (read straight from the
// cross-entropy); eval_step still averages its loss over dp.

// LOCAL:       lmc.model @mlp attributes {{{.*}}lmc.dp_sync = "local"{{.*}}lmc.mesh = #lmc.mesh<dp = 2, tp = 2>}
// LOCAL-LABEL: func.func @train_step
// LOCAL-NOT:     over ["dp"]
// LOCAL:         lmc.all_reduce %{{.+}} over ["tp"] : tensor<?x?x8xf32>
// LOCAL-NOT:     over ["dp"]
// LOCAL:         lmc.all_gather %{{.+}} over ["tp"] dim 2
// LOCAL-NOT:     over ["dp"]
// LOCAL:         %[[L:.+]] = tensor.extract %loss[] : tensor<f32>
// LOCAL-NOT:     over ["dp"]
// LOCAL:         %[[SQ:.+]] = tensor.from_elements %{{.+}} : tensor<f32>
// LOCAL-NEXT:    %[[N:.+]] = lmc.all_reduce %[[SQ]] over ["tp"] : tensor<f32>
// LOCAL-NEXT:    %[[N2:.+]] = tensor.extract %[[N]][] : tensor<f32>
// LOCAL-NEXT:    %[[NORM:.+]] = math.sqrt %[[N2]] : f32
// LOCAL-NOT:     over ["dp"]
// LOCAL-NOT:     lmc.scale
// LOCAL:         lmc.adamw
// LOCAL-NOT:     over ["dp"]
// LOCAL:         return %[[L]], %[[NORM]],
// LOCAL-LABEL: func.func @eval_step
// LOCAL:         %[[E:.+]] = lmc.all_reduce %{{.+}} over ["dp"] : tensor<f32>
// LOCAL-NEXT:    %[[ME:.+]] = lmc.scale %[[E]] by 5.000000e-01 : tensor<f32>
// LOCAL-NEXT:    return %[[ME]]
// LOCAL-LABEL: func.func @logits
// LOCAL-NOT:     over ["dp"]

// Tests that on dp=2 alone the local step has no collective at all: the
// norm is the square root of this rank's sum of squares.

// DP:          lmc.model @mlp attributes {{{.*}}lmc.dp_sync = "local"
// DP-LABEL:    func.func @train_step
// DP-NOT:        lmc.all_reduce
// DP-NOT:        lmc.all_gather
// DP-NOT:        lmc.wait
// DP:            %[[NORM:.+]] = math.sqrt %{{.+}} : f32
// DP-NOT:        lmc.all_reduce
// DP:            return %{{.+}}, %[[NORM]],
// DP-LABEL:    func.func @eval_step
// DP:            lmc.all_reduce %{{.+}} over ["dp"] : tensor<f32>

// Tests that allreduce (the default, and spelt out) is unchanged: the
// gradients and the loss of train_step are reduced over dp, and the model
// carries no dp_sync attribute.

// ALLREDUCE-NOT:   lmc.dp_sync
// ALLREDUCE-LABEL: func.func @train_step
// ALLREDUCE:         lmc.all_reduce_start {{.+}} over ["dp"]
// ALLREDUCE:         lmc.all_reduce %{{.+}} over ["dp"] : tensor<f32>
// ALLREDUCE-LABEL: func.func @eval_step
// ALLREDUCE:         lmc.all_reduce %{{.+}} over ["dp"] : tensor<f32>

// Tests that gradient accumulation splits the local step without adding a
// dp collective: grad_step accumulates the replica's own gradients and
// apply_step's norm is reduced over tp only.
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2,tp=2 dp-sync=local" --lmc-grad-accumulation | FileCheck %s --check-prefix=ACCUM
// ACCUM-LABEL: func.func @grad_step
// ACCUM-NOT:     over ["dp"]
// ACCUM-LABEL: func.func @apply_step
// ACCUM-NOT:     over ["dp"]
// ACCUM:         lmc.all_reduce %{{.+}} over ["tp"] : tensor<f32>
// ACCUM-NOT:     over ["dp"]
// ACCUM-LABEL: func.func @eval_step

// Errors, at the module, naming the option and lmc compile's flag.
// RUN: not lmc-opt %s --lmc-autodiff --lmc-optimizer --lmc-shard="mesh=tp=2 dp-sync=local" 2>&1 | FileCheck %s --check-prefix=NODP
// NODP: error: lmc-shard: dp-sync=local (lmc compile --dp-sync local) needs a mesh with dp > 1, not 'dp=1,tp=2': without replicas there is nothing to average
// RUN: not lmc-opt %s --lmc-autodiff --lmc-optimizer --lmc-shard="dp-sync=local" 2>&1 | FileCheck %s --check-prefix=ONE
// ONE: error: lmc-shard: dp-sync=local (lmc compile --dp-sync local) needs a mesh with dp > 1, not 'dp=1,tp=1'
// RUN: not lmc-opt %s --lmc-autodiff --lmc-optimizer --lmc-shard="mesh=dp=2 zero=1 dp-sync=local" 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: error: lmc-shard: dp-sync=local (lmc compile --dp-sync local) cannot be combined with ZeRO (zero=1): ZeRO shards the optimizer state over dp, whose replicas diverge between averagings
// RUN: not lmc-opt %s --lmc-shard="mesh=dp=2 dp-sync=sometimes" 2>&1 | FileCheck %s --check-prefix=VALUE
// VALUE: for the --dp-sync option: 'sometimes' is not one of: allreduce, local

// An MLP between a vocabulary-parallel embedding and an untied LM head.
lmc.model @mlp {
  lmc.param @wte : tensor<16x8xf32> init(normal, std = 2.000000e-02)
  lmc.param @fc : tensor<8x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @proj : tensor<32x8xf32> init(normal, std = 2.000000e-02)
  lmc.param @head : tensor<16x8xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte : tensor<16x8xf32>
    %x = lmc.embedding %wte[%tokens] : tensor<16x8xf32>, tensor<?x?xi32>
    %fc = lmc.param_ref @fc : tensor<8x32xf32>
    %h = lmc.matmul %x, %fc : tensor<?x?x8xf32>, tensor<8x32xf32>
    %a = lmc.gelu %h tanh : tensor<?x?x32xf32>
    %proj = lmc.param_ref @proj : tensor<32x8xf32>
    %o = lmc.matmul %a, %proj : tensor<?x?x32xf32>, tensor<32x8xf32>
    %y = lmc.add %x, %o : tensor<?x?x8xf32>
    %head = lmc.param_ref @head : tensor<16x8xf32>
    %logits = lmc.matmul %y, %head transpose_b : tensor<?x?x8xf32>, tensor<16x8xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
