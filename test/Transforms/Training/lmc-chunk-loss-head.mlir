// RUN: lmc-opt %s --split-input-file --lmc-chunk-loss-head | FileCheck %s
// RUN: lmc-opt %s --split-input-file --lmc-chunk-loss-head=rows=7 | FileCheck %s --check-prefix=ROWS
// RUN: lmc-opt %s --split-input-file --lmc-chunk-loss-head | lmc-opt --split-input-file -verify-roundtrip > /dev/null
// RUN: not lmc-opt %s --split-input-file --lmc-chunk-loss-head=rows=0 2>&1 | FileCheck %s --check-prefix=ZERO

// ZERO: error: lmc-chunk-loss-head: rows must be at least 1, got 0

// Tests the builders' models after lmc-autodiff and lmc-optimizer: in
// train_step the tiny GPT-2's tied head (wte, the first parameter, read
// transposed, of the final norm's output), the Llama tiny's own [V, C]
// lm_head, and an untied head over a padded vocabulary (classes(251)) each
// become one lmc.chunked_head_loss, with no cross-entropy left; eval_step keeps
// its loss (no gradient: nothing to fuse). Under dp=2 the local step is
// chunked the same way; under tp=2 the vocabulary-parallel loss
// (cross_entropy_stats, ..._shard_grad) is left alone.
// RUN: %python -m lmc.models.gpt2 --preset tiny -o %t-gpt2.mlir
// RUN: lmc-opt %t-gpt2.mlir --lmc-autodiff --lmc-optimizer --lmc-chunk-loss-head | FileCheck %s --check-prefix=GPT2
// GPT2-LABEL: func.func @train_step(
// GPT2-SAME:    %[[WTE:[a-z0-9]+]]: tensor<256x64xf32> {lmc.param = @wte.weight}
// GPT2-NOT:     lmc.cross_entropy
// GPT2:         %[[X:.+]] = lmc.layer_norm %{{.+}}, %arg26, %arg27
// GPT2-NEXT:    %cst = arith.constant dense<1.000000e+00> : tensor<f32>
// GPT2-NEXT:    %loss, %input_grad, %weight_grad = lmc.chunked_head_loss %[[X]], %[[WTE]], %{{.+}}, %cst transpose_b rows(128)
// GPT2-NOT:     lmc.cross_entropy
// GPT2:         lmc.add %weight_grad, %{{.+}} : tensor<256x64xf32>
// GPT2-NOT:     lmc.cross_entropy
// GPT2-LABEL: func.func @eval_step(
// GPT2:         lmc.cross_entropy
// GPT2-LABEL: func.func @logits(

// RUN: %python -m lmc.models.llama --preset tiny -o %t-llama.mlir
// RUN: lmc-opt %t-llama.mlir --lmc-autodiff --lmc-optimizer --lmc-chunk-loss-head | FileCheck %s --check-prefix=LLAMA
// LLAMA-LABEL: func.func @train_step(
// LLAMA-NOT:     lmc.cross_entropy
// LLAMA:         lmc.chunked_head_loss %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} transpose_b rows(128) : tensor<?x?x64xf32>, tensor<256x64xf32>
// LLAMA-NOT:     lmc.cross_entropy
// LLAMA-LABEL: func.func @eval_step(

// RUN: %python -m lmc.models.gpt2 --preset tiny --untie-head --no-bias --vocab 251 --pad-vocab 64 -o %t-padded.mlir
// RUN: lmc-opt %t-padded.mlir --lmc-autodiff --lmc-optimizer --lmc-chunk-loss-head | FileCheck %s --check-prefix=PADDED
// PADDED-LABEL: func.func @train_step(
// PADDED-NOT:     lmc.cross_entropy
// PADDED:         lmc.chunked_head_loss {{.+}} transpose_b classes(251) rows(128)
// PADDED-NOT:     lmc.cross_entropy
// PADDED-LABEL: func.func @eval_step(

