// The rules for word2vec's settings (word2vec_config.h), checked once at the boundary: by the
// bindings before anything is allocated, and by every entry of the core that takes a config.
#include "models/word2vec_config.h"

#include "common.h"

namespace fastnlp {

void check_word2vec_config(const Word2VecConfig& c) {
  FASTNLP_CHECK(c.dim > 0, "word2vec: dim must be > 0, got ", c.dim);
  FASTNLP_CHECK(c.window > 0, "word2vec: window must be > 0, got ", c.window);
  FASTNLP_CHECK(c.negative >= 0, "word2vec: negative must be >= 0, got ", c.negative);
  FASTNLP_CHECK(c.negative > 0 || c.hs, "word2vec: nothing to train: negative is 0 and hs is off");
  FASTNLP_CHECK(c.sample >= 0, "word2vec: sample must be >= 0, got ", c.sample);
  FASTNLP_CHECK(c.alpha > 0, "word2vec: alpha must be > 0, got ", c.alpha);
  FASTNLP_CHECK(c.min_alpha >= 0 && c.min_alpha <= c.alpha, "word2vec: min_alpha must be in [0, alpha = ", c.alpha,
                "], got ", c.min_alpha);
  FASTNLP_CHECK(c.threads > 0, "word2vec: threads must be > 0, got ", c.threads);
  FASTNLP_CHECK(c.max_sentence > 0, "word2vec: max_sentence must be > 0, got ", c.max_sentence);
  FASTNLP_CHECK(c.hot_rows >= -1, "word2vec: hot_rows must be >= -1 (-1: automatic, 0: off), got ", c.hot_rows);
}

}  // namespace fastnlp
