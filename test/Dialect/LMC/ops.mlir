// RUN: lmc-opt %s | lmc-opt | FileCheck %s
// RUN: lmc-opt %s --mlir-print-op-generic | lmc-opt | FileCheck %s

// Round trip of every op of the lmc dialect, in its custom and its generic
// form. Ops with inferred result types return their results, so the function
// signatures pin the inferred types down.

// Tests that a model states its context with context_length (a model with
// rotary embeddings has no position table to take it from).

// CHECK-LABEL: lmc.model @rotary attributes {context_length = 256 : i64} {
// CHECK-NEXT:    lmc.param @model.norm.weight : tensor<64xf32> init(ones)
lmc.model @rotary attributes {context_length = 256 : i64} {
  lmc.param @"model.norm.weight" : tensor<64xf32> init(ones)
}

// Tests that a model with parameters of every initialiser (quoted names with
// dots print bare), f32 and f64 parameters, a `forward` with i32 ids, a
// further function, and param_ref round trip.

// CHECK-LABEL: lmc.model @gpt {
// CHECK-NEXT:    lmc.param @wte.weight : tensor<256x64xf32> init(normal, std = 2.000000e-02)
// CHECK-NEXT:    lmc.param @wpe.weight : tensor<64x64xf32> init(normal, std = 1.000000e-02)
// CHECK-NEXT:    lmc.param @ln.weight : tensor<64xf32> init(ones)
// CHECK-NEXT:    lmc.param @ln.bias : tensor<64xf32> init(zeros)
// CHECK-NEXT:    lmc.param @"odd name" : tensor<2x3xf64> init(normal, std = 0.0123456789)
// CHECK-NEXT:    func.func @forward(%[[TOK:.+]]: tensor<?x?xi32>, %[[TGT:.+]]: tensor<?x?xi32>) -> tensor<f32> {
// CHECK-NEXT:      %[[WTE:.+]] = lmc.param_ref @wte.weight : tensor<256x64xf32>
// CHECK-NEXT:      %[[WPE:.+]] = lmc.param_ref @wpe.weight : tensor<64x64xf32>
// CHECK-NEXT:      %[[TE:.+]] = lmc.embedding %[[WTE]][%[[TOK]]] : tensor<256x64xf32>, tensor<?x?xi32>
// CHECK-NEXT:      %[[PE:.+]] = lmc.position_embedding %[[WPE]] like %[[TOK]] : tensor<64x64xf32>, tensor<?x?xi32>
// CHECK-NEXT:      %[[X:.+]] = lmc.add %[[TE]], %[[PE]] : tensor<?x?x64xf32>
// CHECK-NEXT:      %[[W:.+]] = lmc.param_ref @ln.weight : tensor<64xf32>
// CHECK-NEXT:      %[[B:.+]] = lmc.param_ref @ln.bias : tensor<64xf32>
// CHECK-NEXT:      %[[LN:.+]] = lmc.layer_norm %[[X]], %[[W]], %[[B]] eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
// CHECK-NEXT:      %[[LOGITS:.+]] = lmc.matmul %[[LN]], %[[WTE]] transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
// CHECK-NEXT:      %[[LOSS:.+]] = lmc.cross_entropy %[[LOGITS]], %[[TGT]] : tensor<?x?x256xf32>, tensor<?x?xi32>
// CHECK-NEXT:      return %[[LOSS]] : tensor<f32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.func @helper() -> tensor<2x3xf64> {
// CHECK-NEXT:      %[[P:.+]] = lmc.param_ref @"odd name" : tensor<2x3xf64>
// CHECK-NEXT:      return %[[P]] : tensor<2x3xf64>
// CHECK-NEXT:    }
// CHECK-NEXT:  }
lmc.model @gpt {
  lmc.param @"wte.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"wpe.weight" : tensor<64x64xf32> init(normal, std = 0.01)
  lmc.param @"ln.weight" : tensor<64xf32> init(ones)
  lmc.param @"ln.bias" : tensor<64xf32> init(zeros)
  lmc.param @"odd name" : tensor<2x3xf64> init(normal, std = 0.0123456789)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @"wte.weight" : tensor<256x64xf32>
    %wpe = lmc.param_ref @"wpe.weight" : tensor<64x64xf32>
    %tok = lmc.embedding %wte[%tokens] : tensor<256x64xf32>, tensor<?x?xi32>
    %pos = lmc.position_embedding %wpe like %tokens : tensor<64x64xf32>, tensor<?x?xi32>
    %x = lmc.add %tok, %pos : tensor<?x?x64xf32>
    %w = lmc.param_ref @"ln.weight" : tensor<64xf32>
    %b = lmc.param_ref @"ln.bias" : tensor<64xf32>
    %ln = lmc.layer_norm %x, %w, %b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %logits = lmc.matmul %ln, %wte transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
  func.func @helper() -> tensor<2x3xf64> {
    %p = lmc.param_ref @"odd name" : tensor<2x3xf64>
    return %p : tensor<2x3xf64>
  }
}

