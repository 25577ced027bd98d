// The CUDA word2vec trainer (skip-gram and CBOW with negative sampling) behind the core's
// Word2VecDevice interface: Word2VecTrainer's reader thread streams and subsamples the corpus and
// hands chunks of sentences to it. Built only with CUDA; the bindings include it under
// FASTNLP_WITH_CUDA.
#pragma once

#include <memory>

#include "models/word2vec_device.h"

namespace fastnlp::cuda {

// Copies host's syn0 and syn1neg (V, D) and the noise table to the current GPU; sync_to_host()
// writes the matrices back. Needs negative in [1, 32], hs off, dim <= 512 (std::invalid_argument
// otherwise); CUDA errors throw std::runtime_error.
std::unique_ptr<Word2VecDevice> make_word2vec_device(const Word2VecConfig& config, const NoiseSampler& noise,
                                                     const Word2VecParams& host);

}  // namespace fastnlp::cuda
