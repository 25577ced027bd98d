// word2vec's update math: short-vector dot/axpy, the loss and gradient of one score, and the
// per-centre skip-gram and CBOW updates with their hot-row copies. Everything here is always
// inlined into the SIMD clones of train_sentence (word2vec_sentence.cpp, its only includer).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common.h"
#include "models/word2vec_sentence.h"
#include "simd.h"

namespace fastnlp::w2v {

// Vectors are short (D ~ 100-300): the dot/axpy loops are ours, inlined into the SIMD-cloned
// train_sentence, where a BLAS call would cost more than the work. They are written
// with GCC vector types: each clone lowers a 16-float vector to one AVX-512 register, two AVX2
// or four SSE registers, and remainders (D % 16) take 8-, 4-wide and scalar steps instead of
// the spill-and-add-one-by-one epilogue that a plain reduction loop gets.

// The helpers taking and returning these vectors are always inlined into the SIMD clones, so no
// vector crosses a call and GCC's note that such an ABI depends on the ISA does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));

template <typename V>
FASTNLP_INLINE V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <typename V>
FASTNLP_INLINE void store(float* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

FASTNLP_INLINE float dot(const float* a, const float* b, int64_t D) {
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
FASTNLP_INLINE void axpy(float a, const float* x, float* y, int64_t D) {
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
FASTNLP_INLINE void axpy2(float g, float* w, const float* x, float* dx, int64_t D) {
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

FASTNLP_INLINE void prefetch_row(const float* p, int64_t D) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t off = 0; off < D * 4; off += 64) __builtin_prefetch(c + off, 1, 3);
}
FASTNLP_INLINE void prefetch_row_read(const float* p, int64_t D) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t off = 0; off < D * 4; off += 64) __builtin_prefetch(c + off, 0, 3);
}

// log(u) for u in [1, 2] as 2 atanh(s), s = (u - 1) / (u + 1) in [0, 1/3]: the series to s^13
// leaves an error below 1e-8, far under float's resolution of the loss.
FASTNLP_INLINE float log_1_to_2(float u) {
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

FASTNLP_INLINE float error_and_loss(float f, int y, float* loss) {
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
FASTNLP_INLINE float predict(const float* const* x, int64_t C, float* const* W, int64_t M, Label label, float alpha,
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


// The syn1neg row of word id for this worker: the shared row, or for a hot word the worker's
// copy, taken from the shared row on first use after a merge.
FASTNLP_INLINE float* output_row(const Model& m, Word2VecState& st, int32_t id) {
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
FASTNLP_INLINE void prefetch_output(const Model& m, const Word2VecState& st, int32_t id) {
  const float* shared = m.syn1neg + static_cast<int64_t>(id) * m.D;
  if (id >= m.hot) prefetch_row(shared, m.D);
  else if (!st.hot_copied[id]) prefetch_row_read(shared, m.D);
}

// Adds what this worker changed in its hot rows to the shared ones: shared += own - base. An
// element nobody else changed meanwhile (shared == base) takes the worker's value as is, so a
// single writer's result is bit for bit the one of training the shared rows directly.
FASTNLP_INLINE void merge_hot(const Model& m, Word2VecState& st) {
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
FASTNLP_INLINE float predict_centre(const Model& m, Word2VecState& st, const float* const* x, int64_t C,
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
FASTNLP_INLINE void sg_centre(const Model& m, Word2VecState& st, int32_t centre, const int32_t* ctx, int64_t C,
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
FASTNLP_INLINE void cbow_centre(const Model& m, Word2VecState& st, int32_t centre, const int32_t* ctx, int64_t C,
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
FASTNLP_INLINE uint32_t below(uint64_t r, uint32_t n) {
  return static_cast<uint32_t>(((r >> 32) * static_cast<uint64_t>(n)) >> 32);
}

}  // namespace fastnlp::w2v
