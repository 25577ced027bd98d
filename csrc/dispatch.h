// Where a call goes, decided in one place. The rules, true for every op and model:
//
//  1. Kernel ops (activation and the linear epilogue bias_act, softmax, sampled_softmax_scores,
//     embedding, optim, dropout, crf) choose in their binding (csrc/bindings/bind_<op>.cpp): the
//     arrays' device and `reference` give a Backend (backend_for in bindings/array.cpp, which
//     checks that the arrays share one device, GPU ones float32, and calls select_backend), and
//     dispatch_kernel runs the plain reference (<op>_ref in csrc/ops/<op>.cpp, or in <op>_ref.cpp
//     for rnn and crf), the fast CPU kernel (csrc/ops/<op>.cpp) or the CUDA kernel (cuda/<op>.cu,
//     namespace fastnlp::cuda, declared in cuda/cuda_ops.h).
//  2. Ops with no CUDA kernel of their own (linear, conv1d, rnn, sampled_softmax,
//     linear_cross_entropy: on the GPU they are cuBLAS products around rule-1 kernels) bind only
//     the CPU kernels: cpu_backend_for / select_cpu_backend refuses GPU arrays with one message
//     naming the Python route, and FASTNLP_CPU_KERNEL names no CUDA arm. That route, every GPU
//     composition of GEMMs (CuPy's cuBLAS) + fastnlp kernels, lives in ONE module,
//     python/fastnlp/ops/_gpu.py; each python/fastnlp/ops/<op>.py sends GPU arrays there and
//     everything else to its binding. The GPU-only steps those compositions call (conv1d_unfold,
//     conv1d_fold, conv1d_pool_forward / _backward in bind_conv1d.cpp; rnn_step_forward / _backward
//     in bind_rnn.cpp) call their cuda:: kernel directly through FASTNLP_CUDA_ONLY, as do the GPU
//     id-range checks of softmax_cross_entropy and sampled_softmax_scores
//     (cuda::first_id_out_of_range). csr_matmul (csrc/ops/sparse.cpp, bound in
//     bind_cooccurrence.cpp for the PPMI-SVD) follows this rule with no GPU route in fastnlp at
//     all: its message points to cupyx.scipy.sparse.
//  3. A model whose whole loop runs in C++ takes the device as an argument of its binding: the
//     word2vec trainer's device='cpu' | 'cuda' picks its device interface (Word2VecDevice,
//     csrc/models/word2vec_device.h; the CUDA one in cuda/word2vec.cu). The other models/ loops
//     run on the CPU (the tagger's window_scores picks reference or CPU through dispatch_kernel
//     with FASTNLP_CPU_KERNEL); tagging/gpu.py runs a tagger on the GPU through fastnlp.ops, i.e.
//     through rules 1 and 2.
//
// How a binding states a kernel's arguments once (one pattern for rules 1 and 2):
//
//   float_dispatch(x, [&](auto t) {
//     using T = decltype(t);
//     dispatch_kernel<T>(be, FASTNLP_KERNEL(activation_forward), act, x.ptr<T>(), y.ptr<T>(), n);
//   });
//
// FASTNLP_KERNEL(name) names the three implementations of one kernel, name_ref, name and
// cuda::name (a macro only because C++ cannot pass an overload set or a function template by its
// name; each arm is a generic lambda). dispatch_kernel<T> calls the one the Backend picks with the
// same arguments and returns its result. The CUDA arm is instantiated only for T = float and only
// when FASTNLP_WITH_CUDA, so double pointers never reach cuda:: and a CPU-only build never names
// it. FASTNLP_CPU_KERNEL(name) has no CUDA arm (rule 2, models/ loops); FASTNLP_KERNEL_NO_REF(name)
// has no reference (bias_act_*, sampled_softmax_scores: bindings that never pass reference=true;
// kReference runs the fast kernel).
//
// Nothing else chooses a device: Python picks only between an op's binding and ops/_gpu.py.
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

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
                                gpu_route +
                                // only fastnlp's own routes are cuBLAS compositions in ops/_gpu.py
                                (std::string(gpu_route).rfind("fastnlp.ops.", 0) == 0
                                     ? " (cuBLAS products in fastnlp.ops._gpu)" : ""));
  return reference ? Backend::kReference : Backend::kCpu;
}

// Wraps a call into cuda/ so that it compiles away when CUDA is not built.
#ifdef FASTNLP_WITH_CUDA
#define FASTNLP_CUDA_ONLY(...) __VA_ARGS__
#else
#define FASTNLP_CUDA_ONLY(...) throw std::runtime_error("fastnlp was built without CUDA")
#endif

// The implementations of one kernel, built by the macros below; NoKernel marks a missing arm.
struct NoKernel {};

template <typename Ref, typename Cpu, typename Cuda>
struct Kernel {
  Ref ref;
  Cpu cpu;
  Cuda cuda;
};
template <typename Ref, typename Cpu, typename Cuda>
Kernel(Ref, Cpu, Cuda) -> Kernel<Ref, Cpu, Cuda>;

// Calls the arm of `k` that `backend` picks with `args` (stated once), T being the element type
// of the call's float arrays. The CUDA arm compiles only for T = float: the CUDA kernels are
// float32, and select_backend / backend_for let only float32 GPU arrays through.
template <typename T, typename Ref, typename Cpu, typename Cuda, typename... Args>
decltype(auto) dispatch_kernel(Backend backend, const Kernel<Ref, Cpu, Cuda>& k, Args&&... args) {
  if (backend == Backend::kCuda) {
    if constexpr (std::is_same_v<T, float> && !std::is_same_v<Cuda, NoKernel>)
      return k.cuda(std::forward<Args>(args)...);
    else
      throw std::logic_error(kCudaCompiled ? "dispatch_kernel: this kernel has no CUDA arm for this dtype"
                                           : "fastnlp was built without CUDA");
  }
  if constexpr (!std::is_same_v<Ref, NoKernel>) {
    if (backend == Backend::kReference) return k.ref(std::forward<Args>(args)...);
  }
  return k.cpu(std::forward<Args>(args)...);
}

// One arm: a generic lambda forwarding to `fn`, so one name covers every instantiation.
#define FASTNLP_KERNEL_ARM(fn) \
  [](auto&&... a) -> decltype(auto) { return fn(std::forward<decltype(a)>(a)...); }
#ifdef FASTNLP_WITH_CUDA
#define FASTNLP_KERNEL_CUDA_ARM(name) FASTNLP_KERNEL_ARM(::fastnlp::cuda::name)
#else
#define FASTNLP_KERNEL_CUDA_ARM(name) ::fastnlp::NoKernel{}
#endif

// name_ref, name and cuda::name (rule 1).
#define FASTNLP_KERNEL(name)                                                                   \
  ::fastnlp::Kernel {                                                                          \
    FASTNLP_KERNEL_ARM(name##_ref), FASTNLP_KERNEL_ARM(name), FASTNLP_KERNEL_CUDA_ARM(name) \
  }
// name_ref and name, no CUDA arm (rule 2 and the CPU models/ loops).
#define FASTNLP_CPU_KERNEL(name) \
  ::fastnlp::Kernel { FASTNLP_KERNEL_ARM(name##_ref), FASTNLP_KERNEL_ARM(name), ::fastnlp::NoKernel{} }
// name and cuda::name, no reference: the binding never asks for one.
#define FASTNLP_KERNEL_NO_REF(name) \
  ::fastnlp::Kernel { ::fastnlp::NoKernel{}, FASTNLP_KERNEL_ARM(name), FASTNLP_KERNEL_CUDA_ARM(name) }

}  // namespace fastnlp
