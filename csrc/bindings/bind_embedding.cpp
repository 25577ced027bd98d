// Bindings for ops/embedding.h: lookup, dense scatter-add backward and coalesced sparse backward.
// ids may have any shape (the kernels see them flat, N = ids.size); the row arrays are shaped
// ids.shape + (D,). Outputs are preallocated by fastnlp.ops.embedding and written in place.
#include <limits>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/embedding.h"

namespace fastnlp::bindings {

void bind_embedding(py::module_& m) {
  m.def(
      "embedding_forward",
      [](py::object W_, py::object ids_, py::object y_, bool reference) {
        const char* op = "embedding_forward";
        Array W = float_in(op, "W", W_, 2);
        const int64_t V = W.dim(0), D = W.dim(1);
        Array ids = ids_in(op, "ids", ids_, -1);
        Array y = float_in(op, "y", y_, -1);
        expect_same_dtype(y, W);
        expect_rows_shape(y, ids, D, " with D from W");
        FASTNLP_CHECK(y.writeable, op,
                      ": y is written in place and must be writeable, got a read-only array");
        expect_no_overlap(y, {&W, &ids});
        const Backend be = backend_for(op, {&W, &ids, &y}, reference);
        expect_ids_in_range(ids, ids_, V, "the rows of W");
        const int64_t N = ids.size();
        py::gil_scoped_release nogil;
        float_ids_dispatch(W, ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(embedding_forward), W.ptr<T>(), ids.ptr<I>(), y.ptr<T>(), N, D);
        });
      },
      py::arg("W"), py::arg("ids"), py::arg("y"), py::arg("reference") = false,
      "y (ids.shape + (D,)) = W (V, D)[ids]; ids int32/int64 of any shape, in [0, V).");

  m.def(
      "embedding_backward_dense",
      [](py::object ids_, py::object dy_, py::object dW_, bool reference) {
        const char* op = "embedding_backward_dense";
        Array ids = ids_in(op, "ids", ids_, -1);
        Array dW = float_in(op, "dW", dW_, 2);
        const int64_t V = dW.dim(0), D = dW.dim(1);
        FASTNLP_CHECK(dW.writeable, op,
                      ": dW is added to in place and must be writeable, got a read-only array");
        Array dy = float_in(op, "dy", dy_, -1);
        expect_same_dtype(dW, dy);
        expect_rows_shape(dy, ids, D, " with D from dW");
        expect_no_overlap(dW, {&ids, &dy});
        const Backend be = backend_for(op, {&ids, &dy, &dW}, reference);
        expect_ids_in_range(ids, ids_, V, "the rows of dW");
        const int64_t N = ids.size();
        py::gil_scoped_release nogil;
        float_ids_dispatch(dy, ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(embedding_backward_dense), ids.ptr<I>(), dy.ptr<T>(), dW.ptr<T>(),
                             N, D, V);
        });
      },
      py::arg("ids"), py::arg("dy"), py::arg("dW"), py::arg("reference") = false,
      "dW (V, D) += scatter of dy (ids.shape + (D,)) at ids; repeated ids add up. dW is not zeroed.");

  m.def(
      "embedding_backward_sparse",
      [](py::object ids_, py::object dy_, py::object unique_ids_, py::object rows_, bool reference) {
        const char* op = "embedding_backward_sparse";
        Array ids = ids_in(op, "ids", ids_, -1);
        const int64_t N = ids.size();
        Array dy = float_in(op, "dy", dy_, -1);
        FASTNLP_CHECK(dy.ndim() == ids.ndim() + 1, op,
                      ": dy must have shape ids.shape + (D,) with ids of shape ", ids.shape_str(),
                      ", got ", dy.shape_str());
        const int64_t D = dy.shape.back();
        expect_rows_shape(dy, ids, D);
        Array unique_ids = ids_in(op, "unique_ids", unique_ids_, 1);
        if (unique_ids.dtype != ids.dtype)
          throw py::type_error(str_cat(op, ": unique_ids must have the dtype of ids (", ids.dtype_name,
                                       "), got ", unique_ids.dtype_name));
        expect_shape(unique_ids, {N}, " (N, the number of ids)");
        FASTNLP_CHECK(unique_ids.writeable, op,
                      ": unique_ids is written in place and must be writeable, got a read-only array");
        Array rows = float_out(op, "rows", rows_, dy, {N, D});
        for (const Array* out : {&unique_ids, &rows}) expect_no_overlap(*out, {&ids, &dy, &unique_ids, &rows});
        const Backend be = backend_for(op, {&ids, &dy, &unique_ids, &rows}, reference);
        // No V here: only negative ids are refused (the optimizer checks the upper end).
        expect_ids_in_range(ids, ids_, std::numeric_limits<int64_t>::max(),
                            "row indices are non-negative");
        int64_t U = 0;
        py::gil_scoped_release nogil;
        float_ids_dispatch(dy, ids, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          U = dispatch_kernel<T>(be, FASTNLP_KERNEL(embedding_backward_sparse), ids.ptr<I>(), dy.ptr<T>(),
                                 unique_ids.ptr<I>(), rows.ptr<T>(), N, D);
        });
        return U;
      },
      py::arg("ids"), py::arg("dy"), py::arg("unique_ids"), py::arg("rows"), py::arg("reference") = false,
      "Coalesced sparse gradient: writes unique_ids[:U] (ascending) and rows[:U] (U, D), rows[u] the sum "
      "of dy over the positions of unique_ids[u]; unique_ids (N,) and rows (N, D) are preallocated. "
      "Returns U.");
}

}  // namespace fastnlp::bindings
