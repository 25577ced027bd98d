// Recurrences over whole sequences (Goldberg ch. 14-15): Elman (tanh), LSTM and GRU, one
// direction per call (the Python layer stacks layers and pairs directions), forward and
// backpropagation through time. The input projections of all time steps are one GEMM, the
// recurrent product is one GEMM per step, and the gate math of a step is one fused pass.
#pragma once

#include <cstdint>
#include <string>

namespace fastnlp {

// Weights use PyTorch's layout and gate order, so torch.nn weights can be copied in as they are:
//   kElman: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)                         (G = 1)
//   kLstm:  gates i, f, g, o (rows [0,H), [H,2H), [2H,3H), [3H,4H) of W_ih / W_hh / biases)
//           i = s(.), f = s(.), g = tanh(.), o = s(.), c' = f c + i g, h' = o tanh(c')   (G = 4)
//   kGru:   PyTorch's variant (Cho et al. 2014 with the reset applied after the recurrent product):
//           r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz),
//           n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h          (G = 3)
// (s is the logistic sigmoid.) The LSTM forget-gate bias is an initialization choice made by the
// layer (fastnlp.nn.LSTM(forget_bias=...)), not a constant inside the kernel.
enum class Cell : int { kElman = 0, kLstm = 1, kGru = 2 };

Cell cell_from_name(const std::string& name);  // "elman" (or "rnn"), "lstm", "gru"
const char* cell_name(Cell cell);
int64_t cell_gates(Cell cell);  // G: 1, 4, 3

// B sequences of T steps of D features, hidden size H.
struct RnnDims {
  int64_t B, T, D, H;
};

// The workspace rnn_forward fills for rnn_backward: THE one statement of its layout, used by the
// CPU kernels (ops/rnn.cpp), the CUDA steps (cuda/rnn.cu) and, through the binding
// rnn_workspace_layout, the GPU path of fastnlp.ops._gpu. Element offsets; every block in the
// (b, t) row order of x (B*T rows):
//   cache (B*T, cache_width): the activated gates; Elman h, LSTM i, f, g, o, GRU r, z, n and
//                             W_hn h + b_hn (which the reset gate's gradient needs)
//   xh    (B*T, D + H):       [x | the state the step started from], zero past each length, so
//                             both weight gradients come from one GEMM
//   cell  (B*T, H):           LSTM only, the cell states
struct RnnWorkspace {
  int64_t cache, cache_width, xh, xh_width, cell, size;
};
inline RnnWorkspace rnn_workspace_layout(Cell cell, const RnnDims& d) {
  const int64_t BT = d.B * d.T;
  RnnWorkspace w{};
  w.cache = 0;
  w.cache_width = cell == Cell::kElman ? d.H : 4 * d.H;
  w.xh = BT * w.cache_width;
  w.xh_width = d.D + d.H;
  w.cell = w.xh + BT * w.xh_width;
  w.size = w.cell + (cell == Cell::kLstm ? BT * d.H : 0);
  return w;
}
inline int64_t rnn_workspace_size(Cell cell, const RnnDims& d) { return rnn_workspace_layout(cell, d).size; }

// Sequence b's length (lengths null: all T), and the position step s of a sequence of length L
// reads (reverse: backwards within its own length). Shared by rnn.cpp and rnn_ref.cpp.
inline int64_t rnn_length(const int64_t* lengths, int64_t b, int64_t T) { return lengths ? lengths[b] : T; }
inline int64_t rnn_position(bool reverse, int64_t L, int64_t s) { return reverse ? L - 1 - s : s; }

// Shapes.
//   x: (B, T, D); W_ih: (G*H, D); W_hh: (G*H, H); b_ih, b_hh: (G*H) or null (zeros).
//   lengths: (B) with 1 <= lengths[b] <= T (checked by the caller), or null for all T.
//   reverse: read each sequence backwards within its own length (positions lengths[b]-1 ... 0).
//   h0, c0: (B, H) initial states or null (zeros); c0 and c_n only for the LSTM.
//   out: (B, T, H), out[b, t] = the state after reading x[b, t] (the transducer view); zero for
//        t >= lengths[b]. Past its length a sequence's state is frozen.
//   h_n, c_n: (B, H) or null, the state after lengths[b] steps (the acceptor view).
//   ws: rnn_workspace_size() elements, or null when no backward follows.
// The arguments, named once (a binding fills them once for the reference and the fast kernel).
template <typename T>
struct RnnInputs {
  Cell cell;
  const T *x, *W_ih, *W_hh, *b_ih, *b_hh;
  const int64_t* lengths;
  bool reverse;
  const T *h0, *c0;
  RnnDims d;
};
template <typename T>
struct RnnOutputs {
  T *out, *h_n, *c_n, *ws;
};
template <typename T>
void rnn_forward_ref(const RnnInputs<T>& in, const RnnOutputs<T>& o);
template <typename T>
void rnn_forward(const RnnInputs<T>& in, const RnnOutputs<T>& o);

// The forward from input projections the caller computed, e.g. once per distinct word of a batch
// instead of once per position (rnn_forward's big GEMM): the projection x W_ih^T of position
// (b, t) is rows[index[b * T + t]].
//   rows: (U, G*H) without b_ih (the gate pass adds the biases as in rnn_forward);
//   index: (B, T) in [0, U), read for t < lengths[b] only by the fast kernel.
// in.x and in.W_ih are not read (null) and in.d.D is 0; everything else, and what is written, as
// for rnn_forward. Inference only: o.ws must be null (rnn_backward needs x).
template <typename T>
struct RnnProjected {
  const T* rows;
  const int64_t* index;
  int64_t U;
};
template <typename T>
void rnn_forward_projected_ref(const RnnInputs<T>& in, const RnnProjected<T>& p, const RnnOutputs<T>& o);
template <typename T>
void rnn_forward_projected(const RnnInputs<T>& in, const RnnProjected<T>& p, const RnnOutputs<T>& o);

// Backpropagation through time for the same inputs as the forward and ws as it left it (the fast
// backward reads x from it; the reference recomputes the forward from x and ignores ws).
//   dout: (B, T, H) or null, the gradient of out (ignored past each length);
//   dh_n, dc_n: (B, H) or null, the gradients of h_n and c_n.
//   dx: (B, T, D), dh0, dc0: (B, H), each or null, overwritten (dx is zero past each length).
//   dW_ih, dW_hh, db_ih, db_hh: or null; added to when accumulate, else overwritten.
template <typename T>
struct RnnGrads {
  const T *dout, *dh_n, *dc_n;
  T *dx, *dh0, *dc0, *dW_ih, *dW_hh, *db_ih, *db_hh;
  bool accumulate;
};
template <typename T>
void rnn_backward_ref(const RnnInputs<T>& in, const T* ws, const RnnGrads<T>& g);
template <typename T>
void rnn_backward(const RnnInputs<T>& in, const T* ws, const RnnGrads<T>& g);

}  // namespace fastnlp
