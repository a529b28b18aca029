// RUN: lmc-opt %s --lmc-fuse=report -split-input-file | FileCheck %s
// RUN: lmc-opt %s --lmc-fuse=runtime-row-reductions -split-input-file | FileCheck %s --check-prefix=ROWS

// Tests that a bias add joins the GELU that reads it: one group returning
// both (the backward pass reads the biased value); the matmuls stay out;
// the report counts kernels per call of each function when the module has
// no training functions.

// CHECK-LABEL: lmc-fuse: @m mlp: 4 kernels before fusion, 3 after (1 group of 2 ops: gelu 1)
// CHECK-LABEL: func.func @mlp
// CHECK:         %[[H:.+]] = lmc.matmul
// CHECK-NEXT:    %[[G:.+]]:2 = lmc.fused "gelu" (%[[A:.+]] = %[[H]], %[[C:.+]] = %{{.+}}) : (tensor<?x?x256xf32>, tensor<256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
// CHECK-NEXT:      %[[HB:.+]] = lmc.bias_add %[[A]], %[[C]]
// CHECK-NEXT:      %[[GE:.+]] = lmc.gelu %[[HB]] tanh
// CHECK-NEXT:      lmc.yield %[[HB]], %[[GE]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[Y:.+]] = lmc.matmul %[[G]]#1
// CHECK-NEXT:    return %[[Y]], %[[G]]#0
lmc.model @m {
  func.func @mlp(%x: tensor<?x?x64xf32>, %w: tensor<64x256xf32>, %b: tensor<256xf32>, %w2: tensor<256x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x256xf32>) {
    %h = lmc.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x256xf32>
    %hb = lmc.bias_add %h, %b : tensor<?x?x256xf32>, tensor<256xf32>
    %g = lmc.gelu %hb tanh : tensor<?x?x256xf32>
    %y = lmc.matmul %g, %w2 : tensor<?x?x256xf32>, tensor<256x64xf32>
    return %y, %hb : tensor<?x?x64xf32>, tensor<?x?x256xf32>
  }
}

// -----

// Tests that groups stay convex: the residual add that reads both the
// LayerNorm group's sum and the matmul after the LayerNorm does not join
// that group (a path would leave it and come back).

// CHECK-LABEL: func.func @residual
// CHECK:         %[[R:.+]]:2 = lmc.fused "layer_norm"
// CHECK-NEXT:      lmc.add
// CHECK-NEXT:      lmc.layer_norm
// CHECK-NEXT:      lmc.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[H:.+]] = lmc.matmul %[[R]]#1
// CHECK-NEXT:    %[[X2:.+]] = lmc.add %[[R]]#0, %[[H]]
// CHECK-NEXT:    return %[[X2]]
lmc.model @m {
  func.func @residual(%x0: tensor<?x?x64xf32>, %a: tensor<?x?x64xf32>, %w: tensor<64xf32>, %b: tensor<64xf32>, %m: tensor<64x64xf32>) -> tensor<?x?x64xf32> {
    %x1 = lmc.add %x0, %a : tensor<?x?x64xf32>
    %l = lmc.layer_norm %x1, %w, %b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %h = lmc.matmul %l, %m : tensor<?x?x64xf32>, tensor<64x64xf32>
    %x2 = lmc.add %x1, %h : tensor<?x?x64xf32>
    return %x2 : tensor<?x?x64xf32>
  }
}

// -----

// Tests that cross_entropy joins the cross_entropy_grad of the same logits
// and targets, and that the constant gradient of the loss is copied into the
// group rather than passed in.

// CHECK-LABEL: func.func @loss
// CHECK:         %[[R:.+]]:2 = lmc.fused "cross_entropy" (%[[L:.+]] = %{{.+}}, %[[T:.+]] = %{{.+}}) : (tensor<?x?x8xf32>, tensor<?x?xi32>) -> (tensor<f32>, tensor<?x?x8xf32>) {
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT:      %[[CE:.+]] = lmc.cross_entropy %[[L]], %[[T]]
// CHECK-NEXT:      %[[D:.+]] = lmc.cross_entropy_grad %[[L]], %[[T]], %[[ONE]]
// CHECK-NEXT:      lmc.yield %[[CE]], %[[D]]
lmc.model @m {
  func.func @loss(%l: tensor<?x?x8xf32>, %t: tensor<?x?xi32>) -> (tensor<f32>, tensor<?x?x8xf32>) {
    %ce = lmc.cross_entropy %l, %t : tensor<?x?x8xf32>, tensor<?x?xi32>
    %one = arith.constant dense<1.000000e+00> : tensor<f32>
    %d = lmc.cross_entropy_grad %l, %t, %one : tensor<?x?x8xf32>, tensor<?x?xi32>, tensor<f32>
    return %ce, %d : tensor<f32>, tensor<?x?x8xf32>
  }
}

