// fastnlp._C: the compiled module. Private; the Python package wraps it (fastnlp.ops, .nn, .optim).
#include <pybind11/pybind11.h>

#include "bindings/bindings.h"
#include "dispatch.h"
#include "parallel.h"
#include "simd.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastnlp compiled kernels (private: use fastnlp.ops / fastnlp.nn)";
  m.def("set_num_threads", &fastnlp::set_num_threads, py::arg("n"),
        "Threads for fastnlp's kernels and its BLAS; n <= 0 means all cores.");
  m.def("get_num_threads", &fastnlp::get_num_threads);
  m.attr("cuda_compiled") = fastnlp::kCudaCompiled;
  m.def("simd_level", &fastnlp::simd_level, "SIMD clone level in use: 4 AVX-512, 3 AVX2, 1 baseline, 0 none");
  m.def("cuda_device_count", []() -> int {
#ifdef FASTNLP_WITH_CUDA
    return fastnlp::cuda::device_count();
#else
    return 0;
#endif
  });
  m.def("cuda_device_name", []() -> std::string {
#ifdef FASTNLP_WITH_CUDA
    return fastnlp::cuda::device_name();
#else
    return "";
#endif
  });
  m.def("cuda_synchronize", []() {
#ifdef FASTNLP_WITH_CUDA
    fastnlp::cuda::synchronize();
#endif
  });
  fastnlp::bindings::bind_activation(m);
  fastnlp::bindings::bind_linear(m);
  fastnlp::bindings::bind_softmax(m);
  fastnlp::bindings::bind_sampled_softmax(m);
  fastnlp::bindings::bind_linear_cross_entropy(m);
  fastnlp::bindings::bind_embedding(m);
  fastnlp::bindings::bind_optim(m);
  fastnlp::bindings::bind_optim_adaptive(m);
  fastnlp::bindings::bind_dropout(m);
  fastnlp::bindings::bind_conv1d(m);
  fastnlp::bindings::bind_rnn(m);
  fastnlp::bindings::bind_word2vec(m);
  fastnlp::bindings::bind_tagger(m);
  fastnlp::bindings::bind_crf(m);
  fastnlp::bindings::bind_cooccurrence(m);
  fastnlp::bindings::bind_brown(m);
}
