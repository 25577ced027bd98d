// Dense layer with fused bias + activation: y = act(x W^T + b). The matrix products go through
// BLAS (blas.h); the bias and activation run as one epilogue pass over y.
#pragma once

#include <cstdint>

#include "ops/activation.h"

namespace fastnlp {

// x: (B, D), W: (H, D), b: (H) or null, y: (B, H).
template <typename T>
void linear_forward_ref(Activation act, const T* x, const T* W, const T* b, T* y, int64_t B,
                        int64_t D, int64_t H);
template <typename T>
void linear_forward(Activation act, const T* x, const T* W, const T* b, T* y, int64_t B, int64_t D,
                    int64_t H);

// x: (B, D), W: (H, D), y: forward output (B, H), dy: (B, H).
// dx: (B, D) or null (always overwritten); dW: (H, D) or null; db: (H) or null.
// accumulate: add into dW and db (gradients of a shared layer), else overwrite them.
template <typename T>
void linear_backward_ref(Activation act, const T* x, const T* W, const T* y, const T* dy, T* dx,
                         T* dW, T* db, int64_t B, int64_t D, int64_t H, bool accumulate);
template <typename T>
void linear_backward(Activation act, const T* x, const T* W, const T* y, const T* dy, T* dx, T* dW,
                     T* db, int64_t B, int64_t D, int64_t H, bool accumulate);

}  // namespace fastnlp
