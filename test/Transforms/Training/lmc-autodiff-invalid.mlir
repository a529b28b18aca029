// The cases before the `function=loss` marker differentiate @forward (the
// default); the cases after it differentiate @loss, since a @forward must
// return a scalar loss to be a valid model at all.
// RUN: sed '/^\/\/ === function=loss ===$/,$d' %s | lmc-opt -split-input-file -verify-diagnostics --lmc-autodiff
// RUN: sed -n '/^\/\/ === function=loss ===$/,$p' %s | lmc-opt -split-input-file -verify-diagnostics --lmc-autodiff=function=loss
// RUN: not lmc-opt %s -split-input-file --lmc-autodiff=recompute=everything 2>&1 | FileCheck %s --check-prefix=POLICY
// RUN: not lmc-opt %s -split-input-file --lmc-autodiff=recompute= 2>&1 | FileCheck %s --check-prefix=EMPTY-POLICY
// RUN: not lmc-opt %s -split-input-file --lmc-autodiff=attention=fused 2>&1 | FileCheck %s --check-prefix=ATTENTION-FORM

// Tests that an unknown recompute policy is an error naming the valid ones
// (reported by the option parser, before any model is differentiated).

// POLICY: for the --recompute option: 'everything' is not one of: none, attention, block
// EMPTY-POLICY: for the --recompute option: '' is not one of: none, attention, block

// Tests that an unknown attention form is an error naming the valid ones.

// ATTENTION-FORM: for the --attention option: 'fused' is not one of: flash, decomposed

// Tests that a model without the function to differentiate is an error.

// expected-error @+1 {{model @no_forward has no function @forward to differentiate}}
lmc.model @no_forward {
  lmc.param @w : tensor<4x4xf32> init(ones)
}

// -----

// Tests that a parameter is not a function to differentiate, even when it is
// named like one.

// expected-error @+1 {{model @param_named_forward has no function @forward to differentiate}}
lmc.model @param_named_forward {
  lmc.param @forward : tensor<4x4xf32> init(ones)
}

// -----

// Tests that every model of the module is differentiated: the second one
// lacks @forward.

lmc.model @first {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
// expected-error @+1 {{model @second has no function @forward to differentiate}}
lmc.model @second {
}

// -----

// Tests that an op without a gradient rule between a parameter and the loss
// is an error: a tensor.cast.

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    // expected-error @+1 {{'tensor.cast' op has no gradient rule, but the loss depends on a parameter through it}}
    %c = tensor.cast %x : tensor<?x?x4xf32> to tensor<2x?x4xf32>
    %loss = lmc.cross_entropy %c, %targets : tensor<2x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that an op without a gradient rule between a parameter and the loss
// is an error: an arith op on tensors.

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    // expected-error @+1 {{'arith.addf' op has no gradient rule, but the loss depends on a parameter through it}}
    %w2 = arith.addf %w, %w : tensor<4x4xf32>
    %x = lmc.embedding %w2[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that an lmc op without a gradient rule (concat, the gradient of
// split) on the path is an error too.

lmc.model @m {
  lmc.param @w : tensor<4x2xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x2xf32>
    // expected-error @+1 {{'lmc.concat' op has no gradient rule, but the loss depends on a parameter through it}}
    %t = lmc.concat %w, %w : tensor<4x2xf32>, tensor<4x2xf32>
    %x = lmc.embedding %t[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that a body-less @forward_grad must declare the type lmc-autodiff
// builds: (tokens, targets) -> (loss, one gradient per parameter).

lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  lmc.param @b : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  // expected-error @+1 {{'func.func' op declares @forward_grad as '(tensor<?x?xi32>, tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>)' but lmc-autodiff builds '(tensor<?x?xi32>, tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>, tensor<4xf32>)'}}
  func.func private @forward_grad(tensor<?x?xi32>, tensor<?x?xi32>) -> (tensor<f32>, tensor<4x4xf32>)
}

// -----

// Tests that a function @forward_grad with a body is not replaced.

// expected-error @+1 {{model @m already has a function @forward_grad}}
lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @forward_grad(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %loss = func.call @forward(%tokens, %targets) : (tensor<?x?xi32>, tensor<?x?xi32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that another symbol named @forward_grad (a parameter) is not
// replaced either.

// expected-error @+1 {{model @m already has a function @forward_grad}}
lmc.model @m {
  lmc.param @forward_grad : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @forward_grad : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// === function=loss ===

// Tests that the differentiated function returns a scalar: not a vector.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(ones)
  // expected-error @+1 {{'func.func' op must return one scalar loss (a 0-d float tensor) to be differentiated}}
  func.func @loss() -> tensor<4xf32> {
    %w = lmc.param_ref @w : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

// Tests that the differentiated function returns a scalar: one result only.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(ones)
  // expected-error @+1 {{'func.func' op must return one scalar loss (a 0-d float tensor) to be differentiated}}
  func.func @loss() -> (tensor<f32>, tensor<f32>) {
    %w = lmc.param_ref @w : tensor<4xf32>
    %s = lmc.reduce_sum %w dims [0] : tensor<4xf32>
    return %s, %s : tensor<f32>, tensor<f32>
  }
}

// -----

// Tests that the differentiated function returns a scalar: not nothing.

lmc.model @m {
  // expected-error @+1 {{'func.func' op must return one scalar loss (a 0-d float tensor) to be differentiated}}
  func.func @loss() {
    return
  }
}

// -----

// Tests that the differentiated function returns a scalar: of a float type.

lmc.model @m {
  // expected-error @+1 {{'func.func' op must return one scalar loss (a 0-d float tensor) to be differentiated}}
  func.func @loss(%x: tensor<i32>) -> tensor<i32> {
    return %x : tensor<i32>
  }
}

// -----

// Tests that the differentiated function returns a scalar: a 0-d tensor,
// not a bare float.

lmc.model @m {
  // expected-error @+1 {{'func.func' op must return one scalar loss (a 0-d float tensor) to be differentiated}}
  func.func @loss(%x: f32) -> f32 {
    return %x : f32
  }
}

// -----

// Tests that the differentiated function has a body of a single block.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(ones)
  // expected-error @+1 {{'func.func' op must be a single block to be differentiated}}
  func.func @loss() -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4xf32>
    cf.br ^bb1
  ^bb1:
    %s = lmc.reduce_sum %w dims [0] : tensor<4xf32>
    return %s : tensor<f32>
  }
}

// -----

// Tests that a declaration cannot be differentiated.

lmc.model @m {
  // expected-error @+1 {{'func.func' op must be a single block to be differentiated}}
  func.func private @loss() -> tensor<f32>
}

// -----

// Tests that the function option names the function to find: a model with
// only @forward has no @loss.

// expected-error @+1 {{model @m has no function @loss to differentiate}}
lmc.model @m {
  lmc.param @w : tensor<4x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<4x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that the existing-function check uses the derived name @loss_grad.

// expected-error @+1 {{model @m already has a function @loss_grad}}
lmc.model @m {
  lmc.param @w : tensor<4xf32> init(ones)
  func.func @loss() -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<4xf32>
    %s = lmc.reduce_sum %w dims [0] : tensor<4xf32>
    return %s : tensor<f32>
  }
  func.func @loss_grad() -> tensor<f32> {
    %s = func.call @loss() : () -> tensor<f32>
    return %s : tensor<f32>
  }
}
