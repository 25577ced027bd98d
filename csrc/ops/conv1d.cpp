// Conv1d over time: plain-loop references and fast kernels. The float forward multiplies each
// sequence's windows by the filters packed once per call (ops/packed_gemm.h): a window of K rows is
// contiguous in x, so the windows are rows of x read with stride D, no unfolding copy (wide mode: of
// a copy of the sequence between K - 1 zero rows), and max-pooling reduces one sequence's products
// while they are in cache. The double forward and the backward unfold the windows (im2col) for a
// BLAS GEMM per cache-sized block of sequences, except max-pooling's backward, which touches one
// window per (sequence, filter): a gather / scatter of B*H rows.
#include "ops/conv1d.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "blas.h"
#include "common.h"
#include "ops/packed_gemm.h"
#include "parallel.h"
#include "simd.h"

namespace fastnlp {

ConvMode conv_mode_from_name(const std::string& name) {
  if (name == "narrow") return ConvMode::kNarrow;
  if (name == "wide") return ConvMode::kWide;
  FASTNLP_CHECK(false, "conv1d: mode must be 'narrow' or 'wide', got '", name, "'");
  return ConvMode::kNarrow;
}

Pool pool_from_name(const std::string& name) {
  if (name == "none") return Pool::kNone;
  if (name == "max") return Pool::kMax;
  if (name == "avg") return Pool::kAvg;
  FASTNLP_CHECK(false, "conv1d: pool must be 'none', 'max' or 'avg', got '", name, "'");
  return Pool::kNone;
}

int64_t conv1d_out_len(ConvMode mode, int64_t L, int64_t K) {
  if (mode == ConvMode::kWide) return L + K - 1;
  return L >= K ? L - K + 1 : 0;
}

namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per thread before threading pays off

int64_t pad_of(ConvMode mode, int64_t K) { return mode == ConvMode::kWide ? K - 1 : 0; }

int64_t length_of(const int64_t* lengths, int64_t b, int64_t T) { return lengths ? lengths[b] : T; }

// Uninitialized scratch (std::vector would zero megabytes that are overwritten anyway).
template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[n]);
}

// The window offsets j in [j0, j1) of output position t that fall inside [0, L).
struct Window {
  int64_t j0, j1;
};
Window window_of(int64_t t, int64_t P, int64_t K, int64_t L) {
  return {std::max<int64_t>(0, P - t), std::min<int64_t>(K, L - t + P)};
}

FASTNLP_SIMD_CLONES void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
void axpy(double a, const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Running max over the rows of z with the first argmax: best/arg start at row 0.
FASTNLP_SIMD_CLONES void max_rows(const float* z, int64_t rows, int64_t H, float* best, int64_t* arg) {
  for (int64_t h = 0; h < H; ++h) {
    best[h] = z[h];
    arg[h] = 0;
  }
  for (int64_t t = 1; t < rows; ++t) {
    const float* zt = z + t * H;
    for (int64_t h = 0; h < H; ++h) {
      const bool more = zt[h] > best[h];
      best[h] = more ? zt[h] : best[h];
      arg[h] = more ? t : arg[h];
    }
  }
}
void max_rows(const double* z, int64_t rows, int64_t H, double* best, int64_t* arg) {
  for (int64_t h = 0; h < H; ++h) {
    best[h] = z[h];
    arg[h] = 0;
  }
  for (int64_t t = 1; t < rows; ++t)
    for (int64_t h = 0; h < H; ++h)
      if (z[t * H + h] > best[h]) {
        best[h] = z[t * H + h];
        arg[h] = t;
      }
}

// row (K*D) = the window of output position t of sequence b (length L), zeros outside [0, L).
template <typename T>
void unfold_window(const T* x, T* row, int64_t b, int64_t t, int64_t P, int64_t L, const Conv1dDims& d) {
  const Window w = window_of(t, P, d.K, L);
  std::memset(row, 0, w.j0 * d.D * sizeof(T));
  std::memcpy(row + w.j0 * d.D, x + (b * d.T + t - P + w.j0) * d.D, (w.j1 - w.j0) * d.D * sizeof(T));
  std::memset(row + w.j1 * d.D, 0, (d.K - w.j1) * d.D * sizeof(T));
}

// cols (rows of sequences [b0, b1), K*D): row (b, t) is the window of output position t, zeros
// where it leaves [0, lengths[b]) and for t past the sequence's last output. Zero rather than left
// stale: the backward multiplies these rows by zero gradients, and 0 * garbage could be NaN.
template <typename T>
void im2col(ConvMode mode, const T* x, const int64_t* lengths, T* cols, const Conv1dDims& d,
            int64_t T_out, int64_t b0, int64_t b1) {
  const int64_t KD = d.K * d.D, P = pad_of(mode, d.K);
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t L = length_of(lengths, b, d.T), Tb = conv1d_out_len(mode, L, d.K);
    for (int64_t t = 0; t < T_out; ++t) {
      T* row = cols + ((b - b0) * T_out + t) * KD;
      if (t >= Tb) {
        std::memset(row, 0, KD * sizeof(T));
        continue;
      }
      unfold_window(x, row, b, t, P, L, d);
    }
  }
}