// -----

// Tests the optimizer's groups: the squared norms of all gradients, with the
// adds that sum them, are one group; all AdamW updates are another. The
// all-reduces of data parallelism never join a group: the scale after the
// wait does. Ops with side effects keep their order (the start before the
// wait), and a report line is printed for train_step only.

// CHECK-NOT:   lmc-fuse: @d other
// CHECK-LABEL: lmc-fuse: @d train_step: 8 kernels before fusion, 2 after (2 groups of 8 ops: adamw 1 grad_norm 1)
// CHECK-LABEL: func.func @train_step
// CHECK:         %[[P:.+]]:2 = lmc.all_reduce_start
// CHECK-NEXT:    %[[W:.+]]:2 = lmc.wait %[[P]]#0, %[[P]]#1
// CHECK-NEXT:    %[[N:.+]]:3 = lmc.fused "grad_norm" (%[[A:.+]] = %[[W]]#0, %[[B:.+]] = %[[W]]#1) : (tensor<4x4xf32>, tensor<4xf32>) -> (tensor<4x4xf32>, tensor<4xf32>, f32) {
// CHECK-NEXT:      %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      %[[SA:.+]] = lmc.scale %[[A]] by 5.000000e-01
// CHECK-NEXT:      %[[SB:.+]] = lmc.scale %[[B]] by 5.000000e-01
// CHECK-NEXT:      lmc.mul %[[SA]], %[[SA]]
// CHECK-NEXT:      lmc.reduce_sum
// CHECK-NEXT:      tensor.extract
// CHECK-NEXT:      arith.addf %[[Z]]
// CHECK-NEXT:      lmc.mul %[[SB]], %[[SB]]
// CHECK-NEXT:      lmc.reduce_sum
// CHECK-NEXT:      tensor.extract
// CHECK-NEXT:      %[[S:.+]] = arith.addf
// CHECK-NEXT:      lmc.yield %[[SA]], %[[SB]], %[[S]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[NORM:.+]] = math.sqrt %[[N]]#2
// CHECK-NEXT:    %[[U:.+]]:6 = lmc.fused "adamw" (%{{.+}} = %{{.+}}, %{{.+}} = %[[N]]#0, {{.+}}) : ({{.+}}) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
// CHECK-NEXT:      arith.constant 1.000000e+00 : f32
// CHECK-NEXT:      arith.constant 0.000000e+00 : f32
// CHECK-NEXT:      lmc.adamw
// CHECK-NEXT:      lmc.adamw
// CHECK-NEXT:      lmc.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    return %[[NORM]], %[[U]]#0
lmc.model @d attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @train_step(%g0: tensor<4x4xf32>, %g1: tensor<4xf32>,
      %p0: tensor<4x4xf32>, %m0: tensor<4x4xf32>, %v0: tensor<4x4xf32>,
      %p1: tensor<4xf32>, %m1: tensor<4xf32>, %v1: tensor<4xf32>,
      %lr: f32, %step: i64, %b1: f32, %b2: f32, %eps: f32, %wd: f32)
      -> (f32, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
    %p:2 = lmc.all_reduce_start %g0, %g1 over ["dp"] : tensor<4x4xf32>, tensor<4xf32>
    %w:2 = lmc.wait %p#0, %p#1 : !lmc.pending<tensor<4x4xf32>>, !lmc.pending<tensor<4xf32>>
    %s0 = lmc.scale %w#0 by 5.000000e-01 : tensor<4x4xf32>
    %s1 = lmc.scale %w#1 by 5.000000e-01 : tensor<4xf32>
    %zero = arith.constant 0.000000e+00 : f32
    %q0 = lmc.mul %s0, %s0 : tensor<4x4xf32>
    %r0 = lmc.reduce_sum %q0 dims [0, 1] : tensor<4x4xf32>
    %e0 = tensor.extract %r0[] : tensor<f32>
    %a0 = arith.addf %zero, %e0 : f32
    %q1 = lmc.mul %s1, %s1 : tensor<4xf32>
    %r1 = lmc.reduce_sum %q1 dims [0] : tensor<4xf32>
    %e1 = tensor.extract %r1[] : tensor<f32>
    %a1 = arith.addf %a0, %e1 : f32
    %norm = math.sqrt %a1 : f32
    %one = arith.constant 1.000000e+00 : f32
    %np0, %nm0, %nv0 = lmc.adamw %p0, %s0, %m0, %v0 lr(%lr) grad_scale(%one) step(%step) betas(%b1, %b2) eps(%eps) weight_decay(%wd) : tensor<4x4xf32>, f32, i64
    %np1, %nm1, %nv1 = lmc.adamw %p1, %s1, %m1, %v1 lr(%lr) grad_scale(%one) step(%step) betas(%b1, %b2) eps(%eps) weight_decay(%zero) : tensor<4xf32>, f32, i64
    return %norm, %np0, %nm0, %nv0, %np1, %nm1, %nv1 : f32, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  }
  func.func @other(%x: tensor<4xf32>) -> tensor<4xf32> {
    %a = lmc.gelu %x tanh : tensor<4xf32>
    %b = lmc.gelu %a tanh : tensor<4xf32>
    return %b : tensor<4xf32>
  }
}

