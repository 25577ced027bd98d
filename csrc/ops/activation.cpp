// Activations: a scalar reference for any T, and float kernels whose inner loops are SIMD
// clones (see simd.h) spread over threads. Double runs the reference loops in parallel: it exists
// for float64 gradient checks, not for speed.
#include "ops/activation.h"

#include <cmath>

#include "common.h"
#include "parallel.h"
#include "simd.h"

namespace fastnlp {

Activation activation_from_name(const std::string& name) {
  if (name == "identity" || name == "linear" || name == "none") return Activation::kIdentity;
  if (name == "sigmoid") return Activation::kSigmoid;
  if (name == "tanh") return Activation::kTanh;
  if (name == "hardtanh") return Activation::kHardTanh;
  if (name == "relu") return Activation::kRelu;
  FASTNLP_CHECK(false, "activation must be one of identity, sigmoid, tanh, hardtanh, relu; got '",
                name, "'");
  return Activation::kIdentity;
}

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::kIdentity: return "identity";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kTanh: return "tanh";
    case Activation::kHardTanh: return "hardtanh";
    case Activation::kRelu: return "relu";
  }
  return "?";
}

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread before threading pays off

template <typename T>
T act_scalar(Activation act, T x) {
  switch (act) {
    case Activation::kIdentity: return x;
    case Activation::kSigmoid: return T(1) / (T(1) + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kHardTanh: return x < T(-1) ? T(-1) : (x > T(1) ? T(1) : x);
    case Activation::kRelu: return x < T(0) ? T(0) : x;
  }
  return x;
}

// The derivative written in terms of the output y = act(x). At the kinks (hard-tanh at +-1,
// ReLU at 0) the subgradient 0 is used.
template <typename T>
T dact_scalar(Activation act, T y) {
  switch (act) {
    case Activation::kIdentity: return T(1);
    case Activation::kSigmoid: return y * (T(1) - y);
    case Activation::kTanh: return T(1) - y * y;
    case Activation::kHardTanh: return (y > T(-1) && y < T(1)) ? T(1) : T(0);
    case Activation::kRelu: return y > T(0) ? T(1) : T(0);
  }
  return T(1);
}

// Float inner loops, one per activation so each vectorizes without a switch in the loop.
FASTNLP_SIMD_CLONES void forward_chunk(Activation act, const float* x, float* y, const float* b,
                                       int64_t n) {
  // b (may be null) is added before the activation: the linear epilogue and the plain op share this.
  switch (act) {
    case Activation::kIdentity:
      if (b) for (int64_t i = 0; i < n; ++i) y[i] = x[i] + b[i];
      else if (x != y) for (int64_t i = 0; i < n; ++i) y[i] = x[i];
      return;
    case Activation::kSigmoid:
      if (b) for (int64_t i = 0; i < n; ++i) y[i] = fast_sigmoidf(x[i] + b[i]);
      else for (int64_t i = 0; i < n; ++i) y[i] = fast_sigmoidf(x[i]);
      return;
    case Activation::kTanh:
      if (b) for (int64_t i = 0; i < n; ++i) y[i] = fast_tanhf(x[i] + b[i]);
      else for (int64_t i = 0; i < n; ++i) y[i] = fast_tanhf(x[i]);
      return;
    case Activation::kHardTanh:
      for (int64_t i = 0; i < n; ++i) {
        float v = b ? x[i] + b[i] : x[i];
        v = v < -1.0f ? -1.0f : v;
        y[i] = v > 1.0f ? 1.0f : v;
      }
      return;
    case Activation::kRelu:
      for (int64_t i = 0; i < n; ++i) {
        const float v = b ? x[i] + b[i] : x[i];
        y[i] = v < 0.0f ? 0.0f : v;
      }
      return;
  }
}

// dx = dy * act'(y); with db, also db += dx (the column sums of one row block).
FASTNLP_SIMD_CLONES void backward_chunk(Activation act, const float* y, const float* dy, float* dx,
                                        float* db, int64_t n) {
  switch (act) {
    case Activation::kIdentity:
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i];
      break;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      break;
    case Activation::kTanh:
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      break;
    case Activation::kHardTanh:
      for (int64_t i = 0; i < n; ++i) dx[i] = (y[i] > -1.0f && y[i] < 1.0f) ? dy[i] : 0.0f;
      break;
    case Activation::kRelu:
      for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      break;
  }
  if (db)
    for (int64_t i = 0; i < n; ++i) db[i] += dx[i];
}

}  // namespace

template <typename T>
void activation_forward_ref(Activation act, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = act_scalar(act, x[i]);
}

template <typename T>
void activation_backward_ref(Activation act, const T* y, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * dact_scalar(act, y[i]);
}

template <>
void activation_forward<float>(Activation act, const float* x, float* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    forward_chunk(act, x + lo, y + lo, nullptr, hi - lo);
  });
}

template <>
void activation_forward<double>(Activation act, const double* x, double* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    activation_forward_ref(act, x + lo, y + lo, hi - lo);
  });
}

template <>
void activation_backward<float>(Activation act, const float* y, const float* dy, float* dx,
                                int64_t n) {
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    backward_chunk(act, y + lo, dy + lo, dx + lo, nullptr, hi - lo);
  });
}

template <>
void activation_backward<double>(Activation act, const double* y, const double* dy, double* dx,
                                 int64_t n) {
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    activation_backward_ref(act, y + lo, dy + lo, dx + lo, hi - lo);
  });
}

template <>
void bias_act_forward<float>(Activation act, float* z, const float* b, int64_t B, int64_t H) {
  parallel_for(B, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, H)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) forward_chunk(act, z + r * H, z + r * H, b, H);
  });
}

template <>
void bias_act_forward<double>(Activation act, double* z, const double* b, int64_t B, int64_t H) {
  parallel_for(B, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, H)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      for (int64_t j = 0; j < H; ++j) z[r * H + j] = act_scalar(act, z[r * H + j] + (b ? b[j] : 0.0));
  });
}

// Threads split the columns, so each owns its slice of db and no reduction is needed.
template <>
void bias_act_backward<float>(Activation act, const float* y, const float* dy, float* dz, float* db,
                              int64_t B, int64_t H, bool accumulate) {
  if (db && !accumulate)
    for (int64_t j = 0; j < H; ++j) db[j] = 0.0f;
  const int64_t grain = std::max<int64_t>(16, kGrain / std::max<int64_t>(1, B));
  parallel_for(H, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = 0; r < B; ++r) {
      const int64_t o = r * H + lo;
      backward_chunk(act, y + o, dy + o, dz + o, db ? db + lo : nullptr, hi - lo);
    }
  });
}

template <>
void bias_act_backward<double>(Activation act, const double* y, const double* dy, double* dz,
                               double* db, int64_t B, int64_t H, bool accumulate) {
  if (db && !accumulate)
    for (int64_t j = 0; j < H; ++j) db[j] = 0.0;
  for (int64_t r = 0; r < B; ++r)
    for (int64_t j = 0; j < H; ++j) {
      const int64_t o = r * H + j;
      dz[o] = dy[o] * dact_scalar(act, y[o]);
      if (db) db[j] += dz[o];
    }
}

template void activation_forward_ref<float>(Activation, const float*, float*, int64_t);
template void activation_forward_ref<double>(Activation, const double*, double*, int64_t);
template void activation_backward_ref<float>(Activation, const float*, const float*, float*, int64_t);
template void activation_backward_ref<double>(Activation, const double*, const double*, double*,
                                              int64_t);

}  // namespace fastnlp
