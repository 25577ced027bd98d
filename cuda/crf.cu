// Linear-chain CRF on the GPU (see ops/crf.h): sentence-level negative log-likelihood, its
// gradient, and Viterbi decoding over a ragged batch. One block per sentence (grid-stride over
// sentences), one thread per tag j; the previous position's scores sit in shared memory, and each
// thread reduces over the other tag with the CPU fast kernel's arithmetic (per-column max shift,
// rows normalized by their max with the running total kept in double).
#include <stdexcept>

#include "common.cuh"
#include "common.h"

namespace fastnlp::cuda {
namespace {

constexpr int kGradBlocks = 512;                 // backward: blocks, each with its own partial
constexpr int64_t kPartialBudget = int64_t(1) << 24;  // doubles of backward partials at most

int threads_for(int64_t K) { return static_cast<int>(ceil_div(K, 32) * 32); }

void check_K(const char* op, int64_t K) {
  FASTNLP_CHECK(K >= 1 && K <= kCrfMaxTags, op, ": the CUDA kernels take 1 <= K <= ", kCrfMaxTags,
                " tags (one thread per tag), got K = ", K);
}

// The same value in every thread of the block: each warp reduces, then every thread combines
// the warps' results in the same order (so a NaN cannot make threads disagree). scratch: 32
// entries of shared memory. Every thread of the block must call it.
__device__ float block_max(float v, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) {
    const float u = __shfl_xor_sync(kFullMask, v, o);
    v = u > v ? u : v;
  }
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float m = scratch[0];
  for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w) m = scratch[w] > m ? scratch[w] : m;
  __syncthreads();
  return m;
}

__device__ double block_sum(double v, double* scratch) {
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  double s = 0;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) s += scratch[w];
  __syncthreads();
  return s;
}

// Subtracts the max over the block's tags from v (threads past K hold -inf) and returns it;
// nothing when the max is -inf (no allowed path), +inf or NaN.
__device__ double normalize(float& v, float* scratch) {
  const float m = block_max(v, scratch);
  if (!(m > -INFINITY && m < INFINITY)) return 0.0;
  v -= m;
  return double(m);
}

// log sum_i exp(a[i] + W[i*si + j*sj]) over i < K, shifted by its max (exp never overflows; a
// max of -inf shifts by 0, giving -inf rather than NaN).
__device__ float lse_col(const float* a, const float* __restrict__ W, int64_t si, int64_t sj, int j,
                         int K) {
  float m = -INFINITY;
  for (int i = 0; i < K; ++i) {
    const float v = a[i] + W[i * si + j * sj];
    m = v > m ? v : m;
  }
  if (m == -INFINITY) m = 0.0f;
  float s = 0.0f;
  for (int i = 0; i < K; ++i) s += expf(a[i] + W[i * si + j * sj] - m);
  return m + logf(s);
}

// log Z from the last (normalized) alphas and the running shift C.
__device__ double log_z(float a, double C, float* fscratch, double* dscratch) {
  const float m = block_max(a, fscratch);
  // Threads past K hold a = -inf and add 0; a NaN alpha makes the sum, and log Z, NaN (even when
  // the max, which skips NaN, is -inf).
  const double e = a != a ? double(a) : (m == -INFINITY ? 0.0 : exp(double(a) - double(m)));
  const double s = block_sum(e, dscratch);
  if (s != s) return s;
  return m == -INFINITY ? -INFINITY : C + double(m) + log(s);
}

