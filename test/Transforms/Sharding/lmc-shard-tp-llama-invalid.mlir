// RUN: lmc-opt %s --split-input-file --lmc-autodiff --lmc-optimizer --lmc-shard="mesh=tp=4" --verify-diagnostics -o /dev/null

// Tests that tensor parallelism refuses, at the attention, a tp that does
// not divide the query heads of Llama-style attention (nn.Linear weights
// read transposed).

lmc.model @heads {
  lmc.param @"model.embed_tokens.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.k_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.v_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.o_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @"model.embed_tokens.weight" : tensor<256x64xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<256x64xf32>, tensor<?x?xi32>
    %wq = lmc.param_ref @"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
    %wk = lmc.param_ref @"model.layers.0.self_attn.k_proj.weight" : tensor<64x64xf32>
    %wv = lmc.param_ref @"model.layers.0.self_attn.v_proj.weight" : tensor<64x64xf32>
    %q = lmc.matmul %x, %wq transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %k = lmc.matmul %x, %wk transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %v = lmc.matmul %x, %wv transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    // expected-error @below {{tensor parallelism: tp=4 does not divide the 2 attention heads}}
    %att = lmc.causal_attention %q, %k, %v heads(2) : tensor<?x?x64xf32>
    %wo = lmc.param_ref @"model.layers.0.self_attn.o_proj.weight" : tensor<64x64xf32>
    %o = lmc.matmul %att, %wo transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %logits = lmc.matmul %o, %emb transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that tensor parallelism refuses, at the activation, a tp that does
// not divide the hidden width of a SwiGLU MLP (silu(x Wg^T) * (x Wu^T),
// then Wd^T): 170 gate columns over 4 ranks.

lmc.model @swiglu {
  lmc.param @"model.embed_tokens.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.mlp.gate_proj.weight" : tensor<170x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.mlp.up_proj.weight" : tensor<170x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.mlp.down_proj.weight" : tensor<64x170xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @"model.embed_tokens.weight" : tensor<256x64xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<256x64xf32>, tensor<?x?xi32>
    %wg = lmc.param_ref @"model.layers.0.mlp.gate_proj.weight" : tensor<170x64xf32>
    %wu = lmc.param_ref @"model.layers.0.mlp.up_proj.weight" : tensor<170x64xf32>
    %wd = lmc.param_ref @"model.layers.0.mlp.down_proj.weight" : tensor<64x170xf32>
    %g = lmc.matmul %x, %wg transpose_b : tensor<?x?x64xf32>, tensor<170x64xf32>
    %u = lmc.matmul %x, %wu transpose_b : tensor<?x?x64xf32>, tensor<170x64xf32>
    // expected-error @below {{tensor parallelism: tp=4 does not divide the MLP hidden width (dimension 0 of @model.layers.0.mlp.gate_proj.weight, size 170)}}
    %a = lmc.silu %g : tensor<?x?x170xf32>
    %m = lmc.mul %a, %u : tensor<?x?x170xf32>
    %d = lmc.matmul %m, %wd transpose_b : tensor<?x?x170xf32>, tensor<64x170xf32>
    %logits = lmc.matmul %d, %emb transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that tensor parallelism refuses, at the attention, a tp that
// divides the query heads but not the key/value heads of grouped-query
// attention (4 query heads over 2 key/value heads, tp=4): each rank's query
// heads must read key/value heads of its own.

lmc.model @kv_heads {
  lmc.param @"model.embed_tokens.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.k_proj.weight" : tensor<32x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.v_proj.weight" : tensor<32x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.o_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @"model.embed_tokens.weight" : tensor<256x64xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<256x64xf32>, tensor<?x?xi32>
    %wq = lmc.param_ref @"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
    %wk = lmc.param_ref @"model.layers.0.self_attn.k_proj.weight" : tensor<32x64xf32>
    %wv = lmc.param_ref @"model.layers.0.self_attn.v_proj.weight" : tensor<32x64xf32>
    %qp = lmc.matmul %x, %wq transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %kp = lmc.matmul %x, %wk transpose_b : tensor<?x?x64xf32>, tensor<32x64xf32>
    %v = lmc.matmul %x, %wv transpose_b : tensor<?x?x64xf32>, tensor<32x64xf32>
    %q = lmc.rope %qp head_dim(16) theta(1.000000e+04) : tensor<?x?x64xf32>
    %k = lmc.rope %kp head_dim(16) theta(1.000000e+04) : tensor<?x?x32xf32>
    // expected-error @below {{tensor parallelism: tp=4 does not divide the 2 key/value heads (kv_heads) of grouped-query attention; use a tp that divides 2}}
    %att = lmc.causal_attention %q, %k, %v heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32>
    %wo = lmc.param_ref @"model.layers.0.self_attn.o_proj.weight" : tensor<64x64xf32>
    %o = lmc.matmul %att, %wo transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %logits = lmc.matmul %o, %emb transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests the same for multi-query attention (kv_heads(1)) under tp=4.

lmc.model @mqa {
  lmc.param @"model.embed_tokens.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.k_proj.weight" : tensor<16x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.v_proj.weight" : tensor<16x64xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @"model.embed_tokens.weight" : tensor<256x64xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<256x64xf32>, tensor<?x?xi32>
    %wq = lmc.param_ref @"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
    %wk = lmc.param_ref @"model.layers.0.self_attn.k_proj.weight" : tensor<16x64xf32>
    %wv = lmc.param_ref @"model.layers.0.self_attn.v_proj.weight" : tensor<16x64xf32>
    %q = lmc.matmul %x, %wq transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %k = lmc.matmul %x, %wk transpose_b : tensor<?x?x64xf32>, tensor<16x64xf32>
    %v = lmc.matmul %x, %wv transpose_b : tensor<?x?x64xf32>, tensor<16x64xf32>
    // expected-error @below {{tensor parallelism: tp=4 does not divide the 1 key/value heads (kv_heads) of grouped-query attention; use a tp that divides 1}}
    %att = lmc.causal_attention %q, %k, %v heads(4) kv_heads(1) : tensor<?x?x64xf32>, tensor<?x?x16xf32>
    %logits = lmc.matmul %att, %emb transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
