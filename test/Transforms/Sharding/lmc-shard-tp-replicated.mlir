// RUN: lmc-opt %s --split-input-file --lmc-autodiff --lmc-optimizer --lmc-shard="mesh=tp=2" --verify-diagnostics -o /dev/null

// Tests that tensor parallelism warns, at the use no pattern matched, about
// each parameter over 1 MiB it leaves replicated: an MLP that normalises its
// hidden layer (gelu(x W_up), layer_norm over the hidden width, then W_down,
// as NormFormer does) matches no MLP pattern, since the normalisation needs
// whole hidden rows, so its two 2 MiB weights stay whole on every rank. The
// 256 KiB embedding is split along the vocabulary and is not mentioned.

lmc.model @normformer {
  lmc.param @emb : tensor<256x256xf32> init(normal, std = 2.000000e-02)
  lmc.param @w_up : tensor<256x2048xf32> init(normal, std = 2.000000e-02)
  lmc.param @ln_w : tensor<2048xf32> init(ones)
  lmc.param @ln_b : tensor<2048xf32> init(zeros)
  lmc.param @w_down : tensor<2048x256xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @emb : tensor<256x256xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<256x256xf32>, tensor<?x?xi32>
    %wu = lmc.param_ref @w_up : tensor<256x2048xf32>
    // expected-warning @below {{tensor parallelism: parameter @w_up (2.0 MiB) stays replicated over tp=2: no tensor-parallel pattern (attention, MLP, vocabulary-split embedding) matched its use as operand 1 of 'lmc.matmul'}}
    %u = lmc.matmul %x, %wu : tensor<?x?x256xf32>, tensor<256x2048xf32>
    %a = lmc.gelu %u tanh : tensor<?x?x2048xf32>
    %lw = lmc.param_ref @ln_w : tensor<2048xf32>
    %lb = lmc.param_ref @ln_b : tensor<2048xf32>
    %n = lmc.layer_norm %a, %lw, %lb eps(1.000000e-05) : tensor<?x?x2048xf32>, tensor<2048xf32>
    %wd = lmc.param_ref @w_down : tensor<2048x256xf32>
    // expected-warning @below {{tensor parallelism: parameter @w_down (2.0 MiB) stays replicated over tp=2: no tensor-parallel pattern (attention, MLP, vocabulary-split embedding) matched its use as operand 1 of 'lmc.matmul'}}
    %y = lmc.matmul %n, %wd : tensor<?x?x2048xf32>, tensor<2048x256xf32>
    %logits = lmc.matmul %y, %emb transpose_b : tensor<?x?x256xf32>, tensor<256x256xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that a parameter of 1 MiB or less left replicated is not warned
// about: the same MLP with 512 KiB weights.

lmc.model @small_normformer {
  lmc.param @emb : tensor<256x256xf32> init(normal, std = 2.000000e-02)
  lmc.param @w_up : tensor<256x512xf32> init(normal, std = 2.000000e-02)
  lmc.param @ln_w : tensor<512xf32> init(ones)
  lmc.param @ln_b : tensor<512xf32> init(zeros)
  lmc.param @w_down : tensor<512x256xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @emb : tensor<256x256xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<256x256xf32>, tensor<?x?xi32>
    %wu = lmc.param_ref @w_up : tensor<256x512xf32>
    %u = lmc.matmul %x, %wu : tensor<?x?x256xf32>, tensor<256x512xf32>
    %a = lmc.gelu %u tanh : tensor<?x?x512xf32>
    %lw = lmc.param_ref @ln_w : tensor<512xf32>
    %lb = lmc.param_ref @ln_b : tensor<512xf32>
    %n = lmc.layer_norm %a, %lw, %lb eps(1.000000e-05) : tensor<?x?x512xf32>, tensor<512xf32>
    %wd = lmc.param_ref @w_down : tensor<512x256xf32>
    %y = lmc.matmul %n, %wd : tensor<?x?x512xf32>, tensor<512x256xf32>
    %logits = lmc.matmul %y, %emb transpose_b : tensor<?x?x256xf32>, tensor<256x256xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that what stays replicated by design is not warned about: a 2 MiB
// position table, and LayerNorm's scale and shift; the 4 MiB weights of a
// GELU MLP are split by its pattern.

lmc.model @by_design {
  lmc.param @emb : tensor<256x512xf32> init(normal, std = 2.000000e-02)
  lmc.param @pos : tensor<1024x512xf32> init(normal, std = 2.000000e-02)
  lmc.param @ln_w : tensor<512xf32> init(ones)
  lmc.param @ln_b : tensor<512xf32> init(zeros)
  lmc.param @w_up : tensor<512x2048xf32> init(normal, std = 2.000000e-02)
  lmc.param @w_down : tensor<2048x512xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @emb : tensor<256x512xf32>
    %pos = lmc.param_ref @pos : tensor<1024x512xf32>
    %t = lmc.embedding %emb[%tokens] : tensor<256x512xf32>, tensor<?x?xi32>
    %p = lmc.position_embedding %pos like %tokens : tensor<1024x512xf32>, tensor<?x?xi32>
    %x = lmc.add %t, %p : tensor<?x?x512xf32>
    %lw = lmc.param_ref @ln_w : tensor<512xf32>
    %lb = lmc.param_ref @ln_b : tensor<512xf32>
    %n = lmc.layer_norm %x, %lw, %lb eps(1.000000e-05) : tensor<?x?x512xf32>, tensor<512xf32>
    %wu = lmc.param_ref @w_up : tensor<512x2048xf32>
    %u = lmc.matmul %n, %wu : tensor<?x?x512xf32>, tensor<512x2048xf32>
    %a = lmc.gelu %u tanh : tensor<?x?x2048xf32>
    %wd = lmc.param_ref @w_down : tensor<2048x512xf32>
    %y = lmc.matmul %a, %wd : tensor<?x?x2048xf32>, tensor<2048x512xf32>
    %logits = lmc.matmul %y, %emb transpose_b : tensor<?x?x512xf32>, tensor<256x512xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that a gated MLP is split by its pattern, so that its 2 MiB weights
// are not warned about: GeGLU with [in, out] weights (gelu(x W_gate) *
// (x W_up), then W_down), as lmc-shard-tp-llama.mlir checks the placements
// of SwiGLU with nn.Linear's [out, in] ones.

lmc.model @geglu {
  lmc.param @emb : tensor<256x256xf32> init(normal, std = 2.000000e-02)
  lmc.param @w_gate : tensor<256x2048xf32> init(normal, std = 2.000000e-02)
  lmc.param @w_up : tensor<256x2048xf32> init(normal, std = 2.000000e-02)
  lmc.param @w_down : tensor<2048x256xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @emb : tensor<256x256xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<256x256xf32>, tensor<?x?xi32>
    %wg = lmc.param_ref @w_gate : tensor<256x2048xf32>
    %g = lmc.matmul %x, %wg : tensor<?x?x256xf32>, tensor<256x2048xf32>
    %a = lmc.gelu %g tanh : tensor<?x?x2048xf32>
    %wu = lmc.param_ref @w_up : tensor<256x2048xf32>
    %u = lmc.matmul %x, %wu : tensor<?x?x256xf32>, tensor<256x2048xf32>
    %h = lmc.mul %a, %u : tensor<?x?x2048xf32>
    %wd = lmc.param_ref @w_down : tensor<2048x256xf32>
    %y = lmc.matmul %h, %wd : tensor<?x?x2048xf32>, tensor<2048x256xf32>
    %logits = lmc.matmul %y, %emb transpose_b : tensor<?x?x256xf32>, tensor<256x256xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x256xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}

// -----

// Tests that the weight of an rms_norm, like LayerNorm's parameters (both
// are normalisations), is replicated by design and not warned about, even
// over 1 MiB (266240 channels): only the MLP weight no pattern matches is.

lmc.model @wide_rms_norm {
  lmc.param @emb : tensor<4x266240xf32> init(normal, std = 2.000000e-02)
  lmc.param @norm : tensor<266240xf32> init(ones)
  lmc.param @w : tensor<266240x4xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %emb = lmc.param_ref @emb : tensor<4x266240xf32>
    %x = lmc.embedding %emb[%tokens] : tensor<4x266240xf32>, tensor<?x?xi32>
    %g = lmc.param_ref @norm : tensor<266240xf32>
    %h = lmc.rms_norm %x, %g eps(1.000000e-05) : tensor<?x?x266240xf32>, tensor<266240xf32>
    %w = lmc.param_ref @w : tensor<266240x4xf32>
    // expected-warning @below {{parameter @w (4.1 MiB) stays replicated over tp=2}}
    %logits = lmc.matmul %h, %w : tensor<?x?x266240xf32>, tensor<266240x4xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x4xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
