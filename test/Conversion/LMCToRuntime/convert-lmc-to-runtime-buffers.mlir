// RUN: lmc-opt %s --convert-lmc-to-runtime -split-input-file | FileCheck %s
// RUN: lmc-opt %s --convert-lmc-to-runtime="device=gpu precision=bf16" -split-input-file | FileCheck %s --check-prefix=GPU
// RUN: lmc-opt %s --convert-lmc-to-runtime="device=gpu precision=tf32" -split-input-file | FileCheck %s --check-prefix=GPU32

// The ops on buffers that stand for runtime functions, on the CPU runtime
// and (GPU) on the GPU runtime, whose symbols come from the same table.

// Tests that the collectives on buffers become the runtime's collectives
// with the axis mask over the mesh's axes (dp 1, tp 2, both 3) and the
// dimension of a gather or scatter as an i64; that a start returns the
// handle its wait takes; that every function is declared once, those taking
// buffers with a C interface; and that on the GPU the same calls name the
// GPU runtime's functions, declared stream-ordered.

// CHECK-LABEL: module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>}
// CHECK-DAG:   func.func private @lmcrt_all_reduce_f32(memref<*xf32>, memref<*xf32>, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_all_gather_f32(memref<*xf32>, memref<*xf32>, i32, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_reduce_scatter_f32(memref<*xf32>, memref<*xf32>, i32, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_all_reduce_start_f32(memref<*xf32>, memref<*xf32>, i32) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_all_gather_start_f32(memref<*xf32>, memref<*xf32>, i32, i64) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_reduce_scatter_start_f32(memref<*xf32>, memref<*xf32>, i32, i64) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_collective_wait(i64){{$}}
// CHECK-LABEL: func.func @collectives
// CHECK-SAME:    (%[[A:.+]]: memref<8x4xf32>, %[[B:.+]]: memref<16x4xf32>, %[[C:.+]]: memref<4x4xf32>)
// CHECK:         %[[UA:.+]] = memref.cast %[[A]] : memref<8x4xf32> to memref<*xf32>
// CHECK-NEXT:    %[[DP:.+]] = arith.constant 1 : i32
// CHECK-NEXT:    call @lmcrt_all_reduce_f32(%[[UA]], %[[UA]], %[[DP]]) : (memref<*xf32>, memref<*xf32>, i32) -> ()
// CHECK-NEXT:    %[[UA1:.+]] = memref.cast %[[A]]
// CHECK-NEXT:    %[[UB:.+]] = memref.cast %[[B]]
// CHECK-NEXT:    %[[TP:.+]] = arith.constant 2 : i32
// CHECK-NEXT:    %[[D0:.+]] = arith.constant 0 : i64
// CHECK-NEXT:    call @lmcrt_all_gather_f32(%[[UA1]], %[[UB]], %[[TP]], %[[D0]]) : (memref<*xf32>, memref<*xf32>, i32, i64) -> ()
// CHECK:         %[[WORLD:.+]] = arith.constant 3 : i32
// CHECK-NEXT:    %[[D1:.+]] = arith.constant 0 : i64
// CHECK-NEXT:    call @lmcrt_reduce_scatter_f32(%{{.+}}, %{{.+}}, %[[WORLD]], %[[D1]])
// CHECK:         %[[H0:.+]] = call @lmcrt_all_reduce_start_f32(%{{.+}}, %{{.+}}, %{{.+}}) : (memref<*xf32>, memref<*xf32>, i32) -> i64
// CHECK:         %[[H1:.+]] = call @lmcrt_all_gather_start_f32(
// CHECK:         %[[H2:.+]] = call @lmcrt_reduce_scatter_start_f32(
// CHECK-NEXT:    call @lmcrt_collective_wait(%[[H0]]) : (i64) -> ()
// CHECK-NEXT:    call @lmcrt_collective_wait(%[[H2]]) : (i64) -> ()
// CHECK-NEXT:    call @lmcrt_collective_wait(%[[H1]]) : (i64) -> ()
// CHECK-NOT:     lmc.buffer
// GPU-LABEL:   module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>}
// GPU-DAG:     func.func private @lmcrt_gpu_all_reduce_f32(memref<*xf32>, memref<*xf32>, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_all_gather_f32(memref<*xf32>, memref<*xf32>, i32, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_reduce_scatter_f32(memref<*xf32>, memref<*xf32>, i32, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_all_reduce_start_f32(memref<*xf32>, memref<*xf32>, i32) -> i64 attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_all_gather_start_f32(memref<*xf32>, memref<*xf32>, i32, i64) -> i64 attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_reduce_scatter_start_f32(memref<*xf32>, memref<*xf32>, i32, i64) -> i64 attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_collective_wait(i64) attributes {lmc.stream_ordered}
// GPU-LABEL:   func.func @collectives
// GPU:           call @lmcrt_gpu_all_reduce_f32(
// GPU:           call @lmcrt_gpu_all_gather_f32(
// GPU:           call @lmcrt_gpu_reduce_scatter_f32(
// GPU:           %[[H0:.+]] = call @lmcrt_gpu_all_reduce_start_f32(
// GPU:           %[[H1:.+]] = call @lmcrt_gpu_all_gather_start_f32(
// GPU:           %[[H2:.+]] = call @lmcrt_gpu_reduce_scatter_start_f32(
// GPU-NEXT:      call @lmcrt_gpu_collective_wait(%[[H0]])
// GPU-NEXT:      call @lmcrt_gpu_collective_wait(%[[H2]])
// GPU-NEXT:      call @lmcrt_gpu_collective_wait(%[[H1]])
// GPU-NOT:       @lmcrt_all_
// GPU-NOT:       @lmcrt_collective_wait
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @collectives(%a: memref<8x4xf32>, %b: memref<16x4xf32>, %c: memref<4x4xf32>) {
    lmc.buffer_collective all_reduce %a into %a over ["dp"] : memref<8x4xf32>, memref<8x4xf32>
    lmc.buffer_collective all_gather %a into %b over ["tp"] dim 0 : memref<8x4xf32>, memref<16x4xf32>
    lmc.buffer_collective reduce_scatter %b into %c over ["dp", "tp"] dim 0 : memref<16x4xf32>, memref<4x4xf32>
    %h0 = lmc.buffer_collective_start all_reduce %c into %c over ["tp", "dp"] : memref<4x4xf32>, memref<4x4xf32>
    %h1 = lmc.buffer_collective_start all_gather %a into %b over ["tp"] dim 0 : memref<8x4xf32>, memref<16x4xf32>
    %h2 = lmc.buffer_collective_start reduce_scatter %a into %c over ["dp"] dim 0 : memref<8x4xf32>, memref<4x4xf32>
    lmc.buffer_wait %h0, %h2
    lmc.buffer_wait %h1
    return
  }
}

