//===- AttentionTensorCoreShapes.h - Tensor-core attention blocks -*- C++ -*-=//
//
// The block shapes of the kernels of AttentionTensorCoreKernels.cu, shared
// by the kernels (compiled by nvcc, or as host C++ by the emulation test) and
// by Attention.cpp, which launches them: a warp (32 threads) per 16 rows.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_ATTENTIONTENSORCORESHAPES_H
#define LMC_LIB_RUNTIME_CUDA_ATTENTIONTENSORCORESHAPES_H

namespace lmc_attention_tc {

/// Warps per block of the forward and dQ kernels: 64 queries a block.
constexpr int kQueryWarps = 4;

/// Warps per block of the dK/dV kernel for head size d: 64 keys a block at
/// D 64, 32 at D 128 (its dK and dV accumulators take twice the registers).
constexpr int keyWarps(int d) { return d == 64 ? 4 : 2; }

} // namespace lmc_attention_tc

#endif // LMC_LIB_RUNTIME_CUDA_ATTENTIONTENSORCORESHAPES_H
