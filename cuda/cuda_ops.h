// The CUDA kernels: the same operations and argument orders as csrc/ops, float32 only, all
// pointers on the device, launched on the default stream (CuPy's default). Matrix products are not
// here: on the GPU they run in cuBLAS through CuPy, and these kernels are the fused work around
// them. Errors throw std::runtime_error (CUDA) or std::invalid_argument (bad ids); never exit.
#pragma once

#include <cstdint>
#include <string>

#include "ops/activation.h"
#include "ops/conv1d.h"
#include "ops/rnn.h"

namespace fastnlp::cuda {

int device_count();         // 0 when no driver or device
std::string device_name();  // of the current device
void synchronize();

// Activations and the linear epilogue (see ops/activation.h).
void activation_forward(Activation act, const float* x, float* y, int64_t n);
void activation_backward(Activation act, const float* y, const float* dy, float* dx, int64_t n);
void bias_act_forward(Activation act, float* z, const float* b, int64_t B, int64_t H);
void bias_act_backward(Activation act, const float* y, const float* dy, float* dz, float* db,
                       int64_t B, int64_t H, bool accumulate);

// Softmax family (see ops/softmax.h). softmax_cross_entropy synchronizes to return the loss.
void softmax_forward(const float* x, float* y, int64_t B, int64_t V);
void log_softmax_forward(const float* x, float* y, int64_t B, int64_t V);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t B, int64_t V);
void log_softmax_backward(const float* y, const float* dy, float* dx, int64_t B, int64_t V);
template <typename I>
double softmax_cross_entropy(const float* logits, const I* targets, int64_t B, int64_t V,
                             int64_t ignore_index, float* losses, float* dlogits);

// The fused middle of sampled softmax (see ops/sampled_softmax.h: sampled_softmax_scores).
template <typename I>
double sampled_softmax_scores(float* s_true, float* s_samp, const float* b_true,
                              const float* b_samp, const I* targets, const I* samples,
                              const float* logq_targets, const float* logq_samples, int64_t B,
                              int64_t K, float* losses);

// Embeddings (see ops/embedding.h). The sparse backward sorts on the device and returns U.
template <typename I>
void embedding_forward(const float* W, const I* ids, float* y, int64_t N, int64_t D);
template <typename I>
void embedding_backward_dense(const I* ids, const float* dy, float* dW, int64_t N, int64_t D,
                              int64_t V);
template <typename I>
int64_t embedding_backward_sparse(const I* ids, const float* dy, I* unique_ids, float* rows,
                                  int64_t N, int64_t D);

// Optimizers (see ops/optim.h); sparse updates coalesce repeated ids like the CPU ones.
void sgd_update(float* p, const float* g, int64_t n, float lr, float wd);
void adagrad_update(float* p, const float* g, float* acc, int64_t n, float lr, float eps, float wd);
template <typename I>
void sgd_update_sparse(float* P, const I* ids, const float* rows, int64_t N, int64_t D, float lr,
                       float wd);
template <typename I>
void adagrad_update_sparse(float* P, float* acc, const I* ids, const float* rows, int64_t N,
                           int64_t D, float lr, float eps, float wd);

// Adam and AdaDelta (see ops/optim.h), dense and on sparse rows (coalesced like the ones above).
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, int64_t step, float lr, float beta1,
                 float beta2, float eps, float wd);
void adadelta_update(float* p, const float* g, float* acc_g, float* acc_dx, int64_t n, float lr, float rho,
                     float eps, float wd);
template <typename I>
void adam_update_sparse(float* P, float* m, float* v, const I* ids, const float* rows, int64_t N, int64_t D,
                        int64_t step, float lr, float beta1, float beta2, float eps, float wd);
template <typename I>
void adadelta_update_sparse(float* P, float* acc_g, float* acc_dx, const I* ids, const float* rows, int64_t N,
                            int64_t D, float lr, float rho, float eps, float wd);

// Dropout (see ops/dropout.h): the same mask as the CPU for the same seed.
void dropout_forward(const float* x, uint8_t* mask, float* y, int64_t n, double p, uint64_t seed, bool draw);
void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, double p);

// ---- Sequence ops (conv1d.cu, rnn.cu): the fused steps around the cuBLAS products that
// fastnlp.ops._gpu runs through CuPy. lengths: (B) int64 on the device, already checked on the
// host (1 <= lengths[b] <= T; narrow conv: >= K), or null for all T.

// conv1d (see ops/conv1d.h for the layouts, T_out = conv1d_out_len(mode, T, K)).
// cols (B*T_out, K*D) = the windows of x (B, T, D): row (b, t) is x[b, t-P .. t-P+K-1] flattened,
// zero outside [0, lengths[b]) and for t past the sequence's last output (the im2col of the CPU).
void conv1d_unfold(ConvMode mode, const float* x, const int64_t* lengths, float* cols,
                   const Conv1dDims& d);
