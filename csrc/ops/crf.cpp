// Linear-chain CRF (ops/crf.h), the fast kernels (the scalar references in double are in
// crf_ref.cpp): templated on T, their per-sentence passes are SIMD clones (simd.h), with sentences
// spread over threads.
//
// Fast layout: trans is copied once per call into a (K, Kp) matrix padded with -inf to Kp, a
// multiple of kPad = 8 (an AVX2 vector of floats), so the inner loops over Kp have no scalar
// remainder at that width; the padded lanes add exp(-inf) = 0 and never win a max. The
// vectorized loop runs over the tag being computed (rows of trans are contiguous in it), each
// lane an independent logsumexp / max, and the reduction over the other tag is the outer loop:
// no horizontal reduction per tag, which a vectorized loop over the previous tag would need.
// The backward recursion reduces over the next tag, so it reads a padded transpose instead.
#include "ops/crf.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "common.h"
#include "ops/crf_internal.h"
#include "parallel.h"
#include "simd.h"

namespace fastnlp {
namespace {

using crf_detail::gold_score;
using crf_detail::kNegInf;

constexpr int64_t kPad = 8;               // tag dimension padded to a multiple of this
constexpr int64_t kWork = 1 << 15;        // ~ K*K*tokens of work per thread before threading pays
constexpr int64_t kSentencesPerChunk = 8;  // backward: sentences per gradient partial
constexpr int64_t kMaxChunks = 256;        // ... and at most this many partials
constexpr int64_t kPartialBudget = int64_t(1) << 22;  // doubles of partials at most (32 MiB)

int64_t padded(int64_t K) { return (K + kPad - 1) / kPad * kPad; }

// Sentences (or backward chunks) per thread so that a thread gets about kWork of K*K work.
int64_t sentence_grain(int64_t S, int64_t N, int64_t K) {
  const int64_t per_sentence = std::max<int64_t>(1, (N / std::max<int64_t>(1, S)) * K * K);
  return std::max<int64_t>(1, kWork / per_sentence);
}

// ---- fast passes (T = float or double), inlined into the per-sentence SIMD clones ----

// out[j] = (x ? x[j] : 0) + log sum_i exp(a[i] + W[i][j]) for j < K, W (K, Kp) padded with -inf.
// m, sum: (Kp) scratch. Each lane is shifted by its own max (exp(v - m) <= 1, never overflows);
// a lane whose max is -inf (no allowed predecessor) shifts by 0 so it sums exp(-inf) = 0 and
// comes out -inf, not NaN.
template <typename T>
FASTNLP_INLINE void lse_step(const T* __restrict__ a, const T* __restrict__ W,
                                 const T* __restrict__ x, T* __restrict__ out, T* __restrict__ m,
                                 T* __restrict__ sum, int64_t K, int64_t Kp) {
  for (int64_t j = 0; j < Kp; ++j) m[j] = kNegInf<T>;
  for (int64_t i = 0; i < K; ++i) {
    const T ai = a[i];
    const T* row = W + i * Kp;
    for (int64_t j = 0; j < Kp; ++j) {
      const T v = ai + row[j];
      m[j] = v > m[j] ? v : m[j];
    }
  }
  for (int64_t j = 0; j < Kp; ++j) {
    m[j] = m[j] == kNegInf<T> ? T(0) : m[j];
    sum[j] = 0;
  }
  for (int64_t i = 0; i < K; ++i) {
    const T ai = a[i];
    const T* row = W + i * Kp;
    for (int64_t j = 0; j < Kp; ++j) sum[j] += fast_exp(ai + row[j] - m[j]);
  }
  for (int64_t j = 0; j < K; ++j) out[j] = (x ? x[j] : T(0)) + m[j] + std::log(sum[j]);
}

// Subtracts max_j v[j] from v (K) and returns it, so the running alphas / betas / Viterbi scores
// stay near 0 while the growing total is carried in double: float keeps its precision on long
// sentences. Nothing is done when the max is -inf (no allowed path), +inf or NaN.
template <typename T>
FASTNLP_INLINE double normalize(T* v, int64_t K) {
  T mx = v[0];
  for (int64_t j = 1; j < K; ++j) mx = v[j] > mx ? v[j] : mx;
  if (!(mx > kNegInf<T> && mx < -kNegInf<T>)) return 0;
  for (int64_t j = 0; j < K; ++j) v[j] -= mx;
  return double(mx);
}

// log sum exp(v) over K values in double (once per sentence); NaN in, NaN out.
template <typename T>
FASTNLP_INLINE double lse_double(const T* v, int64_t K) {
  T mx = v[0];
  for (int64_t j = 0; j < K; ++j) {
    if (v[j] != v[j]) return double(v[j]);
    mx = v[j] > mx ? v[j] : mx;
  }
  if (mx == kNegInf<T>) return kNegInf<double>;
  double s = 0;
  for (int64_t j = 0; j < K; ++j) s += std::exp(double(v[j]) - double(mx));
  return double(mx) + std::log(s);
}

// Scratch of one thread, sized for the longest sentence it meets.
template <typename T>
struct CrfScratch {
  std::vector<T> alpha;        // (L, Kp) normalized alphas (backward), or 2 rows (forward)
  std::vector<double> shift;   // (L) what normalize() took off alpha rows 0..t together
  std::vector<T> b, bn, w, m, sum;  // (Kp) each
  std::vector<int32_t> bp;     // (L, Kp) Viterbi back-pointers

