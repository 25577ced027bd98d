// Dropout on the GPU: the same mask as the CPU (dropout_keeps from ops/dropout.h, keyed by seed and
// element index, so any launch shape draws it identically) and the same y = x * mask / (1 - p).
#include "common.cuh"
#include "common.h"
#include "ops/dropout.h"

namespace fastnlp::cuda {
namespace {

__global__ void dropout_forward_kernel(const float* x, uint8_t* mask, float* y, int64_t n, float keep,
                                       uint64_t seed, uint32_t threshold, bool draw) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    uint8_t m;
    if (draw) {
      m = dropout_keeps(seed, i, threshold);
      mask[i] = m;
    } else {
      m = mask[i];
    }
    y[i] = x[i] * float(m != 0) / keep;
  }
}

__global__ void dropout_backward_kernel(const float* dy, const uint8_t* __restrict__ mask, float* dx,
                                        int64_t n, float keep) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = dy[i] * float(mask[i] != 0) / keep;
}

}  // namespace

void dropout_forward(const float* x, uint8_t* mask, float* y, int64_t n, double p, uint64_t seed, bool draw) {
  if (n <= 0) return;
  dropout_forward_kernel<<<grid_for(n), kBlock>>>(x, mask, y, n, float(1.0 - p), seed, dropout_threshold(p),
                                                  draw);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, double p) {
  if (n <= 0) return;
  dropout_backward_kernel<<<grid_for(n), kBlock>>>(dy, mask, dx, n, float(1.0 - p));
  FASTNLP_CUDA_CHECK_LAUNCH();
}

}  // namespace fastnlp::cuda
