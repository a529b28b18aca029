// RUN: lmc-opt %s --lmc-bf16-storage -split-input-file | FileCheck %s

// Tests that a weight read by a forward and a backward GEMM is converted
// once, at the top of the function, by a group of its own; that both GEMMs
// read the bfloat16 copy and the other operands are converted where they
// are defined; that the GEMM outputs (a returned activation gradient, a
// weight gradient) stay float32; and that the float32 weight is still what
// the function returns (the master copy).

// CHECK-LABEL: func.func @weight_once
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %[[W:.+]]: tensor<64x64xf32>, %[[DY:.+]]: tensor<?x?x64xf32>)
// CHECK-NEXT:    %[[DYB:.+]] = lmc.fused "to_bf16" (%[[A:.+]] = %[[DY]]) : (tensor<?x?x64xf32>) -> tensor<?x?x64xbf16> {
// CHECK-NEXT:      %[[C:.+]] = lmc.convert %[[A]] : tensor<?x?x64xf32> -> tensor<?x?x64xbf16>
// CHECK-NEXT:      lmc.yield %[[C]] : tensor<?x?x64xbf16>
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[WB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %[[W]]) : (tensor<64x64xf32>) -> tensor<64x64xbf16>
// CHECK:         lmc.scale %[[X]]
// CHECK-NEXT:    %[[XB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %{{.+}}) : (tensor<?x?x64xf32>) -> tensor<?x?x64xbf16>
// CHECK:         %[[Y:.+]] = lmc.matmul %[[XB]], %[[WB]] : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    %[[DX:.+]] = lmc.matmul %[[DYB]], %[[WB]] transpose_b : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    %[[DW:.+]] = lmc.matmul %[[XB]], %[[DYB]] transpose_a : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
// CHECK-NEXT:    return %[[Y]], %[[DX]], %[[DW]], %[[W]] : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x64x64xf32>, tensor<64x64xf32>
// CHECK-NOT:     lmc.convert
func.func @weight_once(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %dy: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x64x64xf32>, tensor<64x64xf32>) {
  %x1 = lmc.scale %x by 1.0e+00 : tensor<?x?x64xf32>
  %y = lmc.matmul %x1, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
  %dx = lmc.matmul %dy, %w transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
  %dw = lmc.matmul %x1, %dy transpose_a : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  return %y, %dx, %dw, %w : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x64x64xf32>, tensor<64x64xf32>
}

// -----

// Tests that a group's result read by a GEMM and by another group, whose
// result only GEMMs read, is stored as bfloat16 (the group rounds at its
// yield), and that the group reading it extends it after its block
// argument; the matmul_bias writes its activation and its pre-activation
// (read by a group whose result only a GEMM reads) as bfloat16, together,
// and reads its bias as bfloat16 then: one conversion of the bias at the
// top of the function.

