//===- RowKernelsEmulationTest.cpp - Row kernels, run on the host ---------===//
//
// Compiles lib/Runtime/Cuda/RowKernels.cu as host C++ and runs its kernels
// as RowKernels.cpp launches them (blocks of 256 threads: a warp per row for
// the norms and the softmax, a block per row for the cross-entropy, the
// parameter gradients over chunks of rows then over the chunks), one
// std::thread per GPU thread and the warp shuffles emulated
// (CudaEmulation.h), against references in double: LayerNorm and RMSNorm
// forward (also stored as bfloat16: the float32 values rounded once) and
// backward, the softmax and its gradient (causal attention
// scores with -inf over three leading dimensions; all -inf, NaN and +inf
// rows as on the CPU), the cross-entropy's mean loss and its gradient (also
// stored as bfloat16: the float32 values rounded once). Row
// lengths below, at and across 32 and 256 and not multiples of either, 1
// column, 1 row, rows over several chunks, strided 3-D views (padded rows, a
// column stride of 2), and the padded vocabulary (`classes` < V: padding
// outside the statistics, gradient exactly 0). lmcrt-gpu-tests compares the
// entry points with the CPU on a GPU.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#define __shared__ static
#include "../../lib/Runtime/Cuda/RowKernels.cu"
#undef __shared__

