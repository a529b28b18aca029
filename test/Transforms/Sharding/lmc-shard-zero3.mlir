// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2 zero=3" | FileCheck %s
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2 zero=3 overlap=false" | FileCheck %s --check-prefix=BLOCKING
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="zero=3" | FileCheck %s --check-prefix=ONE
// RUN: lmc-opt %s --lmc-training-pipeline="mesh=dp=2 zero=3 attention=decomposed bucket-bytes=0" --convert-lmc-to-linalg --lmc-fuse-kernel-loops --canonicalize --lmc-bufferize --drop-equivalent-buffer-results --lmc-free-buffers | FileCheck %s --check-prefix=FREE

// Tests that ZeRO-3 over dp=2 makes every parameter a piece (lmc.sharding
// dp = shard(0), the arguments of train_step, eval_step and logits halved
// along dimension 0), and that train_step gathers them layer by layer
// (layers wte, h.0 = {h.0.w, h.0.b}, h.1, by their names): the forward
// gathers of a layer start right after the previous layer's wait, so that
// h.0's gathers run while the embedding (layer wte) computes and h.1's while
// h.0's matmul does; one wait per layer right before its first use; the
// backward pass gathers again (after the loss: the head's wte first, then
// h.1, then h.0, each started at the previous one's wait; h.1.b and h.0.b
// are not read by the backward pass and are not gathered again); every
// gradient is reduce-scattered; AdamW updates the pieces (the arguments
// themselves) and nothing is all-gathered after it: the pieces are returned.

