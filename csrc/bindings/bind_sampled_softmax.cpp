// Bindings for ops/sampled_softmax.h (in progress).
#include "bindings/bindings.h"

namespace fastnlp::bindings {

void bind_sampled_softmax(pybind11::module_&) {}

}  // namespace fastnlp::bindings
