// Embedding lookup and its backward on the GPU, and the id coalescing (sort the ids with their
// positions, find the runs, sum each run's rows once) that the sparse backward and the sparse
// optimizers share. CUB (from the toolkit's CCCL headers) does the sort, run-length and scan.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>

#include <climits>

#include "common.cuh"
#include "common.h"

namespace fastnlp::cuda {
namespace {

// y[n] = W[ids[n]] for rows of D (see row_launch); ids were range-checked by the caller.
template <typename I>
__global__ void embedding_forward_kernel(const float* __restrict__ W, const I* __restrict__ ids,
                                         float* __restrict__ y, int64_t N, int64_t D) {
  for (int64_t n = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; n < N;
       n += int64_t(gridDim.x) * blockDim.y) {
    const float* w = W + static_cast<int64_t>(ids[n]) * D;
    float* yn = y + n * D;
    for (int64_t c = threadIdx.x; c < D; c += blockDim.x) yn[c] = w[c];
  }
}

// dW[ids[n]] += dy[n]; repeated ids meet in atomicAdd. An id outside [0, V) is skipped rather
// than written out of bounds (the caller reports it).
template <typename I>
__global__ void embedding_backward_dense_kernel(const I* __restrict__ ids, const float* __restrict__ dy,
                                                float* dW, int64_t N, int64_t D, int64_t V) {
  for (int64_t n = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; n < N;
       n += int64_t(gridDim.x) * blockDim.y) {
    const int64_t id = static_cast<int64_t>(ids[n]);
    if (id < 0 || id >= V) continue;
    float* w = dW + id * D;
    const float* g = dy + n * D;
    for (int64_t c = threadIdx.x; c < D; c += blockDim.x) atomicAdd(w + c, g[c]);
  }
}

__global__ void iota_kernel(int* v, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    v[i] = static_cast<int>(i);
}

// One team of blockDim.x threads per distinct id u < *num_runs: sums the rows of its run (the
// positions perm[offsets[u] .. + counts[u]], ascending, so the sum has the CPU's order) and hands
// the sum to the sink. Each parameter row is touched by exactly one team: no atomics.
template <typename I>
__global__ void reduce_runs_kernel(const I* __restrict__ unique, const int* __restrict__ counts,
                                   const int* __restrict__ offsets, const int* __restrict__ num_runs,
                                   const int* __restrict__ perm, const float* __restrict__ dy,
                                   int64_t D, RowSinkArgs sink) {
  const int64_t U = *num_runs;
  for (int64_t u = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; u < U;
       u += int64_t(gridDim.x) * blockDim.y) {
    const int64_t start = offsets[u], len = counts[u];
    const int64_t id = static_cast<int64_t>(unique[u]);
    for (int64_t c = threadIdx.x; c < D; c += blockDim.x) {
      float s = 0.0f;
      for (int64_t k = 0; k < len; ++k) s += dy[static_cast<int64_t>(perm[start + k]) * D + c];
      switch (sink.kind) {
        case RowSink::kWriteRows:
          sink.rows[u * D + c] = s;
          break;
        case RowSink::kSgd: {
          float* p = sink.P + id * D + c;
          *p -= sink.lr * (s + sink.wd * *p);
          break;
        }
        case RowSink::kAdagrad: {
          float* p = sink.P + id * D + c;
          float* a = sink.acc + id * D + c;
          const float g = s + sink.wd * *p;
          const float acc = *a + g * g;
          *a = acc;
          *p -= sink.lr * g / (sqrtf(acc) + sink.eps);
          break;
        }
        case RowSink::kAdam: {
          const int64_t o = id * D + c;
          adam_element(sink.P[o], s, sink.m[o], sink.v[o], sink.beta1, sink.beta2, sink.eps, sink.wd,
                       sink.step_size, sink.bc2_sqrt);
          break;
        }
        case RowSink::kAdadelta: {
          const int64_t o = id * D + c;
          adadelta_element(sink.P[o], s, sink.acc[o], sink.acc2[o], sink.lr, sink.rho, sink.eps, sink.wd);
          break;
        }
      }
    }
  }
}

}  // namespace

template <typename I>
int64_t coalesce_rows(const I* ids, const float* dy, int64_t N, int64_t D, const RowSinkArgs& sink,
                      I* unique_ids, bool return_count) {
  if (N <= 0) return 0;
  FASTNLP_CHECK(N <= INT_MAX, "sparse gradient: at most ", INT_MAX, " ids per call on the GPU, got ", N);
  const int n = static_cast<int>(N);

  // CUB's temporary storage: one size that serves the sort, the run-length encoding and the scan.
  size_t sort_bytes = 0, rle_bytes = 0, scan_bytes = 0;
  FASTNLP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, static_cast<const I*>(nullptr),
                                                     static_cast<I*>(nullptr), static_cast<const int*>(nullptr),
                                                     static_cast<int*>(nullptr), n));
  FASTNLP_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(nullptr, rle_bytes, static_cast<const I*>(nullptr),
                                                        static_cast<I*>(nullptr), static_cast<int*>(nullptr),
                                                        static_cast<int*>(nullptr), n));
  FASTNLP_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, static_cast<const int*>(nullptr),
                                                   static_cast<int*>(nullptr), n));
  size_t temp_bytes = sort_bytes;
  if (rle_bytes > temp_bytes) temp_bytes = rle_bytes;
  if (scan_bytes > temp_bytes) temp_bytes = scan_bytes;

  Carve carve;
  const size_t at_keys = carve.take<I>(N);
  const size_t at_pos = carve.take<int>(N);
  const size_t at_perm = carve.take<int>(N);
  const size_t at_unique = unique_ids ? 0 : carve.take<I>(N);
  const size_t at_counts = carve.take<int>(N);
  const size_t at_offsets = carve.take<int>(N);
  const size_t at_runs = carve.take<int>(1);
  const size_t at_temp = carve.take<char>(static_cast<int64_t>(temp_bytes));
  DeviceBuffer buf(carve.bytes());
  I* keys = buf.as<I>(at_keys);
  int* pos = buf.as<int>(at_pos);
  int* perm = buf.as<int>(at_perm);
  I* unique = unique_ids ? unique_ids : buf.as<I>(at_unique);
  int* counts = buf.as<int>(at_counts);
  int* offsets = buf.as<int>(at_offsets);
  int* runs = buf.as<int>(at_runs);
  char* temp = buf.as<char>(at_temp);

  // Sort (id, position) pairs by id; the radix sort is stable, so equal ids keep their order.
  iota_kernel<<<grid_for(N), kBlock>>>(pos, N);
  FASTNLP_CUDA_CHECK_LAUNCH();
  size_t bytes = temp_bytes;
  FASTNLP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, bytes, ids, keys, pos, perm, n));
  // Runs of equal ids: the distinct ids, their counts and how many; counts past the last run stay
  // 0 so that the scan reads defined values.
  FASTNLP_CUDA_CHECK(cudaMemsetAsync(counts, 0, static_cast<size_t>(N) * sizeof(int), 0));
  bytes = temp_bytes;
  FASTNLP_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(temp, bytes, keys, unique, counts, runs, n));
  bytes = temp_bytes;
  FASTNLP_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp, bytes, counts, offsets, n));

  const RowLaunch l = row_launch(N, D);  // N bounds the number of runs
  reduce_runs_kernel<I><<<l.grid, l.block>>>(unique, counts, offsets, runs, perm, dy, D, sink);
  FASTNLP_CUDA_CHECK_LAUNCH();
  return return_count ? static_cast<int64_t>(read_back(runs)) : -1;
}

