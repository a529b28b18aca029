// RUN: lmc-opt %s --lmc-model-summary -o /dev/null | FileCheck %s
// RUN: lmc-opt %s --lmc-decompose-attention --lmc-model-summary -o /dev/null | FileCheck %s

// Tests the count of a grouped-query attention layer (C = 32, heads(4),
// kv_heads(2), D = 8, T = 16 from the position table): parameters
// 64*32 + 16*32 + 32*32 + 2*(32*16) + 32*32 = 5632; matmul FLOPs/token
// 2*(32*32 + 32*16 + 32*16 + 32*32) for q, k, v, o plus 2*32*64 for the
// tied head = 10240; attention FLOPs are per query head, whatever kv_heads:
// 2 T D for q k^T and 2 T D for p v, times 4 heads = 4 T C = 2048. The
// decomposed form (keys and values repeated to the query heads) counts the
// same.

// CHECK: lmc.model @gqa: 5632 parameters, 1 layers; forward FLOPs/token: 10240 matmul + 2048 attention (T=16) = 12288
lmc.model @gqa {
  lmc.param @wte : tensor<64x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @wpe : tensor<16x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @wq : tensor<32x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @wk : tensor<32x16xf32> init(normal, std = 2.000000e-02)
  lmc.param @wv : tensor<32x16xf32> init(normal, std = 2.000000e-02)
  lmc.param @wo : tensor<32x32xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte : tensor<64x32xf32>
    %wpe = lmc.param_ref @wpe : tensor<16x32xf32>
    %e = lmc.embedding %wte[%tokens] : tensor<64x32xf32>, tensor<?x?xi32>
    %p = lmc.position_embedding %wpe like %tokens : tensor<16x32xf32>, tensor<?x?xi32>
    %x = lmc.add %e, %p : tensor<?x?x32xf32>
    %wq = lmc.param_ref @wq : tensor<32x32xf32>
    %wk = lmc.param_ref @wk : tensor<32x16xf32>
    %wv = lmc.param_ref @wv : tensor<32x16xf32>
    %q = lmc.matmul %x, %wq : tensor<?x?x32xf32>, tensor<32x32xf32>
    %k = lmc.matmul %x, %wk : tensor<?x?x32xf32>, tensor<32x16xf32>
    %v = lmc.matmul %x, %wv : tensor<?x?x32xf32>, tensor<32x16xf32>
    %a = lmc.causal_attention %q, %k, %v heads(4) kv_heads(2) : tensor<?x?x32xf32>, tensor<?x?x16xf32>
    %wo = lmc.param_ref @wo : tensor<32x32xf32>
    %y = lmc.matmul %a, %wo : tensor<?x?x32xf32>, tensor<32x32xf32>
    %h = lmc.add %x, %y : tensor<?x?x32xf32>
    %logits = lmc.matmul %h, %wte transpose_b : tensor<?x?x32xf32>, tensor<64x32xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x64xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
