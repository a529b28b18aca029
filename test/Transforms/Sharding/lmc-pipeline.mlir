// RUN: %python -m lmc.models.gpt2 --preset tiny -o %t.mlir
// RUN: lmc-opt %t.mlir --lmc-autodiff --lmc-optimizer --lmc-shard=mesh=pp=2 --lmc-grad-accumulation \
// RUN:   --lmc-pipeline=microbatches=2 > %t.1f1b.mlir
// RUN: FileCheck %s --check-prefix=MODEL < %t.1f1b.mlir
// RUN: FileCheck %s --check-prefix=S0 < %t.1f1b.mlir
// RUN: FileCheck %s --check-prefix=S1 < %t.1f1b.mlir
// RUN: FileCheck %s --check-prefix=APPLY < %t.1f1b.mlir
// RUN: lmc-opt -verify-roundtrip %t.1f1b.mlir > /dev/null
// RUN: lmc-opt %t.mlir --lmc-autodiff --lmc-optimizer --lmc-shard=mesh=pp=2 --lmc-grad-accumulation \
// RUN:   --lmc-pipeline="microbatches=2 schedule=gpipe" | FileCheck %s --check-prefix=GPIPE
// RUN: lmc-opt %t.1f1b.mlir --lmc-export-entry-points | FileCheck %s --check-prefix=EXPORT
// RUN: lmc-opt %t.mlir --lmc-autodiff --lmc-optimizer --lmc-shard=mesh=pp=2 --lmc-grad-accumulation \
// RUN:   --lmc-pipeline="microbatches=2 report=1" -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: lmc-opt %t.mlir --lmc-autodiff --lmc-optimizer --lmc-shard=mesh=pp=2,dp=2 --lmc-grad-accumulation \
// RUN:   --lmc-pipeline=microbatches=2 | FileCheck %s --check-prefix=DP

// Tests that lmc-pipeline splits tiny GPT-2 (two layers, tied embedding)
// over pp=2 at the layer boundary: the embedding and h.0 on stage 0, h.1,
// the final norm and the LM head on stage 1; the tied embedding is held by
// both stages (home 0), everything else by one.
// MODEL: lmc.model @tiny attributes {{{.*}}lmc.pipeline = {axis = "pp", microbatches = 2 : i64, schedule = "1f1b", stages = 2 : i64}
// MODEL: lmc.param @wte.weight {{.*}}lmc.stages = array<i64: 0, 1>
// MODEL: lmc.param @wpe.weight {{.*}}lmc.stages = array<i64: 0>}
// MODEL: lmc.param @h.0.mlp.c_proj.bias {{.*}}lmc.stages = array<i64: 0>}
// MODEL: lmc.param @h.1.ln_1.weight {{.*}}lmc.stages = array<i64: 1>}
// MODEL: lmc.param @ln_f.bias {{.*}}lmc.stages = array<i64: 1>}

// Tests stage 0's 1F1B program over two micro-batches (rows [0, B/2) and
// [B/2, B) of the batch): F0 (the embedding, layer 0, the residual stream
// sent to stage 1 with its sizes first), F1, then B0 (the gradient of the
// residual stream received from stage 1, with the receive of B1's posted
// ahead), B1, each gradient summed over the two micro-batches; then the
// holders of the tied embedding exchange their sums and add them in stage
// order before the accumulator, and the loss is all-reduced over pp.
// S0-LABEL: func.func @grad_step_stage_0(
// S0:         %[[ROWS:.+]] = arith.divui %{{.+}}, %c2
// S0:         %[[MB0:.+]] = tensor.extract_slice %{{.+}}[%{{.+}}, 0] [%[[ROWS]], %{{.+}}] [1, 1]
// S0-NOT:     lmc.cross_entropy
// S0:         lmc.embedding %{{.+}}[%[[MB0]]]
// S0:         lmc.layer_norm
// S0:         lmc.flash_attention
// S0:         lmc.send %{{.+}} to 1 over ["pp"] tag 1 : tensor<2xi64>
// S0-NEXT:    lmc.send %{{.+}} to 1 over ["pp"] tag 0 : tensor<?x?x64xf32>
// S0-NOT:     lmc.recv_start
// S0:         lmc.send %{{.+}} to 1 over ["pp"] tag 2 : tensor<?x?x64xf32>
// S0-NEXT:    %[[SZ:.+]] = lmc.recv_start from 1 over ["pp"] tag 5 : !lmc.pending<tensor<2xi64>>
// S0-NEXT:    lmc.wait %[[SZ]]
// S0:         %[[G0:.+]] = lmc.recv_start from 1 over ["pp"] tag 4 [%{{.+}}, %{{.+}}] : !lmc.pending<tensor<?x?x64xf32>>
// S0-NEXT:    %[[G1:.+]] = lmc.recv_start from 1 over ["pp"] tag 6 [%{{.+}}, %{{.+}}] : !lmc.pending<tensor<?x?x64xf32>>
// S0-NEXT:    lmc.wait %[[G0]]
// S0:         lmc.embedding_grad
// S0:         lmc.wait %[[G1]]
// S0:         %[[EMB:.+]] = lmc.embedding_grad
// S0-NEXT:    %[[SUM:.+]] = lmc.add %{{.+}}, %[[EMB]] : tensor<256x64xf32>
// S0:         lmc.send %[[SUM]] to 1 over ["pp"] tag 8 : tensor<256x64xf32>
// S0-NEXT:    %[[P:.+]] = lmc.recv_start from 1 over ["pp"] tag 8 : !lmc.pending<tensor<256x64xf32>>
// S0-NEXT:    %[[HEAD:.+]] = lmc.wait %[[P]]
// S0-NEXT:    %[[TIED:.+]] = lmc.add %[[SUM]], %[[HEAD]] : tensor<256x64xf32>
// S0-NEXT:    %[[ACC:.+]] = lmc.add %arg28, %[[TIED]] : tensor<256x64xf32>
// S0:         lmc.all_reduce %{{.+}} over ["pp"] : tensor<f32>
// S0:         return %{{.+}}, %[[ACC]],

