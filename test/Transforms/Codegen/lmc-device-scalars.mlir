// RUN: lmc-opt %s --lmc-device-scalars=max-inputs=32 -split-input-file | FileCheck %s

// Tests that a group's scalar result (the sum of squared norms at the top of
// its body) becomes 0-d results of the group, that the scalar code from them
// to the AdamW group's grad_scale becomes one linalg.generic without loops
// (same operations in the same order) in a private kernel function called
// in its place (the host scalar and the host comparison its arguments, the
// constants its own), that the AdamW group's argument becomes a 0-d tensor,
// and that the host reads the loss and the norm (read back from the
// kernel's first result) just before the return.

// CHECK-LABEL: func.func @clip(
// CHECK-SAME:    %[[G0:[^:]+]]: tensor<64xf32>, %[[G1:[^:]+]]: tensor<8x64xf32>
// CHECK-SAME:    : f32, %[[CLIP:[^:]+]]: f32, %{{[^:]+}}: i64
// CHECK:         %[[N:.+]]:3 = lmc.fused "grad_norm" (%{{.+}} = %[[G0]], %{{.+}} = %[[G1]]) : (tensor<64xf32>, tensor<8x64xf32>) -> (tensor<64xf32>, tensor<f32>, tensor<f32>) {
// CHECK-NOT:       tensor.extract
// CHECK:           lmc.yield %{{.+}}, %{{.+}}, %{{.+}} : tensor<64xf32>, tensor<f32>, tensor<f32>
// CHECK-NEXT:    }
// CHECK:         %[[ON:.+]] = arith.cmpf ogt, %[[CLIP]], %{{.+}} : f32
// CHECK-NEXT:    %[[D:.+]]:2 = call @clip_clip_0(%[[N]]#1, %[[N]]#2, %[[CLIP]], %[[ON]]) : (tensor<f32>, tensor<f32>, f32, i1) -> (tensor<f32>, tensor<f32>)
// CHECK:         %[[U:.+]]:3 = lmc.fused "adamw" (%{{.+}} = %{{.+}}, %{{.+}} = %[[N]]#0, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %[[SCALE:[^ ]+]] = %[[D]]#1, %{{.+}} = %{{.+}}) : (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, f32, tensor<f32>, i64) -> (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) {
// CHECK-NEXT:      lmc.adamw {{.+}} grad_scale(%[[SCALE]]) {{.+}} : tensor<64xf32>, f32, i64, tensor<f32>
// CHECK:         %[[L:.+]] = lmc.mul
// CHECK-NEXT:    %[[LOSS:.+]] = tensor.extract %{{.+}}[] : tensor<f32>
// CHECK-NEXT:    %[[NORM_H:.+]] = tensor.extract %[[D]]#0[] : tensor<f32>
// CHECK-NEXT:    return %[[LOSS]], %[[NORM_H]], %[[U]]#0, %[[L]]
// CHECK-LABEL: func.func private @clip_clip_0(
// CHECK-SAME:    %[[T0:[^:]+]]: tensor<f32>, %[[T1:[^:]+]]: tensor<f32>, %[[C:[^:]+]]: f32, %[[O:[^:]+]]: i1) -> (tensor<f32>, tensor<f32>) attributes {passthrough = ["noinline"]} {
// CHECK:         %[[G:.+]]:2 = linalg.generic {indexing_maps = [#[[MAP:.+]], #[[MAP]], #[[MAP]], #[[MAP]]], iterator_types = []} ins(%[[T0]], %[[T1]] : tensor<f32>, tensor<f32>) outs(%{{.+}}, %{{.+}} : tensor<f32>, tensor<f32>) {
// CHECK-NEXT:    ^bb0(%[[E0:.+]]: f32, %[[E1:.+]]: f32, %{{.+}}: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[S0:.+]] = arith.addf %{{.+}}, %[[E0]] : f32
// CHECK-NEXT:      %[[S1:.+]] = arith.addf %[[S0]], %[[E1]] : f32
// CHECK-NEXT:      %[[NORM:.+]] = math.sqrt %[[S1]] : f32
// CHECK-NEXT:      %[[DEN:.+]] = arith.addf %[[NORM]], %{{.+}} : f32
// CHECK-NEXT:      %[[Q:.+]] = arith.divf %[[C]], %[[DEN]] : f32
// CHECK-NEXT:      %[[MIN:.+]] = arith.minimumf %{{.+}}, %[[Q]] : f32
// CHECK-NEXT:      %[[SEL:.+]] = arith.select %[[O]], %[[MIN]], %{{.+}} : f32
// CHECK-NEXT:      linalg.yield %[[NORM]], %[[SEL]] : f32, f32
// CHECK-NEXT:    } -> (tensor<f32>, tensor<f32>)
// CHECK-NEXT:    return %[[G]]#0, %[[G]]#1 : tensor<f32>, tensor<f32>
func.func @clip(%g0: tensor<64xf32>, %g1: tensor<8x64xf32>, %p: tensor<64xf32>, %lr: f32,
                %clip: f32, %t: i64, %loss: tensor<f32>)
    -> (f32, f32, tensor<64xf32>, tensor<64xf32>) {
  %l = tensor.extract %loss[] : tensor<f32>
  %n:2 = lmc.fused "grad_norm" (%a = %g0, %b = %g1) : (tensor<64xf32>, tensor<8x64xf32>) -> (tensor<64xf32>, f32) {
    %zero = arith.constant 0.000000e+00 : f32
    %x = lmc.add %a, %a : tensor<64xf32>
    %sq0 = lmc.mul %x, %x : tensor<64xf32>
    %r0 = lmc.reduce_sum %sq0 dims [0] : tensor<64xf32>
    %e0 = tensor.extract %r0[] : tensor<f32>
    %s0 = arith.addf %zero, %e0 : f32
    %sq1 = lmc.mul %b, %b : tensor<8x64xf32>
    %r1 = lmc.reduce_sum %sq1 dims [0, 1] : tensor<8x64xf32>
    %e1 = tensor.extract %r1[] : tensor<f32>
    %s1 = arith.addf %s0, %e1 : f32
    lmc.yield %x, %s1 : tensor<64xf32>, f32
  }
  %norm = math.sqrt %n#1 : f32
  %eps = arith.constant 9.99999997E-7 : f32
  %den = arith.addf %norm, %eps : f32
  %q = arith.divf %clip, %den : f32
  %one = arith.constant 1.000000e+00 : f32
  %min = arith.minimumf %one, %q : f32
  %zero = arith.constant 0.000000e+00 : f32
  %on = arith.cmpf ogt, %clip, %zero : f32
  %scale = arith.select %on, %min, %one : f32
  %u:3 = lmc.fused "adamw" (%pp = %p, %gg = %n#0, %mm = %p, %vv = %p, %llr = %lr, %ss = %scale, %tt = %t) : (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, f32, f32, i64) -> (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) {
    %p1, %m1, %v1 = lmc.adamw %pp, %gg, %mm, %vv lr(%llr) grad_scale(%ss) step(%tt) betas(%llr, %llr) eps(%llr) weight_decay(%llr) : tensor<64xf32>, f32, i64
    lmc.yield %p1, %m1, %v1 : tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  }
  %later = lmc.mul %u#1, %u#2 : tensor<64xf32>
  return %l, %norm, %u#0, %later : f32, f32, tensor<64xf32>, tensor<64xf32>
}