// Forward pass of sentence rows r0 .. r0+L-1 (thread j = tag j, `on` = j < K). When alpha is not
// null the normalized alphas (N, K) and the shifts (N) are stored. Returns log Z to every thread.
__device__ double forward(const float* __restrict__ x, const float* __restrict__ trans,
                          const float* __restrict__ start, int64_t r0, int64_t L, int K, float* sa,
                          float* alpha, double* shift, float* fscratch, double* dscratch) {
  const int j = threadIdx.x;
  const bool on = j < K;
  float a = on ? start[j] + x[j] : -INFINITY;
  double C = normalize(a, fscratch);
  if (alpha) {
    if (on) alpha[r0 * K + j] = a;
    if (j == 0) shift[r0] = C;
  }
  for (int64_t t = 1; t < L; ++t) {
    if (on) sa[j] = a;
    __syncthreads();
    if (on) a = lse_col(sa, trans, K, 1, j, K) + x[t * K + j];
    C += normalize(a, fscratch);  // its barriers also order the reads of sa before the next write
    if (alpha) {
      if (on) alpha[(r0 + t) * K + j] = a;
      if (j == 0) shift[r0 + t] = C;
    }
  }
  return log_z(a, C, fscratch, dscratch);
}

__device__ double gold_score(const float* x, const int32_t* y, const float* trans, const float* start,
                             int64_t L, int K) {
  double s = double(start[y[0]]) + double(x[y[0]]);
  for (int64_t t = 1; t < L; ++t) s += double(trans[y[t - 1] * K + y[t]]) + double(x[t * K + y[t]]);
  return s;
}

__global__ void crf_nll_kernel(const float* __restrict__ scores, const int64_t* __restrict__ offsets,
                               const int32_t* __restrict__ tags, const float* __restrict__ trans,
                               const float* __restrict__ start, float* __restrict__ nll, int64_t S,
                               int K) {
  extern __shared__ float sa[];  // (K) alphas of the previous position
  __shared__ float fscratch[32];
  __shared__ double dscratch[32];
  for (int64_t s = blockIdx.x; s < S; s += gridDim.x) {
    const int64_t r0 = offsets[s], L = offsets[s + 1] - r0;
    if (L == 0) {  // the same for the whole block
      if (threadIdx.x == 0) nll[s] = 0.0f;
      continue;
    }
    const float* x = scores + r0 * K;
    const double logz = forward(x, trans, start, r0, L, K, sa, nullptr, nullptr, fscratch, dscratch);
    if (threadIdx.x == 0) nll[s] = static_cast<float>(logz - gold_score(x, tags + r0, trans, start, L, K));
  }
}

// Gradients of one block's sentences. partial: (gridDim.x, K*K + K) doubles, zeroed; this block
// owns row blockIdx.x, and thread j only touches column j of it, so there are no races.
// alpha (N, K), shift (N): scratch.
__global__ void crf_grad_kernel(const float* __restrict__ scores, const int64_t* __restrict__ offsets,
                                const int32_t* __restrict__ tags, const float* __restrict__ trans,
                                const float* __restrict__ start, const float* __restrict__ grad_nll,
                                float* __restrict__ dscores, float* alpha, double* shift,
                                double* partial, int64_t S, int K) {
  extern __shared__ float sh[];
  float* sa = sh;      // (K) alphas of position t - 1
  float* sw = sh + K;  // (K) x[t] + beta[t]
  __shared__ float fscratch[32];
  __shared__ double dscratch[32];
  const int j = threadIdx.x;
  const bool on = j < K;
  double* dT = partial + int64_t(blockIdx.x) * (int64_t(K) * K + K);
  double* dS = dT + int64_t(K) * K;
  for (int64_t s = blockIdx.x; s < S; s += gridDim.x) {
    const int64_t r0 = offsets[s], L = offsets[s + 1] - r0;
    if (L == 0) continue;
    const float* x = scores + r0 * K;
    const int32_t* y = tags + r0;
    const float g = grad_nll[s];
    const double logz = forward(x, trans, start, r0, L, K, sa, alpha, shift, fscratch, dscratch);
    // log_z's barriers make this block's alpha / shift writes visible to all its threads.
    float b = 0.0f;  // normalized beta[t][j]
    double D = 0.0;  // what normalize() took off the betas of positions t..L-1 together
    for (int64_t t = L - 1; t >= 0; --t) {
      const float c = static_cast<float>(shift[r0 + t] + D - logz);
      float d = 0.0f;
      if (on) {
        const float p = expf(alpha[(r0 + t) * K + j] + b + c);
        d = g * p;
        if (y[t] == j) d -= g;
        dscores[(r0 + t) * K + j] = d;
      }
      if (t == 0) {
        if (on) dS[j] += double(d);
        break;
      }
      if (on) {
        sw[j] = x[t * K + j] + b;
        sa[j] = alpha[(r0 + t - 1) * K + j];
      }
      __syncthreads();
      float bn = -INFINITY;
      if (on) {
        // Pairwise marginals exp(alpha[t-1][i] + trans[i][j] + x[t][j] + beta[t][j] - log Z).
        const float c2 = static_cast<float>(shift[r0 + t - 1] + D - logz);
        const float wj = sw[j];
        for (int i = 0; i < K; ++i) {
          const float base = sa[i] + c2;
          dT[int64_t(i) * K + j] += double(g * expf(base + trans[int64_t(i) * K + j] + wj));
        }
        if (y[t] == j) dT[int64_t(y[t - 1]) * K + j] -= double(g);
        // beta[t-1][j] = log sum_k exp(trans[j][k] + w[k]).
        bn = lse_col(sw, trans, 1, K, j, K);
      }
      D += normalize(bn, fscratch);  // its barriers order the reads of sa / sw before the next writes
      b = on ? bn : 0.0f;
    }
  }
}