// Packed windows: the rows of sequences [b0, b1), only each sequence's own Tb output positions,
// one sequence after another (a batch padded to its longest sentence would otherwise multiply
// rows of zeros). offsets[n - b0] is where sequence n's rows start; returns the row count.
template <typename T>
int64_t im2col_packed(ConvMode mode, const T* x, const int64_t* lengths, T* cols, int64_t* offsets,
                      const Conv1dDims& d, int64_t b0, int64_t b1) {
  const int64_t KD = d.K * d.D, P = pad_of(mode, d.K);
  int64_t r = 0;
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t L = length_of(lengths, b, d.T), Tb = conv1d_out_len(mode, L, d.K);
    offsets[b - b0] = r;
    for (int64_t t = 0; t < Tb; ++t, ++r) {
      T* row = cols + r * KD;
      unfold_window(x, row, b, t, P, L, d);
    }
  }
  offsets[b1 - b0] = r;
  return r;
}

// dx rows of sequences [b0, b1) = their windows in dcols (rows of those sequences, K*D) added back
// where they came from (overwritten first; zero at padding positions).
template <typename T>
void col2im(ConvMode mode, const T* dcols, const int64_t* lengths, T* dx, const Conv1dDims& d,
            int64_t T_out, int64_t b0, int64_t b1) {
  const int64_t KD = d.K * d.D, P = pad_of(mode, d.K);
  for (int64_t b = b0; b < b1; ++b) {
    std::memset(dx + b * d.T * d.D, 0, d.T * d.D * sizeof(T));
    const int64_t L = length_of(lengths, b, d.T), Tb = conv1d_out_len(mode, L, d.K);
    for (int64_t t = 0; t < Tb; ++t) {
      const Window w = window_of(t, P, d.K, L);
      axpy(T(1), dcols + ((b - b0) * T_out + t) * KD + w.j0 * d.D,
           dx + (b * d.T + t - P + w.j0) * d.D, (w.j1 - w.j0) * d.D);
    }
  }
}

// The windows of sequence n (length L) as the rows of a matrix with row stride D: window t starts
// at row t of the sequence (narrow: every window t < T_b lies inside it) or, wide, of `padded`
// ((L + 2 (K - 1)) * D) filled with the sequence between K - 1 zero rows on each side.
template <typename T>
const T* window_rows(ConvMode mode, const T* x, int64_t n, int64_t L, const Conv1dDims& d, T* padded) {
  const T* xn = x + n * d.T * d.D;
  if (mode == ConvMode::kNarrow) return xn;
  const int64_t P = d.K - 1;
  std::memset(padded, 0, P * d.D * sizeof(T));
  std::memcpy(padded + P * d.D, xn, L * d.D * sizeof(T));
  std::memset(padded + (P + L) * d.D, 0, P * d.D * sizeof(T));
  return padded;
}

// The fast kernels run on one OpenMP team, each thread taking whole sequences in blocks whose
// unfolded windows fit in L2 (about 1 MB), with one GEMM per block (a single-threaded BLAS call
// inside the region): the windows are still in cache when the GEMM reads them, and the
// epilogue and pooling of a block follow without a barrier.
int conv_threads(const Conv1dDims& d, int64_t T_out) {
  if (omp_in_parallel() || d.B * T_out * d.K * d.D * d.H < (int64_t{1} << 20)) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), d.B)));
}

template <typename T>
int64_t block_sequences(const Conv1dDims& d, int64_t T_out) {
  const int64_t bytes = T_out * d.K * d.D * static_cast<int64_t>(sizeof(T));
  return std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, bytes));
}

}  // namespace

