// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// Tests that an all_reduce on buffers has no dim.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>) {
    // expected-error @below {{an all_reduce has no dim}}
    lmc.buffer_collective all_reduce %a into %a over ["dp"] dim 0 : memref<8xf32>, memref<8xf32>
    return
  }
}

// -----

// Tests that an all_reduce on buffers writes an output of the input's shape.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>, %b: memref<4xf32>) {
    // expected-error @below {{output must have the shape of input, got 'memref<4xf32>' for 'memref<8xf32>'}}
    lmc.buffer_collective all_reduce %a into %b over ["dp"] : memref<8xf32>, memref<4xf32>
    return
  }
}

// -----

// Tests that input and output have one rank.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>, %b: memref<8x1xf32>) {
    // expected-error @below {{input and output must have the same rank, got 1 and 2}}
    lmc.buffer_collective all_reduce %a into %b over ["dp"] : memref<8xf32>, memref<8x1xf32>
    return
  }
}

// -----

// Tests that a gather on buffers needs a dim.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>, %b: memref<16xf32>) {
    // expected-error @below {{an all_gather needs a dim}}
    lmc.buffer_collective all_gather %a into %b over ["dp"] : memref<8xf32>, memref<16xf32>
    return
  }
}

// -----

// Tests that the dim of a scatter is within the rank.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>, %b: memref<4xf32>) {
    // expected-error @below {{dim 1 is out of range for rank 1}}
    lmc.buffer_collective reduce_scatter %a into %b over ["dp"] dim 1 : memref<8xf32>, memref<4xf32>
    return
  }
}

// -----

// Tests that a gather lists its axes in mesh order.

module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @f(%a: memref<2xf32>, %b: memref<8xf32>) {
    // expected-error @below {{axes must be listed in mesh order (the runtime numbers the ranks of a group row-major over the mesh's axes), got ["tp", "dp"] on #lmc.mesh<dp = 2, tp = 2>}}
    lmc.buffer_collective all_gather %a into %b over ["tp", "dp"] dim 0 : memref<2xf32>, memref<8xf32>
    return
  }
}

// -----

// Tests that a scatter's static dimension divides by the group size.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<7xf32>, %b: memref<3xf32>) {
    // expected-error @below {{dimension 0 of size 7 is not divisible by the group size 2}}
    lmc.buffer_collective reduce_scatter %a into %b over ["dp"] dim 0 : memref<7xf32>, memref<3xf32>
    return
  }
}

// -----

// Tests that a gather's output has dim multiplied by the group size.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<4x2xf32>, %b: memref<4x2xf32>) {
    // expected-error @below {{output dimension 1 must be 4 (2 multiplied by 2, the number of ranks in a group), got 2}}
    lmc.buffer_collective all_gather %a into %b over ["dp"] dim 1 : memref<4x2xf32>, memref<4x2xf32>
    return
  }
}

// -----

// Tests that a gather's output has the input's sizes along the other
// dimensions.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<4x2xf32>, %b: memref<8x4xf32>) {
    // expected-error @below {{output must have the sizes of input except along dim, got 'memref<8x4xf32>' for 'memref<4x2xf32>'}}
    lmc.buffer_collective all_gather %a into %b over ["dp"] dim 0 : memref<4x2xf32>, memref<8x4xf32>
    return
  }
}

// -----

// Tests that the axes of a collective on buffers are axes of the mesh in
// scope (the checks of the tensor collectives).

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>) {
    // expected-error @below {{mesh axis 'tp' is not in the mesh #lmc.mesh<dp = 2>}}
    lmc.buffer_collective all_reduce %a into %a over ["tp"] : memref<8xf32>, memref<8xf32>
    return
  }
}

// -----

// Tests that a started collective's handle is waited for.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>) {
    // expected-error @below {{handle must be used exactly once, by an lmc.buffer_wait; it has 0 uses}}
    %h = lmc.buffer_collective_start all_reduce %a into %a over ["dp"] : memref<8xf32>, memref<8xf32>
    return
  }
}

// -----

// Tests that a started collective's handle is used by a wait (or returned),
// not by another op.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>) -> i64 {
    // expected-error @below {{handle must be used by an lmc.buffer_wait in the same block, or returned from the function, not by arith.addi}}
    %h = lmc.buffer_collective_start all_reduce %a into %a over ["dp"] : memref<8xf32>, memref<8xf32>
    %c1 = arith.constant 1 : i64
    %g = arith.addi %h, %c1 : i64
    return %g : i64
  }
}

// -----

// Tests that a collective whose handle leaves the function works on the
// caller's buffers only (its arguments), not on a buffer the function
// allocates.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @f(%a: memref<8xf32>) -> i64 {
    %b = memref.alloc() : memref<8xf32>
    // expected-error @below {{returns its handle, so its input and output must be arguments of the function}}
    %h = lmc.buffer_collective_start all_reduce %a into %b over ["dp"] : memref<8xf32>, memref<8xf32>
    return %h : i64
  }
}