// Tests that an empty model and a model with only parameters (no `forward`)
// round trip.

// CHECK-LABEL: lmc.model @empty {
// CHECK-NEXT:  }
lmc.model @empty {
}

// CHECK-LABEL: lmc.model @params_only {
// CHECK-NEXT:    lmc.param @w : tensor<8x4xf64> init(normal, std = 3.000000e+00)
// CHECK-NEXT:  }
lmc.model @params_only {
  lmc.param @w : tensor<8x4xf64> init(normal, std = 3.0)
}

// Tests that a `forward` over i64 ids returning an f64 loss is accepted.

// CHECK-LABEL: lmc.model @f64_model {
// CHECK:         func.func @forward(%{{.+}}: tensor<2x8xi64>, %{{.+}}: tensor<2x8xi64>) -> tensor<f64>
// CHECK:           lmc.cross_entropy %{{.+}}, %{{.+}} : tensor<2x8x16xf64>, tensor<2x8xi64>
lmc.model @f64_model {
  lmc.param @wte : tensor<16x4xf64> init(normal, std = 1.0)
  func.func @forward(%tokens: tensor<2x8xi64>, %targets: tensor<2x8xi64>) -> tensor<f64> {
    %wte = lmc.param_ref @wte : tensor<16x4xf64>
    %x = lmc.embedding %wte[%tokens] : tensor<16x4xf64>, tensor<2x8xi64>
    %logits = lmc.matmul %x, %wte transpose_b : tensor<2x8x4xf64>, tensor<16x4xf64>
    %loss = lmc.cross_entropy %logits, %targets : tensor<2x8x16xf64>, tensor<2x8xi64>
    return %loss : tensor<f64>
  }
}

// Tests that the embeddings infer `ids`' shape followed by the channels, for
// static and dynamic ids, i32 and i64 ids and f32 and f64 tables; a static
// sequence may equal the context.

// CHECK-LABEL: func.func @embeddings
// CHECK-SAME:    -> (tensor<2x5x4xf64>, tensor<?x3x8xf32>, tensor<2x16x4xf64>, tensor<?x?x8xf32>)
// CHECK-NEXT:    %[[E0:.+]] = lmc.embedding %{{.+}}[%{{.+}}] : tensor<10x4xf64>, tensor<2x5xi64>
// CHECK-NEXT:    %[[E1:.+]] = lmc.embedding %{{.+}}[%{{.+}}] : tensor<?x8xf32>, tensor<?x3xi32>
// CHECK-NEXT:    %[[P0:.+]] = lmc.position_embedding %{{.+}} like %{{.+}} : tensor<16x4xf64>, tensor<2x16xi64>
// CHECK-NEXT:    %[[P1:.+]] = lmc.position_embedding %{{.+}} like %{{.+}} : tensor<16x8xf32>, tensor<?x?xi8>
// CHECK-NEXT:    return %[[E0]], %[[E1]], %[[P0]], %[[P1]]
func.func @embeddings(%t64: tensor<10x4xf64>, %ids64: tensor<2x5xi64>,
                      %tdyn: tensor<?x8xf32>, %ids32: tensor<?x3xi32>,
                      %wpe64: tensor<16x4xf64>, %full: tensor<2x16xi64>,
                      %wpe32: tensor<16x8xf32>, %ids8: tensor<?x?xi8>)
    -> (tensor<2x5x4xf64>, tensor<?x3x8xf32>, tensor<2x16x4xf64>, tensor<?x?x8xf32>) {
  %0 = lmc.embedding %t64[%ids64] : tensor<10x4xf64>, tensor<2x5xi64>
  %1 = lmc.embedding %tdyn[%ids32] : tensor<?x8xf32>, tensor<?x3xi32>
  %2 = lmc.position_embedding %wpe64 like %full : tensor<16x4xf64>, tensor<2x16xi64>
  %3 = lmc.position_embedding %wpe32 like %ids8 : tensor<16x8xf32>, tensor<?x?xi8>
  return %0, %1, %2, %3 : tensor<2x5x4xf64>, tensor<?x3x8xf32>, tensor<2x16x4xf64>, tensor<?x?x8xf32>
}

