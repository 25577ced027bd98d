// The rules for word2vec's settings (word2vec_config.h), checked once at the boundary: by the
// bindings before anything is allocated, and by every entry of the core that takes a config.
#include "models/word2vec_config.h"

#include <cmath>

#include "common.h"

namespace fastnlp {

// Upper bounds far above any real setting, low enough that the sizes derived from them (window
// offsets, negatives per centre times D, sentence buffers) stay far from int64 overflow: a model
// file can hold any number, and these are the values the trainer is known to handle.
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxWindow = int64_t{1} << 20;
constexpr int64_t kMaxNegative = int64_t{1} << 20;
constexpr int64_t kMaxSentence = int64_t{1} << 30;
constexpr int kMaxThreads = 1 << 10;
// |ns_exponent| <= 8 keeps count^ns_exponent and its sum over 2^31 words finite and > 0 for every
// count below kMaxTotalCount (vocab.h), so the noise distribution is always defined.
constexpr double kMaxNsExponent = 8.0;

void check_word2vec_config(const Word2VecConfig& c) {
  FASTNLP_CHECK(c.dim > 0 && c.dim <= kMaxDim, "word2vec: dim must be in [1, ", kMaxDim, "], got ", c.dim);
  FASTNLP_CHECK(c.window > 0 && c.window <= kMaxWindow, "word2vec: window must be in [1, ", kMaxWindow, "], got ",
                c.window);
  FASTNLP_CHECK(c.negative >= 0 && c.negative <= kMaxNegative, "word2vec: negative must be in [0, ", kMaxNegative,
                "], got ", c.negative);
  FASTNLP_CHECK(c.negative > 0 || c.hs, "word2vec: nothing to train: negative is 0 and hs is off");
  FASTNLP_CHECK(std::isfinite(c.sample) && c.sample >= 0, "word2vec: sample must be a finite number >= 0, got ",
                c.sample);
  FASTNLP_CHECK(std::isfinite(c.ns_exponent) && std::fabs(c.ns_exponent) <= kMaxNsExponent,
                "word2vec: ns_exponent must be a finite number in [-", kMaxNsExponent, ", ", kMaxNsExponent,
                "], got ", c.ns_exponent);
  FASTNLP_CHECK(std::isfinite(c.alpha) && c.alpha > 0, "word2vec: alpha must be a finite number > 0, got ", c.alpha);
  FASTNLP_CHECK(c.min_alpha >= 0 && c.min_alpha <= c.alpha, "word2vec: min_alpha must be in [0, alpha = ", c.alpha,
                "], got ", c.min_alpha);
  FASTNLP_CHECK(c.threads > 0 && c.threads <= kMaxThreads, "word2vec: threads must be in [1, ", kMaxThreads,
                "], got ", c.threads);
  FASTNLP_CHECK(c.max_sentence > 0 && c.max_sentence <= kMaxSentence, "word2vec: max_sentence must be in [1, ",
                kMaxSentence, "], got ", c.max_sentence);
  FASTNLP_CHECK(c.hot_rows >= -1 && c.hot_rows <= INT32_MAX,
                "word2vec: hot_rows must be in [-1, 2^31 - 1] (-1: automatic, 0: off), got ", c.hot_rows);
}

}  // namespace fastnlp
