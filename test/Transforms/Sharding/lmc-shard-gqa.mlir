// RUN: lmc-opt %s --lmc-autodiff=attention=flash --lmc-optimizer --lmc-shard="mesh=tp=2" | FileCheck %s --check-prefix=FLASH
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2" | FileCheck %s --check-prefix=DECOMP

// Tests the sharding rules of grouped-query attention over tp=2, which
// divides both heads(4) and kv_heads(2): with the query, key and value
// projections column-parallel, every rank keeps two query heads and the one
// key/value head they read, so attention runs locally with heads(2)
// kv_heads(1) on [B, T, 16] queries and [B, T, 8] keys and values, forward
// and backward, with no all_gather of q, k or v. Decomposed, split_heads and
// repeat_heads (and repeat_heads_grad in the backward pass) stay split by
// heads.

// FLASH-LABEL: func.func @train_step
// FLASH-NOT:     lmc.all_gather %{{.+}} over ["tp"] dim 2 : tensor<?x?x8xf32>
// FLASH-NOT:     lmc.all_gather %{{.+}} over ["tp"] dim 2 : tensor<?x?x16xf32>
// FLASH:         %[[Y:.+]], %[[LSE:.+]] = lmc.flash_attention %{{.+}}, %{{.+}}, %{{.+}} heads(2) kv_heads(1) : tensor<?x?x16xf32>, tensor<?x?x8xf32> -> tensor<?x2x?xf32>
// FLASH-NOT:     lmc.all_gather %{{.+}} over ["tp"] dim 2 : tensor<?x?x8xf32>
// FLASH:         lmc.flash_attention_grad %{{.+}}, %{{.+}}, %{{.+}}, %[[Y]], %[[LSE]], %{{.+}} heads(2) kv_heads(1) : tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x2x?xf32>

// DECOMP-LABEL: func.func @train_step
// DECOMP:         lmc.split_heads %{{.+}} heads(2) : tensor<?x?x16xf32>
// DECOMP-NEXT:    %[[KH:.+]] = lmc.split_heads %{{.+}} heads(1) : tensor<?x?x8xf32>
// DECOMP-NEXT:    lmc.repeat_heads %[[KH]] times(2) : tensor<?x1x?x8xf32>
// DECOMP-NEXT:    %[[VH:.+]] = lmc.split_heads %{{.+}} heads(1) : tensor<?x?x8xf32>
// DECOMP-NEXT:    lmc.repeat_heads %[[VH]] times(2) : tensor<?x1x?x8xf32>
// DECOMP:         %[[DK:.+]] = lmc.repeat_heads_grad %{{.+}} times(2) : tensor<?x2x?x8xf32>
// DECOMP-NEXT:    lmc.merge_heads %[[DK]] : tensor<?x1x?x8xf32>
// DECOMP:         %[[DV:.+]] = lmc.repeat_heads_grad %{{.+}} times(2) : tensor<?x2x?x8xf32>
// DECOMP-NEXT:    lmc.merge_heads %[[DV]] : tensor<?x1x?x8xf32>
lmc.model @gqa {
  lmc.param @emb : tensor<64x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @wq : tensor<32x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @wk : tensor<32x16xf32> init(normal, std = 2.000000e-02)
  lmc.param @wv : tensor<32x16xf32> init(normal, std = 2.000000e-02)
  lmc.param @wo : tensor<32x32xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @emb : tensor<64x32xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<64x32xf32>, tensor<?x?xi32>
    %wq = lmc.param_ref @wq : tensor<32x32xf32>
    %wk = lmc.param_ref @wk : tensor<32x16xf32>
    %wv = lmc.param_ref @wv : tensor<32x16xf32>
    %q = lmc.matmul %x, %wq : tensor<?x?x32xf32>, tensor<32x32xf32>
    %k = lmc.matmul %x, %wk : tensor<?x?x32xf32>, tensor<32x16xf32>
    %v = lmc.matmul %x, %wv : tensor<?x?x32xf32>, tensor<32x16xf32>
    %a = lmc.causal_attention %q, %k, %v heads(4) kv_heads(2) : tensor<?x?x32xf32>, tensor<?x?x16xf32>
    %wo = lmc.param_ref @wo : tensor<32x32xf32>
    %y = lmc.matmul %a, %wo : tensor<?x?x32xf32>, tensor<32x32xf32>
    %logits = lmc.matmul %y, %emb transpose_b : tensor<?x?x32xf32>, tensor<64x32xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x64xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
