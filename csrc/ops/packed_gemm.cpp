// Packed-weight GEMM (packed_gemm.h): register tiles of MR rows of A by NP panels of B, written
// with GCC vector extensions so the one source compiles to AVX2+FMA, AVX-512 and the SSE baseline
// in the SIMD clones (simd.h), plus 64-byte tiles compiled for AVX-512 alone (packed_gemm_f512);
// the reference walks the same packed layout in plain loops.
#include "ops/packed_gemm.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "common.h"
#include "simd.h"

namespace fastnlp {

bool packed_gemm_avx512() {
#ifdef FASTNLP_TARGET_AVX512
  static const bool avx512 = simd_level() >= 4;
  return avx512;
#else
  return false;
#endif
}

namespace {

// A VB-byte vector of T: AVX2's 32 bytes (two make a panel row) or AVX-512's 64 (one panel row).
template <typename T, int VB>
struct Vec;
template <>
struct Vec<float, 32> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct Vec<double, 32> {
  typedef double type __attribute__((vector_size(32)));
};
template <>
struct Vec<float, 64> {
  typedef float type __attribute__((vector_size(64)));
};
template <typename T, int VB = 32>
constexpr int kLanes = VB / sizeof(T);
// Vectors per panel row.
template <typename T, int VB>
constexpr int kPanelVectors = kPanelWidth<T> / kLanes<T, VB>;

// Unaligned loads and stores (by reference: a vector passed by value draws GCC's -Wpsabi note).
template <typename T, typename V>
FASTNLP_INLINE void load(V& v, const T* p) {
  std::memcpy(&v, p, sizeof(V));
}
template <typename T, typename V>
FASTNLP_INLINE void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}

// One k of a tile: acc[r][q] += A[r][k] times vector q of row k of the panels from Bp (panel stride
// ps). A tile's NV vectors start at vector S of the first panel: vector q is part (S + q) % VP of
// panel (S + q) / VP, VP the vectors per panel row (2 of 32 bytes, or 1 of 64).
template <typename T, int MR, int NV, int S, int VB>
FASTNLP_INLINE void tile_k(typename Vec<T, VB>::type (&acc)[MR][NV], const T* __restrict A, int64_t lda,
                           const T* __restrict Bp, int64_t ps, int64_t k) {
  using V = typename Vec<T, VB>::type;
  constexpr int L = kLanes<T, VB>, VP = kPanelVectors<T, VB>, P = kPanelWidth<T>;
  V b[NV];
#pragma GCC unroll 16
  for (int q = 0; q < NV; ++q) load(b[q], Bp + ((S + q) / VP) * ps + k * P + ((S + q) % VP) * L);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const V a = A[r * lda + k] - V{};  // a broadcast (x - 0 is x for every x, -0 included)
#pragma GCC unroll 16
    for (int q = 0; q < NV; ++q) acc[r][q] += a * b[q];
  }
}

// acc[u] += A[0:MR, k] times row k of the tile's vectors from Bp (panel stride K P), for the k = u mod U.
template <typename T, int MR, int NV, int S, int U, int VB>
FASTNLP_INLINE void tile_run(typename Vec<T, VB>::type (&acc)[U][MR][NV], int64_t K, const T* __restrict A,
                             int64_t lda, const T* __restrict Bp) {
  constexpr int64_t P = kPanelWidth<T>;
  const int64_t ps = K * P, KU = K / U * U;
  for (int64_t k = 0; k < KU; k += U)
#pragma GCC unroll 16
    for (int u = 0; u < U; ++u) tile_k<T, MR, NV, S, VB>(acc[u], A, lda, Bp, ps, k + u);
  for (int64_t k = KU; k < K; ++k) tile_k<T, MR, NV, S, VB>(acc[0], A, lda, Bp, ps, k);
}

