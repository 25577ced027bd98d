// The gate pass of one RNN step, shared by the fast kernels (rnn.cpp) and defined in
// rnn_gates.cpp, where the per-cell row math is compiled into SIMD clones. Internal to the RNN
// family: the length order of the sequences and the step's arguments.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/rnn.h"

namespace fastnlp::rnn_detail {

// Sequences sorted by length, longest first (stable): the ones running at step s are [0, active[s]).
struct Order {
  std::vector<int64_t> perm, len, active;
  int64_t max_len = 0;
};

// What a step's gate pass reads and writes. States are kept in the longest-first order of
// `order`: row i of h / c / dh / dc / r / sbuf is sequence order->perm[i].
template <typename T>
struct StepArgs {
  Cell cell;
  const Order* order;
  int64_t s, T_, H, G, GH, CW, GD;  // step, sizes, cache / dG row widths
  bool reverse;
  T* cache;   // (B*T, CW) input projections -> activated gates
  T* hprev;   // (B*T, H) with row stride hs: the state part of xh
  int64_t hs;
  T* cells;   // (B*T, H), LSTM
  // forward
  const T* r;      // this thread's recurrent products h W_hh^T: (B, G*(j1-j0)) for its units
  int64_t r_gate;  // distance between gates in a row of r (j1 - j0)
  const T* bx;
  const T* bhn;
  const T* hp;  // (B, H) states before the step
  T* h;         // (B, H) states after it
  T* c;         // (B, H) LSTM cell states
  T* out;       // (B*T, H)
  // backward
  const T* dout;   // (B*T, H) or null
  const T* zeros;  // H zeros, standing in for a missing dout row or c0
  const T* c0;     // (B, H) or null
  T* dh;           // (B, H)
  T* dc;           // (B, H), LSTM
  T* dG;           // (B*T, GD)
  T* sbuf;         // (B, G*H) the step buffer the recurrent GEMM reads
};

// Rows [0, n) of the running prefix (the first n sequences of a.order), hidden units [j0, j1):
// the forward gate math of step a.s, and its backward. float runs the SIMD clones.
void gate_forward(const StepArgs<float>& a, int64_t n, int64_t j0, int64_t j1);
void gate_forward(const StepArgs<double>& a, int64_t n, int64_t j0, int64_t j1);
void gate_backward(const StepArgs<float>& a, int64_t n, int64_t j0, int64_t j1);
void gate_backward(const StepArgs<double>& a, int64_t n, int64_t j0, int64_t j1);

}  // namespace fastnlp::rnn_detail
