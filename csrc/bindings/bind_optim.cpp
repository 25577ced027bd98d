// Bindings for ops/optim.h: SGD and AdaGrad, dense and on sparse rows, all in place. The updated
// arrays (parameters, accumulators) are taken as they are: writeable, C-contiguous and of the
// exact dtype, never converted (a converting copy would silently drop the update).
#include <cmath>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/optim.h"

namespace fastnlp::bindings {
namespace {

// Runs f(I{}) with I = int32_t or int64_t according to an ids array's dtype (as the softmax
// bindings do; a candidate for array.h once all binding files share one).
// A float array updated in place: float_in plus writeable; with `like`, also its dtype.
Array float_inout(const char* op, const char* name, const py::handle& obj, int ndim,
                  const Array* like = nullptr) {
  Array a = float_in(op, name, obj, ndim);
  if (like) expect_same_dtype(a, *like);
  FASTNLP_CHECK(a.writeable, op, ": ", name,
                " is updated in place and must be writeable, got a read-only array");
  return a;
}

void check_hyper(const char* op, double lr, double eps, double wd) {
  FASTNLP_CHECK(std::isfinite(lr) && lr > 0, op, ": lr must be a positive finite number, got ", lr);
  FASTNLP_CHECK(std::isfinite(eps) && eps > 0, op, ": eps must be a positive finite number, got ", eps);
  FASTNLP_CHECK(std::isfinite(wd) && wd >= 0, op, ": weight_decay must be a finite number >= 0, got ", wd);
}

// The gradient of a dense update: p's dtype and shape.
Array grad_like(const char* op, const char* name, const py::handle& obj, const Array& p) {
  Array g = float_in(op, name, obj, p.ndim());
  expect_same_dtype(g, p);
  FASTNLP_CHECK(g.shape == p.shape, op, ": ", name, " must have the shape of p ", p.shape_str(), ", got ",
                g.shape_str());
  return g;
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "sgd_update",
      [](py::object p_, py::object g_, double lr, double wd, bool reference) {
        const char* op = "sgd_update";
        check_hyper(op, lr, 1.0, wd);
        Array p = float_inout(op, "p", p_, -1);
        Array g = grad_like(op, "g", g_, p);
        expect_no_overlap(p, {&g});
        const Backend be = backend_for(op, {&p, &g}, reference);
        const int64_t n = p.size();
        py::gil_scoped_release nogil;
        float_dispatch(p, [&](auto t) {
          using T = decltype(t);
          dispatch(
              be, [&] { sgd_update_ref(p.ptr<T>(), g.ptr<T>(), n, T(lr), T(wd)); },
              [&] { sgd_update(p.ptr<T>(), g.ptr<T>(), n, T(lr), T(wd)); },
              [&] {
                FASTNLP_CUDA_ONLY(cuda::sgd_update(p.ptr<float>(), g.ptr<float>(), n, float(lr), float(wd)));
              });
        });
      },
      py::arg("p"), py::arg("g"), py::arg("lr"), py::arg("weight_decay") = 0.0, py::arg("reference") = false,
      "In place: p -= lr * (g + weight_decay * p); p and g of any shape (the same), one float dtype.");

  m.def(
      "adagrad_update",
      [](py::object p_, py::object g_, py::object acc_, double lr, double eps, double wd, bool reference) {
        const char* op = "adagrad_update";
        check_hyper(op, lr, eps, wd);
        Array p = float_inout(op, "p", p_, -1);
        Array g = grad_like(op, "g", g_, p);
        Array acc = float_inout(op, "acc", acc_, p.ndim(), &p);
        FASTNLP_CHECK(acc.shape == p.shape, op, ": acc must have the shape of p ", p.shape_str(), ", got ",
                      acc.shape_str());
        for (const Array* o : {&p, &acc}) expect_no_overlap(*o, {&p, &g, &acc});
        const Backend be = backend_for(op, {&p, &g, &acc}, reference);
        const int64_t n = p.size();
        py::gil_scoped_release nogil;
        float_dispatch(p, [&](auto t) {
          using T = decltype(t);
          dispatch(
              be, [&] { adagrad_update_ref(p.ptr<T>(), g.ptr<T>(), acc.ptr<T>(), n, T(lr), T(eps), T(wd)); },
              [&] { adagrad_update(p.ptr<T>(), g.ptr<T>(), acc.ptr<T>(), n, T(lr), T(eps), T(wd)); },
              [&] {
                FASTNLP_CUDA_ONLY(cuda::adagrad_update(p.ptr<float>(), g.ptr<float>(), acc.ptr<float>(), n,
                                                       float(lr), float(eps), float(wd)));
              });
        });
      },
      py::arg("p"), py::arg("g"), py::arg("acc"), py::arg("lr"), py::arg("eps") = 1e-8,
      py::arg("weight_decay") = 0.0, py::arg("reference") = false,
      "In place: g' = g + weight_decay * p; acc += g'^2; p -= lr * g' / (sqrt(acc) + eps).");

