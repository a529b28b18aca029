//===- Attention.cpp - Causal attention without the T x T matrix ----------===//
//
// lmcrt_gpu_attention_fwd_f32 / _bwd_f32: the GPU side of lmc.flash_attention
// and its gradient (the CPU side is lib/Runtime/Kernels/Attention.cpp, with the
// same C ABI). The kernels are AttentionKernels.cu, compiled by nvcc into a
// fatbin that CMake embeds (lmcrtAttentionFatbin); the module is loaded at the
// first call and its functions are looked up per head size D (16, 32, 64 or
// 128). Everything runs in order on the compute stream.
//
// lmcrt_gpu_attention_fwd_bf16 / _bwd_bf16, what a program compiled with
// `--precision bf16` calls, take the same arguments: for D 64 and 128 they
// launch the tensor-core kernels of AttentionTensorCoreKernels.cu (bf16
// products, float32 activations, softmax and accumulators; a module of its
// own, lmcrtAttentionTensorCoreFatbin), for the other head sizes the float32
// kernels. The backward pass's delta is the float32 module's kernel either
// way.
//
// lmcrt_gpu_attention_fwd_bf16_in / _bf16_in_out and _bwd_bf16_in /
// _bf16_in_out (lmc-bf16-storage, also `--precision bf16` only) take the same
// arguments with q, k, v (and the backward pass's out and dout) stored as
// bfloat16, and with _in_out the results out, dq, dk and dv too (lse and the
// delta scratch stay float32). They launch the same kernels' bfloat16
// instantiations, which read and write bfloat16 themselves (no conversion
// passes): lmc_attention_tc_<kernel>_d<D>_bf16in / _bf16io for D 64 and 128,
// lmc_attention_<kernel>_d<D>_bf16in / _bf16io for D 16 and 32, and
// lmc_attention_delta_bf16in. Their memrefs' offsets and strides count
// bfloat16 elements.
//
//===----------------------------------------------------------------------===//

#include "Cuda/AttentionShapes.h"
#include "Cuda/AttentionTensorCoreShapes.h"
#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/StepGraph.h"

#include "Comm/Collectives.h"
#include "Core/MemrefView.h"

#include "lmc/Runtime/lmcrt.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>

extern "C" const unsigned char lmcrtAttentionFatbin[];
extern "C" const size_t lmcrtAttentionFatbinSize;
extern "C" const unsigned char lmcrtAttentionTensorCoreFatbin[];

using namespace lmcrt;
using namespace lmcrt::cuda;

namespace {

/// A float32 operand; bfloat16 ones are MemrefView<uint16_t> (their 16
/// bits).
using View = MemrefView<float>;

/// Strides of a [B, T, C] operand, as the kernels take them.
struct Rows {
  long long batch, time;
};
/// Strides of a [B, H, T] operand.
struct Stats {
  long long batch, head;
};

class AttentionKernels {
public:
  static AttentionKernels &get() {
    static AttentionKernels kernels;
    return kernels;
  }

  /// The kernel `name` of the float32 module, or with `tensorCores` of the
  /// tensor-core module.
  CUfunction function(const std::string &name, bool tensorCores = false) {
    CUmodule &module = tensorCores ? tensorCoreModule : floatModule;
    if (!module)
      check(driver().cuModuleLoadData(
                &module, tensorCores ? lmcrtAttentionTensorCoreFatbin
                                     : lmcrtAttentionFatbin),
            tensorCores ? "cuModuleLoadData (tensor-core attention kernels)"
                        : "cuModuleLoadData (attention kernels)");
    auto it = functions.find(name);
    if (it != functions.end())
      return it->second;
    CUfunction f = nullptr;
    check(driver().cuModuleGetFunction(&f, module, name.c_str()),
          "cuModuleGetFunction(" + name + ")");
    return functions[name] = f;
  }

