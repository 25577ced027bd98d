// Bindings for ops/optim.h: SGD and AdaGrad, dense and on sparse rows, all in place. The updated
// arrays (parameters, accumulators) are taken as they are: writeable, C-contiguous and of the
// exact dtype, never converted (a converting copy would silently drop the update).
#include <cmath>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/optim.h"

namespace fastnlp::bindings {
namespace {

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
          dispatch_kernel<T>(be, FASTNLP_KERNEL(sgd_update), p.ptr<T>(), g.ptr<T>(), n, T(lr), T(wd));
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
          dispatch_kernel<T>(be, FASTNLP_KERNEL(adagrad_update), p.ptr<T>(), g.ptr<T>(), acc.ptr<T>(), n, T(lr),
                             T(eps), T(wd));
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
          dispatch_kernel<T>(be, FASTNLP_KERNEL(sgd_update_sparse), P.ptr<T>(), ids.ptr<I>(), rows.ptr<T>(), N, D,
                             T(lr), T(wd));
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
          dispatch_kernel<T>(be, FASTNLP_KERNEL(adagrad_update_sparse), P.ptr<T>(), acc.ptr<T>(), ids.ptr<I>(),
                             rows.ptr<T>(), N, D, T(lr), T(eps), T(wd));
        });
      },
      py::arg("P"), py::arg("acc"), py::arg("ids"), py::arg("rows"), py::arg("lr"), py::arg("eps") = 1e-8,
      py::arg("weight_decay") = 0.0, py::arg("reference") = false,
      "AdaGrad on the rows of P and acc (V, D) named by ids, repeated ids summed first; lazy weight decay "
      "as sgd_update_sparse.");
}

}  // namespace fastnlp::bindings

// ---- Adam and AdaDelta: the checks of the updates above, plus the moment / accumulator arrays (p's
// shape and dtype, in place), beta1, beta2 and rho in [0, 1), and a 1-based step.
namespace fastnlp::bindings {
namespace {

void check_unit(const char* op, const char* name, double x) {
  FASTNLP_CHECK(std::isfinite(x) && x >= 0.0 && x < 1.0, op, ": ", name, " must be in [0, 1), got ", x);
}

void check_step(const char* op, int64_t step) {
  FASTNLP_CHECK(step >= 1, op, ": step must be >= 1 (the 1-based count of this update), got ", step);
}

// A state array of a dense update: in place, p's shape and dtype.
Array state_like(const char* op, const char* name, const py::handle& obj, const Array& p) {
  Array a = float_inout(op, name, obj, p.ndim(), &p);
  FASTNLP_CHECK(a.shape == p.shape, op, ": ", name, " must have the shape of p ", p.shape_str(), ", got ",
                a.shape_str());
  return a;
}

// The arrays of a dense update with two state arrays: p, g and the states (p's shape and dtype),
// and the backend they choose.
struct DenseArgs {
  Array p, g, s1, s2;
  Backend be;
  int64_t n;
};
DenseArgs dense_args(const char* op, const py::handle& p_, const py::handle& g_, const char* n1,
                     const py::handle& s1_, const char* n2, const py::handle& s2_, bool reference) {
  DenseArgs a;
  a.p = float_inout(op, "p", p_, -1);
  a.g = grad_like(op, "g", g_, a.p);
  a.s1 = state_like(op, n1, s1_, a.p);
  a.s2 = state_like(op, n2, s2_, a.p);
  for (const Array* o : {&a.p, &a.s1, &a.s2}) expect_no_overlap(*o, {&a.p, &a.g, &a.s1, &a.s2});
  a.be = backend_for(op, {&a.p, &a.g, &a.s1, &a.s2}, reference);
  a.n = a.p.size();
  return a;
}

// The parameter rows and state of a sparse update: P (V, D), states (V, D), ids, rows (ids.shape + (D,)).
// Also the backend, with the ids checked against V on it, and N (ids) and D.
struct SparseArgs {
  Array P, s1, s2, ids, rows;
  Backend be;
  int64_t N, D;
};
SparseArgs sparse_args(const char* op, const py::handle& P_, const char* n1, const py::handle& s1_,
                       const char* n2, const py::handle& s2_, const py::handle& ids_, const py::handle& rows_,
                       bool reference) {
  SparseArgs a;
  a.P = float_inout(op, "P", P_, 2);
  const int64_t V = a.P.dim(0), D = a.P.dim(1);
  a.s1 = float_inout(op, n1, s1_, 2, &a.P);
  expect_shape(a.s1, {V, D}, " (the shape of P)");
  a.s2 = float_inout(op, n2, s2_, 2, &a.P);
  expect_shape(a.s2, {V, D}, " (the shape of P)");
  a.ids = ids_in(op, "ids", ids_, -1);
  a.rows = float_in(op, "rows", rows_, -1);
  expect_same_dtype(a.rows, a.P);
  expect_rows_shape(a.rows, a.ids, D, " with D from P");
  for (const Array* o : {&a.P, &a.s1, &a.s2}) expect_no_overlap(*o, {&a.P, &a.s1, &a.s2, &a.ids, &a.rows});
  a.be = backend_for(op, {&a.P, &a.s1, &a.s2, &a.ids, &a.rows}, reference);
  expect_ids_in_range(a.ids, ids_, V, "the rows of P");
  a.N = a.ids.size();
  a.D = D;
  return a;
}

}  // namespace

void bind_optim_adaptive(py::module_& m) {
  m.def(
      "adam_update",
      [](py::object p_, py::object g_, py::object m_, py::object v_, int64_t step, double lr, double beta1,
         double beta2, double eps, double wd, bool reference) {
        const char* op = "adam_update";
        check_hyper(op, lr, eps, wd);
        check_unit(op, "beta1", beta1);
        check_unit(op, "beta2", beta2);
        check_step(op, step);
        const DenseArgs a = dense_args(op, p_, g_, "m", m_, "v", v_, reference);
        py::gil_scoped_release nogil;
        float_dispatch(a.p, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(a.be, FASTNLP_KERNEL(adam_update), a.p.ptr<T>(), a.g.ptr<T>(), a.s1.ptr<T>(),
                             a.s2.ptr<T>(), a.n, step, T(lr), T(beta1), T(beta2), T(eps), T(wd));
        });
      },
      py::arg("p"), py::arg("g"), py::arg("m"), py::arg("v"), py::arg("step"), py::arg("lr"), py::arg("beta1") = 0.9,
      py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("reference") = false,
      "Adam in place on p and its moments m, v (p's shape and dtype), step the 1-based count of this update "
      "(torch.optim.Adam, L2 weight decay added to g).");

