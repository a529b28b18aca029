// RUN: lmc-opt %s --lmc-linalg-to-gpu -split-input-file -verify-diagnostics
// RUN: not lmc-opt %s --lmc-linalg-to-gpu="block-size=2048" -split-input-file 2>&1 | FileCheck %s --check-prefix=BLOCK

// Tests that a block size the hardware does not have is an error.
// BLOCK: error: lmc-linalg-to-gpu: block-size must be 1 to 1024, not 2048

// Tests that a linalg op on tensors is an error that says to bufferize
// first.

func.func @tensors(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  // expected-error @below {{lmc-linalg-to-gpu: expected buffers, run bufferization first}}
  %y = linalg.copy ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
