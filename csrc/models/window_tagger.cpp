// Window-network scoring: a scalar reference, the blocked GEMM version, and the cached float32
// scorer the Tagger runs.
#include "models/window_tagger.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "blas.h"
#include "ops/activation.h"
#include "parallel.h"
#include "simd.h"

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

// ---- WindowScorer ----------------------------------------------------------------------------

namespace {

// Rows per block of the cached path. Larger than kBlock: the per-family GEMMs only see the block's
// uncached ids (a tenth of the words with the default cache), so a tall block keeps them tall
// enough to be efficient; the hidden layer (kScorerBlock x H) still fits L2.
constexpr int64_t kScorerBlock = 256;

// Hidden-layer rows are padded to a multiple of kPad floats (zeros past H) so that the row sums
// below need no scalar remainder.
constexpr int64_t kPad = 8;
int64_t padded(int64_t H) { return (H + kPad - 1) / kPad * kPad; }

// 8 floats loaded from and stored to any float address. The row sums are written with GCC/Clang
// vector types because the auto-vectorizer gives up on their loop nest; in the AVX2 and AVX-512
// clones a Vec8 is one ymm register, in the baseline clone two SSE registers.
typedef float Vec8 __attribute__((vector_size(32), aligned(4), may_alias));

// h[o, o + 8V) = b + rows[0] + ... + rows[n-1] over those columns: V sums stay in registers while
// every row streams past once. Always inlined, so each SIMD clone of its caller gets its own copy.
template <int V>
FASTNLP_INLINE void sum_chunk(const float* b, const float* const* rows, int64_t n, int64_t o, float* h) {
  Vec8 acc[V];
  for (int v = 0; v < V; ++v) acc[v] = reinterpret_cast<const Vec8*>(b + o)[v];
  for (int64_t r = 0; r < n; ++r) {
    const Vec8* x = reinterpret_cast<const Vec8*>(rows[r] + o);
    for (int v = 0; v < V; ++v) acc[v] += x[v];
  }
  for (int v = 0; v < V; ++v) reinterpret_cast<Vec8*>(h + o)[v] = acc[v];
}

// h (Hp) = hardtanh(b + rows[0] + ... + rows[n-1]), each row Hp wide, Hp a multiple of kPad; the
// rows are added in the order given.
FASTNLP_SIMD_CLONES void sum_rows_hardtanh(const float* b, const float* const* rows, int64_t n, int64_t Hp,
                                           float* h) {
  static_assert(kPad == 8, "one Vec8 per kPad floats");
  int64_t o = 0;
  for (; o + 64 <= Hp; o += 64) sum_chunk<8>(b, rows, n, o, h);
  if (o + 32 <= Hp) sum_chunk<4>(b, rows, n, o, h), o += 32;
  if (o + 16 <= Hp) sum_chunk<2>(b, rows, n, o, h), o += 16;
  if (o < Hp) sum_chunk<1>(b, rows, n, o, h);
  // A plain loop (it vectorizes): vector ternaries wider than the baseline's registers would not.
  for (int64_t i = 0; i < Hp; ++i) h[i] = hardtanh(h[i]);
}

// The first maximum of s (K); a NaN counts as the maximum, as in numpy.argmax.
int32_t argmax_row(const float* s, int64_t K) {
  int32_t best = 0;
  float v = s[0];
  for (int64_t c = 1; c < K; ++c)
    if (s[c] > v || (s[c] != s[c] && v == v)) {
      best = static_cast<int32_t>(c);
      v = s[c];
    }
  return best;
}

}  // namespace

