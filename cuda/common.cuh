// Private helpers for the cuda/ kernels: the error check that throws, launch sizes that cover any
// remainder, temporary device buffers ordered on the default stream, the reductions shared by the
// row-wise kernels (a row handled by one warp or by one block), and the id coalescing that the
// sparse embedding backward and the sparse optimizers share.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda_ops.h"
#include "tanh_rational.h"

namespace fastnlp::cuda {

// Throws std::runtime_error naming the CUDA error, the failed call and where it was made.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);

}  // namespace fastnlp::cuda

#define FASTNLP_CUDA_CHECK(call)                                                  \
  do {                                                                            \
    const cudaError_t fastnlp_err_ = (call);                                      \
    if (fastnlp_err_ != cudaSuccess)                                              \
      ::fastnlp::cuda::throw_cuda_error(fastnlp_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: reports a bad configuration or an earlier asynchronous failure.
#define FASTNLP_CUDA_CHECK_LAUNCH() FASTNLP_CUDA_CHECK(cudaGetLastError())

namespace fastnlp::cuda {

constexpr int kBlock = 256;                  // threads per block of the elementwise kernels
constexpr int64_t kMaxGrid = int64_t(1) << 16;  // blocks beyond this loop (grid-stride) instead

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks for n items at `per_block` items per block, at least 1, capped: kernels loop over the rest.
inline unsigned grid_for(int64_t n, int64_t per_block = kBlock) {
  const int64_t g = ceil_div(n, per_block);
  return static_cast<unsigned>(g < 1 ? 1 : (g > kMaxGrid ? kMaxGrid : g));
}

// Row-by-column work on (rows, cols): blockDim.x threads (a power of two, at most kBlock) walk
// the columns of a row, blockDim.y = kBlock / blockDim.x rows share a block, so narrow rows
// (an embedding of dimension 5, a bias of 3) still fill whole warps.
struct RowLaunch {
  dim3 grid, block;
};
inline RowLaunch row_launch(int64_t rows, int64_t cols) {
  int tx = 1;
  while (tx < cols && tx < kBlock) tx *= 2;
  const int ty = kBlock / tx;
  return {dim3(grid_for(rows, ty)), dim3(tx, ty)};
}

// A temporary device allocation, stream-ordered on the default stream (cudaMallocAsync) where the
// device supports memory pools, else cudaMalloc. Freed when it goes out of scope.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  template <typename T>
  T* as(size_t byte_offset = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(ptr_) + byte_offset);
  }

 private:
  void* ptr_ = nullptr;
  bool async_ = false;
};

// Byte offsets of consecutive sub-buffers inside one DeviceBuffer, each 256-byte aligned.
class Carve {
 public:
  template <typename T>
  size_t take(int64_t count) {
    const size_t at = bytes_;
    bytes_ += (static_cast<size_t>(count < 1 ? 1 : count) * sizeof(T) + 255) / 256 * 256;
    return at;
  }
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_ = 0;
};

// Copies a device value back (synchronizes with the default stream).
template <typename T>
T read_back(const T* device_ptr) {
  T v;
  FASTNLP_CUDA_CHECK(cudaMemcpy(&v, device_ptr, sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// ---- Sequences (conv1d.cu, rnn.cu) -------------------------------------------------------------

// A sequence's length; the clamp only guards the indexing (the bindings' callers check lengths on
// the host before uploading them, see fastnlp.ops._gpu).
__device__ __forceinline__ int64_t seq_len(const int64_t* lengths, int64_t b, int64_t T) {
  if (!lengths) return T;
  const int64_t L = lengths[b];
  return L < 1 ? 1 : (L > T ? T : L);
}

// ---- Device activations (shared by activation.cu and conv1d.cu) ----------------------------

template <Activation kAct>
__device__ __forceinline__ float act(float x) {
  if constexpr (kAct == Activation::kIdentity) return x;
  if constexpr (kAct == Activation::kSigmoid) return 1.0f / (1.0f + expf(-x));
  if constexpr (kAct == Activation::kTanh) return tanh_rational(x);
  if constexpr (kAct == Activation::kHardTanh) return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x);
  if constexpr (kAct == Activation::kRelu) return x < 0.0f ? 0.0f : x;
  return x;
}

// dy * act'(x) written from y = act(x); at the kinks the subgradient 0 is used.
template <Activation kAct>
__device__ __forceinline__ float act_grad(float y, float dy) {
  if constexpr (kAct == Activation::kIdentity) return dy;
  if constexpr (kAct == Activation::kSigmoid) return dy * y * (1.0f - y);
  if constexpr (kAct == Activation::kTanh) return dy * (1.0f - y * y);
  if constexpr (kAct == Activation::kHardTanh) return (y > -1.0f && y < 1.0f) ? dy : 0.0f;
  if constexpr (kAct == Activation::kRelu) return y > 0.0f ? dy : 0.0f;
  return dy;
}

// Calls f(std::integral_constant<Activation, A>{}) for the runtime activation, so each kernel is
// compiled once per activation with no switch inside its loop.
template <typename F>
void with_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::kIdentity: f(std::integral_constant<Activation, Activation::kIdentity>{}); return;
    case Activation::kSigmoid: f(std::integral_constant<Activation, Activation::kSigmoid>{}); return;
    case Activation::kTanh: f(std::integral_constant<Activation, Activation::kTanh>{}); return;
    case Activation::kHardTanh: f(std::integral_constant<Activation, Activation::kHardTanh>{}); return;
    case Activation::kRelu: f(std::integral_constant<Activation, Activation::kRelu>{}); return;
  }
  throw std::invalid_argument("activation: unknown activation code " + std::to_string(int(a)));
}

// ---- Device-side reductions -------------------------------------------------------------------

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// A running (max, sum of exp(x - max)) pair: softmax statistics in one pass over a row. The sum
// is kept in double like the CPU kernels' (rows of up to 10^6 terms); the exps are float.
struct MaxSum {
  float m;   // running maximum (-inf before any element)
  double s;  // sum of exp(x - m)
};

__device__ __forceinline__ MaxSum maxsum_identity() { return {-INFINITY, 0.0}; }

// Adds one element. A -inf element (a masked logit) adds 0 even while m is still -inf, where
// exp(-inf - -inf) would be NaN; a NaN element makes s NaN, so the row comes out NaN.
__device__ __forceinline__ MaxSum maxsum_add(MaxSum a, float x) {
  if (x > a.m) {
    a.s = a.s * double(expf(a.m - x)) + 1.0;  // rescale the old sum to the new maximum
    a.m = x;
  } else if (x != -INFINITY) {
    a.s += double(expf(x - a.m));
  }
  return a;
}

__device__ __forceinline__ MaxSum maxsum_merge(MaxSum a, MaxSum b) {
  const float m = a.m > b.m ? a.m : b.m;
  if (m == -INFINITY) return {m, a.s + b.s};  // both empty (or all -inf): no exp(-inf - -inf)
  return {m, a.s * double(expf(a.m - m)) + b.s * double(expf(b.m - m))};
}

__device__ __forceinline__ MaxSum warp_maxsum(MaxSum v) {
  for (int o = 16; o > 0; o >>= 1) {
    MaxSum other{__shfl_xor_sync(kFullMask, v.m, o), __shfl_xor_sync(kFullMask, v.s, o)};
    v = maxsum_merge(v, other);
  }
  return v;
}

// The threads that share one row: a warp (blockDim = (32, rows per block)) or a whole block
// (blockDim = (threads, 1)). Every thread of the team gets the reduced value.
template <bool kWarpPerRow>
struct RowTeam {
  __device__ __forceinline__ static int lane() { return threadIdx.x; }
  __device__ __forceinline__ static int size() { return kWarpPerRow ? 32 : blockDim.x; }
  __device__ __forceinline__ static int64_t first_row() {
    return kWarpPerRow ? int64_t(blockIdx.x) * blockDim.y + threadIdx.y : int64_t(blockIdx.x);
  }
  __device__ __forceinline__ static int64_t row_stride() {
    return kWarpPerRow ? int64_t(gridDim.x) * blockDim.y : int64_t(gridDim.x);
  }

  // T = float or double; scratch: at least 32 T of shared memory (unused for a warp team).
  template <typename T>
  __device__ __forceinline__ static T sum(T v, T* scratch) {
    v = warp_sum(v);
    if (kWarpPerRow) return v;
    const int warps = (blockDim.x + 31) / 32;
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    T total = 0;
    for (int w = 0; w < warps; ++w) total += scratch[w];  // same order in every thread
    __syncthreads();  // scratch may be reused right after
    return total;
  }

  // scratch: at least 32 MaxSum of shared memory (unused for a warp team).
  __device__ __forceinline__ static MaxSum maxsum(MaxSum v, MaxSum* scratch) {
    v = warp_maxsum(v);
    if (kWarpPerRow) return v;
    const int warps = (blockDim.x + 31) / 32;
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    MaxSum total = maxsum_identity();
    for (int w = 0; w < warps; ++w) total = maxsum_merge(total, scratch[w]);
    __syncthreads();
    return total;
  }
};

// Rows of up to this many elements go one warp per row (several rows per block); longer rows
// get a whole block each.
constexpr int64_t kWarpRowMax = 1024;
constexpr int kWarpRowsPerBlock = 8;

struct RowConfig {
  bool warp_per_row;
  dim3 grid, block;
};
// The launch for B rows of V elements: a warp per row for short rows, else a block per row
// (wider blocks for longer rows). Rows past the grid are taken by a grid-stride loop.
inline RowConfig row_config(int64_t B, int64_t V) {
  if (V <= kWarpRowMax) return {true, dim3(grid_for(B, kWarpRowsPerBlock)), dim3(32, kWarpRowsPerBlock)};
  const int threads = V <= 8192 ? 256 : (V <= 65536 ? 512 : 1024);
  return {false, dim3(grid_for(B, 1)), dim3(threads)};
}

// out[0] = sum of v (n) in double, by one block in a fixed order (the same every run). Async.
void launch_sum(const double* v, int64_t n, double* out);

// ---- Coalescing repeated ids (embedding.cu; reused by the sparse optimizers) ------------------

// What to do with each distinct id once its gradient rows are summed.
enum class RowSink : int {
  kWriteRows = 0,  // rows[u] = sum                      (embedding_backward_sparse)
  kSgd = 1,        // P[id] -= lr * (sum + wd * P[id])   (sgd_update_sparse)
  kAdagrad = 2,    // AdaGrad on P[id], acc[id]           (adagrad_update_sparse)
  kAdam = 3,       // Adam on P[id], m[id], v[id]         (adam_update_sparse)
  kAdadelta = 4,   // AdaDelta on P[id], acc[id], acc2[id] (adadelta_update_sparse)
};

struct RowSinkArgs {
  RowSink kind = RowSink::kWriteRows;
  float* rows = nullptr;  // kWriteRows: (U, D) output
  float* P = nullptr;     // kSgd / kAdagrad: (V, D) parameters
  float* acc = nullptr;   // kAdagrad: (V, D) accumulators; kAdadelta: acc_g
  float* acc2 = nullptr;  // kAdadelta: (V, D) acc_dx
  float* m = nullptr;     // kAdam: (V, D) first moments
  float* v = nullptr;     // kAdam: (V, D) second moments
  float lr = 0.0f, eps = 0.0f, wd = 0.0f;
  float beta1 = 0.0f, beta2 = 0.0f, step_size = 0.0f, bc2_sqrt = 1.0f;  // kAdam (ops/optim.h: adam_scales)
  float rho = 0.0f;                                                      // kAdadelta
};

// One element of Adam and of AdaDelta, the operations of csrc/ops/optim.cpp (adam_element,
// adadelta_element) in the same order; shared by optim.cu's dense kernels and the row sinks.
__device__ __forceinline__ void adam_element(float& p, float g, float& m, float& v, float beta1, float beta2,
                                             float eps, float wd, float step_size, float bc2_sqrt) {
  const float gi = g + wd * p;
  const float mi = beta1 * m + (1.0f - beta1) * gi;
  const float vi = beta2 * v + (1.0f - beta2) * gi * gi;
  m = mi;
  v = vi;
  p -= step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
}

__device__ __forceinline__ void adadelta_element(float& p, float g, float& acc_g, float& acc_dx, float lr,
                                                 float rho, float eps, float wd) {
  const float gi = g + wd * p;
  const float a = rho * acc_g + (1.0f - rho) * gi * gi;
  acc_g = a;
  const float dx = sqrtf(acc_dx + eps) / sqrtf(a + eps) * gi;
  acc_dx = rho * acc_dx + (1.0f - rho) * dx * dx;
  p -= lr * dx;
}

// Sorts ids (N) on the device, sums the rows of dy (N, D) that share an id (in their original
// order, so the result is deterministic) and hands each sum to `sink`. When unique_ids is not
// null it receives the distinct ids ascending. Returns U when return_count (a synchronizing
// copy), else -1 without waiting.
template <typename I>
int64_t coalesce_rows(const I* ids, const float* dy, int64_t N, int64_t D, const RowSinkArgs& sink,
                      I* unique_ids, bool return_count);

}  // namespace fastnlp::cuda
