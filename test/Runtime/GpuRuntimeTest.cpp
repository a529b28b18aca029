//===- GpuRuntimeTest.cpp - Tests of the CUDA runtime on a GPU ------------===//
//
// cuBLASLt GEMMs against a CPU reference (on shared memory, which the host
// reads, and on device memory through copies; float32 and bfloat16
// operands), NCCL collectives on a world
// of one, the step arena in device memory, a hand-written PTX kernel loaded
// lazily and launched through the mgpu* functions, the attention kernels
// against attention in double (and on bfloat16 activations against the
// float32 ones) and the embedding gradient against the CPU's, and
// a short step captured as a CUDA graph and replayed against the same steps
// uncaptured (StepGraph.h), bit for bit. Each
// test that needs a GPU skips without one, saying why ("no GPU: ..."); the
// tests of what works without a GPU always run.
//
//===----------------------------------------------------------------------===//

#include "Comm/Collectives.h"
#include "Core/Bfloat16.h"
#include "Core/Device.h"
#include "Core/StepMemory.h"
#include "Cuda/CudaDevice.h"
#include "Cuda/Driver.h"
#include "Cuda/GpuProfile.h"
#include "Cuda/Nccl.h"
#include "Cuda/StepGraph.h"

#include "NaiveAttention.h"

#include "lmc/Runtime/lmcrt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

extern "C" {
void *mgpuModuleLoad(void *data, size_t size);
void *mgpuModuleLoadJIT(void *data, int optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t paramsCount);
void *mgpuStreamCreate();
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void *mgpuEventCreate();
void mgpuEventRecord(void *event, void *stream);
void mgpuEventSynchronize(void *event);
void mgpuEventDestroy(void *event);
void *mgpuMemAlloc(uint64_t size, void *stream, bool isHostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemset32(void *dst, unsigned value, size_t count, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream);
void _mlir_ciface_lmcrt_gpu_gemm(lmcrt_unranked_memref *,
                                 lmcrt_unranked_memref *,
                                 lmcrt_unranked_memref *, int32_t, int32_t,
                                 int32_t);
void _mlir_ciface_lmcrt_gpu_gemm_bias(lmcrt_unranked_memref *,
                                      lmcrt_unranked_memref *,
                                      lmcrt_unranked_memref *,
                                      lmcrt_unranked_memref *,
                                      lmcrt_unranked_memref *, int32_t, int32_t,
                                      int32_t, int32_t);
void _mlir_ciface_lmcrt_gpu_gemm_bf16(lmcrt_unranked_memref *,
                                      lmcrt_unranked_memref *,
                                      lmcrt_unranked_memref *, int32_t,
                                      int32_t);
void _mlir_ciface_lmcrt_gpu_gemm_bf16_out_bf16(lmcrt_unranked_memref *,
                                               lmcrt_unranked_memref *,
                                               lmcrt_unranked_memref *,
                                               int32_t, int32_t);
void _mlir_ciface_lmcrt_gpu_gemm_bias_bf16(
    lmcrt_unranked_memref *, lmcrt_unranked_memref *, lmcrt_unranked_memref *,
    lmcrt_unranked_memref *, lmcrt_unranked_memref *, int32_t, int32_t,
    int32_t);
void _mlir_ciface_lmcrt_gpu_gemm_bias_bf16_out_bf16(
    lmcrt_unranked_memref *, lmcrt_unranked_memref *, lmcrt_unranked_memref *,
    lmcrt_unranked_memref *, lmcrt_unranked_memref *, int32_t, int32_t,
    int32_t);
void _mlir_ciface_lmcrt_gpu_all_reduce_f32(lmcrt_unranked_memref *,
                                           lmcrt_unranked_memref *, int32_t);
void _mlir_ciface_lmcrt_gpu_all_gather_f32(lmcrt_unranked_memref *,
                                           lmcrt_unranked_memref *, int32_t,
                                           int64_t);
void _mlir_ciface_lmcrt_gpu_reduce_scatter_f32(lmcrt_unranked_memref *,
                                               lmcrt_unranked_memref *,
                                               int32_t, int64_t);
int64_t _mlir_ciface_lmcrt_gpu_all_reduce_start_f32(lmcrt_unranked_memref *,
                                                    lmcrt_unranked_memref *,
                                                    int32_t);
int64_t _mlir_ciface_lmcrt_gpu_all_gather_start_f32(lmcrt_unranked_memref *,
                                                    lmcrt_unranked_memref *,
                                                    int32_t, int64_t);
void lmcrt_gpu_collective_wait(int64_t handle);
}

namespace {

/// The C ABI's axis mask of the group of `axis` (0 dp, 1 tp, 2 the world):
/// 1, 2 and 3.
int32_t axisMask(int axis) { return axis + 1; }

// A kernel written by hand: p[i] = v for i < n (CUDA 13's ptxas assembles it
// for sm_90).
const char kFillPtx[] = R"(.version 7.5
.target sm_75
.address_size 64

.visible .entry lmc_test_fill(
	.param .u64 lmc_test_fill_p,
	.param .f32 lmc_test_fill_v,
	.param .u32 lmc_test_fill_n
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<6>;
	.reg .f32 	%f<2>;
	.reg .b64 	%rd<5>;

	ld.param.u64 	%rd1, [lmc_test_fill_p];
	ld.param.f32 	%f1, [lmc_test_fill_v];
	ld.param.u32 	%r1, [lmc_test_fill_n];
	mov.u32 	%r2, %ctaid.x;
	mov.u32 	%r3, %ntid.x;
	mov.u32 	%r4, %tid.x;
	mad.lo.s32 	%r5, %r2, %r3, %r4;
	setp.ge.u32 	%p1, %r5, %r1;
	@%p1 bra 	$L_done;
	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd3, %r5, 4;
	add.s64 	%rd4, %rd2, %rd3;
	st.global.f32 	[%rd4], %f1;
$L_done:
	ret;
}

// p[i] = v for i < n, after spinning for `cycles` clock cycles.
.visible .entry lmc_test_spin_fill(
	.param .u64 lmc_test_spin_fill_p,
	.param .f32 lmc_test_spin_fill_v,
	.param .u32 lmc_test_spin_fill_n,
	.param .u64 lmc_test_spin_fill_cycles
)
{
	.reg .pred 	%p<3>;
	.reg .b32 	%r<6>;
	.reg .f32 	%f<2>;
	.reg .b64 	%rd<9>;

	ld.param.u64 	%rd1, [lmc_test_spin_fill_p];
	ld.param.f32 	%f1, [lmc_test_spin_fill_v];
	ld.param.u32 	%r1, [lmc_test_spin_fill_n];
	ld.param.u64 	%rd5, [lmc_test_spin_fill_cycles];
	mov.u64 	%rd6, %clock64;
$L_spin:
	mov.u64 	%rd7, %clock64;
	sub.s64 	%rd8, %rd7, %rd6;
	setp.lt.u64 	%p2, %rd8, %rd5;
	@%p2 bra 	$L_spin;
	mov.u32 	%r2, %ctaid.x;
	mov.u32 	%r3, %ntid.x;
	mov.u32 	%r4, %tid.x;
	mad.lo.s32 	%r5, %r2, %r3, %r4;
	setp.ge.u32 	%p1, %r5, %r1;
	@%p1 bra 	$L_end;
	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd3, %r5, 4;
	add.s64 	%rd4, %rd2, %rd3;
	st.global.f32 	[%rd4], %f1;
$L_end:
	ret;
}

// dst[i] = src[i] * factor for i < n.
.visible .entry lmc_test_scale(
	.param .u64 lmc_test_scale_dst,
	.param .u64 lmc_test_scale_src,
	.param .f32 lmc_test_scale_factor,
	.param .u32 lmc_test_scale_n
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<6>;
	.reg .f32 	%f<4>;
	.reg .b64 	%rd<8>;

	ld.param.u64 	%rd1, [lmc_test_scale_dst];
	ld.param.u64 	%rd2, [lmc_test_scale_src];
	ld.param.f32 	%f1, [lmc_test_scale_factor];
	ld.param.u32 	%r1, [lmc_test_scale_n];
	mov.u32 	%r2, %ctaid.x;
	mov.u32 	%r3, %ntid.x;
	mov.u32 	%r4, %tid.x;
	mad.lo.s32 	%r5, %r2, %r3, %r4;
	setp.ge.u32 	%p1, %r5, %r1;
	@%p1 bra 	$L_out;
	cvta.to.global.u64 	%rd3, %rd1;
	cvta.to.global.u64 	%rd4, %rd2;
	mul.wide.u32 	%rd5, %r5, 4;
	add.s64 	%rd6, %rd4, %rd5;
	ld.global.f32 	%f2, [%rd6];
	mul.f32 	%f3, %f2, %f1;
	add.s64 	%rd7, %rd3, %rd5;
	st.global.f32 	[%rd7], %f3;
$L_out:
	ret;
}
)";

// Recorded before main, as a compiled program's constructor does; on a
// machine without a GPU this must not fail.
char ptxCopy[sizeof(kFillPtx)];
void *fillModule = [] {
  std::memcpy(ptxCopy, kFillPtx, sizeof(kFillPtx));
  return mgpuModuleLoadJIT(ptxCopy, 2);
}();

/// Initialises the GPU once; the reason when there is none.
const std::string &noGpuReason() {
  static std::string reason = [] {
    std::string why;
    if (!lmcrt::cuda::tryInitDevice(0, why))
      return why.empty() ? std::string("unknown reason") : why;
    lmcrt::comm::init(::lmc::MeshSpec{{{"dp", 1}, {"tp", 1}}});
    return std::string();
  }();
  return reason;
}

#define REQUIRE_GPU()                                                          \
  do {                                                                         \
    if (!noGpuReason().empty())                                                \
      GTEST_SKIP() << "no GPU: " << noGpuReason();                             \
  } while (0)

/// A float buffer in shared (managed) memory, which the host reads and
/// writes and the runtime's functions take as they take device memory.
struct Buffer {
  explicit Buffer(int64_t n)
      : n(n), data(static_cast<float *>(
                  lmcrt::device::allocateShared(sizeof(float) * n))) {}
  ~Buffer() { lmcrt::device::release(data); }
  int64_t n;
  float *data;
};

/// A copy of a Buffer in device memory (device::allocate, which the host
/// cannot address), for the runtime's functions on device memory.
struct OnDevice {
  explicit OnDevice(const Buffer &b)
      : n(b.n), data(static_cast<float *>(
                    lmcrt::device::allocate(sizeof(float) * b.n))) {
    lmcrt::device::copyToDevice(data, b.data, sizeof(float) * n);
  }
  ~OnDevice() { lmcrt::device::release(data); }
  void toHost(Buffer &b) const {
    lmcrt::device::copyToHost(b.data, data, sizeof(float) * n);
  }
  int64_t n;
  float *data;
};

/// A ranked descriptor of rank R with room for the unranked form.
template <int R> struct Desc {
  float *allocated, *aligned;
  int64_t offset;
  int64_t sizes[R];
  int64_t strides[R];
  lmcrt_unranked_memref ref() { return {R, this}; }
};

template <int R>
Desc<R> desc(float *base, int64_t offset, std::vector<int64_t> sizes,
             std::vector<int64_t> strides) {
  Desc<R> d{base, base, offset, {}, {}};
  for (int i = 0; i < R; ++i) {
    d.sizes[i] = sizes[i];
    d.strides[i] = strides[i];
  }
  return d;
}

void fillRandom(float *p, int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i)
    p[i] = dist(rng);
}

