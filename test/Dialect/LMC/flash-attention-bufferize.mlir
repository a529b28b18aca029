// RUN: lmc-opt %s --lmc-bufferize --convert-lmc-to-runtime --split-input-file --verify-diagnostics | FileCheck %s

// Tests that lmc.flash_attention bufferizes to one call of
// lmcrt_attention_fwd_f32 on the operands' buffers and new 64-byte-aligned
// buffers for the output ([B, T, C] sizes of q) and lse ([B, heads, T]),
// with the head count as an i64; and lmc.flash_attention_grad to one call
// of lmcrt_attention_bwd_f32 with three new [B, T, C] buffers. Both are
// declared once with a C interface.

// CHECK-DAG:   func.func private @lmcrt_attention_fwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_attention_bwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @attention
// CHECK:         %[[B:.+]] = memref.dim %[[Q:.+]], %c0
// CHECK:         %[[T:.+]] = memref.dim %[[Q]], %c1
// CHECK:         %[[OUT:.+]] = memref.alloc(%[[B]], %[[T]]) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         %[[LSE:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x2x?xf32>
// CHECK:         %[[H:.+]] = arith.constant 2 : i64
// CHECK:         call @lmcrt_attention_fwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[H]])
// CHECK-COUNT-3: memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         call @lmcrt_attention_bwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}})
// CHECK-NOT:     call @lmcrt_attention
// CHECK:         return
func.func @attention(%q: tensor<?x?x64xf32>, %dy: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x64xf32> -> tensor<?x2x?xf32>
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %q, %q, %y, %lse, %dy heads(2) : tensor<?x?x64xf32>, tensor<?x2x?xf32>
  return %y, %dq, %dk, %dv : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that float64 flash attention is an error: the runtime's kernels are
// float32.

func.func @f64(%q: tensor<?x?x64xf64>) -> tensor<?x?x64xf64> {
  // expected-error @+2 {{the runtime's attention kernels take float32 operands only}}
  // expected-error @+1 {{failed to bufferize op}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x64xf64> -> tensor<?x2x?xf32>
  return %y : tensor<?x?x64xf64>
}