// -----

// Tests the vocabulary-parallel cross-entropy of a tensor-parallel step
// (lmc-shard's output): the scale of the logits joins the
// cross_entropy_stats that reduces their rows; the all_gather of the
// statistics, a collective, never joins a group, and keeps the scale apart
// from the cross_entropy_shard_grad that also reads it (a path would leave
// the group through the all_gather and come back); cross_entropy_combine
// and the cross_entropy_shard_grad that reads its log-sum-exp form one
// group. lmc.axis_index and the offset computed from it stay outside, read
// by the groups as operands.

// CHECK-LABEL: lmc-fuse: @v vp: 4 kernels before fusion, 2 after (2 groups of 4 ops: cross_entropy 2)
// CHECK-LABEL: func.func @vp
// CHECK-SAME:    (%[[L:.+]]: tensor<?x?x8xf32>, %[[T:.+]]: tensor<?x?xi32>, %[[DL:.+]]: tensor<f32>)
// CHECK:         %[[TP:.+]] = lmc.axis_index "tp"
// CHECK:         %[[OFF:.+]] = arith.muli %[[TP]]
// CHECK-NEXT:    %[[S:.+]]:2 = lmc.fused "cross_entropy" (%[[A:.+]] = %[[L]], %[[B:.+]] = %[[T]], %[[O:.+]] = %[[OFF]]) : (tensor<?x?x8xf32>, tensor<?x?xi32>, index) -> (tensor<?x?x8xf32>, tensor<?x?x3xf32>) {
// CHECK-NEXT:      %[[SC:.+]] = lmc.scale %[[A]]
// CHECK-NEXT:      %[[ST:.+]] = lmc.cross_entropy_stats %[[SC]], %[[B]] offset(%[[O]])
// CHECK-NEXT:      lmc.yield %[[SC]], %[[ST]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[G:.+]] = lmc.all_gather %[[S]]#1 over ["tp"] dim 2
// CHECK-NEXT:    %[[C:.+]]:2 = lmc.fused "cross_entropy" (%{{.+}} = %[[G]], %{{.+}} = %[[S]]#0, %{{.+}} = %[[T]], %{{.+}} = %[[DL]], %{{.+}} = %[[OFF]])
// CHECK-NEXT:      %[[LOSS:.+]], %[[LSE:.+]] = lmc.cross_entropy_combine
// CHECK-NEXT:      %[[D:.+]] = lmc.cross_entropy_shard_grad %{{.+}}, %{{.+}}, %{{.+}}, %[[LSE]] offset(
// CHECK-NEXT:      lmc.yield %[[LOSS]], %[[D]]
// CHECK-NEXT:    }
// CHECK-NEXT:    return %[[C]]#0, %[[C]]#1
lmc.model @v attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @vp(%l: tensor<?x?x8xf32>, %t: tensor<?x?xi32>, %dl: tensor<f32>) -> (tensor<f32>, tensor<?x?x8xf32>) {
    %tp = lmc.axis_index "tp"
    %c8 = arith.constant 8 : index
    %off = arith.muli %tp, %c8 : index
    %s = lmc.scale %l by 5.000000e-01 : tensor<?x?x8xf32>
    %st = lmc.cross_entropy_stats %s, %t offset(%off) : tensor<?x?x8xf32>, tensor<?x?xi32>
    %g = lmc.all_gather %st over ["tp"] dim 2 : tensor<?x?x3xf32> -> tensor<?x?x6xf32>
    %loss, %lse = lmc.cross_entropy_combine %g : tensor<?x?x6xf32>
    %d = lmc.cross_entropy_shard_grad %s, %t, %dl, %lse offset(%off) : tensor<?x?x8xf32>, tensor<?x?xi32>, tensor<f32>, tensor<?x?xf32>
    return %loss, %d : tensor<f32>, tensor<?x?x8xf32>
  }
}