struct Precision {
  const char *name;
  int32_t precision; // LMCRT_PRECISION_*
  double tolerance;  // relative to sum_k |a||b|
};

const Precision kPrecisions[] = {{"f32", LMCRT_PRECISION_FP32, 1e-5},
                                 {"tf32", LMCRT_PRECISION_TF32, 4e-3},
                                 {"bf16", LMCRT_PRECISION_BF16, 3e-2}};

/// Checks C[i, j] (strides cs) against op(A) op(B) computed in double on the
/// host, A and B given by element accessors.
template <typename GetA, typename GetB>
void expectProduct(const float *c, int64_t crs, int64_t ccs, int64_t m,
                   int64_t n, int64_t k, GetA a, GetB b, double tolerance,
                   const std::string &what) {
  int bad = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0, scale = 0;
      for (int64_t l = 0; l < k; ++l) {
        sum += double(a(i, l)) * b(l, j);
        scale += std::fabs(double(a(i, l)) * b(l, j));
      }
      double got = c[i * crs + j * ccs];
      if (std::fabs(got - sum) > tolerance * scale + 1e-6 && bad++ < 5)
        ADD_FAILURE() << what << ": C[" << i << "," << j << "] = " << got
                      << ", expected " << sum;
    }
}

TEST(GpuGemm, AllTransposesAndPrecisions) {
  REQUIRE_GPU();
  const int64_t M = 37, N = 29, K = 53;
  for (const Precision &p : kPrecisions)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        Buffer A(M * K), B(K * N), C(M * N);
        fillRandom(A.data, A.n, 1);
        fillRandom(B.data, B.n, 2);
        std::fill(C.data, C.data + C.n, 7.0f); // ignored
        auto a = ta ? desc<2>(A.data, 0, {K, M}, {M, 1})
                    : desc<2>(A.data, 0, {M, K}, {K, 1});
        auto b = tb ? desc<2>(B.data, 0, {N, K}, {K, 1})
                    : desc<2>(B.data, 0, {K, N}, {N, 1});
        auto c = desc<2>(C.data, 0, {M, N}, {N, 1});
        auto ra = a.ref(), rb = b.ref(), rc = c.ref();
        _mlir_ciface_lmcrt_gpu_gemm(&ra, &rb, &rc, ta, tb, p.precision);
        lmcrt::device::synchronize();
        expectProduct(
            C.data, N, 1, M, N, K,
            [&](int64_t i, int64_t l) {
              return ta ? A.data[l * M + i] : A.data[i * K + l];
            },
            [&](int64_t l, int64_t j) {
              return tb ? B.data[j * K + l] : B.data[l * N + j];
            },
            p.tolerance,
            std::string(p.name) + " ta=" + std::to_string(ta) +
                " tb=" + std::to_string(tb));
      }
}

TEST(GpuGemm, BiasAndGeluEpilogues) {
  // lmcrt_gpu_gemm_bias: a linear layer [2, 24, K] x [K, N] (or [N, K]
  // with transpose_b) + bias [N] (cuBLASLt's CUBLASLT_EPILOGUE_BIAS), and
  // + tanh GELU with the pre-activation in aux (_GELU_AUX_BIAS), against
  // the product in double with the epilogue on the host. Also a padded C
  // (row stride N + 3: cuBLASLt's epilogue with that leading dimension) and
  // an aux with that row stride, not a multiple of 8 (the host epilogue,
  // staged through host copies on device memory). Each case on shared
  // memory and on device memory.
  REQUIRE_GPU();
  const int64_t Bn = 2, T = 24, K = 40, N = 48;
  for (bool onDevice : {false, true})
  for (const Precision *p : {&kPrecisions[0], &kPrecisions[1], &kPrecisions[2]})
    for (int tb = 0; tb < 2; ++tb)
      for (int epilogue : {LMCRT_GEMM_BIAS, LMCRT_GEMM_BIAS_GELU_TANH})
        for (int64_t ldc : {N, N + 3}) {
          const int64_t M = Bn * T;
          Buffer A(M * K), W(K * N), Bias(N), C(M * ldc), Aux(M * ldc);
          fillRandom(A.data, A.n, 3);
          fillRandom(W.data, W.n, 4);
          fillRandom(Bias.data, Bias.n, 5);
          std::fill(C.data, C.data + C.n, 7.0f);
          std::fill(Aux.data, Aux.data + Aux.n, 7.0f);
          std::optional<OnDevice> dA, dW, dBias, dC, dAux;
          if (onDevice) {
            dA.emplace(A), dW.emplace(W), dBias.emplace(Bias), dC.emplace(C),
                dAux.emplace(Aux);
          }
          float *pa = onDevice ? dA->data : A.data,
                *pw = onDevice ? dW->data : W.data,
                *pb = onDevice ? dBias->data : Bias.data,
                *pc = onDevice ? dC->data : C.data,
                *paux = onDevice ? dAux->data : Aux.data;
          auto a = desc<3>(pa, 0, {Bn, T, K}, {T * K, K, 1});
          auto w = tb ? desc<2>(pw, 0, {N, K}, {K, 1})
                      : desc<2>(pw, 0, {K, N}, {N, 1});
          auto bias = desc<1>(pb, 0, {N}, {1});
          auto c = desc<3>(pc, 0, {Bn, T, N}, {T * ldc, ldc, 1});
          auto aux = desc<3>(paux, 0, {Bn, T, N}, {T * ldc, ldc, 1});
          auto ra = a.ref(), rw = w.ref(), rb = bias.ref(), rc = c.ref(),
               raux = aux.ref();
          _mlir_ciface_lmcrt_gpu_gemm_bias(
              &ra, &rw, &rb, &rc, epilogue == LMCRT_GEMM_BIAS ? &rc : &raux, 0,
              tb, epilogue, p->precision);
          lmcrt::device::synchronize();
          if (onDevice) {
            dC->toHost(C);
            dAux->toHost(Aux);
          }
          std::string what = std::string(onDevice ? "device " : "shared ") +
                             p->name + " tb=" + std::to_string(tb) +
                             " epilogue=" + std::to_string(epilogue) +
                             " ldc=" + std::to_string(ldc);
          int bad = 0;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double sum = Bias.data[j], scale = std::fabs(Bias.data[j]);
              for (int64_t l = 0; l < K; ++l) {
                double x = A.data[i * K + l],
                       y = tb ? W.data[j * K + l] : W.data[l * N + j];
                sum += x * y;
                scale += std::fabs(x * y);
              }
              double tol = p->tolerance * scale + 1e-5;
              double got = C.data[i * ldc + j], expect = sum;
              if (epilogue == LMCRT_GEMM_BIAS_GELU_TANH) {
                expect = 0.5 * sum *
                         (1.0 + std::tanh(std::sqrt(2.0 / M_PI) *
                                          (sum + 0.044715 * sum * sum * sum)));
                double pre = Aux.data[i * ldc + j];
                if (std::fabs(pre - sum) > tol && bad++ < 5)
                  ADD_FAILURE() << what << ": aux[" << i << "," << j
                                << "] = " << pre << ", expected " << sum;
              }
              if (std::fabs(got - expect) > tol && bad++ < 5)
                ADD_FAILURE() << what << ": C[" << i << "," << j
                              << "] = " << got << ", expected " << expect;
            }
          if (ldc > N) {
            EXPECT_EQ(C.data[N], 7.0f) << what; // padding untouched
          }
        }
}

TEST(GpuGemm, UnknownPrecisionEndsTheJob) {
  // The precision is an argument: a value outside LMCRT_PRECISION_* is an
  // error (checked before the GPU is touched), not some GEMM.
  REQUIRE_GPU();
  Buffer A(4), B(4), C(4), Bias(2);
  auto a = desc<2>(A.data, 0, {2, 2}, {2, 1});
  auto b = desc<2>(B.data, 0, {2, 2}, {2, 1});
  auto c = desc<2>(C.data, 0, {2, 2}, {2, 1});
  auto bias = desc<1>(Bias.data, 0, {2}, {1});
  auto ra = a.ref(), rb = b.ref(), rc = c.ref(), rbias = bias.ref();
  EXPECT_EXIT(_mlir_ciface_lmcrt_gpu_gemm(&ra, &rb, &rc, 0, 0, 3),
              testing::ExitedWithCode(1),
              "gpu_gemm: unknown precision 3 \\(expected 0 fp32, 1 tf32 or 2 "
              "bf16\\)");
  EXPECT_EXIT(_mlir_ciface_lmcrt_gpu_gemm_bias(&ra, &rb, &rbias, &rc, &rc, 0, 0,
                                               LMCRT_GEMM_BIAS, -1),
              testing::ExitedWithCode(1),
              "gpu_gemm_bias: unknown precision -1");
}

