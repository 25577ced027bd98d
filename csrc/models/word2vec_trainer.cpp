// word2vec's threaded trainer: construction (tables, hot rows), the epoch's lifecycle (launch,
// wait, stop, progress, the learning-rate schedule) and the Hogwild CPU workers of file mode
// and stream mode. The device reader lives in word2vec_device.cpp.
#include "models/word2vec.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common.h"
#include "models/text_reader.h"
#include "models/word2vec_sentence.h"

namespace fastnlp {

using w2v::flush_hot;
using w2v::kHotMerge;
using w2v::kHotMergeMin;
using w2v::kHotRows;
using w2v::kMergesPerEpoch;
using w2v::make_model;
using w2v::Model;
using w2v::size_state;
using w2v::train_sentence;

Word2VecTrainer::Word2VecTrainer(const Word2VecConfig& config, std::shared_ptr<const Vocab> vocab,
                                 Word2VecParams params)
    : config_(config), vocab_(std::move(vocab)), params_(params) {
  check_word2vec_config(config_);
  FASTNLP_CHECK(vocab_ && vocab_->size() > 0, "word2vec: the vocabulary is empty");
  const int64_t V = vocab_->size();
  FASTNLP_CHECK(params_.V == V && params_.D == config_.dim, "word2vec: the matrices are (", params_.V, ", ",
                params_.D, "), expected (V, dim) = (", V, ", ", config_.dim, ")");
  FASTNLP_CHECK(params_.syn0, "word2vec: syn0 is missing");
  FASTNLP_CHECK(config_.negative == 0 || params_.syn1neg, "word2vec: negative > 0 needs syn1neg");
  FASTNLP_CHECK(!config_.hs || params_.syn1, "word2vec: hs needs syn1");
  const int64_t* counts = vocab_->counts().data();
  if (config_.negative > 0) noise_ = NoiseSampler(counts, V, config_.ns_exponent);
  if (config_.hs) tree_ = build_huffman(counts, V);
  keep_prob_ = keep_probabilities(counts, V, config_.sample);
  keep_threshold_.resize(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i)
    keep_threshold_[i] = static_cast<uint64_t>(std::llround(keep_prob_[i] * 4294967296.0));
  // The hot rows are ids [0, H): automatic only when those are the H most frequent words, as in
  // a vocabulary from VocabCounter::finalize (which rows are copied never changes the result of a
  // lone worker, only how often the lines cross).
  if (config_.negative > 0 && config_.hot_rows >= 0) {
    hot_rows_ = std::min(config_.hot_rows, V);
  } else if (config_.negative > 0 && config_.threads > 1) {
    const int64_t H = std::min(kHotRows, V);
    const int64_t least = *std::min_element(counts, counts + H);
    if (H == V || least >= *std::max_element(counts + H, counts + V)) hot_rows_ = H;
  }
  // At least kMergesPerEpoch merges per worker and epoch (the vocabulary's total estimates the
  // epoch's words), so a small corpus is not trained on stale copies for most of an epoch.
  hot_merge_ = std::clamp<int64_t>(vocab_->total() / (kMergesPerEpoch * config_.threads), kHotMergeMin, kHotMerge);
  states_.resize(static_cast<size_t>(config_.threads));
  for (auto& st : states_) size_state(st, config_, tree_.max_length, hot_rows_);
  counters_.reset(new Counters[static_cast<size_t>(config_.threads)]);
}

Word2VecTrainer::~Word2VecTrainer() {
  stop();
  close_stream();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
}

float Word2VecTrainer::alpha_now(int t) const {
  int64_t units = 0;
  if (config_.alpha_per_worker) units = counters_[t].units.load(std::memory_order_relaxed);
  else
    for (int w = 0; w < config_.threads; ++w) units += counters_[w].units.load(std::memory_order_relaxed);
  const double f = std::min(1.0, static_cast<double>(units) / units_per_epoch_);
  const double p = (static_cast<double>(epoch_) + f) / static_cast<double>(epochs_);
  return static_cast<float>(std::max(config_.min_alpha, config_.alpha - (config_.alpha - config_.min_alpha) * p));
}

void Word2VecTrainer::publish(int t) {
  const Word2VecState& st = states_[t];
  Counters& c = counters_[t];
  c.examples.store(st.examples, std::memory_order_relaxed);
  c.loss.store(st.loss, std::memory_order_relaxed);
}

Word2VecProgress Word2VecTrainer::progress() const {
  Word2VecProgress p;
  int64_t units = 0;
  for (int t = 0; t < config_.threads; ++t) {
    const Counters& c = counters_[t];
    p.words += c.words.load(std::memory_order_relaxed);
    p.tokens += c.tokens.load(std::memory_order_relaxed);
    p.examples += c.examples.load(std::memory_order_relaxed);
    p.loss += c.loss.load(std::memory_order_relaxed);
    units += c.units.load(std::memory_order_relaxed);
  }
  p.fraction = std::min(1.0, static_cast<double>(units) / units_per_epoch_);
  p.alpha = alpha_now(0);
  return p;
}

template <typename Body>
void Word2VecTrainer::launch(int64_t epoch, int64_t epochs, double units_per_epoch, Body body) {
  const int workers = device_ ? 1 : config_.threads;  // a device is fed by one reader thread
  FASTNLP_CHECK(workers_.empty(), "word2vec: an epoch is already running (wait() for it first)");
  FASTNLP_CHECK(epochs > 0 && epoch >= 0 && epoch < epochs, "word2vec: epoch must be in [0, epochs = ", epochs,
                "), got ", epoch);
  stop_.store(false);
  error_ = nullptr;
  finished_ = 0;
  epoch_ = epoch;
  epochs_ = epochs;
  units_per_epoch_ = std::max(1.0, units_per_epoch);
  Rng seeder{config_.seed ^ (0x632BE59BD9B4E019ull * static_cast<uint64_t>(epoch + 1))};
  for (int t = 0; t < config_.threads; ++t) {
    Word2VecState& st = states_[t];
    st.rng.state = seeder.next();
    st.loss = 0;
    st.examples = 0;
    st.hot_since_merge = 0;
    st.sentence.clear();
    Counters& c = counters_[t];
    c.words = 0;
    c.tokens = 0;
    c.examples = 0;
    c.units = 0;
    c.loss = 0;
  }
  if (device_) {
    device_loss0_ = device_->loss();
    device_examples0_ = device_->examples();
  }
  for (int t = 0; t < workers; ++t) {
    workers_.emplace_back([this, t, body] {
      try {
        body(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        stop_.store(true);
        queue_cv_.notify_all();
        room_cv_.notify_all();
      }
      if (!device_) flush_hot(make_model(config_, params_, hot_rows_, hot_merge_), states_[t]);
      publish(t);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++finished_;
      }
      done_cv_.notify_all();
    });
  }
}

void Word2VecTrainer::set_device(std::unique_ptr<Word2VecDevice> device) {
  FASTNLP_CHECK(workers_.empty(), "word2vec: cannot change the device while an epoch runs");
  device_ = std::move(device);
}

void Word2VecTrainer::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stop_.store(true);
  queue_cv_.notify_all();
  room_cv_.notify_all();
}