// -----

// Tests that sends and receives on buffers become the runtime's send and
// receive start of their element type (f32, i64), with the buffer, the axis
// mask of the group (pp 1, tp 2, both 3), the peer and the tag as i64s; that
// a receive returns the handle its lmc.buffer_wait waits for with the
// collectives' wait; and that on the GPU the same calls name the GPU
// runtime's functions, declared stream-ordered, waited with the GPU wait.

// CHECK-LABEL: module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>}
// CHECK-DAG:   func.func private @lmcrt_send_f32(memref<*xf32>, i32, i64, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_send_i64(memref<*xi64>, i32, i64, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_recv_start_f32(memref<*xf32>, i32, i64, i64) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_recv_start_i64(memref<*xi64>, i32, i64, i64) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_collective_wait(i64){{$}}
// CHECK-LABEL: func.func @point_to_point
// CHECK-SAME:    (%[[A:[^:]+]]: memref<4x8xf32, strided<[16, 1]>>, %[[B:[^:]+]]: memref<3xi64>, %[[C:[^:]+]]: memref<?x8xf32>)
// CHECK:         %[[UA:.+]] = memref.cast %[[A]] : memref<4x8xf32, strided<[16, 1]>> to memref<*xf32>
// CHECK-NEXT:    %[[PP:.+]] = arith.constant 1 : i32
// CHECK-NEXT:    %[[PEER1:.+]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[TAG2:.+]] = arith.constant 2 : i64
// CHECK-NEXT:    call @lmcrt_send_f32(%[[UA]], %[[PP]], %[[PEER1]], %[[TAG2]]) : (memref<*xf32>, i32, i64, i64) -> ()
// CHECK-NEXT:    %[[UB:.+]] = memref.cast %[[B]] : memref<3xi64> to memref<*xi64>
// CHECK-NEXT:    %[[WORLD:.+]] = arith.constant 3 : i32
// CHECK-NEXT:    %[[PEER3:.+]] = arith.constant 3 : i64
// CHECK-NEXT:    %[[TAG0:.+]] = arith.constant 0 : i64
// CHECK-NEXT:    call @lmcrt_send_i64(%[[UB]], %[[WORLD]], %[[PEER3]], %[[TAG0]]) : (memref<*xi64>, i32, i64, i64) -> ()
// CHECK-NEXT:    %[[UB1:.+]] = memref.cast %[[B]] : memref<3xi64> to memref<*xi64>
// CHECK-NEXT:    %[[PP1:.+]] = arith.constant 1 : i32
// CHECK-NEXT:    %[[PEER0:.+]] = arith.constant 0 : i64
// CHECK-NEXT:    %[[TAG5:.+]] = arith.constant 5 : i64
// CHECK-NEXT:    %[[H0:.+]] = call @lmcrt_recv_start_i64(%[[UB1]], %[[PP1]], %[[PEER0]], %[[TAG5]]) : (memref<*xi64>, i32, i64, i64) -> i64
// CHECK-NEXT:    %[[UC:.+]] = memref.cast %[[C]] : memref<?x8xf32> to memref<*xf32>
// CHECK-NEXT:    %[[TP:.+]] = arith.constant 2 : i32
// CHECK-NEXT:    %[[PEER1B:.+]] = arith.constant 1 : i64
// CHECK-NEXT:    %[[TAG7:.+]] = arith.constant 7 : i64
// CHECK-NEXT:    %[[H1:.+]] = call @lmcrt_recv_start_f32(%[[UC]], %[[TP]], %[[PEER1B]], %[[TAG7]]) : (memref<*xf32>, i32, i64, i64) -> i64
// CHECK-NEXT:    call @lmcrt_collective_wait(%[[H1]]) : (i64) -> ()
// CHECK-NEXT:    call @lmcrt_collective_wait(%[[H0]]) : (i64) -> ()
// CHECK-NEXT:    return
// GPU-LABEL:   module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>}
// GPU-DAG:     func.func private @lmcrt_gpu_send_f32(memref<*xf32>, i32, i64, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_send_i64(memref<*xi64>, i32, i64, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_recv_start_f32(memref<*xf32>, i32, i64, i64) -> i64 attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_recv_start_i64(memref<*xi64>, i32, i64, i64) -> i64 attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_collective_wait(i64) attributes {lmc.stream_ordered}
// GPU-LABEL:   func.func @point_to_point
// GPU:           call @lmcrt_gpu_send_f32(
// GPU:           call @lmcrt_gpu_send_i64(
// GPU:           %[[H0:.+]] = call @lmcrt_gpu_recv_start_i64(
// GPU:           %[[H1:.+]] = call @lmcrt_gpu_recv_start_f32(
// GPU-NEXT:      call @lmcrt_gpu_collective_wait(%[[H1]])
// GPU-NEXT:      call @lmcrt_gpu_collective_wait(%[[H0]])
// GPU-NOT:       @lmcrt_send
// GPU-NOT:       @lmcrt_recv
// GPU-NOT:       @lmcrt_collective_wait
module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @point_to_point(%a: memref<4x8xf32, strided<[16, 1]>>, %b: memref<3xi64>, %c: memref<?x8xf32>) {
    lmc.buffer_send %a to 1 over ["pp"] tag 2 : memref<4x8xf32, strided<[16, 1]>>
    lmc.buffer_send %b to 3 over ["pp", "tp"] tag 0 : memref<3xi64>
    %h0 = lmc.buffer_recv_start %b from 0 over ["pp"] tag 5 : memref<3xi64>
    %h1 = lmc.buffer_recv_start %c from 1 over ["tp"] tag 7 : memref<?x8xf32>
    lmc.buffer_wait %h1, %h0
    return
  }
}

