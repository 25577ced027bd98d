// Bindings for ops/optim.h (in progress).
#include "bindings/bindings.h"

namespace fastnlp::bindings {

void bind_optim(pybind11::module_&) {}

}  // namespace fastnlp::bindings