bool Word2VecTrainer::wait(double timeout_s) {
  if (workers_.empty()) return true;  // nothing running (or already joined)
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto done = [&] { return finished_ == static_cast<int>(workers_.size()); };
    if (timeout_s < 0) done_cv_.wait(lock, done);
    else if (!done_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), done)) return false;
  }
  for (auto& w : workers_) w.join();
  workers_.clear();
  finished_ = 0;
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
  return true;
}

// Sentence assembly shared by both modes: ids of in-vocabulary words go through subsampling
// into the thread's sentence buffer, which is trained and emptied at a sentence end or when full
// (a long sentence is split, never cut).
namespace {

struct SentenceBuilder {
  const Model& m;
  const Word2VecConfig& cfg;
  const NoiseSampler& noise;
  const HuffmanTree& tree;
  const uint64_t* keep;
  Word2VecState& st;

  void add(int32_t id, float alpha) {
    const uint64_t thr = keep[id];
    if (thr <= 0xFFFFFFFFull && (st.rng.next() >> 32) >= thr) return;
    st.sentence.push_back(id);
    if (static_cast<int64_t>(st.sentence.size()) >= cfg.max_sentence) flush(alpha);
  }
  void flush(float alpha) {
    if (st.sentence.size() > 1)
      train_sentence(m, cfg, noise, tree, st, st.sentence.data(), static_cast<int64_t>(st.sentence.size()), alpha);
    st.sentence.clear();
  }
};

}  // namespace

void Word2VecTrainer::start_files(const std::vector<std::string>& paths, int64_t epoch, int64_t epochs) {
  FASTNLP_CHECK(!paths.empty(), "word2vec: no corpus files given");
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (const auto& p : paths) {
    sizes.push_back(text_file_size(p));
    total += sizes.back();
  }
  paths_ = paths;
  file_sizes_ = sizes;
  launch(epoch, epochs, static_cast<double>(total), [this](int t) {
    if (device_) worker_device(true);
    else worker_files(t);
  });
}

