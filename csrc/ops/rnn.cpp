// RNN kernels, the fast path (the plain references are in rnn_ref.cpp, the per-step gate math in
// rnn_gates.cpp): one GEMM for the input projections of every step, one product per step for the
// recurrent part over the sequences still running (on W_hh packed once per call, packed_gemm.h),
// and one fused pass for the gate math. Where the threads split the sequences and each has a full
// tile of them, the steps take their input projections into that product instead (fuse_input).
// Sequences are processed longest first, so the ones still running at step s are a prefix of that
// order (of each thread's block of it, when threads split the sequences) and each step's GEMM
// covers only their rows.
#include "ops/rnn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "blas.h"
#include "common.h"
#include "ops/packed_gemm.h"
#include "ops/rnn_gates.h"
#include "parallel.h"

namespace fastnlp {

Cell cell_from_name(const std::string& name) {
  if (name == "elman" || name == "rnn") return Cell::kElman;
  if (name == "lstm") return Cell::kLstm;
  if (name == "gru") return Cell::kGru;
  FASTNLP_CHECK(false, "rnn: cell must be 'elman', 'lstm' or 'gru', got '", name, "'");
  return Cell::kElman;
}

const char* cell_name(Cell cell) {
  switch (cell) {
    case Cell::kElman: return "elman";
    case Cell::kLstm: return "lstm";
    case Cell::kGru: return "gru";
  }
  return "?";
}

int64_t cell_gates(Cell cell) {
  switch (cell) {
    case Cell::kElman: return 1;
    case Cell::kLstm: return 4;
    case Cell::kGru: return 3;
  }
  return 1;
}

namespace {

using rnn_detail::gate_backward;
using rnn_detail::gate_forward;
using rnn_detail::Order;
using rnn_detail::StepArgs;

// Uninitialized scratch (std::vector would zero megabytes that are overwritten anyway).
template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[n]);
}

// The length order of a batch (rnn_gates.h).
Order make_order(const int64_t* lengths, int64_t B, int64_t T) {
  Order o;
  o.perm.resize(B);
  std::iota(o.perm.begin(), o.perm.end(), 0);
  if (lengths)
    std::stable_sort(o.perm.begin(), o.perm.end(),
                     [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  o.len.resize(B);
  for (int64_t i = 0; i < B; ++i) o.len[i] = rnn_length(lengths, o.perm[i], T);
  o.max_len = B ? o.len[0] : 0;
  o.active.assign(o.max_len, 0);
  for (int64_t s = 0, n = B; s < o.max_len; ++s) {
    while (n > 0 && o.len[n - 1] <= s) --n;
    o.active[s] = n;
  }
  return o;
}

// The biases the gate pass adds: bx = b_ih + b_hh (G*H), except GRU's n slice, where b_hh's
// part (b_hn) sits inside the reset product and is kept apart in bhn (H).
template <typename T>
void fold_biases(Cell cell, const T* b_ih, const T* b_hh, int64_t H, std::vector<T>& bx,
                 std::vector<T>& bhn) {
  const int64_t GH = cell_gates(cell) * H;
  bx.assign(GH, T(0));
  bhn.assign(H, T(0));
  for (int64_t q = 0; q < GH; ++q) {
    if (b_ih) bx[q] += b_ih[q];
    const bool reset_slice = cell == Cell::kGru && q >= 2 * H;
    if (b_hh && !reset_slice) bx[q] += b_hh[q];
    if (b_hh && reset_slice) bhn[q - 2 * H] = b_hh[q];
  }
}


// Threads for a whole call, one OpenMP team (one parallel region, not one per step). The big GEMMs
// (input projections, weight gradients) are split by rows over its threads (inside the region
// gemm() runs as one single-threaded block). In the recurrence the threads split either
// - the sequences (rows_split, whenever every thread gets at least one): each thread runs its block
//   of sequences through every step against the whole packed W_hh, and rows are independent, so
//   the steps need no barrier; or
// - the hidden units (fewer sequences than threads; B = 1 only above H = 1024, below it one
//   thread runs it): each thread computes its
//   columns of every step's recurrent GEMM and then the gate math of those units, so a step ends
//   in a barrier, which under OMP_WAIT_POLICY=PASSIVE is a futex sleep and wake-up per step.
// Measured at 2 threads (2-core EPYC, quiet): the sequence split was faster from B = 2 (one row per
// thread, each reading all of W_hh per step) up, 1.04-1.37x at B = 2-10 against the unit split.
// A step must be big enough to pay for waking a second thread, and every unit slice keeps at
// least 8 units.
int rnn_threads(int64_t B, int64_t GH, int64_t H) {
  if (omp_in_parallel() || B * GH * H < (int64_t{1} << 15)) return 1;
  const int64_t n = get_num_threads();
  if (B >= n) return static_cast<int>(n);
  // One sequence: the unit split's barrier per step costs more than the second core gives back
  // (2 threads, quiet, H = 128 to 1024: LSTM B = 1 forward 2.43 ms vs 1.82 on one thread).
  if (B == 1 && H <= 1024) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(n, H / 8)));
}

