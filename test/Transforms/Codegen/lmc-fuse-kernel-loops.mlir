// RUN: lmc-opt %s --convert-lmc-to-linalg --canonicalize --lmc-fuse-kernel-loops --canonicalize -split-input-file | FileCheck %s
// RUN: lmc-opt %s --convert-lmc-to-linalg --canonicalize --lmc-fuse-kernel-loops="rows-per-block=8" --canonicalize -split-input-file | FileCheck %s --check-prefix=RB8
// RUN: lmc-opt %s --convert-lmc-to-linalg --canonicalize --lmc-fuse-kernel-loops="rows-per-block=1 elements-as-rows" --canonicalize -split-input-file | FileCheck %s --check-prefix=ELEM
// RUN: lmc-opt %s --convert-lmc-to-linalg --canonicalize --lmc-fuse-kernel-loops="rows-per-block=1 elements-as-rows partials-chunk=64 runtime-sums" --canonicalize -split-input-file | FileCheck %s --check-prefix=SUMS

// With elements-as-rows (the GPU pipeline's setting), groups that reduce
// along their rows keep one row per iteration, of a static size; an
// elementwise group with two results loops over its elements
// (test/e2e/train-tiny-kernel-loops.test trains with it).
// ELEM-LABEL: func.func private @layer_norm(
// ELEM:         scf.forall (%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) in
// ELEM:           tensor.extract_slice %arg0[%{{.+}}, %{{.+}}, 0] [1, 1, 64] [1, 1, 1] : tensor<?x?x64xf32> to tensor<1x1x64xf32>
// ELEM-LABEL: func.func private @cross_entropy(
// ELEM:         scf.forall (%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) in
// ELEM-LABEL: func.func private @gelu(
// ELEM-NOT:     scf.forall
// ELEM-LABEL: func.func private @gelu_keeping_input(
// ELEM:         scf.forall (%[[I:[a-z0-9]+]], %[[J:[a-z0-9]+]], %[[K:[a-z0-9]+]]) in (%{{.+}}, %{{.+}}, 256)
// ELEM:           tensor.extract_slice %arg1[%[[K]]] [1] [1] : tensor<256xf32> to tensor<1xf32>
// ELEM-COUNT-2:   tensor.parallel_insert_slice {{.+}}[%[[I]], %[[J]], %[[K]]] [1, 1, 1] [1, 1, 1] : tensor<1x1x1xf32> into tensor<?x?x256xf32>

// Tests that a residual add + LayerNorm group becomes one scf.forall over
// blocks of rows (one batch index, 16 positions): the bias add is fused into
// the residual add, whose block is written into its result and read by the
// row sums, the squared deviations and the normalisation in the same
// iteration; both results are written in place through the loop's outputs,
// and the marker attribute is consumed.

