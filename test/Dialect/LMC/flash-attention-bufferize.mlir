// RUN: lmc-opt %s --lmc-bufferize --convert-lmc-to-runtime --split-input-file --verify-diagnostics | FileCheck %s

// Tests that lmc.flash_attention bufferizes to one call of
// lmcrt_attention_fwd_f32 on the operands' buffers and new 64-byte-aligned
// buffers for the output ([B, T, C] sizes of q) and lse ([B, heads, T]),
// with the head count and the key/value head count as i64s; and
// lmc.flash_attention_grad to one call of lmcrt_attention_bwd_f32 with three
// new [B, T, C] buffers. Both are declared once with a C interface.

// CHECK-DAG:   func.func private @lmcrt_attention_fwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_attention_bwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @attention
// CHECK:         %[[B:.+]] = memref.dim %[[Q:.+]], %c0
// CHECK:         %[[T:.+]] = memref.dim %[[Q]], %c1
// CHECK:         %[[OUT:.+]] = memref.alloc(%[[B]], %[[T]]) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         %[[LSE:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x2x?xf32>
// CHECK:         %[[H:.+]] = arith.constant 2 : i64
// CHECK:         %[[HKV:.+]] = arith.constant 2 : i64
// CHECK:         call @lmcrt_attention_fwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[H]], %[[HKV]])
// CHECK-COUNT-3: memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         call @lmcrt_attention_bwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}})
// CHECK-NOT:     call @lmcrt_attention
// CHECK:         return
func.func @attention(%q: tensor<?x?x64xf32>, %dy: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x64xf32> -> tensor<?x2x?xf32>
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %q, %q, %y, %lse, %dy heads(2) : tensor<?x?x64xf32>, tensor<?x2x?xf32>
  return %y, %dq, %dk, %dv : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Tests that grouped-query flash attention passes its key/value head count
// to the kernels and that the key and value gradients take the keys' shape
// ([B, T, kv_heads * D]).

// CHECK-LABEL: func.func @gqa
// CHECK-SAME:    (%[[Q:[^:]+]]: memref<?x?x64xf32, {{.+}}>, %[[K:[^:]+]]: memref<?x?x16xf32, {{.+}}>, %[[DY:[^:]+]]: memref<?x?x64xf32, {{.+}}>)
// CHECK:         %[[OUT:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         %[[LSE:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x4x?xf32>
// CHECK:         %[[UK:.+]] = memref.cast %[[K]]
// CHECK:         %[[H:.+]] = arith.constant 4 : i64
// CHECK-NEXT:    %[[HKV:.+]] = arith.constant 1 : i64
// CHECK-NEXT:    call @lmcrt_attention_fwd_f32(%{{.+}}, %[[UK]], %[[UK]], %{{.+}}, %{{.+}}, %[[H]], %[[HKV]])
// CHECK:         memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK-COUNT-2: memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x16xf32>
// CHECK:         %[[H2:.+]] = arith.constant 4 : i64
// CHECK-NEXT:    %[[HKV2:.+]] = arith.constant 1 : i64
// CHECK-NEXT:    call @lmcrt_attention_bwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[H2]], %[[HKV2]])
func.func @gqa(%q: tensor<?x?x64xf32>, %k: tensor<?x?x16xf32>, %dy: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %y, %lse = lmc.flash_attention %q, %k, %k heads(4) kv_heads(1) : tensor<?x?x64xf32>, tensor<?x?x16xf32> -> tensor<?x4x?xf32>
  %dq, %dk, %dv = lmc.flash_attention_grad %q, %k, %k, %y, %lse, %dy heads(4) kv_heads(1) : tensor<?x?x64xf32>, tensor<?x?x16xf32>, tensor<?x4x?xf32>
  return %y, %dq, %dk, %dv : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// Tests that float64 flash attention is an error: the runtime's kernels
// are float32 or bfloat16.

func.func @f64(%q: tensor<?x?x64xf64>) -> tensor<?x?x64xf64> {
  // expected-error @+2 {{the runtime's attention kernels take float32 or bfloat16 operands only}}
  // expected-error @+1 {{failed to bufferize op}}
  %y, %lse = lmc.flash_attention %q, %q, %q heads(2) : tensor<?x?x64xf64> -> tensor<?x2x?xf32>
  return %y : tensor<?x?x64xf64>
}
