// Word-context co-occurrence counts over a corpus file (one sentence per line, whitespace tokens)
// for count-based word vectors (PPMI-SVD, python/fastnlp/embeddings): threads count byte ranges of
// the file into hash maps that spill, hash-partitioned into K shard files, past a memory budget;
// the shards are then merged one at a time into a CSR matrix. Also the corpus as vocabulary ids.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/vocab.h"

namespace fastnlp {

// The largest window with 1/distance weighting: weights are counted exactly as integer multiples
// of 1/lcm(1..window), and lcm(1..20) = 232792560 leaves room for 4e10 co-occurrences per pair.
constexpr int64_t kMaxWeightedWindow = 20;

struct CooccurrenceConfig {
  int64_t window = 5;              // pairs (w, c) with 1 <= |i - j| <= window in a line
  bool distance_weighting = false;  // add 1/|i - j| instead of 1 (GloVe's weighting)
  int threads = 0;                  // <= 0: fastnlp's thread count
  int64_t memory_bytes = 0;         // counting budget for all threads' maps; <= 0: no limit (never spill)
  int64_t shards = 0;               // spill files K; <= 0: 4 x threads, at least 16
  std::string tmp_dir;              // where the shard files go (a fresh subfolder); "" = the system's
};

// What counting saw; `interrupted` when progress asked to stop (the matrix is then empty).
struct CooccurrenceStats {
  int64_t tokens = 0;        // all tokens read, out-of-vocabulary ones included
  int64_t kept_tokens = 0;   // in-vocabulary tokens (the positions windows run over)
  int64_t spills = 0;        // times a thread's map was written to the shard files
  int64_t spilled_bytes = 0;
  int64_t shards = 0;        // K used (0 when nothing spilled)
  bool interrupted = false;
};

// A V x V matrix in CSR: row w, columns c ascending, value = the (weighted) count of c within the
// window of w. indptr (V + 1), indices (nnz), data (nnz). Symmetric by construction.
struct CooccurrenceMatrix {
  int64_t V = 0;
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices;
  std::vector<float> data;
  CooccurrenceStats stats;
};

// progress(bytes_read, bytes_total, phase) is called now and then from the calling thread (phase 0
// counting, 1 merging shards); returning false stops the work (stats.interrupted).
using CooccurrenceProgress = std::function<bool(int64_t, int64_t, int)>;

// Counts the co-occurrences of `vocab`'s words in `path`: out-of-vocabulary tokens are dropped
// before windows are taken (as GloVe's cooccur does). Throws std::invalid_argument for a bad
// config, std::runtime_error for I/O failures (unreadable corpus, a full disk while spilling).
CooccurrenceMatrix count_cooccurrences(const std::string& path, const Vocab& vocab, const CooccurrenceConfig& config,
                                       const CooccurrenceProgress& progress = nullptr);

// The in-vocabulary ids of every line of `path`: ids (N) and offsets (S + 1, line s is
// ids[offsets[s], offsets[s + 1])); an unknown token becomes unknown_id, or is dropped when < 0.
// Returns the number of tokens read.
int64_t corpus_ids(const std::string& path, const Vocab& vocab, int32_t unknown_id, std::vector<int32_t>* ids,
                   std::vector<int64_t>* offsets);

}  // namespace fastnlp