  /// A device buffer of at least `bytes` for the row statistics of the
  /// backward pass, reused across calls.
  float *scratch(size_t bytes) {
    if (bytes > scratchBytes) {
      if (scratchBuffer) {
        check(driver().cuStreamSynchronize(computeStream()),
              "cuStreamSynchronize (attention scratch)");
        check(driver().cuMemFree(scratchBuffer), "cuMemFree (attention)");
      }
      check(driver().cuMemAlloc(&scratchBuffer, bytes),
            "cuMemAlloc(" + std::to_string(bytes) + " bytes, attention)");
      scratchBytes = bytes;
    }
    return reinterpret_cast<float *>(scratchBuffer);
  }

private:
  CUmodule floatModule = nullptr, tensorCoreModule = nullptr;
  /// By name: the two modules' kernel names differ.
  std::map<std::string, CUfunction> functions;
  CUdeviceptr scratchBuffer = 0;
  size_t scratchBytes = 0;
};

/// The shape of one call: B, T, C, heads, D, and the key/value heads.
struct Shape {
  int64_t b, t, c, heads, d, kvHeads;
  /// Query heads per key/value head.
  int64_t group() const { return heads / kvHeads; }
};

template <typename T>
Shape checkRows(const char *what, const MemrefView<T> &v, int64_t heads,
                int64_t kvHeads) {
  if (v.rank() != 3)
    comm::fatal(std::string(what) + ": expected a [B, T, C] operand, got " +
                v.shapeString());
  Shape s{v.size(0), v.size(1), v.size(2), heads, 0, kvHeads};
  if (heads <= 0 || s.c % heads != 0)
    comm::fatal(std::string(what) + ": " + std::to_string(heads) +
                " heads do not divide C = " + std::to_string(s.c));
  if (kvHeads <= 0 || heads % kvHeads != 0)
    comm::fatal(std::string(what) + ": " + std::to_string(kvHeads) +
                " key/value heads do not divide " + std::to_string(heads) +
                " heads");
  s.d = s.c / heads;
  if (s.d != 16 && s.d != 32 && s.d != 64 && s.d != 128)
    comm::fatal(std::string(what) + ": head size " + std::to_string(s.d) +
                " has no GPU kernel (16, 32, 64 or 128)");
  return s;
}

/// The strides of `v`, a [B, T, C] operand (the queries' channels, or with
/// `keys` the key/value channels kv_heads * D).
template <typename T>
Rows rows(const char *what, const MemrefView<T> &v, const Shape &s,
          bool keys = false) {
  const int64_t c = keys ? s.kvHeads * s.d : s.c;
  if (v.rank() != 3 || v.size(0) != s.b || v.size(1) != s.t || v.size(2) != c)
    comm::fatal(std::string(what) + ": operand " + v.shapeString() +
                " is not [" + std::to_string(s.b) + ", " + std::to_string(s.t) +
                ", " + std::to_string(c) + "]");
  if (v.stride(2) != 1 && c > 1)
    comm::fatal(std::string(what) + ": channels must be contiguous (strides " +
                std::to_string(v.stride(0)) + ", " +
                std::to_string(v.stride(1)) + ", " +
                std::to_string(v.stride(2)) + ")");
  return {v.stride(0), v.stride(1)};
}

Stats stats(const char *what, const View &v, const Shape &s) {
  if (v.rank() != 3 || v.size(0) != s.b || v.size(1) != s.heads ||
      v.size(2) != s.t)
    comm::fatal(std::string(what) + ": lse " + v.shapeString() + " is not [" +
                std::to_string(s.b) + ", " + std::to_string(s.heads) + ", " +
                std::to_string(s.t) + "]");
  if (v.stride(2) != 1 && s.t > 1)
    comm::fatal(std::string(what) + ": lse must be contiguous along T");
  return {v.stride(0), v.stride(1)};
}

/// Rows and threads per block of the float32 kernels for head size d.
unsigned tile(int64_t d) {
  return static_cast<unsigned>(
      lmc_attention_f32::rowsPerBlock(static_cast<int>(d)));
}
unsigned tileThreads(int64_t d) {
  return static_cast<unsigned>(
      lmc_attention_f32::threadsPerBlock(static_cast<int>(d)));
}

/// Whether the bf16 entry points take the tensor-core kernels for head size
/// d (the others keep the float32 kernels).
bool tensorCoreHeadSize(int64_t d) { return d == 64 || d == 128; }

/// Queries per block of the tensor-core forward and dQ kernels, and keys
/// per block of their dK/dV kernel (a warp per 16 rows).
constexpr unsigned kTensorCoreQueryRows = 16 * lmc_attention_tc::kQueryWarps;
unsigned tensorCoreKeyRows(int64_t d) {
  return 16 * lmc_attention_tc::keyWarps(static_cast<int>(d));
}

void launch(const std::string &name, unsigned gridX, unsigned gridY,
            unsigned block, void **args, bool tensorCores = false) {
  CUfunction f = AttentionKernels::get().function(name, tensorCores);
  profile::mark(KernelClass::Attention);
  check(driver().cuLaunchKernel(f, gridX, gridY, 1, block, 1, 1, 0,
                                computeStream(), args, nullptr),
        "cuLaunchKernel(" + name + ")");
}

/// The suffix of the kernels' names for their element types: `In` of q, k,
/// v (and out and dout when they are inputs), `Out` of out, dq, dk and dv;
/// float, or uint16_t for bfloat16.
template <typename In, typename Out> std::string typeSuffix() {
  static_assert(std::is_same_v<In, float> || std::is_same_v<In, uint16_t>);
  static_assert(std::is_same_v<Out, float> || std::is_same_v<Out, uint16_t>);
  static_assert(!std::is_same_v<In, float> || std::is_same_v<Out, float>,
                "no kernel reads float32 and writes bfloat16");
  if (std::is_same_v<In, float>)
    return "";
  return std::is_same_v<Out, float> ? "_bf16in" : "_bf16io";
}

/// The forward pass; `bf16`: on tensor cores where the head size allows
/// (always set when In or Out is bfloat16: there are bfloat16 kernels only
/// for what a `--precision bf16` program launches).
template <typename In, typename Out>
void forward(const char *what, lmcrt_unranked_memref *q,
             lmcrt_unranked_memref *k, lmcrt_unranked_memref *v,
             lmcrt_unranked_memref *out, lmcrt_unranked_memref *lse,
             int64_t heads, int64_t kv_heads, bool bf16) {
  requireReady(what);
  MemrefView<In> Q(q), K(k), V(v);
  MemrefView<Out> O(out);
  View L(lse);
  Shape s = checkRows(what, Q, heads, kv_heads);
  if (s.b == 0 || s.t == 0)
    return;
  Rows qs = rows(what, Q, s), ks = rows(what, K, s, true),
       vs = rows(what, V, s, true), os = rows(what, O, s);
  Stats ls = stats(what, L, s);
  int t = static_cast<int>(s.t), h = static_cast<int>(heads),
      g = static_cast<int>(s.group());
  float scale = 1.0f / std::sqrt(static_cast<float>(s.d));
  void *args[] = {&Q.data, &qs,     &K.data, &ks, &V.data, &vs, &O.data,
                  &os,     &L.data, &ls,     &t,  &h,      &g,  &scale};
  const std::string suffix = "_d" + std::to_string(s.d) + typeSuffix<In, Out>();
  const unsigned gridY = static_cast<unsigned>(s.b * heads);
  if (bf16 && tensorCoreHeadSize(s.d)) {
    const unsigned rowsPerBlock = kTensorCoreQueryRows;
    launch("lmc_attention_tc_fwd" + suffix,
           static_cast<unsigned>((s.t + rowsPerBlock - 1) / rowsPerBlock),
           gridY, 2 * kTensorCoreQueryRows, args, /*tensorCores=*/true);
    return;
  }
  const unsigned rowsPerBlock = tile(s.d);
  launch("lmc_attention_fwd" + suffix,
         static_cast<unsigned>((s.t + rowsPerBlock - 1) / rowsPerBlock), gridY,
         tileThreads(s.d), args);
}

/// The backward pass; `bf16`: on tensor cores where the head size allows
/// (always set when In or Out is bfloat16, as for the forward pass).
template <typename In, typename Out>
void backward(const char *what, lmcrt_unranked_memref *q,
              lmcrt_unranked_memref *k, lmcrt_unranked_memref *v,
              lmcrt_unranked_memref *out, lmcrt_unranked_memref *lse,
              lmcrt_unranked_memref *dout, lmcrt_unranked_memref *dq,
              lmcrt_unranked_memref *dk, lmcrt_unranked_memref *dv,
              int64_t heads, int64_t kv_heads, bool bf16) {
  requireReady(what);
  MemrefView<In> Q(q), K(k), V(v), O(out), G(dout);
  MemrefView<Out> DQ(dq), DK(dk), DV(dv);
  View L(lse);
  Shape s = checkRows(what, Q, heads, kv_heads);
  if (s.b == 0 || s.t == 0)
    return;
  Rows qs = rows(what, Q, s), ks = rows(what, K, s, true),
       vs = rows(what, V, s, true), os = rows(what, O, s),
       gs = rows(what, G, s), dqs = rows(what, DQ, s),
       dks = rows(what, DK, s, true), dvs = rows(what, DV, s, true);
  Stats ls = stats(what, L, s);
  // delta[b, h, i] = dO_i . O_i, packed [B, H, T].
  float *delta = AttentionKernels::get().scratch(
      sizeof(float) * static_cast<size_t>(s.b * heads * s.t));
  Stats ts{heads * s.t, s.t};
  int t = static_cast<int>(s.t), h = static_cast<int>(heads),
      d = static_cast<int>(s.d), g = static_cast<int>(s.group());
  float scale = 1.0f / std::sqrt(static_cast<float>(s.d));
  const unsigned gridY = static_cast<unsigned>(s.b * heads);
  {
    void *args[] = {&O.data, &os, &G.data, &gs, &delta, &ts, &t, &h, &d};
    launch(std::is_same_v<In, float> ? "lmc_attention_delta"
                                     : "lmc_attention_delta_bf16in",
           static_cast<unsigned>((s.t + 127) / 128), gridY, 128, args);
  }
  const std::string suffix = "_d" + std::to_string(s.d) + typeSuffix<In, Out>();
  const bool tensorCores = bf16 && tensorCoreHeadSize(s.d);
  auto blocks = [&](unsigned rows) {
    return static_cast<unsigned>((s.t + rows - 1) / rows);
  };
  if (tensorCores) {
    const unsigned keyRows = tensorCoreKeyRows(s.d);
    {
      // One block per (batch, key/value head, key tile), a warp per 16 keys
      // summing over the query heads of the group.
      void *args[] = {&Q.data, &qs,     &K.data,  &ks,     &V.data,
                      &vs,     &G.data, &gs,      &L.data, &ls,
                      &delta,  &ts,     &DK.data, &dks,    &DV.data,
                      &dvs,    &t,      &h,       &g,      &scale};
      launch("lmc_attention_tc_dkdv" + suffix, blocks(keyRows),
             static_cast<unsigned>(s.b * kv_heads), 2 * keyRows, args,
             /*tensorCores=*/true);
    }
    void *args[] = {&Q.data,  &qs,  &K.data, &ks, &V.data, &vs,
                    &G.data,  &gs,  &L.data, &ls, &delta,  &ts,
                    &DQ.data, &dqs, &t,      &h,  &g,      &scale};
    launch("lmc_attention_tc_dq" + suffix, blocks(kTensorCoreQueryRows), gridY,
           2 * kTensorCoreQueryRows, args, /*tensorCores=*/true);
    return;
  }
  const unsigned rowsPerBlock = tile(s.d);
  const unsigned gridX = blocks(rowsPerBlock);
  {
    // One block per (batch, key/value head, key tile): each thread sums its
    // key row's gradients over the query heads of the group.
    void *args[] = {&Q.data, &qs,     &K.data,  &ks,     &V.data,
                    &vs,     &G.data, &gs,      &L.data, &ls,
                    &delta,  &ts,     &DK.data, &dks,    &DV.data,
                    &dvs,    &t,      &h,       &g,      &scale};
    launch("lmc_attention_dkdv" + suffix, gridX,
           static_cast<unsigned>(s.b * kv_heads), tileThreads(s.d), args);
  }
  {
    void *args[] = {&Q.data,  &qs,  &K.data, &ks, &V.data, &vs,
                    &G.data,  &gs,  &L.data, &ls, &delta,  &ts,
                    &DQ.data, &dqs, &t,      &h,  &g,      &scale};
    launch("lmc_attention_dq" + suffix, gridX, gridY, tileThreads(s.d), args);
  }
}

} // namespace

