// RNN steps on the GPU, the fused gate work around the cuBLAS products that fastnlp.ops._gpu runs
// through CuPy: one step's gate pass forward and one step of BPTT. The math is the CPU's
// (ops/rnn_gates.cpp): PyTorch's gate order and GRU variant, the workspace layout of rnn_workspace_layout
// (ops/rnn.h). The binding is csrc/bindings/bind_rnn.cpp.
#include "common.cuh"
#include "common.h"

namespace fastnlp::cuda {
namespace {

__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }

// Where step s of every sequence reads and writes; see rnn_step_forward in cuda_ops.h.
struct StepPtrs {
  int64_t B, T, D, H, s;
  bool reverse;
  const int64_t* lengths;
  float* cache;  // (B*T, CW) or null
  float* hprev;  // row stride D + H, or null
  float* cells;  // (B*T, H), LSTM, or null
};

StepPtrs step_ptrs(Cell cell, int64_t s, bool reverse, const int64_t* lengths, float* ws,
                   const RnnDims& d) {
  const RnnWorkspace w = rnn_workspace_layout(cell, d);  // ops/rnn.h: the one layout
  StepPtrs p{d.B, d.T, d.D, d.H, s, reverse, lengths, nullptr, nullptr, nullptr};
  if (ws) {
    p.cache = ws + w.cache;
    p.hprev = ws + w.xh + d.D;
    p.cells = cell == Cell::kLstm ? ws + w.cell : nullptr;
  }
  return p;
}

// One thread per (sequence b, hidden unit j); each reads and writes only h[b, j] (c[b, j]), so the
// states are updated in place. A sequence past its length keeps its state (frozen).
template <Cell kCell>
__global__ void rnn_step_forward_kernel(StepPtrs a, const float* __restrict__ proj,
                                        const float* __restrict__ rec, const float* __restrict__ b_ih,
                                        const float* __restrict__ b_hh, float* __restrict__ h,
                                        float* __restrict__ c, float* __restrict__ out) {
  const int64_t H = a.H, G = kCell == Cell::kElman ? 1 : (kCell == Cell::kLstm ? 4 : 3), GH = G * H;
  const int64_t CW = kCell == Cell::kElman ? H : 4 * H, XH = a.D + H;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.B * H;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / H, j = i % H;
    const int64_t L = seq_len(a.lengths, b, a.T);
    if (a.s >= L) continue;
    const int64_t row = b * a.T + (a.reverse ? L - 1 - a.s : a.s);
    const float* x_in = proj + row * GH;
    const float* r_in = rec + b * GH;
    // a_ih + a_hh of gate q at unit j, biases included (GRU's n gate is assembled apart).
    auto pre = [&](int64_t q) {
      const int64_t k = q * H + j;
      return (x_in[k] + (b_ih ? b_ih[k] : 0.0f)) + (r_in[k] + (b_hh ? b_hh[k] : 0.0f));
    };
    const float hp = h[i];
    float* g = a.cache ? a.cache + row * CW + j : nullptr;
    float hn;
    if (kCell == Cell::kElman) {
      hn = tanh_rational(pre(0));
      if (g) g[0] = hn;
    } else if (kCell == Cell::kLstm) {
      const float ig = sigmoid_f(pre(0)), fg = sigmoid_f(pre(1)), gg = tanh_rational(pre(2)),
                  og = sigmoid_f(pre(3));
      const float cn = fg * c[i] + ig * gg;
      hn = og * tanh_rational(cn);
      c[i] = cn;
      if (g) {
        g[0] = ig;
        g[H] = fg;
        g[2 * H] = gg;
        g[3 * H] = og;
        a.cells[row * H + j] = cn;
      }
    } else {
      const float rg = sigmoid_f(pre(0)), zg = sigmoid_f(pre(1));
      const int64_t k = 2 * H + j;
      const float hl = r_in[k] + (b_hh ? b_hh[k] : 0.0f);  // W_hn h + b_hn, inside the reset
      const float ng = tanh_rational(x_in[k] + (b_ih ? b_ih[k] : 0.0f) + rg * hl);
      hn = (1.0f - zg) * ng + zg * hp;
      if (g) {
        g[0] = rg;
        g[H] = zg;
        g[2 * H] = ng;
        g[3 * H] = hl;
      }
    }
    if (a.hprev) a.hprev[row * XH + j] = hp;
    h[i] = hn;
    out[row * H + j] = hn;
  }
}

