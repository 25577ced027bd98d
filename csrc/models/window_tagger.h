// Tag scores of the SENNA window network (Collobert et al. 2011, sec. 3.3.1) for a ragged batch
// of sentences: the inference path of fastnlp.tagging. Embedding lookup of a window of feature
// ids, one hard-tanh hidden layer, a linear output layer; the GEMMs go through blas.h.
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

}  // namespace fastnlp
