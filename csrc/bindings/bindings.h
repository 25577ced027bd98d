// Registration functions, one per op family; module.cpp calls them all. Only files under
// bindings/ include pybind11.
#pragma once

#include <pybind11/pybind11.h>

#ifdef FASTNLP_WITH_CUDA
#include "cuda_ops.h"
#endif

namespace fastnlp::bindings {

void bind_activation(pybind11::module_& m);
void bind_linear(pybind11::module_& m);
void bind_softmax(pybind11::module_& m);
void bind_sampled_softmax(pybind11::module_& m);
void bind_linear_cross_entropy(pybind11::module_& m);
void bind_embedding(pybind11::module_& m);
void bind_optim(pybind11::module_& m);
void bind_optim_adaptive(pybind11::module_& m);  // Adam, AdaDelta (bind_optim.cpp)
void bind_dropout(pybind11::module_& m);
void bind_conv1d(pybind11::module_& m);
void bind_rnn(pybind11::module_& m);
void bind_word2vec(pybind11::module_& m);
void bind_tagger(pybind11::module_& m);
void bind_crf(pybind11::module_& m);
void bind_cooccurrence(pybind11::module_& m);
void bind_brown(pybind11::module_& m);

}  // namespace fastnlp::bindings