template int64_t coalesce_rows<int32_t>(const int32_t*, const float*, int64_t, int64_t,
                                        const RowSinkArgs&, int32_t*, bool);
template int64_t coalesce_rows<int64_t>(const int64_t*, const float*, int64_t, int64_t,
                                        const RowSinkArgs&, int64_t*, bool);

template <typename I>
void embedding_forward(const float* W, const I* ids, float* y, int64_t N, int64_t D) {
  if (N <= 0 || D <= 0) return;
  const RowLaunch l = row_launch(N, D);
  embedding_forward_kernel<I><<<l.grid, l.block>>>(W, ids, y, N, D);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

template <typename I>
void embedding_backward_dense(const I* ids, const float* dy, float* dW, int64_t N, int64_t D,
                              int64_t V) {
  if (N <= 0 || D <= 0) return;
  const RowLaunch l = row_launch(N, D);
  embedding_backward_dense_kernel<I><<<l.grid, l.block>>>(ids, dy, dW, N, D, V);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

template <typename I>
int64_t embedding_backward_sparse(const I* ids, const float* dy, I* unique_ids, float* rows,
                                  int64_t N, int64_t D) {
  RowSinkArgs sink;
  sink.kind = RowSink::kWriteRows;
  sink.rows = rows;
  return coalesce_rows(ids, dy, N, D, sink, unique_ids, /*return_count=*/true);
}

template void embedding_forward<int32_t>(const float*, const int32_t*, float*, int64_t, int64_t);
template void embedding_forward<int64_t>(const float*, const int64_t*, float*, int64_t, int64_t);
template void embedding_backward_dense<int32_t>(const int32_t*, const float*, float*, int64_t,
                                                int64_t, int64_t);
template void embedding_backward_dense<int64_t>(const int64_t*, const float*, float*, int64_t,
                                                int64_t, int64_t);
template int64_t embedding_backward_sparse<int32_t>(const int32_t*, const float*, int32_t*, float*,
                                                    int64_t, int64_t);
template int64_t embedding_backward_sparse<int64_t>(const int64_t*, const float*, int64_t*, float*,
                                                    int64_t, int64_t);

}  // namespace fastnlp::cuda
