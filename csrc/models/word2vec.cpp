// word2vec training: the per-centre updates (one code path for training and for the injected
// exact-step entry), the sentence loop compiled as SIMD clones, and the Hogwild workers.
#include "models/word2vec.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "common.h"
#include "models/text_reader.h"
#include "simd.h"

namespace fastnlp {

// ---------------------------------------------------------------------------------------------
// Noise and subsampling distributions.

NoiseSampler::NoiseSampler(const int64_t* counts, int64_t V, double power) : V_(static_cast<uint64_t>(V)) {
  FASTNLP_CHECK(V > 0 && V < INT32_MAX, "noise distribution: V must be in [1, 2^31 - 1), got ", V);
  std::vector<double> q(static_cast<size_t>(V));
  double total = 0;
  for (int64_t i = 0; i < V; ++i) {
    q[i] = counts[i] > 0 ? std::pow(static_cast<double>(counts[i]), power) : 0.0;
    total += q[i];
  }
  FASTNLP_CHECK(total > 0, "noise distribution: all ", V, " counts are 0");
  // Vose's alias construction on q scaled to mean 1.
  std::vector<int64_t> small, large;
  for (int64_t i = 0; i < V; ++i) {
    q[i] *= static_cast<double>(V) / total;
    (q[i] < 1.0 ? small : large).push_back(i);
  }
  table_.assign(static_cast<size_t>(V), Entry{0, 0});
  auto set = [&](int64_t i, double p, int64_t alias) {
    const double t = std::round(p * 4294967296.0);
    if (p >= 1.0 || t >= 4294967295.0) table_[i] = Entry{0xFFFFFFFFu, static_cast<int32_t>(i)};
    else table_[i] = Entry{static_cast<uint32_t>(t < 0 ? 0 : t), static_cast<int32_t>(alias)};
  };
  while (!small.empty() && !large.empty()) {
    const int64_t s = small.back(), l = large.back();
    small.pop_back();
    set(s, q[s], l);
    q[l] -= 1.0 - q[s];
    if (q[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers hold mass ~1 up to rounding.
  for (int64_t i : large) set(i, 1.0, i);
  for (int64_t i : small) set(i, 1.0, i);
}

std::vector<double> NoiseSampler::probabilities() const {
  std::vector<double> p(V_, 0.0);
  const double k2_32 = 4294967296.0;
  for (uint64_t i = 0; i < V_; ++i) {
    // Low halves lo with floor(lo V / 2^32) == i: [ceil(i 2^32 / V), ceil((i + 1) 2^32 / V)).
    const uint64_t lo = ((i << 32) + V_ - 1) / V_;
    const uint64_t hi = (((i + 1) << 32) + V_ - 1) / V_;
    const double width = static_cast<double>(hi - lo) / k2_32;
    const Entry& e = table_[i];
    const double accept = e.alias == static_cast<int32_t>(i) ? 1.0 : static_cast<double>(e.threshold) / k2_32;
    p[i] += width * accept;
    p[e.alias] += width * (1.0 - accept);
  }
  return p;
}

void NoiseSampler::export_table(uint32_t* thresholds, int32_t* aliases) const {
  for (size_t i = 0; i < table_.size(); ++i) {
    thresholds[i] = table_[i].threshold;
    aliases[i] = table_[i].alias;
  }
}

std::vector<double> keep_probabilities(const int64_t* counts, int64_t V, double sample) {
  std::vector<double> p(static_cast<size_t>(V), 1.0);
  if (sample <= 0) return p;
  double total = 0;
  for (int64_t i = 0; i < V; ++i) total += static_cast<double>(counts[i]);
  const double threshold = sample * total;
  for (int64_t i = 0; i < V; ++i) {
    if (counts[i] <= 0) continue;
    const double c = static_cast<double>(counts[i]);
    p[i] = std::min(1.0, (std::sqrt(c / threshold) + 1.0) * threshold / c);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// The updates. Vectors are short (D ~ 100-300): the dot/axpy loops are ours, inlined into the
// SIMD-cloned callers below, where a BLAS call would cost more than the work. They are written
// with GCC vector types: each clone lowers a 16-float vector to one AVX-512 register, two AVX2
// or four SSE registers, and remainders (D % 16) take 8-, 4-wide and scalar steps instead of
// the spill-and-add-one-by-one epilogue that a plain reduction loop gets.
namespace {

#define W2V_INLINE inline __attribute__((always_inline))

constexpr int64_t kPlans = 4;  // centres planned ahead (train_sentence), a power of two
// Skip-gram without shared negatives prefetches the K noise rows of pair c + kPairLead while pair
// c trains; the plan of the next centre prefetches only its first kPairLead pairs. Issuing all
// C K rows (up to 50 rows, 350 lines) at once stalled on the core's outstanding-miss limit; on a
// 46k-word vocabulary the spread-out prefetch trained 10-20% more words/s.
constexpr int64_t kPairLead = 1;

// Hogwild with several threads: both workers keep updating the syn1neg rows of the frequent
// words (the centre or a noise word of most predictions), and each update of a row the other
// core wrote last moves its lines between the cores. On the 2-core test VM, whenever its two
// vCPUs sat far apart (a cache line's round trip 330 ns instead of 55 ns), CBOW trained at
// 1.0M words per CPU-second instead of 2.3M on the shared corpus's 92k-word vocabulary (gensim
// ~0.8M either way), and at ~1.9M far apart with each worker on a syn1neg of its own. So each
// worker trains its own copies of the kHotRows most frequent words' rows and adds its changes
// to the shared rows every kHotMerge centres (at least kMergesPerEpoch times an epoch, for
// small corpora): a line crosses once per merge instead of once per update. Far apart that
// trains 1.35-1.5M words per CPU-second, near as fast as before. 2048 rows gained less, 16384
// cost more copying than they saved near; merging every 4096 centres cost 20%, every 65536
// gained 3% but left the copies staler. The analogy scores of 8 seeds on a corpus slice moved
// by -0.1 points (noise level).
constexpr int64_t kHotRows = 4096;
constexpr int64_t kHotMerge = 16384;
constexpr int64_t kHotMergeMin = 256;
constexpr int64_t kMergesPerEpoch = 64;

// The helpers taking and returning these vectors are always inlined into the SIMD clones, so no
// vector crosses a call and GCC's note that such an ABI depends on the ISA does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));

template <typename V>
W2V_INLINE V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <typename V>
W2V_INLINE void store(float* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

W2V_INLINE float dot(const float* a, const float* b, int64_t D) {
  V16 acc0 = {}, acc1 = {};
  int64_t i = 0;
  for (; i + 32 <= D; i += 32) {  // two accumulators: FMA latency, not throughput, bounds one
    acc0 += load<V16>(a + i) * load<V16>(b + i);
    acc1 += load<V16>(a + i + 16) * load<V16>(b + i + 16);
  }
  if (i + 16 <= D) {
    acc0 += load<V16>(a + i) * load<V16>(b + i);
    i += 16;
  }
  acc0 += acc1;
  V8 h8 = __builtin_shufflevector(acc0, acc0, 0, 1, 2, 3, 4, 5, 6, 7) +
          __builtin_shufflevector(acc0, acc0, 8, 9, 10, 11, 12, 13, 14, 15);
  if (i + 8 <= D) {
    h8 += load<V8>(a + i) * load<V8>(b + i);
    i += 8;
  }
  V4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
  if (i + 4 <= D) {
    h4 += load<V4>(a + i) * load<V4>(b + i);
    i += 4;
  }
  float s = (h4[0] + h4[2]) + (h4[1] + h4[3]);
  for (; i < D; ++i) s += a[i] * b[i];
  return s;
}

// y += a x
W2V_INLINE void axpy(float a, const float* x, float* y, int64_t D) {
  int64_t i = 0;
  for (; i + 16 <= D; i += 16) store(y + i, load<V16>(y + i) + a * load<V16>(x + i));
  if (i + 8 <= D) {
    store(y + i, load<V8>(y + i) + a * load<V8>(x + i));
    i += 8;
  }
  if (i + 4 <= D) {
    store(y + i, load<V4>(y + i) + a * load<V4>(x + i));
    i += 4;
  }
  for (; i < D; ++i) y[i] += a * x[i];
}

// dx += g w; w += g x, reading the row w once (dx uses w before its update).
W2V_INLINE void axpy2(float g, float* w, const float* x, float* dx, int64_t D) {
  int64_t i = 0;
  for (; i + 16 <= D; i += 16) {
    const V16 wi = load<V16>(w + i);
    store(dx + i, load<V16>(dx + i) + g * wi);
    store(w + i, wi + g * load<V16>(x + i));
  }
  if (i + 8 <= D) {
    const V8 wi = load<V8>(w + i);
    store(dx + i, load<V8>(dx + i) + g * wi);
    store(w + i, wi + g * load<V8>(x + i));
    i += 8;
  }
  if (i + 4 <= D) {
    const V4 wi = load<V4>(w + i);
    store(dx + i, load<V4>(dx + i) + g * wi);
    store(w + i, wi + g * load<V4>(x + i));
    i += 4;
  }
  for (; i < D; ++i) {
    const float wi = w[i];
    dx[i] += g * wi;
    w[i] = wi + g * x[i];
  }
}

W2V_INLINE void prefetch_row(const float* p, int64_t D) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t off = 0; off < D * 4; off += 64) __builtin_prefetch(c + off, 1, 3);
}
W2V_INLINE void prefetch_row_read(const float* p, int64_t D) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t off = 0; off < D * 4; off += 64) __builtin_prefetch(c + off, 0, 3);
}

// log(u) for u in [1, 2] as 2 atanh(s), s = (u - 1) / (u + 1) in [0, 1/3]: the series to s^13
// leaves an error below 1e-8, far under float's resolution of the loss.
W2V_INLINE float log_1_to_2(float u) {
  const float s = (u - 1.0f) / (u + 1.0f);
  const float s2 = s * s;
  float p = 1.0f / 13;
  p = p * s2 + 1.0f / 11;
  p = p * s2 + 1.0f / 9;
  p = p * s2 + 1.0f / 7;
  p = p * s2 + 1.0f / 5;
  p = p * s2 + 1.0f / 3;
  p = p * s2 + 1.0f;
  return 2.0f * s * p;
}

// For a score f and a label y (1: the word / the code bit to predict, 0: noise) returns the
// error y - sigmoid(f) and adds the loss -log P(y | f) = softplus(y ? -f : f). With
// e = exp(-|f|), sigmoid(|f|) = 1/(1+e) and sigmoid(-|f|) = e/(1+e) are both formed without the
// cancellation of 1 - sigmoid, and softplus = max(.., 0) + log(1 + e) never overflows.
// Saturated scores, |f| >= kSaturated, give no update (their loss still counts): gensim's rule
// for both losses (word2vec.c's for hierarchical softmax); on corpus slices it scored ~0.2
// analogy points above the plain gradient.
constexpr float kSaturated = 6.0f;

W2V_INLINE float error_and_loss(float f, int y, float* loss) {
  const float a = f < 0 ? -f : f;
  const float e = fast_expf(-a);
  const float r = 1.0f / (1.0f + e);
  const float l1p = log_1_to_2(1.0f + e);
  float err;
  if (y) {
    *loss += (f < 0 ? a : 0.0f) + l1p;
    err = f >= 0 ? e * r : r;  // sigmoid(-f)
  } else {
    *loss += (f > 0 ? a : 0.0f) + l1p;
    err = -(f >= 0 ? r : e * r);  // -sigmoid(f)
  }
  return a < kSaturated ? err : 0.0f;
}

// The core of every prediction: C inputs x[c] (D) predict M output rows w[m] (D) with labels
// label(m) (1 or 0; < 0 skips the output). Scores S[c, m] = x[c] . w[m] are taken from the
// parameters on entry; then, for each output m in order, dx[c] += G[c, m] w[m] and
// w[m] += sum_c G[c, m] x[c], where G = alpha (y - sigmoid(S)), or 0 where |S| >= kSaturated.
// dx (C, D) accumulates: the caller applies it to the inputs. S: scratch (C, M). Returns the
// summed loss.
template <typename Label>
W2V_INLINE float predict(const float* const* x, int64_t C, float* const* W, int64_t M, Label label, float alpha,
                         float* dx, float* S, int64_t D) {
  float loss = 0;
  for (int64_t m = 0; m < M; ++m) {
    if (label(m) < 0) continue;
    const float* w = W[m];
    for (int64_t c = 0; c < C; ++c) S[c * M + m] = dot(x[c], w, D);
  }
  for (int64_t m = 0; m < M; ++m) {
    const int y = label(m);
    if (y < 0) continue;
    for (int64_t c = 0; c < C; ++c) S[c * M + m] = alpha * error_and_loss(S[c * M + m], y, &loss);
  }
  for (int64_t m = 0; m < M; ++m) {
    if (label(m) < 0) continue;
    float* w = W[m];
    if (C == 1) {
      if (S[m] != 0.0f) axpy2(S[m], w, x[0], dx, D);
    } else {
      for (int64_t c = 0; c < C; ++c) axpy(S[c * M + m], w, dx + c * D, D);
      for (int64_t c = 0; c < C; ++c) axpy(S[c * M + m], x[c], w, D);
    }
  }
  return loss;
}

struct Model {
  float* syn0;
  float* syn1neg;
  float* syn1;
  int64_t D, K;
  bool hs, cbow_mean, shared;
  int64_t hot;        // syn1neg rows [0, hot) are trained on the worker's copies (0: none) ...
  int64_t hot_merge;  // ... merged after this many centres
};

// The syn1neg row of word id for this worker: the shared row, or for a hot word the worker's
// copy, taken from the shared row on first use after a merge.
W2V_INLINE float* output_row(const Model& m, Word2VecState& st, int32_t id) {
  float* shared = m.syn1neg + static_cast<int64_t>(id) * m.D;
  if (id >= m.hot) return shared;
  float* own = st.hot.data() + static_cast<int64_t>(id) * m.D;
  if (!st.hot_copied[id]) {
    std::copy(shared, shared + m.D, own);
    std::copy(shared, shared + m.D, st.hot_base.data() + static_cast<int64_t>(id) * m.D);
    st.hot_copied[id] = 1;
    st.hot_touched.push_back(id);
  }
  return own;
}

// Prefetches what output_row(id) will read: for a hot word only a shared row still to be copied,
// and for reading (taking the line for writing would steal it from the other workers).
W2V_INLINE void prefetch_output(const Model& m, const Word2VecState& st, int32_t id) {
  const float* shared = m.syn1neg + static_cast<int64_t>(id) * m.D;
  if (id >= m.hot) prefetch_row(shared, m.D);
  else if (!st.hot_copied[id]) prefetch_row_read(shared, m.D);
}

// Adds what this worker changed in its hot rows to the shared ones: shared += own - base. An
// element nobody else changed meanwhile (shared == base) takes the worker's value as is, so a
// single writer's result is bit for bit the one of training the shared rows directly.
W2V_INLINE void merge_hot(const Model& m, Word2VecState& st) {
  const int64_t D = m.D;
  for (int32_t id : st.hot_touched) {
    float* shared = m.syn1neg + static_cast<int64_t>(id) * D;
    const float* own = st.hot.data() + static_cast<int64_t>(id) * D;
    const float* base = st.hot_base.data() + static_cast<int64_t>(id) * D;
    for (int64_t i = 0; i < D; ++i) {
      const float v = shared[i];
      shared[i] = v == base[i] ? own[i] : v + (own[i] - base[i]);
    }
    st.hot_copied[id] = 0;
  }
  st.hot_touched.clear();
  st.hot_since_merge = 0;
}

// The outputs of one prediction for `centre` with inputs x (C): negative sampling (the centre
// and the K noise words neg (K), a noise word equal to the centre skipped) then hierarchical
// softmax (the centre's Huffman path).
W2V_INLINE float predict_centre(const Model& m, Word2VecState& st, const float* const* x, int64_t C,
                                int32_t centre, const int32_t* neg, const uint8_t* codes, const int32_t* points,
                                int64_t L, float alpha, float* dx) {
  float loss = 0;
  float** rows = st.rows.data();
  if (m.K > 0) {
    int32_t* t = st.targets.data();
    t[0] = centre;
    for (int64_t k = 0; k < m.K; ++k) t[1 + k] = neg[k];
    auto label = [t](int64_t j) { return j == 0 ? 1 : (t[j] == t[0] ? -1 : 0); };
    for (int64_t j = 0; j <= m.K; ++j) rows[j] = label(j) < 0 ? nullptr : output_row(m, st, t[j]);
    loss += predict(x, C, rows, 1 + m.K, label, alpha, dx, st.scores.data(), m.D);
  }
  if (m.hs && L > 0) {
    for (int64_t j = 0; j < L; ++j) rows[j] = m.syn1 + static_cast<int64_t>(points[j]) * m.D;
    loss += predict(x, C, rows, L, [codes](int64_t j) { return 1 - static_cast<int>(codes[j]); }, alpha, dx,
                    st.scores.data(), m.D);
  }
  return loss;
}

// Skip-gram at one centre with context ids ctx (C): each context word predicts the centre
// (word2vec.c's order, the same model as the paper's). neg: (C, K) noise words, one row per
// pair, or (K) shared by the window. lead > 0: prefetch the noise rows of pair c + lead while
// pair c trains (training passes kPairLead; the exact-step entry 0).
W2V_INLINE void sg_centre(const Model& m, Word2VecState& st, int32_t centre, const int32_t* ctx, int64_t C,
                          const int32_t* neg, const uint8_t* codes, const int32_t* points, int64_t L, float alpha,
                          int64_t lead = 0) {
  const int64_t D = m.D;
  if (C == 0) return;
  float* dx = st.grad.data();
  if (m.shared) {
    // Ji et al. 2016: the window's inputs share one draw of negatives, so the C x (1 + K)
    // scores are one small matrix product over rows that stay in L1.
    for (int64_t c = 0; c < C; ++c) st.inputs[c] = m.syn0 + static_cast<int64_t>(ctx[c]) * D;
    std::fill(dx, dx + C * D, 0.0f);
    st.loss += predict_centre(m, st, st.inputs.data(), C, centre, neg, codes, points, L, alpha, dx);
    for (int64_t c = 0; c < C; ++c) axpy(1.0f, dx + c * D, m.syn0 + static_cast<int64_t>(ctx[c]) * D, D);
  } else {
    for (int64_t c = 0; c < C; ++c) {
      if (lead > 0 && c + lead < C)  // the noise rows of pair c + lead (train_sentence's plan did pairs < lead)
        for (int64_t k = 0; k < m.K; ++k)
          prefetch_output(m, st, neg[(c + lead) * m.K + k]);
      float* x = m.syn0 + static_cast<int64_t>(ctx[c]) * D;
      const float* xs[1] = {x};
      std::fill(dx, dx + D, 0.0f);
      st.loss += predict_centre(m, st, xs, 1, centre, neg + c * m.K, codes, points, L, alpha, dx);
      axpy(1.0f, dx, x, D);
    }
  }
  st.examples += C;
}

// CBOW at one centre: the mean (or sum) of the context vectors predicts the centre with the
// noise words neg (K), and every context vector gets the whole input gradient (word2vec.c's
// update, also for the mean).
W2V_INLINE void cbow_centre(const Model& m, Word2VecState& st, int32_t centre, const int32_t* ctx, int64_t C,
                            const int32_t* neg, const uint8_t* codes, const int32_t* points, int64_t L,
                            float alpha) {
  const int64_t D = m.D;
  if (C == 0) return;
  float* h = st.hidden.data();
  std::copy(m.syn0 + static_cast<int64_t>(ctx[0]) * D, m.syn0 + static_cast<int64_t>(ctx[0]) * D + D, h);
  for (int64_t c = 1; c < C; ++c) axpy(1.0f, m.syn0 + static_cast<int64_t>(ctx[c]) * D, h, D);
  if (m.cbow_mean && C > 1) {
    const float inv = 1.0f / static_cast<float>(C);
    for (int64_t i = 0; i < D; ++i) h[i] *= inv;
  }
  float* dx = st.grad.data();
  std::fill(dx, dx + D, 0.0f);
  const float* xs[1] = {h};
  st.loss += predict_centre(m, st, xs, 1, centre, neg, codes, points, L, alpha, dx);
  for (int64_t c = 0; c < C; ++c) axpy(1.0f, dx, m.syn0 + static_cast<int64_t>(ctx[c]) * D, D);
  st.examples += 1;
}

// Random integer in [0, n) from 32 random bits (multiply-shift, no division).
W2V_INLINE uint32_t below(uint64_t r, uint32_t n) {
  return static_cast<uint32_t>(((r >> 32) * static_cast<uint64_t>(n)) >> 32);
}

// One sentence (ids kept after subsampling): every position is a centre with a window of
// 1..window words on each side (word2vec.c's dynamic window). Centres are planned ahead (a ring
// of kPlans): the window and noise words of centre pos + ahead are drawn, and the rows they will
// touch prefetched, while centre pos trains; random rows of syn1neg (and of syn0 as words enter
// the window, of syn1 along Huffman paths) are the main cache misses. Skip-gram trains long
// enough per centre for one centre of lead time (its C K noise rows are prefetched pair by pair,
// kPairLead pairs ahead, see sg_centre); CBOW looks further ahead. SIMD clones: the loops above are inlined here and compiled
// for AVX-512, AVX2 and the baseline.
FASTNLP_SIMD_CLONES void train_sentence(const Model& m, const Word2VecConfig& cfg, const NoiseSampler& noise,
                                        const HuffmanTree& tree, Word2VecState& st, const int32_t* sen, int64_t n,
                                        float alpha) {
  const uint32_t window = static_cast<uint32_t>(cfg.window);
  const int64_t W2 = 2 * static_cast<int64_t>(window), K = m.K, D = m.D;
  const bool per_pair = cfg.sg && !m.shared;
  const int64_t ahead = per_pair ? 1 : kPlans - 1;
  int64_t C[kPlans];
  int64_t fetched = -1;  // the syn0 rows of sen[0..fetched] are prefetched
  auto plan = [&](int64_t pos) {
    const int64_t buf = pos % kPlans;
    const int64_t b = static_cast<int64_t>(window) - below(st.rng.next(), window);  // in [1, window]
    const int64_t lo = std::max<int64_t>(0, pos - b), hi = std::min<int64_t>(n - 1, pos + b);
    int32_t* ctx = st.context.data() + buf * W2;
    int64_t c = 0;
    for (int64_t a = lo; a <= hi; ++a)
      if (a != pos) ctx[c++] = sen[a];
    C[buf] = c;
    if (c == 0) return;
    // Every syn0 row of the window not prefetched yet: the windows' edges move by up to
    // `window` words a centre (b is drawn anew), so prefetching only the newest word, sen[pos + b],
    // left the words between two planned edges unfetched (~7% of CBOW's time on a 46k vocabulary).
    for (int64_t a = std::max(fetched + 1, lo); a <= hi; ++a)
      prefetch_row(m.syn0 + static_cast<int64_t>(sen[a]) * D, D);
    fetched = std::max(fetched, hi);
    const int32_t centre = sen[pos];
    if (K > 0) {
      int32_t* neg = st.negatives.data() + buf * W2 * K;
      const int64_t nneg = per_pair ? c * K : K;
      for (int64_t k = 0; k < nneg; ++k) neg[k] = noise.draw(st.rng.next());
      const int64_t nfetch = per_pair ? std::min(nneg, kPairLead * K) : nneg;
      for (int64_t k = 0; k < nfetch; ++k) prefetch_output(m, st, neg[k]);
      prefetch_output(m, st, centre);
    }
    if (m.hs) {
      // The first levels of every path are shared by all words and stay cached.
      for (int64_t j = tree.offsets[centre] + 4; j < tree.offsets[centre + 1]; ++j)
        prefetch_row(m.syn1 + static_cast<int64_t>(tree.points[j]) * D, D);
    }
  };
  for (int64_t pos = 0; pos < std::min(n, ahead); ++pos) plan(pos);
  for (int64_t pos = 0; pos < n; ++pos) {
    if (pos + ahead < n) plan(pos + ahead);
    const int64_t cur = pos % kPlans;
    const int32_t centre = sen[pos];
    const uint8_t* codes = nullptr;
    const int32_t* points = nullptr;
    int64_t L = 0;
    if (m.hs) {
      codes = tree.codes.data() + tree.offsets[centre];
      points = tree.points.data() + tree.offsets[centre];
      L = tree.offsets[centre + 1] - tree.offsets[centre];
    }
    const int32_t* ctx = st.context.data() + cur * W2;
    const int32_t* neg = st.negatives.data() + cur * W2 * K;
    if (cfg.sg) sg_centre(m, st, centre, ctx, C[cur], neg, codes, points, L, alpha, per_pair ? kPairLead : 0);
    else cbow_centre(m, st, centre, ctx, C[cur], neg, codes, points, L, alpha);
  }
  st.hot_since_merge += n;
  if (m.hot > 0 && st.hot_since_merge >= m.hot_merge) merge_hot(m, st);
}

// The worker's last merge (end of its epoch).
FASTNLP_SIMD_CLONES void flush_hot(const Model& m, Word2VecState& st) {
  if (m.hot > 0) merge_hot(m, st);
}

FASTNLP_SIMD_CLONES void step_window(const Model& m, bool sg, Word2VecState& st, int32_t centre, const int32_t* ctx,
                                     int64_t C, const int32_t* negatives, const uint8_t* codes,
                                     const int32_t* points, int64_t L, float alpha) {
  if (sg) sg_centre(m, st, centre, ctx, C, negatives, codes, points, L, alpha);
  else cbow_centre(m, st, centre, ctx, C, negatives, codes, points, L, alpha);
}

// hot, hot_merge: the trainer's resolved Word2VecConfig::hot_rows and merge interval (no copies
// for the exact step and the emulated device).
Model make_model(const Word2VecConfig& cfg, const Word2VecParams& p, int64_t hot = 0, int64_t hot_merge = 1) {
  return Model{p.syn0, p.syn1neg, p.syn1, p.D, cfg.negative, cfg.hs, cfg.cbow_mean, cfg.sg && cfg.shared_negatives,
               cfg.negative > 0 ? hot : 0, hot_merge};
}

void size_state(Word2VecState& st, const Word2VecConfig& cfg, int64_t max_path, int64_t hot = 0) {
  const int64_t D = cfg.dim, W2 = 2 * std::max<int64_t>(cfg.window, 1);
  st.rows.assign(static_cast<size_t>(std::max<int64_t>(1 + cfg.negative, max_path)), nullptr);
  st.hot.assign(static_cast<size_t>(hot * D), 0.0f);
  st.hot_base.assign(static_cast<size_t>(hot * D), 0.0f);
  st.hot_copied.assign(static_cast<size_t>(hot), 0);
  st.hot_touched.clear();
  st.hot_touched.reserve(static_cast<size_t>(hot));
  st.hot_since_merge = 0;
  st.hidden.assign(static_cast<size_t>(D), 0.0f);
  st.grad.assign(static_cast<size_t>(W2 * D), 0.0f);
  st.scores.assign(static_cast<size_t>(W2 * std::max<int64_t>(1 + cfg.negative, max_path)), 0.0f);
  st.inputs.assign(static_cast<size_t>(W2), nullptr);
  st.context.assign(static_cast<size_t>(kPlans * W2), 0);
  st.targets.assign(static_cast<size_t>(1 + cfg.negative), 0);
  st.negatives.assign(static_cast<size_t>(kPlans * W2 * std::max<int64_t>(cfg.negative, 1)), 0);
  st.sentence.clear();
  st.sentence.reserve(static_cast<size_t>(cfg.max_sentence));
}

void check_config(const Word2VecConfig& c) {
  FASTNLP_CHECK(c.dim > 0, "word2vec: dim must be > 0, got ", c.dim);
  FASTNLP_CHECK(c.window > 0, "word2vec: window must be > 0, got ", c.window);
  FASTNLP_CHECK(c.negative >= 0, "word2vec: negative must be >= 0, got ", c.negative);
  FASTNLP_CHECK(c.negative > 0 || c.hs, "word2vec: nothing to train: negative is 0 and hs is off");
  FASTNLP_CHECK(c.sample >= 0, "word2vec: sample must be >= 0, got ", c.sample);
  FASTNLP_CHECK(c.alpha > 0, "word2vec: alpha must be > 0, got ", c.alpha);
  FASTNLP_CHECK(c.min_alpha >= 0 && c.min_alpha <= c.alpha, "word2vec: min_alpha must be in [0, alpha = ", c.alpha,
                "], got ", c.min_alpha);
  FASTNLP_CHECK(c.threads > 0, "word2vec: threads must be > 0, got ", c.threads);
  FASTNLP_CHECK(c.max_sentence > 0, "word2vec: max_sentence must be > 0, got ", c.max_sentence);
  FASTNLP_CHECK(c.hot_rows >= -1, "word2vec: hot_rows must be >= -1 (-1: automatic, 0: off), got ", c.hot_rows);
}

}  // namespace

double word2vec_step(const Word2VecConfig& config, const Word2VecParams& params, int32_t centre,
                     const int32_t* context, int64_t C, const int32_t* negatives, int64_t K,
                     const uint8_t* codes, const int32_t* points, int64_t L, float alpha) {
  check_config(config);
  FASTNLP_CHECK(K == config.negative, "word2vec_step: got ", K, " negatives per row, config.negative is ",
                config.negative);
  FASTNLP_CHECK(C <= 2 * config.window, "word2vec_step: at most 2 window = ", 2 * config.window,
                " context words, got ", C);
  Word2VecState st;
  size_state(st, config, L);
  step_window(make_model(config, params), config.sg, st, centre, context, C, negatives, codes, points,
              config.hs ? L : 0, alpha);
  return st.loss;
}

// ---------------------------------------------------------------------------------------------
// The trainer.

Word2VecTrainer::Word2VecTrainer(const Word2VecConfig& config, std::shared_ptr<const Vocab> vocab,
                                 Word2VecParams params)
    : config_(config), vocab_(std::move(vocab)), params_(params) {
  check_config(config_);
  FASTNLP_CHECK(vocab_ && vocab_->size() > 0, "word2vec: the vocabulary is empty");
  const int64_t V = vocab_->size();
  FASTNLP_CHECK(params_.V == V && params_.D == config_.dim, "word2vec: the matrices are (", params_.V, ", ",
                params_.D, "), expected (V, dim) = (", V, ", ", config_.dim, ")");
  FASTNLP_CHECK(params_.syn0, "word2vec: syn0 is missing");
  FASTNLP_CHECK(config_.negative == 0 || params_.syn1neg, "word2vec: negative > 0 needs syn1neg");
  FASTNLP_CHECK(!config_.hs || params_.syn1, "word2vec: hs needs syn1");
  const int64_t* counts = vocab_->counts().data();
  if (config_.negative > 0) noise_ = NoiseSampler(counts, V, config_.ns_exponent);
  if (config_.hs) tree_ = build_huffman(counts, V);
  keep_prob_ = keep_probabilities(counts, V, config_.sample);
  keep_threshold_.resize(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i)
    keep_threshold_[i] = static_cast<uint64_t>(std::llround(keep_prob_[i] * 4294967296.0));
  // The hot rows are ids [0, H): automatic only when those are the H most frequent words, as in
  // a vocabulary from VocabCounter::finalize (which rows are copied never changes the result of a
  // lone worker, only how often the lines cross).
  if (config_.negative > 0 && config_.hot_rows >= 0) {
    hot_rows_ = std::min(config_.hot_rows, V);
  } else if (config_.negative > 0 && config_.threads > 1) {
    const int64_t H = std::min(kHotRows, V);
    const int64_t least = *std::min_element(counts, counts + H);
    if (H == V || least >= *std::max_element(counts + H, counts + V)) hot_rows_ = H;
  }
  // At least kMergesPerEpoch merges per worker and epoch (the vocabulary's total estimates the
  // epoch's words), so a small corpus is not trained on stale copies for most of an epoch.
  hot_merge_ = std::clamp<int64_t>(vocab_->total() / (kMergesPerEpoch * config_.threads), kHotMergeMin, kHotMerge);
  states_.resize(static_cast<size_t>(config_.threads));
  for (auto& st : states_) size_state(st, config_, tree_.max_length, hot_rows_);
  counters_.reset(new Counters[static_cast<size_t>(config_.threads)]);
}

Word2VecTrainer::~Word2VecTrainer() {
  stop();
  close_stream();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
}

float Word2VecTrainer::alpha_now() const {
  int64_t units = 0;
  for (int t = 0; t < config_.threads; ++t) units += counters_[t].units.load(std::memory_order_relaxed);
  const double f = std::min(1.0, static_cast<double>(units) / units_per_epoch_);
  const double p = (static_cast<double>(epoch_) + f) / static_cast<double>(epochs_);
  return static_cast<float>(std::max(config_.min_alpha, config_.alpha - (config_.alpha - config_.min_alpha) * p));
}

void Word2VecTrainer::publish(int t) {
  const Word2VecState& st = states_[t];
  Counters& c = counters_[t];
  c.examples.store(st.examples, std::memory_order_relaxed);
  c.loss.store(st.loss, std::memory_order_relaxed);
}

Word2VecProgress Word2VecTrainer::progress() const {
  Word2VecProgress p;
  int64_t units = 0;
  for (int t = 0; t < config_.threads; ++t) {
    const Counters& c = counters_[t];
    p.words += c.words.load(std::memory_order_relaxed);
    p.tokens += c.tokens.load(std::memory_order_relaxed);
    p.examples += c.examples.load(std::memory_order_relaxed);
    p.loss += c.loss.load(std::memory_order_relaxed);
    units += c.units.load(std::memory_order_relaxed);
  }
  p.fraction = std::min(1.0, static_cast<double>(units) / units_per_epoch_);
  p.alpha = alpha_now();
  return p;
}

template <typename Body>
void Word2VecTrainer::launch(int64_t epoch, int64_t epochs, double units_per_epoch, Body body) {
  const int workers = device_ ? 1 : config_.threads;  // a device is fed by one reader thread
  FASTNLP_CHECK(workers_.empty(), "word2vec: an epoch is already running (wait() for it first)");
  FASTNLP_CHECK(epochs > 0 && epoch >= 0 && epoch < epochs, "word2vec: epoch must be in [0, epochs = ", epochs,
                "), got ", epoch);
  stop_.store(false);
  error_ = nullptr;
  finished_ = 0;
  epoch_ = epoch;
  epochs_ = epochs;
  units_per_epoch_ = std::max(1.0, units_per_epoch);
  Rng seeder{config_.seed ^ (0x632BE59BD9B4E019ull * static_cast<uint64_t>(epoch + 1))};
  for (int t = 0; t < config_.threads; ++t) {
    Word2VecState& st = states_[t];
    st.rng.state = seeder.next();
    st.loss = 0;
    st.examples = 0;
    st.hot_since_merge = 0;
    st.sentence.clear();
    Counters& c = counters_[t];
    c.words = 0;
    c.tokens = 0;
    c.examples = 0;
    c.units = 0;
    c.loss = 0;
  }
  if (device_) {
    device_loss0_ = device_->loss();
    device_examples0_ = device_->examples();
  }
  for (int t = 0; t < workers; ++t) {
    workers_.emplace_back([this, t, body] {
      try {
        body(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        stop_.store(true);
        queue_cv_.notify_all();
        room_cv_.notify_all();
      }
      if (!device_) flush_hot(make_model(config_, params_, hot_rows_, hot_merge_), states_[t]);
      publish(t);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++finished_;
      }
      done_cv_.notify_all();
    });
  }
}

void Word2VecTrainer::set_device(std::unique_ptr<Word2VecDevice> device) {
  FASTNLP_CHECK(workers_.empty(), "word2vec: cannot change the device while an epoch runs");
  device_ = std::move(device);
}

void Word2VecTrainer::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stop_.store(true);
  queue_cv_.notify_all();
  room_cv_.notify_all();
}

bool Word2VecTrainer::wait(double timeout_s) {
  if (workers_.empty()) return true;  // nothing running (or already joined)
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto done = [&] { return finished_ == static_cast<int>(workers_.size()); };
    if (timeout_s < 0) done_cv_.wait(lock, done);
    else if (!done_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), done)) return false;
  }
  for (auto& w : workers_) w.join();
  workers_.clear();
  finished_ = 0;
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  return true;
}

