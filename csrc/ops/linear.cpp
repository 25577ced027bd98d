// Linear layer kernels: triple-loop references, and BLAS + fused epilogue fast versions.
#include "ops/linear.h"

#include <algorithm>
#include <vector>

#include "blas.h"
#include "parallel.h"

namespace fastnlp {

template <typename T>
void linear_forward_ref(Activation act, const T* x, const T* W, const T* b, T* y, int64_t B,
                        int64_t D, int64_t H) {
  for (int64_t i = 0; i < B; ++i)
    for (int64_t h = 0; h < H; ++h) {
      T s = b ? b[h] : T(0);
      for (int64_t d = 0; d < D; ++d) s += x[i * D + d] * W[h * D + d];
      y[i * H + h] = s;
    }
  activation_forward_ref(act, y, y, B * H);
}

// Each thread takes a block of rows: its GEMM, then the bias + activation on that block while it
// is still in cache. Too few rows to share (B=1 at inference, say): one GEMM split over columns,
// then the epilogue.
template <typename T>
void linear_forward(Activation act, const T* x, const T* W, const T* b, T* y, int64_t B, int64_t D,
                    int64_t H) {
  constexpr int64_t kMinBlockFlops = int64_t(1) << 21;
  const int64_t grain = std::max<int64_t>(1, kMinBlockFlops / std::max<int64_t>(1, H * D));
  if (B < 2 * grain) {
    gemm(false, true, B, H, D, T(1), x, D, W, D, T(0), y, H);
    bias_act_forward(act, y, b, B, H);
    return;
  }
  parallel_for(B, grain, [&](int64_t lo, int64_t hi) {
    // Inside the parallel region both calls run serially on this block.
    gemm(false, true, hi - lo, H, D, T(1), x + lo * D, D, W, D, T(0), y + lo * H, H);
    bias_act_forward(act, y + lo * H, b, hi - lo, H);
  });
}

template <typename T>
void linear_backward_ref(Activation act, const T* x, const T* W, const T* y, const T* dy, T* dx,
                         T* dW, T* db, int64_t B, int64_t D, int64_t H, bool accumulate) {
  std::vector<T> dz(B * H);
  activation_backward_ref(act, y, dy, dz.data(), B * H);
  if (dx)
    for (int64_t i = 0; i < B; ++i)
      for (int64_t d = 0; d < D; ++d) {
        T s = 0;
        for (int64_t h = 0; h < H; ++h) s += dz[i * H + h] * W[h * D + d];
        dx[i * D + d] = s;
      }
  if (dW)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) {
        T s = accumulate ? dW[h * D + d] : T(0);
        for (int64_t i = 0; i < B; ++i) s += dz[i * H + h] * x[i * D + d];
        dW[h * D + d] = s;
      }
  if (db)
    for (int64_t h = 0; h < H; ++h) {
      T s = accumulate ? db[h] : T(0);
      for (int64_t i = 0; i < B; ++i) s += dz[i * H + h];
      db[h] = s;
    }
}

template <typename T>
void linear_backward(Activation act, const T* x, const T* W, const T* y, const T* dy, T* dx, T* dW,
                     T* db, int64_t B, int64_t D, int64_t H, bool accumulate) {
  // dz = dy * act'(y) and db in one pass; for the identity dz is dy itself.
  std::vector<T> dz_buf;
  const T* dz = dy;
  if (act != Activation::kIdentity || db) {
    dz_buf.resize(B * H);
    bias_act_backward(act, y, dy, dz_buf.data(), db, B, H, accumulate);
    dz = dz_buf.data();
  }
  if (dW) gemm(true, false, H, D, B, T(1), dz, H, x, D, accumulate ? T(1) : T(0), dW, D);
  if (dx) gemm(false, false, B, D, H, T(1), dz, H, W, D, T(0), dx, D);
}

#define FASTNLP_INSTANTIATE(T)                                                                   \
  template void linear_forward_ref<T>(Activation, const T*, const T*, const T*, T*, int64_t,     \
                                      int64_t, int64_t);                                         \
  template void linear_forward<T>(Activation, const T*, const T*, const T*, T*, int64_t, int64_t, \
                                  int64_t);                                                      \
  template void linear_backward_ref<T>(Activation, const T*, const T*, const T*, const T*, T*, T*, \
                                       T*, int64_t, int64_t, int64_t, bool);                     \
  template void linear_backward<T>(Activation, const T*, const T*, const T*, const T*, T*, T*, T*, \
                                   int64_t, int64_t, int64_t, bool);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
