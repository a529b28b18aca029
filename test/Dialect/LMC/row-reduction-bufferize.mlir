// RUN: lmc-opt %s --lmc-bufferize --convert-lmc-to-runtime=device=gpu --split-input-file --verify-diagnostics | FileCheck %s

// Tests that the float32 norms, softmaxes and cross-entropies (int32 targets) that
// convert-lmc-to-linalg{runtime-row-reductions} leaves on tensors bufferize
// to lmc.buffer_row_reduction on the operands' buffers and new 64-byte
// aligned buffers for the results (the input's dynamic sizes; [C] for the
// parameter gradients, 0-d for the loss), which convert-lmc-to-runtime
// makes calls of the GPU runtime's row kernels: eps as an f64, the
// cross-entropy's classes (or V without the attribute) as an i64; every
// function declared once, stream-ordered, with a C interface.

// CHECK-DAG:   func.func private @lmcrt_gpu_layer_norm_fwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, f64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG:   func.func private @lmcrt_gpu_layer_norm_bwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, f64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG:   func.func private @lmcrt_gpu_rms_norm_fwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, f64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG:   func.func private @lmcrt_gpu_rms_norm_bwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xf32>, f64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-LABEL: func.func @norms
// CHECK:         %[[B:.+]] = memref.dim %[[X:.+]], %c0
// CHECK:         %[[T:.+]] = memref.dim %[[X]], %c1
// CHECK:         %[[Y:.+]] = memref.alloc(%[[B]], %[[T]]) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         %[[EPS:.+]] = arith.constant 1.000000e-05 : f64
// CHECK:         call @lmcrt_gpu_layer_norm_fwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[EPS]])
// CHECK:         memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xf32>
// CHECK:         memref.alloc() {alignment = 64 : i64} : memref<64xf32>
// CHECK:         memref.alloc() {alignment = 64 : i64} : memref<64xf32>
// CHECK:         call @lmcrt_gpu_layer_norm_bwd_f32(
// CHECK:         %[[EPS2:.+]] = arith.constant 9.9999999999999995E-7 : f64
// CHECK:         call @lmcrt_gpu_rms_norm_fwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %[[EPS2]])
// CHECK:         call @lmcrt_gpu_rms_norm_bwd_f32(
// CHECK-NOT:     lmc.
// CHECK:         return
func.func @norms(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %b: tensor<64xf32>, %dy: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>) {
  %y = lmc.layer_norm %x, %w, %b eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  %dx, %dw, %db = lmc.layer_norm_grad %x, %w, %dy eps(1.000000e-05) : tensor<?x?x64xf32>, tensor<64xf32>
  %r = lmc.rms_norm %x, %w eps(1.000000e-06) : tensor<?x?x64xf32>, tensor<64xf32>
  %rdx, %rdw = lmc.rms_norm_grad %x, %w, %dy eps(1.000000e-06) : tensor<?x?x64xf32>, tensor<64xf32>
  return %y, %dx, %dw, %db, %r, %rdx, %rdw : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>
}

// -----

// Tests the cross-entropy: a 0-d loss buffer, the padded vocabulary's
// classes (250 of 256 columns) or the whole vocabulary, and a constant loss
// gradient (a host global) copied into a buffer first.

// CHECK-DAG:   func.func private @lmcrt_gpu_cross_entropy_fwd_f32(memref<*xf32>, memref<*xi32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG:   func.func private @lmcrt_gpu_cross_entropy_bwd_f32(memref<*xf32>, memref<*xi32>, memref<*xf32>, memref<*xf32>, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-LABEL: func.func @cross_entropy
// CHECK:         %[[LOSS:.+]] = memref.alloc() {alignment = 64 : i64} : memref<f32>
// CHECK:         %[[C250:.+]] = arith.constant 250 : i64
// CHECK:         call @lmcrt_gpu_cross_entropy_fwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %[[C250]])
// CHECK:         %[[SEED:.+]] = memref.get_global
// CHECK:         %[[DL:.+]] = memref.alloc() {alignment = 64 : i64} : memref<f32>
// CHECK:         memref.copy %[[SEED]], %[[DL]]
// CHECK:         %[[C256:.+]] = arith.constant 256 : i64
// CHECK:         call @lmcrt_gpu_cross_entropy_bwd_f32(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[C256]])
// CHECK:         return
func.func @cross_entropy(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>) -> (tensor<f32>, tensor<?x?x256xf32>) {
  %loss = lmc.cross_entropy %l, %t classes(250) : tensor<?x?x256xf32>, tensor<?x?xi32>
  %one = arith.constant dense<1.000000e+00> : tensor<f32>
  %dl = lmc.cross_entropy_grad %l, %t, %one : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32>
  return %loss, %dl : tensor<f32>, tensor<?x?x256xf32>
}

// -----

// Tests the norms' outputs stored as bfloat16 (lmc-bf16-storage): bfloat16
// buffers of the input's dynamic sizes and the runtime's bfloat16 forms of
// the kernels.

