// Bindings for the RNN kernels (ops/rnn.h): Elman / LSTM / GRU over whole sequences, forward
// and backpropagation through time. rnn_forward / rnn_backward run the CPU kernels (dispatch.h,
// rule 2); on the GPU fastnlp.ops._gpu runs rnn_check_args, then the recurrence itself: cuBLAS
// products via CuPy around the step kernels bound at the end (cuda/rnn.cu). Outputs and the
// workspace are preallocated by the Python layer and written in place.
#include <algorithm>
#include <string>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "bindings/lengths.h"
#include "ops/packed_gemm.h"
#include "ops/rnn.h"

namespace fastnlp::bindings {
namespace {

// GPU arrays: cuBLAS products + the step kernels bound below (dispatch.h, rule 2).
const char* kGpuRoute = "fastnlp.ops.rnn / rnn_backward";

struct RnnArgs {
  Cell cell;
  Array x, W_ih, W_hh, b_ih, b_hh, h0, c0;
  RnnDims d{};
  std::vector<int64_t> lengths;
};

// W_hh (G*H, H) with H from its columns, biases (G*H), h0 / c0 (B, H) and lengths (B) in [1, T], each
// of a.x's dtype and device; `src` names the argument B comes from. What rnn_forward and
// rnn_forward_projected check alike.
void recurrent_args(const char* op, RnnArgs& a, int64_t B, int64_t T, const char* src, const py::object& W_hh_,
                    const py::object& b_ih_, const py::object& b_hh_, const py::object& lengths_,
                    const py::object& h0_, const py::object& c0_) {
  const std::string g = std::to_string(cell_gates(a.cell));
  a.W_hh = float_in(op, "W_hh", W_hh_, 2);
  expect_same_dtype(a.W_hh, a.x);
  const int64_t H = a.W_hh.dim(1), GH = cell_gates(a.cell) * H;
  const std::string why_hh = " (" + g + "*H, H) for " + cell_name(a.cell) + " with H=" +
                             std::to_string(H) + " from W_hh's columns";
  expect_shape(a.W_hh, {GH, H}, why_hh.c_str());
  const std::string why_b = " (" + g + "*H) with H=" + std::to_string(H) + " from W_hh";
  a.b_ih = optional_in_like(op, "b_ih", b_ih_, a.x, {GH}, why_b.c_str());
  a.b_hh = optional_in_like(op, "b_hh", b_hh_, a.x, {GH}, why_b.c_str());
  const std::string why_h = " (B, H) with B=" + std::to_string(B) + " from " + src + " and H=" +
                            std::to_string(H) + " from W_hh";
  a.h0 = optional_in_like(op, "h0", h0_, a.x, {B, H}, why_h.c_str());
  FASTNLP_CHECK(a.cell == Cell::kLstm || is_none(c0_), op, ": c0 is only for the LSTM, got one for ",
                cell_name(a.cell));
  a.c0 = optional_in_like(op, "c0", c0_, a.x, {B, H}, why_h.c_str());
  a.lengths = lengths_in(op, lengths_, B, T);
}

// x (B, T, D), W_ih (G*H, D), and recurrent_args.
RnnArgs rnn_args(const char* op, const std::string& cell_name_, const py::object& x_,
                 const py::object& W_ih_, const py::object& W_hh_, const py::object& b_ih_,
                 const py::object& b_hh_, const py::object& lengths_, const py::object& h0_,
                 const py::object& c0_) {
  RnnArgs a;
  a.cell = cell_from_name(cell_name_);
  a.x = float_in(op, "x", x_, 3);
  const int64_t B = a.x.dim(0), T = a.x.dim(1), D = a.x.dim(2);
  recurrent_args(op, a, B, T, "x", W_hh_, b_ih_, b_hh_, lengths_, h0_, c0_);
  const int64_t H = a.W_hh.dim(1);
  a.W_ih = float_in(op, "W_ih", W_ih_, 2);
  expect_same_dtype(a.W_ih, a.x);
  const std::string why_ih = " (" + std::to_string(cell_gates(a.cell)) + "*H, D) with H=" + std::to_string(H) +
                             " from W_hh and D=" + std::to_string(D) + " from x";
  expect_shape(a.W_ih, {cell_gates(a.cell) * H, D}, why_ih.c_str());
  a.d = RnnDims{B, T, D, H};
  return a;
}

// The kernels' inputs from checked arguments (ops/rnn.h: RnnInputs).
template <typename T>
RnnInputs<T> inputs(const RnnArgs& a, bool reverse) {
  return RnnInputs<T>{a.cell,          a.x.ptr<T>(), a.W_ih.ptr<T>(), a.W_hh.ptr<T>(), a.b_ih.ptr<T>(),
                      a.b_hh.ptr<T>(),        lengths_ptr(a.lengths), reverse, a.h0.ptr<T>(), a.c0.ptr<T>(),
                      a.d};
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
      "rnn_cell_gates", [](const std::string& cell) { return cell_gates(cell_from_name(cell)); },
      py::arg("cell"), "G, the number of gate blocks in a cell's weights: 1 (elman), 4 (lstm), 3 (gru).");

