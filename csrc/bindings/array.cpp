// Reading NumPy / CUDA-array-interface objects into Array, and the shared argument checks.
#include "bindings/array.h"

#include <algorithm>
#include <atomic>

#include "bindings/bindings.h"  // cuda_ops.h when built with CUDA
#include "common.h"
#include "parallel.h"

namespace fastnlp::bindings {
namespace {

DType dtype_from(char kind, int64_t itemsize) {
  if (kind == 'f' && itemsize == 4) return DType::kFloat32;
  if (kind == 'f' && itemsize == 8) return DType::kFloat64;
  if (kind == 'i' && itemsize == 4) return DType::kInt32;
  if (kind == 'i' && itemsize == 8) return DType::kInt64;
  return DType::kOther;
}

// The name an error message shows; py::str(dtype) only for the rare other dtypes, since formatting
// it costs microseconds on every call, more than a small kernel.
const char* dtype_name_of(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    default: return nullptr;
  }
}

// [lo, hi): the lowest and one past the highest byte any element of `a` occupies.
void set_extent(Array& a, const std::vector<int64_t>& strides, int64_t itemsize) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(a.data);
  a.lo = a.hi = base;
  for (int64_t n : a.shape)
    if (n == 0) return;
  int64_t lo = 0, hi = itemsize;
  for (size_t i = 0; i < a.shape.size(); ++i) {
    const int64_t span = strides[i] * (a.shape[i] - 1);
    if (span < 0) lo += span;
    else hi += span;
  }
  a.lo = base + static_cast<uintptr_t>(lo);  // lo <= 0: wraps to base - |lo|
  a.hi = base + static_cast<uintptr_t>(hi);
}

Array from_numpy(const char* op, const char* name, const py::array& arr) {
  Array a;
  a.op = op;
  a.name = name;
  a.data = const_cast<void*>(arr.data());
  a.shape.assign(arr.shape(), arr.shape() + arr.ndim());
  const py::dtype dt = arr.dtype();
  const char bo = dt.byteorder();
  a.dtype = (bo == '>') ? DType::kOther : dtype_from(dt.kind(), dt.itemsize());
  const char* known = dtype_name_of(a.dtype);
  a.dtype_name = known ? std::string(known) : py::str(dt).cast<std::string>();
  a.writeable = arr.writeable();
  a.contiguous = (arr.flags() & py::array::c_style) != 0;
  std::vector<int64_t> strides(arr.strides(), arr.strides() + arr.ndim());
  set_extent(a, strides, dt.itemsize());
  return a;
}

Array from_cuda_interface(const char* op, const char* name, const py::handle& obj) {
  const py::dict cai = obj.attr("__cuda_array_interface__");
  Array a;
  a.op = op;
  a.name = name;
  a.on_gpu = true;
  for (const auto& d : cai["shape"].cast<py::tuple>()) a.shape.push_back(d.cast<int64_t>());
  const std::string typestr = cai["typestr"].cast<std::string>();  // e.g. "<f4"
  const char kind = typestr.size() >= 3 ? typestr[1] : '?';
  const int64_t itemsize = typestr.size() >= 3 ? std::stoll(typestr.substr(2)) : 0;
  a.dtype = (typestr[0] == '>') ? DType::kOther : dtype_from(kind, itemsize);
  const char* known = dtype_name_of(a.dtype);
  a.dtype_name = known ? std::string(known) : typestr;
  const py::tuple data = cai["data"].cast<py::tuple>();
  a.data = reinterpret_cast<void*>(data[0].cast<uintptr_t>());
  a.writeable = !data[1].cast<bool>();
  a.contiguous = true;
  // C-contiguous strides unless the interface gives others.
  std::vector<int64_t> strides(a.shape.size());
  int64_t expected = itemsize;
  for (int i = a.ndim() - 1; i >= 0; --i) {
    strides[i] = expected;
    expected *= a.shape[i];
  }
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    const py::tuple given = cai["strides"].cast<py::tuple>();
    for (int i = a.ndim() - 1; i >= 0; --i) {
      const int64_t s = given[i].cast<int64_t>();
      if (a.shape[i] != 1 && s != strides[i]) a.contiguous = false;
      strides[i] = s;
    }
  }
  set_extent(a, strides, itemsize);
  return a;
}

