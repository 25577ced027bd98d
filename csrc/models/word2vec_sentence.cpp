// word2vec's sentence loop (planning windows and noise words ahead, prefetching the rows they
// touch) and the exact one-step entry the tests hold against NumPy: both run the update math of
// word2vec_update.h, inlined into SIMD clones for AVX-512, AVX2 and the baseline.
#include "models/word2vec_sentence.h"

#include <algorithm>

#include "common.h"
#include "models/word2vec.h"
#include "models/word2vec_update.h"
#include "simd.h"

namespace fastnlp {
namespace w2v {

FASTNLP_SIMD_CLONES void train_sentence(const Model& m, const Word2VecConfig& cfg, const NoiseSampler& noise,
                                        const HuffmanTree& tree, Word2VecState& st, const int32_t* sen, int64_t n,
                                        float alpha) {
  const uint32_t window = static_cast<uint32_t>(cfg.window);
  const int64_t W2 = 2 * static_cast<int64_t>(window), K = m.K, D = m.D;
  const bool per_pair = cfg.sg && !m.shared;
  const int64_t ahead = per_pair ? 1 : kPlans - 1;
  int64_t C[kPlans];
  int64_t fetched = -1;  // the syn0 rows of sen[0..fetched] are prefetched
  auto plan = [&](int64_t pos) {
    const int64_t buf = pos % kPlans;
    const int64_t b = static_cast<int64_t>(window) - below(st.rng.next(), window);  // in [1, window]
    const int64_t lo = std::max<int64_t>(0, pos - b), hi = std::min<int64_t>(n - 1, pos + b);
    int32_t* ctx = st.context.data() + buf * W2;
    int64_t c = 0;
    for (int64_t a = lo; a <= hi; ++a)
      if (a != pos) ctx[c++] = sen[a];
    C[buf] = c;
    if (c == 0) return;
    // Every syn0 row of the window not prefetched yet: the windows' edges move by up to
    // `window` words a centre (b is drawn anew), so prefetching only the newest word, sen[pos + b],
    // left the words between two planned edges unfetched (~7% of CBOW's time on a 46k vocabulary).
    for (int64_t a = std::max(fetched + 1, lo); a <= hi; ++a)
      prefetch_row(m.syn0 + static_cast<int64_t>(sen[a]) * D, D);
    fetched = std::max(fetched, hi);
    const int32_t centre = sen[pos];
    if (K > 0) {
      int32_t* neg = st.negatives.data() + buf * W2 * K;
      const int64_t nneg = per_pair ? c * K : K;
      for (int64_t k = 0; k < nneg; ++k) neg[k] = noise.draw(st.rng.next());
      const int64_t nfetch = per_pair ? std::min(nneg, kPairLead * K) : nneg;
      for (int64_t k = 0; k < nfetch; ++k) prefetch_output(m, st, neg[k]);
      prefetch_output(m, st, centre);
    }
    if (m.hs) {
      // The first levels of every path are shared by all words and stay cached.
      for (int64_t j = tree.offsets[centre] + 4; j < tree.offsets[centre + 1]; ++j)
        prefetch_row(m.syn1 + static_cast<int64_t>(tree.points[j]) * D, D);
    }
  };
  for (int64_t pos = 0; pos < std::min(n, ahead); ++pos) plan(pos);
  for (int64_t pos = 0; pos < n; ++pos) {
    if (pos + ahead < n) plan(pos + ahead);
    const int64_t cur = pos % kPlans;
    const int32_t centre = sen[pos];
    const uint8_t* codes = nullptr;
    const int32_t* points = nullptr;
    int64_t L = 0;
    if (m.hs) {
      codes = tree.codes.data() + tree.offsets[centre];
      points = tree.points.data() + tree.offsets[centre];
      L = tree.offsets[centre + 1] - tree.offsets[centre];
    }
    const int32_t* ctx = st.context.data() + cur * W2;
    const int32_t* neg = st.negatives.data() + cur * W2 * K;
    if (cfg.sg) sg_centre(m, st, centre, ctx, C[cur], neg, codes, points, L, alpha, per_pair ? kPairLead : 0);
    else cbow_centre(m, st, centre, ctx, C[cur], neg, codes, points, L, alpha);
  }
  st.hot_since_merge += n;
  if (m.hot > 0 && st.hot_since_merge >= m.hot_merge) merge_hot(m, st);
}

FASTNLP_SIMD_CLONES void flush_hot(const Model& m, Word2VecState& st) {
  if (m.hot > 0) merge_hot(m, st);
}

namespace {

// One centre with its window and negatives given: word2vec_step's exact step.
FASTNLP_SIMD_CLONES void step_window(const Model& m, bool sg, Word2VecState& st, int32_t centre, const int32_t* ctx,
                                     int64_t C, const int32_t* negatives, const uint8_t* codes,
                                     const int32_t* points, int64_t L, float alpha) {
  if (sg) sg_centre(m, st, centre, ctx, C, negatives, codes, points, L, alpha);
  else cbow_centre(m, st, centre, ctx, C, negatives, codes, points, L, alpha);
}

}  // namespace

Model make_model(const Word2VecConfig& cfg, const Word2VecParams& p, int64_t hot, int64_t hot_merge) {
  return Model{p.syn0, p.syn1neg, p.syn1, p.D, cfg.negative, cfg.hs, cfg.cbow_mean, cfg.sg && cfg.shared_negatives,
               cfg.negative > 0 ? hot : 0, hot_merge};
}

void size_state(Word2VecState& st, const Word2VecConfig& cfg, int64_t max_path, int64_t hot) {
  const int64_t D = cfg.dim, W2 = 2 * std::max<int64_t>(cfg.window, 1);
  st.rows.assign(static_cast<size_t>(std::max<int64_t>(1 + cfg.negative, max_path)), nullptr);
  st.hot.assign(static_cast<size_t>(hot * D), 0.0f);
  st.hot_base.assign(static_cast<size_t>(hot * D), 0.0f);
  st.hot_copied.assign(static_cast<size_t>(hot), 0);
  st.hot_touched.clear();
  st.hot_touched.reserve(static_cast<size_t>(hot));
  st.hot_since_merge = 0;
  st.hidden.assign(static_cast<size_t>(D), 0.0f);
  st.grad.assign(static_cast<size_t>(W2 * D), 0.0f);
  st.scores.assign(static_cast<size_t>(W2 * std::max<int64_t>(1 + cfg.negative, max_path)), 0.0f);
  st.inputs.assign(static_cast<size_t>(W2), nullptr);
  st.context.assign(static_cast<size_t>(kPlans * W2), 0);
  st.targets.assign(static_cast<size_t>(1 + cfg.negative), 0);
  st.negatives.assign(static_cast<size_t>(kPlans * W2 * std::max<int64_t>(cfg.negative, 1)), 0);
  st.sentence.clear();
  st.sentence.reserve(static_cast<size_t>(cfg.max_sentence));
}

}  // namespace w2v

double word2vec_step(const Word2VecConfig& config, const Word2VecParams& params, int32_t centre,
                     const int32_t* context, int64_t C, const int32_t* negatives, int64_t K,
                     const uint8_t* codes, const int32_t* points, int64_t L, float alpha) {
  check_word2vec_config(config);
  FASTNLP_CHECK(K == config.negative, "word2vec_step: got ", K, " negatives per row, config.negative is ",
                config.negative);
  FASTNLP_CHECK(C <= 2 * config.window, "word2vec_step: at most 2 window = ", 2 * config.window,
                " context words, got ", C);
  Word2VecState st;
  w2v::size_state(st, config, L);
  w2v::step_window(w2v::make_model(config, params), config.sg, st, centre, context, C, negatives, codes, points,
                   config.hs ? L : 0, alpha);
  return st.loss;
}

}  // namespace fastnlp