// C[0:MR, 0:cols] (+)= A[0:MR, 0:K] times NV vectors of columns from Bp (panel stride K P, starting
// at vector S of the first panel, tile_k), plus A2 (K2 columns) times the same vectors of Bp2 when
// K2 > 0. The MR x NV accumulators stay in registers (12 of AVX2's 16 at the widest shapes below);
// each k broadcasts one element of A per row against the NV vectors. U > 1 splits k over U sets of
// accumulators (k mod U), summed at the end: a tile of few rows then still has ~12 independent FMA
// chains in flight instead of waiting on the FMA latency.
template <typename T, int MR, int NV, int S = 0, int U = 1, int VB = 32>
FASTNLP_INLINE void tile(int64_t K, const T* __restrict A, int64_t lda, const T* __restrict Bp, int64_t K2,
                         const T* __restrict A2, int64_t lda2, const T* __restrict Bp2, T* __restrict C,
                         int64_t ldc, int64_t cols, bool accumulate) {
  using V = typename Vec<T, VB>::type;
  constexpr int L = kLanes<T, VB>;
  V acc[U][MR][NV];
#pragma GCC unroll 16
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 16
      for (int q = 0; q < NV; ++q) acc[u][r][q] = V{};
  tile_run<T, MR, NV, S, U, VB>(acc, K, A, lda, Bp);
  if (K2 > 0) tile_run<T, MR, NV, S, U, VB>(acc, K2, A2, lda2, Bp2);
#pragma GCC unroll 16
  for (int u = 1; u < U; ++u)
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 16
      for (int q = 0; q < NV; ++q) acc[0][r][q] += acc[u][r][q];
  if (cols == NV * L) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 16
      for (int q = 0; q < NV; ++q) {
        T* c = C + r * ldc + q * L;
        if (accumulate) {
          V old;
          load(old, c);
          acc[0][r][q] += old;
        }
        store(c, acc[0][r][q]);
      }
    return;
  }
  // A partial last panel: through a buffer, only the valid columns written.
  alignas(64) T buf[MR][NV * L];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 16
    for (int q = 0; q < NV; ++q) store(buf[r] + q * L, acc[0][r][q]);
  for (int r = 0; r < MR; ++r)
    for (int64_t j = 0; j < cols; ++j) C[r * ldc + j] = (accumulate ? C[r * ldc + j] : T(0)) + buf[r][j];
}

// The operands of one product: C (M, N) (+)= A B + A2 B2, B (K, N) and B2 (K2, N) packed (K2 = 0:
// no second term), A and A2 row-major with row strides lda, lda2.
template <typename T>
struct Operands {
  int64_t N, K;
  const T* A;
  int64_t lda;
  const T* Bp;
  int64_t K2;
  const T* A2;
  int64_t lda2;
  const T* Bp2;
  T* C;
  int64_t ldc;
  bool accumulate;
};

// Rows [i, i + MR) against NV vectors of columns from vector v on (v mod VP = S): the tile there.
template <typename T, int MR, int NV, int S = 0, int U = 1, int VB = 32>
FASTNLP_INLINE void tile_at(const Operands<T>& o, int64_t i, int64_t v) {
  constexpr int64_t P = kPanelWidth<T>, L = kLanes<T, VB>, VP = kPanelVectors<T, VB>;
  tile<T, MR, NV, S, U, VB>(o.K, o.A + i * o.lda, o.lda, o.Bp + v / VP * o.K * P, o.K2, o.A2 + i * o.lda2,
                            o.lda2, o.Bp2 + v / VP * o.K2 * P, o.C + i * o.ldc + v * L, o.ldc,
                            std::min(NV * L, o.N - v * L), o.accumulate);
}

// Rows [i, i + MR) against every panel, NP panels at a time while NP remain, then one at a time.
template <typename T, int MR, int NP>
FASTNLP_INLINE void row_block(const Operands<T>& o, int64_t i) {
  constexpr int64_t P = kPanelWidth<T>;
  const int64_t panels = (o.N + P - 1) / P;
  int64_t p = 0;
  for (; p + NP <= panels; p += NP) tile_at<T, MR, 2 * NP>(o, i, 2 * p);
  for (; p < panels; ++p) tile_at<T, MR, 2>(o, i, 2 * p);
}

