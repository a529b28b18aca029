// Stands in for the CUDA toolkit's cuda_bf16.h when a test compiles the
// runtime's kernels for the host: __nv_bfloat16 and its conversions are
// emulated in test/Runtime/CudaEmulation.h, which the test includes first.
#ifndef LMC_TEST_CUDA_EMULATION_CUDA_BF16_H
#define LMC_TEST_CUDA_EMULATION_CUDA_BF16_H
#endif
