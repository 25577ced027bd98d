// Array arguments at the Python boundary: NumPy arrays (CPU) and anything exposing
// __cuda_array_interface__ (CuPy, PyTorch CUDA tensors, Numba). Every check lives here and
// raises with the op, the argument, what was expected and what was given.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "common.h"
#include "dispatch.h"

namespace fastnlp::bindings {

namespace py = pybind11;

enum class DType { kFloat32, kFloat64, kInt32, kInt64, kOther };

struct Array {
  const char* op = "";
  const char* name = "";
  void* data = nullptr;
  std::vector<int64_t> shape;
  DType dtype = DType::kOther;
  std::string dtype_name;
  bool on_gpu = false;
  bool writeable = false;
  bool contiguous = false;
  // The bytes the array's elements span, [lo, hi) (host or device addresses, as `on_gpu` says;
  // lo == hi when empty): what NumPy's may_share_memory compares.
  uintptr_t lo = 0, hi = 0;

  // False for a default Array: an optional argument that was left as None.
  bool given() const { return data != nullptr || !shape.empty(); }
  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape[i]; }
  int64_t size() const;
  std::string shape_str() const;  // "(3, 4, 5)"
  template <typename T>
  T* ptr() const { return static_cast<T*>(data); }
};

// Any array-like (NumPy or CUDA array interface) without copying; anything else is a TypeError.
Array as_array(const char* op, const char* name, const py::handle& obj);

// A float input: float32 or float64, `ndim` dimensions (any when ndim < 0), C-contiguous, not empty.
Array float_in(const char* op, const char* name, const py::handle& obj, int ndim);
// A float output written in place: as float_in, plus writeable, the dtype of `like` and this shape.
Array float_out(const char* op, const char* name, const py::handle& obj, const Array& like,
                std::initializer_list<int64_t> shape);
// Integer ids: int32 or int64, `ndim` dimensions (any when ndim < 0), C-contiguous (may be empty
// only if allow_empty).
Array ids_in(const char* op, const char* name, const py::handle& obj, int ndim, bool allow_empty = false);

// `a` must have exactly this shape; -1 matches any size. `why` explains the expected sizes.
void expect_shape(const Array& a, std::initializer_list<int64_t> shape, const char* why = "");
// Same dtype as `like` (TypeError otherwise).
void expect_same_dtype(const Array& a, const Array& like);
// All ids in [0, V); on the CPU reports the first offender and its position.
void expect_ids_in_range(const Array& ids, int64_t V, const char* what);
// The same check for ids on either device: on the GPU through cuda::first_id_out_of_range, the
// offending value read back through obj (the ids array itself). Call after backend_for.
void expect_ids_in_range(const Array& ids, const py::handle& obj, int64_t V, const char* what);
// `a` must have shape ids.shape + (D,): one row of D per id, for ids of any shape.
void expect_rows_shape(const Array& a, const Array& ids, int64_t D, const char* why = "");
// None or an Array checked with float_in/float_out.
bool is_none(const py::handle& obj);

// NumPy's may_share_memory: the byte extents of a and b intersect on the same device (false when
// either is empty or was left as None). Conservative: two interleaved strided views count.
bool may_share_memory(const Array& a, const Array& b);
// An output must not share memory with any of `others` (the op's inputs and other outputs; ones
// left as None are skipped): ValueError naming both, since the kernels read inputs while writing
// outputs and overlap gives silently wrong results. `same_ok` names an input the op documents as
// safe to alias exactly (the same data, shape and dtype: an elementwise op in place); a partial
// overlap with it is refused all the same.
void expect_no_overlap(const Array& out, std::initializer_list<const Array*> others,
                       const Array* same_ok = nullptr);

// Picks the backend for a call and checks all given arrays (optional ones left as None are
// skipped) live on the same device (and, on the GPU, that they are float32: the CUDA kernels are
// float only).
Backend backend_for(const char* op, std::initializer_list<const Array*> arrays, bool reference);
// The same checks for a binding with only CPU kernels (dispatch.h, rule 2): GPU arrays are refused
// with one message naming `gpu_route`, the Python function that takes them.
Backend cpu_backend_for(const char* op, std::initializer_list<const Array*> arrays, bool reference,
                        const char* gpu_route);

// Runs f(T{}) with T = float or double according to a float array's dtype.
template <typename F>
void float_dispatch(const Array& a, F&& f) {
  if (a.dtype == DType::kFloat32) f(float{});
  else f(double{});
}

// Runs f(I{}) with I = int32_t or int64_t according to an ids array's dtype.
template <typename F>
void ids_dispatch(const Array& ids, F&& f) {
  if (ids.dtype == DType::kInt32) f(int32_t{});
  else f(int64_t{});
}

// Runs f(T{}, I{}): T from a float array's dtype, I from an ids array's.
template <typename F>
void float_ids_dispatch(const Array& a, const Array& ids, F&& f) {
  float_dispatch(a, [&](auto t) { ids_dispatch(ids, [&](auto i) { f(t, i); }); });
}

}  // namespace fastnlp::bindings
