// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of lmc.fused, lmc.yield, lmc.matmul_bias and
// lmc.convert (the Constraints of LMCFusionOps.td, in order), and the
// bfloat16 operands of lmc.matmul.

// Tests that the kind is not empty.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'lmc.fused' op kind must be a non-empty string of lower-case letters, digits and underscores, got ""}}
  %0 = lmc.fused "" (%a = %x) : (tensor<4xf32>) -> tensor<4xf32> {
    %1 = lmc.gelu %a tanh : tensor<4xf32>
    lmc.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// Tests that the kind has only lower-case letters, digits and underscores.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{kind must be a non-empty string of lower-case letters, digits and underscores, got "Bias GELU"}}
  %0 = lmc.fused "Bias GELU" (%a = %x) : (tensor<4xf32>) -> tensor<4xf32> {
    %1 = lmc.gelu %a tanh : tensor<4xf32>
    lmc.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// Tests that the body has one argument per operand (generic form).

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'lmc.fused' op body has 0 arguments but the op has 1 operands}}
  %0 = "lmc.fused"(%x) <{kind = "gelu"}> ({
    %c = arith.constant dense<1.0> : tensor<4xf32>
    %1 = lmc.gelu %c tanh : tensor<4xf32>
    lmc.yield %1 : tensor<4xf32>
  }) : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that each body argument has the type of its operand (generic form).

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'lmc.fused' op body argument 0 has type 'tensor<8xf32>' but operand 0 has type 'tensor<4xf32>'}}
  %0 = "lmc.fused"(%x) <{kind = "gelu"}> ({
  ^bb0(%a: tensor<8xf32>):
    %1 = lmc.gelu %a tanh : tensor<8xf32>
    lmc.yield %1 : tensor<8xf32>
  }) : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that the body ends with lmc.yield (generic form).

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'lmc.fused' op body must end with lmc.yield}}
  %0 = "lmc.fused"(%x) <{kind = "gelu"}> ({
  ^bb0(%a: tensor<4xf32>):
    %1 = lmc.gelu %a tanh : tensor<4xf32>
    func.return %1 : tensor<4xf32>
  }) : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Tests that the yielded types are the result types.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf64> {
  %0 = lmc.fused "gelu" (%a = %x) : (tensor<4xf32>) -> tensor<4xf64> {
    %1 = lmc.gelu %a tanh : tensor<4xf32>
    // expected-error @+1 {{'lmc.yield' op yields 'tensor<4xf32>' but the enclosing lmc.fused returns 'tensor<4xf64>'}}
    lmc.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf64>
}

// -----

// Tests that a group has a result.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.fused' op must have at least one result}}
  lmc.fused "gelu" (%a = %x) : (tensor<4xf32>) -> () {
    %1 = lmc.gelu %a tanh : tensor<4xf32>
    lmc.yield
  }
  return
}

// -----

// Tests that the body holds an lmc op.

func.func @f(%x: f32) -> f32 {
  // expected-error @+1 {{'lmc.fused' op body must hold at least one lmc op}}
  %0 = lmc.fused "elementwise" (%a = %x) : (f32) -> f32 {
    %1 = arith.addf %a, %a : f32
    lmc.yield %1 : f32
  }
  return %0 : f32
}

// -----

// Tests that a collective is not allowed in a group.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = lmc.fused "elementwise" (%a = %x) : (tensor<4xf32>) -> tensor<4xf32> {
      // expected-error @+1 {{'lmc.all_reduce' op is not allowed in a fusion group: it is a collective}}
      %1 = lmc.all_reduce %a over ["dp"] : tensor<4xf32>
      %2 = lmc.scale %1 by 5.000000e-01 : tensor<4xf32>
      lmc.yield %2 : tensor<4xf32>
    }
    return %0 : tensor<4xf32>
  }
}

// -----

// Tests that a parameter reference is not allowed in a group.

lmc.model @m {
  lmc.param @w : tensor<4xf32> init(zeros)
  func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
    %0 = lmc.fused "elementwise" (%a = %x) : (tensor<4xf32>) -> tensor<4xf32> {
      // expected-error @+1 {{'lmc.param_ref' op is not allowed in a fusion group: it is not a compute op}}
      %w = lmc.param_ref @w : tensor<4xf32>
      %1 = lmc.add %a, %w : tensor<4xf32>
      lmc.yield %1 : tensor<4xf32>
    }
    return %0 : tensor<4xf32>
  }
}