/// bfloat16 elements in shared memory (lmc-bf16-storage's tensors), made
/// from floats rounded to nearest even; descriptors take them through
/// desc<R>(asFloat(), ...) with offsets and strides in bfloat16 elements.
struct Bf16Buffer {
  explicit Bf16Buffer(int64_t n)
      : n(n), data(static_cast<uint16_t *>(
                  lmcrt::device::allocateShared(sizeof(uint16_t) * n))) {}
  ~Bf16Buffer() { lmcrt::device::release(data); }
  float *asFloat() const { return reinterpret_cast<float *>(data); }
  double at(int64_t i) const {
    uint32_t bits = static_cast<uint32_t>(data[i]) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  }
  void fill(unsigned seed) {
    std::vector<float> values(n);
    fillRandom(values.data(), n, seed);
    for (int64_t i = 0; i < n; ++i) {
      uint32_t u;
      std::memcpy(&u, &values[i], sizeof(u));
      data[i] = static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
  }
  int64_t n;
  uint16_t *data;
};

double geluTanh(double x) {
  return 0.5 * x *
         (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST(GpuGemm, Bf16OperandsAllTransposesAndOutputs) {
  // lmcrt_gpu_gemm_bf16 and _out_bf16 (lmc-bf16-storage): A and B stored as
  // bfloat16, the products summed in float32, C float32 or bfloat16
  // (rounded once); unaligned and aligned shapes, against the same bfloat16
  // values multiplied in double.
  REQUIRE_GPU();
  for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{37, 29, 53},
                         {64, 96, 128}})
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (bool outBf16 : {false, true}) {
          Bf16Buffer A(M * K), B(K * N), Cb(M * N);
          Buffer C(M * N);
          A.fill(1);
          B.fill(2);
          std::fill(C.data, C.data + C.n, 7.0f);
          auto a = ta ? desc<2>(A.asFloat(), 0, {K, M}, {M, 1})
                      : desc<2>(A.asFloat(), 0, {M, K}, {K, 1});
          auto b = tb ? desc<2>(B.asFloat(), 0, {N, K}, {K, 1})
                      : desc<2>(B.asFloat(), 0, {K, N}, {N, 1});
          auto c = desc<2>(outBf16 ? Cb.asFloat() : C.data, 0, {M, N}, {N, 1});
          auto ra = a.ref(), rb = b.ref(), rc = c.ref();
          if (outBf16)
            _mlir_ciface_lmcrt_gpu_gemm_bf16_out_bf16(&ra, &rb, &rc, ta, tb);
          else
            _mlir_ciface_lmcrt_gpu_gemm_bf16(&ra, &rb, &rc, ta, tb);
          lmcrt::device::synchronize();
          std::string what = "M=" + std::to_string(M) + " ta=" +
                             std::to_string(ta) + " tb=" + std::to_string(tb) +
                             (outBf16 ? " C bf16" : " C f32");
          int bad = 0;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double sum = 0, scale = 0;
              for (int64_t l = 0; l < K; ++l) {
                double p = A.at(ta ? l * M + i : i * K + l) *
                           B.at(tb ? j * K + l : l * N + j);
                sum += p;
                scale += std::fabs(p);
              }
              // float32 sums in any order, then one rounding to bfloat16.
              double tol = (K + 2) * std::ldexp(1.0, -24) * scale + 1e-6 +
                           (outBf16 ? std::ldexp(std::fabs(sum), -8) : 0.0);
              double got = outBf16 ? Cb.at(i * N + j) : C.data[i * N + j];
              if (std::fabs(got - sum) > tol && bad++ < 5)
                ADD_FAILURE() << what << ": C[" << i << "," << j
                              << "] = " << got << ", expected " << sum;
            }
        }
}

TEST(GpuGemm, Bf16OperandsBiasAndGeluEpilogues) {
  // lmcrt_gpu_gemm_bias_bf16 (C, bias, pre-activation float32) and
  // _out_bf16 (all three bfloat16: cuBLASLt's epilogue types follow D's) on
  // a linear layer [2, 24, K] x [K, N] or [N, K]; with C's row stride N + 3
  // the pre-activation cannot be cuBLASLt's (not a multiple of 8): the host
  // epilogue, which for a bfloat16 C works on float32 sums and rounds once.
  REQUIRE_GPU();
  const int64_t Bn = 2, T = 24, K = 40, N = 48, M = Bn * T;
  for (bool outBf16 : {false, true})
    for (int tb = 0; tb < 2; ++tb)
      for (int epilogue : {LMCRT_GEMM_BIAS, LMCRT_GEMM_BIAS_GELU_TANH})
        for (int64_t ldc : {N, N + 3}) {
          Bf16Buffer A(M * K), W(K * N), BiasB(N), Cb(M * ldc), AuxB(M * ldc);
          Buffer BiasF(N), C(M * ldc), Aux(M * ldc);
          A.fill(3);
          W.fill(4);
          BiasB.fill(5);
          for (int64_t j = 0; j < N; ++j)
            BiasF.data[j] = static_cast<float>(BiasB.at(j));
          std::fill(C.data, C.data + C.n, 7.0f);
          std::fill(Aux.data, Aux.data + Aux.n, 7.0f);
          std::fill(Cb.data, Cb.data + Cb.n, uint16_t(0x40e0)); // 7.0
          std::fill(AuxB.data, AuxB.data + AuxB.n, uint16_t(0x40e0));
          auto a = desc<3>(A.asFloat(), 0, {Bn, T, K}, {T * K, K, 1});
          auto w = tb ? desc<2>(W.asFloat(), 0, {N, K}, {K, 1})
                      : desc<2>(W.asFloat(), 0, {K, N}, {N, 1});
          auto bias =
              desc<1>(outBf16 ? BiasB.asFloat() : BiasF.data, 0, {N}, {1});
          auto c = desc<3>(outBf16 ? Cb.asFloat() : C.data, 0, {Bn, T, N},
                           {T * ldc, ldc, 1});
          auto aux = desc<3>(outBf16 ? AuxB.asFloat() : Aux.data, 0,
                             {Bn, T, N}, {T * ldc, ldc, 1});
          auto ra = a.ref(), rw = w.ref(), rb = bias.ref(), rc = c.ref(),
               raux = aux.ref();
          auto *auxArg = epilogue == LMCRT_GEMM_BIAS ? &rc : &raux;
          if (outBf16)
            _mlir_ciface_lmcrt_gpu_gemm_bias_bf16_out_bf16(
                &ra, &rw, &rb, &rc, auxArg, 0, tb, epilogue);
          else
            _mlir_ciface_lmcrt_gpu_gemm_bias_bf16(&ra, &rw, &rb, &rc, auxArg,
                                                  0, tb, epilogue);
          lmcrt::device::synchronize();
          std::string what = std::string(outBf16 ? "C bf16" : "C f32") +
                             " tb=" + std::to_string(tb) +
                             " epilogue=" + std::to_string(epilogue) +
                             " ldc=" + std::to_string(ldc);
          int bad = 0;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double sum = BiasB.at(j), scale = std::fabs(sum);
              for (int64_t l = 0; l < K; ++l) {
                double p = A.at(i * K + l) * W.at(tb ? j * K + l : l * N + j);
                sum += p;
                scale += std::fabs(p);
              }
              const bool gelu = epilogue == LMCRT_GEMM_BIAS_GELU_TANH;
              double expect = gelu ? geluTanh(sum) : sum;
              double tol = (K + 2) * std::ldexp(1.0, -24) * scale + 1e-5;
              double got = outBf16 ? Cb.at(i * ldc + j) : C.data[i * ldc + j];
              double cTol =
                  tol + (outBf16 ? std::ldexp(std::fabs(expect), -8) : 0.0);
              if (std::fabs(got - expect) > cTol && bad++ < 5)
                ADD_FAILURE() << what << ": C[" << i << "," << j
                              << "] = " << got << ", expected " << expect;
              if (gelu) {
                double pre =
                    outBf16 ? AuxB.at(i * ldc + j) : Aux.data[i * ldc + j];
                double auxTol =
                    tol + (outBf16 ? std::ldexp(std::fabs(sum), -8) : 0.0);
                if (std::fabs(pre - sum) > auxTol && bad++ < 5)
                  ADD_FAILURE() << what << ": aux[" << i << "," << j
                                << "] = " << pre << ", expected " << sum;
              }
            }
          if (ldc > N) { // padding untouched
            EXPECT_EQ(outBf16 ? Cb.at(N) : C.data[N], 7.0) << what;
            if (epilogue == LMCRT_GEMM_BIAS_GELU_TANH) {
              EXPECT_EQ(outBf16 ? AuxB.at(N) : Aux.data[N], 7.0) << what;
            }
          }
        }
}

TEST(GpuGemm, StridedAndOffsetViews) {
  REQUIRE_GPU();
  const int64_t M = 9, N = 11, K = 13;
  // A: rows of stride 20 starting at element 3 (unaligned); B: column-major
  // (rs = 1, cs = K + 2); C: column-major at an offset; then C with no unit
  // stride (through a temporary) and A with no unit stride (packed).
  Buffer A(3 + M * 20), B((K + 2) * N), C(5 + N * (M + 1)), D(2 * M * 2 * N);
  fillRandom(A.data, A.n, 3);
  fillRandom(B.data, B.n, 4);
  auto getA = [&](int64_t i, int64_t l) { return A.data[3 + i * 20 + l]; };
  auto getB = [&](int64_t l, int64_t j) { return B.data[l + j * (K + 2)]; };
  auto a = desc<2>(A.data, 3, {M, K}, {20, 1});
  auto b = desc<2>(B.data, 0, {K, N}, {1, K + 2});
  auto c = desc<2>(C.data, 5, {M, N}, {1, M + 1});
  auto ra = a.ref(), rb = b.ref(), rc = c.ref();
  _mlir_ciface_lmcrt_gpu_gemm(&ra, &rb, &rc, 0, 0, LMCRT_PRECISION_FP32);
  lmcrt::device::synchronize();
  expectProduct(C.data + 5, 1, M + 1, M, N, K, getA, getB, 1e-5,
                "column-major C");

  auto d = desc<2>(D.data, 0, {M, N}, {2 * N * 2, 2});
  auto rd = d.ref();
  _mlir_ciface_lmcrt_gpu_gemm(&ra, &rb, &rd, 0, 0, LMCRT_PRECISION_FP32);
  lmcrt::device::synchronize();
  expectProduct(D.data, 4 * N, 2, M, N, K, getA, getB, 1e-5, "strided C");

  // A read with strides (1, 20)... as a transposed view with no unit
  // stride: rows of stride 40, columns of stride 2.
  Buffer E(M * K * 4);
  fillRandom(E.data, E.n, 5);
  auto e = desc<2>(E.data, 0, {M, K}, {2 * K * 2, 2});
  auto re = e.ref();
  _mlir_ciface_lmcrt_gpu_gemm(&re, &rb, &rc, 0, 0, LMCRT_PRECISION_FP32);
  lmcrt::device::synchronize();
  expectProduct(
      C.data + 5, 1, M + 1, M, N, K,
      [&](int64_t i, int64_t l) { return E.data[i * 4 * K + 2 * l]; }, getB,
      1e-5, "packed A");
}