WindowScorer::WindowScorer(const WindowNetwork<float>& net, std::vector<int64_t> vocab,
                           std::vector<int64_t> cache_rows)
    : W2_(net.W2, net.W2 + net.K * net.H),
      b2_(net.b2, net.b2 + net.K),
      window_(net.window),
      H_(net.H),
      Hp_(padded(net.H)),
      K_(net.K) {
  const int64_t F = net.num_families(), Din = net.input_dim(), X = window_ * Din, WH = window_ * Hp_;
  b1_.assign(static_cast<size_t>(Hp_), 0.0f);
  std::copy(net.b1, net.b1 + H_, b1_.begin());
  families_.resize(F);
  int64_t col = 0;  // the first column of family f inside window position 0
  for (int64_t f = 0; f < F; ++f) {
    Family& fam = families_[f];
    fam.V = vocab[f];
    fam.D = net.dims[f];
    fam.cached = cache_rows[f];
    const int64_t D = fam.D;
    fam.proj.assign(static_cast<size_t>(WH * D), 0.0f);
    for (int64_t j = 0; j < window_; ++j)
      for (int64_t o = 0; o < H_; ++o)
        std::memcpy(fam.proj.data() + (j * Hp_ + o) * D, net.W1 + o * X + j * Din + col,
                    static_cast<size_t>(D) * sizeof(float));
    const float* E = net.tables[f];
    fam.rest.assign(E + fam.cached * D, E + fam.V * D);
    fam.cache.resize(static_cast<size_t>(fam.cached * WH));
    gemm(false, true, fam.cached, WH, D, 1.0f, E, D, fam.proj.data(), D, 0.0f, fam.cache.data(), WH);
    col += D;
  }
}

std::vector<int64_t> WindowScorer::rows_for_budget(const std::vector<int64_t>& vocab,
                                                   const std::vector<int64_t>& dims, int64_t window, int64_t H,
                                                   double budget_bytes) {
  const int64_t F = static_cast<int64_t>(vocab.size());
  std::vector<int64_t> rows(F);
  int64_t total = 0, all = 0;
  for (int64_t f = 0; f < F; ++f) {
    rows[f] = std::min<int64_t>(2, vocab[f]);
    total += rows[f];
    all += vocab[f];
  }
  const double row_bytes = static_cast<double>(window) * static_cast<double>(padded(H)) * sizeof(float);
  const int64_t budget_rows = static_cast<int64_t>(std::min(std::floor(budget_bytes / row_bytes), double(all)));
  // Each cached id saves, per occurrence, an embedding gather and a GEMM row of D_f * window * H
  // multiply-adds; its occurrences are guessed by Zipf's law, which word and affix counts follow.
  std::vector<double> weight(F);
  for (int64_t f = 0; f < F; ++f)
    weight[f] = static_cast<double>(dims[f]) / std::log(std::max<double>(3.0, static_cast<double>(vocab[f])));
  auto saving = [&](int64_t f) { return weight[f] / static_cast<double>(std::max<int64_t>(rows[f] - 1, 1)); };
  for (; total < budget_rows; ++total) {
    int64_t best = -1;
    for (int64_t f = 0; f < F; ++f)
      if (rows[f] < vocab[f] && (best < 0 || saving(f) > saving(best))) best = f;
    if (best < 0) break;
    ++rows[best];
  }
  return rows;
}

int64_t WindowScorer::cache_bytes() const {
  int64_t n = 0;
  for (const Family& fam : families_) n += static_cast<int64_t>(fam.cache.size());
  return n * static_cast<int64_t>(sizeof(float));
}

int64_t WindowScorer::memory_bytes() const {
  int64_t n = static_cast<int64_t>(b1_.size() + W2_.size() + b2_.size());
  for (const Family& fam : families_) n += static_cast<int64_t>(fam.proj.size() + fam.cache.size() + fam.rest.size());
  return n * static_cast<int64_t>(sizeof(float));
}