bool rows_split(int threads, int64_t B) { return B >= threads; }

// The sorted order dealt round-robin into `threads` blocks (Order::block): block t takes sorted
// rows t, t + threads, ..., so ragged lengths spread evenly and each block stays longest first.
// Without lengths (all equal, the order the batch's own) block t is sequences [B t / threads,
// B (t + 1) / threads): the ones whose input projections thread t computes (gemm_valid_rows,
// gather_rows_share), so its steps need nothing another thread wrote.
void deal_rows(Order& o, int threads, bool ragged) {
  const int64_t B = static_cast<int64_t>(o.perm.size());
  if (!ragged) {
    o.block.clear();
    for (int t = 0; t <= threads; ++t) o.block.push_back(B * t / threads);
    return;
  }
  Order d;
  d.max_len = o.max_len;
  d.block.assign(1, 0);
  for (int t = 0; t < threads; ++t) {
    for (int64_t i = t; i < B; i += threads) {
      d.perm.push_back(o.perm[i]);
      d.len.push_back(o.len[i]);
    }
    d.block.push_back(static_cast<int64_t>(d.perm.size()));
  }
  o = std::move(d);
}

// The rows of block [i0, i0 + cnt) of o still running at step s (its lengths are non-increasing).
int64_t running(const Order& o, int64_t i0, int64_t cnt, int64_t s) {
  const auto first = o.len.begin() + i0;
  return std::partition_point(first, first + cnt, [s](int64_t L) { return L > s; }) - first;
}

// Thread t's share of the panels of a packed operand (pack_panels, K, N): whole panels, so the
// threads write disjoint parts of dst.
template <typename T>
void pack_panels_share(int t, int nt, bool trans, int64_t K, int64_t N, const T* src, int64_t ldb, T* dst) {
  constexpr int64_t P = kPanelWidth<T>;
  const int64_t panels = (N + P - 1) / P;
  const int64_t c0 = panels * t / nt * P, c1 = std::min(N, panels * (t + 1) / nt * P);
  if (c0 < c1) pack_panels(trans, K, c1 - c0, trans ? src + c0 * ldb : src + c0, ldb, packed_columns(dst, K, c0));
}

// Thread t's share of C = A op(W) over the rows of each sequence's own steps only, rows
// [b T, b T + lengths[b]) of A (rows, K) and C (rows, N), with C's padding rows zeroed: the
// thread's sequences [B t / nt, B (t + 1) / nt) are packed into one product, so a batch padded to
// its longest sequence does not pay for its padding. Without lengths, one product over those
// sequences' rows (by_sequence: the forward's blocks, deal_rows) or a plain share of all B*T rows.
// op(W) is W^T when trans_w, else W (K, N). Where the AVX-512 tiles run, the product goes through
// the packed kernel, each thread packing its own copy of op(W): one core of an AVX-512 Xeon, B*T =
// 1600 rows, 15-25% faster than OpenBLAS's sgemm at the LSTM's and GRU's shapes (K = 100, N = 1024
// / 768; dx: K = 768, N = 100). Elsewhere the BLAS: on an AVX2 machine the 32-byte tiles lost to it
// (the input projection as one packed product: ~6 ms where the sgemm took ~4.5).
template <typename T>
void gemm_valid_rows(int t, int nt, const int64_t* lengths, int64_t B, int64_t T_, bool trans_w, int64_t N,
                     int64_t K, const T* A, int64_t lda, const T* W, int64_t ldw, T* C, int64_t ldc,
                     bool by_sequence = false) {
  PackedBuffer<T> Wp;
  if (packed_gemm_wide<T>()) {
    Wp = packed_buffer<T>(K, N);
    pack_panels(trans_w, K, N, W, ldw, Wp.get());
  }
  auto product = [&](int64_t M, const T* a, int64_t ld_a, T* c, int64_t ld_c) {
    if (Wp) {
      packed_gemm(M, N, K, a, ld_a, Wp.get(), false, c, ld_c);
    } else if (M > 0) {
      gemm(false, trans_w, M, N, K, T(1), a, ld_a, W, ldw, T(0), c, ld_c);
    }
  };
  const int64_t b0 = B * t / nt, b1 = B * (t + 1) / nt;
  if (!lengths) {
    const int64_t r0 = by_sequence ? b0 * T_ : B * T_ * t / nt, r1 = by_sequence ? b1 * T_ : B * T_ * (t + 1) / nt;
    product(r1 - r0, A + r0 * lda, lda, C + r0 * ldc, ldc);
    return;
  }
  int64_t rows = 0;
  for (int64_t b = b0; b < b1; ++b) rows += lengths[b];
  std::unique_ptr<T[]> a = scratch<T>(rows * K), c = scratch<T>(rows * N);
  for (int64_t b = b0, r = 0; b < b1; ++b)
    for (int64_t s = 0; s < lengths[b]; ++s, ++r) std::memcpy(a.get() + r * K, A + (b * T_ + s) * lda, K * sizeof(T));
  product(rows, a.get(), K, c.get(), N);
  for (int64_t b = b0, r = 0; b < b1; ++b)
    for (int64_t s = 0; s < T_; ++s) {
      T* dst = C + (b * T_ + s) * ldc;
      if (s < lengths[b]) {
        std::memcpy(dst, c.get() + (r++) * N, N * sizeof(T));
      } else {
        std::memset(dst, 0, N * sizeof(T));
      }
    }
}

