// Linear-chain CRF over a ragged batch of sentences: the sentence-level log-likelihood (SLL of
// Collobert et al. 2011) with its gradient, and Viterbi decoding. Used by the SENNA tagger
// (fastnlp.tagging); the CUDA versions in cuda/crf.cu take the same arguments.
//
// Layout (shared by every function here):
//   scores: (N, K) tag scores of all tokens of all sentences, row-major;
//   offsets: (S+1) int64, offsets[0] = 0, non-decreasing, offsets[S] = N; sentence s is rows
//            offsets[s] .. offsets[s+1]-1; an empty sentence is legal (nll 0, best score 0);
//   tags: (N) int32 gold tag ids in [0, K);
//   trans: (K, K) transition scores indexed [from, to]; start: (K) scores of the first tag.
// The score of a path y over a sentence of length L is
//   start[y0] + scores[0, y0] + sum_{t >= 1} (trans[y_{t-1}, y_t] + scores[t, y_t]),
// with no end scores, and log Z is the logsumexp of that over all K^L paths.
// The callers check the arguments (bindings/bind_crf.cpp); the kernels assume them valid.
// NaN in scores or parameters propagates into the sentence's nll and gradients; Viterbi still
// writes tag ids in [0, K) (which path is unspecified then). -inf transitions (forbidden moves)
// are fine: a sentence with no allowed path gets log Z = -inf.
#pragma once

#include <cstdint>

namespace fastnlp {

// nll: (S) per-sentence negative log-likelihood log Z - score(gold path), through the forward
// algorithm in log space. The reference accumulates in double.
template <typename T>
void crf_nll_ref(const T* scores, const int64_t* offsets, const int32_t* tags, const T* trans,
                 const T* start, T* nll, int64_t S, int64_t N, int64_t K);
template <typename T>
void crf_nll(const T* scores, const int64_t* offsets, const int32_t* tags, const T* trans,
             const T* start, T* nll, int64_t S, int64_t N, int64_t K);

// Gradients of sum_s grad_nll[s] * nll[s] (grad_nll: (S)), all overwritten:
//   dscores (N, K) = grad_nll[s] * (node marginals - gold one-hot) per row of sentence s;
//   dtrans (K, K) = sum_s grad_nll[s] * (pairwise marginals - gold transition counts);
//   dstart (K) = sum_s grad_nll[s] * (first-token marginals - gold one-hot).
// Marginals come from forward-backward in log space (the alphas are recomputed).
template <typename T>
void crf_nll_backward_ref(const T* scores, const int64_t* offsets, const int32_t* tags,
                          const T* trans, const T* start, const T* grad_nll, T* dscores, T* dtrans,
                          T* dstart, int64_t S, int64_t N, int64_t K);
template <typename T>
void crf_nll_backward(const T* scores, const int64_t* offsets, const int32_t* tags, const T* trans,
                      const T* start, const T* grad_nll, T* dscores, T* dtrans, T* dstart, int64_t S,
                      int64_t N, int64_t K);

// Best path per sentence: tags (N) int32 and best (S) its score (0 for an empty sentence).
// Ties: the last tag is the lowest id among the best final tags, and each earlier tag is the
// lowest id among the best predecessors of the tag after it; equivalently, of all best paths the
// one that is smallest when compared from the last position backwards.
template <typename T>
void viterbi_decode_ref(const T* scores, const int64_t* offsets, const T* trans, const T* start,
                        int32_t* tags, T* best, int64_t S, int64_t N, int64_t K);
template <typename T>
void viterbi_decode(const T* scores, const int64_t* offsets, const T* trans, const T* start,
                    int32_t* tags, T* best, int64_t S, int64_t N, int64_t K);

// The first position p in [0, S] where offsets (S+1) break the layout above: p = 0 when
// offsets[0] != 0, offsets[p] < offsets[p-1], or p = S when offsets[S] != N; -1 when valid.
int64_t crf_first_bad_offset(const int64_t* offsets, int64_t S, int64_t N);

}  // namespace fastnlp
