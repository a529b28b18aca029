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
