// Bindings for word2vec (models/word2vec.h, vocab.h, huffman.h): the vocabulary counter, the
// trainer (epochs run in C++ threads without the GIL; Python polls and may stop them), and the
// pieces the tests hold against NumPy (one exact step, noise / subsampling tables, Huffman codes).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "models/huffman.h"
#include "models/text_reader.h"  // is_space_byte
#include "models/vocab.h"
#include "models/word2vec.h"
#include "models/word2vec_config.h"

#ifdef FASTNLP_WITH_CUDA
#include "word2vec_cuda.h"
#endif

namespace fastnlp::bindings {
namespace {

template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
  return a;
}

// A float32 matrix updated in place: (rows, cols) with cols < 0 matching any, C-contiguous,
// writeable, never a converted copy (the update would be lost).
Array matrix_inout(const char* op, const char* name, const py::handle& obj, int64_t rows, int64_t cols) {
  Array a = as_array(op, name, obj);
  if (a.on_gpu)
    throw py::type_error(str_cat(op, ": ", name, " must be a NumPy array (the word2vec trainer runs on the CPU)"));
  if (a.dtype != DType::kFloat32)
    throw py::type_error(str_cat(op, ": ", name, " must be float32, got ", a.dtype_name, " with shape ",
                                 a.shape_str()));
  FASTNLP_CHECK(a.ndim() == 2, op, ": ", name, " must be 2-D, got shape ", a.shape_str());
  FASTNLP_CHECK(a.contiguous, op, ": ", name, " must be C-contiguous, got a strided view of shape ", a.shape_str());
  FASTNLP_CHECK(a.writeable, op, ": ", name, " is updated in place and must be writeable, got a read-only array");
  expect_shape(a, {rows, cols}, " (V, D)");
  return a;
}

// int64 counts (V) from any integer array-like.
std::vector<int64_t> counts_in(const char* op, const py::handle& obj) {
  py::array_t<int64_t, py::array::c_style | py::array::forcecast> a;
  try {
    a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(obj);
  } catch (const py::error_already_set&) {
  }
  FASTNLP_CHECK(a && a.ndim() == 1, op, ": counts must be a 1-D integer array");
  std::vector<int64_t> v(a.data(), a.data() + a.size());
  for (size_t i = 0; i < v.size(); ++i)
    FASTNLP_CHECK(v[i] >= 0, op, ": counts must be >= 0, got ", v[i], " at ", i);
  return v;
}

// A vocabulary word must be what a corpus file could hold and the word2vec formats can store: not
// empty, no ASCII whitespace (the separators of both; U+3000, no-break spaces and other Unicode
// spaces are part of a word and saved as they are). Refused when the vocabulary is built, not at
// save after training.
void expect_storable_word(std::string_view w, int64_t sentence) {
  bool ok = !w.empty();
  for (char c : w) ok = ok && !is_space_byte(static_cast<unsigned char>(c));
  if (ok) return;
  std::string shown;
  for (char c : w) {
    if (c == ' ') shown += ' ';
    else if (is_space_byte(static_cast<unsigned char>(c))) shown += str_cat("\\x0", "9abcd"[c - '\t']);
    else shown += c;
  }
  throw py::value_error(str_cat("build_vocab: the token '", shown, "' in sentence ", sentence,
                                " is empty or contains ASCII whitespace, which separates words in corpus files "
                                "and the word2vec formats (split it first)"));
}

std::vector<int32_t> ids_vector(const char* op, const char* name, const py::handle& obj) {
  Array a = ids_in(op, name, obj, 1, /*allow_empty=*/true);
  std::vector<int32_t> v(static_cast<size_t>(a.size()));
  for (int64_t i = 0; i < a.size(); ++i)
    v[i] = a.dtype == DType::kInt32 ? a.ptr<int32_t>()[i] : static_cast<int32_t>(a.ptr<int64_t>()[i]);
  return v;
}

// Iterates a Python iterable of token lists, calling tok(std::string_view) per token and eos()
// per sentence. A str sentence is the classic mistake (it would iterate characters): TypeError.
template <typename Tok, typename Eos>
void for_each_token(const char* op, const py::iterable& sentences, Tok&& tok, Eos&& eos) {
  int64_t s = 0;
  for (py::handle sent : sentences) {
    if (PyUnicode_Check(sent.ptr()) || PyBytes_Check(sent.ptr()))
      throw py::type_error(str_cat(op, ": each sentence must be a list of str tokens, got a ",
                                   py::str(py::type::of(sent).attr("__name__")).cast<std::string>(),
                                   " at sentence ", s, " (split it first)"));
    py::iterator it;
    try {
      it = py::iter(sent);
    } catch (const py::error_already_set&) {
      throw py::type_error(str_cat(op, ": each sentence must be a list of str tokens, got ",
                                   py::str(py::type::of(sent).attr("__name__")).cast<std::string>(),
                                   " at sentence ", s));
    }
    for (py::handle t : it) {
      if (!PyUnicode_Check(t.ptr()))
        throw py::type_error(str_cat(op, ": tokens must be str, got ",
                                     py::str(py::type::of(t).attr("__name__")).cast<std::string>(),
                                     " in sentence ", s));
      Py_ssize_t n = 0;
      const char* u = PyUnicode_AsUTF8AndSize(t.ptr(), &n);
      if (!u) {  // a lone surrogate: no UTF-8 for it
        PyErr_Clear();
        throw py::value_error(str_cat(op, ": a token in sentence ", s, " is not encodable as UTF-8 (it holds a "
                                      "lone surrogate)"));
      }
      tok(std::string_view(u, static_cast<size_t>(n)));
    }
    eos();
    ++s;
  }
}

// The trainer plus references to the arrays it updates, so they outlive it.
struct PyTrainer {
  py::object syn0, syn1neg, syn1;
  std::shared_ptr<const Vocab> vocab;
  std::unique_ptr<Word2VecTrainer> trainer;
};

py::dict progress_dict(const Word2VecProgress& p) {
  py::dict d;
  d["words"] = p.words;
  d["tokens"] = p.tokens;
  d["examples"] = p.examples;
  d["loss"] = p.loss;
  d["fraction"] = p.fraction;
  d["alpha"] = p.alpha;
  return d;
}

py::tuple huffman_tuple(const HuffmanTree& t) {
  return py::make_tuple(to_numpy(t.offsets), to_numpy(t.codes), to_numpy(t.points));
}

}  // namespace