// Step s of BPTT. dh holds the direct part of the state's gradient left by step s + 1 and rec its
// recurrent part (sbuf W_hh of step s + 1; null at the last step): their sum is the carried
// gradient. Writes the step's pre-activation gradients into dG (row (b, position)) and sbuf (the
// gradient of W_hh h + b_hh, which the caller multiplies by W_hh into rec), and leaves in dh the
// direct part for step s - 1: the whole carried gradient for a frozen sequence (sbuf row zero), 0
// for Elman / LSTM, dh * z for the GRU. dc (LSTM) is updated in place.
template <Cell kCell>
__global__ void rnn_step_backward_kernel(StepPtrs a, const float* __restrict__ c0,
                                         const float* __restrict__ dout,
                                         const float* __restrict__ rec, float* __restrict__ dh,
                                         float* __restrict__ dc, float* __restrict__ dG,
                                         float* __restrict__ sbuf) {
  const int64_t H = a.H, G = kCell == Cell::kElman ? 1 : (kCell == Cell::kLstm ? 4 : 3), GH = G * H;
  const int64_t CW = kCell == Cell::kElman ? H : 4 * H, GD = kCell == Cell::kGru ? 4 * H : GH;
  const int64_t XH = a.D + H;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < a.B * H;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / H, j = i % H;
    const int64_t L = seq_len(a.lengths, b, a.T);
    const float carried = dh[i] + (rec ? rec[i] : 0.0f);
    float* sg = sbuf + b * GH + j;
    if (a.s >= L) {  // frozen: the gradient passes through untouched
      dh[i] = carried;
      for (int64_t q = 0; q < G; ++q) sg[q * H] = 0.0f;
      continue;
    }
    const int64_t row = b * a.T + (a.reverse ? L - 1 - a.s : a.s);
    const float dht = carried + (dout ? dout[row * H + j] : 0.0f);
    const float* g = a.cache + row * CW + j;
    float* dg = dG + row * GD + j;
    if (kCell == Cell::kElman) {
      const float da = dht * (1.0f - g[0] * g[0]);
      dg[0] = da;
      sg[0] = da;
      dh[i] = 0.0f;
    } else if (kCell == Cell::kLstm) {
      const float ig = g[0], fg = g[H], gg = g[2 * H], og = g[3 * H];
      const int64_t prev = a.reverse ? L - a.s : a.s - 1;  // position of step s - 1
      const float cp = a.s > 0 ? a.cells[(b * a.T + prev) * H + j] : (c0 ? c0[i] : 0.0f);
      const float tc = tanh_rational(a.cells[row * H + j]);
      const float dcc = dc[i] + dht * og * (1.0f - tc * tc);
      const float di = dcc * gg * ig * (1.0f - ig);
      const float df = dcc * cp * fg * (1.0f - fg);
      const float dgg = dcc * ig * (1.0f - gg * gg);
      const float dot = dht * tc * og * (1.0f - og);
      dc[i] = dcc * fg;
      dg[0] = sg[0] = di;
      dg[H] = sg[H] = df;
      dg[2 * H] = sg[2 * H] = dgg;
      dg[3 * H] = sg[3 * H] = dot;
      dh[i] = 0.0f;
    } else {
      const float rg = g[0], zg = g[H], ng = g[2 * H], hl = g[3 * H];
      const float hp = a.hprev[row * XH + j];
      const float dn = dht * (1.0f - zg) * (1.0f - ng * ng);
      const float dz = dht * (hp - ng) * zg * (1.0f - zg);
      const float dr = dn * hl * rg * (1.0f - rg);
      // dG row [dr, dz, dn, dn * r]: the first 3H are the input projection's gradient,
      // [dr, dz, dn * r] the recurrent one's (sbuf).
      dg[0] = sg[0] = dr;
      dg[H] = sg[H] = dz;
      dg[2 * H] = dn;
      dg[3 * H] = sg[2 * H] = dn * rg;
      dh[i] = dht * zg;
    }
  }
}

template <typename F>
void with_cell(Cell c, F&& f) {
  switch (c) {
    case Cell::kElman: f(std::integral_constant<Cell, Cell::kElman>{}); return;
    case Cell::kLstm: f(std::integral_constant<Cell, Cell::kLstm>{}); return;
    case Cell::kGru: f(std::integral_constant<Cell, Cell::kGru>{}); return;
  }
  throw std::invalid_argument("rnn: unknown cell code " + std::to_string(int(c)));
}

}  // namespace

void rnn_step_forward(Cell cell, int64_t s, bool reverse, const int64_t* lengths, const float* proj,
                      const float* rec, const float* b_ih, const float* b_hh, float* h, float* c,
                      float* out, float* ws, const RnnDims& d) {
  const int64_t n = d.B * d.H;
  if (n <= 0) return;
  const StepPtrs a = step_ptrs(cell, s, reverse, lengths, ws, d);
  with_cell(cell, [&](auto kc) {
    rnn_step_forward_kernel<decltype(kc)::value>
        <<<grid_for(n), kBlock>>>(a, proj, rec, b_ih, b_hh, h, c, out);
  });
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void rnn_step_backward(Cell cell, int64_t s, bool reverse, const int64_t* lengths, const float* ws,
                       const float* c0, const float* dout, const float* rec, float* dh, float* dc,
                       float* dG, float* sbuf, const RnnDims& d) {
  const int64_t n = d.B * d.H;
  if (n <= 0) return;
  // The kernel only reads the workspace; StepPtrs is shared with the forward.
  const StepPtrs a = step_ptrs(cell, s, reverse, lengths, const_cast<float*>(ws), d);
  with_cell(cell, [&](auto kc) {
    rnn_step_backward_kernel<decltype(kc)::value>
        <<<grid_for(n), kBlock>>>(a, c0, dout, rec, dh, dc, dG, sbuf);
  });
  FASTNLP_CUDA_CHECK_LAUNCH();
}

}  // namespace fastnlp::cuda