// Tests that an embedding with an offset (a block of rows of a larger
// table) infers the same type as without, and that the offset round trips.

// CHECK-LABEL: func.func @embedding_offset
// CHECK-SAME:    (%{{.+}}: tensor<128x64xf32>, %{{.+}}: tensor<?x?xi32>, %[[OFF:.+]]: index)
// CHECK-SAME:    -> tensor<?x?x64xf32>
// CHECK-NEXT:    %[[E:.+]] = lmc.embedding %{{.+}}[%{{.+}}] offset(%[[OFF]]) : tensor<128x64xf32>, tensor<?x?xi32>
// CHECK-NEXT:    return %[[E]]
func.func @embedding_offset(%t: tensor<128x64xf32>, %ids: tensor<?x?xi32>, %off: index)
    -> tensor<?x?x64xf32> {
  %0 = lmc.embedding %t[%ids] offset(%off) : tensor<128x64xf32>, tensor<?x?xi32>
  return %0 : tensor<?x?x64xf32>
}

// Tests that layer_norm, bias_add, gelu (tanh and exact) and add keep the
// input type, static or dynamic, f32 or f64; a non-default eps round trips.

// CHECK-LABEL: func.func @dense
// CHECK-NEXT:    %[[LN:.+]] = lmc.layer_norm %{{.+}}, %{{.+}}, %{{.+}} eps(1.000000e-03) : tensor<2x3x4xf64>, tensor<4xf64>
// CHECK-NEXT:    %[[LN1:.+]] = lmc.layer_norm %{{.+}}, %{{.+}}, %{{.+}} eps(1.000000e-05) : tensor<4xf32>, tensor<4xf32>
// CHECK-NEXT:    %[[BA:.+]] = lmc.bias_add %[[LN]], %{{.+}} : tensor<2x3x4xf64>, tensor<4xf64>
// CHECK-NEXT:    %[[GT:.+]] = lmc.gelu %[[BA]] tanh : tensor<2x3x4xf64>
// CHECK-NEXT:    %[[GE:.+]] = lmc.gelu %[[GT]] exact : tensor<2x3x4xf64>
// CHECK-NEXT:    %[[A:.+]] = lmc.add %[[GE]], %[[LN]] : tensor<2x3x4xf64>
// CHECK-NEXT:    %[[GD:.+]] = lmc.gelu %{{.+}} exact : tensor<?x?x8xf32>
// CHECK-NEXT:    %[[AD:.+]] = lmc.add %[[GD]], %[[GD]] : tensor<?x?x8xf32>
// CHECK-NEXT:    %[[BD:.+]] = lmc.bias_add %[[AD]], %{{.+}} : tensor<?x?x8xf32>, tensor<8xf32>
// CHECK-NEXT:    return %[[A]], %[[LN1]], %[[BD]]
func.func @dense(%x: tensor<2x3x4xf64>, %w: tensor<4xf64>, %b: tensor<4xf64>,
                 %v: tensor<4xf32>, %y: tensor<?x?x8xf32>, %c: tensor<8xf32>)
    -> (tensor<2x3x4xf64>, tensor<4xf32>, tensor<?x?x8xf32>) {
  %0 = lmc.layer_norm %x, %w, %b eps(1.0e-3) : tensor<2x3x4xf64>, tensor<4xf64>
  %1 = lmc.layer_norm %v, %v, %v eps(1.0e-5) : tensor<4xf32>, tensor<4xf32>
  %2 = lmc.bias_add %0, %b : tensor<2x3x4xf64>, tensor<4xf64>
  %3 = lmc.gelu %2 tanh : tensor<2x3x4xf64>
  %4 = lmc.gelu %3 exact : tensor<2x3x4xf64>
  %5 = lmc.add %4, %0 : tensor<2x3x4xf64>
  %6 = lmc.gelu %y exact : tensor<?x?x8xf32>
  %7 = lmc.add %6, %6 : tensor<?x?x8xf32>
  %8 = lmc.bias_add %7, %c : tensor<?x?x8xf32>, tensor<8xf32>
  return %5, %1, %8 : tensor<2x3x4xf64>, tensor<4xf32>, tensor<?x?x8xf32>
}

// Tests that silu keeps the input type (inferred from it), static or
// dynamic, f32 or f64.

