// Binding of Brown clustering (models/brown.h): the clusterer runs on its own thread without the
// GIL; Python (fastnlp/embeddings/brown.py) polls wait()/progress() and calls stop() on Ctrl-C.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "bindings/bindings.h"
#include "common.h"
#include "models/brown.h"

namespace fastnlp::bindings {
namespace py = pybind11;

void bind_brown(py::module_& m) {
  py::class_<BrownClusterer>(m, "BrownClusterer",
                             "Brown clustering of a corpus file: start(), poll wait()/progress(), stop() on interrupt.")
      .def(py::init([](const std::string& path, int64_t min_count, int64_t num_clusters, int threads) {
             FASTNLP_CHECK(threads >= 1, "BrownClusterer: threads must be >= 1, got ", threads);
             return std::make_unique<BrownClusterer>(path, min_count, num_clusters, threads);
           }),
           py::arg("path"), py::arg("min_count"), py::arg("num_clusters"), py::arg("threads"))
      .def("start", &BrownClusterer::start)
      .def(
          "wait",
          [](BrownClusterer& b, double timeout) {
            py::gil_scoped_release nogil;
            return b.wait(timeout);
          },
          py::arg("timeout") = -1.0, "True when finished (or stopped); rethrows the worker's error.")
      .def("stop", &BrownClusterer::stop)
      .def_property_readonly("stopped", &BrownClusterer::stopped)
      .def("progress",
           [](const BrownClusterer& b) {
             return py::make_tuple(b.phase(), b.merges_done(), b.merges_total());
           },
           "(phase, merges done, merges total); phase 0 counting the corpus, 1 clustering, 2 finished.")
      .def(
          "result",
          [](const BrownClusterer& b) {
            FASTNLP_CHECK(b.phase() == 2 && !b.stopped(), "BrownClusterer: no result (not finished, or stopped)");
            const auto& mg = b.merges();
            const auto M = static_cast<py::ssize_t>(mg.size());
            py::array_t<int32_t> pairs({M, py::ssize_t{2}});
            py::array_t<double> loss(M);
            int32_t* p = pairs.mutable_data();
            double* l = loss.mutable_data();
            for (py::ssize_t k = 0; k < M; ++k) {
              p[2 * k] = mg[k].ri;
              p[2 * k + 1] = mg[k].rj;
              l[k] = mg[k].loss;
            }
            const auto& counts = b.stats().counts;
            py::array_t<int64_t> c(static_cast<py::ssize_t>(counts.size()));
            if (!counts.empty()) std::memcpy(c.mutable_data(), counts.data(), counts.size() * sizeof(int64_t));
            py::dict d;
            d["words"] = b.words();
            d["counts"] = c;
            d["merges"] = pairs;
            d["losses"] = loss;
            d["tokens"] = b.stats().tokens;
            d["bigrams"] = b.stats().bigrams;
            return d;
          },
          "dict: words and counts (by descending count, ties by first appearance), merges (V - 1, 2) int32 "
          "pairs of cluster representatives (the smallest word id of each), losses (V - 1) in nats, tokens, "
          "bigrams.");
}

}  // namespace fastnlp::bindings
