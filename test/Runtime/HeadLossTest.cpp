//===- HeadLossTest.cpp - The LM head's loss in row chunks ----------------===//
//
// lmcrt_head_cross_entropy_f32 against the unchunked computation in double
// (whole logits, softmax, the mean loss, dlogits, dx and dw by plain loops):
// chunks of 1 row, of a size that does not divide the rows, and of more than
// all rows; a [V, C] head read transposed and a [C, V] one; a padded
// vocabulary (classes < V: padding out of the loss, zero gradient); a seed
// other than 1; strided operands (an input whose rows are padded, a weight
// stored column-major); bfloat16 GEMMs (within bfloat16's rounding); and a
// target outside the classes, which is an error naming it.
//
//===----------------------------------------------------------------------===//

#include "lmc/Runtime/lmcrt.h"

#include "Core/Error.h"
#include "StridedMemref.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using lmcrt::test::columnMajor;
using lmcrt::test::describe;
using lmcrt::test::rowMajor;

struct Case {
  int64_t B = 2, T = 5, C = 12, V = 40;
  int64_t classes = 0; // 0: all V
  bool transposeB = true;
  int64_t rows = 4;
  float seed = 1.0f;
  int64_t xPad = 0;        // elements padding each row of x and dx
  bool wColumnMajor = false;
  int32_t precision = LMCRT_PRECISION_FP32;
};

struct Result {
  double loss = 0;
  std::vector<double> dx, dw; // packed row-major [R, C] and as w's shape
};

/// The unchunked loss and gradients in double.
Result reference(const Case &c, const std::vector<float> &x,
                 const std::vector<float> &w, const std::vector<int32_t> &t) {
  const int64_t R = c.B * c.T, N = c.classes ? c.classes : c.V;
  auto wAt = [&](int64_t v, int64_t k) -> double {
    return c.transposeB ? w[v * c.C + k] : w[k * c.V + v];
  };
  Result r;
  r.dx.assign(R * c.C, 0.0);
  r.dw.assign(c.V * c.C, 0.0);
  std::vector<double> logits(c.V), g(c.V);
  for (int64_t i = 0; i < R; ++i) {
    for (int64_t v = 0; v < c.V; ++v) {
      double s = 0;
      for (int64_t k = 0; k < c.C; ++k)
        s += double(x[i * c.C + k]) * wAt(v, k);
      logits[v] = s;
    }
    double mx = -INFINITY;
    for (int64_t v = 0; v < N; ++v)
      mx = std::max(mx, logits[v]);
    double sum = 0;
    for (int64_t v = 0; v < N; ++v)
      sum += std::exp(logits[v] - mx);
    r.loss += std::log(sum) + mx - logits[t[i]];
    for (int64_t v = 0; v < c.V; ++v)
      g[v] = v < N ? (std::exp(logits[v] - mx) / sum - (v == t[i])) *
                         c.seed / double(R)
                   : 0.0;
    for (int64_t k = 0; k < c.C; ++k)
      for (int64_t v = 0; v < c.V; ++v) {
        r.dx[i * c.C + k] += g[v] * wAt(v, k);
        double d = g[v] * x[i * c.C + k];
        if (c.transposeB)
          r.dw[v * c.C + k] += d;
        else
          r.dw[k * c.V + v] += d;
      }
  }
  r.loss /= double(R);
  return r;
}

/// Runs the kernel on `c` with random operands; returns the largest errors
/// against the reference relative to each result's largest magnitude.
void check(const Case &c, double tolerance) {
  const int64_t R = c.B * c.T, N = c.classes ? c.classes : c.V;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(R * c.C), w(c.V * c.C);
  for (float &v : x)
    v = normal(rng);
  for (float &v : w)
    v = 0.5f * normal(rng);
  std::vector<int32_t> t(R);
  for (int64_t i = 0; i < R; ++i)
    t[i] = static_cast<int32_t>((i * 7 + 3) % N);
  Result ref = reference(c, x, w, t);

  // The operands as the kernel sees them: x (and dx) with padded rows, w
  // row-major or column-major in its layout.
  std::vector<int64_t> xSizes = {c.B, c.T, c.C};
  std::vector<int64_t> xStrides = rowMajor(xSizes, c.xPad);
  std::vector<float> xBuf(c.B * c.T * (c.C + c.xPad), -7.0f),
      dxBuf(xBuf.size(), -7.0f);
  for (int64_t i = 0; i < R; ++i)
    for (int64_t k = 0; k < c.C; ++k)
      xBuf[i * (c.C + c.xPad) + k] = x[i * c.C + k];
  std::vector<int64_t> wSizes = c.transposeB ? std::vector<int64_t>{c.V, c.C}
                                             : std::vector<int64_t>{c.C, c.V};
  std::vector<int64_t> wStrides =
      c.wColumnMajor ? columnMajor(wSizes) : rowMajor(wSizes);
  std::vector<float> wBuf(w.size()), dwBuf(w.size(), -7.0f);
  for (int64_t i = 0; i < wSizes[0]; ++i)
    for (int64_t j = 0; j < wSizes[1]; ++j)
      wBuf[i * wStrides[0] + j * wStrides[1]] = w[i * wSizes[1] + j];
  float seed = c.seed, loss = -7.0f;

  std::vector<int64_t> dX, dW, dT, dS, dL, dDX, dDW;
  lmcrt_unranked_memref mX, mW, mT, mS, mL, mDX, mDW;
  describe(xBuf.data(), 0, xSizes, xStrides, dX, mX);
  describe(wBuf.data(), 0, wSizes, wStrides, dW, mW);
  describe(t.data(), 0, {c.B, c.T}, rowMajor({c.B, c.T}), dT, mT);
  describe(&seed, 0, {}, {}, dS, mS);
  describe(&loss, 0, {}, {}, dL, mL);
  describe(dxBuf.data(), 0, xSizes, xStrides, dDX, mDX);
  describe(dwBuf.data(), 0, wSizes, wStrides, dDW, mDW);
  _mlir_ciface_lmcrt_head_cross_entropy_f32(
      &mX, &mW, &mT, &mS, &mL, &mDX, &mDW, c.transposeB ? 1 : 0, c.classes,
      c.rows, c.precision);

  EXPECT_NEAR(loss, ref.loss, tolerance * std::fabs(ref.loss)) << "loss";
  double dxScale = 0, dwScale = 0, dxErr = 0, dwErr = 0;
  for (double v : ref.dx)
    dxScale = std::max(dxScale, std::fabs(v));
  for (double v : ref.dw)
    dwScale = std::max(dwScale, std::fabs(v));
  for (int64_t i = 0; i < R; ++i) {
    for (int64_t k = 0; k < c.C; ++k)
      dxErr = std::max(dxErr, std::fabs(dxBuf[i * (c.C + c.xPad) + k] -
                                        ref.dx[i * c.C + k]));
    for (int64_t k = c.C; k < c.C + c.xPad; ++k)
      EXPECT_EQ(dxBuf[i * (c.C + c.xPad) + k], -7.0f) << "dx padding written";
  }
  for (int64_t i = 0; i < wSizes[0]; ++i)
    for (int64_t j = 0; j < wSizes[1]; ++j) {
      float got = dwBuf[i * wStrides[0] + j * wStrides[1]];
      double want = ref.dw[i * wSizes[1] + j];
      dwErr = std::max(dwErr, std::fabs(got - want));
      // Padding rows/columns of the head: exactly zero gradient.
      int64_t v = c.transposeB ? i : j;
      if (v >= N) {
        EXPECT_EQ(got, 0.0f) << "padding column " << v;
      }
    }
  EXPECT_LE(dxErr, tolerance * dxScale) << "dx";
  EXPECT_LE(dwErr, tolerance * dwScale) << "dw";
}