// CHECK-LABEL: func.func @silu
// CHECK-NEXT:    %[[S0:.+]] = lmc.silu %{{.+}} : tensor<?x?x8xf32>
// CHECK-NEXT:    %[[S1:.+]] = lmc.silu %{{.+}} : tensor<2x3xf64>
// CHECK-NEXT:    return %[[S0]], %[[S1]]
func.func @silu(%x: tensor<?x?x8xf32>, %y: tensor<2x3xf64>)
    -> (tensor<?x?x8xf32>, tensor<2x3xf64>) {
  %0 = lmc.silu %x : tensor<?x?x8xf32>
  %1 = lmc.silu %y : tensor<2x3xf64>
  return %0, %1 : tensor<?x?x8xf32>, tensor<2x3xf64>
}

// Tests that rms_norm keeps the input type (inferred from it), static or
// dynamic, f32 or f64; a non-default eps round trips.

// CHECK-LABEL: func.func @rms_norm
// CHECK-NEXT:    %[[R0:.+]] = lmc.rms_norm %{{.+}}, %{{.+}} eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
// CHECK-NEXT:    %[[R1:.+]] = lmc.rms_norm %{{.+}}, %{{.+}} eps(1.000000e-03) : tensor<2x3xf64>, tensor<3xf64>
// CHECK-NEXT:    return %[[R0]], %[[R1]]
func.func @rms_norm(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>,
                    %y: tensor<2x3xf64>, %v: tensor<3xf64>)
    -> (tensor<?x?x64xf32>, tensor<2x3xf64>) {
  %0 = lmc.rms_norm %x, %w eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32>
  %1 = lmc.rms_norm %y, %v eps(1.0e-3) : tensor<2x3xf64>, tensor<3xf64>
  return %0, %1 : tensor<?x?x64xf32>, tensor<2x3xf64>
}

// Tests that the norms may store their output as bfloat16
// (lmc-bf16-storage): the result type is printed after `->` only then.

// CHECK-LABEL: func.func @norms_bf16
// CHECK-NEXT:    lmc.layer_norm %{{.+}}, %{{.+}}, %{{.+}} eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
// CHECK-NEXT:    lmc.rms_norm %{{.+}}, %{{.+}} eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
func.func @norms_bf16(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>) {
  %0 = lmc.layer_norm %x, %w, %w eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
  %1 = lmc.rms_norm %x, %w eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
  return %0, %1 : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
}

// Tests that rope keeps the input type (inferred from it), with and without
// an offset and inverse, f32 or f64.

// CHECK-LABEL: func.func @rope
// CHECK-NEXT:    %[[Q0:.+]] = lmc.rope %{{.+}} head_dim(16) theta(1.000000e+04) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[Q1:.+]] = lmc.rope %[[Q0]] head_dim(16) theta(1.000000e+04) offset(%{{.+}}) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[Q2:.+]] = lmc.rope %[[Q1]] head_dim(16) theta(5.000000e+05) offset(%{{.+}}) inverse : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[Q3:.+]] = lmc.rope %{{.+}} head_dim(4) theta(1.000000e+02) inverse : tensor<2x3x8xf64>
// CHECK-NEXT:    return %[[Q2]], %[[Q3]]
func.func @rope(%x: tensor<?x?x64xf32>, %off: index, %y: tensor<2x3x8xf64>)
    -> (tensor<?x?x64xf32>, tensor<2x3x8xf64>) {
  %0 = lmc.rope %x head_dim(16) theta(1.0e4) : tensor<?x?x64xf32>
  %1 = lmc.rope %0 head_dim(16) theta(1.0e4) offset(%off) : tensor<?x?x64xf32>
  %2 = lmc.rope %1 head_dim(16) theta(5.0e5) offset(%off) inverse : tensor<?x?x64xf32>
  %3 = lmc.rope %y head_dim(4) theta(100.0) inverse : tensor<2x3x8xf64>
  return %2, %3 : tensor<?x?x64xf32>, tensor<2x3x8xf64>
}

// Tests matmul result inference: plain matrices, each transpose and both, a
// shared rank-2 rhs (a linear layer), a batched rhs, and a dynamic lhs batch
// dimension taken from a static rhs batch dimension.

