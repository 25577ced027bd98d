// Bindings for ops/embedding.h (in progress).
#include "bindings/bindings.h"

namespace fastnlp::bindings {

void bind_embedding(pybind11::module_&) {}

}  // namespace fastnlp::bindings
