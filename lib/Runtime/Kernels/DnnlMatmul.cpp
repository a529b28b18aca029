//===- DnnlMatmul.cpp - bfloat16 GEMMs on oneDNN's matmul primitive -------===//
//
// See DnnlMatmul.h. The operands are converted here (not by oneDNN) so that
// the rounding is the one the emulation and the GPU use, and so that a
// transposed A, which oneDNN's bfloat16 kernels read slowly, arrives packed
// row-major. B keeps its orientation (packed K x N, or packed N x K read
// transposed), which its kernels take at full speed.
//
//===----------------------------------------------------------------------===//

#include "Kernels/DnnlMatmul.h"
#include "Kernels/Dnnl.h"
#include "Kernels/VectorMath.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <vector>

namespace lmcrt::kernels {
namespace {

/// Rounds n contiguous floats; cloned for the vector widths the CPU may
/// have and picked at load time.
LMCRT_VECTOR_CLONES void convertRow(const float *src, uint16_t *dst,
                                    int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = toBf16(src[i]);
}

/// Below this many elements a conversion stays on the calling thread.
constexpr int64_t kParallelElements = 1 << 15;

} // namespace

void convertToBf16(const StridedMatrix &src, uint16_t *dst) {
  const int64_t rows = src.rows, cols = src.cols;
  if (rows <= 0 || cols <= 0)
    return;
  // Strides of dimensions of size 1 do not matter.
  const int64_t cs = cols == 1 ? 1 : src.colStride;
  const int64_t rs = rows == 1 ? cols : src.rowStride;
  const bool parallel = rows * cols >= kParallelElements;
  const float *in = src.data;
  if (cs == 1 && rs == cols) {
    // Contiguous: chunks of one flat row.
    const int64_t total = rows * cols, chunk = 1 << 14;
    const int64_t chunks = (total + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t c = 0; c < chunks; ++c)
      convertRow(in + c * chunk, dst + c * chunk,
                 std::min(chunk, total - c * chunk));
    return;
  }
  if (cs == 1) {
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t i = 0; i < rows; ++i)
      convertRow(in + i * rs, dst + i * cols, cols);
    return;
  }
  if (rs == 1) {
    // Column-major: a transpose, in tiles that stay in the L1 cache.
    constexpr int64_t T = 64;
    const int64_t rowTiles = (rows + T - 1) / T, colTiles = (cols + T - 1) / T;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
    for (int64_t ti = 0; ti < rowTiles; ++ti)
      for (int64_t tj = 0; tj < colTiles; ++tj) {
        const int64_t i1 = std::min(rows, (ti + 1) * T);
        const int64_t j1 = std::min(cols, (tj + 1) * T);
        for (int64_t i = ti * T; i < i1; ++i)
          for (int64_t j = tj * T; j < j1; ++j)
            dst[i * cols + j] = toBf16(in[i + j * cs]);
      }
    return;
  }
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      dst[i * cols + j] = toBf16(in[i * rs + j * cs]);
}

#if LMCRT_DNNL_MATMUL

namespace {

/// One cached primitive and the memory descriptors it was made for.
struct Primitive {
  dnnl_primitive_t primitive = nullptr;
  dnnl_memory_desc_t a, b, c;
};

/// The engine, the stream and the primitives, made on first use and kept.
class MatmulCache {
public:
  static MatmulCache &get() {
    static MatmulCache *cache = new MatmulCache; // outlives exit handlers
    return *cache;
  }

  /// The primitive for C (M x N, row stride ldc) = A (M x K, packed) B
  /// (K x N, packed; stored N x K when bTransposed), or C += A B when
  /// `accumulate` (a sum post-op); nullptr when oneDNN has no bfloat16
  /// kernel for it.
  const Primitive *lookup(int64_t m, int64_t n, int64_t k, bool bTransposed,
                          int64_t ldc, bool accumulate) {
    std::lock_guard<std::mutex> lock(mutex);
    Key key{m, n, k, bTransposed, ldc, accumulate};
    auto it = primitives.find(key);
    if (it != primitives.end())
      return it->second.primitive ? &it->second : nullptr;
    Primitive &p = primitives[key];
    create(p, m, n, k, bTransposed, ldc, accumulate);
    return p.primitive ? &p : nullptr;
  }

  void executed() {
    std::lock_guard<std::mutex> lock(mutex);
    ++executions;
  }

  MatmulCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex);
    MatmulCacheStats s;
    s.executions = executions;
    for (const auto &[key, p] : primitives)
      s.primitives += p.primitive != nullptr;
    for (const std::string &name : implementations)
      s.implementations += (s.implementations.empty() ? "" : ", ") + name;
    return s;
  }

  dnnl_engine_t engine = nullptr;

