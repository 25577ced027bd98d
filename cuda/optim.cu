// SGD and AdaGrad on the GPU: dense elementwise updates, and sparse-row updates that first
// coalesce repeated ids (embedding.cu: coalesce_rows) so each touched row is updated once, with
// the summed gradient, exactly like the dense update of that sum (and like the CPU kernels).
#include "common.cuh"
#include "common.h"

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

}  // namespace fastnlp::cuda
