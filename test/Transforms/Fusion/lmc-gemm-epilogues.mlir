// RUN: lmc-opt %s --lmc-gemm-epilogues=report -split-input-file | FileCheck %s

// Tests that the whole bias + GELU group of an MLP's first layer goes into
// the GEMM (activation and pre-activation), that a top-level bias add after
// a linear layer folds, and that the report counts the kernels.

// CHECK-LABEL: lmc-gemm-epilogues: @m mlp: 4 kernels before, 2 after (1 bias, 1 bias + gelu epilogues)
// CHECK-LABEL: func.func @mlp
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[W:.+]]: tensor<64x256xf32>, %[[B:.+]]: tensor<256xf32>, %[[W2:.+]]: tensor<256x64xf32>, %[[B2:.+]]: tensor<64xf32>)
// CHECK-NEXT:    %[[H:.+]], %[[PRE:.+]] = lmc.matmul_bias %[[X]], %[[W]], %[[B]] gelu(tanh) : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x?x256xf32>, tensor<?x?x256xf32>
// CHECK-NEXT:    %[[Y:.+]] = lmc.matmul_bias %[[H]], %[[W2]], %[[B2]] : tensor<?x?x256xf32>, tensor<256x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
// CHECK-NEXT:    return %[[Y]], %[[PRE]]
lmc.model @m {
  func.func @mlp(%x: tensor<?x?x64xf32>, %w: tensor<64x256xf32>, %b: tensor<256xf32>, %w2: tensor<256x64xf32>, %b2: tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x256xf32>) {
    %h = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x256xf32>
    %g:2 = lmc.fused "gelu" (%a = %h, %c = %b) : (tensor<?x?x256xf32>, tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
      %0 = lmc.bias_add %a, %c : tensor<?x?x256xf32>, tensor<256xf32>
      %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
      lmc.yield %0, %1 : tensor<?x?x256xf32>, tensor<?x?x256xf32>
    }
    %q = lmc.matmul %g#1, %w2 : tensor<?x?x256xf32>, tensor<256x64xf32>
    %y = lmc.bias_add %q, %b2 : tensor<?x?x64xf32>, tensor<64xf32>
    return %y, %g#0 : tensor<?x?x64xf32>, tensor<?x?x256xf32>
  }
}

// -----

// Tests that the bias add opening a residual add + LayerNorm group moves
// into the GEMM (with transpose_b): the group keeps the rest and reads the
// biased sum; the bias operand it no longer reads is dropped.

// CHECK-LABEL: func.func @proj
// CHECK:         %[[P:.+]] = lmc.matmul_bias %{{.+}}, %{{.+}}, %[[B:.+]] transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>
// CHECK-NEXT:    %{{.+}}:2 = lmc.fused "layer_norm" (%[[A:.+]] = %[[P]], %[[R:.+]] = %{{.+}}, %[[LW:.+]] = %{{.+}}, %[[LB:.+]] = %{{.+}}) : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
// CHECK-NEXT:      %[[S:.+]] = lmc.add %[[A]], %[[R]]
// CHECK-NEXT:      lmc.layer_norm %[[S]], %[[LW]], %[[LB]]
// CHECK-NOT:     lmc.bias_add
lmc.model @m {
  func.func @proj(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %b: tensor<64xf32>, %r: tensor<?x?x64xf32>, %lw: tensor<64xf32>, %lb: tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
    %h = lmc.matmul %x, %w transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %g:2 = lmc.fused "layer_norm" (%a = %h, %c = %b, %res = %r, %nw = %lw, %nb = %lb) : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
      %0 = lmc.bias_add %a, %c : tensor<?x?x64xf32>, tensor<64xf32>
      %1 = lmc.add %0, %res : tensor<?x?x64xf32>
      %2 = lmc.layer_norm %1, %nw, %nb eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
      lmc.yield %1, %2 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
    }
    return %g#0, %g#1 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  }
}

// -----

// Tests that an exact (erf) GELU is never folded: the bias add alone goes
// into the GEMM and the GELU stays a kernel.

