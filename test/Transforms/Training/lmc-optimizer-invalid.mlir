// RUN: sed '/^\/\/ === not yet diagnosed ===$/,$d' %s | lmc-opt -split-input-file -verify-diagnostics --lmc-optimizer
// RUN: not lmc-opt %s -split-input-file --lmc-optimizer=weight-decay-on=biases 2>&1 | FileCheck %s --check-prefix=DECAY
// RUN: not lmc-opt %s -split-input-file --lmc-optimizer=weight-decay-on=Matrices 2>&1 | FileCheck %s --check-prefix=DECAY-CASE

// Inputs that lmc-optimizer should reject with a diagnostic of its own, but
// for which it builds invalid IR (caught only by the verifier afterwards);
// after the marker at the end of the file.
// RUN: sed -n '/^lmc.model @grad_args/,/^}/p' %s | not lmc-opt --lmc-autodiff="function=loss attention=decomposed" --lmc-optimizer=grad-function=loss_grad 2>&1 | FileCheck %s --check-prefix=GRAD-ARGS
// RUN: sed -n '/^lmc.model @mixed/,/^}/p' %s | not lmc-opt --lmc-autodiff=attention=decomposed --lmc-optimizer 2>&1 | FileCheck %s --check-prefix=MIXED

// The gradient functions are written out here (as lmc-autodiff would build
// them) so that lmc-optimizer runs alone.

// Tests that weight-decay-on is matrices, all or none (case-sensitive).

// DECAY: error: lmc-optimizer: weight-decay-on must be matrices, all or none, got 'biases'
// DECAY-CASE: error: lmc-optimizer: weight-decay-on must be matrices, all or none, got 'Matrices'

// Tests that the gradient function is required (lmc-autodiff has not run).

// expected-error @+1 {{model @no_grad needs @forward and @forward_grad (run lmc-autodiff first)}}
lmc.model @no_grad {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that @forward is required too.

// expected-error @+1 {{model @no_forward needs @forward and @forward_grad (run lmc-autodiff first)}}
lmc.model @no_forward {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
    %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
    return %loss, %dw : tensor<f32>, tensor<4x4xf32>
  }
}

// -----

// Tests that the gradient function must be a function, not another symbol of
// that name.

// expected-error @+1 {{model @param_named_grad needs @forward and @forward_grad (run lmc-autodiff first)}}
lmc.model @param_named_grad {
  lmc.param @forward_grad : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @forward_grad : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that the gradient function returns the loss and one gradient per
// parameter: here a gradient is missing.

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @b : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  // expected-error @+1 {{'func.func' op must return the loss and one gradient per parameter}}
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
    %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
    return %loss, %dw : tensor<f32>, tensor<4x4xf32>
  }
}

// -----

// Tests that an existing train_step with a body is not replaced.

// expected-error @+1 {{model @m already has a function @train_step}}
lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
    %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
    return %loss, %dw : tensor<f32>, tensor<4x4xf32>
  }
  func.func @train_step() {
    return
  }
}

// -----

// Tests that an existing eval_step with a body is not replaced.

// expected-error @+1 {{model @m already has a function @eval_step}}
lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
    %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
    return %loss, %dw : tensor<f32>, tensor<4x4xf32>
  }
  func.func @eval_step(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %l = func.call @forward(%tokens, %targets) : (tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<f32>
    return %l : tensor<f32>
  }
}

// -----

// Tests that a parameter named logits is not taken for a declaration.

// expected-error @+1 {{model @m already has a function @logits}}
lmc.model @m {
  lmc.param @logits : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @logits : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @logits : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
    %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
    return %loss, %dw : tensor<f32>, tensor<4x4xf32>
  }
}

// -----

// Tests that a declaration of train_step must have the type lmc-optimizer
// builds: here the moments are missing.

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
    %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
    return %loss, %dw : tensor<f32>, tensor<4x4xf32>
  }
  // expected-error @+1 {{'func.func' op declares @train_step as '(tensor<4x4xf32>, i64, f32, f32, i64, i64, f32, f32, f32, f32, f32, tensor<?x?xi32>, tensor<?x?xi32>) -> (f32, f32, f32, tensor<4x4xf32>)' but lmc-optimizer builds '(tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, i64, f32, f32, i64, i64, f32, f32, f32, f32, f32, tensor<?x?xi32>, tensor<?x?xi32>) -> (f32, f32, f32, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)'}}
  func.func private @train_step(tensor<4x4xf32>, i64, f32, f32, i64, i64, f32, f32, f32, f32, f32, tensor<?x?xi32>, tensor<?x?xi32>) -> (f32, f32, f32, tensor<4x4xf32>)
}

// -----

