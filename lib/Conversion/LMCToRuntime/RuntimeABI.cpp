//===- RuntimeABI.cpp - The table of the runtime's C ABI ------------------===//
//
// The functions of include/lmc/Runtime/lmcrt.h that generated code calls,
// on the CPU (liblmcrt.a) and on the GPU (liblmcrt_cuda.a). Changing the ABI
// means changing lmcrt.h, the runtimes and this table; nothing else in the
// compiler names a runtime function.
//
//===----------------------------------------------------------------------===//

#include "RuntimeABI.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/ErrorHandling.h"

#include <cassert>

using namespace mlir::lmc::runtime;

namespace {

// clang-format off
const Entry kEntries[] = {
  // function, CPU symbol, GPU symbol, GPU stream-ordered, arguments, result
  {Function::Gemm, "lmcrt_gemm", "lmcrt_gpu_gemm", true,
   "mmmiii", '-'},                // a, b, c, transpose_a, transpose_b, precision
  {Function::GemmBias, "lmcrt_gemm_bias", "lmcrt_gpu_gemm_bias", true,
   "mmmmmiiii", '-'},             // a, b, bias, c, aux, ta, tb, epilogue, precision
  // bfloat16 A and B (lmc-bf16-storage).
  {Function::GemmBf16, "lmcrt_gemm_bf16", "lmcrt_gpu_gemm_bf16", true,
   "mmmii", '-'},                 // a, b (bf16), c (f32), ta, tb
  {Function::GemmBf16OutBf16, "lmcrt_gemm_bf16_out_bf16",
   "lmcrt_gpu_gemm_bf16_out_bf16", true,
   "mmmii", '-'},                 // a, b, c (bf16), ta, tb
  {Function::GemmBiasBf16, "lmcrt_gemm_bias_bf16", "lmcrt_gpu_gemm_bias_bf16",
   true, "mmmmmiii", '-'},        // a, b (bf16), bias, c, aux (f32), ta,
                                  // tb, epilogue
  {Function::GemmBiasBf16OutBf16, "lmcrt_gemm_bias_bf16_out_bf16",
   "lmcrt_gpu_gemm_bias_bf16_out_bf16", true,
   "mmmmmiii", '-'},              // a, b, bias, c, aux (bf16), ta, tb,
                                  // epilogue
  {Function::EmbeddingGrad, "lmcrt_embedding_grad_f32",
   "lmcrt_gpu_embedding_grad_f32", true,
   "mmml", '-'},                  // grad, ids, table_grad, offset
  {Function::EmbeddingGradAcc, "lmcrt_embedding_grad_acc_f32",
   "lmcrt_gpu_embedding_grad_acc_f32", true,
   "mmml", '-'},                  // as EmbeddingGrad, adding to table_grad
  {Function::AttentionFwd, "lmcrt_attention_fwd_f32",
   "lmcrt_gpu_attention_fwd_f32", true,
   "mmmmmll", '-'},               // q, k, v, out, lse, heads, kv_heads
  {Function::AttentionBwd, "lmcrt_attention_bwd_f32",
   "lmcrt_gpu_attention_bwd_f32", true,
   "mmmmmmmmmll", '-'},           // q, k, v, out, lse, dout, dq, dk, dv,
                                  // heads, kv_heads
  {Function::AttentionFwdBf16, nullptr, "lmcrt_gpu_attention_fwd_bf16", true,
   "mmmmmll", '-'},               // as AttentionFwd
  {Function::AttentionBwdBf16, nullptr, "lmcrt_gpu_attention_bwd_bf16", true,
   "mmmmmmmmmll", '-'},           // as AttentionBwd
  // bfloat16 activations (lmc-bf16-storage): q, k, v (and out, dout) read
  // as bf16, the outputs written as f32 or, _out, as bf16; lse f32.
  {Function::AttentionFwdBf16In, "lmcrt_attention_fwd_bf16_in",
   "lmcrt_gpu_attention_fwd_bf16_in", true,
   "mmmmmll", '-'},               // as AttentionFwd
  {Function::AttentionFwdBf16InOut, "lmcrt_attention_fwd_bf16_in_out",
   "lmcrt_gpu_attention_fwd_bf16_in_out", true,
   "mmmmmll", '-'},               // as AttentionFwd
  {Function::AttentionBwdBf16In, "lmcrt_attention_bwd_bf16_in",
   "lmcrt_gpu_attention_bwd_bf16_in", true,
   "mmmmmmmmmll", '-'},           // as AttentionBwd
  {Function::AttentionBwdBf16InOut, "lmcrt_attention_bwd_bf16_in_out",
   "lmcrt_gpu_attention_bwd_bf16_in_out", true,
   "mmmmmmmmmll", '-'},           // as AttentionBwd
  {Function::AllReduce, "lmcrt_all_reduce_f32", "lmcrt_gpu_all_reduce_f32",
   true, "mmi", '-'},             // in, out, axes
  {Function::AllGather, "lmcrt_all_gather_f32", "lmcrt_gpu_all_gather_f32",
   true, "mmil", '-'},            // in, out, axes, dim
  {Function::ReduceScatter, "lmcrt_reduce_scatter_f32",
   "lmcrt_gpu_reduce_scatter_f32", true,
   "mmil", '-'},                  // in, out, axes, dim
  {Function::AllReduceStart, "lmcrt_all_reduce_start_f32",
   "lmcrt_gpu_all_reduce_start_f32", true,
   "mmi", 'l'},                   // in, out, axes -> handle
  {Function::AllGatherStart, "lmcrt_all_gather_start_f32",
   "lmcrt_gpu_all_gather_start_f32", true,
   "mmil", 'l'},                  // in, out, axes, dim -> handle
  {Function::ReduceScatterStart, "lmcrt_reduce_scatter_start_f32",
   "lmcrt_gpu_reduce_scatter_start_f32", true,
   "mmil", 'l'},                  // in, out, axes, dim -> handle
  {Function::CollectiveWait, "lmcrt_collective_wait",
   "lmcrt_gpu_collective_wait", true,
   "l", '-'},                     // handle
  {Function::SendF32, "lmcrt_send_f32", "lmcrt_gpu_send_f32", true,
   "mill", '-'},                  // in, axes, peer, tag
  {Function::SendI64, "lmcrt_send_i64", "lmcrt_gpu_send_i64", true,
   "mill", '-'},                  // in, axes, peer, tag
  {Function::RecvStartF32, "lmcrt_recv_start_f32",
   "lmcrt_gpu_recv_start_f32", true,
   "mill", 'l'},                  // out, axes, peer, tag -> handle
  {Function::RecvStartI64, "lmcrt_recv_start_i64",
   "lmcrt_gpu_recv_start_i64", true,
   "mill", 'l'},                  // out, axes, peer, tag -> handle
  {Function::AxisIndex, "lmcrt_axis_index", "lmcrt_axis_index", false,
   "i", 'l'},                     // axes -> index in the group
  // Row reductions (lib/Runtime/Cuda/RowKernels.cpp), GPU only.
  {Function::LayerNormFwd, nullptr, "lmcrt_gpu_layer_norm_fwd_f32", true,
   "mmmmd", '-'},                 // x, w, b, y, eps
  {Function::LayerNormBwd, nullptr, "lmcrt_gpu_layer_norm_bwd_f32", true,
   "mmmmmmd", '-'},               // x, w, dy, dx, dw, db, eps
  {Function::RmsNormFwd, nullptr, "lmcrt_gpu_rms_norm_fwd_f32", true,
   "mmmd", '-'},                  // x, w, y, eps
  // The norms' outputs stored as bfloat16 (lmc-bf16-storage).
  {Function::LayerNormFwdBf16, nullptr, "lmcrt_gpu_layer_norm_fwd_bf16", true,
   "mmmmd", '-'},                 // x, w, b, y (bf16), eps
  {Function::RmsNormFwdBf16, nullptr, "lmcrt_gpu_rms_norm_fwd_bf16", true,
   "mmmd", '-'},                  // x, w, y (bf16), eps
  {Function::RmsNormBwd, nullptr, "lmcrt_gpu_rms_norm_bwd_f32", true,
   "mmmmmd", '-'},                // x, w, dy, dx, dw, eps
  {Function::CrossEntropyFwd, nullptr, "lmcrt_gpu_cross_entropy_fwd_f32",
   true, "mmml", '-'},            // logits, targets, loss, classes
  {Function::CrossEntropyBwd, nullptr, "lmcrt_gpu_cross_entropy_bwd_f32",
   true, "mmmml", '-'},           // logits, targets, dloss, dlogits, classes
  {Function::CrossEntropyBwdBf16, nullptr, "lmcrt_gpu_cross_entropy_bwd_bf16",
   true, "mmmml", '-'},           // as CrossEntropyBwd, dlogits bf16
  {Function::SoftmaxFwd, nullptr, "lmcrt_gpu_softmax_fwd_f32", true,
   "mm", '-'},                    // x, y
  {Function::SoftmaxBwd, nullptr, "lmcrt_gpu_softmax_bwd_f32", true,
   "mmm", '-'},                   // y, dy, dx
  // Sums to a scalar (lib/Runtime/Cuda/Sum.cpp), GPU only.
  {Function::SumF32, nullptr, "lmcrt_gpu_sum_f32", true,
   "mmi", '-'},                   // in, out, square
  {Function::HeadCrossEntropy, "lmcrt_head_cross_entropy_f32", nullptr, false,
   "mmmmmmmilli", '-'},           // x, w, targets, seed, loss, dx, dw,
                                  // transpose_b, classes, rows, precision
};
// clang-format on

} // namespace

const Entry &mlir::lmc::runtime::lookup(Function function) {
  for (const Entry &entry : kEntries)
    if (entry.function == function)
      return entry;
  assert(false && "a function missing from the runtime ABI table");
  return kEntries[0];
}

llvm::ArrayRef<Entry> mlir::lmc::runtime::entries() { return kEntries; }

Precision mlir::lmc::runtime::abiPrecision(::mlir::lmc::Precision precision) {
  switch (precision) {
  case ::mlir::lmc::Precision::FP32:
    return Precision::FP32;
  case ::mlir::lmc::Precision::TF32:
    return Precision::TF32;
  case ::mlir::lmc::Precision::BF16:
    return Precision::BF16;
  }
  llvm_unreachable("unknown precision");
}

std::optional<Device> mlir::lmc::runtime::parseDevice(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Device>>(name)
      .Case("cpu", Device::CPU)
      .Case("gpu", Device::GPU)
      .Default(std::nullopt);
}
