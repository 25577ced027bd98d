// Bindings for conv1d over time with fused bias + activation and optional max / avg pooling
// (ops/conv1d.h). The kernels here are CPU only; on the GPU fastnlp.ops.conv runs unfold + cuBLAS
// (via CuPy) + the pooling kernels of bind_sequence_cuda.cpp after conv1d_check_args. Outputs are
// preallocated by fastnlp.ops.conv and written in place.
#include <algorithm>
#include <string>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "bindings/lengths.h"
#include "ops/conv1d.h"

namespace fastnlp::bindings {
namespace {

const char* kNoCuda = ": no CUDA kernel in this binding; for GPU arrays call fastnlp.ops.conv1d / conv1d_backward";

struct ConvArgs {
  Array x, W;
  Conv1dDims d{};
  int64_t T_out = 0;
  std::vector<int64_t> lengths;
};

// x (B, T, D), W (H, K*D), lengths; K from W's columns. Narrow mode needs every sequence >= K.
ConvArgs conv_args(const char* op, ConvMode mode, const py::object& x_, const py::object& W_,
                   const py::object& lengths_) {
  ConvArgs a;
  a.x = float_in(op, "x", x_, 3);
  a.W = float_in(op, "W", W_, 2);
  expect_same_dtype(a.W, a.x);
  const int64_t B = a.x.dim(0), T = a.x.dim(1), D = a.x.dim(2);
  FASTNLP_CHECK(a.W.dim(1) % D == 0, op, ": W must have shape (H, K*D) with D=", D,
                " from x (K the filter width), got ", a.W.shape_str());
  a.d = Conv1dDims{B, T, D, a.W.dim(0), a.W.dim(1) / D};
  a.lengths = lengths_in(op, lengths_, B, T);
  if (mode == ConvMode::kNarrow) {
    FASTNLP_CHECK(T >= a.d.K, op, ": narrow mode needs T >= K, got T=", T, " and K=", a.d.K,
                  " (use mode='wide' for sequences shorter than the filter)");
    for (size_t i = 0; i < a.lengths.size(); ++i)
      FASTNLP_CHECK(a.lengths[i] >= a.d.K, op, ": narrow mode needs every length >= K=", a.d.K,
                    ", got ", a.lengths[i], " at position ", i,
                    " (use mode='wide' for sequences shorter than the filter)");
  }
  a.T_out = conv1d_out_len(mode, T, a.d.K);
  return a;
}

Array argmax_arg(const char* op, const py::object& obj, int64_t B, int64_t H, bool out) {
  Array a = ids_in(op, "argmax", obj, 2);
  if (a.dtype != DType::kInt64)
    throw py::type_error(str_cat(op, ": argmax must be int64, got ", a.dtype_name));
  expect_shape(a, {B, H}, " (B, H)");
  FASTNLP_CHECK(!out || a.writeable, op, ": argmax is written in place and must be writeable");
  return a;
}

// The forward writes y (none, avg), pooled (max, avg) and argmax (max); the backward reads y
// (none, avg), pooled and argmax (max).
void check_pool_args(const char* op, Pool pool, const py::object& y_, const py::object& pooled_,
                     const py::object& argmax_, bool backward) {
  const char* name = pool == Pool::kNone ? "none" : (pool == Pool::kMax ? "max" : "avg");
  FASTNLP_CHECK(pool == Pool::kMax || !is_none(y_), op, ": pool='", name, "' needs y (B, T_out, H)");
  const bool needs_pooled = backward ? pool == Pool::kMax : pool != Pool::kNone;
  FASTNLP_CHECK(!needs_pooled || !is_none(pooled_), op, ": pool='", name, "' needs pooled (B, H)");
  FASTNLP_CHECK(pool != Pool::kMax || !is_none(argmax_), op, ": pool='max' needs argmax (B, H) int64");
}

}  // namespace

void bind_conv1d(py::module_& m) {
  m.def(
      "conv1d_check_args",
      [](const std::string& op_name, py::object x_, py::object W_, py::object b_, py::object lengths_,
         const std::string& mode_name) -> py::object {
        const char* op = op_name.c_str();
        const ConvMode mode = conv_mode_from_name(mode_name);
        ConvArgs a = conv_args(op, mode, x_, W_, lengths_);
        Array b;
        if (!is_none(b_)) {
          b = float_in(op, "b", b_, 1);
          expect_same_dtype(b, a.x);
          expect_shape(b, {a.d.H}, " (H, the rows of W)");
        }
        backend_for(op, {&a.x, &a.W, &b}, false);
        if (a.lengths.empty()) return py::none();
        py::array_t<int64_t> lens(static_cast<py::ssize_t>(a.lengths.size()));
        std::copy(a.lengths.begin(), a.lengths.end(), lens.mutable_data());
        return std::move(lens);
      },
      py::arg("op"), py::arg("x"), py::arg("W"), py::arg("b"), py::arg("lengths"), py::arg("mode"),
      "The argument checks of conv1d_forward (messages name `op`), for the GPU path that runs in "
      "Python: returns the checked lengths as a host int64 array, or None.");

  m.def(
      "conv1d_forward",
      [](py::object x_, py::object W_, py::object b_, py::object lengths_, py::object y_,
         py::object pooled_, py::object argmax_, const std::string& mode_name,
         const std::string& act_name, const std::string& pool_name, bool reference) {
        const char* op = "conv1d_forward";
        const ConvMode mode = conv_mode_from_name(mode_name);
        const Activation act = activation_from_name(act_name);
        const Pool pool = pool_from_name(pool_name);
        ConvArgs a = conv_args(op, mode, x_, W_, lengths_);
        check_pool_args(op, pool, y_, pooled_, argmax_, false);
        const Conv1dDims d = a.d;
        Array b, y, pooled, argmax;
        if (!is_none(b_)) {
          b = float_in(op, "b", b_, 1);
          expect_same_dtype(b, a.x);
          expect_shape(b, {d.H}, " (H, the rows of W)");
        }
        if (pool != Pool::kMax) y = float_out(op, "y", y_, a.x, {d.B, a.T_out, d.H});
        if (pool != Pool::kNone) pooled = float_out(op, "pooled", pooled_, a.x, {d.B, d.H});
        if (pool == Pool::kMax) argmax = argmax_arg(op, argmax_, d.B, d.H, true);
        const Backend be = backend_for(op, {&a.x, &a.W, &b, &y, &pooled, &argmax}, reference);
        FASTNLP_CHECK(be != Backend::kCuda, op, kNoCuda);
        const int64_t* lens = lengths_ptr(a.lengths);
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          dispatch(
              be,
              [&] {
                conv1d_forward_ref(mode, act, pool, a.x.ptr<T>(), a.W.ptr<T>(), b.ptr<T>(), lens,
                                   y.ptr<T>(), pooled.ptr<T>(), argmax.ptr<int64_t>(), d);
              },
              [&] {
                conv1d_forward(mode, act, pool, a.x.ptr<T>(), a.W.ptr<T>(), b.ptr<T>(), lens,
                               y.ptr<T>(), pooled.ptr<T>(), argmax.ptr<int64_t>(), d);
              },
              [&] {});
        });
      },
      py::arg("x"), py::arg("W"), py::arg("b"), py::arg("lengths"), py::arg("y"), py::arg("pooled"),
      py::arg("argmax"), py::arg("mode"), py::arg("activation"), py::arg("pool"),
      py::arg("reference") = false,
      "Conv over time: x (B, T, D), W (H, K*D) with W[h, j*D + d] the weight of input dim d at window "
      "offset j, b (H) or None, lengths (B) or None. pool 'none' writes y (B, T_out, H); 'max' writes "
      "pooled (B, H) and argmax (B, H) int64 (y may be None); 'avg' writes y and pooled.");

  m.def(
      "conv1d_backward",
      [](py::object x_, py::object W_, py::object lengths_, py::object y_, py::object pooled_,
         py::object argmax_, py::object dy_, py::object dx_, py::object dW_, py::object db_,
         const std::string& mode_name, const std::string& act_name, const std::string& pool_name,
         bool accumulate, bool reference) {
        const char* op = "conv1d_backward";
        const ConvMode mode = conv_mode_from_name(mode_name);
        const Activation act = activation_from_name(act_name);
        const Pool pool = pool_from_name(pool_name);
        ConvArgs a = conv_args(op, mode, x_, W_, lengths_);
        check_pool_args(op, pool, y_, pooled_, argmax_, true);
        const Conv1dDims d = a.d;
        Array y, pooled, argmax, dy, dx, dW, db;
        if (pool != Pool::kMax) {
          y = float_in(op, "y", y_, 3);
          expect_same_dtype(y, a.x);
          expect_shape(y, {d.B, a.T_out, d.H}, " (B, T_out, H), the forward output");
        }
        if (pool == Pool::kMax) {
          pooled = float_in(op, "pooled", pooled_, 2);
          expect_same_dtype(pooled, a.x);
          expect_shape(pooled, {d.B, d.H}, " (B, H), the forward output");
          argmax = argmax_arg(op, argmax_, d.B, d.H, false);
          FASTNLP_CHECK(!argmax.on_gpu, op, kNoCuda);
          // The positions index x below: each must be a valid output position of its sequence.
          const int64_t* am = argmax.ptr<int64_t>();
          for (int64_t n = 0; n < d.B; ++n) {
            const int64_t Tb = conv1d_out_len(mode, a.lengths.empty() ? d.T : a.lengths[n], d.K);
            for (int64_t h = 0; h < d.H; ++h)
              FASTNLP_CHECK(am[n * d.H + h] >= 0 && am[n * d.H + h] < Tb, op, ": argmax must be in [0, ",
                            Tb, ") for sequence ", n, ", got ", am[n * d.H + h], " at position (", n,
                            ", ", h, ")");
          }
        }
        dy = float_in(op, "dy", dy_, pool == Pool::kNone ? 3 : 2);
        expect_same_dtype(dy, a.x);
        if (pool == Pool::kNone) expect_shape(dy, {d.B, a.T_out, d.H}, " (B, T_out, H), the shape of y");
        else expect_shape(dy, {d.B, d.H}, " (B, H), the shape of pooled");
        if (!is_none(dx_)) dx = float_out(op, "dx", dx_, a.x, {d.B, d.T, d.D});
        if (!is_none(dW_)) dW = float_out(op, "dW", dW_, a.x, {d.H, d.K * d.D});
        if (!is_none(db_)) db = float_out(op, "db", db_, a.x, {d.H});
        const Backend be = backend_for(op, {&a.x, &a.W, &y, &pooled, &argmax, &dy, &dx, &dW, &db},
                                             reference);
        FASTNLP_CHECK(be != Backend::kCuda, op, kNoCuda);
        const int64_t* lens = lengths_ptr(a.lengths);
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          dispatch(
              be,
              [&] {
                conv1d_backward_ref(mode, act, pool, a.x.ptr<T>(), a.W.ptr<T>(), lens, y.ptr<T>(),
                                    pooled.ptr<T>(), argmax.ptr<int64_t>(), dy.ptr<T>(), dx.ptr<T>(),
                                    dW.ptr<T>(), db.ptr<T>(), d, accumulate);
              },
              [&] {
                conv1d_backward(mode, act, pool, a.x.ptr<T>(), a.W.ptr<T>(), lens, y.ptr<T>(),
                                pooled.ptr<T>(), argmax.ptr<int64_t>(), dy.ptr<T>(), dx.ptr<T>(),
                                dW.ptr<T>(), db.ptr<T>(), d, accumulate);
              },
              [&] {});
        });
      },
      py::arg("x"), py::arg("W"), py::arg("lengths"), py::arg("y"), py::arg("pooled"), py::arg("argmax"),
      py::arg("dy"), py::arg("dx"), py::arg("dW"), py::arg("db"), py::arg("mode"), py::arg("activation"),
      py::arg("pool"), py::arg("accumulate") = false, py::arg("reference") = false,
      "Gradients of conv1d_forward: dy is (B, T_out, H) for pool 'none', else (B, H). y is needed "
      "for 'none' / 'avg', pooled and argmax for 'max'. dx (B, T, D) is overwritten; dW (H, K*D) and "
      "db (H) are added to when accumulate; each may be None.");
}

}  // namespace fastnlp::bindings