// Sentence assembly shared by both modes: ids of in-vocabulary words go through subsampling
// into the thread's sentence buffer, which is trained and emptied at a sentence end or when full
// (a long sentence is split, never cut).
namespace {

struct SentenceBuilder {
  const Model& m;
  const Word2VecConfig& cfg;
  const NoiseSampler& noise;
  const HuffmanTree& tree;
  const uint64_t* keep;
  Word2VecState& st;

  void add(int32_t id, float alpha) {
    const uint64_t thr = keep[id];
    if (thr <= 0xFFFFFFFFull && (st.rng.next() >> 32) >= thr) return;
    st.sentence.push_back(id);
    if (static_cast<int64_t>(st.sentence.size()) >= cfg.max_sentence) flush(alpha);
  }
  void flush(float alpha) {
    if (st.sentence.size() > 1)
      train_sentence(m, cfg, noise, tree, st, st.sentence.data(), static_cast<int64_t>(st.sentence.size()), alpha);
    st.sentence.clear();
  }
};

}  // namespace

void Word2VecTrainer::start_files(const std::vector<std::string>& paths, int64_t epoch, int64_t epochs) {
  FASTNLP_CHECK(!paths.empty(), "word2vec: no corpus files given");
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (const auto& p : paths) {
    sizes.push_back(text_file_size(p));
    total += sizes.back();
  }
  paths_ = paths;
  file_sizes_ = sizes;
  launch(epoch, epochs, static_cast<double>(total), [this](int t) {
    if (device_) worker_device(true);
    else worker_files(t);
  });
}