// CHECK-LABEL: func.func @matmuls
// CHECK-SAME:    -> (tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>, tensor<?x?x5xf64>, tensor<2x7x3x5xf32>, tensor<2x7x?x?xf32>)
// CHECK-NEXT:    %[[M0:.+]] = lmc.matmul %{{.+}}, %{{.+}} : tensor<3x4xf32>, tensor<4x5xf32>
// CHECK-NEXT:    %[[M1:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_a : tensor<4x3xf32>, tensor<4x5xf32>
// CHECK-NEXT:    %[[M2:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_b : tensor<3x4xf32>, tensor<5x4xf32>
// CHECK-NEXT:    %[[M3:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_a transpose_b : tensor<4x3xf32>, tensor<5x4xf32>
// CHECK-NEXT:    %[[M4:.+]] = lmc.matmul %{{.+}}, %{{.+}} : tensor<?x?x4xf64>, tensor<4x5xf64>
// CHECK-NEXT:    %[[M5:.+]] = lmc.matmul %{{.+}}, %{{.+}} : tensor<?x7x3x4xf32>, tensor<2x?x4x5xf32>
// CHECK-NEXT:    %[[M6:.+]] = lmc.matmul %{{.+}}, %{{.+}} transpose_b : tensor<2x7x?x?xf32>, tensor<2x7x?x?xf32>
// CHECK-NEXT:    return %[[M0]], %[[M1]], %[[M2]], %[[M3]], %[[M4]], %[[M5]], %[[M6]]
func.func @matmuls(%a: tensor<3x4xf32>, %at: tensor<4x3xf32>,
                   %b: tensor<4x5xf32>, %bt: tensor<5x4xf32>,
                   %x: tensor<?x?x4xf64>, %w: tensor<4x5xf64>,
                   %q: tensor<?x7x3x4xf32>, %k: tensor<2x?x4x5xf32>,
                   %s: tensor<2x7x?x?xf32>)
    -> (tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>,
        tensor<?x?x5xf64>, tensor<2x7x3x5xf32>, tensor<2x7x?x?xf32>) {
  %0 = lmc.matmul %a, %b : tensor<3x4xf32>, tensor<4x5xf32>
  %1 = lmc.matmul %at, %b transpose_a : tensor<4x3xf32>, tensor<4x5xf32>
  %2 = lmc.matmul %a, %bt transpose_b : tensor<3x4xf32>, tensor<5x4xf32>
  %3 = lmc.matmul %at, %bt transpose_a transpose_b : tensor<4x3xf32>, tensor<5x4xf32>
  %4 = lmc.matmul %x, %w : tensor<?x?x4xf64>, tensor<4x5xf64>
  %5 = lmc.matmul %q, %k : tensor<?x7x3x4xf32>, tensor<2x?x4x5xf32>
  %6 = lmc.matmul %s, %s transpose_b : tensor<2x7x?x?xf32>, tensor<2x7x?x?xf32>
  return %0, %1, %2, %3, %4, %5, %6
      : tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>, tensor<3x5xf32>,
        tensor<?x?x5xf64>, tensor<2x7x3x5xf32>, tensor<2x7x?x?xf32>
}

// Tests split into 3 and into 1, over static and dynamic leading dimensions.

// CHECK-LABEL: func.func @splits
// CHECK-SAME:    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<6xf64>)
// CHECK-NEXT:    %[[S:.+]]:3 = lmc.split %{{.+}} into 3 : tensor<?x?x192xf32>
// CHECK-NEXT:    %[[ONE:.+]] = lmc.split %{{.+}} into 1 : tensor<6xf64>
// CHECK-NEXT:    return %[[S]]#0, %[[S]]#1, %[[S]]#2, %[[ONE]]
func.func @splits(%qkv: tensor<?x?x192xf32>, %v: tensor<6xf64>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<6xf64>) {
  %q, %k, %val = lmc.split %qkv into 3 : tensor<?x?x192xf32>
  %one = lmc.split %v into 1 : tensor<6xf64>
  return %q, %k, %val, %one : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<6xf64>
}

// Tests the attention ops: causal_attention, split_heads and merge_heads with
// their inferred types, scale, causal_mask (plain and `zero`) and softmax.

