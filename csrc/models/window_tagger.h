// Tag scores of the SENNA window network (Collobert et al. 2011, sec. 3.3.1) for a ragged batch
// of sentences: the inference path of fastnlp.tagging. Embedding lookup of a window of feature
// ids, one hard-tanh hidden layer, a linear output layer; the GEMMs go through blas.h.
// WindowScorer is the float32 path the Tagger runs: the GEMM version's first layer replaced by
// sums of cached per-id rows.
#pragma once

#include <cstdint>
#include <vector>

namespace fastnlp {

// The network's parameters (borrowed pointers, row-major, contiguous). With F families of widths
// D_f and Din = sum_f D_f, token t's input is the concatenation over window positions
// j = 0..window-1 (token t + j - window/2) of the concatenation over families of
// tables[f][ids[., f]]; positions outside the sentence use id 0 (PADDING) in every family.
template <typename T>
struct WindowNetwork {
  std::vector<const T*> tables;  // F tables, tables[f]: (V_f, dims[f])
  std::vector<int64_t> dims;     // (F): D_f
  const T* W1 = nullptr;         // (H, window * Din)
  const T* b1 = nullptr;         // (H)
  const T* W2 = nullptr;         // (K, H)
  const T* b2 = nullptr;         // (K)
  int64_t window = 1;            // odd
  int64_t H = 0;
  int64_t K = 0;

  int64_t num_families() const { return static_cast<int64_t>(dims.size()); }
  int64_t input_dim() const;  // Din
};

// ids: (N, F) with ids[., f] in [0, V_f); offsets: (S + 1), offsets[0] = 0, non-decreasing,
// offsets[S] = N; scores: (N, K) written:
//   h_t = hardtanh(W1 x_t + b1), scores[t] = W2 h_t + b2.
// Inputs are trusted (the bindings check them). The reference is plain loops, one token at a time.
template <typename T, typename I>
void window_scores_ref(const WindowNetwork<T>& net, const I* ids, const int64_t* offsets, int64_t S,
                       T* scores);
// The fast version: blocks of rows spread over fastnlp's threads; per block, the window inputs
// are gathered into per-thread scratch, then one GEMM + bias/hard-tanh epilogue per layer.
template <typename T, typename I>
void window_scores(const WindowNetwork<T>& net, const I* ids, const int64_t* offsets, int64_t S,
                   T* scores);

// The window network's float32 scores with the first layer cached per feature id. W1 x_t is
// linear in the embeddings: with W1_{j,f} (H, D_f) the columns of W1 fed by window position j and
// family f, W1 x_t = sum_{j,f} W1_{j,f} E_f[id(t + j - window/2, f)], a sum of H-vectors that
// depend on (f, id, j) only. For the first cache_rows[f] ids of each family (lexicon ids are
// sorted by training frequency, so these are the frequent ones) the vectors are computed once,
// at construction; per block of tokens the other ids are embedded and projected by one GEMM per
// family, then every token's hidden layer is a vector sum of window * F rows. The result equals
// window_scores up to float32 summation order.
//
// The scorer copies what it needs (the projections, the cache, the uncached table rows, W2, the
// biases): the arrays it was built from may change or go away afterwards.
class WindowScorer {
 public:
  // net: a float32 network (read here, not kept); vocab[f] = V_f, the rows of net.tables[f];
  // cache_rows[f] in [min(2, V_f), V_f]: ids 0 (PADDING, every position outside a sentence) and
  // 1 (UNKNOWN) are always cached. Inputs are trusted (the bindings check them).
  WindowScorer(const WindowNetwork<float>& net, std::vector<int64_t> vocab, std::vector<int64_t> cache_rows);

  // Cached ids per family for a cache of at most budget_bytes (ids 0 and 1 of every family even
  // beyond it). Each cached id costs window * Hp floats in any family; the ids are picked greedily
  // by expected saving, D_f (the GEMM work an uncached occurrence costs) times the id's frequency
  // modelled as Zipf's 1 / (rank ln V_f) (rank = id - 1: ids from 2 are sorted by frequency).
  static std::vector<int64_t> rows_for_budget(const std::vector<int64_t>& vocab, const std::vector<int64_t>& dims,
                                              int64_t window, int64_t H, double budget_bytes);

  // ids: (N, F), each column f in [0, V_f); offsets: (S + 1) as for window_scores (trusted).
  // scores: (N, K) written.
  template <typename I>
  void scores(const I* ids, const int64_t* offsets, int64_t S, float* scores) const;
  // tags: (N) written, the argmax of each row of scores (the first one on ties, as NumPy's).
  template <typename I>
  void predict(const I* ids, const int64_t* offsets, int64_t S, int32_t* tags) const;

  int64_t num_families() const { return static_cast<int64_t>(families_.size()); }
  int64_t vocab_size(int64_t f) const { return families_[f].V; }
  int64_t dim(int64_t f) const { return families_[f].D; }
  int64_t cache_rows(int64_t f) const { return families_[f].cached; }
  int64_t cache_bytes() const;  // the cached rows, all families
  int64_t memory_bytes() const;  // everything the scorer holds: cache, projections, table rows, W2
  int64_t window() const { return window_; }
  int64_t hidden() const { return H_; }
  int64_t num_tags() const { return K_; }

 private:
  // Hidden vectors are stored Hp = H rounded up to a multiple of 8 floats wide, zeros past H.
  struct Family {
    int64_t V = 0, D = 0, cached = 0;
    std::vector<float> proj;   // (window * Hp, D): row j * Hp + o = W1[o, block (j, f)] (zero for o >= H)
    std::vector<float> cache;  // (cached, window * Hp): row id = proj E_f[id], as (window, Hp)
    std::vector<float> rest;   // (V - cached, D): E_f[cached:], embedded per block
  };
  // Runs the network over blocks of rows; emit(lo, B, s) gets each block's scores s (B, K) in
  // per-thread scratch (or in place when scores_out is given).
  template <typename I, typename Emit>
  void run(const I* ids, const int64_t* offsets, int64_t S, float* scores_out, Emit&& emit) const;

  std::vector<Family> families_;
  std::vector<float> b1_, W2_, b2_;  // (Hp), (K, H), (K)
  int64_t window_ = 1, H_ = 0, Hp_ = 0, K_ = 0;
};

}  // namespace fastnlp
