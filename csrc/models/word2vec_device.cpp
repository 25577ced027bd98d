// word2vec on a device: the trainer's reader thread that subsamples the corpus and feeds a
// Word2VecDevice chunk by chunk (word2vec_device.h), and the emulated device that runs the same
// path with the CPU kernels on one thread, so it is tested on any machine.
#include "models/word2vec.h"

#include <algorithm>
#include <vector>

#include "common.h"
#include "models/text_reader.h"
#include "models/word2vec_sentence.h"

namespace fastnlp {

using w2v::make_model;
using w2v::Model;
using w2v::size_state;
using w2v::train_sentence;

// Device mode: one thread reads (files: all of them, in order; stream: the queued chunks),
// subsamples with worker 0's RNG, and hands the device chunks of ~1M ids cut into pieces of at
// most kDevicePiece words (so thousands of warps find work), each chunk with the learning rate
// over its span. The device's matrices are copied back at the end of the epoch, also when
// stopped, so the host arrays always hold a usable model between epochs.
void Word2VecTrainer::worker_device(bool files) {
  constexpr int64_t kChunk = 1 << 20, kDevicePiece = 1024;
  Word2VecState& st = states_[0];
  Counters& counters = counters_[0];
  const int64_t piece = std::min<int64_t>(config_.max_sentence, kDevicePiece);
  std::vector<int32_t> ids;
  std::vector<int64_t> offsets{0};
  ids.reserve(kChunk + piece);
  int64_t words = 0, tokens = 0;
  float alpha = alpha_now(0), chunk_alpha = alpha;
  auto end_piece = [&] {
    if (static_cast<int64_t>(ids.size()) - offsets.back() > 1) offsets.push_back(static_cast<int64_t>(ids.size()));
    else ids.resize(static_cast<size_t>(offsets.back()));  // a lone word has no context
  };
  auto dispatch = [&] {
    if (offsets.size() > 1) device_->train(ids.data(), offsets.data(), static_cast<int64_t>(offsets.size()) - 1,
                                           chunk_alpha, alpha);
    ids.clear();
    offsets.assign(1, 0);
    chunk_alpha = alpha;
  };
  auto add = [&](int32_t id) {
    const uint64_t thr = keep_threshold_[id];
    if (thr <= 0xFFFFFFFFull && (st.rng.next() >> 32) >= thr) return;
    ids.push_back(id);
    if (static_cast<int64_t>(ids.size()) - offsets.back() >= piece) end_piece();
  };
  auto end_sentence = [&](int64_t units) {
    end_piece();
    counters.words.store(words, std::memory_order_relaxed);
    counters.tokens.store(tokens, std::memory_order_relaxed);
    counters.units.store(units, std::memory_order_relaxed);
    alpha = alpha_now(0);
    if (static_cast<int64_t>(ids.size()) >= kChunk) dispatch();
    return !stop_.load(std::memory_order_relaxed);
  };
  try {
    if (files) {
      struct Sink {
        const Vocab& vocab;
        int64_t& words;
        int64_t& tokens;
        int64_t done_before;
        decltype(add)& add_id;
        decltype(end_sentence)& end;
        void token(std::string_view w) {
          ++tokens;
          const int32_t id = vocab.find(w);
          if (id < 0) return;
          ++words;
          add_id(id);
        }
        bool end_line(int64_t consumed) { return end(done_before + consumed); }
      };
      int64_t done_before = 0;
      for (size_t i = 0; i < paths_.size() && !stop_.load(); ++i) {
        if (file_sizes_[i] > 0) {
          TextReader reader(paths_[i], 0, file_sizes_[i]);
          Sink sink{*vocab_, words, tokens, done_before, add, end_sentence};
          reader.run(sink);
        }
        done_before += file_sizes_[i];
      }
    } else {
      for (;;) {
        Chunk chunk;
        if (!pop_chunk(chunk)) break;
        bool go = true;
        for (size_t s = 0; go && s + 1 < chunk.offsets.size(); ++s) {
          for (int64_t i = chunk.offsets[s]; i < chunk.offsets[s + 1]; ++i) add(chunk.ids[i]);
          words += chunk.offsets[s + 1] - chunk.offsets[s];
          tokens = words;
          go = end_sentence(words);
        }
        if (!go) break;
      }
    }
    dispatch();
  } catch (...) {
    device_->sync_to_host();  // keep what was trained, then report the error
    throw;
  }
  device_->sync_to_host();
  st.loss = device_->loss() - device_loss0_;
  st.examples = device_->examples() - device_examples0_;
  counters.words.store(words, std::memory_order_relaxed);
  counters.tokens.store(tokens, std::memory_order_relaxed);
}

namespace {

class EmulatedDevice final : public Word2VecDevice {
 public:
  EmulatedDevice(const Word2VecConfig& config, const NoiseSampler& noise, const HuffmanTree& tree,
                 const Word2VecParams& host)
      : config_(config), noise_(noise), tree_(tree), host_(host) {
    const size_t n = static_cast<size_t>(host.V * host.D);
    syn0_.assign(host.syn0, host.syn0 + n);
    if (host.syn1neg) syn1neg_.assign(host.syn1neg, host.syn1neg + n);
    if (host.syn1) syn1_.assign(host.syn1, host.syn1 + n);
    Word2VecParams p = host;
    p.syn0 = syn0_.data();
    p.syn1neg = host.syn1neg ? syn1neg_.data() : nullptr;
    p.syn1 = host.syn1 ? syn1_.data() : nullptr;
    model_ = make_model(config, p);
    size_state(st_, config, tree.max_length);
    st_.rng.state = config.seed ^ 0xD1B54A32D192ED03ull;
  }
  void train(const int32_t* ids, const int64_t* offsets, int64_t S, float alpha0, float alpha1) override {
    for (int64_t s = 0; s < S; ++s) {
      const float alpha = alpha0 + (alpha1 - alpha0) * static_cast<float>(s) / static_cast<float>(S);
      train_sentence(model_, config_, noise_, tree_, st_, ids + offsets[s], offsets[s + 1] - offsets[s], alpha);
    }
  }
  void sync_to_host() override {
    std::copy(syn0_.begin(), syn0_.end(), host_.syn0);
    if (host_.syn1neg) std::copy(syn1neg_.begin(), syn1neg_.end(), host_.syn1neg);
    if (host_.syn1) std::copy(syn1_.begin(), syn1_.end(), host_.syn1);
  }
  double loss() override { return st_.loss; }
  int64_t examples() override { return st_.examples; }

 private:
  Word2VecConfig config_;
  const NoiseSampler& noise_;
  const HuffmanTree& tree_;
  Word2VecParams host_;
  std::vector<float> syn0_, syn1neg_, syn1_;
  Model model_{};
  Word2VecState st_;
};

}  // namespace

std::unique_ptr<Word2VecDevice> make_emulated_device(const Word2VecConfig& config, const NoiseSampler& noise,
                                                     const HuffmanTree& tree, const Word2VecParams& host) {
  return std::make_unique<EmulatedDevice>(config, noise, tree, host);
}

}  // namespace fastnlp
