// Dropout kernels: scalar references, and float loops compiled as SIMD clones (simd.h) spread over
// threads. The mask is drawn per element from (seed, index), so chunking cannot change it.
#include "ops/dropout.h"

#include <atomic>
#include <type_traits>

#include "parallel.h"
#include "simd.h"

namespace fastnlp {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread before threading pays off

// Elements [lo, hi): the mask draw (when draw) and the scaling. x * m / keep, not x * (m / keep):
// the rounding of the NumPy transcription x * mask / (1 - p), so a given mask checks exactly.
FASTNLP_SIMD_CLONES void forward_chunk_f32(const float* x, uint8_t* mask, float* y, int64_t lo, int64_t hi,
                                           float keep, uint64_t seed, uint32_t threshold, bool draw) {
  if (draw)
    for (int64_t i = lo; i < hi; ++i) mask[i] = dropout_keeps(seed, i, threshold);
  for (int64_t i = lo; i < hi; ++i) y[i] = x[i] * static_cast<float>(mask[i] != 0) / keep;
}

FASTNLP_SIMD_CLONES void backward_chunk_f32(const float* dy, const uint8_t* mask, float* dx, int64_t n,
                                            float keep) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * static_cast<float>(mask[i] != 0) / keep;
}

}  // namespace

template <typename T>
void dropout_forward_ref(const T* x, uint8_t* mask, T* y, int64_t n, double p, uint64_t seed, bool draw) {
  const uint32_t threshold = dropout_threshold(p);
  const T keep = static_cast<T>(1.0 - p);
  for (int64_t i = 0; i < n; ++i) {
    if (draw) mask[i] = dropout_keeps(seed, i, threshold);
    y[i] = x[i] * static_cast<T>(mask[i] != 0) / keep;
  }
}

template <typename T>
void dropout_forward(const T* x, uint8_t* mask, T* y, int64_t n, double p, uint64_t seed, bool draw) {
  const uint32_t threshold = dropout_threshold(p);
  const T keep = static_cast<T>(1.0 - p);
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    if constexpr (std::is_same_v<T, float>) {
      forward_chunk_f32(x, mask, y, lo, hi, keep, seed, threshold, draw);
    } else {
      for (int64_t i = lo; i < hi; ++i) {
        if (draw) mask[i] = dropout_keeps(seed, i, threshold);
        y[i] = x[i] * static_cast<T>(mask[i] != 0) / keep;
      }
    }
  });
}

template <typename T>
void dropout_backward_ref(const T* dy, const uint8_t* mask, T* dx, int64_t n, double p) {
  const T keep = static_cast<T>(1.0 - p);
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * static_cast<T>(mask[i] != 0) / keep;
}

template <typename T>
void dropout_backward(const T* dy, const uint8_t* mask, T* dx, int64_t n, double p) {
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    if constexpr (std::is_same_v<T, float>)
      backward_chunk_f32(dy + lo, mask + lo, dx + lo, hi - lo, static_cast<float>(1.0 - p));
    else
      dropout_backward_ref(dy + lo, mask + lo, dx + lo, hi - lo, p);
  });
}

int64_t dropout_first_bad_mask(const uint8_t* mask, int64_t n) {
  std::atomic<int64_t> first{n};
  parallel_for(n, 1 << 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      if (mask[i] > 1) {  // the first offender of this chunk; keep the smallest over chunks
        int64_t cur = first.load();
        while (i < cur && !first.compare_exchange_weak(cur, i)) {
        }
        return;
      }
  });
  return first.load();
}

#define FASTNLP_INSTANTIATE(T)                                                                 \
  template void dropout_forward_ref<T>(const T*, uint8_t*, T*, int64_t, double, uint64_t, bool); \
  template void dropout_forward<T>(const T*, uint8_t*, T*, int64_t, double, uint64_t, bool);     \
  template void dropout_backward_ref<T>(const T*, const uint8_t*, T*, int64_t, double);          \
  template void dropout_backward<T>(const T*, const uint8_t*, T*, int64_t, double);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