// -----

// Tests that an embedding with an offset (a block of vocabulary rows) stays
// out of groups like any gather, while the add and LayerNorm that read it
// fuse; the all_reduce of the partial embedding is a collective and stays
// out too.

// CHECK-LABEL: lmc-fuse: @e emb: 4 kernels before fusion, 3 after (1 group of 2 ops: layer_norm 1)
// CHECK-LABEL: func.func @emb
// CHECK:         %[[TP:.+]] = lmc.axis_index "tp"
// CHECK:         %[[E:.+]] = lmc.embedding %{{.+}}[%{{.+}}] offset(%{{.+}})
// CHECK-NEXT:    %[[R:.+]] = lmc.all_reduce %[[E]] over ["tp"]
// CHECK-NEXT:    %[[P:.+]] = lmc.embedding
// CHECK-NEXT:    %{{.+}}:2 = lmc.fused "layer_norm" (%{{.+}} = %[[R]], %{{.+}} = %[[P]], %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}})
// CHECK-NEXT:      lmc.add
// CHECK-NEXT:      lmc.layer_norm
// CHECK-NEXT:      lmc.yield
lmc.model @e attributes {lmc.mesh = #lmc.mesh<tp = 2>} {
  func.func @emb(%wte: tensor<16x8xf32>, %wpe: tensor<4x8xf32>, %ids: tensor<?x4xi32>, %pos: tensor<?x4xi32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> (tensor<?x4x8xf32>, tensor<?x4x8xf32>) {
    %tp = lmc.axis_index "tp"
    %c16 = arith.constant 16 : index
    %off = arith.muli %tp, %c16 : index
    %e = lmc.embedding %wte[%ids] offset(%off) : tensor<16x8xf32>, tensor<?x4xi32>
    %r = lmc.all_reduce %e over ["tp"] : tensor<?x4x8xf32>
    %p = lmc.embedding %wpe[%pos] : tensor<4x8xf32>, tensor<?x4xi32>
    %x = lmc.add %r, %p : tensor<?x4x8xf32>
    %n = lmc.layer_norm %x, %w, %b eps(1.000000e-05) : tensor<?x4x8xf32>, tensor<8xf32>
    return %x, %n : tensor<?x4x8xf32>, tensor<?x4x8xf32>
  }
}

// -----

// Tests that lmc.silu fuses by its declared role, with no entry in the
// pass: the SwiGLU gate silu(a) * b is one group named after the silu, and
// in the backward pass silu_grad joins the mul that produces its gradient.

// CHECK-LABEL: lmc-fuse: @m swiglu: 6 kernels before fusion, 4 after (2 groups of 4 ops: silu 1 silu_grad 1)
// CHECK-LABEL: func.func @swiglu
// CHECK:         %[[A:.+]] = lmc.matmul
// CHECK-NEXT:    %[[B:.+]] = lmc.matmul
// CHECK-NEXT:    %[[H:.+]] = lmc.fused "silu" (%[[X:.+]] = %[[A]], %[[Y:.+]] = %[[B]]) : (tensor<?x?x256xf32>, tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
// CHECK-NEXT:      %[[S:.+]] = lmc.silu %[[X]]
// CHECK-NEXT:      %[[M:.+]] = lmc.mul %[[S]], %[[Y]]
// CHECK-NEXT:      lmc.yield %[[M]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[D:.+]] = lmc.fused "silu_grad" (%[[DH:.+]] = %{{.+}}, %[[BB:.+]] = %[[B]], %[[AA:.+]] = %[[A]]) : (tensor<?x?x256xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
// CHECK-NEXT:      %[[DS:.+]] = lmc.mul %[[DH]], %[[BB]]
// CHECK-NEXT:      %[[DA:.+]] = lmc.silu_grad %[[AA]], %[[DS]]
// CHECK-NEXT:      lmc.yield %[[DA]]
// CHECK-NEXT:    }
// CHECK-NEXT:    return %[[H]], %[[D]]
lmc.model @m {
  func.func @swiglu(%x: tensor<?x?x64xf32>, %wg: tensor<64x256xf32>, %wu: tensor<64x256xf32>, %dh: tensor<?x?x256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
    %a = lmc.matmul %x, %wg : tensor<?x?x64xf32>, tensor<64x256xf32>
    %b = lmc.matmul %x, %wu : tensor<?x?x64xf32>, tensor<64x256xf32>
    %s = lmc.silu %a : tensor<?x?x256xf32>
    %h = lmc.mul %s, %b : tensor<?x?x256xf32>
    %ds = lmc.mul %dh, %b : tensor<?x?x256xf32>
    %da = lmc.silu_grad %a, %ds : tensor<?x?x256xf32>
    return %h, %da : tensor<?x?x256xf32>, tensor<?x?x256xf32>
  }
}

// -----

// Tests the whole SwiGLU MLP as lmc-autodiff writes its backward pass: the
// gate silu(a) * b is one group, and its gradient is one group holding both
// products of the mul's rule (dh * b and dh * s, siblings through dh) and
// the silu gradient; the projections stay out.

// CHECK-LABEL: lmc-fuse: @m swiglu_backward: 9 kernels before fusion, 6 after (2 groups of 5 ops: silu 1 silu_grad 1)
// CHECK-LABEL: func.func @swiglu_backward
// CHECK:         %[[A:.+]] = lmc.matmul
// CHECK-NEXT:    %[[B:.+]] = lmc.matmul
// CHECK-NEXT:    %[[H:.+]]:2 = lmc.fused "silu" (%[[X:.+]] = %[[A]], %[[Y:.+]] = %[[B]]) : (tensor<?x?x256xf32>, tensor<?x?x256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
// CHECK-NEXT:      %[[S:.+]] = lmc.silu %[[X]]
// CHECK-NEXT:      %[[M:.+]] = lmc.mul %[[S]], %[[Y]]
// CHECK-NEXT:      lmc.yield %[[S]], %[[M]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[O:.+]] = lmc.matmul %[[H]]#1
// CHECK-NEXT:    %[[DH:.+]] = lmc.matmul %[[O]]
// CHECK-NEXT:    %[[G:.+]]:2 = lmc.fused "silu_grad" (%[[GH:.+]] = %[[DH]], %[[GB:.+]] = %[[B]], %[[GS:.+]] = %[[H]]#0, %[[GA:.+]] = %[[A]]) : (tensor<?x?x256xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
// CHECK-NEXT:      %[[DS:.+]] = lmc.mul %[[GH]], %[[GB]]
// CHECK-NEXT:      %[[DB:.+]] = lmc.mul %[[GH]], %[[GS]]
// CHECK-NEXT:      %[[DA:.+]] = lmc.silu_grad %[[GA]], %[[DS]]
// CHECK-NEXT:      lmc.yield %[[DB]], %[[DA]]
// CHECK-NEXT:    }
// CHECK-NEXT:    return %[[O]], %[[G]]#1, %[[G]]#0
lmc.model @m {
  func.func @swiglu_backward(%x: tensor<?x?x64xf32>, %wg: tensor<64x256xf32>, %wu: tensor<64x256xf32>, %wd: tensor<256x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
    %a = lmc.matmul %x, %wg : tensor<?x?x64xf32>, tensor<64x256xf32>
    %b = lmc.matmul %x, %wu : tensor<?x?x64xf32>, tensor<64x256xf32>
    %s = lmc.silu %a : tensor<?x?x256xf32>
    %h = lmc.mul %s, %b : tensor<?x?x256xf32>
    %o = lmc.matmul %h, %wd : tensor<?x?x256xf32>, tensor<256x64xf32>
    %dh = lmc.matmul %o, %wd transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %ds = lmc.mul %dh, %b : tensor<?x?x256xf32>
    %db = lmc.mul %dh, %s : tensor<?x?x256xf32>
    %da = lmc.silu_grad %a, %ds : tensor<?x?x256xf32>
    return %o, %da, %db : tensor<?x?x64xf32>, tensor<?x?x256xf32>, tensor<?x?x256xf32>
  }
}

// -----

// Tests that rms_norm fuses like layer_norm (row-wise, by its declared
// role): the residual add joins it and both are results; its gradient joins
// the sum of the residual gradients (its input gradient is the group's, its
// weight gradient a reduction over the rows).

// CHECK-LABEL: lmc-fuse: @m rms: 5 kernels before fusion, 3 after (2 groups of 4 ops: rms_norm 1 rms_norm_grad 1)
// CHECK-LABEL: func.func @rms
// CHECK:         %[[N:.+]]:2 = lmc.fused "rms_norm" (%[[R:.+]] = %{{.+}}, %[[A:.+]] = %{{.+}}, %[[W:.+]] = %{{.+}}) : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
// CHECK-NEXT:      %[[X:.+]] = lmc.add %[[R]], %[[A]]
// CHECK-NEXT:      %[[Y:.+]] = lmc.rms_norm %[[X]], %[[W]] eps(1.000000e-05)
// CHECK-NEXT:      lmc.yield %[[X]], %[[Y]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[DY:.+]] = lmc.matmul %[[N]]#1
// CHECK-NEXT:    %[[G:.+]]:2 = lmc.fused "rms_norm_grad" (%{{.+}}) : ({{.+}}) -> (tensor<64xf32>, tensor<?x?x64xf32>) {
// CHECK-NEXT:      %[[DX:.+]], %[[DW:.+]] = lmc.rms_norm_grad
// CHECK-NEXT:      %[[S:.+]] = lmc.add %{{.+}}, %[[DX]]
// CHECK-NEXT:      lmc.yield %[[DW]], %[[S]]
// CHECK-NEXT:    }
lmc.model @m {
  func.func @rms(%r: tensor<?x?x64xf32>, %a: tensor<?x?x64xf32>, %w: tensor<64xf32>, %wz: tensor<64x64xf32>, %dres: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) {
    %x = lmc.add %r, %a : tensor<?x?x64xf32>
    %y = lmc.rms_norm %x, %w eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %dy = lmc.matmul %y, %wz : tensor<?x?x64xf32>, tensor<64x64xf32>
    %dx, %dw = lmc.rms_norm_grad %x, %w, %dy eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %s = lmc.add %dres, %dx : tensor<?x?x64xf32>
    return %x, %y, %s, %dw : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>
  }
}

// -----

// Tests that rope is row-wise: a bias add on q joins its group (the matmul
// before it and the attention after it stay out).

// CHECK-LABEL: lmc-fuse: @m rope: 4 kernels before fusion, 3 after (1 group of 2 ops: rope 1)
// CHECK-LABEL: func.func @rope
// CHECK:         %[[Q:.+]] = lmc.matmul
// CHECK-NEXT:    %[[R:.+]] = lmc.fused "rope" (%[[X:.+]] = %[[Q]], %[[B:.+]] = %{{.+}}, %[[O:.+]] = %{{.+}}) : (tensor<?x?x64xf32>, tensor<64xf32>, index) -> tensor<?x?x64xf32> {
// CHECK-NEXT:      %[[QB:.+]] = lmc.bias_add %[[X]], %[[B]]
// CHECK-NEXT:      %[[QR:.+]] = lmc.rope %[[QB]] head_dim(16) theta(1.000000e+04) offset(%[[O]])
// CHECK-NEXT:      lmc.yield %[[QR]]
// CHECK-NEXT:    }
// CHECK-NEXT:    lmc.causal_attention %[[R]]
lmc.model @m {
  func.func @rope(%x: tensor<?x?x64xf32>, %wq: tensor<64x64xf32>, %bq: tensor<64xf32>, %off: index) -> tensor<?x?x64xf32> {
    %q = lmc.matmul %x, %wq : tensor<?x?x64xf32>, tensor<64x64xf32>
    %qb = lmc.bias_add %q, %bq : tensor<?x?x64xf32>, tensor<64xf32>
    %qr = lmc.rope %qb head_dim(16) theta(1.000000e+04) offset(%off) : tensor<?x?x64xf32>
    %y = lmc.causal_attention %qr, %qr, %qr heads(4) : tensor<?x?x64xf32>
    return %y : tensor<?x?x64xf32>
  }
}

// -----

// Tests that a merge is refused when a path from one op to the other runs
// through the order of the collectives (which the rewrite keeps): %a feeds
// the reduce-scatter started before the wait whose gather %b reads, so %a
// and %b (an add and the add it feeds) stay apart, in order (ZeRO-3's
// backward pass under --recompute block had this shape).

// CHECK-LABEL: func.func @train_step
// CHECK:         %[[P:.+]] = lmc.all_gather_start
// CHECK-NEXT:    %[[A:.+]] = lmc.add %arg1, %arg1 : tensor<4xf32>
// CHECK-NEXT:    %[[S:.+]] = lmc.reduce_scatter_start %[[A]]
// CHECK-NEXT:    %[[G:.+]] = lmc.wait %[[P]]
// CHECK-NEXT:    %[[B:.+]] = lmc.add %[[A]], %[[G]] : tensor<4xf32>
// CHECK-NEXT:    %[[R:.+]] = lmc.wait %[[S]]
// CHECK-NEXT:    return %[[B]], %[[R]]
lmc.model @c attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @train_step(%w: tensor<2xf32>, %x: tensor<4xf32>) -> (tensor<4xf32>, tensor<2xf32>) {
    %p = lmc.all_gather_start %w over ["dp"] dim 0 : tensor<2xf32> -> !lmc.pending<tensor<4xf32>>
    %a = lmc.add %x, %x : tensor<4xf32>
    %s = lmc.reduce_scatter_start %a over ["dp"] dim 0 : tensor<4xf32> -> !lmc.pending<tensor<2xf32>>
    %g = lmc.wait %p : !lmc.pending<tensor<4xf32>>
    %b = lmc.add %a, %g : tensor<4xf32>
    %r = lmc.wait %s : !lmc.pending<tensor<2xf32>>
    return %b, %r : tensor<4xf32>, tensor<2xf32>
  }
}

