// Shared argument helpers of the sequence bindings (bind_conv1d.cpp, bind_rnn.cpp): per-sequence
// lengths (None, or a 1-D int32/int64 array of B values in [1, T], copied to int64 since B is small
// so the kernels take one index type), and for their GPU step kernels the lengths already on the
// device and the float arguments checked against a first one.
#pragma once

#include <cstdint>
#include <initializer_list>
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

// Every given array on the GPU (float32: backend_for checks it), and CUDA compiled in: for the GPU
// step kernels (conv1d_unfold ... rnn_step_backward) that fastnlp.ops._gpu composes.
inline void expect_gpu(const char* op, std::initializer_list<const Array*> arrays) {
  const Backend be = backend_for(op, arrays, false);
  FASTNLP_CHECK(be == Backend::kCuda, op,
                ": a GPU building block of fastnlp.ops (conv1d / rnn); it needs CuPy (GPU) arrays, got "
                "NumPy arrays");
}

// lengths on the device: None, or (B) int64 already checked on the host (1 <= lengths[b] <= T).
inline Array device_lengths(const char* op, const py::object& obj, int64_t B) {
  Array a;
  if (is_none(obj)) return a;
  a = ids_in(op, "lengths", obj, 1);
  if (a.dtype != DType::kInt64)
    throw py::type_error(str_cat(op, ": lengths must be int64 (on the GPU), got ", a.dtype_name));
  FASTNLP_CHECK(a.on_gpu, op, ": lengths must be a GPU array here (upload the checked lengths)");
  expect_shape(a, {B}, " (B, one length per sequence)");
  return a;
}

inline Array float_in_like(const char* op, const char* name, const py::object& obj, const Array& like,
                           std::initializer_list<int64_t> shape, const char* why) {
  Array a = float_in(op, name, obj, static_cast<int>(shape.size()));
  expect_same_dtype(a, like);
  expect_shape(a, shape, why);
  return a;
}

inline Array optional_in_like(const char* op, const char* name, const py::object& obj,
                              const Array& like, std::initializer_list<int64_t> shape, const char* why) {
  if (is_none(obj)) return Array{};
  return float_in_like(op, name, obj, like, shape, why);
}

}  // namespace fastnlp::bindings