// CHECK-LABEL: func.func @attention
// CHECK-SAME:    -> (tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<2x3x5x16xf64>, tensor<2x5x48xf64>, tensor<?x2x?x?xf32>)
// CHECK-NEXT:    %[[ATT:.+]] = lmc.causal_attention %{{.+}}, %{{.+}}, %{{.+}} heads(2) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[SH:.+]] = lmc.split_heads %[[ATT]] heads(2) : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[SH64:.+]] = lmc.split_heads %{{.+}} heads(3) : tensor<2x5x48xf64>
// CHECK-NEXT:    %[[MH:.+]] = lmc.merge_heads %[[SH64]] : tensor<2x3x5x16xf64>
// CHECK-NEXT:    %[[SC:.+]] = lmc.scale %{{.+}} by 0.17677669529663687 : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[CM:.+]] = lmc.causal_mask %[[SC]] : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[P:.+]] = lmc.softmax %[[CM]] : tensor<?x2x?x?xf32>
// CHECK-NEXT:    %[[DM:.+]] = lmc.causal_mask %[[P]] zero : tensor<?x2x?x?xf32>
// CHECK-NEXT:    return %[[ATT]], %[[SH]], %[[SH64]], %[[MH]], %[[DM]]
func.func @attention(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>,
                     %v: tensor<?x?x64xf32>, %x: tensor<2x5x48xf64>,
                     %s: tensor<?x2x?x?xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<2x3x5x16xf64>,
        tensor<2x5x48xf64>, tensor<?x2x?x?xf32>) {
  %0 = lmc.causal_attention %q, %k, %v heads(2) : tensor<?x?x64xf32>
  %1 = lmc.split_heads %0 heads(2) : tensor<?x?x64xf32>
  %2 = lmc.split_heads %x heads(3) : tensor<2x5x48xf64>
  %3 = lmc.merge_heads %2 : tensor<2x3x5x16xf64>
  %4 = lmc.scale %s by 0.17677669529663687 : tensor<?x2x?x?xf32>
  %5 = lmc.causal_mask %4 : tensor<?x2x?x?xf32>
  %6 = lmc.softmax %5 : tensor<?x2x?x?xf32>
  %7 = lmc.causal_mask %6 zero : tensor<?x2x?x?xf32>
  return %0, %1, %2, %3, %7
      : tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<2x3x5x16xf64>,
        tensor<2x5x48xf64>, tensor<?x2x?x?xf32>
}

// Tests grouped-query attention: causal_attention, flash_attention and
// flash_attention_grad with kv_heads print the key/value type after the
// query's (and kv_heads equal to heads keeps the one-type form); repeat_heads
// and repeat_heads_grad infer their heads.

// CHECK-LABEL: func.func @gqa
// CHECK-NEXT:    %[[A:.+]] = lmc.causal_attention %{{.+}}, %{{.+}}, %{{.+}} heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32>
// CHECK-NEXT:    %[[M:.+]] = lmc.causal_attention %{{.+}}, %{{.+}}, %{{.+}} heads(4) kv_heads(1) : tensor<2x8x64xf64>, tensor<2x8x16xf64>
// CHECK-NEXT:    %[[E:.+]] = lmc.causal_attention %{{.+}}, %{{.+}}, %{{.+}} heads(4) kv_heads(4) : tensor<?x?x64xf32>
// CHECK-NEXT:    %{{.+}}, %[[LSE:.+]] = lmc.flash_attention %{{.+}}, %{{.+}}, %{{.+}} heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32> -> tensor<?x4x?xf32>
// CHECK-NEXT:    %{{.+}}, %[[DK:.+]], %{{.+}} = lmc.flash_attention_grad %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[LSE]], %{{.+}} heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x4x?xf32>
// CHECK-NEXT:    %[[R:.+]] = lmc.repeat_heads %{{.+}} times(3) : tensor<?x2x?x16xf32>
// CHECK-NEXT:    %[[S:.+]] = lmc.repeat_heads_grad %[[R]] times(3) : tensor<?x6x?x16xf32>
// CHECK-NEXT:    return %[[A]], %[[M]], %[[E]], %[[DK]], %[[R]], %[[S]] : tensor<?x?x64xf32>, tensor<2x8x64xf64>, tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>
func.func @gqa(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>,
               %q64: tensor<2x8x64xf64>, %k64: tensor<2x8x16xf64>,
               %kh: tensor<?x2x?x16xf32>)
    -> (tensor<?x?x64xf32>, tensor<2x8x64xf64>, tensor<?x?x64xf32>,
        tensor<?x?x32xf32>, tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>) {
  %0 = lmc.causal_attention %q, %k, %k heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32>
  %1 = lmc.causal_attention %q64, %k64, %k64 heads(4) kv_heads(1) : tensor<2x8x64xf64>, tensor<2x8x16xf64>
  %2 = lmc.causal_attention %q, %q, %q heads(4) kv_heads(4) : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %y, %lse = lmc.flash_attention %q, %k, %k heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32> -> tensor<?x4x?xf32>
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %k, %k, %y, %lse, %q heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x4x?xf32>
  %3 = lmc.repeat_heads %kh times(3) : tensor<?x2x?x16xf32>
  %4 = lmc.repeat_heads_grad %3 times(3) : tensor<?x6x?x16xf32>
  return %0, %1, %2, %dk, %3, %4 : tensor<?x?x64xf32>, tensor<2x8x64xf64>, tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x6x?x16xf32>, tensor<?x2x?x16xf32>
}

