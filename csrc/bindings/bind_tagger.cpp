// Bindings for the window tagger's inference path: the featurizer (models/tagger_features.h) and
// the window-network scores (models/window_tagger.h). Token strings are read in place under the
// GIL (each one kept alive by a reference), then the work runs without it.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "models/tagger_features.h"
#include "models/window_tagger.h"

namespace fastnlp::bindings {
namespace {

std::string type_name(py::handle obj) {
  return py::str(py::type::of(obj).attr("__name__")).cast<std::string>();
}

// The UTF-8 bytes of str `s` without a copy (CPython caches them on the object). A str holding
// lone surrogates (e.g. bytes decoded with errors="surrogateescape") has no UTF-8 form; it is
// encoded with "surrogatepass" instead, each surrogate as its 3-byte pattern, into a bytes object
// kept alive in `keep`. That encoding is one-to-one and counts a surrogate as one code point, so
// the ids equal featurize_ref's, lexicon entries being encoded the same way.
std::string_view utf8_of(PyObject* s, std::vector<py::object>* keep) {
  Py_ssize_t n = 0;
  if (const char* u = PyUnicode_AsUTF8AndSize(s, &n)) return {u, static_cast<size_t>(n)};
  if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) throw py::error_already_set();
  PyErr_Clear();
  PyObject* b = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
  if (!b) throw py::error_already_set();
  keep->push_back(py::reinterpret_steal<py::object>(b));
  return {PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b))};
}

// A list or tuple (anything else, a str in particular, is a TypeError built by `what`).
template <typename What>
void expect_list(py::handle obj, What&& what) {
  if (!PyList_Check(obj.ptr()) && !PyTuple_Check(obj.ptr())) throw py::type_error(what());
}

std::vector<std::string> strings_of(py::handle seq, const std::string& where) {
  std::vector<std::string> out;
  std::vector<py::object> keep;
  const py::sequence items = py::reinterpret_borrow<py::sequence>(seq);
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const py::object item = items[i];
    if (!PyUnicode_Check(item.ptr()))
      throw py::type_error(str_cat("Featurizer: ", where, "[", i, "] must be str, got ", type_name(item)));
    out.emplace_back(utf8_of(item.ptr(), &keep));
  }
  return out;
}

std::unique_ptr<Featurizer> make_featurizer(py::handle families_, py::handle lexicons_, py::handle cluster_words_,
                                            py::handle cluster_paths_) {
  expect_list(families_, [&] {
    return str_cat("Featurizer: families must be a list of str, got ", type_name(families_));
  });
  expect_list(lexicons_, [&] {
    return str_cat("Featurizer: lexicons must be a list of lists of str, got ", type_name(lexicons_));
  });
  const std::vector<std::string> families = strings_of(families_, "families");
  const py::sequence lexicons = py::reinterpret_borrow<py::sequence>(lexicons_);
  FASTNLP_CHECK(lexicons.size() == families.size(), "Featurizer: expected one lexicon per family (",
                families.size(), " families), got ", lexicons.size(), " lexicons");
  std::vector<std::vector<std::string>> lex(families.size());
  for (size_t f = 0; f < families.size(); ++f) {
    if (parse_feature_family(families[f]).kind == FeatureKind::kCaps) continue;  // no lexicon
    const py::object l = lexicons[f];
    expect_list(l, [&] {
      return str_cat("Featurizer: lexicons[", f, "] (family '", families[f], "') must be a list of str, got ",
                     type_name(l));
    });
    lex[f] = strings_of(l, str_cat("lexicons[", f, "]"));
  }
  expect_list(cluster_words_, [&] {
    return str_cat("Featurizer: cluster_words must be a list of str, got ", type_name(cluster_words_));
  });
  expect_list(cluster_paths_, [&] {
    return str_cat("Featurizer: cluster_paths must be a list of str, got ", type_name(cluster_paths_));
  });
  return std::make_unique<Featurizer>(families, lex, strings_of(cluster_words_, "cluster_words"),
                                      strings_of(cluster_paths_, "cluster_paths"));
}

