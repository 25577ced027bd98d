// Brown clustering (Brown et al. 1992) with a window of C active clusters, as in Liang 2005 ch. 3:
// words enter by descending frequency; each step merges the pair of active clusters whose merge
// loses the least average mutual information of the class bigram model, keeping the loss table
// L(c, c') up to date in O(C^2) per merge (O(V C^2) in all). python/fastnlp/embeddings/brown.py is
// the API and holds the plain reference the tests compare with (every loss recomputed from the
// counts at every step); the bit strings are built there from the merges.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <condition_variable>
#include <thread>
#include <vector>

namespace fastnlp {

// Bigram statistics of a corpus over a vocabulary (ids 0..V-1 by descending count): counts (V)
// unigram counts, and the bigrams (w, y) of adjacent tokens on one line, both in the vocabulary,
// as two CSR lists: right[w] = (y, n(w, y)) and left[y] = (w, n(w, y)).
struct BigramStats {
  int64_t V = 0;
  std::vector<int64_t> counts;              // (V)
  int64_t tokens = 0;                       // sum of counts
  int64_t bigrams = 0;                      // sum of n(w, y)
  std::vector<int64_t> right_off, left_off;  // (V + 1)
  std::vector<int32_t> right_id, left_id;    // (E)
  std::vector<int64_t> right_n, left_n;      // (E)
};

// Counts the words of a whitespace-tokenized UTF-8 file (one sentence per line), keeps those with
// count >= min_count (by descending count, ties by first appearance) and counts their bigrams.
BigramStats count_bigrams_file(const std::string& path, int64_t min_count, std::vector<std::string>* words,
                               const std::atomic<bool>* stop = nullptr);

// One merge: the clusters are named by their representatives, the smallest word id they hold
// (ri < rj). `loss` is the AMI lost, in nats. Merges while more than C clusters are active put
// an entering word's cluster together; the last min(V, C) - 1 build the hierarchy.
struct BrownMerge {
  int32_t ri = 0, rj = 0;
  double loss = 0;
};

// The loss of each merge candidate is compared with a relative tolerance: candidates within
// kBrownTieTolerance * |min loss| (+ kBrownTieFloor nats) of the smallest are ties, broken by the
// smallest (ri, rj). That rule makes merge orders reproducible across summation orders.
constexpr double kBrownTieTolerance = 1e-9;
constexpr double kBrownTieFloor = 1e-13;

// Runs the clustering on a thread of its own (the loss-table updates use fastnlp's threads);
// Python polls wait() / progress() and may stop() it.
class BrownClusterer {
 public:
  // C >= 1 active clusters over the words of the file at `path` with count >= min_count. The
  // counting (count_bigrams_file) runs on the worker thread too, so it can be stopped; words()
  // holds the vocabulary after wait().
  BrownClusterer(std::string path, int64_t min_count, int64_t C, int threads);
  ~BrownClusterer();  // stops and joins
  BrownClusterer(const BrownClusterer&) = delete;
  BrownClusterer& operator=(const BrownClusterer&) = delete;

  void start();
  // True when finished (false: timed out); rethrows the worker's error.
  bool wait(double timeout_s);
  void stop() { stop_.store(true); }
  bool stopped() const { return stop_.load(); }
  // 0 counting the corpus, 1 clustering, 2 finished.
  int phase() const { return phase_.load(); }
  // Merges done so far and the total to do (V - 1; 0 until the corpus is counted).
  int64_t merges_done() const { return done_.load(std::memory_order_relaxed); }
  int64_t merges_total() const { return total_.load(std::memory_order_relaxed); }
  // After wait() returned true:
  const std::vector<BrownMerge>& merges() const { return merges_; }
  const BigramStats& stats() const { return stats_; }
  const std::vector<std::string>& words() const { return words_; }
  int64_t num_clusters() const { return C_; }

 private:
  void run();
  void cluster();

  BigramStats stats_;
  std::string path_;
  int64_t min_count_ = 0;
  std::vector<std::string> words_;
  int64_t C_;
  int threads_;
  std::vector<BrownMerge> merges_;
  std::atomic<bool> stop_{false};
  std::atomic<int> phase_{0};
  std::atomic<int64_t> done_{0}, total_{0};
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool finished_ = false;
  std::exception_ptr error_;
};

}  // namespace fastnlp
