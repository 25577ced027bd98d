// word2vec on the GPU: skip-gram and CBOW with negative sampling, Hogwild across warps. One warp
// trains one sentence piece at a time; a vector of D floats lives in registers spread over the 32
// lanes (EPL = ceil(D / 32) per lane), dot products are warp shuffles, and the rows of syn0 and
// syn1neg are updated in global memory without locks, as the CPU threads do. Semantics follow the
// CPU trainer (models/word2vec_update.h): the context predicts the centre in skip-gram, CBOW averages
// (or sums) the context and gives every context word the whole input gradient, a noise word equal
// to the centre is skipped, and saturated scores (|f| >= 6) give no update.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common.cuh"
#include "common.h"
#include "word2vec_cuda.h"

namespace fastnlp::cuda {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr float kSaturated = 6.0f;
constexpr int kWarpsPerBlock = 8;
constexpr int kMaxEpl = 16;  // dim <= 512

__device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// SplitMix64, as the CPU's Rng; each lane's stream starts from a hash of (seed, piece, lane) so
// the streams do not overlap.
__device__ __forceinline__ uint64_t next_random(uint64_t& s) { return mix64(s += 0x9E3779B97F4A7C15ull); }

__device__ __forceinline__ int32_t draw_noise(uint64_t r, const uint32_t* thr, const int32_t* alias, uint32_t V) {
  const uint32_t slot = static_cast<uint32_t>((static_cast<uint64_t>(static_cast<uint32_t>(r)) * V) >> 32);
  return static_cast<uint32_t>(r >> 32) < thr[slot] ? static_cast<int32_t>(slot) : alias[slot];
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return __shfl_sync(kFull, v, 0);  // every lane takes lane 0's sum: one decision per warp
}

// y - sigmoid(f), 0 when saturated; adds softplus(y ? -f : f) to *loss (see the CPU kernel).
__device__ __forceinline__ float error_and_loss(float f, bool y, float* loss) {
  const float a = fabsf(f);
  const float e = __expf(-a);
  const float r = 1.0f / (1.0f + e);
  const float l1p = log1pf(e);
  float err;
  if (y) {
    *loss += (f < 0.0f ? a : 0.0f) + l1p;
    err = f >= 0.0f ? e * r : r;
  } else {
    *loss += (f > 0.0f ? a : 0.0f) + l1p;
    err = -(f >= 0.0f ? r : e * r);
  }
  return a < kSaturated ? err : 0.0f;
}

struct Args {
  const int32_t* ids;
  const int64_t* offsets;  // (S + 1)
  int64_t S;
  float* syn0;
  float* syn1neg;
  const uint32_t* thr;
  const int32_t* alias;
  uint32_t V;
  int D, window, K;
  bool sg, cbow_mean;
  float alpha0, alpha1;
  uint64_t seed;
  double* loss;
  unsigned long long* examples;
};

// One output row of syn1neg: score against the input x, then dx += g w and w += g x.
template <int EPL>
__device__ __forceinline__ void predict_row(const Args& a, const float (&x)[EPL], float (&dx)[EPL], int32_t row,
                                            bool label, float alpha, int lane, float* loss) {
  float* w = a.syn1neg + static_cast<int64_t>(row) * a.D;
  float wv[EPL];
  float part = 0.0f;
#pragma unroll
  for (int j = 0; j < EPL; ++j) {
    const int i = lane + 32 * j;
    wv[j] = i < a.D ? w[i] : 0.0f;
    part += wv[j] * x[j];
  }
  const float f = warp_sum(part);
  float l = 0.0f;
  const float g = alpha * error_and_loss(f, label, &l);
  if (lane == 0) *loss += l;
  if (g != 0.0f) {
#pragma unroll
    for (int j = 0; j < EPL; ++j) {
      const int i = lane + 32 * j;
      if (i < a.D) {
        dx[j] += g * wv[j];
        w[i] = wv[j] + g * x[j];
      }
    }
  }
}

// The centre and K noise words (lane k < K drew the k-th) for one input x.
template <int EPL>
__device__ __forceinline__ void predict_centre(const Args& a, const float (&x)[EPL], float (&dx)[EPL],
                                               int32_t centre, int32_t my_noise, float alpha, int lane,
                                               float* loss) {
  predict_row<EPL>(a, x, dx, centre, true, alpha, lane, loss);
  for (int k = 0; k < a.K; ++k) {
    const int32_t t = __shfl_sync(kFull, my_noise, k);
    if (t != centre) predict_row<EPL>(a, x, dx, t, false, alpha, lane, loss);
  }
}

template <int EPL>
__global__ void __launch_bounds__(32 * kWarpsPerBlock) train_kernel(Args a) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int64_t nwarps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  float loss = 0.0f;
  unsigned long long examples = 0;
  for (int64_t s = warp; s < a.S; s += nwarps) {
    const int32_t* sen = a.ids + a.offsets[s];
    const int n = static_cast<int>(a.offsets[s + 1] - a.offsets[s]);
    const float alpha = a.alpha0 + (a.alpha1 - a.alpha0) * (static_cast<float>(s) / static_cast<float>(a.S));
    uint64_t rng = mix64(a.seed ^ mix64(static_cast<uint64_t>(s) * 32 + static_cast<uint64_t>(lane) + 1));
    for (int pos = 0; pos < n; ++pos) {
      const uint32_t rb = __shfl_sync(kFull, static_cast<uint32_t>(next_random(rng) >> 32), 0);
      const int b = a.window - static_cast<int>((static_cast<uint64_t>(rb) * static_cast<uint32_t>(a.window)) >> 32);
      const int lo = max(0, pos - b), hi = min(n - 1, pos + b);
      const int32_t centre = sen[pos];
      float x[EPL], dx[EPL];
      if (a.sg) {
        for (int c = lo; c <= hi; ++c) {
          if (c == pos) continue;
          float* xrow = a.syn0 + static_cast<int64_t>(sen[c]) * a.D;
#pragma unroll
          for (int j = 0; j < EPL; ++j) {
            const int i = lane + 32 * j;
            x[j] = i < a.D ? xrow[i] : 0.0f;
            dx[j] = 0.0f;
          }
          const int32_t my_noise = lane < a.K ? draw_noise(next_random(rng), a.thr, a.alias, a.V) : 0;
          predict_centre<EPL>(a, x, dx, centre, my_noise, alpha, lane, &loss);
#pragma unroll
          for (int j = 0; j < EPL; ++j) {
            const int i = lane + 32 * j;
            if (i < a.D) xrow[i] += dx[j];
          }
          ++examples;
        }
      } else {
        if (hi - lo < 1) continue;  // no context
#pragma unroll
        for (int j = 0; j < EPL; ++j) x[j] = dx[j] = 0.0f;
        for (int c = lo; c <= hi; ++c) {
          if (c == pos) continue;
          const float* row = a.syn0 + static_cast<int64_t>(sen[c]) * a.D;
#pragma unroll
          for (int j = 0; j < EPL; ++j) {
            const int i = lane + 32 * j;
            if (i < a.D) x[j] += row[i];
          }
        }
        if (a.cbow_mean) {
          const float inv = 1.0f / static_cast<float>(hi - lo);
#pragma unroll
          for (int j = 0; j < EPL; ++j) x[j] *= inv;
        }
        const int32_t my_noise = lane < a.K ? draw_noise(next_random(rng), a.thr, a.alias, a.V) : 0;
        predict_centre<EPL>(a, x, dx, centre, my_noise, alpha, lane, &loss);
        for (int c = lo; c <= hi; ++c) {
          if (c == pos) continue;
          float* row = a.syn0 + static_cast<int64_t>(sen[c]) * a.D;
#pragma unroll
          for (int j = 0; j < EPL; ++j) {
            const int i = lane + 32 * j;
            if (i < a.D) row[i] += dx[j];
          }
        }
        ++examples;
      }
    }
  }
  if (lane == 0) {
    atomicAdd(a.loss, static_cast<double>(loss));
    atomicAdd(a.examples, examples);
  }
}