// -----

// Tests that merges keep the groups convex across an op that an earlier
// merge moved in the order of the groups: %a joins %d with the matmul and
// %c between them; %e and %f cannot then join that group (the path through
// the matmul would leave it and come back), so they join %c instead.

// CHECK-LABEL: lmc-fuse: @m window: 6 kernels before fusion, 3 after (2 groups of 5 ops: gelu 2)
// CHECK-LABEL: func.func @window
// CHECK:         %[[AD:.+]]:2 = lmc.fused "gelu" (%[[X:.+]] = %arg0, %[[Y:.+]] = %arg2)
// CHECK-NEXT:      %[[A:.+]] = lmc.gelu %[[X]] tanh
// CHECK-NEXT:      %[[D:.+]] = lmc.add %[[A]], %[[Y]]
// CHECK-NEXT:      lmc.yield %[[A]], %[[D]]
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[W:.+]] = lmc.matmul %[[AD]]#0, %arg1
// CHECK-NEXT:    %[[CEF:.+]] = lmc.fused "gelu" (%[[WA:.+]] = %[[W]], %[[DA:.+]] = %[[AD]]#1, %[[AA:.+]] = %[[AD]]#0)
// CHECK-NEXT:      %[[C:.+]] = lmc.gelu %[[WA]] tanh
// CHECK-NEXT:      %[[E:.+]] = lmc.add %[[DA]], %[[C]]
// CHECK-NEXT:      %[[F:.+]] = lmc.add %[[E]], %[[AA]]
// CHECK-NEXT:      lmc.yield %[[F]]
// CHECK-NEXT:    }
// CHECK-NEXT:    return %[[CEF]]
lmc.model @m {
  func.func @window(%x: tensor<?x?x64xf32>, %m: tensor<64x64xf32>, %y: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
    %a = lmc.gelu %x tanh : tensor<?x?x64xf32>
    %w = lmc.matmul %a, %m : tensor<?x?x64xf32>, tensor<64x64xf32>
    %c = lmc.gelu %w tanh : tensor<?x?x64xf32>
    %d = lmc.add %a, %y : tensor<?x?x64xf32>
    %e = lmc.add %d, %c : tensor<?x?x64xf32>
    %f = lmc.add %e, %a : tensor<?x?x64xf32>
    return %f : tensor<?x?x64xf32>
  }
}

