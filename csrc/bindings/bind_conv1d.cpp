// Bindings for conv1d over time with fused bias + activation and optional max / avg pooling
// (ops/conv1d.h): conv1d_forward / conv1d_backward run the CPU kernels (dispatch.h, rule 2); on the
// GPU fastnlp.ops._gpu runs conv1d_check_args, then conv1d_unfold + a cuBLAS product (via CuPy) +
// conv1d_pool_forward, and backwards, the GPU steps bound at the end (cuda/conv1d.cu). Outputs are
// preallocated by the Python layer and written in place.
#include <algorithm>
#include <string>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "bindings/lengths.h"
#include "ops/conv1d.h"

namespace fastnlp::bindings {
namespace {

// GPU arrays: cuBLAS products + the step kernels bound below (dispatch.h, rule 2).
const char* kGpuRoute = "fastnlp.ops.conv1d / conv1d_backward";

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

Array gpu_argmax_arg(const char* op, const py::object& obj, int64_t B, int64_t H, bool out) {
  Array a = argmax_arg(op, obj, B, H, out);
  FASTNLP_CHECK(a.on_gpu, op, ": argmax must be a GPU array");
  return a;
}

void check_T_K(const char* op, ConvMode mode, int64_t T, int64_t K, int64_t T_out) {
  FASTNLP_CHECK(T > 0 && K > 0, op, ": T and K must be positive, got T=", T, " K=", K);
  FASTNLP_CHECK(conv1d_out_len(mode, T, K) == T_out, op, ": T_out=", T_out, " does not match T=", T,
                " and K=", K, " (expected ", conv1d_out_len(mode, T, K), ")");
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
        const Backend be =
            cpu_backend_for(op, {&a.x, &a.W, &b, &y, &pooled, &argmax}, reference, kGpuRoute);
        for (const Array* out : {&y, &pooled, &argmax}) expect_no_overlap(*out, {&a.x, &a.W, &b, &y, &pooled, &argmax});
        const int64_t* lens = lengths_ptr(a.lengths);
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          const Conv1dInputs<T> in{mode, act, pool, a.x.ptr<T>(), a.W.ptr<T>(), b.ptr<T>(), lens, d};
          const Conv1dOutputs<T> o{y.ptr<T>(), pooled.ptr<T>(), argmax.ptr<int64_t>()};
          dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(conv1d_forward), in, o);
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
          cpu_backend_for(op, {&a.x, &a.W, &argmax}, reference, kGpuRoute);  // argmax is read here
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
        const Backend be =
            cpu_backend_for(op, {&a.x, &a.W, &y, &pooled, &argmax, &dy, &dx, &dW, &db}, reference, kGpuRoute);
        for (const Array* out : {&dx, &dW, &db})
          expect_no_overlap(*out, {&a.x, &a.W, &y, &pooled, &argmax, &dy, &dx, &dW, &db});
        const int64_t* lens = lengths_ptr(a.lengths);
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          const Conv1dInputs<T> in{mode, act, pool, a.x.ptr<T>(), a.W.ptr<T>(), nullptr, lens, d};
          const Conv1dGrads<T> g{y.ptr<T>(),  pooled.ptr<T>(), argmax.ptr<int64_t>(), dy.ptr<T>(),
                                 dx.ptr<T>(), dW.ptr<T>(),     db.ptr<T>(),          accumulate};
          dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(conv1d_backward), in, g);
        });
      },
      py::arg("x"), py::arg("W"), py::arg("lengths"), py::arg("y"), py::arg("pooled"), py::arg("argmax"),
      py::arg("dy"), py::arg("dx"), py::arg("dW"), py::arg("db"), py::arg("mode"), py::arg("activation"),
      py::arg("pool"), py::arg("accumulate") = false, py::arg("reference") = false,
      "Gradients of conv1d_forward: dy is (B, T_out, H) for pool 'none', else (B, H). y is needed "
      "for 'none' / 'avg', pooled and argmax for 'max'. dx (B, T, D) is overwritten; dW (H, K*D) and "
      "db (H) are added to when accumulate; each may be None.");

  // ---- GPU steps: the kernels of cuda/conv1d.cu, which fastnlp.ops._gpu runs around its cuBLAS
  // product after conv1d_check_args. GPU float32 arrays only.


  m.def(
      "conv1d_unfold",
      [](py::object x_, py::object lengths_, py::object cols_, int64_t K, const std::string& mode_name) {
        const char* op = "conv1d_unfold";
        const ConvMode mode = conv_mode_from_name(mode_name);
        Array x = float_in(op, "x", x_, 3);
        const int64_t B = x.dim(0), T = x.dim(1), D = x.dim(2);
        FASTNLP_CHECK(K > 0, op, ": K must be positive, got ", K);
        const int64_t T_out = conv1d_out_len(mode, T, K);
        Array cols = float_out(op, "cols", cols_, x, {B * T_out, K * D});
        Array lens = device_lengths(op, lengths_, B);
        expect_no_overlap(cols, {&x, &lens});
        expect_gpu(op, {&x, &cols, &lens});
        [[maybe_unused]] const Conv1dDims d{B, T, D, 0, K};
        py::gil_scoped_release nogil;
        FASTNLP_CUDA_ONLY(cuda::conv1d_unfold(mode, x.ptr<float>(), lens.ptr<int64_t>(), cols.ptr<float>(), d));
      },
      py::arg("x"), py::arg("lengths"), py::arg("cols"), py::arg("K"), py::arg("mode"),
      "GPU: cols (B*T_out, K*D) = the windows of x (B, T, D), zero outside each length.");

  m.def(
      "conv1d_fold",
      [](py::object dcols_, py::object lengths_, py::object dx_, int64_t K, const std::string& mode_name) {
        const char* op = "conv1d_fold";
        const ConvMode mode = conv_mode_from_name(mode_name);
        Array dx = float_in(op, "dx", dx_, 3);
        FASTNLP_CHECK(dx.writeable, op, ": dx is written in place and must be writeable");
        const int64_t B = dx.dim(0), T = dx.dim(1), D = dx.dim(2);
        FASTNLP_CHECK(K > 0, op, ": K must be positive, got ", K);
        const int64_t T_out = conv1d_out_len(mode, T, K);
        Array dcols = float_in_like(op, "dcols", dcols_, dx, {B * T_out, K * D}, " (B*T_out, K*D)");
        Array lens = device_lengths(op, lengths_, B);
        expect_no_overlap(dx, {&dcols, &lens});
        expect_gpu(op, {&dcols, &dx, &lens});
        [[maybe_unused]] const Conv1dDims d{B, T, D, 0, K};
        py::gil_scoped_release nogil;
        FASTNLP_CUDA_ONLY(cuda::conv1d_fold(mode, dcols.ptr<float>(), lens.ptr<int64_t>(), dx.ptr<float>(), d));
      },
      py::arg("dcols"), py::arg("lengths"), py::arg("dx"), py::arg("K"), py::arg("mode"),
      "GPU: dx (B, T, D) = the windows dcols (B*T_out, K*D) added back where they came from.");

  m.def(
      "conv1d_pool_forward",
      [](py::object z_, py::object b_, py::object lengths_, py::object y_, py::object pooled_,
         py::object argmax_, int64_t T, int64_t K, const std::string& mode_name,
         const std::string& act_name, const std::string& pool_name) {
        const char* op = "conv1d_pool_forward";
        const ConvMode mode = conv_mode_from_name(mode_name);
        [[maybe_unused]] const Activation act = activation_from_name(act_name);
        const Pool pool = pool_from_name(pool_name);
        Array z = float_in(op, "z", z_, 3);
        const int64_t B = z.dim(0), T_out = z.dim(1), H = z.dim(2);
        check_T_K(op, mode, T, K, T_out);
        Array b = optional_in_like(op, "b", b_, z, {H}, " (H)");
        Array y, pooled, argmax;
        if (pool != Pool::kMax) y = float_out(op, "y", y_, z, {B, T_out, H});
        if (pool != Pool::kNone) pooled = float_out(op, "pooled", pooled_, z, {B, H});
        if (pool == Pool::kMax) argmax = gpu_argmax_arg(op, argmax_, B, H, true);
        Array lens = device_lengths(op, lengths_, B);
        expect_no_overlap(y, {&z, &b, &pooled, &argmax, &lens}, /*same_ok=*/&z);
        for (const Array* out : {&pooled, &argmax}) expect_no_overlap(*out, {&z, &b, &y, &pooled, &argmax, &lens});
        expect_gpu(op, {&z, &b, &y, &pooled, &argmax, &lens});
        [[maybe_unused]] const Conv1dDims d{B, T, 0, H, K};
        py::gil_scoped_release nogil;
        FASTNLP_CUDA_ONLY(cuda::conv1d_pool_forward(mode, act, pool, z.ptr<float>(), b.ptr<float>(),
                                                    lens.ptr<int64_t>(), y.ptr<float>(), pooled.ptr<float>(),
                                                    argmax.ptr<int64_t>(), d));
      },
      py::arg("z"), py::arg("b"), py::arg("lengths"), py::arg("y"), py::arg("pooled"), py::arg("argmax"),
      py::arg("T"), py::arg("K"), py::arg("mode"), py::arg("activation"), py::arg("pool"),
      "GPU: bias + activation + pooling over time of z (B, T_out, H) = cols W^T. 'none' / 'avg' write "
      "y (may be z); 'avg' / 'max' write pooled (B, H); 'max' writes argmax (B, H) int64.");

  m.def(
      "conv1d_pool_backward",
      [](py::object y_, py::object pooled_, py::object argmax_, py::object dy_, py::object lengths_,
         py::object dz_, int64_t T, int64_t K, const std::string& mode_name, const std::string& act_name,
         const std::string& pool_name) {
        const char* op = "conv1d_pool_backward";
        const ConvMode mode = conv_mode_from_name(mode_name);
        [[maybe_unused]] const Activation act = activation_from_name(act_name);
        const Pool pool = pool_from_name(pool_name);
        Array dz = float_in(op, "dz", dz_, 3);
        FASTNLP_CHECK(dz.writeable, op, ": dz is written in place and must be writeable");
        const int64_t B = dz.dim(0), T_out = dz.dim(1), H = dz.dim(2);
        check_T_K(op, mode, T, K, T_out);
        Array y, pooled, argmax;
        if (pool != Pool::kMax) y = float_in_like(op, "y", y_, dz, {B, T_out, H}, " (B, T_out, H)");
        if (pool == Pool::kMax) {
          pooled = float_in_like(op, "pooled", pooled_, dz, {B, H}, " (B, H)");
          argmax = gpu_argmax_arg(op, argmax_, B, H, false);
        }
        Array dy = pool == Pool::kNone ? float_in_like(op, "dy", dy_, dz, {B, T_out, H}, " (B, T_out, H)")
                                       : float_in_like(op, "dy", dy_, dz, {B, H}, " (B, H)");
        Array lens = device_lengths(op, lengths_, B);
        expect_no_overlap(dz, {&y, &pooled, &argmax, &dy, &lens});
        expect_gpu(op, {&dz, &y, &pooled, &argmax, &dy, &lens});
        [[maybe_unused]] const Conv1dDims d{B, T, 0, H, K};
        py::gil_scoped_release nogil;
        FASTNLP_CUDA_ONLY(cuda::conv1d_pool_backward(mode, act, pool, y.ptr<float>(), pooled.ptr<float>(),
                                                     argmax.ptr<int64_t>(), dy.ptr<float>(),
                                                     lens.ptr<int64_t>(), dz.ptr<float>(), d));
      },
      py::arg("y"), py::arg("pooled"), py::arg("argmax"), py::arg("dy"), py::arg("lengths"), py::arg("dz"),
      py::arg("T"), py::arg("K"), py::arg("mode"), py::arg("activation"), py::arg("pool"),
      "GPU: dz (B, T_out, H), the gradient of z + b, from dy and the forward's y (none / avg) or "
      "pooled + argmax (max); zero past each sequence's outputs.");
}

}  // namespace fastnlp::bindings
