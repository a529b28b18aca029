// RUN: lmc-opt %s --lmc-gpu-stream-functions -split-input-file | FileCheck %s
// RUN: lmc-opt %s --lmc-gpu-stream-functions --inline -split-input-file | FileCheck %s --check-prefix=INLINE

// Tests that a private host function whose ops only queue GPU work (a
// launch, a stream-ordered call, allocation, deallocation, a host check,
// pure ops) is marked stream-ordered and no_inline, and that the inliner
// then leaves its calls; a public function and a runtime declaration are
// left alone.

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @k(%x: memref<?xf32>, %y: memref<?xf32>) kernel { gpu.return }
}
func.func private @lmcrt_gpu_gemm(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32) attributes {lmc.stream_ordered}

// CHECK-LABEL: func.func private @lmcrt_gpu_gemm(
// CHECK-SAME:    attributes {lmc.stream_ordered}
// CHECK-LABEL: func.func private @m_op_0(
// CHECK-SAME:    attributes {lmc.stream_ordered, no_inline}
func.func private @m_op_0(%x: memref<?xf32>, %ok: i1) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c0_i32 = arith.constant 0 : i32
  cf.assert %ok, "a size check"
  %n = memref.dim %x, %c0 : memref<?xf32>
  %y = memref.alloc(%n) : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  gpu.launch_func @lmc_kernels::@k blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<?xf32>, %t : memref<?xf32>)
  %a = memref.cast %t : memref<?xf32> to memref<*xf32>
  %b = memref.cast %y : memref<?xf32> to memref<*xf32>
  call @lmcrt_gpu_gemm(%a, %a, %b, %c0_i32) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, i32) -> ()
  memref.dealloc %t : memref<?xf32>
  return %y : memref<?xf32>
}

// CHECK-LABEL: func.func @lmc_train_step(
// CHECK-NOT:     attributes
// CHECK:         call @m_op_0(
// INLINE-LABEL: func.func @lmc_train_step(
// INLINE:         %[[Y:.+]] = call @m_op_0(
// INLINE-NEXT:    call @m_op_0(%[[Y]],
// INLINE-NOT:     gpu.launch_func
// INLINE:         return
func.func @lmc_train_step(%x: memref<?xf32>, %ok: i1) {
  %y = call @m_op_0(%x, %ok) : (memref<?xf32>, i1) -> memref<?xf32>
  %z = call @m_op_0(%y, %ok) : (memref<?xf32>, i1) -> memref<?xf32>
  memref.dealloc %y : memref<?xf32>
  memref.dealloc %z : memref<?xf32>
  return
}
}

// -----

// Tests that a function that touches memory on the host (a load, a copy,
// an op with regions, a call of a function that is not stream-ordered) is
// not marked, and is inlined.

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @k(%x: memref<?xf32>) kernel { gpu.return }
}
func.func private @host_function(memref<?xf32>)

// CHECK-LABEL: func.func private @m_load_0(
// CHECK-NOT:     lmc.stream_ordered
// CHECK-LABEL: func.func private @m_copy_0(
// CHECK-NOT:     lmc.stream_ordered
// CHECK-LABEL: func.func private @m_if_0(
// CHECK-NOT:     lmc.stream_ordered
// CHECK-LABEL: func.func private @m_call_0(
// CHECK-NOT:     lmc.stream_ordered
// CHECK-LABEL: func.func @lmc_train_step(
func.func private @m_load_0(%x: memref<?xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch_func @lmc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<?xf32>)
  %v = memref.load %x[%c0] : memref<?xf32>
  return %v : f32
}
func.func private @m_copy_0(%x: memref<?xf32>, %y: memref<?xf32>) {
  memref.copy %x, %y : memref<?xf32> to memref<?xf32>
  return
}
func.func private @m_if_0(%x: memref<?xf32>, %p: i1) {
  %c1 = arith.constant 1 : index
  scf.if %p {
    gpu.launch_func @lmc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<?xf32>)
  }
  return
}
func.func private @m_call_0(%x: memref<?xf32>) {
  call @host_function(%x) : (memref<?xf32>) -> ()
  return
}
// INLINE-LABEL: func.func @lmc_train_step(
// INLINE-NOT:     call @m_
// INLINE:         memref.load
// INLINE:         memref.copy
// INLINE:         scf.if
// INLINE:         call @host_function(
// INLINE-NOT:     call @m_
func.func @lmc_train_step(%x: memref<?xf32>, %y: memref<?xf32>, %p: i1) -> f32 {
  %v = call @m_load_0(%x) : (memref<?xf32>) -> f32
  call @m_copy_0(%x, %y) : (memref<?xf32>, memref<?xf32>) -> ()
  call @m_if_0(%x, %p) : (memref<?xf32>, i1) -> ()
  call @m_call_0(%x) : (memref<?xf32>) -> ()
  return %v : f32
}
}

// -----

// Tests that a function is kept when the host reads a buffer it allocates
// and returns (a fresh allocation: lmc-host-shared-buffers allocates it
// shared there), and not when the buffer the host reads is a view of its
// argument; and that a caller's use is followed into a function that will
// be inlined, and back to the producer of the buffer it was given (fixed
// point: @m_view_0 is dropped because @m_read_0, which reads its result,
// is not kept).

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @k(%x: memref<f32>) kernel { gpu.return }
}

// CHECK-LABEL: func.func private @m_fresh_0(
// CHECK-SAME:    attributes {lmc.stream_ordered, no_inline}
func.func private @m_fresh_0() -> memref<f32, strided<[], offset: ?>> {
  %c1 = arith.constant 1 : index
  %s = memref.alloc() : memref<f32>
  gpu.launch_func @lmc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%s : memref<f32>)
  %cast = memref.cast %s : memref<f32> to memref<f32, strided<[], offset: ?>>
  return %cast : memref<f32, strided<[], offset: ?>>
}
// CHECK-LABEL: func.func private @m_view_0(
// CHECK-NOT:     lmc.stream_ordered
func.func private @m_view_0(%x: memref<f32>) -> memref<f32> {
  %c1 = arith.constant 1 : index
  gpu.launch_func @lmc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<f32>)
  return %x : memref<f32>
}
// CHECK-LABEL: func.func private @m_read_0(
// CHECK-NOT:     lmc.stream_ordered
func.func private @m_read_0(%x: memref<f32>) -> f32 {
  %v = memref.load %x[] : memref<f32>
  return %v : f32
}
// CHECK-LABEL: func.func @lmc_train_step(
// INLINE-LABEL: func.func @lmc_train_step(
// INLINE:         %[[S:.+]] = call @m_fresh_0()
// INLINE:         memref.load %[[S]][]
// INLINE-NOT:     call @m_view_0
// INLINE:         gpu.launch_func
// INLINE-NEXT:    memref.load
func.func @lmc_train_step(%x: memref<f32>) -> (f32, f32) {
  %s = call @m_fresh_0() : () -> memref<f32, strided<[], offset: ?>>
  %a = memref.load %s[] : memref<f32, strided<[], offset: ?>>
  memref.dealloc %s : memref<f32, strided<[], offset: ?>>
  %y = call @m_view_0(%x) : (memref<f32>) -> memref<f32>
  %b = call @m_read_0(%y) : (memref<f32>) -> f32
  return %a, %b : f32, f32
}
}