// CHECK-LABEL: func.func @group_to_gemm_and_group
// CHECK-SAME:    (%{{.+}}: tensor<?x?x64xf32>, %{{.+}}: tensor<64x64xf32>, %[[B:.+]]: tensor<64xf32>, %{{.+}}: tensor<64x64xf32>)
// CHECK:         %[[BB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %[[B]]) : (tensor<64xf32>) -> tensor<64xbf16>
// CHECK:         %[[G:.+]] = lmc.fused "gelu" (%[[A:.+]] = %{{.+}}) : (tensor<?x?x64xf32>) -> tensor<?x?x64xbf16> {
// CHECK-NEXT:      %[[E:.+]] = lmc.gelu %[[A]] tanh : tensor<?x?x64xf32>
// CHECK-NEXT:      %[[R:.+]] = lmc.convert %[[E]] : tensor<?x?x64xf32> -> tensor<?x?x64xbf16>
// CHECK-NEXT:      lmc.yield %[[R]] : tensor<?x?x64xbf16>
// CHECK:         %[[K:.+]] = lmc.fused "scale" (%[[B2:.+]] = %[[G]]) : (tensor<?x?x64xbf16>) -> tensor<?x?x64xbf16> {
// CHECK-NEXT:      %[[BE:.+]] = lmc.convert %[[B2]] : tensor<?x?x64xbf16> -> tensor<?x?x64xf32>
// CHECK-NEXT:      %[[S:.+]] = lmc.scale %[[BE]] by 2.000000e+00 : tensor<?x?x64xf32>
// CHECK-NEXT:      %[[SR:.+]] = lmc.convert %[[S]] : tensor<?x?x64xf32> -> tensor<?x?x64xbf16>
// CHECK-NEXT:      lmc.yield %[[SR]] : tensor<?x?x64xbf16>
// CHECK:         %[[H:.+]], %[[PRE:.+]] = lmc.matmul_bias %[[G]], %{{.+}}, %[[BB]] gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xbf16> -> tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
// CHECK-NEXT:    %[[D:.+]] = lmc.fused "gelu_grad" (%{{.+}} = %[[PRE]]) : (tensor<?x?x64xbf16>) -> tensor<?x?x64xbf16>
// CHECK:         %[[M:.+]] = lmc.matmul %[[K]], %{{.+}} : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    %[[N:.+]] = lmc.matmul %[[H]], %{{.+}} : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    %[[O:.+]] = lmc.matmul %[[D]], %{{.+}} : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    return %[[M]], %[[N]], %[[O]]
func.func @group_to_gemm_and_group(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %b: tensor<64xf32>, %w2: tensor<64x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %g = lmc.fused "gelu" (%a = %x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
    %0 = lmc.gelu %a tanh : tensor<?x?x64xf32>
    lmc.yield %0 : tensor<?x?x64xf32>
  }
  %k = lmc.fused "scale" (%a = %g) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
    %0 = lmc.scale %a by 2.0e+00 : tensor<?x?x64xf32>
    lmc.yield %0 : tensor<?x?x64xf32>
  }
  %h, %pre = lmc.matmul_bias %g, %w, %b gelu(tanh) : tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %d = lmc.fused "gelu_grad" (%a = %pre) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
    %0 = lmc.scale %a by 5.0e-01 : tensor<?x?x64xf32>
    lmc.yield %0 : tensor<?x?x64xf32>
  }
  %m = lmc.matmul %k, %w2 : tensor<?x?x64xf32>, tensor<64x64xf32>
  %n = lmc.matmul %h, %w2 : tensor<?x?x64xf32>, tensor<64x64xf32>
  %o = lmc.matmul %d, %w2 : tensor<?x?x64xf32>, tensor<64x64xf32>
  return %m, %n, %o : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that a matmul_bias whose pre-activation must stay float32 (it is
// returned) keeps its activation float32 too, with its float32 bias (one
// epilogue writes both with one type): the GEMM reading the activation
// reads a converted copy.

// CHECK-LABEL: func.func @pre_activation_bound
// CHECK-SAME:    (%[[X:.+]]: tensor<?x?x64xf32>, %{{.+}}: tensor<64x64xf32>, %[[B:.+]]: tensor<64xf32>, %{{.+}}: tensor<64x64xf32>)
// CHECK:         %[[H:.+]], %[[PRE:.+]] = lmc.matmul_bias %{{.+}}, %{{.+}}, %[[B]] gelu(tanh) : tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>
// CHECK-NEXT:    %[[HB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %[[H]]) : (tensor<?x?x64xf32>) -> tensor<?x?x64xbf16>
// CHECK:         %[[N:.+]] = lmc.matmul %[[HB]], %{{.+}} : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    return %[[N]], %[[PRE]]
func.func @pre_activation_bound(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %b: tensor<64xf32>, %w2: tensor<64x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %h, %pre = lmc.matmul_bias %x, %w, %b gelu(tanh) : tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %n = lmc.matmul %h, %w2 : tensor<?x?x64xf32>, tensor<64x64xf32>
  return %n, %pre : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that lmc.flatten moves bfloat16: a stored activation's flattened
// view is bfloat16 too (no conversion), and a float32 value read by a GEMM
// directly and through a flatten is converted once, the flatten repeated on
// the converted copy (the float32 flatten, left without readers, goes).

// CHECK-LABEL: func.func @flatten_views
// CHECK-SAME:    (%{{.+}}: tensor<?x?x64xf32>, %{{.+}}: tensor<64x64xf32>, %[[DY:.+]]: tensor<?x?x64xf32>)
// CHECK:         %[[DYB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %[[DY]]) : (tensor<?x?x64xf32>) -> tensor<?x?x64xbf16>
// CHECK:         %[[G:.+]] = lmc.fused "scale" (%{{.+}} = %{{.+}}) : (tensor<?x?x64xf32>) -> tensor<?x?x64xbf16>
// CHECK:         %[[F:.+]] = lmc.flatten %[[G]] : tensor<?x?x64xbf16>
// CHECK-NEXT:    %[[DFB:.+]] = lmc.flatten %[[DYB]] : tensor<?x?x64xbf16>
// CHECK-NEXT:    %[[Y:.+]] = lmc.matmul %[[G]], %{{.+}} : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    %[[DX:.+]] = lmc.matmul %[[DYB]], %{{.+}} transpose_b : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    %[[DW:.+]] = lmc.matmul %[[F]], %[[DFB]] transpose_a : tensor<?x64xbf16>, tensor<?x64xbf16>
// CHECK-NEXT:    return %[[Y]], %[[DX]], %[[DW]]
// CHECK-NOT:     lmc.fused "to_bf16"
func.func @flatten_views(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %dy: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64x64xf32>) {
  %g = lmc.fused "scale" (%a = %x) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
    %0 = lmc.scale %a by 2.0e+00 : tensor<?x?x64xf32>
    lmc.yield %0 : tensor<?x?x64xf32>
  }
  %f = lmc.flatten %g : tensor<?x?x64xf32>
  %df = lmc.flatten %dy : tensor<?x?x64xf32>
  %y = lmc.matmul %g, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
  %dx = lmc.matmul %dy, %w transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
  %dw = lmc.matmul %f, %df transpose_a : tensor<?x64xf32>, tensor<?x64xf32>
  return %y, %dx, %dw : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64x64xf32>
}

// -----

// Tests that a value a group reduces into a gradient (a returned group
// result: a bias gradient) stays float32 although a GEMM reads it too: the
// group that writes it also writes the bfloat16 copy the GEMMs read (one
// more result, rounded in its body), and that a weight gradient GEMM's
// output summed by a group stays float32.

// CHECK-LABEL: func.func @reduced_into_gradient
// CHECK:         %[[DY:.+]]:2 = lmc.fused "gelu_grad" (%{{.+}} = %{{.+}}) : (tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xbf16>) {
// CHECK-NEXT:      %[[V:.+]] = lmc.scale
// CHECK-NEXT:      %[[VB:.+]] = lmc.convert %[[V]] : tensor<?x?x64xf32> -> tensor<?x?x64xbf16>
// CHECK-NEXT:      lmc.yield %[[V]], %[[VB]] : tensor<?x?x64xf32>, tensor<?x?x64xbf16>
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[DB:.+]] = lmc.fused "reduce_sum" (%{{.+}} = %[[DY]]#0) : (tensor<?x?x64xf32>) -> tensor<64xf32> {
// CHECK-NOT:       lmc.convert
// CHECK:         %[[DW1:.+]] = lmc.matmul %{{.+}}, %[[DY]]#1 transpose_a : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
// CHECK-NEXT:    %[[DW2:.+]] = lmc.matmul %{{.+}}, %[[DY]]#1 transpose_a : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
// CHECK-NEXT:    %[[DW:.+]] = lmc.fused "add" (%{{.+}} = %[[DW1]], %{{.+}} = %[[DW2]]) : (tensor<?x64x64xf32>, tensor<?x64x64xf32>) -> tensor<?x64x64xf32> {
// CHECK-NOT:       lmc.convert
// CHECK:         return %[[DB]], %[[DW]]
func.func @reduced_into_gradient(%x: tensor<?x?x64xf32>, %g: tensor<?x?x64xf32>) -> (tensor<64xf32>, tensor<?x64x64xf32>) {
  %dy = lmc.fused "gelu_grad" (%a = %g) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
    %0 = lmc.scale %a by 5.0e-01 : tensor<?x?x64xf32>
    lmc.yield %0 : tensor<?x?x64xf32>
  }
  %db = lmc.fused "reduce_sum" (%a = %dy) : (tensor<?x?x64xf32>) -> tensor<64xf32> {
    %0 = lmc.reduce_sum %a dims [0, 1] : tensor<?x?x64xf32>
    lmc.yield %0 : tensor<64xf32>
  }
  %dw1 = lmc.matmul %x, %dy transpose_a : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %dw2 = lmc.matmul %x, %dy transpose_a : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %dw = lmc.fused "add" (%a = %dw1, %b = %dw2) : (tensor<?x64x64xf32>, tensor<?x64x64xf32>) -> tensor<?x64x64xf32> {
    %0 = lmc.add %a, %b : tensor<?x64x64xf32>
    lmc.yield %0 : tensor<?x64x64xf32>
  }
  return %db, %dw : tensor<64xf32>, tensor<?x64x64xf32>
}

