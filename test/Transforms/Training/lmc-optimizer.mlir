// RUN: sed '/^\/\/ === static shapes ===$/,$d' %s | lmc-opt -split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer | FileCheck %s
// RUN: sed '/^\/\/ === static shapes ===$/,$d' %s | lmc-opt -split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer=weight-decay-on=matrices | FileCheck %s --check-prefix=DECAY-MATRICES
// RUN: sed '/^\/\/ === static shapes ===$/,$d' %s | lmc-opt -split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer=weight-decay-on=all | FileCheck %s --check-prefix=DECAY-ALL
// RUN: sed '/^\/\/ === static shapes ===$/,$d' %s | lmc-opt -split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer=weight-decay-on=none | FileCheck %s --check-prefix=DECAY-NONE
// RUN: sed '/^\/\/ === static shapes ===$/,$d' %s | lmc-opt -split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer | lmc-opt -split-input-file -verify-roundtrip > /dev/null
// RUN: sed -n '/^lmc.model @custom_grad/,/^}/p' %s | lmc-opt --lmc-optimizer=grad-function=my_grad | FileCheck %s --check-prefix=GRAD-FN

// The tiny preset: one AdamW update per parameter, weight decay on the ten
// matrices (wte, wpe and four per layer) only.
// RUN: %python -m lmc.models.gpt2 --preset tiny -o %t.mlir
// RUN: lmc-opt %t.mlir --lmc-autodiff=attention=decomposed --lmc-optimizer | FileCheck %s --check-prefix=TINY

// Models with static batch sizes, after the marker at the end of the file.
// RUN: sed -n '/^\/\/ === static shapes ===$/,$p' %s | lmc-opt -split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer | FileCheck %s --check-prefix=STATIC

// Tests train_step on a model with a tied embedding matrix and LayerNorm
// parameters. The signature: parameters, then exp_avg and exp_avg_sq per
// parameter (annotated with lmc.param and lmc.state), the ten hyperparameters
// (lmc.hparam; step, warmup and decay_steps are i64, the others of the
// model's float type), then forward's arguments; results loss, grad_norm, lr
// (lmc.output) and the new parameters and moments. The body is the gradient
// function with the parameter references replaced by the arguments, then:
// the global norm (sqrt of the sum over gradients of reduce_sum(g * g)),
// the clipping factor (min(1, clip / (norm + 1e-6)) when clip > 0, else 1),
// the schedule (linear warm-up lr (step + 1) / warmup while step < warmup;
// then lr when decay_steps = 0, else the cosine from lr to min_lr with the
// ratio (step - warmup) / max(1, decay_steps - warmup) clamped at 1) and one
// lmc.adamw per parameter. By default (weight-decay-on=matrices), the matrix
// wte decays with the weight_decay argument; the LayerNorm weight and bias
// get a 0.0 constant.

