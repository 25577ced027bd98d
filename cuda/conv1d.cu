// conv1d on the GPU, the fused work around the cuBLAS product that fastnlp.ops._gpu runs through
// CuPy: window unfolding (im2col) and its transpose, bias + activation + pooling over time and its
// gradient. The math is the CPU's (ops/conv1d.cpp); the binding is csrc/bindings/bind_conv1d.cpp.
#include "common.cuh"
#include "common.h"

namespace fastnlp::cuda {
namespace {

__device__ __forceinline__ int64_t out_len(bool wide, int64_t L, int64_t K) {
  return wide ? L + K - 1 : (L >= K ? L - K + 1 : 0);
}

// cols (B*T_out, K*D): row (b, t) is the window of output position t, x[b, t - P + j] at offset j,
// zero where the window leaves [0, L_b) and for t >= T_b (the backward multiplies these rows by
// zero gradients: they must be zero, not stale).
__global__ void unfold_kernel(const float* __restrict__ x, const int64_t* __restrict__ lengths,
                              float* __restrict__ cols, int64_t B, int64_t T, int64_t D, int64_t K,
                              int64_t T_out, bool wide) {
  const int64_t KD = K * D, n = B * T_out * KD, P = wide ? K - 1 : 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t col = i % KD, bt = i / KD, t = bt % T_out, b = bt / T_out;
    const int64_t j = col / D, dd = col % D;
    const int64_t L = seq_len(lengths, b, T), p = t - P + j;
    cols[i] = (t < out_len(wide, L, K) && p >= 0 && p < L) ? x[(b * T + p) * D + dd] : 0.0f;
  }
}

// dx[b, p, d] = sum over the windows that read (b, p) of their dcols entry: a gather over the K
// offsets j (t = p + P - j), so no atomics and the same order every run; zero for p >= L_b.
__global__ void fold_kernel(const float* __restrict__ dcols, const int64_t* __restrict__ lengths,
                            float* __restrict__ dx, int64_t B, int64_t T, int64_t D, int64_t K,
                            int64_t T_out, bool wide) {
  const int64_t KD = K * D, n = B * T * D, P = wide ? K - 1 : 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t dd = i % D, bp = i / D, p = bp % T, b = bp / T;
    const int64_t L = seq_len(lengths, b, T), Tb = out_len(wide, L, K);
    float s = 0.0f;
    if (p < L) {
      for (int64_t j = 0; j < K; ++j) {
        const int64_t t = p + P - j;
        if (t >= 0 && t < Tb) s += dcols[(b * T_out + t) * KD + j * D + dd];
      }
    }
    dx[i] = s;
  }
}

// One thread per (sequence, filter), walking t (neighbouring threads read neighbouring filters).
// z (B, T_out, H) holds the raw products (no bias); y may alias z.
//   kNone / kAvg: y = act(z + b) for t < T_b, zero beyond; kAvg: pooled = their mean (summed in t
//   order, as the CPU).
//   kMax: the first t of the largest z (the CPU's fast kernel pools the raw products: the bias is
//   the same at every t and the activations are monotone), pooled = act(max + b).
template <Activation kAct, Pool kPool>
__global__ void pool_forward_kernel(const float* z, const float* __restrict__ bias,
                                    const int64_t* __restrict__ lengths, float* y,
                                    float* __restrict__ pooled, int64_t* __restrict__ argmax,
                                    int64_t B, int64_t T, int64_t H, int64_t K, int64_t T_out,
                                    bool wide) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < B * H;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / H, h = i % H;
    const int64_t Tb = out_len(wide, seq_len(lengths, b, T), K);
    const float bh = bias ? bias[h] : 0.0f;
    const float* zb = z + b * T_out * H + h;
    if (kPool == Pool::kMax) {
      float best = zb[0];
      int64_t arg = 0;
      for (int64_t t = 1; t < Tb; ++t) {
        const float v = zb[t * H];
        if (v > best) {
          best = v;
          arg = t;
        }
      }
      pooled[i] = act<kAct>(best + bh);
      argmax[i] = arg;
    } else {
      float* yb = y + b * T_out * H + h;
      float sum = 0.0f;
      for (int64_t t = 0; t < T_out; ++t) {
        if (t < Tb) {
          const float a = act<kAct>(zb[t * H] + bh);
          yb[t * H] = a;
          sum += a;
        } else {
          yb[t * H] = 0.0f;
        }
      }
      if (kPool == Pool::kAvg) pooled[i] = sum / float(Tb);
    }
  }
}

