// Thread-count state shared by fastnlp's OpenMP loops and OpenBLAS, and what a fork does to it.
#include "parallel.h"

#include <pthread.h>

#include <atomic>
#include <thread>

#include "blas.h"

namespace fastnlp {
namespace {
std::atomic<int> g_num_threads{0};  // 0: not set yet, use all cores
std::atomic<bool> g_team_started{false};
std::atomic<bool> g_forked_after_team{false};

// Why a forked child runs on one thread: libgomp keeps its worker pool in the master thread's
// thread-local state and has no fork handlers. A child inherits that state but not the worker
// threads, so its first parallel region waits on a barrier for threads that do not exist: a hang
// (GCC bug 52303 and its duplicates), and the pool cannot be rebuilt from outside libgomp. A child
// that never enters `#pragma omp parallel` is safe; parallel_for / parallel_region already run
// inline at 1 thread, so get_num_threads() answers 1 there. Only a parent that started a team
// passes this on: a process forked before any team keeps its threads.
void on_fork_child() {
  if (g_team_started.load(std::memory_order_relaxed)) g_forked_after_team.store(true, std::memory_order_relaxed);
}

// Registered at load time, so it also covers forks by code that never calls into fastnlp
// (multiprocessing's fork start method, os.fork, subprocess's fork in C extensions).
const int kForkHandlerRegistered = pthread_atfork(nullptr, nullptr, &on_fork_child);
}  // namespace

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  g_num_threads.store(n, std::memory_order_relaxed);
  blas_use_one_thread();
}

int get_num_threads() {
  if (g_forked_after_team.load(std::memory_order_relaxed)) return 1;
  if (g_num_threads.load(std::memory_order_relaxed) == 0) set_num_threads(0);
  return g_num_threads.load(std::memory_order_relaxed);
}

void note_team_start() {
  (void)kForkHandlerRegistered;
  if (!g_team_started.load(std::memory_order_relaxed)) g_team_started.store(true, std::memory_order_relaxed);
}

}  // namespace fastnlp