// (ids (N, F) int32, offsets (S + 1) int64) for a list of token lists.
py::tuple featurize(const Featurizer& fz, py::handle sentences_) {
  const char* op = "featurize";
  if (PyUnicode_Check(sentences_.ptr()) || PyBytes_Check(sentences_.ptr()))
    throw py::type_error(str_cat(op, ": sentences must be a list of token lists, got ", type_name(sentences_)));
  // Any iterable of sentences; a generator is materialized once here.
  const py::object seq = py::reinterpret_steal<py::object>(
      PySequence_Fast(sentences_.ptr(), "featurize: sentences must be a list of token lists"));
  if (!seq) throw py::error_already_set();
  const Py_ssize_t S = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** sents = PySequence_Fast_ITEMS(seq.ptr());

  py::array_t<int64_t> offsets(S + 1);
  int64_t* off = offsets.mutable_data();
  off[0] = 0;
  std::vector<std::string_view> tokens;
  std::vector<py::object> keep;  // every token (and any surrogatepass bytes): valid without the GIL
  for (Py_ssize_t s = 0; s < S; ++s) {
    const py::handle sent(sents[s]);
    expect_list(sent, [&] {
      return str_cat(op, ": sentence ", s, " must be a list of str tokens, got ", type_name(sent),
                     PyUnicode_Check(sent.ptr()) ? " (tokenize raw text first, e.g. fastnlp.tagging.tokenize)" : "");
    });
    const Py_ssize_t L = PySequence_Fast_GET_SIZE(sent.ptr());
    PyObject** items = PySequence_Fast_ITEMS(sent.ptr());
    for (Py_ssize_t i = 0; i < L; ++i) {
      PyObject* t = items[i];
      if (!PyUnicode_Check(t))
        throw py::type_error(str_cat(op, ": token ", i, " of sentence ", s, " must be str, got ", type_name(t)));
      keep.push_back(py::reinterpret_borrow<py::object>(t));
      tokens.push_back(utf8_of(t, &keep));
    }
    off[s + 1] = static_cast<int64_t>(tokens.size());
  }
  const int64_t N = static_cast<int64_t>(tokens.size()), F = fz.num_families();
  py::array_t<int32_t> ids({N, F});
  int32_t* out = ids.mutable_data();
  {
    py::gil_scoped_release nogil;
    fz.featurize(tokens.data(), N, out);
  }
  return py::make_tuple(ids, offsets);
}

// offsets (S + 1) int64: 0, non-decreasing, ending at N.
void expect_offsets(const Array& offsets, int64_t N) {
  const char* op = offsets.op;
  if (offsets.dtype != DType::kInt64)
    throw py::type_error(str_cat(op, ": offsets must be int64, got ", offsets.dtype_name));
  const int64_t* o = offsets.ptr<int64_t>();
  const int64_t S = offsets.size() - 1;
  FASTNLP_CHECK(o[0] == 0, op, ": offsets[0] must be 0, got ", o[0]);
  for (int64_t s = 0; s < S; ++s)
    FASTNLP_CHECK(o[s + 1] >= o[s], op, ": offsets must be non-decreasing, got offsets[", s, "] = ", o[s],
                  " > offsets[", s + 1, "] = ", o[s + 1]);
  FASTNLP_CHECK(o[S] == N, op, ": offsets[-1] must equal the rows of ids (", N, "), got ", o[S]);
}

// Column f of ids (N, F) in [0, V).
template <typename I>
void expect_family_ids(const char* op, const I* ids, int64_t N, int64_t F, int64_t f, int64_t V) {
  for (int64_t r = 0; r < N; ++r) {
    const int64_t v = ids[r * F + f];
    FASTNLP_CHECK(v >= 0 && v < V, op, ": ids[:, ", f, "] (family ", f, ") must be in [0, ", V,
                  ") (the rows of tables[", f, "]), got ", v, " at row ", r);
  }
}