// -----

// Tests that the attention ops on buffers become the runtime's attention
// kernels, buffers first and the numbers of heads and key/value heads last
// (i64s; without kv_heads, the number of heads); on the GPU with bf16 GEMMs
// the tensor-core kernels (_bf16, same arguments), with tf32 (GPU32) the
// float32 ones.

// CHECK-DAG:   func.func private @lmcrt_attention_fwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @lmcrt_attention_bwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @attention
// CHECK-SAME:    (%[[Q:[^:]+]]: memref<2x8x64xf32, strided<[1536, 192, 1]>>, %[[Y:[^:]+]]: memref<2x8x64xf32>, %[[L:[^:]+]]: memref<2x2x8xf32>, %[[D:[^:]+]]: memref<2x8x64xf32>, %{{[^:]+}}: memref<2x4x8xf32>, %{{[^:]+}}: memref<2x8x32xf32>)
// CHECK:         %[[UQ:.+]] = memref.cast %[[Q]] : memref<2x8x64xf32, strided<[1536, 192, 1]>> to memref<*xf32>
// CHECK-NEXT:    %[[UY:.+]] = memref.cast %[[Y]]
// CHECK-NEXT:    %[[UL:.+]] = memref.cast %[[L]]
// CHECK-NEXT:    %[[HEADS:.+]] = arith.constant 2 : i64
// CHECK-NEXT:    %[[KV:.+]] = arith.constant 2 : i64
// CHECK-NEXT:    call @lmcrt_attention_fwd_f32(%[[UQ]], %[[UQ]], %[[UQ]], %[[UY]], %[[UL]], %[[HEADS]], %[[KV]])
// CHECK:         %[[HEADS2:.+]] = arith.constant 4 : i64
// CHECK-NEXT:    %[[KV2:.+]] = arith.constant 2 : i64
// CHECK-NEXT:    call @lmcrt_attention_bwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[HEADS2]], %[[KV2]])
// GPU-DAG:     func.func private @lmcrt_gpu_attention_fwd_bf16(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_attention_bwd_bf16(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i64, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-NOT:     @lmcrt_gpu_attention_{{.*}}_f32
// GPU-LABEL:   func.func @attention
// GPU:           call @lmcrt_gpu_attention_fwd_bf16(
// GPU:           call @lmcrt_gpu_attention_bwd_bf16(
// GPU32-DAG:   func.func private @lmcrt_gpu_attention_fwd_f32({{.*}}) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU32-DAG:   func.func private @lmcrt_gpu_attention_bwd_f32({{.*}}) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU32-NOT:   _bf16
// GPU32-LABEL: func.func @attention
// GPU32:         call @lmcrt_gpu_attention_fwd_f32(
// GPU32:         call @lmcrt_gpu_attention_bwd_f32(
func.func @attention(%q: memref<2x8x64xf32, strided<[1536, 192, 1]>>, %y: memref<2x8x64xf32>, %lse: memref<2x2x8xf32>, %d: memref<2x8x64xf32>, %lse4: memref<2x4x8xf32>, %k: memref<2x8x32xf32>) {
  lmc.buffer_attention %q, %q, %q into %y, %lse heads(2) : memref<2x8x64xf32, strided<[1536, 192, 1]>>, memref<2x8x64xf32, strided<[1536, 192, 1]>>, memref<2x8x64xf32, strided<[1536, 192, 1]>>, memref<2x8x64xf32>, memref<2x2x8xf32>
  lmc.buffer_attention_grad %y, %k, %k, %y, %lse4, %y into %d, %k, %k heads(4) kv_heads(2) : memref<2x8x64xf32>, memref<2x8x32xf32>, memref<2x8x32xf32>, memref<2x8x64xf32>, memref<2x4x8xf32>, memref<2x8x64xf32>, memref<2x8x64xf32>, memref<2x8x32xf32>, memref<2x8x32xf32>
  return
}

