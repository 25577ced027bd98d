// Bindings for the GPU building blocks of the sequence ops (cuda/sequence.cu): conv1d unfold / fold
// and pooling, and the RNN step passes. fastnlp.ops.conv and fastnlp.ops.rnn call them between
// CuPy matrix products, after the full argument checks (conv1d_check_args / rnn_check_args). GPU
// float32 arrays only: NumPy arrays, or a build without CUDA, get a clear error.
#include <string>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "bindings/lengths.h"
#include "ops/conv1d.h"
#include "ops/rnn.h"

namespace fastnlp::bindings {
namespace {

// Every given array on the GPU (float32: backend_for checks it), and CUDA compiled in.
void expect_gpu(const char* op, std::initializer_list<const Array*> arrays) {
  const Backend be = backend_for(op, arrays, false);
  FASTNLP_CHECK(be == Backend::kCuda, op,
                ": a GPU building block of fastnlp.ops (conv1d / rnn); it needs CuPy (GPU) arrays, got "
                "NumPy arrays");
}

// lengths on the device: None, or (B) int64 already checked on the host (1 <= lengths[b] <= T).
Array device_lengths(const char* op, const py::object& obj, int64_t B) {
  Array a;
  if (is_none(obj)) return a;
  a = ids_in(op, "lengths", obj, 1);
  if (a.dtype != DType::kInt64)
    throw py::type_error(str_cat(op, ": lengths must be int64 (on the GPU), got ", a.dtype_name));
  FASTNLP_CHECK(a.on_gpu, op, ": lengths must be a GPU array here (upload the checked lengths)");
  expect_shape(a, {B}, " (B, one length per sequence)");
  return a;
}

Array float_in_like(const char* op, const char* name, const py::object& obj, const Array& like,
                    std::initializer_list<int64_t> shape, const char* why) {
  Array a = float_in(op, name, obj, static_cast<int>(shape.size()));
  expect_same_dtype(a, like);
  expect_shape(a, shape, why);
  return a;
}

Array optional_in_like(const char* op, const char* name, const py::object& obj, const Array& like,
                       std::initializer_list<int64_t> shape, const char* why) {
  if (is_none(obj)) return Array{};
  return float_in_like(op, name, obj, like, shape, why);
}

Array argmax_array(const char* op, const py::object& obj, int64_t B, int64_t H, bool out) {
  Array a = ids_in(op, "argmax", obj, 2);
  if (a.dtype != DType::kInt64)
    throw py::type_error(str_cat(op, ": argmax must be int64, got ", a.dtype_name));
  expect_shape(a, {B, H}, " (B, H)");
  FASTNLP_CHECK(!out || a.writeable, op, ": argmax is written in place and must be writeable");
  FASTNLP_CHECK(a.on_gpu, op, ": argmax must be a GPU array");
  return a;
}

void check_T_K(const char* op, ConvMode mode, int64_t T, int64_t K, int64_t T_out) {
  FASTNLP_CHECK(T > 0 && K > 0, op, ": T and K must be positive, got T=", T, " K=", K);
  FASTNLP_CHECK(conv1d_out_len(mode, T, K) == T_out, op, ": T_out=", T_out, " does not match T=", T,
                " and K=", K, " (expected ", conv1d_out_len(mode, T, K), ")");
}

}  // namespace

void bind_sequence_cuda(py::module_& m) {
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
        if (pool == Pool::kMax) argmax = argmax_array(op, argmax_, B, H, true);
        Array lens = device_lengths(op, lengths_, B);
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
          argmax = argmax_array(op, argmax_, B, H, false);
        }
        Array dy = pool == Pool::kNone ? float_in_like(op, "dy", dy_, dz, {B, T_out, H}, " (B, T_out, H)")
                                       : float_in_like(op, "dy", dy_, dz, {B, H}, " (B, H)");
        Array lens = device_lengths(op, lengths_, B);
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