// CHECK-DAG:   func.func private @lmcrt_gpu_layer_norm_fwd_bf16(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<*xbf16>, f64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG:   func.func private @lmcrt_gpu_rms_norm_fwd_bf16(memref<*xf32>, memref<*xf32>, memref<*xbf16>, f64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-LABEL: func.func @norms_bf16
// CHECK:         %[[Y:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xbf16>
// CHECK:         call @lmcrt_gpu_layer_norm_fwd_bf16(
// CHECK:         %[[Z:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x64xbf16>
// CHECK:         call @lmcrt_gpu_rms_norm_fwd_bf16(
// CHECK-NOT:     _fwd_f32
func.func @norms_bf16(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>) {
  %0 = lmc.layer_norm %x, %w, %w eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
  %1 = lmc.rms_norm %x, %w eps(1.0e-5) : tensor<?x?x64xf32>, tensor<64xf32> -> tensor<?x?x64xbf16>
  return %0, %1 : tensor<?x?x64xbf16>, tensor<?x?x64xbf16>
}

// -----

// Tests the cross-entropy's gradient stored as bfloat16 (lmc-bf16-storage):
// a bfloat16 buffer of the logits' dynamic sizes and the runtime's
// bfloat16 form of the kernel.

// CHECK-DAG:   func.func private @lmcrt_gpu_cross_entropy_bwd_bf16(memref<*xf32>, memref<*xi32>, memref<*xf32>, memref<*xbf16>, i64) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-LABEL: func.func @cross_entropy_grad_bf16
// CHECK:         %[[D:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x256xbf16>
// CHECK:         %[[UD:.+]] = memref.cast %[[D]] : memref<?x?x256xbf16> to memref<*xbf16>
// CHECK:         call @lmcrt_gpu_cross_entropy_bwd_bf16(%{{.+}}, %{{.+}}, %{{.+}}, %[[UD]], %{{.+}})
// CHECK-NOT:     lmcrt_gpu_cross_entropy_bwd_f32
func.func @cross_entropy_grad_bf16(%l: tensor<?x?x256xf32>, %t: tensor<?x?xi32>, %g: tensor<f32>) -> tensor<?x?x256xbf16> {
  %dl = lmc.cross_entropy_grad %l, %t, %g : tensor<?x?x256xf32>, tensor<?x?xi32>, tensor<f32> -> tensor<?x?x256xbf16>
  return %dl : tensor<?x?x256xbf16>
}

// -----

// Tests the softmax and its gradient (decomposed attention's probabilities,
// [B, H, T, T]): buffers only, no eps or classes, the results of the input's
// dynamic sizes.

// CHECK-DAG:   func.func private @lmcrt_gpu_softmax_fwd_f32(memref<*xf32>, memref<*xf32>) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-DAG:   func.func private @lmcrt_gpu_softmax_bwd_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>) attributes {llvm.emit_c_interface, lmc.stream_ordered}
// CHECK-LABEL: func.func @softmax
// CHECK:         %[[Y:.+]] = memref.alloc(%{{.+}}, %{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x4x?x?xf32>
// CHECK:         %[[UY:.+]] = memref.cast %[[Y]] : memref<?x4x?x?xf32> to memref<*xf32>
// CHECK:         call @lmcrt_gpu_softmax_fwd_f32(%{{.+}}, %[[UY]]) : (memref<*xf32>, memref<*xf32>) -> ()
// CHECK:         %[[DX:.+]] = memref.alloc(%{{.+}}, %{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x4x?x?xf32>
// CHECK:         %[[UY2:.+]] = memref.cast %[[Y]] : memref<?x4x?x?xf32> to memref<*xf32>
// CHECK:         %[[UDX:.+]] = memref.cast %[[DX]]
// CHECK:         call @lmcrt_gpu_softmax_bwd_f32(%[[UY2]], %{{.+}}, %[[UDX]]) : (memref<*xf32>, memref<*xf32>, memref<*xf32>) -> ()
// CHECK:         return
func.func @softmax(%s: tensor<?x4x?x?xf32>, %dp: tensor<?x4x?x?xf32>) -> (tensor<?x4x?x?xf32>, tensor<?x4x?x?xf32>) {
  %p = lmc.softmax %s : tensor<?x4x?x?xf32>
  %ds = lmc.softmax_grad %p, %dp : tensor<?x4x?x?xf32>
  return %p, %ds : tensor<?x4x?x?xf32>, tensor<?x4x?x?xf32>
}

// -----

// Tests that a norm the runtime has no kernel for (float64) has no buffer
// form: convert-lmc-to-linalg lowers it to loops.

func.func @f64(%x: tensor<?x64xf64>, %w: tensor<64xf64>, %b: tensor<64xf64>) -> tensor<?x64xf64> {
  // expected-error @below {{has no buffer form}}
  // expected-error @below {{failed to bufferize op}}
  %y = lmc.layer_norm %x, %w, %b eps(1.000000e-05) : tensor<?x64xf64>, tensor<64xf64>
  return %y : tensor<?x64xf64>
}