extern "C" void _mlir_ciface_lmcrt_gpu_attention_fwd_f32(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads) {
  step_graph::Gate gate("gpu_attention_fwd_f32", q, k, v, out, lse, heads,
                        kv_heads);
  if (gate.skip())
    return;
  forward<float, float>("gpu_attention_fwd", q, k, v, out, lse, heads, kv_heads,
                        /*bf16=*/false);
}

extern "C" void _mlir_ciface_lmcrt_gpu_attention_bwd_f32(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads) {
  step_graph::Gate gate("gpu_attention_bwd_f32", q, k, v, out, lse, dout, dq,
                        dk, dv, heads, kv_heads);
  if (gate.skip())
    return;
  backward<float, float>("gpu_attention_bwd", q, k, v, out, lse, dout, dq, dk,
                         dv, heads, kv_heads, /*bf16=*/false);
}

extern "C" void _mlir_ciface_lmcrt_gpu_attention_fwd_bf16(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads) {
  step_graph::Gate gate("gpu_attention_fwd_bf16", q, k, v, out, lse, heads,
                        kv_heads);
  if (gate.skip())
    return;
  forward<float, float>("gpu_attention_fwd_bf16", q, k, v, out, lse, heads,
                        kv_heads, /*bf16=*/true);
}