template <typename T>
void conv1d_forward_ref(const Conv1dInputs<T>& in, const Conv1dOutputs<T>& o) {
  const Conv1dDims& d = in.d;
  const int64_t KD = d.K * d.D, P = pad_of(in.mode, d.K), T_out = conv1d_out_len(in.mode, d.T, d.K);
  std::vector<T> z(d.H), a(d.H), best(d.H), sum(d.H);
  std::vector<int64_t> arg(d.H);
  for (int64_t n = 0; n < d.B; ++n) {
    const int64_t L = length_of(in.lengths, n, d.T);
    const int64_t Tb = conv1d_out_len(in.mode, L, d.K);
    std::fill(best.begin(), best.end(), -std::numeric_limits<T>::infinity());
    std::fill(arg.begin(), arg.end(), 0);
    std::fill(sum.begin(), sum.end(), T(0));
    for (int64_t t = 0; t < T_out; ++t) {
      T* yt = o.y ? o.y + (n * T_out + t) * d.H : nullptr;
      if (t >= Tb) {
        if (yt) std::fill(yt, yt + d.H, T(0));
        continue;
      }
      for (int64_t h = 0; h < d.H; ++h) {
        T s = in.b ? in.b[h] : T(0);
        for (int64_t j = 0; j < d.K; ++j) {
          const int64_t p = t - P + j;
          if (p < 0 || p >= L) continue;
          for (int64_t k = 0; k < d.D; ++k) s += in.W[h * KD + j * d.D + k] * in.x[(n * d.T + p) * d.D + k];
        }
        z[h] = s;
        if (z[h] > best[h]) {
          best[h] = z[h];
          arg[h] = t;
        }
      }
      if (in.pool == Pool::kMax) continue;
      activation_forward_ref(in.act, z.data(), a.data(), d.H);
      for (int64_t h = 0; h < d.H; ++h) {
        yt[h] = a[h];
        sum[h] += a[h];
      }
    }
    if (in.pool == Pool::kMax) {
      activation_forward_ref(in.act, best.data(), o.pooled + n * d.H, d.H);
      std::copy(arg.begin(), arg.end(), o.argmax + n * d.H);
    } else if (in.pool == Pool::kAvg) {
      for (int64_t h = 0; h < d.H; ++h) o.pooled[n * d.H + h] = sum[h] / T(Tb);
    }
  }
}

template <typename T>
void conv1d_backward_ref(const Conv1dInputs<T>& in, const Conv1dGrads<T>& gr) {
  const Conv1dDims& d = in.d;
  const int64_t KD = d.K * d.D, P = pad_of(in.mode, d.K), T_out = conv1d_out_len(in.mode, d.T, d.K);
  if (gr.dx) std::fill(gr.dx, gr.dx + d.B * d.T * d.D, T(0));
  if (gr.dW && !gr.accumulate) std::fill(gr.dW, gr.dW + d.H * KD, T(0));
  if (gr.db && !gr.accumulate) std::fill(gr.db, gr.db + d.H, T(0));
  std::vector<T> g(d.H), dz(d.H);
  for (int64_t n = 0; n < d.B; ++n) {
    const int64_t L = length_of(in.lengths, n, d.T);
    const int64_t Tb = conv1d_out_len(in.mode, L, d.K);
    for (int64_t t = 0; t < Tb; ++t) {
      // dz: the gradient of the pre-activation at (n, t).
      if (in.pool == Pool::kMax) {
        activation_backward_ref(in.act, gr.pooled + n * d.H, gr.dy + n * d.H, g.data(), d.H);
        for (int64_t h = 0; h < d.H; ++h) dz[h] = gr.argmax[n * d.H + h] == t ? g[h] : T(0);
      } else {
        const T* yt = gr.y + (n * T_out + t) * d.H;
        if (in.pool == Pool::kNone) {
          activation_backward_ref(in.act, yt, gr.dy + (n * T_out + t) * d.H, dz.data(), d.H);
        } else {
          for (int64_t h = 0; h < d.H; ++h) g[h] = gr.dy[n * d.H + h] / T(Tb);
          activation_backward_ref(in.act, yt, g.data(), dz.data(), d.H);
        }
      }
      for (int64_t h = 0; h < d.H; ++h) {
        if (gr.db) gr.db[h] += dz[h];
        for (int64_t j = 0; j < d.K; ++j) {
          const int64_t p = t - P + j;
          if (p < 0 || p >= L) continue;
          for (int64_t k = 0; k < d.D; ++k) {
            if (gr.dW) gr.dW[h * KD + j * d.D + k] += dz[h] * in.x[(n * d.T + p) * d.D + k];
            if (gr.dx) gr.dx[(n * d.T + p) * d.D + k] += dz[h] * in.W[h * KD + j * d.D + k];
          }
        }
      }
    }
  }
}