// Rows [q0, q1) of a weight gradient dW (G*H, N) = beta dW + dG[:, c0 + (q - q0)]^T X: the dG
// columns from c0 on, against X (BT, N) with row stride ldx.
template <typename T>
void weight_grad_rows(int64_t q0, int64_t q1, int64_t c0, const T* dG, int64_t GD, const T* X,
                      int64_t ldx, int64_t BT, int64_t N, T beta, T* dW) {
  if (q0 >= q1) return;
  gemm(true, false, q1 - q0, N, BT, T(1), dG + c0, GD, X, ldx, beta, dW + q0 * N, N);
}

// Thread t's share of y (N) (+)= the column sums of A (R, N) with row stride lda: columns
// [N t / nt, N (t + 1) / nt).
template <typename T>
void column_sums_share(int t, int nt, const T* A, int64_t R, int64_t N, int64_t lda, T* y,
                       bool accumulate) {
  const int64_t lo = N * t / nt, hi = N * (t + 1) / nt;
  if (lo == hi) return;
  std::vector<T> acc(hi - lo, T(0));
  for (int64_t r = 0; r < R; ++r) {
    const T* a = A + r * lda + lo;
    for (int64_t j = 0; j < hi - lo; ++j) acc[j] += a[j];
  }
  for (int64_t j = 0; j < hi - lo; ++j) y[lo + j] = (accumulate ? y[lo + j] : T(0)) + acc[j];
}

// Zeroes rows t >= lengths[b] of a (B, T, W) array.
template <typename T>
void zero_padding(T* a, const int64_t* lengths, int64_t B, int64_t T_, int64_t W) {
  if (!lengths) return;
  for (int64_t b = 0; b < B; ++b)
    std::memset(a + (b * T_ + lengths[b]) * W, 0, (T_ - lengths[b]) * W * sizeof(T));
}

// The StepArgs fields the forward and the backward share: the sizes, the order and the blocks of
// ws. train: ws is the workspace the backward reads (laid out by rnn_workspace_layout); else it is
// the inference forward's scratch, the (B*T, G*H) input projections alone, and hprev / cells stay null.
template <typename T>
StepArgs<T> step_base(const RnnInputs<T>& in, const Order& order, const RnnWorkspace& layout, T* ws, bool train) {
  StepArgs<T> a{};
  a.cell = in.cell;
  a.train = train;
  a.order = &order;
  a.T_ = in.d.T;
  a.H = in.d.H;
  a.G = cell_gates(in.cell);
  a.GH = a.G * in.d.H;
  a.CW = train ? layout.cache_width : a.GH;
  a.reverse = in.reverse;
  a.cache = ws ? ws + layout.cache : nullptr;  // null: inference without scratch (fused, or projected
                                               // by rows): the gates go to a block buffer
  if (train) {
    a.hprev = ws + layout.xh + in.d.D;
    a.hs = layout.xh_width;
    a.cells = ws + layout.cell;
  }
  return a;
}