TEST(HeadLoss, TransposedHeadChunksOfFour) { check(Case{}, 1e-5); }

TEST(HeadLoss, OneRowPerChunk) {
  Case c;
  c.rows = 1;
  check(c, 1e-5);
}

TEST(HeadLoss, ChunkLargerThanAllRows) {
  Case c;
  c.rows = 1000;
  check(c, 1e-5);
}

TEST(HeadLoss, UntiedHeadRowsNotDividing) {
  Case c;
  c.transposeB = false;
  c.rows = 3;
  c.T = 7;
  check(c, 1e-5);
}

TEST(HeadLoss, PaddedVocabularyAndSeed) {
  Case c;
  c.classes = 33;
  c.seed = 0.25f;
  c.rows = 3;
  check(c, 1e-5);
  c.transposeB = false;
  check(c, 1e-5);
}

TEST(HeadLoss, StridedOperands) {
  Case c;
  c.xPad = 3;
  c.wColumnMajor = true;
  c.rows = 4;
  check(c, 1e-5);
  c.transposeB = false;
  c.classes = 35;
  check(c, 1e-5);
}

TEST(HeadLoss, LargerVocabularyManyChunks) {
  Case c;
  c.B = 3;
  c.T = 33;
  c.C = 24;
  c.V = 517;
  c.classes = 500;
  c.rows = 16;
  check(c, 2e-5);
}

TEST(HeadLoss, Bfloat16Gemms) {
  // The weight rounded once for all chunks (on bfloat16 units), read in
  // both orientations: tied [V, C] and untied [C, V] heads, a weight stored
  // column-major, a padded vocabulary, and the weight gradient accumulated
  // over many chunks.
  Case c;
  c.precision = LMCRT_PRECISION_BF16;
  c.rows = 3;
  check(c, 3e-2);
  c.transposeB = false;
  check(c, 3e-2);
  c.wColumnMajor = true;
  c.classes = 35;
  check(c, 3e-2);
  Case many;
  many.precision = LMCRT_PRECISION_BF16;
  many.B = 3;
  many.T = 33;
  many.C = 24;
  many.V = 517;
  many.rows = 8;
  check(many, 3e-2);
}

TEST(HeadLoss, TargetOutsideTheClasses) {
  const int64_t C = 4, V = 8;
  std::vector<float> x(2 * C, 0.5f), w(V * C, 0.1f), dx(2 * C), dw(V * C);
  std::vector<int32_t> t = {1, 6};
  float seed = 1, loss = 0;
  std::vector<int64_t> dX, dW, dT, dS, dL, dDX, dDW;
  lmcrt_unranked_memref mX, mW, mT, mS, mL, mDX, mDW;
  describe(x.data(), 0, {1, 2, C}, rowMajor({1, 2, C}), dX, mX);
  describe(w.data(), 0, {V, C}, rowMajor({V, C}), dW, mW);
  describe(t.data(), 0, {1, 2}, rowMajor({1, 2}), dT, mT);
  describe(&seed, 0, {}, {}, dS, mS);
  describe(&loss, 0, {}, {}, dL, mL);
  describe(dx.data(), 0, {1, 2, C}, rowMajor({1, 2, C}), dDX, mDX);
  describe(dw.data(), 0, {V, C}, rowMajor({V, C}), dDW, mDW);
  try {
    _mlir_ciface_lmcrt_head_cross_entropy_f32(&mX, &mW, &mT, &mS, &mL, &mDX,
                                              &mDW, 1, 6, 1, 0);
    FAIL() << "no error";
  } catch (const lmcrt::RuntimeError &e) {
    EXPECT_EQ(std::string(e.what()), "head_cross_entropy: target 6 at row 1 "
                                     "is outside the 6 classes");
  }
}

} // namespace