// Tests the static-shape and f64 forms of the elementwise attention ops: a
// rank-2 mask with one static and one dynamic position, a rank-1 softmax and a
// negative scale.

// CHECK-LABEL: func.func @attention_static
// CHECK-NEXT:    %[[SC:.+]] = lmc.scale %{{.+}} by -2.500000e-01 : tensor<4x?xf64>
// CHECK-NEXT:    %[[CM:.+]] = lmc.causal_mask %[[SC]] : tensor<4x?xf64>
// CHECK-NEXT:    %[[CZ:.+]] = lmc.causal_mask %{{.+}} zero : tensor<1x3x3xf32>
// CHECK-NEXT:    %[[P:.+]] = lmc.softmax %{{.+}} : tensor<7xf64>
// CHECK-NEXT:    return %[[CM]], %[[CZ]], %[[P]]
func.func @attention_static(%s: tensor<4x?xf64>, %m: tensor<1x3x3xf32>, %v: tensor<7xf64>)
    -> (tensor<4x?xf64>, tensor<1x3x3xf32>, tensor<7xf64>) {
  %0 = lmc.scale %s by -0.25 : tensor<4x?xf64>
  %1 = lmc.causal_mask %0 : tensor<4x?xf64>
  %2 = lmc.causal_mask %m zero : tensor<1x3x3xf32>
  %3 = lmc.softmax %v : tensor<7xf64>
  return %1, %2, %3 : tensor<4x?xf64>, tensor<1x3x3xf32>, tensor<7xf64>
}

// Tests cross_entropy over static f64 logits with i64 targets, over rank-2
// logits, and with a dynamic target dimension against static logits.

// CHECK-LABEL: func.func @losses
// CHECK-SAME:    -> (tensor<f64>, tensor<f32>, tensor<f32>)
// CHECK-NEXT:    %[[L0:.+]] = lmc.cross_entropy %{{.+}}, %{{.+}} : tensor<2x3x10xf64>, tensor<2x3xi64>
// CHECK-NEXT:    %[[L1:.+]] = lmc.cross_entropy %{{.+}}, %{{.+}} : tensor<?x10xf32>, tensor<?xi32>
// CHECK-NEXT:    %[[L2:.+]] = lmc.cross_entropy %{{.+}}, %{{.+}} : tensor<2x?x10xf32>, tensor<?x4xi16>
// CHECK-NEXT:    return %[[L0]], %[[L1]], %[[L2]]
func.func @losses(%l0: tensor<2x3x10xf64>, %t0: tensor<2x3xi64>,
                  %l1: tensor<?x10xf32>, %t1: tensor<?xi32>,
                  %l2: tensor<2x?x10xf32>, %t2: tensor<?x4xi16>)
    -> (tensor<f64>, tensor<f32>, tensor<f32>) {
  %0 = lmc.cross_entropy %l0, %t0 : tensor<2x3x10xf64>, tensor<2x3xi64>
  %1 = lmc.cross_entropy %l1, %t1 : tensor<?x10xf32>, tensor<?xi32>
  %2 = lmc.cross_entropy %l2, %t2 : tensor<2x?x10xf32>, tensor<?x4xi16>
  return %0, %1, %2 : tensor<f64>, tensor<f32>, tensor<f32>
}

// Tests cross_entropy over padded logits: classes(N), the real vocabulary,
// up to the logits' width.

// CHECK-LABEL: func.func @padded_loss
// CHECK-NEXT:    %[[P0:.+]] = lmc.cross_entropy %{{.+}}, %{{.+}} classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>
// CHECK-NEXT:    %[[P1:.+]] = lmc.cross_entropy %{{.+}}, %{{.+}} classes(256) : tensor<?x?x256xf32>, tensor<?x?xi32>
// CHECK-NEXT:    return %[[P0]], %[[P1]]
func.func @padded_loss(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>)
    -> (tensor<f32>, tensor<f32>) {
  %0 = lmc.cross_entropy %l, %t classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>
  %1 = lmc.cross_entropy %l, %t classes(256) : tensor<?x?x256xf32>, tensor<?x?xi32>
  return %0, %1 : tensor<f32>, tensor<f32>
}

