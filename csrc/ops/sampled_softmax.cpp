// Sampled softmax: a direct reference (one dot product per score, double accumulation), the fast
// version (gather the sampled rows of W, GEMMs in BLAS, the fused score middle in between), and
// the alias-method proposal sampler.
#include "ops/sampled_softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "blas.h"
#include "common.h"
#include "parallel.h"
#include "simd.h"

namespace fastnlp {
namespace {

constexpr int64_t kGrain = 1 << 14;  // multiply-adds per thread before threading pays off

int64_t row_grain(int64_t n) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n)); }

template <typename T>
double dot_ref(const T* a, const T* b, int64_t n) {
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += static_cast<double>(a[j]) * static_cast<double>(b[j]);
  return s;
}

template <typename T>
T dot(const T* a, const T* b, int64_t n) {
  // Eight partial sums: the loop vectorizes without reassociation flags.
  T acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
  T s = 0;
  for (int l = 0; l < 8; ++l) s += acc[l];
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

// z = z + b - logq in place (the bias, and the log-Q correction of Jean et al.); b may be null.
FASTNLP_SIMD_CLONES void correct_row(float* z, const float* b, const float* logq, int64_t K) {
  if (b)
    for (int64_t k = 0; k < K; ++k) z[k] = z[k] + b[k] - logq[k];
  else
    for (int64_t k = 0; k < K; ++k) z[k] = z[k] - logq[k];
}
void correct_row(double* z, const double* b, const double* logq, int64_t K) {
  for (int64_t k = 0; k < K; ++k) z[k] = z[k] + (b ? b[k] : 0.0) - logq[k];
}

FASTNLP_SIMD_CLONES void exp_shift_row(float* z, float m, int64_t K) {
  for (int64_t k = 0; k < K; ++k) z[k] = fast_expf(z[k] - m);
}
void exp_shift_row(double* z, double m, int64_t K) {
  for (int64_t k = 0; k < K; ++k) z[k] = std::exp(z[k] - m);
}

// The i-th output of splitmix64 started at `seed` (Steele, Lea, Flood 2014): a counter-based
// stream, so draw i does not depend on the draws before it and sampling parallelizes.
inline uint64_t splitmix64(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

template <typename T, typename I>
double sampled_softmax_ref(const T* h, const T* W, const T* b, const I* targets, const I* samples,
                           const T* logq_targets, const T* logq_samples, int64_t B, int64_t H,
                           int64_t K, T* losses, T* dh, T* grad_rows, T* grad_bias) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> z(K), g_samp_rows(K * H, 0.0), g_samp_bias(K, 0.0), dh_row(H);
  double total = 0;
  for (int64_t i = 0; i < B; ++i) {
    const T* hi = h + i * H;
    const int64_t t = static_cast<int64_t>(targets[i]);
    const double z0 = dot_ref(hi, W + t * H, H) + (b ? static_cast<double>(b[t]) : 0.0) -
                      static_cast<double>(logq_targets[i]);
    double m = z0;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t s = static_cast<int64_t>(samples[k]);
      // An accidental hit would count the true class as a negative too: drop it (-inf logit).
      z[k] = s == t ? -inf
                    : dot_ref(hi, W + s * H, H) + (b ? static_cast<double>(b[s]) : 0.0) -
                          static_cast<double>(logq_samples[k]);
      m = std::max(m, z[k]);
    }
    double sum = std::exp(z0 - m);
    for (int64_t k = 0; k < K; ++k) sum += std::exp(z[k] - m);
    const double loss = m + std::log(sum) - z0;
    total += loss;
    if (losses) losses[i] = static_cast<T>(loss);
    // d(mean loss)/d z = (softmax(z) - onehot(true)) / B.
    const double g0 = (std::exp(z0 - m) / sum - 1.0) / static_cast<double>(B);
    for (int64_t d = 0; d < H; ++d) dh_row[d] = g0 * static_cast<double>(W[t * H + d]);
    for (int64_t k = 0; k < K; ++k) {
      const double gk = std::exp(z[k] - m) / sum / static_cast<double>(B);
      const int64_t s = static_cast<int64_t>(samples[k]);
      for (int64_t d = 0; d < H; ++d) {
        dh_row[d] += gk * static_cast<double>(W[s * H + d]);
        g_samp_rows[k * H + d] += gk * static_cast<double>(hi[d]);
      }
      g_samp_bias[k] += gk;
    }
    if (dh)
      for (int64_t d = 0; d < H; ++d) dh[i * H + d] = static_cast<T>(dh_row[d]);
    if (grad_rows)
      for (int64_t d = 0; d < H; ++d) grad_rows[i * H + d] = static_cast<T>(g0 * static_cast<double>(hi[d]));
    if (grad_bias) grad_bias[i] = static_cast<T>(g0);
  }
  if (grad_rows)
    for (int64_t j = 0; j < K * H; ++j) grad_rows[B * H + j] = static_cast<T>(g_samp_rows[j]);
  if (grad_bias)
    for (int64_t k = 0; k < K; ++k) grad_bias[B + k] = static_cast<T>(g_samp_bias[k]);
  return total / static_cast<double>(B);
}