// Tests stage 1's program: F0 B0 F1 B1 (no warm-up on the last stage),
// the forward input received before layer 1, F1's receive posted ahead
// during F0, each micro-batch's loss computed on this stage, the gradient of
// the residual stream sent back, and the tied embedding's sums added in the
// same order as on stage 0 (stage 0's first).
// S1-LABEL: func.func @grad_step_stage_1(
// S1:         %[[SZ:.+]] = lmc.recv_start from 0 over ["pp"] tag 1 : !lmc.pending<tensor<2xi64>>
// S1-NEXT:    lmc.wait %[[SZ]]
// S1:         %[[X0:.+]] = lmc.recv_start from 0 over ["pp"] tag 0 [%{{.+}}, %{{.+}}]
// S1-NEXT:    %[[IN0:.+]] = lmc.wait %[[X0]]
// S1-NEXT:    lmc.layer_norm %[[IN0]]
// S1:         lmc.cross_entropy
// S1:         %[[X1:.+]] = lmc.recv_start from 0 over ["pp"] tag 2
// S1:         lmc.cross_entropy_grad
// S1:         lmc.send %{{.+}} to 0 over ["pp"] tag 5 : tensor<2xi64>
// S1-NEXT:    lmc.send %{{.+}} to 0 over ["pp"] tag 4 : tensor<?x?x64xf32>
// S1:         lmc.wait %[[X1]]
// S1:         lmc.cross_entropy
// S1:         lmc.cross_entropy_grad
// S1:         lmc.send %{{.+}} to 0 over ["pp"] tag 6 : tensor<?x?x64xf32>
// S1:         lmc.send %[[SUM:.+]] to 0 over ["pp"] tag 8 : tensor<256x64xf32>
// S1-NEXT:    %[[P:.+]] = lmc.recv_start from 0 over ["pp"] tag 8 : !lmc.pending<tensor<256x64xf32>>
// S1-NEXT:    %[[EMB:.+]] = lmc.wait %[[P]]
// S1-NEXT:    lmc.add %[[EMB]], %[[SUM]] : tensor<256x64xf32>
// S1:         lmc.all_reduce %{{.+}} over ["pp"] : tensor<f32>

// Tests GPipe on the last stage: both forwards (two losses), then both
// backwards.
// GPIPE-LABEL: func.func @grad_step_stage_1(
// GPIPE:         lmc.cross_entropy %
// GPIPE-NOT:     lmc.cross_entropy_grad
// GPIPE:         lmc.cross_entropy %
// GPIPE:         lmc.cross_entropy_grad
// GPIPE:         lmc.cross_entropy_grad