// -----

// Tests that a wait takes handles of started collectives, or handles the
// function received as arguments, only.

func.func @f() {
  %h = arith.constant 1 : i64
  // expected-error @below {{operand #0 must be a result of lmc.buffer_collective_start or an argument of the function}}
  lmc.buffer_wait %h
  return
}

// -----

// Tests that a wait has at least one handle.

func.func @f() {
  // expected-error @below {{expects at least one handle}}
  "lmc.buffer_wait"() : () -> ()
  return
}

// -----

// Tests that the attention kernel's operands have the query's shape.

func.func @f(%q: memref<2x8x64xf32>, %k: memref<2x4x64xf32>, %lse: memref<2x2x8xf32>) {
  // expected-error @below {{operands and outputs must have the query's shape, got 'memref<2x4x64xf32>' for 'memref<2x8x64xf32>'}}
  lmc.buffer_attention %q, %k, %q into %q, %lse heads(2) : memref<2x8x64xf32>, memref<2x4x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x2x8xf32>
  return
}

// -----

// Tests that the attention kernel's channel dimension is static.

func.func @f(%q: memref<2x8x?xf32>, %lse: memref<2x2x8xf32>) {
  // expected-error @below {{the channel dimension must be static}}
  lmc.buffer_attention %q, %q, %q into %q, %lse heads(2) : memref<2x8x?xf32>, memref<2x8x?xf32>, memref<2x8x?xf32>, memref<2x8x?xf32>, memref<2x2x8xf32>
  return
}

// -----

// Tests that the heads divide the channels.

func.func @f(%q: memref<2x8x64xf32>, %lse: memref<2x3x8xf32>) {
  // expected-error @below {{heads (3) must be at least 1 and divide the channels (64)}}
  lmc.buffer_attention %q, %q, %q into %q, %lse heads(3) : memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x3x8xf32>
  return
}

// -----

// Tests that lse is [B, heads, T].

func.func @f(%q: memref<2x8x64xf32>, %lse: memref<2x2x4xf32>) {
  // expected-error @below {{lse must be [B, heads, T] = [2, 2, 8], got 'memref<2x2x4xf32>'}}
  lmc.buffer_attention_grad %q, %q, %q, %q, %lse, %q into %q, %q, %q heads(2) : memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x2x4xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>
  return
}

// -----

// Tests that the kv_heads of the attention kernel divides heads.

func.func @f(%q: memref<2x8x64xf32>, %k: memref<2x8x48xf32>, %lse: memref<2x4x8xf32>) {
  // expected-error @below {{kv_heads (3) must be at least 1 and divide heads (4)}}
  lmc.buffer_attention %q, %k, %k into %q, %lse heads(4) kv_heads(3) : memref<2x8x64xf32>, memref<2x8x48xf32>, memref<2x8x48xf32>, memref<2x8x64xf32>, memref<2x4x8xf32>
  return
}

// -----

// Tests that the keys and values of the attention kernel have kv_heads * D
// channels.

func.func @f(%q: memref<2x8x64xf32>, %lse: memref<2x4x8xf32>) {
  // expected-error @below {{keys and values must have kv_heads * D = 2 * 16 = 32 channels, got 'memref<2x8x64xf32>'}}
  lmc.buffer_attention %q, %q, %q into %q, %lse heads(4) kv_heads(2) : memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x4x8xf32>
  return
}

// -----

// Tests that the key and value gradients of the attention gradient kernel
// have the key's shape.

func.func @f(%q: memref<2x8x64xf32>, %k: memref<2x8x32xf32>, %lse: memref<2x4x8xf32>) {
  // expected-error @below {{keys, values and their gradients must have one shape, got 'memref<2x8x64xf32>' for 'memref<2x8x32xf32>'}}
  lmc.buffer_attention_grad %q, %k, %k, %q, %lse, %q into %q, %k, %q heads(4) kv_heads(2) : memref<2x8x64xf32>, memref<2x8x32xf32>, memref<2x8x32xf32>, memref<2x8x64xf32>, memref<2x4x8xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x32xf32>, memref<2x8x64xf32>
  return
}

// -----

// Tests that a row reduction on buffers names one of the runtime's kernels.

func.func @f(%x: memref<8x64xf32>) {
  // expected-error @below {{has an unknown kernel 'gelu'}}
  lmc.buffer_row_reduction "gelu" (%x) into (%x) : memref<8x64xf32> -> memref<8x64xf32>
  return
}

// -----

// Tests that a softmax on buffers takes neither a norm's eps nor the
// cross-entropy's classes.

func.func @f(%x: memref<8x64xf32>) {
  // expected-error @below {{a softmax takes no eps and no classes}}
  lmc.buffer_row_reduction "softmax" (%x) into (%x) {eps = 1.0e-05 : f64} : memref<8x64xf32> -> memref<8x64xf32>
  return
}

