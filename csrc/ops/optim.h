// Parameter updates: SGD and AdaGrad (Duchi et al. 2010), dense and on sparse rows, with optional
// L2 weight decay (added to the gradient: g + weight_decay * p).
#pragma once

#include <cstdint>

namespace fastnlp {

// p, g: (n). p -= lr * (g + wd * p).
template <typename T>
void sgd_update_ref(T* p, const T* g, int64_t n, T lr, T wd);
template <typename T>
void sgd_update(T* p, const T* g, int64_t n, T lr, T wd);

// p, g, acc: (n). g' = g + wd * p; acc += g'^2; p -= lr * g' / (sqrt(acc) + eps).
template <typename T>
void adagrad_update_ref(T* p, const T* g, T* acc, int64_t n, T lr, T eps, T wd);
template <typename T>
void adagrad_update(T* p, const T* g, T* acc, int64_t n, T lr, T eps, T wd);

// Sparse rows: P (and acc): (V, D); ids: (N) in [0, V); rows: (N, D), the gradient of row ids[n].
// Repeated ids are coalesced first (their rows summed), so each touched row is updated once,
// exactly as the dense update of the summed gradient would; untouched rows (and their weight
// decay) are left alone.
template <typename T, typename I>
void sgd_update_sparse_ref(T* P, const I* ids, const T* rows, int64_t N, int64_t D, T lr, T wd);
template <typename T, typename I>
void sgd_update_sparse(T* P, const I* ids, const T* rows, int64_t N, int64_t D, T lr, T wd);
template <typename T, typename I>
void adagrad_update_sparse_ref(T* P, T* acc, const I* ids, const T* rows, int64_t N, int64_t D, T lr,
                               T eps, T wd);
template <typename T, typename I>
void adagrad_update_sparse(T* P, T* acc, const I* ids, const T* rows, int64_t N, int64_t D, T lr,
                           T eps, T wd);

}  // namespace fastnlp
