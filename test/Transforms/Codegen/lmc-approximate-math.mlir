// RUN: lmc-opt %s --lmc-approximate-math | FileCheck %s

// Tests that float32 exp, expm1, log, log1p, tanh and erf, scalar and
// vector, become arithmetic (fma, floor, absf and arith remain; no call to a
// transcendental is left), while float64 keeps its math ops.

// CHECK-LABEL: func.func @f32
// CHECK-NOT:     math.exp
// CHECK-NOT:     math.log
// CHECK-NOT:     math.tanh
// CHECK-NOT:     math.erf
// CHECK:         math.fma
// CHECK-NOT:     math.exp
// CHECK-NOT:     math.log
// CHECK-NOT:     math.tanh
// CHECK-NOT:     math.erf
// CHECK:         return
func.func @f32(%x: f32, %v: vector<8xf32>) -> (f32, f32, f32, f32, f32, f32, vector<8xf32>) {
  %0 = math.exp %x : f32
  %1 = math.expm1 %x : f32
  %2 = math.log %x : f32
  %3 = math.log1p %x : f32
  %4 = math.tanh %x : f32
  %5 = math.erf %x : f32
  %6 = math.tanh %v : vector<8xf32>
  return %0, %1, %2, %3, %4, %5, %6 : f32, f32, f32, f32, f32, f32, vector<8xf32>
}

// CHECK-LABEL: func.func @f64
// CHECK:         math.exp %{{.+}} : f64
// CHECK:         math.tanh %{{.+}} : f64
// CHECK:         math.erf %{{.+}} : f64
func.func @f64(%x: f64) -> (f64, f64, f64) {
  %0 = math.exp %x : f64
  %1 = math.tanh %x : f64
  %2 = math.erf %x : f64
  return %0, %1, %2 : f64, f64, f64
}