  m.def(
      "adadelta_update",
      [](py::object p_, py::object g_, py::object ag_, py::object adx_, double lr, double rho, double eps, double wd,
         bool reference) {
        const char* op = "adadelta_update";
        check_hyper(op, lr, eps, wd);
        check_unit(op, "rho", rho);
        const DenseArgs a = dense_args(op, p_, g_, "acc_g", ag_, "acc_dx", adx_, reference);
        py::gil_scoped_release nogil;
        float_dispatch(a.p, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(a.be, FASTNLP_KERNEL(adadelta_update), a.p.ptr<T>(), a.g.ptr<T>(), a.s1.ptr<T>(),
                             a.s2.ptr<T>(), a.n, T(lr), T(rho), T(eps), T(wd));
        });
      },
      py::arg("p"), py::arg("g"), py::arg("acc_g"), py::arg("acc_dx"), py::arg("lr") = 1.0, py::arg("rho") = 0.95,
      py::arg("eps") = 1e-6, py::arg("weight_decay") = 0.0, py::arg("reference") = false,
      "AdaDelta in place on p and its accumulators acc_g, acc_dx (p's shape and dtype), as torch.optim.Adadelta.");

  m.def(
      "adam_update_sparse",
      [](py::object P_, py::object m_, py::object v_, py::object ids_, py::object rows_, int64_t step, double lr,
         double beta1, double beta2, double eps, double wd, bool reference) {
        const char* op = "adam_update_sparse";
        check_hyper(op, lr, eps, wd);
        check_unit(op, "beta1", beta1);
        check_unit(op, "beta2", beta2);
        check_step(op, step);
        const SparseArgs a = sparse_args(op, P_, "m", m_, "v", v_, ids_, rows_, reference);
        const int64_t N = a.N, D = a.D;
        py::gil_scoped_release nogil;
        float_ids_dispatch(a.P, a.ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          dispatch_kernel<T>(a.be, FASTNLP_KERNEL(adam_update_sparse), a.P.ptr<T>(), a.s1.ptr<T>(), a.s2.ptr<T>(),
                             a.ids.ptr<I>(), a.rows.ptr<T>(), N, D, step, T(lr), T(beta1), T(beta2), T(eps), T(wd));
        });
      },
      py::arg("P"), py::arg("m"), py::arg("v"), py::arg("ids"), py::arg("rows"), py::arg("step"), py::arg("lr"),
      py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
      py::arg("reference") = false,
      "Adam on the rows of P, m, v (V, D) named by ids, repeated ids summed first; untouched rows and their "
      "moments are left alone (lazy, as torch.optim.SparseAdam).");

  m.def(
      "adadelta_update_sparse",
      [](py::object P_, py::object ag_, py::object adx_, py::object ids_, py::object rows_, double lr, double rho,
         double eps, double wd, bool reference) {
        const char* op = "adadelta_update_sparse";
        check_hyper(op, lr, eps, wd);
        check_unit(op, "rho", rho);
        const SparseArgs a = sparse_args(op, P_, "acc_g", ag_, "acc_dx", adx_, ids_, rows_, reference);
        const int64_t N = a.N, D = a.D;
        py::gil_scoped_release nogil;
        float_ids_dispatch(a.P, a.ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          dispatch_kernel<T>(a.be, FASTNLP_KERNEL(adadelta_update_sparse), a.P.ptr<T>(), a.s1.ptr<T>(), a.s2.ptr<T>(),
                             a.ids.ptr<I>(), a.rows.ptr<T>(), N, D, T(lr), T(rho), T(eps), T(wd));
        });
      },
      py::arg("P"), py::arg("acc_g"), py::arg("acc_dx"), py::arg("ids"), py::arg("rows"), py::arg("lr") = 1.0,
      py::arg("rho") = 0.95, py::arg("eps") = 1e-6, py::arg("weight_decay") = 0.0, py::arg("reference") = false,
      "AdaDelta on the rows of P, acc_g, acc_dx (V, D) named by ids, repeated ids summed first; lazy as "
      "adam_update_sparse.");
}

}  // namespace fastnlp::bindings
