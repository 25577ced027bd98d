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

// exp for float, vectorizable (no libm call in the loop): range reduction x = n ln2 + r with
// |r| <= ln2/2, a degree-6 polynomial for e^r (relative error ~2 ulp), and 2^n built in the
// exponent bits. Inputs are clamped so the result stays finite and normal (n in [-126, 127]).
// Plain a*b+c (no std::fma): the compiler fuses where the target has FMA, and the baseline
// clone stays free of libm calls.
inline float fast_expf(float x) {
  // Ternaries, not fmin/fmax: a NaN input must stay NaN. Below the smallest normal result the
  // answer is 0 (so exp(-inf) is exactly 0, as softmax over masked logits needs).
  const bool underflow = x < -87.33654f;
  x = underflow ? -87.33654f : x;
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  // Round to nearest by adding and subtracting 1.5 * 2^23 (valid for |v| < 2^22).
  const float kRound = 12582912.0f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  // ln2 split in two parts so n*ln2 is subtracted without losing r's low bits.
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = (p * r) * r + r + 1.0f;
  // 2^n in the exponent bits. A NaN input (p is NaN, so the result is too) takes n = 0: converting
  // NaN to an integer, and shifting the negative integer it gives, are undefined behaviour.
  union {
    uint32_t i;
    float f;
  } scale{static_cast<uint32_t>(static_cast<int32_t>(n == n ? n : 0.0f) + 127) << 23};
  return underflow ? 0.0f : p * scale.f;
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
