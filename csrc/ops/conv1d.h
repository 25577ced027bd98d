// Convolution over time (Collobert et al. 2011; Goldberg ch. 13) on a batch of embedded sequences,
// stride 1, with the bias + activation epilogue and optional max / average pooling over time fused.
// Per-sequence lengths are respected: positions past a sequence's end read as zero padding, never
// win the max and never count in the average, so a padded batch computes what each sequence alone would.
#pragma once

#include <cstdint>
#include <string>

#include "ops/activation.h"

namespace fastnlp {

// kNarrow: no padding, T_out = T - K + 1 (needs T >= K). kWide: K - 1 zeros on each side,
// T_out = T + K - 1.
enum class ConvMode : int { kNarrow = 0, kWide = 1 };
// kNone: all positions out; kMax / kAvg: one vector per sequence, pooled over its valid positions.
enum class Pool : int { kNone = 0, kMax = 1, kAvg = 2 };

ConvMode conv_mode_from_name(const std::string& name);  // "narrow" | "wide"
Pool pool_from_name(const std::string& name);           // "none" | "max" | "avg"

// Sizes: B sequences of T steps of D features, H filters of width K (the k of the literature).
struct Conv1dDims {
  int64_t B, T, D, H, K;
};

// Output positions for a sequence of length L (0 when narrow and L < K).
int64_t conv1d_out_len(ConvMode mode, int64_t L, int64_t K);

// Layout.
//   x: (B, T, D) row-major.
//   W: (H, K*D): row h is [w_0 | w_1 | ... | w_{K-1}], w_j (D) multiplying the input at offset j of
//      the window, i.e. W[h, j*D + d] == torch.nn.Conv1d(D, H, K).weight[h, d, j]. With this layout
//      a window of K consecutive rows of x is one contiguous K*D vector (im2col is a row copy).
//   b: (H) or null.
//   lengths: (B) with 1 <= lengths[b] <= T (checked by the caller; narrow mode also needs
//      lengths[b] >= K), or null for all T.
// Output position t reads input positions t - P + j, j in [0, K), with P = 0 (narrow) or K - 1
// (wide); positions outside [0, lengths[b]) read as zero. Sequence b has
// T_b = conv1d_out_len(mode, lengths[b], K) valid outputs out of T_out = conv1d_out_len(mode, T, K).
//   pool kNone: y (B, T_out, H) = act(conv + b), zero at t >= T_b; pooled, argmax unused (null).
//   pool kMax:  pooled (B, H) = max over t < T_b of act(conv + b); argmax (B, H) = that t (the first
//               one on ties, taken on the pre-activation: the same position for every monotone
//               activation except where it saturates, where the gradient is 0 anyway); y unused.
//   pool kAvg:  pooled (B, H) = mean over t < T_b of act(conv + b); y (B, T_out, H) is written
//               as for kNone and is what the backward needs.
// The arguments, named once (a binding fills them once for the reference and the fast kernel).
template <typename T>
struct Conv1dInputs {
  ConvMode mode;
  Activation act;
  Pool pool;
  const T *x, *W, *b;
  const int64_t* lengths;
  Conv1dDims d;
};
template <typename T>
struct Conv1dOutputs {
  T *y, *pooled;
  int64_t* argmax;
};
template <typename T>
void conv1d_forward_ref(const Conv1dInputs<T>& in, const Conv1dOutputs<T>& o);
template <typename T>
void conv1d_forward(const Conv1dInputs<T>& in, const Conv1dOutputs<T>& o);

// Gradients of conv1d_forward. The forward's outputs are inputs here:
//   kNone: y (B, T_out, H) and dy (B, T_out, H); dy past a sequence's end is ignored.
//   kMax:  pooled (B, H), argmax (B, H) and dy (B, H), the gradient of pooled.
//   kAvg:  y (B, T_out, H) and dy (B, H), the gradient of pooled.
// dx: (B, T, D) or null, overwritten (zero at padding positions). dW: (H, K*D), db: (H), each or
// null; added to when accumulate, else overwritten.
// (in.b is not read.)
template <typename T>
struct Conv1dGrads {
  const T *y, *pooled;
  const int64_t* argmax;
  const T* dy;
  T *dx, *dW, *db;
  bool accumulate;
};
template <typename T>
void conv1d_backward_ref(const Conv1dInputs<T>& in, const Conv1dGrads<T>& g);
template <typename T>
void conv1d_backward(const Conv1dInputs<T>& in, const Conv1dGrads<T>& g);

}  // namespace fastnlp