private:
  using Key = std::tuple<int64_t, int64_t, int64_t, bool, int64_t, bool>;

  MatmulCache() {
    const DnnlApi &api = dnnl();
    if (api.engineCreate(&engine, dnnl_cpu, 0) != dnnl_success) {
      std::fprintf(stderr, "lmcrt: oneDNN: cannot create a CPU engine\n");
      std::abort();
    }
  }

  void create(Primitive &p, int64_t m, int64_t n, int64_t k, bool bTransposed,
              int64_t ldc, bool accumulate) {
    const DnnlApi &api = dnnl();
    dnnl_dims_t aDims = {m, k}, bDims = {k, n}, cDims = {m, n};
    dnnl_dims_t aStrides = {k, 1}, cStrides = {ldc, 1};
    dnnl_dims_t bStrides = {bTransposed ? 1 : n, bTransposed ? k : 1};
    if (api.memoryDescInitByStrides(&p.a, 2, aDims, dnnl_bf16, aStrides) !=
            dnnl_success ||
        api.memoryDescInitByStrides(&p.b, 2, bDims, dnnl_bf16, bStrides) !=
            dnnl_success ||
        api.memoryDescInitByStrides(&p.c, 2, cDims, dnnl_f32, cStrides) !=
            dnnl_success)
      return;
    dnnl_matmul_desc_t desc;
    if (api.matmulDescInit(&desc, &p.a, &p.b, nullptr, &p.c) != dnnl_success)
      return;
    // Accumulation: a sum post-op with scale 1 (C = A B + C, the sum in
    // float32, as sgemm with beta 1 computes it).
    dnnl_primitive_attr_t attr = nullptr;
    if (accumulate) {
      dnnl_post_ops_t postOps = nullptr;
      bool made = api.primitiveAttrCreate(&attr) == dnnl_success &&
                  api.postOpsCreate(&postOps) == dnnl_success &&
                  api.postOpsAppendSum(postOps, 1.0f) == dnnl_success &&
                  api.primitiveAttrSetPostOps(attr, postOps) == dnnl_success;
      if (postOps)
        api.postOpsDestroy(postOps);
      if (!made) {
        if (attr)
          api.primitiveAttrDestroy(attr);
        return;
      }
    }
    dnnl_primitive_desc_t pd = nullptr;
    dnnl_status_t made =
        api.primitiveDescCreate(&pd, &desc, attr, engine, nullptr);
    if (attr)
      api.primitiveAttrDestroy(attr);
    if (made != dnnl_success)
      return;
    const char *impl = nullptr;
    api.primitiveDescQuery(pd, dnnl_query_impl_info_str, 0, &impl);
    std::string name = impl ? impl : "?";
    // A reference implementation is no bfloat16 hardware: emulate instead.
    if (name.rfind("ref", 0) != 0 &&
        api.primitiveCreate(&p.primitive, pd) == dnnl_success)
      implementations.insert(name);
    else
      p.primitive = nullptr;
    api.primitiveDescDestroy(pd);
  }

  std::mutex mutex;
  std::map<Key, Primitive> primitives;
  std::set<std::string> implementations;
  int64_t executions = 0;
};

/// Per thread: the stream its GEMMs run on (a oneDNN stream is not for
/// concurrent use) and the bfloat16 copies of the operands, grown to the
/// largest GEMM and kept (never destroyed: exit handlers still run GEMMs,
/// GemmFloor.cpp).
struct PerThread {
  dnnl_stream_t stream = nullptr;
  std::vector<uint16_t> a, b;
};

PerThread &perThread(dnnl_engine_t engine) {
  thread_local PerThread *state = nullptr;
  if (!state) {
    state = new PerThread;
    if (dnnl().streamCreate(&state->stream, engine,
                            dnnl_stream_default_flags) != dnnl_success) {
      std::fprintf(stderr, "lmcrt: oneDNN: cannot create a CPU stream\n");
      std::abort();
    }
  }
  return *state;
}

