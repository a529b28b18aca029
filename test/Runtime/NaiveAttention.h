//===- NaiveAttention.h - Causal attention in double, for tests -*- C++ -*-===//
//
// The reference of the attention kernels' tests: one (batch, head) of
// causal attention with scale 1/sqrt(D), computed in double with the T x T
// probabilities materialised, and its gradients for a given dout.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_TEST_RUNTIME_NAIVEATTENTION_H
#define LMC_TEST_RUNTIME_NAIVEATTENTION_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

/// Causal attention of one (batch, head) in double on the host: out, lse,
/// and the gradients for dout. q[t * ld + c] (and dout) with c in [0, d);
/// k and v with their own row stride `ldkv` (0: `ld`).
struct NaiveAttention {
  int64_t t, d;
  std::vector<double> out, lse, dq, dk, dv;

  NaiveAttention(const float *q, const float *k, const float *v, const float *g,
                 int64_t ld, int64_t t, int64_t d, int64_t ldkv = 0)
      : t(t), d(d), out(t * d), lse(t), dq(t * d), dk(t * d), dv(t * d) {
    const int64_t lq = ld, lk = ldkv ? ldkv : ld;
    const double scale = 1.0 / std::sqrt(double(d));
    std::vector<double> p(t * t, 0.0), dp(t * t, 0.0);
    for (int64_t i = 0; i < t; ++i) {
      double m = -1e300;
      for (int64_t j = 0; j <= i; ++j) {
        double s = 0;
        for (int64_t c = 0; c < d; ++c)
          s += double(q[i * lq + c]) * k[j * lk + c];
        p[i * t + j] = s * scale;
        m = std::max(m, s * scale);
      }
      double sum = 0;
      for (int64_t j = 0; j <= i; ++j)
        sum += std::exp(p[i * t + j] - m);
      lse[i] = m + std::log(sum);
      for (int64_t j = 0; j <= i; ++j)
        p[i * t + j] = std::exp(p[i * t + j] - lse[i]);
      for (int64_t c = 0; c < d; ++c) {
        double o = 0;
        for (int64_t j = 0; j <= i; ++j)
          o += p[i * t + j] * v[j * lk + c];
        out[i * d + c] = o;
      }
    }
    for (int64_t i = 0; i < t; ++i) {
      double rowDot = 0;
      for (int64_t j = 0; j <= i; ++j) {
        double x = 0;
        for (int64_t c = 0; c < d; ++c)
          x += double(g[i * lq + c]) * v[j * lk + c];
        dp[i * t + j] = x;
        rowDot += x * p[i * t + j];
      }
      for (int64_t j = 0; j <= i; ++j) {
        const double ds = p[i * t + j] * (dp[i * t + j] - rowDot) * scale;
        for (int64_t c = 0; c < d; ++c) {
          dq[i * d + c] += ds * k[j * lk + c];
          dk[j * d + c] += ds * q[i * lq + c];
          dv[j * d + c] += p[i * t + j] * g[i * lq + c];
        }
      }
    }
  }
};

/// The largest |got - want| / (1 + |want|) of each result, as
/// compareWithNaive measures them.
struct NaiveErrors {
  double out = 0, lse = 0, dq = 0, dk = 0, dv = 0;
  double largest() const { return std::max({out, lse, dq, dk, dv}); }
  /// The largest error of each result in `other` too.
  void merge(const NaiveErrors &other) {
    out = std::max(out, other.out);
    lse = std::max(lse, other.lse);
    dq = std::max(dq, other.dq);
    dk = std::max(dk, other.dk);
    dv = std::max(dv, other.dv);
  }
  std::string str() const {
    return "out " + std::to_string(out) + ", lse " + std::to_string(lse) +
           ", dq " + std::to_string(dq) + ", dk " + std::to_string(dk) +
           ", dv " + std::to_string(dv);
  }
};

/// Compares the results of attention kernels, q, dout, out, dq [B, T, C]
/// packed (C = heads * d), k, v, dk, dv [B, T, Ckv] packed (Ckv = kvHeads *
/// d; query head h reads key/value head h / (heads / kvHeads)) and lse
/// [B, heads, T] packed, with NaiveAttention for every (batch, head), the
/// gradients of a key/value head summed over the query heads it serves;
/// returns a message per mismatch (at most `limit`), |got - want| >
/// tolerance * (1 + |want|) counting as one; with `errors`, the largest
/// errors there.
inline std::vector<std::string>
compareWithNaive(const float *q, const float *k, const float *v,
                 const float *dout, const float *out, const float *lse,
                 const float *dq, const float *dk, const float *dv, int64_t b,
                 int64_t t, int64_t heads, int64_t kvHeads, int64_t d,
                 double tolerance, size_t limit = 5,
                 NaiveErrors *errors = nullptr) {
  std::vector<std::string> bad;
  const int64_t c = heads * d, ckv = kvHeads * d, group = heads / kvHeads;
  NaiveErrors measured;
  auto check = [&](double got, double want, const char *what, double &largest,
                   int64_t bi, int64_t h, int64_t i) {
    const double error = std::fabs(got - want) / (1 + std::fabs(want));
    largest = std::max(largest, std::isnan(error) ? INFINITY : error);
    if (std::fabs(got - want) <= tolerance * (1 + std::fabs(want)) ||
        bad.size() >= limit)
      return;
    bad.push_back(std::string(what) + " b=" + std::to_string(bi) +
                  " h=" + std::to_string(h) + " i=" + std::to_string(i) +
                  " (T=" + std::to_string(t) + ", D=" + std::to_string(d) +
                  ", kv_heads=" + std::to_string(kvHeads) + "): " +
                  std::to_string(got) + ", expected " + std::to_string(want));
  };
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hk = 0; hk < kvHeads; ++hk) {
      const int64_t baseKv = bi * t * ckv + hk * d;
      std::vector<double> dkSum(t * d, 0.0), dvSum(t * d, 0.0);
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
        const int64_t base = bi * t * c + h * d;
        NaiveAttention ref(q + base, k + baseKv, v + baseKv, dout + base, c, t,
                           d, ckv);
        for (int64_t i = 0; i < t; ++i) {
          check(lse[(bi * heads + h) * t + i], ref.lse[i], "lse", measured.lse,
                bi, h, i);
          for (int64_t x = 0; x < d; ++x) {
            const int64_t at = base + i * c + x;
            check(out[at], ref.out[i * d + x], "out", measured.out, bi, h, i);
            check(dq[at], ref.dq[i * d + x], "dq", measured.dq, bi, h, i);
            dkSum[i * d + x] += ref.dk[i * d + x];
            dvSum[i * d + x] += ref.dv[i * d + x];
          }
        }
      }
      for (int64_t i = 0; i < t; ++i)
        for (int64_t x = 0; x < d; ++x) {
          const int64_t at = baseKv + i * ckv + x;
          check(dk[at], dkSum[i * d + x], "dk", measured.dk, bi, hk, i);
          check(dv[at], dvSum[i * d + x], "dv", measured.dv, bi, hk, i);
        }
    }
  if (errors)
    *errors = measured;
  return bad;
}

#endif // LMC_TEST_RUNTIME_NAIVEATTENTION_H