  m.def(
      "rnn_workspace_layout",
      [](const std::string& cell, int64_t B, int64_t T, int64_t D, int64_t H) {
        FASTNLP_CHECK(B > 0 && T > 0 && D > 0 && H > 0,
                      "rnn_workspace_layout: sizes must be positive, got B=", B, " T=", T, " D=", D, " H=", H);
        const RnnWorkspace w = rnn_workspace_layout(cell_from_name(cell), RnnDims{B, T, D, H});
        py::dict out;
        out["cache"] = w.cache;
        out["cache_width"] = w.cache_width;
        out["xh"] = w.xh;
        out["xh_width"] = w.xh_width;
        out["cell"] = w.cell;
        out["size"] = w.size;
        return out;
      },
      py::arg("cell"), py::arg("B"), py::arg("T"), py::arg("D"), py::arg("H"),
      "The workspace layout of ops/rnn.h (rnn_workspace_layout): element offsets of the blocks cache "
      "(B*T, cache_width), xh (B*T, xh_width) = [x | state] and cell (B*T, H, LSTM only), and size.");

  m.def(
      "rnn_packed_gemm",
      [](py::object A_, py::object B_, bool trans_b, py::object C_, bool accumulate, bool reference) {
        const char* op = "rnn_packed_gemm";
        Array A = float_in(op, "A", A_, 2);
        Array Bm = float_in(op, "B", B_, 2);
        expect_same_dtype(Bm, A);
        const int64_t M = A.dim(0), K = A.dim(1), N = trans_b ? Bm.dim(0) : Bm.dim(1);
        const std::string why = trans_b ? " (N, K) with K=" + std::to_string(K) + " from A's columns"
                                        : " (K, N) with K=" + std::to_string(K) + " from A's columns";
        if (trans_b) {
          expect_shape(Bm, {-1, K}, why.c_str());
        } else {
          expect_shape(Bm, {K, -1}, why.c_str());
        }
        Array C = float_out(op, "C", C_, A, {M, N});
        cpu_backend_for(op, {&A, &Bm, &C}, reference, kGpuRoute);
        expect_no_overlap(C, {&A, &Bm});
        py::gil_scoped_release nogil;
        float_dispatch(A, [&](auto t) {
          using T = decltype(t);
          PackedBuffer<T> packed = packed_buffer<T>(K, N);
          pack_panels(trans_b, K, N, Bm.ptr<T>(), trans_b ? K : N, packed.get());
          if (reference) {
            packed_gemm_ref(M, N, K, A.ptr<T>(), K, packed.get(), accumulate, C.ptr<T>(), N);
          } else {
            packed_gemm(M, N, K, A.ptr<T>(), K, packed.get(), accumulate, C.ptr<T>(), N);
          }
        });
      },
      py::arg("A"), py::arg("B"), py::arg("trans_b"), py::arg("C"), py::arg("accumulate") = false,
      py::arg("reference") = false,
      "The RNN's recurrent product on its own (ops/packed_gemm.h), for tests: B packed in panels, then "
      "C (M, N) = A (M, K) op(B) (+ C when accumulate), op(B) = B (K, N) or, with trans_b, B (N, K) "
      "transposed. reference: the plain loops over the same packed layout.");

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
        const Backend be = cpu_backend_for(
            op, {&a.x, &a.W_ih, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0, &out, &h_n, &c_n, &ws}, reference,
            kGpuRoute);
        for (const Array* o : {&out, &h_n, &c_n, &ws})
          expect_no_overlap(*o, {&a.x, &a.W_ih, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0, &out, &h_n, &c_n, &ws});
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          const RnnInputs<T> in = inputs<T>(a, reverse);
          const RnnOutputs<T> o{out.ptr<T>(), h_n.ptr<T>(), c_n.ptr<T>(), ws.ptr<T>()};
          dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(rnn_forward), in, o);
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
      "rnn_forward_projected",
      [](const std::string& cell, py::object rows_, py::object index_, py::object W_hh_, py::object b_ih_,
         py::object b_hh_, py::object lengths_, py::object h0_, py::object c0_, py::object out_,
         py::object h_n_, py::object c_n_, bool reverse, bool reference) {
        const char* op = "rnn_forward_projected";
        RnnArgs a;
        a.cell = cell_from_name(cell);
        a.x = float_in(op, "rows", rows_, 2);
        Array index = ids_in(op, "index", index_, 2);
        FASTNLP_CHECK(index.dtype == DType::kInt64, op, ": index must be int64, got ", index.dtype_name);
        const int64_t B = index.dim(0), T = index.dim(1);
        recurrent_args(op, a, B, T, "index", W_hh_, b_ih_, b_hh_, lengths_, h0_, c0_);
        const int64_t H = a.W_hh.dim(1), U = a.x.dim(0);
        const std::string why_rows = " (U, " + std::to_string(cell_gates(a.cell)) + "*H) with H=" +
                                     std::to_string(H) + " from W_hh";
        expect_shape(a.x, {-1, cell_gates(a.cell) * H}, why_rows.c_str());
        a.d = RnnDims{B, T, 0, H};
        Array out, h_n, c_n;
        if (!is_none(out_)) out = float_out(op, "out", out_, a.x, {B, T, H});
        if (!is_none(h_n_)) h_n = float_out(op, "h_n", h_n_, a.x, {B, H});
        FASTNLP_CHECK(a.cell == Cell::kLstm || is_none(c_n_), op, ": c_n is only for the LSTM");
        if (!is_none(c_n_)) c_n = float_out(op, "c_n", c_n_, a.x, {B, H});
        const Backend be = cpu_backend_for(
            op, {&a.x, &index, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0, &out, &h_n, &c_n}, reference,
            "fastnlp.ops.rnn (the projected forward is CPU-only)");
        expect_ids_in_range(index, U, "the rows of rows");
        for (const Array* o : {&out, &h_n, &c_n})
          expect_no_overlap(*o, {&a.x, &index, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0, &out, &h_n, &c_n});
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          RnnInputs<T> in = inputs<T>(a, reverse);
          in.x = nullptr;  // the rows stand in for x W_ih^T
          const RnnProjected<T> p{a.x.ptr<T>(), index.ptr<int64_t>(), U};
          const RnnOutputs<T> o{out.ptr<T>(), h_n.ptr<T>(), c_n.ptr<T>(), nullptr};
          dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(rnn_forward_projected), in, p, o);
        });
      },
      py::arg("cell"), py::arg("rows"), py::arg("index"), py::arg("W_hh"), py::arg("b_ih"), py::arg("b_hh"),
      py::arg("lengths"), py::arg("h0"), py::arg("c0"), py::arg("out"), py::arg("h_n"), py::arg("c_n"),
      py::arg("reverse") = false, py::arg("reference") = false,
      "rnn_forward from precomputed input projections (inference: no workspace): position (b, t) "
      "reads rows[index[b, t]] (rows (U, G*H) = x W_ih^T without b_ih, index (B, T) int64 in [0, U)) "
      "where rnn_forward computes x[b, t] W_ih^T. W_hh, biases, lengths, h0 / c0 and the outputs as "
      "for rnn_forward.");

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
        Array dout = optional_in_like(op, "dout", dout_, a.x, {d.B, d.T, d.H}, " (B, T, H), the shape of out");
        Array dh_n = optional_in_like(op, "dh_n", dh_n_, a.x, {d.B, d.H}, " (B, H), the shape of h_n");
        FASTNLP_CHECK(a.cell == Cell::kLstm || (is_none(dc_n_) && is_none(dc0_)), op,
                      ": dc_n and dc0 are only for the LSTM");
        Array dc_n = optional_in_like(op, "dc_n", dc_n_, a.x, {d.B, d.H}, " (B, H), the shape of c_n");
        Array dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh;
        if (!is_none(dx_)) dx = float_out(op, "dx", dx_, a.x, {d.B, d.T, d.D});
        if (!is_none(dh0_)) dh0 = float_out(op, "dh0", dh0_, a.x, {d.B, d.H});
        if (!is_none(dc0_)) dc0 = float_out(op, "dc0", dc0_, a.x, {d.B, d.H});
        if (!is_none(dW_ih_)) dW_ih = float_out(op, "dW_ih", dW_ih_, a.x, {GH, d.D});
        if (!is_none(dW_hh_)) dW_hh = float_out(op, "dW_hh", dW_hh_, a.x, {GH, d.H});
        if (!is_none(db_ih_)) db_ih = float_out(op, "db_ih", db_ih_, a.x, {GH});
        if (!is_none(db_hh_)) db_hh = float_out(op, "db_hh", db_hh_, a.x, {GH});
        const Backend be = cpu_backend_for(op,
                                           {&a.x, &a.W_ih, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0, &ws, &dout,
                                            &dh_n, &dc_n, &dx, &dh0, &dc0, &dW_ih, &dW_hh, &db_ih, &db_hh},
                                           reference, kGpuRoute);
        for (const Array* o : {&dx, &dh0, &dc0, &dW_ih, &dW_hh, &db_ih, &db_hh})
          expect_no_overlap(*o, {&a.x, &a.W_ih, &a.W_hh, &a.b_ih, &a.b_hh, &a.h0, &a.c0, &ws, &dout, &dh_n, &dc_n,
                                 &dx, &dh0, &dc0, &dW_ih, &dW_hh, &db_ih, &db_hh});
        py::gil_scoped_release nogil;
        float_dispatch(a.x, [&](auto t) {
          using T = decltype(t);
          const RnnInputs<T> in = inputs<T>(a, reverse);
          const RnnGrads<T> g{dout.ptr<T>(), dh_n.ptr<T>(),  dc_n.ptr<T>(),  dx.ptr<T>(),
                              dh0.ptr<T>(),  dc0.ptr<T>(),   dW_ih.ptr<T>(), dW_hh.ptr<T>(),
                              db_ih.ptr<T>(), db_hh.ptr<T>(), accumulate};
          dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(rnn_backward), in, ws.ptr<T>(), g);
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

  // ---- GPU steps: the kernels of cuda/rnn.cu, which fastnlp.ops._gpu runs between its cuBLAS
  // products after rnn_check_args. GPU float32 arrays only.

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
        for (const Array* o : {&h, &c, &out, &ws})
          expect_no_overlap(*o, {&h, &out, &proj, &rec, &b_ih, &b_hh, &c, &ws, &lens});
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
        for (const Array* o : {&dh, &dc, &dG, &sbuf})
          expect_no_overlap(*o, {&dh, &ws, &dout, &rec, &c0, &dc, &dG, &sbuf, &lens});
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
