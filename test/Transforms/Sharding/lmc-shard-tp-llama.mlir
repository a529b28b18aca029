// Tests the tensor-parallel plan and partitioned training step of a
// Llama-shaped model (one block, C 64, 4 heads of 16 over 2 key/value heads
// (grouped-query attention), RMSNorm, RoPE on q and k, SwiGLU width 172,
// vocab 256, untied LM head; nn.Linear weights
// [out, in] read by `lmc.matmul transpose_b`): q, k, v, gate and up
// column-parallel (shard(0) of W; q and k found through their lmc.rope),
// o and down row-parallel (shard(1)), the embedding and the LM head split
// along the vocabulary, the RMSNorm weights replicated. In train_step:
// local shapes, the rotary embedding and the attention on whole heads (2
// query heads and the 1 key/value head they read per rank, repeated for
// them locally), the rotary inverse in the backward pass, the SwiGLU
// product on the
// local hidden slice, one all-reduce over tp for each partial value that
// a norm or the loss needs whole (forward: the embedding, the residual
// after o, the residual after down, each all-reduced once though the
// backward pass reads it again; backward: the input gradients of the LM
// head, of gate + up and of q + k + v), the vocabulary-parallel
// cross-entropy; and `report`'s figures per rank.

// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2" | FileCheck %s
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2" | awk '/func.func @train_step/,/^    }$/' > %t.step
// RUN: grep -c 'lmc.all_reduce .* over \["tp"\]' %t.step | FileCheck %s --check-prefix=REDUCES
// RUN: grep -c 'lmc.all_gather .* over \["tp"\]' %t.step | FileCheck %s --check-prefix=GATHERS
// RUN: lmc-opt %s --lmc-autodiff=attention=flash --lmc-optimizer --lmc-shard="mesh=tp=2" | awk '/func.func @train_step/,/^    }$/' > %t.flash
// RUN: grep -c 'lmc.all_reduce .* over \["tp"\]' %t.flash | FileCheck %s --check-prefix=REDUCES
// RUN: FileCheck %s --check-prefix=FLASH < %t.flash
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2 report" -o /dev/null | FileCheck %s --check-prefix=TP2
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2,tp=2 report" -o /dev/null | FileCheck %s --check-prefix=DPTP