extern "C" void _mlir_ciface_lmcrt_gpu_attention_bwd_bf16(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads) {
  step_graph::Gate gate("gpu_attention_bwd_bf16", q, k, v, out, lse, dout, dq,
                        dk, dv, heads, kv_heads);
  if (gate.skip())
    return;
  backward<float, float>("gpu_attention_bwd_bf16", q, k, v, out, lse, dout, dq,
                         dk, dv, heads, kv_heads, /*bf16=*/true);
}

extern "C" void _mlir_ciface_lmcrt_gpu_attention_fwd_bf16_in(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads) {
  step_graph::Gate gate("gpu_attention_fwd_bf16_in", q, k, v, out, lse, heads,
                        kv_heads);
  if (gate.skip())
    return;
  forward<uint16_t, float>("gpu_attention_fwd_bf16_in", q, k, v, out, lse,
                           heads, kv_heads, /*bf16=*/true);
}

extern "C" void _mlir_ciface_lmcrt_gpu_attention_fwd_bf16_in_out(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, int64_t heads, int64_t kv_heads) {
  step_graph::Gate gate("gpu_attention_fwd_bf16_in_out", q, k, v, out, lse,
                        heads, kv_heads);
  if (gate.skip())
    return;
  forward<uint16_t, uint16_t>("gpu_attention_fwd_bf16_in_out", q, k, v, out,
                              lse, heads, kv_heads, /*bf16=*/true);
}

