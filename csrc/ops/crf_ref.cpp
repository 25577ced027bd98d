// Linear-chain CRF references (ops/crf.h): per sentence, every recursion a plain loop in double
// (forward, backward, Viterbi), kept forever as the oracle the fast kernels (crf.cpp) and the CUDA
// ones (cuda/crf.cu) are tested against.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common.h"
#include "ops/crf.h"
#include "ops/crf_internal.h"

namespace fastnlp {
namespace {

using crf_detail::gold_score;
using crf_detail::kNegInf;

// ---- reference (double) ----

// log sum exp(v) over n values. The max is subtracted first, so no exp overflows and the largest
// term is exactly 1; all -inf (no allowed path) gives -inf instead of exp(-inf - -inf) = NaN,
// and any NaN gives NaN.
double lse_ref(const double* v, int64_t n) {
  double m = kNegInf<double>;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) return v[i];
    m = std::max(m, v[i]);
  }
  if (m == kNegInf<double>) return m;
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(v[i] - m);
  return m + std::log(s);
}

// alpha (L, K): alpha[t][j] = log sum over the paths of positions 0..t ending in tag j.
template <typename T>
void forward_ref(const T* x, const T* trans, const T* start, int64_t L, int64_t K, double* alpha) {
  std::vector<double> v(K);
  for (int64_t j = 0; j < K; ++j) alpha[j] = double(start[j]) + double(x[j]);
  for (int64_t t = 1; t < L; ++t)
    for (int64_t j = 0; j < K; ++j) {
      for (int64_t i = 0; i < K; ++i) v[i] = alpha[(t - 1) * K + i] + double(trans[i * K + j]);
      alpha[t * K + j] = double(x[t * K + j]) + lse_ref(v.data(), K);
    }
}

// beta (L, K): beta[t][i] = log sum over the paths of positions t+1..L-1 given tag i at t.
template <typename T>
void backward_ref(const T* x, const T* trans, int64_t L, int64_t K, double* beta) {
  std::vector<double> v(K);
  for (int64_t i = 0; i < K; ++i) beta[(L - 1) * K + i] = 0;
  for (int64_t t = L - 2; t >= 0; --t)
    for (int64_t i = 0; i < K; ++i) {
      for (int64_t j = 0; j < K; ++j)
        v[j] = double(trans[i * K + j]) + double(x[(t + 1) * K + j]) + beta[(t + 1) * K + j];
      beta[t * K + i] = lse_ref(v.data(), K);
    }
}

}  // namespace

// ---- references ----

template <typename T>
void crf_nll_ref(const T* scores, const int64_t* offsets, const int32_t* tags, const T* trans,
                 const T* start, T* nll, int64_t S, int64_t /*N*/, int64_t K) {
  std::vector<double> alpha;
  for (int64_t s = 0; s < S; ++s) {
    const int64_t r0 = offsets[s], L = offsets[s + 1] - r0;
    if (L == 0) {
      nll[s] = 0;
      continue;
    }
    const T* x = scores + r0 * K;
    alpha.resize(L * K);
    forward_ref(x, trans, start, L, K, alpha.data());
    const double logz = lse_ref(alpha.data() + (L - 1) * K, K);
    nll[s] = static_cast<T>(logz - gold_score(x, tags + r0, trans, start, L, K));
  }
}

template <typename T>
void crf_nll_backward_ref(const T* scores, const int64_t* offsets, const int32_t* tags,
                          const T* trans, const T* start, const T* grad_nll, T* dscores, T* dtrans,
                          T* dstart, int64_t S, int64_t /*N*/, int64_t K) {
  std::vector<double> alpha, beta, dT(K * K, 0.0), dS(K, 0.0);
  for (int64_t s = 0; s < S; ++s) {
    const int64_t r0 = offsets[s], L = offsets[s + 1] - r0;
    if (L == 0) continue;
    const T* x = scores + r0 * K;
    const int32_t* y = tags + r0;
    const double g = grad_nll[s];
    alpha.resize(L * K);
    beta.resize(L * K);
    forward_ref(x, trans, start, L, K, alpha.data());
    backward_ref(x, trans, L, K, beta.data());
    const double logz = lse_ref(alpha.data() + (L - 1) * K, K);
    for (int64_t t = 0; t < L; ++t)
      for (int64_t j = 0; j < K; ++j) {
        const double p = std::exp(alpha[t * K + j] + beta[t * K + j] - logz);
        const double d = g * (p - (y[t] == j ? 1.0 : 0.0));
        dscores[(r0 + t) * K + j] = static_cast<T>(d);
        if (t == 0) dS[j] += d;
      }
    for (int64_t t = 1; t < L; ++t)
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < K; ++j) {
          const double lp = alpha[(t - 1) * K + i] + double(trans[i * K + j]) + double(x[t * K + j]) +
                            beta[t * K + j] - logz;
          dT[i * K + j] += g * (std::exp(lp) - (y[t - 1] == i && y[t] == j ? 1.0 : 0.0));
        }
  }
  for (int64_t e = 0; e < K * K; ++e) dtrans[e] = static_cast<T>(dT[e]);
  for (int64_t j = 0; j < K; ++j) dstart[j] = static_cast<T>(dS[j]);
}

template <typename T>
void viterbi_decode_ref(const T* scores, const int64_t* offsets, const T* trans, const T* start,
                        int32_t* tags, T* best, int64_t S, int64_t /*N*/, int64_t K) {
  std::vector<double> delta;
  std::vector<int32_t> bp;
  for (int64_t s = 0; s < S; ++s) {
    const int64_t r0 = offsets[s], L = offsets[s + 1] - r0;
    if (L == 0) {
      best[s] = 0;
      continue;
    }
    const T* x = scores + r0 * K;
    delta.resize(L * K);
    bp.resize(L * K);
    for (int64_t j = 0; j < K; ++j) delta[j] = double(start[j]) + double(x[j]);
    for (int64_t t = 1; t < L; ++t)
      for (int64_t j = 0; j < K; ++j) {
        int32_t arg = 0;
        double m = delta[(t - 1) * K] + double(trans[j]);
        for (int64_t i = 1; i < K; ++i) {
          const double v = delta[(t - 1) * K + i] + double(trans[i * K + j]);
          if (v > m) {  // strict: the lowest predecessor id wins a tie
            m = v;
            arg = static_cast<int32_t>(i);
          }
        }
        delta[t * K + j] = m + double(x[t * K + j]);
        bp[t * K + j] = arg;
      }
    int32_t y = 0;
    for (int64_t j = 1; j < K; ++j)
      if (delta[(L - 1) * K + j] > delta[(L - 1) * K + y]) y = static_cast<int32_t>(j);
    best[s] = static_cast<T>(delta[(L - 1) * K + y]);
    tags[r0 + L - 1] = y;
    for (int64_t t = L - 1; t > 0; --t) {
      y = bp[t * K + y];
      tags[r0 + t - 1] = y;
    }
  }
}

#define FASTNLP_INSTANTIATE(T)                                                                      \
  template void crf_nll_ref<T>(const T*, const int64_t*, const int32_t*, const T*, const T*, T*,    \
                               int64_t, int64_t, int64_t);                                          \
  template void crf_nll_backward_ref<T>(const T*, const int64_t*, const int32_t*, const T*,         \
                                        const T*, const T*, T*, T*, T*, int64_t, int64_t, int64_t); \
  template void viterbi_decode_ref<T>(const T*, const int64_t*, const T*, const T*, int32_t*, T*,   \
                                      int64_t, int64_t, int64_t);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