// -----

// Tests that lmc.axis_index becomes the runtime's axis index of the axis's
// mask on the mesh (pp, the first axis: 1; tp: 2), an i64 cast to index,
// declared without a C interface; on the GPU it runs on the host: the same
// function, not stream-ordered.

// CHECK-LABEL: module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>}
// CHECK:         func.func private @lmcrt_axis_index(i32) -> i64{{$}}
// CHECK-LABEL:   func.func @coordinates
// CHECK-NEXT:      %[[ONE:.+]] = arith.constant 1 : i32
// CHECK-NEXT:      %[[PP:.+]] = call @lmcrt_axis_index(%[[ONE]]) : (i32) -> i64
// CHECK-NEXT:      %[[PPI:.+]] = arith.index_cast %[[PP]] : i64 to index
// CHECK-NEXT:      %[[TWO:.+]] = arith.constant 2 : i32
// CHECK-NEXT:      %[[TP:.+]] = call @lmcrt_axis_index(%[[TWO]]) : (i32) -> i64
// CHECK-NEXT:      %[[TPI:.+]] = arith.index_cast %[[TP]] : i64 to index
// CHECK-NEXT:      return %[[PPI]], %[[TPI]]
// GPU:           func.func private @lmcrt_axis_index(i32) -> i64{{$}}
// GPU-LABEL:     func.func @coordinates
// GPU:             call @lmcrt_axis_index(
module attributes {lmc.mesh = #lmc.mesh<pp = 2, tp = 2>} {
  func.func @coordinates() -> (index, index) {
    %pp = lmc.axis_index "pp"
    %tp = lmc.axis_index "tp"
    return %pp, %tp : index, index
  }
}