// Under recompute=block the backward pass recomputes the final norm and the
// head: the loss reads the forward's logits, the gradient the recomputed
// ones; the op is put at the gradient, on the recomputed input, and the
// forward's norm, head and loss go.
// RUN: lmc-opt %t-gpt2.mlir --lmc-autodiff=recompute=block --lmc-optimizer --lmc-chunk-loss-head | FileCheck %s --check-prefix=BLOCK
// BLOCK-LABEL: func.func @train_step(
// BLOCK-NOT:     lmc.cross_entropy
// BLOCK:         %[[X:.+]] = lmc.layer_norm %{{.+}}, %arg26, %arg27
// BLOCK-NOT:     lmc.layer_norm %{{.+}}, %arg26, %arg27
// BLOCK-NOT:     lmc.matmul %{{.+}}, %arg0 transpose_b
// BLOCK:         lmc.chunked_head_loss %[[X]], %arg0, %{{.+}}, %{{.+}} transpose_b rows(128)
// BLOCK-NOT:     lmc.cross_entropy
// BLOCK-LABEL: func.func @eval_step(

// RUN: lmc-opt %t-gpt2.mlir --lmc-autodiff --lmc-optimizer --lmc-shard=mesh=dp=2 --lmc-chunk-loss-head | FileCheck %s --check-prefix=DP
// DP-LABEL: func.func @train_step(
// DP:         lmc.chunked_head_loss
// DP:         lmc.all_reduce
// RUN: lmc-opt %t-gpt2.mlir --lmc-autodiff --lmc-optimizer --lmc-shard=mesh=tp=2 --lmc-chunk-loss-head | FileCheck %s --check-prefix=TP
// TP-LABEL: func.func @train_step(
// TP-NOT:     lmc.chunked_head_loss
// TP:         lmc.cross_entropy_shard_grad
// TP-NOT:     lmc.chunked_head_loss
// TP-LABEL: func.func @eval_step(

// Tests that a tied head (the embedding read transposed, [V, C]), its loss,
// the loss's gradient and the head's two gradient matmuls become one
// lmc.chunked_head_loss at the place of the loss, with the constant seed
// cloned before it; the loss, dx and dw are its results and the flatten of
// the gradient goes, the flatten of x that something else reads stays.

// CHECK-LABEL: func.func @tied
// CHECK-SAME:    (%[[X:[^:]+]]: tensor<?x?x64xf32>, %[[W:[^:]+]]: tensor<256x64xf32>, %[[T:[^:]+]]: tensor<?x?xi32>)
// CHECK-NEXT:    %[[SEED:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:    %[[L:.+]], %[[DX:.+]], %[[DW:.+]] = lmc.chunked_head_loss %[[X]], %[[W]], %[[T]], %[[SEED]] transpose_b rows(128) : tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?xi32>, tensor<f32>
// CHECK-NOT:     lmc.cross_entropy
// CHECK-NOT:     lmc.matmul
// CHECK:         %[[FX:.+]] = lmc.flatten %[[X]]
// CHECK-NEXT:    return %[[L]], %[[DX]], %[[DW]], %[[FX]]
// ROWS-LABEL: func.func @tied
// ROWS:         lmc.chunked_head_loss {{.+}} transpose_b rows(7)
func.func @tied(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x64xf32>) {
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %loss = lmc.cross_entropy %logits, %t : tensor<?x?x256xf32>, tensor<?x?xi32>
  %seed = arith.constant dense<1.000000e+00> : tensor<f32>
  %dl = lmc.cross_entropy_grad %logits, %t, %seed : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf32>, tensor<256x64xf32>
  %fx = lmc.flatten %x : tensor<?x?x64xf32>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
  %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
  return %loss, %dx, %dw, %fx : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x64xf32>
}

// -----

// Tests that an untied [C, V] head (x w, dx = dl w^T, dw = x^T dl) over a
// padded vocabulary becomes the op without transpose_b, with the loss's
// classes, and a seed defined before the loss is used where it is.

// CHECK-LABEL: func.func @untied_padded
// CHECK-SAME:    (%[[X:[^:]+]]: tensor<?x?x64xf32>, %[[W:[^:]+]]: tensor<64x256xf32>, %[[T:[^:]+]]: tensor<?x?xi32>, %[[S:[^:]+]]: tensor<f32>)
// CHECK-NEXT:    %[[L:.+]], %[[DX:.+]], %[[DW:.+]] = lmc.chunked_head_loss %[[X]], %[[W]], %[[T]], %[[S]] classes(250) rows(128) : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<?x?xi32>, tensor<f32>
// CHECK-NEXT:    return %[[L]], %[[DX]], %[[DW]]
func.func @untied_padded(%x: tensor<?x?x64xf32>, %w: tensor<64x256xf32>, %t: tensor<?x?xi32>, %seed: tensor<f32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<64x256xf32>) {
  %logits = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x256xf32>
  %loss = lmc.cross_entropy %logits, %t classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>
  %dl = lmc.cross_entropy_grad %logits, %t, %seed classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w transpose_b : tensor<?x?x256xf32>, tensor<64x256xf32>
  %fx = lmc.flatten %x : tensor<?x?x64xf32>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
  %dw = lmc.matmul %fx, %fdl transpose_a : tensor<?x64xf32>, tensor<?x256xf32>
  return %loss, %dx, %dw : tensor<f32>, tensor<?x?x64xf32>, tensor<64x256xf32>
}