// dx (B, T, D) = the transpose of conv1d_unfold applied to dcols (B*T_out, K*D) (a gather, so
// deterministic); overwritten, zero past each length.
void conv1d_fold(ConvMode mode, const float* dcols, const int64_t* lengths, float* dx,
                 const Conv1dDims& d);
// From z (B, T_out, H) = cols W^T (no bias): pool kNone / kAvg write y (B, T_out, H) = act(z + b)
// (zero past each sequence's outputs; y may alias z), kAvg also pooled (B, H) = the mean; kMax writes
// pooled (B, H) = act(max_t z + b) and argmax (B, H) = the first t of the max. b (H) or null.
void conv1d_pool_forward(ConvMode mode, Activation act, Pool pool, const float* z, const float* b,
                         const int64_t* lengths, float* y, float* pooled, int64_t* argmax,
                         const Conv1dDims& d);
// dz (B, T_out, H), the gradient of z + b: kNone dy (B, T_out, H) * act'(y); kAvg dy (B, H) / T_b *
// act'(y); kMax act'(pooled) dy (B, H) at argmax only. Zero past each sequence's outputs.
void conv1d_pool_backward(ConvMode mode, Activation act, Pool pool, const float* y,
                          const float* pooled, const int64_t* argmax, const float* dy,
                          const int64_t* lengths, float* dz, const Conv1dDims& d);

// RNN steps (see ops/rnn.h for the cells). ws: the CPU's workspace, laid out by
// rnn_workspace_layout (ops/rnn.h, the one statement of it): the activated gates, [x | the state
// the step started from] and the LSTM's cell states.
// Forward step s: proj (B*T, G*H) = x W_ih^T (no bias), rec (B, G*H) = h W_hh^T (no bias) from the
// states before the step; h, c (B, H) are updated in place (a sequence with s >= lengths[b] keeps
// its state); out (B, T, H) gets the new state at the step's position (reverse: lengths[b]-1-s).
// ws may be null (no backward); else its cache, state and cell blocks are written (the x block is
// the caller's).
void rnn_step_forward(Cell cell, int64_t s, bool reverse, const int64_t* lengths, const float* proj,
                      const float* rec, const float* b_ih, const float* b_hh, float* h, float* c,
                      float* out, float* ws, const RnnDims& d);
// Backward step s (from the last step down to 0). dh (B, H): the direct part of the state's
// gradient left by step s + 1 (dh_n before the first call); rec (B, H) = sbuf W_hh of step s + 1
// (null at the first call). Writes dG (B*T, GD) at the step's rows (GD = G*H; GRU 4H: [dr, dz, dn,
// dn * r]), sbuf (B, G*H) = the gradient of W_hh h + b_hh (zero rows for frozen sequences), and
// leaves in dh the direct part for step s - 1. dc (B, H), LSTM: updated in place. c0 (B, H) or
// null, dout (B, T, H) or null.
void rnn_step_backward(Cell cell, int64_t s, bool reverse, const int64_t* lengths, const float* ws,
                       const float* c0, const float* dout, const float* rec, float* dh, float* dc,
                       float* dG, float* sbuf, const RnnDims& d);

// ---- Linear-chain CRF (crf.cu; see ops/crf.h for the ragged layout, the ties and NaN). One block
// per sentence, one thread per tag, so K <= kCrfMaxTags (std::invalid_argument beyond). offsets
// (S+1) and tags (N) live on the device and were checked on the way in (crf_first_bad_offset,
// first_id_out_of_range). dtransitions / dstart are summed through per-block partials added in a
// fixed order: the same result every run.
constexpr int64_t kCrfMaxTags = 1024;
void crf_nll(const float* scores, const int64_t* offsets, const int32_t* tags, const float* trans,
             const float* start, float* nll, int64_t S, int64_t N, int64_t K);
void crf_nll_backward(const float* scores, const int64_t* offsets, const int32_t* tags,
                      const float* trans, const float* start, const float* grad_nll, float* dscores,
                      float* dtrans, float* dstart, int64_t S, int64_t N, int64_t K);
void viterbi_decode(const float* scores, const int64_t* offsets, const float* trans,
                    const float* start, int32_t* tags, float* best, int64_t S, int64_t N, int64_t K);
// As fastnlp::crf_first_bad_offset, on device offsets (synchronizes to return it).
int64_t crf_first_bad_offset(const int64_t* offsets, int64_t S, int64_t N);

// Index of the first id outside [0, V) (an id equal to `allowed`, e.g. an ignore_index, is exempt), -1 if none.
template <typename I>
int64_t first_id_out_of_range(const I* ids, int64_t n, int64_t V, int64_t allowed = INT64_MIN);

}  // namespace fastnlp::cuda