TEST(GpuGemm, Batches) {
  REQUIRE_GPU();
  const int64_t G = 3, M = 8, N = 6, K = 5;
  Buffer A(G * M * K), B(G * K * N), W(K * N), C(G * M * N);
  fillRandom(A.data, A.n, 6);
  fillRandom(B.data, B.n, 7);
  fillRandom(W.data, W.n, 8);
  auto a = desc<3>(A.data, 0, {G, M, K}, {M * K, K, 1});
  auto c = desc<3>(C.data, 0, {G, M, N}, {M * N, N, 1});
  auto ra = a.ref(), rc = c.ref();
  // Batched B (one strided-batched call).
  auto b = desc<3>(B.data, 0, {G, K, N}, {K * N, N, 1});
  auto rb = b.ref();
  _mlir_ciface_lmcrt_gpu_gemm(&ra, &rb, &rc, 0, 0, LMCRT_PRECISION_FP32);
  lmcrt::device::synchronize();
  for (int64_t g = 0; g < G; ++g)
    expectProduct(
        C.data + g * M * N, N, 1, M, N, K,
        [&](int64_t i, int64_t l) { return A.data[g * M * K + i * K + l]; },
        [&](int64_t l, int64_t j) { return B.data[g * K * N + l * N + j]; },
        1e-5, "batch " + std::to_string(g));
  // A shared B (a linear layer: folded into one GEMM).
  auto w = desc<2>(W.data, 0, {K, N}, {N, 1});
  auto rw = w.ref();
  _mlir_ciface_lmcrt_gpu_gemm(&ra, &rw, &rc, 0, 0, LMCRT_PRECISION_FP32);
  lmcrt::device::synchronize();
  for (int64_t g = 0; g < G; ++g)
    expectProduct(
        C.data + g * M * N, N, 1, M, N, K,
        [&](int64_t i, int64_t l) { return A.data[g * M * K + i * K + l]; },
        [&](int64_t l, int64_t j) { return W.data[l * N + j]; }, 1e-5,
        "shared B, batch " + std::to_string(g));
  // Batch dimensions that do not collapse (A transposed per batch element,
  // batches in reverse order): one call per element.
  auto at = desc<3>(A.data, (G - 1) * M * K, {G, K, M}, {-M * K, 1, K});
  auto rat = at.ref();
  _mlir_ciface_lmcrt_gpu_gemm(&rat, &rb, &rc, 1, 0, LMCRT_PRECISION_FP32);
  lmcrt::device::synchronize();
  for (int64_t g = 0; g < G; ++g)
    expectProduct(
        C.data + g * M * N, N, 1, M, N, K,
        [&](int64_t i, int64_t l) {
          return A.data[(G - 1 - g) * M * K + i * K + l];
        },
        [&](int64_t l, int64_t j) { return B.data[g * K * N + l * N + j]; },
        1e-5, "reversed batch " + std::to_string(g));
}

TEST(GpuCollectives, WorldOfOne) {
  REQUIRE_GPU();
  Buffer in(24), out(24), gathered(24);
  for (int i = 0; i < 24; ++i)
    in.data[i] = float(i);
  auto i2 = desc<2>(in.data, 0, {4, 6}, {6, 1});
  auto o2 = desc<2>(out.data, 0, {4, 6}, {6, 1});
  auto ri = i2.ref(), ro = o2.ref();
  _mlir_ciface_lmcrt_gpu_all_reduce_f32(&ri, &ro, 1);
  // Stream-ordered: the host reads after waiting for the compute stream.
  lmcrt::device::synchronize();
  for (int i = 0; i < 24; ++i)
    EXPECT_EQ(out.data[i], float(i));
  // In place, over each axis.
  for (int axis = 0; axis < 3; ++axis) {
    _mlir_ciface_lmcrt_gpu_all_reduce_f32(&ro, &ro, axisMask(axis));
    lmcrt::device::synchronize();
    EXPECT_EQ(out.data[23], 23.0f);
  }
  // A non-contiguous output (the transpose view).
  auto t = desc<2>(gathered.data, 0, {4, 6}, {1, 4});
  auto rt = t.ref();
  _mlir_ciface_lmcrt_gpu_all_gather_f32(&ri, &rt, 3, 1);
  lmcrt::device::synchronize();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 6; ++c)
      EXPECT_EQ(gathered.data[r + 4 * c], float(r * 6 + c));
  std::fill(out.data, out.data + 24, 0.0f);
  _mlir_ciface_lmcrt_gpu_reduce_scatter_f32(&ri, &ro, 2, 0);
  lmcrt::device::synchronize();
  EXPECT_EQ(out.data[7], 7.0f);
  // Started and waited, two in flight.
  Buffer out2(24);
  auto o3 = desc<2>(out2.data, 0, {4, 6}, {6, 1});
  auto ro3 = o3.ref();
  int64_t h1 = _mlir_ciface_lmcrt_gpu_all_reduce_start_f32(&ri, &ro3, 3);
  int64_t h2 = _mlir_ciface_lmcrt_gpu_all_gather_start_f32(&ri, &ro, 1, 0);
  EXPECT_GT(h1, 0);
  EXPECT_NE(h1, h2);
  lmcrt_gpu_collective_wait(h2);
  lmcrt_gpu_collective_wait(h1);
  lmcrt::device::synchronize();
  EXPECT_EQ(out2.data[5], 5.0f);
  EXPECT_EQ(out.data[11], 11.0f);
}

/// Queues lmc_test_spin_fill: p[i] = v after `cycles` clock cycles.
void launchSpinFill(float *p, float v, unsigned n, uint64_t cycles) {
  void *f = mgpuModuleGetFunction(fillModule, "lmc_test_spin_fill");
  void *params[] = {&p, &v, &n, &cycles};
  mgpuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, mgpuStreamCreate(),
                   params, nullptr, 4);
}

/// Queues lmc_test_scale: dst[i] = src[i] * factor.
void launchScale(float *dst, float *src, float factor, unsigned n) {
  void *f = mgpuModuleGetFunction(fillModule, "lmc_test_scale");
  void *params[] = {&dst, &src, &factor, &n};
  mgpuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, mgpuStreamCreate(),
                   params, nullptr, 4);
}

/// True while work is queued on the compute stream.
bool computeBusy() {
  CUresult r =
      lmcrt::cuda::driver().cuStreamQuery(lmcrt::cuda::computeStream());
  EXPECT_TRUE(r == CUDA_SUCCESS || r == CUDA_ERROR_NOT_READY) << r;
  return r == CUDA_ERROR_NOT_READY;
}

TEST(GpuCollectives, StartedCollectiveOverlapsWorkQueuedAfterIt) {
  REQUIRE_GPU();
  const unsigned n = 1 << 16;
  const int64_t M = 64, N = 48, K = 80;
  Buffer in(n), out(n), scaled(n), A(M * K), B(K * N), C(M * N);
  fillRandom(A.data, A.n, 3);
  fillRandom(B.data, B.n, 4);
  std::fill(out.data, out.data + n, -1.0f);
  auto i1 = desc<1>(in.data, 0, {n}, {1});
  auto o1 = desc<1>(out.data, 0, {n}, {1});
  auto ri = i1.ref(), ro = o1.ref();
  auto a = desc<2>(A.data, 0, {M, K}, {K, 1});
  auto b = desc<2>(B.data, 0, {K, N}, {N, 1});
  auto c = desc<2>(C.data, 0, {M, N}, {N, 1});
  auto ra = a.ref(), rb = b.ref(), rc = c.ref();
  // The input is written by a kernel queued before the collective, a GEMM
  // is queued between the start and the wait, a kernel after the wait reads
  // the result; the host waits once, at the end.
  launchSpinFill(in.data, 3.0f, n, 1000000);
  int64_t h = _mlir_ciface_lmcrt_gpu_all_reduce_start_f32(&ri, &ro, 3);
  _mlir_ciface_lmcrt_gpu_gemm(&ra, &rb, &rc, 0, 0, LMCRT_PRECISION_FP32);
  lmcrt_gpu_collective_wait(h);
  launchScale(scaled.data, out.data, 2.0f, n);
  lmcrt::device::synchronize();
  EXPECT_EQ(out.data[0], 3.0f);
  EXPECT_EQ(out.data[n - 1], 3.0f);
  EXPECT_EQ(scaled.data[0], 6.0f);
  EXPECT_EQ(scaled.data[n - 1], 6.0f);
  expectProduct(
      C.data, N, 1, M, N, K,
      [&](int64_t i, int64_t l) { return A.data[i * K + l]; },
      [&](int64_t l, int64_t j) { return B.data[l * N + j]; }, 1e-5,
      "GEMM queued during the collective");
}

TEST(GpuCollectives, WaitReturnsWithoutBlockingTheHost) {
  REQUIRE_GPU();
  const unsigned n = 4096;
  Buffer in(n), out(n), scaled(n);
  auto i1 = desc<1>(in.data, 0, {n}, {1});
  auto o1 = desc<1>(out.data, 0, {n}, {1});
  auto ri = i1.ref(), ro = o1.ref();
  // The communicators exist already (their creation waits on the host).
  _mlir_ciface_lmcrt_gpu_all_reduce_f32(&ri, &ro, 3);
  _mlir_ciface_lmcrt_gpu_all_reduce_f32(&ro, &ro, 1);
  lmcrt::device::synchronize();
  // About a second of GPU time (2e9 cycles at 1.5-2 GHz) before the input
  // is written; the host must get back from the collectives well before.
  launchSpinFill(in.data, 5.0f, n, 2000000000ull);
  auto start = std::chrono::steady_clock::now();
  _mlir_ciface_lmcrt_gpu_all_reduce_f32(&ri, &ro, 3);
  int64_t h = _mlir_ciface_lmcrt_gpu_all_reduce_start_f32(&ro, &ro, 1);
  lmcrt_gpu_collective_wait(h);
  launchScale(scaled.data, out.data, 0.5f, n);
  double hostSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_TRUE(computeBusy()) << "the host waited for the kernel";
  lmcrt::device::synchronize();
  double totalSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  EXPECT_FALSE(computeBusy());
  EXPECT_LT(hostSeconds, totalSeconds / 2);
  EXPECT_EQ(out.data[n - 1], 5.0f);
  EXPECT_EQ(scaled.data[0], 2.5f);
}

