// RUN: lmc-opt %s -split-input-file --lmc-autodiff=attention=decomposed | FileCheck %s
// RUN: lmc-opt %s -split-input-file --lmc-autodiff="recompute=attention attention=decomposed" | FileCheck %s --check-prefix=ATT
// RUN: lmc-opt %s -split-input-file --lmc-autodiff="recompute=block attention=decomposed" | FileCheck %s --check-prefix=BLOCK
// RUN: lmc-opt %s -split-input-file --lmc-autodiff=attention=decomposed | lmc-opt -split-input-file -verify-roundtrip > /dev/null
// RUN: lmc-opt %s -split-input-file --lmc-autodiff=attention=flash | FileCheck %s --check-prefix=FLASH
// RUN: lmc-opt %s -split-input-file --lmc-autodiff="attention=flash recompute=block" | FileCheck %s --check-prefix=FLASHBLOCK
// RUN: sed -n '/^lmc.model @fan_out/,/^}/p' %s | lmc-opt --lmc-autodiff="function=loss attention=decomposed" | FileCheck %s --check-prefix=FUNC

// The tiny preset under the three recompute policies, and the report of the
// bytes kept for the backward pass.
// RUN: %python -m lmc.models.gpt2 --preset tiny -o %t.mlir
// RUN: lmc-opt %t.mlir --lmc-autodiff="recompute=none attention=decomposed" | FileCheck %s --check-prefix=TINY-NONE
// RUN: lmc-opt %t.mlir --lmc-autodiff="recompute=attention attention=decomposed" | FileCheck %s --check-prefix=TINY-ATT
// RUN: lmc-opt %t.mlir --lmc-autodiff="recompute=block attention=decomposed" | FileCheck %s --check-prefix=TINY-BLOCK
// RUN: lmc-opt %t.mlir --lmc-autodiff=attention=flash | FileCheck %s --check-prefix=TINY-FLASH
// RUN: lmc-opt %t.mlir --lmc-autodiff="attention=flash report" -o /dev/null | FileCheck %s --check-prefix=REPORT-FLASH
// RUN: lmc-opt %t.mlir --lmc-autodiff="recompute=none report attention=decomposed" -o /dev/null | FileCheck %s --check-prefix=REPORT-NONE
// RUN: lmc-opt %t.mlir --lmc-autodiff="recompute=attention report attention=decomposed" -o /dev/null | FileCheck %s --check-prefix=REPORT-ATT
// RUN: lmc-opt %t.mlir --lmc-autodiff="recompute=block report attention=decomposed" -o /dev/null | FileCheck %s --check-prefix=REPORT-BLOCK
// RUN: lmc-opt %t.mlir --lmc-autodiff="report report-batch=1 report-seq=8 attention=decomposed" -o /dev/null | FileCheck %s --check-prefix=REPORT-SMALL
// RUN: lmc-opt %t.mlir --lmc-autodiff=attention=decomposed -o /dev/null | FileCheck %s --check-prefix=NO-REPORT --allow-empty

// Each op's gradient rule on a small model (a parameter, the op, a
// reduce_sum or cross_entropy loss), then accumulation, tying, inactive
// operands, unused parameters and the result attributes. Unless a case says
// otherwise, the recompute policy is the default, none.

//===----------------------------------------------------------------------===//
// Gradient rules
//===----------------------------------------------------------------------===//

// Tests the seed and the rules of reduce_sum and add: the loss gradient is a
// 0-d constant one, reduce_sum's gradient broadcasts it like the summed
// value, and add passes its result gradient to both operands unchanged. The
// function keeps the arguments of forward and returns the loss and one
// gradient per parameter, in declaration order, each with lmc.grad_of; the
// forward function is left alone.

