// A word2vec worker's scratch (fastText's State): its RNG, buffers sized once, its counters and
// its copies of the hot output rows, laid out so that two workers' states never share a cache
// line. Sized by size_state (word2vec_sentence.h), written by the update code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "models/word2vec_sampling.h"

namespace fastnlp {

// Allocates whole cache lines (64-byte aligned, the size rounded up to 64 bytes), so that the
// scratch buffers of two worker threads never share a line: they are written for every centre,
// and a line shared by two cores bounces between them (false sharing) however little is on it.
template <typename T>
struct LineAllocator {
  using value_type = T;
  static constexpr std::size_t kLine = 64;
  LineAllocator() = default;
  template <typename U>
  LineAllocator(const LineAllocator<U>&) {}
  T* allocate(std::size_t n) {
    const std::size_t bytes = (n * sizeof(T) + kLine - 1) / kLine * kLine;
    return static_cast<T*>(::operator new(bytes, std::align_val_t{kLine}));
  }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{kLine}); }
  template <typename U>
  bool operator==(const LineAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const LineAllocator<U>&) const { return false; }
};
template <typename T>
using LineVector = std::vector<T, LineAllocator<T>>;

// Per-thread scratch (fastText's State): the thread's RNG, buffers sized once, and its counters.
// Written for every centre, so it owns its cache lines (alignas and LineVector): with the
// states side by side in one vector, one thread's RNG shared a line with the other's loss.
struct alignas(64) Word2VecState {
  Rng rng{0};
  LineVector<float> hidden;       // (D) CBOW input
  LineVector<float> grad;         // (2 window, D) gradients of the inputs
  LineVector<float> scores;       // (2 window, max(1 + K, tree depth))
  LineVector<const float*> inputs;  // (2 window)
  LineVector<int32_t> context;    // (kPlans, 2 window): windows of this centre and the next ones
  LineVector<int32_t> negatives;  // (kPlans, 2 window, K): noise words drawn for them
  LineVector<int32_t> targets;    // (1 + K)
  LineVector<int32_t> sentence;   // ids kept by subsampling, up to max_sentence
  LineVector<float*> rows;        // (max(1 + K, tree depth)) output rows of one prediction
  // The hot syn1neg rows (Word2VecConfig::hot_rows = H): copied on first use after a merge.
  LineVector<float> hot;          // (H, D) this worker's copies, trained in place
  LineVector<float> hot_base;     // (H, D) the shared rows as they were copied
  LineVector<int32_t> hot_touched;  // ids copied since the last merge
  LineVector<uint8_t> hot_copied;   // (H) 1 while hot (id) holds the row
  int64_t hot_since_merge = 0;    // centres trained since the last merge
  double loss = 0;                 // summed over examples, in double (a float sum stalls)
  int64_t examples = 0;            // predictions made: (context, centre) pairs, or CBOW centres
};

}  // namespace fastnlp
