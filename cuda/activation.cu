// Activations on the GPU: elementwise forward/backward and the bias + activation epilogue that
// follows a cuBLAS GEMM in fastnlp.ops.linear. The scalar math is the CPU's (ops/activation.cpp):
// derivatives from the output y, subgradient 0 at the kinks, NaN passes through.
#include <stdexcept>
#include <string>
#include <type_traits>

#include "common.cuh"
#include "common.h"

namespace fastnlp::cuda {
namespace {

template <Activation kAct>
__global__ void forward_kernel(const float* x, float* y, int64_t n) {
  // x and y may alias: no __restrict__.
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = act<kAct>(x[i]);
}

template <Activation kAct>
__global__ void backward_kernel(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = act_grad<kAct>(y[i], dy[i]);
}

// z (B, H) = act(z + b): threads walk the columns of a row (see row_launch).
template <Activation kAct>
__global__ void bias_act_forward_kernel(float* z, const float* __restrict__ b, int64_t B, int64_t H) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; r < B;
       r += int64_t(gridDim.x) * blockDim.y) {
    float* zr = z + r * H;
    for (int64_t j = threadIdx.x; j < H; j += blockDim.x) zr[j] = act<kAct>(b ? zr[j] + b[j] : zr[j]);
  }
}

// Column-sum tiles for bias_act_backward: a block of (32 columns) x (kColRows threads down the
// rows) covers one 32-column tile of one chunk of rows; blockIdx.y picks the chunk.
constexpr int kColTile = 32;
constexpr int kColRows = 8;
constexpr int64_t kRowsPerChunk = 256;  // rows per chunk when B is split across blocks
constexpr int64_t kMaxChunks = 64;

// dz = dy * act'(y) over the tile, and the tile's column sums: into db directly when there is one
// chunk (out = db, added when accumulate), else into partial[chunk][H] for a second pass.
template <Activation kAct>
__global__ void bias_act_backward_kernel(const float* y, const float* dy, float* dz, float* out,
                                         int64_t B, int64_t H, int64_t rows_per_chunk,
                                         bool accumulate) {
  __shared__ float tile[kColRows][kColTile + 1];
  const int64_t j = int64_t(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t r0 = int64_t(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < B ? r0 + rows_per_chunk : B;
  float s = 0.0f;
  if (j < H) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColRows) {
      const int64_t o = r * H + j;
      const float g = act_grad<kAct>(y[o], dy[o]);  // dz may alias dy: read, then write
      dz[o] = g;
      s += g;
    }
  }
  tile[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < H) {
    float total = 0.0f;
    for (int k = 0; k < kColRows; ++k) total += tile[k][threadIdx.x];
    if (gridDim.y == 1) out[j] = accumulate ? out[j] + total : total;
    else out[int64_t(blockIdx.y) * H + j] = total;
  }
}

// Second pass when B was split: db[j] (+)= sum over chunks of partial[c][j], in chunk order.
__global__ void sum_chunks_kernel(const float* __restrict__ partial, float* db, int64_t chunks,
                                  int64_t H, bool accumulate) {
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < H;
       j += int64_t(gridDim.x) * blockDim.x) {
    float total = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) total += partial[c * H + j];
    db[j] = accumulate ? db[j] + total : total;
  }
}

}  // namespace

void activation_forward(Activation a, const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  with_activation(a, [&](auto k) { forward_kernel<decltype(k)::value><<<grid_for(n), kBlock>>>(x, y, n); });
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void activation_backward(Activation a, const float* y, const float* dy, float* dx, int64_t n) {
  if (n <= 0) return;
  with_activation(a, [&](auto k) {
    backward_kernel<decltype(k)::value><<<grid_for(n), kBlock>>>(y, dy, dx, n);
  });
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void bias_act_forward(Activation a, float* z, const float* b, int64_t B, int64_t H) {
  if (B <= 0 || H <= 0) return;
  const RowLaunch l = row_launch(B, H);
  with_activation(a, [&](auto k) {
    bias_act_forward_kernel<decltype(k)::value><<<l.grid, l.block>>>(z, b, B, H);
  });
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void bias_act_backward(Activation a, const float* y, const float* dy, float* dz, float* db,
                       int64_t B, int64_t H, bool accumulate) {
  if (B <= 0 || H <= 0) return;
  if (!db) {
    activation_backward(a, y, dy, dz, B * H);
    return;
  }
  // Split B into chunks only when the column tiles alone leave the GPU idle; the split sums go
  // through a buffer and a second pass (in a fixed order: the result does not vary run to run).
  const int64_t tiles = ceil_div(H, kColTile);
  int64_t chunks = 1;
  if (tiles < 256) {
    chunks = ceil_div(B, kRowsPerChunk);
    if (chunks > kMaxChunks) chunks = kMaxChunks;
    if (chunks < 1) chunks = 1;
  }
  const int64_t rows_per_chunk = ceil_div(B, chunks);
  chunks = ceil_div(B, rows_per_chunk);  // no empty chunk
  FASTNLP_CHECK(tiles <= 0x7fffffff, "bias_act_backward: H = ", H, " is too large for the GPU grid");
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(chunks));
  const dim3 block(kColTile, kColRows);
  if (chunks == 1) {
    with_activation(a, [&](auto k) {
      bias_act_backward_kernel<decltype(k)::value>
          <<<grid, block>>>(y, dy, dz, db, B, H, rows_per_chunk, accumulate);
    });
    FASTNLP_CUDA_CHECK_LAUNCH();
    return;
  }
  DeviceBuffer partial(static_cast<size_t>(chunks * H) * sizeof(float));
  with_activation(a, [&](auto k) {
    bias_act_backward_kernel<decltype(k)::value>
        <<<grid, block>>>(y, dy, dz, partial.as<float>(), B, H, rows_per_chunk, false);
  });
  FASTNLP_CUDA_CHECK_LAUNCH();
  sum_chunks_kernel<<<grid_for(H), kBlock>>>(partial.as<float>(), db, chunks, H, accumulate);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

}  // namespace fastnlp::cuda
