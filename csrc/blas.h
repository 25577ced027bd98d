// Row-major GEMM on top of a real BLAS (OpenBLAS from scipy-openblas32). Our kernels never
// hand-write a matrix product; they add the fused work around these calls. gemm() splits C over
// fastnlp's threads (parallel.h), each block a single-threaded BLAS call; called from inside a
// parallel region it runs as one block.
#pragma once

#include <cstdint>

namespace fastnlp {

// C (M, N) = alpha * op(A) op(B) + beta * C, row-major; op(A) is (M, K), op(B) is (K, N).
// lda/ldb/ldc are the row strides of A, B and C as stored.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// Keeps OpenBLAS at one thread: fastnlp parallelizes around it (see gemm).
void blas_use_one_thread();

}  // namespace fastnlp