namespace {

// The epilogue of sequence n from its T_b products z (T_b, H), in place: max-pooling takes the
// max and argmax over t of the raw products (the bias is the same at every t and the activations
// are monotone, so the caller applies bias + activation to the B*H pooled values instead of
// B*T_out*H); otherwise y's rows get act(z + b) (z may be those rows) and zeros past T_b, and
// average pooling their mean.
template <typename T>
void finish_sequence(const Conv1dInputs<T>& in, const Conv1dOutputs<T>& o, int64_t n, int64_t Tb, int64_t T_out,
                     T* z) {
  const int64_t H = in.d.H;
  if (in.pool == Pool::kMax) {
    if (Tb > 0) {
      max_rows(z, Tb, H, o.pooled + n * H, o.argmax + n * H);
    } else {  // no output position: pools zeros, as the padded product would
      std::fill(o.pooled + n * H, o.pooled + (n + 1) * H, T(0));
      std::fill(o.argmax + n * H, o.argmax + (n + 1) * H, int64_t{0});
    }
    return;
  }
  bias_act_forward(in.act, z, in.b, Tb, H);
  T* yn = o.y + n * T_out * H;
  if (z != yn) std::memcpy(yn, z, Tb * H * sizeof(T));
  std::memset(yn + Tb * H, 0, (T_out - Tb) * H * sizeof(T));
  if (in.pool != Pool::kAvg) return;
  T* pn = o.pooled + n * H;
  std::memset(pn, 0, H * sizeof(T));
  for (int64_t s = 0; s < Tb; ++s) axpy(T(1), yn + s * H, pn, H);
  for (int64_t h = 0; h < H; ++h) pn[h] /= T(Tb);
}

// float: the product per sequence on the filters packed once, windows read in place. W (H, K*D) is
// the transposed right operand of windows (T_b, K*D) x W^T. The threads pack a share of its panels
// each and meet at the one barrier of the call; then each takes whole sequences.
void conv1d_forward_packed(const Conv1dInputs<float>& in, const Conv1dOutputs<float>& o) {
  const Conv1dDims& d = in.d;
  const int64_t KD = d.K * d.D, T_out = conv1d_out_len(in.mode, d.T, d.K);
  constexpr int64_t P = kPanelWidth<float>;
  const int64_t panels = (d.H + P - 1) / P;
  PackedBuffer<float> Wp = packed_buffer<float>(KD, d.H);
  parallel_region(conv_threads(d, T_out), [&](int t, int nt) {
    const int64_t c0 = std::min(d.H, panels * t / nt * P), c1 = std::min(d.H, panels * (t + 1) / nt * P);
    if (c1 > c0) pack_panels(true, KD, c1 - c0, in.W + c0 * KD, KD, Wp.get() + c0 * KD);  // panel c0 / P
    if (nt > 1) {
#pragma omp barrier
    }
    const int64_t first = d.B * t / nt, last = d.B * (t + 1) / nt;
    // Max-pooling reduces a sequence's products in this scratch while they are in cache; the
    // other pools have them land in y.
    std::unique_ptr<float[]> z_max = in.pool == Pool::kMax ? scratch<float>(T_out * d.H) : nullptr;
    std::unique_ptr<float[]> padded =
        in.mode == ConvMode::kWide ? scratch<float>((d.T + 2 * (d.K - 1)) * d.D) : nullptr;
    for (int64_t n = first; n < last; ++n) {
      const int64_t L = length_of(in.lengths, n, d.T), Tb = conv1d_out_len(in.mode, L, d.K);
      float* z = in.pool == Pool::kMax ? z_max.get() : o.y + n * T_out * d.H;
      if (Tb > 0)
        packed_gemm(Tb, d.H, KD, window_rows(in.mode, in.x, n, L, d, padded.get()), d.D, Wp.get(), false, z, d.H);
      finish_sequence(in, o, n, Tb, T_out, z);
    }
    if (in.pool == Pool::kMax) bias_act_forward(in.act, o.pooled + first * d.H, in.b, last - first, d.H);
  });
}

// double (float64 is for gradient checks; packed_gemm's double runs without SIMD clones, far
// behind a BLAS dgemm): the windows of a cache-sized block of sequences unfolded (only each
// sequence's own positions) and multiplied in one BLAS GEMM per block.
template <typename T>
void conv1d_forward_im2col(const Conv1dInputs<T>& in, const Conv1dOutputs<T>& o) {
  const Conv1dDims& d = in.d;
  const int64_t KD = d.K * d.D, T_out = conv1d_out_len(in.mode, d.T, d.K);
  const int64_t nb = block_sequences<T>(d, T_out);
  parallel_region(conv_threads(d, T_out), [&](int t, int nt) {
    const int64_t first = d.B * t / nt, last = d.B * (t + 1) / nt, cap = std::min(nb, last - first);
    std::unique_ptr<T[]> cols = scratch<T>(cap * T_out * KD), z = scratch<T>(cap * T_out * d.H);
    std::vector<int64_t> off(cap + 1);
    for (int64_t b0 = first; b0 < last; b0 += nb) {
      const int64_t b1 = std::min(last, b0 + nb);
      const int64_t rows = im2col_packed(in.mode, in.x, in.lengths, cols.get(), off.data(), d, b0, b1);
      if (rows > 0) gemm(false, true, rows, d.H, KD, T(1), cols.get(), KD, in.W, KD, T(0), z.get(), d.H);
      for (int64_t n = b0; n < b1; ++n)
        finish_sequence(in, o, n, off[n - b0 + 1] - off[n - b0], T_out, z.get() + off[n - b0] * d.H);
    }
    if (in.pool == Pool::kMax) bias_act_forward(in.act, o.pooled + first * d.H, in.b, last - first, d.H);
  });
}

}  // namespace