// -----

// Tests that lmc.axis_index is not allowed in a group (a group reads the
// coordinate as an operand) and neither is a pure collective.

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x8xf32>, %t: tensor<4xi32>) -> tensor<4x3xf32> {
    %0 = lmc.fused "cross_entropy" (%a = %x, %b = %t) : (tensor<4x8xf32>, tensor<4xi32>) -> tensor<4x3xf32> {
      // expected-error @+1 {{'lmc.axis_index' op is not allowed in a fusion group: it reads the rank's mesh coordinate (a runtime call)}}
      %tp = lmc.axis_index "tp"
      %1 = lmc.cross_entropy_stats %a, %b offset(%tp) : tensor<4x8xf32>, tensor<4xi32>
      lmc.yield %1 : tensor<4x3xf32>
    }
    return %0 : tensor<4x3xf32>
  }
}

// -----

lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @f(%x: tensor<4x8xf32>) -> tensor<4x16xf32> {
    %0 = lmc.fused "elementwise" (%a = %x) : (tensor<4x8xf32>) -> tensor<4x16xf32> {
      %1 = lmc.scale %a by 5.000000e-01 : tensor<4x8xf32>
      // expected-error @+1 {{'lmc.all_gather' op is not allowed in a fusion group: it is a collective}}
      %2 = lmc.all_gather %1 over ["tp"] dim 1 : tensor<4x8xf32> -> tensor<4x16xf32>
      lmc.yield %2 : tensor<4x16xf32>
    }
    return %0 : tensor<4x16xf32>
  }
}

// -----

// Tests that groups do not nest.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = lmc.fused "gelu" (%a = %x) : (tensor<4xf32>) -> tensor<4xf32> {
    // expected-error @+1 {{'lmc.fused' op is not allowed in a fusion group: it has a region}}
    %1 = lmc.fused "gelu" (%b = %a) : (tensor<4xf32>) -> tensor<4xf32> {
      %2 = lmc.gelu %b tanh : tensor<4xf32>
      lmc.yield %2 : tensor<4xf32>
    }
    lmc.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// Tests that ops of other dialects than lmc, arith and math (but
// tensor.extract) are not allowed in a group.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = lmc.fused "elementwise" (%a = %x) : (tensor<4xf32>) -> tensor<4xf32> {
    %1 = lmc.gelu %a tanh : tensor<4xf32>
    // expected-error @+1 {{'tensor.empty' op is not allowed in a fusion group: it is not an lmc compute op, an arith or math op, or tensor.extract}}
    %2 = tensor.empty() : tensor<4xf32>
    %3 = lmc.add %1, %2 : tensor<4xf32>
    lmc.yield %3 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// Tests that the body is isolated from above: it sees only its arguments.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %0 = lmc.fused "gelu" () : () -> tensor<4xf32> {
    // expected-error @+1 {{'lmc.gelu' op using value defined outside the region}}
    %1 = lmc.gelu %x tanh : tensor<4xf32>
    lmc.yield %1 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// Tests that lmc.yield is only allowed in lmc.fused.

func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'lmc.yield' op expects parent op 'lmc.fused'}}
  lmc.yield %x : tensor<4xf32>
}

// -----

// Tests that lmc.matmul_bias takes one rhs matrix (a linear layer).

func.func @f(%x: tensor<2x3x4xf32>, %w: tensor<2x4x5xf32>, %b: tensor<5xf32>) -> tensor<2x3x5xf32> {
  // expected-error @+1 {{rhs must be one matrix (rank 2), got rank 3}}
  %0 = lmc.matmul_bias %x, %w, %b : tensor<2x3x4xf32>, tensor<2x4x5xf32>, tensor<5xf32> -> tensor<2x3x5xf32>
  return %0 : tensor<2x3x5xf32>
}

// -----

// Tests that the contraction dimensions of lmc.matmul_bias agree.

func.func @f(%x: tensor<3x4xf32>, %w: tensor<6x5xf32>, %b: tensor<5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{contraction dimensions differ: 4 (lhs) and 6 (rhs)}}
  %0 = lmc.matmul_bias %x, %w, %b : tensor<3x4xf32>, tensor<6x5xf32>, tensor<5xf32> -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// Tests that the bias of lmc.matmul_bias has N elements.

