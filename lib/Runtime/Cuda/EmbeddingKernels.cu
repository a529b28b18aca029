//===- EmbeddingKernels.cu - The embedding gradient as a scatter-add ------===//
//
// The GPU kernels behind lmcrt_gpu_embedding_grad_f32, with the semantics of
// the CPU's lmcrt_embedding_grad_f32 (lib/Runtime/Kernels/Kernels.cpp): the
// table gradient [V, C] is zeroed, then for every position n of the [B, T] ids,
// grad[n, :] is added to row ids[n] - offset of the table gradient; ids
// outside [offset, offset + V) are skipped.
//
// Work split: one warp per row (zero) or per position (scatter), its lanes
// striding over the channels, so that a warp's loads of the output gradient
// and its stores and atomics into a table row touch consecutive addresses.
// The scatter adds with atomicAdd, reading each element of the output
// gradient once (B T C reads and atomics) instead of the dense loop over the
// table (V C threads, each reading all B T ids). Positions with the same id
// add into the same row in the order the hardware serves the atomics, which
// varies from run to run: the float32 sums, and so the trained weights, are
// not bitwise reproducible on the GPU, unlike the CPU's sequential loop. A
// deterministic form (sort the positions by id, then one sequential sum per
// row and channel) would cost a sort of the B T ids and scratch memory per
// call, and the sums of frequent ids would run long in one thread each.
//
// Strides are in elements, any values (the ids and the output gradient are
// read through their strides, the table through its own). The kernels are
// compiled by nvcc into a fatbin (sm_80, sm_90 and PTX) that the GPU runtime
// embeds and loads through the driver API (Embedding.cpp).
//
//===----------------------------------------------------------------------===//

namespace {

constexpr int kWarp = 32;

/// Strides of the [B, T, C] output gradient.
struct GradStrides {
  long long batch, time, channel;
};

/// Strides of the [B, T] ids.
struct IdStrides {
  long long batch, time;
};

/// Strides of the [V, C] table gradient.
struct TableStrides {
  long long row, channel;
};

} // namespace

/// table[v, :] = 0 for v < V; one warp per row.
extern "C" __global__ void __launch_bounds__(256)
    lmc_embedding_grad_zero(float *table, TableStrides ts, long long V, int C) {
  const int warps = blockDim.x / kWarp, lane = threadIdx.x % kWarp;
  const long long v = (long long)blockIdx.x * warps + threadIdx.x / kWarp;
  if (v >= V)
    return;
  float *row = table + v * ts.row;
  for (int c = lane; c < C; c += kWarp)
    row[c * ts.channel] = 0.0f;
}

/// table[ids[n] - offset, :] += grad[n, :] for the N = B T positions n whose
/// id is in [offset, offset + V); one warp per position.
extern "C" __global__ void __launch_bounds__(256)
    lmc_embedding_grad_scatter(const float *grad, GradStrides gs,
                               const int *ids, IdStrides is, float *table,
                               TableStrides ts, long long T, long long N,
                               long long V, int C, long long offset) {
  const int warps = blockDim.x / kWarp, lane = threadIdx.x % kWarp;
  const long long n = (long long)blockIdx.x * warps + threadIdx.x / kWarp;
  if (n >= N)
    return;
  const long long b = n / T, t = n % T;
  const long long id = ids[b * is.batch + t * is.time] - offset;
  if (id < 0 || id >= V)
    return;
  const float *g = grad + b * gs.batch + t * gs.time;
  float *row = table + id * ts.row;
  for (int c = lane; c < C; c += kWarp)
    atomicAdd(&row[c * ts.channel], g[c * gs.channel]);
}
