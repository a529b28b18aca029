// Tests lmc-shard's sequence parallelism (`sequence-parallel`, Megatron-LM's
// form) on one GPT-2 block (LayerNorm, GELU MLP, fused QKV, learned
// positions, tied head) and one Llama block (RMSNorm, RoPE inside attention,
// SwiGLU, grouped-query attention, untied head) at tp=2. Forward: the
// vocabulary-parallel embedding's partial output is reduce-scattered along
// the sequence (dim 1) and GPT-2's position embedding sliced to the rank's
// positions; every norm and residual add runs on the rank's tokens; each
// column-parallel region (QKV, MLP up, the LM head) starts with an
// all-gather along the sequence of the norm's output, each row-parallel one
// (attention out, MLP down) ends with a reduce-scatter along the sequence
// (GPT-2's row-parallel bias added after it, to the rank's tokens). Backward
// mirrors it: the input gradient of each column-parallel region is
// reduce-scattered (once for the sum of Llama's q, k, v and of gate and
// up), the output gradient of each row-parallel one all-gathered, the
// gradient of the embedding output all-gathered before the embedding (and
// position) gradient; the norm-weight (and bias) gradients, partial sums
// over each rank's tokens, are all-reduced over tp. Collectives along the
// sequence are as many as the all-reduces of tensor parallelism times two.

// RUN: lmc-opt %s --split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2 sequence-parallel=true" | FileCheck %s
// RUN: lmc-opt %s --split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2 sequence-parallel=true" | awk '/func.func @train_step/,/^    }$/' > %t.step
// RUN: grep -c 'lmc.reduce_scatter .* over \["tp"\] dim 1' %t.step | FileCheck %s --check-prefix=SCATTERS
// RUN: grep -c 'lmc.all_gather .* over \["tp"\] dim 1' %t.step | FileCheck %s --check-prefix=SCATTERS
// No activation is all-reduced over tp.
// RUN: not grep 'lmc.all_reduce .* over \["tp"\] : tensor<?x?x' %t.step
// Tensor parallelism alone: one all-reduce per reduce-scatter above.
// RUN: lmc-opt %s --split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2" | awk '/func.func @train_step/,/^    }$/' | grep -c 'lmc.all_reduce .* over \["tp"\] : tensor<?x?x' | FileCheck %s --check-prefix=SCATTERS
// Flash attention and dp=2 x tp=2: the same collectives along the sequence.
// RUN: lmc-opt %s --split-input-file --lmc-autodiff=attention=flash --lmc-optimizer --lmc-shard="mesh=dp=2,tp=2 sequence-parallel=true overlap=false" | awk '/func.func @train_step/,/^    }$/' > %t.flash
// RUN: grep -c 'lmc.reduce_scatter .* over \["tp"\] dim 1' %t.flash | FileCheck %s --check-prefix=SCATTERS
// RUN: grep -c 'lmc.all_gather .* over \["tp"\] dim 1' %t.flash | FileCheck %s --check-prefix=SCATTERS
// The logits function (sampling: prompts of any length) stays tensor-parallel only.
// RUN: lmc-opt %s --split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2 sequence-parallel=true" | awk '/func.func @logits/,/^    }$/' | FileCheck %s --check-prefix=SAMPLING

// The report, at 8 rows of 64 positions (C 64: 131,072 bytes an
// activation): 6 reduce-scatters and 6 all-gathers along the sequence move
// 6 x 2 x 65,536 = 786,432 bytes per rank, as the 6 all-reduces of tensor
// parallelism alone (6 x 131,072), each + 6,144 of the cross-entropy
// statistics; the norm inputs (the residual stream: 3 kept) are halved,
// 196,608 bytes less kept; the norm-weight (and bias) gradients add 256
// bytes each (GPT-2: 3 LayerNorms x 2 + 2 row-parallel biases; Llama: 3
// RMSNorms) to the 4-byte gradient-norm scalar.
// RUN: lmc-opt %s --split-input-file --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2 sequence-parallel=true report=true" -o /dev/null | FileCheck %s --check-prefix=REPORT
// REPORT: lmc-shard report: @gpt2 on mesh dp=1,tp=2 (2 ranks), ZeRO 0
// REPORT:      6 reduce_scatter tp         1         131072          65536
// REPORT-NEXT: 6 all_gather     tp         1         131072          65536
// REPORT:      sequence parallelism over tp=2: activations kept per rank 1771528 bytes (tensor parallelism alone: 1968136); bytes moved over tp per rank by activation collectives 792576 (tensor parallelism alone, all-reduces: 792576), by others 2052 (the all-reduces of norm and bias gradients, partial over the rank's tokens; alone: 4)
// REPORT: lmc-shard report: @llama on mesh dp=1,tp=2 (2 ranks), ZeRO 0
// REPORT:      sequence parallelism over tp=2: activations kept per rank 2082824 bytes (tensor parallelism alone: 2279432); bytes moved over tp per rank by activation collectives 792576 (tensor parallelism alone, all-reduces: 792576), by others 772 (the all-reduces of norm and bias gradients, partial over the rank's tokens; alone: 4)