// -----

// Tests that rows of a rank-2 input (no flatten in the weight's gradient)
// are recognised too.

// CHECK-LABEL: func.func @rank2
// CHECK:         lmc.chunked_head_loss %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} transpose_b rows(128) : tensor<?x64xf32>, tensor<256x64xf32>, tensor<?xi32>, tensor<f32>
// CHECK-NOT:     lmc.matmul
func.func @rank2(%x: tensor<?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?xi32>)
    -> (tensor<f32>, tensor<?x64xf32>, tensor<256x64xf32>) {
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x64xf32>, tensor<256x64xf32>
  %loss = lmc.cross_entropy %logits, %t : tensor<?x256xf32>, tensor<?xi32>
  %seed = arith.constant dense<1.000000e+00> : tensor<f32>
  %dl = lmc.cross_entropy_grad %logits, %t, %seed : tensor<?x256xf32>, tensor<?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x256xf32>, tensor<256x64xf32>
  %dw = lmc.matmul %dl, %x transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
  return %loss, %dx, %dw : tensor<f32>, tensor<?x64xf32>, tensor<256x64xf32>
}

// -----

// Tests that logits something else reads (here returned) are left alone:
// they are stored whole anyway.

// CHECK-LABEL: func.func @logits_read
// CHECK-NOT:     lmc.chunked_head_loss
// CHECK:         lmc.cross_entropy_grad
func.func @logits_read(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?x256xf32>) {
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %loss = lmc.cross_entropy %logits, %t : tensor<?x?x256xf32>, tensor<?x?xi32>
  %seed = arith.constant dense<1.000000e+00> : tensor<f32>
  %dl = lmc.cross_entropy_grad %logits, %t, %seed : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf32>, tensor<256x64xf32>
  %fx = lmc.flatten %x : tensor<?x?x64xf32>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
  %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
  return %loss, %dx, %dw, %logits : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?x256xf32>
}

// -----

// Tests that a logits gradient something else reads is left alone.

// CHECK-LABEL: func.func @gradient_read
// CHECK-NOT:     lmc.chunked_head_loss
// CHECK:         lmc.cross_entropy_grad
func.func @gradient_read(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?x256xf32>) {
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %loss = lmc.cross_entropy %logits, %t : tensor<?x?x256xf32>, tensor<?x?xi32>
  %seed = arith.constant dense<1.000000e+00> : tensor<f32>
  %dl = lmc.cross_entropy_grad %logits, %t, %seed : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf32>, tensor<256x64xf32>
  %fx = lmc.flatten %x : tensor<?x?x64xf32>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
  %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
  return %loss, %dx, %dw, %dl : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>, tensor<?x?x256xf32>
}

// -----

// Tests that a seed computed from the loss (after it, not a constant) is
// left alone: the one op could not read it.

// CHECK-LABEL: func.func @seed_after_loss
// CHECK-NOT:     lmc.chunked_head_loss
// CHECK:         lmc.cross_entropy_grad
func.func @seed_after_loss(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>) {
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %loss = lmc.cross_entropy %logits, %t : tensor<?x?x256xf32>, tensor<?x?xi32>
  %seed = arith.mulf %loss, %loss : tensor<f32>
  %dl = lmc.cross_entropy_grad %logits, %t, %seed : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf32>, tensor<256x64xf32>
  %fx = lmc.flatten %x : tensor<?x?x64xf32>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
  %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
  return %loss, %dx, %dw : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>
}

// -----

// Tests that float64 logits (the runtime's kernel is float32) and a loss of
// other targets than its gradient's are left alone.

