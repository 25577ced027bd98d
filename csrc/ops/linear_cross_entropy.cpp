// Fused output layer + cross-entropy (ops/linear_cross_entropy.h): a direct reference (every logit
// a double dot product), and the blocked kernel: units of (row tile, vocabulary block), each one
// BLAS GEMM into an L2-sized buffer reduced at once to per-row (block max, sum of exp) and the
// target's logit, spread over the threads; then each row's blocks merged in a fixed order.
#include "ops/linear_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "common.h"
#include "ops/packed_gemm.h"
#include "ops/softmax_rows.h"
#include "parallel.h"
#include "simd.h"

namespace fastnlp {
namespace {

// A unit: kRowTile rows by kColBlock vocabulary columns. Timed when each unit was a BLAS GEMM,
// which repacked its W block and x tile (process CPU time, PTB eval shapes 500 x 200 x 10k): 64 x
// 1024 ran 0.83x linear + softmax_cross_entropy, 128 x 512 1.04x, 512 x 256 1.10x (1.14x at
// V = 33k). A unit now packs only its W block (packed_gemm.h, 400 KB at H = 200) and multiplies
// kSubRows rows at a time (a multiple of the kernel's 6-row tile), each product's logits (96 KB)
// reduced while in L2; 512 x 512 by 48 ran ~1% under 512 x 256 by 96 (fewer per-row calls).
constexpr int64_t kRowTile = 512;
constexpr int64_t kColBlock = 512;
constexpr int64_t kSubRows = 48;

// ---- reference ----

template <typename T>
double dot_ref(const T* a, const T* b, int64_t n) {
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += static_cast<double>(a[j]) * static_cast<double>(b[j]);
  return s;
}

// ---- blocked kernel: the per-block row update ----

// z[j] += b[j] (b may be null); returns max_j z[j]. (One fused pass, the max kept in 16 lanes as
// the bias is added, ran 2 ms slower on PTB's eval shapes than these two.)
FASTNLP_SIMD_CLONES float bias_max(float* z, const float* b, int64_t n) {
  if (b)
    for (int64_t j = 0; j < n; ++j) z[j] += b[j];
  return softmax_detail::row_max(z, n);
}

// sum_j exp(z[j] - m) in double: softmax's row sum (terms <= 1 in float lanes, blocks in double).
double exp_shift_sum(const float* z, float m, int64_t n) {
  return softmax_detail::exp_shift_sum(z, m, nullptr, n);
}

double bias_max(double* z, const double* b, int64_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    if (b) z[j] += b[j];
    m = std::max(m, z[j]);
  }
  return m;
}

double exp_shift_sum(const double* z, double m, int64_t n) {
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += std::exp(z[j] - m);
  return s;
}

// One unit of work: rows [r0, r0 + nr) against vocabulary block [j0, j0 + nc), one product into buf
// (the block of W packed into Wp first), then per row the block's max mb, sum of exp(z - mb) (each
// term <= 1: no overflow) and, when the target falls in the block, its logit. Every unit's product
// has the same shape whatever the thread count, so the results are too.
template <typename T, typename I>
void block_unit(const T* x, const T* W, const T* b, const I* targets, int64_t r0, int64_t nr, int64_t j0,
                int64_t nc, int64_t H, T* Wp, T* buf, T* block_max, double* block_sum, double* xt,
                int64_t n_blocks, int64_t k) {
  // A BLAS GEMM per unit would repack x's 512-row tile for every block of the vocabulary (20 times
  // at V = 10k); the packed product reads it in place.
  pack_panels(true, H, nc, W + j0 * H, H, Wp);
  // kSubRows rows at a time, each product reduced while its logits are still in L2: a whole
  // unit's logits (512 x 256, 512 KB, before) beside the packed block and x's rows overflowed L2,
  // and the product's stores and the reductions' loads went to L3.
  for (int64_t s0 = r0; s0 < r0 + nr; s0 += kSubRows) {
    const int64_t ns = std::min(kSubRows, r0 + nr - s0);
    packed_gemm(ns, nc, H, x + s0 * H, H, Wp, false, buf, nc);
    for (int64_t r = s0; r < s0 + ns; ++r) {
      T* z = buf + (r - s0) * nc;
      const T mb = bias_max(z, b ? b + j0 : nullptr, nc);
      block_max[r * n_blocks + k] = mb;
      block_sum[r * n_blocks + k] = exp_shift_sum(z, mb, nc);
      const int64_t t = static_cast<int64_t>(targets[r]) - j0;
      if (t >= 0 && t < nc) xt[r] = static_cast<double>(z[t]);
    }
  }
}

// The blocks of each row merged in block order: with M the largest block max,
// logsumexp = M + log(sum_k s_k exp(m_k - M)), every factor <= 1.
template <typename T>
void merge_blocks(const T* block_max, const double* block_sum, const double* xt, int64_t B, int64_t n_blocks,
                  double* row_loss) {
  for (int64_t i = 0; i < B; ++i) {
    const T* m = block_max + i * n_blocks;
    const double* s = block_sum + i * n_blocks;
    double M = -std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < n_blocks; ++k) M = std::max(M, static_cast<double>(m[k]));
    double S = 0;
    for (int64_t k = 0; k < n_blocks; ++k) S += s[k] * std::exp(static_cast<double>(m[k]) - M);
    row_loss[i] = M + std::log(S) - xt[i];
  }
}