// 6 + 6: GPT-2 (embedding, 2 row-parallel; LM head, 2 column-parallel
// input gradients) and Llama alike.
// SCATTERS-COUNT-1: {{^}}12{{$}}
// SAMPLING-NOT: dim 1
// SAMPLING: lmc.all_reduce

// CHECK-LABEL: lmc.model @gpt2 attributes {{{.*}}lmc.mesh = #lmc.mesh<dp = 1, tp = 2>, lmc.sequence_axes = ["tp"]}
// CHECK-LABEL: func.func @train_step(
// CHECK:         %[[TOK:.+]] = lmc.embedding %arg0[%arg58] offset(%{{.+}}) : tensor<128x64xf32>
// CHECK-NEXT:    %[[POS:.+]] = lmc.position_embedding %arg1 like %arg58
// CHECK-NEXT:    %[[TOKS:.+]] = lmc.reduce_scatter %[[TOK]] over ["tp"] dim 1 : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
// CHECK:         %[[T:.+]] = tensor.dim %[[POS]], %c1
// CHECK:         %[[ROWS:.+]] = arith.divui %[[T]], %c2
// CHECK:         %[[FIRST:.+]] = arith.muli %{{.+}}, %[[ROWS]]
// CHECK:         %[[POSS:.+]] = tensor.extract_slice %[[POS]][0, %[[FIRST]], 0] [%{{.+}}, %[[ROWS]], 64] [1, 1, 1]
// CHECK-NEXT:    %[[X0:.+]] = lmc.add %[[TOKS]], %[[POSS]] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[LN1:.+]] = lmc.layer_norm %[[X0]], %arg2, %arg3
// CHECK-NEXT:    %[[LN1G:.+]] = lmc.all_gather %[[LN1]] over ["tp"] dim 1 : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
// CHECK-NEXT:    lmc.matmul %[[LN1G]], %arg4 : tensor<?x?x64xf32>, tensor<64x96xf32>
// CHECK:         %[[AO:.+]] = lmc.matmul %{{.+}}, %arg6 : tensor<?x?x32xf32>, tensor<32x64xf32>
// CHECK-NEXT:    %[[AOS:.+]] = lmc.reduce_scatter %[[AO]] over ["tp"] dim 1
// CHECK-NEXT:    %[[AOB:.+]] = lmc.bias_add %[[AOS]], %arg7 : tensor<?x?x64xf32>, tensor<64xf32>
// CHECK-NEXT:    %[[X1:.+]] = lmc.add %[[X0]], %[[AOB]] : tensor<?x?x64xf32>
// CHECK-NEXT:    %[[LN2:.+]] = lmc.layer_norm %[[X1]], %arg8, %arg9
// CHECK-NEXT:    %[[LN2G:.+]] = lmc.all_gather %[[LN2]] over ["tp"] dim 1
// CHECK-NEXT:    lmc.matmul %[[LN2G]], %arg10 : tensor<?x?x64xf32>, tensor<64x128xf32>
// CHECK:         %[[DOWN:.+]] = lmc.matmul %{{.+}}, %arg12 : tensor<?x?x128xf32>, tensor<128x64xf32>
// CHECK-NEXT:    %[[DOWNS:.+]] = lmc.reduce_scatter %[[DOWN]] over ["tp"] dim 1
// CHECK-NEXT:    %[[DOWNB:.+]] = lmc.bias_add %[[DOWNS]], %arg13
// CHECK-NEXT:    %[[X2:.+]] = lmc.add %[[X1]], %[[DOWNB]]
// CHECK-NEXT:    %[[LNF:.+]] = lmc.layer_norm %[[X2]], %arg14, %arg15
// CHECK-NEXT:    %[[LNFG:.+]] = lmc.all_gather %[[LNF]] over ["tp"] dim 1
// CHECK-NEXT:    %[[LOGITS:.+]] = lmc.matmul %[[LNFG]], %arg0 transpose_b : tensor<?x?x64xf32>, tensor<128x64xf32>
// CHECK:         lmc.cross_entropy_stats %[[LOGITS]]
// CHECK:         %[[DLNF:.+]] = lmc.matmul %{{.+}}, %arg0 : tensor<?x?x128xf32>, tensor<128x64xf32>
// CHECK:         %[[DLNFS:.+]] = lmc.reduce_scatter %[[DLNF]] over ["tp"] dim 1
// CHECK-NEXT:    %[[DX2:.+]], %[[WF:.+]], %[[BF:.+]] = lmc.layer_norm_grad %[[X2]], %arg14, %[[DLNFS]]
// CHECK-NEXT:    lmc.all_reduce %[[WF]] over ["tp"] : tensor<64xf32>
// CHECK-NEXT:    lmc.all_reduce %[[BF]] over ["tp"] : tensor<64xf32>
// The row-parallel bias gradient: a sum over the rank's tokens.
// CHECK-NEXT:    %[[DB:.+]] = lmc.reduce_sum %[[DX2]] dims [0, 1]
// CHECK-NEXT:    lmc.all_reduce %[[DB]] over ["tp"] : tensor<64xf32>
// CHECK-NEXT:    %[[DX2G:.+]] = lmc.all_gather %[[DX2]] over ["tp"] dim 1
// CHECK-NEXT:    lmc.matmul %[[DX2G]], %arg12 transpose_b : tensor<?x?x64xf32>, tensor<128x64xf32>
// CHECK:         %[[DLN2:.+]] = lmc.matmul %{{.+}}, %arg10 transpose_b : tensor<?x?x128xf32>, tensor<64x128xf32>
// CHECK:         %[[DLN2S:.+]] = lmc.reduce_scatter %[[DLN2]] over ["tp"] dim 1
// CHECK-NEXT:    %[[DX1N:.+]], %[[W2:.+]], %[[B2:.+]] = lmc.layer_norm_grad %[[X1]], %arg8, %[[DLN2S]]
// CHECK-NEXT:    lmc.all_reduce %[[W2]] over ["tp"]
// CHECK-NEXT:    lmc.all_reduce %[[B2]] over ["tp"]
// CHECK-NEXT:    %[[DX1:.+]] = lmc.add %[[DX2]], %[[DX1N]] : tensor<?x?x64xf32>
// CHECK:         %[[DX1G:.+]] = lmc.all_gather %[[DX1]] over ["tp"] dim 1
// CHECK-NEXT:    lmc.matmul %[[DX1G]], %arg6 transpose_b
// CHECK:         %[[DLN1:.+]] = lmc.matmul %{{.+}}, %arg4 transpose_b : tensor<?x?x96xf32>, tensor<64x96xf32>
// CHECK:         %[[DLN1S:.+]] = lmc.reduce_scatter %[[DLN1]] over ["tp"] dim 1
// CHECK-NEXT:    %[[DX0N:.+]], %[[W1:.+]], %[[B1:.+]] = lmc.layer_norm_grad %[[X0]], %arg2, %[[DLN1S]]
// CHECK-NEXT:    lmc.all_reduce %[[W1]] over ["tp"]
// CHECK-NEXT:    lmc.all_reduce %[[B1]] over ["tp"]
// CHECK-NEXT:    %[[DX0:.+]] = lmc.add %[[DX1]], %[[DX0N]]
// CHECK-NEXT:    %[[DX0G:.+]] = lmc.all_gather %[[DX0]] over ["tp"] dim 1
// CHECK-NEXT:    lmc.position_embedding_grad %[[DX0G]] : tensor<?x?x64xf32> -> tensor<64x64xf32>
// CHECK-NEXT:    lmc.embedding_grad %[[DX0G]][%arg58]