// -----

// Tests that with runtime-row-reductions (the training pipeline's
// target=cuda) a float32 layer_norm, its gradient and the cross-entropy with
// its gradient join no group: the residual add before the norm stays a
// kernel of its own, the gradient's residual add joins the bias-gradient
// sum, and the float64 norm still joins its add (the GPU runtime has no
// kernel for it). Without the option the norm and its gradient share
// one group with the add (they read the same sum).

// CHECK-LABEL: func.func @rows(
// CHECK:         lmc.fused "layer_norm_grad"
// CHECK-NEXT:      lmc.add
// CHECK-NEXT:      lmc.layer_norm
// CHECK-NEXT:      lmc.layer_norm_grad
// CHECK:         lmc.fused "cross_entropy"
// CHECK:         lmc.fused "layer_norm"
// ROWS-LABEL: func.func @rows(
// ROWS-NOT:      lmc.fused "layer_norm
// ROWS-NOT:      lmc.fused "cross_entropy"
// ROWS:          lmc.layer_norm %{{.+}} : tensor<?x64xf32>
// ROWS:          lmc.layer_norm_grad
// ROWS:          lmc.fused "reduce_sum"
// ROWS-NEXT:       lmc.add
// ROWS-NEXT:       lmc.reduce_sum
// ROWS:          lmc.cross_entropy %
// ROWS:          lmc.cross_entropy_grad %
// ROWS:          lmc.fused "layer_norm"
// ROWS-NEXT:       lmc.add
// ROWS-NEXT:       lmc.layer_norm {{.+}} : tensor<?x64xf64>
// ROWS-LABEL: func.func @scores(
// ROWS:          lmc.fused "elementwise"
// ROWS-NEXT:       lmc.scale
// ROWS-NEXT:       lmc.causal_mask
// ROWS-NEXT:       lmc.yield
// ROWS:          lmc.softmax %{{.+}} : tensor<?x2x?x?xf32>
// ROWS:          lmc.softmax_grad %{{.+}} : tensor<?x2x?x?xf32>
// ROWS:          lmc.fused "elementwise"
// ROWS-NEXT:       lmc.causal_mask {{.+}} zero
// ROWS-NEXT:       lmc.scale
func.func @rows(%a: tensor<?x64xf32>, %b: tensor<?x64xf32>, %w: tensor<64xf32>, %dy: tensor<?x64xf32>,
                %l: tensor<?x?x16xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>,
                %c: tensor<?x64xf64>, %w64: tensor<64xf64>)
    -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<f32>, tensor<?x?x16xf32>, tensor<?x64xf64>) {
  %s = lmc.add %a, %b : tensor<?x64xf32>
  %y = lmc.layer_norm %s, %w, %w eps(1.000000e-05) : tensor<?x64xf32>, tensor<64xf32>
  %dx, %dw, %db = lmc.layer_norm_grad %s, %w, %dy eps(1.000000e-05) : tensor<?x64xf32>, tensor<64xf32>
  %r = lmc.add %dx, %dy : tensor<?x64xf32>
  %rs = lmc.reduce_sum %r dims [0] : tensor<?x64xf32>
  %loss = lmc.cross_entropy %l, %t : tensor<?x?x16xf32>, tensor<?x?xi32>
  %dl = lmc.cross_entropy_grad %l, %t, %g : tensor<?x?x16xf32>, tensor<?x?xi32>, tensor<f32>
  %c2 = lmc.add %c, %c : tensor<?x64xf64>
  %y64 = lmc.layer_norm %c2, %w64, %w64 eps(1.000000e-05) : tensor<?x64xf64>, tensor<64xf64>
  return %y, %r, %dw, %db, %rs, %loss, %dl, %y64 : tensor<?x64xf32>, tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<f32>, tensor<?x?x16xf32>, tensor<?x64xf64>
}