// -----

// Tests that an lmc.adamw outside a group (--fuse=false) takes the 0-d
// tensor directly.

// CHECK-LABEL: func.func @ungrouped(
// CHECK-SAME:    %[[SQ:[^:]+]]: tensor<f32>)
// CHECK:         %[[D:.+]] = call @ungrouped_clip_0(%[[SQ]]) : (tensor<f32>) -> tensor<f32>
// CHECK:         lmc.adamw {{.+}} grad_scale(%[[D]]) {{.+}} : tensor<4xf32>, f32, i64, tensor<f32>
// CHECK-LABEL: func.func private @ungrouped_clip_0(
// CHECK:         linalg.generic {{.+}} iterator_types = []} ins(%{{.+}} : tensor<f32>)
// CHECK:           math.sqrt
func.func @ungrouped(%p: tensor<4xf32>, %lr: f32, %t: i64, %sq: tensor<f32>) -> tensor<4xf32> {
  %e = tensor.extract %sq[] : tensor<f32>
  %norm = math.sqrt %e : f32
  %p1, %m1, %v1 = lmc.adamw %p, %p, %p, %p lr(%lr) grad_scale(%norm) step(%t) betas(%lr, %lr) eps(%lr) weight_decay(%lr) : tensor<4xf32>, f32, i64
  return %p1 : tensor<4xf32>
}

// -----