// CHECK-LABEL: lmc.model @llama attributes {{{.*}}lmc.sequence_axes = ["tp"]}
// CHECK-LABEL: func.func @train_step(
// CHECK:         %[[TOK:.+]] = lmc.embedding %arg0[%arg46] offset(%{{.+}}) : tensor<128x64xf32>
// CHECK-NEXT:    %[[X0:.+]] = lmc.reduce_scatter %[[TOK]] over ["tp"] dim 1
// CHECK-NEXT:    %[[H:.+]] = lmc.rms_norm %[[X0]], %arg1
// CHECK-NEXT:    %[[HG:.+]] = lmc.all_gather %[[H]] over ["tp"] dim 1
// CHECK-NEXT:    %[[QP:.+]] = lmc.matmul %[[HG]], %arg2 transpose_b : tensor<?x?x64xf32>, tensor<32x64xf32>
// CHECK-NEXT:    %[[KP:.+]] = lmc.matmul %[[HG]], %arg3 transpose_b : tensor<?x?x64xf32>, tensor<16x64xf32>
// CHECK-NEXT:    lmc.matmul %[[HG]], %arg4 transpose_b : tensor<?x?x64xf32>, tensor<16x64xf32>
// CHECK-NEXT:    lmc.rope %[[QP]] head_dim(16) theta(1.000000e+04) : tensor<?x?x32xf32>
// CHECK-NEXT:    lmc.rope %[[KP]] head_dim(16) theta(1.000000e+04) : tensor<?x?x16xf32>
// CHECK:         %[[O:.+]] = lmc.matmul %{{.+}}, %arg5 transpose_b : tensor<?x?x32xf32>, tensor<64x32xf32>
// CHECK-NEXT:    %[[OS:.+]] = lmc.reduce_scatter %[[O]] over ["tp"] dim 1
// CHECK-NEXT:    %[[X1:.+]] = lmc.add %[[X0]], %[[OS]]
// CHECK-NEXT:    %[[H2:.+]] = lmc.rms_norm %[[X1]], %arg6
// CHECK-NEXT:    %[[H2G:.+]] = lmc.all_gather %[[H2]] over ["tp"] dim 1
// CHECK-NEXT:    %[[G:.+]] = lmc.matmul %[[H2G]], %arg7 transpose_b : tensor<?x?x64xf32>, tensor<86x64xf32>
// CHECK-NEXT:    lmc.matmul %[[H2G]], %arg8 transpose_b
// CHECK-NEXT:    lmc.silu %[[G]] : tensor<?x?x86xf32>
// CHECK:         %[[D:.+]] = lmc.matmul %{{.+}}, %arg9 transpose_b : tensor<?x?x86xf32>, tensor<64x86xf32>
// CHECK-NEXT:    %[[DS:.+]] = lmc.reduce_scatter %[[D]] over ["tp"] dim 1
// CHECK-NEXT:    %[[X2:.+]] = lmc.add %[[X1]], %[[DS]]
// CHECK-NEXT:    %[[HF:.+]] = lmc.rms_norm %[[X2]], %arg10
// CHECK-NEXT:    %[[HFG:.+]] = lmc.all_gather %[[HF]] over ["tp"] dim 1
// CHECK-NEXT:    lmc.matmul %[[HFG]], %arg11 transpose_b : tensor<?x?x64xf32>, tensor<128x64xf32>
// CHECK:         %[[DHF:.+]] = lmc.matmul %{{.+}}, %arg11 : tensor<?x?x128xf32>, tensor<128x64xf32>
// CHECK:         %[[DHFS:.+]] = lmc.reduce_scatter %[[DHF]] over ["tp"] dim 1
// CHECK-NEXT:    %[[DX2:.+]], %[[WF:.+]] = lmc.rms_norm_grad %[[X2]], %arg10, %[[DHFS]]
// CHECK-NEXT:    lmc.all_reduce %[[WF]] over ["tp"] : tensor<64xf32>
// CHECK-NEXT:    %[[DX2G:.+]] = lmc.all_gather %[[DX2]] over ["tp"] dim 1
// CHECK-NEXT:    lmc.matmul %[[DX2G]], %arg9 : tensor<?x?x64xf32>, tensor<64x86xf32>
// Gate and up: their input gradients summed, then one reduce-scatter.
// CHECK:         %[[DU:.+]] = lmc.matmul %{{.+}}, %arg8 : tensor<?x?x86xf32>, tensor<86x64xf32>
// CHECK:         %[[DG:.+]] = lmc.matmul %{{.+}}, %arg7 : tensor<?x?x86xf32>, tensor<86x64xf32>
// CHECK-NEXT:    %[[DH2:.+]] = lmc.add %[[DU]], %[[DG]]
// CHECK:         %[[DH2S:.+]] = lmc.reduce_scatter %[[DH2]] over ["tp"] dim 1
// CHECK-NEXT:    %[[DX1N:.+]], %[[W2:.+]] = lmc.rms_norm_grad %[[X1]], %arg6, %[[DH2S]]
// CHECK-NEXT:    lmc.all_reduce %[[W2]] over ["tp"]
// CHECK-NEXT:    %[[DX1:.+]] = lmc.add %[[DX2]], %[[DX1N]]
// CHECK-NEXT:    %[[DX1G:.+]] = lmc.all_gather %[[DX1]] over ["tp"] dim 1
// CHECK-NEXT:    lmc.matmul %[[DX1G]], %arg5 : tensor<?x?x64xf32>, tensor<64x32xf32>
// CHECK:         lmc.rope %{{.+}} inverse
// CHECK:         lmc.rope %{{.+}} inverse
// q, k, v: their input gradients summed, then one reduce-scatter.
// CHECK:         %[[DQ:.+]] = lmc.matmul %{{.+}}, %arg2 : tensor<?x?x32xf32>, tensor<32x64xf32>
// CHECK-NEXT:    %[[DQKV:.+]] = lmc.add %{{.+}}, %[[DQ]] : tensor<?x?x64xf32>
// CHECK:         %[[DQKVS:.+]] = lmc.reduce_scatter %[[DQKV]] over ["tp"] dim 1
// CHECK-NEXT:    %[[DX0N:.+]], %[[W1:.+]] = lmc.rms_norm_grad %[[X0]], %arg1, %[[DQKVS]]
// CHECK-NEXT:    lmc.all_reduce %[[W1]] over ["tp"]
// CHECK-NEXT:    %[[DX0:.+]] = lmc.add %[[DX1]], %[[DX0N]]
// CHECK-NEXT:    %[[DX0G:.+]] = lmc.all_gather %[[DX0]] over ["tp"] dim 1
// CHECK-NEXT:    lmc.embedding_grad %[[DX0G]][%arg46]

