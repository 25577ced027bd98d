// Threading for the CPU kernels: one OpenMP pool sized by set_num_threads(). OpenBLAS runs
// single-threaded inside it (blas.h), so there is never a second pool competing for the cores.
// Fork safety: a process forked after this one started a team runs the kernels on one thread
// (parallel.cpp says why).
#pragma once

#include <algorithm>
#include <atomic>
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

// A barrier for the threads of one team that spins for a bounded time, then sleeps in the kernel.
// Why not `#pragma omp barrier`: under OMP_WAIT_POLICY=PASSIVE (what a shared machine wants) libgomp
// puts a waiting thread straight to sleep, and waking it costs tens of microseconds on a VM (an
// IPI to a halted vCPU) on every step of a recurrence; without PASSIVE it spins for ~300k
// iterations, which starves the other jobs on an oversubscribed machine. Spinning up to
// kSpinMicros covers the skew between threads doing equal work; a partner that has not arrived by
// then is most likely descheduled, and sleeping hands it the core. Each thread shortens its spin
// while its waits keep outlasting kSpinMicros (a loaded machine) and lengthens it back when they
// stop (parallel.cpp). Reusable: wait() may be called any number of times by the same `count`
// threads.
class SpinBarrier {
 public:
  static constexpr int kSpinMicros = 50;
  explicit SpinBarrier(int count) : count_(count) {}
  // The number of threads that must arrive; set before any thread waits (team_region does).
  void set_count(int count) { count_ = count; }
  int count() const { return count_; }
  // Returns once all `count` threads have called wait() (for this round); every write made before
  // a thread's wait() is visible to every thread after it returns.
  void wait();

 private:
  int count_;
  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<uint32_t> round_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<int64_t> opened_ns_{0};  // when the last round opened (steady clock), for the spin's adaptation
};

// Like parallel_region, with a SpinBarrier for the team: body(thread, threads, barrier), where the
// body calls barrier.wait() instead of `#pragma omp barrier` (same placement rules: every thread of
// the team reaches the same waits).
template <typename F>
void team_region(int threads, F&& body) {
  SpinBarrier barrier(1);
  if (threads <= 1 || omp_in_parallel()) {
    body(0, 1, barrier);
    return;
  }
  note_team_start();
#pragma omp parallel num_threads(threads)
  {
    // OpenMP may start fewer threads than asked for: the barrier counts the team it got.
#pragma omp single
    barrier.set_count(omp_get_num_threads());
    body(omp_get_thread_num(), omp_get_num_threads(), barrier);
  }
}

}  // namespace fastnlp
