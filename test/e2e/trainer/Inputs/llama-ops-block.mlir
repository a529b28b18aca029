// A Llama block (RMSNorm, RoPE, SwiGLU, nn.Linear weights read
// transposed, an untied LM head) with two additions the stock Llama has
// not: a learned position table (the runtime learns the context from it)
// and a bias on q, so that rope shares a fusion group with a bias add.
lmc.model @llama_ops {
  lmc.param @"model.embed_tokens.weight" : tensor<256x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @"wpe.weight" : tensor<64x32xf32> init(normal, std = 1.000000e-02)
  lmc.param @"model.layers.0.input_layernorm.weight" : tensor<32xf32> init(ones)
  lmc.param @"model.layers.0.self_attn.q_proj.weight" : tensor<32x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.q_proj.bias" : tensor<32xf32> init(normal, std = 1.000000e-01)
  lmc.param @"model.layers.0.self_attn.k_proj.weight" : tensor<32x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.v_proj.weight" : tensor<32x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.o_proj.weight" : tensor<32x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.post_attention_layernorm.weight" : tensor<32xf32> init(ones)
  lmc.param @"model.layers.0.mlp.gate_proj.weight" : tensor<48x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.mlp.up_proj.weight" : tensor<48x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.mlp.down_proj.weight" : tensor<32x48xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.norm.weight" : tensor<32xf32> init(ones)
  lmc.param @"lm_head.weight" : tensor<256x32xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @"model.embed_tokens.weight" : tensor<256x32xf32>
    %te = lmc.embedding %emb[%tokens] : tensor<256x32xf32>, tensor<?x?xi32>
    %wpe = lmc.param_ref @"wpe.weight" : tensor<64x32xf32>
    %pe = lmc.position_embedding %wpe like %tokens : tensor<64x32xf32>, tensor<?x?xi32>
    %x0 = lmc.add %te, %pe : tensor<?x?x32xf32>
    %w_in = lmc.param_ref @"model.layers.0.input_layernorm.weight" : tensor<32xf32>
    %h = lmc.rms_norm %x0, %w_in eps(1.000000e-05) : tensor<?x?x32xf32>, tensor<32xf32>
    %wq = lmc.param_ref @"model.layers.0.self_attn.q_proj.weight" : tensor<32x32xf32>
    %wk = lmc.param_ref @"model.layers.0.self_attn.k_proj.weight" : tensor<32x32xf32>
    %wv = lmc.param_ref @"model.layers.0.self_attn.v_proj.weight" : tensor<32x32xf32>
    %q0 = lmc.matmul %h, %wq transpose_b : tensor<?x?x32xf32>, tensor<32x32xf32>
    %k0 = lmc.matmul %h, %wk transpose_b : tensor<?x?x32xf32>, tensor<32x32xf32>
    %v = lmc.matmul %h, %wv transpose_b : tensor<?x?x32xf32>, tensor<32x32xf32>
    %bq = lmc.param_ref @"model.layers.0.self_attn.q_proj.bias" : tensor<32xf32>
    %q1 = lmc.bias_add %q0, %bq : tensor<?x?x32xf32>, tensor<32xf32>
    %q = lmc.rope %q1 head_dim(8) theta(1.000000e+04) : tensor<?x?x32xf32>
    %k = lmc.rope %k0 head_dim(8) theta(1.000000e+04) : tensor<?x?x32xf32>
    %a = lmc.causal_attention %q, %k, %v heads(4) : tensor<?x?x32xf32>
    %wo = lmc.param_ref @"model.layers.0.self_attn.o_proj.weight" : tensor<32x32xf32>
    %o = lmc.matmul %a, %wo transpose_b : tensor<?x?x32xf32>, tensor<32x32xf32>
    %x1 = lmc.add %x0, %o : tensor<?x?x32xf32>
    %w_post = lmc.param_ref @"model.layers.0.post_attention_layernorm.weight" : tensor<32xf32>
    %h2 = lmc.rms_norm %x1, %w_post eps(1.000000e-05) : tensor<?x?x32xf32>, tensor<32xf32>
    %wg = lmc.param_ref @"model.layers.0.mlp.gate_proj.weight" : tensor<48x32xf32>
    %wu = lmc.param_ref @"model.layers.0.mlp.up_proj.weight" : tensor<48x32xf32>
    %wd = lmc.param_ref @"model.layers.0.mlp.down_proj.weight" : tensor<32x48xf32>
    %g = lmc.matmul %h2, %wg transpose_b : tensor<?x?x32xf32>, tensor<48x32xf32>
    %u = lmc.matmul %h2, %wu transpose_b : tensor<?x?x32xf32>, tensor<48x32xf32>
    %sg = lmc.silu %g : tensor<?x?x48xf32>
    %m = lmc.mul %sg, %u : tensor<?x?x48xf32>
    %d = lmc.matmul %m, %wd transpose_b : tensor<?x?x48xf32>, tensor<32x48xf32>
    %x2 = lmc.add %x1, %d : tensor<?x?x32xf32>
    %w_f = lmc.param_ref @"model.norm.weight" : tensor<32xf32>
    %hf = lmc.rms_norm %x2, %w_f eps(1.000000e-05) : tensor<?x?x32xf32>, tensor<32xf32>
    %head = lmc.param_ref @"lm_head.weight" : tensor<256x32xf32>
    %logits = lmc.matmul %hf, %head transpose_b : tensor<?x?x32xf32>, tensor<256x32xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
