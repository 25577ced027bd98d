// Optimizer kernels: scalar references, float inner loops compiled as SIMD clones (simd.h) and
// spread over threads, and sparse row updates that coalesce repeated ids with the embedding
// backward's coalesce_ids before updating each touched row once, rows in parallel.
#include "ops/optim.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "ops/embedding.h"
#include "parallel.h"
#include "simd.h"

namespace fastnlp {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread before threading pays off

FASTNLP_SIMD_CLONES void sgd_chunk_f32(float* p, const float* g, int64_t n, float lr, float wd) {
  for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
}

// eps is added to sqrt(acc), not inside it (as in Duchi et al. and PyTorch's Adagrad): it is in
// the units of the gradient and keeps a coordinate whose gradients were all zero at a zero step
// instead of 0/0; since acc >= g'^2, no step exceeds lr. Inside the sqrt it would instead act as
// a floor on acc of a different scale (eps^2 here equals eps there).
FASTNLP_SIMD_CLONES void adagrad_chunk_f32(float* p, const float* g, float* acc, int64_t n, float lr,
                                           float eps, float wd) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + wd * p[i];
    const float a = acc[i] + gi * gi;
    acc[i] = a;
    p[i] -= lr * gi / (std::sqrt(a) + eps);
  }
}

// The float loops are the SIMD clones; double (for float64 gradient checks and tests) runs the
// reference loops, in parallel.
template <typename T>
void sgd_chunk(T* p, const T* g, int64_t n, T lr, T wd) {
  if constexpr (std::is_same_v<T, float>) sgd_chunk_f32(p, g, n, lr, wd);
  else sgd_update_ref(p, g, n, lr, wd);
}

template <typename T>
void adagrad_chunk(T* p, const T* g, T* acc, int64_t n, T lr, T eps, T wd) {
  if constexpr (std::is_same_v<T, float>) adagrad_chunk_f32(p, g, acc, n, lr, eps, wd);
  else adagrad_update_ref(p, g, acc, n, lr, eps, wd);
}

// Calls update(v, g) exactly once for each distinct id v, with g (D) the sum of the rows of v in
// position order; calls for different ids run in parallel, so update may write row v freely.
// Ids already strictly increasing (one O(N) scan) are distinct: their rows are used as they are,
// with no sort and no copy. Otherwise coalesce_ids groups them, and only ids that repeat have
// their rows summed into a per-chunk scratch row.
template <typename T, typename I, typename F>
void for_each_coalesced_row(const I* ids, const T* rows, int64_t N, int64_t D, F&& update) {
  bool sorted_unique = true;
  for (int64_t n = 1; n < N && sorted_unique; ++n) sorted_unique = ids[n - 1] < ids[n];
  if (sorted_unique) {
    parallel_for(N, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, D)), [&](int64_t lo, int64_t hi) {
      for (int64_t n = lo; n < hi; ++n) update(static_cast<int64_t>(ids[n]), rows + n * D);
    });
    return;
  }
  std::vector<int64_t> order, starts;
  const int64_t U = coalesce_ids(ids, N, order, starts);
  const int64_t grain = std::max<int64_t>(1, kGrain * U / std::max<int64_t>(1, N * D));
  parallel_for(U, grain, [&](int64_t lo, int64_t hi) {
    std::vector<T> sum;
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t s = starts[u], e = starts[u + 1];
      const T* g = rows + order[s] * D;
      if (e - s > 1) {
        sum.assign(g, g + D);
        for (int64_t k = s + 1; k < e; ++k) {
          const T* r = rows + order[k] * D;
          for (int64_t d = 0; d < D; ++d) sum[d] += r[d];
        }
        g = sum.data();
      }
      update(static_cast<int64_t>(ids[order[s]]), g);
    }
  });
}

}  // namespace

template <typename T>
void sgd_update_ref(T* p, const T* g, int64_t n, T lr, T wd) {
  for (int64_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
}

template <typename T>
void sgd_update(T* p, const T* g, int64_t n, T lr, T wd) {
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) { sgd_chunk(p + lo, g + lo, hi - lo, lr, wd); });
}

template <typename T>
void adagrad_update_ref(T* p, const T* g, T* acc, int64_t n, T lr, T eps, T wd) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i] + wd * p[i];
    acc[i] += gi * gi;
    p[i] -= lr * gi / (std::sqrt(acc[i]) + eps);  // eps outside the sqrt: see adagrad_chunk_f32
  }
}