// Up to 5 rows from row i against panel p, the tile of each row count holding ~12 accumulators:
// 1 x 6 sets of k, 2 x 3, 3 x 2, 4 and 5 rows x 1 (the 4 x 8 / 5 x 8 accumulators of 2 sets would
// not fit AVX2's 16 registers beside B's vectors and a broadcast).
template <typename T>
FASTNLP_INLINE void leftover_rows(const Operands<T>& o, int64_t rows, int64_t i, int64_t p) {
  switch (rows) {
    case 1: tile_at<T, 1, 2, 0, 6>(o, i, 2 * p); break;
    case 2: tile_at<T, 2, 2, 0, 3>(o, i, 2 * p); break;
    case 3: tile_at<T, 3, 2, 0, 2>(o, i, 2 * p); break;
    case 4: tile_at<T, 4, 2>(o, i, 2 * p); break;
    case 5: tile_at<T, 5, 2>(o, i, 2 * p); break;
    default: break;
  }
}

// Panel by panel, blocks of 6 rows (the panel, K P elements, stays in L1 while they pass over it),
// then the leftover M mod 6 rows against the same panel while it is still there. 4 leftover rows
// (or 4 in all; B = 10 or 16 rows a thread: B = 20, 32 on 2 threads) go 3 panels at a time as two
// tiles of 3 vectors each (12 accumulators, as a 6-row tile holds; 4 rows of one panel hold 8, too
// few for the FMA latency: ~78% of the 6-row tile's rate). 2 leftover rows (B = 20, 32 on 1
// thread) go 3 panels at a time too, as one 2 x 6-vector tile (12 accumulators, 8 loads for 12 FMAs;
// one panel's 2 x 2 x 3 k-sets took 4 loads for 4 FMAs: K = 400, N = 800, M = 20 ran at 96 GFLOP/s,
// now 99; M = 8 88 -> 94), 3 rows 2 panels at a time (3 x 4 vectors: M = 9 99 -> 102). (1 row as
// 1 x 6 vectors in 2 k-sets lost: M = 7 93 -> 88.) Other counts under 6 rows (B = 1: a
// matrix-vector product, bound by reading B) go through wider tiles instead, so that the
// accumulators still fill the registers: 1 row x 4 panels, 2 x 3, 3 x 2, 5 x 1.
template <typename T>
FASTNLP_INLINE void packed_gemm_impl(int64_t M, const Operands<T>& o) {
  constexpr int64_t P = kPanelWidth<T>;
  const int64_t panels = (o.N + P - 1) / P, M6 = M / 6 * 6, left = M - M6;
  if (M6 == 0 && M != 4) {
    switch (M) {
      case 1: row_block<T, 1, 4>(o, 0); break;
      case 2: row_block<T, 2, 3>(o, 0); break;
      case 3: row_block<T, 3, 2>(o, 0); break;
      case 5: row_block<T, 5, 1>(o, 0); break;
      default: break;
    }
    return;
  }
  for (int64_t p = 0; p < panels; ++p) {
    for (int64_t i = 0; i < M6; i += 6) tile_at<T, 6, 2>(o, i, 2 * p);
    if (left == 4 && p - p % 3 + 3 <= panels) {
      if (p % 3 == 2) {  // the group's three panels have had their 6-row blocks
        tile_at<T, 4, 3, 0>(o, M6, 2 * (p - 2));
        tile_at<T, 4, 3, 1>(o, M6, 2 * (p - 2) + 3);
      }
      continue;
    }
    if (left == 2 && p - p % 3 + 3 <= panels) {  // 3 panels at a time, as for 4 rows
      if (p % 3 == 2) tile_at<T, 2, 6>(o, M6, 2 * (p - 2));
      continue;
    }
    if (left == 3 && p % 2 == 0 && p + 2 <= panels) continue;
    if (left == 3 && p % 2 == 1) {
      tile_at<T, 3, 4>(o, M6, 2 * (p - 1));
      continue;
    }
    leftover_rows(o, left, M6, p);
  }
}

FASTNLP_SIMD_CLONES void packed_gemm_f(int64_t M, const Operands<float>& o) { packed_gemm_impl(M, o); }

