// word2vec's settings and the matrices it trains: what the Python front end, the CPU trainer and
// the CUDA trainer share. check_word2vec_config holds the rules for the settings, in one place
// (the bindings call it; nothing else repeats it).
#pragma once

#include <cstdint>

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
  double min_alpha = 1e-4;       // ... decaying linearly to this at its end, by the words of all
                                 // workers together (word2vec.c's schedule), or with
  bool alpha_per_worker = false; // each worker by its own words against the whole epoch (gensim
                                 // corpus_file's: with W workers an epoch spans 1/W of the decay)
  uint64_t seed = 1;
  int threads = 1;
  int64_t max_sentence = 10000;  // longer sentences are split into pieces this long, never cut
  // Negative sampling with several threads: each worker trains its own copies of the syn1neg
  // rows of words [0, hot_rows) (the most frequent ones) and adds what it changed to the shared
  // rows every 16384 centres, at least 64 times an epoch (word2vec_sentence.h, kHotRows, says
  // why). -1: automatic (4096 rows with 2+ threads when ids are sorted by count), 0: off.
  int64_t hot_rows = -1;
};

// Throws std::invalid_argument naming the first setting out of its range.
void check_word2vec_config(const Word2VecConfig& config);

// The trained matrices, owned by the caller (NumPy arrays in Python) and updated in place.
struct Word2VecParams {
  float* syn0 = nullptr;     // (V, D) word (input) vectors
  float* syn1neg = nullptr;  // (V, D) output vectors for negative sampling; null when negative == 0
  float* syn1 = nullptr;     // (V, D) Huffman inner-node vectors (rows 0..V-2); null unless hs
  int64_t V = 0, D = 0;
};

}  // namespace fastnlp