template <typename T>
void adagrad_update(T* p, const T* g, T* acc, int64_t n, T lr, T eps, T wd) {
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    adagrad_chunk(p + lo, g + lo, acc + lo, hi - lo, lr, eps, wd);
  });
}

// References: the plain coalesced gradient (embedding_backward_sparse_ref), then the dense
// reference update on each touched row. Weight decay is lazy: rows not in ids are not decayed.
template <typename T, typename I>
void sgd_update_sparse_ref(T* P, const I* ids, const T* rows, int64_t N, int64_t D, T lr, T wd) {
  std::vector<I> uniq(N);
  std::vector<T> sum(N * D);
  const int64_t U = embedding_backward_sparse_ref(ids, rows, uniq.data(), sum.data(), N, D);
  for (int64_t u = 0; u < U; ++u)
    sgd_update_ref(P + static_cast<int64_t>(uniq[u]) * D, sum.data() + u * D, D, lr, wd);
}

template <typename T, typename I>
void adagrad_update_sparse_ref(T* P, T* acc, const I* ids, const T* rows, int64_t N, int64_t D, T lr,
                               T eps, T wd) {
  std::vector<I> uniq(N);
  std::vector<T> sum(N * D);
  const int64_t U = embedding_backward_sparse_ref(ids, rows, uniq.data(), sum.data(), N, D);
  for (int64_t u = 0; u < U; ++u) {
    const int64_t o = static_cast<int64_t>(uniq[u]) * D;
    adagrad_update_ref(P + o, sum.data() + u * D, acc + o, D, lr, eps, wd);
  }
}

template <typename T, typename I>
void sgd_update_sparse(T* P, const I* ids, const T* rows, int64_t N, int64_t D, T lr, T wd) {
  for_each_coalesced_row(ids, rows, N, D, [&](int64_t v, const T* g) { sgd_chunk(P + v * D, g, D, lr, wd); });
}

template <typename T, typename I>
void adagrad_update_sparse(T* P, T* acc, const I* ids, const T* rows, int64_t N, int64_t D, T lr,
                           T eps, T wd) {
  for_each_coalesced_row(ids, rows, N, D, [&](int64_t v, const T* g) {
    adagrad_chunk(P + v * D, g, acc + v * D, D, lr, eps, wd);
  });
}

#define FASTNLP_INSTANTIATE(T)                                                              \
  template void sgd_update_ref<T>(T*, const T*, int64_t, T, T);                             \
  template void sgd_update<T>(T*, const T*, int64_t, T, T);                                 \
  template void adagrad_update_ref<T>(T*, const T*, T*, int64_t, T, T, T);                  \
  template void adagrad_update<T>(T*, const T*, T*, int64_t, T, T, T);
#define FASTNLP_INSTANTIATE_SPARSE(T, I)                                                    \
  template void sgd_update_sparse_ref<T, I>(T*, const I*, const T*, int64_t, int64_t, T, T); \
  template void sgd_update_sparse<T, I>(T*, const I*, const T*, int64_t, int64_t, T, T);     \
  template void adagrad_update_sparse_ref<T, I>(T*, T*, const I*, const T*, int64_t, int64_t, T, T, T); \
  template void adagrad_update_sparse<T, I>(T*, T*, const I*, const T*, int64_t, int64_t, T, T, T);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
FASTNLP_INSTANTIATE_SPARSE(float, int32_t)
FASTNLP_INSTANTIATE_SPARSE(float, int64_t)
FASTNLP_INSTANTIATE_SPARSE(double, int32_t)
FASTNLP_INSTANTIATE_SPARSE(double, int64_t)
#undef FASTNLP_INSTANTIATE
#undef FASTNLP_INSTANTIATE_SPARSE

// ---- Adam and AdaDelta ----------------------------------------------------------------------------

