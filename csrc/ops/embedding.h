// Embedding lookup (gather rows by id) and its backward: a scatter-add into a dense gradient, or
// a sparse gradient with repeated ids coalesced (one summed row per distinct id).
#pragma once

#include <cstdint>
#include <vector>

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

// Groups equal ids; shared by the fast sparse backward and the sparse optimizer updates (one
// coalescing routine, not two). `order` receives the positions 0..N-1 sorted by (id, position),
// `starts` the U + 1 offsets into `order` where each run of equal ids begins (starts[U] = N).
// Returns U. Within a run positions ascend, so summing rows in `order` adds each id's rows in
// position order, the order of the references: fast and reference sums agree bitwise.
// ids must be >= 0 (as everywhere here); N may be 0.
template <typename I>
int64_t coalesce_ids(const I* ids, int64_t N, std::vector<int64_t>& order, std::vector<int64_t>& starts);

}  // namespace fastnlp
