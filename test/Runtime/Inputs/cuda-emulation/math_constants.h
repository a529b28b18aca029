// Stands in for the CUDA toolkit's math_constants.h when
// test/Runtime/AttentionKernelsEmulationTest.cpp compiles the attention
// kernels for the host.
#ifndef LMC_TEST_CUDA_EMULATION_MATH_CONSTANTS_H
#define LMC_TEST_CUDA_EMULATION_MATH_CONSTANTS_H
#include <cmath>
#define CUDART_INF_F INFINITY
#endif
