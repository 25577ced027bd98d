// Embedding lookup (gather rows by id) and its backward: a scatter-add into a dense gradient, or
// a sparse gradient with repeated ids coalesced (one summed row per distinct id).
#pragma once

#include <cstdint>

namespace fastnlp {

// W: (V, D), ids: (N) in [0, V) (checked by the caller), y: (N, D).
template <typename T, typename I>
void embedding_forward_ref(const T* W, const I* ids, T* y, int64_t N, int64_t D);
template <typename T, typename I>
void embedding_forward(const T* W, const I* ids, T* y, int64_t N, int64_t D);

// dW (V, D) += scatter of dy (N, D) at ids (N); repeated ids add up. dW is not zeroed here.
template <typename T, typename I>
void embedding_backward_dense_ref(const I* ids, const T* dy, T* dW, int64_t N, int64_t D, int64_t V);
template <typename T, typename I>
void embedding_backward_dense(const I* ids, const T* dy, T* dW, int64_t N, int64_t D, int64_t V);

// Coalesced sparse gradient: unique_ids (U) ascending and rows (U, D) with rows[u] the sum of
// dy[n] over n with ids[n] == unique_ids[u]. Buffers are sized for N; returns U.
template <typename T, typename I>
int64_t embedding_backward_sparse_ref(const I* ids, const T* dy, I* unique_ids, T* rows, int64_t N,
                                      int64_t D);
template <typename T, typename I>
int64_t embedding_backward_sparse(const I* ids, const T* dy, I* unique_ids, T* rows, int64_t N,
                                  int64_t D);

}  // namespace fastnlp
