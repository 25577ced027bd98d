// The gate pass of one RNN step, shared by the fast kernels (rnn.cpp) and defined in
// rnn_gates.cpp, where the per-cell row math is compiled into SIMD clones. Internal to the RNN
// family: the length order of the sequences and the step's arguments.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/rnn.h"

namespace fastnlp::rnn_detail {

// Sequences sorted by length, longest first (stable): the ones running at step s are [0, active[s]).
// When the threads split the sequences (rnn.cpp), the sorted order is dealt round-robin into one
// block per thread, block t = rows [block[t], block[t + 1]), each longest first: the ones of block t
// running at step s are then [block[t], block[t] + running(t, s)), and `active` is not used.
struct Order {
  std::vector<int64_t> perm, len, active, block;
  int64_t max_len = 0;
};

// What a step's gate pass reads and writes. States are kept in the longest-first order of
// `order`: row i of h / c / dh / dc / r / sbuf is sequence order->perm[i].
template <typename T>
struct StepArgs {
  Cell cell;
  bool train;  // forward: store what the backward reads (activated gates, hprev, cells); else only h
  const Order* order;
  int64_t s, T_, H, G, GH, CW, GD;  // step, sizes, cache / dG row widths
  bool reverse;
  T* cache;   // (B*T, CW) input projections -> activated gates (train; else only read)
  T* hprev;   // (B*T, H) with row stride hs: the state part of xh (train, or backward)
  int64_t hs;
  T* cells;   // (B*T, H), LSTM (train, or backward)
  // forward
  const T* r;      // this thread's recurrent products h W_hh^T: (n, G*(j1-j0)) for its rows and units
  int64_t r_gate;  // distance between gates in a row of r (j1 - j0)
  const T* bx;
  const T* bhn;
  const T* hp;  // (B, H) states before the step
  T* h;         // (B, H) states after it
  bool fused;   // r holds the whole pre-activation x_t W_ih^T + h W_hh^T (GRU: but for n, W_hn h
                // only): g is written, not read
  T* gates;     // fused or projected inference: (n, G*H) rows for the activated gates (row i - i0);
                // else null: cache rows
  const T* proj_rows;         // projected inference split by rows: the caller's projections (U, G*H),
  const int64_t* proj_index;  // and each (b, position)'s row in them; else null
  const T* xn;  // fused GRU: (n, H) the step's x_t W_in^T (row i - i0)
  T* c;         // (B, H) LSTM cell states
  T* out;       // (B*T, H), or null (inference whose caller reads only h_n): row i's output to sink
  T* sink;      // (B, H) where out is null: outputs nobody reads, kept in cache instead of B*T rows
  // backward
  const T* dout;   // (B*T, H) or null
  const T* zeros;  // H zeros, standing in for a missing dout row or c0
  const T* c0;     // (B, H) or null
  T* dh;           // (B, H)
  T* dc;           // (B, H), LSTM
  T* dG;           // (B*T, GD)
  T* sbuf;         // (B, G*H) the step buffer the recurrent GEMM reads
};

// Rows [i0, i0 + n) of a.order (sequences running at step a.s), hidden units [j0, j1): the forward
// gate math of step a.s, and its backward. Row i's recurrent product is row i - i0 of a.r. float
// runs the SIMD clones.
void gate_forward(const StepArgs<float>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1);
void gate_forward(const StepArgs<double>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1);
void gate_backward(const StepArgs<float>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1);
void gate_backward(const StepArgs<double>& a, int64_t i0, int64_t n, int64_t j0, int64_t j1);

}  // namespace fastnlp::rnn_detail
