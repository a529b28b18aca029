//===- AttentionShapes.h - Float32 attention blocks -------------*- C++ -*-===//
//
// The block shapes of the float32 kernels of AttentionKernels.cu, shared by
// the kernels (compiled by nvcc, or as host C++ by the emulation test) and by
// Attention.cpp, which launches them: rowsPerBlock(D) rows a block (their
// shared tiles hold 2048 values each), each row handled by lanesPerRow(D)
// adjacent lanes of a warp that own every lanesPerRow(D)-th channel, so that
// no thread keeps more than 32 channels of a row in registers.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_CUDA_ATTENTIONSHAPES_H
#define LMC_LIB_RUNTIME_CUDA_ATTENTIONSHAPES_H

namespace lmc_attention_f32 {

/// Rows (queries, or keys for the dK/dV kernel) per block for head size d.
constexpr int rowsPerBlock(int d) { return 2048 / d; }

/// Lanes per row: 1 up to D 32, D / 32 above (2 at D 64, 4 at D 128).
constexpr int lanesPerRow(int d) { return d > 32 ? d / 32 : 1; }

/// Threads per block: 64 for D 64 and 128, 2048 / D below.
constexpr int threadsPerBlock(int d) {
  return rowsPerBlock(d) * lanesPerRow(d);
}

} // namespace lmc_attention_f32

#endif // LMC_LIB_RUNTIME_CUDA_ATTENTIONSHAPES_H