template <typename I, typename Emit>
void WindowScorer::run(const I* ids, const int64_t* offsets, int64_t S, float* scores_out, Emit&& emit) const {
  const int64_t N = offsets[S];
  if (N == 0) return;
  const int64_t F = num_families(), W = window_, half = W / 2, H = H_, Hp = Hp_, K = K_, WH = W * Hp;
  const int64_t blocks = (N + kScorerBlock - 1) / kScorerBlock;
  parallel_for(blocks, 1, [&](int64_t first, int64_t last) {
    // Per-thread scratch. Rows [e0, e1) of a block are its rows plus `half` on either side: the
    // neighbours its windows reach. slot[f][p - e0] is row p's row in proj_rows[f] (its uncached
    // id of family f embedded and projected), -1 when that id is cached.
    const int64_t rows_max = std::min(N, kScorerBlock), ext_max = std::min(N, kScorerBlock + 2 * half);
    std::vector<float> h(static_cast<size_t>(rows_max * Hp));
    std::vector<float> out(scores_out ? 0 : static_cast<size_t>(rows_max * K));
    std::vector<std::vector<float>> x(F), proj_rows(F);
    std::vector<int32_t> slot(static_cast<size_t>(F * ext_max));
    std::vector<const float*> rows(static_cast<size_t>(W * F));
    // The sentence holding the block's first row (empty sentences skipped, as in window_scores).
    int64_t s = std::upper_bound(offsets, offsets + S + 1, first * kScorerBlock) - offsets - 1;
    for (int64_t b = first; b < last; ++b) {
      const int64_t lo = b * kScorerBlock, hi = std::min(N, lo + kScorerBlock), B = hi - lo;
      const int64_t e0 = std::max<int64_t>(0, lo - half), e1 = std::min(N, hi + half);
      for (int64_t f = 0; f < F; ++f) {
        const Family& fam = families_[f];
        int32_t* sl = slot.data() + f * ext_max;
        int64_t M = 0;
        for (int64_t p = e0; p < e1; ++p)
          sl[p - e0] = static_cast<int64_t>(ids[p * F + f]) < fam.cached ? -1 : static_cast<int32_t>(M++);
        if (M == 0) continue;
        if (static_cast<int64_t>(x[f].size()) < M * fam.D) x[f].resize(static_cast<size_t>(M * fam.D));
        if (static_cast<int64_t>(proj_rows[f].size()) < M * WH) proj_rows[f].resize(static_cast<size_t>(M * WH));
        for (int64_t p = e0; p < e1; ++p)
          if (sl[p - e0] >= 0)
            std::memcpy(x[f].data() + sl[p - e0] * fam.D,
                        fam.rest.data() + (static_cast<int64_t>(ids[p * F + f]) - fam.cached) * fam.D,
                        static_cast<size_t>(fam.D) * sizeof(float));
        gemm(false, true, M, WH, fam.D, 1.0f, x[f].data(), fam.D, fam.proj.data(), fam.D, 0.0f,
             proj_rows[f].data(), WH);
      }
      for (int64_t t = lo; t < hi; ++t) {
        while (t >= offsets[s + 1]) ++s;
        const int64_t sb = offsets[s], se = offsets[s + 1];
        int64_t n = 0;
        for (int64_t j = 0; j < W; ++j) {
          const int64_t p = t + j - half;
          const bool inside = p >= sb && p < se;
          for (int64_t f = 0; f < F; ++f) {
            const Family& fam = families_[f];
            // Outside the sentence: id 0, PADDING, which is always cached.
            const int64_t id = inside ? static_cast<int64_t>(ids[p * F + f]) : 0;
            rows[n++] = id < fam.cached ? fam.cache.data() + (id * W + j) * Hp
                                        : proj_rows[f].data() + (slot[f * ext_max + p - e0] * W + j) * Hp;
          }
        }
        sum_rows_hardtanh(b1_.data(), rows.data(), n, Hp, h.data() + (t - lo) * Hp);
      }
      float* o = scores_out ? scores_out + lo * K : out.data();
      gemm(false, true, B, K, H, 1.0f, h.data(), Hp, W2_.data(), H, 0.0f, o, K);
      bias_act_forward(Activation::kIdentity, o, b2_.data(), B, K);
      emit(lo, B, o);
    }
  });
}

template <typename I>
void WindowScorer::scores(const I* ids, const int64_t* offsets, int64_t S, float* scores) const {
  run(ids, offsets, S, scores, [](int64_t, int64_t, const float*) {});
}

template <typename I>
void WindowScorer::predict(const I* ids, const int64_t* offsets, int64_t S, int32_t* tags) const {
  const int64_t K = K_;
  run(ids, offsets, S, nullptr, [&](int64_t lo, int64_t B, const float* s) {
    for (int64_t r = 0; r < B; ++r) tags[lo + r] = argmax_row(s + r * K, K);
  });
}

template void WindowScorer::scores<int32_t>(const int32_t*, const int64_t*, int64_t, float*) const;
template void WindowScorer::scores<int64_t>(const int64_t*, const int64_t*, int64_t, float*) const;
template void WindowScorer::predict<int32_t>(const int32_t*, const int64_t*, int64_t, int32_t*) const;
template void WindowScorer::predict<int64_t>(const int64_t*, const int64_t*, int64_t, int32_t*) const;

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