  explicit CrfScratch(int64_t Kp) : b(Kp, T(0)), bn(Kp, T(0)), w(Kp, T(0)), m(Kp), sum(Kp) {}
  void reserve(int64_t L, int64_t Kp, bool rows, bool pointers) {
    const int64_t need = (rows ? std::max<int64_t>(L, 2) : 2) * Kp;
    if (static_cast<int64_t>(alpha.size()) < need) alpha.resize(need, T(0));
    if (rows && static_cast<int64_t>(shift.size()) < L) shift.resize(L);
    if (pointers && static_cast<int64_t>(bp.size()) < L * Kp) bp.resize(L * Kp);
  }
};

// Normalized alpha rows 0..L-1 into alpha (rows of Kp; rows_kept: all rows, else 2 alternating),
// shifts into shift (when rows_kept). Returns log Z.
template <typename T>
FASTNLP_INLINE double forward_fast(const T* x, const T* Wp, const T* start, int64_t L, int64_t K,
                                       int64_t Kp, bool rows_kept, CrfScratch<T>& ws) {
  T* alpha = ws.alpha.data();
  for (int64_t j = 0; j < K; ++j) alpha[j] = start[j] + x[j];
  double C = normalize(alpha, K);
  if (rows_kept) ws.shift[0] = C;
  for (int64_t t = 1; t < L; ++t) {
    const T* prev = alpha + (rows_kept ? t - 1 : (t - 1) % 2) * Kp;
    T* cur = alpha + (rows_kept ? t : t % 2) * Kp;
    lse_step(prev, Wp, x + t * K, cur, ws.m.data(), ws.sum.data(), K, Kp);
    C += normalize(cur, K);
    if (rows_kept) ws.shift[t] = C;
  }
  const T* last = alpha + (rows_kept ? L - 1 : (L - 1) % 2) * Kp;
  return C + lse_double(last, K);
}

template <typename T>
FASTNLP_INLINE double sentence_nll_body(const T* x, const int32_t* y, const T* trans,
                                            const T* Wp, const T* start, int64_t L, int64_t K,
                                            int64_t Kp, CrfScratch<T>& ws) {
  const double logz = forward_fast(x, Wp, start, L, K, Kp, false, ws);
  return logz - gold_score(x, y, trans, start, L, K);
}

// out[j] = g * exp(a[j] + b[j] + c), j < K.
template <typename T>
FASTNLP_INLINE void scaled_exp(const T* __restrict__ a, const T* __restrict__ b, T c, T g,
                                   T* __restrict__ out, int64_t K) {
  for (int64_t j = 0; j < K; ++j) out[j] = g * fast_exp(a[j] + b[j] + c);
}

template <typename T>
FASTNLP_INLINE void add(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out,
                            int64_t K) {
  for (int64_t j = 0; j < K; ++j) out[j] = a[j] + b[j];
}

// One sentence's gradients: dx (L, K) written, dT (K, Kp) and dS (K) accumulated (double).
// WTp: trans transposed, (K, Kp) padded like Wp.
template <typename T>
FASTNLP_INLINE void sentence_grad_body(const T* x, const int32_t* y, const T* Wp, const T* WTp,
                                           const T* start, T g, int64_t L, int64_t K, int64_t Kp,
                                           T* dx, double* dT, double* dS, CrfScratch<T>& ws) {
  const double logz = forward_fast(x, Wp, start, L, K, Kp, true, ws);
  const T* alpha = ws.alpha.data();
  const double* C = ws.shift.data();
  T* b = ws.b.data();    // normalized beta of position t
  T* bn = ws.bn.data();  // ... of t - 1 (swapped with b after each step)
  T* w = ws.w.data();    // x[t] + beta[t]; padded lanes stay 0
  std::fill(b, b + Kp, T(0));
  double D = 0;  // what normalize() took off the betas of positions t..L-1 together
  for (int64_t t = L - 1; t >= 0; --t) {
    // Node marginals p(y_t = j) = exp(alpha[t][j] + beta[t][j] - log Z), the shifts added back
    // in double before rounding to T.
    const T c = static_cast<T>(C[t] + D - logz);
    const T* at = alpha + t * Kp;
    T* dxt = dx + t * K;
    scaled_exp(at, b, c, g, dxt, K);
    dxt[y[t]] -= g;
    if (t == 0) {
      for (int64_t j = 0; j < K; ++j) dS[j] += double(dxt[j]);
      break;
    }
    // Pairwise marginals p(y_{t-1} = i, y_t = j) = exp(alpha[t-1][i] + trans[i][j] + x[t][j] +
    // beta[t][j] - log Z).
    add(x + t * K, b, w, K);
    const T c2 = static_cast<T>(C[t - 1] + D - logz);
    const T* ap = alpha + (t - 1) * Kp;
    for (int64_t i = 0; i < K; ++i) {
      const T base = ap[i] + c2;
      const T* row = Wp + i * Kp;
      double* acc = dT + i * Kp;
      for (int64_t j = 0; j < Kp; ++j) acc[j] += double(g * fast_exp(base + row[j] + w[j]));
    }
    dT[y[t - 1] * Kp + y[t]] -= double(g);
    // beta[t-1][i] = log sum_j exp(trans[i][j] + w[j]): the same step over the transpose.
    lse_step(w, WTp, static_cast<const T*>(nullptr), bn, ws.m.data(), ws.sum.data(), K, Kp);
    D += normalize(bn, K);
    std::swap(b, bn);
  }
}

// out[j] = x[j] + max_i (d[i] + W[i][j]) for j < K and arg[j] = the lowest i reaching that max
// (strict > while scanning i upwards); W (K, Kp) padded with -inf, best: (Kp) scratch.
template <typename T>
FASTNLP_INLINE void max_step(const T* __restrict__ d, const T* __restrict__ W,
                                 const T* __restrict__ x, T* __restrict__ out, T* __restrict__ best,
                                 int32_t* __restrict__ arg, int64_t K, int64_t Kp) {
  const T d0 = d[0];
  for (int64_t j = 0; j < Kp; ++j) {
    best[j] = d0 + W[j];
    arg[j] = 0;
  }
  for (int64_t i = 1; i < K; ++i) {
    const T di = d[i];
    const T* row = W + i * Kp;
    const int32_t id = static_cast<int32_t>(i);
    for (int64_t j = 0; j < Kp; ++j) {
      const T v = di + row[j];
      const T b = best[j];
      // A bit mask, not `better ? id : arg[j]`: GCC turns that into a masked store behind a
      // data-dependent "any lane better?" branch, which mispredicts on every other row.
      const int32_t take = -static_cast<int32_t>(v > b);
      arg[j] = (id & take) | (arg[j] & ~take);
      best[j] = v > b ? v : b;
    }
  }
  for (int64_t j = 0; j < K; ++j) out[j] = best[j] + x[j];
}

// Viterbi over one sentence: writes its tags, returns the best score.
template <typename T>
FASTNLP_INLINE double sentence_viterbi_body(const T* x, const T* Wp, const T* start, int64_t L,
                                                int64_t K, int64_t Kp, int32_t* tags,
                                                CrfScratch<T>& ws) {
  T* d = ws.b.data();   // normalized best score ending in each tag, at position t - 1 ...
  T* dn = ws.bn.data();  // ... and t (swapped after each step)
  int32_t* bp = ws.bp.data();
  for (int64_t j = 0; j < K; ++j) d[j] = start[j] + x[j];
  double shift = normalize(d, K);
  for (int64_t t = 1; t < L; ++t) {
    max_step(d, Wp, x + t * K, dn, ws.m.data(), bp + t * Kp, K, Kp);
    shift += normalize(dn, K);
    std::swap(d, dn);
  }
  int32_t j_best = 0;
  for (int64_t j = 1; j < K; ++j)
    if (d[j] > d[j_best]) j_best = static_cast<int32_t>(j);
  const double score = shift + double(d[j_best]);
  tags[L - 1] = j_best;
  for (int64_t t = L - 1; t > 0; --t) tags[t - 1] = bp[t * Kp + tags[t]];
  return score;
}

// The per-sentence entry points, compiled for AVX-512, AVX2 and the baseline (simd.h).
FASTNLP_SIMD_CLONES double sentence_nll_f32(const float* x, const int32_t* y, const float* trans,
                                            const float* Wp, const float* start, int64_t L,
                                            int64_t K, int64_t Kp, CrfScratch<float>& ws) {
  return sentence_nll_body(x, y, trans, Wp, start, L, K, Kp, ws);
}
FASTNLP_SIMD_CLONES double sentence_nll_f64(const double* x, const int32_t* y, const double* trans,
                                            const double* Wp, const double* start, int64_t L,
                                            int64_t K, int64_t Kp, CrfScratch<double>& ws) {
  return sentence_nll_body(x, y, trans, Wp, start, L, K, Kp, ws);
}
FASTNLP_SIMD_CLONES void sentence_grad_f32(const float* x, const int32_t* y, const float* Wp,
                                           const float* WTp, const float* start, float g, int64_t L,
                                           int64_t K, int64_t Kp, float* dx, double* dT, double* dS,
                                           CrfScratch<float>& ws) {
  sentence_grad_body(x, y, Wp, WTp, start, g, L, K, Kp, dx, dT, dS, ws);
}
FASTNLP_SIMD_CLONES void sentence_grad_f64(const double* x, const int32_t* y, const double* Wp,
                                           const double* WTp, const double* start, double g,
                                           int64_t L, int64_t K, int64_t Kp, double* dx, double* dT,
                                           double* dS, CrfScratch<double>& ws) {
  sentence_grad_body(x, y, Wp, WTp, start, g, L, K, Kp, dx, dT, dS, ws);
}
FASTNLP_SIMD_CLONES double sentence_viterbi_f32(const float* x, const float* Wp, const float* start,
                                                int64_t L, int64_t K, int64_t Kp, int32_t* tags,
                                                CrfScratch<float>& ws) {
  return sentence_viterbi_body(x, Wp, start, L, K, Kp, tags, ws);
}
FASTNLP_SIMD_CLONES double sentence_viterbi_f64(const double* x, const double* Wp,
                                                const double* start, int64_t L, int64_t K,
                                                int64_t Kp, int32_t* tags, CrfScratch<double>& ws) {
  return sentence_viterbi_body(x, Wp, start, L, K, Kp, tags, ws);
}

inline double sentence_nll(const float* x, const int32_t* y, const float* tr, const float* Wp,
                           const float* st, int64_t L, int64_t K, int64_t Kp, CrfScratch<float>& ws) {
  return sentence_nll_f32(x, y, tr, Wp, st, L, K, Kp, ws);
}
inline double sentence_nll(const double* x, const int32_t* y, const double* tr, const double* Wp,
                           const double* st, int64_t L, int64_t K, int64_t Kp, CrfScratch<double>& ws) {
  return sentence_nll_f64(x, y, tr, Wp, st, L, K, Kp, ws);
}
inline void sentence_grad(const float* x, const int32_t* y, const float* Wp, const float* WTp,
                          const float* st, float g, int64_t L, int64_t K, int64_t Kp, float* dx,
                          double* dT, double* dS, CrfScratch<float>& ws) {
  sentence_grad_f32(x, y, Wp, WTp, st, g, L, K, Kp, dx, dT, dS, ws);
}
inline void sentence_grad(const double* x, const int32_t* y, const double* Wp, const double* WTp,
                          const double* st, double g, int64_t L, int64_t K, int64_t Kp, double* dx,
                          double* dT, double* dS, CrfScratch<double>& ws) {
  sentence_grad_f64(x, y, Wp, WTp, st, g, L, K, Kp, dx, dT, dS, ws);
}
inline double sentence_viterbi(const float* x, const float* Wp, const float* st, int64_t L, int64_t K,
                               int64_t Kp, int32_t* tags, CrfScratch<float>& ws) {
  return sentence_viterbi_f32(x, Wp, st, L, K, Kp, tags, ws);
}
inline double sentence_viterbi(const double* x, const double* Wp, const double* st, int64_t L,
                               int64_t K, int64_t Kp, int32_t* tags, CrfScratch<double>& ws) {
  return sentence_viterbi_f64(x, Wp, st, L, K, Kp, tags, ws);
}

// trans (K, K) -> (K, Kp) padded with -inf; transposed when `transpose`.
template <typename T>
std::vector<T> padded_trans(const T* trans, int64_t K, int64_t Kp, bool transpose) {
  std::vector<T> W(K * Kp, kNegInf<T>);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) W[i * Kp + j] = transpose ? trans[j * K + i] : trans[i * K + j];
  return W;
}

}  // namespace