// Tests that a declaration of eval_step must have the type lmc-optimizer
// builds: here it returns a bare f32.

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
    %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
    return %loss, %dw : tensor<f32>, tensor<4x4xf32>
  }
  // expected-error @+1 {{'func.func' op declares @eval_step as '(tensor<4x4xf32>, tensor<?x?xi32>, tensor<?x?xi32>) -> f32' but lmc-optimizer builds '(tensor<4x4xf32>, tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<f32>'}}
  func.func private @eval_step(tensor<4x4xf32>, tensor<?x?xi32>, tensor<?x?xi32>) -> f32
}

// -----

// Tests that a declaration of logits must have the type lmc-optimizer builds:
// here it takes the targets too.

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dx = lmc.cross_entropy_grad %x, %targets, %one : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
    %dw = lmc.embedding_grad %dx[%tokens] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<4x4xf32>
    return %loss, %dw : tensor<f32>, tensor<4x4xf32>
  }
  // expected-error @+1 {{'func.func' op declares @logits as '(tensor<4x4xf32>, tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<?x4xf32>' but lmc-optimizer builds '(tensor<4x4xf32>, tensor<?x?xi32>) -> tensor<?x4xf32>'}}
  func.func private @logits(tensor<4x4xf32>, tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<?x4xf32>
}

// -----

// Tests that a logits function needs a forward that returns a cross-entropy:
// here the loss is a sum.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(ones)
  // expected-error @+1 {{'func.func' op must return the cross-entropy of [batch, sequence, vocabulary] logits for a logits function to be built}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4xf32>
    %s = lmc.reduce_sum %w dims [0] : tensor<4xf32>
    return %s : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4xf32>) {
    %w = lmc.param_ref @w : tensor<4xf32>
    %s = lmc.reduce_sum %w dims [0] : tensor<4xf32>
    %one = arith.constant dense<1.0> : tensor<f32>
    %dw = lmc.broadcast %one like %w dims [0] : tensor<f32>, tensor<4xf32>
    return %s, %dw : tensor<f32>, tensor<4xf32>
  }
}

// -----

// Tests that a logits function needs the cross-entropy of rank-3 logits:
// here the positions are flattened into rank-2 logits.

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  // expected-error @+1 {{'func.func' op must return the cross-entropy of [batch, sequence, vocabulary] logits for a logits function to be built}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %rows = lmc.flatten %x : tensor<?x?x4xf32>
    %t = tensor.collapse_shape %targets [[0, 1]] : tensor<?x?xi32> into tensor<?xi32>
    %loss = lmc.cross_entropy %rows, %t : tensor<?x4xf32>, tensor<?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %s = arith.constant dense<0.0> : tensor<f32>
    return %s, %w : tensor<f32>, tensor<4x4xf32>
  }
}

// -----

// Tests that the logits must not depend on the targets (here the position
// embedding is taken like the targets).

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @p : tensor<8x4xf32> init(normal, std = 2.000000e-02)
  // expected-error @+1 {{'func.func' op logits depend on the targets}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %p = lmc.param_ref @p : tensor<8x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %y = lmc.position_embedding %p like %targets : tensor<8x4xf32>, tensor<?x?xi32>
    %z = lmc.add %x, %y : tensor<?x?x4xf32>
    %loss = lmc.cross_entropy %z, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>, tensor<8x4xf32>) {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %p = lmc.param_ref @p : tensor<8x4xf32>
    %s = arith.constant dense<0.0> : tensor<f32>
    return %s, %w, %p : tensor<f32>, tensor<4x4xf32>, tensor<8x4xf32>
  }
}

// -----

// === not yet diagnosed ===

// Tests that the gradient function named by grad-function takes the
// arguments of @forward (train_step passes forward's arguments to it): here
// @loss_grad takes a float tensor. The error is lmc-optimizer's, about the
// gradient function, not the verifier's about an op it built.

// GRAD-ARGS: error: {{.*}}@loss_grad
// GRAD-ARGS-NOT: must be ranked tensor of 32-bit float or 64-bit float values
lmc.model @grad_args {
  lmc.param @w : tensor<4x4xf32> init(ones)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @loss(%c: tensor<4x4xf32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %y = lmc.mul %w, %c : tensor<4x4xf32>
    %l = lmc.reduce_sum %y dims [0, 1] : tensor<4x4xf32>
    return %l : tensor<f32>
  }
}

// -----

// Tests a parameter whose element type (f64) differs from the loss's (f32),
// which the dialect accepts: train_step's scalars have the loss's type, so
// lmc-optimizer must name the parameter in an error of its own rather than
// build an arith.addf of f32 and f64 and an lmc.adamw with f32 scalars for
// an f64 parameter.

// MIXED: error: {{.*}}@extra
// MIXED-NOT: requires the same type for all operands and results
lmc.model @mixed {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @extra : tensor<2x3xf64> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
