// Shared argument helpers of the sequence bindings (conv1d and the RNNs): per-sequence lengths
// (None, or a 1-D int32/int64 array of B values in [1, T], copied to int64 since B is small so the
// kernels take one index type).
#pragma once

#include <cstdint>
#include <vector>

#include "bindings/array.h"

namespace fastnlp::bindings {

// Empty vector for None (every sequence has length T); otherwise checked and converted.
inline std::vector<int64_t> lengths_in(const char* op, const py::handle& obj, int64_t B, int64_t T) {
  std::vector<int64_t> out;
  if (is_none(obj)) return out;
  Array a = ids_in(op, "lengths", obj, 1);
  FASTNLP_CHECK(!a.on_gpu, op, ": lengths must be a NumPy array (host memory), got a GPU array");
  expect_shape(a, {B}, " (B, one length per sequence)");
  out.resize(B);
  for (int64_t i = 0; i < B; ++i)
    out[i] = a.dtype == DType::kInt32 ? a.ptr<int32_t>()[i] : a.ptr<int64_t>()[i];
  for (int64_t i = 0; i < B; ++i)
    FASTNLP_CHECK(out[i] >= 1 && out[i] <= T, op, ": lengths must be in [1, T=", T, "] (T from x), got ",
                  out[i], " at position ", i, out[i] == 0 ? " (zero-length sequences are not allowed)" : "");
  return out;
}

inline const int64_t* lengths_ptr(const std::vector<int64_t>& v) { return v.empty() ? nullptr : v.data(); }

}  // namespace fastnlp::bindings
