// Parameter updates: SGD and AdaGrad (Duchi et al. 2010), dense and on sparse rows, with optional
// L2 weight decay (added to the gradient: g + weight_decay * p).
#pragma once

#include <cmath>
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

// ---- Adam (Kingma & Ba 2015) and AdaDelta (Zeiler 2012), as torch.optim.Adam / Adadelta ----
// Weight decay is L2 as above (added to the gradient), not AdamW's decoupled decay.

// Adam's bias corrections for a 1-based step: step_size = lr / (1 - beta1^step) and
// sqrt(1 - beta2^step), computed in double once per call (as PyTorch does in Python floats).
struct AdamScales {
  double step_size, bc2_sqrt;
};
inline AdamScales adam_scales(int64_t step, double lr, double beta1, double beta2) {
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  return {lr / bc1, std::sqrt(bc2)};
}

// p, g, m, v: (n); step >= 1 counts this update. g' = g + wd * p; m = beta1 m + (1 - beta1) g';
// v = beta2 v + (1 - beta2) g'^2; p -= step_size * m / (sqrt(v) / bc2_sqrt + eps).
template <typename T>
void adam_update_ref(T* p, const T* g, T* m, T* v, int64_t n, int64_t step, T lr, T beta1, T beta2, T eps,
                     T wd);
template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, int64_t step, T lr, T beta1, T beta2, T eps, T wd);

// p, g, acc_g, acc_dx: (n). g' = g + wd * p; acc_g = rho acc_g + (1 - rho) g'^2;
// dx = sqrt(acc_dx + eps) / sqrt(acc_g + eps) * g'; acc_dx = rho acc_dx + (1 - rho) dx^2; p -= lr dx.
template <typename T>
void adadelta_update_ref(T* p, const T* g, T* acc_g, T* acc_dx, int64_t n, T lr, T rho, T eps, T wd);
template <typename T>
void adadelta_update(T* p, const T* g, T* acc_g, T* acc_dx, int64_t n, T lr, T rho, T eps, T wd);

// Sparse rows (P, m, v, acc_g, acc_dx: (V, D); ids, rows as for sgd_update_sparse): repeated ids
// summed first, then each touched row takes the dense step above; untouched rows, their moments
// and their weight decay are left alone (lazy, as torch.optim.SparseAdam; its eps sits outside the
// bias correction, ours where torch.optim.Adam has it, so that sparse equals dense on touched rows).
template <typename T, typename I>
void adam_update_sparse_ref(T* P, T* m, T* v, const I* ids, const T* rows, int64_t N, int64_t D, int64_t step,
                            T lr, T beta1, T beta2, T eps, T wd);
template <typename T, typename I>
void adam_update_sparse(T* P, T* m, T* v, const I* ids, const T* rows, int64_t N, int64_t D, int64_t step,
                        T lr, T beta1, T beta2, T eps, T wd);
template <typename T, typename I>
void adadelta_update_sparse_ref(T* P, T* acc_g, T* acc_dx, const I* ids, const T* rows, int64_t N, int64_t D,
                                T lr, T rho, T eps, T wd);
template <typename T, typename I>
void adadelta_update_sparse(T* P, T* acc_g, T* acc_dx, const I* ids, const T* rows, int64_t N, int64_t D,
                            T lr, T rho, T eps, T wd);

}  // namespace fastnlp