/// Runs the matmul primitive `p` on bfloat16 A and B and float C on this
/// thread's stream; a oneDNN failure ends the job, naming `what`.
void runMatmul(MatmulCache &cache, const Primitive &p, PerThread &buffers,
               const void *aBits, const void *bBits, float *c,
               const char *what) {
  const DnnlApi &api = dnnl();
  dnnl_memory_t ma = nullptr, mb = nullptr, mc = nullptr;
  bool ok = api.memoryCreate(&ma, &p.a, cache.engine,
                             const_cast<void *>(aBits)) == dnnl_success &&
            api.memoryCreate(&mb, &p.b, cache.engine,
                             const_cast<void *>(bBits)) == dnnl_success &&
            api.memoryCreate(&mc, &p.c, cache.engine, c) == dnnl_success;
  if (ok) {
    dnnl_exec_arg_t args[] = {
        {DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    ok = api.primitiveExecute(p.primitive, buffers.stream, 3, args) ==
             dnnl_success &&
         api.streamWait(buffers.stream) == dnnl_success;
  }
  for (dnnl_memory_t mem : {ma, mb, mc})
    if (mem)
      api.memoryDestroy(mem);
  if (!ok) {
    std::fprintf(stderr, "lmcrt: %s: oneDNN's bf16 matmul failed\n", what);
    std::abort();
  }
  cache.executed();
}

} // namespace

bool bf16Available() {
  static const bool available = [] {
    const DnnlApi &api = dnnl();
    dnnl_cpu_isa_t isa = api.effectiveCpuIsa();
    bool has =
        (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    const char *profile = std::getenv("LMCRT_PROFILE");
    if (!has && profile && std::strcmp(profile, "1") == 0)
      std::fprintf(stderr,
                   "lmcrt profile: bf16 GEMMs emulated on dnnl_sgemm (oneDNN "
                   "ISA %s has no AVX512-BF16)\n",
                   api.cpuIsaToString(isa));
    return has;
  }();
  return available;
}

bool bf16Gemm(const StridedMatrix &a, const StridedMatrix &b, float *c,
              int64_t ldc, bool accumulate, const uint16_t *bRounded) {
  const int64_t m = a.rows, k = a.cols, n = b.cols;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i)
        std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return true;
  }
  // B keeps its orientation when its rows or its columns are contiguous.
  const bool bTransposed =
      n > 1 && b.colStride != 1 && (k == 1 || b.rowStride == 1);
  MatmulCache &cache = MatmulCache::get();
  const Primitive *p = cache.lookup(m, n, k, bTransposed, ldc, accumulate);
  if (!p)
    return false;

  PerThread &buffers = perThread(cache.engine);
  buffers.a.resize(static_cast<size_t>(m * k));
  convertToBf16(a, buffers.a.data());
  if (!bRounded) {
    buffers.b.resize(static_cast<size_t>(k * n));
    if (bTransposed)
      convertToBf16({b.data, n, k, b.colStride, b.rowStride}, buffers.b.data());
    else
      convertToBf16(b, buffers.b.data());
  }
  void *bBits = bRounded ? const_cast<uint16_t *>(bRounded) : buffers.b.data();

  runMatmul(cache, *p, buffers, buffers.a.data(), bBits, c, "gemm");
  return true;
}

namespace {

/// Copies `src` packed row-major into `dst` (no rounding: already bfloat16).
void packBf16(const StridedBf16Matrix &src, uint16_t *dst) {
  const bool parallel = src.rows * src.cols >= kParallelElements;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < src.rows; ++i)
    for (int64_t j = 0; j < src.cols; ++j)
      dst[i * src.cols + j] = src.data[i * src.rowStride + j * src.colStride];
}

/// True when `m` lies row-major and packed (dimensions of size 1 may have
/// any stride).
bool packedRowMajor(const StridedBf16Matrix &m) {
  return (m.cols == 1 || m.colStride == 1) &&
         (m.rows == 1 || m.rowStride == m.cols);
}

} // namespace

bool bf16GemmStored(const StridedBf16Matrix &a, const StridedBf16Matrix &b,
                    float *c, int64_t ldc) {
  const int64_t m = a.rows, k = a.cols, n = b.cols;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return true;
  }
  const bool bTransposed =
      n > 1 && b.colStride != 1 && (k == 1 || b.rowStride == 1);
  MatmulCache &cache = MatmulCache::get();
  const Primitive *p =
      cache.lookup(m, n, k, bTransposed, ldc, /*accumulate=*/false);
  if (!p)
    return false;
  PerThread &buffers = perThread(cache.engine);
  const uint16_t *aBits = a.data;
  if (!packedRowMajor(a)) {
    buffers.a.resize(static_cast<size_t>(m * k));
    packBf16(a, buffers.a.data());
    aBits = buffers.a.data();
  }
  // B in the orientation it is stored in.
  StridedBf16Matrix stored =
      bTransposed ? StridedBf16Matrix{b.data, n, k, b.colStride, b.rowStride}
                  : b;
  const uint16_t *bBits = stored.data;
  if (!packedRowMajor(stored)) {
    buffers.b.resize(static_cast<size_t>(k * n));
    packBf16(stored, buffers.b.data());
    bBits = buffers.b.data();
  }
  runMatmul(cache, *p, buffers, aBits, bBits, c, "gemm_bf16");
  return true;
}

MatmulCacheStats matmulCacheStats() { return MatmulCache::get().stats(); }

#else // !LMCRT_DNNL_MATMUL

bool bf16Available() {
  const char *profile = std::getenv("LMCRT_PROFILE");
  static const bool said =
      profile && std::strcmp(profile, "1") == 0 &&
      std::fprintf(stderr, "lmcrt profile: bf16 GEMMs emulated on dnnl_sgemm "
                           "(built against oneDNN 3, not 2)\n") > 0;
  (void)said;
  return false;
}

bool bf16Gemm(const StridedMatrix &, const StridedMatrix &, float *, int64_t,
              bool, const uint16_t *) {
  return false;
}

bool bf16GemmStored(const StridedBf16Matrix &, const StridedBf16Matrix &,
                    float *, int64_t) {
  return false;
}

MatmulCacheStats matmulCacheStats() { return {}; }

#endif // LMCRT_DNNL_MATMUL

} // namespace lmcrt::kernels
