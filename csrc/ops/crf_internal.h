// Shared by the CRF's references (crf_ref.cpp) and fast kernels (crf.cpp), in a header so that
// the fast per-sentence passes can inline them into their SIMD clones. Internal to the CRF family.
#pragma once

#include <cstdint>
#include <limits>

namespace fastnlp::crf_detail {

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// The score of the tag path y through a sentence: start + emissions + transitions, in double.
template <typename T>
inline double gold_score(const T* x, const int32_t* y, const T* trans, const T* start, int64_t L, int64_t K) {
  double s = double(start[y[0]]) + double(x[y[0]]);
  for (int64_t t = 1; t < L; ++t) s += double(trans[y[t - 1] * K + y[t]]) + double(x[t * K + y[t]]);
  return s;
}

}  // namespace fastnlp::crf_detail