// CHECK-LABEL: lmc.model @m
// CHECK:         func.func @forward(
// CHECK:         func.func @forward_grad(
// CHECK-LABEL:   func.func @train_step(
// CHECK-SAME:      %[[P0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte}, %[[P1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @g}, %[[P2:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b},
// CHECK-SAME:      %[[M0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte, lmc.state = "exp_avg"}, %[[M1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @g, lmc.state = "exp_avg"}, %[[M2:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b, lmc.state = "exp_avg"},
// CHECK-SAME:      %[[V0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte, lmc.state = "exp_avg_sq"}, %[[V1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @g, lmc.state = "exp_avg_sq"}, %[[V2:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b, lmc.state = "exp_avg_sq"},
// CHECK-SAME:      %[[STEP:[a-z0-9]+]]: i64 {lmc.hparam = "step"}, %[[LR:[a-z0-9]+]]: f32 {lmc.hparam = "lr"}, %[[MINLR:[a-z0-9]+]]: f32 {lmc.hparam = "min_lr"},
// CHECK-SAME:      %[[WARMUP:[a-z0-9]+]]: i64 {lmc.hparam = "warmup"}, %[[DECAY:[a-z0-9]+]]: i64 {lmc.hparam = "decay_steps"},
// CHECK-SAME:      %[[B1:[a-z0-9]+]]: f32 {lmc.hparam = "beta1"}, %[[B2:[a-z0-9]+]]: f32 {lmc.hparam = "beta2"}, %[[EPS:[a-z0-9]+]]: f32 {lmc.hparam = "eps"},
// CHECK-SAME:      %[[WD:[a-z0-9]+]]: f32 {lmc.hparam = "weight_decay"}, %[[CLIP:[a-z0-9]+]]: f32 {lmc.hparam = "grad_clip"},
// CHECK-SAME:      %[[TOK:[a-z0-9]+]]: tensor<?x?xi32>, %[[TGT:[a-z0-9]+]]: tensor<?x?xi32>)
// CHECK-SAME:      -> (f32 {lmc.output = "loss"}, f32 {lmc.output = "grad_norm"}, f32 {lmc.output = "lr"},
// CHECK-SAME:      tensor<8x4xf32> {lmc.param = @wte}, tensor<4xf32> {lmc.param = @g}, tensor<4xf32> {lmc.param = @b},
// CHECK-SAME:      tensor<8x4xf32> {lmc.param = @wte, lmc.state = "exp_avg"}, tensor<4xf32> {lmc.param = @g, lmc.state = "exp_avg"}, tensor<4xf32> {lmc.param = @b, lmc.state = "exp_avg"},
// CHECK-SAME:      tensor<8x4xf32> {lmc.param = @wte, lmc.state = "exp_avg_sq"}, tensor<4xf32> {lmc.param = @g, lmc.state = "exp_avg_sq"}, tensor<4xf32> {lmc.param = @b, lmc.state = "exp_avg_sq"})
// CHECK-NOT:       lmc.param_ref
// The gradient, on the parameter arguments.
// CHECK-NEXT:      %[[X:.+]] = lmc.embedding %[[P0]][%[[TOK]]]
// CHECK-NEXT:      %[[H:.+]] = lmc.layer_norm %[[X]], %[[P1]], %[[P2]]
// CHECK-NEXT:      %[[LOGITS:.+]] = lmc.matmul %[[H]], %[[P0]] transpose_b
// CHECK-NEXT:      %[[LOSS:.+]] = lmc.cross_entropy %[[LOGITS]], %[[TGT]]
// CHECK:           %[[DX:.+]], %[[DG:.+]], %[[DB:.+]] = lmc.layer_norm_grad %[[X]], %[[P1]],
// CHECK-NEXT:      %[[DEMB:.+]] = lmc.embedding_grad %[[DX]][%[[TOK]]]
// CHECK-NEXT:      %[[DWTE:.+]] = lmc.add %{{.+}}, %[[DEMB]] : tensor<8x4xf32>
// CHECK-NEXT:      %[[LOSSF:.+]] = tensor.extract %[[LOSS]][] : tensor<f32>
// Global norm.
// CHECK-NEXT:      %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[SQ0:.+]] = lmc.mul %[[DWTE]], %[[DWTE]] : tensor<8x4xf32>
// CHECK-NEXT:      %[[S0:.+]] = lmc.reduce_sum %[[SQ0]] dims [0, 1] : tensor<8x4xf32>
// CHECK-NEXT:      %[[E0:.+]] = tensor.extract %[[S0]][] : tensor<f32>
// CHECK-NEXT:      %[[A0:.+]] = arith.addf %[[ZERO]], %[[E0]] : f32
// CHECK-NEXT:      %[[SQ1:.+]] = lmc.mul %[[DG]], %[[DG]] : tensor<4xf32>
// CHECK-NEXT:      %[[S1:.+]] = lmc.reduce_sum %[[SQ1]] dims [0] : tensor<4xf32>
// CHECK-NEXT:      %[[E1:.+]] = tensor.extract %[[S1]][] : tensor<f32>
// CHECK-NEXT:      %[[A1:.+]] = arith.addf %[[A0]], %[[E1]] : f32
// CHECK-NEXT:      %[[SQ2:.+]] = lmc.mul %[[DB]], %[[DB]] : tensor<4xf32>
// CHECK-NEXT:      %[[S2:.+]] = lmc.reduce_sum %[[SQ2]] dims [0] : tensor<4xf32>
// CHECK-NEXT:      %[[E2:.+]] = tensor.extract %[[S2]][] : tensor<f32>
// CHECK-NEXT:      %[[A2:.+]] = arith.addf %[[A1]], %[[E2]] : f32
// CHECK-NEXT:      %[[NORM:.+]] = math.sqrt %[[A2]] : f32
// Clipping.
// CHECK-NEXT:      %[[SMALL:.+]] = arith.constant 9.99999997E-7 : f32
// CHECK-NEXT:      %[[NE:.+]] = arith.addf %[[NORM]], %[[SMALL]] : f32
// CHECK-NEXT:      %[[Q:.+]] = arith.divf %[[CLIP]], %[[NE]] : f32
// CHECK-NEXT:      %[[ONE_A:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:      %[[COEF:.+]] = arith.minimumf %[[ONE_A]], %[[Q]] : f32
// CHECK-NEXT:      %[[ZERO_B:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[CLIPON:.+]] = arith.cmpf ogt, %[[CLIP]], %[[ZERO_B]] : f32
// CHECK-NEXT:      %[[ONE_B:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:      %[[SCALE:.+]] = arith.select %[[CLIPON]], %[[COEF]], %[[ONE_B]] : f32
// Schedule.
// CHECK-NEXT:      %[[S:.+]] = arith.sitofp %[[STEP]] : i64 to f32
// CHECK-NEXT:      %[[W:.+]] = arith.sitofp %[[WARMUP]] : i64 to f32
// CHECK-NEXT:      %[[D:.+]] = arith.sitofp %[[DECAY]] : i64 to f32
// CHECK-NEXT:      %[[ONE_C:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:      %[[S1P:.+]] = arith.addf %[[S]], %[[ONE_C]] : f32
// CHECK-NEXT:      %[[LRS:.+]] = arith.mulf %[[LR]], %[[S1P]] : f32
// CHECK-NEXT:      %[[WARM:.+]] = arith.divf %[[LRS]], %[[W]] : f32
// CHECK-NEXT:      %[[DW:.+]] = arith.subf %[[D]], %[[W]] : f32
// CHECK-NEXT:      %[[ONE_D:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:      %[[SPAN:.+]] = arith.maximumf %[[ONE_D]], %[[DW]] : f32
// CHECK-NEXT:      %[[SW:.+]] = arith.subf %[[S]], %[[W]] : f32
// CHECK-NEXT:      %[[R:.+]] = arith.divf %[[SW]], %[[SPAN]] : f32
// CHECK-NEXT:      %[[ONE_E:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:      %[[RATIO:.+]] = arith.minimumf %[[ONE_E]], %[[R]] : f32
// CHECK-NEXT:      %[[PI:.+]] = arith.constant 3.14159274 : f32
// CHECK-NEXT:      %[[ANGLE:.+]] = arith.mulf %[[PI]], %[[RATIO]] : f32
// CHECK-NEXT:      %[[COS:.+]] = math.cos %[[ANGLE]] : f32
// CHECK-NEXT:      %[[ONE_F:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:      %[[C1:.+]] = arith.addf %[[ONE_F]], %[[COS]] : f32
// CHECK-NEXT:      %[[HALF:.+]] = arith.constant 5.000000e-01 : f32
// CHECK-NEXT:      %[[COSINE:.+]] = arith.mulf %[[HALF]], %[[C1]] : f32
// CHECK-NEXT:      %[[RANGE:.+]] = arith.subf %[[LR]], %[[MINLR]] : f32
// CHECK-NEXT:      %[[CR:.+]] = arith.mulf %[[COSINE]], %[[RANGE]] : f32
// CHECK-NEXT:      %[[DECAYED:.+]] = arith.addf %[[MINLR]], %[[CR]] : f32
// CHECK-NEXT:      %[[ZI:.+]] = arith.constant 0 : i64
// CHECK-NEXT:      %[[NODECAY:.+]] = arith.cmpi eq, %[[DECAY]], %[[ZI]] : i64
// CHECK-NEXT:      %[[AFTER:.+]] = arith.select %[[NODECAY]], %[[LR]], %[[DECAYED]] : f32
// CHECK-NEXT:      %[[INWARM:.+]] = arith.cmpi slt, %[[STEP]], %[[WARMUP]] : i64
// CHECK-NEXT:      %[[LRNOW:.+]] = arith.select %[[INWARM]], %[[WARM]], %[[AFTER]] : f32
// AdamW.
// CHECK-NEXT:      %[[NOWD:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[NP0:.+]], %[[NM0:.+]], %[[NV0:.+]] = lmc.adamw %[[P0]], %[[DWTE]], %[[M0]], %[[V0]] lr(%[[LRNOW]]) grad_scale(%[[SCALE]]) step(%[[STEP]]) betas(%[[B1]], %[[B2]]) eps(%[[EPS]]) weight_decay(%[[WD]]) : tensor<8x4xf32>, f32, i64
// CHECK-NEXT:      %[[NP1:.+]], %[[NM1:.+]], %[[NV1:.+]] = lmc.adamw %[[P1]], %[[DG]], %[[M1]], %[[V1]] lr(%[[LRNOW]]) grad_scale(%[[SCALE]]) step(%[[STEP]]) betas(%[[B1]], %[[B2]]) eps(%[[EPS]]) weight_decay(%[[NOWD]]) : tensor<4xf32>, f32, i64
// CHECK-NEXT:      %[[NP2:.+]], %[[NM2:.+]], %[[NV2:.+]] = lmc.adamw %[[P2]], %[[DB]], %[[M2]], %[[V2]] lr(%[[LRNOW]]) grad_scale(%[[SCALE]]) step(%[[STEP]]) betas(%[[B1]], %[[B2]]) eps(%[[EPS]]) weight_decay(%[[NOWD]]) : tensor<4xf32>, f32, i64
// CHECK-NEXT:      return %[[LOSSF]], %[[NORM]], %[[LRNOW]], %[[NP0]], %[[NP1]], %[[NP2]], %[[NM0]], %[[NM1]], %[[NM2]], %[[NV0]], %[[NV1]], %[[NV2]] :
// CHECK-NEXT:    }