TEST(GpuCollectives, NonBlockingCommunicatorCreatedAndDestroyed) {
  REQUIRE_GPU();
  namespace nccl = lmcrt::cuda::nccl;
  Buffer x(8);
  auto d = desc<1>(x.data, 0, {8}, {1});
  auto r = d.ref();
  for (int round = 0; round < 2; ++round) {
    nccl::destroyCommunicators();
    EXPECT_EQ(nccl::openCommunicators(), 0);
    std::fill(x.data, x.data + 8, float(round + 1));
    _mlir_ciface_lmcrt_gpu_all_reduce_f32(&r, &r, 2); // creates tp's
    EXPECT_EQ(nccl::openCommunicators(), 1);
    lmcrt::device::synchronize();
    EXPECT_EQ(x.data[7], float(round + 1));
  }
  nccl::destroyCommunicators();
  EXPECT_EQ(nccl::openCommunicators(), 0);
}

TEST(GpuMemory, StepArenaIsReusedDeviceMemory) {
  REQUIRE_GPU();
  namespace sm = lmcrt::step_memory;
  std::vector<void *> seen[3];
  for (int step = 0; step < 3; ++step) {
    sm::begin();
    void *a = _mlir_memref_to_llvm_alloc(4096);
    void *b = _mlir_memref_to_llvm_alloc(1024);
    _mlir_memref_to_llvm_free(a);
    void *c = _mlir_memref_to_llvm_alloc(4096);
    // Device work on the step's memory, read back on the host.
    mgpuMemset32(c, 0x3f800000u, 1024, mgpuStreamCreate()); // 1.0f
    float last = 0;
    lmcrt::device::copyToHost(&last, static_cast<float *>(c) + 1023,
                              sizeof(last));
    EXPECT_EQ(last, 1.0f);
    _mlir_memref_to_llvm_free(b);
    _mlir_memref_to_llvm_free(c);
    sm::end();
    seen[step] = {a, b, c};
  }
  EXPECT_EQ(sm::plannedBuffers(), 3u);
  EXPECT_LE(sm::arenaBytes(), 4096u + 1024u + 128u); // a and c share
  EXPECT_EQ(seen[1], seen[2]);
  EXPECT_EQ(seen[1][0], seen[1][2]);
}

TEST(GpuKernels, LazyPtxModuleAndLaunch) {
  REQUIRE_GPU();
  void *f = mgpuModuleGetFunction(fillModule, "lmc_test_fill");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(mgpuModuleGetFunction(fillModule, "lmc_test_fill"), f);
  void *stream = mgpuStreamCreate();
  EXPECT_EQ(mgpuStreamCreate(), stream); // the one compute stream
  const unsigned n = 1000;
  auto *p = static_cast<float *>(mgpuMemAlloc(n * 4, stream, true));
  float v = 2.5f;
  unsigned count = n;
  void *params[] = {&p, &v, &count};
  mgpuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream, params,
                   nullptr, 3);
  void *event = mgpuEventCreate();
  mgpuEventRecord(event, stream);
  mgpuEventSynchronize(event);
  mgpuEventDestroy(event);
  EXPECT_EQ(p[0], 2.5f);
  EXPECT_EQ(p[n - 1], 2.5f);
  // Device memory (not host_shared): read back through a copy.
  auto *q = static_cast<float *>(mgpuMemAlloc(n * 4, stream, false));
  mgpuMemcpy(q, p, n * 4, stream);
  float middle = 0;
  lmcrt::device::copyToHost(&middle, q + n / 2, sizeof(middle));
  EXPECT_EQ(middle, 2.5f);
  mgpuMemFree(q, stream);
  mgpuMemFree(p, stream);
  mgpuStreamDestroy(stream); // a no-op on the compute stream
  mgpuStreamSynchronize(mgpuStreamCreate());
}

/// Steps shaped as a training step's (a kernel whose scalar changes every
/// step, a cuBLASLt GEMM, a kernel with a fixed scalar, a fill, the result
/// copied to a host-shared slot, one wait) through the trainer's hooks, with
/// CUDA graphs on or off: the slots read after each step and the state at
/// the end.
struct GraphRun {
  std::vector<std::vector<float>> slots;
  std::vector<float> state;
  lmcrt::cuda::step_graph::Stats stats;
};

GraphRun runSteps(bool graphs, int steps) {
  namespace sm = lmcrt::step_memory;
  namespace sg = lmcrt::cuda::step_graph;
  if (graphs)
    unsetenv("LMCRT_CUDA_GRAPH");
  else
    setenv("LMCRT_CUDA_GRAPH", "0", 1);
  sg::reset();
  const int64_t n = 64, count = n * n;
  void *scale = mgpuModuleGetFunction(fillModule, "lmc_test_scale");
  Buffer hostX(count), hostW(count);
  fillRandom(hostX.data, count, 11);
  fillRandom(hostW.data, count, 12);
  for (int64_t i = 0; i < count; ++i)
    hostW.data[i] *= 0.125f; // keeps the state's scale
  OnDevice x(hostX), w(hostW);
  sm::begin(); // a step without buffers: the next one records the arena
  sm::end();
  GraphRun run;
  for (int step = 0; step < steps; ++step) {
    sm::begin();
    lmcrt::device::beginStep(true);
    auto *y =
        static_cast<float *>(_mlir_memref_to_llvm_alloc(sizeof(float) * count));
    auto *slot = static_cast<float *>(mgpuMemAlloc(16, nullptr, true));
    float *px = x.data, *py = y;
    float factor = 1.0f / float(3 + step); // the per-step scalar
    unsigned elements = count;
    void *first[] = {&py, &px, &factor, &elements};
    mgpuLaunchKernel(scale, count / 128, 1, 1, 128, 1, 1, 0, nullptr, first,
                     nullptr, 4);
    auto a = desc<2>(py, 0, {n, n}, {n, 1});
    auto b = desc<2>(w.data, 0, {n, n}, {n, 1});
    auto c = desc<2>(px, 0, {n, n}, {n, 1});
    auto ra = a.ref(), rb = b.ref(), rc = c.ref();
    _mlir_ciface_lmcrt_gpu_gemm(&ra, &rb, &rc, 0, 0, LMCRT_PRECISION_FP32);
    float fixed = 3.0f;
    void *second[] = {&px, &px, &fixed, &elements};
    mgpuLaunchKernel(scale, count / 128, 1, 1, 128, 1, 1, 0, nullptr, second,
                     nullptr, 4);
    mgpuMemset32(py, 0, count, nullptr);
    mgpuMemcpy(slot, px, 16, nullptr);
    mgpuStreamSynchronize(nullptr);
    run.slots.emplace_back(slot, slot + 4);
    mgpuMemFree(slot, nullptr);
    _mlir_memref_to_llvm_free(y);
    lmcrt::device::synchronize();
    EXPECT_FALSE(lmcrt::device::endStep());
    sm::end();
  }
  x.toHost(hostX);
  run.state.assign(hostX.data, hostX.data + count);
  run.stats = sg::stats();
  unsetenv("LMCRT_CUDA_GRAPH");
  sg::reset();
  return run;
}

TEST(GpuStepGraph, ReplayedStepsMatchUncapturedBitForBit) {
  REQUIRE_GPU();
  if (lmcrt::cuda::profile::enabled())
    GTEST_SKIP() << "LMCRT_PROFILE=1 keeps the steps uncaptured";
  const int steps = 6;
  GraphRun eager = runSteps(false, steps);
  GraphRun graph = runSteps(true, steps);
  EXPECT_EQ(eager.stats.captures, 0);
  // Step 0 records the arena, step 1 is captured, steps 2.. replay with the
  // changed scalar patched on its node.
  EXPECT_EQ(graph.stats.captures, 1);
  EXPECT_EQ(graph.stats.replays, steps - 2);
  EXPECT_EQ(graph.stats.divergences, 0);
  EXPECT_EQ(graph.stats.patchedLaunches, 1);
  EXPECT_FALSE(graph.stats.disabled);
  EXPECT_GE(graph.stats.nodes, 5);
  ASSERT_EQ(graph.slots.size(), eager.slots.size());
  for (int step = 0; step < steps; ++step)
    EXPECT_EQ(
        0, std::memcmp(graph.slots[step].data(), eager.slots[step].data(), 16))
        << "step " << step << ": " << graph.slots[step][0] << " vs "
        << eager.slots[step][0];
  ASSERT_EQ(graph.state.size(), eager.state.size());
  EXPECT_EQ(0, std::memcmp(graph.state.data(), eager.state.data(),
                           sizeof(float) * eager.state.size()));
  EXPECT_TRUE(std::isfinite(graph.state[0]));
}

// Without a GPU too: recording and unloading a module that was never used
// touches no driver.
TEST(GpuAttention, ForwardAndBackwardAgainstNaive) {
  REQUIRE_GPU();
  struct Case {
    int64_t b, t, heads, d, kvHeads;
  };
  // T not a multiple of the kernels' tiles, T = 1, and every head size;
  // grouped-query and multi-query attention.
  for (Case cs : {Case{2, 70, 2, 32, 2}, Case{1, 130, 3, 64, 3},
                  Case{2, 1, 2, 16, 2}, Case{1, 40, 2, 128, 2},
                  Case{2, 70, 4, 32, 2}, Case{1, 130, 6, 64, 1}}) {
    const int64_t C = cs.heads * cs.d, Ckv = cs.kvHeads * cs.d,
                  n = cs.b * cs.t * C, nkv = cs.b * cs.t * Ckv;
    Buffer Q(n), K(nkv), V(nkv), G(n), O(n), DQ(n), DK(nkv), DV(nkv),
        L(cs.b * cs.heads * cs.t);
    fillRandom(Q.data, n, 11);
    fillRandom(K.data, nkv, 12);
    fillRandom(V.data, nkv, 13);
    fillRandom(G.data, n, 14);
    auto rows = [&](Buffer &x, int64_t c) {
      return desc<3>(x.data, 0, {cs.b, cs.t, c}, {cs.t * c, c, 1});
    };
    auto q = rows(Q, C), k = rows(K, Ckv), v = rows(V, Ckv), g = rows(G, C),
         o = rows(O, C), dq = rows(DQ, C), dk = rows(DK, Ckv),
         dv = rows(DV, Ckv);
    auto l = desc<3>(L.data, 0, {cs.b, cs.heads, cs.t},
                     {cs.heads * cs.t, cs.t, 1});
    auto rq = q.ref(), rk = k.ref(), rv = v.ref(), rg = g.ref(), ro = o.ref(),
         rl = l.ref(), rdq = dq.ref(), rdk = dk.ref(), rdv = dv.ref();
    _mlir_ciface_lmcrt_gpu_attention_fwd_f32(&rq, &rk, &rv, &ro, &rl, cs.heads,
                                             cs.kvHeads);
    _mlir_ciface_lmcrt_gpu_attention_bwd_f32(&rq, &rk, &rv, &ro, &rl, &rg, &rdq,
                                             &rdk, &rdv, cs.heads, cs.kvHeads);
    lmcrt::device::synchronize();
    for (const std::string &message : compareWithNaive(
             Q.data, K.data, V.data, G.data, O.data, L.data, DQ.data, DK.data,
             DV.data, cs.b, cs.t, cs.heads, cs.kvHeads, cs.d, 2e-4))
      ADD_FAILURE() << message;
  }
}