// dtrans / dstart = the sum of the blocks' partials, added in block order (deterministic).
__global__ void crf_reduce_kernel(const double* __restrict__ partial, int64_t blocks, int64_t K,
                                  float* __restrict__ dtrans, float* __restrict__ dstart) {
  const int64_t P = K * K + K;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < P;
       e += int64_t(gridDim.x) * blockDim.x) {
    double v = 0.0;
    for (int64_t b = 0; b < blocks; ++b) v += partial[b * P + e];
    if (e < K * K) dtrans[e] = static_cast<float>(v);
    else dstart[e - K * K] = static_cast<float>(v);
  }
}

// bp (N, K): scratch for the back-pointers. Ties go to the lowest id, as on the CPU.
__global__ void viterbi_kernel(const float* __restrict__ scores, const int64_t* __restrict__ offsets,
                               const float* __restrict__ trans, const float* __restrict__ start,
                               int32_t* __restrict__ tags, float* __restrict__ best, int32_t* bp,
                               int64_t S, int K) {
  extern __shared__ float sd[];  // (K) normalized best scores of the previous position
  __shared__ float fscratch[32];
  const int j = threadIdx.x;
  const bool on = j < K;
  for (int64_t s = blockIdx.x; s < S; s += gridDim.x) {
    const int64_t r0 = offsets[s], L = offsets[s + 1] - r0;
    if (L == 0) {
      if (j == 0) best[s] = 0.0f;
      continue;
    }
    const float* x = scores + r0 * K;
    float d = on ? start[j] + x[j] : -INFINITY;
    double sh = normalize(d, fscratch);
    for (int64_t t = 1; t < L; ++t) {
      if (on) sd[j] = d;
      __syncthreads();
      if (on) {
        float m = sd[0] + trans[j];
        int32_t arg = 0;
        for (int i = 1; i < K; ++i) {
          const float v = sd[i] + trans[int64_t(i) * K + j];
          if (v > m) {  // strict: the lowest predecessor id wins a tie
            m = v;
            arg = i;
          }
        }
        bp[(r0 + t) * K + j] = arg;
        d = m + x[t * K + j];
      }
      sh += normalize(d, fscratch);
    }
    if (on) sd[j] = d;
    __syncthreads();  // also makes every thread's bp writes visible to thread 0
    if (j == 0) {
      int32_t yb = 0;
      for (int k = 1; k < K; ++k)
        if (sd[k] > sd[yb]) yb = k;
      best[s] = static_cast<float>(sh + double(sd[yb]));
      tags[r0 + L - 1] = yb;
      for (int64_t t = L - 1; t > 0; --t) {
        yb = bp[(r0 + t) * K + yb];
        tags[r0 + t - 1] = yb;
      }
    }
    __syncthreads();  // sd is rewritten by the next sentence
  }
}

