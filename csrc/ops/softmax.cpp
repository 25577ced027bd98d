// Softmax, log-softmax, their backward passes and fused softmax + cross-entropy: scalar
// references (double accumulation), and float kernels whose row passes are SIMD clones (simd.h)
// with rows spread over threads. Double runs the reference loops in parallel: it exists for
// float64 gradient checks, not for speed.
#include "ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "common.h"
#include "ops/softmax_rows.h"
#include "parallel.h"
#include "simd.h"

namespace fastnlp {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per thread before threading pays off
constexpr int64_t kLanes = 16;       // independent accumulators: lets reductions vectorize
constexpr int64_t kBlock = 512;      // exp block: summed in float lanes, blocks added in double

int64_t row_grain(int64_t V) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, V)); }

// ---- reference rows (any T, double accumulation) ----

// Every row is shifted by its max before exp: exp(x - m) <= 1 cannot overflow, and the largest
// term is exactly 1, so the sum is >= 1 and its log is safe. softmax(x) = softmax(x - m).
template <typename T>
double row_max_ref(const T* x, int64_t V) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < V; ++j) m = std::max(m, static_cast<double>(x[j]));
  return m;
}

template <typename T>
double row_sum_exp_ref(const T* x, double m, int64_t V) {
  double s = 0;
  for (int64_t j = 0; j < V; ++j) s += std::exp(static_cast<double>(x[j]) - m);
  return s;
}

template <typename T>
void softmax_rows_ref(const T* x, T* y, int64_t rows, int64_t V) {
  for (int64_t r = 0; r < rows; ++r, x += V, y += V) {
    const double m = row_max_ref(x, V);
    const double inv = 1.0 / row_sum_exp_ref(x, m, V);
    for (int64_t j = 0; j < V; ++j) y[j] = static_cast<T>(std::exp(static_cast<double>(x[j]) - m) * inv);
  }
}

template <typename T>
void log_softmax_rows_ref(const T* x, T* y, int64_t rows, int64_t V) {
  for (int64_t r = 0; r < rows; ++r, x += V, y += V) {
    const double m = row_max_ref(x, V);
    const double log_s = std::log(row_sum_exp_ref(x, m, V));
    for (int64_t j = 0; j < V; ++j) y[j] = static_cast<T>((static_cast<double>(x[j]) - m) - log_s);
  }
}

template <typename T>
void softmax_backward_rows_ref(const T* y, const T* dy, T* dx, int64_t rows, int64_t V) {
  for (int64_t r = 0; r < rows; ++r, y += V, dy += V, dx += V) {
    double dot = 0;
    for (int64_t j = 0; j < V; ++j) dot += static_cast<double>(dy[j]) * static_cast<double>(y[j]);
    for (int64_t j = 0; j < V; ++j)
      dx[j] = static_cast<T>(static_cast<double>(y[j]) * (static_cast<double>(dy[j]) - dot));
  }
}

template <typename T>
void log_softmax_backward_rows_ref(const T* y, const T* dy, T* dx, int64_t rows, int64_t V) {
  for (int64_t r = 0; r < rows; ++r, y += V, dy += V, dx += V) {
    double sum = 0;
    for (int64_t j = 0; j < V; ++j) sum += static_cast<double>(dy[j]);
    for (int64_t j = 0; j < V; ++j)
      dx[j] = static_cast<T>(static_cast<double>(dy[j]) - std::exp(static_cast<double>(y[j])) * sum);
  }
}

template <typename I>
bool ignored(I t, int64_t ignore_index) {
  return static_cast<int64_t>(t) == ignore_index;
}

template <typename I>
int64_t count_targets(const I* targets, int64_t B, int64_t ignore_index) {
  int64_t n = 0;
  for (int64_t i = 0; i < B; ++i) n += ignored(targets[i], ignore_index) ? 0 : 1;
  return n;
}

