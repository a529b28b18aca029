// RUN: lmc-opt %s --lmc-gpu-runtime-calls -split-input-file -verify-diagnostics

// Tests that a runtime function taking buffers that the GPU runtime does
// not provide (here a made-up one: every library call lmc emits has a GPU
// form) is an error at its declaration, not a link error later.

// expected-error @+1 {{runtime function 'lmcrt_layer_norm_f32' has no GPU implementation: its buffers would be in GPU memory}}
func.func private @lmcrt_layer_norm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>) attributes {llvm.emit_c_interface}

// -----

// The GPU name is taken already: renaming would merge two functions.

// expected-error @+1 {{cannot rename 'lmcrt_gemm_f32': 'lmcrt_gpu_gemm_f32' already exists}}
func.func private @lmcrt_gemm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32)
func.func private @lmcrt_gpu_gemm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32)