template <typename T>
double finish_mean(const std::vector<double>& row_loss, T* losses) {
  double total = 0;
  for (size_t i = 0; i < row_loss.size(); ++i) {
    total += row_loss[i];
    if (losses) losses[i] = static_cast<T>(row_loss[i]);
  }
  return row_loss.empty() ? 0.0 : total / static_cast<double>(row_loss.size());
}

}  // namespace

template <typename T, typename I>
double linear_cross_entropy_ref(const T* x, const T* W, const T* b, const I* targets, int64_t B,
                                int64_t H, int64_t V, T* losses) {
  std::vector<double> row_loss(B), z(V);
  for (int64_t i = 0; i < B; ++i) {
    // max-subtracted: exp(z - m) <= 1 cannot overflow and the sum is >= 1, so its log is safe
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < V; ++j) {
      z[j] = dot_ref(x + i * H, W + j * H, H) + (b ? static_cast<double>(b[j]) : 0.0);
      m = std::max(m, z[j]);
    }
    double s = 0;
    for (int64_t j = 0; j < V; ++j) s += std::exp(z[j] - m);
    row_loss[i] = m + std::log(s) - z[static_cast<int64_t>(targets[i])];
  }
  return finish_mean(row_loss, losses);
}

template <typename T, typename I>
double linear_cross_entropy(const T* x, const T* W, const T* b, const I* targets, int64_t B, int64_t H,
                            int64_t V, T* losses) {
  std::vector<double> row_loss(B);
  if (B == 0 || V == 0) return finish_mean(row_loss, losses);
  const int64_t n_tiles = (B + kRowTile - 1) / kRowTile, n_blocks = (V + kColBlock - 1) / kColBlock;
  const int64_t units = n_tiles * n_blocks;
  std::vector<T> block_max(static_cast<size_t>(B * n_blocks));
  std::vector<double> block_sum(static_cast<size_t>(B * n_blocks)), xt(static_cast<size_t>(B));
  // Spare threads of the team get no unit.
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), units)));
  parallel_region(threads, [&](int thread, int team) {
    std::vector<T> buf(static_cast<size_t>(std::min(kSubRows, B) * std::min(kColBlock, V)));
    PackedBuffer<T> Wp = packed_buffer<T>(H, std::min(kColBlock, V));
    for (int64_t u = units * thread / team; u < units * (thread + 1) / team; ++u) {
      const int64_t tile = u / n_blocks, k = u % n_blocks;
      const int64_t r0 = tile * kRowTile, j0 = k * kColBlock;
      block_unit(x, W, b, targets, r0, std::min(kRowTile, B - r0), j0, std::min(kColBlock, V - j0), H, Wp.get(),
                 buf.data(), block_max.data(), block_sum.data(), xt.data(), n_blocks, k);
    }
  });
  merge_blocks(block_max.data(), block_sum.data(), xt.data(), B, n_blocks, row_loss.data());
  return finish_mean(row_loss, losses);
}

#define FASTNLP_INSTANTIATE(T, I)                                                                       \
  template double linear_cross_entropy_ref<T, I>(const T*, const T*, const T*, const I*, int64_t, int64_t, \
                                                 int64_t, T*);                                            \
  template double linear_cross_entropy<T, I>(const T*, const T*, const T*, const I*, int64_t, int64_t,   \
                                             int64_t, T*);
FASTNLP_INSTANTIATE(float, int32_t)
FASTNLP_INSTANTIATE(float, int64_t)
FASTNLP_INSTANTIATE(double, int32_t)
FASTNLP_INSTANTIATE(double, int64_t)
#undef FASTNLP_INSTANTIATE

}  // namespace fastnlp