// Rows [lo, hi) of the cross-entropy; row_loss[i] gets each row's loss (0 where ignored).
// The row's target logit is read before the row is overwritten (dlogits may alias logits).
template <typename T, typename I>
void cross_entropy_rows_ref(const T* logits, const I* targets, int64_t lo, int64_t hi, int64_t V,
                            int64_t ignore_index, int64_t count, double* row_loss, T* dlogits) {
  for (int64_t i = lo; i < hi; ++i) {
    const T* x = logits + i * V;
    T* d = dlogits ? dlogits + i * V : nullptr;
    if (ignored(targets[i], ignore_index)) {
      row_loss[i] = 0;
      if (d) std::fill(d, d + V, T(0));
      continue;
    }
    const int64_t t = static_cast<int64_t>(targets[i]);
    const double xt = static_cast<double>(x[t]);
    const double m = row_max_ref(x, V);
    const double s = row_sum_exp_ref(x, m, V);
    row_loss[i] = m + std::log(s) - xt;
    if (d) {
      const double scale = 1.0 / (s * static_cast<double>(count));
      for (int64_t j = 0; j < V; ++j) d[j] = static_cast<T>(std::exp(static_cast<double>(x[j]) - m) * scale);
      d[t] = static_cast<T>(static_cast<double>(d[t]) - 1.0 / static_cast<double>(count));
    }
  }
}

// Sums row losses in a fixed order (the same result for any thread count) and writes losses.
template <typename T>
double finish_mean(const std::vector<double>& row_loss, int64_t count, T* losses) {
  double total = 0;
  for (size_t i = 0; i < row_loss.size(); ++i) {
    total += row_loss[i];
    if (losses) losses[i] = static_cast<T>(row_loss[i]);
  }
  return count > 0 ? total / static_cast<double>(count) : 0.0;
}

// ---- float rows: SIMD clones ----

// Sum of n (<= kBlock) floats in kLanes float accumulators; a block is short, so float is enough.
inline float block_sum(const float* e, int64_t n) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += e[j + l];
  float s = 0;
  for (int64_t l = 0; l < kLanes; ++l) s += acc[l];
  for (; j < n; ++j) s += e[j];
  return s;
}

FASTNLP_SIMD_CLONES void scale_row(float* y, float a, int64_t V) {
  for (int64_t j = 0; j < V; ++j) y[j] *= a;
}

// y = (x - m) - c: x - m first, which is exact near the max (Sterbenz), so a row of logits near
// 1e4 keeps its log-probabilities to float precision instead of 1e4's ulp (1e-3).
FASTNLP_SIMD_CLONES void shift_row(const float* x, float* y, float m, float c, int64_t V) {
  for (int64_t j = 0; j < V; ++j) y[j] = (x[j] - m) - c;
}

// sum(a * b) (b null: sum(a)) in kLanes double accumulators: the backward passes subtract this
// sum from values of the same size, so its float rounding would show in the result.
FASTNLP_SIMD_CLONES double dot_row(const float* a, const float* b, int64_t V) {
  double acc[kLanes] = {};
  int64_t j = 0;
  if (b) {
    for (; j + kLanes <= V; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l)
        acc[l] += static_cast<double>(a[j + l]) * static_cast<double>(b[j + l]);
  } else {
    for (; j + kLanes <= V; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) acc[l] += static_cast<double>(a[j + l]);
  }
  double s = 0;
  for (int64_t l = 0; l < kLanes; ++l) s += acc[l];
  for (; j < V; ++j) s += b ? static_cast<double>(a[j]) * static_cast<double>(b[j]) : static_cast<double>(a[j]);
  return s;
}

// dot arrives as float hi + lo parts: where y_j ~ 1, dy_j - dot cancels, and subtracting hi
// (exact there) before lo keeps the digits a single float dot would round away.
FASTNLP_SIMD_CLONES void softmax_backward_row(const float* y, const float* dy, float* dx,
                                              float dot_hi, float dot_lo, int64_t V) {
  for (int64_t j = 0; j < V; ++j) dx[j] = y[j] * ((dy[j] - dot_hi) - dot_lo);
}

FASTNLP_SIMD_CLONES void log_softmax_backward_row(const float* y, const float* dy, float* dx,
                                                  float sum, int64_t V) {
  for (int64_t j = 0; j < V; ++j) dx[j] = dy[j] - fast_expf(y[j]) * sum;
}

}  // namespace

// ---- float rows shared with linear_cross_entropy.cpp (softmax_rows.h) ----