// dz (B, T_out, H), the gradient of the pre-activation, zero for t >= T_b:
//   kNone: dy (B, T_out, H) * act'(y); kAvg: dy (B, H) / T_b * act'(y);
//   kMax: act'(pooled) * dy (B, H) at t = argmax, zero elsewhere (the scatter of the max).
template <Activation kAct, Pool kPool>
__global__ void pool_backward_kernel(const float* __restrict__ y, const float* __restrict__ pooled,
                                     const int64_t* __restrict__ argmax, const float* __restrict__ dy,
                                     const int64_t* __restrict__ lengths, float* __restrict__ dz,
                                     int64_t B, int64_t T, int64_t H, int64_t K, int64_t T_out,
                                     bool wide) {
  const int64_t n = B * T_out * H;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t h = i % H, bt = i / H, t = bt % T_out, b = bt / T_out;
    const int64_t Tb = out_len(wide, seq_len(lengths, b, T), K);
    float g = 0.0f;
    if (t < Tb) {
      if (kPool == Pool::kNone) g = act_grad<kAct>(y[i], dy[i]);
      else if (kPool == Pool::kAvg) g = act_grad<kAct>(y[i], dy[b * H + h] / float(Tb));
      else if (argmax[b * H + h] == t) g = act_grad<kAct>(pooled[b * H + h], dy[b * H + h]);
    }
    dz[i] = g;
  }
}

template <typename F>
void with_pool(Pool p, F&& f) {
  switch (p) {
    case Pool::kNone: f(std::integral_constant<Pool, Pool::kNone>{}); return;
    case Pool::kMax: f(std::integral_constant<Pool, Pool::kMax>{}); return;
    case Pool::kAvg: f(std::integral_constant<Pool, Pool::kAvg>{}); return;
  }
  throw std::invalid_argument("conv1d: unknown pool code " + std::to_string(int(p)));
}

int64_t conv_out_len(ConvMode mode, int64_t L, int64_t K) {
  return mode == ConvMode::kWide ? L + K - 1 : (L >= K ? L - K + 1 : 0);
}

}  // namespace

void conv1d_unfold(ConvMode mode, const float* x, const int64_t* lengths, float* cols,
                   const Conv1dDims& d) {
  const int64_t T_out = conv_out_len(mode, d.T, d.K), n = d.B * T_out * d.K * d.D;
  if (n <= 0) return;
  unfold_kernel<<<grid_for(n), kBlock>>>(x, lengths, cols, d.B, d.T, d.D, d.K, T_out,
                                         mode == ConvMode::kWide);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void conv1d_fold(ConvMode mode, const float* dcols, const int64_t* lengths, float* dx,
                 const Conv1dDims& d) {
  const int64_t T_out = conv_out_len(mode, d.T, d.K), n = d.B * d.T * d.D;
  if (n <= 0) return;
  fold_kernel<<<grid_for(n), kBlock>>>(dcols, lengths, dx, d.B, d.T, d.D, d.K, T_out,
                                       mode == ConvMode::kWide);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void conv1d_pool_forward(ConvMode mode, Activation act, Pool pool, const float* z, const float* b,
                         const int64_t* lengths, float* y, float* pooled, int64_t* argmax,
                         const Conv1dDims& d) {
  const int64_t T_out = conv_out_len(mode, d.T, d.K), n = d.B * d.H;
  if (n <= 0 || T_out <= 0) return;
  with_activation(act, [&](auto ka) {
    with_pool(pool, [&](auto kp) {
      pool_forward_kernel<decltype(ka)::value, decltype(kp)::value><<<grid_for(n), kBlock>>>(
          z, b, lengths, y, pooled, argmax, d.B, d.T, d.H, d.K, T_out, mode == ConvMode::kWide);
    });
  });
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void conv1d_pool_backward(ConvMode mode, Activation act, Pool pool, const float* y,
                          const float* pooled, const int64_t* argmax, const float* dy,
                          const int64_t* lengths, float* dz, const Conv1dDims& d) {
  const int64_t T_out = conv_out_len(mode, d.T, d.K), n = d.B * T_out * d.H;
  if (n <= 0) return;
  with_activation(act, [&](auto ka) {
    with_pool(pool, [&](auto kp) {
      pool_backward_kernel<decltype(ka)::value, decltype(kp)::value><<<grid_for(n), kBlock>>>(
          y, pooled, argmax, dy, lengths, dz, d.B, d.T, d.H, d.K, T_out, mode == ConvMode::kWide);
    });
  });
  FASTNLP_CUDA_CHECK_LAUNCH();
}

}  // namespace fastnlp::cuda