// CHECK-LABEL: lmc.model @llama
// CHECK:      lmc.param @model.embed_tokens.weight : tensor<256x64xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
// CHECK-NEXT: lmc.param @model.layers.0.input_layernorm.weight : tensor<64xf32> init(ones){{$}}
// CHECK-NEXT: lmc.param @model.layers.0.self_attn.q_proj.weight : tensor<64x64xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
// CHECK-NEXT: lmc.param @model.layers.0.self_attn.k_proj.weight : tensor<32x64xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
// CHECK-NEXT: lmc.param @model.layers.0.self_attn.v_proj.weight : tensor<32x64xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
// CHECK-NEXT: lmc.param @model.layers.0.self_attn.o_proj.weight : tensor<64x64xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(1)}>}
// CHECK-NEXT: lmc.param @model.layers.0.post_attention_layernorm.weight : tensor<64xf32> init(ones){{$}}
// CHECK-NEXT: lmc.param @model.layers.0.mlp.gate_proj.weight : tensor<172x64xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
// CHECK-NEXT: lmc.param @model.layers.0.mlp.up_proj.weight : tensor<172x64xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(0)}>}
// CHECK-NEXT: lmc.param @model.layers.0.mlp.down_proj.weight : tensor<64x172xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(1)}>}
// CHECK-NEXT: lmc.param @model.norm.weight : tensor<64xf32> init(ones){{$}}
// CHECK-NEXT: lmc.param @lm_head.weight : tensor<256x64xf32> {{.*}}{lmc.sharding = #lmc.sharding<{tp = shard(0)}>}

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME:    %arg2: tensor<32x64xf32> {lmc.param = @model.layers.0.self_attn.q_proj.weight}
// CHECK-SAME:    %arg5: tensor<64x32xf32> {lmc.param = @model.layers.0.self_attn.o_proj.weight}
// CHECK-SAME:    %arg7: tensor<86x64xf32> {lmc.param = @model.layers.0.mlp.gate_proj.weight}
// CHECK-SAME:    %arg9: tensor<64x86xf32> {lmc.param = @model.layers.0.mlp.down_proj.weight}
// CHECK:         %[[TOK:.+]] = lmc.embedding %arg0[%arg46] offset(%{{.+}}) : tensor<128x64xf32>
// CHECK-NEXT:    %[[X0:.+]] = lmc.all_reduce %[[TOK]] over ["tp"] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[H:.+]] = lmc.rms_norm %[[X0]], %arg1
// CHECK-NEXT:    %[[QP:.+]] = lmc.matmul %[[H]], %arg2 transpose_b : tensor<?x?x64xf32>, tensor<32x64xf32>
// CHECK-NEXT:    %[[KP:.+]] = lmc.matmul %[[H]], %arg3 transpose_b : tensor<?x?x64xf32>, tensor<16x64xf32>
// CHECK-NEXT:    %[[V:.+]] = lmc.matmul %[[H]], %arg4 transpose_b : tensor<?x?x64xf32>, tensor<16x64xf32>
// CHECK-NEXT:    %[[Q:.+]] = lmc.rope %[[QP]] head_dim(16) theta(1.000000e+04) : tensor<?x?x32xf32>
// CHECK-NEXT:    %[[K:.+]] = lmc.rope %[[KP]] head_dim(16) theta(1.000000e+04) : tensor<?x?x16xf32>
// CHECK-NEXT:    lmc.split_heads %[[Q]] heads(2) : tensor<?x?x32xf32>
// CHECK-NEXT:    %[[KH:.+]] = lmc.split_heads %[[K]] heads(1) : tensor<?x?x16xf32>
// CHECK-NEXT:    lmc.repeat_heads %[[KH]] times(2) : tensor<?x1x?x16xf32>
// CHECK:         %[[ATT:.+]] = lmc.merge_heads %{{.+}} : tensor<?x2x?x16xf32>
// CHECK-NEXT:    %[[O:.+]] = lmc.matmul %[[ATT]], %arg5 transpose_b : tensor<?x?x32xf32>, tensor<64x32xf32>
// The residual stays a sum of partial values until a norm reads it.
// CHECK-NEXT:    %[[X1P:.+]] = lmc.add %[[TOK]], %[[O]] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[X1:.+]] = lmc.all_reduce %[[X1P]] over ["tp"] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[H2:.+]] = lmc.rms_norm %[[X1]], %arg6
// CHECK-NEXT:    %[[G:.+]] = lmc.matmul %[[H2]], %arg7 transpose_b : tensor<?x?x64xf32>, tensor<86x64xf32>
// CHECK-NEXT:    %[[U:.+]] = lmc.matmul %[[H2]], %arg8 transpose_b : tensor<?x?x64xf32>, tensor<86x64xf32>
// CHECK-NEXT:    %[[A:.+]] = lmc.silu %[[G]] : tensor<?x?x86xf32>
// CHECK-NEXT:    %[[M:.+]] = lmc.mul %[[A]], %[[U]] : tensor<?x?x86xf32>
// CHECK-NEXT:    %[[D:.+]] = lmc.matmul %[[M]], %arg9 transpose_b : tensor<?x?x86xf32>, tensor<64x86xf32>
// CHECK-NEXT:    %[[X2P:.+]] = lmc.add %[[X1P]], %[[D]] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[X2:.+]] = lmc.all_reduce %[[X2P]] over ["tp"] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[HF:.+]] = lmc.rms_norm %[[X2]], %arg10
// CHECK-NEXT:    %[[LOGITS:.+]] = lmc.matmul %[[HF]], %arg11 transpose_b : tensor<?x?x64xf32>, tensor<128x64xf32>
// CHECK:         lmc.cross_entropy_stats %[[LOGITS]], %arg47 offset(%{{.+}}) : tensor<?x?x128xf32>, tensor<?x?xi32>
// CHECK-NEXT:    lmc.all_gather %{{.+}} over ["tp"] dim 2 : tensor<?x?x3xf32> -> tensor<?x?x6xf32>
// CHECK:         %[[DLOGITS:.+]] = lmc.cross_entropy_shard_grad
// Backward: the norms read the residuals all-reduced in the forward pass.
// CHECK:         %[[DHF:.+]] = lmc.matmul %[[DLOGITS]], %arg11 : tensor<?x?x128xf32>, tensor<128x64xf32>
// CHECK:         %[[DHFS:.+]] = lmc.all_reduce %[[DHF]] over ["tp"] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[DX2:.+]], %{{.+}} = lmc.rms_norm_grad %[[X2]], %arg10, %[[DHFS]]
// CHECK:         lmc.silu_grad %[[G]], %{{.+}} : tensor<?x?x86xf32>
// CHECK:         %[[DH2S:.+]] = lmc.all_reduce %{{.+}} over ["tp"] : tensor<?x?x64xf32>
// CHECK-NEXT:    lmc.rms_norm_grad %[[X1]], %arg6, %[[DH2S]]
// CHECK:         lmc.rope %{{.+}} head_dim(16) theta(1.000000e+04) inverse : tensor<?x?x{{32|16}}xf32>
// CHECK:         lmc.rope %{{.+}} head_dim(16) theta(1.000000e+04) inverse : tensor<?x?x{{32|16}}xf32>
// CHECK:         %[[DHS:.+]] = lmc.all_reduce %{{.+}} over ["tp"] : tensor<?x?x64xf32>
// CHECK-NEXT:    lmc.rms_norm_grad %[[X0]], %arg1, %[[DHS]]
// CHECK:         lmc.adamw %arg2, {{.+}} : tensor<32x64xf32>, f32, i64
// CHECK:         lmc.adamw %arg7, {{.+}} : tensor<86x64xf32>, f32, i64
// CHECK:         lmc.adamw %arg9, {{.+}} : tensor<64x86xf32>, f32, i64

