// The recurrent product of an RNN step with its weights packed once per call (STYLE.md's one
// exception to "products through a real BLAS"): an RNN multiplies the same W_hh T times, and a BLAS
// sgemm repacks it on every call (at B=1 that packing is most of a step). Used by ops/rnn.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace fastnlp {

// Columns per panel: two 32-byte vectors (16 floats, 8 doubles).
template <typename T>
constexpr int64_t kPanelWidth = 64 / sizeof(T);

// The packed layout of a right-hand operand B (K, N): panels of kPanelWidth<T> columns, panel p
// holding B[k][p P + c] at p K P + k P + c (P = kPanelWidth<T>); the last panel is zero-padded.
template <typename T>
constexpr int64_t packed_size(int64_t K, int64_t N) {
  return (N + kPanelWidth<T> - 1) / kPanelWidth<T> * kPanelWidth<T> * K;
}

// The packed operand of B's columns [c, N) (c a multiple of kPanelWidth<T>) inside Bp, B (K, N)
// packed: the panels from c / kPanelWidth<T> on.
template <typename T>
constexpr T* packed_columns(T* Bp, int64_t K, int64_t c) {
  return Bp + c * K;
}

// Storage for a packed operand, 64-byte aligned.
struct AlignedFree {
  void operator()(void* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
template <typename T>
using PackedBuffer = std::unique_ptr<T[], AlignedFree>;
template <typename T>
PackedBuffer<T> packed_buffer(int64_t K, int64_t N) {
  return PackedBuffer<T>(static_cast<T*>(::operator new[](packed_size<T>(K, N) * sizeof(T), std::align_val_t(64))));
}

// dst (packed_size(K, N)) = B (K, N) packed; B[k][n] is src[k ldb + n], or with trans src[n ldb + k]
// (src then holds B^T, e.g. a weight matrix (N, K) whose rows are the output units).
template <typename T>
void pack_panels(bool trans, int64_t K, int64_t N, const T* src, int64_t ldb, T* dst);

// C (M, N) = A (M, K) B (K, N), or C += A B when accumulate; A row-major with row stride lda, B
// packed by pack_panels, C with row stride ldc. float runs SIMD clones (simd.h), register tiles of
// up to 6 rows by 16 columns, or on an AVX-512 CPU tiles of up to 12 rows by 32; any M, N, K >= 0.
// packed_gemm_ref: the same product in plain loops over the same packed layout, the oracle the
// tests hold it to.
void packed_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bp, bool accumulate,
                 float* C, int64_t ldc);
// Whether packed_gemm runs the AVX-512 tiles for T (float on a CPU with AVX-512), where it beats
// the BLAS's sgemm on large products too; elsewhere callers keep those on the BLAS.
bool packed_gemm_avx512();
template <typename T>
bool packed_gemm_wide() {
  return std::is_same_v<T, float> && packed_gemm_avx512();
}
void packed_gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* Bp,
                 bool accumulate, double* C, int64_t ldc);
// C (M, N) = A (M, K) B (K, N) + A2 (M, K2) B2 (K2, N), or C += that when accumulate: the product of
// operands stacked along k ([A | A2] times [B; B2]) without stacking them, B and B2 packed on their
// own (the two sums of a tile run one after the other into the same registers). K2 > 0.
void packed_gemm2(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* Bp, int64_t K2,
                  const float* A2, int64_t lda2, const float* Bp2, bool accumulate, float* C, int64_t ldc);
void packed_gemm2(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* Bp, int64_t K2,
                  const double* A2, int64_t lda2, const double* Bp2, bool accumulate, double* C, int64_t ldc);
template <typename T>
void packed_gemm_ref(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* Bp, bool accumulate,
                     T* C, int64_t ldc);

}  // namespace fastnlp
