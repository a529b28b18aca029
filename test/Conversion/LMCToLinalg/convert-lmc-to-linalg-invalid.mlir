// RUN: lmc-opt %s -convert-lmc-to-linalg -split-input-file -verify-diagnostics

// Tests that a parameter reference left unbound is an error that says to run
// lmc-bind-params first.

lmc.model @m {
  lmc.param @"w" : tensor<4xf32> init(zeros)
  func.func @f() -> tensor<4xf32> {
    // expected-error @below {{parameter 'w' has no value; bind the parameters (lmc-bind-params) before convert-lmc-to-linalg}}
    %w = lmc.param_ref @"w" : tensor<4xf32>
    return %w : tensor<4xf32>
  }
}

// -----

// Tests that an unbound parameter is reported even when its value feeds an
// op that could be lowered.

lmc.model @m {
  lmc.param @"b" : tensor<8xf32> init(zeros)
  func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    // expected-error @below {{parameter 'b' has no value}}
    %b = lmc.param_ref @"b" : tensor<8xf32>
    %y = lmc.bias_add %x, %b : tensor<?x8xf32>, tensor<8xf32>
    return %y : tensor<?x8xf32>
  }
}

// -----

// Tests that a model function whose name is already taken in the enclosing
// module is an error rather than a silent rename.

func.func @forward() {
  return
}
lmc.model @m {
  // expected-error @below {{function @forward of model @m clashes with a symbol of the enclosing module}}
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %loss = arith.constant dense<0.0> : tensor<f32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that two models defining the same function cannot both be dissolved
// into one module.

lmc.model @a {
  func.func @main() {
    return
  }
}
lmc.model @b {
  // expected-error @below {{function @main of model @b clashes with a symbol of the enclosing module}}
  func.func @main() {
    return
  }
}
