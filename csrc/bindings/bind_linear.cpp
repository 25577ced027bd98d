// Bindings for the dense layer y = act(x W^T + b) on the CPU. On the GPU fastnlp.ops.linear runs
// the GEMM in CuPy (cuBLAS) and calls bias_act_forward / bias_act_backward for the fused rest.
#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/linear.h"

namespace fastnlp::bindings {
namespace {

// GPU arrays: the GEMM in cuBLAS + bias_act_forward / bias_act_backward (dispatch.h, rule 2).
const char* kGpuRoute = "fastnlp.ops.linear / linear_backward";

}  // namespace

void bind_linear(py::module_& m) {
  m.def(
      "linear_forward",
      [](py::object x_, py::object W_, py::object b_, py::object y_, const std::string& act_name,
         bool reference) {
        const char* op = "linear_forward";
        const Activation act = activation_from_name(act_name);
        Array x = float_in(op, "x", x_, 2);
        const int64_t B = x.dim(0), D = x.dim(1);
        Array W = float_in(op, "W", W_, 2);
        expect_same_dtype(W, x);
        expect_shape(W, {-1, D}, " (H, D) with D from x");
        const int64_t H = W.dim(0);
        Array b;
        if (!is_none(b_)) {
          b = float_in(op, "b", b_, 1);
          expect_same_dtype(b, x);
          expect_shape(b, {H}, " (H, the rows of W)");
        }
        Array y = float_out(op, "y", y_, x, {B, H});
        expect_no_overlap(y, {&x, &W, &b});
        const Backend be = cpu_backend_for(op, {&x, &W, &b, &y}, reference, kGpuRoute);
        py::gil_scoped_release nogil;
        float_dispatch(x, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(linear_forward), act, x.ptr<T>(), W.ptr<T>(), b.ptr<T>(),
                             y.ptr<T>(), B, D, H);
        });
      },
      py::arg("x"), py::arg("W"), py::arg("b"), py::arg("y"), py::arg("activation"),
      py::arg("reference") = false, "y (B, H) = act(x (B, D) W^T (H, D) + b (H)).");

  m.def(
      "linear_backward",
      [](py::object x_, py::object W_, py::object y_, py::object dy_, py::object dx_, py::object dW_,
         py::object db_, const std::string& act_name, bool accumulate, bool reference) {
        const char* op = "linear_backward";
        const Activation act = activation_from_name(act_name);
        Array x = float_in(op, "x", x_, 2);
        const int64_t B = x.dim(0), D = x.dim(1);
        Array W = float_in(op, "W", W_, 2);
        expect_same_dtype(W, x);
        expect_shape(W, {-1, D}, " (H, D) with D from x");
        const int64_t H = W.dim(0);
        Array y = float_in(op, "y", y_, 2);
        expect_same_dtype(y, x);
        expect_shape(y, {B, H}, " (B, H), the forward output");
        Array dy = float_in(op, "dy", dy_, 2);
        expect_same_dtype(dy, x);
        expect_shape(dy, {B, H}, " (B, H), the shape of y");
        Array dx, dW, db;
        if (!is_none(dx_)) dx = float_out(op, "dx", dx_, x, {B, D});
        if (!is_none(dW_)) dW = float_out(op, "dW", dW_, x, {H, D});
        if (!is_none(db_)) db = float_out(op, "db", db_, x, {H});
        for (const Array* out : {&dx, &dW, &db}) expect_no_overlap(*out, {&x, &W, &y, &dy, &dx, &dW, &db});
        const Backend be = cpu_backend_for(op, {&x, &W, &y, &dy, &dx, &dW, &db}, reference, kGpuRoute);
        py::gil_scoped_release nogil;
        float_dispatch(x, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(linear_backward), act, x.ptr<T>(), W.ptr<T>(), y.ptr<T>(),
                             dy.ptr<T>(), dx.ptr<T>(), dW.ptr<T>(), db.ptr<T>(), B, D, H, accumulate);
        });
      },
      py::arg("x"), py::arg("W"), py::arg("y"), py::arg("dy"), py::arg("dx"), py::arg("dW"),
      py::arg("db"), py::arg("activation"), py::arg("accumulate") = false, py::arg("reference") = false,
      "Gradients of linear_forward: dx (B, D), dW (H, D), db (H); each may be None. "
      "accumulate adds into dW and db instead of overwriting.");
}

}  // namespace fastnlp::bindings
