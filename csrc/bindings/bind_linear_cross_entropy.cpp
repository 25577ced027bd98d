// Binding of the fused output layer + cross-entropy (ops/linear_cross_entropy.h), CPU only: on the
// GPU the same result is fastnlp.ops.linear followed by softmax_cross_entropy.
#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/linear_cross_entropy.h"

namespace fastnlp::bindings {

void bind_linear_cross_entropy(py::module_& m) {
  m.def(
      "linear_cross_entropy",
      [](py::object x_, py::object W_, py::object b_, py::object targets_, py::object losses_, bool reference) {
        const char* op = "linear_cross_entropy";
        Array x = float_in(op, "x", x_, 2);
        const int64_t B = x.dim(0), H = x.dim(1);
        Array W = float_in(op, "W", W_, 2);
        expect_same_dtype(W, x);
        expect_shape(W, {-1, H}, " (V, H) with H from x");
        const int64_t V = W.dim(0);
        FASTNLP_CHECK(V > 0, op, ": W must have at least one row (V >= 1), got shape (0, ", H, ")");
        Array b;
        if (!is_none(b_)) {
          b = float_in(op, "b", b_, 1);
          expect_same_dtype(b, x);
          expect_shape(b, {V}, " (V, the rows of W)");
        }
        Array targets = ids_in(op, "targets", targets_, 1);
        expect_shape(targets, {B}, " (B, the rows of x)");
        Array losses;
        if (!is_none(losses_)) losses = float_out(op, "losses", losses_, x, {B});
        expect_no_overlap(losses, {&x, &W, &b, &targets});
        const Backend be = cpu_backend_for(op, {&x, &W, &b, &targets, &losses}, reference,
                                           "fastnlp.ops.linear + softmax_cross_entropy");
        expect_ids_in_range(targets, V, "rows of W");
        double loss = 0;
        py::gil_scoped_release nogil;
        float_ids_dispatch(x, targets, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          loss = dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(linear_cross_entropy), x.ptr<T>(), W.ptr<T>(),
                                    b.ptr<T>(), targets.ptr<I>(), B, H, V, losses.ptr<T>());
        });
        return loss;
      },
      py::arg("x"), py::arg("W"), py::arg("b"), py::arg("targets"), py::arg("losses"),
      py::arg("reference") = false,
      "Mean cross-entropy of softmax(x W^T + b) against targets without materializing the logits: "
      "x (B, H), W (V, H), b (V) or None, targets (B) ids in [0, V); losses (B) or None receives "
      "each row's loss.");
}

}  // namespace fastnlp::bindings
