// Device queries, the CUDA error -> exception conversion, temporary buffers, and the id range
// check that the bindings run on GPU ids before any kernel indexes with them.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common.cuh"
#include "common.h"

namespace fastnlp::cuda {

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  // The call site relative to the repository (cuda/x.cu), not the build machine's full path.
  const std::string path(file);
  const size_t at = path.rfind("cuda/");
  throw std::runtime_error(str_cat("CUDA error ", cudaGetErrorName(err), ": ",
                                   cudaGetErrorString(err), " (", call, " at ",
                                   at == std::string::npos ? path : path.substr(at), ":", line,
                                   ")"));
}

int device_count() {
  int n = 0;
  // No driver, no device or a driver too old all come back as errors here: report no GPU and
  // clear the error so that it does not surface in a later, unrelated check.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::string device_name() {
  int dev = 0;
  FASTNLP_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  FASTNLP_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  return prop.name;
}

void synchronize() { FASTNLP_CUDA_CHECK(cudaDeviceSynchronize()); }

namespace {

bool memory_pools_supported() {
  int dev = 0, supported = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, dev) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return supported != 0;
}

}  // namespace

DeviceBuffer::DeviceBuffer(size_t bytes) {
  if (bytes == 0) bytes = 1;
  async_ = memory_pools_supported();
  if (async_) FASTNLP_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, /*stream=*/0));
  else FASTNLP_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  // Never throws: a failure here is sticky and the next checked call reports it.
  if (ptr_) {
    if (async_) cudaFreeAsync(ptr_, 0);
    else cudaFree(ptr_);
  }
}

namespace {

// pos = the smallest index of an offending id (atomicMin), left at its initial all-ones when none.
template <typename I>
__global__ void first_out_of_range_kernel(const I* __restrict__ ids, int64_t n, int64_t V,
                                          int64_t allowed, unsigned long long* pos) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t id = static_cast<int64_t>(ids[i]);
    if ((id < 0 || id >= V) && id != allowed) {
      atomicMin(pos, static_cast<unsigned long long>(i));
      return;  // later indices of this thread cannot be smaller
    }
  }
}

constexpr int kSumThreads = 1024;

__global__ void sum_kernel(const double* __restrict__ v, int64_t n, double* out) {
  __shared__ double partial[kSumThreads / 32];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  s = warp_sum(s);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < int(blockDim.x / 32); ++w) total += partial[w];
    *out = total;
  }
}

}  // namespace

void launch_sum(const double* v, int64_t n, double* out) {
  sum_kernel<<<1, kSumThreads>>>(v, n, out);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

template <typename I>
int64_t first_id_out_of_range(const I* ids, int64_t n, int64_t V, int64_t allowed) {
  if (n <= 0) return -1;
  DeviceBuffer pos(sizeof(unsigned long long));
  FASTNLP_CUDA_CHECK(cudaMemsetAsync(pos.get(), 0xff, sizeof(unsigned long long), 0));
  first_out_of_range_kernel<I><<<grid_for(n), kBlock>>>(ids, n, V, allowed,
                                                        pos.as<unsigned long long>());
  FASTNLP_CUDA_CHECK_LAUNCH();
  const unsigned long long p = read_back(pos.as<unsigned long long>());
  return p == ~0ull ? -1 : static_cast<int64_t>(p);
}

template int64_t first_id_out_of_range<int32_t>(const int32_t*, int64_t, int64_t, int64_t);
template int64_t first_id_out_of_range<int64_t>(const int64_t*, int64_t, int64_t, int64_t);

}  // namespace fastnlp::cuda
