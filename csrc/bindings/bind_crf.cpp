// Bindings for the linear-chain CRF (ops/crf.h, cuda/crf.cu): crf_nll, crf_nll_backward and
// viterbi_decode over a ragged batch. Every check lives here: dtypes, shapes, the offsets layout
// and the tag range, on either device. Outputs are preallocated by fastnlp.ops.crf.
#include <string>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/crf.h"

namespace fastnlp::bindings {
namespace {

// A float array as float_in checks it, but possibly empty: a batch of empty sentences has N = 0.
Array float_any(const char* op, const char* name, const py::handle& obj, int ndim) {
  Array a = as_array(op, name, obj);
  if (a.dtype != DType::kFloat32 && a.dtype != DType::kFloat64)
    throw py::type_error(str_cat(op, ": ", name, " must be float32 or float64, got ", a.dtype_name,
                                 " with shape ", a.shape_str()));
  FASTNLP_CHECK(a.ndim() == ndim, op, ": ", name, " must be ", ndim, "-D, got shape ", a.shape_str(),
                " (", a.ndim(), "-D) dtype ", a.dtype_name);
  FASTNLP_CHECK(a.contiguous, op, ": ", name,
                " must be C-contiguous (use numpy.ascontiguousarray), got a strided view of shape ",
                a.shape_str());
  return a;
}

Array float_like(const char* op, const char* name, const py::handle& obj, const Array& like,
                 std::initializer_list<int64_t> shape, const char* why, bool out) {
  Array a = float_any(op, name, obj, static_cast<int>(shape.size()));
  expect_same_dtype(a, like);
  expect_shape(a, shape, why);
  FASTNLP_CHECK(!out || a.writeable, op, ": ", name,
                " is written in place and must be writeable, got a read-only array");
  return a;
}

// A 1-D array of exactly this integer dtype (no silent conversion: tags are int32 everywhere).
Array int_vector(const char* op, const char* name, const py::handle& obj, DType dtype,
                 const char* dtype_name) {
  Array a = as_array(op, name, obj);
  if (a.dtype != dtype)
    throw py::type_error(str_cat(op, ": ", name, " must be ", dtype_name, ", got ", a.dtype_name,
                                 " with shape ", a.shape_str()));
  FASTNLP_CHECK(a.ndim() == 1, op, ": ", name, " must be 1-D, got shape ", a.shape_str(), " (",
                a.ndim(), "-D) dtype ", a.dtype_name);
  FASTNLP_CHECK(a.contiguous, op, ": ", name,
                " must be C-contiguous (use numpy.ascontiguousarray), got a strided view of shape ",
                a.shape_str());
  return a;
}

struct CrfArgs {
  Array scores, offsets, tags, trans, start;
  int64_t N = 0, K = 0, S = 0;
};

// scores (N, K), offsets (S+1), tags (N) when tags_ is not None (None refused when need_tags),
// transitions (K, K), start (K): dtypes and shapes. The values (offsets layout, tag range) are
// checked by check_values.
CrfArgs crf_args(const char* op, const py::handle& scores_, const py::handle& offsets_,
                 const py::handle& tags_, const py::handle& trans_, const py::handle& start_,
                 bool need_tags) {
  FASTNLP_CHECK(!need_tags || !is_none(tags_), op, ": tags must be an int32 array, got None");
  CrfArgs a;
  a.scores = float_any(op, "scores", scores_, 2);
  a.N = a.scores.dim(0);
  a.K = a.scores.dim(1);
  FASTNLP_CHECK(a.K >= 1, op, ": scores must have at least one tag column (K >= 1), got shape ",
                a.scores.shape_str());
  a.offsets = int_vector(op, "offsets", offsets_, DType::kInt64, "int64");
  FASTNLP_CHECK(a.offsets.dim(0) >= 1, op,
                ": offsets must have S+1 >= 1 entries (offsets[0] = 0), got shape ",
                a.offsets.shape_str());
  a.S = a.offsets.dim(0) - 1;
  if (!is_none(tags_)) {
    a.tags = int_vector(op, "tags", tags_, DType::kInt32, "int32");
    expect_shape(a.tags, {a.N}, " (N, one gold tag per row of scores)");
  }
  a.trans = float_like(op, "transitions", trans_, a.scores, {a.K, a.K}, " (K, K) with K from scores",
                       false);
  a.start = float_like(op, "start", start_, a.scores, {a.K}, " (K) with K from scores", false);
  return a;
}

// offsets[p] as a Python-readable integer, on either device (a GPU value is copied back).
int64_t offset_at(const Array& off, const py::handle& obj, int64_t p) {
  if (!off.on_gpu) return off.ptr<int64_t>()[p];
  return py::int_(obj[py::int_(p)]).cast<int64_t>();
}

// The offsets layout and the tag range; after backend_for, so GPU arrays are known to be usable.
void check_values(const char* op, const CrfArgs& a, const py::handle& offsets_, const py::handle& tags_) {
  const int64_t S = a.S, N = a.N;
  int64_t bad = -1;
  if (!a.offsets.on_gpu) {
    bad = crf_first_bad_offset(a.offsets.ptr<int64_t>(), S, N);
  } else {
#ifdef FASTNLP_WITH_CUDA
    bad = cuda::crf_first_bad_offset(a.offsets.ptr<int64_t>(), S, N);
#endif
  }
  if (bad >= 0) {
    const int64_t v = offset_at(a.offsets, offsets_, bad);
    FASTNLP_CHECK(bad != 0 || v == 0, op, ": offsets must start at 0, got offsets[0] = ", v);
    if (bad > 0) {
      const int64_t prev = offset_at(a.offsets, offsets_, bad - 1);
      FASTNLP_CHECK(v >= prev, op, ": offsets must be non-decreasing, got offsets[", bad, "] = ", v,
                    " < offsets[", bad - 1, "] = ", prev);
    }
    FASTNLP_CHECK(false, op, ": offsets must end at N = ", N, " (the rows of scores), got offsets[",
                  S, "] = ", v);
  }
  if (a.tags.given()) expect_ids_in_range(a.tags, tags_, a.K, "tag ids, K from scores");
}

}  // namespace

void bind_crf(py::module_& m) {
  m.def(
      "crf_nll",
      [](py::object scores_, py::object offsets_, py::object tags_, py::object trans_,
         py::object start_, py::object nll_, bool reference) {
        const char* op = "crf_nll";
        CrfArgs a = crf_args(op, scores_, offsets_, tags_, trans_, start_, true);
        Array nll = float_like(op, "nll", nll_, a.scores, {a.S}, " (S, one per sentence)", true);
        expect_no_overlap(nll, {&a.scores, &a.offsets, &a.tags, &a.trans, &a.start});
        const Backend be =
            backend_for(op, {&a.scores, &a.offsets, &a.tags, &a.trans, &a.start, &nll}, reference);
        check_values(op, a, offsets_, tags_);
        const int64_t S = a.S, N = a.N, K = a.K;
        py::gil_scoped_release nogil;
        float_dispatch(a.scores, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(crf_nll), a.scores.ptr<T>(), a.offsets.ptr<int64_t>(),
                             a.tags.ptr<int32_t>(), a.trans.ptr<T>(), a.start.ptr<T>(), nll.ptr<T>(), S, N, K);
        });
      },
      py::arg("scores"), py::arg("offsets"), py::arg("tags"), py::arg("transitions"),
      py::arg("start"), py::arg("nll"), py::arg("reference") = false,
      "nll (S) = log Z - score(gold path) per sentence of the ragged batch scores (N, K), offsets "
      "(S+1) int64, tags (N) int32, transitions (K, K) [from, to], start (K).");

  m.def(
      "crf_nll_backward",
      [](py::object scores_, py::object offsets_, py::object tags_, py::object trans_,
         py::object start_, py::object grad_nll_, py::object dscores_, py::object dtrans_,
         py::object dstart_, bool reference) {
        const char* op = "crf_nll_backward";
        CrfArgs a = crf_args(op, scores_, offsets_, tags_, trans_, start_, true);
        const int64_t S = a.S, N = a.N, K = a.K;
        Array g = float_like(op, "grad_nll", grad_nll_, a.scores, {S}, " (S, one per sentence)", false);
        Array ds = float_like(op, "dscores", dscores_, a.scores, {N, K}, " (N, K), the shape of scores",
                              true);
        Array dt = float_like(op, "dtransitions", dtrans_, a.scores, {K, K}, " (K, K)", true);
        Array dst = float_like(op, "dstart", dstart_, a.scores, {K}, " (K)", true);
        for (const Array* o : {&ds, &dt, &dst})
          expect_no_overlap(*o, {&a.scores, &a.offsets, &a.tags, &a.trans, &a.start, &g, &ds, &dt, &dst});
        const Backend be = backend_for(
            op, {&a.scores, &a.offsets, &a.tags, &a.trans, &a.start, &g, &ds, &dt, &dst}, reference);
        check_values(op, a, offsets_, tags_);
        py::gil_scoped_release nogil;
        float_dispatch(a.scores, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(crf_nll_backward), a.scores.ptr<T>(), a.offsets.ptr<int64_t>(),
                             a.tags.ptr<int32_t>(), a.trans.ptr<T>(), a.start.ptr<T>(), g.ptr<T>(), ds.ptr<T>(),
                             dt.ptr<T>(), dst.ptr<T>(), S, N, K);
        });
      },
      py::arg("scores"), py::arg("offsets"), py::arg("tags"), py::arg("transitions"),
      py::arg("start"), py::arg("grad_nll"), py::arg("dscores"), py::arg("dtransitions"),
      py::arg("dstart"), py::arg("reference") = false,
      "Gradients of sum_s grad_nll[s] * nll[s]: dscores (N, K), dtransitions (K, K), dstart (K), "
      "all overwritten.");

  m.def(
      "viterbi_decode",
      [](py::object scores_, py::object offsets_, py::object trans_, py::object start_,
         py::object tags_, py::object best_, bool reference) {
        const char* op = "viterbi_decode";
        CrfArgs a = crf_args(op, scores_, offsets_, py::none(), trans_, start_, false);
        const int64_t S = a.S, N = a.N, K = a.K;
        Array tags = int_vector(op, "tags", tags_, DType::kInt32, "int32");
        expect_shape(tags, {N}, " (N, one tag per row of scores)");
        FASTNLP_CHECK(tags.writeable, op, ": tags is written in place and must be writeable, got a "
                      "read-only array");
        Array best = float_like(op, "best_scores", best_, a.scores, {S}, " (S, one per sentence)", true);
        for (const Array* o : {&tags, &best}) expect_no_overlap(*o, {&a.scores, &a.offsets, &a.trans, &a.start, &tags, &best});
        const Backend be =
            backend_for(op, {&a.scores, &a.offsets, &a.trans, &a.start, &tags, &best}, reference);
        check_values(op, a, offsets_, py::none());
        py::gil_scoped_release nogil;
        float_dispatch(a.scores, [&](auto t) {
          using T = decltype(t);
          dispatch_kernel<T>(be, FASTNLP_KERNEL(viterbi_decode), a.scores.ptr<T>(), a.offsets.ptr<int64_t>(),
                             a.trans.ptr<T>(), a.start.ptr<T>(), tags.ptr<int32_t>(), best.ptr<T>(), S, N, K);
        });
      },
      py::arg("scores"), py::arg("offsets"), py::arg("transitions"), py::arg("start"),
      py::arg("tags"), py::arg("best_scores"), py::arg("reference") = false,
      "Best path per sentence: tags (N) int32 and best_scores (S). Ties go to the lowest tag id "
      "(the last tag first, then each best predecessor).");
}

}  // namespace fastnlp::bindings