void Word2VecTrainer::worker_files(int t) {
  Word2VecState& st = states_[t];
  Counters& counters = counters_[t];
  const Model m = make_model(config_, params_, hot_rows_, hot_merge_);
  SentenceBuilder sb{m, config_, noise_, tree_, keep_threshold_.data(), st};
  int64_t total = 0;
  for (int64_t s : file_sizes_) total += s;
  const int T = config_.threads;
  const int64_t gb = total * t / T, ge = total * (t + 1) / T;  // this worker's bytes of the concatenation
  int64_t words = 0, tokens = 0, done_before = 0;
  float alpha = alpha_now(t);
  struct Sink {
    Word2VecTrainer* self;
    SentenceBuilder& sb;
    Counters& counters;
    const Vocab& vocab;
    int64_t& words;
    int64_t& tokens;
    int64_t& done_before;
    float& alpha;
    int t;
    void token(std::string_view w) {
      ++tokens;
      const int32_t id = vocab.find(w);
      if (id < 0) return;
      ++words;
      sb.add(id, alpha);
    }
    bool end_line(int64_t consumed) {
      sb.flush(alpha);
      counters.words.store(words, std::memory_order_relaxed);
      counters.tokens.store(tokens, std::memory_order_relaxed);
      counters.units.store(done_before + consumed, std::memory_order_relaxed);
      self->publish(t);
      alpha = self->alpha_now(t);
      return !self->stop_.load(std::memory_order_relaxed);
    }
  } sink{this, sb, counters, *vocab_, words, tokens, done_before, alpha, t};
  int64_t fo = 0;  // offset of file i in the concatenation
  for (size_t i = 0; i < paths_.size() && !stop_.load(); ++i) {
    const int64_t size = file_sizes_[i];
    const int64_t lb = std::max(gb, fo), le = std::min(ge, fo + size);
    if (lb < le) {
      TextReader reader(paths_[i], lb - fo, le - fo);
      reader.run(sink);
      sb.flush(alpha);
      done_before += le - lb;
      counters.units.store(done_before, std::memory_order_relaxed);
    }
    fo += size;
  }
  counters.words.store(words, std::memory_order_relaxed);
  counters.tokens.store(tokens, std::memory_order_relaxed);
}

void Word2VecTrainer::start_stream(int64_t epoch, int64_t epochs, int64_t total_words) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.clear();
    queue_closed_ = false;
  }
  launch(epoch, epochs, static_cast<double>(total_words), [this](int t) {
    if (device_) worker_device(false);
    else worker_stream(t);
  });
}

bool Word2VecTrainer::push(std::vector<int32_t> ids, std::vector<int64_t> offsets, double timeout_s) {
  const int64_t V = vocab_->size();
  FASTNLP_CHECK(!offsets.empty() && offsets.front() == 0 && offsets.back() == static_cast<int64_t>(ids.size()),
                "word2vec: sentence offsets must start at 0 and end at the number of ids (", ids.size(), ")");
  for (size_t s = 1; s < offsets.size(); ++s)
    FASTNLP_CHECK(offsets[s] >= offsets[s - 1], "word2vec: sentence offsets must not decrease, got ",
                  offsets[s - 1], " then ", offsets[s], " at ", s);
  for (size_t i = 0; i < ids.size(); ++i)
    FASTNLP_CHECK(ids[i] >= 0 && ids[i] < V, "word2vec: word ids must be in [0, ", V, "), got ", ids[i],
                  " at position ", i);
  std::unique_lock<std::mutex> lock(mutex_);
  FASTNLP_CHECK(!queue_closed_, "word2vec: push() after close_stream()");
  const size_t cap = static_cast<size_t>(2 * config_.threads);
  auto room = [&] { return stop_.load() || queue_.size() < cap; };
  if (timeout_s < 0) room_cv_.wait(lock, room);
  else if (!room_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), room)) return false;
  if (stop_.load()) return true;
  queue_.push_back(Chunk{std::move(ids), std::move(offsets)});
  queue_cv_.notify_one();
  return true;
}

void Word2VecTrainer::close_stream() {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_closed_ = true;
  queue_cv_.notify_all();
}

bool Word2VecTrainer::pop_chunk(Chunk& chunk) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    queue_cv_.wait(lock, [&] { return stop_.load() || !queue_.empty() || queue_closed_; });
    if (stop_.load() || queue_.empty()) return false;
    chunk = std::move(queue_.front());
    queue_.pop_front();
  }
  room_cv_.notify_one();
  return true;
}

void Word2VecTrainer::worker_stream(int t) {
  Word2VecState& st = states_[t];
  Counters& counters = counters_[t];
  const Model m = make_model(config_, params_, hot_rows_, hot_merge_);
  SentenceBuilder sb{m, config_, noise_, tree_, keep_threshold_.data(), st};
  int64_t words = 0;
  float alpha = alpha_now(t);
  for (;;) {
    Chunk chunk;
    if (!pop_chunk(chunk)) break;
    for (size_t s = 0; s + 1 < chunk.offsets.size(); ++s) {
      for (int64_t i = chunk.offsets[s]; i < chunk.offsets[s + 1]; ++i) sb.add(chunk.ids[i], alpha);
      sb.flush(alpha);
      words += chunk.offsets[s + 1] - chunk.offsets[s];
      counters.words.store(words, std::memory_order_relaxed);
      counters.tokens.store(words, std::memory_order_relaxed);
      counters.units.store(words, std::memory_order_relaxed);
      publish(t);
      alpha = alpha_now(t);
      if (stop_.load(std::memory_order_relaxed)) return;
    }
  }
}

}  // namespace fastnlp