// Decomposed attention's scores: with runtime-row-reductions the float32
// softmax and its gradient join no group (the GPU runtime's row kernels);
// the scale and the causal mask stay one group each way. Without the option
// (here, with nothing between them) all six ops are one group.
// CHECK-LABEL: func.func @scores(
// CHECK:         lmc.fused "softmax_grad"
// CHECK-NEXT:      lmc.scale
// CHECK-NEXT:      lmc.causal_mask
// CHECK-NEXT:      lmc.softmax
// CHECK-NEXT:      lmc.softmax_grad
// CHECK-NEXT:      lmc.causal_mask {{.+}} zero
// CHECK-NEXT:      lmc.scale
func.func @scores(%s: tensor<?x2x?x?xf32>, %dp: tensor<?x2x?x?xf32>) -> (tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>) {
  %0 = lmc.scale %s by 0.25 : tensor<?x2x?x?xf32>
  %1 = lmc.causal_mask %0 : tensor<?x2x?x?xf32>
  %p = lmc.softmax %1 : tensor<?x2x?x?xf32>
  %ds = lmc.softmax_grad %p, %dp : tensor<?x2x?x?xf32>
  %dm = lmc.causal_mask %ds zero : tensor<?x2x?x?xf32>
  %d = lmc.scale %dm by 0.25 : tensor<?x2x?x?xf32>
  return %p, %d : tensor<?x2x?x?xf32>, tensor<?x2x?x?xf32>
}
