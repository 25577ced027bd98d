// word2vec (Mikolov et al. 2013a,b): skip-gram and CBOW trained with negative sampling and/or
// hierarchical softmax by Hogwild SGD in C++ threads. Python configures a Word2VecTrainer, starts
// one epoch at a time, polls its progress and may stop it; the worker threads never touch Python.
// In file mode each worker reads its own byte range of the corpus (no producer thread).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <new>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/huffman.h"
#include "models/vocab.h"

namespace fastnlp {

struct Word2VecConfig {
  int64_t dim = 100;             // D
  int64_t window = 5;            // largest centre-context distance (each centre draws 1..window)
  int64_t negative = 5;          // K noise words per prediction; 0 turns negative sampling off
  bool hs = false;               // hierarchical softmax over the Huffman tree of the counts
  bool sg = false;               // skip-gram, else CBOW
  bool cbow_mean = true;         // CBOW input: mean of the context vectors, else their sum
  bool shared_negatives = false; // skip-gram: one draw of K negatives per centre, shared by its window
  double sample = 1e-3;          // subsampling threshold t (0: off)
  double ns_exponent = 0.75;     // noise distribution ~ count^ns_exponent
  double alpha = 0.025;          // learning rate at the start of a train() call ...
  double min_alpha = 1e-4;       // ... decaying linearly to this at its end
  uint64_t seed = 1;
  int threads = 1;
  int64_t max_sentence = 10000;  // longer sentences are split into pieces this long, never cut
  // Negative sampling with several threads: each worker trains its own copies of the syn1neg
  // rows of words [0, hot_rows) (the most frequent ones) and adds what it changed to the shared
  // rows every 16384 centres, at least 64 times an epoch (word2vec.cpp, kHotRows, says why).
  // -1: automatic (4096 rows with 2+ threads when ids are sorted by count), 0: off.
  int64_t hot_rows = -1;
};

// The trained matrices, owned by the caller (NumPy arrays in Python) and updated in place.
struct Word2VecParams {
  float* syn0 = nullptr;     // (V, D) word (input) vectors
  float* syn1neg = nullptr;  // (V, D) output vectors for negative sampling; null when negative == 0
  float* syn1 = nullptr;     // (V, D) Huffman inner-node vectors (rows 0..V-2); null unless hs
  int64_t V = 0, D = 0;
};

// SplitMix64 (Steele et al. 2014): 64 good random bits per call from one add and two multiplies.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// Noise words drawn from count^power in O(1) by Walker's alias method; the table (8 bytes a
// word) stays in cache where word2vec.c's 10^8-entry unigram table does not.
class NoiseSampler {
 public:
  NoiseSampler() = default;
  // counts: (V) >= 0 with at least one > 0.
  NoiseSampler(const int64_t* counts, int64_t V, double power);
  // r: 64 random bits; the low half picks a slot, the high half accepts it or takes its alias.
  int32_t draw(uint64_t r) const {
    const uint32_t slot = static_cast<uint32_t>((static_cast<uint64_t>(static_cast<uint32_t>(r)) * V_) >> 32);
    const Entry& e = table_[slot];
    return static_cast<uint32_t>(r >> 32) < e.threshold ? static_cast<int32_t>(slot) : e.alias;
  }
  // (V) the exact distribution draw() realizes (slot widths and 32-bit thresholds included).
  std::vector<double> probabilities() const;
  // The table as two arrays (V): thresholds and aliases (what a device copy needs).
  void export_table(uint32_t* thresholds, int32_t* aliases) const;
  bool empty() const { return table_.empty(); }

 private:
  struct Entry {
    uint32_t threshold;  // accept the slot when the high random half is below this
    int32_t alias;
  };
  std::vector<Entry> table_;
  uint64_t V_ = 0;
};

// word2vec.c's subsampling: a word of count c is kept with probability
// min(1, (sqrt(c / (t T)) + 1) t T / c), t = sample, T = the total count. (V) probabilities.
std::vector<double> keep_probabilities(const int64_t* counts, int64_t V, double sample);

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

// Progress of the running epoch, summed over the workers.
struct Word2VecProgress {
  int64_t words = 0;     // corpus words in the vocabulary read (before subsampling)
  int64_t tokens = 0;    // all tokens read, out-of-vocabulary ones included
  int64_t examples = 0;  // predictions trained
  double loss = 0;       // summed loss of those predictions
  double fraction = 0;   // of the epoch done, in [0, 1]
  double alpha = 0;      // the learning rate at the progress of all workers (what each takes at a line end)
};

// Where the updates run when not on the CPU threads: the CUDA trainer (cuda/word2vec.cu)
// implements this, so the core never depends on the CUDA build. The trainer's reader thread
// streams the corpus, subsamples it and hands over chunks of sentences; the device keeps its own
// copy of the matrices and writes them back on sync_to_host().
class Word2VecDevice {
 public:
  virtual ~Word2VecDevice() = default;
  // Trains sentences ids (offsets[S]) with offsets (S + 1), the learning rate going from alpha0
  // to alpha1 across them. May return before the work is done; the pointers are only read
  // during the call.
  virtual void train(const int32_t* ids, const int64_t* offsets, int64_t S, float alpha0, float alpha1) = 0;
  // Waits for the queued work and copies the matrices back to the caller's (host) arrays.
  virtual void sync_to_host() = 0;
  // Summed loss and number of predictions since construction (synchronizes).
  virtual double loss() = 0;
  virtual int64_t examples() = 0;
};

class Word2VecTrainer {
 public:
  // vocab: words and counts (V); params: matrices of V rows. Checks the sizes and config.
  Word2VecTrainer(const Word2VecConfig& config, std::shared_ptr<const Vocab> vocab, Word2VecParams params);
  ~Word2VecTrainer();  // stops and joins running workers