// Tests flash_attention (output and row log-sum-exp) and its gradient, with
// dynamic and static shapes.

// CHECK-LABEL: func.func @flash_attention
// CHECK-NEXT:    %[[OUT:.+]], %[[LSE:.+]] = lmc.flash_attention %{{.+}}, %{{.+}}, %{{.+}} heads(2) : tensor<?x?x64xf32> -> tensor<?x2x?xf32>
// CHECK-NEXT:    %{{.+}}, %{{.+}}, %{{.+}} = lmc.flash_attention_grad %{{.+}}, %{{.+}}, %{{.+}}, %[[OUT]], %[[LSE]], %{{.+}} heads(2) : tensor<?x?x64xf32>, tensor<?x2x?xf32>
// CHECK-NEXT:    %{{.+}}, %{{.+}} = lmc.flash_attention %{{.+}}, %{{.+}}, %{{.+}} heads(3) : tensor<2x5x48xf32> -> tensor<2x3x5xf32>
func.func @flash_attention(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>,
                           %v: tensor<?x?x64xf32>, %dy: tensor<?x?x64xf32>,
                           %x: tensor<2x5x48xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>,
        tensor<2x5x48xf32>, tensor<2x3x5xf32>) {
  %y, %lse = lmc.flash_attention %q, %k, %v heads(2) : tensor<?x?x64xf32> -> tensor<?x2x?xf32>
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %k, %v, %y, %lse, %dy heads(2) : tensor<?x?x64xf32>, tensor<?x2x?xf32>
  %ys, %lses = lmc.flash_attention %x, %x, %x heads(3) : tensor<2x5x48xf32> -> tensor<2x3x5xf32>
  return %dq, %dk, %dv, %ys, %lses : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<2x5x48xf32>, tensor<2x3x5xf32>
}

// Tests flash_attention and its gradient on bfloat16 activations
// (lmc-bf16-storage): the result type is printed when it is not the
// query's, the gradients' type when it is not the operands', the key and
// value gradients then taking the key's shape (grouped-query).

// CHECK-LABEL: func.func @flash_attention_bf16
// CHECK-NEXT:    %[[OUT:.+]], %[[LSE:.+]] = lmc.flash_attention %{{.+}}, %{{.+}}, %{{.+}} heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16> -> tensor<?x4x?xf32>
// CHECK-NEXT:    %{{.+}}, %{{.+}} = lmc.flash_attention %{{.+}}, %{{.+}}, %{{.+}} heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16> -> tensor<?x?x64xf32>, tensor<?x4x?xf32>
// CHECK-NEXT:    %{{.+}}, %[[DK:.+]], %{{.+}} = lmc.flash_attention_grad %{{.+}}, %{{.+}}, %{{.+}}, %[[OUT]], %[[LSE]], %{{.+}} heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16>, tensor<?x4x?xf32>{{$}}
// CHECK-NEXT:    %{{.+}}, %{{.+}}, %{{.+}} = lmc.flash_attention_grad %{{.+}}, %{{.+}}, %{{.+}}, %[[OUT]], %[[LSE]], %{{.+}} heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16>, tensor<?x4x?xf32> -> tensor<?x?x64xf32>
func.func @flash_attention_bf16(%q: tensor<?x?x64xbf16>, %k: tensor<?x?x32xbf16>, %dy: tensor<?x?x64xbf16>)
    -> (tensor<?x?x64xf32>, tensor<?x?x32xbf16>, tensor<?x?x32xf32>) {
  %y, %lse = lmc.flash_attention %q, %k, %k heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16> -> tensor<?x4x?xf32>
  %y32, %lse32 = lmc.flash_attention %q, %k, %k heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16> -> tensor<?x?x64xf32>, tensor<?x4x?xf32>
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %k, %k, %y, %lse, %dy heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16>, tensor<?x4x?xf32>
  %dq32, %dk32, %dv32 = lmc.flash_attention_grad %q, %k, %k, %y, %lse, %dy heads(4) kv_heads(2) : tensor<?x?x64xbf16>, tensor<?x?x32xbf16>, tensor<?x4x?xf32> -> tensor<?x?x64xf32>
  return %y32, %dk, %dv32 : tensor<?x?x64xf32>, tensor<?x?x32xbf16>, tensor<?x?x32xf32>
}
