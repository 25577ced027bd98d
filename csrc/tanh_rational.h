// tanh as a rational function x P(x^2) / Q(x^2) on [-7.9, 7.9] (beyond that tanh is +-1 in
// float): a few ulp, no cancellation near 0 unlike 1 - 2 / (e^2x + 1). One definition for the CPU
// kernels (simd.h) and the CUDA ones (cuda/common.cuh), so both devices compute the same values.
#pragma once

#include "common.h"

#if defined(__CUDACC__)
#define FASTNLP_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FASTNLP_HOST_DEVICE FASTNLP_INLINE  // the CPU loops calling it are SIMD clones (simd.h)
#endif

namespace fastnlp {

// Comparisons, not fmin/fmax, in the clamp: a NaN must pass through.
FASTNLP_HOST_DEVICE float tanh_rational(float x) {
  const float kClamp = 7.90531110763549805f;
  x = x < -kClamp ? -kClamp : x;
  x = x > kClamp ? kClamp : x;
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * x;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p / q;
}

}  // namespace fastnlp