// CHECK:       lmc.param @wte.weight : tensor<8x4xf32> {{.*}}{lmc.sharding = #lmc.sharding<{dp = shard(0)}>}
// CHECK:       lmc.param @h.1.b : tensor<4xf32> {{.*}}{lmc.sharding = #lmc.sharding<{dp = shard(0)}>}
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME:    %[[WTE:[a-z0-9]+]]: tensor<4x4xf32> {lmc.param = @wte.weight}, %[[W0:[a-z0-9]+]]: tensor<2x4xf32> {lmc.param = @h.0.w}, %[[B0:[a-z0-9]+]]: tensor<2xf32> {lmc.param = @h.0.b}, %[[W1:[a-z0-9]+]]: tensor<2x4xf32> {lmc.param = @h.1.w}, %[[B1:[a-z0-9]+]]: tensor<2xf32> {lmc.param = @h.1.b}
// CHECK-SAME:    -> (f32 {lmc.output = "loss"}, {{.*}}, tensor<4x4xf32> {lmc.param = @wte.weight}, tensor<2x4xf32> {lmc.param = @h.0.w}, tensor<2xf32> {lmc.param = @h.0.b}
// CHECK:         %[[PE:.+]] = lmc.all_gather_start %[[WTE]] over ["dp"] dim 0 : tensor<4x4xf32> -> !lmc.pending<tensor<8x4xf32>>
// CHECK-NEXT:    %[[GE:.+]] = lmc.wait %[[PE]] : !lmc.pending<tensor<8x4xf32>>
// CHECK-NEXT:    %[[PW0:.+]] = lmc.all_gather_start %[[W0]] over ["dp"] dim 0 : tensor<2x4xf32> -> !lmc.pending<tensor<4x4xf32>>
// CHECK-NEXT:    %[[PB0:.+]] = lmc.all_gather_start %[[B0]] over ["dp"] dim 0 : tensor<2xf32> -> !lmc.pending<tensor<4xf32>>
// CHECK-NEXT:    %[[X:.+]] = lmc.embedding %[[GE]]
// CHECK-NEXT:    %[[G0:.+]]:2 = lmc.wait %[[PW0]], %[[PB0]]
// CHECK-NEXT:    %[[PW1:.+]] = lmc.all_gather_start %[[W1]] over ["dp"] dim 0
// CHECK-NEXT:    %[[PB1:.+]] = lmc.all_gather_start %[[B1]] over ["dp"] dim 0
// CHECK-NEXT:    %[[Y0:.+]] = lmc.matmul %[[X]], %[[G0]]#0
// CHECK-NEXT:    %[[Z0:.+]] = lmc.bias_add %[[Y0]], %[[G0]]#1
// CHECK-NEXT:    %[[G1:.+]]:2 = lmc.wait %[[PW1]], %[[PB1]]
// CHECK-NEXT:    %[[Y1:.+]] = lmc.matmul %[[Z0]], %[[G1]]#0
// CHECK-NEXT:    %[[Z1:.+]] = lmc.bias_add %[[Y1]], %[[G1]]#1
// CHECK-NEXT:    %[[LOGITS:.+]] = lmc.matmul %[[Z1]], %[[GE]] transpose_b
// CHECK-NEXT:    lmc.cross_entropy %[[LOGITS]]
// The backward pass: wte (the head), h.1, h.0, each gathered again.
// CHECK-NEXT:    %[[QE:.+]] = lmc.all_gather_start %[[WTE]] over ["dp"] dim 0
// CHECK:         %[[BE:.+]] = lmc.wait %[[QE]]
// CHECK-NEXT:    %[[QW1:.+]] = lmc.all_gather_start %[[W1]] over ["dp"] dim 0
// CHECK-NEXT:    %[[DX:.+]] = lmc.matmul %{{.+}}, %[[BE]] :
// CHECK:         lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<4xf32> -> !lmc.pending<tensor<2xf32>>
// CHECK-NEXT:    %[[BW1:.+]] = lmc.wait %[[QW1]]
// CHECK-NEXT:    %[[QW0:.+]] = lmc.all_gather_start %[[W0]] over ["dp"] dim 0
// CHECK-NEXT:    lmc.matmul %[[DX]], %[[BW1]] transpose_b
// CHECK:         lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<4x4xf32> -> !lmc.pending<tensor<2x4xf32>>
// CHECK:         %[[BW0:.+]] = lmc.wait %[[QW0]]
// CHECK-NEXT:    lmc.matmul %{{.+}}, %[[BW0]] transpose_b
// CHECK:         lmc.reduce_scatter_start %{{.+}} over ["dp"] dim 0 : tensor<8x4xf32> -> !lmc.pending<tensor<4x4xf32>>
// CHECK-NOT:     lmc.all_gather
// CHECK:         %[[NEW:.+]], %{{.+}}, %{{.+}} = lmc.adamw %[[WTE]], %{{.+}} : tensor<4x4xf32>
// CHECK-NOT:     lmc.all_gather
// CHECK:         lmc.adamw %[[B1]], %{{.+}} : tensor<2xf32>
// CHECK-NOT:     lmc.all_gather
// CHECK:         return %{{.+}}, %{{.+}}, %{{.+}}, %[[NEW]],
// CHECK-LABEL: func.func @eval_step(
// CHECK-SAME:    tensor<4x4xf32> {lmc.param = @wte.weight}, %{{.+}}: tensor<2x4xf32> {lmc.param = @h.0.w}
// CHECK:         lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<4x4xf32>
// CHECK-NEXT:    lmc.wait
// CHECK-NEXT:    lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<2x4xf32>
// CHECK-NEXT:    lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<2xf32>
// CHECK-NEXT:    lmc.embedding
// CHECK-NEXT:    lmc.wait
// CHECK-NEXT:    lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<2x4xf32>
// CHECK-NEXT:    lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<2xf32>
// CHECK-NEXT:    lmc.matmul
// CHECK-NOT:     lmc.all_gather
// CHECK:         lmc.cross_entropy
// CHECK-LABEL: func.func @logits(
// CHECK-SAME:    tensor<4x4xf32> {lmc.param = @wte.weight}
// CHECK:         lmc.all_gather_start %{{.+}} over ["dp"] dim 0 : tensor<4x4xf32>