// Tests that a value of device code that the host also uses before the
// code's next op splits it in two: the host reads the first part's result
// back before its use, and the second part reads it as a tensor.

// CHECK-LABEL: func.func @host_use_between(
// CHECK:         %[[A:.+]] = call @host_use_between_clip_0(%{{.+}}) : (tensor<f32>, f32) -> tensor<f32>
// CHECK-NEXT:    %[[AH:.+]] = tensor.extract %[[A]][] : tensor<f32>
// CHECK-NEXT:    call @use(%[[AH]]) : (f32) -> ()
// CHECK-NEXT:    %[[B:.+]] = call @host_use_between_clip_1(%[[A]], %{{.+}}) : (tensor<f32>, f32) -> tensor<f32>
// CHECK:         lmc.adamw {{.+}} grad_scale(%[[B]])
// CHECK-LABEL: func.func private @host_use_between_clip_0(
// CHECK:         linalg.generic
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      arith.addf
// CHECK-NEXT:      linalg.yield
// CHECK-LABEL: func.func private @host_use_between_clip_1(
// CHECK:         linalg.generic
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      arith.mulf
// CHECK-NEXT:      linalg.yield
func.func private @use(f32)
func.func @host_use_between(%p: tensor<4xf32>, %lr: f32, %t: i64, %sq: tensor<f32>) -> tensor<4xf32> {
  %e = tensor.extract %sq[] : tensor<f32>
  %a = arith.addf %e, %lr : f32
  call @use(%a) : (f32) -> ()
  %b = arith.mulf %a, %lr : f32
  %p1, %m1, %v1 = lmc.adamw %p, %p, %p, %p lr(%lr) grad_scale(%b) step(%t) betas(%lr, %lr) eps(%lr) weight_decay(%lr) : tensor<4xf32>, f32, i64
  return %p1 : tensor<4xf32>
}

// -----

// Tests that a partial sum made a 0-d tensor for an all-reduce (tp, ZeRO)
// is the device code's result itself (the tensor.from_elements goes), and
// that the code after the all-reduce is device code of its own, reading the
// reduced tensor; the host's comparison with the axis index is an argument.

// CHECK-LABEL: func.func @partial(
// CHECK-SAME:    %[[SQ:[^:]+]]: tensor<f32>)
// CHECK:         %[[FIRST:.+]] = arith.cmpi eq
// CHECK:         %[[P:.+]] = call @partial_clip_0(%[[SQ]], %[[FIRST]]) : (tensor<f32>, i1) -> tensor<f32>
// CHECK-NOT:     tensor.from_elements
// CHECK-NEXT:    %[[R:.+]] = lmc.all_reduce %[[P]] over ["tp"] : tensor<f32>
// CHECK-NEXT:    %[[S:.+]] = call @partial_clip_1(%[[R]]) : (tensor<f32>) -> tensor<f32>
// CHECK:         lmc.adamw {{.+}} grad_scale(%[[S]])
// CHECK-LABEL: func.func private @partial_clip_0(
// CHECK:           arith.select
// CHECK-NEXT:      arith.addf
// CHECK-NEXT:      linalg.yield
// CHECK-LABEL: func.func private @partial_clip_1(
// CHECK:           math.sqrt
// CHECK-NEXT:      linalg.yield
module attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
func.func @partial(%p: tensor<4xf32>, %lr: f32, %t: i64, %sq: tensor<f32>) -> tensor<4xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %c0 = arith.constant 0 : index
  %i = lmc.axis_index "tp"
  %first = arith.cmpi eq, %i, %c0 : index
  %e = tensor.extract %sq[] : tensor<f32>
  %mine = arith.select %first, %e, %zero : f32
  %sum = arith.addf %zero, %mine : f32
  %w = tensor.from_elements %sum : tensor<f32>
  %r = lmc.all_reduce %w over ["tp"] : tensor<f32>
  %n = tensor.extract %r[] : tensor<f32>
  %norm = math.sqrt %n : f32
  %p1, %m1, %v1 = lmc.adamw %p, %p, %p, %p lr(%lr) grad_scale(%norm) step(%t) betas(%lr, %lr) eps(%lr) weight_decay(%lr) : tensor<4xf32>, f32, i64
  return %p1 : tensor<4xf32>
}
}

// -----

// Tests that scalar code on reads that no operand takes as a tensor stays on
// the host, its reads moved to just before the return (after the ops that
// queue work), and that constants stay in place.