// The bf16 entry points (what a `--precision bf16` program calls): the
// tensor-core kernels for D 64 and 128, the float32 kernels for D 32; within
// the bf16 rounding bound of test/Runtime/AttentionTensorCoreEmulationTest.cpp
// (2e-2 relative to 1 + |want|; the emulation measures under 6e-3).
TEST(GpuAttention, TensorCoresAgainstNaive) {
  REQUIRE_GPU();
  struct Case {
    int64_t b, t, heads, d, kvHeads;
  };
  // T below, at and across the tiles (64 queries; 64 or 32 keys), T = 1,
  // grouped-query and multi-query attention, and a head size without
  // tensor-core kernels.
  for (Case cs : {Case{2, 70, 2, 64, 2}, Case{1, 64, 4, 64, 2},
                  Case{2, 1, 2, 128, 1}, Case{1, 130, 6, 128, 2},
                  Case{1, 300, 2, 64, 1}, Case{2, 33, 2, 32, 2}}) {
    const int64_t C = cs.heads * cs.d, Ckv = cs.kvHeads * cs.d,
                  n = cs.b * cs.t * C, nkv = cs.b * cs.t * Ckv;
    Buffer Q(n), K(nkv), V(nkv), G(n), O(n), DQ(n), DK(nkv), DV(nkv),
        L(cs.b * cs.heads * cs.t);
    fillRandom(Q.data, n, 31);
    fillRandom(K.data, nkv, 32);
    fillRandom(V.data, nkv, 33);
    fillRandom(G.data, n, 34);
    auto rows = [&](Buffer &x, int64_t c) {
      return desc<3>(x.data, 0, {cs.b, cs.t, c}, {cs.t * c, c, 1});
    };
    auto q = rows(Q, C), k = rows(K, Ckv), v = rows(V, Ckv), g = rows(G, C),
         o = rows(O, C), dq = rows(DQ, C), dk = rows(DK, Ckv),
         dv = rows(DV, Ckv);
    auto l = desc<3>(L.data, 0, {cs.b, cs.heads, cs.t},
                     {cs.heads * cs.t, cs.t, 1});
    auto rq = q.ref(), rk = k.ref(), rv = v.ref(), rg = g.ref(), ro = o.ref(),
         rl = l.ref(), rdq = dq.ref(), rdk = dk.ref(), rdv = dv.ref();
    _mlir_ciface_lmcrt_gpu_attention_fwd_bf16(&rq, &rk, &rv, &ro, &rl,
                                              cs.heads, cs.kvHeads);
    _mlir_ciface_lmcrt_gpu_attention_bwd_bf16(&rq, &rk, &rv, &ro, &rl, &rg,
                                              &rdq, &rdk, &rdv, cs.heads,
                                              cs.kvHeads);
    lmcrt::device::synchronize();
    for (const std::string &message : compareWithNaive(
             Q.data, K.data, V.data, G.data, O.data, L.data, DQ.data, DK.data,
             DV.data, cs.b, cs.t, cs.heads, cs.kvHeads, cs.d, 2e-2))
      ADD_FAILURE() << message;
  }
}

// The entry points on bfloat16 activations (lmc-bf16-storage:
// lmcrt_gpu_attention_*_bf16_in and _bf16_in_out) against the _bf16 ones on
// the same values as float32, q, k and v views of one projection (row
// strides that take the kernels' 16-byte loads, and odd ones), O and the
// gradients views of padded buffers: the same kernels' arithmetic on the
// same values, so the same results, and bfloat16 results those rounded once
// (the emulation tests show it bit for bit; here ptxas may contract a
// multiply and an add differently in the two instantiations, so 1e-4 *
// (1 + |want|), plus one rounding, 2^-8 relative, for a bfloat16 result);
// the padding untouched.
TEST(GpuAttention, Bf16ActivationsAgainstBf16EntryPoints) {
  REQUIRE_GPU();
  struct Case {
    int64_t b, t, heads, d, kvHeads, pad;
  };
  // Tensor-core head sizes (64, 128) and float32-kernel ones (16, 32);
  // grouped- and multi-query attention; T across the tiles, T = 1.
  for (Case cs : {Case{2, 70, 2, 64, 2, 0}, Case{1, 130, 6, 128, 2, 0},
                  Case{1, 64, 4, 64, 1, 3}, Case{2, 1, 2, 128, 1, 1},
                  Case{2, 33, 2, 32, 2, 0}, Case{1, 140, 6, 16, 2, 1}}) {
    const int64_t C = cs.heads * cs.d, Ckv = cs.kvHeads * cs.d,
                  row = C + 2 * Ckv + cs.pad, rows = cs.b * cs.t,
                  outRow = C + 5, gradRow = C + 2 * Ckv + 3,
                  nl = cs.b * cs.heads * cs.t;
    const std::string what =
        "B " + std::to_string(cs.b) + " T " + std::to_string(cs.t) + " heads " +
        std::to_string(cs.heads) + " D " + std::to_string(cs.d) + " kv_heads " +
        std::to_string(cs.kvHeads) + " pad " + std::to_string(cs.pad);
    const uint16_t untouched = 0x1234;
    Bf16Buffer qkvB(rows * row), gB(rows * C), outB(rows * outRow),
        dB(rows * gradRow);
    Buffer qkvF(rows * row), gF(rows * C), outF(rows * C), lseF(nl),
        outIn(rows * C), lseIn(nl), lseIo(nl), outR(rows * C),
        dF(rows * gradRow), dIn(rows * gradRow);
    qkvB.fill(41);
    gB.fill(42);
    for (int64_t i = 0; i < qkvB.n; ++i)
      qkvF.data[i] = static_cast<float>(qkvB.at(i));
    for (int64_t i = 0; i < gB.n; ++i)
      gF.data[i] = static_cast<float>(gB.at(i));
    std::fill(outB.data, outB.data + outB.n, untouched);
    std::fill(dB.data, dB.data + dB.n, untouched);
    std::fill(dF.data, dF.data + dF.n, 7.0f);
    std::fill(dIn.data, dIn.data + dIn.n, 7.0f);
    // [B, T, width] at `offset` of rows `stride` elements apart.
    auto view = [&](float *base, int64_t offset, int64_t width,
                    int64_t stride) {
      return desc<3>(base, offset, {cs.b, cs.t, width},
                     {cs.t * stride, stride, 1});
    };
    auto lseView = [&](Buffer &l) {
      return desc<3>(l.data, 0, {cs.b, cs.heads, cs.t},
                     {cs.heads * cs.t, cs.t, 1});
    };
    // float32 values: the _bf16 entry points.
    auto qf = view(qkvF.data, 0, C, row), kf = view(qkvF.data, C, Ckv, row),
         vf = view(qkvF.data, C + Ckv, Ckv, row), gf = view(gF.data, 0, C, C),
         of = view(outF.data, 0, C, C), orf = view(outR.data, 0, C, C),
         dqf = view(dF.data, 0, C, gradRow),
         dkf = view(dF.data, C, Ckv, gradRow),
         dvf = view(dF.data, C + Ckv, Ckv, gradRow), lf = lseView(lseF);
    // bfloat16 values: _bf16_in and _bf16_in_out.
    auto qb = view(qkvB.asFloat(), 0, C, row),
         kb = view(qkvB.asFloat(), C, Ckv, row),
         vb = view(qkvB.asFloat(), C + Ckv, Ckv, row),
         gb = view(gB.asFloat(), 0, C, C),
         ob = view(outB.asFloat(), 0, C, outRow),
         oi = view(outIn.data, 0, C, C), li = lseView(lseIn),
         lo = lseView(lseIo), dqi = view(dIn.data, 0, C, gradRow),
         dki = view(dIn.data, C, Ckv, gradRow),
         dvi = view(dIn.data, C + Ckv, Ckv, gradRow),
         dqb = view(dB.asFloat(), 0, C, gradRow),
         dkb = view(dB.asFloat(), C, Ckv, gradRow),
         dvb = view(dB.asFloat(), C + Ckv, Ckv, gradRow);
    auto rqf = qf.ref(), rkf = kf.ref(), rvf = vf.ref(), rgf = gf.ref(),
         rof = of.ref(), rorf = orf.ref(), rdqf = dqf.ref(), rdkf = dkf.ref(),
         rdvf = dvf.ref(), rlf = lf.ref(), rqb = qb.ref(), rkb = kb.ref(),
         rvb = vb.ref(), rgb = gb.ref(), rob = ob.ref(), roi = oi.ref(),
         rli = li.ref(), rlo = lo.ref(), rdqi = dqi.ref(), rdki = dki.ref(),
         rdvi = dvi.ref(), rdqb = dqb.ref(), rdkb = dkb.ref(), rdvb = dvb.ref();
    _mlir_ciface_lmcrt_gpu_attention_fwd_bf16(&rqf, &rkf, &rvf, &rof, &rlf,
                                              cs.heads, cs.kvHeads);
    _mlir_ciface_lmcrt_gpu_attention_fwd_bf16_in(&rqb, &rkb, &rvb, &roi, &rli,
                                                 cs.heads, cs.kvHeads);
    _mlir_ciface_lmcrt_gpu_attention_fwd_bf16_in_out(
        &rqb, &rkb, &rvb, &rob, &rlo, cs.heads, cs.kvHeads);
    lmcrt::device::synchronize();
    // The backward passes read O as _bf16_in_out stored it.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t x = 0; x < C; ++x)
        outR.data[r * C + x] = static_cast<float>(outB.at(r * outRow + x));
    _mlir_ciface_lmcrt_gpu_attention_bwd_bf16(&rqf, &rkf, &rvf, &rorf, &rlf,
                                              &rgf, &rdqf, &rdkf, &rdvf,
                                              cs.heads, cs.kvHeads);
    _mlir_ciface_lmcrt_gpu_attention_bwd_bf16_in(&rqb, &rkb, &rvb, &rob, &rlf,
                                                 &rgb, &rdqi, &rdki, &rdvi,
                                                 cs.heads, cs.kvHeads);
    _mlir_ciface_lmcrt_gpu_attention_bwd_bf16_in_out(
        &rqb, &rkb, &rvb, &rob, &rlf, &rgb, &rdqb, &rdkb, &rdvb, cs.heads,
        cs.kvHeads);
    lmcrt::device::synchronize();
    int bad = 0;
    int64_t compared = 0, identical = 0;
    auto expectNear = [&](double got, double want, bool bf16, const char *name,
                          int64_t at) {
      ++compared;
      identical += bf16 ? got == static_cast<double>(lmcrt::fromBf16(
                                     lmcrt::toBf16(static_cast<float>(want))))
                        : got == want;
      const double tol = 1e-4 * (1 + std::fabs(want)) +
                         (bf16 ? std::ldexp(std::fabs(want), -8) : 0.0);
      if (!(std::fabs(got - want) <= tol) && bad++ < 5)
        ADD_FAILURE() << what << ": " << name << " " << at << " = " << got
                      << ", expected " << want;
    };
    for (int64_t i = 0; i < nl; ++i) {
      expectNear(lseIn.data[i], lseF.data[i], false, "_fwd_bf16_in lse", i);
      expectNear(lseIo.data[i], lseF.data[i], false, "_fwd_bf16_in_out lse", i);
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t x = 0; x < outRow; ++x) {
        if (x >= C) {
          EXPECT_EQ(outB.data[r * outRow + x], untouched)
              << what << ": O padding";
          continue;
        }
        expectNear(outIn.data[r * C + x], outF.data[r * C + x], false,
                   "_fwd_bf16_in O", r * C + x);
        expectNear(outB.at(r * outRow + x), outF.data[r * C + x], true,
                   "_fwd_bf16_in_out O", r * C + x);
      }
    for (int64_t i = 0; i < rows * gradRow; ++i) {
      if (i % gradRow >= C + 2 * Ckv) {
        EXPECT_EQ(dB.data[i], untouched) << what << ": gradient padding";
        EXPECT_EQ(dIn.data[i], 7.0f) << what << ": gradient padding";
        continue;
      }
      expectNear(dIn.data[i], dF.data[i], false, "_bwd_bf16_in gradient", i);
      expectNear(dB.at(i), dF.data[i], true, "_bwd_bf16_in_out gradient", i);
    }
    std::printf("%s: %lld of %lld results bit for bit\n", what.c_str(),
                static_cast<long long>(identical),
                static_cast<long long>(compared));
  }
}

