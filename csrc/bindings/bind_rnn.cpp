// Bindings for the RNN kernels (ops/rnn.h): Elman / LSTM / GRU over whole sequences, forward
// and backpropagation through time. The kernels here are CPU only; on the GPU fastnlp.ops.rnn runs
// the recurrence itself (cuBLAS via CuPy + the step kernels of bind_sequence_cuda.cpp) after
// rnn_check_args. Outputs and the workspace are preallocated by fastnlp.ops.rnn, written in place.
#include <algorithm>
#include <string>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "bindings/lengths.h"
#include "ops/rnn.h"

namespace fastnlp::bindings {
namespace {

const char* kNoCuda = ": no CUDA kernel in this binding; for GPU arrays call fastnlp.ops.rnn / rnn_backward";

struct RnnArgs {
  Cell cell;
  Array x, W_ih, W_hh, b_ih, b_hh, h0, c0;
  RnnDims d{};
  std::vector<int64_t> lengths;
};

Array optional_in(const char* op, const char* name, const py::object& obj, const Array& like,
                  std::initializer_list<int64_t> shape, const char* why) {
  Array a;
  if (is_none(obj)) return a;
  a = float_in(op, name, obj, static_cast<int>(shape.size()));
  expect_same_dtype(a, like);
  expect_shape(a, shape, why);
  return a;
}

// x (B, T, D), W_ih (G*H, D), W_hh (G*H, H) with H from W_hh's columns, biases (G*H), h0 / c0 (B, H).
RnnArgs rnn_args(const char* op, const std::string& cell_name_, const py::object& x_,
                 const py::object& W_ih_, const py::object& W_hh_, const py::object& b_ih_,
                 const py::object& b_hh_, const py::object& lengths_, const py::object& h0_,
                 const py::object& c0_) {
  RnnArgs a;
  a.cell = cell_from_name(cell_name_);
  const int64_t G = cell_gates(a.cell);
  const std::string g = std::to_string(G);
  a.x = float_in(op, "x", x_, 3);
  const int64_t B = a.x.dim(0), T = a.x.dim(1), D = a.x.dim(2);
  a.W_hh = float_in(op, "W_hh", W_hh_, 2);
  expect_same_dtype(a.W_hh, a.x);
  const int64_t H = a.W_hh.dim(1);
  const std::string why_hh = " (" + g + "*H, H) for " + cell_name(a.cell) + " with H=" +
                             std::to_string(H) + " from W_hh's columns";
  expect_shape(a.W_hh, {G * H, H}, why_hh.c_str());
  a.W_ih = float_in(op, "W_ih", W_ih_, 2);
  expect_same_dtype(a.W_ih, a.x);
  const std::string why_ih = " (" + g + "*H, D) with H=" + std::to_string(H) + " from W_hh and D=" +
                             std::to_string(D) + " from x";
  expect_shape(a.W_ih, {G * H, D}, why_ih.c_str());
  const std::string why_b = " (" + g + "*H) with H=" + std::to_string(H) + " from W_hh";
  a.b_ih = optional_in(op, "b_ih", b_ih_, a.x, {G * H}, why_b.c_str());
  a.b_hh = optional_in(op, "b_hh", b_hh_, a.x, {G * H}, why_b.c_str());
  const std::string why_h = " (B, H) with B=" + std::to_string(B) + " from x and H=" +
                            std::to_string(H) + " from W_hh";
  a.h0 = optional_in(op, "h0", h0_, a.x, {B, H}, why_h.c_str());
  FASTNLP_CHECK(a.cell == Cell::kLstm || is_none(c0_), op, ": c0 is only for the LSTM, got one for ",
                cell_name(a.cell));
  a.c0 = optional_in(op, "c0", c0_, a.x, {B, H}, why_h.c_str());
  a.lengths = lengths_in(op, lengths_, B, T);
  a.d = RnnDims{B, T, D, H};
  return a;
}

Array workspace_arg(const char* op, const py::object& obj, const RnnArgs& a, bool out) {
  Array ws = float_in(op, "ws", obj, 1);
  expect_same_dtype(ws, a.x);
  const int64_t n = rnn_workspace_size(a.cell, a.d);
  FASTNLP_CHECK(ws.dim(0) == n, op, ": ws must have shape (", n,
                ",) (rnn_workspace_size for these sizes), got ", ws.shape_str());
  FASTNLP_CHECK(!out || ws.writeable, op, ": ws is written in place and must be writeable");
  return ws;
}

}  // namespace

void bind_rnn(py::module_& m) {
  m.def(
      "rnn_check_args",
      [](const std::string& op_name, const std::string& cell, py::object x_, py::object W_ih_,
         py::object W_hh_, py::object b_ih_, py::object b_hh_, py::object lengths_, py::object h0_,
         py::object c0_) -> py::object {
        const char* op = op_name.c_str();
        RnnArgs a = rnn_args(op, cell, x_, W_ih_, W_hh_, b_ih_, b_hh_, lengths_, h0_, c0_);
        backend_for(op, {&a.x, &a.W_ih, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0}, false);
        if (a.lengths.empty()) return py::none();
        py::array_t<int64_t> lens(static_cast<py::ssize_t>(a.lengths.size()));
        std::copy(a.lengths.begin(), a.lengths.end(), lens.mutable_data());
        return std::move(lens);
      },
      py::arg("op"), py::arg("cell"), py::arg("x"), py::arg("W_ih"), py::arg("W_hh"), py::arg("b_ih"),
      py::arg("b_hh"), py::arg("lengths"), py::arg("h0"), py::arg("c0"),
      "The argument checks of rnn_forward (messages name `op`), for the GPU path that runs in Python: "
      "returns the checked lengths as a host int64 array, or None.");

  m.def(
      "rnn_workspace_size",
      [](const std::string& cell, int64_t B, int64_t T, int64_t D, int64_t H) {
        FASTNLP_CHECK(B > 0 && T > 0 && D > 0 && H > 0, "rnn_workspace_size: sizes must be positive, got B=",
                      B, " T=", T, " D=", D, " H=", H);
        return rnn_workspace_size(cell_from_name(cell), RnnDims{B, T, D, H});
      },
      py::arg("cell"), py::arg("B"), py::arg("T"), py::arg("D"), py::arg("H"),
      "Elements of the workspace rnn_forward fills for rnn_backward.");

  m.def(
      "rnn_forward",
      [](const std::string& cell, py::object x_, py::object W_ih_, py::object W_hh_, py::object b_ih_,
         py::object b_hh_, py::object lengths_, py::object h0_, py::object c0_, py::object out_,
         py::object h_n_, py::object c_n_, py::object ws_, bool reverse, bool reference) {
        const char* op = "rnn_forward";
        RnnArgs a = rnn_args(op, cell, x_, W_ih_, W_hh_, b_ih_, b_hh_, lengths_, h0_, c0_);
        const RnnDims d = a.d;
        Array out, h_n, c_n, ws;
        if (!is_none(out_)) out = float_out(op, "out", out_, a.x, {d.B, d.T, d.H});
        if (!is_none(h_n_)) h_n = float_out(op, "h_n", h_n_, a.x, {d.B, d.H});
        FASTNLP_CHECK(a.cell == Cell::kLstm || is_none(c_n_), op, ": c_n is only for the LSTM");
        if (!is_none(c_n_)) c_n = float_out(op, "c_n", c_n_, a.x, {d.B, d.H});
        if (!is_none(ws_)) ws = workspace_arg(op, ws_, a, true);
        const Backend be = backend_for(
            op, {&a.x, &a.W_ih, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0, &out, &h_n, &c_n, &ws}, reference);
        FASTNLP_CHECK(be != Backend::kCuda, op, kNoCuda);
        const int64_t* lens = lengths_ptr(a.lengths);
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          dispatch(
              be,
              [&] {
                rnn_forward_ref(a.cell, a.x.ptr<T>(), a.W_ih.ptr<T>(), a.W_hh.ptr<T>(), a.b_ih.ptr<T>(),
                                a.b_hh.ptr<T>(), lens, reverse, a.h0.ptr<T>(), a.c0.ptr<T>(), out.ptr<T>(),
                                h_n.ptr<T>(), c_n.ptr<T>(), ws.ptr<T>(), d);
              },
              [&] {
                rnn_forward(a.cell, a.x.ptr<T>(), a.W_ih.ptr<T>(), a.W_hh.ptr<T>(), a.b_ih.ptr<T>(),
                            a.b_hh.ptr<T>(), lens, reverse, a.h0.ptr<T>(), a.c0.ptr<T>(), out.ptr<T>(),
                            h_n.ptr<T>(), c_n.ptr<T>(), ws.ptr<T>(), d);
              },
              [&] {});
        });
      },
      py::arg("cell"), py::arg("x"), py::arg("W_ih"), py::arg("W_hh"), py::arg("b_ih"), py::arg("b_hh"),
      py::arg("lengths"), py::arg("h0"), py::arg("c0"), py::arg("out"), py::arg("h_n"), py::arg("c_n"),
      py::arg("ws"), py::arg("reverse") = false, py::arg("reference") = false,
      "One direction of an RNN over x (B, T, D); cell 'elman' | 'lstm' | 'gru' with PyTorch's weight "
      "layout and gate order: W_ih (G*H, D), W_hh (G*H, H), b_ih / b_hh (G*H) or None. lengths (B) or "
      "None, h0 / c0 (B, H) or None. Writes out (B, T, H) (zero past each length), h_n / c_n (B, H) and "
      "the workspace ws for rnn_backward; each may be None.");

  m.def(
      "rnn_backward",
      [](const std::string& cell, py::object x_, py::object W_ih_, py::object W_hh_, py::object b_ih_,
         py::object b_hh_, py::object lengths_, py::object h0_, py::object c0_, py::object ws_,
         py::object dout_, py::object dh_n_, py::object dc_n_, py::object dx_, py::object dh0_,
         py::object dc0_, py::object dW_ih_, py::object dW_hh_, py::object db_ih_, py::object db_hh_,
         bool reverse, bool accumulate, bool reference) {
        const char* op = "rnn_backward";
        RnnArgs a = rnn_args(op, cell, x_, W_ih_, W_hh_, b_ih_, b_hh_, lengths_, h0_, c0_);
        const RnnDims d = a.d;
        const int64_t GH = cell_gates(a.cell) * d.H;
        Array ws;
        if (!reference || !is_none(ws_)) ws = workspace_arg(op, ws_, a, false);
        Array dout = optional_in(op, "dout", dout_, a.x, {d.B, d.T, d.H}, " (B, T, H), the shape of out");
        Array dh_n = optional_in(op, "dh_n", dh_n_, a.x, {d.B, d.H}, " (B, H), the shape of h_n");
        FASTNLP_CHECK(a.cell == Cell::kLstm || (is_none(dc_n_) && is_none(dc0_)), op,
                      ": dc_n and dc0 are only for the LSTM");
        Array dc_n = optional_in(op, "dc_n", dc_n_, a.x, {d.B, d.H}, " (B, H), the shape of c_n");
        Array dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh;
        if (!is_none(dx_)) dx = float_out(op, "dx", dx_, a.x, {d.B, d.T, d.D});
        if (!is_none(dh0_)) dh0 = float_out(op, "dh0", dh0_, a.x, {d.B, d.H});
        if (!is_none(dc0_)) dc0 = float_out(op, "dc0", dc0_, a.x, {d.B, d.H});
        if (!is_none(dW_ih_)) dW_ih = float_out(op, "dW_ih", dW_ih_, a.x, {GH, d.D});
        if (!is_none(dW_hh_)) dW_hh = float_out(op, "dW_hh", dW_hh_, a.x, {GH, d.H});
        if (!is_none(db_ih_)) db_ih = float_out(op, "db_ih", db_ih_, a.x, {GH});
        if (!is_none(db_hh_)) db_hh = float_out(op, "db_hh", db_hh_, a.x, {GH});
        const Backend be = backend_for(op, {&a.x, &a.W_ih, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0, &ws,
                                                  &dout, &dh_n, &dc_n, &dx, &dh0, &dc0, &dW_ih, &dW_hh,
                                                  &db_ih, &db_hh},
                                             reference);
        FASTNLP_CHECK(be != Backend::kCuda, op, kNoCuda);
        const int64_t* lens = lengths_ptr(a.lengths);
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          dispatch(
              be,
              [&] {
                rnn_backward_ref(a.cell, a.x.ptr<T>(), a.W_ih.ptr<T>(), a.W_hh.ptr<T>(), a.b_ih.ptr<T>(),
                                 a.b_hh.ptr<T>(), lens, reverse, a.h0.ptr<T>(), a.c0.ptr<T>(), ws.ptr<T>(),
                                 dout.ptr<T>(), dh_n.ptr<T>(), dc_n.ptr<T>(), dx.ptr<T>(), dh0.ptr<T>(),
                                 dc0.ptr<T>(), dW_ih.ptr<T>(), dW_hh.ptr<T>(), db_ih.ptr<T>(),
                                 db_hh.ptr<T>(), d, accumulate);
              },
              [&] {
                rnn_backward(a.cell, a.x.ptr<T>(), a.W_ih.ptr<T>(), a.W_hh.ptr<T>(), a.b_ih.ptr<T>(),
                             a.b_hh.ptr<T>(), lens, reverse, a.h0.ptr<T>(), a.c0.ptr<T>(), ws.ptr<T>(),
                             dout.ptr<T>(), dh_n.ptr<T>(), dc_n.ptr<T>(), dx.ptr<T>(), dh0.ptr<T>(),
                             dc0.ptr<T>(), dW_ih.ptr<T>(), dW_hh.ptr<T>(), db_ih.ptr<T>(), db_hh.ptr<T>(),
                             d, accumulate);
              },
              [&] {});
        });
      },
      py::arg("cell"), py::arg("x"), py::arg("W_ih"), py::arg("W_hh"), py::arg("b_ih"), py::arg("b_hh"),
      py::arg("lengths"), py::arg("h0"), py::arg("c0"), py::arg("ws"), py::arg("dout"), py::arg("dh_n"),
      py::arg("dc_n"), py::arg("dx"), py::arg("dh0"), py::arg("dc0"), py::arg("dW_ih"), py::arg("dW_hh"),
      py::arg("db_ih"), py::arg("db_hh"), py::arg("reverse") = false, py::arg("accumulate") = false,
      py::arg("reference") = false,
      "Backpropagation through time for rnn_forward with the same arguments and its workspace ws "
      "(the reference recomputes the forward and needs no ws). dout (B, T, H), dh_n / dc_n (B, H): "
      "incoming gradients or None. dx, dh0, dc0 are overwritten; dW_ih, dW_hh, db_ih, db_hh are "
      "added to when accumulate; each may be None.");
}

}  // namespace fastnlp::bindings
