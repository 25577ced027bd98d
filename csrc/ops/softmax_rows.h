// The float row reductions of the softmax family, shared by softmax.cpp (which defines them as
// SIMD clones) and the fused output layer in linear_cross_entropy.cpp. Internal: a row is V
// contiguous floats; the public ops are in softmax.h and linear_cross_entropy.h.
#pragma once

#include <cstdint>

namespace fastnlp::softmax_detail {

// max_j x[j] (-inf when V == 0).
float row_max(const float* x, int64_t V);

// sum_j exp(x[j] - m), with m the row's max so every term is <= 1 and cannot overflow. The terms
// are summed in float lanes per block of 512 and the blocks added in double. out: (V) gets the
// terms, or null to only sum them.
double exp_shift_sum(const float* x, float m, float* out, int64_t V);

}  // namespace fastnlp::softmax_detail