int64_t crf_first_bad_offset(const int64_t* offsets, int64_t S, int64_t N) {
  if (offsets[0] != 0) return 0;
  for (int64_t p = 1; p <= S; ++p)
    if (offsets[p] < offsets[p - 1]) return p;
  return offsets[S] != N ? S : -1;
}

// ---- fast ----

// out[s] = fn(first row, length, scratch) for every sentence, 0 for empty ones; sentences spread
// over threads, each with its own scratch (sized for back-pointers when `pointers`).
template <typename T, typename Fn>
void per_sentence(const int64_t* offsets, int64_t S, int64_t N, int64_t K, bool pointers, T* out, Fn fn) {
  const int64_t Kp = padded(K);
  parallel_for(S, sentence_grain(S, N, K), [&](int64_t lo, int64_t hi) {
    CrfScratch<T> ws(Kp);
    for (int64_t s = lo; s < hi; ++s) {
      const int64_t r0 = offsets[s], L = offsets[s + 1] - r0;
      if (L == 0) {
        out[s] = 0;
        continue;
      }
      ws.reserve(L, Kp, false, pointers);
      out[s] = static_cast<T>(fn(r0, L, ws));
    }
  });
}

template <typename T>
void crf_nll(const T* scores, const int64_t* offsets, const int32_t* tags, const T* trans,
             const T* start, T* nll, int64_t S, int64_t N, int64_t K) {
  const int64_t Kp = padded(K);
  const std::vector<T> Wp = padded_trans(trans, K, Kp, false);
  per_sentence(offsets, S, N, K, false, nll, [&](int64_t r0, int64_t L, CrfScratch<T>& ws) {
    return sentence_nll(scores + r0 * K, tags + r0, trans, Wp.data(), start, L, K, Kp, ws);
  });
}