template <typename T>
void conv1d_forward(const Conv1dInputs<T>& in, const Conv1dOutputs<T>& o) {
  if constexpr (std::is_same_v<T, float>) {
    conv1d_forward_packed(in, o);
  } else {
    conv1d_forward_im2col(in, o);
  }
}

template <typename T>
void conv1d_backward(const Conv1dInputs<T>& in, const Conv1dGrads<T>& gr) {
  const Conv1dDims& d = in.d;
  const int64_t KD = d.K * d.D, P = pad_of(in.mode, d.K), T_out = conv1d_out_len(in.mode, d.T, d.K);

  if (in.pool == Pool::kMax) {
    // Only the argmax position of each (sequence, filter) gets a gradient, g = dy * act'(pooled):
    // a gather / scatter of B*H windows, far less work than a dense GEMM over all positions.
    std::vector<T> g(d.B * d.H);
    bias_act_backward(in.act, gr.pooled, gr.dy, g.data(), gr.db, d.B, d.H, gr.accumulate);
    if (gr.dW) {
      if (!gr.accumulate) std::memset(gr.dW, 0, d.H * KD * sizeof(T));
      // Threads own filters (rows of dW).
      parallel_for(d.H, std::max<int64_t>(1, kGrain / (d.B * KD)), [&](int64_t lo, int64_t hi) {
        for (int64_t h = lo; h < hi; ++h)
          for (int64_t n = 0; n < d.B; ++n) {
            const T gv = g[n * d.H + h];
            if (gv == T(0)) continue;
            const int64_t t = gr.argmax[n * d.H + h];
            const Window w = window_of(t, P, d.K, length_of(in.lengths, n, d.T));
            axpy(gv, in.x + (n * d.T + t - P + w.j0) * d.D, gr.dW + h * KD + w.j0 * d.D, (w.j1 - w.j0) * d.D);
          }
      });
    }
    if (gr.dx) {
      // Threads own sequences (rows of dx).
      parallel_for(d.B, std::max<int64_t>(1, kGrain / (d.H * KD)), [&](int64_t lo, int64_t hi) {
        for (int64_t n = lo; n < hi; ++n) {
          std::memset(gr.dx + n * d.T * d.D, 0, d.T * d.D * sizeof(T));
          const int64_t L = length_of(in.lengths, n, d.T);
          for (int64_t h = 0; h < d.H; ++h) {
            const T gv = g[n * d.H + h];
            if (gv == T(0)) continue;
            const int64_t t = gr.argmax[n * d.H + h];
            const Window w = window_of(t, P, d.K, L);
            axpy(gv, in.W + h * KD + w.j0 * d.D, gr.dx + (n * d.T + t - P + w.j0) * d.D, (w.j1 - w.j0) * d.D);
          }
        }
      });
    }
    return;
  }

  // None / avg: each thread takes whole sequences in blocks: dz = (dy, or the average's share of
  // it) * act'(y), zero past each end; its partial dW += dz^T windows and db += column sums of dz;
  // dx = the windows of dz W folded back. The partial dW / db of the threads are summed at the end.
  const int threads = conv_threads(d, T_out);
  const int64_t nb = block_sequences<T>(d, T_out);
  std::vector<std::unique_ptr<T[]>> part_dW(threads), part_db(threads);
  parallel_region(threads, [&](int t, int nt) {
    const int64_t first = d.B * t / nt, last = d.B * (t + 1) / nt;
    const int64_t cap = std::min(nb, last - first) * T_out;
    std::unique_ptr<T[]> cols = scratch<T>(cap * KD), dz = scratch<T>(cap * d.H);
    if (gr.dW) {
      part_dW[t] = scratch<T>(d.H * KD);
      std::memset(part_dW[t].get(), 0, d.H * KD * sizeof(T));
    }
    if (gr.db) {
      part_db[t] = scratch<T>(d.H);
      std::memset(part_db[t].get(), 0, d.H * sizeof(T));
    }
    for (int64_t b0 = first; b0 < last; b0 += nb) {
      const int64_t b1 = std::min(last, b0 + nb), rows = (b1 - b0) * T_out;
      for (int64_t n = b0; n < b1; ++n) {
        const int64_t Tb = conv1d_out_len(in.mode, length_of(in.lengths, n, d.T), d.K);
        T* dzn = dz.get() + (n - b0) * T_out * d.H;
        if (in.pool == Pool::kNone) {
          std::memcpy(dzn, gr.dy + n * T_out * d.H, Tb * d.H * sizeof(T));
        } else {
          const T inv = T(1) / T(Tb);
          for (int64_t s = 0; s < Tb; ++s)
            for (int64_t h = 0; h < d.H; ++h) dzn[s * d.H + h] = gr.dy[n * d.H + h] * inv;
        }
        std::memset(dzn + Tb * d.H, 0, (T_out - Tb) * d.H * sizeof(T));
      }
      bias_act_backward(in.act, gr.y + b0 * T_out * d.H, dz.get(), dz.get(), part_db[t].get(), rows, d.H, true);
      if (gr.dW) {
        im2col(in.mode, in.x, in.lengths, cols.get(), d, T_out, b0, b1);
        gemm(true, false, d.H, KD, rows, T(1), dz.get(), d.H, cols.get(), KD, T(1), part_dW[t].get(), KD);
      }
      if (gr.dx) {  // dcols = dz W reuses the window buffer, then folds back into dx
        gemm(false, false, rows, KD, d.H, T(1), dz.get(), d.H, in.W, KD, T(0), cols.get(), KD);
        col2im(in.mode, cols.get(), in.lengths, gr.dx, d, T_out, b0, b1);
      }
    }
#pragma omp barrier
    // Sum the partials, threads splitting the rows of dW (and thread 0 taking db).
    if (gr.dW) {
      const int64_t lo = d.H * KD * t / nt, hi = d.H * KD * (t + 1) / nt;
      if (!gr.accumulate) std::memset(gr.dW + lo, 0, (hi - lo) * sizeof(T));
      for (int u = 0; u < nt; ++u) axpy(T(1), part_dW[u].get() + lo, gr.dW + lo, hi - lo);
    }
    if (gr.db && t == 0) {
      if (!gr.accumulate) std::memset(gr.db, 0, d.H * sizeof(T));
      for (int u = 0; u < nt; ++u) axpy(T(1), part_db[u].get(), gr.db, d.H);
    }
  });
}

#define FASTNLP_INSTANTIATE(T)                                                             \
  template void conv1d_forward_ref<T>(const Conv1dInputs<T>&, const Conv1dOutputs<T>&);   \
  template void conv1d_forward<T>(const Conv1dInputs<T>&, const Conv1dOutputs<T>&);       \
  template void conv1d_backward_ref<T>(const Conv1dInputs<T>&, const Conv1dGrads<T>&);    \
  template void conv1d_backward<T>(const Conv1dInputs<T>&, const Conv1dGrads<T>&);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
