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