// -----

// Tests that a tied head weight read by the embedding and by the head's
// GEMMs is converted once for the GEMMs while the embedding reads the
// float32 table, and that a group result read by a row reduction outside
// groups (a softmax) stays float32, also for the GEMM next to it, which
// reads the bfloat16 copy the group writes too.

// CHECK-LABEL: func.func @tied_head
// CHECK-SAME:    (%[[WTE:.+]]: tensor<256x64xf32>, %[[IDS:.+]]: tensor<?x?xi32>, %[[DL:.+]]: tensor<?x?x256xf32>)
// CHECK:         %[[WB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %[[WTE]]) : (tensor<256x64xf32>) -> tensor<256x64xbf16>
// CHECK:         %[[E:.+]] = lmc.embedding %[[WTE]][%[[IDS]]] : tensor<256x64xf32>, tensor<?x?xi32>
// CHECK-NEXT:    %[[G:.+]]:2 = lmc.fused "scale" (%{{.+}} = %[[E]]) : (tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xbf16>) {
// CHECK-NOT:     lmc.fused "to_bf16"
// CHECK:         %[[S:.+]] = lmc.softmax %[[G]]#0 : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[L:.+]] = lmc.matmul %[[G]]#1, %[[WB]] transpose_b : tensor<?x?x64xbf16>, tensor<256x64xbf16>
// CHECK:         %[[DX:.+]] = lmc.matmul %{{.+}}, %[[WB]] : tensor<?x?x256xbf16>, tensor<256x64xbf16>
// CHECK-NEXT:    return %[[S]], %[[L]], %[[DX]]
func.func @tied_head(%wte: tensor<256x64xf32>, %ids: tensor<?x?xi32>, %dl: tensor<?x?x256xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x256xf32>, tensor<?x?x64xf32>) {
  %e = lmc.embedding %wte[%ids] : tensor<256x64xf32>, tensor<?x?xi32>
  %g = lmc.fused "scale" (%a = %e) : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
    %0 = lmc.scale %a by 2.0e+00 : tensor<?x?x64xf32>
    lmc.yield %0 : tensor<?x?x64xf32>
  }
  %s = lmc.softmax %g : tensor<?x?x64xf32>
  %l = lmc.matmul %g, %wte transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
  %dx = lmc.matmul %dl, %wte : tensor<?x?x256xf32>, tensor<256x64xf32>
  return %s, %l, %dx : tensor<?x?x64xf32>, tensor<?x?x256xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that a cross-entropy gradient outside groups (the GPU's row kernel)
// that only GEMMs read is stored as bfloat16 by the op itself, with no
// conversion of its own, while the logits it reads stay float32.

// CHECK-LABEL: func.func @cross_entropy_grad
// CHECK-SAME:    (%[[L:.+]]: tensor<?x?x256xf32>, %{{.+}}: tensor<?x?xi32>, %{{.+}}: tensor<f32>, %{{.+}}: tensor<256x64xf32>, %{{.+}}: tensor<?x?x64xf32>)
// CHECK-COUNT-2: lmc.fused "to_bf16"
// CHECK-NOT:     lmc.fused "to_bf16"
// CHECK:         %[[DL:.+]] = lmc.cross_entropy_grad %[[L]], %{{.+}}, %{{.+}} : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32> -> tensor<?x?x256xbf16>
// CHECK-NEXT:    lmc.matmul %[[DL]], %{{.+}} : tensor<?x?x256xbf16>, tensor<256x64xbf16>
// CHECK-NEXT:    lmc.matmul %[[DL]], %{{.+}} transpose_a : tensor<?x?x256xbf16>, tensor<?x?x64xbf16>
func.func @cross_entropy_grad(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>, %w: tensor<256x64xf32>, %x: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x256x64xf32>) {
  %dl = lmc.cross_entropy_grad %l, %t, %g : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  %dx = lmc.matmul %dl, %w : tensor<?x?x256xf32>, tensor<256x64xf32>
  %dw = lmc.matmul %dl, %x transpose_a : tensor<?x?x256xf32>, tensor<?x?x64xf32>
  return %dx, %dw : tensor<?x?x64xf32>, tensor<?x256x64xf32>
}

// -----

// Tests that a norm outside groups (the GPU's row kernel) whose output only
// GEMMs read, directly and through a flatten, stores it as bfloat16 itself,
// while its input stays float32.

// CHECK-LABEL: func.func @norm_to_gemms
// CHECK:         %[[Y:.+]] = lmc.layer_norm %{{.+}}, %{{.+}}, %{{.+}} eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
// CHECK-NEXT:    %[[F:.+]] = lmc.flatten %[[Y]] : tensor<?x?x64xbf16>
// CHECK-NEXT:    lmc.matmul %[[Y]], %{{.+}} : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    lmc.matmul %[[F]], %{{.+}} transpose_a : tensor<?x64xbf16>, tensor<?x64xbf16>
func.func @norm_to_gemms(%x: tensor<?x?x64xf32>, %g: tensor<64xf32>, %w: tensor<64x64xf32>, %dy: tensor<?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64x64xf32>) {
  %y = lmc.layer_norm %x, %g, %g eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32>
  %f = lmc.flatten %y : tensor<?x?x64xf32>
  %h = lmc.matmul %y, %w : tensor<?x?x64xf32>, tensor<64x64xf32>
  %dw = lmc.matmul %f, %dy transpose_a : tensor<?x64xf32>, tensor<?x64xf32>
  return %h, %dw : tensor<?x?x64xf32>, tensor<64x64xf32>
}

// -----

// Tests attention on bfloat16 activations: the QKV GEMM writes bfloat16
// (reading its bias as bfloat16), the split passes it through, attention
// reads bfloat16 queries, keys and values and writes a bfloat16 output that
// the projection GEMM and the gradient read; the GEMM that writes the
// output gradient, which only attention's gradient reads, writes it as
// bfloat16; the gradients are written as bfloat16, concatenated as such
// and read by the GEMM without conversion.

// CHECK-LABEL: func.func @attention
// CHECK:         %[[BB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %{{.+}}) : (tensor<192xf32>) -> tensor<192xbf16>
// CHECK:         %[[QKV:.+]] = lmc.matmul_bias %{{.+}}, %{{.+}}, %[[BB]] : tensor<?x?x64xbf16>, tensor<64x192xbf16>, tensor<192xbf16> -> tensor<?x?x192xbf16>
// CHECK-NEXT:    %[[S:.+]]:3 = lmc.split %[[QKV]] into 3 : tensor<?x?x192xbf16>
// CHECK-NEXT:    %[[Y:.+]], %[[LSE:.+]] = lmc.flash_attention %[[S]]#0, %[[S]]#1, %[[S]]#2 heads(2) : tensor<?x?x64xbf16> -> tensor<?x2x?xf32>
// CHECK-NEXT:    lmc.matmul %[[Y]], %{{.+}} : tensor<?x?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    %[[DOB:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_b : tensor<?x?x64xbf16>, tensor<64x64xbf16> -> tensor<?x?x64xbf16>
// CHECK-NEXT:    %[[DQ:[^,]+]], %[[DK:[^,]+]], %[[DV:[^,]+]] = lmc.flash_attention_grad %[[S]]#0, %[[S]]#1, %[[S]]#2, %[[Y]], %[[LSE]], %[[DOB]] heads(2) : tensor<?x?x64xbf16>, tensor<?x2x?xf32>{{$}}
// CHECK-NEXT:    %[[DQKV:.+]] = lmc.concat %[[DQ]], %[[DK]], %[[DV]] : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
// CHECK-NEXT:    lmc.matmul %[[DQKV]], %{{.+}} transpose_b : tensor<?x?x192xbf16>, tensor<64x192xbf16>
// CHECK-NOT:     lmc.fused "to_bf16"
// CHECK:         return
func.func @attention(%x: tensor<?x?x64xf32>, %w: tensor<64x192xf32>, %b: tensor<192xf32>, %wo: tensor<64x64xf32>, %dy: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %qkv = lmc.matmul_bias %x, %w, %b : tensor<?x?x64xf32>, tensor<64x192xf32>, tensor<192xf32> -> tensor<?x?x192xf32>
  %s:3 = lmc.split %qkv into 3 : tensor<?x?x192xf32>
  %y, %lse = lmc.flash_attention %s#0, %s#1, %s#2 heads(2) : tensor<?x?x64xf32> -> tensor<?x2x?xf32>
  %o = lmc.matmul %y, %wo : tensor<?x?x64xf32>, tensor<64x64xf32>
  %do = lmc.matmul %dy, %wo transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
  %g:3 = lmc.flash_attention_grad %s#0, %s#1, %s#2, %y, %lse, %do heads(2) : tensor<?x?x64xf32>, tensor<?x2x?xf32>
  %dqkv = lmc.concat %g#0, %g#1, %g#2 : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %dx = lmc.matmul %dqkv, %w transpose_b : tensor<?x?x192xf32>, tensor<64x192xf32>
  return %o, %dx : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests attention whose output and gradients must stay float32: the output
// is returned, and the concatenated gradients are reduced into a bias
// gradient. Attention still reads bfloat16 (the QKV argument is converted
// at the top, the float32 split repeated on the converted copy) and writes
// float32; the concat is float32 and converted as one value for the GEMM,
// not repeated on three converted gradients.

// CHECK-LABEL: func.func @attention_float32_results
// CHECK-SAME:    (%[[QKV:[^:]+]]: tensor<?x?x192xf32>
// CHECK:         %[[QKVB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %[[QKV]]) : (tensor<?x?x192xf32>) -> tensor<?x?x192xbf16>
// CHECK:         %[[SB:.+]]:3 = lmc.split %[[QKVB]] into 3 : tensor<?x?x192xbf16>
// CHECK-NOT:     lmc.split
// CHECK:         %[[Y:.+]], %[[LSE:.+]] = lmc.flash_attention %[[SB]]#0, %[[SB]]#1, %[[SB]]#2 heads(2) : tensor<?x?x64xbf16> -> tensor<?x?x64xf32>, tensor<?x2x?xf32>
// CHECK:         %[[YB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %[[Y]]) : (tensor<?x?x64xf32>) -> tensor<?x?x64xbf16>
// CHECK:         %[[DQ:[^,]+]], %[[DK:[^,]+]], %[[DV:[^,]+]] = lmc.flash_attention_grad %[[SB]]#0, %[[SB]]#1, %[[SB]]#2, %[[YB]], %[[LSE]], %{{.+}} heads(2) : tensor<?x?x64xbf16>, tensor<?x2x?xf32> -> tensor<?x?x64xf32>
// CHECK-NEXT:    %[[DQKV:.+]] = lmc.concat %[[DQ]], %[[DK]], %[[DV]] : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
// CHECK-NEXT:    %[[DQKVB:.+]] = lmc.fused "to_bf16" (%{{.+}} = %[[DQKV]]) : (tensor<?x?x192xf32>) -> tensor<?x?x192xbf16>
// CHECK-NOT:     lmc.concat
// CHECK:         lmc.fused "reduce_sum" (%{{.+}} = %[[DQKV]])
// CHECK:         lmc.matmul %[[DQKVB]], %{{.+}} transpose_b : tensor<?x?x192xbf16>, tensor<64x192xbf16>
func.func @attention_float32_results(%qkv: tensor<?x?x192xf32>, %w: tensor<64x192xf32>, %dy: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<192xf32>, tensor<?x?x64xf32>) {
  %s:3 = lmc.split %qkv into 3 : tensor<?x?x192xf32>
  %y, %lse = lmc.flash_attention %s#0, %s#1, %s#2 heads(2) : tensor<?x?x64xf32> -> tensor<?x2x?xf32>
  %g:3 = lmc.flash_attention_grad %s#0, %s#1, %s#2, %y, %lse, %dy heads(2) : tensor<?x?x64xf32>, tensor<?x2x?xf32>
  %dqkv = lmc.concat %g#0, %g#1, %g#2 : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %db = lmc.fused "reduce_sum" (%a = %dqkv) : (tensor<?x?x192xf32>) -> tensor<192xf32> {
    %0 = lmc.reduce_sum %a dims [0, 1] : tensor<?x?x192xf32>
    lmc.yield %0 : tensor<192xf32>
  }
  %dx = lmc.matmul %dqkv, %w transpose_b : tensor<?x?x192xf32>, tensor<64x192xf32>
  return %y, %db, %dx : tensor<?x?x64xf32>, tensor<192xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that a group two of whose float32 results GEMMs read (both also
// returned) writes a bfloat16 copy of each, the GEMMs reading the copies
// and the function returning the float32 results.

// CHECK-LABEL: func.func @two_copies
// CHECK:         %[[G:.+]]:4 = lmc.fused "pair" (%{{.+}} = %{{.+}}) : (tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xbf16>, tensor<?x64xbf16>) {
// CHECK:           lmc.yield %[[A:.+]], %[[B:.+]], %{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xbf16>, tensor<?x64xbf16>
// CHECK:         lmc.matmul %[[G]]#2, %{{.+}} : tensor<?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    lmc.matmul %[[G]]#3, %{{.+}} : tensor<?x64xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    return %[[G]]#0, %[[G]]#1,
func.func @two_copies(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %a, %b = lmc.fused "pair" (%p = %x) : (tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
    %0 = lmc.scale %p by 2.0e+00 : tensor<?x64xf32>
    %1 = lmc.scale %p by 3.0e+00 : tensor<?x64xf32>
    lmc.yield %0, %1 : tensor<?x64xf32>, tensor<?x64xf32>
  }
  %ya = lmc.matmul %a, %w : tensor<?x64xf32>, tensor<64x64xf32>
  %yb = lmc.matmul %b, %w : tensor<?x64xf32>, tensor<64x64xf32>
  return %a, %b, %ya, %yb : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}
