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

// The parameter rows and state of a sparse update: P (V, D), states (V, D), ids, rows (ids.shape + (D,)).
struct SparseArgs {
  Array P, s1, s2, ids, rows;
};
SparseArgs sparse_args(const char* op, const py::handle& P_, const char* n1, const py::handle& s1_,
                       const char* n2, const py::handle& s2_, const py::handle& ids_, const py::handle& rows_) {
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
        Array p = float_inout(op, "p", p_, -1);
        Array g = grad_like(op, "g", g_, p);
        Array mm = state_like(op, "m", m_, p);
        Array v = state_like(op, "v", v_, p);
        const Backend be = backend_for(op, {&p, &g, &mm, &v}, reference);
        const int64_t n = p.size();
        py::gil_scoped_release nogil;
        float_dispatch(p, [&](auto t) {
          using T = decltype(t);
          dispatch(
              be,
              [&] {
                adam_update_ref(p.ptr<T>(), g.ptr<T>(), mm.ptr<T>(), v.ptr<T>(), n, step, T(lr), T(beta1), T(beta2),
                                T(eps), T(wd));
              },
              [&] {
                adam_update(p.ptr<T>(), g.ptr<T>(), mm.ptr<T>(), v.ptr<T>(), n, step, T(lr), T(beta1), T(beta2),
                            T(eps), T(wd));
              },
              [&] {
                FASTNLP_CUDA_ONLY(cuda::adam_update(p.ptr<float>(), g.ptr<float>(), mm.ptr<float>(), v.ptr<float>(),
                                                    n, step, float(lr), float(beta1), float(beta2), float(eps),
                                                    float(wd)));
              });
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
        Array p = float_inout(op, "p", p_, -1);
        Array g = grad_like(op, "g", g_, p);
        Array ag = state_like(op, "acc_g", ag_, p);
        Array adx = state_like(op, "acc_dx", adx_, p);
        const Backend be = backend_for(op, {&p, &g, &ag, &adx}, reference);
        const int64_t n = p.size();
        py::gil_scoped_release nogil;
        float_dispatch(p, [&](auto t) {
          using T = decltype(t);
          dispatch(
              be,
              [&] {
                adadelta_update_ref(p.ptr<T>(), g.ptr<T>(), ag.ptr<T>(), adx.ptr<T>(), n, T(lr), T(rho), T(eps),
                                    T(wd));
              },
              [&] {
                adadelta_update(p.ptr<T>(), g.ptr<T>(), ag.ptr<T>(), adx.ptr<T>(), n, T(lr), T(rho), T(eps), T(wd));
              },
              [&] {
                FASTNLP_CUDA_ONLY(cuda::adadelta_update(p.ptr<float>(), g.ptr<float>(), ag.ptr<float>(),
                                                        adx.ptr<float>(), n, float(lr), float(rho), float(eps),
                                                        float(wd)));
              });
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
        SparseArgs a = sparse_args(op, P_, "m", m_, "v", v_, ids_, rows_);
        const Backend be = backend_for(op, {&a.P, &a.s1, &a.s2, &a.ids, &a.rows}, reference);
        expect_ids_in_range(a.ids, ids_, a.P.dim(0), "the rows of P");
        const int64_t N = a.ids.size(), D = a.P.dim(1);
        py::gil_scoped_release nogil;
        float_ids_dispatch(a.P, a.ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          dispatch(
              be,
              [&] {
                adam_update_sparse_ref(a.P.ptr<T>(), a.s1.ptr<T>(), a.s2.ptr<T>(), a.ids.ptr<I>(), a.rows.ptr<T>(), N,
                                       D, step, T(lr), T(beta1), T(beta2), T(eps), T(wd));
              },
              [&] {
                adam_update_sparse(a.P.ptr<T>(), a.s1.ptr<T>(), a.s2.ptr<T>(), a.ids.ptr<I>(), a.rows.ptr<T>(), N, D,
                                   step, T(lr), T(beta1), T(beta2), T(eps), T(wd));
              },
              [&] {
                FASTNLP_CUDA_ONLY(cuda::adam_update_sparse<I>(a.P.ptr<float>(), a.s1.ptr<float>(), a.s2.ptr<float>(),
                                                              a.ids.ptr<I>(), a.rows.ptr<float>(), N, D, step,
                                                              float(lr), float(beta1), float(beta2), float(eps),
                                                              float(wd)));
              });
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
        SparseArgs a = sparse_args(op, P_, "acc_g", ag_, "acc_dx", adx_, ids_, rows_);
        const Backend be = backend_for(op, {&a.P, &a.s1, &a.s2, &a.ids, &a.rows}, reference);
        expect_ids_in_range(a.ids, ids_, a.P.dim(0), "the rows of P");
        const int64_t N = a.ids.size(), D = a.P.dim(1);
        py::gil_scoped_release nogil;
        float_ids_dispatch(a.P, a.ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          dispatch(
              be,
              [&] {
                adadelta_update_sparse_ref(a.P.ptr<T>(), a.s1.ptr<T>(), a.s2.ptr<T>(), a.ids.ptr<I>(),
                                           a.rows.ptr<T>(), N, D, T(lr), T(rho), T(eps), T(wd));
              },
              [&] {
                adadelta_update_sparse(a.P.ptr<T>(), a.s1.ptr<T>(), a.s2.ptr<T>(), a.ids.ptr<I>(), a.rows.ptr<T>(),
                                       N, D, T(lr), T(rho), T(eps), T(wd));
              },
              [&] {
                FASTNLP_CUDA_ONLY(cuda::adadelta_update_sparse<I>(a.P.ptr<float>(), a.s1.ptr<float>(),
                                                                  a.s2.ptr<float>(), a.ids.ptr<I>(),
                                                                  a.rows.ptr<float>(), N, D, float(lr), float(rho),
                                                                  float(eps), float(wd)));
              });
        });
      },
      py::arg("P"), py::arg("acc_g"), py::arg("acc_dx"), py::arg("ids"), py::arg("rows"), py::arg("lr") = 1.0,
      py::arg("rho") = 0.95, py::arg("eps") = 1e-6, py::arg("weight_decay") = 0.0, py::arg("reference") = false,
      "AdaDelta on the rows of P, acc_g, acc_dx (V, D) named by ids, repeated ids summed first; lazy as "
      "adam_update_sparse.");
}

}  // namespace fastnlp::bindings
