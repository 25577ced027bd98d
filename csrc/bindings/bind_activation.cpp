// Bindings for activations and the bias + activation epilogue (used alone on the GPU, where
// the GEMM runs in CuPy). Outputs are preallocated by the Python layer and written in place.
#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/activation.h"

namespace fastnlp::bindings {

void bind_activation(py::module_& m) {
  m.def(
      "activation_forward",
      [](py::object x_, py::object y_, const std::string& act_name, bool reference) {
        const char* op = "activation_forward";
        const Activation act = activation_from_name(act_name);
        Array x = float_in(op, "x", x_, -1);
        Array y = float_in(op, "y", y_, x.ndim());
        expect_same_dtype(y, x);
        FASTNLP_CHECK(y.shape == x.shape, op, ": y must have the shape of x ", x.shape_str(),
                      ", got ", y.shape_str());
        FASTNLP_CHECK(y.writeable, op, ": y is written in place and must be writeable");
        expect_no_overlap(y, {&x}, /*same_ok=*/&x);
        const Backend be = backend_for(op, {&x, &y}, reference);
        const int64_t n = x.size();
        py::gil_scoped_release nogil;
        float_dispatch(x, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(activation_forward), act, x.ptr<T>(), y.ptr<T>(), n);
        });
      },
      py::arg("x"), py::arg("y"), py::arg("activation"), py::arg("reference") = false,
      "y = act(x), elementwise; x and y of any shape (same shape, same float dtype).");

  m.def(
      "activation_backward",
      [](py::object y_, py::object dy_, py::object dx_, const std::string& act_name, bool reference) {
        const char* op = "activation_backward";
        const Activation act = activation_from_name(act_name);
        Array y = float_in(op, "y", y_, -1);
        Array dy = float_in(op, "dy", dy_, y.ndim());
        Array dx = float_in(op, "dx", dx_, y.ndim());
        for (const Array* a : {&dy, &dx}) {
          expect_same_dtype(*a, y);
          FASTNLP_CHECK(a->shape == y.shape, op, ": ", a->name, " must have the shape of y ",
                        y.shape_str(), ", got ", a->shape_str());
        }
        FASTNLP_CHECK(dx.writeable, op, ": dx is written in place and must be writeable");
        expect_no_overlap(dx, {&dy, &y}, /*same_ok=*/&dy);
        const Backend be = backend_for(op, {&y, &dy, &dx}, reference);
        const int64_t n = y.size();
        py::gil_scoped_release nogil;
        float_dispatch(y, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(activation_backward), act, y.ptr<T>(), dy.ptr<T>(), dx.ptr<T>(),
                             n);
        });
      },
      py::arg("y"), py::arg("dy"), py::arg("dx"), py::arg("activation"), py::arg("reference") = false,
      "dx = dy * act'(x), written from the forward output y.");

  m.def(
      "bias_act_forward",
      [](py::object z_, py::object b_, const std::string& act_name) {
        const char* op = "bias_act_forward";
        const Activation act = activation_from_name(act_name);
        Array z = float_in(op, "z", z_, 2);
        FASTNLP_CHECK(z.writeable, op, ": z is written in place and must be writeable");
        const int64_t B = z.dim(0), H = z.dim(1);
        Array b;
        if (!is_none(b_)) {
          b = float_in(op, "b", b_, 1);
          expect_same_dtype(b, z);
          expect_shape(b, {H}, " (H, the columns of z)");
        }
        expect_no_overlap(z, {&b});
        const Backend be = backend_for(op, {&z, &b}, false);
        py::gil_scoped_release nogil;
        float_dispatch(z, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL_NO_REF(bias_act_forward), act, z.ptr<T>(), b.ptr<T>(), B, H);
        });
      },
      py::arg("z"), py::arg("b"), py::arg("activation"),
      "In place: z (B, H) = act(z + b), b (H) or None.");

  m.def(
      "bias_act_backward",
      [](py::object y_, py::object dy_, py::object dz_, py::object db_, const std::string& act_name,
         bool accumulate) {
        const char* op = "bias_act_backward";
        const Activation act = activation_from_name(act_name);
        Array y = float_in(op, "y", y_, 2);
        const int64_t B = y.dim(0), H = y.dim(1);
        Array dy = float_in(op, "dy", dy_, 2);
        expect_same_dtype(dy, y);
        expect_shape(dy, {B, H}, " (the shape of y)");
        Array dz = float_out(op, "dz", dz_, y, {B, H});
        Array db;
        if (!is_none(db_)) db = float_out(op, "db", db_, y, {H});
        expect_no_overlap(dz, {&y, &dy, &db}, /*same_ok=*/&dy);
        expect_no_overlap(db, {&y, &dy, &dz});
        const Backend be = backend_for(op, {&y, &dy, &dz, &db}, false);
        py::gil_scoped_release nogil;
        float_dispatch(y, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL_NO_REF(bias_act_backward), act, y.ptr<T>(), dy.ptr<T>(),
                             dz.ptr<T>(), db.ptr<T>(), B, H, accumulate);
        });
      },
      py::arg("y"), py::arg("dy"), py::arg("dz"), py::arg("db"), py::arg("activation"),
      py::arg("accumulate") = false,
      "dz (B, H) = dy * act'(y); db (H) = column sums of dz (added when accumulate) or None.");
}

}  // namespace fastnlp::bindings
