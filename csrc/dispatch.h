// Where a call goes, decided in one place. The rules, true for every op and model:
//
//  1. Kernel ops (activation, softmax, sampled_softmax_scores, embedding, optim, crf, the conv1d
//     unfold/fold/pool steps, the RNN gate steps) choose in their binding (csrc/bindings/bind_<op>.cpp):
//     the arrays' device and `reference` give a Backend (select_backend), and dispatch() runs the
//     plain reference (<op>_ref in csrc/ops/<op>.cpp, or in <op>_ref.cpp for rnn and crf), the fast
//     CPU kernel (csrc/ops/<op>.cpp) or the CUDA kernel (cuda/<op>.cu, namespace fastnlp::cuda).
//  2. Ops with no CUDA kernel of their own (linear, conv1d, rnn, sampled_softmax: on the GPU they
//     are cuBLAS products around rule-1 kernels) bind only the CPU kernels: select_cpu_backend and
//     dispatch_cpu, which refuse GPU arrays with one message naming the Python route. That route,
//     every GPU composition of GEMMs (CuPy's cuBLAS) + fastnlp kernels, lives in ONE module,
//     python/fastnlp/ops/_gpu.py; each python/fastnlp/ops/<op>.py sends GPU arrays there and
//     everything else to its binding.
//  3. A model whose whole loop runs in C++ takes the device as an argument of its binding: the
//     word2vec trainer's device='cpu' | 'cuda' picks its device interface (cuda/word2vec*). The
//     other models/ loops run on the CPU; tagging/gpu.py runs a tagger on the GPU through
//     fastnlp.ops, i.e. through rules 1 and 2.
//
// Nothing else chooses a device: Python picks only between an op's binding and ops/_gpu.py.
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

// Rule 1: the backend of an op with reference, CPU and CUDA kernels.
inline Backend select_backend(const char* op, bool on_gpu, bool reference) {
  if (!on_gpu) return reference ? Backend::kReference : Backend::kCpu;
  if (reference)
    throw std::invalid_argument(std::string(op) + ": the reference kernels run on the CPU; pass NumPy arrays");
  if (!kCudaCompiled)
    throw std::runtime_error(std::string(op) +
                             ": got GPU arrays but fastnlp was built without CUDA (rebuild with FASTNLP_CUDA=ON)");
  return Backend::kCuda;
}

// Rule 2: the backend of an op whose binding has only CPU kernels; `gpu_route` names the Python
// function GPU arrays go through instead (e.g. "fastnlp.ops.linear / linear_backward").
inline Backend select_cpu_backend(const char* op, bool on_gpu, bool reference, const char* gpu_route) {
  if (on_gpu)
    throw std::invalid_argument(std::string(op) + ": no CUDA kernel in this binding; GPU arrays go through " +
                                gpu_route + " (cuBLAS products in fastnlp.ops._gpu)");
  return reference ? Backend::kReference : Backend::kCpu;
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

// For a backend from select_cpu_backend (never kCuda).
template <typename Ref, typename Cpu>
void dispatch_cpu(Backend backend, Ref&& ref, Cpu&& cpu) {
  if (backend == Backend::kReference) ref();
  else cpu();
}

}  // namespace fastnlp
