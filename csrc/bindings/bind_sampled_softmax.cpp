// Bindings for sampled softmax (ops/sampled_softmax.h): the whole CPU step, its fused score middle
// (CPU and GPU; on the GPU fastnlp.ops.sampled_softmax runs the GEMMs in CuPy around it), and the
// alias-method sampler.
#include <pybind11/numpy.h>

#include "bindings/array.h"
#include "bindings/bindings.h"
#include "ops/sampled_softmax.h"

namespace fastnlp::bindings {
namespace {

void expect_same_ids_dtype(const Array& a, const Array& like) {
  if (a.dtype != like.dtype)
    throw py::type_error(str_cat(a.op, ": ", a.name, " must have the dtype of ", like.name, " (",
                                 like.dtype_name, "), got ", a.dtype_name));
}

// A float input of this shape and like's dtype, or an empty Array for None.
Array optional_float(const char* op, const char* name, const py::handle& obj, const Array& like,
                     std::initializer_list<int64_t> shape, const char* why, bool out) {
  if (is_none(obj)) return Array{};
  if (out) return float_out(op, name, obj, like, shape);
  Array a = float_in(op, name, obj, static_cast<int>(shape.size()));
  expect_same_dtype(a, like);
  expect_shape(a, shape, why);
  return a;
}

}  // namespace

void bind_sampled_softmax(py::module_& m) {
  m.def(
      "sampled_softmax",
      [](py::object h_, py::object W_, py::object b_, py::object targets_, py::object samples_,
         py::object logq_targets_, py::object logq_samples_, py::object losses_, py::object dh_,
         py::object grad_rows_, py::object grad_bias_, bool reference) {
        const char* op = "sampled_softmax";
        Array h = float_in(op, "h", h_, 2);
        const int64_t B = h.dim(0), H = h.dim(1);
        Array W = float_in(op, "W", W_, 2);
        expect_same_dtype(W, h);
        expect_shape(W, {-1, H}, " (V, H) with H from h");
        const int64_t V = W.dim(0);
        Array b = optional_float(op, "b", b_, h, {V}, " (V, the rows of W)", false);
        Array targets = ids_in(op, "targets", targets_, 1);
        expect_shape(targets, {B}, " (B, the rows of h)");
        Array samples = ids_in(op, "samples", samples_, 1);
        expect_same_ids_dtype(samples, targets);
        const int64_t K = samples.dim(0);
        Array logq_t = optional_float(op, "logq_targets", logq_targets_, h, {B}, " (B, one per target)", false);
        Array logq_s = optional_float(op, "logq_samples", logq_samples_, h, {K}, " (K, one per sample)", false);
        FASTNLP_CHECK(logq_t.data && logq_s.data, op, ": logq_targets and logq_samples are required");
        Array losses = optional_float(op, "losses", losses_, h, {B}, "", true);
        Array dh = optional_float(op, "dh", dh_, h, {B, H}, "", true);
        Array grad_rows = optional_float(op, "grad_rows", grad_rows_, h, {B + K, H}, "", true);
        Array grad_bias = optional_float(op, "grad_bias", grad_bias_, h, {B + K}, "", true);
        for (const Array* out : {&losses, &dh, &grad_rows, &grad_bias})
          expect_no_overlap(*out, {&h, &W, &b, &targets, &samples, &logq_t, &logq_s, &losses, &dh, &grad_rows, &grad_bias});
        const Backend be = cpu_backend_for(
            op, {&h, &W, &b, &targets, &samples, &logq_t, &logq_s, &losses, &dh, &grad_rows, &grad_bias},
            reference, "fastnlp.ops.sampled_softmax");
        expect_ids_in_range(targets, V, "rows of W");
        expect_ids_in_range(samples, V, "rows of W");
        double loss = 0;
        py::gil_scoped_release nogil;
        float_ids_dispatch(h, targets, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          loss = dispatch_kernel<T>(be, FASTNLP_CPU_KERNEL(sampled_softmax), h.ptr<T>(), W.ptr<T>(), b.ptr<T>(),
                                    targets.ptr<I>(), samples.ptr<I>(), logq_t.ptr<T>(), logq_s.ptr<T>(), B, H,
                                    K, losses.ptr<T>(), dh.ptr<T>(), grad_rows.ptr<T>(), grad_bias.ptr<T>());
        });
        return loss;
      },
      py::arg("h"), py::arg("W"), py::arg("b"), py::arg("targets"), py::arg("samples"),
      py::arg("logq_targets"), py::arg("logq_samples"), py::arg("losses"), py::arg("dh"),
      py::arg("grad_rows"), py::arg("grad_bias"), py::arg("reference") = false,
      "Mean sampled-softmax loss of h (B, H) against W (V, H), b (V) or None, targets (B) and the "
      "shared samples (K), with logits corrected by -logq_targets (B) / -logq_samples (K) and "
      "accidental hits removed. Writes (each may be None) losses (B), dh (B, H), grad_rows (B + K, H) "
      "for W's rows at concat(targets, samples), grad_bias (B + K).");