// CHECK-LABEL: lmc.model @add
// CHECK:         func.func @forward(%{{.+}}: tensor<?x?xi32>, %{{.+}}: tensor<?x?xi32>) -> tensor<f32> {
// CHECK-NOT:       lmc.broadcast
// CHECK:           return
// CHECK:         func.func @forward_grad(%{{.+}}: tensor<?x?xi32>, %{{.+}}: tensor<?x?xi32>) -> (tensor<f32>, tensor<2x3xf32> {lmc.grad_of = @a}, tensor<2x3xf32> {lmc.grad_of = @b}) {
// CHECK-NEXT:      %[[A:.+]] = lmc.param_ref @a : tensor<2x3xf32>
// CHECK-NEXT:      %[[B:.+]] = lmc.param_ref @b : tensor<2x3xf32>
// CHECK-NEXT:      %[[Y:.+]] = lmc.add %[[A]], %[[B]] : tensor<2x3xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.reduce_sum %[[Y]] dims [0, 1] : tensor<2x3xf32>
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[DY:.+]] = lmc.broadcast %[[ONE]] like %[[Y]] dims [0, 1] : tensor<f32>, tensor<2x3xf32>
// CHECK-NEXT:      return %[[L]], %[[DY]], %[[DY]] : tensor<f32>, tensor<2x3xf32>, tensor<2x3xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:  }
lmc.model @add {
  lmc.param @a : tensor<2x3xf32> init(normal, std = 1.0)
  lmc.param @b : tensor<2x3xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %a = lmc.param_ref @a : tensor<2x3xf32>
    %b = lmc.param_ref @b : tensor<2x3xf32>
    %y = lmc.add %a, %b : tensor<2x3xf32>
    %loss = lmc.reduce_sum %y dims [0, 1] : tensor<2x3xf32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of mul: each operand's gradient is the result gradient
// times the other operand.

// CHECK-LABEL: lmc.model @mul
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[A:.+]] = lmc.param_ref @a : tensor<2x3xf32>
// CHECK-NEXT:      %[[B:.+]] = lmc.param_ref @b : tensor<2x3xf32>
// CHECK-NEXT:      %[[Y:.+]] = lmc.mul %[[A]], %[[B]] : tensor<2x3xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.reduce_sum %[[Y]] dims [0, 1]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[DY:.+]] = lmc.broadcast %[[ONE]] like %[[Y]] dims [0, 1]
// CHECK-NEXT:      %[[DA:.+]] = lmc.mul %[[DY]], %[[B]] : tensor<2x3xf32>
// CHECK-NEXT:      %[[DB:.+]] = lmc.mul %[[DY]], %[[A]] : tensor<2x3xf32>
// CHECK-NEXT:      return %[[L]], %[[DA]], %[[DB]]
lmc.model @mul {
  lmc.param @a : tensor<2x3xf32> init(normal, std = 1.0)
  lmc.param @b : tensor<2x3xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %a = lmc.param_ref @a : tensor<2x3xf32>
    %b = lmc.param_ref @b : tensor<2x3xf32>
    %y = lmc.mul %a, %b : tensor<2x3xf32>
    %loss = lmc.reduce_sum %y dims [0, 1] : tensor<2x3xf32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rules of cross_entropy and bias_add: cross_entropy_grad of the
// logits, the targets and the seed (the targets get no gradient); the input
// of bias_add gets the result gradient and the bias its sum over the leading
// dimensions.

// CHECK-LABEL: lmc.model @bias_add
// CHECK:         func.func @forward_grad(%{{.+}}: tensor<?x?xi32>, %[[TGT:.+]]: tensor<?x?xi32>) -> (tensor<f32>, tensor<2x3x4xf32> {lmc.grad_of = @x}, tensor<4xf32> {lmc.grad_of = @b})
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x
// CHECK-NEXT:      %[[B:.+]] = lmc.param_ref @b
// CHECK-NEXT:      %[[Y:.+]] = lmc.bias_add %[[X]], %[[B]] : tensor<2x3x4xf32>, tensor<4xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[Y]], %[[TGT]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[DY:.+]] = lmc.cross_entropy_grad %[[Y]], %[[TGT]], %[[ONE]] : tensor<2x3x4xf32>, tensor<?x?xi32>, tensor<f32>
// CHECK-NEXT:      %[[DB:.+]] = lmc.reduce_sum %[[DY]] dims [0, 1] : tensor<2x3x4xf32>
// CHECK-NEXT:      return %[[L]], %[[DY]], %[[DB]]
lmc.model @bias_add {
  lmc.param @x : tensor<2x3x4xf32> init(normal, std = 1.0)
  lmc.param @b : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x3x4xf32>
    %b = lmc.param_ref @b : tensor<4xf32>
    %y = lmc.bias_add %x, %b : tensor<2x3x4xf32>, tensor<4xf32>
    %loss = lmc.cross_entropy %y, %targets : tensor<2x3x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of scale (the gradient scaled by the same factor) with an
// f64 loss, whose seed is an f64 one.

// CHECK-LABEL: lmc.model @scale
// CHECK:         func.func @forward_grad({{.+}}) -> (tensor<f64>, tensor<4xf64> {lmc.grad_of = @x})
// CHECK:           %[[Y:.+]] = lmc.scale %{{.+}} by 2.500000e+00 : tensor<4xf64>
// CHECK-NEXT:      %[[L:.+]] = lmc.reduce_sum %[[Y]] dims [0] : tensor<4xf64>
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f64>
// CHECK-NEXT:      %[[DY:.+]] = lmc.broadcast %[[ONE]] like %[[Y]] dims [0] : tensor<f64>, tensor<4xf64>
// CHECK-NEXT:      %[[DX:.+]] = lmc.scale %[[DY]] by 2.500000e+00 : tensor<4xf64>
// CHECK-NEXT:      return %[[L]], %[[DX]] : tensor<f64>, tensor<4xf64>
lmc.model @scale {
  lmc.param @x : tensor<4xf64> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f64> {
    %x = lmc.param_ref @x : tensor<4xf64>
    %y = lmc.scale %x by 2.5 : tensor<4xf64>
    %loss = lmc.reduce_sum %y dims [0] : tensor<4xf64>
    return %loss : tensor<f64>
  }
}

// -----

// Tests the rule of gelu: gelu_grad of the forward input and the result
// gradient, with the approximation of the forward op; two gelus chain in
// reverse order.

// CHECK-LABEL: lmc.model @gelu
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x : tensor<2x8xf32>
// CHECK-NEXT:      %[[Y:.+]] = lmc.gelu %[[X]] tanh : tensor<2x8xf32>
// CHECK-NEXT:      %[[Z:.+]] = lmc.gelu %[[Y]] exact : tensor<2x8xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.reduce_sum %[[Z]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DZ:.+]] = lmc.broadcast %[[ONE]] like %[[Z]]
// CHECK-NEXT:      %[[DY:.+]] = lmc.gelu_grad %[[Y]], %[[DZ]] exact : tensor<2x8xf32>
// CHECK-NEXT:      %[[DX:.+]] = lmc.gelu_grad %[[X]], %[[DY]] tanh : tensor<2x8xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]]
lmc.model @gelu {
  lmc.param @x : tensor<2x8xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x8xf32>
    %y = lmc.gelu %x tanh : tensor<2x8xf32>
    %z = lmc.gelu %y exact : tensor<2x8xf32>
    %loss = lmc.reduce_sum %z dims [0, 1] : tensor<2x8xf32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of silu: silu_grad of the forward input and the result
// gradient; in a SwiGLU gate silu(x) * u the mul's rule feeds it.

// CHECK-LABEL: lmc.model @silu
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x : tensor<2x8xf32>
// CHECK-NEXT:      %[[U:.+]] = lmc.param_ref @u : tensor<2x8xf32>
// CHECK-NEXT:      %[[S:.+]] = lmc.silu %[[X]] : tensor<2x8xf32>
// CHECK-NEXT:      %[[H:.+]] = lmc.mul %[[S]], %[[U]] : tensor<2x8xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.reduce_sum %[[H]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DH:.+]] = lmc.broadcast %[[ONE]] like %[[H]]
// CHECK-NEXT:      %[[DS:.+]] = lmc.mul %[[DH]], %[[U]] : tensor<2x8xf32>
// CHECK-NEXT:      %[[DU:.+]] = lmc.mul %[[DH]], %[[S]] : tensor<2x8xf32>
// CHECK-NEXT:      %[[DX:.+]] = lmc.silu_grad %[[X]], %[[DS]] : tensor<2x8xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]], %[[DU]]
lmc.model @silu {
  lmc.param @x : tensor<2x8xf32> init(normal, std = 1.0)
  lmc.param @u : tensor<2x8xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x8xf32>
    %u = lmc.param_ref @u : tensor<2x8xf32>
    %s = lmc.silu %x : tensor<2x8xf32>
    %h = lmc.mul %s, %u : tensor<2x8xf32>
    %loss = lmc.reduce_sum %h dims [0, 1] : tensor<2x8xf32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of layer_norm: one layer_norm_grad of the forward input, the
// weight and the result gradient, with the forward eps; its three results are
// the gradients of input, weight and bias.

// CHECK-LABEL: lmc.model @layer_norm
// CHECK:         func.func @forward_grad({{.+}}) -> (tensor<f32>, tensor<2x3x8xf32> {lmc.grad_of = @x}, tensor<8xf32> {lmc.grad_of = @w}, tensor<8xf32> {lmc.grad_of = @b})
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x
// CHECK-NEXT:      %[[W:.+]] = lmc.param_ref @w
// CHECK-NEXT:      %[[B:.+]] = lmc.param_ref @b
// CHECK-NEXT:      %[[Y:.+]] = lmc.layer_norm %[[X]], %[[W]], %[[B]] eps(1.000000e-03)
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[Y]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DY:.+]] = lmc.cross_entropy_grad %[[Y]], %{{.+}}, %[[ONE]]
// CHECK-NEXT:      %[[DX:.+]], %[[DW:.+]], %[[DB:.+]] = lmc.layer_norm_grad %[[X]], %[[W]], %[[DY]] eps(1.000000e-03) : tensor<2x3x8xf32>, tensor<8xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]], %[[DW]], %[[DB]]
lmc.model @layer_norm {
  lmc.param @x : tensor<2x3x8xf32> init(normal, std = 1.0)
  lmc.param @w : tensor<8xf32> init(ones)
  lmc.param @b : tensor<8xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x3x8xf32>
    %w = lmc.param_ref @w : tensor<8xf32>
    %b = lmc.param_ref @b : tensor<8xf32>
    %y = lmc.layer_norm %x, %w, %b eps(1.0e-3) : tensor<2x3x8xf32>, tensor<8xf32>
    %loss = lmc.cross_entropy %y, %targets : tensor<2x3x8xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rules of softmax and causal_mask: softmax_grad reads the forward
// softmax output (not its input), and the mask's gradient is causal_mask
// `zero` of the result gradient.

// CHECK-LABEL: lmc.model @softmax
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x
// CHECK-NEXT:      %[[M:.+]] = lmc.causal_mask %[[X]] : tensor<2x4x4xf32>
// CHECK-NEXT:      %[[P:.+]] = lmc.softmax %[[M]] : tensor<2x4x4xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[P]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DP:.+]] = lmc.cross_entropy_grad %[[P]], %{{.+}}, %[[ONE]]
// CHECK-NEXT:      %[[DM:.+]] = lmc.softmax_grad %[[P]], %[[DP]] : tensor<2x4x4xf32>
// CHECK-NEXT:      %[[DX:.+]] = lmc.causal_mask %[[DM]] zero : tensor<2x4x4xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]]
lmc.model @softmax {
  lmc.param @x : tensor<2x4x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x4x4xf32>
    %m = lmc.causal_mask %x : tensor<2x4x4xf32>
    %p = lmc.softmax %m : tensor<2x4x4xf32>
    %loss = lmc.cross_entropy %p, %targets : tensor<2x4x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rules of split_heads and merge_heads, each the other's gradient:
// merge_heads' gradient splits into the heads of its input (4), and
// split_heads' gradient merges them back.

// CHECK-LABEL: lmc.model @heads
// CHECK:         func.func @forward_grad({{.+}}) -> (tensor<f32>, tensor<2x3x8xf32> {lmc.grad_of = @x}, tensor<2x4x3x2xf32> {lmc.grad_of = @y})
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x
// CHECK-NEXT:      %[[Y:.+]] = lmc.param_ref @y
// CHECK-NEXT:      %[[XH:.+]] = lmc.split_heads %[[X]] heads(4) : tensor<2x3x8xf32>
// CHECK-NEXT:      %[[S:.+]] = lmc.add %[[XH]], %[[Y]] : tensor<2x4x3x2xf32>
// CHECK-NEXT:      %[[M:.+]] = lmc.merge_heads %[[S]] : tensor<2x4x3x2xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[M]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DM:.+]] = lmc.cross_entropy_grad %[[M]], %{{.+}}, %[[ONE]]
// CHECK-NEXT:      %[[DS:.+]] = lmc.split_heads %[[DM]] heads(4) : tensor<2x3x8xf32>
// CHECK-NEXT:      %[[DX:.+]] = lmc.merge_heads %[[DS]] : tensor<2x4x3x2xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]], %[[DS]]
lmc.model @heads {
  lmc.param @x : tensor<2x3x8xf32> init(normal, std = 1.0)
  lmc.param @y : tensor<2x4x3x2xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x3x8xf32>
    %y = lmc.param_ref @y : tensor<2x4x3x2xf32>
    %xh = lmc.split_heads %x heads(4) : tensor<2x3x8xf32>
    %s = lmc.add %xh, %y : tensor<2x4x3x2xf32>
    %m = lmc.merge_heads %s : tensor<2x4x3x2xf32>
    %loss = lmc.cross_entropy %m, %targets : tensor<2x3x8xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of split: the concat of the result gradients in order, with
// zeros (zeros_like of the forward part) for a part that does not reach the
// loss; here the first and last parts share one gradient.

// CHECK-LABEL: lmc.model @split
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x
// CHECK-NEXT:      %[[P:.+]]:3 = lmc.split %[[X]] into 3 : tensor<2x3x12xf32>
// CHECK-NEXT:      %[[S:.+]] = lmc.add %[[P]]#0, %[[P]]#2 : tensor<2x3x4xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[S]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DS:.+]] = lmc.cross_entropy_grad %[[S]], %{{.+}}, %[[ONE]]
// CHECK-NEXT:      %[[Z:.+]] = lmc.zeros_like %[[P]]#1 : tensor<2x3x4xf32>
// CHECK-NEXT:      %[[DX:.+]] = lmc.concat %[[DS]], %[[Z]], %[[DS]] : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]] : tensor<f32>, tensor<2x3x12xf32>
lmc.model @split {
  lmc.param @x : tensor<2x3x12xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x3x12xf32>
    %q, %k, %v = lmc.split %x into 3 : tensor<2x3x12xf32>
    %s = lmc.add %q, %v : tensor<2x3x4xf32>
    %loss = lmc.cross_entropy %s, %targets : tensor<2x3x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rules of transpose (transpose back), flatten (unflatten like the
// forward input) and reduce_sum over one dimension (broadcast along it), in
// reverse order of the forward ops.

// CHECK-LABEL: lmc.model @transpose_flatten
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x
// CHECK-NEXT:      %[[T:.+]] = lmc.transpose %[[X]] : tensor<2x3x5xf32>
// CHECK-NEXT:      %[[F:.+]] = lmc.flatten %[[T]] : tensor<2x5x3xf32>
// CHECK-NEXT:      %[[R:.+]] = lmc.reduce_sum %[[F]] dims [1] : tensor<10x3xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.reduce_sum %[[R]] dims [0] : tensor<10xf32>
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[DR:.+]] = lmc.broadcast %[[ONE]] like %[[R]] dims [0] : tensor<f32>, tensor<10xf32>
// CHECK-NEXT:      %[[DF:.+]] = lmc.broadcast %[[DR]] like %[[F]] dims [1] : tensor<10xf32>, tensor<10x3xf32>
// CHECK-NEXT:      %[[DT:.+]] = lmc.unflatten %[[DF]] like %[[T]] : tensor<10x3xf32>, tensor<2x5x3xf32>
// CHECK-NEXT:      %[[DX:.+]] = lmc.transpose %[[DT]] : tensor<2x5x3xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]] : tensor<f32>, tensor<2x3x5xf32>
lmc.model @transpose_flatten {
  lmc.param @x : tensor<2x3x5xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x3x5xf32>
    %t = lmc.transpose %x : tensor<2x3x5xf32>
    %f = lmc.flatten %t : tensor<2x5x3xf32>
    %r = lmc.reduce_sum %f dims [1] : tensor<10x3xf32>
    %loss = lmc.reduce_sum %r dims [0] : tensor<10xf32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rules of embedding and position_embedding: embedding_grad of the
// gradient by the token ids into the table's type, position_embedding_grad
// into the position table's type; the tokens (operand of both) and the
// targets get no gradient.

// CHECK-LABEL: lmc.model @embeddings
// CHECK:         func.func @forward_grad(%[[TOK:.+]]: tensor<?x?xi32>, %[[TGT:.+]]: tensor<?x?xi32>) -> (tensor<f32>, tensor<16x4xf32> {lmc.grad_of = @wte}, tensor<8x4xf32> {lmc.grad_of = @wpe})
// CHECK-NEXT:      %[[WTE:.+]] = lmc.param_ref @wte
// CHECK-NEXT:      %[[WPE:.+]] = lmc.param_ref @wpe
// CHECK-NEXT:      %[[T:.+]] = lmc.embedding %[[WTE]][%[[TOK]]]
// CHECK-NEXT:      %[[P:.+]] = lmc.position_embedding %[[WPE]] like %[[TOK]]
// CHECK-NEXT:      %[[X:.+]] = lmc.add %[[T]], %[[P]]
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[X]], %[[TGT]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DX:.+]] = lmc.cross_entropy_grad %[[X]], %[[TGT]], %[[ONE]] : tensor<?x?x4xf32>, tensor<?x?xi32>, tensor<f32>
// CHECK-NEXT:      %[[DWPE:.+]] = lmc.position_embedding_grad %[[DX]] : tensor<?x?x4xf32> -> tensor<8x4xf32>
// CHECK-NEXT:      %[[DWTE:.+]] = lmc.embedding_grad %[[DX]][%[[TOK]]] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<16x4xf32>
// CHECK-NEXT:      return %[[L]], %[[DWTE]], %[[DWPE]] : tensor<f32>, tensor<16x4xf32>, tensor<8x4xf32>
lmc.model @embeddings {
  lmc.param @wte : tensor<16x4xf32> init(normal, std = 1.0)
  lmc.param @wpe : tensor<8x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte : tensor<16x4xf32>
    %wpe = lmc.param_ref @wpe : tensor<8x4xf32>
    %t = lmc.embedding %wte[%tokens] : tensor<16x4xf32>, tensor<?x?xi32>
    %p = lmc.position_embedding %wpe like %tokens : tensor<8x4xf32>, tensor<?x?xi32>
    %x = lmc.add %t, %p : tensor<?x?x4xf32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that the rule of an embedding with an offset (a block of rows of a
// larger table) passes the offset on to embedding_grad; with
// recompute=block, the offset is recomputed with the embedding.

// CHECK-LABEL: lmc.model @embedding_offset
// CHECK:         func.func @forward_grad(%[[TOK:.+]]: tensor<?x?xi32>, %[[TGT:.+]]: tensor<?x?xi32>)
// CHECK:           %[[OFF:.+]] = arith.muli
// CHECK-NEXT:      %[[T:.+]] = lmc.embedding %{{.+}}[%[[TOK]]] offset(%[[OFF]])
// CHECK:           %[[DX:.+]] = lmc.cross_entropy_grad %[[T]]
// CHECK-NEXT:      %[[DW:.+]] = lmc.embedding_grad %[[DX]][%[[TOK]]] offset(%[[OFF]]) : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<16x4xf32>
// CHECK-NEXT:      return %{{.+}}, %[[DW]]
// BLOCK-LABEL: lmc.model @embedding_offset
// BLOCK:         func.func @forward_grad
// BLOCK:           lmc.cross_entropy %
// BLOCK:           lmc.axis_index "tp"
// BLOCK-NEXT:      %[[OFF:.+]] = arith.muli
// BLOCK-NEXT:      lmc.embedding %{{.+}} offset(%[[OFF]])
// BLOCK-NEXT:      %[[DX:.+]] = lmc.cross_entropy_grad
// BLOCK-NEXT:      lmc.embedding_grad %[[DX]][%{{.+}}] offset(%[[OFF]])
lmc.model @embedding_offset {
  lmc.param @wte : tensor<16x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte : tensor<16x4xf32>
    %tp = lmc.axis_index "tp"
    %rows = arith.constant 16 : index
    %off = arith.muli %tp, %rows : index
    %t = lmc.embedding %wte[%tokens] offset(%off) : tensor<16x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %t, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of matmul with a shared matrix rhs (linear layers): the lhs
// gradient is dC B^T (dC B with transpose_b), and the rhs gradient contracts
// over all rows of the flattened lhs and dC: A^T dC, or dC^T A with
// transpose_b. Here %x is used by both matmuls, so its two gradients are
// added.

// CHECK-LABEL: lmc.model @linear
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x : tensor<2x3x4xf32>
// CHECK-NEXT:      %[[W:.+]] = lmc.param_ref @w : tensor<4x6xf32>
// CHECK-NEXT:      %[[H:.+]] = lmc.param_ref @h : tensor<6x4xf32>
// CHECK-NEXT:      %[[Y:.+]] = lmc.matmul %[[X]], %[[W]] : tensor<2x3x4xf32>, tensor<4x6xf32>
// CHECK-NEXT:      %[[Z:.+]] = lmc.matmul %[[X]], %[[H]] transpose_b : tensor<2x3x4xf32>, tensor<6x4xf32>
// CHECK-NEXT:      %[[S:.+]] = lmc.add %[[Y]], %[[Z]]
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[S]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DS:.+]] = lmc.cross_entropy_grad %[[S]], %{{.+}}, %[[ONE]]
// The transpose_b matmul first (reverse order).
// CHECK-NEXT:      %[[DX1:.+]] = lmc.matmul %[[DS]], %[[H]] : tensor<2x3x6xf32>, tensor<6x4xf32>
// CHECK-NEXT:      %[[FX1:.+]] = lmc.flatten %[[X]] : tensor<2x3x4xf32>
// CHECK-NEXT:      %[[FD1:.+]] = lmc.flatten %[[DS]] : tensor<2x3x6xf32>
// CHECK-NEXT:      %[[DH:.+]] = lmc.matmul %[[FD1]], %[[FX1]] transpose_a : tensor<6x6xf32>, tensor<6x4xf32>
// CHECK-NEXT:      %[[DX2:.+]] = lmc.matmul %[[DS]], %[[W]] transpose_b : tensor<2x3x6xf32>, tensor<4x6xf32>
// CHECK-NEXT:      %[[DX:.+]] = lmc.add %[[DX1]], %[[DX2]] : tensor<2x3x4xf32>
// CHECK-NEXT:      %[[FX2:.+]] = lmc.flatten %[[X]] : tensor<2x3x4xf32>
// CHECK-NEXT:      %[[FD2:.+]] = lmc.flatten %[[DS]] : tensor<2x3x6xf32>
// CHECK-NEXT:      %[[DW:.+]] = lmc.matmul %[[FX2]], %[[FD2]] transpose_a : tensor<6x4xf32>, tensor<6x6xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]], %[[DW]], %[[DH]] : tensor<f32>, tensor<2x3x4xf32>, tensor<4x6xf32>, tensor<6x4xf32>
lmc.model @linear {
  lmc.param @x : tensor<2x3x4xf32> init(normal, std = 1.0)
  lmc.param @w : tensor<4x6xf32> init(normal, std = 1.0)
  lmc.param @h : tensor<6x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x3x4xf32>
    %w = lmc.param_ref @w : tensor<4x6xf32>
    %h = lmc.param_ref @h : tensor<6x4xf32>
    %y = lmc.matmul %x, %w : tensor<2x3x4xf32>, tensor<4x6xf32>
    %z = lmc.matmul %x, %h transpose_b : tensor<2x3x4xf32>, tensor<6x4xf32>
    %s = lmc.add %y, %z : tensor<2x3x6xf32>
    %loss = lmc.cross_entropy %s, %targets : tensor<2x3x6xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of matmul with transpose_a and a shared rhs: the lhs
// gradient is the transpose of dC B^T, and the rhs gradient contracts the
// flattened transpose of the lhs with the flattened dC.

// CHECK-LABEL: lmc.model @shared_transpose_a
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[X:.+]] = lmc.param_ref @x : tensor<2x4x3xf32>
// CHECK-NEXT:      %[[W:.+]] = lmc.param_ref @w : tensor<4x6xf32>
// CHECK-NEXT:      %[[Y:.+]] = lmc.matmul %[[X]], %[[W]] transpose_a : tensor<2x4x3xf32>, tensor<4x6xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[Y]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DY:.+]] = lmc.cross_entropy_grad %[[Y]], %{{.+}}, %[[ONE]]
// CHECK-NEXT:      %[[DOPX:.+]] = lmc.matmul %[[DY]], %[[W]] transpose_b : tensor<2x3x6xf32>, tensor<4x6xf32>
// CHECK-NEXT:      %[[DX:.+]] = lmc.transpose %[[DOPX]] : tensor<2x3x4xf32>
// CHECK-NEXT:      %[[XT:.+]] = lmc.transpose %[[X]] : tensor<2x4x3xf32>
// CHECK-NEXT:      %[[FX:.+]] = lmc.flatten %[[XT]] : tensor<2x3x4xf32>
// CHECK-NEXT:      %[[FD:.+]] = lmc.flatten %[[DY]] : tensor<2x3x6xf32>
// CHECK-NEXT:      %[[DW:.+]] = lmc.matmul %[[FX]], %[[FD]] transpose_a : tensor<6x4xf32>, tensor<6x6xf32>
// CHECK-NEXT:      return %[[L]], %[[DX]], %[[DW]] : tensor<f32>, tensor<2x4x3xf32>, tensor<4x6xf32>
lmc.model @shared_transpose_a {
  lmc.param @x : tensor<2x4x3xf32> init(normal, std = 1.0)
  lmc.param @w : tensor<4x6xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x4x3xf32>
    %w = lmc.param_ref @w : tensor<4x6xf32>
    %y = lmc.matmul %x, %w transpose_a : tensor<2x4x3xf32>, tensor<4x6xf32>
    %loss = lmc.cross_entropy %y, %targets : tensor<2x3x6xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of batched matmul (the rhs has the batch dimensions of the
// lhs): for S = Q K^T, dQ = dS K and dK = dS^T Q; for O = S V, dS = dO V^T
// and dV = S^T dO; for T = Q^T S^T (both transposes), dQ = (dT S)^T and
// dS = dT^T Q^T. T is added to itself, so its gradient is the sum of two.

// CHECK-LABEL: lmc.model @batched
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[Q:.+]] = lmc.param_ref @q
// CHECK-NEXT:      %[[K:.+]] = lmc.param_ref @k
// CHECK-NEXT:      %[[V:.+]] = lmc.param_ref @v
// CHECK-NEXT:      %[[S:.+]] = lmc.matmul %[[Q]], %[[K]] transpose_b : tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>
// CHECK-NEXT:      %[[O:.+]] = lmc.matmul %[[S]], %[[V]] : tensor<2x3x5x5xf32>, tensor<2x3x5x4xf32>
// CHECK-NEXT:      %[[T:.+]] = lmc.matmul %[[Q]], %[[S]] transpose_a transpose_b : tensor<2x3x5x4xf32>, tensor<2x3x5x5xf32>
// CHECK-NEXT:      %[[U:.+]] = lmc.add %[[T]], %[[T]]
// CHECK-NEXT:      %[[OT:.+]] = lmc.transpose %[[O]]
// CHECK-NEXT:      %[[R:.+]] = lmc.add %[[U]], %[[OT]]
// CHECK-NEXT:      %[[L:.+]] = lmc.reduce_sum %[[R]] dims [0, 1, 2, 3]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DR:.+]] = lmc.broadcast %[[ONE]] like %[[R]] dims [0, 1, 2, 3]
// CHECK-NEXT:      %[[DO:.+]] = lmc.transpose %[[DR]] : tensor<2x3x4x5xf32>
// CHECK-NEXT:      %[[DT:.+]] = lmc.add %[[DR]], %[[DR]] : tensor<2x3x4x5xf32>
// CHECK-NEXT:      %[[DQT:.+]] = lmc.matmul %[[DT]], %[[S]] : tensor<2x3x4x5xf32>, tensor<2x3x5x5xf32>
// CHECK-NEXT:      %[[DQ1:.+]] = lmc.transpose %[[DQT]] : tensor<2x3x4x5xf32>
// CHECK-NEXT:      %[[DS1:.+]] = lmc.matmul %[[DT]], %[[Q]] transpose_a transpose_b : tensor<2x3x4x5xf32>, tensor<2x3x5x4xf32>
// CHECK-NEXT:      %[[DS2:.+]] = lmc.matmul %[[DO]], %[[V]] transpose_b : tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>
// CHECK-NEXT:      %[[DS:.+]] = lmc.add %[[DS1]], %[[DS2]] : tensor<2x3x5x5xf32>
// CHECK-NEXT:      %[[DV:.+]] = lmc.matmul %[[S]], %[[DO]] transpose_a : tensor<2x3x5x5xf32>, tensor<2x3x5x4xf32>
// CHECK-NEXT:      %[[DQ2:.+]] = lmc.matmul %[[DS]], %[[K]] : tensor<2x3x5x5xf32>, tensor<2x3x5x4xf32>
// CHECK-NEXT:      %[[DQ:.+]] = lmc.add %[[DQ1]], %[[DQ2]] : tensor<2x3x5x4xf32>
// CHECK-NEXT:      %[[DK:.+]] = lmc.matmul %[[DS]], %[[Q]] transpose_a : tensor<2x3x5x5xf32>, tensor<2x3x5x4xf32>
// CHECK-NEXT:      return %[[L]], %[[DQ]], %[[DK]], %[[DV]]
lmc.model @batched {
  lmc.param @q : tensor<2x3x5x4xf32> init(normal, std = 1.0)
  lmc.param @k : tensor<2x3x5x4xf32> init(normal, std = 1.0)
  lmc.param @v : tensor<2x3x5x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %q = lmc.param_ref @q : tensor<2x3x5x4xf32>
    %k = lmc.param_ref @k : tensor<2x3x5x4xf32>
    %v = lmc.param_ref @v : tensor<2x3x5x4xf32>
    %s = lmc.matmul %q, %k transpose_b : tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>
    %o = lmc.matmul %s, %v : tensor<2x3x5x5xf32>, tensor<2x3x5x4xf32>
    %t = lmc.matmul %q, %s transpose_a transpose_b : tensor<2x3x5x4xf32>, tensor<2x3x5x5xf32>
    %u = lmc.add %t, %t : tensor<2x3x4x5xf32>
    %w = lmc.transpose %o : tensor<2x3x5x4xf32>
    %r = lmc.add %u, %w : tensor<2x3x4x5xf32>
    %loss = lmc.reduce_sum %r dims [0, 1, 2, 3] : tensor<2x3x4x5xf32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of matmul on plain matrices (no batch dimensions):
// dA = dC B^T and dB = A^T dC.

// CHECK-LABEL: lmc.model @matrices
// CHECK:         func.func @forward_grad
// CHECK-NEXT:      %[[A:.+]] = lmc.param_ref @a : tensor<3x4xf32>
// CHECK-NEXT:      %[[B:.+]] = lmc.param_ref @b : tensor<4x5xf32>
// CHECK-NEXT:      %[[C:.+]] = lmc.matmul %[[A]], %[[B]] : tensor<3x4xf32>, tensor<4x5xf32>
// CHECK-NEXT:      %[[L:.+]] = lmc.reduce_sum %[[C]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DC:.+]] = lmc.broadcast %[[ONE]] like %[[C]] dims [0, 1]
// CHECK-NEXT:      %[[DA:.+]] = lmc.matmul %[[DC]], %[[B]] transpose_b : tensor<3x5xf32>, tensor<4x5xf32>
// CHECK-NEXT:      %[[DB:.+]] = lmc.matmul %[[A]], %[[DC]] transpose_a : tensor<3x4xf32>, tensor<3x5xf32>
// CHECK-NEXT:      return %[[L]], %[[DA]], %[[DB]]
lmc.model @matrices {
  lmc.param @a : tensor<3x4xf32> init(normal, std = 1.0)
  lmc.param @b : tensor<4x5xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %a = lmc.param_ref @a : tensor<3x4xf32>
    %b = lmc.param_ref @b : tensor<4x5xf32>
    %c = lmc.matmul %a, %b : tensor<3x4xf32>, tensor<4x5xf32>
    %loss = lmc.reduce_sum %c dims [0, 1] : tensor<3x5xf32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of causal_attention. With recompute=none attention is
// decomposed first and the decomposition differentiated: softmax_grad reads
// the forward probabilities. With recompute=attention the op is kept and its
// rule recomputes the scores and probabilities from q and k after the
// forward pass: dV = P^T dO, dP = dO V^T, dS = scale(mask0(softmax_grad)),
// dQ = dS K, dK = dS^T Q, each merged back; q, k and v are one value here,
// so the three gradients are added (v first, then k, then q).

// CHECK-LABEL: lmc.model @attention
// CHECK:         func.func @forward_grad
// CHECK-NOT:       lmc.causal_attention
// CHECK:           %[[P:.+]] = lmc.softmax
// CHECK-NOT:       lmc.softmax
// CHECK:           lmc.cross_entropy_grad
// CHECK-NOT:       lmc.softmax
// CHECK:           lmc.softmax_grad %[[P]], %{{.+}} : tensor<2x2x5x5xf32>
// CHECK-NOT:       lmc.softmax
// CHECK:           return

// ATT-LABEL:   lmc.model @attention
// ATT:         func.func @forward_grad
// ATT-NEXT:      %[[X:.+]] = lmc.param_ref @x : tensor<2x5x8xf32>
// ATT-NEXT:      %[[A:.+]] = lmc.causal_attention %[[X]], %[[X]], %[[X]] heads(2) : tensor<2x5x8xf32>
// ATT-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[A]]
// ATT-NEXT:      %[[ONE:.+]] = arith.constant
// ATT-NEXT:      %[[DA:.+]] = lmc.cross_entropy_grad %[[A]], %{{.+}}, %[[ONE]]
// ATT-NEXT:      %[[QH:.+]] = lmc.split_heads %[[X]] heads(2) : tensor<2x5x8xf32>
// ATT-NEXT:      %[[KH:.+]] = lmc.split_heads %[[X]] heads(2) : tensor<2x5x8xf32>
// ATT-NEXT:      %[[VH:.+]] = lmc.split_heads %[[X]] heads(2) : tensor<2x5x8xf32>
// ATT-NEXT:      %[[S:.+]] = lmc.matmul %[[QH]], %[[KH]] transpose_b : tensor<2x2x5x4xf32>, tensor<2x2x5x4xf32>
// ATT-NEXT:      %[[SS:.+]] = lmc.scale %[[S]] by 5.000000e-01 : tensor<2x2x5x5xf32>
// ATT-NEXT:      %[[M:.+]] = lmc.causal_mask %[[SS]] : tensor<2x2x5x5xf32>
// ATT-NEXT:      %[[P:.+]] = lmc.softmax %[[M]] : tensor<2x2x5x5xf32>
// ATT-NEXT:      %[[DOH:.+]] = lmc.split_heads %[[DA]] heads(2) : tensor<2x5x8xf32>
// ATT-NEXT:      %[[DVH:.+]] = lmc.matmul %[[P]], %[[DOH]] transpose_a : tensor<2x2x5x5xf32>, tensor<2x2x5x4xf32>
// ATT-NEXT:      %[[DP:.+]] = lmc.matmul %[[DOH]], %[[VH]] transpose_b : tensor<2x2x5x4xf32>, tensor<2x2x5x4xf32>
// ATT-NEXT:      %[[DM:.+]] = lmc.softmax_grad %[[P]], %[[DP]] : tensor<2x2x5x5xf32>
// ATT-NEXT:      %[[DMZ:.+]] = lmc.causal_mask %[[DM]] zero : tensor<2x2x5x5xf32>
// ATT-NEXT:      %[[DS:.+]] = lmc.scale %[[DMZ]] by 5.000000e-01 : tensor<2x2x5x5xf32>
// ATT-NEXT:      %[[DQH:.+]] = lmc.matmul %[[DS]], %[[KH]] : tensor<2x2x5x5xf32>, tensor<2x2x5x4xf32>
// ATT-NEXT:      %[[DKH:.+]] = lmc.matmul %[[DS]], %[[QH]] transpose_a : tensor<2x2x5x5xf32>, tensor<2x2x5x4xf32>
// ATT-NEXT:      %[[DQ:.+]] = lmc.merge_heads %[[DQH]] : tensor<2x2x5x4xf32>
// ATT-NEXT:      %[[DK:.+]] = lmc.merge_heads %[[DKH]] : tensor<2x2x5x4xf32>
// ATT-NEXT:      %[[DQK:.+]] = lmc.add %[[DQ]], %[[DK]] : tensor<2x5x8xf32>
// ATT-NEXT:      %[[DV:.+]] = lmc.merge_heads %[[DVH]] : tensor<2x2x5x4xf32>
// ATT-NEXT:      %[[DX:.+]] = lmc.add %[[DQK]], %[[DV]] : tensor<2x5x8xf32>
// ATT-NEXT:      return %[[L]], %[[DX]]
// With attention=flash (under any policy) the op becomes flash_attention,
// whose output and lse are all the backward pass reads, and its rule one
// flash_attention_grad; no T x T tensor is left. Under recompute=block the
// flash_attention is emitted again in the backward pass.

// FLASH-LABEL:   lmc.model @attention
// FLASH:         func.func @forward_grad
// FLASH-NEXT:      %[[X:.+]] = lmc.param_ref @x : tensor<2x5x8xf32>
// FLASH-NEXT:      %[[Y:.+]], %[[LSE:.+]] = lmc.flash_attention %[[X]], %[[X]], %[[X]] heads(2) : tensor<2x5x8xf32> -> tensor<2x2x5xf32>
// FLASH-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[Y]]
// FLASH-NEXT:      %[[ONE:.+]] = arith.constant
// FLASH-NEXT:      %[[DY:.+]] = lmc.cross_entropy_grad %[[Y]], %{{.+}}, %[[ONE]]
// FLASH-NEXT:      %[[DQ:.+]], %[[DK:.+]], %[[DV:.+]] = lmc.flash_attention_grad %[[X]], %[[X]], %[[X]], %[[Y]], %[[LSE]], %[[DY]] heads(2) : tensor<2x5x8xf32>, tensor<2x2x5xf32>
// FLASH-NEXT:      %[[DQK:.+]] = lmc.add %[[DQ]], %[[DK]] : tensor<2x5x8xf32>
// FLASH-NEXT:      %[[DX:.+]] = lmc.add %[[DQK]], %[[DV]] : tensor<2x5x8xf32>
// FLASH-NEXT:      return %[[L]], %[[DX]]

// FLASHBLOCK-LABEL: lmc.model @attention
// FLASHBLOCK:       func.func @forward_grad
// FLASHBLOCK:         lmc.flash_attention %
// FLASHBLOCK:         lmc.cross_entropy %
// FLASHBLOCK:         %[[Y:[^ ,]+]], %[[LSE:[^ ,]+]] = lmc.flash_attention %
// FLASHBLOCK:         lmc.flash_attention_grad %{{.+}}, %{{.+}}, %{{.+}}, %[[Y]], %[[LSE]],
// FLASHBLOCK-NOT:     lmc.softmax
// FLASHBLOCK:         return
lmc.model @attention {
  lmc.param @x : tensor<2x5x8xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x5x8xf32>
    %a = lmc.causal_attention %x, %x, %x heads(2) : tensor<2x5x8xf32>
    %loss = lmc.cross_entropy %a, %targets : tensor<2x5x8xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the rule of grouped-query attention (heads(4) kv_heads(2), one value
// for keys and values). Decomposed, the key/value heads are repeated to the
// query heads and the gradients of the repetitions summed over each group
// (repeat_heads_grad); recompute=attention's rule does the same; with
// attention=flash, flash_attention and flash_attention_grad keep kv_heads and
// the key and value gradients have the keys' type.

// CHECK-LABEL: lmc.model @gqa_attention
// CHECK:         func.func @forward_grad
// CHECK-SAME:      -> (tensor<f32>, tensor<2x5x16xf32> {lmc.grad_of = @q}, tensor<2x5x8xf32> {lmc.grad_of = @kv})
// CHECK:           %[[KH:.+]] = lmc.split_heads %{{.+}} heads(2) : tensor<2x5x8xf32>
// CHECK-NEXT:      %[[KR:.+]] = lmc.repeat_heads %[[KH]] times(2) : tensor<2x2x5x4xf32>
// CHECK:           %[[DVR:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_a : tensor<2x4x5x5xf32>, tensor<2x4x5x4xf32>
// CHECK:           %[[DKR:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_a : tensor<2x4x5x5xf32>, tensor<2x4x5x4xf32>
// CHECK-NEXT:      %[[DVH:.+]] = lmc.repeat_heads_grad %[[DVR]] times(2) : tensor<2x4x5x4xf32>
// CHECK-NEXT:      %[[DV:.+]] = lmc.merge_heads %[[DVH]] : tensor<2x2x5x4xf32>
// CHECK-NEXT:      %[[DKH:.+]] = lmc.repeat_heads_grad %[[DKR]] times(2) : tensor<2x4x5x4xf32>
// CHECK-NEXT:      %[[DK:.+]] = lmc.merge_heads %[[DKH]] : tensor<2x2x5x4xf32>
// CHECK-NEXT:      %[[DKV:.+]] = lmc.add %[[DV]], %[[DK]] : tensor<2x5x8xf32>
// CHECK:           return %{{.+}}, %{{.+}}, %[[DKV]]

// ATT-LABEL:   lmc.model @gqa_attention
// ATT:         func.func @forward_grad
// ATT:           lmc.causal_attention %{{.+}}, %{{.+}}, %{{.+}} heads(4) kv_heads(2) : tensor<2x5x16xf32>, tensor<2x5x8xf32>
// ATT:           %[[KH:.+]] = lmc.split_heads %{{.+}} heads(2) : tensor<2x5x8xf32>
// ATT-NEXT:      %[[KR:.+]] = lmc.repeat_heads %[[KH]] times(2) : tensor<2x2x5x4xf32>
// ATT-COUNT-2:   lmc.repeat_heads_grad %{{.+}} times(2) : tensor<2x4x5x4xf32>
// ATT:           %[[DKV:.+]] = lmc.add %{{.+}}, %{{.+}} : tensor<2x5x8xf32>
// ATT-NEXT:      return %{{.+}}, %{{.+}}, %[[DKV]]

// FLASH-LABEL:   lmc.model @gqa_attention
// FLASH:         func.func @forward_grad
// FLASH:           %[[Y:.+]], %[[LSE:.+]] = lmc.flash_attention %[[Q:.+]], %[[KV:.+]], %[[KV]] heads(4) kv_heads(2) : tensor<2x5x16xf32>, tensor<2x5x8xf32> -> tensor<2x4x5xf32>
// FLASH:           %[[DQ:.+]], %[[DK:.+]], %[[DV:.+]] = lmc.flash_attention_grad %[[Q]], %[[KV]], %[[KV]], %[[Y]], %[[LSE]], %{{.+}} heads(4) kv_heads(2) : tensor<2x5x16xf32>, tensor<2x5x8xf32>, tensor<2x4x5xf32>
// FLASH-NEXT:      %[[DKV:.+]] = lmc.add %[[DK]], %[[DV]] : tensor<2x5x8xf32>
// FLASH-NEXT:      return %{{.+}}, %[[DQ]], %[[DKV]]
lmc.model @gqa_attention {
  lmc.param @q : tensor<2x5x16xf32> init(normal, std = 1.0)
  lmc.param @kv : tensor<2x5x8xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %q = lmc.param_ref @q : tensor<2x5x16xf32>
    %kv = lmc.param_ref @kv : tensor<2x5x8xf32>
    %a = lmc.causal_attention %q, %kv, %kv heads(4) kv_heads(2) : tensor<2x5x16xf32>, tensor<2x5x8xf32>
    %loss = lmc.cross_entropy %a, %targets : tensor<2x5x16xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

//===----------------------------------------------------------------------===//
// Accumulation, tying, inactive operands, unused parameters
//===----------------------------------------------------------------------===//

// Tests fan-out: a value used twice (here %y by both operands of one mul)
// gets the lmc.add of its two gradients. The rule's gradient for an operand
// that does not depend on a parameter (the argument %c) is not kept: only
// one lmc.mul follows the add. Also tests `function=`: @loss is
// differentiated into @loss_grad (the first RUN line differentiates
// @forward only).

// CHECK-LABEL: lmc.model @fan_out
// CHECK:         func.func @forward_grad
// CHECK-NOT:     func.func @loss_grad

// FUNC-LABEL:  lmc.model @fan_out
// FUNC-NOT:      func.func @forward_grad
// FUNC:          func.func @loss_grad(%[[C:.+]]: tensor<4xf32>) -> (tensor<f32>, tensor<4xf32> {lmc.grad_of = @a})
// FUNC-NEXT:       %[[A:.+]] = lmc.param_ref @a
// FUNC-NEXT:       %[[Y:.+]] = lmc.mul %[[A]], %[[C]]
// FUNC-NEXT:       %[[Z:.+]] = lmc.mul %[[Y]], %[[Y]]
// FUNC-NEXT:       %[[L:.+]] = lmc.reduce_sum %[[Z]]
// FUNC-NEXT:       %[[ONE:.+]] = arith.constant
// FUNC-NEXT:       %[[DZ:.+]] = lmc.broadcast %[[ONE]] like %[[Z]]
// FUNC-NEXT:       %[[DY1:.+]] = lmc.mul %[[DZ]], %[[Y]]
// FUNC-NEXT:       %[[DY2:.+]] = lmc.mul %[[DZ]], %[[Y]]
// FUNC-NEXT:       %[[DY:.+]] = lmc.add %[[DY1]], %[[DY2]] : tensor<4xf32>
// FUNC-NEXT:       %[[DA:.+]] = lmc.mul %[[DY]], %[[C]] : tensor<4xf32>
// FUNC-NEXT:       return %[[L]], %[[DA]] : tensor<f32>, tensor<4xf32>
// FUNC-NEXT:     }
lmc.model @fan_out {
  lmc.param @a : tensor<4xf32> init(ones)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %a = lmc.param_ref @a : tensor<4xf32>
    %s = lmc.reduce_sum %a dims [0] : tensor<4xf32>
    return %s : tensor<f32>
  }
  func.func @loss(%c: tensor<4xf32>) -> tensor<f32> {
    %a = lmc.param_ref @a : tensor<4xf32>
    %y = lmc.mul %a, %c : tensor<4xf32>
    %z = lmc.mul %y, %y : tensor<4xf32>
    %l = lmc.reduce_sum %z dims [0] : tensor<4xf32>
    return %l : tensor<f32>
  }
}

// -----

// Tests the tied embedding and LM head: one reference of @wte feeds the
// embedding and the transposed head matmul; its gradient is the lmc.add of
// the head's rhs gradient (dLogits^T x over flattened rows) and the
// embedding_grad of the head's lhs gradient.

// CHECK-LABEL: lmc.model @tied
// CHECK:         func.func @forward_grad(%[[TOK:.+]]: tensor<?x?xi32>, %[[TGT:.+]]: tensor<?x?xi32>) -> (tensor<f32>, tensor<16x4xf32> {lmc.grad_of = @wte})
// CHECK-NEXT:      %[[WTE:.+]] = lmc.param_ref @wte
// CHECK-NEXT:      %[[X:.+]] = lmc.embedding %[[WTE]][%[[TOK]]]
// CHECK-NEXT:      %[[LOGITS:.+]] = lmc.matmul %[[X]], %[[WTE]] transpose_b
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[LOGITS]], %[[TGT]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DLOGITS:.+]] = lmc.cross_entropy_grad %[[LOGITS]], %[[TGT]], %[[ONE]]
// CHECK-NEXT:      %[[DX:.+]] = lmc.matmul %[[DLOGITS]], %[[WTE]] : tensor<?x?x16xf32>, tensor<16x4xf32>
// CHECK-NEXT:      %[[FX:.+]] = lmc.flatten %[[X]]
// CHECK-NEXT:      %[[FD:.+]] = lmc.flatten %[[DLOGITS]]
// CHECK-NEXT:      %[[DHEAD:.+]] = lmc.matmul %[[FD]], %[[FX]] transpose_a : tensor<?x16xf32>, tensor<?x4xf32>
// CHECK-NEXT:      %[[DEMB:.+]] = lmc.embedding_grad %[[DX]][%[[TOK]]] : tensor<?x?x4xf32>, tensor<?x?xi32> -> tensor<16x4xf32>
// CHECK-NEXT:      %[[DWTE:.+]] = lmc.add %[[DHEAD]], %[[DEMB]] : tensor<16x4xf32>
// CHECK-NEXT:      return %[[L]], %[[DWTE]] : tensor<f32>, tensor<16x4xf32>
lmc.model @tied {
  lmc.param @wte : tensor<16x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte : tensor<16x4xf32>
    %x = lmc.embedding %wte[%tokens] : tensor<16x4xf32>, tensor<?x?xi32>
    %logits = lmc.matmul %x, %wte transpose_b : tensor<?x?x4xf32>, tensor<16x4xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests tying through two references of one parameter: the gradients are
// accumulated per parameter name, the later reference's first.

// CHECK-LABEL: lmc.model @tied_two_refs
// CHECK:         func.func @forward_grad({{.+}}) -> (tensor<f32>, tensor<16x4xf32> {lmc.grad_of = @wte})
// CHECK:           %[[DHEAD:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_a : tensor<?x16xf32>, tensor<?x4xf32>
// CHECK-NEXT:      %[[DEMB:.+]] = lmc.embedding_grad
// CHECK-NEXT:      %[[DWTE:.+]] = lmc.add %[[DHEAD]], %[[DEMB]] : tensor<16x4xf32>
// CHECK-NEXT:      return %{{.+}}, %[[DWTE]] : tensor<f32>, tensor<16x4xf32>
lmc.model @tied_two_refs {
  lmc.param @wte : tensor<16x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte : tensor<16x4xf32>
    %x = lmc.embedding %wte[%tokens] : tensor<16x4xf32>, tensor<?x?xi32>
    %head = lmc.param_ref @wte : tensor<16x4xf32>
    %logits = lmc.matmul %x, %head transpose_b : tensor<?x?x4xf32>, tensor<16x4xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that ids and targets are not differentiated: integer ops on them (an
// arith.addi, which has no gradient rule) stay in the forward part and are
// allowed because they do not depend on a parameter; the backward pass is
// only cross_entropy_grad and embedding_grad.

// CHECK-LABEL: lmc.model @ids
// CHECK:         func.func @forward_grad(%[[TOK:.+]]: tensor<?x?xi32>, %[[TGT:.+]]: tensor<?x?xi32>)
// CHECK-NEXT:      %[[W:.+]] = lmc.param_ref @w
// CHECK-NEXT:      %[[IDS:.+]] = arith.addi %[[TOK]], %[[TGT]] : tensor<?x?xi32>
// CHECK-NEXT:      %[[X:.+]] = lmc.embedding %[[W]][%[[IDS]]]
// CHECK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[X]], %[[TGT]]
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant
// CHECK-NEXT:      %[[DX:.+]] = lmc.cross_entropy_grad %[[X]], %[[TGT]], %[[ONE]]
// CHECK-NEXT:      %[[DW:.+]] = lmc.embedding_grad %[[DX]][%[[IDS]]]
// CHECK-NEXT:      return %[[L]], %[[DW]] : tensor<f32>, tensor<16x4xf32>
lmc.model @ids {
  lmc.param @w : tensor<16x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<16x4xf32>
    %shifted = arith.addi %tokens, %targets : tensor<?x?xi32>
    %x = lmc.embedding %w[%shifted] : tensor<16x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that a parameter that is never referenced, and one whose only use
// does not reach the loss, get a zero constant of their type (f64 too); the
// forward ops that do not reach the loss are dropped from the gradient
// function.

// CHECK-LABEL: lmc.model @unused
// CHECK:         func.func @forward_grad({{.+}}) -> (tensor<f32>, tensor<16x4xf32> {lmc.grad_of = @w}, tensor<3x2xf64> {lmc.grad_of = @never}, tensor<4xf32> {lmc.grad_of = @dead})
// CHECK-NOT:       lmc.param_ref @dead
// CHECK-NOT:       lmc.bias_add
// CHECK:           %[[DW:.+]] = lmc.embedding_grad
// CHECK-NEXT:      %[[ZN:.+]] = arith.constant dense<0.000000e+00> : tensor<3x2xf64>
// CHECK-NEXT:      %[[ZD:.+]] = arith.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK-NEXT:      return %{{.+}}, %[[DW]], %[[ZN]], %[[ZD]] : tensor<f32>, tensor<16x4xf32>, tensor<3x2xf64>, tensor<4xf32>
lmc.model @unused {
  lmc.param @w : tensor<16x4xf32> init(normal, std = 1.0)
  lmc.param @never : tensor<3x2xf64> init(ones)
  lmc.param @dead : tensor<4xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<16x4xf32>
    %d = lmc.param_ref @dead : tensor<4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<16x4xf32>, tensor<?x?xi32>
    %unused = lmc.bias_add %x, %d : tensor<?x?x4xf32>, tensor<4xf32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests a loss that is a parameter itself: its gradient is the seed.

// CHECK-LABEL: lmc.model @scalar_param
// CHECK:         func.func @forward_grad({{.+}}) -> (tensor<f32>, tensor<f32> {lmc.grad_of = @s})
// CHECK-NEXT:      %[[S:.+]] = lmc.param_ref @s : tensor<f32>
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:      return %[[S]], %[[ONE]] : tensor<f32>, tensor<f32>
lmc.model @scalar_param {
  lmc.param @s : tensor<f32> init(ones)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %s = lmc.param_ref @s : tensor<f32>
    return %s : tensor<f32>
  }
}

// -----

// Tests that a body-less declaration of @forward_grad (e.g. for a driver that
// calls it) is replaced by the definition, which the call then reaches.

// CHECK-LABEL: lmc.model @declared
// CHECK-NOT:     func.func private @forward_grad
// CHECK:         func.func @forward_grad(%{{.+}}: tensor<?x?xi32>, %{{.+}}: tensor<?x?xi32>) -> (tensor<f32>, tensor<16x4xf32> {lmc.grad_of = @w}) {
// CHECK:           lmc.embedding_grad
// CHECK-NOT:     func.func private @forward_grad
// CHECK:         func.func @driver
// CHECK-NEXT:      call @forward_grad
lmc.model @declared {
  lmc.param @w : tensor<16x4xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %w = lmc.param_ref @w : tensor<16x4xf32>
    %x = lmc.embedding %w[%tokens] : tensor<16x4xf32>, tensor<?x?xi32>
    %loss = lmc.cross_entropy %x, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func private @forward_grad(tensor<?x?xi32>, tensor<?x?xi32>) -> (tensor<f32>, tensor<16x4xf32>)
  func.func @driver(%t: tensor<?x?xi32>) -> tensor<16x4xf32> {
    %l, %g = func.call @forward_grad(%t, %t) : (tensor<?x?xi32>, tensor<?x?xi32>) -> (tensor<f32>, tensor<16x4xf32>)
    return %g : tensor<16x4xf32>
  }
}

// -----

//===----------------------------------------------------------------------===//
// Recompute policy block
//===----------------------------------------------------------------------===//

// Tests recompute=block on a LayerNorm -> linear -> gelu -> linear block:
// only the LayerNorm input (and parameters, arguments) are read from the
// forward pass; the layer_norm, the first matmul and the gelu are recloned
// right before the rules that read them. With recompute=none the rules read
// the forward values.

// CHECK-LABEL: lmc.model @mlp
// CHECK:         func.func @forward_grad
// CHECK:           %[[LN:.+]] = lmc.layer_norm
// CHECK-NEXT:      %[[H:.+]] = lmc.matmul %[[LN]], %{{.+}} : tensor<2x3x8xf32>, tensor<8x16xf32>
// CHECK-NEXT:      %[[G:.+]] = lmc.gelu %[[H]] tanh
// CHECK:           arith.constant dense<1.0
// CHECK-NOT:       lmc.layer_norm
// CHECK-NOT:       lmc.gelu
// CHECK:           lmc.flatten %[[G]]
// CHECK:           lmc.gelu_grad %[[H]], %{{.+}} tanh
// CHECK:           lmc.flatten %[[LN]]
// CHECK:           return

// BLOCK-LABEL: lmc.model @mlp
// BLOCK:         func.func @forward_grad
// BLOCK-NEXT:      %[[X:.+]] = lmc.param_ref @x
// BLOCK-NEXT:      %[[W:.+]] = lmc.param_ref @w
// BLOCK-NEXT:      %[[B:.+]] = lmc.param_ref @b
// BLOCK-NEXT:      %[[W1:.+]] = lmc.param_ref @w1
// BLOCK-NEXT:      %[[W2:.+]] = lmc.param_ref @w2
// BLOCK-NEXT:      %[[LN:.+]] = lmc.layer_norm %[[X]], %[[W]], %[[B]]
// BLOCK-NEXT:      %[[H:.+]] = lmc.matmul %[[LN]], %[[W1]]
// BLOCK-NEXT:      %[[G:.+]] = lmc.gelu %[[H]] tanh
// BLOCK-NEXT:      %[[O:.+]] = lmc.matmul %[[G]], %[[W2]]
// BLOCK-NEXT:      %[[L:.+]] = lmc.cross_entropy %[[O]]
// BLOCK-NEXT:      %[[ONE:.+]] = arith.constant
// The loss rule reads the logits: recomputed from the checkpoint %X.
// BLOCK-NEXT:      %[[LN2:.+]] = lmc.layer_norm %[[X]], %[[W]], %[[B]]
// BLOCK-NEXT:      %[[H2:.+]] = lmc.matmul %[[LN2]], %[[W1]]
// BLOCK-NEXT:      %[[G2:.+]] = lmc.gelu %[[H2]] tanh
// BLOCK-NEXT:      %[[O2:.+]] = lmc.matmul %[[G2]], %[[W2]]
// BLOCK-NEXT:      %[[DO:.+]] = lmc.cross_entropy_grad %[[O2]], %{{.+}}, %[[ONE]]
// Recomputed values are reused by later rules.
// BLOCK-NEXT:      %[[DG:.+]] = lmc.matmul %[[DO]], %[[W2]] transpose_b
// BLOCK-NEXT:      %[[FG:.+]] = lmc.flatten %[[G2]]
// BLOCK-NEXT:      %[[FDO:.+]] = lmc.flatten %[[DO]]
// BLOCK-NEXT:      %[[DW2:.+]] = lmc.matmul %[[FG]], %[[FDO]] transpose_a
// BLOCK-NEXT:      %[[DH:.+]] = lmc.gelu_grad %[[H2]], %[[DG]] tanh
// BLOCK-NEXT:      %[[DLN:.+]] = lmc.matmul %[[DH]], %[[W1]] transpose_b
// BLOCK-NEXT:      %[[FLN:.+]] = lmc.flatten %[[LN2]]
// BLOCK-NEXT:      %[[FDH:.+]] = lmc.flatten %[[DH]]
// BLOCK-NEXT:      %[[DW1:.+]] = lmc.matmul %[[FLN]], %[[FDH]] transpose_a
// BLOCK-NEXT:      %[[DX:.+]], %[[DW:.+]], %[[DB:.+]] = lmc.layer_norm_grad %[[X]], %[[W]], %[[DLN]]
// BLOCK-NEXT:      return %[[L]], %[[DX]], %[[DW]], %[[DB]], %[[DW1]], %[[DW2]]
lmc.model @mlp {
  lmc.param @x : tensor<2x3x8xf32> init(normal, std = 1.0)
  lmc.param @w : tensor<8xf32> init(ones)
  lmc.param @b : tensor<8xf32> init(zeros)
  lmc.param @w1 : tensor<8x16xf32> init(normal, std = 1.0)
  lmc.param @w2 : tensor<16x8xf32> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %x = lmc.param_ref @x : tensor<2x3x8xf32>
    %w = lmc.param_ref @w : tensor<8xf32>
    %b = lmc.param_ref @b : tensor<8xf32>
    %w1 = lmc.param_ref @w1 : tensor<8x16xf32>
    %w2 = lmc.param_ref @w2 : tensor<16x8xf32>
    %ln = lmc.layer_norm %x, %w, %b eps(1.0e-5) : tensor<2x3x8xf32>, tensor<8xf32>
    %h = lmc.matmul %ln, %w1 : tensor<2x3x8xf32>, tensor<8x16xf32>
    %g = lmc.gelu %h tanh : tensor<2x3x16xf32>
    %o = lmc.matmul %g, %w2 : tensor<2x3x16xf32>, tensor<16x8xf32>
    %loss = lmc.cross_entropy %o, %targets : tensor<2x3x8xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

//===----------------------------------------------------------------------===//
// The tiny preset under the three recompute policies
//===----------------------------------------------------------------------===//

// recompute=none: attention is decomposed in the gradient function (the
// forward function keeps it), each layer's softmax output is computed once
// and read by that layer's softmax_grad; the gradient of the tied wte is the
// head's gradient plus the embedding's.

// TINY-NONE-LABEL: func.func @forward(
// TINY-NONE-COUNT-2: lmc.causal_attention
// TINY-NONE-LABEL: func.func @forward_grad(
// TINY-NONE-SAME:    -> (tensor<f32>, tensor<256x64xf32> {lmc.grad_of = @wte.weight}, tensor<64x64xf32> {lmc.grad_of = @wpe.weight}, tensor<64xf32> {lmc.grad_of = @h.0.ln_1.weight},
// TINY-NONE-SAME:    tensor<64xf32> {lmc.grad_of = @ln_f.bias})
// TINY-NONE-NOT:     lmc.causal_attention
// TINY-NONE:         %[[P0:.+]] = lmc.softmax %{{.+}} : tensor<?x2x?x?xf32>
// TINY-NONE:         %[[P1:.+]] = lmc.softmax %{{.+}} : tensor<?x2x?x?xf32>
// TINY-NONE-NOT:     lmc.softmax %
// TINY-NONE:         %[[LOSS:.+]] = lmc.cross_entropy
// TINY-NONE-NEXT:    arith.constant dense<1.000000e+00> : tensor<f32>
// TINY-NONE-NOT:     lmc.softmax %
// TINY-NONE:         lmc.softmax_grad %[[P1]], %{{.+}} : tensor<?x2x?x?xf32>
// TINY-NONE-NOT:     lmc.softmax %
// TINY-NONE:         lmc.softmax_grad %[[P0]], %{{.+}} : tensor<?x2x?x?xf32>
// TINY-NONE-NOT:     lmc.softmax %
// TINY-NONE:         %[[DWPE:.+]] = lmc.position_embedding_grad %{{.+}} : tensor<?x?x64xf32> -> tensor<64x64xf32>
// TINY-NONE-NEXT:    %[[DEMB:.+]] = lmc.embedding_grad %{{.+}}[%{{.+}}] : tensor<?x?x64xf32>, tensor<?x?xi32> -> tensor<256x64xf32>
// TINY-NONE-NEXT:    %[[DWTE:.+]] = lmc.add %{{.+}}, %[[DEMB]] : tensor<256x64xf32>
// TINY-NONE-NEXT:    return %[[LOSS]], %[[DWTE]], %[[DWPE]], {{.+}} : tensor<f32>, tensor<256x64xf32>, tensor<64x64xf32>,

// recompute=attention: causal_attention stays one op; after the forward pass
// each layer's rule recomputes the scores q k^T, scales, masks and takes the
// softmax again, which its softmax_grad reads.

// TINY-ATT-LABEL: func.func @forward_grad(
// TINY-ATT:         %[[QKV0:.+]]:3 = lmc.split
// TINY-ATT:         lmc.causal_attention %[[QKV0]]#0, %[[QKV0]]#1, %[[QKV0]]#2 heads(2)
// TINY-ATT:         %[[QKV1:.+]]:3 = lmc.split
// TINY-ATT:         lmc.causal_attention %[[QKV1]]#0, %[[QKV1]]#1, %[[QKV1]]#2 heads(2)
// TINY-ATT-NOT:     lmc.softmax
// TINY-ATT:         %[[LOSS:.+]] = lmc.cross_entropy
// TINY-ATT-NEXT:    arith.constant dense<1.000000e+00> : tensor<f32>
// Layer 1 first.
// TINY-ATT:         %[[Q1:.+]] = lmc.split_heads %[[QKV1]]#0 heads(2)
// TINY-ATT-NEXT:    %[[K1:.+]] = lmc.split_heads %[[QKV1]]#1 heads(2)
// TINY-ATT-NEXT:    %[[V1:.+]] = lmc.split_heads %[[QKV1]]#2 heads(2)
// TINY-ATT-NEXT:    %[[S1:.+]] = lmc.matmul %[[Q1]], %[[K1]] transpose_b : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
// TINY-ATT-NEXT:    %[[SS1:.+]] = lmc.scale %[[S1]] by 0.1767766{{[0-9]*}} : tensor<?x2x?x?xf32>
// TINY-ATT-NEXT:    %[[M1:.+]] = lmc.causal_mask %[[SS1]] : tensor<?x2x?x?xf32>
// TINY-ATT-NEXT:    %[[P1:.+]] = lmc.softmax %[[M1]] : tensor<?x2x?x?xf32>
// TINY-ATT:         lmc.softmax_grad %[[P1]], %{{.+}}
// TINY-ATT:         %[[Q0:.+]] = lmc.split_heads %[[QKV0]]#0 heads(2)
// TINY-ATT:         %[[P0:.+]] = lmc.softmax %{{.+}} : tensor<?x2x?x?xf32>
// TINY-ATT:         lmc.softmax_grad %[[P0]], %{{.+}}
// TINY-ATT-NOT:     lmc.softmax
// TINY-ATT:         return %[[LOSS]]

// attention=flash: each layer's attention is one flash_attention in the
// forward pass and one flash_attention_grad reading its output and lse in
// the backward pass (layer 1 first); no softmax or causal mask remains, and
// the bytes kept drop by the two layers' [B, 2, T, T] probabilities,
// gaining their [B, 2, T] lse (2,752,512 bytes decomposed).

// TINY-FLASH-LABEL: func.func @forward_grad(
// TINY-FLASH-NOT:     lmc.causal_attention
// TINY-FLASH-NOT:     lmc.softmax
// TINY-FLASH-NOT:     lmc.causal_mask
// TINY-FLASH:         %[[QKV0:.+]]:3 = lmc.split
// TINY-FLASH:         %[[Y0:.+]], %[[LSE0:.+]] = lmc.flash_attention %[[QKV0]]#0, %[[QKV0]]#1, %[[QKV0]]#2 heads(2) : tensor<?x?x64xf32> -> tensor<?x2x?xf32>
// TINY-FLASH:         %[[QKV1:.+]]:3 = lmc.split
// TINY-FLASH:         %[[Y1:.+]], %[[LSE1:.+]] = lmc.flash_attention %[[QKV1]]#0, %[[QKV1]]#1, %[[QKV1]]#2 heads(2)
// TINY-FLASH:         lmc.cross_entropy_grad
// TINY-FLASH:         lmc.flash_attention_grad %[[QKV1]]#0, %[[QKV1]]#1, %[[QKV1]]#2, %[[Y1]], %[[LSE1]], %{{.+}} heads(2)
// TINY-FLASH:         lmc.flash_attention_grad %[[QKV0]]#0, %[[QKV0]]#1, %[[QKV0]]#2, %[[Y0]], %[[LSE0]], %{{.+}} heads(2)
// TINY-FLASH-NOT:     lmc.flash_attention
// TINY-FLASH-NOT:     lmc.causal_attention
// TINY-FLASH-NOT:     lmc.softmax
// TINY-FLASH-NOT:     lmc.causal_mask
// TINY-FLASH:         return

// REPORT-FLASH: lmc-autodiff @tiny recompute=none: 25 values, 2494464 bytes kept for the backward pass at batch 4, sequence 64

// recompute=block: the forward ops of each sub-block are recloned in the
// backward pass from the LayerNorm inputs: after the seed come a layer_norm
// (ln_f), a matmul with wte (the head) and, per layer, its LayerNorms,
// linear layers, gelu and attention again. The forward part has 5 layer_norm
// ops and the backward 5 more.

// TINY-BLOCK-LABEL: func.func @forward_grad(
// TINY-BLOCK:         %[[WTE:.+]] = lmc.param_ref @wte.weight
// TINY-BLOCK:         %[[X0:.+]] = lmc.add
// TINY-BLOCK:         lmc.layer_norm %[[X0]],
// TINY-BLOCK:         %[[X1:.+]] = lmc.add %[[X0]],
// TINY-BLOCK:         lmc.layer_norm %[[X1]],
// TINY-BLOCK:         %[[X2:.+]] = lmc.add %[[X1]],
// TINY-BLOCK:         lmc.layer_norm %[[X2]],
// TINY-BLOCK:         %[[X3:.+]] = lmc.add %[[X2]],
// TINY-BLOCK:         lmc.layer_norm %[[X3]],
// TINY-BLOCK:         %[[X4:.+]] = lmc.add %[[X3]],
// TINY-BLOCK-NEXT:    %[[LNFW:.+]] = lmc.param_ref @ln_f.weight
// TINY-BLOCK-NEXT:    %[[LNFB:.+]] = lmc.param_ref @ln_f.bias
// TINY-BLOCK-NEXT:    lmc.layer_norm %[[X4]], %[[LNFW]], %[[LNFB]]
// TINY-BLOCK-NEXT:    lmc.matmul
// TINY-BLOCK-NEXT:    %[[LOSS:.+]] = lmc.cross_entropy
// TINY-BLOCK-NEXT:    %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// TINY-BLOCK-NEXT:    %[[LNF2:.+]] = lmc.layer_norm %[[X4]], %[[LNFW]], %[[LNFB]]
// TINY-BLOCK-NEXT:    %[[LOGITS2:.+]] = lmc.matmul %[[LNF2]], %[[WTE]] transpose_b
// TINY-BLOCK-NEXT:    lmc.cross_entropy_grad %[[LOGITS2]], %{{.+}}, %[[ONE]]
// Layer 1's MLP, then its attention, then layer 0's.
// TINY-BLOCK:         lmc.layer_norm %[[X3]],
// TINY-BLOCK:         lmc.gelu %
// TINY-BLOCK:         lmc.layer_norm %[[X2]],
// TINY-BLOCK:         lmc.causal_attention
// TINY-BLOCK:         lmc.layer_norm %[[X1]],
// TINY-BLOCK:         lmc.gelu %
// TINY-BLOCK:         lmc.layer_norm %[[X0]],
// TINY-BLOCK:         lmc.causal_attention
// TINY-BLOCK-NOT:     lmc.layer_norm %
// TINY-BLOCK:         return %[[LOSS]]

// The report: values and bytes kept for the backward pass at batch 4,
// sequence 64 (f32, C = 64, 2 heads, MLP width 256, vocabulary 256).
// none, per layer: the LayerNorm inputs and outputs (4 x [B,T,C]), the
// attention output (1 x [B,T,C]), the split q, k, v heads (3 x [B,2,T,32]),
// the probabilities [B,2,T,T] and the MLP activations (2 x [B,T,256]):
// 11 values, 8 x 65536 + 131072 + 2 x 262144 = 1179648 bytes; plus ln_f's
// input and output and the logits: 65536 + 65536 + 262144. Total 25 values,
// 2 x 1179648 + 393216 = 2752512 bytes.
// attention, per layer: q, k and v instead of their heads and no
// probabilities: 10 values, 8 x 65536 + 2 x 262144 = 1048576 bytes; total 23
// values, 2 x 1048576 + 393216 = 2490368 bytes.
// block: the 5 LayerNorm inputs x0..x4, [4,64,64] f32 each:
// 5 x 65536 = 327680 bytes.
// At batch 1, sequence 8 (none): [1,8,64] is 2048 bytes, [1,2,8,32] 2048,
// [1,2,8,8] 512 and [1,8,256] 8192: 2 x (8 x 2048 + 512 + 2 x 8192) +
// 2048 + 2048 + 8192 = 78848 bytes.

// REPORT-NONE: lmc-autodiff @tiny recompute=none: 25 values, 2752512 bytes kept for the backward pass at batch 4, sequence 64
// REPORT-ATT: lmc-autodiff @tiny recompute=attention: 23 values, 2490368 bytes kept for the backward pass at batch 4, sequence 64
// REPORT-BLOCK: lmc-autodiff @tiny recompute=block: 5 values, 327680 bytes kept for the backward pass at batch 4, sequence 64
// REPORT-SMALL: lmc-autodiff @tiny recompute=none: 25 values, 78848 bytes kept for the backward pass at batch 1, sequence 8
// NO-REPORT-NOT: lmc-autodiff

// -----

// Tests the rules of rms_norm (rms_norm_grad on the forward input and
// weight, its input gradient flowing on, its weight gradient a parameter
// gradient) and rope (the inverse rotation at the same offset). Under the
// block policy the input of the rms_norm (a normalisation: the residual
// stream in a Llama block) is kept, and the norm, the rope and what follows
// are recomputed from it.

// CHECK-LABEL: lmc.model @rms_rope
// CHECK:         func.func @forward_grad
// CHECK:           %[[X:.+]] = lmc.silu %[[E:[^ ]+]] :
// CHECK-NEXT:      %[[H:.+]] = lmc.rms_norm %[[X]], %[[W:[^ ]+]] eps(1.000000e-05)
// CHECK-NEXT:      lmc.rope %[[H]] head_dim(4) theta(1.000000e+04) offset(%[[OFF:[^)]+]]) :
// CHECK:           %[[DR:.+]] = lmc.rope %{{.+}} head_dim(4) theta(1.000000e+04) offset(%[[OFF]]) inverse :
// CHECK-NEXT:      %[[DX:.+]], %[[DW:.+]] = lmc.rms_norm_grad %[[X]], %[[W]], %[[DR]] eps(1.000000e-05)
// CHECK-NEXT:      lmc.silu_grad %[[E]], %[[DX]]
// CHECK:           return %{{.+}}, %{{.+}}, %[[DW]]
// BLOCK-LABEL: lmc.model @rms_rope
// BLOCK:         func.func @forward_grad
// BLOCK:           %[[X:.+]] = lmc.silu
// BLOCK:           lmc.cross_entropy %
// BLOCK-NEXT:      arith.constant dense<1.000000e+00>
// BLOCK-NEXT:      %[[H:.+]] = lmc.rms_norm %[[X]], %{{.+}} eps(1.000000e-05)
// BLOCK-NEXT:      lmc.rope %[[H]] head_dim(4) theta(1.000000e+04) offset(%{{.+}}) :
// BLOCK:           %[[DR:.+]] = lmc.rope %{{.+}} inverse :
// BLOCK-NEXT:      lmc.rms_norm_grad %[[X]], %{{.+}}, %[[DR]]
// BLOCK-NEXT:      lmc.embedding
// BLOCK-NEXT:      lmc.silu_grad
lmc.model @rms_rope {
  lmc.param @"wte.weight" : tensor<16x8xf32> init(normal, std = 2.000000e-02)
  lmc.param @"norm.weight" : tensor<8xf32> init(ones)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @"wte.weight" : tensor<16x8xf32>
    %w = lmc.param_ref @"norm.weight" : tensor<8xf32>
    %e = lmc.embedding %wte[%tokens] : tensor<16x8xf32>, tensor<?x?xi32>
    %x = lmc.silu %e : tensor<?x?x8xf32>
    %h = lmc.rms_norm %x, %w eps(1.000000e-05) : tensor<?x?x8xf32>, tensor<8xf32>
    %off = arith.constant 5 : index
    %r = lmc.rope %h head_dim(4) theta(1.000000e+04) offset(%off) : tensor<?x?x8xf32>
    %logits = lmc.matmul %r, %wte transpose_b : tensor<?x?x8xf32>, tensor<16x8xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