namespace {

// One element's Adam step, shared by the reference loop and the SIMD clone (the same operations in
// the same order; the clone may still fuse multiply-adds the reference rounds twice).
template <typename T>
FASTNLP_INLINE void adam_element(T& p, T g, T& m, T& v, T beta1, T beta2, T eps, T wd, T step_size,
                                 T bc2_sqrt) {
  const T gi = g + wd * p;
  const T mi = beta1 * m + (T(1) - beta1) * gi;
  const T vi = beta2 * v + (T(1) - beta2) * gi * gi;
  m = mi;
  v = vi;
  // eps after the bias correction of sqrt(v), as torch.optim.Adam: it bounds the step where v ~ 0.
  p -= step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
}

// AdaDelta's step: the ratio of two RMS (of past updates and of gradients) makes it unit-free;
// eps inside both square roots starts acc_dx's RMS at sqrt(eps), so the first steps are not zero.
template <typename T>
FASTNLP_INLINE void adadelta_element(T& p, T g, T& acc_g, T& acc_dx, T lr, T rho, T eps, T wd) {
  const T gi = g + wd * p;
  const T a = rho * acc_g + (T(1) - rho) * gi * gi;
  acc_g = a;
  const T dx = std::sqrt(acc_dx + eps) / std::sqrt(a + eps) * gi;
  acc_dx = rho * acc_dx + (T(1) - rho) * dx * dx;
  p -= lr * dx;
}

FASTNLP_SIMD_CLONES void adam_chunk_f32(float* p, const float* g, float* m, float* v, int64_t n, float beta1,
                                        float beta2, float eps, float wd, float step_size, float bc2_sqrt) {
  for (int64_t i = 0; i < n; ++i) adam_element(p[i], g[i], m[i], v[i], beta1, beta2, eps, wd, step_size, bc2_sqrt);
}

FASTNLP_SIMD_CLONES void adadelta_chunk_f32(float* p, const float* g, float* acc_g, float* acc_dx, int64_t n,
                                            float lr, float rho, float eps, float wd) {
  for (int64_t i = 0; i < n; ++i) adadelta_element(p[i], g[i], acc_g[i], acc_dx[i], lr, rho, eps, wd);
}

// Float: the SIMD clones; double: the same element loop, plain.
template <typename T>
void adam_chunk(T* p, const T* g, T* m, T* v, int64_t n, T beta1, T beta2, T eps, T wd, T step_size,
                T bc2_sqrt) {
  if constexpr (std::is_same_v<T, float>) {
    adam_chunk_f32(p, g, m, v, n, beta1, beta2, eps, wd, step_size, bc2_sqrt);
  } else {
    for (int64_t i = 0; i < n; ++i) adam_element(p[i], g[i], m[i], v[i], beta1, beta2, eps, wd, step_size, bc2_sqrt);
  }
}

template <typename T>
void adadelta_chunk(T* p, const T* g, T* acc_g, T* acc_dx, int64_t n, T lr, T rho, T eps, T wd) {
  if constexpr (std::is_same_v<T, float>) adadelta_chunk_f32(p, g, acc_g, acc_dx, n, lr, rho, eps, wd);
  else adadelta_update_ref(p, g, acc_g, acc_dx, n, lr, rho, eps, wd);
}

}  // namespace

template <typename T>
void adam_update_ref(T* p, const T* g, T* m, T* v, int64_t n, int64_t step, T lr, T beta1, T beta2, T eps,
                     T wd) {
  const AdamScales s = adam_scales(step, lr, beta1, beta2);
  for (int64_t i = 0; i < n; ++i)
    adam_element(p[i], g[i], m[i], v[i], beta1, beta2, eps, wd, T(s.step_size), T(s.bc2_sqrt));
}

template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, int64_t step, T lr, T beta1, T beta2, T eps, T wd) {
  const AdamScales s = adam_scales(step, lr, beta1, beta2);
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    adam_chunk(p + lo, g + lo, m + lo, v + lo, hi - lo, beta1, beta2, eps, wd, T(s.step_size), T(s.bc2_sqrt));
  });
}

template <typename T>
void adadelta_update_ref(T* p, const T* g, T* acc_g, T* acc_dx, int64_t n, T lr, T rho, T eps, T wd) {
  for (int64_t i = 0; i < n; ++i) adadelta_element(p[i], g[i], acc_g[i], acc_dx[i], lr, rho, eps, wd);
}

template <typename T>
void adadelta_update(T* p, const T* g, T* acc_g, T* acc_dx, int64_t n, T lr, T rho, T eps, T wd) {
  parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
    adadelta_chunk(p + lo, g + lo, acc_g + lo, acc_dx + lo, hi - lo, lr, rho, eps, wd);
  });
}

