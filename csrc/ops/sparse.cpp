// CSR x dense (ops/sparse.h): each output row is a sum of scaled rows of X, rows split across threads.
#include "ops/sparse.h"

#include "parallel.h"

namespace fastnlp {

template <typename T>
void csr_matmul_ref(const int64_t* indptr, const int32_t* indices, const T* data, const T* X, T* Y, int64_t R,
                    int64_t K) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t k = 0; k < K; ++k) {
      T s = 0;
      for (int64_t i = indptr[r]; i < indptr[r + 1]; ++i) s += data[i] * X[indices[i] * K + k];
      Y[r * K + k] = s;
    }
}

template <typename T>
void csr_matmul(const int64_t* indptr, const int32_t* indices, const T* data, const T* X, T* Y, int64_t R,
                int64_t K) {
  // Grain in rows: about 64k multiply-adds per chunk on an average row.
  const int64_t nnz = indptr[R] - indptr[0];
  const int64_t per_row = R > 0 ? nnz * K / R + K : K;
  parallel_for(R, std::max<int64_t>(1, 65536 / per_row), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      T* y = Y + r * K;
      for (int64_t k = 0; k < K; ++k) y[k] = 0;
      for (int64_t i = indptr[r]; i < indptr[r + 1]; ++i) {
        const T a = data[i];
        const T* x = X + static_cast<int64_t>(indices[i]) * K;
        for (int64_t k = 0; k < K; ++k) y[k] += a * x[k];
      }
    }
  });
}

template void csr_matmul_ref<float>(const int64_t*, const int32_t*, const float*, const float*, float*, int64_t, int64_t);
template void csr_matmul_ref<double>(const int64_t*, const int32_t*, const double*, const double*, double*, int64_t,
                                     int64_t);
template void csr_matmul<float>(const int64_t*, const int32_t*, const float*, const float*, float*, int64_t, int64_t);
template void csr_matmul<double>(const int64_t*, const int32_t*, const double*, const double*, double*, int64_t,
                                 int64_t);

}  // namespace fastnlp