namespace {

constexpr unsigned kThreads = 256, kRowsPerBlock = kThreads / 32;

/// A [B, T, C] operand (B = 1 for 2-D cases) with `rowPad` elements after
/// each row, `batchPad` after each batch and columns `colStride` apart.
struct Layout {
  long long b, t, c;
  long long rowPad = 0, batchPad = 0, colStride = 1;
  long long rowStride() const { return (c - 1) * colStride + 1 + rowPad; }
  long long batchStride() const { return t * rowStride() + batchPad; }
  long long size() const { return b * batchStride(); }
  long long at(long long bi, long long ti, long long ci) const {
    return bi * batchStride() + ti * rowStride() + ci * colStride;
  }
  /// As RowKernels.cpp builds it for a rank-3 view.
  RowIndex index() const {
    return {b, t, 0, batchStride(), rowStride(), colStride};
  }
  std::string name() const {
    return "B " + std::to_string(b) + ", T " + std::to_string(t) + ", C " +
           std::to_string(c) + ", row pad " + std::to_string(rowPad) +
           ", column stride " + std::to_string(colStride);
  }
};

std::vector<Layout> normLayouts() {
  return {{1, 1, 1},        {1, 1, 33},  {1, 3, 32},
          {1, 9, 31},       {1, 17, 100}, {2, 3, 64, 5, 7},
          {2, 37, 45, 0, 3, 2}, {1, 70, 7}, {3, 1, 300}};
}

std::vector<float> randomVector(long long n, unsigned seed, float lo = -2.0f,
                                float hi = 2.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

void expectNear(double expected, float actual, double tol,
                const std::string &where) {
  EXPECT_NEAR(expected, actual, tol * (1.0 + std::abs(expected))) << where;
}

/// Runs a kernel over `rows` rows, a warp each.
void launchWarpRows(long long rows, const std::function<void()> &kernel) {
  launch(static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), 1,
         kThreads, kernel);
}

TEST(RowKernelsEmulated, NormsForwardAgainstDouble) {
  const float eps = 1e-5f;
  for (const Layout &l : normLayouts()) {
    for (bool rms : {false, true}) {
      const std::string where =
          (rms ? "rms_norm " : "layer_norm ") + l.name();
      std::vector<float> x = randomVector(l.size(), 1), y(l.size(), 99.0f),
                         w = randomVector(l.c, 2), b = randomVector(l.c, 3);
      // A non-zero mean, as residual streams have.
      for (float &v : x)
        v += 0.5f;
      const long long rows = l.b * l.t;
      const int C = static_cast<int>(l.c);
      const RowIndex ix = l.index();
      if (rms)
        launchWarpRows(rows, [&] {
          lmc_rms_norm_fwd(x.data(), ix, y.data(), ix, w.data(), 1, rows, C,
                           eps);
        });
      else
        launchWarpRows(rows, [&] {
          lmc_layer_norm_fwd(x.data(), ix, y.data(), ix, w.data(), 1, b.data(),
                             1, rows, C, eps);
        });
      for (long long bi = 0; bi < l.b; ++bi)
        for (long long ti = 0; ti < l.t; ++ti) {
          double sum = 0, sq = 0;
          for (long long c = 0; c < l.c; ++c)
            sum += x[l.at(bi, ti, c)];
          const double mean = rms ? 0.0 : sum / l.c;
          for (long long c = 0; c < l.c; ++c) {
            const double d = x[l.at(bi, ti, c)] - mean;
            sq += d * d;
          }
          const double rstd = 1.0 / std::sqrt(sq / l.c + eps);
          for (long long c = 0; c < l.c; ++c) {
            const double n = (x[l.at(bi, ti, c)] - mean) * rstd;
            const double expected = rms ? n * w[c] : n * w[c] + b[c];
            expectNear(expected, y[l.at(bi, ti, c)], 2e-5,
                       where + " at (" + std::to_string(bi) + ", " +
                           std::to_string(ti) + ", " + std::to_string(c) +
                           ")");
          }
        }
      // The output stored as bfloat16 (lmc-bf16-storage): the same float32
      // values, each rounded once to nearest even.
      const __nv_bfloat16 untouched = __float2bfloat16(99.0f);
      std::vector<__nv_bfloat16> yBf16(l.size(), untouched);
      if (rms)
        launchWarpRows(rows, [&] {
          lmc_rms_norm_fwd_bf16(x.data(), ix, yBf16.data(), ix, w.data(), 1,
                                rows, C, eps);
        });
      else
        launchWarpRows(rows, [&] {
          lmc_layer_norm_fwd_bf16(x.data(), ix, yBf16.data(), ix, w.data(), 1,
                                  b.data(), 1, rows, C, eps);
        });
      // Padding between rows is not written.
      for (long long i = 0; i < l.size(); ++i) {
        const long long bi = i / l.batchStride(),
                        r = i % l.batchStride() / l.rowStride(),
                        within = i % l.batchStride() % l.rowStride();
        (void)bi;
        if (r >= l.t || within % l.colStride != 0 ||
            within / l.colStride >= l.c) {
          EXPECT_EQ(y[i], 99.0f) << where << ": padding " << i << " written";
          EXPECT_EQ(yBf16[i].bits, untouched.bits)
              << where << ": bf16 padding " << i << " written";
        } else {
          EXPECT_EQ(yBf16[i].bits, __float2bfloat16(y[i]).bits)
              << where << ": bf16 output at " << i << " (float32 " << y[i]
              << ")";
        }
      }
    }
  }
}

TEST(RowKernelsEmulated, NormsBackwardAgainstDouble) {
  const float eps = 1e-5f;
  for (const Layout &l : normLayouts()) {
    for (bool rms : {false, true}) {
      const std::string where =
          (rms ? "rms_norm_grad " : "layer_norm_grad ") + l.name();
      std::vector<float> x = randomVector(l.size(), 4),
                         dy = randomVector(l.size(), 5),
                         dx(l.size(), 99.0f), w = randomVector(l.c, 6),
                         dw(l.c, 99.0f), db(l.c, 99.0f);
      for (float &v : x)
        v -= 0.3f;
      const long long rows = l.b * l.t;
      const int C = static_cast<int>(l.c);
      const RowIndex ix = l.index();
      // The chunking of RowKernels.cpp's normBackward.
      const long long chunkRows = std::max<long long>(32, (rows + 63) / 64);
      const long long chunks = (rows + chunkRows - 1) / chunkRows;
      std::vector<float> stats(2 * rows), partial(2 * chunks * l.c);
      const int centred = rms ? 0 : 1;
      launchWarpRows(rows, [&] {
        lmc_norm_bwd_input(x.data(), ix, dy.data(), ix, dx.data(), ix,
                           w.data(), 1, stats.data(), rows, C, eps, centred);
      });
      launch(static_cast<unsigned>((l.c + 31) / 32),
             static_cast<unsigned>(chunks), kThreads, [&] {
               lmc_norm_bwd_params_partial(x.data(), ix, dy.data(), ix,
                                           stats.data(), partial.data(), rows,
                                           chunkRows, C, centred);
             });
      launch(static_cast<unsigned>((l.c + kThreads - 1) / kThreads), 1,
             kThreads, [&] {
               lmc_norm_bwd_params_sum(partial.data(), chunks, C, dw.data(), 1,
                                       rms ? nullptr : db.data(), 1);
             });
      std::vector<double> edw(l.c, 0.0), edb(l.c, 0.0);
      for (long long bi = 0; bi < l.b; ++bi)
        for (long long ti = 0; ti < l.t; ++ti) {
          auto X = [&](long long c) { return double(x[l.at(bi, ti, c)]); };
          auto G = [&](long long c) { return double(dy[l.at(bi, ti, c)]); };
          double sum = 0, sq = 0, sumG = 0, sumGX = 0;
          for (long long c = 0; c < l.c; ++c)
            sum += X(c);
          const double mean = rms ? 0.0 : sum / l.c;
          for (long long c = 0; c < l.c; ++c)
            sq += (X(c) - mean) * (X(c) - mean);
          const double rstd = 1.0 / std::sqrt(sq / l.c + eps);
          for (long long c = 0; c < l.c; ++c) {
            const double g = G(c) * w[c], xh = (X(c) - mean) * rstd;
            sumG += g;
            sumGX += rms ? g * X(c) : g * xh;
            edw[c] += G(c) * xh;
            edb[c] += G(c);
          }
          for (long long c = 0; c < l.c; ++c) {
            const double g = G(c) * w[c], xh = (X(c) - mean) * rstd;
            const double expected =
                rms ? rstd * (g - X(c) * rstd * rstd * sumGX / l.c)
                    : rstd * (g - sumG / l.c - xh * sumGX / l.c);
            expectNear(expected, dx[l.at(bi, ti, c)], 5e-5,
                       where + " dx at (" + std::to_string(bi) + ", " +
                           std::to_string(ti) + ", " + std::to_string(c) +
                           ")");
          }
        }
      for (long long c = 0; c < l.c; ++c) {
        expectNear(edw[c], dw[c], 5e-5,
                   where + " dw[" + std::to_string(c) + "]");
        if (!rms)
          expectNear(edb[c], db[c], 5e-5,
                     where + " db[" + std::to_string(c) + "]");
        else
          EXPECT_EQ(db[c], 99.0f) << where << ": db written without a bias";
      }
    }
  }
}

/// The softmax of `x` over a row of `c` entries at `at(k)`, and the
/// gradient y * (dy - sum(dy * y)), in double.
struct SoftmaxRow {
  std::vector<double> y, dx;
};
template <typename At>
SoftmaxRow softmaxRow(const std::vector<float> &x, const std::vector<float> &dy,
                      long long c, At at) {
  double m = -INFINITY, s = 0, dot = 0;
  for (long long k = 0; k < c; ++k)
    m = std::max(m, double(x[at(k)]));
  for (long long k = 0; k < c; ++k)
    s += std::exp(double(x[at(k)]) - m);
  SoftmaxRow row;
  for (long long k = 0; k < c; ++k)
    row.y.push_back(std::exp(double(x[at(k)]) - m) / s);
  for (long long k = 0; k < c; ++k)
    dot += row.y[k] * dy[at(k)];
  for (long long k = 0; k < c; ++k)
    row.dx.push_back(row.y[k] * (dy[at(k)] - dot));
  return row;
}

TEST(RowKernelsEmulated, SoftmaxAgainstDouble) {
  std::vector<Layout> layouts = normLayouts();
  // gpt2's attention rows (T 1024), and rows of 2 and 3 warps' width.
  layouts.push_back({1, 3, 1024});
  layouts.push_back({2, 5, 70, 1, 2});
  for (const Layout &l : layouts) {
    const std::string where = "softmax " + l.name();
    // Spread wide enough that the online maximum moves within a lane.
    std::vector<float> x = randomVector(l.size(), 11, -8.0f, 8.0f),
                       dy = randomVector(l.size(), 12), y(l.size(), 99.0f),
                       dx(l.size(), 99.0f);
    const long long rows = l.b * l.t;
    const int C = static_cast<int>(l.c);
    const RowIndex ix = l.index();
    launchWarpRows(
        rows, [&] { lmc_softmax_fwd(x.data(), ix, y.data(), ix, rows, C); });
    // The gradient from the kernel's own output, as the backward pass has it.
    launchWarpRows(rows, [&] {
      lmc_softmax_bwd(y.data(), ix, dy.data(), ix, dx.data(), ix, rows, C);
    });
    for (long long bi = 0; bi < l.b; ++bi)
      for (long long ti = 0; ti < l.t; ++ti) {
        auto at = [&](long long c) { return l.at(bi, ti, c); };
        SoftmaxRow want = softmaxRow(x, dy, l.c, at);
        // dx from the float y the kernel wrote, in double.
        double dot = 0;
        for (long long c = 0; c < l.c; ++c)
          dot += double(y[at(c)]) * dy[at(c)];
        for (long long c = 0; c < l.c; ++c) {
          const std::string pos = " at (" + std::to_string(bi) + ", " +
                                  std::to_string(ti) + ", " +
                                  std::to_string(c) + ")";
          expectNear(want.y[c], y[at(c)], 2e-6, where + " y" + pos);
          expectNear(double(y[at(c)]) * (dy[at(c)] - dot), dx[at(c)], 5e-6,
                     where + " dx" + pos);
          expectNear(want.dx[c], dx[at(c)], 2e-5,
                     where + " dx (double y)" + pos);
        }
      }
    // Padding between rows is written by neither kernel.
    for (long long i = 0; i < l.size(); ++i) {
      const long long r = i % l.batchStride() / l.rowStride(),
                      within = i % l.batchStride() % l.rowStride();
      if (r >= l.t || within % l.colStride != 0 ||
          within / l.colStride >= l.c) {
        EXPECT_EQ(y[i], 99.0f) << where << ": padding " << i << " written";
        EXPECT_EQ(dx[i], 99.0f) << where << ": padding " << i << " written";
      }
    }
  }
}

TEST(RowKernelsEmulated, SoftmaxOfCausalScores) {
  // Decomposed attention's probabilities: [B, H, T, T] scores with the
  // future masked to -inf (lmc.causal_mask), rows over three leading
  // dimensions. Masked entries get exactly 0, and so does their gradient.
  const long long B = 2, H = 3, T = 37;
  const long long n = B * H * T * T, rows = B * H * T;
  std::vector<float> x = randomVector(n, 13, -6.0f, 6.0f),
                     dy = randomVector(n, 14), y(n, 99.0f), dx(n, 99.0f);
  for (long long r = 0; r < rows; ++r)
    for (long long j = r % T + 1; j < T; ++j)
      x[r * T + j] = -INFINITY;
  const RowIndex ix{H, T, H * T * T, T * T, T, 1};
  launchWarpRows(rows, [&] {
    lmc_softmax_fwd(x.data(), ix, y.data(), ix, rows, static_cast<int>(T));
  });
  launchWarpRows(rows, [&] {
    lmc_softmax_bwd(y.data(), ix, dy.data(), ix, dx.data(), ix, rows,
                    static_cast<int>(T));
  });
  for (long long r = 0; r < rows; ++r) {
    const long long i = r % T;
    SoftmaxRow want =
        softmaxRow(x, dy, T, [&](long long c) { return r * T + c; });
    for (long long j = 0; j < T; ++j) {
      const std::string where = "row " + std::to_string(r) + " (query " +
                                std::to_string(i) + "), key " +
                                std::to_string(j);
      if (j > i) {
        EXPECT_EQ(y[r * T + j], 0.0f) << where;
        EXPECT_EQ(dx[r * T + j], 0.0f) << where;
        continue;
      }
      expectNear(want.y[j], y[r * T + j], 2e-6, where);
      expectNear(want.dx[j], dx[r * T + j], 2e-5, where);
    }
  }
  // The first query sees only itself.
  EXPECT_EQ(y[0], 1.0f);
}

TEST(RowKernelsEmulated, SoftmaxInfiniteAndNaNRows) {
  // As the CPU lowering: a row all -inf is NaN (exp(-inf - -inf)), a NaN
  // entry makes its row NaN, +inf too; the other rows are untouched.
  const long long C = 45, rows = 4;
  std::vector<float> x = randomVector(rows * C, 15), y(rows * C, 99.0f);
  for (long long c = 0; c < C; ++c)
    x[c] = -INFINITY;
  x[1 * C + 40] = NAN;
  x[2 * C + 3] = INFINITY;
  const RowIndex ix{1, rows, 0, 0, C, 1};
  launchWarpRows(rows, [&] {
    lmc_softmax_fwd(x.data(), ix, y.data(), ix, rows, static_cast<int>(C));
  });
  for (long long c = 0; c < C; ++c) {
    EXPECT_TRUE(std::isnan(y[c])) << "all -inf, column " << c;
    EXPECT_TRUE(std::isnan(y[C + c])) << "a NaN, column " << c;
    EXPECT_TRUE(std::isnan(y[2 * C + c])) << "+inf, column " << c;
    EXPECT_FALSE(std::isnan(y[3 * C + c])) << "finite, column " << c;
  }
}

struct CrossEntropyCase {
  Layout logits;
  long long classes;
};

std::vector<CrossEntropyCase> crossEntropyCases() {
  return {{{1, 1, 1}, 1},       {{1, 1, 37}, 37},       {{1, 5, 256}, 256},
          {{2, 3, 300}, 300},   {{1, 4, 1000}, 997},    {{2, 3, 320, 3, 5}, 301},
          {{1, 2, 64, 0, 0, 2}, 50}, {{3, 1, 257}, 1}};
}

/// Targets in [0, classes): 0, classes - 1, then at random.
std::vector<int> targetsFor(long long rows, long long classes, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<long long> any(0, classes - 1);
  std::vector<int> t(rows);
  for (long long r = 0; r < rows; ++r)
    t[r] = static_cast<int>(r == 0 ? 0 : r == 1 ? classes - 1 : any(rng));
  return t;
}

TEST(RowKernelsEmulated, CrossEntropyAgainstDouble) {
  for (const CrossEntropyCase &cs : crossEntropyCases()) {
    const Layout &l = cs.logits;
    const std::string where =
        l.name() + ", classes " + std::to_string(cs.classes);
    // Logits spread wide enough that the online maximum moves; padding
    // columns hold large values that would dominate if they were counted.
    std::vector<float> logits = randomVector(l.size(), 7, -8.0f, 8.0f);
    for (long long bi = 0; bi < l.b; ++bi)
      for (long long ti = 0; ti < l.t; ++ti)
        for (long long c = cs.classes; c < l.c; ++c)
          logits[l.at(bi, ti, c)] = 50.0f;
    const long long rows = l.b * l.t;
    std::vector<int> targets = targetsFor(rows, cs.classes, 8);
    // Targets [B, T] packed.
    const RowIndex ti{l.b, l.t, 0, l.t, 1, 0};
    const RowIndex li = l.index();
    std::vector<float> rowLoss(rows, 99.0f);
    float loss = 99.0f;
    launch(static_cast<unsigned>(rows), 1, kThreads, [&] {
      lmc_cross_entropy_fwd(logits.data(), li, targets.data(), ti,
                            rowLoss.data(), cs.classes);
    });
    launch(1, 1, kThreads,
           [&] { lmc_cross_entropy_mean(rowLoss.data(), rows, &loss); });
    const float dloss = 0.7f;
    std::vector<float> dlogits(l.size(), 99.0f);
    launch(static_cast<unsigned>(rows), 1, kThreads, [&] {
      lmc_cross_entropy_bwd(logits.data(), li, targets.data(), ti, &dloss,
                            dlogits.data(), li, rows, l.c, cs.classes);
    });
    double total = 0;
    for (long long bi = 0; bi < l.b; ++bi)
      for (long long t = 0; t < l.t; ++t) {
        const long long r = bi * l.t + t;
        double m = -INFINITY, s = 0;
        for (long long c = 0; c < cs.classes; ++c)
          m = std::max(m, double(logits[l.at(bi, t, c)]));
        for (long long c = 0; c < cs.classes; ++c)
          s += std::exp(logits[l.at(bi, t, c)] - m);
        const double nll =
            std::log(s) + m - logits[l.at(bi, t, targets[r])];
        total += nll;
        expectNear(nll, rowLoss[r], 2e-6,
                   where + " row loss " + std::to_string(r));
        for (long long c = 0; c < l.c; ++c) {
          const float got = dlogits[l.at(bi, t, c)];
          if (c >= cs.classes) {
            EXPECT_EQ(got, 0.0f) << where << ": padding column " << c
                                 << " of row " << r;
            continue;
          }
          const double p = std::exp(logits[l.at(bi, t, c)] - m) / s;
          const double expected =
              (p - (c == targets[r] ? 1.0 : 0.0)) * dloss / rows;
          EXPECT_NEAR(expected, got, 2e-6 * dloss / rows + 1e-9)
              << where << ": dlogits (" << r << ", " << c << ")";
        }
      }
    expectNear(total / rows, loss, 2e-6, where + " mean loss");
    // The gradient stored as bfloat16 (lmc-bf16-storage): the same float32
    // values, each rounded once to nearest even.
    const __nv_bfloat16 untouched = __float2bfloat16(99.0f);
    std::vector<__nv_bfloat16> dlogitsBf16(l.size(), untouched);
    launch(static_cast<unsigned>(rows), 1, kThreads, [&] {
      lmc_cross_entropy_bwd_bf16(logits.data(), li, targets.data(), ti, &dloss,
                                 dlogitsBf16.data(), li, rows, l.c, cs.classes);
    });
    // Between the rows of a strided view nothing is written.
    for (long long i = 0; i < l.size(); ++i) {
      const long long within = i % l.batchStride() % l.rowStride();
      const long long r = i % l.batchStride() / l.rowStride();
      if (r >= l.t || within % l.colStride != 0 ||
          within / l.colStride >= l.c) {
        EXPECT_EQ(dlogits[i], 99.0f) << where << ": padding " << i;
        EXPECT_EQ(dlogitsBf16[i].bits, untouched.bits)
            << where << ": bf16 padding " << i;
      } else {
        EXPECT_EQ(dlogitsBf16[i].bits, __float2bfloat16(dlogits[i]).bits)
            << where << ": bf16 dlogits at " << i << " (float32 " << dlogits[i]
            << ")";
      }
    }
  }
}

TEST(RowKernelsEmulated, CrossEntropyInfiniteAndNaNLogits) {
  // Row 0: -inf logits first and in every thread's first columns (masked
  // classes), then finite ones: the -inf columns add 0 and get gradient
  // p = 0 - onehot. Row 1: one NaN logit: the row's loss and every
  // gradient of the row are NaN, as on the CPU (the max and sum propagate
  // it), and so is the mean.
  const long long V = 300, rows = 2;
  std::vector<float> logits = randomVector(rows * V, 10, -3.0f, 3.0f);
  for (long long c = 0; c < 260; ++c)
    logits[c] = -INFINITY;
  logits[V + 123] = NAN;
  std::vector<int> targets = {280, 5};
  const RowIndex li{1, rows, 0, 0, V, 1}, ti{1, rows, 0, 0, 1, 0};
  std::vector<float> rowLoss(rows), dlogits(rows * V);
  float loss = 0.0f;
  const float dloss = 1.0f;
  launch(rows, 1, kThreads, [&] {
    lmc_cross_entropy_fwd(logits.data(), li, targets.data(), ti,
                          rowLoss.data(), V);
  });
  launch(1, 1, kThreads,
         [&] { lmc_cross_entropy_mean(rowLoss.data(), rows, &loss); });
  launch(rows, 1, kThreads, [&] {
    lmc_cross_entropy_bwd(logits.data(), li, targets.data(), ti, &dloss,
                          dlogits.data(), li, rows, V, V);
  });
  double m = -INFINITY, s = 0;
  for (long long c = 260; c < V; ++c)
    m = std::max(m, double(logits[c]));
  for (long long c = 260; c < V; ++c)
    s += std::exp(logits[c] - m);
  expectNear(std::log(s) + m - logits[280], rowLoss[0], 2e-6, "row 0 loss");
  for (long long c = 0; c < V; ++c) {
    const double p = c < 260 ? 0.0 : std::exp(logits[c] - m) / s;
    EXPECT_NEAR((p - (c == 280 ? 1.0 : 0.0)) / rows, dlogits[c], 1e-6)
        << "row 0 column " << c;
  }
  EXPECT_TRUE(std::isnan(rowLoss[1]));
  EXPECT_TRUE(std::isnan(loss));
  for (long long c = 0; c < V; ++c)
    EXPECT_TRUE(std::isnan(dlogits[V + c])) << "row 1 column " << c;
}

TEST(RowKernelsEmulated, MeanOfManyRowsInFixedOrder) {
  // More rows than threads: each thread adds a strided slice, then a tree.
  const long long rows = 1000;
  std::vector<float> loss = randomVector(rows, 9, 0.0f, 10.0f);
  float out = 0.0f, again = 1.0f;
  launch(1, 1, kThreads,
         [&] { lmc_cross_entropy_mean(loss.data(), rows, &out); });
  launch(1, 1, kThreads,
         [&] { lmc_cross_entropy_mean(loss.data(), rows, &again); });
  double total = 0;
  for (float v : loss)
    total += v;
  expectNear(total / rows, out, 1e-6, "mean of 1000 rows");
  EXPECT_EQ(out, again) << "the sum's order depends on the schedule";
}

} // namespace

int main(int argc, char **argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
