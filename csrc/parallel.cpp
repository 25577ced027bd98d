// Thread-count state shared by fastnlp's OpenMP loops and OpenBLAS, and what a fork does to it.
#include "parallel.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Sleeps while *word == expected (returns at once if it already differs); wakes every sleeper on
// word. Linux: a futex; elsewhere a yield loop (correct, less polite).
void sleep_while_equal(std::atomic<uint32_t>& word, uint32_t expected) {
#if defined(__linux__)
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex on an atomic word");
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  if (word.load(std::memory_order_acquire) == expected) std::this_thread::yield();
#endif
}
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void wake_all(std::atomic<uint32_t>& word) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
  (void)word;
#endif
}
}  // namespace

// How long this thread spins before it sleeps, adapted to how late its partners are: when it had
// to sleep and the round opened (the last thread arrived) more than kSpinMicros after it came, the
// partner was descheduled (a loaded machine), so the spin halves, down to 1 us, and under load the
// team stops burning the cores the other jobs need; when the round opened within kSpinMicros (a
// longer spin would have caught it) the spin doubles back. Lateness is measured to the opening, not
// to this thread's own wake-up: a futex wake-up on a VM takes tens of microseconds, and counting it
// would shrink the spin on a quiet machine, make every later wait sleep, and never recover.
// Per thread, kept across calls.
thread_local int t_spin_micros = SpinBarrier::kSpinMicros;

void SpinBarrier::wait() {
  if (count_ <= 1) return;
  const uint32_t round = round_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == count_ - 1) {
    // The last to arrive opens the next round. seq_cst on round_ and sleepers_ (here and in the
    // sleepers below): either a sleeper sees the new round, or this thread sees the sleeper.
    arrived_.store(0, std::memory_order_relaxed);
    opened_ns_.store(now_ns(), std::memory_order_relaxed);
    round_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_all(round_);
    return;
  }
  const int64_t start = now_ns();
  const int64_t deadline = start + int64_t{1000} * t_spin_micros;
  for (int i = 1;; ++i) {
    if (round_.load(std::memory_order_acquire) != round) return;
    cpu_relax();
    if (i % 64 == 0 && now_ns() >= deadline) break;
  }
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  while (round_.load(std::memory_order_seq_cst) == round) sleep_while_equal(round_, round);
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  // opened_ns_ was stored before round_ changed, and this thread has seen round_ change (acquire).
  const bool partner_late = opened_ns_.load(std::memory_order_relaxed) - start > int64_t{1000} * kSpinMicros;
  t_spin_micros = partner_late ? std::max(1, t_spin_micros / 2) : std::min(int{kSpinMicros}, 2 * t_spin_micros);
}

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
