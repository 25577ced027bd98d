// Inverted dropout (Srivastava et al. 2014): y = x * mask / (1 - p), mask[i] in {0, 1} (1 = kept),
// forward and backward. The mask is either given (injected randomness) or drawn from a
// counter-based generator keyed by (seed, element index), so it is the same for any thread count
// and on the CPU and the GPU (cuda/dropout.cu includes this header for dropout_keeps).
#pragma once

#include <cstdint>

#include "tanh_rational.h"  // FASTNLP_HOST_DEVICE

namespace fastnlp {

// splitmix64 (Steele, Lea & Flood 2014) in counter mode: the i-th output of the stream started at
// `seed`, computed directly from i. Its finalizer is a bijection with full avalanche, so the bits
// of neighbouring indices are independent for practical purposes.
FASTNLP_HOST_DEVICE uint64_t splitmix64_at(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The drop threshold for probability p in [0, 1): floor(p * 2^32). Element i is kept when the high
// 32 bits of splitmix64_at(seed, i) are >= it, i.e. with probability 1 - p up to 2^-32
// (p == 0 keeps everything).
inline uint32_t dropout_threshold(double p) {
  const double t = p * 4294967296.0;
  return t >= 4294967295.0 ? 4294967295u : static_cast<uint32_t>(t);
}

FASTNLP_HOST_DEVICE uint8_t dropout_keeps(uint64_t seed, int64_t i, uint32_t threshold) {
  return static_cast<uint32_t>(splitmix64_at(seed, static_cast<uint64_t>(i)) >> 32) >= threshold ? 1 : 0;
}

// x, y: (n), mask: (n) uint8; p in [0, 1). When draw, mask[i] = dropout_keeps(seed, i,
// dropout_threshold(p)) is written first; otherwise mask is read as given (nonzero = kept, the
// bindings admit only 0 and 1). Then y = x * mask / T(1 - p) (a division, as the NumPy
// transcription rounds; a dropped NaN or inf stays NaN, as x * 0 does). y may alias x.
template <typename T>
void dropout_forward_ref(const T* x, uint8_t* mask, T* y, int64_t n, double p, uint64_t seed, bool draw);
template <typename T>
void dropout_forward(const T* x, uint8_t* mask, T* y, int64_t n, double p, uint64_t seed, bool draw);

// dy, dx: (n), mask: (n) from the forward. dx = dy * mask / T(1 - p); dx may alias dy.
template <typename T>
void dropout_backward_ref(const T* dy, const uint8_t* mask, T* dx, int64_t n, double p);
template <typename T>
void dropout_backward(const T* dy, const uint8_t* mask, T* dx, int64_t n, double p);

// Index of the first mask byte that is neither 0 nor 1, or n when there is none.
int64_t dropout_first_bad_mask(const uint8_t* mask, int64_t n);

}  // namespace fastnlp