void Word2VecTrainer::worker_files(int t) {
  Word2VecState& st = states_[t];
  Counters& counters = counters_[t];
  const Model m = make_model(config_, params_, hot_rows_, hot_merge_);
  SentenceBuilder sb{m, config_, noise_, tree_, keep_threshold_.data(), st};
  int64_t total = 0;
  for (int64_t s : file_sizes_) total += s;
  const int T = config_.threads;
  const int64_t gb = total * t / T, ge = total * (t + 1) / T;  // this worker's bytes of the concatenation
  int64_t words = 0, tokens = 0, done_before = 0;
  float alpha = alpha_now();
  struct Sink {
    Word2VecTrainer* self;
    SentenceBuilder& sb;
    Counters& counters;
    const Vocab& vocab;
    int64_t& words;
    int64_t& tokens;
    int64_t& done_before;
    float& alpha;
    int t;
    void token(std::string_view w) {
      ++tokens;
      const int32_t id = vocab.find(w);
      if (id < 0) return;
      ++words;
      sb.add(id, alpha);
    }
    bool end_line(int64_t consumed) {
      sb.flush(alpha);
      counters.words.store(words, std::memory_order_relaxed);
      counters.tokens.store(tokens, std::memory_order_relaxed);
      counters.units.store(done_before + consumed, std::memory_order_relaxed);
      self->publish(t);
      alpha = self->alpha_now();
      return !self->stop_.load(std::memory_order_relaxed);
    }
  } sink{this, sb, counters, *vocab_, words, tokens, done_before, alpha, t};
  int64_t fo = 0;  // offset of file i in the concatenation
  for (size_t i = 0; i < paths_.size() && !stop_.load(); ++i) {
    const int64_t size = file_sizes_[i];
    const int64_t lb = std::max(gb, fo), le = std::min(ge, fo + size);
    if (lb < le) {
      TextReader reader(paths_[i], lb - fo, le - fo);
      reader.run(sink);
      sb.flush(alpha);
      done_before += le - lb;
      counters.units.store(done_before, std::memory_order_relaxed);
    }
    fo += size;
  }
  counters.words.store(words, std::memory_order_relaxed);
  counters.tokens.store(tokens, std::memory_order_relaxed);
}