// The network's arrays, checked: tables[f] (V_f, D_f), W1 (H, window * sum D_f), b1 (H), W2 (K, H),
// b2 (K), all float32 or all float64, on the CPU. Filled in place (Array keeps a pointer to its
// name, held in `names`), so the struct is neither copied nor moved.
struct NetworkArrays {
  std::vector<std::string> names;
  std::vector<Array> tables;
  Array W1, b1, W2, b2;
  int64_t Din = 0, H = 0, K = 0;

  NetworkArrays() = default;
  NetworkArrays(const NetworkArrays&) = delete;
  NetworkArrays& operator=(const NetworkArrays&) = delete;
  int64_t F() const { return static_cast<int64_t>(tables.size()); }

  template <typename T>
  WindowNetwork<T> network(int64_t window) const {
    WindowNetwork<T> net;
    for (const Array& tab : tables) {
      net.tables.push_back(tab.ptr<T>());
      net.dims.push_back(tab.dim(1));
    }
    net.W1 = W1.ptr<T>();
    net.b1 = b1.ptr<T>();
    net.W2 = W2.ptr<T>();
    net.b2 = b2.ptr<T>();
    net.window = window;
    net.H = H;
    net.K = K;
    return net;
  }
};

void read_network(const char* op, py::handle tables_, py::handle W1_, py::handle b1_, py::handle W2_,
                  py::handle b2_, int64_t window, NetworkArrays& a) {
  FASTNLP_CHECK(window >= 1 && window % 2 == 1, op, ": window must be odd and >= 1, got ", window);
  a.W1 = float_in(op, "W1", W1_, 2);
  expect_list(tables_, [&] {
    return str_cat(op, ": tables must be a list of 2-D arrays (one per family), got ", type_name(tables_));
  });
  const py::sequence tabs = py::reinterpret_borrow<py::sequence>(tables_);
  const int64_t F = static_cast<int64_t>(tabs.size());
  FASTNLP_CHECK(F >= 1, op, ": tables must hold at least one embedding table, got an empty list");
  a.names.resize(F);  // never resized again: the Arrays point into these strings
  a.tables.resize(F);
  for (int64_t f = 0; f < F; ++f) {
    a.names[f] = str_cat("tables[", f, "]");
    a.tables[f] = float_in(op, a.names[f].c_str(), tabs[f], 2);
    expect_same_dtype(a.tables[f], a.W1);
    a.Din += a.tables[f].dim(1);
  }
  const std::string why_w1 = str_cat(" (H, window * sum(D_f) = ", window, " * ", a.Din, ")");
  expect_shape(a.W1, {-1, window * a.Din}, why_w1.c_str());
  a.H = a.W1.dim(0);
  a.b1 = float_in(op, "b1", b1_, 1);
  expect_same_dtype(a.b1, a.W1);
  expect_shape(a.b1, {a.H}, " (H, the rows of W1)");
  a.W2 = float_in(op, "W2", W2_, 2);
  expect_same_dtype(a.W2, a.W1);
  expect_shape(a.W2, {-1, a.H}, " (K, H) with H from W1");
  a.K = a.W2.dim(0);
  // The GEMMs run inside an OpenMP region, where their own size check could not throw cleanly.
  FASTNLP_CHECK(window * a.Din <= INT32_MAX && window * (a.H + 16) <= INT32_MAX && a.K <= INT32_MAX, op,
                ": W1 and W2 must fit 32-bit BLAS sizes, got W1 ", a.W1.shape_str(), " W2 ", a.W2.shape_str());
  a.b2 = float_in(op, "b2", b2_, 1);
  expect_same_dtype(a.b2, a.W1);
  expect_shape(a.b2, {a.K}, " (K, the rows of W2)");
  std::vector<const Array*> all = {&a.W1, &a.b1, &a.W2, &a.b2};
  for (const Array& t : a.tables) all.push_back(&t);
  for (const Array* x : all)
    FASTNLP_CHECK(!x->on_gpu, op, ": runs on the CPU; pass NumPy arrays (", x->name, " is on the GPU)");
}

