// word2vec (Mikolov et al. 2013a,b): skip-gram and CBOW trained with negative sampling and/or
// hierarchical softmax by Hogwild SGD in C++ threads. Python configures a Word2VecTrainer, starts
// one epoch at a time, polls its progress and may stop it; the worker threads never touch Python.
// In file mode each worker reads its own byte range of the corpus (no producer thread).
// The pieces: settings (word2vec_config.h), random draws (word2vec_sampling.h), per-thread scratch
// (word2vec_state.h), the device interface (word2vec_device.h); the sentence loop and update math
// (word2vec_sentence.cpp, word2vec_update.h), the CPU workers (word2vec_trainer.cpp) and the
// device reader with its CPU emulation (word2vec_device.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/huffman.h"
#include "models/vocab.h"
#include "models/word2vec_config.h"
#include "models/word2vec_device.h"
#include "models/word2vec_sampling.h"
#include "models/word2vec_state.h"

namespace fastnlp {

// Progress of the running epoch, summed over the workers.
struct Word2VecProgress {
  int64_t words = 0;     // corpus words in the vocabulary read (before subsampling)
  int64_t tokens = 0;    // all tokens read, out-of-vocabulary ones included
  int64_t examples = 0;  // predictions trained
  double loss = 0;       // summed loss of those predictions
  double fraction = 0;   // of the epoch done, in [0, 1]
  double alpha = 0;      // worker 0's learning rate now (every worker's under the global decay)
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
  float alpha_now(int t) const;  // worker t's learning rate now
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