template <typename T, typename I>
double sampled_softmax_scores(T* s_true, T* s_samp, const T* b_true, const T* b_samp,
                              const I* targets, const I* samples, const T* logq_targets,
                              const T* logq_samples, int64_t B, int64_t K, T* losses) {
  std::vector<double> row_loss(B);
  parallel_for(B, row_grain(K), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T* z = s_samp + i * K;
      const I t = targets[i];
      const double z0 = static_cast<double>(s_true[i]) + (b_true ? static_cast<double>(b_true[i]) : 0.0) -
                        static_cast<double>(logq_targets[i]);
      correct_row(z, b_samp, logq_samples, K);
      // Subtract the row max before exp (no overflow, the largest term is 1); accidental hits
      // are left out of the max and of the sum, and get probability and gradient 0.
      double m = z0;
      for (int64_t k = 0; k < K; ++k)
        if (samples[k] != t) m = std::max(m, static_cast<double>(z[k]));
      exp_shift_row(z, static_cast<T>(m), K);
      const double e0 = std::exp(z0 - m);
      double sum = e0;
      for (int64_t k = 0; k < K; ++k) {
        if (samples[k] == t) z[k] = T(0);
        sum += static_cast<double>(z[k]);
      }
      row_loss[i] = m + std::log(sum) - z0;
      const double scale = 1.0 / (sum * static_cast<double>(B));
      for (int64_t k = 0; k < K; ++k) z[k] = static_cast<T>(static_cast<double>(z[k]) * scale);
      s_true[i] = static_cast<T>((e0 / sum - 1.0) / static_cast<double>(B));
    }
  });
  double total = 0;
  for (int64_t i = 0; i < B; ++i) {
    total += row_loss[i];
    if (losses) losses[i] = static_cast<T>(row_loss[i]);
  }
  return total / static_cast<double>(B);
}

template <typename T, typename I>
double sampled_softmax(const T* h, const T* W, const T* b, const I* targets, const I* samples,
                       const T* logq_targets, const T* logq_samples, int64_t B, int64_t H,
                       int64_t K, T* losses, T* dh, T* grad_rows, T* grad_bias) {
  // Ws (K, H): the sampled rows of W, contiguous for the GEMMs.
  std::vector<T> Ws(K * H), s_true(B), S(B * K), b_true, b_samp;
  parallel_for(K, row_grain(H), [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const T* src = W + static_cast<int64_t>(samples[k]) * H;
      std::copy(src, src + H, Ws.data() + k * H);
    }
  });
  gemm(false, true, B, K, H, T(1), h, H, Ws.data(), H, T(0), S.data(), K);  // S = h Ws^T
  parallel_for(B, row_grain(H), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      s_true[i] = dot(h + i * H, W + static_cast<int64_t>(targets[i]) * H, H);
  });
  if (b) {
    b_true.resize(B);
    b_samp.resize(K);
    for (int64_t i = 0; i < B; ++i) b_true[i] = b[targets[i]];
    for (int64_t k = 0; k < K; ++k) b_samp[k] = b[samples[k]];
  }
  const double loss = sampled_softmax_scores(s_true.data(), S.data(), b ? b_true.data() : nullptr,
                                             b ? b_samp.data() : nullptr, targets, samples,
                                             logq_targets, logq_samples, B, K, losses);
  // Now s_true holds ds_true (B) and S holds dS (B, K).
  if (dh) {
    gemm(false, false, B, H, K, T(1), S.data(), K, Ws.data(), H, T(0), dh, H);  // dS Ws
    parallel_for(B, row_grain(H), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T g = s_true[i];
        const T* wt = W + static_cast<int64_t>(targets[i]) * H;
        for (int64_t d = 0; d < H; ++d) dh[i * H + d] += g * wt[d];
      }
    });
  }
  if (grad_rows) {
    parallel_for(B, row_grain(H), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        for (int64_t d = 0; d < H; ++d) grad_rows[i * H + d] = s_true[i] * h[i * H + d];
    });
    gemm(true, false, K, H, B, T(1), S.data(), K, h, H, T(0), grad_rows + B * H, H);  // dS^T h
  }
  if (grad_bias) {
    std::copy(s_true.begin(), s_true.end(), grad_bias);
    std::vector<double> col(K, 0.0);
    for (int64_t i = 0; i < B; ++i)
      for (int64_t k = 0; k < K; ++k) col[k] += static_cast<double>(S[i * K + k]);
    for (int64_t k = 0; k < K; ++k) grad_bias[B + k] = static_cast<T>(col[k]);
  }
  return loss;
}