// ids (N, F) with column f in [0, vocab[f]) and offsets (S + 1) for them, on the CPU.
void read_batch(const char* op, py::handle ids_, py::handle offsets_, const std::vector<int64_t>& vocab,
                const char* why_f, Array& ids, Array& offsets) {
  const int64_t F = static_cast<int64_t>(vocab.size());
  ids = ids_in(op, "ids", ids_, 2, /*allow_empty=*/true);
  expect_shape(ids, {-1, F}, why_f);
  const int64_t N = ids.dim(0);
  offsets = ids_in(op, "offsets", offsets_, 1);
  for (const Array* x : {&ids, &offsets})
    FASTNLP_CHECK(!x->on_gpu, op, ": runs on the CPU; pass NumPy arrays (", x->name, " is on the GPU)");
  expect_offsets(offsets, N);
  ids_dispatch(ids, [&](auto i) {
    using I = decltype(i);
    for (int64_t f = 0; f < F; ++f) expect_family_ids(op, ids.ptr<I>(), N, F, f, vocab[f]);
  });
}

// A float output of shape (N, K) and the dtype of `like`, written in place (may be empty).
void expect_scores_out(const char* op, const Array& scores, const Array& like, int64_t N, int64_t K) {
  expect_same_dtype(scores, like);
  expect_shape(scores, {N, K}, " (N, K)");
  FASTNLP_CHECK(scores.contiguous, op, ": scores must be C-contiguous");
  FASTNLP_CHECK(scores.writeable, op, ": scores is written in place and must be writeable, got a read-only array");
  FASTNLP_CHECK(!scores.on_gpu, op, ": runs on the CPU; pass NumPy arrays (scores is on the GPU)");
}

void window_scores_binding(py::object ids_, py::object offsets_, py::object tables_, py::object W1_,
                           py::object b1_, py::object W2_, py::object b2_, py::object scores_, int64_t window,
                           bool reference) {
  const char* op = "window_scores";
  NetworkArrays a;
  read_network(op, tables_, W1_, b1_, W2_, b2_, window, a);
  std::vector<int64_t> vocab;
  for (const Array& t : a.tables) vocab.push_back(t.dim(0));
  Array ids, offsets;
  read_batch(op, ids_, offsets_, vocab, " (N, F) with F = len(tables)", ids, offsets);
  const int64_t N = ids.dim(0);
  Array scores = as_array(op, "scores", scores_);  // may be empty (N = 0): not float_out
  expect_scores_out(op, scores, a.W1, N, a.K);
  for (const Array* in : {&a.W1, &a.b1, &a.W2, &a.b2, &ids, &offsets}) expect_no_overlap(scores, {in});
  for (const Array& t : a.tables) expect_no_overlap(scores, {&t});

  const int64_t S = offsets.size() - 1;
  py::gil_scoped_release nogil;
  float_dispatch(a.W1, [&](auto t) {
    using T = decltype(t);
    const WindowNetwork<T> net = a.network<T>(window);
    ids_dispatch(ids, [&](auto i) {
      using I = decltype(i);
      dispatch_kernel<T>(reference ? Backend::kReference : Backend::kCpu, FASTNLP_CPU_KERNEL(window_scores), net,
                         ids.ptr<I>(), offsets.ptr<int64_t>(), S, scores.ptr<T>());
    });
  });
}

