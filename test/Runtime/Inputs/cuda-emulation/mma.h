// Stands in for the CUDA toolkit's mma.h when a test compiles the runtime's
// kernels for the host: nvcuda::wmma is emulated in
// test/Runtime/CudaEmulation.h, which the test includes first.
#ifndef LMC_TEST_CUDA_EMULATION_MMA_H
#define LMC_TEST_CUDA_EMULATION_MMA_H
#endif
