// The gate math of an RNN step (rnn_gates.h): per cell, one row of the running prefix at a time,
// over a slice of hidden units. Kept in its own file so the row helpers inline into the float SIMD
// clones; rnn.cpp calls gate_forward / gate_backward once per step and thread.
#include "ops/rnn_gates.h"

#include <cmath>

#include "common.h"
#include "simd.h"

namespace fastnlp::rnn_detail {
namespace {

// The float passes below are SIMD clones: their helpers are FASTNLP_INLINE (common.h).

// Where a forward row's input projection comes from: nowhere (fused: r holds the whole
// pre-activation), g itself (read, then overwritten in place with the activated gates), or x, the
// row of the caller's projections it reads (projected inference: g only receives).
enum class Input { kNone, kInPlace, kRow };

// Unit j's input projection: g[j] (kInPlace), x[j] (kRow), or zero (kNone).
template <Input kIn, typename T>
FASTNLP_INLINE T input_at(const T* g, const T* x, int64_t j) {
  if constexpr (kIn == Input::kInPlace) return g[j];
  if constexpr (kIn == Input::kRow) return x[j];
  return T(0);
}

// The gate passes work on a slice of hidden units: every pointer below points at unit j0 of its
// row, n units are done, and H is the distance between gates inside a row. The gate slices
// [qH, qH + n) of one row never overlap (n <= H), which `ivdep` tells the vectorizer: it cannot
// prove it for a runtime H and would otherwise give up on the alias checks.
//
// Forward, one row. g: the row's input projection, overwritten in place with what the backward
// reads (Elman h, LSTM i, f, g, o, GRU r, z, n and W_hn h + b_hn; inference: scratch), r: its
// recurrent product W_hh h, hp: the state it starts from, h: where its new state goes (a second
// buffer: other threads' GEMMs may still read hp), out: its output; kTrain only: hprev, where hp is
// saved for the backward, and LSTM's cc, where the new cell state is saved (LSTM: c its cell state,
// updated in place). Without kTrain (inference) nothing but the states and the output is stored,
// and hprev / cc are null.
template <bool kTrain, Input kIn, typename T>
FASTNLP_INLINE void elman_forward_row(T* __restrict g, const T* __restrict x, const T* __restrict r,
                                      const T* __restrict bx, const T* __restrict hp, T* __restrict h,
                                      T* __restrict out, T* __restrict hprev, int64_t n) {
#pragma GCC ivdep
  for (int64_t j = 0; j < n; ++j) {
    const T hn = fast_tanh(input_at<kIn>(g, x, j) + bx[j] + r[j]);
    if constexpr (kTrain) {
      g[j] = hn;
      hprev[j] = hp[j];
    }
    h[j] = hn;
    out[j] = hn;
  }
}

// The forward rows activate their gates in place in g first, one gate per loop, then combine them:
// one loop doing all of a unit's math chains ~100 cycles of latency per vector (polynomial,
// division, then the cell's tanh), more than the out-of-order window overlaps, while a loop with
// one activation per element is short enough for several of its iterations to run at once.
// kIn: where the input projection added in comes from (Input). kSigmoid: a sigmoid gate, else tanh.
template <Input kIn, bool kSigmoid, typename T>
FASTNLP_INLINE void activate(T* __restrict g, const T* __restrict x, const T* __restrict bx, const T* __restrict r,
                             int64_t n) {
#pragma GCC ivdep
  for (int64_t j = 0; j < n; ++j) {
    const T v = input_at<kIn>(g, x, j) + bx[j] + r[j];
    g[j] = kSigmoid ? fast_sigmoid(v) : fast_tanh(v);
  }
}

// x + q * H: gate q's slice of the projection row (kRow only; x is null otherwise).
template <Input kIn, typename T>
FASTNLP_INLINE const T* gate_of(const T* x, int64_t q, int64_t H) {
  return kIn == Input::kRow ? x + q * H : nullptr;
}

template <bool kTrain, Input kIn, typename T>
FASTNLP_INLINE void lstm_forward_row(T* __restrict g, const T* __restrict x, const T* __restrict r,
                                     const T* __restrict bx, const T* __restrict hp, T* __restrict h,
                                     T* __restrict c, T* __restrict out, T* __restrict hprev,
                                     T* __restrict cc, int64_t n, int64_t H, int64_t Hr) {
  activate<kIn, true>(g, x, bx, r, n);
  activate<kIn, true>(g + H, gate_of<kIn>(x, 1, H), bx + H, r + Hr, n);
  activate<kIn, false>(g + 2 * H, gate_of<kIn>(x, 2, H), bx + 2 * H, r + 2 * Hr, n);
  activate<kIn, true>(g + 3 * H, gate_of<kIn>(x, 3, H), bx + 3 * H, r + 3 * Hr, n);
#pragma GCC ivdep
  for (int64_t j = 0; j < n; ++j) {
    const T cn = g[H + j] * c[j] + g[j] * g[2 * H + j];
    const T hn = g[3 * H + j] * fast_tanh(cn);
    if constexpr (kTrain) {
      hprev[j] = hp[j];
      cc[j] = cn;
    }
    c[j] = cn;
    h[j] = hn;
    out[j] = hn;
  }
}

// GRU: fused (kNone), r holds the sums for r and z but only W_hn h for n, whose input projection
// x W_in^T comes apart in xn; from a projection row (kRow), x holds all three.
template <bool kTrain, Input kIn, typename T>
FASTNLP_INLINE void gru_forward_row(T* __restrict g, const T* __restrict x, const T* __restrict xn,
                                    const T* __restrict r, const T* __restrict bx, const T* __restrict bhn,
                                    const T* __restrict hp, T* __restrict h, T* __restrict out,
                                    T* __restrict hprev, int64_t n, int64_t H, int64_t Hr) {
  activate<kIn, true>(g, x, bx, r, n);
  activate<kIn, true>(g + H, gate_of<kIn>(x, 1, H), bx + H, r + Hr, n);
#pragma GCC ivdep
  for (int64_t j = 0; j < n; ++j) {
    const T rr = g[j], z = g[H + j];
    const T hl = r[2 * Hr + j] + bhn[j];
    const T in = kIn == Input::kNone ? xn[j] : input_at<kIn>(g + 2 * H, gate_of<kIn>(x, 2, H), j);
    const T nn = fast_tanh(in + bx[2 * H + j] + rr * hl);
    if constexpr (kTrain) {
      g[2 * H + j] = nn;
      g[3 * H + j] = hl;
      hprev[j] = hp[j];
    }
    const T hn = (T(1) - z) * nn + z * hp[j];
    h[j] = hn;
    out[j] = hn;
  }
}

// Backward, one row. dh: the carried gradient of the state (LSTM: dc too, updated in place to
// the gradient of the previous cell state), dout: the output's gradient, dg: the row's
// pre-activation gradients (the natural-order dG), sg: the same in the step buffer the recurrent
// GEMM reads (GRU: [dr, dz, dn * r], the gradient of W_hh h + b_hh).
template <typename T>
FASTNLP_INLINE void elman_backward_row(const T* __restrict g, const T* __restrict dh,
                               const T* __restrict dout, T* __restrict dg, T* __restrict sg,
                               int64_t n) {
#pragma GCC ivdep
  for (int64_t j = 0; j < n; ++j) {
    const T da = (dh[j] + dout[j]) * (T(1) - g[j] * g[j]);
    dg[j] = da;
    sg[j] = da;
  }
}

template <typename T>
FASTNLP_INLINE void lstm_backward_row(const T* __restrict g, const T* __restrict cc,
                              const T* __restrict cp, const T* __restrict dh,
                              const T* __restrict dout, T* __restrict dc, T* __restrict dg,
                              T* __restrict sg, int64_t n, int64_t H) {
#pragma GCC ivdep
  for (int64_t j = 0; j < n; ++j) {
    const T i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
    const T dht = dh[j] + dout[j];
    const T tc = fast_tanh(cc[j]);
    const T dcc = dc[j] + dht * o * (T(1) - tc * tc);
    const T di = dcc * gg * i * (T(1) - i);
    const T df = dcc * cp[j] * f * (T(1) - f);
    const T dgg = dcc * i * (T(1) - gg * gg);
    const T dot = dht * tc * o * (T(1) - o);
    dc[j] = dcc * f;
    dg[j] = di;
    dg[H + j] = df;
    dg[2 * H + j] = dgg;
    dg[3 * H + j] = dot;
    sg[j] = di;
    sg[H + j] = df;
    sg[2 * H + j] = dgg;
    sg[3 * H + j] = dot;
  }
}

// GRU's dG row is [dr, dz, dn, dn * r]: the first 3H are the gradient of the input projection,
// [dr, dz, dn * r] that of the recurrent one. dh is overwritten with the direct path dh * z; the
// recurrent GEMM then adds sg W_hh.
template <typename T>
FASTNLP_INLINE void gru_backward_row(const T* __restrict g, const T* __restrict hp, T* __restrict dh,
                             const T* __restrict dout, T* __restrict dg, T* __restrict sg,
                             int64_t n, int64_t H) {
#pragma GCC ivdep
  for (int64_t j = 0; j < n; ++j) {
    const T rr = g[j], z = g[H + j], nn = g[2 * H + j], hl = g[3 * H + j];
    const T dht = dh[j] + dout[j];
    const T dn = dht * (T(1) - z) * (T(1) - nn * nn);
    const T dz = dht * (hp[j] - nn) * z * (T(1) - z);
    const T dr = dn * hl * rr * (T(1) - rr);
    dh[j] = dht * z;
    dg[j] = dr;
    dg[H + j] = dz;
    dg[2 * H + j] = dn;
    dg[3 * H + j] = dn * rr;
    sg[j] = dr;
    sg[H + j] = dz;
    sg[2 * H + j] = dn * rr;
  }
}


// Rows [i0, i0 + n) of a.order, hidden units [j0, j1). kTrain: a.train (the inference pass writes
// neither the cache nor hprev / cells, which it may not have). kIn: where the input projection
// comes from (Input).
template <bool kTrain, Input kIn, typename T>
FASTNLP_INLINE void forward_rows(const StepArgs<T>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  const int64_t H = a.H, m = j1 - j0;
  for (int64_t i = i0; i < i0 + n; ++i) {
    const int64_t row = a.order->perm[i] * a.T_ + rnn_position(a.reverse, a.order->len[i], a.s);
    T* g = (a.gates ? a.gates + (i - i0) * a.GH : a.cache + row * a.CW) + j0;
    const T* x = kIn == Input::kRow ? a.proj_rows + a.proj_index[row] * a.GH + j0 : nullptr;
    const T* r = a.r + (i - i0) * a.G * a.r_gate;
    const T* hp = a.hp + i * H + j0;
    T* h = a.h + i * H + j0;
    T* out = a.out ? a.out + row * H + j0 : a.sink + i * H + j0;
    T* hprev = kTrain ? a.hprev + row * a.hs + j0 : nullptr;
    switch (a.cell) {
      case Cell::kElman: elman_forward_row<kTrain, kIn>(g, x, r, a.bx + j0, hp, h, out, hprev, m); break;
      case Cell::kLstm:
        lstm_forward_row<kTrain, kIn>(g, x, r, a.bx + j0, hp, h, a.c + i * H + j0, out, hprev,
                                      kTrain ? a.cells + row * H + j0 : nullptr, m, H, a.r_gate);
        break;
      case Cell::kGru:
        gru_forward_row<kTrain, kIn>(g, x, kIn == Input::kNone ? a.xn + (i - i0) * H + j0 : nullptr, r, a.bx + j0,
                                     a.bhn + j0, hp, h, out, hprev, m, H, a.r_gate);
        break;
    }
  }
}

template <typename T>
FASTNLP_INLINE void forward_rows(const StepArgs<T>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  if (a.train) {
    if (a.fused) {
      forward_rows<true, Input::kNone>(a, i0, n, j0, j1);
    } else {
      forward_rows<true, Input::kInPlace>(a, i0, n, j0, j1);
    }
  } else if (a.fused) {
    forward_rows<false, Input::kNone>(a, i0, n, j0, j1);
  } else if (a.proj_rows) {
    forward_rows<false, Input::kRow>(a, i0, n, j0, j1);
  } else {
    forward_rows<false, Input::kInPlace>(a, i0, n, j0, j1);
  }
}

template <typename T>
FASTNLP_INLINE void backward_rows(const StepArgs<T>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  const int64_t H = a.H, m = j1 - j0;
  for (int64_t i = i0; i < i0 + n; ++i) {
    const int64_t b = a.order->perm[i], L = a.order->len[i];
    const int64_t row = b * a.T_ + rnn_position(a.reverse, L, a.s);
    const T* g = a.cache + row * a.CW + j0;
    const T* dout = (a.dout ? a.dout + row * H : a.zeros) + j0;
    T* dg = a.dG + row * a.GD + j0;
    T* sg = a.sbuf + i * a.GH + j0;
    T* dh = a.dh + i * H + j0;
    switch (a.cell) {
      case Cell::kElman: elman_backward_row(g, dh, dout, dg, sg, m); break;
      case Cell::kLstm: {
        const T* cp = a.s > 0 ? a.cells + (b * a.T_ + rnn_position(a.reverse, L, a.s - 1)) * H
                              : (a.c0 ? a.c0 + b * H : a.zeros);
        lstm_backward_row(g, a.cells + row * H + j0, cp + j0, dh, dout, a.dc + i * H + j0, dg, sg,
                          m, H);
        break;
      }
      case Cell::kGru: gru_backward_row(g, a.hprev + row * a.hs + j0, dh, dout, dg, sg, m, H); break;
    }
  }
}

// The float passes are compiled per SIMD level (simd.h); double runs the same code unspecialized.
FASTNLP_SIMD_CLONES void forward_rows_f(const StepArgs<float>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  forward_rows(a, i0, n, j0, j1);
}
FASTNLP_SIMD_CLONES void backward_rows_f(const StepArgs<float>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  backward_rows(a, i0, n, j0, j1);
}

}  // namespace

void gate_forward(const StepArgs<float>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  forward_rows_f(a, i0, n, j0, j1);
}
void gate_forward(const StepArgs<double>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  forward_rows(a, i0, n, j0, j1);
}
void gate_backward(const StepArgs<float>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  backward_rows_f(a, i0, n, j0, j1);
}
void gate_backward(const StepArgs<double>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1) {
  backward_rows(a, i0, n, j0, j1);
}

}  // namespace fastnlp::rnn_detail
