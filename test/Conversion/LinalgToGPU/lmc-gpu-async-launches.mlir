// RUN: lmc-opt %s --lmc-gpu-async-launches -split-input-file | FileCheck %s

// Tests that launches are chained on one token, that a stream-ordered call,
// allocation, deallocation and a host assert leave the chain alone, and
// that the host waits before it reads a buffer and before returning.

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @a(%x: memref<64xf32>) kernel { gpu.return }
  gpu.func @b(%x: memref<64xf32>, %s: memref<f32>) kernel { gpu.return }
}
func.func private @lmcrt_gpu_gemm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32) attributes {llvm.emit_c_interface, lmc.stream_ordered}

// CHECK-LABEL: func.func @chain
// CHECK:      %[[T0:.+]] = gpu.wait async
// CHECK-NEXT: %[[T1:.+]] = gpu.launch_func async [%[[T0]]] @lmc_kernels::@a
// CHECK-NEXT: %[[S:.+]] = memref.alloc()
// CHECK-NEXT: call @lmcrt_gpu_gemm_f32(
// CHECK-NEXT: cf.assert
// CHECK-NEXT: %[[T2:.+]] = gpu.launch_func async [%[[T1]]] @lmc_kernels::@b
// CHECK-SAME:   blocks in (%{{.+}}, %{{.+}}, %{{.+}}) threads in (%{{.+}}, %{{.+}}, %{{.+}}) args(%{{.+}} : memref<64xf32>, %[[S]] : memref<f32>)
// CHECK-NEXT: gpu.wait [%[[T2]]]
// CHECK-NEXT: %[[V:.+]] = memref.load %[[S]][]
// CHECK-NEXT: memref.dealloc %[[S]]
// CHECK-NEXT: return %[[V]]
// CHECK-NOT:  gpu.wait
func.func @chain(%x: memref<64xf32>, %u: memref<*xf32>, %ok: i1) -> f32 {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 0 : i32
  gpu.launch_func @lmc_kernels::@a blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%x : memref<64xf32>)
  %s = memref.alloc() : memref<f32>
  call @lmcrt_gpu_gemm_f32(%u, %u, %u, %f, %f) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, i32, i32) -> ()
  cf.assert %ok, "a size check"
  gpu.launch_func @lmc_kernels::@b blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>, %s : memref<f32>)
  %v = memref.load %s[] : memref<f32>
  memref.dealloc %s : memref<f32>
  return %v : f32
}
}

// -----

// Tests that a call of a function that is not stream-ordered, a store and an
// op with regions each wait for the work before them, and that the next
// launch starts a new chain.

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @a(%x: memref<64xf32>) kernel { gpu.return }
}
func.func private @host_function(memref<64xf32>)

// CHECK-LABEL: func.func @host_accesses
// CHECK:      %[[T0:.+]] = gpu.wait async
// CHECK-NEXT: %[[T1:.+]] = gpu.launch_func async [%[[T0]]]
// CHECK-NEXT: gpu.wait [%[[T1]]]
// CHECK-NEXT: call @host_function(
// CHECK-NEXT: %[[T2:.+]] = gpu.wait async
// CHECK-NEXT: %[[T3:.+]] = gpu.launch_func async [%[[T2]]]
// CHECK-NEXT: gpu.wait [%[[T3]]]
// CHECK-NEXT: memref.store
// CHECK-NEXT: %[[T4:.+]] = gpu.wait async
// CHECK-NEXT: %[[T5:.+]] = gpu.launch_func async [%[[T4]]]
// CHECK-NEXT: gpu.wait [%[[T5]]]
// CHECK-NEXT: scf.if
// CHECK:      return
func.func @host_accesses(%x: memref<64xf32>, %p: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch_func @lmc_kernels::@a blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%x : memref<64xf32>)
  call @host_function(%x) : (memref<64xf32>) -> ()
  gpu.launch_func @lmc_kernels::@a blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%x : memref<64xf32>)
  memref.store %zero, %x[%c0] : memref<64xf32>
  gpu.launch_func @lmc_kernels::@a blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%x : memref<64xf32>)
  scf.if %p {
    memref.store %zero, %x[%c1] : memref<64xf32>
  }
  return
}
}