// Tests that without overlap each gather is a blocking lmc.all_gather right
// before the first use of its layer, in the forward and the backward pass.

// BLOCKING-LABEL: func.func @train_step(
// BLOCKING-NOT:   lmc.all_gather_start
// BLOCKING:       %[[E:.+]] = lmc.all_gather %arg0 over ["dp"] dim 0 : tensor<4x4xf32> -> tensor<8x4xf32>
// BLOCKING-NEXT:  lmc.embedding %[[E]]
// BLOCKING-NEXT:  %[[W:.+]] = lmc.all_gather %arg1 over ["dp"] dim 0 : tensor<2x4xf32> -> tensor<4x4xf32>
// BLOCKING-NEXT:  %[[B:.+]] = lmc.all_gather %arg2 over ["dp"] dim 0 : tensor<2xf32> -> tensor<4xf32>
// BLOCKING-NEXT:  lmc.matmul %{{.+}}, %[[W]]
// BLOCKING:       lmc.cross_entropy
// BLOCKING:       %[[E2:.+]] = lmc.all_gather %arg0 over ["dp"] dim 0
// BLOCKING-NEXT:  lmc.matmul %{{.+}}, %[[E2]] :
// BLOCKING:       lmc.reduce_scatter %{{.+}} over ["dp"] dim 0 : tensor<8x4xf32> -> tensor<4x4xf32>
// BLOCKING-NOT:   lmc.all_gather
// BLOCKING:       return

// Tests that after bufferization (per-tensor gathers: bucket-bytes=0, so
// that lmc-bucket-collectives packs nothing) lmc-free-buffers frees the forward
// gathers of a layer after its last forward use: h.0's two gathered buffers
// before h.1's wait, h.1's before the loss, and the backward pass gathers
// into buffers of its own.

// FREE-LABEL: func.func @lmc_train_step
// FREE:         %[[E:.+]] = lmc.buffer_collective_start all_gather {{.*}} : memref<4x4xf32, {{.*}}>, memref<8x4xf32
// FREE-NEXT:    lmc.buffer_wait %[[E]]
// FREE:         %[[AW:.+]] = memref.alloc() {{.*}} : memref<{{[0-9]+}}xf32>
// FREE:         %[[H0W:.+]] = lmc.buffer_collective_start all_gather %{{.+}} into %{{.+}} over ["dp"] dim 0 : memref<2x4xf32
// FREE-NEXT:    %[[AB:.+]] = memref.alloc() {{.*}} : memref<{{[0-9]+}}xf32>
// FREE:         %[[H0B:.+]] = lmc.buffer_collective_start all_gather %{{.+}} into %{{.+}} over ["dp"] dim 0 : memref<2xf32
// FREE:         lmc.buffer_wait %[[H0W]], %[[H0B]]
// FREE:         %[[H1W:.+]] = lmc.buffer_collective_start all_gather %{{.+}} into %{{.+}} over ["dp"] dim 0 : memref<2x4xf32
// FREE:         %[[H1B:.+]] = lmc.buffer_collective_start all_gather %{{.+}} into %{{.+}} over ["dp"] dim 0 : memref<2xf32
// FREE:         memref.dealloc %[[AB]]
// FREE-NEXT:    memref.dealloc %[[AW]]
// FREE-NEXT:    lmc.buffer_wait %[[H1W]], %[[H1B]]
// FREE:         memref.dealloc
// FREE-NEXT:    memref.dealloc
// FREE:         lmc.buffer_collective_start all_gather {{.*}} : memref<4x4xf32, {{.*}}>, memref<8x4xf32
// FREE:         lmc.buffer_collective_start all_gather {{.*}} : memref<2x4xf32, {{.*}}>, memref<4x4xf32

// Tests that on one rank zero=3 changes nothing.

// ONE-NOT: lmc.sharding
// ONE-NOT: lmc.all_gather
// ONE-NOT: lmc.reduce_scatter

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
