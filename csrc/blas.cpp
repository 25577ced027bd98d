// GEMM wrappers over OpenBLAS's CBLAS (symbols carry the scipy_ prefix of the scipy-openblas32 wheel).
#include "blas.h"

#include <cblas.h>

#include <limits>

#include "common.h"

namespace fastnlp {
namespace {

void check_blas_sizes(int64_t M, int64_t N, int64_t K) {
  constexpr int64_t kMax = std::numeric_limits<int>::max();
  FASTNLP_CHECK(M <= kMax && N <= kMax && K <= kMax,
                "gemm: sizes must fit a 32-bit BLAS int, got M=", M, " N=", N, " K=", K);
}

CBLAS_TRANSPOSE op(bool t) { return t ? CblasTrans : CblasNoTrans; }

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  check_blas_sizes(M, N, K);
  scipy_cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  check_blas_sizes(M, N, K);
  scipy_cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
}

void blas_set_num_threads(int n) { scipy_openblas_set_num_threads(n); }

}  // namespace fastnlp