  m.def(
      "sampled_softmax_scores",
      [](py::object s_true_, py::object s_samp_, py::object b_true_, py::object b_samp_,
         py::object targets_, py::object samples_, py::object logq_targets_, py::object logq_samples_,
         py::object losses_, int64_t num_classes) {
        const char* op = "sampled_softmax_scores";
        Array s_true = float_in(op, "s_true", s_true_, 1);
        const int64_t B = s_true.dim(0);
        FASTNLP_CHECK(s_true.writeable, op, ": s_true is written in place and must be writeable, got a read-only array");
        Array s_samp = float_out(op, "s_samp", s_samp_, s_true, {B, -1});
        const int64_t K = s_samp.dim(1);
        Array b_true = optional_float(op, "b_true", b_true_, s_true, {B}, " (B, one per target)", false);
        Array b_samp = optional_float(op, "b_samp", b_samp_, s_true, {K}, " (K, the columns of s_samp)", false);
        Array targets = ids_in(op, "targets", targets_, 1);
        expect_shape(targets, {B}, " (B, the length of s_true)");
        Array samples = ids_in(op, "samples", samples_, 1);
        expect_same_ids_dtype(samples, targets);
        expect_shape(samples, {K}, " (K, the columns of s_samp)");
        Array logq_t = float_in(op, "logq_targets", logq_targets_, 1);
        expect_same_dtype(logq_t, s_true);
        expect_shape(logq_t, {B}, " (B, one per target)");
        Array logq_s = float_in(op, "logq_samples", logq_samples_, 1);
        expect_same_dtype(logq_s, s_true);
        expect_shape(logq_s, {K}, " (K, one per sample)");
        Array losses = optional_float(op, "losses", losses_, s_true, {B}, "", true);
        for (const Array* out : {&s_true, &s_samp, &losses})
          expect_no_overlap(*out, {&s_true, &s_samp, &b_true, &b_samp, &targets, &samples, &logq_t, &logq_s, &losses});
        const Backend be = backend_for(
            op, {&s_true, &s_samp, &b_true, &b_samp, &targets, &samples, &logq_t, &logq_s, &losses}, false);
        if (num_classes >= 0) {  // on the GPU, checked below with the device kernel
          expect_ids_in_range(targets, num_classes, "num_classes");
          expect_ids_in_range(samples, num_classes, "num_classes");
        }
        double loss = 0;
        py::gil_scoped_release nogil;
        float_ids_dispatch(s_true, targets, [&](auto t, auto i) {
          using T = decltype(t);
          using I = decltype(i);
          if (be == Backend::kCuda && num_classes >= 0) {  // the CPU ids were checked above
            FASTNLP_CUDA_ONLY(
                for (const Array* ids : {&targets, &samples}) {
                  const int64_t bad = cuda::first_id_out_of_range(ids->ptr<I>(), ids->size(), num_classes);
                  if (bad >= 0)
                    throw std::invalid_argument(str_cat(op, ": ", ids->name, " must be in [0, ", num_classes,
                                                        ") (num_classes), got an id out of range at position ", bad));
                });
          }
          loss = dispatch_kernel<T>(be, FASTNLP_KERNEL_NO_REF(sampled_softmax_scores), s_true.ptr<T>(),
                                    s_samp.ptr<T>(), b_true.ptr<T>(), b_samp.ptr<T>(), targets.ptr<I>(),
                                    samples.ptr<I>(), logq_t.ptr<T>(), logq_s.ptr<T>(), B, K, losses.ptr<T>());
        });
        return loss;
      },
      py::arg("s_true"), py::arg("s_samp"), py::arg("b_true"), py::arg("b_samp"), py::arg("targets"),
      py::arg("samples"), py::arg("logq_targets"), py::arg("logq_samples"), py::arg("losses"),
      py::arg("num_classes") = -1,
      "The fused middle of sampled softmax: from raw scores s_true (B) and s_samp (B, K), biases "
      "b_true (B) / b_samp (K) or None and the log-Q corrections, writes losses (B, or None) and, in "
      "place, the gradients of the mean loss w.r.t. the scores. Returns the mean loss. With "
      "num_classes >= 0, targets and samples are checked to lie in [0, num_classes).");