namespace softmax_detail {

// Vectors written out (GCC vector extensions): GCC left the same loop over an array of kLanes
// float lanes scalar (a > b ? a : b is no max for floats without -ffinite-math-only), 0.19 ns an
// element. A NaN is skipped, as a comparison with it is false.
FASTNLP_SIMD_CLONES float row_max(const float* x, int64_t V) {
  typedef float V8 __attribute__((vector_size(32)));
  V8 a = V8{} - std::numeric_limits<float>::infinity(), b = a;
  int64_t j = 0;
  for (; j + 16 <= V; j += 16) {
    V8 u, w;
    std::memcpy(&u, x + j, sizeof(V8));
    std::memcpy(&w, x + j + 8, sizeof(V8));
    a = u > a ? u : a;
    b = w > b ? w : b;
  }
  a = b > a ? b : a;
  float m = a[0];
  for (int l = 1; l < 8; ++l) m = a[l] > m ? a[l] : m;
  for (; j < V; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

// sum(exp(x - m)) in double, the terms into out when it is given. x - m <= 0 (m is the row's max;
// NaN stays NaN), so fast_expf's overflow test is not needed. Only summing (out null), the terms go
// straight into the lanes (the same sums block_sum makes of stored terms).
FASTNLP_SIMD_CLONES double exp_shift_sum(const float* x, float m, float* out, int64_t V) {
  double total = 0;
  for (int64_t j0 = 0; j0 < V; j0 += kBlock) {
    const int64_t n = std::min(kBlock, V - j0);
    const float* xs = x + j0;
    if (out) {
      float* e = out + j0;
      for (int64_t j = 0; j < n; ++j) e[j] = fast_expf_upto88(xs[j] - m);
      total += block_sum(e, n);
      continue;
    }
    float acc[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) acc[l] += fast_expf_upto88(xs[j + l] - m);
    float s = 0;
    for (int64_t l = 0; l < kLanes; ++l) s += acc[l];
    for (; j < n; ++j) s += fast_expf_upto88(xs[j] - m);
    total += s;
  }
  return total;
}

}  // namespace softmax_detail

using softmax_detail::exp_shift_sum;
using softmax_detail::row_max;

// ---- references ----

template <typename T>
void softmax_forward_ref(const T* x, T* y, int64_t B, int64_t V) {
  softmax_rows_ref(x, y, B, V);
}

template <typename T>
void log_softmax_forward_ref(const T* x, T* y, int64_t B, int64_t V) {
  log_softmax_rows_ref(x, y, B, V);
}

template <typename T>
void softmax_backward_ref(const T* y, const T* dy, T* dx, int64_t B, int64_t V) {
  softmax_backward_rows_ref(y, dy, dx, B, V);
}

template <typename T>
void log_softmax_backward_ref(const T* y, const T* dy, T* dx, int64_t B, int64_t V) {
  log_softmax_backward_rows_ref(y, dy, dx, B, V);
}

template <typename T, typename I>
double softmax_cross_entropy_ref(const T* logits, const I* targets, int64_t B, int64_t V,
                                 int64_t ignore_index, T* losses, T* dlogits) {
  const int64_t count = count_targets(targets, B, ignore_index);
  std::vector<double> row_loss(B);
  cross_entropy_rows_ref(logits, targets, 0, B, V, ignore_index, count, row_loss.data(), dlogits);
  return finish_mean(row_loss, count, losses);
}

// ---- float ----

template <>
void softmax_forward<float>(const float* x, float* y, int64_t B, int64_t V) {
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float m = row_max(x + r * V, V);
      const double s = exp_shift_sum(x + r * V, m, y + r * V, V);
      scale_row(y + r * V, static_cast<float>(1.0 / s), V);
    }
  });
}

template <>
void log_softmax_forward<float>(const float* x, float* y, int64_t B, int64_t V) {
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float m = row_max(x + r * V, V);
      const double s = exp_shift_sum(x + r * V, m, nullptr, V);
      shift_row(x + r * V, y + r * V, m, static_cast<float>(std::log(s)), V);
    }
  });
}