// -----

// Tests that on the GPU the GEMMs take the precision argument of the option
// and the GPU runtime's GEMM functions from the table (bf16: 2), and the
// embedding gradient its GPU scatter-add: after a zero fill (erased) the
// zeroing one, over a table that holds other values (no fill, or a fill of
// another value, which stays) the accumulating one.

// GPU-DAG:     func.func private @lmcrt_gpu_gemm(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_gemm_bias(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32, i32, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_embedding_grad_f32(memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-DAG:     func.func private @lmcrt_gpu_embedding_grad_acc_f32(memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// GPU-LABEL:   func.func @kernels
// GPU:           %[[BF16:.+]] = arith.constant 2 : i32
// GPU-NEXT:      call @lmcrt_gpu_gemm(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[BF16]])
// GPU:           %[[EP:.+]] = arith.constant 1 : i32
// GPU-NEXT:      %[[BF16B:.+]] = arith.constant 2 : i32
// GPU-NEXT:      call @lmcrt_gpu_gemm_bias(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[EP]], %[[BF16B]])
// GPU-NOT:       linalg.fill
// GPU:           call @lmcrt_gpu_embedding_grad_f32(
// GPU-NOT:       linalg.fill
// GPU:           call @lmcrt_gpu_embedding_grad_acc_f32(
// GPU:           linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : memref<8x4xf32>)
// GPU:           call @lmcrt_gpu_embedding_grad_acc_f32(
// GPU-NOT:       linalg.generic
// CHECK-LABEL: func.func @kernels
// CHECK:         call @lmcrt_gemm(
// CHECK:         call @lmcrt_gemm_bias(
// CHECK:         call @lmcrt_embedding_grad_f32(
// CHECK:         call @lmcrt_embedding_grad_acc_f32(
// CHECK:         linalg.fill
// CHECK:         call @lmcrt_embedding_grad_acc_f32(
#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#n = affine_map<(m, n, k) -> (n)>
#btc = affine_map<(b, t, v, c) -> (b, t, c)>
#bt = affine_map<(b, t, v, c) -> (b, t)>
#vc = affine_map<(b, t, v, c) -> (v, c)>
func.func @kernels(%a: memref<4x4xf32>, %b: memref<4x4xf32>, %bias: memref<4xf32>, %c: memref<4x4xf32>, %aux: memref<4x4xf32>,
                   %dy: memref<2x3x4xf32>, %ids: memref<2x3xi32>, %dw: memref<8x4xf32>) {
  linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"], lmc.library_call = {kernel = "gemm", transpose_a = false, transpose_b = false}} ins(%a, %b : memref<4x4xf32>, memref<4x4xf32>) outs(%c : memref<4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#mk, #kn, #n, #mn, #mn], iterator_types = ["parallel", "parallel", "reduction"], lmc.library_call = {kernel = "gemm", epilogue = "bias_gelu_tanh", transpose_a = false, transpose_b = false}} ins(%a, %b, %bias : memref<4x4xf32>, memref<4x4xf32>, memref<4xf32>) outs(%c, %aux : memref<4x4xf32>, memref<4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %z: f32, %acc: f32, %pre: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s, %s : f32, f32
  }
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%dw : memref<8x4xf32>)
  linalg.generic {indexing_maps = [#btc, #bt, #vc], iterator_types = ["parallel", "parallel", "reduction", "parallel"], lmc.library_call = {kernel = "embedding_grad"}} ins(%dy, %ids : memref<2x3x4xf32>, memref<2x3xi32>) outs(%dw : memref<8x4xf32>) {
  ^bb0(%g: f32, %id: i32, %acc: f32):
    linalg.yield %acc : f32
  }
  linalg.generic {indexing_maps = [#btc, #bt, #vc], iterator_types = ["parallel", "parallel", "reduction", "parallel"], lmc.library_call = {kernel = "embedding_grad"}} ins(%dy, %ids : memref<2x3x4xf32>, memref<2x3xi32>) outs(%dw : memref<8x4xf32>) {
  ^bb0(%g: f32, %id: i32, %acc: f32):
    linalg.yield %acc : f32
  }
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%dw : memref<8x4xf32>)
  linalg.generic {indexing_maps = [#btc, #bt, #vc], iterator_types = ["parallel", "parallel", "reduction", "parallel"], lmc.library_call = {kernel = "embedding_grad"}} ins(%dy, %ids : memref<2x3x4xf32>, memref<2x3xi32>) outs(%dw : memref<8x4xf32>) {
  ^bb0(%g: f32, %id: i32, %acc: f32):
    linalg.yield %acc : f32
  }
  return
}

// -----

// Tests that a generic marked as a sum to a scalar (lmc-fuse-kernel-loops
// {runtime-sums}) becomes on the GPU one call of the runtime's sum with its
// input, its 0-d output and `square`, that the zero fill of the output
// before it goes (the call overwrites it), and so does a copy of a shared
// zero into it; that a float64 sum stays a generic; and that on the CPU,
// whose runtime has no sum, the generics stay loops, their fills kept.

#sum3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#sum2 = affine_map<(d0, d1) -> (d0, d1)>
#scalar3 = affine_map<(d0, d1, d2) -> ()>
#scalar2 = affine_map<(d0, d1) -> ()>
func.func @sums(%g: memref<64x192xf32, strided<[?, ?], offset: ?>>, %p: memref<4x8x16xf32>, %d: memref<4x8xf64>) -> (memref<f32>, memref<f32>, memref<f64>) {
  %zero = arith.constant 0.0 : f32
  %zero64 = arith.constant 0.0 : f64
  %norm = memref.alloc() : memref<f32>
  linalg.fill ins(%zero : f32) outs(%norm : memref<f32>)
  linalg.generic {indexing_maps = [#sum2, #scalar2], iterator_types = ["reduction", "reduction"]} ins(%g : memref<64x192xf32, strided<[?, ?], offset: ?>>) outs(%norm : memref<f32>) attrs = {lmc.library_call = {kernel = "sum", square = true}} {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %sq, %out : f32
    linalg.yield %s : f32
  }
  %shared = memref.alloc() : memref<f32>
  linalg.fill ins(%zero : f32) outs(%shared : memref<f32>)
  %total = memref.alloc() : memref<f32>
  memref.copy %shared, %total : memref<f32> to memref<f32>
  memref.dealloc %shared : memref<f32>
  linalg.generic {indexing_maps = [#sum3, #scalar3], iterator_types = ["reduction", "reduction", "reduction"]} ins(%p : memref<4x8x16xf32>) outs(%total : memref<f32>) attrs = {lmc.library_call = {kernel = "sum", square = false}} {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  }
  %wide = memref.alloc() : memref<f64>
  linalg.fill ins(%zero64 : f64) outs(%wide : memref<f64>)
  linalg.generic {indexing_maps = [#sum2, #scalar2], iterator_types = ["reduction", "reduction"]} ins(%d : memref<4x8xf64>) outs(%wide : memref<f64>) attrs = {lmc.library_call = {kernel = "sum", square = false}} {
  ^bb0(%in: f64, %out: f64):
    %s = arith.addf %out, %in : f64
    linalg.yield %s : f64
  }
  return %norm, %total, %wide : memref<f32>, memref<f32>, memref<f64>
}

// CHECK-LABEL: func.func @sums(
// CHECK-NOT:     call @lmcrt
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.+}} attrs =  {lmc.library_call = {kernel = "sum", square = true}}
// CHECK:         memref.copy
// CHECK:         linalg.generic {{.+}} attrs =  {lmc.library_call = {kernel = "sum", square = false}}
// CHECK-NOT:     call @lmcrt

// GPU-LABEL: func.func @sums(
// GPU:         %[[NORM:.+]] = memref.alloc() : memref<f32>
// GPU-NOT:     linalg.fill ins(%{{.+}} : f32) outs(%[[NORM]]
// GPU:         %[[G:.+]] = memref.cast %arg0 : memref<64x192xf32, strided<[?, ?], offset: ?>> to memref<*xf32>
// GPU:         %[[N:.+]] = memref.cast %[[NORM]] : memref<f32> to memref<*xf32>
// GPU:         %[[SQ:.+]] = arith.constant 1 : i32
// GPU:         call @lmcrt_gpu_sum_f32(%[[G]], %[[N]], %[[SQ]]) : (memref<*xf32>, memref<*xf32>, i32) -> ()
// GPU:         %[[SHARED:.+]] = memref.alloc() : memref<f32>
// GPU-NEXT:    linalg.fill ins(%{{.+}} : f32) outs(%[[SHARED]] : memref<f32>)
// GPU-NEXT:    %[[TOTAL:.+]] = memref.alloc() : memref<f32>
// GPU-NEXT:    memref.dealloc %[[SHARED]]
// GPU:         %[[P:.+]] = memref.cast %arg1 : memref<4x8x16xf32> to memref<*xf32>
// GPU:         %[[T:.+]] = memref.cast %[[TOTAL]] : memref<f32> to memref<*xf32>
// GPU:         %[[ID:.+]] = arith.constant 0 : i32
// GPU:         call @lmcrt_gpu_sum_f32(%[[P]], %[[T]], %[[ID]])
// GPU:         linalg.fill ins(%{{.+}} : f64)
// GPU:         linalg.generic {{.+}} ins(%arg2 : memref<4x8xf64>)
// GPU:         return