  // Starts epoch `epoch` of `epochs` (the learning-rate schedule spans them) over text files in
  // the background: worker t reads the lines starting in its 1/threads share of the bytes.
  void start_files(const std::vector<std::string>& paths, int64_t epoch, int64_t epochs);
  // Starts an epoch fed by push() (Python iterables): total_words, the in-vocabulary words the
  // epoch will push, drives the learning rate.
  void start_stream(int64_t epoch, int64_t epochs, int64_t total_words);
  // Queues sentences ids (N) with offsets (S + 1) for the workers; waits up to timeout_s for room.
  // False when it timed out; true when queued (or dropped because the epoch is stopping).
  bool push(std::vector<int32_t> ids, std::vector<int64_t> offsets, double timeout_s);
  // No more pushes this epoch.
  void close_stream();

  // Waits up to timeout_s (< 0: forever) for the epoch to finish; true when it has (the workers
  // are then joined). Rethrows the first error a worker hit.
  bool wait(double timeout_s);
  // Asks the workers to stop after their current sentence.
  void stop();
  bool stopping() const { return stop_.load(); }
  bool running() const { return !workers_.empty(); }
  Word2VecProgress progress() const;
  // Trains on `device` from now on: one reader thread feeds it instead of `threads` CPU workers.
  void set_device(std::unique_ptr<Word2VecDevice> device);

  const Word2VecConfig& config() const { return config_; }
  const NoiseSampler& noise() const { return noise_; }
  const HuffmanTree& tree() const { return tree_; }
  const std::vector<double>& keep_probs() const { return keep_prob_; }

 private:
  struct alignas(64) Counters {  // one cache line per worker: no false sharing
    std::atomic<int64_t> words{0}, tokens{0}, examples{0}, units{0};
    std::atomic<double> loss{0};
  };
  struct Chunk {
    std::vector<int32_t> ids;
    std::vector<int64_t> offsets;
  };
  template <typename Body>
  void launch(int64_t epoch, int64_t epochs, double units_per_epoch, Body body);
  void worker_files(int t);
  // Waits for the next queued chunk and takes it; false once stopped, or closed and drained.
  bool pop_chunk(Chunk& chunk);
  void worker_stream(int t);
  void worker_device(bool files);
  void train_ids(int t, const int32_t* ids, int64_t n, bool count_words);
  float alpha_now() const;
  void publish(int t);

  Word2VecConfig config_;
  std::shared_ptr<const Vocab> vocab_;
  Word2VecParams params_;
  NoiseSampler noise_;
  HuffmanTree tree_;
  std::vector<double> keep_prob_;
  std::vector<uint64_t> keep_threshold_;  // keep word w when 32 random bits < keep_threshold_[w]
  std::vector<Word2VecState> states_;
  int64_t hot_rows_ = 0;   // the H of Word2VecConfig::hot_rows as resolved for this vocabulary
  int64_t hot_merge_ = 1;  // centres a worker trains between two merges of its hot rows
  std::unique_ptr<Word2VecDevice> device_;
  double device_loss0_ = 0;     // device totals at the start of the epoch
  int64_t device_examples0_ = 0;
  std::unique_ptr<Counters[]> counters_;

  // The running epoch.
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  int finished_ = 0;
  int64_t epoch_ = 0, epochs_ = 1;
  double units_per_epoch_ = 1;  // bytes (files) or words (stream): the epoch's progress unit
  std::vector<std::string> paths_;
  std::vector<int64_t> file_sizes_;
  // Stream mode.
  std::deque<Chunk> queue_;
  bool queue_closed_ = false;
  std::condition_variable queue_cv_;
  std::condition_variable room_cv_;
};

// The device path run on the CPU: a Word2VecDevice that keeps its own copies of the matrices and
// trains each chunk with the CPU kernels on one thread. It exercises the reader, the chunking, the
// learning-rate spans and the copy-back that the CUDA trainer relies on, on any machine.
std::unique_ptr<Word2VecDevice> make_emulated_device(const Word2VecConfig& config, const NoiseSampler& noise,
                                                     const HuffmanTree& tree, const Word2VecParams& host);

// One training step at one centre word with the window and the negatives given, run by the same
// code as training (for exact tests against a NumPy transcription):
//   sg: each context word in order predicts the centre; context c uses negatives (c, :) of (C, K)
//       (with shared_negatives all C inputs are updated together with negatives (0, :)).
//   cbow: the mean (or sum) of the C context vectors predicts the centre with negatives (0, :).
//   hs: codes / points (L) are the centre's Huffman path.
// A negative equal to the centre is skipped, as in word2vec.c. Returns the summed loss.
double word2vec_step(const Word2VecConfig& config, const Word2VecParams& params, int32_t centre,
                     const int32_t* context, int64_t C, const int32_t* negatives, int64_t K,
                     const uint8_t* codes, const int32_t* points, int64_t L, float alpha);

}  // namespace fastnlp