// CHECK-LABEL: func.func @host_only(
// CHECK-NOT:     linalg.generic
// CHECK:         %[[C:.+]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT:    %[[Y:.+]] = lmc.mul
// CHECK-NEXT:    %[[E:.+]] = tensor.extract
// CHECK-NEXT:    %[[R:.+]] = arith.mulf %[[E]], %[[C]] : f32
// CHECK-NEXT:    return %[[R]], %[[Y]]
func.func @host_only(%x: tensor<4xf32>, %loss: tensor<f32>) -> (f32, tensor<4xf32>) {
  %e = tensor.extract %loss[] : tensor<f32>
  %c = arith.constant 2.000000e+00 : f32
  %r = arith.mulf %e, %c : f32
  %y = lmc.mul %x, %x : tensor<4xf32>
  return %r, %y : f32, tensor<4xf32>
}

// -----

// Tests that a group's scalar argument that its body also uses for
// something other than an update's grad_scale stays a scalar, computed on
// the host.

// CHECK-LABEL: func.func @other_use(
// CHECK-NOT:     linalg.generic
// CHECK:         lmc.fused "adamw" ({{.+}}) : (tensor<4xf32>, f32, f32, i64) ->
// CHECK:           lmc.adamw {{.+}} : tensor<4xf32>, f32, i64{{$}}
func.func @other_use(%p: tensor<4xf32>, %lr: f32, %t: i64, %sq: tensor<f32>) -> tensor<4xf32> {
  %e = tensor.extract %sq[] : tensor<f32>
  %s = math.sqrt %e : f32
  %u:3 = lmc.fused "adamw" (%pp = %p, %llr = %lr, %ss = %s, %tt = %t) : (tensor<4xf32>, f32, f32, i64) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
    %lr2 = arith.mulf %llr, %ss : f32
    %p1, %m1, %v1 = lmc.adamw %pp, %pp, %pp, %pp lr(%lr2) grad_scale(%ss) step(%tt) betas(%llr, %llr) eps(%llr) weight_decay(%llr) : tensor<4xf32>, f32, i64
    lmc.yield %p1, %m1, %v1 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  }
  return %u#0 : tensor<4xf32>
}

// -----

// Tests that one device computation reads at most max-inputs tensors (32
// here): the sum of 33 squared norms is two kernels, the second reading the
// first's partial sum and the last norm, the additions in the same order.

