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

}  // namespace fastnlp