std::unique_ptr<WindowScorer> make_scorer(py::object tables_, py::object W1_, py::object b1_, py::object W2_,
                                          py::object b2_, int64_t window, double cache_mb, py::object cache_rows_) {
  const char* op = "WindowScorer";
  NetworkArrays a;
  read_network(op, tables_, W1_, b1_, W2_, b2_, window, a);
  if (a.W1.dtype != DType::kFloat32)
    throw py::type_error(str_cat(op, ": the weights must be float32 (window_scores runs float64), got ",
                                 a.W1.dtype_name));
  FASTNLP_CHECK(std::isfinite(cache_mb) && cache_mb >= 0, op, ": cache_mb must be a finite number >= 0, got ",
                cache_mb);
  const int64_t F = a.F();
  std::vector<int64_t> vocab, dims;
  for (const Array& t : a.tables) {
    vocab.push_back(t.dim(0));
    dims.push_back(t.dim(1));
  }
  std::vector<int64_t> rows;
  if (is_none(cache_rows_)) {
    rows = WindowScorer::rows_for_budget(vocab, dims, window, a.H, cache_mb * (1 << 20));
  } else {
    expect_list(cache_rows_, [&] {
      return str_cat(op, ": cache_rows must be None or a list of ints (one per family), got ", type_name(cache_rows_));
    });
    const py::sequence seq = py::reinterpret_borrow<py::sequence>(cache_rows_);
    FASTNLP_CHECK(static_cast<int64_t>(seq.size()) == F, op, ": cache_rows must hold one count per family (", F,
                  "), got ", seq.size());
    for (int64_t f = 0; f < F; ++f) {
      const py::object v = seq[f];
      if (!PyLong_Check(v.ptr()) || PyBool_Check(v.ptr()))
        throw py::type_error(str_cat(op, ": cache_rows[", f, "] must be an int, got ", type_name(v)));
      const int64_t k = v.cast<int64_t>();
      const int64_t lo = std::min<int64_t>(2, vocab[f]);
      FASTNLP_CHECK(k >= lo && k <= vocab[f], op, ": cache_rows[", f, "] must be in [", lo, ", ", vocab[f],
                    "] (ids 0 and 1 are always cached; tables[", f, "] has ", vocab[f], " rows), got ", k);
      rows.push_back(k);
    }
  }
  py::gil_scoped_release nogil;
  return std::make_unique<WindowScorer>(a.network<float>(window), vocab, rows);
}

std::vector<int64_t> scorer_vocab(const WindowScorer& sc) {
  std::vector<int64_t> v;
  for (int64_t f = 0; f < sc.num_families(); ++f) v.push_back(sc.vocab_size(f));
  return v;
}

py::object scorer_scores(const WindowScorer& sc, py::object ids_, py::object offsets_, py::object out_) {
  const char* op = "WindowScorer.scores";
  Array ids, offsets;
  read_batch(op, ids_, offsets_, scorer_vocab(sc), " (N, F) with F the scorer's families", ids, offsets);
  const int64_t N = ids.dim(0), K = sc.num_tags();
  if (is_none(out_)) out_ = py::array_t<float>({N, K});
  Array like;
  like.name = "the scorer";
  like.dtype = DType::kFloat32;
  like.dtype_name = "float32";
  Array scores = as_array(op, "scores", out_);
  expect_scores_out(op, scores, like, N, K);
  expect_no_overlap(scores, {&ids, &offsets});
  const int64_t S = offsets.size() - 1;
  {
    py::gil_scoped_release nogil;
    ids_dispatch(ids, [&](auto i) {
      using I = decltype(i);
      sc.scores(ids.ptr<I>(), offsets.ptr<int64_t>(), S, scores.ptr<float>());
    });
  }
  return out_;
}

py::array_t<int32_t> scorer_predict(const WindowScorer& sc, py::object ids_, py::object offsets_) {
  const char* op = "WindowScorer.predict";
  Array ids, offsets;
  read_batch(op, ids_, offsets_, scorer_vocab(sc), " (N, F) with F the scorer's families", ids, offsets);
  const int64_t N = ids.dim(0);
  py::array_t<int32_t> tags(N);
  int32_t* out = tags.mutable_data();
  const int64_t S = offsets.size() - 1;
  {
    py::gil_scoped_release nogil;
    ids_dispatch(ids, [&](auto i) {
      using I = decltype(i);
      sc.predict(ids.ptr<I>(), offsets.ptr<int64_t>(), S, out);
    });
  }
  return tags;
}

}  // namespace

