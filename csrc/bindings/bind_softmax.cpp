// Bindings for the softmax family (ops/softmax.h): row-wise softmax / log-softmax, their backward
// passes and fused softmax + cross-entropy. Outputs are preallocated by fastnlp.ops.softmax.
#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/softmax.h"

namespace fastnlp::bindings {
namespace {

template <typename I>
int64_t first_bad_target(const I* t, int64_t B, int64_t V, int64_t ignore_index) {
  for (int64_t i = 0; i < B; ++i) {
    const int64_t v = static_cast<int64_t>(t[i]);
    if (v != ignore_index && (v < 0 || v >= V)) return i;
  }
  return -1;
}

// softmax_forward / log_softmax_forward: x (B, V) -> y (B, V); y may be x. `kernel` from
// FASTNLP_KERNEL (dispatch.h).
template <typename Kernel>
void def_forward(py::module_& m, const char* name, Kernel kernel, const char* doc) {
  m.def(
      name,
      [name, kernel](py::object x_, py::object y_, bool reference) {
        Array x = float_in(name, "x", x_, 2);
        const int64_t B = x.dim(0), V = x.dim(1);
        Array y = float_out(name, "y", y_, x, {B, V});
        expect_no_overlap(y, {&x}, /*same_ok=*/&x);
        const Backend be = backend_for(name, {&x, &y}, reference);
        py::gil_scoped_release nogil;
        float_dispatch(x, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, kernel, x.ptr<T>(), y.ptr<T>(), B, V);
        });
      },
      py::arg("x"), py::arg("y"), py::arg("reference") = false, doc);
}

// softmax_backward / log_softmax_backward: y, dy (B, V) -> dx (B, V); dx may be dy.
template <typename Kernel>
void def_backward(py::module_& m, const char* name, Kernel kernel, const char* doc) {
  m.def(
      name,
      [name, kernel](py::object y_, py::object dy_, py::object dx_, bool reference) {
        Array y = float_in(name, "y", y_, 2);
        const int64_t B = y.dim(0), V = y.dim(1);
        Array dy = float_in(name, "dy", dy_, 2);
        expect_same_dtype(dy, y);
        expect_shape(dy, {B, V}, " (B, V), the shape of y");
        Array dx = float_out(name, "dx", dx_, y, {B, V});
        expect_no_overlap(dx, {&y, &dy}, /*same_ok=*/&dy);
        const Backend be = backend_for(name, {&y, &dy, &dx}, reference);
        py::gil_scoped_release nogil;
        float_dispatch(y, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, kernel, y.ptr<T>(), dy.ptr<T>(), dx.ptr<T>(), B, V);
        });
      },
      py::arg("y"), py::arg("dy"), py::arg("dx"), py::arg("reference") = false, doc);
}

}  // namespace

void bind_softmax(py::module_& m) {
  def_forward(m, "softmax_forward", FASTNLP_KERNEL(softmax_forward),
              "y (B, V) = softmax of each row of x (B, V); y may be x.");
  def_forward(m, "log_softmax_forward", FASTNLP_KERNEL(log_softmax_forward),
              "y (B, V) = log_softmax of each row of x (B, V); y may be x.");
  def_backward(m, "softmax_backward", FASTNLP_KERNEL(softmax_backward),
               "dx (B, V) = y * (dy - sum_j dy_j y_j) from the softmax output y; dx may be dy.");
  def_backward(m, "log_softmax_backward", FASTNLP_KERNEL(log_softmax_backward),
               "dx (B, V) = dy - exp(y) * sum_j dy_j from the log_softmax output y; dx may be dy.");

  m.def(
      "softmax_cross_entropy",
      [](py::object logits_, py::object targets_, py::object losses_, py::object dlogits_,
         int64_t ignore_index, bool reference) {
        const char* op = "softmax_cross_entropy";
        Array logits = float_in(op, "logits", logits_, 2);
        const int64_t B = logits.dim(0), V = logits.dim(1);
        Array targets = ids_in(op, "targets", targets_, 1);
        expect_shape(targets, {B}, " (B, the rows of logits)");
        Array losses, dlogits;
        if (!is_none(losses_)) losses = float_out(op, "losses", losses_, logits, {B});
        if (!is_none(dlogits_)) dlogits = float_out(op, "dlogits", dlogits_, logits, {B, V});
        expect_no_overlap(dlogits, {&logits, &targets, &losses}, /*same_ok=*/&logits);
        expect_no_overlap(losses, {&logits, &targets, &dlogits});
        const Backend be = backend_for(op, {&logits, &targets, &losses, &dlogits}, reference);
        if (!targets.on_gpu) {
          ids_dispatch(targets, [&](auto i) {
            using I = decltype(i);
            const I* t = targets.ptr<I>();
            const int64_t bad = first_bad_target(t, B, V, ignore_index);
            FASTNLP_CHECK(bad < 0, op, ": targets must be in [0, ", V, ") or equal ignore_index ",
                          ignore_index, ", got ", bad < 0 ? 0 : static_cast<int64_t>(t[bad]),
                          " at position ", bad);
          });
        }
        double loss = 0;
        py::gil_scoped_release nogil;
        float_ids_dispatch(logits, targets, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          const I* tg = targets.ptr<I>();
          if (be == Backend::kCuda) {  // the CPU targets were checked above
            FASTNLP_CUDA_ONLY(
                const int64_t bad = cuda::first_id_out_of_range(tg, B, V, ignore_index);
                if (bad >= 0) throw std::invalid_argument(str_cat(
                    op, ": targets must be in [0, ", V, ") or equal ignore_index ", ignore_index,
                    ", got an id out of range at position ", bad)));
          }
          loss = dispatch_kernel<T>(be, FASTNLP_KERNEL(softmax_cross_entropy), logits.ptr<T>(), tg, B, V,
                                    ignore_index, losses.ptr<T>(), dlogits.ptr<T>());
        });
        return loss;
      },
      py::arg("logits"), py::arg("targets"), py::arg("losses"), py::arg("dlogits"),
      py::arg("ignore_index") = -100, py::arg("reference") = false,
      "Mean cross-entropy of softmax(logits (B, V)) against targets (B) over the rows whose target "
      "is not ignore_index. Writes losses (B) per row and dlogits (B, V), the gradient of the mean "
      "(each may be None; dlogits may be logits itself).");
}

}  // namespace fastnlp::bindings
