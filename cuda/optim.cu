// SGD and AdaGrad on the GPU: dense elementwise updates, and sparse-row updates that first
// coalesce repeated ids (embedding.cu: coalesce_rows) so each touched row is updated once, with
// the summed gradient, exactly like the dense update of that sum (and like the CPU kernels).
#include "common.cuh"
#include "common.h"
#include "ops/optim.h"

namespace fastnlp::cuda {
namespace {

// p -= lr * (g + wd * p).
__global__ void sgd_kernel(float* p, const float* __restrict__ g, int64_t n, float lr, float wd) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] -= lr * (g[i] + wd * p[i]);
}

// g' = g + wd * p; acc += g'^2; p -= lr * g' / (sqrt(acc) + eps).
__global__ void adagrad_kernel(float* p, const float* __restrict__ g, float* acc, int64_t n, float lr,
                               float eps, float wd) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = g[i] + wd * p[i];
    const float a = acc[i] + gi * gi;
    acc[i] = a;
    p[i] -= lr * gi / (sqrtf(a) + eps);
  }
}

}  // namespace

void sgd_update(float* p, const float* g, int64_t n, float lr, float wd) {
  if (n <= 0) return;
  sgd_kernel<<<grid_for(n), kBlock>>>(p, g, n, lr, wd);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void adagrad_update(float* p, const float* g, float* acc, int64_t n, float lr, float eps, float wd) {
  if (n <= 0) return;
  adagrad_kernel<<<grid_for(n), kBlock>>>(p, g, acc, n, lr, eps, wd);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

template <typename I>
void sgd_update_sparse(float* P, const I* ids, const float* rows, int64_t N, int64_t D, float lr,
                       float wd) {
  RowSinkArgs sink;
  sink.kind = RowSink::kSgd;
  sink.P = P;
  sink.lr = lr;
  sink.wd = wd;
  coalesce_rows<I>(ids, rows, N, D, sink, nullptr, /*return_count=*/false);
}

template <typename I>
void adagrad_update_sparse(float* P, float* acc, const I* ids, const float* rows, int64_t N,
                           int64_t D, float lr, float eps, float wd) {
  RowSinkArgs sink;
  sink.kind = RowSink::kAdagrad;
  sink.P = P;
  sink.acc = acc;
  sink.lr = lr;
  sink.eps = eps;
  sink.wd = wd;
  coalesce_rows<I>(ids, rows, N, D, sink, nullptr, /*return_count=*/false);
}

template void sgd_update_sparse<int32_t>(float*, const int32_t*, const float*, int64_t, int64_t,
                                         float, float);
template void sgd_update_sparse<int64_t>(float*, const int64_t*, const float*, int64_t, int64_t,
                                         float, float);
template void adagrad_update_sparse<int32_t>(float*, float*, const int32_t*, const float*, int64_t,
                                             int64_t, float, float, float);
template void adagrad_update_sparse<int64_t>(float*, float*, const int64_t*, const float*, int64_t,
                                             int64_t, float, float, float);

// ---- Adam and AdaDelta: the bias corrections once on the host (adam_scales), the element math
// shared with the sparse row sink (common.cuh).

namespace {

__global__ void adam_kernel(float* p, const float* __restrict__ g, float* m, float* v, int64_t n, float beta1,
                            float beta2, float eps, float wd, float step_size, float bc2_sqrt) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adam_element(p[i], g[i], m[i], v[i], beta1, beta2, eps, wd, step_size, bc2_sqrt);
}

__global__ void adadelta_kernel(float* p, const float* __restrict__ g, float* acc_g, float* acc_dx, int64_t n,
                                float lr, float rho, float eps, float wd) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    adadelta_element(p[i], g[i], acc_g[i], acc_dx[i], lr, rho, eps, wd);
}

}  // namespace

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, int64_t step, float lr, float beta1,
                 float beta2, float eps, float wd) {
  if (n <= 0) return;
  const AdamScales s = adam_scales(step, lr, beta1, beta2);
  adam_kernel<<<grid_for(n), kBlock>>>(p, g, m, v, n, beta1, beta2, eps, wd, float(s.step_size),
                                       float(s.bc2_sqrt));
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void adadelta_update(float* p, const float* g, float* acc_g, float* acc_dx, int64_t n, float lr, float rho,
                     float eps, float wd) {
  if (n <= 0) return;
  adadelta_kernel<<<grid_for(n), kBlock>>>(p, g, acc_g, acc_dx, n, lr, rho, eps, wd);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

template <typename I>
void adam_update_sparse(float* P, float* m, float* v, const I* ids, const float* rows, int64_t N, int64_t D,
                        int64_t step, float lr, float beta1, float beta2, float eps, float wd) {
  const AdamScales s = adam_scales(step, lr, beta1, beta2);
  RowSinkArgs sink;
  sink.kind = RowSink::kAdam;
  sink.P = P;
  sink.m = m;
  sink.v = v;
  sink.beta1 = beta1;
  sink.beta2 = beta2;
  sink.eps = eps;
  sink.wd = wd;
  sink.step_size = float(s.step_size);
  sink.bc2_sqrt = float(s.bc2_sqrt);
  coalesce_rows<I>(ids, rows, N, D, sink, nullptr, /*return_count=*/false);
}

template <typename I>
void adadelta_update_sparse(float* P, float* acc_g, float* acc_dx, const I* ids, const float* rows, int64_t N,
                            int64_t D, float lr, float rho, float eps, float wd) {
  RowSinkArgs sink;
  sink.kind = RowSink::kAdadelta;
  sink.P = P;
  sink.acc = acc_g;
  sink.acc2 = acc_dx;
  sink.lr = lr;
  sink.rho = rho;
  sink.eps = eps;
  sink.wd = wd;
  coalesce_rows<I>(ids, rows, N, D, sink, nullptr, /*return_count=*/false);
}

template void adam_update_sparse<int32_t>(float*, float*, float*, const int32_t*, const float*, int64_t, int64_t,
                                          int64_t, float, float, float, float, float);
template void adam_update_sparse<int64_t>(float*, float*, float*, const int64_t*, const float*, int64_t, int64_t,
                                          int64_t, float, float, float, float, float);
template void adadelta_update_sparse<int32_t>(float*, float*, float*, const int32_t*, const float*, int64_t,
                                              int64_t, float, float, float, float);
template void adadelta_update_sparse<int64_t>(float*, float*, float*, const int64_t*, const float*, int64_t,
                                              int64_t, float, float, float, float);

}  // namespace fastnlp::cuda