lmc.model @gpt2 {
  lmc.param @"wte.weight" : tensor<256x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"wpe.weight" : tensor<64x64xf32> init(normal, std = 2.000000e-02)
  lmc.param @"h.0.ln_1.weight" : tensor<64xf32> init(ones)
  lmc.param @"h.0.ln_1.bias" : tensor<64xf32> init(zeros)
  lmc.param @"h.0.attn.c_attn.weight" : tensor<64x192xf32> init(normal, std = 2.000000e-02)
  lmc.param @"h.0.attn.c_attn.bias" : tensor<192xf32> init(zeros)
  lmc.param @"h.0.attn.c_proj.weight" : tensor<64x64xf32> init(normal, std = 1.414214e-02)
  lmc.param @"h.0.attn.c_proj.bias" : tensor<64xf32> init(zeros)
  lmc.param @"h.0.ln_2.weight" : tensor<64xf32> init(ones)
  lmc.param @"h.0.ln_2.bias" : tensor<64xf32> init(zeros)
  lmc.param @"h.0.mlp.c_fc.weight" : tensor<64x256xf32> init(normal, std = 2.000000e-02)
  lmc.param @"h.0.mlp.c_fc.bias" : tensor<256xf32> init(zeros)
  lmc.param @"h.0.mlp.c_proj.weight" : tensor<256x64xf32> init(normal, std = 1.414214e-02)
  lmc.param @"h.0.mlp.c_proj.bias" : tensor<64xf32> init(zeros)
  lmc.param @"ln_f.weight" : tensor<64xf32> init(ones)
  lmc.param @"ln_f.bias" : tensor<64xf32> init(zeros)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @"wte.weight" : tensor<256x64xf32>
    %wpe = lmc.param_ref @"wpe.weight" : tensor<64x64xf32>
    %tok_emb = lmc.embedding %wte[%tokens] : tensor<256x64xf32>, tensor<?x?xi32>
    %pos_emb = lmc.position_embedding %wpe like %tokens : tensor<64x64xf32>, tensor<?x?xi32>
    %x0 = lmc.add %tok_emb, %pos_emb : tensor<?x?x64xf32>
    // block 0
    %h0_ln1_w = lmc.param_ref @"h.0.ln_1.weight" : tensor<64xf32>
    %h0_ln1_b = lmc.param_ref @"h.0.ln_1.bias" : tensor<64xf32>
    %h0_ln1 = lmc.layer_norm %x0, %h0_ln1_w, %h0_ln1_b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %h0_attn_w = lmc.param_ref @"h.0.attn.c_attn.weight" : tensor<64x192xf32>
    %h0_attn_b = lmc.param_ref @"h.0.attn.c_attn.bias" : tensor<192xf32>
    %h0_qkv_mm = lmc.matmul %h0_ln1, %h0_attn_w : tensor<?x?x64xf32>, tensor<64x192xf32>
    %h0_qkv = lmc.bias_add %h0_qkv_mm, %h0_attn_b : tensor<?x?x192xf32>, tensor<192xf32>
    %h0_q, %h0_k, %h0_v = lmc.split %h0_qkv into 3 : tensor<?x?x192xf32>
    %h0_att = lmc.causal_attention %h0_q, %h0_k, %h0_v heads(2) : tensor<?x?x64xf32>
    %h0_aproj_w = lmc.param_ref @"h.0.attn.c_proj.weight" : tensor<64x64xf32>
    %h0_aproj_b = lmc.param_ref @"h.0.attn.c_proj.bias" : tensor<64xf32>
    %h0_attn_out_mm = lmc.matmul %h0_att, %h0_aproj_w : tensor<?x?x64xf32>, tensor<64x64xf32>
    %h0_attn_out = lmc.bias_add %h0_attn_out_mm, %h0_aproj_b : tensor<?x?x64xf32>, tensor<64xf32>
    %x1 = lmc.add %x0, %h0_attn_out : tensor<?x?x64xf32>
    %h0_ln2_w = lmc.param_ref @"h.0.ln_2.weight" : tensor<64xf32>
    %h0_ln2_b = lmc.param_ref @"h.0.ln_2.bias" : tensor<64xf32>
    %h0_ln2 = lmc.layer_norm %x1, %h0_ln2_w, %h0_ln2_b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %h0_fc_w = lmc.param_ref @"h.0.mlp.c_fc.weight" : tensor<64x256xf32>
    %h0_fc_b = lmc.param_ref @"h.0.mlp.c_fc.bias" : tensor<256xf32>
    %h0_fc_mm = lmc.matmul %h0_ln2, %h0_fc_w : tensor<?x?x64xf32>, tensor<64x256xf32>
    %h0_fc = lmc.bias_add %h0_fc_mm, %h0_fc_b : tensor<?x?x256xf32>, tensor<256xf32>
    %h0_gelu = lmc.gelu %h0_fc tanh : tensor<?x?x256xf32>
    %h0_mproj_w = lmc.param_ref @"h.0.mlp.c_proj.weight" : tensor<256x64xf32>
    %h0_mproj_b = lmc.param_ref @"h.0.mlp.c_proj.bias" : tensor<64xf32>
    %h0_mlp_out_mm = lmc.matmul %h0_gelu, %h0_mproj_w : tensor<?x?x256xf32>, tensor<256x64xf32>
    %h0_mlp_out = lmc.bias_add %h0_mlp_out_mm, %h0_mproj_b : tensor<?x?x64xf32>, tensor<64xf32>
    %x2 = lmc.add %x1, %h0_mlp_out : tensor<?x?x64xf32>
    // final layer norm, tied LM head, loss
    %lnf_w = lmc.param_ref @"ln_f.weight" : tensor<64xf32>
    %lnf_b = lmc.param_ref @"ln_f.bias" : tensor<64xf32>
    %lnf = lmc.layer_norm %x2, %lnf_w, %lnf_b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
    %logits = lmc.matmul %lnf, %wte transpose_b : tensor<?x?x64xf32>, tensor<256x64xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

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