#ifdef FASTNLP_TARGET_AVX512
// AVX-512: a panel row is one 64-byte vector, and 32 registers hold a tile of up to 12 rows by 2
// panels (24 accumulators beside 2 vectors of B and a broadcast). The 32-byte tiles above, which
// the x86-64-v4 clone also runs, use half the FMA width: one core of an AVX-512 Xeon, K = 256,
// N = 1024, M = 32: 104 GFLOP/s with them, 189 with these (NumPy's sgemm peak there: ~160).
// Few rows take more panels, and 1 row 2 sets of k, so that >= 8 FMA chains are in flight (FMA
// latency 4, 2 ports); a last lone panel takes sets of k instead.
template <int MR>
FASTNLP_INLINE void rows512(const Operands<float>& o, int64_t i) {
  constexpr int NP = MR <= 3 ? 4 : 2, U = MR == 1 ? 2 : 1, U1 = MR < 4 ? 4 : MR < 8 ? 2 : 1;
  const int64_t panels = (o.N + kPanelWidth<float> - 1) / kPanelWidth<float>;
  int64_t p = 0;
  for (; p + NP <= panels; p += NP) tile_at<float, MR, NP, 0, U, 64>(o, i, p);
  for (; p < panels; ++p) tile_at<float, MR, 1, 0, U1, 64>(o, i, p);
}

// Rows [i, i + n) for n in 1..sizeof...(MR): the rows512 instance of that many rows.
template <int... MR>
FASTNLP_INLINE void rows512_n(const Operands<float>& o, int64_t i, int64_t n, std::integer_sequence<int, MR...>) {
  ((n == MR + 1 ? rows512<MR + 1>(o, i) : void()), ...);
}

// Rows in blocks of at most 12, balanced (M = 32: 11 + 11 + 10; 20: 10 + 10; 16: 8 + 8, where
// 12 + 4 would leave 8 accumulators); each block sweeps every panel while its rows of A stay in L1.
FASTNLP_TARGET_AVX512 void packed_gemm_f512(int64_t M, const Operands<float>& o) {
  const int64_t blocks = (M + 11) / 12;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i = M * b / blocks;
    rows512_n(o, i, M * (b + 1) / blocks - i, std::make_integer_sequence<int, 12>{});
  }
}
#endif

// The float product: the AVX-512 tiles where the CPU has them, else the clones.
void packed_gemm_float(int64_t M, const Operands<float>& o) {
#ifdef FASTNLP_TARGET_AVX512
  if (packed_gemm_avx512()) {
    packed_gemm_f512(M, o);
    return;
  }
#endif
  packed_gemm_f(M, o);
}

// dst[k ldd + i] = src[i ldb + k] for i, k < 8: an 8 x 8 block of floats transposed in registers
// (unpack, then pairs, then 128-bit halves).
FASTNLP_INLINE void transpose_8x8(const float* src, int64_t ldb, float* dst, int64_t ldd) {
  using V = Vec<float, 32>::type;
  typedef int I __attribute__((vector_size(32)));
  V r[8], t[8], u[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) load(r[i], src + i * ldb);
#pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shuffle(r[i], r[i + 1], I{0, 8, 1, 9, 4, 12, 5, 13});
    t[i + 1] = __builtin_shuffle(r[i], r[i + 1], I{2, 10, 3, 11, 6, 14, 7, 15});
  }
#pragma GCC unroll 2
  for (int h = 0; h < 8; h += 4) {
    u[h] = __builtin_shuffle(t[h], t[h + 2], I{0, 1, 8, 9, 4, 5, 12, 13});
    u[h + 1] = __builtin_shuffle(t[h], t[h + 2], I{2, 3, 10, 11, 6, 7, 14, 15});
    u[h + 2] = __builtin_shuffle(t[h + 1], t[h + 3], I{0, 1, 8, 9, 4, 5, 12, 13});
    u[h + 3] = __builtin_shuffle(t[h + 1], t[h + 3], I{2, 3, 10, 11, 6, 7, 14, 15});
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const V lo = __builtin_shuffle(u[j], u[j + 4], I{0, 1, 2, 3, 8, 9, 10, 11});
    const V hi = __builtin_shuffle(u[j], u[j + 4], I{4, 5, 6, 7, 12, 13, 14, 15});
    store(dst + j * ldd, lo);
    store(dst + (j + 4) * ldd, hi);
  }
}

