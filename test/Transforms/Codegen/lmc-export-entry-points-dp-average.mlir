// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2,tp=2 dp-sync=local" --lmc-export-entry-points | FileCheck %s
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=4" --lmc-export-entry-points | FileCheck %s --check-prefix=DP4
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=tp=2" --lmc-export-entry-points | FileCheck %s --check-prefix=NONE
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2,tp=2 dp-sync=local" --lmc-export-entry-points \
// RUN:   | %python -c "import re, sys; m = re.search(r'dense<\"0x([0-9A-F]+)\"> : tensor<[0-9]+xi8>', sys.stdin.read()); print(bytes.fromhex(m.group(1)).decode(), end='')" \
// RUN:   | FileCheck %s --check-prefix=INFO
// RUN: lmc-opt %s --lmc-autodiff=attention=decomposed --lmc-optimizer --lmc-shard="mesh=dp=2" --lmc-export-entry-points \
// RUN:   | %python -c "import re, sys; m = re.search(r'dense<\"0x([0-9A-F]+)\"> : tensor<[0-9]+xi8>', sys.stdin.read()); print(bytes.fromhex(m.group(1)).decode(), end='')" \
// RUN:   | FileCheck %s --check-prefix=INFO-ALLREDUCE

// Tests the averages over the replicas on dp=2 x tp=2: three exported
// functions over a flat buffer of this rank's parameters (the local pieces:
// 8x8 + 8x16 + 16x8 + 8x8 = 384 floats). lmc_dp_average all-reduces the
// buffer in place over the batch axes (dp), then scales it by 1/2 in place
// (read as a restrict, writable tensor and written back); _start starts the
// all-reduce and returns its handle; _finish waits for a handle it receives
// and scales.

// CHECK-LABEL: func.func @lmc_dp_average(
// CHECK-SAME:      %[[B:.+]]: memref<384xf32>) attributes {llvm.emit_c_interface} {
// CHECK-NEXT:    lmc.buffer_collective all_reduce %[[B]] into %[[B]] over ["dp"] : memref<384xf32>, memref<384xf32>
// CHECK-NEXT:    %[[T:.+]] = bufferization.to_tensor %[[B]] restrict writable : memref<384xf32> to tensor<384xf32>
// CHECK-NEXT:    %[[M:.+]] = lmc.scale %[[T]] by 5.000000e-01 : tensor<384xf32>
// CHECK-NEXT:    bufferization.materialize_in_destination %[[M]] in restrict writable %[[B]]
// CHECK-NEXT:    return
// CHECK-LABEL: func.func @lmc_dp_average_start(
// CHECK-SAME:      %[[S:.+]]: memref<384xf32>) -> i64 attributes {llvm.emit_c_interface} {
// CHECK-NEXT:    %[[H:.+]] = lmc.buffer_collective_start all_reduce %[[S]] into %[[S]] over ["dp"] : memref<384xf32>, memref<384xf32>
// CHECK-NEXT:    return %[[H]] : i64
// CHECK-LABEL: func.func @lmc_dp_average_finish(
// CHECK-SAME:      %[[FH:.+]]: i64, %[[F:.+]]: memref<384xf32>) attributes {llvm.emit_c_interface} {
// CHECK-NEXT:    lmc.buffer_wait %[[FH]]
// CHECK-NEXT:    %[[FT:.+]] = bufferization.to_tensor %[[F]] restrict writable : memref<384xf32> to tensor<384xf32>
// CHECK-NEXT:    %[[FM:.+]] = lmc.scale %[[FT]] by 5.000000e-01 : tensor<384xf32>
// CHECK-NEXT:    bufferization.materialize_in_destination %[[FM]] in restrict writable %[[F]]
// CHECK-NEXT:    return

// Tests that the default mode has them too, over the whole model per rank
// (16x8 + 8x32 + 32x8 + 16x8 = 768 floats) and scaled by 1/4 on dp=4.

// DP4-LABEL: func.func @lmc_dp_average(
// DP4:         lmc.buffer_collective all_reduce %{{.+}} over ["dp"] : memref<768xf32>, memref<768xf32>
// DP4:         lmc.scale %{{.+}} by 2.500000e-01 : tensor<768xf32>
// DP4-LABEL: func.func @lmc_dp_average_start(
// DP4-LABEL: func.func @lmc_dp_average_finish(
// DP4:         lmc.scale %{{.+}} by 2.500000e-01 : tensor<768xf32>

// Tests that a mesh whose batch axes are one rank (tp only) has none.

// NONE-NOT: @lmc_dp_average

// Tests that the model description says the mode after the batch axes
// under local, and nothing under allreduce.

// INFO:      mesh dp=2,tp=2
// INFO-NEXT: batch dp
// INFO-NEXT: dp_sync local
// INFO-NEXT: params 4 384
// INFO-ALLREDUCE:      batch dp
// INFO-ALLREDUCE-NEXT: params 4 768

// An MLP between a vocabulary-parallel embedding and an untied LM head.
lmc.model @mlp {
  lmc.param @wte : tensor<16x8xf32> init(normal, std = 2.000000e-02)
  lmc.param @fc : tensor<8x32xf32> init(normal, std = 2.000000e-02)
  lmc.param @proj : tensor<32x8xf32> init(normal, std = 2.000000e-02)
  lmc.param @head : tensor<16x8xf32> init(normal, std = 2.000000e-02)
  func.func @forward(%tokens: tensor<?x?xi32>, %targets: tensor<?x?xi32>) -> tensor<f32> {
    %wte = lmc.param_ref @wte : tensor<16x8xf32>
    %x = lmc.embedding %wte[%tokens] : tensor<16x8xf32>, tensor<?x?xi32>
    %fc = lmc.param_ref @fc : tensor<8x32xf32>
    %h = lmc.matmul %x, %fc : tensor<?x?x8xf32>, tensor<8x32xf32>
    %a = lmc.gelu %h tanh : tensor<?x?x32xf32>
    %proj = lmc.param_ref @proj : tensor<32x8xf32>
    %o = lmc.matmul %a, %proj : tensor<?x?x32xf32>, tensor<32x8xf32>
    %y = lmc.add %x, %o : tensor<?x?x8xf32>
    %head = lmc.param_ref @head : tensor<16x8xf32>
    %logits = lmc.matmul %y, %head transpose_b : tensor<?x?x8xf32>, tensor<16x8xf32>
    %loss = lmc.cross_entropy %logits, %targets : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %loss : tensor<f32>
  }
}