// Thread t's share of the projected forward's input projections: row (b, s) of C (rows, N) =
// p.rows[p.index[b, s]] for s < lengths[b], sequences [B t / nt, B (t + 1) / nt). The forward
// reads no padding row, and no backward follows, so those are left as they are.
template <typename T>
void gather_rows_share(int t, int nt, const RnnProjected<T>& p, const int64_t* lengths, int64_t B, int64_t T_,
                       int64_t N, T* C, int64_t ldc) {
  for (int64_t b = B * t / nt; b < B * (t + 1) / nt; ++b)
    for (int64_t s = 0; s < rnn_length(lengths, b, T_); ++s)
      std::memcpy(C + (b * T_ + s) * ldc, p.rows + p.index[b * T_ + s] * N, N * sizeof(T));
}

// Whether the sequence split's steps compute the whole pre-activation x_t W_ih^T + h W_hh^T, both
// weights packed once (packed_gemm2: one pass of each tile over both), instead of h W_hh^T after
// one GEMM for every step's input projection, with every thread's block at least a 6-row tile.
// Nothing is then written for all B*T steps and read back (that GEMM's output, 6.5 MB at LSTM B=32
// T=50 H=256, its zeroing by the BLAS, the gate pass reading it). The GRU's n gate needs W_in x
// apart from W_hn h: its r and z columns are summed, its n columns are two products, so the n
// slice must start on a panel (2H a multiple of the panel width), and those three products a step
// pay off only where the one GEMM is the costlier (its k = D short): quiet, 1 thread, GRU B=32
// T=50 D=100 H=256 forward 10.4 ms fused against 11.5 before, B=20 T=20 D=200 H=200 2.45 against
// 2.35, so the GRU fuses only with D < H. One sequence (B = 1, a matrix-vector product per step,
// bound by reading the weights) keeps the one GEMM.
template <typename T>
bool fuse_input(Cell cell, bool by_rows, bool projected, int64_t B, int64_t D, int64_t H, int threads) {
  const bool gru_ok = D < H && 2 * H % kPanelWidth<T> == 0;
  return by_rows && !projected && B >= 6 * threads && (cell != Cell::kGru || gru_ok);
}