  m.def(
      "sgd_update_sparse",
      [](py::object P_, py::object ids_, py::object rows_, double lr, double wd, bool reference) {
        const char* op = "sgd_update_sparse";
        check_hyper(op, lr, 1.0, wd);
        Array P = float_inout(op, "P", P_, 2);
        const int64_t V = P.dim(0), D = P.dim(1);
        Array ids = ids_in(op, "ids", ids_, -1);
        Array rows = float_in(op, "rows", rows_, -1);
        expect_same_dtype(rows, P);
        expect_rows_shape(rows, ids, D, " with D from P");
        expect_no_overlap(P, {&ids, &rows});
        const Backend be = backend_for(op, {&P, &ids, &rows}, reference);
        expect_ids_in_range(ids, ids_, V, "the rows of P");
        const int64_t N = ids.size();
        py::gil_scoped_release nogil;
        float_ids_dispatch(P, ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          dispatch(
              be,
              [&] { sgd_update_sparse_ref(P.ptr<T>(), ids.ptr<I>(), rows.ptr<T>(), N, D, T(lr), T(wd)); },
              [&] { sgd_update_sparse(P.ptr<T>(), ids.ptr<I>(), rows.ptr<T>(), N, D, T(lr), T(wd)); },
              [&] {
                FASTNLP_CUDA_ONLY(cuda::sgd_update_sparse<I>(P.ptr<float>(), ids.ptr<I>(), rows.ptr<float>(),
                                                            N, D, float(lr), float(wd)));
              });
        });
      },
      py::arg("P"), py::arg("ids"), py::arg("rows"), py::arg("lr"), py::arg("weight_decay") = 0.0,
      py::arg("reference") = false,
      "In place on the rows of P (V, D) named by ids (any shape; rows: ids.shape + (D,)): repeated ids "
      "are summed first, then each touched row gets one SGD step. Weight decay is lazy: untouched rows "
      "are not decayed.");

  m.def(
      "adagrad_update_sparse",
      [](py::object P_, py::object acc_, py::object ids_, py::object rows_, double lr, double eps, double wd,
         bool reference) {
        const char* op = "adagrad_update_sparse";
        check_hyper(op, lr, eps, wd);
        Array P = float_inout(op, "P", P_, 2);
        const int64_t V = P.dim(0), D = P.dim(1);
        Array acc = float_inout(op, "acc", acc_, 2, &P);
        expect_shape(acc, {V, D}, " (the shape of P)");
        Array ids = ids_in(op, "ids", ids_, -1);
        Array rows = float_in(op, "rows", rows_, -1);
        expect_same_dtype(rows, P);
        expect_rows_shape(rows, ids, D, " with D from P");
        for (const Array* o : {&P, &acc}) expect_no_overlap(*o, {&P, &acc, &ids, &rows});
        const Backend be = backend_for(op, {&P, &acc, &ids, &rows}, reference);
        expect_ids_in_range(ids, ids_, V, "the rows of P");
        const int64_t N = ids.size();
        py::gil_scoped_release nogil;
        float_ids_dispatch(P, ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          dispatch(
              be,
              [&] {
                adagrad_update_sparse_ref(P.ptr<T>(), acc.ptr<T>(), ids.ptr<I>(), rows.ptr<T>(), N, D,
                                          T(lr), T(eps), T(wd));
              },
              [&] {
                adagrad_update_sparse(P.ptr<T>(), acc.ptr<T>(), ids.ptr<I>(), rows.ptr<T>(), N, D, T(lr),
                                      T(eps), T(wd));
              },
              [&] {
                FASTNLP_CUDA_ONLY(cuda::adagrad_update_sparse<I>(P.ptr<float>(), acc.ptr<float>(),
                                                                ids.ptr<I>(), rows.ptr<float>(), N, D,
                                                                float(lr), float(eps), float(wd)));
              });
        });
      },
      py::arg("P"), py::arg("acc"), py::arg("ids"), py::arg("rows"), py::arg("lr"), py::arg("eps") = 1e-8,
      py::arg("weight_decay") = 0.0, py::arg("reference") = false,
      "AdaGrad on the rows of P and acc (V, D) named by ids, repeated ids summed first; lazy weight decay "
      "as sgd_update_sparse.");
}

}  // namespace fastnlp::bindings
