// Tests that the reference lowering runs the tiny preset's forward pass under
// mlir-runner and that its loss equals the independent NumPy reference, with
// libm and with the polynomial approximations of lmc-approximate-math.

// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -m lmc.testing.forward_case --preset tiny --dtype f32 --batch 2 --seq 16 --seed 0 --out-dir %t
// RUN: lmc-opt %t/model.mlir --lmc-reference-pipeline="params=%t/params.safetensors" -o %t/lowered.mlir
// RUN: mlir-runner %t/lowered.mlir -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils > %t/out.txt
// RUN: %python -m lmc.testing.check_loss --expected %t/expected.json --output %t/out.txt --rtol 1e-5 | FileCheck %s
// RUN: lmc-opt %t/model.mlir --lmc-reference-pipeline="params=%t/params.safetensors approximate-math" -o %t/approx.mlir
// RUN: mlir-runner %t/approx.mlir -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils > %t/approx.txt
// RUN: %python -m lmc.testing.check_loss --expected %t/expected.json --output %t/approx.txt --rtol 1e-5 | FileCheck %s

// CHECK: loss {{.*}} expected {{.*}} rel_err
