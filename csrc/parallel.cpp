// Thread-count state shared by fastnlp's OpenMP loops and OpenBLAS.
#include "parallel.h"

#include <thread>

#include "blas.h"

namespace fastnlp {
namespace {
int g_num_threads = 0;  // 0: not set yet, use all cores
}

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_num_threads = n;
  blas_use_one_thread();
}

int get_num_threads() {
  if (g_num_threads == 0) set_num_threads(0);
  return g_num_threads;
}

}  // namespace fastnlp
