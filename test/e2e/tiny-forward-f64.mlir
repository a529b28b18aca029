// Tests that the reference lowering runs the tiny preset's forward pass in f64
// under mlir-runner (no f32 left anywhere in the lowered program) and that its
// loss equals the independent NumPy reference, computed in f64 as well, to
// within 1e-12.

// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -m lmc.testing.forward_case --preset tiny --dtype f64 --batch 2 --seq 16 --seed 0 --out-dir %t
// RUN: lmc-opt %t/model.mlir --lmc-reference-pipeline="params=%t/params.safetensors" -o %t/lowered.mlir
// RUN: not grep -q f32 %t/lowered.mlir
// RUN: mlir-runner %t/lowered.mlir -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils > %t/out.txt
// RUN: %python -m lmc.testing.check_loss --expected %t/expected.json --output %t/out.txt --rtol 1e-12 | FileCheck %s

// CHECK: loss {{.*}} expected {{.*}} rel_err
