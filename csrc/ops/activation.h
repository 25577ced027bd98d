// Elementwise activations (sigmoid, tanh, hard-tanh, ReLU) forward and backward, and the
// bias + activation epilogue that linear layers fuse after their GEMM.
// Backward takes the forward *output* y: every activation here has a derivative expressible
// in y, so layers never keep the pre-activation.
#pragma once

#include <cstdint>
#include <string>

namespace fastnlp {

enum class Activation : int { kIdentity = 0, kSigmoid = 1, kTanh = 2, kHardTanh = 3, kRelu = 4 };

// "identity" | "linear" | "none", "sigmoid", "tanh", "hardtanh", "relu"; throws on anything else.
Activation activation_from_name(const std::string& name);
const char* activation_name(Activation act);

// x, y: (n); y may alias x.
template <typename T>
void activation_forward_ref(Activation act, const T* x, T* y, int64_t n);
template <typename T>
void activation_forward(Activation act, const T* x, T* y, int64_t n);

// y: forward output (n), dy: (n), dx: (n); dx may alias dy.
template <typename T>
void activation_backward_ref(Activation act, const T* y, const T* dy, T* dx, int64_t n);
template <typename T>
void activation_backward(Activation act, const T* y, const T* dy, T* dx, int64_t n);

// In place on z (B, H): z = act(z + b), b: (H) or null. The epilogue of linear_forward.
template <typename T>
void bias_act_forward(Activation act, T* z, const T* b, int64_t B, int64_t H);

// dz = dy * act'(y) for y, dy, dz: (B, H) (dz may alias dy); db (H) = sum over rows of dz when
// db is not null (added to db when accumulate, else overwritten).
template <typename T>
void bias_act_backward(Activation act, const T* y, const T* dy, T* dz, T* db, int64_t B, int64_t H,
                       bool accumulate);

}  // namespace fastnlp