// CHECK-LABEL: func.func @many_reads(
// CHECK:         %[[A:.+]] = call @many_reads_clip_0({{.+}}) : ({{(tensor<f32>, )+}}tensor<f32>) -> tensor<f32>
// CHECK-NEXT:    %[[B:.+]] = call @many_reads_clip_1(%{{.+}}, %[[A]]) : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK:         lmc.adamw {{.+}} grad_scale(%[[B]]) {{.+}} : tensor<4xf32>, f32, i64, tensor<f32>
// CHECK-LABEL: func.func private @many_reads_clip_0(
// CHECK-COUNT-32: tensor<f32>
// CHECK-SAME:    -> tensor<f32>
// CHECK:         linalg.generic
// CHECK-COUNT-32:  arith.addf
// CHECK-NEXT:      linalg.yield
// CHECK-LABEL: func.func private @many_reads_clip_1(
// CHECK:         linalg.generic
// CHECK-NEXT:    ^bb0(%[[Y:.+]]: f32, %[[X:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT:      %[[S:.+]] = arith.addf %[[X]], %[[Y]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32
func.func @many_reads(%p: tensor<4xf32>, %lr: f32, %t: i64, %t0: tensor<f32>, %t1: tensor<f32>, %t2: tensor<f32>, %t3: tensor<f32>, %t4: tensor<f32>, %t5: tensor<f32>, %t6: tensor<f32>, %t7: tensor<f32>, %t8: tensor<f32>, %t9: tensor<f32>, %t10: tensor<f32>, %t11: tensor<f32>, %t12: tensor<f32>, %t13: tensor<f32>, %t14: tensor<f32>, %t15: tensor<f32>, %t16: tensor<f32>, %t17: tensor<f32>, %t18: tensor<f32>, %t19: tensor<f32>, %t20: tensor<f32>, %t21: tensor<f32>, %t22: tensor<f32>, %t23: tensor<f32>, %t24: tensor<f32>, %t25: tensor<f32>, %t26: tensor<f32>, %t27: tensor<f32>, %t28: tensor<f32>, %t29: tensor<f32>, %t30: tensor<f32>, %t31: tensor<f32>, %t32: tensor<f32>) -> tensor<4xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %e0 = tensor.extract %t0[] : tensor<f32>
  %s0 = arith.addf %zero, %e0 : f32
  %e1 = tensor.extract %t1[] : tensor<f32>
  %s1 = arith.addf %s0, %e1 : f32
  %e2 = tensor.extract %t2[] : tensor<f32>
  %s2 = arith.addf %s1, %e2 : f32
  %e3 = tensor.extract %t3[] : tensor<f32>
  %s3 = arith.addf %s2, %e3 : f32
  %e4 = tensor.extract %t4[] : tensor<f32>
  %s4 = arith.addf %s3, %e4 : f32
  %e5 = tensor.extract %t5[] : tensor<f32>
  %s5 = arith.addf %s4, %e5 : f32
  %e6 = tensor.extract %t6[] : tensor<f32>
  %s6 = arith.addf %s5, %e6 : f32
  %e7 = tensor.extract %t7[] : tensor<f32>
  %s7 = arith.addf %s6, %e7 : f32
  %e8 = tensor.extract %t8[] : tensor<f32>
  %s8 = arith.addf %s7, %e8 : f32
  %e9 = tensor.extract %t9[] : tensor<f32>
  %s9 = arith.addf %s8, %e9 : f32
  %e10 = tensor.extract %t10[] : tensor<f32>
  %s10 = arith.addf %s9, %e10 : f32
  %e11 = tensor.extract %t11[] : tensor<f32>
  %s11 = arith.addf %s10, %e11 : f32
  %e12 = tensor.extract %t12[] : tensor<f32>
  %s12 = arith.addf %s11, %e12 : f32
  %e13 = tensor.extract %t13[] : tensor<f32>
  %s13 = arith.addf %s12, %e13 : f32
  %e14 = tensor.extract %t14[] : tensor<f32>
  %s14 = arith.addf %s13, %e14 : f32
  %e15 = tensor.extract %t15[] : tensor<f32>
  %s15 = arith.addf %s14, %e15 : f32
  %e16 = tensor.extract %t16[] : tensor<f32>
  %s16 = arith.addf %s15, %e16 : f32
  %e17 = tensor.extract %t17[] : tensor<f32>
  %s17 = arith.addf %s16, %e17 : f32
  %e18 = tensor.extract %t18[] : tensor<f32>
  %s18 = arith.addf %s17, %e18 : f32
  %e19 = tensor.extract %t19[] : tensor<f32>
  %s19 = arith.addf %s18, %e19 : f32
  %e20 = tensor.extract %t20[] : tensor<f32>
  %s20 = arith.addf %s19, %e20 : f32
  %e21 = tensor.extract %t21[] : tensor<f32>
  %s21 = arith.addf %s20, %e21 : f32
  %e22 = tensor.extract %t22[] : tensor<f32>
  %s22 = arith.addf %s21, %e22 : f32
  %e23 = tensor.extract %t23[] : tensor<f32>
  %s23 = arith.addf %s22, %e23 : f32
  %e24 = tensor.extract %t24[] : tensor<f32>
  %s24 = arith.addf %s23, %e24 : f32
  %e25 = tensor.extract %t25[] : tensor<f32>
  %s25 = arith.addf %s24, %e25 : f32
  %e26 = tensor.extract %t26[] : tensor<f32>
  %s26 = arith.addf %s25, %e26 : f32
  %e27 = tensor.extract %t27[] : tensor<f32>
  %s27 = arith.addf %s26, %e27 : f32
  %e28 = tensor.extract %t28[] : tensor<f32>
  %s28 = arith.addf %s27, %e28 : f32
  %e29 = tensor.extract %t29[] : tensor<f32>
  %s29 = arith.addf %s28, %e29 : f32
  %e30 = tensor.extract %t30[] : tensor<f32>
  %s30 = arith.addf %s29, %e30 : f32
  %e31 = tensor.extract %t31[] : tensor<f32>
  %s31 = arith.addf %s30, %e31 : f32
  %e32 = tensor.extract %t32[] : tensor<f32>
  %s32 = arith.addf %s31, %e32 : f32
  %p1, %m1, %v1 = lmc.adamw %p, %p, %p, %p lr(%lr) grad_scale(%s32) step(%t) betas(%lr, %lr) eps(%lr) weight_decay(%lr) : tensor<4xf32>, f32, i64
  return %p1 : tensor<4xf32>
}