// Six all-reduces of activations (3 forward, 3 backward) and the norm's;
// one all-gather (the cross-entropy statistics); the same with flash
// attention, split by heads.
// REDUCES: {{^}}7{{$}}
// GATHERS: {{^}}1{{$}}
// FLASH: lmc.flash_attention %{{.+}}, %{{.+}}, %{{.+}} heads(2) kv_heads(1) : tensor<?x?x32xf32>, tensor<?x?x16xf32> -> tensor<?x2x?xf32>
// FLASH: lmc.flash_attention_grad %{{.+}} heads(2) kv_heads(1) : tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x2x?xf32>

// At a global batch of 8, sequence 64: each activation all-reduce is
// [8, 64, 64] f32 = 131,072 bytes, moving as much per rank (2(P-1)/P = 1);
// the cross-entropy statistics are [8, 64, 3] per rank, a whole of 12,288
// bytes, half of it moved. Parameters per rank: 128x64 (embedding) + 2x64
// (norms) + 32x64 (q) + 2x16x64 (k, v) + 64x32 (o) + 2x86x64 (gate, up) +
// 64x86 (down) + 64 (final norm) + 128x64 (head) = 39,232 floats = 156,928
// bytes.
// TP2:      lmc-shard report: @llama on mesh dp=1,tp=2 (2 ranks), ZeRO 0
// TP2:           6 all_reduce     tp         1         131072         131072
// TP2-NEXT:      1 all_gather     tp         1          12288           6144
// TP2-NEXT:      1 all_reduce     tp         1              4              4
// TP2-NEXT:   total: 798724 payload bytes, 792580 bytes moved per rank
// TP2-NEXT: parameters per rank:      156928 bytes
// TP2-NEXT: gradients per rank:       156928 bytes
// TP2-NEXT: optimizer state per rank: 313856 bytes (exp_avg, exp_avg_sq)
// Under dp=2 x tp=2 the same at 4 rows per rank, and one dp bucket of the
// 12 local gradients (156,928 bytes).
// DPTP:      lmc-shard report: @llama on mesh dp=2,tp=2 (4 ranks), ZeRO 0
// DPTP:           6 all_reduce     tp         1          65536          65536
// DPTP-NEXT:      1 all_gather     tp         1           6144           3072
// DPTP-NEXT:      1 all_reduce     dp        12         156928         156928
// DPTP-NEXT:      1 all_reduce     dp         1              4              4
// DPTP-NEXT:      1 all_reduce     tp         1              4              4
// DPTP-NEXT:   total: 556296 payload bytes, 553224 bytes moved per rank
// DPTP-NEXT: parameters per rank:      156928 bytes

