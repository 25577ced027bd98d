// GEMM wrappers over OpenBLAS's CBLAS (symbols carry the scipy_ prefix of the scipy-openblas32 wheel).
#include "blas.h"

#include <cblas.h>

#include <algorithm>
#include <limits>

#include "common.h"
#include "parallel.h"

namespace fastnlp {
namespace {

void check_blas_sizes(int64_t M, int64_t N, int64_t K) {
  constexpr int64_t kMax = std::numeric_limits<int>::max();
  FASTNLP_CHECK(M <= kMax && N <= kMax && K <= kMax,
                "gemm: sizes must fit a 32-bit BLAS int, got M=", M, " N=", N, " K=", K);
}

CBLAS_TRANSPOSE op(bool t) { return t ? CblasTrans : CblasNoTrans; }

// One single-threaded BLAS call on a block of C.
void gemm_block(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                int64_t ldc) {
  scipy_cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
}

void gemm_block(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
                int64_t ldc) {
  scipy_cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
}

// Splits C into row blocks (column blocks when C is wide) over fastnlp's OpenMP threads, each a
// single-threaded BLAS call. OpenBLAS's own pool stays at one thread: two pools on the same
// cores make each spin while the other needs the core (measured: a 256x300x300 linear took 8 ms
// instead of 0.3 ms on 2 cores).
template <typename T>
void gemm_parallel(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  check_blas_sizes(M, N, K);
  blas_use_one_thread();
  constexpr int64_t kMinBlockFlops = int64_t(1) << 21;  // below this a thread costs more than it saves
  const int64_t work = std::max<int64_t>(1, N * std::max<int64_t>(K, 1));
  if (M >= N) {
    parallel_for(M, std::max<int64_t>(1, kMinBlockFlops / work), [&](int64_t lo, int64_t hi) {
      const T* Ab = trans_a ? A + lo : A + lo * lda;
      gemm_block(trans_a, trans_b, hi - lo, N, K, alpha, Ab, lda, B, ldb, beta, C + lo * ldc, ldc);
    });
  } else {
    const int64_t work_col = std::max<int64_t>(1, M * std::max<int64_t>(K, 1));
    parallel_for(N, std::max<int64_t>(1, kMinBlockFlops / work_col), [&](int64_t lo, int64_t hi) {
      const T* Bb = trans_b ? B + lo * ldb : B + lo;
      gemm_block(trans_a, trans_b, M, hi - lo, K, alpha, A, lda, Bb, ldb, beta, C + lo, ldc);
    });
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_parallel(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_parallel(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void blas_use_one_thread() {
  // Once per process (and again if something else changed it): cheap to check.
  if (scipy_openblas_get_num_threads() != 1) scipy_openblas_set_num_threads(1);
}


}  // namespace fastnlp