// -----

// Tests that the squared norms read one by one are read together after the
// last kernel: each load, its deallocation and the sums computed from it move
// down to their first user, so the host waits once.

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @norm(%g: memref<64xf32>, %s: memref<f32>) kernel { gpu.return }
  gpu.func @update(%p: memref<64xf32>, %scale: f32) kernel { gpu.return }
}

// CHECK-LABEL: func.func @norms
// CHECK:      gpu.wait async
// CHECK:      gpu.launch_func async {{.+}} @lmc_kernels::@norm {{.+}} args(%arg0 : memref<64xf32>, %[[S0:[^ ]+]] : memref<f32>)
// CHECK:      gpu.launch_func async {{.+}} @lmc_kernels::@norm {{.+}} args(%arg1 : memref<64xf32>, %[[S1:[^ ]+]] : memref<f32>)
// CHECK:      %[[LAST:.+]] = gpu.launch_func async {{.+}} @lmc_kernels::@norm {{.+}} args(%arg2 : memref<64xf32>, %[[S2:[^ ]+]] : memref<f32>)
// CHECK-NEXT: gpu.wait [%[[LAST]]]
// CHECK-DAG:  %[[N0:.+]] = memref.load %[[S0]][]
// CHECK-DAG:  memref.dealloc %[[S0]] :
// CHECK-DAG:  %[[N1:.+]] = memref.load %[[S1]][]
// CHECK-DAG:  memref.dealloc %[[S1]] :
// CHECK-DAG:  %[[N2:.+]] = memref.load %[[S2]][]
// CHECK-DAG:  memref.dealloc %[[S2]] :
// CHECK:      %[[A0:.+]] = arith.addf %[[N0]], %cst
// CHECK-NEXT: %[[A1:.+]] = arith.addf %[[A0]], %[[N1]]
// CHECK-NEXT: %[[A2:.+]] = arith.addf %[[A1]], %[[N2]]
// CHECK-NEXT: %[[R:.+]] = math.sqrt %[[A2]]
// CHECK-NEXT: gpu.wait async
// CHECK-NEXT: gpu.launch_func async {{.+}} @lmc_kernels::@update {{.+}} args(%arg0 : memref<64xf32>, %[[R]] : f32)
// CHECK-NOT:  memref.load
// CHECK:      return
func.func @norms(%g0: memref<64xf32>, %g1: memref<64xf32>, %g2: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %s0 = memref.alloc() : memref<f32>
  gpu.launch_func @lmc_kernels::@norm blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%g0 : memref<64xf32>, %s0 : memref<f32>)
  %n0 = memref.load %s0[] : memref<f32>
  memref.dealloc %s0 : memref<f32>
  %a0 = arith.addf %n0, %zero : f32
  %s1 = memref.alloc() : memref<f32>
  gpu.launch_func @lmc_kernels::@norm blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%g1 : memref<64xf32>, %s1 : memref<f32>)
  %n1 = memref.load %s1[] : memref<f32>
  memref.dealloc %s1 : memref<f32>
  %a1 = arith.addf %a0, %n1 : f32
  %s2 = memref.alloc() : memref<f32>
  gpu.launch_func @lmc_kernels::@norm blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%g2 : memref<64xf32>, %s2 : memref<f32>)
  %n2 = memref.load %s2[] : memref<f32>
  memref.dealloc %s2 : memref<f32>
  %a2 = arith.addf %a1, %n2 : f32
  %r = math.sqrt %a2 : f32
  gpu.launch_func @lmc_kernels::@update blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1) args(%g0 : memref<64xf32>, %r : f32)
  return
}
}

// -----

// Tests that a read does not move past a kernel that uses its buffer through
// a view, nor does a read of a buffer the function did not allocate (a
// kernel may write an argument through another view), and that an
// asynchronous launch is left alone.

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @write(%s: memref<1xf32>) kernel { gpu.return }
  gpu.func @other(%x: memref<64xf32>) kernel { gpu.return }
}