// tp=4 does not divide the 2 key/value heads: lmc-shard-tp-llama-invalid.mlir.

lmc.model @llama {
  lmc.param @"model.embed_tokens.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.input_layernorm.weight" : tensor<64xf32> init(ones)
  lmc.param @"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.k_proj.weight" : tensor<32x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.v_proj.weight" : tensor<32x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.self_attn.o_proj.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.post_attention_layernorm.weight" : tensor<64xf32> init(ones)
  lmc.param @"model.layers.0.mlp.gate_proj.weight" : tensor<172x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.mlp.up_proj.weight" : tensor<172x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.layers.0.mlp.down_proj.weight" : tensor<64x172xf32> init(normal, std = 2.000000e-02)
  lmc.param @"model.norm.weight" : tensor<64xf32> init(ones)
  lmc.param @"lm_head.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @"model.embed_tokens.weight" : tensor<256x64xf32>
    %x0 = lmc.embedding %emb[%tokens] : tensor<256x64xf32>, tensor<?x?xi32>
    %n1w = lmc.param_ref @"model.layers.0.input_layernorm.weight" : tensor<64xf32>
    %h = lmc.rms_norm %x0, %n1w eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %wq = lmc.param_ref @"model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
    %wk = lmc.param_ref @"model.layers.0.self_attn.k_proj.weight" : tensor<32x64xf32>
    %wv = lmc.param_ref @"model.layers.0.self_attn.v_proj.weight" : tensor<32x64xf32>
    %qp = lmc.matmul %h, %wq transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %kp = lmc.matmul %h, %wk transpose_b : tensor<?x?x64xf32>, tensor<32x64xf32>
    %v = lmc.matmul %h, %wv transpose_b : tensor<?x?x64xf32>, tensor<32x64xf32>
    %q = lmc.rope %qp head_dim(16) theta(1.000000e+04) : tensor<?x?x64xf32>
    %k = lmc.rope %kp head_dim(16) theta(1.000000e+04) : tensor<?x?x32xf32>
    %att = lmc.causal_attention %q, %k, %v heads(4) kv_heads(2) : tensor<?x?x64xf32>, tensor<?x?x32xf32>
    %wo = lmc.param_ref @"model.layers.0.self_attn.o_proj.weight" : tensor<64x64xf32>
    %o = lmc.matmul %att, %wo transpose_b : tensor<?x?x64xf32>, tensor<64x64xf32>
    %x1 = lmc.add %x0, %o : tensor<?x?x64xf32>
    %n2w = lmc.param_ref @"model.layers.0.post_attention_layernorm.weight" : tensor<64xf32>
    %h2 = lmc.rms_norm %x1, %n2w eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %wg = lmc.param_ref @"model.layers.0.mlp.gate_proj.weight" : tensor<172x64xf32>
    %wu = lmc.param_ref @"model.layers.0.mlp.up_proj.weight" : tensor<172x64xf32>
    %wd = lmc.param_ref @"model.layers.0.mlp.down_proj.weight" : tensor<64x172xf32>
    %g = lmc.matmul %h2, %wg transpose_b : tensor<?x?x64xf32>, tensor<172x64xf32>
    %u = lmc.matmul %h2, %wu transpose_b : tensor<?x?x64xf32>, tensor<172x64xf32>
    %a = lmc.silu %g : tensor<?x?x172xf32>
    %m = lmc.mul %a, %u : tensor<?x?x172xf32>
    %d = lmc.matmul %m, %wd transpose_b : tensor<?x?x172xf32>, tensor<64x172xf32>
    %x2 = lmc.add %x1, %d : tensor<?x?x64xf32>
    %nfw = lmc.param_ref @"model.norm.weight" : tensor<64xf32>
    %hf = lmc.rms_norm %x2, %nfw eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %head = lmc.param_ref @"lm_head.weight" : tensor<256x64xf32>
    %logits = lmc.matmul %hf, %head transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

