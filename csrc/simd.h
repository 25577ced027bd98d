// The one place that picks SIMD beyond the x86-64 baseline: hot inner loops are compiled for
// AVX-512, AVX2 and the baseline, and the loader picks the best clone for the running CPU.
// Distributed builds never use -march=native (see FASTNLP_NATIVE in CMakeLists.txt).
#pragma once

#include <cmath>
#include <cstdint>

#include "tanh_rational.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define FASTNLP_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
// A function compiled for AVX-512 alone, called only where simd_level() >= 4: for kernels written
// with 64-byte vectors, which the clones above would split in two on AVX2.
#define FASTNLP_TARGET_AVX512 __attribute__((target("arch=x86-64-v4")))
#else
#define FASTNLP_SIMD_CLONES
#endif

namespace fastnlp {

// The clone FASTNLP_SIMD_CLONES functions run on this CPU, by the test GCC's target_clones resolver
// makes (the first of v4, v3 that __builtin_cpu_supports, else the default): 4 = x86-64-v4
// (AVX-512), 3 = x86-64-v3 (AVX2, FMA), 1 = the x86-64 baseline, 0 = a build without clones.
// Tests read it (fastnlp._C.simd_level) to know which clone a run exercised.
inline int simd_level() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return 4;
  if (__builtin_cpu_supports("x86-64-v3")) return 3;
  return 1;
#else
  return 0;
#endif
}

// e^x for float, vectorizable (no libm call in the loop) and valid for x <= 88.37 (a larger x
// gives garbage: fast_expf handles it), which covers softmax's max-shifted logits (x <= 0). Range
// reduction x = n ln2 + r with |r| <= ln2/2, e^r = 1 + r + r^2 q(r) with q of degree 5 (relative
// error ~1.2 ulp), 2^n built in the exponent bits. Below the smallest normal result (x < -87.34,
// -inf included) the answer is 0, as softmax over masked logits needs; NaN stays NaN.
// No clamping of x: GCC if-converted the clamps into five blends a vector, and with them the
// function ran at ~20 cycles a vector of 8 (12-14 now); here garbage is computed and masked instead.
// q in Estrin's form: the chain of dependent FMAs is what bounded the loop (its latency fills the
// out-of-order window before the FMA units are busy).
// Plain a*b+c (no std::fma): the compiler fuses where the target has FMA, and the baseline
// clone stays free of libm calls.
inline float fast_expf_upto88(float x) {
  const bool underflow = x < -87.33654f;
  // n = round(x / ln2) by adding 1.5 * 2^23 (valid for |v| < 2^22): t's low mantissa bits then hold
  // n itself, and 2^n is t's bits shifted into the exponent (no float-to-int conversion).
  const float kRound = 12582912.0f;
  const float t = x * 1.44269504088896341f + kRound;
  const float n = t - kRound;
  // ln2 split in two parts so n*ln2 is subtracted without losing r's low bits.
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  const float r2 = r * r;
  const float q01 = 1.6666665459e-1f * r + 5.0000001201e-1f;
  const float q23 = 8.3334519073e-3f * r + 4.1665795894e-2f;
  const float q45 = 1.9875691500e-4f * r + 1.3981999507e-3f;
  const float p = (r + 1.0f) + r2 * (q01 + r2 * (q23 + r2 * q45));
  union {
    float f;
    uint32_t i;
  } bits{t}, scale;
  scale.i = (bits.i << 23) + (127u << 23);   // (0x4B400000 + n) << 23 = n << 23 (mod 2^32)
  return underflow ? 0.0f : p * scale.f;
}

// e^x for every float: +inf from x > 88.37 (e^88.72 is the largest float), else fast_expf_upto88.
inline float fast_expf(float x) {
  return x > 88.3762626647949f ? INFINITY : fast_expf_upto88(x);
}

inline float fast_tanhf(float x) { return tanh_rational(x); }

inline float fast_sigmoidf(float x) { return 1.0f / (1.0f + fast_expf(-x)); }

// Double overloads for kernels templated on T: double exists for gradient checks, so it uses libm.
inline double fast_tanh(double x) { return std::tanh(x); }
inline float fast_tanh(float x) { return fast_tanhf(x); }
inline double fast_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline float fast_sigmoid(float x) { return fast_sigmoidf(x); }

inline double fast_exp(double x) { return std::exp(x); }
inline float fast_exp(float x) { return fast_expf(x); }

}  // namespace fastnlp