void Word2VecTrainer::start_stream(int64_t epoch, int64_t epochs, int64_t total_words) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.clear();
    queue_closed_ = false;
  }
  launch(epoch, epochs, static_cast<double>(total_words), [this](int t) {
    if (device_) worker_device(false);
    else worker_stream(t);
  });
}

bool Word2VecTrainer::push(std::vector<int32_t> ids, std::vector<int64_t> offsets, double timeout_s) {
  const int64_t V = vocab_->size();
  FASTNLP_CHECK(!offsets.empty() && offsets.front() == 0 && offsets.back() == static_cast<int64_t>(ids.size()),
                "word2vec: sentence offsets must start at 0 and end at the number of ids (", ids.size(), ")");
  for (size_t s = 1; s < offsets.size(); ++s)
    FASTNLP_CHECK(offsets[s] >= offsets[s - 1], "word2vec: sentence offsets must not decrease, got ",
                  offsets[s - 1], " then ", offsets[s], " at ", s);
  for (size_t i = 0; i < ids.size(); ++i)
    FASTNLP_CHECK(ids[i] >= 0 && ids[i] < V, "word2vec: word ids must be in [0, ", V, "), got ", ids[i],
                  " at position ", i);
  std::unique_lock<std::mutex> lock(mutex_);
  FASTNLP_CHECK(!queue_closed_, "word2vec: push() after close_stream()");
  const size_t cap = static_cast<size_t>(2 * config_.threads);
  auto room = [&] { return stop_.load() || queue_.size() < cap; };
  if (timeout_s < 0) room_cv_.wait(lock, room);
  else if (!room_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), room)) return false;
  if (stop_.load()) return true;
  queue_.push_back(Chunk{std::move(ids), std::move(offsets)});
  queue_cv_.notify_one();
  return true;
}