void expect_ndim(const Array& a, int ndim) {
  FASTNLP_CHECK(a.ndim() == ndim, a.op, ": ", a.name, " must be ", ndim, "-D, got shape ",
                a.shape_str(), " (", a.ndim(), "-D) dtype ", a.dtype_name);
}

void expect_contiguous(const Array& a) {
  FASTNLP_CHECK(a.contiguous, a.op, ": ", a.name,
                " must be C-contiguous (use numpy.ascontiguousarray), got a strided view of shape ",
                a.shape_str());
}

}  // namespace

int64_t Array::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string Array::shape_str() const {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

bool is_none(const py::handle& obj) { return obj.is_none(); }

bool may_share_memory(const Array& a, const Array& b) {
  if (!a.given() || !b.given() || a.on_gpu != b.on_gpu) return false;
  if (a.lo == a.hi || b.lo == b.hi) return false;
  return a.lo < b.hi && b.lo < a.hi;
}

void expect_no_overlap(const Array& out, std::initializer_list<const Array*> others, const Array* same_ok) {
  for (const Array* in : others) {
    if (in == &out || !may_share_memory(out, *in)) continue;
    if (in == same_ok && out.lo == in->lo && out.hi == in->hi && out.shape == in->shape &&
        out.dtype == in->dtype && out.contiguous && in->contiguous)
      continue;
    throw std::invalid_argument(str_cat(out.op, ": ", out.name, " overlaps ", in->name, " in memory (",
                                        in == same_ok ? "only the identical array may be given in place"
                                                      : "the op reads one while writing the other",
                                        "); pass a separate ", out.name, " array"));
  }
}

Array as_array(const char* op, const char* name, const py::handle& obj) {
  if (py::isinstance<py::array>(obj)) return from_numpy(op, name, py::reinterpret_borrow<py::array>(obj));
  if (py::hasattr(obj, "__cuda_array_interface__")) return from_cuda_interface(op, name, obj);
  throw py::type_error(str_cat(op, ": ", name, " must be a NumPy array or a GPU array, got ",
                               py::str(py::type::of(obj).attr("__name__")).cast<std::string>()));
}

Array float_in(const char* op, const char* name, const py::handle& obj, int ndim) {
  Array a = as_array(op, name, obj);
  if (a.dtype != DType::kFloat32 && a.dtype != DType::kFloat64)
    throw py::type_error(str_cat(op, ": ", name, " must be float32 or float64, got ", a.dtype_name,
                                 " with shape ", a.shape_str()));
  if (ndim >= 0) expect_ndim(a, ndim);
  expect_contiguous(a);
  FASTNLP_CHECK(a.size() > 0, op, ": ", name, " must not be empty, got shape ", a.shape_str());
  return a;
}

Array float_out(const char* op, const char* name, const py::handle& obj, const Array& like,
                std::initializer_list<int64_t> shape) {
  Array a = float_in(op, name, obj, static_cast<int>(shape.size()));
  expect_same_dtype(a, like);
  expect_shape(a, shape);
  FASTNLP_CHECK(a.writeable, op, ": ", name, " is written in place and must be writeable, got a read-only array");
  return a;
}

Array ids_in(const char* op, const char* name, const py::handle& obj, int ndim, bool allow_empty) {
  Array a = as_array(op, name, obj);
  if (a.dtype != DType::kInt32 && a.dtype != DType::kInt64)
    throw py::type_error(str_cat(op, ": ", name, " must be int32 or int64 ids, got ", a.dtype_name,
                                 " with shape ", a.shape_str()));
  if (ndim >= 0) expect_ndim(a, ndim);
  expect_contiguous(a);
  FASTNLP_CHECK(allow_empty || a.size() > 0, op, ": ", name, " must not be empty, got shape ",
                a.shape_str());
  return a;
}

void expect_shape(const Array& a, std::initializer_list<int64_t> shape, const char* why) {
  bool ok = a.ndim() == static_cast<int>(shape.size());
  std::string want = "(";
  int i = 0;
  for (int64_t d : shape) {
    if (i) want += ", ";
    want += d < 0 ? std::string("*") : std::to_string(d);
    if (ok && d >= 0 && a.shape[i] != d) ok = false;
    ++i;
  }
  if (shape.size() == 1) want += ",";
  want += ")";
  FASTNLP_CHECK(ok, a.op, ": ", a.name, " must have shape ", want, why, ", got ", a.shape_str());
}

void expect_same_dtype(const Array& a, const Array& like) {
  if (a.dtype != like.dtype)
    throw py::type_error(str_cat(a.op, ": ", a.name, " must have the dtype of ", like.name, " (",
                                 like.dtype_name, "), got ", a.dtype_name));
}

template <typename I>
static int64_t first_out_of_range(const I* ids, int64_t n, int64_t V) {
  std::atomic<int64_t> first{n};
  parallel_for(n, 1 << 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      if (ids[i] < 0 || static_cast<int64_t>(ids[i]) >= V) {
        int64_t cur = first.load();
        while (i < cur && !first.compare_exchange_weak(cur, i)) {
        }
        return;
      }
  });
  return first.load();
}