// Tests eval_step: the parameters and forward's arguments to the loss, the
// forward ops on the parameter arguments.

// CHECK-LABEL:   func.func @eval_step(
// CHECK-SAME:      %[[P0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte}, %[[P1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @g}, %[[P2:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b},
// CHECK-SAME:      %[[TOK:[a-z0-9]+]]: tensor<?x?xi32>, %[[TGT:[a-z0-9]+]]: tensor<?x?xi32>) -> tensor<f32> {
// CHECK-NEXT:      %[[X:.+]] = lmc.embedding %[[P0]][%[[TOK]]]
// CHECK-NEXT:      %[[H:.+]] = lmc.layer_norm %[[X]], %[[P1]], %[[P2]]
// CHECK-NEXT:      %[[LOGITS:.+]] = lmc.matmul %[[H]], %[[P0]] transpose_b
// CHECK-NEXT:      %[[LOSS:.+]] = lmc.cross_entropy %[[LOGITS]], %[[TGT]]
// CHECK-NEXT:      return %[[LOSS]] : tensor<f32>
// CHECK-NEXT:    }

// Tests logits: the parameters and the tokens (no targets) to [batch, vocab]:
// the forward ops up to the logits, and the extract_slice of the last
// position, logits[:, T - 1, :].

// CHECK-LABEL:   func.func @logits(
// CHECK-SAME:      %[[P0:[a-z0-9]+]]: tensor<8x4xf32> {lmc.param = @wte}, %[[P1:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @g}, %[[P2:[a-z0-9]+]]: tensor<4xf32> {lmc.param = @b},
// CHECK-SAME:      %[[TOK:[a-z0-9]+]]: tensor<?x?xi32>) -> tensor<?x8xf32> {
// CHECK-NEXT:      %[[X:.+]] = lmc.embedding %[[P0]][%[[TOK]]]
// CHECK-NEXT:      %[[H:.+]] = lmc.layer_norm %[[X]], %[[P1]], %[[P2]]
// CHECK-NEXT:      %[[LOGITS:.+]] = lmc.matmul %[[H]], %[[P0]] transpose_b : tensor<?x?x4xf32>, tensor<8x4xf32>
// CHECK-NEXT:      %[[C0:.+]] = arith.constant 0 : index
// CHECK-NEXT:      %[[B:.+]] = tensor.dim %[[LOGITS]], %[[C0]] : tensor<?x?x8xf32>
// CHECK-NEXT:      %[[C1:.+]] = arith.constant 1 : index
// CHECK-NEXT:      %[[T:.+]] = tensor.dim %[[LOGITS]], %[[C1]] : tensor<?x?x8xf32>
// CHECK-NEXT:      %[[C1B:.+]] = arith.constant 1 : index
// CHECK-NEXT:      %[[LAST:.+]] = arith.subi %[[T]], %[[C1B]] : index
// CHECK-NEXT:      %[[SLICE:.+]] = tensor.extract_slice %[[LOGITS]][0, %[[LAST]], 0] [%[[B]], 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
// CHECK-NEXT:      return %[[SLICE]] : tensor<?x8xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:  }

