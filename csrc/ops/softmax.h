// Row-wise softmax and log-softmax (max-subtracted, so any finite logits are safe), their
// backward passes, and softmax + cross-entropy fused into one pass that also yields the gradient.
#pragma once

#include <cstdint>

namespace fastnlp {

// x, y: (B, V); y may alias x.
template <typename T>
void softmax_forward_ref(const T* x, T* y, int64_t B, int64_t V);
template <typename T>
void softmax_forward(const T* x, T* y, int64_t B, int64_t V);
template <typename T>
void log_softmax_forward_ref(const T* x, T* y, int64_t B, int64_t V);
template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t B, int64_t V);

// y: the forward output (B, V), dy, dx: (B, V); dx may alias dy.
// softmax: dx = y * (dy - sum_j dy_j y_j); log_softmax: dx = dy - exp(y) * sum_j dy_j.
template <typename T>
void softmax_backward_ref(const T* y, const T* dy, T* dx, int64_t B, int64_t V);
template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t B, int64_t V);
template <typename T>
void log_softmax_backward_ref(const T* y, const T* dy, T* dx, int64_t B, int64_t V);
template <typename T>
void log_softmax_backward(const T* y, const T* dy, T* dx, int64_t B, int64_t V);

// Mean cross-entropy of softmax(logits) against targets, over the rows whose target is not
// ignore_index (0 when no row counts). logits: (B, V), targets: (B) ids in [0, V) or ignore_index.
// losses: (B) per-row loss (0 for ignored rows) or null.
// dlogits: (B, V) gradient of the mean loss, (softmax - onehot) / count, zero rows where ignored;
// or null. dlogits may alias logits. Accumulates in double.
template <typename T, typename I>
double softmax_cross_entropy_ref(const T* logits, const I* targets, int64_t B, int64_t V,
                                 int64_t ignore_index, T* losses, T* dlogits);
template <typename T, typename I>
double softmax_cross_entropy(const T* logits, const I* targets, int64_t B, int64_t V,
                             int64_t ignore_index, T* losses, T* dlogits);

}  // namespace fastnlp