func.func @f(%x: tensor<3x4xf32>, %w: tensor<5x4xf32>, %b: tensor<4xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{bias must be a vector of 5 elements (N), got 'tensor<4xf32>'}}
  %0 = lmc.matmul_bias %x, %w, %b transpose_b : tensor<3x4xf32>, tensor<5x4xf32>, tensor<4xf32> -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// Tests that the result of lmc.matmul_bias is [..., M, N].

func.func @f(%x: tensor<?x3x4xf32>, %w: tensor<4x5xf32>, %b: tensor<5xf32>) -> tensor<?x5xf32> {
  // expected-error @+1 {{result must be 'tensor<?x3x5xf32>', got 'tensor<?x5xf32>'}}
  %0 = lmc.matmul_bias %x, %w, %b : tensor<?x3x4xf32>, tensor<4x5xf32>, tensor<5xf32> -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// Tests that lmc.matmul_bias has no exact (erf) GELU epilogue.

func.func @f(%x: tensor<3x4xf32>, %w: tensor<4x5xf32>, %b: tensor<5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{has no epilogue for GELU 'exact': only the tanh approximation}}
  %0, %1 = lmc.matmul_bias %x, %w, %b gelu(exact) : tensor<3x4xf32>, tensor<4x5xf32>, tensor<5xf32> -> tensor<3x5xf32>, tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// Tests that lmc.matmul_bias with GELU returns the pre-activation.

func.func @f(%x: tensor<3x4xf32>, %w: tensor<4x5xf32>, %b: tensor<5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{with gelu must return the pre-activation}}
  %0 = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<3x4xf32>, tensor<4x5xf32>, tensor<5xf32> -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// Tests that lmc.matmul_bias without GELU has no pre-activation.

func.func @f(%x: tensor<3x4xf32>, %w: tensor<4x5xf32>, %b: tensor<5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{returns a pre-activation only with gelu}}
  %0, %1 = lmc.matmul_bias %x, %w, %b : tensor<3x4xf32>, tensor<4x5xf32>, tensor<5xf32> -> tensor<3x5xf32>, tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// Tests that the pre-activation of lmc.matmul_bias has the result's type.

func.func @f(%x: tensor<3x4xf32>, %w: tensor<4x5xf32>, %b: tensor<5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{pre-activation must have the type of the result}}
  %0, %1 = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<3x4xf32>, tensor<4x5xf32>, tensor<5xf32> -> tensor<3x5xf32>, tensor<?x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// Tests that a bfloat16 lhs of lmc.matmul_bias needs a bfloat16 rhs.

func.func @f(%x: tensor<3x4xbf16>, %w: tensor<4x5xf32>, %b: tensor<5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{bfloat16 lhs needs a bfloat16 rhs}}
  %0 = lmc.matmul_bias %x, %w, %b : tensor<3x4xbf16>, tensor<4x5xf32>, tensor<5xf32> -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// Tests that with bfloat16 operands the bias of lmc.matmul_bias has the
// result's element type (float32 here).

func.func @f(%x: tensor<3x4xbf16>, %w: tensor<4x5xbf16>, %b: tensor<5xf64>) -> tensor<3x5xf32> {
  // expected-error @+1 {{with bfloat16 operands the bias must have the result's element type 'f32', got 'tensor<5xf64>'}}
  %0 = lmc.matmul_bias %x, %w, %b : tensor<3x4xbf16>, tensor<4x5xbf16>, tensor<5xf64> -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

// Tests that with bfloat16 operands and a bfloat16 result the bias of
// lmc.matmul_bias is bfloat16 too (an epilogue's vectors have its output's
// type, as cuBLASLt's do).

func.func @f(%x: tensor<3x4xbf16>, %w: tensor<4x5xbf16>, %b: tensor<5xf32>) -> tensor<3x5xbf16> {
  // expected-error @+1 {{with bfloat16 operands the bias must have the result's element type 'bf16', got 'tensor<5xf32>'}}
  %0 = lmc.matmul_bias %x, %w, %b : tensor<3x4xbf16>, tensor<4x5xbf16>, tensor<5xf32> -> tensor<3x5xbf16>
  return %0 : tensor<3x5xbf16>
}

// -----

// Tests that with bfloat16 operands the result of lmc.matmul_bias is
// float32 or bfloat16.

func.func @f(%x: tensor<3x4xbf16>, %w: tensor<4x5xbf16>, %b: tensor<5xf64>) -> tensor<3x5xf64> {
  // expected-error @+1 {{with bfloat16 operands the result must be float32 or bfloat16, got 'tensor<3x5xf64>'}}
  %0 = lmc.matmul_bias %x, %w, %b : tensor<3x4xbf16>, tensor<4x5xbf16>, tensor<5xf64> -> tensor<3x5xf64>
  return %0 : tensor<3x5xf64>
}

// -----

// Tests that with bfloat16 operands the pre-activation of lmc.matmul_bias
// has the result's element type: both are one epilogue's outputs.

func.func @f(%x: tensor<3x4xbf16>, %w: tensor<4x5xbf16>, %b: tensor<5xbf16>) -> tensor<3x5xbf16> {
  // expected-error @+1 {{with bfloat16 operands the pre-activation must have the result's element type 'bf16', got 'tensor<3x5xf32>'}}
  %0, %1 = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<3x4xbf16>, tensor<4x5xbf16>, tensor<5xbf16> -> tensor<3x5xbf16>, tensor<3x5xf32>
  return %0 : tensor<3x5xbf16>
}

// -----

// Tests that with bfloat16 operands the pre-activation of lmc.matmul_bias
// has the result's shape.

func.func @f(%x: tensor<3x4xbf16>, %w: tensor<4x5xbf16>, %b: tensor<5xbf16>) -> tensor<3x5xbf16> {
  // expected-error @+1 {{pre-activation must have the shape of the result}}
  %0, %1 = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<3x4xbf16>, tensor<4x5xbf16>, tensor<5xbf16> -> tensor<3x5xbf16>, tensor<?x5xbf16>
  return %0 : tensor<3x5xbf16>
}

// -----

// Tests that lmc.convert converts between f32 and bf16 only.

func.func @f(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{converts f32 to bf16 or bf16 to f32, got 'f32' to 'f32'}}
  %0 = lmc.convert %x : tensor<3x4xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// Tests that lmc.convert keeps the shape.

func.func @f(%x: tensor<3x4xf32>) -> tensor<4x3xbf16> {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %0 = lmc.convert %x : tensor<3x4xf32> -> tensor<4x3xbf16>
  return %0 : tensor<4x3xbf16>
}

// -----

// Tests that lmc.matmul writes a bfloat16 result only from bfloat16
// operands (their float32 sums rounded once).

func.func @f(%x: tensor<3x4xf32>, %w: tensor<4x5xf32>) -> tensor<3x5xbf16> {
  // expected-error @+1 {{writes a bfloat16 result from 'f32' operands: only bfloat16 operands' float32 sums are stored as bfloat16}}
  %0 = lmc.matmul %x, %w : tensor<3x4xf32>, tensor<4x5xf32> -> tensor<3x5xbf16>
  return %0 : tensor<3x5xbf16>
}

// -----

// Tests that lmc.matmul's result has the inferred shape, whatever its
// element type.

func.func @f(%x: tensor<3x4xbf16>, %w: tensor<4x5xbf16>) -> tensor<3x4xbf16> {
  // expected-error @+2 {{'lmc.matmul' op inferred type(s) 'tensor<3x5xf32>' are incompatible with return type(s) of operation 'tensor<3x4xbf16>'}}
  // expected-error @+1 {{'lmc.matmul' op failed to infer returned types}}
  %0 = lmc.matmul %x, %w : tensor<3x4xbf16>, tensor<4x5xbf16> -> tensor<3x4xbf16>
  return %0 : tensor<3x4xbf16>
}

// -----

// Tests that lmc.matmul's operands share their element type (bfloat16
// storage stores both or neither).

func.func @f(%x: tensor<3x4xbf16>, %w: tensor<4x5xf32>) -> tensor<3x5xf32> {
  // expected-error @+1 {{element types differ: 'bf16' and 'f32'}}
  %0 = lmc.matmul %x, %w : tensor<3x4xbf16>, tensor<4x5xf32>
  return %0 : tensor<3x5xf32>
}
