// Embedding kernels: sequential scalar references, and fast versions that gather rows in parallel,
// scatter-add with threads owning disjoint id ranges (race-free, no atomics), and coalesce sparse
// gradients with a counting sort (or a comparison sort when the ids are spread too thin).
#include "ops/embedding.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "common.h"
#include "parallel.h"
#include "simd.h"

namespace fastnlp {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread before threading pays off

// dst[0:D] += src[0:D]. Elementwise adds in the same order as the reference loops, so the
// vectorized clones give bitwise the same sums.
FASTNLP_SIMD_CLONES void add_row_f32(float* dst, const float* src, int64_t D) {
  for (int64_t d = 0; d < D; ++d) dst[d] += src[d];
}

template <typename T>
inline void add_row(T* dst, const T* src, int64_t D) {
  if constexpr (std::is_same_v<T, float>) {
    add_row_f32(dst, src, D);
  } else {
    for (int64_t d = 0; d < D; ++d) dst[d] += src[d];
  }
}

// Groups of rows per thread chunk so that a chunk holds about kGrain elements.
inline int64_t row_grain(int64_t D) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, D)); }

}  // namespace

template <typename I>
int64_t coalesce_ids(const I* ids, int64_t N, std::vector<int64_t>& order, std::vector<int64_t>& starts) {
  order.resize(N);
  starts.clear();
  if (N == 0) {
    starts.push_back(0);
    return 0;
  }
  int64_t lo = ids[0], hi = ids[0];
  for (int64_t n = 1; n < N; ++n) {
    lo = std::min<int64_t>(lo, ids[n]);
    hi = std::max<int64_t>(hi, ids[n]);
  }
  // In unsigned arithmetic hi - lo cannot overflow, whatever the ids.
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span < static_cast<uint64_t>(2 * N + 4096)) {
    const int64_t range = static_cast<int64_t>(span) + 1;
    // Counting sort, O(N + range) and stable: positions stay ascending within each id.
    std::vector<int64_t> next(range + 1, 0);
    auto key = [&](int64_t n) {
      return static_cast<int64_t>(static_cast<uint64_t>(ids[n]) - static_cast<uint64_t>(lo));
    };
    for (int64_t n = 0; n < N; ++n) ++next[key(n) + 1];
    for (int64_t k = 0; k < range; ++k) {
      if (next[k + 1] > 0) starts.push_back(next[k]);
      next[k + 1] += next[k];
    }
    for (int64_t n = 0; n < N; ++n) order[next[key(n)]++] = n;
  } else {
    // Ids spread over a range much wider than N: sort (id, position) pairs instead.
    std::vector<std::pair<int64_t, int64_t>> pairs(N);
    for (int64_t n = 0; n < N; ++n) pairs[n] = {static_cast<int64_t>(ids[n]), n};
    std::sort(pairs.begin(), pairs.end());
    for (int64_t k = 0; k < N; ++k) {
      order[k] = pairs[k].second;
      if (k == 0 || pairs[k].first != pairs[k - 1].first) starts.push_back(k);
    }
  }
  const int64_t U = static_cast<int64_t>(starts.size());
  starts.push_back(N);
  return U;
}

template <typename T, typename I>
void embedding_forward_ref(const T* W, const I* ids, T* y, int64_t N, int64_t D) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) y[n * D + d] = W[static_cast<int64_t>(ids[n]) * D + d];
}

template <typename T, typename I>
void embedding_forward(const T* W, const I* ids, T* y, int64_t N, int64_t D) {
  parallel_for(N, row_grain(D), [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n)
      std::memcpy(y + n * D, W + static_cast<int64_t>(ids[n]) * D, sizeof(T) * D);
  });
}

template <typename T, typename I>
void embedding_backward_dense_ref(const I* ids, const T* dy, T* dW, int64_t N, int64_t D, int64_t /*V*/) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) dW[static_cast<int64_t>(ids[n]) * D + d] += dy[n * D + d];
}