template <>
void softmax_backward<float>(const float* y, const float* dy, float* dx, int64_t B, int64_t V) {
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const double dot = dot_row(dy + r * V, y + r * V, V);
      const float hi = static_cast<float>(dot);
      softmax_backward_row(y + r * V, dy + r * V, dx + r * V, hi,
                           static_cast<float>(dot - static_cast<double>(hi)), V);
    }
  });
}

template <>
void log_softmax_backward<float>(const float* y, const float* dy, float* dx, int64_t B, int64_t V) {
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float sum = static_cast<float>(dot_row(dy + r * V, nullptr, V));
      log_softmax_backward_row(y + r * V, dy + r * V, dx + r * V, sum, V);
    }
  });
}

template <typename T, typename I>
double softmax_cross_entropy(const T* logits, const I* targets, int64_t B, int64_t V,
                             int64_t ignore_index, T* losses, T* dlogits) {
  const int64_t count = count_targets(targets, B, ignore_index);
  std::vector<double> row_loss(B);
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    if constexpr (std::is_same_v<T, float>) {
      for (int64_t i = lo; i < hi; ++i) {
        const float* x = logits + i * V;
        float* d = dlogits ? dlogits + i * V : nullptr;
        if (ignored(targets[i], ignore_index)) {
          row_loss[i] = 0;
          if (d) std::fill(d, d + V, 0.0f);
          continue;
        }
        const int64_t t = static_cast<int64_t>(targets[i]);
        const double xt = x[t];  // read before d (which may be x) is written
        const float m = row_max(x, V);
        const double s = exp_shift_sum(x, m, d, V);
        row_loss[i] = static_cast<double>(m) + std::log(s) - xt;
        if (d) {
          scale_row(d, static_cast<float>(1.0 / (s * static_cast<double>(count))), V);
          d[t] -= static_cast<float>(1.0 / static_cast<double>(count));
        }
      }
    } else {
      cross_entropy_rows_ref(logits, targets, lo, hi, V, ignore_index, count, row_loss.data(), dlogits);
    }
  });
  return finish_mean(row_loss, count, losses);
}

// ---- double: the reference rows, in parallel ----

template <>
void softmax_forward<double>(const double* x, double* y, int64_t B, int64_t V) {
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    softmax_rows_ref(x + lo * V, y + lo * V, hi - lo, V);
  });
}

template <>
void log_softmax_forward<double>(const double* x, double* y, int64_t B, int64_t V) {
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    log_softmax_rows_ref(x + lo * V, y + lo * V, hi - lo, V);
  });
}

template <>
void softmax_backward<double>(const double* y, const double* dy, double* dx, int64_t B, int64_t V) {
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    softmax_backward_rows_ref(y + lo * V, dy + lo * V, dx + lo * V, hi - lo, V);
  });
}

template <>
void log_softmax_backward<double>(const double* y, const double* dy, double* dx, int64_t B,
                                  int64_t V) {
  parallel_for(B, row_grain(V), [&](int64_t lo, int64_t hi) {
    log_softmax_backward_rows_ref(y + lo * V, dy + lo * V, dx + lo * V, hi - lo, V);
  });
}

#define FASTNLP_INSTANTIATE(T)                                                                 \
  template void softmax_forward_ref<T>(const T*, T*, int64_t, int64_t);                        \
  template void log_softmax_forward_ref<T>(const T*, T*, int64_t, int64_t);                    \
  template void softmax_backward_ref<T>(const T*, const T*, T*, int64_t, int64_t);             \
  template void log_softmax_backward_ref<T>(const T*, const T*, T*, int64_t, int64_t);
#define FASTNLP_INSTANTIATE_CE(T, I)                                                           \
  template double softmax_cross_entropy_ref<T, I>(const T*, const I*, int64_t, int64_t, int64_t, \
                                                  T*, T*);                                     \
  template double softmax_cross_entropy<T, I>(const T*, const I*, int64_t, int64_t, int64_t, T*, T*);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
FASTNLP_INSTANTIATE_CE(float, int32_t)
FASTNLP_INSTANTIATE_CE(float, int64_t)
FASTNLP_INSTANTIATE_CE(double, int32_t)
FASTNLP_INSTANTIATE_CE(double, int64_t)
#undef FASTNLP_INSTANTIATE
#undef FASTNLP_INSTANTIATE_CE

}  // namespace fastnlp
