// The fused middle of sampled softmax on the GPU (see ops/sampled_softmax.h:
// sampled_softmax_scores): the score GEMMs run in cuBLAS through CuPy; this kernel turns the raw
// scores of each row (its true class and the K shared samples) into the loss and, in place, the
// gradients of the mean loss with respect to those scores.
#include "common.cuh"
#include "common.h"

namespace fastnlp::cuda {
namespace {

// Row i: z_0 = s_true[i] + b_true[i] - logq_targets[i], z_k = s_samp[i, k] + b_samp[k] -
// logq_samples[k], or -inf where samples[k] == targets[i] (an accidental hit: the true class
// must not also count as a negative). loss_i = logsumexp(z) - z_0; with p = softmax(z),
// ds_true[i] = (p_0 - 1) / B and ds_samp[i, k] = p_k / B (0 for a hit).
template <bool kWarp, typename I>
__global__ void sampled_scores_kernel(float* s_true, float* s_samp, const float* __restrict__ b_true,
                                      const float* __restrict__ b_samp, const I* __restrict__ targets,
                                      const I* __restrict__ samples,
                                      const float* __restrict__ logq_targets,
                                      const float* __restrict__ logq_samples, int64_t B, int64_t K,
                                      double inv_B, float* losses, double* row_loss) {
  __shared__ MaxSum scratch[32];
  using Team = RowTeam<kWarp>;
  for (int64_t i = Team::first_row(); i < B; i += Team::row_stride()) {
    const I t = targets[i];
    float* si = s_samp + i * K;
    MaxSum m = maxsum_identity();
    double z0 = 0.0;  // in double, as the CPU: it enters the loss directly
    if (Team::lane() == 0) {  // the true class: lane 0 alone reads and later writes s_true[i]
      z0 = double(s_true[i]) + (b_true ? double(b_true[i]) : 0.0) -
           (logq_targets ? double(logq_targets[i]) : 0.0);
      m = maxsum_add(m, static_cast<float>(z0));
    }
    // Pass 1 leaves the corrected logits in s_samp (each element belongs to one thread).
    for (int64_t k = Team::lane(); k < K; k += Team::size()) {
      const float z = samples[k] == t ? -INFINITY
                                      : si[k] + (b_samp ? b_samp[k] : 0.0f) -
                                            (logq_samples ? logq_samples[k] : 0.0f);
      si[k] = z;
      m = maxsum_add(m, z);
    }
    m = Team::maxsum(m, scratch);
    if (Team::lane() == 0) {
      const double loss = double(m.m) + log(m.s) - z0;
      row_loss[i] = loss;
      if (losses) losses[i] = static_cast<float>(loss);
      s_true[i] = static_cast<float>((exp(z0 - double(m.m)) / m.s - 1.0) * inv_B);
    }
    const double scale = inv_B / m.s;
    for (int64_t k = Team::lane(); k < K; k += Team::size())
      si[k] = static_cast<float>(double(expf(si[k] - m.m)) * scale);  // exp(-inf) = 0 for the hits
  }
}

}  // namespace

template <typename I>
double sampled_softmax_scores(float* s_true, float* s_samp, const float* b_true,
                              const float* b_samp, const I* targets, const I* samples,
                              const float* logq_targets, const float* logq_samples, int64_t B,
                              int64_t K, float* losses) {
  if (B <= 0) return 0.0;
  FASTNLP_CHECK(K >= 0, "sampled_softmax_scores: K must be >= 0, got ", K);
  DeviceBuffer row_loss(static_cast<size_t>(B + 1) * sizeof(double));  // B rows, then the sum
  double* rows = row_loss.as<double>();
  const double inv_B = 1.0 / static_cast<double>(B);
  const RowConfig c = row_config(B, K + 1);
  if (c.warp_per_row)
    sampled_scores_kernel<true, I><<<c.grid, c.block>>>(s_true, s_samp, b_true, b_samp, targets,
                                                        samples, logq_targets, logq_samples, B, K,
                                                        inv_B, losses, rows);
  else
    sampled_scores_kernel<false, I><<<c.grid, c.block>>>(s_true, s_samp, b_true, b_samp, targets,
                                                         samples, logq_targets, logq_samples, B, K,
                                                         inv_B, losses, rows);
  FASTNLP_CUDA_CHECK_LAUNCH();
  launch_sum(rows, B, rows + B);
  return read_back(rows + B) / static_cast<double>(B);
}

template double sampled_softmax_scores<int32_t>(float*, float*, const float*, const float*,
                                                const int32_t*, const int32_t*, const float*,
                                                const float*, int64_t, int64_t, float*);
template double sampled_softmax_scores<int64_t>(float*, float*, const float*, const float*,
                                                const int64_t*, const int64_t*, const float*,
                                                const float*, int64_t, int64_t, float*);

}  // namespace fastnlp::cuda