// One panel of a transposed source (its rows are the panel's w columns): column by column,
// reading each source row once contiguously (the panel, K P elements, stays in L1 while its P
// columns are written into it); float full panels 8 x 8 blocks at a time (a scalar store per
// element made packing ~3x slower than the untransposed case, a few % of a T = 20 step call).
template <typename T>
FASTNLP_INLINE void pack_panel_trans(int64_t K, int64_t w, const T* src, int64_t ldb, T* panel) {
  constexpr int64_t P = kPanelWidth<T>;
  int64_t k0 = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (w == P)
      for (; k0 + 8 <= K; k0 += 8)
        for (int64_t c = 0; c < P; c += 8) transpose_8x8(src + c * ldb + k0, ldb, panel + k0 * P + c, P);
  }
  for (int64_t c = 0; c < w; ++c) {
    const T* col = src + c * ldb;
    for (int64_t k = k0; k < K; ++k) panel[k * P + c] = col[k];
  }
  for (int64_t k = 0; w < P && k < K; ++k) std::fill(panel + k * P + w, panel + (k + 1) * P, T(0));
}

FASTNLP_SIMD_CLONES void pack_panel_trans_f(int64_t K, int64_t w, const float* src, int64_t ldb, float* panel) {
  pack_panel_trans(K, w, src, ldb, panel);
}
void pack_panel_trans_any(int64_t K, int64_t w, const float* src, int64_t ldb, float* panel) {
  pack_panel_trans_f(K, w, src, ldb, panel);
}
void pack_panel_trans_any(int64_t K, int64_t w, const double* src, int64_t ldb, double* panel) {
  pack_panel_trans(K, w, src, ldb, panel);
}

}  // namespace

template <typename T>
void pack_panels(bool trans, int64_t K, int64_t N, const T* src, int64_t ldb, T* dst) {
  constexpr int64_t P = kPanelWidth<T>;
  for (int64_t p0 = 0; p0 < N; p0 += P) {
    T* panel = dst + p0 * K;  // panel p0 / P starts at (p0 / P) K P = p0 K
    const int64_t w = std::min(P, N - p0);
    if (trans) {
      pack_panel_trans_any(K, w, src + p0 * ldb, ldb, panel);
      continue;
    }
    for (int64_t k = 0; k < K; ++k) {
      T* row = panel + k * P;
      for (int64_t c = 0; c < w; ++c) row[c] = src[k * ldb + p0 + c];
      for (int64_t c = w; c < P; ++c) row[c] = T(0);
    }
  }
}

void packed_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bp, bool accumulate,
                 float* C, int64_t ldc) {
  packed_gemm_float(M, Operands<float>{N, K, A, lda, Bp, 0, A, lda, Bp, C, ldc, accumulate});
}

void packed_gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* Bp,
                 bool accumulate, double* C, int64_t ldc) {
  packed_gemm_impl(M, Operands<double>{N, K, A, lda, Bp, 0, A, lda, Bp, C, ldc, accumulate});
}

void packed_gemm2(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bp, int64_t K2,
                  const float* A2, int64_t lda2, const float* Bp2, bool accumulate, float* C, int64_t ldc) {
  packed_gemm_float(M, Operands<float>{N, K, A, lda, Bp, K2, A2, lda2, Bp2, C, ldc, accumulate});
}

void packed_gemm2(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* Bp, int64_t K2,
                  const double* A2, int64_t lda2, const double* Bp2, bool accumulate, double* C, int64_t ldc) {
  packed_gemm_impl(M, Operands<double>{N, K, A, lda, Bp, K2, A2, lda2, Bp2, C, ldc, accumulate});
}

template <typename T>
void packed_gemm_ref(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* Bp, bool accumulate,
                     T* C, int64_t ldc) {
  constexpr int64_t P = kPanelWidth<T>;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T s = 0;
      for (int64_t k = 0; k < K; ++k) s += A[i * lda + k] * Bp[(j / P) * K * P + k * P + j % P];
      C[i * ldc + j] = (accumulate ? C[i * ldc + j] : T(0)) + s;
    }
}

template void pack_panels<float>(bool, int64_t, int64_t, const float*, int64_t, float*);
template void pack_panels<double>(bool, int64_t, int64_t, const double*, int64_t, double*);
template void packed_gemm_ref<float>(int64_t, int64_t, int64_t, const float*, int64_t, const float*, bool,
                                     float*, int64_t);
template void packed_gemm_ref<double>(int64_t, int64_t, int64_t, const double*, int64_t, const double*, bool,
                                      double*, int64_t);

}  // namespace fastnlp
