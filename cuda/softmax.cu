// Row-wise softmax / log-softmax on the GPU, their backward passes, and the fused softmax +
// cross-entropy. A row is reduced by one warp (V <= 1024) or one block; the max and the sum of
// exponentials come from a single pass (an online running max), so the forward reads x twice.
#include <stdexcept>

#include "common.cuh"
#include "common.h"

namespace fastnlp::cuda {
namespace {

// y = softmax(x) or log_softmax(x) per row of (B, V); y may alias x (each thread writes only the
// elements it read).
template <bool kWarp, bool kLog>
__global__ void softmax_forward_kernel(const float* x, float* y, int64_t B, int64_t V) {
  __shared__ MaxSum scratch[32];
  using Team = RowTeam<kWarp>;
  for (int64_t r = Team::first_row(); r < B; r += Team::row_stride()) {
    const float* xr = x + r * V;
    float* yr = y + r * V;
    MaxSum t = maxsum_identity();
    for (int64_t j = Team::lane(); j < V; j += Team::size()) t = maxsum_add(t, xr[j]);
    t = Team::maxsum(t, scratch);
    // Subtracting the max keeps every exp(x - m) in (0, 1]: no overflow for any finite logits.
    if (kLog) {
      const float log_s = static_cast<float>(log(t.s));
      for (int64_t j = Team::lane(); j < V; j += Team::size()) yr[j] = (xr[j] - t.m) - log_s;
    } else {
      const float inv_s = static_cast<float>(1.0 / t.s);
      for (int64_t j = Team::lane(); j < V; j += Team::size()) yr[j] = expf(xr[j] - t.m) * inv_s;
    }
  }
}

// softmax: dx = y * (dy - sum_j dy_j y_j); log_softmax: dx = dy - exp(y) * sum_j dy_j.
// dx may alias dy. The row sum is accumulated in double, as on the CPU: it is subtracted from
// values of its own size (dy - dot cancels where y ~ 1), so its float rounding would show.
template <bool kWarp, bool kLog>
__global__ void softmax_backward_kernel(const float* y, const float* dy, float* dx, int64_t B,
                                        int64_t V) {
  __shared__ double scratch[32];
  using Team = RowTeam<kWarp>;
  for (int64_t r = Team::first_row(); r < B; r += Team::row_stride()) {
    const float* yr = y + r * V;
    const float* dyr = dy + r * V;
    float* dxr = dx + r * V;
    double s = 0.0;
    for (int64_t j = Team::lane(); j < V; j += Team::size())
      s += kLog ? double(dyr[j]) : double(dyr[j]) * double(yr[j]);
    s = Team::sum(s, scratch);
    if (kLog) {
      const float sf = static_cast<float>(s);
      for (int64_t j = Team::lane(); j < V; j += Team::size()) dxr[j] = dyr[j] - expf(yr[j]) * sf;
    } else {
      // dot = hi + lo in two floats: (dy - hi) - lo keeps the double's precision in float math.
      const float hi = static_cast<float>(s);
      const float lo = static_cast<float>(s - double(hi));
      for (int64_t j = Team::lane(); j < V; j += Team::size()) dxr[j] = yr[j] * ((dyr[j] - hi) - lo);
    }
  }
}

// What the cross-entropy kernels share through device memory, read back once at the end.
struct CeStats {
  double loss_sum;               // sum of the per-row losses
  unsigned long long count;      // rows whose target is not ignore_index
  unsigned long long first_bad;  // first row whose target is outside [0, V), all ones if none
};

constexpr int kCountThreads = 1024;

// One block: counts the rows that take part (the gradient's divisor, needed before any row is
// written) and finds the first out-of-range target.
template <typename I>
__global__ void ce_count_kernel(const I* __restrict__ targets, int64_t B, int64_t V,
                                int64_t ignore_index, CeStats* st) {
  if (threadIdx.x == 0) {
    st->loss_sum = 0.0;
    st->count = 0;
    st->first_bad = ~0ull;
  }
  __syncthreads();
  unsigned long long count = 0;
  for (int64_t i = threadIdx.x; i < B; i += blockDim.x) {
    const int64_t t = static_cast<int64_t>(targets[i]);
    if (t == ignore_index) continue;
    if (t < 0 || t >= V) atomicMin(&st->first_bad, static_cast<unsigned long long>(i));
    else ++count;
  }
  if (count) atomicAdd(&st->count, count);
}

// Per row: loss = logsumexp(x) - x[t]; dlogits = (softmax(x) - onehot(t)) / count. Ignored rows
// (and out-of-range targets, reported afterwards) get loss 0 and a zero gradient row.
// dlogits may alias logits.
template <bool kWarp, typename I>
__global__ void ce_rows_kernel(const float* logits, const I* __restrict__ targets, int64_t B,
                               int64_t V, int64_t ignore_index, const CeStats* st, float* losses,
                               float* dlogits, double* row_loss) {
  __shared__ MaxSum scratch[32];
  using Team = RowTeam<kWarp>;
  const double count = static_cast<double>(st->count);  // >= 1 whenever a row takes part
  for (int64_t r = Team::first_row(); r < B; r += Team::row_stride()) {
    const int64_t t = static_cast<int64_t>(targets[r]);
    const float* xr = logits + r * V;
    if (t == ignore_index || t < 0 || t >= V) {  // the same for the whole team
      if (Team::lane() == 0) {
        row_loss[r] = 0.0;
        if (losses) losses[r] = 0.0f;
      }
      if (dlogits)
        for (int64_t j = Team::lane(); j < V; j += Team::size()) dlogits[r * V + j] = 0.0f;
      continue;
    }
    const float xt = xr[t];  // read before any thread writes this row of dlogits
    MaxSum m = maxsum_identity();
    for (int64_t j = Team::lane(); j < V; j += Team::size()) m = maxsum_add(m, xr[j]);
    m = Team::maxsum(m, scratch);  // a barrier for a block team
    if (kWarp) __syncwarp();       // orders every lane's read of x[t] before the writes below
    if (Team::lane() == 0) {
      const double loss = double(m.m) + log(m.s) - double(xt);  // in double, as the CPU
      row_loss[r] = loss;
      if (losses) losses[r] = static_cast<float>(loss);
    }
    if (dlogits) {
      // The CPU's rounding: exp(x - m) / (s count), and 1 / count off the target.
      const float scale = static_cast<float>(1.0 / (m.s * count));
      const float one = static_cast<float>(1.0 / count);
      float* dr = dlogits + r * V;
      for (int64_t j = Team::lane(); j < V; j += Team::size()) {
        const float g = expf(xr[j] - m.m) * scale;
        dr[j] = j == t ? g - one : g;
      }
    }
  }
}

template <bool kLog>
void launch_forward(const float* x, float* y, int64_t B, int64_t V) {
  if (B <= 0 || V <= 0) return;
  const RowConfig c = row_config(B, V);
  if (c.warp_per_row) softmax_forward_kernel<true, kLog><<<c.grid, c.block>>>(x, y, B, V);
  else softmax_forward_kernel<false, kLog><<<c.grid, c.block>>>(x, y, B, V);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

template <bool kLog>
void launch_backward(const float* y, const float* dy, float* dx, int64_t B, int64_t V) {
  if (B <= 0 || V <= 0) return;
  const RowConfig c = row_config(B, V);
  if (c.warp_per_row) softmax_backward_kernel<true, kLog><<<c.grid, c.block>>>(y, dy, dx, B, V);
  else softmax_backward_kernel<false, kLog><<<c.grid, c.block>>>(y, dy, dx, B, V);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t B, int64_t V) {
  launch_forward<false>(x, y, B, V);
}

void log_softmax_forward(const float* x, float* y, int64_t B, int64_t V) {
  launch_forward<true>(x, y, B, V);
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t B, int64_t V) {
  launch_backward<false>(y, dy, dx, B, V);
}

void log_softmax_backward(const float* y, const float* dy, float* dx, int64_t B, int64_t V) {
  launch_backward<true>(y, dy, dx, B, V);
}

template <typename I>
double softmax_cross_entropy(const float* logits, const I* targets, int64_t B, int64_t V,
                             int64_t ignore_index, float* losses, float* dlogits) {
  if (B <= 0) return 0.0;
  FASTNLP_CHECK(V > 0, "softmax_cross_entropy: V must be positive, got ", V);
  Carve carve;
  const size_t at_stats = carve.take<CeStats>(1);
  const size_t at_rows = carve.take<double>(B);
  DeviceBuffer buf(carve.bytes());
  CeStats* st = buf.as<CeStats>(at_stats);
  double* row_loss = buf.as<double>(at_rows);

  ce_count_kernel<I><<<1, kCountThreads>>>(targets, B, V, ignore_index, st);
  FASTNLP_CUDA_CHECK_LAUNCH();
  const RowConfig c = row_config(B, V);
  if (c.warp_per_row)
    ce_rows_kernel<true, I><<<c.grid, c.block>>>(logits, targets, B, V, ignore_index, st, losses,
                                                 dlogits, row_loss);
  else
    ce_rows_kernel<false, I><<<c.grid, c.block>>>(logits, targets, B, V, ignore_index, st, losses,
                                                  dlogits, row_loss);
  FASTNLP_CUDA_CHECK_LAUNCH();
  launch_sum(row_loss, B, &st->loss_sum);

  const CeStats h = read_back(st);
  if (h.first_bad != ~0ull) {
    const I bad = read_back(targets + h.first_bad);
    FASTNLP_CHECK(false, "softmax_cross_entropy: targets must be in [0, ", V,
                  ") or equal ignore_index (", ignore_index, "), got ",
                  static_cast<int64_t>(bad), " at position ", h.first_bad);
  }
  return h.count ? h.loss_sum / static_cast<double>(h.count) : 0.0;
}

template double softmax_cross_entropy<int32_t>(const float*, const int32_t*, int64_t, int64_t,
                                               int64_t, float*, float*);
template double softmax_cross_entropy<int64_t>(const float*, const int64_t*, int64_t, int64_t,
                                               int64_t, float*, float*);

}  // namespace fastnlp::cuda
