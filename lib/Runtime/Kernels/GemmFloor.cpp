//===- GemmFloor.cpp - A GEMM shape timed alone ---------------------------===//
//
// See GemmFloor.h. The operands are fresh packed buffers of the shape (A
// stored [batch, K, M] when read transposed, B [N, K] likewise, B without the
// batch dimensions when the step shares it), filled with small values.
//
//===----------------------------------------------------------------------===//

#include "Kernels/GemmFloor.h"
#include "Kernels/Gemm.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace lmcrt::kernels {
namespace {

/// An owned packed buffer and the ranked descriptor the runtime reads.
struct Operand {
  std::vector<float> data;
  std::vector<int64_t>
      descriptor; // {allocated, aligned, offset, sizes, strides}
  lmcrt_unranked_memref memref;

  explicit Operand(std::vector<int64_t> sizes) {
    int64_t n = 1;
    for (int64_t s : sizes)
      n *= s;
    data.resize(static_cast<size_t>(n));
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = 0.01f * static_cast<float>(static_cast<int>(i % 199) - 99);
    const size_t rank = sizes.size();
    descriptor.assign(3 + 2 * rank, 0);
    auto *pointers = reinterpret_cast<float **>(descriptor.data());
    pointers[0] = pointers[1] = data.data();
    int64_t stride = 1;
    for (size_t d = rank; d-- > 0;) {
      descriptor[3 + d] = sizes[d];
      descriptor[3 + rank + d] = stride;
      stride *= sizes[d];
    }
    memref = {static_cast<int64_t>(rank), descriptor.data()};
  }
};

} // namespace

double gemmAloneSeconds(const GemmShape &shape) {
  const bool batched = shape.batch > 1;
  auto dims = [&](int64_t rows, int64_t cols, bool withBatch) {
    std::vector<int64_t> sizes;
    if (withBatch)
      sizes.push_back(shape.batch);
    sizes.push_back(rows);
    sizes.push_back(cols);
    return sizes;
  };
  Operand a(dims(shape.transposeA ? shape.k : shape.m,
                 shape.transposeA ? shape.m : shape.k, batched));
  Operand b(dims(shape.transposeB ? shape.n : shape.k,
                 shape.transposeB ? shape.k : shape.n,
                 batched && !shape.sharedB));
  Operand c(dims(shape.m, shape.n, batched));
  auto once = [&] {
    auto start = std::chrono::steady_clock::now();
    cpuGemm(&a.memref, &b.memref, &c.memref, shape.transposeA, shape.transposeB,
            shape.precision);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  once();
  double first = once();
  const int reps =
      std::clamp(static_cast<int>(0.3 / std::max(first, 1e-9)), 3, 11);
  std::vector<double> times;
  for (int r = 0; r < reps; ++r)
    times.push_back(once());
  std::nth_element(times.begin(), times.begin() + reps / 2, times.end());
  return times[reps / 2];
}

} // namespace lmcrt::kernels
