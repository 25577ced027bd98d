// Bindings for ops/dropout.h. Python allocates y and (when it is drawn) the mask and passes them in;
// a given mask is checked to be uint8 of x's shape holding only 0 and 1 (on the CPU).
#include <cmath>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/dropout.h"

namespace fastnlp::bindings {
namespace {

void check_p(const char* op, double p) {
  FASTNLP_CHECK(std::isfinite(p) && p >= 0.0 && p < 1.0, op, ": p must be a probability in [0, 1), got ", p);
}

// The mask: uint8 (NumPy "uint8", CUDA array interface "|u1"), C-contiguous, of x's shape; written
// when `written` (then also writeable). On the CPU a mask that is read must hold only 0 and 1.
Array mask_arg(const char* op, const py::handle& obj, const Array& x, bool written) {
  Array m = as_array(op, "mask", obj);
  if (m.dtype_name != "uint8" && m.dtype_name != "|u1")
    throw py::type_error(str_cat(op, ": mask must be uint8 (1 = kept, 0 = dropped), got ", m.dtype_name,
                                 " with shape ", m.shape_str()));
  FASTNLP_CHECK(m.contiguous, op, ": mask must be C-contiguous, got a strided view of shape ", m.shape_str());
  FASTNLP_CHECK(m.shape == x.shape, op, ": mask must have the shape of ", x.name, " ", x.shape_str(), ", got ",
                m.shape_str());
  if (written) {
    FASTNLP_CHECK(m.writeable, op, ": mask is written in place and must be writeable, got a read-only array");
  } else if (!m.on_gpu) {
    const int64_t bad = dropout_first_bad_mask(m.ptr<uint8_t>(), m.size());
    FASTNLP_CHECK(bad == m.size(), op, ": mask must hold only 0 (dropped) and 1 (kept), got ",
                  int(m.ptr<uint8_t>()[bad]), " at flat position ", bad);
  }
  return m;
}

// y (or dx): written in place, x's dtype and shape; it may be x itself.
Array out_like(const char* op, const char* name, const py::handle& obj, const Array& x) {
  Array y = float_in(op, name, obj, x.ndim());
  expect_same_dtype(y, x);
  FASTNLP_CHECK(y.shape == x.shape, op, ": ", name, " must have the shape of ", x.name, " ", x.shape_str(),
                ", got ", y.shape_str());
  FASTNLP_CHECK(y.writeable, op, ": ", name, " is written in place and must be writeable, got a read-only array");
  return y;
}

}  // namespace

void bind_dropout(py::module_& m) {
  m.def(
      "dropout_forward",
      [](py::object x_, py::object mask_, py::object y_, double p, uint64_t seed, bool draw, bool reference) {
        const char* op = "dropout";
        check_p(op, p);
        Array x = float_in(op, "x", x_, -1);
        Array mask = mask_arg(op, mask_, x, draw);
        Array y = out_like(op, "out", y_, x);
        expect_no_overlap(y, {&x, &mask}, /*same_ok=*/&x);
        expect_no_overlap(mask, {&x});
        const Backend be = backend_for(op, {&x, &mask, &y}, reference);
        const int64_t n = x.size();
        py::gil_scoped_release nogil;
        float_dispatch(x, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(dropout_forward), x.ptr<T>(), mask.ptr<uint8_t>(), y.ptr<T>(), n, p,
                             seed, draw);
        });
      },
      py::arg("x"), py::arg("mask"), py::arg("y"), py::arg("p"), py::arg("seed"), py::arg("draw"),
      py::arg("reference") = false,
      "y = x * mask / (1 - p); when draw, mask (uint8, x's shape) is first drawn from seed (element i "
      "kept with probability 1 - p, the same on any thread count and device). y may be x.");

  m.def(
      "dropout_backward",
      [](py::object dy_, py::object mask_, py::object dx_, double p, bool reference) {
        const char* op = "dropout_backward";
        check_p(op, p);
        Array dy = float_in(op, "dy", dy_, -1);
        Array mask = mask_arg(op, mask_, dy, false);
        Array dx = out_like(op, "out", dx_, dy);
        expect_no_overlap(dx, {&dy, &mask}, /*same_ok=*/&dy);
        const Backend be = backend_for(op, {&dy, &mask, &dx}, reference);
        const int64_t n = dy.size();
        py::gil_scoped_release nogil;
        float_dispatch(dy, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(dropout_backward), dy.ptr<T>(), mask.ptr<uint8_t>(), dx.ptr<T>(), n, p);
        });
      },
      py::arg("dy"), py::arg("mask"), py::arg("dx"), py::arg("p"), py::arg("reference") = false,
      "dx = dy * mask / (1 - p), mask from the forward. dx may be dy.");
}

}  // namespace fastnlp::bindings
