// RUN: lmc-opt %s -split-input-file -verify-diagnostics

// Tests that a parameter of more than 2^47 bytes (a vocabulary of 2^40 rows
// of 64 f32) is refused at the parameter, before any size product can
// overflow int64 in the compiler or the runtime.

lmc.model @m {
  // expected-error @+1 {{'lmc.param' op type 'tensor<1099511627776x64xf32>' holds more than 2^47 bytes (128 TiB, what a process can address)}}
  lmc.param @wte : tensor<1099511627776x64xf32> init(zeros)
}

// -----

// Tests that sizes whose product overflows int64 are refused, not wrapped.

lmc.model @m {
  // expected-error @+1 {{holds more than 2^47 bytes}}
  lmc.param @w : tensor<4294967296x4294967296x4294967296xf32> init(zeros)
}

// -----

// Tests that the largest parameter a process can address is accepted
// (2^45 f32 = 2^47 bytes).

lmc.model @m {
  lmc.param @w : tensor<8589934592x4096xf32> init(zeros)
}
