// RUN: lmc-opt %s --lmc-outline-kernels -split-input-file | FileCheck %s

// Tests that ops identical up to their operands share one kernel, that a
// different attribute or type makes another kernel, and that kernels are
// private and kept out of line.

// CHECK-LABEL: lmc.model @m
// CHECK:       func.func @f(%[[X:.+]]: tensor<?x8xf32>, %[[Y:.+]]: tensor<?x4xf32>)
// CHECK:         %[[A:.+]] = call @m_gelu_0(%[[X]]) : (tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK:         %[[B:.+]] = call @m_gelu_0(%[[A]]) : (tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK:         %[[C:.+]] = call @m_gelu_1(%[[B]]) : (tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK:         %[[D:.+]] = call @m_gelu_2(%[[Y]]) : (tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK:         %[[E:.+]] = call @m_add_0(%[[C]], %[[A]]) : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
// CHECK:         return %[[E]], %[[D]]
// CHECK:       func.func private @m_gelu_0(%[[I:.+]]: tensor<?x8xf32>) -> tensor<?x8xf32> attributes {passthrough = ["noinline"]}
// CHECK-NEXT:    %[[R:.+]] = lmc.gelu %[[I]] tanh : tensor<?x8xf32>
// CHECK-NEXT:    return %[[R]]
// CHECK:       func.func private @m_gelu_1(
// CHECK-NEXT:    lmc.gelu %{{.+}} exact
// CHECK:       func.func private @m_gelu_2(
// CHECK:       func.func private @m_add_0(
// CHECK-NOT:   func.func
lmc.model @m {
  func.func @f(%x: tensor<?x8xf32>, %y: tensor<?x4xf32>) -> (tensor<?x8xf32>, tensor<?x4xf32>) {
    %a = lmc.gelu %x tanh : tensor<?x8xf32>
    %b = lmc.gelu %a tanh : tensor<?x8xf32>
    %c = lmc.gelu %b exact : tensor<?x8xf32>
    %d = lmc.gelu %y tanh : tensor<?x4xf32>
    %e = lmc.add %c, %a : tensor<?x8xf32>
    return %e, %d : tensor<?x8xf32>, tensor<?x4xf32>
  }
}

// -----

// Tests that parameter references stay in place: they name a symbol of the
// model, and kernels receive their values as arguments.

// CHECK-LABEL: lmc.model @p
// CHECK:         %[[W:.+]] = lmc.param_ref @w : tensor<8xf32>
// CHECK:         call @p_bias_add_0(%{{.+}}, %[[W]])
lmc.model @p {
  lmc.param @w : tensor<8xf32> init(zeros)
  func.func @f(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
    %w = lmc.param_ref @w : tensor<8xf32>
    %y = lmc.bias_add %x, %w : tensor<?x8xf32>, tensor<8xf32>
    return %y : tensor<?x8xf32>
  }
}

// -----

// Tests that collectives and axis_index stay in place (each is one runtime
// call already) while the compute ops around them are outlined.

// CHECK-LABEL: lmc.model @c
// CHECK:         %[[TP:.+]] = lmc.axis_index "tp"
// CHECK-NEXT:    %[[G:.+]] = lmc.all_gather %{{.+}} over ["tp"] dim 1 : tensor<4x8xf32> -> tensor<4x16xf32>
// CHECK-NEXT:    %[[S:.+]] = lmc.reduce_scatter %[[G]] over ["tp"] dim 1 : tensor<4x16xf32> -> tensor<4x8xf32>
// CHECK-NEXT:    %[[P:.+]] = lmc.all_gather_start %[[S]] over ["tp"] dim 1 : tensor<4x8xf32> -> !lmc.pending<tensor<4x16xf32>>
// CHECK-NEXT:    %[[Q:.+]] = lmc.reduce_scatter_start %[[G]] over ["dp"] dim 0 : tensor<4x16xf32> -> !lmc.pending<tensor<2x16xf32>>
// CHECK-NEXT:    %[[W:.+]]:2 = lmc.wait %[[P]], %[[Q]]
// CHECK-NEXT:    %[[R:.+]] = call @c_gelu_0(%[[W]]#0)
// CHECK-NEXT:    return %[[TP]], %[[R]], %[[W]]#1
// CHECK-NOT:   func.func private @c_axis_index
lmc.model @c attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @f(%x: tensor<4x8xf32>) -> (index, tensor<4x16xf32>, tensor<2x16xf32>) {
    %tp = lmc.axis_index "tp"
    %g = lmc.all_gather %x over ["tp"] dim 1 : tensor<4x8xf32> -> tensor<4x16xf32>
    %s = lmc.reduce_scatter %g over ["tp"] dim 1 : tensor<4x16xf32> -> tensor<4x8xf32>
    %p = lmc.all_gather_start %s over ["tp"] dim 1 : tensor<4x8xf32> -> !lmc.pending<tensor<4x16xf32>>
    %q = lmc.reduce_scatter_start %g over ["dp"] dim 0 : tensor<4x16xf32> -> !lmc.pending<tensor<2x16xf32>>
    %w:2 = lmc.wait %p, %q : !lmc.pending<tensor<4x16xf32>>, !lmc.pending<tensor<2x16xf32>>
    %r = lmc.gelu %w#0 tanh : tensor<4x16xf32>
    return %tp, %r, %w#1 : index, tensor<4x16xf32>, tensor<2x16xf32>
  }
}

// -----

// Tests that a fusion group becomes one call to a kernel holding its body,
// marked with the group's kind (lmc.fusion_group), and that groups identical
// up to their operands share the kernel while a different body gets its own.

