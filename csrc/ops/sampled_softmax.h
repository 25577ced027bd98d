// Sampled softmax (Jean et al. 2015): the loss of a softmax over the true class and K sampled
// classes, with the log-Q correction and accidental hits removed, so large vocabularies train at
// the cost of K + 1 classes. Output-layer gradients are sparse: one row per true or sampled id.
#pragma once

#include <cstdint>
#include <vector>

namespace fastnlp {

// h: (B, H) hidden states; W: (V, H) output embeddings; b: (V) output bias or null;
// targets: (B) ids in [0, V); samples: (K) ids in [0, V) shared by the batch;
// logq_targets: (B) and logq_samples: (K), log of each class's expected count under the
// proposal distribution, subtracted from its logit; a sample equal to a row's target
// (an accidental hit) is removed from that row's softmax.
// Outputs (each may be null): losses (B); dh (B, H); grad_rows (B + K, H), the gradient for W's
// rows at ids concat(targets, samples) (ids repeat: scatter-add them); grad_bias (B + K).
// Returns the mean loss over the batch; gradients are of the mean.
template <typename T, typename I>
double sampled_softmax_ref(const T* h, const T* W, const T* b, const I* targets, const I* samples,
                           const T* logq_targets, const T* logq_samples, int64_t B, int64_t H,
                           int64_t K, T* losses, T* dh, T* grad_rows, T* grad_bias);
template <typename T, typename I>
double sampled_softmax(const T* h, const T* W, const T* b, const I* targets, const I* samples,
                       const T* logq_targets, const T* logq_samples, int64_t B, int64_t H,
                       int64_t K, T* losses, T* dh, T* grad_rows, T* grad_bias);

// The fused middle of the fast path (also the CUDA path, where the GEMMs run in cuBLAS via
// CuPy): given raw scores s_true (B) = <h_i, W[t_i]> and s_samp (B, K) = <h_i, W[s_k]>, adds the
// biases (b_true (B), b_samp (K), or null), subtracts log-Q, removes accidental hits, and writes
// losses (B, or null) and, in place, the gradients of the mean loss w.r.t. the scores
// (ds_true (B) into s_true, ds_samp (B, K) into s_samp). Returns the mean loss.
template <typename T, typename I>
double sampled_softmax_scores(T* s_true, T* s_samp, const T* b_true, const T* b_samp,
                              const I* targets, const I* samples, const T* logq_targets,
                              const T* logq_samples, int64_t B, int64_t K, T* losses);

// Draws classes from a fixed proposal distribution in O(1) each (Walker's alias method).
class AliasSampler {
 public:
  // probs: (V) non-negative weights, not all zero (normalized here).
  AliasSampler(const double* probs, int64_t V);
  int64_t num_classes() const { return static_cast<int64_t>(prob_.size()); }
  double probability(int64_t id) const { return p_[id]; }
  // Fills out (n) with draws (with replacement), deterministic for a given seed.
  template <typename I>
  void sample(I* out, int64_t n, uint64_t seed) const;

 private:
  std::vector<double> p_;      // normalized proposal
  std::vector<double> prob_;   // alias-table acceptance probabilities
  std::vector<int64_t> alias_;
};

}  // namespace fastnlp