// CHECK-LABEL: func.func @f64
// CHECK-NOT:     lmc.chunked_head_loss
// CHECK:         lmc.cross_entropy_grad
func.func @f64(%x: tensor<?x?x64xf64>, %w: tensor<256x64xf64>, %t: tensor<?x?xi32>)
    -> (tensor<f64>, tensor<?x?x64xf64>, tensor<256x64xf64>) {
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf64>, tensor<256x64xf64>
  %loss = lmc.cross_entropy %logits, %t : tensor<?x?x256xf64>, tensor<?x?xi32>
  %seed = arith.constant dense<1.000000e+00> : tensor<f64>
  %dl = lmc.cross_entropy_grad %logits, %t, %seed : tensor<?x?x256xf64>, tensor<?x?xi32>, tensor<f64>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf64>, tensor<256x64xf64>
  %fx = lmc.flatten %x : tensor<?x?x64xf64>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf64>
  %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf64>, tensor<?x64xf64>
  return %loss, %dx, %dw : tensor<f64>, tensor<?x?x64xf64>, tensor<256x64xf64>
}

// CHECK-LABEL: func.func @other_targets
// CHECK-NOT:     lmc.chunked_head_loss
// CHECK:         lmc.cross_entropy_grad
func.func @other_targets(%x: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>, %u: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>) {
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %loss = lmc.cross_entropy %logits, %u : tensor<?x?x256xf32>, tensor<?x?xi32>
  %seed = arith.constant dense<1.000000e+00> : tensor<f32>
  %dl = lmc.cross_entropy_grad %logits, %t, %seed : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf32>, tensor<256x64xf32>
  %fx = lmc.flatten %x : tensor<?x?x64xf32>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
  %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
  return %loss, %dx, %dw : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>
}

// -----

// Tests that a recomputed head whose loss is read before the recomputation
// is left alone.

// CHECK-LABEL: func.func @recomputed_loss_read_early
// CHECK-NOT:     lmc.chunked_head_loss
// CHECK:         lmc.cross_entropy_grad
func.func @recomputed_loss_read_early(%x0: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>) {
  %x = lmc.gelu %x0 tanh : tensor<?x?x64xf32>
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %loss = lmc.cross_entropy %logits, %t : tensor<?x?x256xf32>, tensor<?x?xi32>
  %twice = arith.addf %loss, %loss : tensor<f32>
  %x2 = lmc.gelu %x0 tanh : tensor<?x?x64xf32>
  %logits2 = lmc.matmul %x2, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %seed = arith.constant dense<1.000000e+00> : tensor<f32>
  %dl = lmc.cross_entropy_grad %logits2, %t, %seed : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf32>, tensor<256x64xf32>
  %fx = lmc.flatten %x2 : tensor<?x?x64xf32>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
  %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
  return %twice, %dx, %dw : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>
}

// CHECK-LABEL: func.func @recomputed
// CHECK-SAME:    (%[[X0:[^:]+]]: tensor<?x?x64xf32>, %[[W:[^:]+]]: tensor<256x64xf32>, %[[T:[^:]+]]: tensor<?x?xi32>)
// CHECK-NEXT:    %[[X2:.+]] = lmc.gelu %[[X0]] tanh
// CHECK-NEXT:    %[[SEED:.+]] = arith.constant
// CHECK-NEXT:    %[[L:.+]], %[[DX:.+]], %[[DW:.+]] = lmc.chunked_head_loss %[[X2]], %[[W]], %[[T]], %[[SEED]] transpose_b rows(128)
// CHECK-NEXT:    return %[[L]], %[[DX]], %[[DW]]
func.func @recomputed(%x0: tensor<?x?x64xf32>, %w: tensor<256x64xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>) {
  %x = lmc.gelu %x0 tanh : tensor<?x?x64xf32>
  %logits = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %loss = lmc.cross_entropy %logits, %t : tensor<?x?x256xf32>, tensor<?x?xi32>
  %x2 = lmc.gelu %x0 tanh : tensor<?x?x64xf32>
  %logits2 = lmc.matmul %x2, %w transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %seed = arith.constant dense<1.000000e+00> : tensor<f32>
  %dl = lmc.cross_entropy_grad %logits2, %t, %seed : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf32>, tensor<256x64xf32>
  %fx = lmc.flatten %x2 : tensor<?x?x64xf32>
  %fdl = lmc.flatten %dl : tensor<?x?x256xf32>
  %dw = lmc.matmul %fdl, %fx transpose_a : tensor<?x256xf32>, tensor<?x64xf32>
  return %loss, %dx, %dw : tensor<f32>, tensor<?x?x64xf32>, tensor<256x64xf32>
}
