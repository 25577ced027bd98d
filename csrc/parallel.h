// Threading for the CPU kernels: one OpenMP pool sized by set_num_threads(). OpenBLAS runs
// single-threaded inside it (blas.h), so there is never a second pool competing for the cores.
// Fork safety: a process forked after this one started a team runs the kernels on one thread
// (parallel.cpp says why).
#pragma once

#include <algorithm>
#include <cstdint>

#include <omp.h>

namespace fastnlp {

// Sets the threads used by fastnlp's loops and GEMMs; n <= 0 means all cores. In a process
// forked after its parent started an OpenMP team the request is kept but 1 thread is used.
void set_num_threads(int n);
// The threads the next parallel loop may use: 1 in such a forked child.
int get_num_threads();
// Records that this process is about to start an OpenMP team (libgomp's pool then exists).
void note_team_start();

// Calls f(begin, end) on contiguous chunks of [0, n), in parallel when the work is worth it:
// `grain` is the smallest chunk (in items) that pays for waking a thread.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
  const int threads = static_cast<int>(std::min<int64_t>(get_num_threads(), max_chunks));
  if (threads <= 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
  note_team_start();
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t nt = omp_get_num_threads();
    const int64_t begin = n * t / nt;
    const int64_t end = n * (t + 1) / nt;
    if (begin < end) f(begin, end);
  }
}

// Runs body(thread, threads) once per thread of an OpenMP team of `threads` (inline when 1 or
// already inside a parallel region); the body may use `#pragma omp barrier`.
template <typename F>
void parallel_region(int threads, F&& body) {
  if (threads <= 1 || omp_in_parallel()) {
    body(0, 1);
    return;
  }
  note_team_start();
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num(), omp_get_num_threads());
}

}  // namespace fastnlp
