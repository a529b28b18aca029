// RUN: lmc-opt %s --convert-lmc-to-runtime -split-input-file -verify-diagnostics
// RUN: not lmc-opt %s --convert-lmc-to-runtime="device=tpu" 2>&1 | FileCheck %s --check-prefix=DEVICE

// DEVICE: error: convert-lmc-to-runtime: unknown device 'tpu' (expected cpu or gpu)

// Tests that lmc.axis_index without a mesh in scope is an error: the
// runtime names a group by a mask over the mesh's axes.

func.func @no_mesh() -> index {
  // expected-error @below {{'lmc.axis_index' op has no mesh in scope: the runtime names a group by a mask over the mesh's axes}}
  %tp = lmc.axis_index "tp"
  return %tp : index
}

// -----

// Tests that a declaration of a runtime function with another type than the
// ABI table's is an error at the call rather than a call with a wrong
// signature.

module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func private @lmcrt_axis_index(i64) -> i64
  func.func @clash() -> index {
    // expected-error @below {{'lmc.axis_index' op calls the runtime's 'lmcrt_axis_index' as '(i32) -> i64', but the module declares it as '(i64) -> i64'}}
    %dp = lmc.axis_index "dp"
    return %dp : index
  }
}

// -----

// Tests that a row reduction on buffers is an error on the CPU runtime,
// which has no row kernels (on the CPU these ops are loops).

func.func @cpu(%x: memref<8x64xf32>, %w: memref<64xf32>) {
  // expected-error @below {{'lmc.buffer_row_reduction' op has no CPU implementation in the runtime}}
  lmc.buffer_row_reduction "rms_norm" (%x, %w) into (%x) {eps = 1.0e-05 : f64} : memref<8x64xf32>, memref<64xf32> -> memref<8x64xf32>
  return
}

// -----

// Tests that a generic marked as a sum whose output is not a scalar is an
// error on the GPU, not a call that would write one element.

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @not_scalar(%x: memref<8x64xf32>, %y: memref<64xf32>) {
  // expected-error @below {{'linalg.generic' op has a malformed sum (one input, a 0-d output and `square` expected)}}
  linalg.generic {indexing_maps = [#id, #col], iterator_types = ["reduction", "parallel"]} ins(%x : memref<8x64xf32>) outs(%y : memref<64xf32>) attrs = {lmc.library_call = {kernel = "sum", square = false}} {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  }
  return
}