void Word2VecTrainer::close_stream() {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_closed_ = true;
  queue_cv_.notify_all();
}

bool Word2VecTrainer::pop_chunk(Chunk& chunk) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    queue_cv_.wait(lock, [&] { return stop_.load() || !queue_.empty() || queue_closed_; });
    if (stop_.load() || queue_.empty()) return false;
    chunk = std::move(queue_.front());
    queue_.pop_front();
  }
  room_cv_.notify_one();
  return true;
}

void Word2VecTrainer::worker_stream(int t) {
  Word2VecState& st = states_[t];
  Counters& counters = counters_[t];
  const Model m = make_model(config_, params_, hot_rows_, hot_merge_);
  SentenceBuilder sb{m, config_, noise_, tree_, keep_threshold_.data(), st};
  int64_t words = 0;
  float alpha = alpha_now();
  for (;;) {
    Chunk chunk;
    if (!pop_chunk(chunk)) break;
    for (size_t s = 0; s + 1 < chunk.offsets.size(); ++s) {
      for (int64_t i = chunk.offsets[s]; i < chunk.offsets[s + 1]; ++i) sb.add(chunk.ids[i], alpha);
      sb.flush(alpha);
      words += chunk.offsets[s + 1] - chunk.offsets[s];
      counters.words.store(words, std::memory_order_relaxed);
      counters.tokens.store(words, std::memory_order_relaxed);
      counters.units.store(words, std::memory_order_relaxed);
      publish(t);
      alpha = alpha_now();
      if (stop_.load(std::memory_order_relaxed)) return;
    }
  }
}