void expect_ids_in_range(const Array& ids, int64_t V, const char* what) {
  if (ids.on_gpu) return;  // checked by the CUDA kernels, which flag out-of-range ids
  const int64_t n = ids.size();
  int64_t bad, value = 0;
  if (ids.dtype == DType::kInt32) {
    bad = first_out_of_range(ids.ptr<int32_t>(), n, V);
    if (bad < n) value = ids.ptr<int32_t>()[bad];
  } else {
    bad = first_out_of_range(ids.ptr<int64_t>(), n, V);
    if (bad < n) value = ids.ptr<int64_t>()[bad];
  }
  FASTNLP_CHECK(bad == n, ids.op, ": ", ids.name, " must be in [0, ", V, ") (", what, "), got ",
                value, " at position ", bad);
}

void expect_ids_in_range(const Array& ids, const py::handle& obj, int64_t V, const char* what) {
  if (!ids.on_gpu) {
    expect_ids_in_range(ids, V, what);
    return;
  }
#ifdef FASTNLP_WITH_CUDA
  const int64_t n = ids.size();
  const int64_t bad = ids.dtype == DType::kInt32
                          ? cuda::first_id_out_of_range(ids.ptr<int32_t>(), n, V)
                          : cuda::first_id_out_of_range(ids.ptr<int64_t>(), n, V);
  if (bad < 0) return;
  std::string value = "an id";
  try {  // one element copied back to the host, for the message only
    value = py::str(py::int_(obj.attr("reshape")(-1)[py::int_(bad)])).cast<std::string>();
  } catch (const py::error_already_set&) {
  }
  throw std::invalid_argument(str_cat(ids.op, ": ", ids.name, " must be in [0, ", V, ") (", what,
                                      "), got ", value, " at position ", bad));
#else
  (void)obj;  // unreachable: backend_for refuses GPU arrays without CUDA
#endif
}

void expect_rows_shape(const Array& a, const Array& ids, int64_t D, const char* why) {
  Array want;
  want.shape = ids.shape;
  want.shape.push_back(D);
  FASTNLP_CHECK(a.shape == want.shape, a.op, ": ", a.name, " must have shape ", want.shape_str(),
                " (ids.shape + (D,))", why, ", got ", a.shape_str());
}

namespace {

// Checks all given arrays live on one device (GPU ones float32); true when that device is the GPU.
bool arrays_on_gpu(const char* op, std::initializer_list<const Array*> arrays) {
  const Array* first = nullptr;
  for (const Array* a : arrays) {
    if (!a->given()) continue;  // an optional argument left as None
    if (!first) first = a;
    FASTNLP_CHECK(a->on_gpu == first->on_gpu, op, ": ", a->name, " is on the ",
                  a->on_gpu ? "GPU" : "CPU", " but ", first->name, " is on the ",
                  first->on_gpu ? "GPU" : "CPU", "; all arrays must live on one device");
    if (a->on_gpu && a->dtype == DType::kFloat64)
      throw py::type_error(str_cat(op, ": the CUDA kernels take float32, got ", a->name, " as float64"));
  }
  FASTNLP_CHECK(first != nullptr, op, ": no array argument was given");
  return first->on_gpu;
}

}  // namespace

Backend backend_for(const char* op, std::initializer_list<const Array*> arrays, bool reference) {
  return select_backend(op, arrays_on_gpu(op, arrays), reference);
}

Backend cpu_backend_for(const char* op, std::initializer_list<const Array*> arrays, bool reference,
                        const char* gpu_route) {
  return select_cpu_backend(op, arrays_on_gpu(op, arrays), reference, gpu_route);
}

}  // namespace fastnlp::bindings