// CHECK-LABEL: lmc.model @g
// CHECK:       func.func @f(%[[X:.+]]: tensor<?x8xf32>, %[[B:.+]]: tensor<8xf32>)
// CHECK-NEXT:    %[[A:.+]]:2 = call @g_fused_gelu_0(%[[X]], %[[B]]) : (tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK-NEXT:    %[[C:.+]]:2 = call @g_fused_gelu_0(%[[A]]#1, %[[B]])
// CHECK-NEXT:    %[[D:.+]] = call @g_fused_gelu_1(%[[C]]#1, %[[B]])
// CHECK-NEXT:    return %[[D]]
// CHECK:       func.func private @g_fused_gelu_0(%[[P:.+]]: tensor<?x8xf32>, %[[Q:.+]]: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) attributes {lmc.fusion_group = "gelu", passthrough = ["noinline"]} {
// CHECK-NEXT:    %[[H:.+]] = lmc.bias_add %[[P]], %[[Q]]
// CHECK-NEXT:    %[[G:.+]] = lmc.gelu %[[H]] tanh
// CHECK-NEXT:    return %[[H]], %[[G]]
// CHECK:       func.func private @g_fused_gelu_1(
// CHECK-NEXT:    lmc.bias_add
// CHECK-NEXT:    lmc.gelu %{{.+}} exact
// CHECK-NOT:   func.func
lmc.model @g {
  func.func @f(%x: tensor<?x8xf32>, %b: tensor<8xf32>) -> tensor<?x8xf32> {
    %a:2 = lmc.fused "gelu" (%i = %x, %j = %b) : (tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
      %0 = lmc.bias_add %i, %j : tensor<?x8xf32>, tensor<8xf32>
      %1 = lmc.gelu %0 tanh : tensor<?x8xf32>
      lmc.yield %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
    }
    %c:2 = lmc.fused "gelu" (%i = %a#1, %j = %b) : (tensor<?x8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
      %0 = lmc.bias_add %i, %j : tensor<?x8xf32>, tensor<8xf32>
      %1 = lmc.gelu %0 tanh : tensor<?x8xf32>
      lmc.yield %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
    }
    %d = lmc.fused "gelu" (%i = %c#1, %j = %b) : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32> {
      %0 = lmc.bias_add %i, %j : tensor<?x8xf32>, tensor<8xf32>
      %1 = lmc.gelu %0 exact : tensor<?x8xf32>
      lmc.yield %1 : tensor<?x8xf32>
    }
    return %d : tensor<?x8xf32>
  }
}

// -----

// Tests that a group of independent parts (the squared norms of several
// gradients, summed by scalar adds) becomes, in its place, one call per part
// to one kernel per distinct part, with the scalar ops between the calls:
// the code grows with the number of distinct shapes, not of parameters.

// CHECK-LABEL: lmc.model @n
// CHECK:       func.func @f(%[[A:.+]]: tensor<4x4xf32>, %[[B:.+]]: tensor<4x4xf32>, %[[C:.+]]: tensor<4xf32>)
// CHECK-NEXT:    %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[RA:.+]] = call @n_fused_grad_norm_part_0(%[[A]]) : (tensor<4x4xf32>) -> tensor<f32>
// CHECK-NEXT:    %[[EA:.+]] = tensor.extract %[[RA]][]
// CHECK-NEXT:    %[[SA:.+]] = arith.addf %[[Z]], %[[EA]]
// CHECK-NEXT:    %[[RB:.+]] = call @n_fused_grad_norm_part_0(%[[B]])
// CHECK-NEXT:    %[[EB:.+]] = tensor.extract %[[RB]][]
// CHECK-NEXT:    %[[SB:.+]] = arith.addf %[[SA]], %[[EB]]
// CHECK-NEXT:    %[[RC:.+]] = call @n_fused_grad_norm_part_1(%[[C]]) : (tensor<4xf32>) -> tensor<f32>
// CHECK-NEXT:    %[[EC:.+]] = tensor.extract %[[RC]][]
// CHECK-NEXT:    %[[SC:.+]] = arith.addf %[[SB]], %[[EC]]
// CHECK-NEXT:    return %[[SC]]
// CHECK:       func.func private @n_fused_grad_norm_part_0(%[[G:.+]]: tensor<4x4xf32>) -> tensor<f32> attributes {lmc.fusion_group = "grad_norm", passthrough = ["noinline"]} {
// CHECK-NEXT:    %[[M:.+]] = lmc.mul %[[G]], %[[G]]
// CHECK-NEXT:    %[[R:.+]] = lmc.reduce_sum %[[M]] dims [0, 1]
// CHECK-NEXT:    return %[[R]]
// CHECK:       func.func private @n_fused_grad_norm_part_1(
// CHECK-NOT:   func.func
lmc.model @n {
  func.func @f(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>, %c: tensor<4xf32>) -> f32 {
    %s = lmc.fused "grad_norm" (%x = %a, %y = %b, %z = %c) : (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> f32 {
      %zero = arith.constant 0.000000e+00 : f32
      %0 = lmc.mul %x, %x : tensor<4x4xf32>
      %1 = lmc.reduce_sum %0 dims [0, 1] : tensor<4x4xf32>
      %2 = tensor.extract %1[] : tensor<f32>
      %3 = arith.addf %zero, %2 : f32
      %4 = lmc.mul %y, %y : tensor<4x4xf32>
      %5 = lmc.reduce_sum %4 dims [0, 1] : tensor<4x4xf32>
      %6 = tensor.extract %5[] : tensor<f32>
      %7 = arith.addf %3, %6 : f32
      %8 = lmc.mul %z, %z : tensor<4xf32>
      %9 = lmc.reduce_sum %8 dims [0] : tensor<4xf32>
      %10 = tensor.extract %9[] : tensor<f32>
      %11 = arith.addf %7, %10 : f32
      lmc.yield %11 : f32
    }
    return %s : f32
  }
}
