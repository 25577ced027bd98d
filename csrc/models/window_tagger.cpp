// Window-network scoring: a scalar reference and the blocked GEMM version used at inference.
#include "models/window_tagger.h"

#include <algorithm>
#include <cstring>

#include "blas.h"
#include "ops/activation.h"
#include "parallel.h"

namespace fastnlp {
namespace {

// Rows per block: the gathered inputs (kBlock x window*Din) and hidden layer (kBlock x H) stay in
// L2 next to W1 (for window 5, Din 60, H 300 in float: 150 KB + 150 KB + 360 KB), and the GEMM
// is tall enough for the BLAS kernels to run near peak.
constexpr int64_t kBlock = 128;

template <typename T>
T hardtanh(T v) {
  return v < T(-1) ? T(-1) : (v > T(1) ? T(1) : v);
}

// x (window * Din) for token t of the sentence holding rows [begin, end).
template <typename T, typename I>
void gather_window(const WindowNetwork<T>& net, const I* ids, int64_t t, int64_t begin, int64_t end,
                   T* x) {
  const int64_t F = net.num_families(), half = net.window / 2;
  for (int64_t j = 0; j < net.window; ++j) {
    const int64_t p = t + j - half;
    const I* row = (p >= begin && p < end) ? ids + p * F : nullptr;
    for (int64_t f = 0; f < F; ++f) {
      const int64_t D = net.dims[f];
      const int64_t id = row ? static_cast<int64_t>(row[f]) : 0;
      std::memcpy(x, net.tables[f] + id * D, static_cast<size_t>(D) * sizeof(T));
      x += D;
    }
  }
}

}  // namespace

template <typename T>
int64_t WindowNetwork<T>::input_dim() const {
  int64_t d = 0;
  for (int64_t v : dims) d += v;
  return d;
}

template <typename T, typename I>
void window_scores_ref(const WindowNetwork<T>& net, const I* ids, const int64_t* offsets, int64_t S,
                       T* scores) {
  const int64_t F = net.num_families(), half = net.window / 2, H = net.H, K = net.K;
  const int64_t X = net.window * net.input_dim();
  std::vector<T> x(X), h(H);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t t = offsets[s]; t < offsets[s + 1]; ++t) {
      int64_t k = 0;
      for (int64_t j = 0; j < net.window; ++j) {
        const int64_t p = t + j - half;
        const bool inside = p >= offsets[s] && p < offsets[s + 1];
        for (int64_t f = 0; f < F; ++f) {
          const int64_t id = inside ? static_cast<int64_t>(ids[p * F + f]) : 0;
          for (int64_t d = 0; d < net.dims[f]; ++d) x[k++] = net.tables[f][id * net.dims[f] + d];
        }
      }
      for (int64_t o = 0; o < H; ++o) {
        T v = net.b1[o];
        for (k = 0; k < X; ++k) v += net.W1[o * X + k] * x[k];
        h[o] = hardtanh(v);
      }
      for (int64_t c = 0; c < K; ++c) {
        T v = net.b2[c];
        for (int64_t o = 0; o < H; ++o) v += net.W2[c * H + o] * h[o];
        scores[t * K + c] = v;
      }
    }
}

template <typename T, typename I>
void window_scores(const WindowNetwork<T>& net, const I* ids, const int64_t* offsets, int64_t S,
                   T* scores) {
  const int64_t N = offsets[S];
  if (N == 0) return;
  const int64_t X = net.window * net.input_dim(), H = net.H, K = net.K;
  const int64_t blocks = (N + kBlock - 1) / kBlock;
  parallel_for(blocks, 1, [&](int64_t first, int64_t last) {
    // Per-thread scratch; inside the parallel region each GEMM below is one single-threaded call.
    std::vector<T> x(static_cast<size_t>(std::min(N, kBlock) * X));
    std::vector<T> h(static_cast<size_t>(std::min(N, kBlock) * H));
    // The sentence holding the block's first row: the last s with offsets[s] <= row (this skips
    // empty sentences, whose offsets[s] == offsets[s + 1]).
    const int64_t row0 = first * kBlock;
    int64_t s = std::upper_bound(offsets, offsets + S + 1, row0) - offsets - 1;
    for (int64_t b = first; b < last; ++b) {
      const int64_t lo = b * kBlock, hi = std::min(N, lo + kBlock), B = hi - lo;
      for (int64_t t = lo; t < hi; ++t) {
        while (t >= offsets[s + 1]) ++s;
        gather_window(net, ids, t, offsets[s], offsets[s + 1], x.data() + (t - lo) * X);
      }
      gemm(false, true, B, H, X, T(1), x.data(), X, net.W1, X, T(0), h.data(), H);
      bias_act_forward(Activation::kHardTanh, h.data(), net.b1, B, H);
      T* out = scores + lo * K;
      gemm(false, true, B, K, H, T(1), h.data(), H, net.W2, H, T(0), out, K);
      bias_act_forward(Activation::kIdentity, out, net.b2, B, K);
    }
  });
}

template struct WindowNetwork<float>;
template struct WindowNetwork<double>;

#define FASTNLP_INSTANTIATE(T, I)                                                                 \
  template void window_scores_ref<T, I>(const WindowNetwork<T>&, const I*, const int64_t*, int64_t, \
                                        T*);                                                      \
  template void window_scores<T, I>(const WindowNetwork<T>&, const I*, const int64_t*, int64_t, T*);
FASTNLP_INSTANTIATE(float, int32_t)
FASTNLP_INSTANTIATE(float, int64_t)
FASTNLP_INSTANTIATE(double, int32_t)
FASTNLP_INSTANTIATE(double, int64_t)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
