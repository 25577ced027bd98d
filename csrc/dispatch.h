// The one place that chooses where a kernel runs: the plain reference, the fast CPU kernel, or
// the CUDA kernel. Bindings describe their arrays (on the GPU or not) and pass three callables.
#pragma once

#include <stdexcept>
#include <string>

namespace fastnlp {

enum class Backend { kReference, kCpu, kCuda };

// Built with CUDA? (FASTNLP_WITH_CUDA is set by CMake when the cuda/ kernels are compiled in.)
constexpr bool kCudaCompiled =
#ifdef FASTNLP_WITH_CUDA
    true;
#else
    false;
#endif

inline Backend select_backend(const char* op, bool on_gpu, bool reference) {
  if (!on_gpu) return reference ? Backend::kReference : Backend::kCpu;
  if (reference)
    throw std::invalid_argument(std::string(op) + ": the reference kernels run on the CPU; pass NumPy arrays");
  if (!kCudaCompiled)
    throw std::runtime_error(std::string(op) +
                             ": got GPU arrays but fastnlp was built without CUDA (rebuild with FASTNLP_CUDA=ON)");
  return Backend::kCuda;
}

// Wraps a call into cuda/ so that it compiles away when CUDA is not built.
#ifdef FASTNLP_WITH_CUDA
#define FASTNLP_CUDA_ONLY(...) __VA_ARGS__
#else
#define FASTNLP_CUDA_ONLY(...) throw std::runtime_error("fastnlp was built without CUDA")
#endif

template <typename Ref, typename Cpu, typename Cuda>
void dispatch(Backend backend, Ref&& ref, Cpu&& cpu, Cuda&& cuda) {
  switch (backend) {
    case Backend::kReference: ref(); return;
    case Backend::kCpu: cpu(); return;
    case Backend::kCuda: cuda(); return;
  }
}

}  // namespace fastnlp
