// word2vec's training of one sentence at a time (word2vec_sentence.cpp, compiled as SIMD clones
// around the inlined update math of word2vec_update.h): what the trainer's workers and the
// emulated device call, and the constants that size their scratch. Internal to the core.
#pragma once

#include <cstdint>

#include "models/huffman.h"
#include "models/word2vec_config.h"
#include "models/word2vec_sampling.h"
#include "models/word2vec_state.h"

namespace fastnlp::w2v {

constexpr int64_t kPlans = 4;  // centres planned ahead (train_sentence), a power of two
// Skip-gram without shared negatives prefetches the K noise rows of pair c + kPairLead while pair
// c trains; the plan of the next centre prefetches only its first kPairLead pairs. Issuing all
// C K rows (up to 50 rows, 350 lines) at once stalled on the core's outstanding-miss limit; on a
// 46k-word vocabulary the spread-out prefetch trained 10-20% more words/s.
constexpr int64_t kPairLead = 1;

// Hogwild with several threads: both workers keep updating the syn1neg rows of the frequent
// words (the centre or a noise word of most predictions), and each update of a row the other
// core wrote last moves its lines between the cores. On the 2-core test VM, whenever its two
// vCPUs sat far apart (a cache line's round trip 330 ns instead of 55 ns), CBOW trained at
// 1.0M words per CPU-second instead of 2.3M on the shared corpus's 92k-word vocabulary (gensim
// ~0.8M either way), and at ~1.9M far apart with each worker on a syn1neg of its own. So each
// worker trains its own copies of the kHotRows most frequent words' rows and adds its changes
// to the shared rows every kHotMerge centres (at least kMergesPerEpoch times an epoch, for
// small corpora): a line crosses once per merge instead of once per update. Far apart that
// trains 1.35-1.5M words per CPU-second, near as fast as before. 2048 rows gained less, 16384
// cost more copying than they saved near; merging every 4096 centres cost 20%, every 65536
// gained 3% but left the copies staler. The analogy scores of 8 seeds on a corpus slice moved
// by -0.1 points (noise level).
constexpr int64_t kHotRows = 4096;
constexpr int64_t kHotMerge = 16384;
constexpr int64_t kHotMergeMin = 256;
constexpr int64_t kMergesPerEpoch = 64;

struct Model {
  float* syn0;
  float* syn1neg;
  float* syn1;
  int64_t D, K;
  bool hs, cbow_mean, shared;
  int64_t hot;        // syn1neg rows [0, hot) are trained on the worker's copies (0: none) ...
  int64_t hot_merge;  // ... merged after this many centres
};

// hot, hot_merge: the trainer's resolved Word2VecConfig::hot_rows and merge interval (no copies
// for the exact step and the emulated device).
Model make_model(const Word2VecConfig& cfg, const Word2VecParams& p, int64_t hot = 0, int64_t hot_merge = 1);

// Sizes a worker's scratch for cfg, Huffman paths up to max_path and H = hot hot rows.
void size_state(Word2VecState& st, const Word2VecConfig& cfg, int64_t max_path, int64_t hot = 0);

// One sentence (ids kept after subsampling): every position is a centre with a window of
// 1..window words on each side (word2vec.c's dynamic window). Centres are planned ahead (a ring
// of kPlans): the window and noise words of centre pos + ahead are drawn, and the rows they will
// touch prefetched, while centre pos trains; random rows of syn1neg (and of syn0 as words enter
// the window, of syn1 along Huffman paths) are the main cache misses. Skip-gram trains long
// enough per centre for one centre of lead time (its C K noise rows are prefetched pair by pair,
// kPairLead pairs ahead, see sg_centre); CBOW looks further ahead. SIMD clones: the update math of
// word2vec_update.h is inlined into each, compiled for AVX-512, AVX2 and the baseline.
void train_sentence(const Model& m, const Word2VecConfig& cfg, const NoiseSampler& noise, const HuffmanTree& tree,
                    Word2VecState& st, const int32_t* sen, int64_t n, float alpha);

// The worker's last merge of its hot rows (end of its epoch).
void flush_hot(const Model& m, Word2VecState& st);

}  // namespace fastnlp::w2v