/// The norms' GPU entry points (lmcrt_gpu_layer_norm_*_f32,
/// lmcrt_gpu_rms_norm_*_f32) against the ops' definition in double, as the
/// CPU lowering computes them: row lengths below, at and above a warp and
/// not multiples of it, 1 column, one row, gpt2's 768 over many rows (the
/// parameter gradients over several chunks).
TEST(GpuRowKernels, NormsAgainstDouble) {
  REQUIRE_GPU();
  struct Case {
    int64_t b, t, c;
  };
  const double eps = 1e-5;
  for (Case cs : {Case{2, 70, 768}, Case{1, 1, 1}, Case{3, 33, 100},
                  Case{1, 1, 31}, Case{4, 512, 64}}) {
    for (bool rms : {false, true}) {
      const int64_t rows = cs.b * cs.t, n = rows * cs.c;
      Buffer X(n), W(cs.c), B(cs.c), Y(n), DY(n), DX(n), DW(cs.c), DB(cs.c);
      fillRandom(X.data, n, 31);
      fillRandom(W.data, cs.c, 32);
      fillRandom(B.data, cs.c, 33);
      fillRandom(DY.data, n, 34);
      auto x = desc<3>(X.data, 0, {cs.b, cs.t, cs.c}, {cs.t * cs.c, cs.c, 1});
      auto y = desc<3>(Y.data, 0, {cs.b, cs.t, cs.c}, {cs.t * cs.c, cs.c, 1});
      auto dy =
          desc<3>(DY.data, 0, {cs.b, cs.t, cs.c}, {cs.t * cs.c, cs.c, 1});
      auto dx =
          desc<3>(DX.data, 0, {cs.b, cs.t, cs.c}, {cs.t * cs.c, cs.c, 1});
      auto w = desc<1>(W.data, 0, {cs.c}, {1}),
           b = desc<1>(B.data, 0, {cs.c}, {1}),
           dw = desc<1>(DW.data, 0, {cs.c}, {1}),
           db = desc<1>(DB.data, 0, {cs.c}, {1});
      auto rx = x.ref(), ry = y.ref(), rdy = dy.ref(), rdx = dx.ref(),
           rw = w.ref(), rb = b.ref(), rdw = dw.ref(), rdb = db.ref();
      if (rms) {
        _mlir_ciface_lmcrt_gpu_rms_norm_fwd_f32(&rx, &rw, &ry, eps);
        _mlir_ciface_lmcrt_gpu_rms_norm_bwd_f32(&rx, &rw, &rdy, &rdx, &rdw,
                                                eps);
      } else {
        _mlir_ciface_lmcrt_gpu_layer_norm_fwd_f32(&rx, &rw, &rb, &ry, eps);
        _mlir_ciface_lmcrt_gpu_layer_norm_bwd_f32(&rx, &rw, &rdy, &rdx, &rdw,
                                                  &rdb, eps);
      }
      lmcrt::device::synchronize();
      const std::string what = std::string(rms ? "rms_norm" : "layer_norm") +
                               " B " + std::to_string(cs.b) + " T " +
                               std::to_string(cs.t) + " C " +
                               std::to_string(cs.c);
      int bad = 0;
      auto expect = [&](double expected, float got, const char *name,
                        int64_t i) {
        if (std::fabs(got - expected) > 1e-4 * (1 + std::fabs(expected)) &&
            bad++ < 5)
          ADD_FAILURE() << what << ": " << name << "[" << i << "] = " << got
                        << ", expected " << expected;
      };
      std::vector<double> edw(cs.c, 0.0), edb(cs.c, 0.0);
      for (int64_t r = 0; r < rows; ++r) {
        const float *xr = X.data + r * cs.c, *gr = DY.data + r * cs.c;
        double sum = 0, sq = 0, sumG = 0, sumGX = 0;
        for (int64_t c = 0; c < cs.c; ++c)
          sum += xr[c];
        const double mean = rms ? 0.0 : sum / cs.c;
        for (int64_t c = 0; c < cs.c; ++c)
          sq += (xr[c] - mean) * (xr[c] - mean);
        const double rstd = 1.0 / std::sqrt(sq / cs.c + eps);
        for (int64_t c = 0; c < cs.c; ++c) {
          const double xh = (xr[c] - mean) * rstd, g = double(gr[c]) * W.data[c];
          expect(rms ? xh * W.data[c] : xh * W.data[c] + B.data[c],
                 Y.data[r * cs.c + c], "y", r * cs.c + c);
          sumG += g;
          sumGX += rms ? g * xr[c] : g * xh;
          edw[c] += gr[c] * xh;
          edb[c] += gr[c];
        }
        for (int64_t c = 0; c < cs.c; ++c) {
          const double xh = (xr[c] - mean) * rstd, g = double(gr[c]) * W.data[c];
          expect(rms ? rstd * (g - xr[c] * rstd * rstd * sumGX / cs.c)
                     : rstd * (g - sumG / cs.c - xh * sumGX / cs.c),
                 DX.data[r * cs.c + c], "dx", r * cs.c + c);
        }
      }
      for (int64_t c = 0; c < cs.c; ++c) {
        expect(edw[c], DW.data[c], "dw", c);
        if (!rms)
          expect(edb[c], DB.data[c], "db", c);
      }
    }
  }
}

/// The cross-entropy's GPU entry points against the definition in double:
/// gpt2's padded vocabulary (50,304 columns, 50,257 classes: the padding's
/// gradient exactly 0), a vocabulary below a block, one row.
TEST(GpuRowKernels, CrossEntropyAgainstDouble) {
  REQUIRE_GPU();
  struct Case {
    int64_t b, t, v, classes;
  };
  for (Case cs : {Case{2, 9, 50304, 50257}, Case{1, 1, 37, 37},
                  Case{3, 70, 256, 250}}) {
    const int64_t rows = cs.b * cs.t, n = rows * cs.v;
    Buffer L(n), D(n), Loss(1), DLoss(1);
    fillRandom(L.data, n, 41);
    for (int64_t i = 0; i < n; ++i)
      L.data[i] *= 8.0f;
    DLoss.data[0] = 0.5f;
    auto *targets = static_cast<int32_t *>(
        lmcrt::device::allocateShared(sizeof(int32_t) * rows));
    std::mt19937 rng(42);
    std::uniform_int_distribution<int64_t> any(0, cs.classes - 1);
    for (int64_t r = 0; r < rows; ++r)
      targets[r] = static_cast<int32_t>(r == 0 ? cs.classes - 1 : any(rng));
    auto l = desc<3>(L.data, 0, {cs.b, cs.t, cs.v}, {cs.t * cs.v, cs.v, 1});
    auto d = desc<3>(D.data, 0, {cs.b, cs.t, cs.v}, {cs.t * cs.v, cs.v, 1});
    // 0-d descriptors: pointers and offset only.
    struct Scalar {
      float *allocated, *aligned;
      int64_t offset;
    } loss{Loss.data, Loss.data, 0}, dloss{DLoss.data, DLoss.data, 0};
    struct {
      int32_t *allocated, *aligned;
      int64_t offset, sizes[2], strides[2];
    } t{targets, targets, 0, {cs.b, cs.t}, {cs.t, 1}};
    lmcrt_unranked_memref rl = l.ref(), rd = d.ref(), rloss{0, &loss},
                          rdloss{0, &dloss}, rt{2, &t};
    _mlir_ciface_lmcrt_gpu_cross_entropy_fwd_f32(&rl, &rt, &rloss, cs.classes);
    _mlir_ciface_lmcrt_gpu_cross_entropy_bwd_f32(&rl, &rt, &rdloss, &rd,
                                                 cs.classes);
    lmcrt::device::synchronize();
    const std::string what = "B " + std::to_string(cs.b) + " T " +
                             std::to_string(cs.t) + " V " +
                             std::to_string(cs.v);
    double total = 0;
    int bad = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = L.data + r * cs.v;
      double m = -INFINITY, s = 0;
      for (int64_t c = 0; c < cs.classes; ++c)
        m = std::max(m, double(row[c]));
      for (int64_t c = 0; c < cs.classes; ++c)
        s += std::exp(row[c] - m);
      total += std::log(s) + m - row[targets[r]];
      for (int64_t c = 0; c < cs.v; ++c) {
        const double expected =
            c >= cs.classes
                ? 0.0
                : (std::exp(row[c] - m) / s - (c == targets[r] ? 1.0 : 0.0)) *
                      0.5 / rows;
        const float got = D.data[r * cs.v + c];
        if ((c >= cs.classes ? got != 0.0f
                             : std::fabs(got - expected) > 1e-6 / rows) &&
            bad++ < 5)
          ADD_FAILURE() << what << ": dlogits[" << r << ", " << c
                        << "] = " << got << ", expected " << expected;
      }
    }
    EXPECT_NEAR(Loss.data[0], total / rows, 1e-4 * (1 + total / rows))
        << what;
    lmcrt::device::release(targets);
  }
}