// rnn_forward (proj null) and rnn_forward_projected: they differ only in where the input
// projections come from. With o.ws null (inference: no backward follows) nothing only the backward
// reads is stored: the scratch holds just the input projections (B*T, G*H), or, fused (above) or
// projected by rows, each block's activated gates of one step, and no copy of x, of the states or of
// the LSTM's cells is kept.
template <typename T>
void forward_impl(const RnnInputs<T>& in, const RnnProjected<T>* proj, const RnnOutputs<T>& o) {
  const RnnDims& d = in.d;
  const RnnWorkspace layout = rnn_workspace_layout(in.cell, d);
  const int64_t H = d.H, D = d.D, G = cell_gates(in.cell), GH = G * H;
  const int64_t BT = d.B * d.T, XH = layout.xh_width;
  const bool train = o.ws != nullptr;
  const int threads = rnn_threads(d.B, GH, H);
  const bool by_rows = rows_split(threads, d.B);
  const bool fused = fuse_input<T>(in.cell, by_rows, proj != nullptr, d.B, D, H, threads);
  const bool gru = in.cell == Cell::kGru;
  // Projected and split by rows: the gate pass reads each row's projection where the caller keeps
  // it and activates into the block's gate buffer, instead of one gather of all B*T rows into
  // scratch first (5 MB at B=50 T=43 G*H=600, every page fresh from the allocator, read back cold).
  const bool rows_in_place = proj != nullptr && by_rows;
  // The step kernels need both buffers: scratch of our own where the caller passed none.
  T *ws = o.ws, *out = o.out;
  std::unique_ptr<T[]> own_ws, own_out;
  if (!train && !fused && !rows_in_place) {
    own_ws = scratch<T>(BT * GH);
    ws = own_ws.get();
  }
  // No out in inference (a caller that reads only the last states): each step's outputs go to a
  // (B, H) sink that stays in cache, not to B*T rows of fresh memory nobody reads.
  std::vector<T> sink;
  if (!out && train) {
    own_out = scratch<T>(BT * H);
    out = own_out.get();
  } else if (!out) {
    sink.resize(d.B * H);
  }
  Order order = make_order(in.lengths, d.B, d.T);
  if (by_rows) deal_rows(order, threads, in.lengths != nullptr);
  std::vector<T> bx, bhn;
  fold_biases(in.cell, in.b_ih, in.b_hh, H, bx, bhn);
  T* xh = train ? ws + layout.xh : nullptr;
  // Outputs past a sequence's end are zero (and, fused, the cache rows no GEMM zeroes).
  if (out) zero_padding(out, in.lengths, d.B, d.T, H);
  if (fused && train) zero_padding(ws + layout.cache, in.lengths, d.B, d.T, layout.cache_width);

  // States in two buffers: step s reads hbuf[s % 2] and writes hbuf[(s + 1) % 2], so a thread
  // never overwrites a state another thread's GEMM is still reading. A finished sequence's final
  // state is in the buffer of its last step.
  std::vector<T> hbuf[2] = {std::vector<T>(d.B * H, T(0)), std::vector<T>(d.B * H, T(0))};
  std::vector<T> c(in.cell == Cell::kLstm ? d.B * H : 0, T(0));
  for (int64_t i = 0; i < d.B; ++i) {
    if (in.h0) std::memcpy(hbuf[0].data() + i * H, in.h0 + order.perm[i] * H, H * sizeof(T));
    if (in.c0 && in.cell == Cell::kLstm) std::memcpy(c.data() + i * H, in.c0 + order.perm[i] * H, H * sizeof(T));
  }
  StepArgs<T> base = step_base(in, order, layout, ws, train);
  const int64_t CW = base.CW;
  base.bx = bx.data();
  base.bhn = bhn.data();
  base.c = c.data();
  base.out = out;
  base.sink = sink.data();
  base.fused = fused;
  base.proj_rows = rows_in_place ? proj->rows : nullptr;
  base.proj_index = rows_in_place ? proj->index : nullptr;
  // Split by rows: the whole W_hh packed once as the right-hand operand of r (n, G*H) = h W_hh^T.
  // Where a thread's steps read only what it wrote itself (fused, or without lengths: its block is
  // the sequences whose input projections it computed), each thread packs W_hh (and W_ih, fused)
  // whole into copies of its own and starts at once, no barrier: quiet, 2 threads, LSTM B=20 T=20
  // D=200 H=200 forward 1.71-1.72 -> 1.61-1.63 ms (packing twice the panels beats waking up from
  // the barrier). Otherwise (ragged lengths, unfused: the projections of a thread's dealt block
  // come from both threads) one shared copy, each thread packing a share before that barrier.
  // (Unfused, that needs the team asked for: a smaller one's thread t runs blocks t, t + nt, ...,
  // whose projections other threads computed. The shared copy is allocated for that case; pages
  // never written are not touched.)
  PackedBuffer<T> W_shared;
  if (by_rows && !fused) W_shared = packed_buffer<T>(H, GH);

  parallel_region(threads, [&](int t, int nt) {
    // All input projections at once: cache[:, :G*H] = x W_ih^T (this thread's sequences, their own
    // steps only), unless fused. And, for the backward, x into the workspace's xh, zero past each
    // length: the backward multiplies those rows by zero gradients, and 0 * whatever padding held
    // (NaN included) must stay 0. Projected: the rows gathered instead (unless the steps read them
    // in place, above), and no x to keep.
    if (proj) {
      if (!rows_in_place) gather_rows_share(t, nt, *proj, in.lengths, d.B, d.T, GH, ws, CW);
    } else if (!fused) {
      gemm_valid_rows(t, nt, in.lengths, d.B, d.T, true, GH, D, in.x, D, in.W_ih, D, ws, CW, true);
    }
    for (int64_t row = BT * t / nt; xh && in.x && row < BT * (t + 1) / nt; ++row) {
      T* dst = xh + row * XH;
      if (row % d.T < rnn_length(in.lengths, row / d.T, d.T)) {
        std::memcpy(dst, in.x + row * D, D * sizeof(T));
      } else {
        std::memset(dst, 0, XH * sizeof(T));
      }
    }
    PackedBuffer<T> W_x, W_hh_own;
    const T* W_all = W_shared.get();
    if (fused || (by_rows && !in.lengths && nt == threads)) {
      if (fused) {
        W_x = packed_buffer<T>(D, GH);
        pack_panels(true, D, GH, in.W_ih, D, W_x.get());
      }
      W_hh_own = packed_buffer<T>(H, GH);
      pack_panels(true, H, GH, in.W_hh, H, W_hh_own.get());
      W_all = W_hh_own.get();
    } else {
      if (by_rows) pack_panels_share(t, nt, true, H, GH, in.W_hh, H, W_shared.get());
#pragma omp barrier
    }
    StepArgs<T> a = base;
    if (by_rows) {
      // This thread's block of sequences through every step, no barrier: its rows read and write
      // only their own states. (Blocks t, t + nt, ...: the team may be smaller than asked for.)
      for (int blk = t; blk < threads; blk += nt) {
        const int64_t i0 = order.block[blk], cnt = order.block[blk + 1] - i0;
        if (cnt == 0) continue;
        std::unique_ptr<T[]> r = scratch<T>(cnt * GH), gates, xs, xn;
        if (fused) xs = scratch<T>(cnt * D);  // the block's x_t rows of a step
        if ((fused && !train) || rows_in_place) gates = scratch<T>(cnt * GH);
        if (fused && gru) xn = scratch<T>(cnt * H);
        a.r = r.get();
        a.r_gate = H;
        a.gates = gates.get();
        a.xn = xn.get();
        for (int64_t s = 0, L = order.len[i0]; s < L; ++s) {
          const int64_t n = running(order, i0, cnt, s);
          a.s = s;
          a.hp = hbuf[s % 2].data();
          a.h = hbuf[(s + 1) % 2].data();
          if (fused) {
            for (int64_t i = i0; i < i0 + n; ++i) {
              const int64_t row = order.perm[i] * d.T + rnn_position(in.reverse, order.len[i], s);
              std::memcpy(xs.get() + (i - i0) * D, in.x + row * D, D * sizeof(T));
            }
            const T* hp = a.hp + i0 * H;
            if (gru) {  // r, z: both sums; n: W_hn h into r, x W_in^T apart (their panels from column 2H on)
              packed_gemm2(n, 2 * H, D, xs.get(), D, W_x.get(), H, hp, H, W_all, false, r.get(), GH);
              packed_gemm(n, H, H, hp, H, packed_columns(W_all, H, 2 * H), false, r.get() + 2 * H, GH);
              packed_gemm(n, H, D, xs.get(), D, packed_columns(W_x.get(), D, 2 * H), false, xn.get(), H);
            } else {
              packed_gemm2(n, GH, D, xs.get(), D, W_x.get(), H, hp, H, W_all, false, r.get(), GH);
            }
          } else {
            packed_gemm(n, GH, H, a.hp + i0 * H, H, W_all, false, r.get(), GH);
          }
          gate_forward(a, i0, n, 0, H);
        }
      }
      return;
    }
    const int64_t j0 = H * t / nt, j1 = H * (t + 1) / nt, m = j1 - j0;
    // This thread's rows of W_hh, [gate 0 | gate 1 | ...] of its units, packed once (packed_gemm.h)
    // as the right-hand operand of r (n, G*m) = h W_own^T, the recurrent product of every step.
    PackedBuffer<T> W_own = packed_buffer<T>(H, G * m);
    {
      std::unique_ptr<T[]> rows = scratch<T>(G * m * H);
      for (int64_t q = 0; q < G; ++q)
        std::memcpy(rows.get() + q * m * H, in.W_hh + (q * H + j0) * H, m * H * sizeof(T));
      pack_panels(true, H, G * m, rows.get(), H, W_own.get());
    }
    std::unique_ptr<T[]> r = scratch<T>(d.B * G * m);
    a.r = r.get();
    a.r_gate = m;
    for (int64_t s = 0; s < order.max_len; ++s) {
      const int64_t n = order.active[s];
      a.s = s;
      a.hp = hbuf[s % 2].data();
      a.h = hbuf[(s + 1) % 2].data();
      packed_gemm(n, G * m, H, a.hp, H, W_own.get(), false, r.get(), G * m);
      gate_forward(a, 0, n, j0, j1);
#pragma omp barrier
    }
  });

  for (int64_t i = 0; i < d.B; ++i) {
    const int64_t b = order.perm[i];
    if (o.h_n) std::memcpy(o.h_n + b * H, hbuf[order.len[i] % 2].data() + i * H, H * sizeof(T));
    if (o.c_n && in.cell == Cell::kLstm) std::memcpy(o.c_n + b * H, c.data() + i * H, H * sizeof(T));
  }
}

}  // namespace