  m.def(
      "rnn_step_forward",
      [](const std::string& cell_name_, int64_t s, [[maybe_unused]] bool reverse, py::object lengths_, py::object proj_,
         py::object rec_, py::object b_ih_, py::object b_hh_, py::object h_, py::object c_,
         py::object out_, py::object ws_, int64_t D) {
        const char* op = "rnn_step_forward";
        const Cell cell = cell_from_name(cell_name_);
        const int64_t G = cell_gates(cell);
        Array h = float_in(op, "h", h_, 2);
        FASTNLP_CHECK(h.writeable, op, ": h is updated in place and must be writeable");
        const int64_t B = h.dim(0), H = h.dim(1);
        Array out = float_in(op, "out", out_, 3);
        expect_same_dtype(out, h);
        FASTNLP_CHECK(out.writeable, op, ": out is written in place and must be writeable");
        const int64_t T = out.dim(1);
        expect_shape(out, {B, T, H}, " (B, T, H)");
        FASTNLP_CHECK(s >= 0 && s < T, op, ": step s must be in [0, T=", T, "), got ", s);
        FASTNLP_CHECK(D > 0, op, ": D must be positive, got ", D);
        Array proj = float_in_like(op, "proj", proj_, h, {B * T, G * H}, " (B*T, G*H)");
        Array rec = float_in_like(op, "rec", rec_, h, {B, G * H}, " (B, G*H)");
        Array b_ih = optional_in_like(op, "b_ih", b_ih_, h, {G * H}, " (G*H)");
        Array b_hh = optional_in_like(op, "b_hh", b_hh_, h, {G * H}, " (G*H)");
        Array c;
        if (cell == Cell::kLstm) {
          c = float_out(op, "c", c_, h, {B, H});
        } else {
          FASTNLP_CHECK(is_none(c_), op, ": c is only for the LSTM");
        }
        [[maybe_unused]] const RnnDims d{B, T, D, H};
        Array ws;
        if (!is_none(ws_)) {
          ws = float_out(op, "ws", ws_, h, {rnn_workspace_size(cell, d)});
        }
        Array lens = device_lengths(op, lengths_, B);
        expect_gpu(op, {&h, &out, &proj, &rec, &b_ih, &b_hh, &c, &ws, &lens});
        py::gil_scoped_release nogil;
        FASTNLP_CUDA_ONLY(cuda::rnn_step_forward(cell, s, reverse, lens.ptr<int64_t>(), proj.ptr<float>(),
                                                 rec.ptr<float>(), b_ih.ptr<float>(), b_hh.ptr<float>(),
                                                 h.ptr<float>(), c.ptr<float>(), out.ptr<float>(),
                                                 ws.ptr<float>(), d));
      },
      py::arg("cell"), py::arg("s"), py::arg("reverse"), py::arg("lengths"), py::arg("proj"), py::arg("rec"),
      py::arg("b_ih"), py::arg("b_hh"), py::arg("h"), py::arg("c"), py::arg("out"), py::arg("ws"),
      py::arg("D"),
      "GPU: the gate pass of step s. proj (B*T, G*H) = x W_ih^T, rec (B, G*H) = h W_hh^T; updates h "
      "(and c, LSTM) in place, writes out (B, T, H) at the step's positions and the workspace ws "
      "(rnn_workspace_size elements, the CPU's layout) or None.");

  m.def(
      "rnn_step_backward",
      [](const std::string& cell_name_, int64_t s, [[maybe_unused]] bool reverse, py::object lengths_, py::object ws_,
         py::object c0_, py::object dout_, py::object rec_, py::object dh_, py::object dc_,
         py::object dG_, py::object sbuf_, int64_t T, int64_t D) {
        const char* op = "rnn_step_backward";
        const Cell cell = cell_from_name(cell_name_);
        const int64_t G = cell_gates(cell);
        Array dh = float_in(op, "dh", dh_, 2);
        FASTNLP_CHECK(dh.writeable, op, ": dh is updated in place and must be writeable");
        const int64_t B = dh.dim(0), H = dh.dim(1);
        FASTNLP_CHECK(T > 0 && D > 0, op, ": T and D must be positive, got T=", T, " D=", D);
        FASTNLP_CHECK(s >= 0 && s < T, op, ": step s must be in [0, T=", T, "), got ", s);
        [[maybe_unused]] const RnnDims d{B, T, D, H};
        Array ws = float_in_like(op, "ws", ws_, dh, {rnn_workspace_size(cell, d)},
                                 " (rnn_workspace_size for these sizes)");
        Array dout = optional_in_like(op, "dout", dout_, dh, {B, T, H}, " (B, T, H)");
        Array rec = optional_in_like(op, "rec", rec_, dh, {B, H}, " (B, H)");
        Array c0, dc;
        if (cell == Cell::kLstm) {
          c0 = optional_in_like(op, "c0", c0_, dh, {B, H}, " (B, H)");
          dc = float_out(op, "dc", dc_, dh, {B, H});
        } else {
          FASTNLP_CHECK(is_none(c0_) && is_none(dc_), op, ": c0 and dc are only for the LSTM");
        }
        const int64_t GD = cell == Cell::kGru ? 4 * H : G * H;
        Array dG = float_out(op, "dG", dG_, dh, {B * T, GD});
        Array sbuf = float_out(op, "sbuf", sbuf_, dh, {B, G * H});
        Array lens = device_lengths(op, lengths_, B);
        expect_gpu(op, {&dh, &ws, &dout, &rec, &c0, &dc, &dG, &sbuf, &lens});
        py::gil_scoped_release nogil;
        FASTNLP_CUDA_ONLY(cuda::rnn_step_backward(cell, s, reverse, lens.ptr<int64_t>(), ws.ptr<float>(),
                                                  c0.ptr<float>(), dout.ptr<float>(), rec.ptr<float>(),
                                                  dh.ptr<float>(), dc.ptr<float>(), dG.ptr<float>(),
                                                  sbuf.ptr<float>(), d));
      },
      py::arg("cell"), py::arg("s"), py::arg("reverse"), py::arg("lengths"), py::arg("ws"), py::arg("c0"),
      py::arg("dout"), py::arg("rec"), py::arg("dh"), py::arg("dc"), py::arg("dG"), py::arg("sbuf"),
      py::arg("T"), py::arg("D"),
      "GPU: step s of BPTT. dh (B, H): the direct part of the state gradient (dh_n at the last step), "
      "rec (B, H) = sbuf W_hh of the step after (None at the last step); writes dG (B*T, GD) at the "
      "step's rows, sbuf (B, G*H) for the next recurrent product, leaves the next direct part in dh; "
      "dc (LSTM) in place.");
}

}  // namespace fastnlp::bindings