extern "C" void _mlir_ciface_lmcrt_gpu_attention_bwd_bf16_in(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads) {
  step_graph::Gate gate("gpu_attention_bwd_bf16_in", q, k, v, out, lse, dout,
                        dq, dk, dv, heads, kv_heads);
  if (gate.skip())
    return;
  backward<uint16_t, float>("gpu_attention_bwd_bf16_in", q, k, v, out, lse,
                            dout, dq, dk, dv, heads, kv_heads, /*bf16=*/true);
}

extern "C" void _mlir_ciface_lmcrt_gpu_attention_bwd_bf16_in_out(
    lmcrt_unranked_memref *q, lmcrt_unranked_memref *k,
    lmcrt_unranked_memref *v, lmcrt_unranked_memref *out,
    lmcrt_unranked_memref *lse, lmcrt_unranked_memref *dout,
    lmcrt_unranked_memref *dq, lmcrt_unranked_memref *dk,
    lmcrt_unranked_memref *dv, int64_t heads, int64_t kv_heads) {
  step_graph::Gate gate("gpu_attention_bwd_bf16_in_out", q, k, v, out, lse,
                        dout, dq, dk, dv, heads, kv_heads);
  if (gate.skip())
    return;
  backward<uint16_t, uint16_t>("gpu_attention_bwd_bf16_in_out", q, k, v, out,
                               lse, dout, dq, dk, dv, heads, kv_heads,
                               /*bf16=*/true);
}