template <typename T>
void rnn_forward(const RnnInputs<T>& in, const RnnOutputs<T>& o) {
  forward_impl(in, static_cast<const RnnProjected<T>*>(nullptr), o);
}

template <typename T>
void rnn_forward_projected(const RnnInputs<T>& in, const RnnProjected<T>& p, const RnnOutputs<T>& o) {
  FASTNLP_CHECK(o.ws == nullptr, "rnn_forward_projected: inference only, ws must be null");
  forward_impl(in, &p, o);
}

template <typename T>
void rnn_backward(const RnnInputs<T>& in, const T* ws, const RnnGrads<T>& gr) {
  // x, b_ih, b_hh and h0 are not read: x and the states are in the workspace, and the biases'
  // gradients need only dG.
  const RnnDims& d = in.d;
  const RnnWorkspace layout = rnn_workspace_layout(in.cell, d);
  const int64_t H = d.H, D = d.D, GH = cell_gates(in.cell) * H;
  const int64_t BT = d.B * d.T, XH = layout.xh_width;
  const int64_t GD = in.cell == Cell::kGru ? 4 * H : GH;  // dG row width
  const int threads = rnn_threads(d.B, GH, H);
  const bool by_rows = rows_split(threads, d.B);
  Order order = make_order(in.lengths, d.B, d.T);
  if (by_rows) deal_rows(order, threads, in.lengths != nullptr);
  const T* xh = ws + layout.xh;

  std::unique_ptr<T[]> dG_buf = scratch<T>(BT * GD);
  T* dG = dG_buf.get();
  zero_padding(dG, in.lengths, d.B, d.T, GD);
  // With lengths, the rows of each sequence's own steps of dG and xh are packed (sequence b's at
  // row0[b]) before the weight gradients, which then sum over sum(lengths) rows instead of B*T.
  std::vector<int64_t> row0(d.B + 1, 0);
  for (int64_t b = 0; b < d.B; ++b) row0[b + 1] = row0[b] + rnn_length(in.lengths, b, d.T);
  const int64_t R = row0[d.B];
  const bool pack = in.lengths != nullptr && R < BT;
  std::unique_ptr<T[]> packed_dG, packed_xh;
  if (pack) {
    packed_dG = scratch<T>(R * GD);
    packed_xh = scratch<T>(R * XH);
  }
  std::vector<T> dh(d.B * H, T(0)), dc(in.cell == Cell::kLstm ? d.B * H : 0, T(0)), zeros(H, T(0));
  for (int64_t i = 0; i < d.B; ++i) {
    if (gr.dh_n) std::memcpy(dh.data() + i * H, gr.dh_n + order.perm[i] * H, H * sizeof(T));
    if (gr.dc_n && in.cell == Cell::kLstm)
      std::memcpy(dc.data() + i * H, gr.dc_n + order.perm[i] * H, H * sizeof(T));
  }
  // Two step buffers: step s's gate pass fills sbuf[s % 2] while another thread may still be
  // reading the other one in the previous step's GEMM (split by units; split by rows, a thread
  // reads only its own rows and one would do).
  std::vector<T> sbuf[2] = {std::vector<T>(d.B * GH), std::vector<T>(d.B * GH)};
  StepArgs<T> base = step_base(in, order, layout, const_cast<T*>(ws), true);  // the backward only reads ws
  base.GD = GD;
  base.dout = gr.dout;
  base.zeros = zeros.data();
  base.c0 = in.c0;
  base.dh = dh.data();
  base.dc = dc.data();
  base.dG = dG;
  parallel_region(threads, [&](int t, int nt) {
    StepArgs<T> a = base;
    if (by_rows) {
      // The whole W_hh (G*H, H) packed by each thread into a copy of its own for dh_prev = sbuf
      // W_hh: no barrier before the steps (quiet, 2 threads, LSTM B=20 T=20 D=200 H=200
      // forward+backward 4.88-4.91 -> 4.78-4.80 ms with the forward's copies as well, GRU
      // 3.87-3.88 -> 3.81-3.82; against one shared copy packed in shares, then a barrier).
      PackedBuffer<T> W_all = packed_buffer<T>(GH, H);
      pack_panels(false, GH, H, in.W_hh, H, W_all.get());
      // This thread's block of sequences back through every step, no barrier (blocks t, t + nt, ...).
      for (int blk = t; blk < threads; blk += nt) {
        const int64_t i0 = order.block[blk], cnt = order.block[blk + 1] - i0;
        for (int64_t s = cnt ? order.len[i0] - 1 : -1; s >= 0; --s) {
          const int64_t n = running(order, i0, cnt, s);
          a.s = s;
          a.sbuf = sbuf[s % 2].data();
          gate_backward(a, i0, n, 0, H);
          // dh_prev = sbuf W_hh over the block's rows (GRU: added to the direct path dh * z the gate
          // pass left in dh). At step 0 that is dh0, skipped when the caller does not want it.
          if (s == 0 && !gr.dh0) break;
          packed_gemm(n, H, GH, a.sbuf + i0 * GH, GH, W_all.get(), in.cell == Cell::kGru, dh.data() + i0 * H,
                      H);
        }
      }
#pragma omp barrier
    } else {
      const int64_t j0 = H * t / nt, j1 = H * (t + 1) / nt;
      // This thread's columns of W_hh (G*H, j1 - j0), packed once: dh[:, j0:j1] = sbuf W_hh[:, j0:j1].
      PackedBuffer<T> W_cols = packed_buffer<T>(GH, j1 - j0);
      pack_panels(false, GH, j1 - j0, in.W_hh + j0, H, W_cols.get());
      for (int64_t s = order.max_len - 1; s >= 0; --s) {
        const int64_t n = order.active[s];
        a.s = s;
        a.sbuf = sbuf[s % 2].data();
        gate_backward(a, 0, n, j0, j1);
#pragma omp barrier
        // This thread's columns of dh_prev = sbuf W_hh (as above).
        if (s == 0 && !gr.dh0) break;
        packed_gemm(n, j1 - j0, GH, a.sbuf, GH, W_cols.get(), in.cell == Cell::kGru, dh.data() + j0, H);
      }
    }
    // dG is complete (each unit-split step ended its gate pass with a barrier, the row split's loop
    // with one). The weight gradients are
    // GEMMs over the rows of dG and xh (all B*T, padding rows zero, or the packed ones),
    // dW = dG^T [x | h_prev]; threads split the G*H rows of dW.
    const T *G_rows = dG, *X_rows = xh;
    int64_t rows = BT;
    if (pack) {
      for (int64_t b = d.B * t / nt; b < d.B * (t + 1) / nt; ++b) {
        const int64_t L = row0[b + 1] - row0[b];
        std::memcpy(packed_dG.get() + row0[b] * GD, dG + b * d.T * GD, L * GD * sizeof(T));
        std::memcpy(packed_xh.get() + row0[b] * XH, xh + b * d.T * XH, L * XH * sizeof(T));
      }
#pragma omp barrier
      G_rows = packed_dG.get();
      X_rows = packed_xh.get();
      rows = R;
    }
    const int64_t q0 = GH * t / nt, q1 = GH * (t + 1) / nt;
    const T beta = gr.accumulate ? T(1) : T(0);
    if (gr.dW_ih) weight_grad_rows(q0, q1, q0, G_rows, GD, X_rows, XH, rows, D, beta, gr.dW_ih);
    if (gr.dW_hh && in.cell == Cell::kGru) {
      // Rows [0, 2H) take dr, dz (dG columns [0, 2H)); rows [2H, 3H) take dn * r (columns [3H, 4H)).
      const int64_t mid = std::min(std::max(q0, 2 * H), q1);
      weight_grad_rows(q0, mid, q0, G_rows, GD, X_rows + D, XH, rows, H, beta, gr.dW_hh);
      weight_grad_rows(mid, q1, mid + H, G_rows, GD, X_rows + D, XH, rows, H, beta, gr.dW_hh);
    } else if (gr.dW_hh) {
      weight_grad_rows(q0, q1, q0, G_rows, GD, X_rows + D, XH, rows, H, beta, gr.dW_hh);
    }
    if (gr.dx) gemm_valid_rows(t, nt, in.lengths, d.B, d.T, false, D, GH, dG, GD, in.W_ih, D, gr.dx, D);
    if (gr.db_ih) column_sums_share(t, nt, G_rows, rows, GH, GD, gr.db_ih, gr.accumulate);
    if (gr.db_hh) {
      if (in.cell == Cell::kGru) {
        column_sums_share(t, nt, G_rows, rows, 2 * H, GD, gr.db_hh, gr.accumulate);
        column_sums_share(t, nt, G_rows + 3 * H, rows, H, GD, gr.db_hh + 2 * H, gr.accumulate);
      } else if (gr.db_ih && !gr.accumulate) {  // the same sums: both biases enter the same pre-activation
        const int64_t lo = GH * t / nt, hi = GH * (t + 1) / nt;
        std::copy(gr.db_ih + lo, gr.db_ih + hi, gr.db_hh + lo);
      } else {
        column_sums_share(t, nt, G_rows, rows, GH, GD, gr.db_hh, gr.accumulate);
      }
    }
  });
  for (int64_t i = 0; i < d.B; ++i) {
    const int64_t b = order.perm[i];
    if (gr.dh0) std::memcpy(gr.dh0 + b * H, dh.data() + i * H, H * sizeof(T));
    if (gr.dc0 && in.cell == Cell::kLstm) std::memcpy(gr.dc0 + b * H, dc.data() + i * H, H * sizeof(T));
  }
}

#define FASTNLP_INSTANTIATE(T)                                                             \
  template void rnn_forward<T>(const RnnInputs<T>&, const RnnOutputs<T>&);                \
  template void rnn_forward_projected<T>(const RnnInputs<T>&, const RnnProjected<T>&,       \
                                         const RnnOutputs<T>&);                            \
  template void rnn_backward<T>(const RnnInputs<T>&, const T*, const RnnGrads<T>&);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