template <typename T>
void crf_nll_backward(const T* scores, const int64_t* offsets, const int32_t* tags, const T* trans,
                      const T* start, const T* grad_nll, T* dscores, T* dtrans, T* dstart, int64_t S,
                      int64_t N, int64_t K) {
  const int64_t Kp = padded(K);
  const std::vector<T> Wp = padded_trans(trans, K, Kp, false);
  const std::vector<T> WTp = padded_trans(trans, K, Kp, true);
  // dtrans and dstart are summed over sentences: each chunk of sentences sums into its own
  // partial, and the partials are added in chunk order. The chunks depend on S and K only, so
  // the result is the same for any number of threads (and there are no races).
  const int64_t part = K * Kp + K;
  const int64_t chunks = std::max<int64_t>(
      1, std::min({(S + kSentencesPerChunk - 1) / kSentencesPerChunk, kMaxChunks,
                   kPartialBudget / part}));
  std::vector<double> partial(chunks * part, 0.0);
  const int64_t chunk_grain = sentence_grain(chunks, N, K);  // N / chunks rows per chunk
  parallel_for(chunks, chunk_grain, [&](int64_t c_lo, int64_t c_hi) {
    CrfScratch<T> ws(Kp);
    for (int64_t c = c_lo; c < c_hi; ++c) {
      double* dT = partial.data() + c * part;
      double* dS = dT + K * Kp;
      for (int64_t s = S * c / chunks; s < S * (c + 1) / chunks; ++s) {
        const int64_t r0 = offsets[s], L = offsets[s + 1] - r0;
        if (L == 0) continue;
        ws.reserve(L, Kp, true, false);
        sentence_grad(scores + r0 * K, tags + r0, Wp.data(), WTp.data(), start, grad_nll[s], L, K,
                      Kp, dscores + r0 * K, dT, dS, ws);
      }
    }
  });
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) {
      double v = 0;
      for (int64_t c = 0; c < chunks; ++c) v += partial[c * part + i * Kp + j];
      dtrans[i * K + j] = static_cast<T>(v);
    }
  for (int64_t j = 0; j < K; ++j) {
    double v = 0;
    for (int64_t c = 0; c < chunks; ++c) v += partial[c * part + K * Kp + j];
    dstart[j] = static_cast<T>(v);
  }
}

template <typename T>
void viterbi_decode(const T* scores, const int64_t* offsets, const T* trans, const T* start,
                    int32_t* tags, T* best, int64_t S, int64_t N, int64_t K) {
  const int64_t Kp = padded(K);
  const std::vector<T> Wp = padded_trans(trans, K, Kp, false);
  per_sentence(offsets, S, N, K, true, best, [&](int64_t r0, int64_t L, CrfScratch<T>& ws) {
    return sentence_viterbi(scores + r0 * K, Wp.data(), start, L, K, Kp, tags + r0, ws);
  });
}

#define FASTNLP_INSTANTIATE(T)                                                                      \
  template void crf_nll<T>(const T*, const int64_t*, const int32_t*, const T*, const T*, T*,        \
                           int64_t, int64_t, int64_t);                                              \
  template void crf_nll_backward<T>(const T*, const int64_t*, const int32_t*, const T*, const T*,   \
                                    const T*, T*, T*, T*, int64_t, int64_t, int64_t);               \
  template void viterbi_decode<T>(const T*, const int64_t*, const T*, const T*, int32_t*, T*,       \
                                  int64_t, int64_t, int64_t);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