template <typename T>
T* device_alloc(size_t n) {
  void* p = nullptr;
  FASTNLP_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T)));
  return static_cast<T*>(p);
}

class CudaWord2Vec final : public Word2VecDevice {
 public:
  CudaWord2Vec(const Word2VecConfig& config, const NoiseSampler& noise, const Word2VecParams& host)
      : config_(config), host_(host) {
    FASTNLP_CHECK(!config.hs, "word2vec (CUDA): hierarchical softmax is CPU-only; use hs=0");
    FASTNLP_CHECK(config.negative >= 1 && config.negative <= 32,
                  "word2vec (CUDA): negative must be in [1, 32], got ", config.negative);
    FASTNLP_CHECK(host.D >= 1 && host.D <= 32 * kMaxEpl, "word2vec (CUDA): dim must be in [1, ", 32 * kMaxEpl,
                  "], got ", host.D);
    FASTNLP_CHECK(host.V >= 1 && host.V < INT32_MAX, "word2vec (CUDA): V must be in [1, 2^31 - 1), got ", host.V);
    const size_t n = static_cast<size_t>(host.V * host.D);
    try {
      FASTNLP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
      syn0_ = device_alloc<float>(n);
      syn1neg_ = device_alloc<float>(n);
      thr_ = device_alloc<uint32_t>(static_cast<size_t>(host.V));
      alias_ = device_alloc<int32_t>(static_cast<size_t>(host.V));
      loss_ = device_alloc<double>(1);
      examples_ = device_alloc<unsigned long long>(1);
      FASTNLP_CUDA_CHECK(cudaMemcpy(syn0_, host.syn0, n * sizeof(float), cudaMemcpyHostToDevice));
      FASTNLP_CUDA_CHECK(cudaMemcpy(syn1neg_, host.syn1neg, n * sizeof(float), cudaMemcpyHostToDevice));
      std::vector<uint32_t> thr(static_cast<size_t>(host.V));
      std::vector<int32_t> alias(static_cast<size_t>(host.V));
      noise.export_table(thr.data(), alias.data());
      FASTNLP_CUDA_CHECK(cudaMemcpy(thr_, thr.data(), thr.size() * sizeof(uint32_t), cudaMemcpyHostToDevice));
      FASTNLP_CUDA_CHECK(cudaMemcpy(alias_, alias.data(), alias.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
      FASTNLP_CUDA_CHECK(cudaMemset(loss_, 0, sizeof(double)));
      FASTNLP_CUDA_CHECK(cudaMemset(examples_, 0, sizeof(unsigned long long)));
      for (Buffer& b : buf_) FASTNLP_CUDA_CHECK(cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming));
    } catch (...) {
      release();
      throw;
    }
  }
  ~CudaWord2Vec() override { release(); }

  void train(const int32_t* ids, const int64_t* offsets, int64_t S, float alpha0, float alpha1) override {
    if (S <= 0) return;
    const int64_t N = offsets[S];
    // Two buffers alternate: the host fills one while the GPU trains on the other.
    Buffer& b = buf_[next_];
    next_ ^= 1;
    if (b.used) FASTNLP_CUDA_CHECK(cudaEventSynchronize(b.done));
    reserve(b, static_cast<size_t>(N), static_cast<size_t>(S + 1));
    std::memcpy(b.h_ids, ids, static_cast<size_t>(N) * sizeof(int32_t));
    std::memcpy(b.h_off, offsets, static_cast<size_t>(S + 1) * sizeof(int64_t));
    FASTNLP_CUDA_CHECK(cudaMemcpyAsync(b.d_ids, b.h_ids, static_cast<size_t>(N) * sizeof(int32_t),
                                       cudaMemcpyHostToDevice, stream_));
    FASTNLP_CUDA_CHECK(cudaMemcpyAsync(b.d_off, b.h_off, static_cast<size_t>(S + 1) * sizeof(int64_t),
                                       cudaMemcpyHostToDevice, stream_));
    Args a;
    a.ids = b.d_ids;
    a.offsets = b.d_off;
    a.S = S;
    a.syn0 = syn0_;
    a.syn1neg = syn1neg_;
    a.thr = thr_;
    a.alias = alias_;
    a.V = static_cast<uint32_t>(host_.V);
    a.D = static_cast<int>(host_.D);
    a.window = static_cast<int>(config_.window);
    a.K = static_cast<int>(config_.negative);
    a.sg = config_.sg;
    a.cbow_mean = config_.cbow_mean;
    a.alpha0 = alpha0;
    a.alpha1 = alpha1;
    a.seed = config_.seed ^ (0x9E3779B97F4A7C15ull * ++calls_);
    a.loss = loss_;
    a.examples = examples_;
    const int64_t blocks = std::min<int64_t>((S + kWarpsPerBlock - 1) / kWarpsPerBlock, int64_t{1} << 16);
    launch(a, static_cast<unsigned>(blocks));
    FASTNLP_CUDA_CHECK(cudaEventRecord(b.done, stream_));
    b.used = true;
  }

  void sync_to_host() override {
    FASTNLP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    const size_t n = static_cast<size_t>(host_.V * host_.D) * sizeof(float);
    FASTNLP_CUDA_CHECK(cudaMemcpy(host_.syn0, syn0_, n, cudaMemcpyDeviceToHost));
    FASTNLP_CUDA_CHECK(cudaMemcpy(host_.syn1neg, syn1neg_, n, cudaMemcpyDeviceToHost));
  }

  double loss() override {
    FASTNLP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    double v = 0;
    FASTNLP_CUDA_CHECK(cudaMemcpy(&v, loss_, sizeof(double), cudaMemcpyDeviceToHost));
    return v;
  }

  int64_t examples() override {
    FASTNLP_CUDA_CHECK(cudaStreamSynchronize(stream_));
    unsigned long long v = 0;
    FASTNLP_CUDA_CHECK(cudaMemcpy(&v, examples_, sizeof(v), cudaMemcpyDeviceToHost));
    return static_cast<int64_t>(v);
  }

 private:
  struct Buffer {
    int32_t* h_ids = nullptr;  // pinned
    int64_t* h_off = nullptr;  // pinned
    int32_t* d_ids = nullptr;
    int64_t* d_off = nullptr;
    size_t cap_ids = 0, cap_off = 0;
    cudaEvent_t done = nullptr;
    bool used = false;
  };

  void reserve(Buffer& b, size_t n_ids, size_t n_off) {
    if (n_ids > b.cap_ids) {
      const size_t cap = std::max(n_ids, 2 * b.cap_ids);
      if (b.h_ids) cudaFreeHost(b.h_ids);
      if (b.d_ids) cudaFree(b.d_ids);
      b.h_ids = nullptr;
      b.d_ids = nullptr;
      b.cap_ids = 0;
      FASTNLP_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&b.h_ids), cap * sizeof(int32_t)));
      b.d_ids = device_alloc<int32_t>(cap);
      b.cap_ids = cap;
    }
    if (n_off > b.cap_off) {
      const size_t cap = std::max(n_off, 2 * b.cap_off);
      if (b.h_off) cudaFreeHost(b.h_off);
      if (b.d_off) cudaFree(b.d_off);
      b.h_off = nullptr;
      b.d_off = nullptr;
      b.cap_off = 0;
      FASTNLP_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&b.h_off), cap * sizeof(int64_t)));
      b.d_off = device_alloc<int64_t>(cap);
      b.cap_off = cap;
    }
  }

  void launch(const Args& a, unsigned blocks) {
    const int epl = (a.D + 31) / 32;
    const dim3 block(32 * kWarpsPerBlock);
    if (epl <= 1) train_kernel<1><<<blocks, block, 0, stream_>>>(a);
    else if (epl <= 2) train_kernel<2><<<blocks, block, 0, stream_>>>(a);
    else if (epl <= 4) train_kernel<4><<<blocks, block, 0, stream_>>>(a);
    else if (epl <= 8) train_kernel<8><<<blocks, block, 0, stream_>>>(a);
    else train_kernel<16><<<blocks, block, 0, stream_>>>(a);
    FASTNLP_CUDA_CHECK_LAUNCH();
  }

  // Frees everything; never throws (destructor and constructor-failure path).
  void release() {
    if (stream_) cudaStreamSynchronize(stream_);
    for (Buffer& b : buf_) {
      if (b.h_ids) cudaFreeHost(b.h_ids);
      if (b.h_off) cudaFreeHost(b.h_off);
      if (b.d_ids) cudaFree(b.d_ids);
      if (b.d_off) cudaFree(b.d_off);
      if (b.done) cudaEventDestroy(b.done);
      b = Buffer{};
    }
    for (void* p : {static_cast<void*>(syn0_), static_cast<void*>(syn1neg_), static_cast<void*>(thr_),
                    static_cast<void*>(alias_), static_cast<void*>(loss_), static_cast<void*>(examples_)})
      if (p) cudaFree(p);
    syn0_ = syn1neg_ = nullptr;
    thr_ = nullptr;
    alias_ = nullptr;
    loss_ = nullptr;
    examples_ = nullptr;
    if (stream_) cudaStreamDestroy(stream_);
    stream_ = nullptr;
  }

  Word2VecConfig config_;
  Word2VecParams host_;
  cudaStream_t stream_ = nullptr;
  float* syn0_ = nullptr;
  float* syn1neg_ = nullptr;
  uint32_t* thr_ = nullptr;
  int32_t* alias_ = nullptr;
  double* loss_ = nullptr;
  unsigned long long* examples_ = nullptr;
  Buffer buf_[2];
  int next_ = 0;
  uint64_t calls_ = 0;
};

}  // namespace

std::unique_ptr<Word2VecDevice> make_word2vec_device(const Word2VecConfig& config, const NoiseSampler& noise,
                                                     const Word2VecParams& host) {
  return std::make_unique<CudaWord2Vec>(config, noise, host);
}

}  // namespace fastnlp::cuda
