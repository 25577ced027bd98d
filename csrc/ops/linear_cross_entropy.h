// Output layer + softmax + cross-entropy fused for evaluation: the per-row loss of
// softmax(x W^T + b) at the targets, computed over vocabulary blocks right after each block's
// GEMM, so the (B, V) logits never exist in memory (forward only: training uses linear +
// softmax_cross_entropy, or sampled_softmax).
#pragma once

#include <cstdint>

namespace fastnlp {

// x: (B, H), W: (V, H), b: (V) or null, targets: (B) ids in [0, V).
// losses: (B) or null, losses[i] = logsumexp_j(x_i . W_j + b_j) - (x_i . W_t + b_t) with
// t = targets[i]. Returns the mean loss over the B rows (0 when B == 0), summed in double in
// row order (the same for any thread count).
template <typename T, typename I>
double linear_cross_entropy_ref(const T* x, const T* W, const T* b, const I* targets, int64_t B,
                                int64_t H, int64_t V, T* losses);
template <typename T, typename I>
double linear_cross_entropy(const T* x, const T* W, const T* b, const I* targets, int64_t B,
                            int64_t H, int64_t V, T* losses);

}  // namespace fastnlp
