// The CUDA kernels: the same operations and argument orders as csrc/ops, float32 only, all
// pointers on the device, launched on the default stream (CuPy's default). Matrix products are not
// here: on the GPU they run in cuBLAS through CuPy, and these kernels are the fused work around
// them. Errors throw std::runtime_error (CUDA) or std::invalid_argument (bad ids); never exit.
#pragma once

#include <cstdint>
#include <string>

#include "ops/activation.h"

namespace fastnlp::cuda {

int device_count();         // 0 when no driver or device
std::string device_name();  // of the current device
void synchronize();

// Activations and the linear epilogue (see ops/activation.h).
void activation_forward(Activation act, const float* x, float* y, int64_t n);
void activation_backward(Activation act, const float* y, const float* dy, float* dx, int64_t n);
void bias_act_forward(Activation act, float* z, const float* b, int64_t B, int64_t H);
void bias_act_backward(Activation act, const float* y, const float* dy, float* dz, float* db,
                       int64_t B, int64_t H, bool accumulate);

// Softmax family (see ops/softmax.h). softmax_cross_entropy synchronizes to return the loss.
void softmax_forward(const float* x, float* y, int64_t B, int64_t V);
void log_softmax_forward(const float* x, float* y, int64_t B, int64_t V);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t B, int64_t V);
void log_softmax_backward(const float* y, const float* dy, float* dx, int64_t B, int64_t V);
template <typename I>
double softmax_cross_entropy(const float* logits, const I* targets, int64_t B, int64_t V,
                             int64_t ignore_index, float* losses, float* dlogits);

// The fused middle of sampled softmax (see ops/sampled_softmax.h: sampled_softmax_scores).
template <typename I>
double sampled_softmax_scores(float* s_true, float* s_samp, const float* b_true,
                              const float* b_samp, const I* targets, const I* samples,
                              const float* logq_targets, const float* logq_samples, int64_t B,
                              int64_t K, float* losses);

// Embeddings (see ops/embedding.h). The sparse backward sorts on the device and returns U.
template <typename I>
void embedding_forward(const float* W, const I* ids, float* y, int64_t N, int64_t D);
template <typename I>
void embedding_backward_dense(const I* ids, const float* dy, float* dW, int64_t N, int64_t D,
                              int64_t V);
template <typename I>
int64_t embedding_backward_sparse(const I* ids, const float* dy, I* unique_ids, float* rows,
                                  int64_t N, int64_t D);

// Optimizers (see ops/optim.h); sparse updates coalesce repeated ids like the CPU ones.
void sgd_update(float* p, const float* g, int64_t n, float lr, float wd);
void adagrad_update(float* p, const float* g, float* acc, int64_t n, float lr, float eps, float wd);
template <typename I>
void sgd_update_sparse(float* P, const I* ids, const float* rows, int64_t N, int64_t D, float lr,
                       float wd);
template <typename I>
void adagrad_update_sparse(float* P, float* acc, const I* ids, const float* rows, int64_t N,
                           int64_t D, float lr, float eps, float wd);

// Index of the first id outside [0, V) (an id equal to `allowed`, e.g. an ignore_index, is exempt), -1 if none.
template <typename I>
int64_t first_id_out_of_range(const I* ids, int64_t n, int64_t V, int64_t allowed = INT64_MIN);

}  // namespace fastnlp::cuda