void bind_tagger(py::module_& m) {
  py::class_<Featurizer>(m, "Featurizer",
                         "Token features of the window tagger: the ids of fastnlp.tagging.features.featurize_ref.")
      .def(py::init(&make_featurizer), py::arg("families"), py::arg("lexicons"),
           py::arg("cluster_words") = py::list(), py::arg("cluster_paths") = py::list(),
           "families: list of 'word', 'caps', 'suffixN', 'prefixN', 'clusterN'; lexicons[f]: the entries of "
           "family f in id order from 2 (0 = PADDING, 1 = UNKNOWN; caps's lexicon is ignored); "
           "cluster_words[i] (normalized) has the Brown bit string cluster_paths[i] (clusterN families).")
      .def("featurize", &featurize, py::arg("sentences"),
           "ids (N, F) int32 and offsets (S + 1,) int64 for a list of S token lists.")
      .def_property_readonly("families", &Featurizer::family_names)
      .def_property_readonly("vocab_sizes",
                             [](const Featurizer& fz) {
                               std::vector<int64_t> v;
                               for (int64_t f = 0; f < fz.num_families(); ++f) v.push_back(fz.vocab_size(f));
                               return v;
                             },
                             "Ids per family (the rows its embedding table needs): entries + 2, or 6 for caps.");

  m.def("window_scores", &window_scores_binding, py::arg("ids"), py::arg("offsets"), py::arg("tables"),
        py::arg("W1"), py::arg("b1"), py::arg("W2"), py::arg("b2"), py::arg("scores"), py::arg("window"),
        py::arg("reference") = false,
        "scores (N, K) = W2 hardtanh(W1 x + b1) + b2, x the window (odd) of embedded feature ids around "
        "each token; ids (N, F), offsets (S + 1), tables[f] (V_f, D_f), W1 (H, window * sum D_f).");

  py::class_<WindowScorer>(m, "WindowScorer",
                           "The window network's float32 scores with the first layer cached per feature id "
                           "(models/window_tagger.h); holds copies of what it needs from the weights.")
      .def(py::init(&make_scorer), py::arg("tables"), py::arg("W1"), py::arg("b1"), py::arg("W2"), py::arg("b2"),
           py::arg("window"), py::arg("cache_mb") = 24.0, py::arg("cache_rows") = py::none(),
           "tables[f] (V_f, D_f), W1 (H, window * sum D_f), b1 (H), W2 (K, H), b2 (K), float32. The first "
           "cache_rows[f] ids of each family are cached, by default as many as fit cache_mb MiB.")
      .def("scores", &scorer_scores, py::arg("ids"), py::arg("offsets"), py::arg("out") = py::none(),
           "scores (N, K) float32 for ids (N, F), offsets (S + 1); written into out when given.")
      .def("predict", &scorer_predict, py::arg("ids"), py::arg("offsets"),
           "The best tag of each token, int32 (N,): the argmax of its scores (the first on ties).")
      .def_property_readonly("cache_rows",
                             [](const WindowScorer& sc) {
                               std::vector<int64_t> v;
                               for (int64_t f = 0; f < sc.num_families(); ++f) v.push_back(sc.cache_rows(f));
                               return v;
                             },
                             "Cached ids per family (ids 0 .. cache_rows[f] - 1).")
      .def_property_readonly("cache_bytes", &WindowScorer::cache_bytes)
      .def_property_readonly("memory_bytes", &WindowScorer::memory_bytes,
                             "Bytes the scorer holds: the cache, the projections, the uncached table rows, W2.")
      .def_property_readonly("vocab_sizes", &scorer_vocab)
      .def_property_readonly("window", &WindowScorer::window)
      .def_property_readonly("num_tags", &WindowScorer::num_tags);
}

}  // namespace fastnlp::bindings
