// RNN references (ops/rnn.h): one sequence at a time, every product a plain loop (matrix-vector
// products written out), kept forever as the oracle the fast kernels (rnn.cpp) and the CUDA steps
// (cuda/rnn.cu) are tested against. The reference keeps no workspace: its backward recomputes the
// forward from x.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "ops/rnn.h"

namespace fastnlp {
namespace {

template <typename T>
T sigmoid_ref(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// ---------------------------------------------------------------------------------------------
// Reference: one sequence at a time, every product a plain loop.

// a_ih = W_ih x + b_ih, a_hh = W_hh hp + b_hh (both G*H), then the cell: h, c from hp, cp.
template <typename T>
void ref_step(Cell cell, const T* xr, const T* hp, const T* cp, const T* W_ih, const T* W_hh,
              const T* b_ih, const T* b_hh, int64_t D, int64_t H, T* a_ih, T* a_hh, T* h, T* c) {
  const int64_t GH = cell_gates(cell) * H;
  for (int64_t q = 0; q < GH; ++q) {
    T s = b_ih ? b_ih[q] : T(0);
    for (int64_t k = 0; k < D; ++k) s += W_ih[q * D + k] * xr[k];
    a_ih[q] = s;
    T r = b_hh ? b_hh[q] : T(0);
    for (int64_t k = 0; k < H; ++k) r += W_hh[q * H + k] * hp[k];
    a_hh[q] = r;
  }
  for (int64_t j = 0; j < H; ++j) {
    switch (cell) {
      case Cell::kElman: h[j] = std::tanh(a_ih[j] + a_hh[j]); break;
      case Cell::kLstm: {
        const T i = sigmoid_ref(a_ih[j] + a_hh[j]);
        const T f = sigmoid_ref(a_ih[H + j] + a_hh[H + j]);
        const T g = std::tanh(a_ih[2 * H + j] + a_hh[2 * H + j]);
        const T o = sigmoid_ref(a_ih[3 * H + j] + a_hh[3 * H + j]);
        c[j] = f * cp[j] + i * g;
        h[j] = o * std::tanh(c[j]);
        break;
      }
      case Cell::kGru: {
        const T r = sigmoid_ref(a_ih[j] + a_hh[j]);
        const T z = sigmoid_ref(a_ih[H + j] + a_hh[H + j]);
        const T n = std::tanh(a_ih[2 * H + j] + r * a_hh[2 * H + j]);
        h[j] = (T(1) - z) * n + z * hp[j];
        break;
      }
    }
  }
}

// Everything one sequence's forward produced, kept by the reference backward.
template <typename T>
struct RefTrace {
  std::vector<T> a_ih, a_hh, hp, cp;  // per step: (L, G*H), (L, G*H), (L, H), (L, H)
  std::vector<T> h, c;                // the final state
};

template <typename T>
RefTrace<T> ref_sequence(Cell cell, const T* x, const T* W_ih, const T* W_hh, const T* b_ih,
                         const T* b_hh, int64_t L, bool reverse, const T* h0, const T* c0, T* out,
                         const RnnDims& d) {
  const int64_t H = d.H, GH = cell_gates(cell) * H;
  RefTrace<T> tr;
  tr.a_ih.resize(L * GH);
  tr.a_hh.resize(L * GH);
  tr.hp.resize(L * H);
  tr.cp.resize(L * H);
  tr.h.assign(H, T(0));
  tr.c.assign(H, T(0));
  if (h0) std::copy(h0, h0 + H, tr.h.begin());
  if (c0) std::copy(c0, c0 + H, tr.c.begin());
  std::vector<T> h(H), c(H);
  for (int64_t s = 0; s < L; ++s) {
    const int64_t p = rnn_position(reverse, L, s);
    std::copy(tr.h.begin(), tr.h.end(), tr.hp.begin() + s * H);
    std::copy(tr.c.begin(), tr.c.end(), tr.cp.begin() + s * H);
    ref_step(cell, x + p * d.D, tr.h.data(), tr.c.data(), W_ih, W_hh, b_ih, b_hh, d.D, H,
             tr.a_ih.data() + s * GH, tr.a_hh.data() + s * GH, h.data(), c.data());
    tr.h = h;
    if (cell == Cell::kLstm) tr.c = c;
    if (out) std::copy(h.begin(), h.end(), out + p * H);
  }
  return tr;
}

}  // namespace

template <typename T>
void rnn_forward_ref(const RnnInputs<T>& in, const RnnOutputs<T>& o) {
  const RnnDims& d = in.d;  // o.ws is not written: the reference keeps no workspace
  const int64_t H = d.H;
  if (o.out) std::fill(o.out, o.out + d.B * d.T * H, T(0));
  for (int64_t b = 0; b < d.B; ++b) {
    const RefTrace<T> tr =
        ref_sequence(in.cell, in.x + b * d.T * d.D, in.W_ih, in.W_hh, in.b_ih, in.b_hh,
                     rnn_length(in.lengths, b, d.T), in.reverse, in.h0 ? in.h0 + b * H : nullptr,
                     in.c0 ? in.c0 + b * H : nullptr, o.out ? o.out + b * d.T * H : nullptr, d);
    if (o.h_n) std::copy(tr.h.begin(), tr.h.end(), o.h_n + b * H);
    if (o.c_n) std::copy(tr.c.begin(), tr.c.end(), o.c_n + b * H);
  }
}

// The plain forward over x = the gathered rows (every position, padding included) and W_ih = the
// identity (G*H, G*H): the same sums, written out.
template <typename T>
void rnn_forward_projected_ref(const RnnInputs<T>& in, const RnnProjected<T>& p, const RnnOutputs<T>& o) {
  const int64_t GH = cell_gates(in.cell) * in.d.H, BT = in.d.B * in.d.T;
  std::vector<T> x(BT * GH), eye(GH * GH, T(0));
  for (int64_t r = 0; r < BT; ++r)
    std::copy(p.rows + p.index[r] * GH, p.rows + (p.index[r] + 1) * GH, x.begin() + r * GH);
  for (int64_t q = 0; q < GH; ++q) eye[q * GH + q] = T(1);
  RnnInputs<T> full = in;
  full.x = x.data();
  full.W_ih = eye.data();
  full.d.D = GH;
  rnn_forward_ref(full, RnnOutputs<T>{o.out, o.h_n, o.c_n, nullptr});
}

template <typename T>
void rnn_backward_ref(const RnnInputs<T>& in, const T* /*ws*/, const RnnGrads<T>& gr) {
  const RnnDims& d = in.d;
  const int64_t H = d.H, D = d.D, GH = cell_gates(in.cell) * H;
  if (gr.dx) std::fill(gr.dx, gr.dx + d.B * d.T * D, T(0));
  if (!gr.accumulate) {
    if (gr.dW_ih) std::fill(gr.dW_ih, gr.dW_ih + GH * D, T(0));
    if (gr.dW_hh) std::fill(gr.dW_hh, gr.dW_hh + GH * H, T(0));
    if (gr.db_ih) std::fill(gr.db_ih, gr.db_ih + GH, T(0));
    if (gr.db_hh) std::fill(gr.db_hh, gr.db_hh + GH, T(0));
  }
  std::vector<T> dh(H), dc(H), dhp(H), da_ih(GH), da_hh(GH);
  for (int64_t b = 0; b < d.B; ++b) {
    const int64_t L = rnn_length(in.lengths, b, d.T);
    const T* xb = in.x + b * d.T * D;
    const RefTrace<T> tr = ref_sequence(in.cell, xb, in.W_ih, in.W_hh, in.b_ih, in.b_hh, L, in.reverse,
                                        in.h0 ? in.h0 + b * H : nullptr, in.c0 ? in.c0 + b * H : nullptr,
                                        static_cast<T*>(nullptr), d);
    for (int64_t j = 0; j < H; ++j) {
      dh[j] = gr.dh_n ? gr.dh_n[b * H + j] : T(0);
      dc[j] = (gr.dc_n && in.cell == Cell::kLstm) ? gr.dc_n[b * H + j] : T(0);
    }
    for (int64_t s = L - 1; s >= 0; --s) {
      const int64_t p = rnn_position(in.reverse, L, s);
      const T* a_ih = tr.a_ih.data() + s * GH;
      const T* a_hh = tr.a_hh.data() + s * GH;
      const T* hp = tr.hp.data() + s * H;
      const T* cp = tr.cp.data() + s * H;
      for (int64_t j = 0; j < H; ++j) {
        const T dht = dh[j] + (gr.dout ? gr.dout[(b * d.T + p) * H + j] : T(0));
        switch (in.cell) {
          case Cell::kElman: {
            const T h = std::tanh(a_ih[j] + a_hh[j]);
            da_ih[j] = da_hh[j] = dht * (T(1) - h * h);
            dhp[j] = 0;
            break;
          }
          case Cell::kLstm: {
            const T i = sigmoid_ref(a_ih[j] + a_hh[j]);
            const T f = sigmoid_ref(a_ih[H + j] + a_hh[H + j]);
            const T g = std::tanh(a_ih[2 * H + j] + a_hh[2 * H + j]);
            const T o = sigmoid_ref(a_ih[3 * H + j] + a_hh[3 * H + j]);
            const T tc = std::tanh(f * cp[j] + i * g);
            const T dcc = dc[j] + dht * o * (T(1) - tc * tc);
            da_ih[j] = dcc * g * i * (T(1) - i);
            da_ih[H + j] = dcc * cp[j] * f * (T(1) - f);
            da_ih[2 * H + j] = dcc * i * (T(1) - g * g);
            da_ih[3 * H + j] = dht * tc * o * (T(1) - o);
            for (int64_t q = 0; q < 4; ++q) da_hh[q * H + j] = da_ih[q * H + j];
            dc[j] = dcc * f;
            dhp[j] = 0;
            break;
          }
          case Cell::kGru: {
            const T r = sigmoid_ref(a_ih[j] + a_hh[j]);
            const T z = sigmoid_ref(a_ih[H + j] + a_hh[H + j]);
            const T n = std::tanh(a_ih[2 * H + j] + r * a_hh[2 * H + j]);
            const T dn = dht * (T(1) - z) * (T(1) - n * n);
            const T dr = dn * a_hh[2 * H + j] * r * (T(1) - r);
            const T dz = dht * (hp[j] - n) * z * (T(1) - z);
            da_ih[j] = da_hh[j] = dr;
            da_ih[H + j] = da_hh[H + j] = dz;
            da_ih[2 * H + j] = dn;
            da_hh[2 * H + j] = dn * r;
            dhp[j] = dht * z;
            break;
          }
        }
      }
      for (int64_t q = 0; q < GH; ++q) {
        if (gr.db_ih) gr.db_ih[q] += da_ih[q];
        if (gr.db_hh) gr.db_hh[q] += da_hh[q];
        for (int64_t k = 0; k < D; ++k) {
          if (gr.dW_ih) gr.dW_ih[q * D + k] += da_ih[q] * xb[p * D + k];
          if (gr.dx) gr.dx[(b * d.T + p) * D + k] += da_ih[q] * in.W_ih[q * D + k];
        }
        for (int64_t k = 0; k < H; ++k) {
          if (gr.dW_hh) gr.dW_hh[q * H + k] += da_hh[q] * hp[k];
          dhp[k] += da_hh[q] * in.W_hh[q * H + k];
        }
      }
      dh = dhp;
    }
    if (gr.dh0) std::copy(dh.begin(), dh.end(), gr.dh0 + b * H);
    if (gr.dc0) std::copy(dc.begin(), dc.end(), gr.dc0 + b * H);
  }
}

#define FASTNLP_INSTANTIATE(T)                                                             \
  template void rnn_forward_ref<T>(const RnnInputs<T>&, const RnnOutputs<T>&);            \
  template void rnn_forward_projected_ref<T>(const RnnInputs<T>&, const RnnProjected<T>&,   \
                                             const RnnOutputs<T>&);                        \
  template void rnn_backward_ref<T>(const RnnInputs<T>&, const T*, const RnnGrads<T>&);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