// CHECK-LABEL: func.func @exact
// CHECK:         %[[P:.+]] = lmc.matmul_bias %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x?x64xf32>, tensor<64x256xf32>, tensor<256xf32> -> tensor<?x?x256xf32>
// CHECK-NOT:     gelu(
// CHECK:         lmc.gelu %[[P]] exact
lmc.model @m {
  func.func @exact(%x: tensor<?x?x64xf32>, %w: tensor<64x256xf32>, %b: tensor<256xf32>) -> tensor<?x?x256xf32> {
    %h = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x256xf32>
    %hb = lmc.bias_add %h, %b : tensor<?x?x256xf32>, tensor<256xf32>
    %g = lmc.gelu %hb exact : tensor<?x?x256xf32>
    return %g : tensor<?x?x256xf32>
  }
}

// -----

// Tests the cases that are not folded: a GEMM result with a second user,
// a batched product (attention), transpose_a (a weight gradient), a bias
// add after a collective (a row-parallel layer's all_reduce), a float64
// layer, and a group whose block argument for the GEMM has another use.

// CHECK-LABEL: lmc-gemm-epilogues: @m notfolded: 12 kernels before, 12 after (0 bias, 0 bias + gelu epilogues)
// CHECK-LABEL: func.func @notfolded
// CHECK-NOT:     lmc.matmul_bias
// CHECK:         return
lmc.model @m attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @notfolded(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %b: tensor<64xf32>,
                       %q: tensor<?x2x?x32xf32>, %k: tensor<?x2x?x32xf32>, %bt: tensor<32xf32>,
                       %g: tensor<?x64xf32>, %xd: tensor<?x64xf64>, %wd: tensor<64x64xf64>, %bd: tensor<64xf64>)
      -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<64x64xf32>, tensor<?x?x64xf32>, tensor<?x64xf64>, tensor<?x?x64xf32>) {
    // A second user of the GEMM result.
    %h = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
    %hb = lmc.bias_add %h, %b : tensor<?x?x64xf32>, tensor<64xf32>
    // Batched.
    %s = lmc.matmul %q, %k : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
    %sb = lmc.bias_add %s, %bt : tensor<?x2x?x32xf32>, tensor<32xf32>
    // transpose_a.
    %dw = lmc.matmul %g, %g transpose_a : tensor<?x64xf32>, tensor<?x64xf32>
    %dwb = lmc.bias_add %dw, %b : tensor<64x64xf32>, tensor<64xf32>
    // After a collective.
    %p = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
    %ar = lmc.all_reduce %p over ["tp"] : tensor<?x?x64xf32>
    %arb = lmc.bias_add %ar, %b : tensor<?x?x64xf32>, tensor<64xf32>
    // Float64.
    %d = lmc.matmul %xd, %wd : tensor<?x64xf64>, tensor<64x64xf64>
    %db = lmc.bias_add %d, %bd : tensor<?x64xf64>, tensor<64xf64>
    // The group reads the GEMM result twice.
    %m = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
    %r = lmc.fused "elementwise" (%a = %m, %c = %b) : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32> {
      %0 = lmc.bias_add %a, %c : tensor<?x?x64xf32>, tensor<64xf32>
      %1 = lmc.add %0, %a : tensor<?x?x64xf32>
      lmc.yield %1 : tensor<?x?x64xf32>
    }
    return %hb, %h, %sb, %dwb, %arb, %db, %r : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<64x64xf32>, tensor<?x?x64xf32>, tensor<?x64xf64>, tensor<?x?x64xf32>
  }
}

// -----

// Tests that a top-level tanh GELU of a folded bias add folds too, while
// the pre-activation keeps its other user.

// CHECK-LABEL: func.func @toplevel
// CHECK-NEXT:    %[[H:.+]], %[[PRE:.+]] = lmc.matmul_bias %{{.+}}, %{{.+}}, %{{.+}} gelu(tanh)
// CHECK-NEXT:    %[[S:.+]] = lmc.scale %[[PRE]]
// CHECK-NEXT:    return %[[H]], %[[S]]
lmc.model @m {
  func.func @toplevel(%x: tensor<?x64xf32>, %w: tensor<64x256xf32>, %b: tensor<256xf32>) -> (tensor<?x256xf32>, tensor<?x256xf32>) {
    %h = lmc.matmul %x, %w : tensor<?x64xf32>, tensor<64x256xf32>
    %hb = lmc.bias_add %h, %b : tensor<?x256xf32>, tensor<256xf32>
    %g = lmc.gelu %hb tanh : tensor<?x256xf32>
    %s = lmc.scale %hb by 2.000000e+00 : tensor<?x256xf32>
    return %g, %s : tensor<?x256xf32>, tensor<?x256xf32>
  }
}
