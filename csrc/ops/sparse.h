// CSR sparse x dense products for the count-based word vectors (PPMI-SVD's randomized SVD in
// python/fastnlp/embeddings/ppmi_svd.py, when SciPy is absent): a plain reference and a
// row-parallel version. No CUDA arm: the SVD runs on the CPU.
#pragma once

#include <cstdint>

namespace fastnlp {

// Y = A X with A (R, C) in CSR: indptr (R + 1), indices (nnz) in [0, C), data (nnz); X (C, K); Y (R, K).
template <typename T>
void csr_matmul_ref(const int64_t* indptr, const int32_t* indices, const T* data, const T* X, T* Y, int64_t R,
                    int64_t K);
template <typename T>
void csr_matmul(const int64_t* indptr, const int32_t* indices, const T* data, const T* X, T* Y, int64_t R,
                int64_t K);

}  // namespace fastnlp