TEST(GpuRowKernels, SoftmaxAgainstDouble) {
  REQUIRE_GPU();
  // Decomposed attention's [B, H, T, T] scores, the future masked to -inf:
  // gpt2's T 1024 and a T that is not a multiple of a warp.
  for (int64_t T : {int64_t(1024), int64_t(37)}) {
    const int64_t B = 2, H = 3, rows = B * H * T, n = rows * T;
    Buffer X(n), Y(n), DY(n), DX(n);
    fillRandom(X.data, n, 61);
    fillRandom(DY.data, n, 62);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = r % T + 1; j < T; ++j)
        X.data[r * T + j] = -INFINITY;
    std::vector<int64_t> sizes = {B, H, T, T},
                         strides = {H * T * T, T * T, T, 1};
    auto x = desc<4>(X.data, 0, sizes, strides),
         y = desc<4>(Y.data, 0, sizes, strides),
         dy = desc<4>(DY.data, 0, sizes, strides),
         dx = desc<4>(DX.data, 0, sizes, strides);
    auto rx = x.ref(), ry = y.ref(), rdy = dy.ref(), rdx = dx.ref();
    _mlir_ciface_lmcrt_gpu_softmax_fwd_f32(&rx, &ry);
    _mlir_ciface_lmcrt_gpu_softmax_bwd_f32(&ry, &rdy, &rdx);
    lmcrt::device::synchronize();
    int bad = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float *xr = X.data + r * T, *yr = Y.data + r * T,
                  *gr = DY.data + r * T, *dr = DX.data + r * T;
      double m = -INFINITY, s = 0, dot = 0;
      for (int64_t j = 0; j < T; ++j)
        m = std::max(m, double(xr[j]));
      for (int64_t j = 0; j < T; ++j)
        s += std::exp(xr[j] - m);
      for (int64_t j = 0; j < T; ++j)
        dot += double(yr[j]) * gr[j];
      for (int64_t j = 0; j < T; ++j) {
        const double p = std::exp(xr[j] - m) / s,
                     d = double(yr[j]) * (gr[j] - dot);
        if ((std::fabs(yr[j] - p) > 2e-6 * (1 + p) ||
             std::fabs(dr[j] - d) > 5e-6 * (1 + std::fabs(d))) &&
            bad++ < 5)
          ADD_FAILURE() << "T " << T << " row " << r << " key " << j << ": y "
                        << yr[j] << " (want " << p << "), dx " << dr[j]
                        << " (want " << d << ")";
      }
    }
  }
}

TEST(GpuSum, AgainstDouble) {
  REQUIRE_GPU();
  // One block (gpt2's 768), the one-block limit and one past it, gpt2's
  // [768, 2304] matrix (216 chunks), and a transposed view.
  struct Case {
    int64_t rows, cols;
    bool transposed;
  };
  for (Case cs :
       {Case{1, 768, false}, Case{1, 16384, false}, Case{1, 16385, false},
        Case{768, 2304, false}, Case{300, 70, true}}) {
    const int64_t n = cs.rows * cs.cols;
    Buffer X(n), Out(1);
    fillRandom(X.data, n, 51);
    auto x = cs.transposed
                 ? desc<2>(X.data, 0, {cs.rows, cs.cols}, {1, cs.rows})
                 : desc<2>(X.data, 0, {cs.rows, cs.cols}, {cs.cols, 1});
    struct Scalar {
      float *allocated, *aligned;
      int64_t offset;
    } out{Out.data, Out.data, 0};
    lmcrt_unranked_memref rx = x.ref(), rout{0, &out};
    for (int square : {0, 1}) {
      Out.data[0] = 99.0f;
      _mlir_ciface_lmcrt_gpu_sum_f32(&rx, &rout, square);
      lmcrt::device::synchronize();
      double want = 0, magnitude = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double v = X.data[i], term = square ? v * v : v;
        want += term;
        magnitude += std::fabs(term);
      }
      EXPECT_NEAR(Out.data[0], want, 2e-6 * magnitude)
          << "sum of " << cs.rows << " x " << cs.cols
          << (square ? " squares" : " values");
    }
  }
}

TEST(GpuEmbedding, GradientAgainstCpu) {
  REQUIRE_GPU();
  struct Case {
    int64_t b, t, c, v, offset;
  };
  // B T not a multiple of a block's 8 positions, odd C, C below a warp, a
  // block of rows of a larger table (ids outside it are skipped).
  for (Case cs : {Case{2, 70, 37, 11, 0}, Case{4, 1024, 64, 50, 0},
                  Case{3, 5, 7, 3, 0}, Case{2, 33, 96, 20, 10}}) {
    const int64_t n = cs.b * cs.t;
    Buffer G(n * cs.c), W(cs.v * cs.c);
    fillRandom(G.data, n * cs.c, 21);
    std::vector<float> cpu(cs.v * cs.c, 1.0f);
    std::fill(W.data, W.data + W.n, 1.0f); // overwritten
    // Ids from offset - 2 to offset + V + 1, with 0 and V - 1 (relative to
    // the offset) and many repeats.
    auto *ids = static_cast<int32_t *>(
        lmcrt::device::allocateShared(sizeof(int32_t) * n));
    std::mt19937 rng(22);
    std::uniform_int_distribution<int64_t> any(cs.offset - 2,
                                               cs.offset + cs.v + 1);
    for (int64_t i = 0; i < n; ++i)
      ids[i] = static_cast<int32_t>(i % 5 == 0   ? cs.offset
                                    : i % 5 == 1 ? cs.offset + cs.v - 1
                                                 : any(rng));
    auto g = desc<3>(G.data, 0, {cs.b, cs.t, cs.c}, {cs.t * cs.c, cs.c, 1});
    auto w = desc<2>(W.data, 0, {cs.v, cs.c}, {cs.c, 1});
    auto wc = desc<2>(cpu.data(), 0, {cs.v, cs.c}, {cs.c, 1});
    struct {
      int32_t *allocated, *aligned;
      int64_t offset, sizes[2], strides[2];
    } id{ids, ids, 0, {cs.b, cs.t}, {cs.t, 1}};
    lmcrt_unranked_memref rg = g.ref(), rw = w.ref(), rwc = wc.ref(),
                          ri{2, &id};
    _mlir_ciface_lmcrt_gpu_embedding_grad_f32(&rg, &ri, &rw, cs.offset);
    lmcrt::device::synchronize();
    _mlir_ciface_lmcrt_embedding_grad_f32(&rg, &ri, &rwc, cs.offset);
    // The GPU adds repeated ids in another order.
    int bad = 0;
    for (int64_t i = 0; i < cs.v * cs.c; ++i)
      if (std::fabs(W.data[i] - cpu[i]) > 1e-5f * (1 + std::fabs(cpu[i])) &&
          bad++ < 5)
        ADD_FAILURE() << "B " << cs.b << " T " << cs.t << " C " << cs.c
                      << ": table[" << i / cs.c << ", " << i % cs.c
                      << "] = " << W.data[i] << ", CPU " << cpu[i];
    // The accumulating form adds the same scatter again onto both tables.
    _mlir_ciface_lmcrt_gpu_embedding_grad_acc_f32(&rg, &ri, &rw, cs.offset);
    lmcrt::device::synchronize();
    _mlir_ciface_lmcrt_embedding_grad_acc_f32(&rg, &ri, &rwc, cs.offset);
    for (int64_t i = 0; i < cs.v * cs.c; ++i)
      if (std::fabs(W.data[i] - cpu[i]) > 1e-5f * (1 + std::fabs(cpu[i])) &&
          bad++ < 5)
        ADD_FAILURE() << "accumulating, B " << cs.b << " T " << cs.t << " C "
                      << cs.c << ": table[" << i / cs.c << ", " << i % cs.c
                      << "] = " << W.data[i] << ", CPU " << cpu[i];
    lmcrt::device::release(ids);
  }
}

TEST(MgpuWithoutGpu, LoadAndUnloadUnusedModule) {
  char image[] = "not a cubin";
  void *m = mgpuModuleLoad(image, sizeof(image));
  ASSERT_NE(m, nullptr);
  mgpuModuleUnload(m);
  mgpuModuleUnload(nullptr);
}

TEST(MgpuWithoutGpu, MemoryBeforeTheDeviceIsInitialised) {
  // Host memory until a device is active; freed by the same function.
  if (lmcrt::device::active())
    GTEST_SKIP() << "the GPU is already initialised";
  void *p = lmcrt::device::allocate(100);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 100);
  lmcrt::device::release(p);
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int status = RUN_ALL_TESTS();
  lmcrt::comm::finalize();
  return status;
}
