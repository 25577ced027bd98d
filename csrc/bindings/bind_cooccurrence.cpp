// Bindings for models/cooccurrence.h (co-occurrence counts of a corpus file as CSR, the corpus as
// ids) and ops/sparse.h (CSR x dense, for PPMI-SVD without SciPy). Counting runs in C++ threads
// without the GIL; progress comes back through a Python callable, which also sees Ctrl-C.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "models/cooccurrence.h"
#include "models/vocab.h"
#include "ops/sparse.h"

namespace fastnlp::bindings {
namespace {

// A NumPy array that takes over a vector's buffer (no copy of a matrix that may be GBs).
template <typename T>
py::array_t<T> take_vector(std::vector<T>&& v) {
  auto* held = new std::vector<T>(std::move(v));
  py::capsule owner(held, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(held->size()), held->data(), owner);
}

// Calls progress(done, total, phase) with the GIL; false when Ctrl-C was pressed or the callable
// raised (the error is kept in *error and raised once the C++ work has stopped).
CooccurrenceProgress python_progress(const py::object& progress, std::unique_ptr<py::error_already_set>* error) {
  return [progress, error](int64_t done, int64_t total, int phase) {
    py::gil_scoped_acquire gil;
    if (*error) return false;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!progress.is_none()) progress(done, total, phase);
    } catch (py::error_already_set& e) {
      *error = std::make_unique<py::error_already_set>(std::move(e));
      return false;
    }
    return true;
  };
}

}  // namespace

void bind_cooccurrence(py::module_& m) {
  m.def(
      "count_cooccurrences",
      [](const std::string& path, const Vocab& vocab, int64_t window, bool distance_weighting, int threads,
         int64_t memory_bytes, int64_t shards, const std::string& tmp_dir, const py::object& progress) {
        CooccurrenceConfig c;
        c.window = window;
        c.distance_weighting = distance_weighting;
        c.threads = threads;
        c.memory_bytes = memory_bytes;
        c.shards = shards;
        c.tmp_dir = tmp_dir;
        std::unique_ptr<py::error_already_set> error;
        CooccurrenceMatrix mat;
        {
          const CooccurrenceProgress report = python_progress(progress, &error);
          py::gil_scoped_release nogil;
          mat = count_cooccurrences(path, vocab, c, report);
        }
        if (error) throw *error;
        if (mat.stats.interrupted) throw std::runtime_error("count_cooccurrences: stopped");  // only an error stops it
        py::dict stats;
        stats["tokens"] = mat.stats.tokens;
        stats["kept_tokens"] = mat.stats.kept_tokens;
        stats["spills"] = mat.stats.spills;
        stats["spilled_bytes"] = mat.stats.spilled_bytes;
        stats["shards"] = mat.stats.shards;
        return py::make_tuple(take_vector(std::move(mat.indptr)), take_vector(std::move(mat.indices)),
                              take_vector(std::move(mat.data)), stats);
      },
      py::arg("path"), py::arg("vocab"), py::kw_only(), py::arg("window"), py::arg("distance_weighting"),
      py::arg("threads") = 0, py::arg("memory_bytes") = 0, py::arg("shards") = 0, py::arg("tmp_dir") = "",
      py::arg("progress") = py::none(),
      "(indptr int64 (V + 1), indices int32 (nnz), data float32 (nnz), stats): the V x V co-occurrence "
      "counts of vocab's words in the corpus file, CSR with sorted columns. progress(done, total, phase) "
      "is called about every 100 ms (phase 0 bytes read, 1 shards merged).");

  m.def(
      "corpus_ids",
      [](const std::string& path, const Vocab& vocab, int32_t unknown_id) {
        std::vector<int32_t> ids;
        std::vector<int64_t> offsets;
        int64_t tokens;
        {
          py::gil_scoped_release nogil;
          tokens = corpus_ids(path, vocab, unknown_id, &ids, &offsets);
        }
        return py::make_tuple(take_vector(std::move(ids)), take_vector(std::move(offsets)), tokens);
      },
      py::arg("path"), py::arg("vocab"), py::arg("unknown_id") = -1,
      "(ids int32 (N), offsets int64 (S + 1), tokens): each line's in-vocabulary ids; unknown tokens become "
      "unknown_id, or are dropped when it is < 0.");

  m.def(
      "csr_matmul",
      [](py::object indptr_, py::object indices_, py::object data_, py::object X_, py::object Y_, bool reference) {
        const char* op = "csr_matmul";
        Array indptr = ids_in(op, "indptr", indptr_, 1);
        if (indptr.dtype != DType::kInt64)
          throw py::type_error(str_cat(op, ": indptr must be int64, got ", indptr.dtype_name));
        Array indices = ids_in(op, "indices", indices_, 1, /*allow_empty=*/true);
        if (indices.dtype != DType::kInt32)
          throw py::type_error(str_cat(op, ": indices must be int32, got ", indices.dtype_name));
        Array X = float_in(op, "X", X_, 2);
        const int64_t C = X.dim(0), K = X.dim(1), R = indptr.dim(0) - 1, nnz = indices.size();
        Array data = as_array(op, "data", data_);
        FASTNLP_CHECK(data.ndim() == 1 && data.dim(0) == nnz, op, ": data must be 1-D with nnz = ", nnz,
                      " entries (the length of indices), got shape ", data.shape_str());
        if (nnz > 0) {
          data = float_in(op, "data", data_, 1);
          expect_same_dtype(data, X);
        }
        Array Y = float_out(op, "Y", Y_, X, {R, K});
        expect_no_overlap(Y, {&indptr, &indices, &data, &X});
        const Backend be = cpu_backend_for(op, {&indptr, &indices, &data, &X, &Y}, reference,
                                           "cupyx.scipy.sparse (fastnlp has no GPU SVD path)");
        const int64_t* ip = indptr.ptr<int64_t>();
        FASTNLP_CHECK(ip[0] == 0 && ip[R] == nnz, op, ": indptr must start at 0 and end at nnz = ", nnz, ", got ",
                      ip[0], " and ", ip[R]);
        for (int64_t r = 0; r < R; ++r)
          FASTNLP_CHECK(ip[r] <= ip[r + 1], op, ": indptr must be non-decreasing, got ", ip[r], " then ", ip[r + 1],
                        " at row ", r);
        expect_ids_in_range(indices, C, "the rows of X");
        py::gil_scoped_release nogil;
        float_dispatch(X, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(csr_matmul), ip, indices.ptr<int32_t>(),
                             nnz > 0 ? data.ptr<T>() : nullptr, X.ptr<T>(), Y.ptr<T>(), R, K);
        });
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("X"), py::arg("Y"),
      py::arg("reference") = false,
      "Y (R, K) = A X with A (R, C) in CSR (indptr int64 (R + 1), indices int32 (nnz), data (nnz)) and X (C, K).");
}

}  // namespace fastnlp::bindings