// Vose's form of Walker's alias method: every column j holds prob_[j] of class j and the rest
// of class alias_[j]; a draw picks a column uniformly, then one of its two classes.
AliasSampler::AliasSampler(const double* probs, int64_t V) {
  FASTNLP_CHECK(V > 0, "AliasSampler: probs must not be empty");
  double total = 0;
  for (int64_t i = 0; i < V; ++i) {
    FASTNLP_CHECK(std::isfinite(probs[i]) && probs[i] >= 0.0,
                  "AliasSampler: probs must be finite and non-negative, got ", probs[i],
                  " at position ", i);
    total += probs[i];
  }
  FASTNLP_CHECK(total > 0.0 && std::isfinite(total),
                "AliasSampler: probs must have a positive finite sum, got ", total);
  p_.resize(V);
  prob_.assign(V, 1.0);
  alias_.resize(V);
  std::vector<double> scaled(V);
  std::vector<int64_t> small, large;
  for (int64_t i = 0; i < V; ++i) {
    p_[i] = probs[i] / total;
    scaled[i] = p_[i] * static_cast<double>(V);
    alias_[i] = i;
    (scaled[i] < 1.0 ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    const int64_t s = small.back(), l = large.back();
    small.pop_back();
    prob_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;  // l gave 1 - scaled[s] of its mass to column s
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Whatever is left is 1 up to rounding: those columns keep prob_ 1 and their own class.
}

template <typename I>
void AliasSampler::sample(I* out, int64_t n, uint64_t seed) const {
  const uint64_t V = static_cast<uint64_t>(prob_.size());
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const uint64_t r1 = splitmix64(seed, 2 * static_cast<uint64_t>(i));
      const uint64_t r2 = splitmix64(seed, 2 * static_cast<uint64_t>(i) + 1);
      // Column: the high 64 bits of r1 * V, uniform on [0, V) up to a bias of V / 2^64.
      const uint64_t col = static_cast<uint64_t>((static_cast<unsigned __int128>(r1) * V) >> 64);
      const double u = static_cast<double>(r2 >> 11) * 0x1.0p-53;  // uniform on [0, 1)
      out[i] = static_cast<I>(u < prob_[col] ? static_cast<int64_t>(col) : alias_[col]);
    }
  });
}

#define FASTNLP_INSTANTIATE(T, I)                                                                   \
  template double sampled_softmax_ref<T, I>(const T*, const T*, const T*, const I*, const I*,       \
                                            const T*, const T*, int64_t, int64_t, int64_t, T*, T*,  \
                                            T*, T*);                                                \
  template double sampled_softmax<T, I>(const T*, const T*, const T*, const I*, const I*, const T*, \
                                        const T*, int64_t, int64_t, int64_t, T*, T*, T*, T*);       \
  template double sampled_softmax_scores<T, I>(T*, T*, const T*, const T*, const I*, const I*,      \
                                               const T*, const T*, int64_t, int64_t, T*);
FASTNLP_INSTANTIATE(float, int32_t)
FASTNLP_INSTANTIATE(float, int64_t)
FASTNLP_INSTANTIATE(double, int32_t)
FASTNLP_INSTANTIATE(double, int64_t)
#undef FASTNLP_INSTANTIATE

template void AliasSampler::sample<int32_t>(int32_t*, int64_t, uint64_t) const;
template void AliasSampler::sample<int64_t>(int64_t*, int64_t, uint64_t) const;

}  // namespace fastnlp