// -----

// Tests that only the cross-entropy's gradient and the norms' outputs may
// be written as bfloat16 (lmc-bf16-storage); a softmax's output may not.

func.func @f(%x: memref<8x64xf32>, %y: memref<8x64xbf16>) {
  // expected-error @below {{outputs must be float32, got 'memref<8x64xbf16>'}}
  lmc.buffer_row_reduction "softmax" (%x) into (%y) : memref<8x64xf32> -> memref<8x64xbf16>
  return
}

// -----

// Tests that the cross-entropy's gradient is float32 or bfloat16.

func.func @f(%l: memref<8x64xf32>, %t: memref<8xi32>, %g: memref<f32>, %d: memref<8x64xf16>) {
  // expected-error @below {{outputs must be float32 or bfloat16, got 'memref<8x64xf16>'}}
  lmc.buffer_row_reduction "cross_entropy_grad" (%l, %t, %g) into (%d) : memref<8x64xf32>, memref<8xi32>, memref<f32> -> memref<8x64xf16>
  return
}

// -----

// Tests that a softmax gradient's inputs (the softmax's output and its
// gradient) are float32.

func.func @f(%y: memref<8x64xf32>, %g: memref<8x64xf64>) {
  // expected-error @below {{input 1 must be float32, got 'memref<8x64xf64>'}}
  lmc.buffer_row_reduction "softmax_grad" (%y, %g) into (%y) : memref<8x64xf32>, memref<8x64xf64> -> memref<8x64xf32>
  return
}

// -----

// Tests that a row reduction has its kernel's numbers of inputs and outputs.

func.func @f(%x: memref<8x64xf32>, %w: memref<64xf32>) {
  // expected-error @below {{kernel 'layer_norm' takes 3 inputs and 1 outputs, got 2 and 1}}
  lmc.buffer_row_reduction "layer_norm" (%x, %w) into (%x) {eps = 1.0e-05 : f64} : memref<8x64xf32>, memref<64xf32> -> memref<8x64xf32>
  return
}

// -----

// Tests that a norm on buffers needs a positive eps.

func.func @f(%x: memref<8x64xf32>, %w: memref<64xf32>) {
  // expected-error @below {{a norm needs eps greater than zero}}
  lmc.buffer_row_reduction "rms_norm" (%x, %w) into (%x) : memref<8x64xf32>, memref<64xf32> -> memref<8x64xf32>
  return
}

// -----

// Tests that the cross-entropy's targets are int32.

func.func @f(%l: memref<8x256xf32>, %t: memref<8xi64>, %loss: memref<f32>) {
  // expected-error @below {{input 1 must be int32, got 'memref<8xi64>'}}
  lmc.buffer_row_reduction "cross_entropy" (%l, %t) into (%loss) : memref<8x256xf32>, memref<8xi64> -> memref<f32>
  return
}

// -----

// Tests that the cross-entropy's classes lie within the vocabulary.

func.func @f(%l: memref<8x256xf32>, %t: memref<8xi32>, %loss: memref<f32>) {
  // expected-error @below {{classes (257) must be in [1, V] for logits 'memref<8x256xf32>'}}
  lmc.buffer_row_reduction "cross_entropy" (%l, %t) into (%loss) {classes = 257 : i64} : memref<8x256xf32>, memref<8xi32> -> memref<f32>
  return
}

// -----

// Tests that the gradients of the LM head's chunked loss on buffers have
// the shapes of the input and the weight.

func.func @f(%x: memref<2x8x64xf32>, %w: memref<256x64xf32>, %t: memref<2x8xi32>, %s: memref<f32>, %dw: memref<64x256xf32>) {
  // expected-error @below {{the gradients must have the shapes of input and weight, got 'memref<2x8x64xf32>' and 'memref<64x256xf32>'}}
  lmc.buffer_head_loss %x, %w, %t, %s into %s, %x, %dw transpose_b rows(8) : memref<2x8x64xf32>, memref<256x64xf32>, memref<2x8xi32>, memref<f32>, memref<f32>, memref<2x8x64xf32>, memref<64x256xf32>
  return
}

// -----

// Tests that the chunked loss on buffers checks the weight's layout against
// the input's channels too.

func.func @f(%x: memref<2x8x64xf32>, %w: memref<64x256xf32>, %t: memref<2x8xi32>, %s: memref<f32>) {
  // expected-error @below {{weight 'memref<64x256xf32>' read transposed does not take the 64 channels of the input}}
  lmc.buffer_head_loss %x, %w, %t, %s into %s, %x, %w transpose_b rows(8) : memref<2x8x64xf32>, memref<64x256xf32>, memref<2x8xi32>, memref<f32>, memref<f32>, memref<2x8x64xf32>, memref<64x256xf32>
  return
}
