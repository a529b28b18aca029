// RUN: lmc-opt %s --lmc-host-shared-buffers -split-input-file | FileCheck %s

// Tests that a buffer the host loads (directly or through a view), stores
// or copies on the host becomes a host-shared gpu.alloc with its sizes,
// that a buffer only kernels use stays a memref.alloc (device memory), that
// deallocations stay, and that the kernels' own allocations are untouched.

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @k(%x: memref<64xf32>, %s: memref<f32>) kernel {
    %a = memref.alloca() : memref<4xf32>
    gpu.return
  }
}
memref.global "private" constant @desc : memref<4xi8> = dense<[1, 2, 3, 4]>

// CHECK-LABEL: func.func @step
// CHECK:      %[[D:.+]] = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
// CHECK-NEXT: %[[S:.+]] = gpu.alloc  host_shared () : memref<f32>
// CHECK-NEXT: %[[P:.+]] = gpu.alloc  host_shared (%{{.+}}) : memref<?x2xf32>
// CHECK-NEXT: %[[W:.+]] = gpu.alloc  host_shared () : memref<f32>
// CHECK:      gpu.launch_func @lmc_kernels::@k {{.*}} args(%[[D]] : memref<64xf32>, %[[S]] : memref<f32>)
// CHECK:      memref.load %[[S]][]
// CHECK:      %[[V:.+]] = memref.subview %[[P]]
// CHECK:      memref.load %[[V]]
// CHECK:      memref.store %{{.+}}, %[[W]][]
// CHECK:      memref.dealloc %[[S]]
// CHECK:      memref.dealloc %[[D]]
func.func @step(%n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
  %s = memref.alloc() {alignment = 64 : i64} : memref<f32>
  %p = memref.alloc(%n) : memref<?x2xf32>
  %w = memref.alloc() : memref<f32>
  gpu.launch_func @lmc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%d : memref<64xf32>, %s : memref<f32>)
  %0 = memref.load %s[] : memref<f32>
  %v = memref.subview %p[0, 1] [1, 1] [1, 1] : memref<?x2xf32> to memref<f32, strided<[], offset: 1>>
  %1 = memref.load %v[] : memref<f32, strided<[], offset: 1>>
  %2 = arith.addf %0, %1 : f32
  memref.store %2, %w[] : memref<f32>
  memref.dealloc %s : memref<f32>
  memref.dealloc %d : memref<64xf32>
  return %2 : f32
}

// CHECK-LABEL: func.func @model_info
// CHECK:      %[[G:.+]] = memref.get_global @desc
// CHECK-NEXT: %[[A:.+]] = gpu.alloc  host_shared () : memref<4xi8>
// CHECK-NEXT: memref.copy %[[G]], %[[A]]
func.func @model_info() -> memref<4xi8> {
  %g = memref.get_global @desc : memref<4xi8>
  %a = memref.alloc() {alignment = 64 : i64} : memref<4xi8>
  memref.copy %g, %a : memref<4xi8> to memref<4xi8>
  return %a : memref<4xi8>
}
}

// -----

// Tests that a buffer a stream-ordered host function allocates and returns,
// and its caller loads, becomes host-shared in that function; a returned
// buffer no caller reads stays device memory.

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @k(%s: memref<f32>) kernel { gpu.return }
}

// CHECK-LABEL: func.func private @m_norm_0
// CHECK:      %[[S:.+]] = gpu.alloc  host_shared () : memref<f32>
// CHECK:      %[[D:.+]] = memref.alloc() : memref<f32>
// CHECK:      return %{{.+}}, %[[D]]
func.func private @m_norm_0() -> (memref<f32, strided<[], offset: ?>>, memref<f32>) attributes {lmc.stream_ordered, no_inline} {
  %c1 = arith.constant 1 : index
  %s = memref.alloc() : memref<f32>
  %d = memref.alloc() : memref<f32>
  gpu.launch_func @lmc_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%s : memref<f32>)
  %cast = memref.cast %s : memref<f32> to memref<f32, strided<[], offset: ?>>
  return %cast, %d : memref<f32, strided<[], offset: ?>>, memref<f32>
}

// CHECK-LABEL: func.func @step
// CHECK:      %[[R:.+]]:2 = call @m_norm_0()
// CHECK:      memref.load %[[R]]#0[]
func.func @step() -> f32 {
  %r:2 = call @m_norm_0() : () -> (memref<f32, strided<[], offset: ?>>, memref<f32>)
  %v = memref.load %r#0[] : memref<f32, strided<[], offset: ?>>
  memref.dealloc %r#0 : memref<f32, strided<[], offset: ?>>
  memref.dealloc %r#1 : memref<f32>
  return %v : f32
}
}