// References: the plain coalesced gradient, then the dense reference step on each touched row (as
// sgd_update_sparse_ref).
template <typename T, typename I>
void adam_update_sparse_ref(T* P, T* m, T* v, const I* ids, const T* rows, int64_t N, int64_t D, int64_t step,
                            T lr, T beta1, T beta2, T eps, T wd) {
  std::vector<I> uniq(N);
  std::vector<T> sum(N * D);
  const int64_t U = embedding_backward_sparse_ref(ids, rows, uniq.data(), sum.data(), N, D);
  for (int64_t u = 0; u < U; ++u) {
    const int64_t o = static_cast<int64_t>(uniq[u]) * D;
    adam_update_ref(P + o, sum.data() + u * D, m + o, v + o, D, step, lr, beta1, beta2, eps, wd);
  }
}

template <typename T, typename I>
void adadelta_update_sparse_ref(T* P, T* acc_g, T* acc_dx, const I* ids, const T* rows, int64_t N, int64_t D,
                                T lr, T rho, T eps, T wd) {
  std::vector<I> uniq(N);
  std::vector<T> sum(N * D);
  const int64_t U = embedding_backward_sparse_ref(ids, rows, uniq.data(), sum.data(), N, D);
  for (int64_t u = 0; u < U; ++u) {
    const int64_t o = static_cast<int64_t>(uniq[u]) * D;
    adadelta_update_ref(P + o, sum.data() + u * D, acc_g + o, acc_dx + o, D, lr, rho, eps, wd);
  }
}

template <typename T, typename I>
void adam_update_sparse(T* P, T* m, T* v, const I* ids, const T* rows, int64_t N, int64_t D, int64_t step,
                        T lr, T beta1, T beta2, T eps, T wd) {
  const AdamScales s = adam_scales(step, lr, beta1, beta2);
  for_each_coalesced_row(ids, rows, N, D, [&](int64_t r, const T* g) {
    adam_chunk(P + r * D, g, m + r * D, v + r * D, D, beta1, beta2, eps, wd, T(s.step_size), T(s.bc2_sqrt));
  });
}

template <typename T, typename I>
void adadelta_update_sparse(T* P, T* acc_g, T* acc_dx, const I* ids, const T* rows, int64_t N, int64_t D,
                            T lr, T rho, T eps, T wd) {
  for_each_coalesced_row(ids, rows, N, D, [&](int64_t r, const T* g) {
    adadelta_chunk(P + r * D, g, acc_g + r * D, acc_dx + r * D, D, lr, rho, eps, wd);
  });
}

#define FASTNLP_INSTANTIATE(T)                                                                         \
  template void adam_update_ref<T>(T*, const T*, T*, T*, int64_t, int64_t, T, T, T, T, T);             \
  template void adam_update<T>(T*, const T*, T*, T*, int64_t, int64_t, T, T, T, T, T);                 \
  template void adadelta_update_ref<T>(T*, const T*, T*, T*, int64_t, T, T, T, T);                     \
  template void adadelta_update<T>(T*, const T*, T*, T*, int64_t, T, T, T, T);
#define FASTNLP_INSTANTIATE_SPARSE(T, I)                                                                 \
  template void adam_update_sparse_ref<T, I>(T*, T*, T*, const I*, const T*, int64_t, int64_t, int64_t, T, T, \
                                             T, T, T);                                                   \
  template void adam_update_sparse<T, I>(T*, T*, T*, const I*, const T*, int64_t, int64_t, int64_t, T, T, T, \
                                         T, T);                                                          \
  template void adadelta_update_sparse_ref<T, I>(T*, T*, T*, const I*, const T*, int64_t, int64_t, T, T, T, T); \
  template void adadelta_update_sparse<T, I>(T*, T*, T*, const I*, const T*, int64_t, int64_t, T, T, T, T);
FASTNLP_INSTANTIATE(float)
FASTNLP_INSTANTIATE(double)
FASTNLP_INSTANTIATE_SPARSE(float, int32_t)
FASTNLP_INSTANTIATE_SPARSE(float, int64_t)
FASTNLP_INSTANTIATE_SPARSE(double, int32_t)
FASTNLP_INSTANTIATE_SPARSE(double, int64_t)
#undef FASTNLP_INSTANTIATE
#undef FASTNLP_INSTANTIATE_SPARSE

}  // namespace fastnlp
