// RUN: lmc-opt %s -split-input-file | lmc-opt -split-input-file | FileCheck %s

// Tests that the collectives on buffers parse and print: blocking and
// started forms, with and without dim, and their wait.

// CHECK-LABEL: func.func @collectives
// CHECK:         lmc.buffer_collective all_reduce %{{.+}} into %{{.+}} over ["dp"] : memref<8xf32>, memref<8xf32>
// CHECK:         lmc.buffer_collective all_gather %{{.+}} into %{{.+}} over ["dp", "tp"] dim 0 : memref<2x?xf32, strided<[?, 1]>>, memref<8x?xf32>
// CHECK:         %[[H:.+]] = lmc.buffer_collective_start reduce_scatter %{{.+}} into %{{.+}} over ["tp"] dim 0 : memref<8xf32>, memref<4xf32>
// CHECK:         lmc.buffer_wait %[[H]]
module attributes {lmc.mesh = #lmc.mesh<dp = 2, tp = 2>} {
  func.func @collectives(%a: memref<8xf32>, %b: memref<2x?xf32, strided<[?, 1]>>, %c: memref<8x?xf32>, %d: memref<4xf32>) {
    lmc.buffer_collective all_reduce %a into %a over ["dp"] : memref<8xf32>, memref<8xf32>
    lmc.buffer_collective all_gather %b into %c over ["dp", "tp"] dim 0 : memref<2x?xf32, strided<[?, 1]>>, memref<8x?xf32>
    %h = lmc.buffer_collective_start reduce_scatter %a into %d over ["tp"] dim 0 : memref<8xf32>, memref<4xf32>
    lmc.buffer_wait %h
    return
  }
}

// -----

// Tests that a collective started on the caller's buffers may return its
// handle, and that a wait may take a handle the function received (the
// start and finish of lmc_dp_average).

// CHECK-LABEL: func.func @start
// CHECK:         %[[S:.+]] = lmc.buffer_collective_start all_reduce %[[A:.+]] into %[[A]] over ["dp"] : memref<8xf32>, memref<8xf32>
// CHECK-NEXT:    return %[[S]] : i64
// CHECK-LABEL: func.func @finish
// CHECK-SAME:    (%[[ARG:.+]]: i64)
// CHECK-NEXT:    lmc.buffer_wait %[[ARG]]
module attributes {lmc.mesh = #lmc.mesh<dp = 2>} {
  func.func @start(%a: memref<8xf32>) -> i64 {
    %h = lmc.buffer_collective_start all_reduce %a into %a over ["dp"] : memref<8xf32>, memref<8xf32>
    return %h : i64
  }
  func.func @finish(%h: i64) {
    lmc.buffer_wait %h
    return
  }
}

// -----

// Tests that the attention kernels on buffers parse and print.

// CHECK-LABEL: func.func @attention
// CHECK:         lmc.buffer_attention %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}}, %{{.+}} heads(2) : memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x2x?xf32>
// CHECK:         lmc.buffer_attention_grad %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}}, %{{.+}}, %{{.+}} heads(2)
func.func @attention(%x: memref<?x?x64xf32>, %lse: memref<?x2x?xf32>) {
  lmc.buffer_attention %x, %x, %x into %x, %lse heads(2) : memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x2x?xf32>
  lmc.buffer_attention_grad %x, %x, %x, %x, %lse, %x into %x, %x, %x heads(2) : memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x2x?xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>
  return
}

// Tests that the grouped-query forms (kv_heads, keys and values of
// kv_heads * D channels) parse and print.

// CHECK-LABEL: func.func @gqa_attention
// CHECK:         lmc.buffer_attention %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}}, %{{.+}} heads(4) kv_heads(2) : memref<?x?x64xf32>, memref<?x?x32xf32>, memref<?x?x32xf32>, memref<?x?x64xf32>, memref<?x4x?xf32>
// CHECK:         lmc.buffer_attention_grad %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}}, %{{.+}}, %{{.+}} heads(4) kv_heads(2) : memref<?x?x64xf32>, memref<?x?x32xf32>, memref<?x?x32xf32>, memref<?x?x64xf32>, memref<?x4x?xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x32xf32>, memref<?x?x32xf32>
func.func @gqa_attention(%x: memref<?x?x64xf32>, %k: memref<?x?x32xf32>, %lse: memref<?x4x?xf32>) {
  lmc.buffer_attention %x, %k, %k into %x, %lse heads(4) kv_heads(2) : memref<?x?x64xf32>, memref<?x?x32xf32>, memref<?x?x32xf32>, memref<?x?x64xf32>, memref<?x4x?xf32>
  lmc.buffer_attention_grad %x, %k, %k, %x, %lse, %x into %x, %k, %k heads(4) kv_heads(2) : memref<?x?x64xf32>, memref<?x?x32xf32>, memref<?x?x32xf32>, memref<?x?x64xf32>, memref<?x4x?xf32>, memref<?x?x64xf32>, memref<?x?x64xf32>, memref<?x?x32xf32>, memref<?x?x32xf32>
  return
}

// -----

// Tests that the row reductions on buffers (the GPU runtime's row kernels)
// parse and print, with eps for a norm and classes for a cross-entropy.

// CHECK-LABEL: func.func @row_reductions
// CHECK:         lmc.buffer_row_reduction "layer_norm_grad"(%{{.+}}, %{{.+}}, %{{.+}}) into(%{{.+}}, %{{.+}}, %{{.+}}) {eps = 1.000000e-05 : f64} : memref<?x?x64xf32>, memref<64xf32>, memref<?x?x64xf32> -> memref<?x?x64xf32>, memref<64xf32>, memref<64xf32>
// CHECK:         lmc.buffer_row_reduction "cross_entropy"(%{{.+}}, %{{.+}}) into(%{{.+}}) {classes = 250 : i64} : memref<?x?x256xf32>, memref<?x?xi32> -> memref<f32>
func.func @row_reductions(%x: memref<?x?x64xf32>, %w: memref<64xf32>, %l: memref<?x?x256xf32>, %t: memref<?x?xi32>, %loss: memref<f32>) {
  lmc.buffer_row_reduction "layer_norm_grad" (%x, %w, %x) into (%x, %w, %w) {eps = 1.0e-05 : f64} : memref<?x?x64xf32>, memref<64xf32>, memref<?x?x64xf32> -> memref<?x?x64xf32>, memref<64xf32>, memref<64xf32>
  lmc.buffer_row_reduction "cross_entropy" (%l, %t) into (%loss) {classes = 250 : i64} : memref<?x?x256xf32>, memref<?x?xi32> -> memref<f32>
  return
}

// -----

// Tests that the LM head's chunked loss on buffers parses and prints.

// CHECK-LABEL: func.func @head_loss
// CHECK:         lmc.buffer_head_loss %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} into %{{.+}}, %{{.+}}, %{{.+}} transpose_b classes(250) rows(64) : memref<?x?x64xf32>, memref<256x64xf32>, memref<?x?xi32>, memref<f32>, memref<f32>, memref<?x?x64xf32>, memref<256x64xf32>
func.func @head_loss(%x: memref<?x?x64xf32>, %w: memref<256x64xf32>, %t: memref<?x?xi32>, %s: memref<f32>) {
  lmc.buffer_head_loss %x, %w, %t, %s into %s, %x, %w transpose_b classes(250) rows(64) : memref<?x?x64xf32>, memref<256x64xf32>, memref<?x?xi32>, memref<f32>, memref<f32>, memref<?x?x64xf32>, memref<256x64xf32>
  return
}