// Part t of P owns the rows [V*t/P, V*(t+1)/P) of dW and scans all N ids for its own: no two
// threads write one row, and each row adds its dy rows in position order like the reference.
// Every part reads all ids (P*N id reads), cheap next to the N*D row adds; ids concentrated on a
// few rows leave the other parts idle, which costs speed, never correctness.
template <typename T, typename I>
void embedding_backward_dense(const I* ids, const T* dy, T* dW, int64_t N, int64_t D, int64_t V) {
  const int64_t parts =
      std::min<int64_t>({get_num_threads(), V, std::max<int64_t>(1, N * D / kGrain)});
  parallel_for(parts, 1, [&](int64_t t_lo, int64_t t_hi) {
    for (int64_t t = t_lo; t < t_hi; ++t) {
      const int64_t v_lo = V * t / parts, v_hi = V * (t + 1) / parts;
      for (int64_t n = 0; n < N; ++n) {
        const int64_t v = ids[n];
        if (v >= v_lo && v < v_hi) add_row(dW + v * D, dy + n * D, D);
      }
    }
  });
}

// The plain version: sorted distinct ids, then each dy row added into its id's row in position order.
template <typename T, typename I>
int64_t embedding_backward_sparse_ref(const I* ids, const T* dy, I* unique_ids, T* rows, int64_t N,
                                      int64_t D) {
  std::vector<I> uniq(ids, ids + N);
  std::sort(uniq.begin(), uniq.end());
  uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
  const int64_t U = static_cast<int64_t>(uniq.size());
  std::copy(uniq.begin(), uniq.end(), unique_ids);
  std::fill(rows, rows + U * D, T(0));
  for (int64_t n = 0; n < N; ++n) {
    const int64_t u = std::lower_bound(uniq.begin(), uniq.end(), ids[n]) - uniq.begin();
    for (int64_t d = 0; d < D; ++d) rows[u * D + d] += dy[n * D + d];
  }
  return U;
}

// Coalesce once, then sum each id's rows (in position order) in parallel over the distinct ids.
template <typename T, typename I>
int64_t embedding_backward_sparse(const I* ids, const T* dy, I* unique_ids, T* rows, int64_t N,
                                  int64_t D) {
  std::vector<int64_t> order, starts;
  const int64_t U = coalesce_ids(ids, N, order, starts);
  // About kGrain elements of dy per chunk: U groups hold N*D elements together.
  const int64_t grain = std::max<int64_t>(1, kGrain * U / std::max<int64_t>(1, N * D));
  parallel_for(U, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t s = starts[u], e = starts[u + 1];
      unique_ids[u] = ids[order[s]];
      T* out = rows + u * D;
      std::memcpy(out, dy + order[s] * D, sizeof(T) * D);
      for (int64_t k = s + 1; k < e; ++k) add_row(out, dy + order[k] * D, D);
    }
  });
  return U;
}

#define FASTNLP_INSTANTIATE(T, I)                                                                   \
  template void embedding_forward_ref<T, I>(const T*, const I*, T*, int64_t, int64_t);              \
  template void embedding_forward<T, I>(const T*, const I*, T*, int64_t, int64_t);                  \
  template void embedding_backward_dense_ref<T, I>(const I*, const T*, T*, int64_t, int64_t, int64_t); \
  template void embedding_backward_dense<T, I>(const I*, const T*, T*, int64_t, int64_t, int64_t);  \
  template int64_t embedding_backward_sparse_ref<T, I>(const I*, const T*, I*, T*, int64_t, int64_t); \
  template int64_t embedding_backward_sparse<T, I>(const I*, const T*, I*, T*, int64_t, int64_t);
FASTNLP_INSTANTIATE(float, int32_t)
FASTNLP_INSTANTIATE(float, int64_t)
FASTNLP_INSTANTIATE(double, int32_t)
FASTNLP_INSTANTIATE(double, int64_t)
#undef FASTNLP_INSTANTIATE

template int64_t coalesce_ids<int32_t>(const int32_t*, int64_t, std::vector<int64_t>&, std::vector<int64_t>&);
template int64_t coalesce_ids<int64_t>(const int64_t*, int64_t, std::vector<int64_t>&, std::vector<int64_t>&);

}  // namespace fastnlp