// CHECK-LABEL: func.func @not_delayed
// CHECK:      %[[B:.+]] = memref.alloc() : memref<f32>
// CHECK:      gpu.wait [
// CHECK-NEXT: %[[W:.+]] = memref.load %arg0[
// CHECK-NEXT: %[[V:.+]] = memref.load %[[B]][]
// CHECK-NEXT: memref.expand_shape %[[B]]
// CHECK-NEXT: %[[T0:.+]] = gpu.wait async
// CHECK-NEXT: %[[T1:.+]] = gpu.launch_func async [%[[T0]]] @lmc_kernels::@write
// CHECK-NEXT: gpu.wait [%[[T1]]]
// CHECK-NEXT: gpu.launch_func async [%arg1] @lmc_kernels::@other
// CHECK-NEXT: memref.dealloc %[[B]]
// CHECK-NEXT: arith.addf %[[V]], %[[W]]
func.func @not_delayed(%x: memref<64xf32>, %t: !gpu.async.token) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = memref.alloc() : memref<f32>
  gpu.launch_func @lmc_kernels::@other blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>)
  %v = memref.load %b[] : memref<f32>
  %w = memref.load %x[%c0] : memref<64xf32>
  %view = memref.expand_shape %b [] output_shape [1] : memref<f32> into memref<1xf32>
  gpu.launch_func @lmc_kernels::@write blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%view : memref<1xf32>)
  %t2 = gpu.launch_func async [%t] @lmc_kernels::@other blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<64xf32>)
  %sum = arith.addf %v, %w : f32
  memref.dealloc %b : memref<f32>
  return %sum : f32
}
}

// -----

// Tests that a stream-ordered host function (lmc-gpu-stream-functions)
// chains its launches on a token of its own and returns without waiting;
// that its caller starts a token at the first call of it, so that the host
// waits for its kernels before it reads; and that the read of a buffer the
// function allocated and returned is delayed as a local read is (the two
// norms are read together, after one wait).

module attributes {gpu.container_module} {
gpu.module @lmc_kernels {
  gpu.func @norm(%g: memref<64xf32>, %s: memref<f32>) kernel { gpu.return }
}

// CHECK-LABEL: func.func private @m_norm_0
// CHECK:      %[[T0:.+]] = gpu.wait async
// CHECK-NEXT: %[[T1:.+]] = gpu.launch_func async [%[[T0]]] @lmc_kernels::@norm
// CHECK-NEXT: %[[T2:.+]] = gpu.launch_func async [%[[T1]]] @lmc_kernels::@norm
// CHECK-NOT:  gpu.wait
// CHECK:      return
func.func private @m_norm_0(%g: memref<64xf32>) -> memref<f32> attributes {lmc.stream_ordered, no_inline} {
  %c1 = arith.constant 1 : index
  %s = memref.alloc() : memref<f32>
  gpu.launch_func @lmc_kernels::@norm blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%g : memref<64xf32>, %s : memref<f32>)
  gpu.launch_func @lmc_kernels::@norm blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%g : memref<64xf32>, %s : memref<f32>)
  return %s : memref<f32>
}

// CHECK-LABEL: func.func @norms
// CHECK:      %[[T:.+]] = gpu.wait async
// CHECK-NEXT: %[[S0:.+]] = call @m_norm_0(%arg0)
// CHECK-NEXT: %[[S1:.+]] = call @m_norm_0(%arg1)
// CHECK-NEXT: gpu.wait [%[[T]]]
// CHECK-DAG:  memref.load %[[S0]][]
// CHECK-DAG:  memref.load %[[S1]][]
// CHECK:      arith.addf
// CHECK-NOT:  gpu.wait
// CHECK:      return
func.func @norms(%g0: memref<64xf32>, %g1: memref<64xf32>) -> f32 {
  %s0 = call @m_norm_0(%g0) : (memref<64xf32>) -> memref<f32>
  %n0 = memref.load %s0[] : memref<f32>
  memref.dealloc %s0 : memref<f32>
  %s1 = call @m_norm_0(%g1) : (memref<64xf32>) -> memref<f32>
  %n1 = memref.load %s1[] : memref<f32>
  memref.dealloc %s1 : memref<f32>
  %sum = arith.addf %n0, %n1 : f32
  return %sum : f32
}
}