// Device mode: one thread reads (files: all of them, in order; stream: the queued chunks),
// subsamples with worker 0's RNG, and hands the device chunks of ~1M ids cut into pieces of at
// most kDevicePiece words (so thousands of warps find work), each chunk with the learning rate
// over its span. The device's matrices are copied back at the end of the epoch, also when
// stopped, so the host arrays always hold a usable model between epochs.
void Word2VecTrainer::worker_device(bool files) {
  constexpr int64_t kChunk = 1 << 20, kDevicePiece = 1024;
  Word2VecState& st = states_[0];
  Counters& counters = counters_[0];
  const int64_t piece = std::min<int64_t>(config_.max_sentence, kDevicePiece);
  std::vector<int32_t> ids;
  std::vector<int64_t> offsets{0};
  ids.reserve(kChunk + piece);
  int64_t words = 0, tokens = 0;
  float alpha = alpha_now(), chunk_alpha = alpha;
  auto end_piece = [&] {
    if (static_cast<int64_t>(ids.size()) - offsets.back() > 1) offsets.push_back(static_cast<int64_t>(ids.size()));
    else ids.resize(static_cast<size_t>(offsets.back()));  // a lone word has no context
  };
  auto dispatch = [&] {
    if (offsets.size() > 1) device_->train(ids.data(), offsets.data(), static_cast<int64_t>(offsets.size()) - 1,
                                           chunk_alpha, alpha);
    ids.clear();
    offsets.assign(1, 0);
    chunk_alpha = alpha;
  };
  auto add = [&](int32_t id) {
    const uint64_t thr = keep_threshold_[id];
    if (thr <= 0xFFFFFFFFull && (st.rng.next() >> 32) >= thr) return;
    ids.push_back(id);
    if (static_cast<int64_t>(ids.size()) - offsets.back() >= piece) end_piece();
  };
  auto end_sentence = [&](int64_t units) {
    end_piece();
    counters.words.store(words, std::memory_order_relaxed);
    counters.tokens.store(tokens, std::memory_order_relaxed);
    counters.units.store(units, std::memory_order_relaxed);
    alpha = alpha_now();
    if (static_cast<int64_t>(ids.size()) >= kChunk) dispatch();
    return !stop_.load(std::memory_order_relaxed);
  };
  try {
    if (files) {
      struct Sink {
        const Vocab& vocab;
        int64_t& words;
        int64_t& tokens;
        int64_t done_before;
        decltype(add)& add_id;
        decltype(end_sentence)& end;
        void token(std::string_view w) {
          ++tokens;
          const int32_t id = vocab.find(w);
          if (id < 0) return;
          ++words;
          add_id(id);
        }
        bool end_line(int64_t consumed) { return end(done_before + consumed); }
      };
      int64_t done_before = 0;
      for (size_t i = 0; i < paths_.size() && !stop_.load(); ++i) {
        if (file_sizes_[i] > 0) {
          TextReader reader(paths_[i], 0, file_sizes_[i]);
          Sink sink{*vocab_, words, tokens, done_before, add, end_sentence};
          reader.run(sink);
        }
        done_before += file_sizes_[i];
      }
    } else {
      for (;;) {
        Chunk chunk;
        if (!pop_chunk(chunk)) break;
        bool go = true;
        for (size_t s = 0; go && s + 1 < chunk.offsets.size(); ++s) {
          for (int64_t i = chunk.offsets[s]; i < chunk.offsets[s + 1]; ++i) add(chunk.ids[i]);
          words += chunk.offsets[s + 1] - chunk.offsets[s];
          tokens = words;
          go = end_sentence(words);
        }
        if (!go) break;
      }
    }
    dispatch();
  } catch (...) {
    device_->sync_to_host();  // keep what was trained, then report the error
    throw;
  }
  device_->sync_to_host();
  st.loss = device_->loss() - device_loss0_;
  st.examples = device_->examples() - device_examples0_;
  counters.words.store(words, std::memory_order_relaxed);
  counters.tokens.store(tokens, std::memory_order_relaxed);
}

