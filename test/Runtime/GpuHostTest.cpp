//===- GpuHostTest.cpp - The GPU runtime's host-side logic, without a GPU -===//
//
// What the CUDA runtime decides on the host, tested anywhere: the epilogue
// fallback's one line per (epilogue, shape, reason) and its strict mode
// (EpilogueFallback.h), the kernel classes of LMCRT_PROFILE=1 from the
// kernel names the GPU pipeline gives and the profile table's format from
// recorded timings (ProfileTable.h).
//
//===----------------------------------------------------------------------===//

#include "Cuda/EpilogueFallback.h"
#include "Cuda/ProfileTable.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace {

using namespace lmcrt::cuda;

std::string readAll(FILE *f) {
  std::rewind(f);
  std::string text;
  char buffer[256];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0)
    text.append(buffer, n);
  return text;
}

TEST(GpuEpilogueFallback, SaysSoOncePerEpilogueAndShape) {
  FILE *out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  EpilogueFallbacks fallbacks(/*strict=*/false, out);
  for (int call = 0; call < 3; ++call) {
    EXPECT_FALSE(fallbacks.report("gpu_gemm_bias_bf16", "bias_gelu_tanh", 2048,
                                  3072, 768, "cuBLASLt's heuristic has no "
                                             "algorithm for it"));
    EXPECT_FALSE(fallbacks.report("gpu_gemm_bias_bf16", "bias", 2048, 768,
                                  3072, "C has no unit stride"));
  }
  EXPECT_FALSE(fallbacks.report("gpu_gemm_bias_bf16", "bias", 64, 768, 3072,
                                "C has no unit stride"));
  EXPECT_EQ(fallbacks.printed(), 3u);
  EXPECT_EQ(readAll(out),
            "lmcrt: gpu_gemm_bias_bf16: the bias_gelu_tanh epilogue runs on "
            "the host for m=2048 n=3072 k=768 (cuBLASLt's heuristic has no "
            "algorithm for it)\n"
            "lmcrt: gpu_gemm_bias_bf16: the bias epilogue runs on the host for "
            "m=2048 n=768 k=3072 (C has no unit stride)\n"
            "lmcrt: gpu_gemm_bias_bf16: the bias epilogue runs on the host for "
            "m=64 n=768 k=3072 (C has no unit stride)\n");
  std::fclose(out);
}

TEST(GpuEpilogueFallback, StrictModeIsAnError) {
  FILE *out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  EpilogueFallbacks fallbacks(/*strict=*/true, out);
  std::optional<std::string> error = fallbacks.report(
      "gpu_gemm_bias_f32", "bias", 48, 48, 40,
      "the pre-activation's row stride 51 is not a multiple of 8");
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "gpu_gemm_bias_f32: the bias epilogue runs on the host "
                    "for m=48 n=48 k=40 (the pre-activation's row stride 51 "
                    "is not a multiple of 8); LMCRT_STRICT_EPILOGUE=1 forbids "
                    "it");
  EXPECT_TRUE(fallbacks.report("gpu_gemm_bias_f32", "bias", 48, 48, 40, "x"));
  EXPECT_EQ(readAll(out), ""); // the error is the caller's to print
  std::fclose(out);
}

TEST(GpuProfile, KernelClassesFromTheirNames) {
  // Names as the GPU pipeline gives them (gpt2 and llama tiny, --emit ptx).
  struct {
    const char *name;
    KernelClass expected;
  } cases[] = {
      {"tiny_fused_adamw_part_3_kernel", KernelClass::Optimizer},
      {"tiny_fused_grad_norm_part_1_kernel_64", KernelClass::Optimizer},
      {"tiny_causal_attention_0_kernel_95", KernelClass::Attention},
      {"tiny_fused_layer_norm_0_kernel", KernelClass::RowReduction},
      {"tiny_fused_layer_norm_grad_1_kernel_28", KernelClass::RowReduction},
      {"tiny_fused_rms_norm_grad_0_kernel_5", KernelClass::RowReduction},
      {"tiny_fused_cross_entropy_0_kernel_3", KernelClass::RowReduction},
      {"tiny_reduce_sum_0_kernel_7", KernelClass::RowReduction},
      {"tiny_fused_gelu_grad_0_kernel_23", KernelClass::Elementwise},
      {"tiny_fused_silu_0_kernel", KernelClass::Elementwise},
      {"tiny_rope_0_kernel_2", KernelClass::Elementwise},
      {"tiny_embedding_0_kernel", KernelClass::Elementwise},
      {"tiny_concat_0_kernel_43", KernelClass::Elementwise},
      {"lmc_logits_kernel", KernelClass::Elementwise},
  };
  for (const auto &c : cases)
    EXPECT_EQ(classifyKernel(c.name, ""), c.expected) << c.name;
  // The model's name is no part of the op's.
  EXPECT_EQ(classifyKernel("sum_test_embedding_0_kernel", "sum_test"),
            KernelClass::Elementwise);
  EXPECT_EQ(classifyKernel("sum_test_embedding_0_kernel", ""),
            KernelClass::RowReduction);
}

TEST(GpuProfile, TableFromRecordedTimings) {
  ProfileTable table;
  table.add(KernelClass::Gemm, 120.0, 294);
  table.add(KernelClass::Gemm, 80.0, 294);
  table.add(KernelClass::Attention, 100.0, 40);
  table.add(KernelClass::RowReduction, 50.0, 300);
  table.add(KernelClass::Elementwise, 30.0, 500);
  table.add(KernelClass::Optimizer, 15.0, 20);
  table.add(KernelClass::HostWait, 5.0, 40);
  EXPECT_DOUBLE_EQ(table.totalMs(), 400.0);
  EXPECT_EQ(table.format(20),
            "lmcrt profile: GPU time by kernel class (CUDA events), 20 steps, "
            "400.0 ms in all\n"
            "class              groups           ms    ms/step       %\n"
            "GEMM                  588      200.000     10.000    50.0\n"
            "attention              40      100.000      5.000    25.0\n"
            "row reductions        300       50.000      2.500    12.5\n"
            "elementwise           500       30.000      1.500     7.5\n"
            "optimizer              20       15.000      0.750     3.8\n"
            "host waits             40        5.000      0.250     1.2\n");
}

} // namespace