// weight-decay-on=matrices is the default; all gives every parameter the
// weight_decay argument; none gives every one the 0.0 constant.

// DECAY-MATRICES-LABEL: func.func @train_step(
// DECAY-MATRICES-SAME:    %[[WD:[a-z0-9]+]]: f32 {lmc.hparam = "weight_decay"}
// DECAY-MATRICES:         arith.cmpi slt
// DECAY-MATRICES-NEXT:    arith.select
// DECAY-MATRICES-NEXT:    %[[NOWD:.+]] = arith.constant 0.000000e+00 : f32
// DECAY-MATRICES-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<8x4xf32>
// DECAY-MATRICES-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<4xf32>
// DECAY-MATRICES-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<4xf32>

// DECAY-ALL-LABEL: func.func @train_step(
// DECAY-ALL-SAME:    %[[WD:[a-z0-9]+]]: f32 {lmc.hparam = "weight_decay"}
// DECAY-ALL:         arith.cmpi slt
// DECAY-ALL-NEXT:    arith.select
// DECAY-ALL-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<8x4xf32>
// DECAY-ALL-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<4xf32>
// DECAY-ALL-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<4xf32>

// DECAY-NONE-LABEL: func.func @train_step(
// DECAY-NONE:         arith.cmpi slt
// DECAY-NONE-NEXT:    arith.select
// DECAY-NONE-NEXT:    %[[NOWD:.+]] = arith.constant 0.000000e+00 : f32
// DECAY-NONE-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<8x4xf32>
// DECAY-NONE-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<4xf32>
// DECAY-NONE-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<4xf32>
lmc.model @m {
  lmc.param @wte : tensor<8x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @g : tensor<4xf32> init(ones)
  lmc.param @b : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte : tensor<8x4xf32>
    %g = lmc.param_ref @g : tensor<4xf32>
    %b = lmc.param_ref @b : tensor<4xf32>
    %x = lmc.embedding %wte[%tokens] : tensor<8x4xf32>, tensor<?x?xi32>
    %h = lmc.layer_norm %x, %g, %b eps(1.0e-5) : tensor<?x?x4xf32>, tensor<4xf32>
    %logits = lmc.matmul %h, %wte transpose_b : tensor<?x?x4xf32>, tensor<8x4xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x8xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests an f64 model with i64 ids: the float hyperparameters, the loss, the
// norm, the learning rate and the constants are f64; step, warmup and
// decay_steps stay i64; the rank-3 parameter decays, the vector does not.

// CHECK-LABEL: lmc.model @f64_model
// CHECK-LABEL:   func.func @train_step(
// CHECK-SAME:      %{{.+}}: i64 {lmc.hparam = "step"}, %{{.+}}: f64 {lmc.hparam = "lr"}, %{{.+}}: f64 {lmc.hparam = "min_lr"}, %{{.+}}: i64 {lmc.hparam = "warmup"}, %{{.+}}: i64 {lmc.hparam = "decay_steps"}, %{{.+}}: f64 {lmc.hparam = "beta1"}, %{{.+}}: f64 {lmc.hparam = "beta2"}, %{{.+}}: f64 {lmc.hparam = "eps"}, %[[WD:[a-z0-9]+]]: f64 {lmc.hparam = "weight_decay"}, %{{.+}}: f64 {lmc.hparam = "grad_clip"}, %{{.+}}: tensor<?x?xi64>, %{{.+}}: tensor<?x?xi64>)
// CHECK-SAME:      -> (f64 {lmc.output = "loss"}, f64 {lmc.output = "grad_norm"}, f64 {lmc.output = "lr"},
// CHECK:           math.sqrt %{{.+}} : f64
// CHECK:           arith.constant 9.9999999999999995E-7 : f64
// CHECK:           arith.constant 3.1415926535897931 : f64
// CHECK:           math.cos %{{.+}} : f64
// CHECK:           %[[NOWD:.+]] = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:      lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<2x3x4xf64>, f64, i64
// CHECK-NEXT:      lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<4xf64>, f64, i64
// CHECK-NEXT:      return {{.+}} : f64, f64, f64, tensor<2x3x4xf64>, tensor<4xf64>, tensor<2x3x4xf64>, tensor<4xf64>, tensor<2x3x4xf64>, tensor<4xf64>
// CHECK-LABEL:   func.func @eval_step(
// CHECK-SAME:      -> tensor<f64>
// CHECK-LABEL:   func.func @logits(
// CHECK-SAME:      %{{.+}}: tensor<?x?xi64>) -> tensor<?x4xf64>
// CHECK:           tensor.extract_slice %{{.+}}[0, %{{.+}}, 0] [%{{.+}}, 1, 4] [1, 1, 1] : tensor<?x?x4xf64> to tensor<?x4xf64>
lmc.model @f64_model {
  lmc.param @x : tensor<2x3x4xf64> init(normal, std = 1.0)
  lmc.param @b : tensor<4xf64> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi64>, %targets: tensor<?x?xi64>) -> tensor<f64> {
    %x = lmc.param_ref @x : tensor<2x3x4xf64>
    %b = lmc.param_ref @b : tensor<4xf64>
    %f = lmc.flatten %x : tensor<2x3x4xf64>
    %t = lmc.transpose %f : tensor<6x4xf64>
    %w = lmc.matmul %t, %t transpose_b : tensor<4x6xf64>, tensor<4x6xf64>
    %e = lmc.embedding %w[%tokens] : tensor<4x4xf64>, tensor<?x?xi64>
    %y = lmc.bias_add %e, %b : tensor<?x?x4xf64>, tensor<4xf64>
    %loss = lmc.cross_entropy %y, %targets : tensor<?x?x4xf64>, tensor<?x?xi64>
    return %loss : tensor<f64>
  }
}