namespace {

class EmulatedDevice final : public Word2VecDevice {
 public:
  EmulatedDevice(const Word2VecConfig& config, const NoiseSampler& noise, const HuffmanTree& tree,
                 const Word2VecParams& host)
      : config_(config), noise_(noise), tree_(tree), host_(host) {
    const size_t n = static_cast<size_t>(host.V * host.D);
    syn0_.assign(host.syn0, host.syn0 + n);
    if (host.syn1neg) syn1neg_.assign(host.syn1neg, host.syn1neg + n);
    if (host.syn1) syn1_.assign(host.syn1, host.syn1 + n);
    Word2VecParams p = host;
    p.syn0 = syn0_.data();
    p.syn1neg = host.syn1neg ? syn1neg_.data() : nullptr;
    p.syn1 = host.syn1 ? syn1_.data() : nullptr;
    model_ = make_model(config, p);
    size_state(st_, config, tree.max_length);
    st_.rng.state = config.seed ^ 0xD1B54A32D192ED03ull;
  }
  void train(const int32_t* ids, const int64_t* offsets, int64_t S, float alpha0, float alpha1) override {
    for (int64_t s = 0; s < S; ++s) {
      const float alpha = alpha0 + (alpha1 - alpha0) * static_cast<float>(s) / static_cast<float>(S);
      train_sentence(model_, config_, noise_, tree_, st_, ids + offsets[s], offsets[s + 1] - offsets[s], alpha);
    }
  }
  void sync_to_host() override {
    std::copy(syn0_.begin(), syn0_.end(), host_.syn0);
    if (host_.syn1neg) std::copy(syn1neg_.begin(), syn1neg_.end(), host_.syn1neg);
    if (host_.syn1) std::copy(syn1_.begin(), syn1_.end(), host_.syn1);
  }
  double loss() override { return st_.loss; }
  int64_t examples() override { return st_.examples; }

 private:
  Word2VecConfig config_;
  const NoiseSampler& noise_;
  const HuffmanTree& tree_;
  Word2VecParams host_;
  std::vector<float> syn0_, syn1neg_, syn1_;
  Model model_{};
  Word2VecState st_;
};

}  // namespace

std::unique_ptr<Word2VecDevice> make_emulated_device(const Word2VecConfig& config, const NoiseSampler& noise,
                                                     const HuffmanTree& tree, const Word2VecParams& host) {
  return std::make_unique<EmulatedDevice>(config, noise, tree, host);
}

}  // namespace fastnlp