__global__ void offsets_kernel(const int64_t* __restrict__ off, int64_t S, int64_t N,
                               unsigned long long* first) {
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p <= S;
       p += int64_t(gridDim.x) * blockDim.x) {
    bool bad = p == 0 ? off[0] != 0 : off[p] < off[p - 1];
    if (p == S && off[S] != N) bad = true;
    if (bad) atomicMin(first, static_cast<unsigned long long>(p));
  }
}

}  // namespace

int64_t crf_first_bad_offset(const int64_t* offsets, int64_t S, int64_t N) {
  DeviceBuffer buf(sizeof(unsigned long long));
  unsigned long long* first = buf.as<unsigned long long>();
  FASTNLP_CUDA_CHECK(cudaMemsetAsync(first, 0xff, sizeof(unsigned long long)));
  offsets_kernel<<<grid_for(S + 1), kBlock>>>(offsets, S, N, first);
  FASTNLP_CUDA_CHECK_LAUNCH();
  const unsigned long long h = read_back(first);
  return h == ~0ull ? -1 : static_cast<int64_t>(h);
}

void crf_nll(const float* scores, const int64_t* offsets, const int32_t* tags, const float* trans,
             const float* start, float* nll, int64_t S, int64_t /*N*/, int64_t K) {
  check_K("crf_nll", K);
  if (S <= 0) return;
  const int threads = threads_for(K);
  crf_nll_kernel<<<grid_for(S, 1), threads, K * sizeof(float)>>>(scores, offsets, tags, trans, start,
                                                                  nll, S, static_cast<int>(K));
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void crf_nll_backward(const float* scores, const int64_t* offsets, const int32_t* tags,
                      const float* trans, const float* start, const float* grad_nll, float* dscores,
                      float* dtrans, float* dstart, int64_t S, int64_t N, int64_t K) {
  check_K("crf_nll_backward", K);
  if (S <= 0) {
    FASTNLP_CUDA_CHECK(cudaMemsetAsync(dtrans, 0, K * K * sizeof(float)));
    FASTNLP_CUDA_CHECK(cudaMemsetAsync(dstart, 0, K * sizeof(float)));
    return;
  }
  const int64_t P = K * K + K;
  int64_t blocks = S < kGradBlocks ? S : kGradBlocks;
  if (blocks * P > kPartialBudget) blocks = kPartialBudget / P > 0 ? kPartialBudget / P : 1;
  Carve carve;
  const size_t at_alpha = carve.take<float>(N * K);
  const size_t at_shift = carve.take<double>(N);
  const size_t at_part = carve.take<double>(blocks * P);
  DeviceBuffer buf(carve.bytes());
  double* partial = buf.as<double>(at_part);
  FASTNLP_CUDA_CHECK(cudaMemsetAsync(partial, 0, blocks * P * sizeof(double)));
  crf_grad_kernel<<<static_cast<unsigned>(blocks), threads_for(K), 2 * K * sizeof(float)>>>(
      scores, offsets, tags, trans, start, grad_nll, dscores, buf.as<float>(at_alpha),
      buf.as<double>(at_shift), partial, S, static_cast<int>(K));
  FASTNLP_CUDA_CHECK_LAUNCH();
  crf_reduce_kernel<<<grid_for(P), kBlock>>>(partial, blocks, K, dtrans, dstart);
  FASTNLP_CUDA_CHECK_LAUNCH();
}

void viterbi_decode(const float* scores, const int64_t* offsets, const float* trans,
                    const float* start, int32_t* tags, float* best, int64_t S, int64_t N, int64_t K) {
  check_K("viterbi_decode", K);
  if (S <= 0) return;
  DeviceBuffer bp(static_cast<size_t>(N * K > 0 ? N * K : 1) * sizeof(int32_t));
  viterbi_kernel<<<grid_for(S, 1), threads_for(K), K * sizeof(float)>>>(
      scores, offsets, trans, start, tags, best, bp.as<int32_t>(), S, static_cast<int>(K));
  FASTNLP_CUDA_CHECK_LAUNCH();
}

}  // namespace fastnlp::cuda