// -----

// Tests that body-less declarations of train_step, eval_step and logits (for
// a driver that calls them) are replaced by the definitions, and that a model
// without parameters gets a norm of sqrt(0).

// CHECK-LABEL: lmc.model @declared
// CHECK-NOT:     func.func private
// CHECK:         func.func @driver(
// CHECK-NEXT:      call @train_step
// CHECK-NEXT:      call @eval_step
// CHECK-NEXT:      call @logits
// CHECK-NOT:     func.func private
// CHECK:         func.func @train_step(%[[STEP:[a-z0-9]+]]: i64 {lmc.hparam = "step"},
// CHECK-SAME:      -> (f32 {lmc.output = "loss"}, f32 {lmc.output = "grad_norm"}, f32 {lmc.output = "lr"}) {
// CHECK:           %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[NORM:.+]] = math.sqrt %[[ZERO]] : f32
// CHECK-NOT:       lmc.adamw
// CHECK:           return %{{.+}}, %[[NORM]], %{{.+}} : f32, f32, f32
// CHECK:         func.func @eval_step(
// CHECK:         func.func @logits(
// CHECK-NOT:     func.func private
lmc.model @declared {
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %c = arith.constant dense<0.5> : tensor<4x4xf32>
    %x = lmc.embedding %c[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func private @train_step(i64, f32, f32, i64, i64, f32, f32, f32, f32, f32, tensor<?x?xi32>, tensor<?x?xi32>) -> (f32, f32, f32)
  func.func private @eval_step(tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<f32>
  func.func private @logits(tensor<?x?xi32>) -> tensor<?x4xf32>
  func.func @driver(%s: i64, %f: f32, %t: tensor<?x?xi32>) -> (f32, tensor<f32>, tensor<?x4xf32>) {
    %l, %n, %r = func.call @train_step(%s, %f, %f, %s, %s, %f, %f, %f, %f, %f, %t, %t) : (i64, f32, f32, i64, i64, f32, f32, f32, f32, f32, tensor<?x?xi32>, tensor<?x?xi32>) -> (f32, f32, f32)
    %e = func.call @eval_step(%t, %t) : (tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<f32>
    %g = func.call @logits(%t) : (tensor<?x?xi32>) -> tensor<?x4xf32>
    return %l, %e, %g : f32, tensor<f32>, tensor<?x4xf32>
  }
}

// -----

// Tests that the logits function keeps the forward ops the logits need and
// drops those that need the targets (here a second loss term): the slice is
// taken of the cross-entropy's logits operand.

// CHECK-LABEL: lmc.model @two_terms
// CHECK-LABEL:   func.func @logits(
// CHECK-SAME:      %[[W:[a-z0-9]+]]: tensor<4x4xf32> {lmc.param = @w}, %[[TOK:[a-z0-9]+]]: tensor<?x?xi32>) -> tensor<?x4xf32>
// CHECK-NEXT:      %[[X:.+]] = lmc.embedding %[[W]][%[[TOK]]]
// CHECK-NEXT:      %[[Y:.+]] = lmc.gelu %[[X]] tanh
// CHECK-NOT:       lmc.cross_entropy
// CHECK-NOT:       lmc.add
// CHECK:           tensor.extract_slice %[[Y]]
lmc.model @two_terms {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %y = lmc.gelu %x tanh : tensor<?x?x4xf32>
    %l1 = lmc.cross_entropy %y, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %l1 : tensor<f32>
  }
}

// -----

// Tests grad-function: train_step reads the gradients from the named
// function (here a hand-written one returning the parameter itself as its
// gradient), not from @forward_grad.

// GRAD-FN-LABEL: lmc.model @custom_grad
// GRAD-FN:       func.func @train_step(%[[P:[a-z0-9]+]]: tensor<4x4xf32> {lmc.param = @w},
// GRAD-FN-NOT:     lmc.embedding_grad
// GRAD-FN:         %[[SQ:.+]] = lmc.mul %[[P]], %[[P]] : tensor<4x4xf32>
// GRAD-FN:         lmc.adamw %[[P]], %[[P]], %{{.+}}, %{{.+}} lr(
lmc.model @custom_grad {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @my_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss, %w : tensor<f32>, tensor<4x4xf32>
  }
}

//===----------------------------------------------------------------------===//
// The tiny preset
//===----------------------------------------------------------------------===//

// TINY-LABEL: func.func @train_step(
// TINY-SAME:    %[[WD:[a-z0-9]+]]: f32 {lmc.hparam = "weight_decay"}
// TINY:         arith.cmpi slt
// TINY-NEXT:    arith.select
// TINY-NEXT:    %[[NOWD:.+]] = arith.constant 0.000000e+00 : f32
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<256x64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<64x64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<64x192xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<192xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<64x64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<64x256xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<256xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<256x64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<64x192xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<192xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<64x64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<64x256xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<256xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[WD]]) : tensor<256x64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    lmc.adamw {{.+}} weight_decay(%[[NOWD]]) : tensor<64xf32>, f32, i64
// TINY-NEXT:    return
// TINY-LABEL: func.func @eval_step(
// TINY-LABEL: func.func @logits(
// TINY-SAME:    %{{.+}}: tensor<?x?xi32>) -> tensor<?x256xf32>
// TINY:         tensor.extract_slice %{{.+}}[0, %{{.+}}, 0] [%{{.+}}, 1, 256] [1, 1, 1] : tensor<?x?x256xf32> to tensor<?x256xf32>

// -----

// === static shapes ===

// Tests logits for a forward with a static batch size (and sequence length):
// the result is [2, V] and the slice of the last position has the static
// batch size.

// STATIC-LABEL: lmc.model @static_batch
// STATIC-LABEL:   func.func @logits(
// STATIC-SAME:      %{{.+}}: tensor<2x8xi32>) -> tensor<2x4xf32>
// STATIC:           %[[S:.+]] = tensor.extract_slice %{{.+}}[0, {{.+}}, 0] [{{.+}}, 1, 4] [1, 1, 1] : tensor<2x8x4xf32> to tensor<2x4xf32>
// STATIC-NEXT:      return %[[S]] : tensor<2x4xf32>
lmc.model @static_batch {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<2x8xi32>, %targets: tensor<2x8xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<2x8xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<2x8x4xf32>, tensor<2x8xi32>
    return %loss : tensor<f32>
  }
}