// Tests that each stage's apply_step updates the parameters it holds
// (stage 0: the embeddings and layer 0, 14 tensors; stage 1: layer 1, the
// final norm and the tied embedding, 15) and reduces the squared gradient
// norm over pp, the tied embedding's counted on its home stage only.
// APPLY-LABEL: func.func @apply_step_stage_0(
// APPLY:          lmc.mul %arg84, %arg84
// APPLY:          %[[S:.+]] = lmc.all_reduce %{{.+}} over ["pp"] : tensor<f32>
// APPLY-NEXT:     %[[SQ:.+]] = tensor.extract %[[S]][]
// APPLY-NEXT:     math.sqrt %[[SQ]]
// APPLY-COUNT-14: lmc.adamw
// APPLY-NOT:      lmc.adamw
// APPLY:          return
// APPLY-LABEL: func.func @apply_step_stage_1(
// APPLY-NOT:      lmc.mul %arg84, %arg84
// APPLY:          lmc.all_reduce %{{.+}} over ["pp"] : tensor<f32>
// APPLY-COUNT-15: lmc.adamw
// APPLY-NOT:      lmc.adamw
// APPLY:          return

// Tests that the entry points dispatch on the rank's pp coordinate.
// EXPORT-LABEL: func.func @lmc_grad_step(
// EXPORT:         %[[STAGE:.+]] = lmc.axis_index "pp"
// EXPORT-NEXT:    scf.index_switch %[[STAGE]] -> f32
// EXPORT-NEXT:    case 0 {
// EXPORT-NEXT:      func.call @lmc_grad_step_stage_0(
// EXPORT:         default {
// EXPORT-NEXT:      func.call @lmc_grad_step_stage_1(
// EXPORT-LABEL: func.func @lmc_apply_step(
// EXPORT:         lmc.axis_index "pp"
// EXPORT:         func.call @lmc_apply_step_stage_0(
// EXPORT:         func.call @lmc_apply_step_stage_1(

// Tests that with dp the stage sums each gradient over its micro-batches
// and all-reduces the sum once (lmc-shard's bucket of all gradients split
// into one all-reduce per gradient, each on the stage of its parameter):
// none during micro-batch 0; during the last micro-batch's backward pass,
// each gradient's all-reduce starts as soon as its last term is computed
// (13 on stage 0, overlapping the rest of that pass); the tied
// embedding's after the exchange of the stages' sums; the waits after the
// schedule.
// DP-LABEL: func.func @grad_step_stage_0(
// DP-NOT:       lmc.all_reduce_start
// DP:           lmc.embedding_grad
// DP-COUNT-12:  lmc.all_reduce_start %{{.+}} over ["dp"]
// DP:           lmc.position_embedding_grad
// DP:           lmc.all_reduce_start %{{.+}} over ["dp"] : tensor<64x64xf32>
// DP-NEXT:      lmc.embedding_grad
// DP-NOT:       lmc.all_reduce_start
// DP:           %[[W:.+]] = lmc.wait %{{.+}} : !lmc.pending<tensor<256x64xf32>>
// DP-NEXT:      %[[T:.+]] = lmc.add %{{.+}}, %[[W]] : tensor<256x64xf32>
// DP-NEXT:      %[[R:.+]] = lmc.all_reduce_start %[[T]] over ["dp"] : tensor<256x64xf32>
// DP-NEXT:      %[[S:.+]] = lmc.wait %[[R]]
// DP-NEXT:      %[[M:.+]] = lmc.scale %[[S]] by 5.000000e-01
// DP-NEXT:      lmc.add %arg28, %[[M]]
// DP-NOT:       lmc.all_reduce_start
// DP-COUNT-13:  lmc.wait
// DP-NOT:       lmc.all_reduce_start
// DP:           lmc.all_reduce %{{.+}} over ["pp"] : tensor<f32>
// DP-LABEL: func.func @grad_step_stage_1(

// Tests the report at 8 rows x 64 tokens per step (two micro-batches of 4
// rows): stage 0 keeps two micro-batches' activations (1F1B's warm-up),
// stage 1 one; each sends the other two [4, 64, 64] f32 activations or
// their gradients (2 x 65536 bytes) and its sum of the tied embedding's
// gradient (256 x 64 x 4 = 65536 bytes); the bubble is 1/3.
// REPORT: lmc-pipeline: @tiny: pp=2, 2 micro-batches of 4 rows x 64 tokens, 1f1b
// REPORT-NEXT: stage | layers | parameter bytes | peak activation bytes | sent bytes/step | received bytes/step
// REPORT-NEXT:     0 | wte.weight, wpe.weight, h.0 | 281856 | {{[0-9]+}} (2 micro-batches x {{[0-9]+}}) | 196608 | 196608
// REPORT-NEXT:     1 | h.1, ln_f.weight, ln_f.bias | 265984 | {{[0-9]+}} (1 micro-batch x {{[0-9]+}}) | 196608 | 196608
// REPORT-NEXT: bubble: (P - 1) / (M + P - 1) = 1 / 3 = 0.333