// CHECK-LABEL: func.func private @layer_norm(
// CHECK-SAME:    %[[A:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[BIAS:[a-z0-9]+]]: tensor<64xf32>, %[[R:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[W:[a-z0-9]+]]: tensor<64xf32>, %[[B:[a-z0-9]+]]: tensor<64xf32>)
// CHECK-NOT:     lmc.fusion_group
// CHECK:         %[[NB:.+]] = affine.apply #{{.+}}()[%[[T:.+]]]
// CHECK-NOT:     linalg.generic
// CHECK:         %[[L:.+]]:2 = scf.forall (%[[I:.+]], %[[J:.+]]) in (%{{.+}}, %[[NB]]) shared_outs(%[[OX:.+]] = %{{.+}}, %[[OY:.+]] = %{{.+}}) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
// CHECK:           %[[RS:.+]] = tensor.extract_slice %[[R]][%[[I]], %[[OFF:.+]], 0] [1, %[[SZ:.+]], 64] [1, 1, 1] : tensor<?x?x64xf32> to tensor<1x?x64xf32>
// CHECK:           %[[AS:.+]] = tensor.extract_slice %[[A]][%[[I]], %[[OFF]], 0] [1, %[[SZ]], 64]
// CHECK:           %[[XS:.+]] = tensor.extract_slice %[[OX]][%[[I]], %[[OFF]], 0] [1, %[[SZ]], 64]
// CHECK:           %[[X:.+]] = linalg.generic {{.+}} ins(%[[RS]], %[[AS]], %[[BIAS]] : {{.+}}) outs(%[[XS]] : tensor<1x?x64xf32>)
// CHECK:             arith.addf
// CHECK:             arith.addf
// CHECK:           linalg.fill
// CHECK:           %[[SUM:.+]] = linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]] : tensor<1x?x64xf32>)
// CHECK:           linalg.fill
// CHECK:           %[[SQ:.+]] = linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[SUM]] : {{.+}})
// CHECK:           %[[YS:.+]] = tensor.extract_slice %[[OY]][%[[I]], %[[OFF]], 0] [1, %[[SZ]], 64]
// CHECK:           %[[Y:.+]] = linalg.generic {{.+}} ins(%[[X]], %[[SUM]], %[[SQ]], %[[W]], %[[B]] : {{.+}}) outs(%[[YS]] : tensor<1x?x64xf32>)
// CHECK:             math.rsqrt
// CHECK:           scf.forall.in_parallel {
// CHECK-NEXT:        tensor.parallel_insert_slice %[[X]] into %[[OX]][%[[I]], %[[OFF]], 0] [1, %[[SZ]], 64]
// CHECK-NEXT:        tensor.parallel_insert_slice %[[Y]] into %[[OY]][%[[I]], %[[OFF]], 0] [1, %[[SZ]], 64]
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    return %[[L]]#0, %[[L]]#1
// RB8-LABEL: func.func private @layer_norm(
// RB8:         affine.apply #{{.+}}()[%{{.+}}]
// RB8:         scf.forall
// RB8:           affine.min #{{.+}}(%{{.+}})[%{{.+}}]
func.func private @layer_norm(%a: tensor<?x?x64xf32>, %bias: tensor<64xf32>, %r: tensor<?x?x64xf32>, %w: tensor<64xf32>, %b: tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) attributes {lmc.fusion_group = "layer_norm"} {
  %0 = lmc.bias_add %a, %bias : tensor<?x?x64xf32>, tensor<64xf32>
  %1 = lmc.add %r, %0 : tensor<?x?x64xf32>
  %2 = lmc.layer_norm %1, %w, %b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  return %1, %2 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that cross_entropy and its gradient become one loop that computes
// the row maximum and the sum of exponentials once (they were common
// subexpressions) and that a block writes its partial loss into its own slot
// of a zero-filled tensor of partials; after the loop, the partials are
// added in block order and divided by the number of positions. The sums
// inside the loop may be reassociated (vectorised); the sum of the partials
// after it may not.

// CHECK-LABEL: func.func private @cross_entropy(
// CHECK-SAME:    %[[LOG:[a-z0-9]+]]: tensor<?x?x256xf32>, %[[TGT:[a-z0-9]+]]: tensor<?x?xi32>)
// CHECK:         %[[ZERO:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<f32>)
// CHECK:         %[[PARTS:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<?x?xf32>)
// CHECK:         %[[L:.+]]:2 = scf.forall (%[[I:.+]], %[[J:.+]]) in ({{.+}}) shared_outs(%[[OD:.+]] = %{{.+}}, %[[OP:.+]] = %[[PARTS]]) -> (tensor<?x?x256xf32>, tensor<?x?xf32>) {
// CHECK:           %[[MAX:.+]] = linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:             arith.maximumf
// CHECK:           %[[SUMEXP:.+]] = linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.+}}, %[[MAX]] : {{.+}})
// CHECK:             math.exp
// CHECK-NEXT:        arith.addf %{{.+}} fastmath<reassoc> : f32
// CHECK:           %[[SLOT:.+]] = tensor.extract_slice %[[OP]][%[[I]], %[[J]]] [1, 1] [1, 1] : tensor<?x?xf32> to tensor<f32>
// CHECK:           %[[NLL:.+]] = linalg.generic {{.+}}iterator_types = ["reduction", "reduction"]} ins(%{{.+}}, %[[MAX]], %[[SUMEXP]] : {{.+}}) outs(%[[SLOT]] : tensor<f32>)
// CHECK:             tensor.extract %[[LOG]]
// CHECK:             math.log
// CHECK:             arith.addf %{{.+}} fastmath<reassoc> : f32
// CHECK:           %[[D:.+]] = linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.+}}, %[[MAX]], %[[SUMEXP]], %{{.+}} : {{.+}})
// CHECK:             math.exp
// CHECK:           scf.forall.in_parallel {
// CHECK-DAG:         tensor.parallel_insert_slice %[[NLL]] into %[[OP]][%[[I]], %[[J]]] [1, 1] [1, 1]
// CHECK-DAG:         tensor.parallel_insert_slice %[[D]] into %[[OD]]
// CHECK:           }
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[TOTAL:.+]] = linalg.generic {{.+}}iterator_types = ["reduction", "reduction"]} ins(%[[L]]#1 : tensor<?x?xf32>) outs(%[[ZERO]] : tensor<f32>)
// CHECK-NEXT:      ^bb0
// CHECK-NEXT:        arith.addf %{{[^ ]+}}, %{{[^ ]+}} : f32
// CHECK:         %[[MEAN:.+]] = linalg.generic {{.+}} ins(%[[TOTAL]] : tensor<f32>)
// CHECK:           arith.divf
// CHECK:         return %[[MEAN]], %[[L]]#0
// With runtime-sums (the GPU pipeline), the loss's partials are one slot
// per position, not chunked and not filled before the loop: each iteration
// zeroes its own slot; the generic after the loop that adds them is marked
// for the runtime's sum kernel.
// SUMS-LABEL: func.func private @cross_entropy(
// SUMS-NOT:     linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<?x?xf32>)
// SUMS:         %[[PARTS:.+]] = tensor.empty(%{{.+}}, %{{.+}}) : tensor<?x?xf32>
// SUMS:         %[[L:.+]]:2 = scf.forall (%[[I:.+]], %[[J:.+]]) in ({{.+}}) shared_outs(%{{.+}} = %{{.+}}, %[[OP:.+]] = %[[PARTS]])
// SUMS:           %[[SLOT:.+]] = tensor.extract_slice %[[OP]][%[[I]], %[[J]]] [1, 1] [1, 1] : tensor<?x?xf32> to tensor<f32>
// SUMS-NEXT:      %[[ZSLOT:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[SLOT]] : tensor<f32>)
// SUMS-NEXT:      linalg.generic {{.+}}iterator_types = ["reduction", "reduction"]} ins({{.+}}) outs(%[[ZSLOT]] : tensor<f32>)
// SUMS:         %[[ZERO:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<f32>)
// SUMS-NEXT:    %[[TOTAL:.+]] = linalg.generic {{.+}}iterator_types = ["reduction", "reduction"]} ins(%[[L]]#1 : tensor<?x?xf32>) outs(%[[ZERO]] : tensor<f32>) attrs =  {lmc.library_call = {kernel = "sum", square = false}}
// SUMS:         linalg.generic {{.+}} ins(%[[TOTAL]] : tensor<f32>)
// SUMS:           arith.divf
func.func private @cross_entropy(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>) -> (tensor<f32>, tensor<?x?x256xf32>) attributes {lmc.fusion_group = "cross_entropy"} {
  %one = arith.constant dense<1.000000e+00> : tensor<f32>
  %0 = lmc.cross_entropy %l, %t : tensor<?x?x256xf32>, tensor<?x?xi32>
  %1 = lmc.cross_entropy_grad %l, %t, %one : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  return %0, %1 : tensor<f32>, tensor<?x?x256xf32>
}

// -----

// Tests the LayerNorm gradient group: the input gradient plus the residual
// gradient is the loop's row result; the weight, bias and residual-bias
// gradients (sums over the rows) are partial sums per block, each added
// after the loop; the row statistics are computed once per block.

// CHECK-LABEL: func.func private @layer_norm_grad(
// CHECK:         %[[L:.+]]:4 = scf.forall {{.+}} -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
// CHECK-COUNT-4:   linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-NOT:       iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           scf.forall.in_parallel {
// CHECK-COUNT-4:     tensor.parallel_insert_slice
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[DW:.+]] = linalg.generic {{.+}}iterator_types = ["reduction", "reduction", "parallel"]} ins(%[[L]]#1
// CHECK-NEXT:      ^bb0
// CHECK-NEXT:        arith.addf
// CHECK-NEXT:        linalg.yield
// CHECK-NEXT:    } -> tensor<64xf32>
// CHECK-NEXT:    %[[DB:.+]] = linalg.generic {{.+}} ins(%[[L]]#2
// CHECK:         %[[DR:.+]] = linalg.generic {{.+}} ins(%[[L]]#3
// CHECK:         return %[[DW]], %[[DB]], %[[L]]#0, %[[DR]]
func.func private @layer_norm_grad(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<?x?x64xf32>, %res: tensor<?x?x64xf32>) -> (tensor<64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) attributes {lmc.fusion_group = "layer_norm_grad"} {
  %dx, %dw, %db = lmc.layer_norm_grad %x, %w, %dy eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  %0 = lmc.add %res, %dx : tensor<?x?x64xf32>
  %1 = lmc.reduce_sum %0 dims [0, 1] : tensor<?x?x64xf32>
  return %dw, %db, %0, %1 : tensor<64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<64xf32>
}

// -----

// Tests that a group that is one generic after elementwise fusion (bias +
// GELU, with the biased value as a second result) stays that loop nest; and
// that a function without the marker is left alone.

// CHECK-LABEL: func.func private @gelu(
// CHECK-NOT:     scf.forall
// CHECK:         linalg.generic
// CHECK-NOT:     linalg.generic
// CHECK:         return
// CHECK-LABEL: func.func private @unmarked(
// CHECK:         linalg.generic
// CHECK:         linalg.generic
// CHECK-NOT:     scf.forall
func.func private @gelu(%a: tensor<?x?x256xf32>, %b: tensor<256xf32>) -> tensor<?x?x256xf32> attributes {lmc.fusion_group = "gelu"} {
  %0 = lmc.bias_add %a, %b : tensor<?x?x256xf32>, tensor<256xf32>
  %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
  return %1 : tensor<?x?x256xf32>
}
func.func private @unmarked(%a: tensor<?x?x256xf32>, %b: tensor<256xf32>) -> tensor<?x?x256xf32> {
  %0 = lmc.bias_add %a, %b : tensor<?x?x256xf32>, tensor<256xf32>
  %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
  return %1 : tensor<?x?x256xf32>
}
// -----

// Tests that bias + GELU keeping its biased input (two results, as in
// training) is one loop over blocks of rows.

// CHECK-LABEL: func.func private @gelu_keeping_input(
// CHECK:         scf.forall (%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) in
// CHECK-COUNT-2:   tensor.parallel_insert_slice
func.func private @gelu_keeping_input(%a: tensor<?x?x256xf32>, %b: tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) attributes {lmc.fusion_group = "gelu"} {
  %0 = lmc.bias_add %a, %b : tensor<?x?x256xf32>, tensor<256xf32>
  %1 = lmc.gelu %0 tanh : tensor<?x?x256xf32>
  return %0, %1 : tensor<?x?x256xf32>, tensor<?x?x256xf32>
}

// -----

// Tests that rope's lowering (the [T, D/2] tables of cos and sin, the
// rotation over [B, T, H, 2, D/2], which reads the partner half of a head
// through (b, t, h, 1 - j, i)) stays as it is in a group after a residual
// add: the reshapes between them split the group's generics, and the
// rotation reads a row dimension through an expression, which no block of
// rows can slice.

// CHECK-DAG:   #[[ID5:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG:   #[[PARTNER:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, -d3 + 1, d4)>
// CHECK-DAG:   #[[TABLE:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d4)>
// CHECK-LABEL: func.func private @rope(
// CHECK-NOT:     scf.forall
// CHECK:         %[[SUM:.+]] = linalg.generic
// CHECK:         %[[TAB:.+]]:2 = linalg.generic
// CHECK:           math.cos
// CHECK:           math.sin
// CHECK:         %[[XE:.+]] = tensor.expand_shape %[[SUM]] {{\[}}[0], [1], [2, 3, 4]] output_shape [%{{.+}}, %{{.+}}, 4, 2, 8]
// CHECK:         %[[ROT:.+]] = linalg.generic {indexing_maps = [#[[ID5]], #[[PARTNER]], #[[TABLE]], #[[TABLE]], #[[ID5]]], {{.+}}} ins(%[[XE]], %[[XE]], %[[TAB]]#0, %[[TAB]]#1 :
// CHECK-NOT:     scf.forall
// CHECK:         %[[R:.+]] = tensor.collapse_shape %[[ROT]] {{\[}}[0], [1], [2, 3, 4]] : tensor<?x?x4x2x8xf32> into tensor<?x?x64xf32>
// CHECK:         return %[[SUM]], %[[R]]
func.func private @rope(%a: tensor<?x?x64xf32>, %b: tensor<?x?x64xf32>, %off: index) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) attributes {lmc.fusion_group = "rope"} {
  %0 = lmc.add %a, %b : tensor<?x?x64xf32>
  %1 = lmc.rope %0 head_dim(16) theta(1.000000e+04) offset(%off) : tensor<?x?x64xf32>
  return %0, %1 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that a generic reading an input through an expression of a loop
// that is not a row dimension (here c -> (c floordiv 16) * 16 + (c + 8) mod
// 16) keeps its own loop nest: tiling would take the whole channel
// dimension as tiled and size that operand's slice from the expression at
// the last index (56 of 64 channels here), reading past it.

// CHECK-LABEL: func.func private @partner_read(
// CHECK-NOT:     scf.forall
// CHECK:         %[[SUM:.+]] = linalg.generic
// CHECK:         linalg.generic {{.+}} ins(%[[SUM]], %[[SUM]] : tensor<?x?x64xf32>, tensor<?x?x64xf32>)
// CHECK-NOT:     scf.forall
// CHECK-NOT:     tensor.extract_slice
func.func private @partner_read(%a: tensor<?x?x64xf32>, %b: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) attributes {lmc.fusion_group = "elementwise"} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %0 = lmc.add %a, %b : tensor<?x?x64xf32>
  %d0 = tensor.dim %a, %c0 : tensor<?x?x64xf32>
  %d1 = tensor.dim %a, %c1 : tensor<?x?x64xf32>
  %init = tensor.empty(%d0, %d1) : tensor<?x?x64xf32>
  %1 = linalg.generic {indexing_maps = [affine_map<(b, t, c) -> (b, t, c)>, affine_map<(b, t, c) -> (b, t, (c floordiv 16) * 16 + (c + 8) mod 16)>, affine_map<(b, t, c) -> (b, t, c)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%0, %0 : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%init : tensor<?x?x64xf32>) {
  ^bb0(%x: f32, %p: f32, %o: f32):
    %s = arith.subf %x, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x?x64xf32>
  return %0, %1 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that a vector's sum (a bias gradient's squared norm) stays one
// loop nest on the CPU (rows of one element leave nothing to block), while
// with elements as rows (the GPU) each element is a row: one parallel loop
// writing a partial per element, the partials added after it.

// CHECK-LABEL: func.func private @vector_norm(
// CHECK-NOT:     scf.forall
// CHECK:         linalg.generic {{.+}}iterator_types = ["reduction"]} ins(%arg0 : tensor<768xf32>)
// CHECK-NOT:     scf.forall
// ELEM-LABEL:  func.func private @vector_norm(
// ELEM:          %[[PARTS:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<768xf32>)
// ELEM:          %[[L:.+]] = scf.forall (%[[I:.+]]) in (768) shared_outs(%[[OP:.+]] = %[[PARTS]]) -> (tensor<768xf32>) {
// ELEM:            arith.mulf
// ELEM-NEXT:       arith.addf %{{.+}} fastmath<reassoc> : f32
// ELEM:            tensor.parallel_insert_slice %{{.+}} into %[[OP]][%[[I]]] [1] [1] : tensor<f32> into tensor<768xf32>
// ELEM:          linalg.generic {{.+}}iterator_types = ["reduction"]} ins(%[[L]] : tensor<768xf32>)
// SUMS-LABEL:  func.func private @vector_norm(
// SUMS-NOT:      scf.forall
// SUMS:          linalg.generic {{.+}}iterator_types = ["reduction"]} ins(%arg0 : tensor<768xf32>) outs(%{{.+}} : tensor<f32>) attrs =  {lmc.library_call = {kernel = "sum", square = true}}
func.func private @vector_norm(%g: tensor<768xf32>) -> tensor<f32> attributes {lmc.fusion_group = "grad_norm"} {
  %0 = lmc.mul %g, %g : tensor<768xf32>
  %1 = lmc.reduce_sum %0 dims [0] : tensor<768xf32>
  return %1 : tensor<f32>
}

// -----

// Tests that with runtime-sums (the GPU pipeline) a group that is one sum
// of a whole tensor from zero (a gradient's squared norm, of any rank) is
// marked for the runtime's sum kernel as it is, with no loop and no
// partials, and that a sum of something else (two inputs) is not.

// SUMS-LABEL: func.func private @matrix_norm(
// SUMS-NOT:     scf.forall
// SUMS:         linalg.generic {{.+}}iterator_types = ["reduction", "reduction"]} ins(%arg0 : tensor<64x192xf32>) outs(%{{.+}} : tensor<f32>) attrs =  {lmc.library_call = {kernel = "sum", square = true}}
// SUMS-NOT:     scf.forall
// SUMS-LABEL: func.func private @tied_norm(
// SUMS:         %[[P:.+]] = scf.forall (%{{.+}}) in (64)
// SUMS-NOT:     lmc.library_call
// SUMS:         linalg.generic {{.+}}iterator_types = ["reduction"]} ins(%[[P]] : tensor<64xf32>) outs(%{{.+}} : tensor<f32>) attrs =  {lmc.library_call = {kernel = "sum", square = false}}
// SUMS-LABEL: func.func private @plain_sum(
// SUMS-NOT:     scf.forall
// SUMS:         lmc.library_call = {kernel = "sum", square = false}
// SUMS-LABEL: func.func private @double_sum(
// SUMS-NOT:     lmc.library_call
// SUMS:         return
// CHECK-LABEL: func.func private @matrix_norm(
// CHECK-NOT:     lmc.library_call
// CHECK-LABEL: func.func private @double_sum(
func.func private @matrix_norm(%g: tensor<64x192xf32>) -> tensor<f32> attributes {lmc.fusion_group = "grad_norm"} {
  %0 = lmc.mul %g, %g : tensor<64x192xf32>
  %1 = lmc.reduce_sum %0 dims [0, 1] : tensor<64x192xf32>
  return %1 : tensor<f32>
}
func.func private @tied_norm(%a: tensor<64x192xf32>, %b: tensor<64x192xf32>) -> tensor<f32> attributes {lmc.fusion_group = "grad_norm"} {
  %0 = lmc.add %a, %b : tensor<64x192xf32>
  %1 = lmc.mul %0, %0 : tensor<64x192xf32>
  %2 = lmc.reduce_sum %1 dims [0, 1] : tensor<64x192xf32>
  return %2 : tensor<f32>
}
func.func private @plain_sum(%g: tensor<4x8x16xf32>) -> tensor<f32> attributes {lmc.fusion_group = "sum"} {
  %1 = lmc.reduce_sum %g dims [0, 1, 2] : tensor<4x8x16xf32>
  return %1 : tensor<f32>
}
func.func private @double_sum(%g: tensor<4x8xf64>) -> tensor<f64> attributes {lmc.fusion_group = "sum"} {
  %1 = lmc.reduce_sum %g dims [0, 1] : tensor<4x8xf64>
  return %1 : tensor<f64>
}
