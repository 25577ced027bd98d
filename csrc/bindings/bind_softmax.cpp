// Bindings for ops/softmax.h (in progress).
#include "bindings/bindings.h"

namespace fastnlp::bindings {

void bind_softmax(pybind11::module_&) {}

}  // namespace fastnlp::bindings