  py::class_<AliasSampler>(m, "AliasSampler",
                           "Draws class ids from a fixed distribution in O(1) each (Walker's alias "
                           "method); draws are deterministic for a given seed.")
      .def(py::init([](py::object probs_) {
             const char* op = "AliasSampler";
             Array probs = as_array(op, "probs", probs_);
             if (probs.dtype != DType::kFloat64)
               throw py::type_error(str_cat(op, ": probs must be float64, got ", probs.dtype_name,
                                            " with shape ", probs.shape_str()));
             FASTNLP_CHECK(!probs.on_gpu, op, ": probs must be a NumPy array (the sampler runs on the CPU)");
             probs = float_in(op, "probs", probs_, 1);
             return AliasSampler(probs.ptr<double>(), probs.dim(0));
           }),
           py::arg("probs"), "probs: (V) non-negative float64 weights, not all zero (normalized here).")
      .def_property_readonly("num_classes", &AliasSampler::num_classes)
      .def(
          "sample",
          [](const AliasSampler& s, int64_t n, uint64_t seed) {
            FASTNLP_CHECK(n >= 0, "AliasSampler.sample: n must be >= 0, got ", n);
            py::array_t<int64_t> out(n);
            int64_t* p = out.mutable_data();
            {
              py::gil_scoped_release nogil;
              s.sample(p, n, seed);
            }
            return out;
          },
          py::arg("n"), py::arg("seed"), "n draws with replacement (int64 ids), the same for the same seed.")
      .def(
          "probability",
          [](const AliasSampler& s, py::object ids_) {
            const char* op = "AliasSampler.probability";
            Array ids = ids_in(op, "ids", ids_, 1, true);
            FASTNLP_CHECK(!ids.on_gpu, op, ": ids must be a NumPy array");
            expect_ids_in_range(ids, s.num_classes(), "num_classes");
            const int64_t n = ids.size();
            py::array_t<double> out(n);
            double* p = out.mutable_data();
            ids_dispatch(ids, [&](auto i) {
              using I = decltype(i);
              const I* id = ids.ptr<I>();
              for (int64_t j = 0; j < n; ++j) p[j] = s.probability(static_cast<int64_t>(id[j]));
            });
            return out;
          },
          py::arg("ids"), "The normalized probability of each id (float64, the shape of ids).");
}

}  // namespace fastnlp::bindings