void bind_word2vec(py::module_& m) {
  py::class_<VocabCounter>(m, "VocabCounter", "Streaming word counts (memory bounded by max_vocab_size).")
      .def(py::init<int64_t>(), py::arg("max_vocab_size") = 0)
      .def(
          "count_file",
          [](VocabCounter& c, const std::string& path) {
            py::gil_scoped_release nogil;
            c.count_file(path);
          },
          py::arg("path"), "Counts the whitespace-separated tokens of a text file, one sentence per line.")
      .def(
          "add_sentences",
          [](VocabCounter& c, const py::iterable& sentences) {
            int64_t s = 0;
            for_each_token(
                "build_vocab", sentences,
                [&](std::string_view w) {
                  expect_storable_word(w, s);
                  c.add(w);
                },
                [&] {
                  c.end_sentence();
                  ++s;
                });
          },
          py::arg("sentences"), "Counts an iterable of token lists.")
      .def(
          "finalize",
          [](const VocabCounter& c, int64_t min_count) {
            std::vector<std::string> words;
            std::vector<int64_t> counts;
            c.finalize(min_count, &words, &counts);
            return py::make_tuple(words, to_numpy(counts));
          },
          py::arg("min_count"), "(words, counts): count >= min_count, by descending count, ties by first appearance.")
      .def_property_readonly("total_words", &VocabCounter::total_words)
      .def_property_readonly("sentences", &VocabCounter::sentences)
      .def_property_readonly("distinct", &VocabCounter::distinct)
      .def_property_readonly("min_reduce", &VocabCounter::min_reduce);

  py::class_<Vocab, std::shared_ptr<Vocab>>(m, "Vocab", "Words and counts with a hash index (ids = positions).")
      .def(py::init([](std::vector<std::string> words, const py::handle& counts) {
             return std::make_shared<Vocab>(std::move(words), counts_in("Vocab", counts));
           }),
           py::arg("words"), py::arg("counts"))
      .def("__len__", &Vocab::size)
      .def("find", [](const Vocab& v, const std::string& w) { return v.find(w); }, py::arg("word"),
           "The id of word, or -1.")
      .def_property_readonly("total", &Vocab::total)
      .def(
          "encode",
          [](const Vocab& v, const py::iterable& sentences) {
            std::vector<int32_t> ids;
            std::vector<int64_t> offsets{0};
            int64_t tokens = 0;
            for_each_token("train", sentences,
                           [&](std::string_view w) {
                             ++tokens;
                             const int32_t id = v.find(w);
                             if (id >= 0) ids.push_back(id);
                           },
                           [&] { offsets.push_back(static_cast<int64_t>(ids.size())); });
            return py::make_tuple(to_numpy(ids), to_numpy(offsets), tokens);
          },
          py::arg("sentences"),
          "(ids int32 (N), offsets int64 (S + 1), tokens): in-vocabulary ids of the sentences, "
          "out-of-vocabulary tokens dropped; tokens counts them all.");

  const Word2VecConfig d;  // the defaults, stated once in the struct
  py::class_<Word2VecConfig>(m, "Word2VecConfig",
                             "word2vec's training settings (models/word2vec_config.h), checked when made: "
                             "the one place their rules live.")
      .def(py::init([](int64_t dim, int64_t window, int64_t negative, bool hs, bool sg, bool cbow_mean,
                       bool shared_negatives, double sample, double ns_exponent, double alpha, double min_alpha,
                       uint64_t seed, int threads, int64_t max_sentence, int64_t hot_rows,
                       const std::string& alpha_schedule) {
             FASTNLP_CHECK(alpha_schedule == "global" || alpha_schedule == "per_worker",
                           "word2vec: alpha_schedule must be 'global' or 'per_worker', got '", alpha_schedule, "'");
             Word2VecConfig c;
             c.alpha_per_worker = alpha_schedule == "per_worker";
             c.dim = dim;
             c.window = window;
             c.negative = negative;
             c.hs = hs;
             c.sg = sg;
             c.cbow_mean = cbow_mean;
             c.shared_negatives = shared_negatives;
             c.sample = sample;
             c.ns_exponent = ns_exponent;
             c.alpha = alpha;
             c.min_alpha = min_alpha;
             c.seed = seed;
             c.threads = threads;
             c.max_sentence = max_sentence;
             c.hot_rows = hot_rows;
             check_word2vec_config(c);
             return c;
           }),
           py::kw_only(), py::arg("dim") = d.dim, py::arg("window") = d.window, py::arg("negative") = d.negative,
           py::arg("hs") = d.hs, py::arg("sg") = d.sg, py::arg("cbow_mean") = d.cbow_mean,
           py::arg("shared_negatives") = d.shared_negatives, py::arg("sample") = d.sample,
           py::arg("ns_exponent") = d.ns_exponent, py::arg("alpha") = d.alpha, py::arg("min_alpha") = d.min_alpha,
           py::arg("seed") = d.seed, py::arg("threads") = d.threads, py::arg("max_sentence") = d.max_sentence,
           py::arg("hot_rows") = d.hot_rows, py::arg("alpha_schedule") = d.alpha_per_worker ? "per_worker" : "global",
           "Raises ValueError naming the first setting out of range. hot_rows: syn1neg rows of words "
           "[0, hot_rows) each worker trains on its own copies between merges (-1: automatic, on with 2+ "
           "threads; 0: off). alpha_schedule: 'global' (word2vec.c's decay over all workers' words) or "
           "'per_worker' (gensim corpus_file's: each worker by its own words against the whole epoch).")
      .def_readonly("dim", &Word2VecConfig::dim)
      .def_readonly("window", &Word2VecConfig::window)
      .def_readonly("negative", &Word2VecConfig::negative)
      .def_readonly("hs", &Word2VecConfig::hs)
      .def_readonly("sg", &Word2VecConfig::sg)
      .def_readonly("cbow_mean", &Word2VecConfig::cbow_mean)
      .def_readonly("shared_negatives", &Word2VecConfig::shared_negatives)
      .def_readonly("sample", &Word2VecConfig::sample)
      .def_readonly("ns_exponent", &Word2VecConfig::ns_exponent)
      .def_readonly("alpha", &Word2VecConfig::alpha)
      .def_readonly("min_alpha", &Word2VecConfig::min_alpha)
      .def_readonly("seed", &Word2VecConfig::seed)
      .def_readonly("threads", &Word2VecConfig::threads)
      .def_readonly("max_sentence", &Word2VecConfig::max_sentence)
      .def_readonly("hot_rows", &Word2VecConfig::hot_rows)
      .def_property_readonly("alpha_schedule", [](const Word2VecConfig& c) {
        return std::string(c.alpha_per_worker ? "per_worker" : "global");
      });

  py::class_<PyTrainer>(m, "Word2VecTrainer",
                        "Hogwild word2vec trainer: start an epoch, poll wait()/progress(), stop() on interrupt.")
      .def(py::init([](std::shared_ptr<Vocab> vocab, py::object syn0_, py::object syn1neg_, py::object syn1_,
                       const Word2VecConfig& c, const std::string& device) {
             const char* op = "Word2VecTrainer";
             FASTNLP_CHECK(vocab, op, ": vocab is None");
             FASTNLP_CHECK(device == "cpu" || device == "cuda" || device == "emulated", op,
                           ": device must be 'cpu', 'cuda' or 'emulated', got '", device, "'");
             const int64_t V = vocab->size();
             Word2VecParams p;
             const Array syn0 = matrix_inout(op, "syn0", syn0_, V, c.dim);
             const Array syn1neg = syn1neg_.is_none() ? Array{} : matrix_inout(op, "syn1neg", syn1neg_, V, c.dim);
             const Array syn1 = syn1_.is_none() ? Array{} : matrix_inout(op, "syn1", syn1_, V, c.dim);
             for (const Array* o : {&syn0, &syn1neg, &syn1}) expect_no_overlap(*o, {&syn0, &syn1neg, &syn1});
             p.syn0 = syn0.ptr<float>();
             p.syn1neg = syn1neg.ptr<float>();
             p.syn1 = syn1.ptr<float>();
             p.V = V;
             p.D = c.dim;
             auto t = std::make_unique<PyTrainer>();
             t->syn0 = syn0_;
             t->syn1neg = syn1neg_;
             t->syn1 = syn1_;
             t->vocab = vocab;
             t->trainer = std::make_unique<Word2VecTrainer>(c, vocab, p);
             if (device == "emulated") {
               t->trainer->set_device(make_emulated_device(c, t->trainer->noise(), t->trainer->tree(), p));
             } else if (device == "cuda") {
#ifdef FASTNLP_WITH_CUDA
               t->trainer->set_device(fastnlp::cuda::make_word2vec_device(c, t->trainer->noise(), p));
#else
               throw std::runtime_error(
                   "Word2VecTrainer: device='cuda' but fastnlp was built without CUDA (rebuild with FASTNLP_CUDA=ON)");
#endif
             }
             return t;
           }),
           py::arg("vocab"), py::arg("syn0"), py::arg("syn1neg"), py::arg("syn1"), py::arg("config"),
           py::arg("device") = "cpu",
           "syn0, syn1neg, syn1: (V, config.dim) float32 arrays updated in place (None where unused). device: "
           "'cpu' (Hogwild threads), 'cuda' (a reader thread feeds the GPU trainer) or 'emulated' (the device "
           "path on the CPU, for tests).")
      .def(
          "start_files",
          [](PyTrainer& t, const std::vector<std::string>& paths, int64_t epoch, int64_t epochs) {
            py::gil_scoped_release nogil;
            t.trainer->start_files(paths, epoch, epochs);
          },
          py::arg("paths"), py::arg("epoch"), py::arg("epochs"))
      .def(
          "start_stream",
          [](PyTrainer& t, int64_t epoch, int64_t epochs, int64_t total_words) {
            t.trainer->start_stream(epoch, epochs, total_words);
          },
          py::arg("epoch"), py::arg("epochs"), py::arg("total_words"))
      .def(
          "push",
          [](PyTrainer& t, const py::handle& ids_, const py::handle& offsets_, double timeout) {
            std::vector<int32_t> ids = ids_vector("Word2VecTrainer.push", "ids", ids_);
            Array off = ids_in("Word2VecTrainer.push", "offsets", offsets_, 1);
            std::vector<int64_t> offsets(static_cast<size_t>(off.size()));
            for (int64_t i = 0; i < off.size(); ++i)
              offsets[i] = off.dtype == DType::kInt32 ? off.ptr<int32_t>()[i] : off.ptr<int64_t>()[i];
            py::gil_scoped_release nogil;
            return t.trainer->push(std::move(ids), std::move(offsets), timeout);
          },
          py::arg("ids"), py::arg("offsets"), py::arg("timeout") = -1.0)
      .def("close_stream", [](PyTrainer& t) { t.trainer->close_stream(); })
      .def(
          "wait",
          [](PyTrainer& t, double timeout) {
            py::gil_scoped_release nogil;
            return t.trainer->wait(timeout);
          },
          py::arg("timeout") = -1.0, "True when the epoch has finished; rethrows a worker's error.")
      .def("stop", [](PyTrainer& t) { t.trainer->stop(); })
      .def_property_readonly("stopping", [](const PyTrainer& t) { return t.trainer->stopping(); })
      .def_property_readonly("running", [](const PyTrainer& t) { return t.trainer->running(); })
      .def("progress", [](const PyTrainer& t) { return progress_dict(t.trainer->progress()); })
      .def("keep_probabilities", [](const PyTrainer& t) { return to_numpy(t.trainer->keep_probs()); })
      .def("noise_probabilities", [](const PyTrainer& t) {
        FASTNLP_CHECK(!t.trainer->noise().empty(), "Word2VecTrainer: negative sampling is off");
        return to_numpy(t.trainer->noise().probabilities());
      })
      .def("huffman", [](const PyTrainer& t) { return huffman_tuple(t.trainer->tree()); });

  m.def(
      "huffman_tree", [](const py::handle& counts) {
        const std::vector<int64_t> c = counts_in("huffman_tree", counts);
        return huffman_tuple(build_huffman(c.data(), static_cast<int64_t>(c.size())));
      },
      py::arg("counts"),
      "(offsets (V + 1), codes uint8, points int32): word w's bits and inner nodes, root first, are "
      "codes/points[offsets[w]:offsets[w + 1]].");

  m.def(
      "w2v_keep_probabilities",
      [](const py::handle& counts, double sample) {
        const std::vector<int64_t> c = counts_in("w2v_keep_probabilities", counts);
        return to_numpy(keep_probabilities(c.data(), static_cast<int64_t>(c.size()), sample));
      },
      py::arg("counts"), py::arg("sample"), "word2vec.c's subsampling keep probabilities (V).");

  m.def(
      "w2v_noise_probabilities",
      [](const py::handle& counts, double power) {
        const std::vector<int64_t> c = counts_in("w2v_noise_probabilities", counts);
        return to_numpy(NoiseSampler(c.data(), static_cast<int64_t>(c.size()), power).probabilities());
      },
      py::arg("counts"), py::arg("power") = 0.75, "The noise distribution the alias sampler realizes (V).");

  m.def(
      "w2v_noise_sample",
      [](const py::handle& counts, double power, int64_t n, uint64_t seed) {
        const std::vector<int64_t> c = counts_in("w2v_noise_sample", counts);
        FASTNLP_CHECK(n >= 0, "w2v_noise_sample: n must be >= 0, got ", n);
        NoiseSampler s(c.data(), static_cast<int64_t>(c.size()), power);
        py::array_t<int32_t> out(n);
        int32_t* o = out.mutable_data();
        Rng rng{seed};
        for (int64_t i = 0; i < n; ++i) o[i] = s.draw(rng.next());
        return out;
      },
      py::arg("counts"), py::arg("power"), py::arg("n"), py::arg("seed"), "n draws from the noise sampler.");

  m.def(
      "word2vec_step",
      [](py::object syn0_, py::object syn1neg_, py::object syn1_, int64_t centre, const py::handle& context_,
         const py::handle& negatives_, const py::handle& codes_, const py::handle& points_, double alpha, bool sg,
         bool cbow_mean, bool shared_negatives, int64_t window) {
        const char* op = "word2vec_step";
        Array syn0 = matrix_inout(op, "syn0", syn0_, -1, -1);
        const int64_t V = syn0.dim(0), D = syn0.dim(1);
        Word2VecParams p;
        p.syn0 = syn0.ptr<float>();
        p.V = V;
        p.D = D;
        Word2VecConfig c;
        c.dim = D;
        c.window = window;
        c.sg = sg;
        c.cbow_mean = cbow_mean;
        c.shared_negatives = shared_negatives;
        FASTNLP_CHECK(centre >= 0 && centre < V, op, ": centre must be in [0, ", V, "), got ", centre);
        std::vector<int32_t> context = ids_vector(op, "context", context_);
        for (int32_t id : context) FASTNLP_CHECK(id >= 0 && id < V, op, ": context ids must be in [0, ", V, "), got ", id);
        const int64_t C = static_cast<int64_t>(context.size());
        std::vector<int32_t> neg;
        int64_t K = 0;
        if (!negatives_.is_none()) {
          Array n = ids_in(op, "negatives", negatives_, 2, /*allow_empty=*/true);
          const int64_t rows = (sg && !shared_negatives) ? C : 1;
          expect_shape(n, {rows, -1}, sg && !shared_negatives ? " (C, K): one row per context word" : " (1, K)");
          expect_ids_in_range(n, V, "word ids");
          K = n.dim(1);
          neg.resize(static_cast<size_t>(n.size()));
          for (int64_t i = 0; i < n.size(); ++i)
            neg[i] = n.dtype == DType::kInt32 ? n.ptr<int32_t>()[i] : static_cast<int32_t>(n.ptr<int64_t>()[i]);
          const Array syn1neg = matrix_inout(op, "syn1neg", syn1neg_, V, D);
          expect_no_overlap(syn1neg, {&syn0});
          p.syn1neg = syn1neg.ptr<float>();
        }
        c.negative = K;
        std::vector<uint8_t> codes;
        std::vector<int32_t> points;
        if (!codes_.is_none()) {
          c.hs = true;
          const Array syn1 = matrix_inout(op, "syn1", syn1_, V, D);
          expect_no_overlap(syn1, {&syn0});
          const Array syn1neg = p.syn1neg ? as_array(op, "syn1neg", syn1neg_) : Array{};
          expect_no_overlap(syn1, {&syn1neg});
          p.syn1 = syn1.ptr<float>();
          // Input-only small arrays: any integer dtype is fine (huffman_tree gives uint8 codes).
          auto cv_arr = py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(codes_);
          FASTNLP_CHECK(cv_arr && cv_arr.ndim() == 1, op, ": codes must be a 1-D integer array");
          std::vector<int32_t> cv(cv_arr.data(), cv_arr.data() + cv_arr.size());
          points = ids_vector(op, "points", points_);
          FASTNLP_CHECK(cv.size() == points.size(), op, ": codes and points must have the same length, got ",
                        cv.size(), " and ", points.size());
          for (int32_t b : cv) FASTNLP_CHECK(b == 0 || b == 1, op, ": codes must be 0 or 1, got ", b);
          for (int32_t q : points)
            FASTNLP_CHECK(q >= 0 && q < V, op, ": points must be in [0, ", V, "), got ", q);
          codes.assign(cv.begin(), cv.end());
        }
        py::gil_scoped_release nogil;
        return word2vec_step(c, p, static_cast<int32_t>(centre), context.data(), C, neg.data(), K, codes.data(),
                             points.data(), static_cast<int64_t>(points.size()), static_cast<float>(alpha));
      },
      py::arg("syn0"), py::arg("syn1neg"), py::arg("syn1"), py::arg("centre"), py::arg("context"),
      py::arg("negatives"), py::arg("codes") = py::none(), py::arg("points") = py::none(), py::arg("alpha") = 0.025,
      py::arg("sg") = true, py::arg("cbow_mean") = true, py::arg("shared_negatives") = false, py::arg("window") = 5,
      "One SGD step at one centre word with the given context and negatives (None: no negative "
      "sampling) and Huffman path (codes/points, None: no hierarchical softmax); updates the "
      "matrices in place and returns the summed loss.");
}

}  // namespace fastnlp::bindings
