// WordIndex hashing, the streaming VocabCounter and Vocab construction.
#include "models/vocab.h"

#include <algorithm>
#include <numeric>

#include "common.h"
#include "models/text_reader.h"

namespace fastnlp {

int32_t WordIndex::insert(std::string_view w, bool* added) {
  // Keep the load factor <= 1/2 so probe sequences stay short.
  if (static_cast<uint64_t>(words_.size() + 1) * 2 > slots_.size())
    rehash(std::max<uint64_t>(64, slots_.size() * 2));
  const uint64_t h = hash_word(w);
  const uint32_t tag = static_cast<uint32_t>(h >> 32);
  uint64_t s = h & mask_;
  for (;; s = (s + 1) & mask_) {
    const Slot& slot = slots_[s];
    if (slot.id < 0) break;
    if (slot.tag == tag && words_[slot.id] == w) {
      if (added) *added = false;
      return slot.id;
    }
  }
  FASTNLP_CHECK(words_.size() < static_cast<size_t>(INT32_MAX), "vocabulary: more than 2^31 - 1 distinct words");
  const int32_t id = static_cast<int32_t>(words_.size());
  words_.emplace_back(w);
  tags_.push_back(tag);
  slots_[s] = Slot{tag, id};
  if (added) *added = true;
  return id;
}

void WordIndex::rehash(uint64_t capacity) {
  uint64_t cap = 64;
  while (cap < capacity) cap *= 2;
  slots_.assign(cap, Slot{0, -1});
  mask_ = cap - 1;
  for (size_t id = 0; id < words_.size(); ++id) {
    uint64_t s = hash_word(words_[id]) & mask_;
    while (slots_[s].id >= 0) s = (s + 1) & mask_;
    slots_[s] = Slot{tags_[id], static_cast<int32_t>(id)};
  }
}

void WordIndex::clear() {
  words_.clear();
  tags_.clear();
  slots_.clear();
  mask_ = 0;
}

VocabCounter::VocabCounter(int64_t max_vocab_size) : max_vocab_size_(max_vocab_size) {}

void VocabCounter::prune() {
  // Drop every word seen at most min_reduce times (keeping first-appearance order), then raise
  // the bar for the next pruning.
  std::vector<std::string> words;
  std::vector<int64_t> counts;
  for (int64_t id = 0; id < index_.size(); ++id) {
    if (counts_[id] > min_reduce_) {
      words.push_back(index_.word(id));
      counts.push_back(counts_[id]);
    }
  }
  ++min_reduce_;
  index_.clear();
  for (const auto& w : words) index_.insert(w);
  counts_ = std::move(counts);
}

int64_t first_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const int64_t n = static_cast<int64_t>(s.size());
  int64_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;            // no overlong 3-byte forms
    else if (c == 0xED) len = 3, hi = 0x9F;            // no surrogates
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;            // no overlong 4-byte forms
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;            // nothing above U+10FFFF
    else return i;
    if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (int k = 2; k < len; ++k)
      if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return i;
    i += len;
  }
  return -1;
}

namespace {

struct CountSink {
  VocabCounter* counter;
  const std::atomic<bool>* stop;
  const TextReader* reader;
  const std::string* path;
  int64_t line = 1;
  void token(std::string_view w) {
    if (!counter->add(w)) return;  // a word already held was checked when first seen
    const int64_t bad = first_invalid_utf8(w);
    if (bad < 0) return;
    std::string shown;  // the word with its non-ASCII bytes as \xNN, at most 60 bytes
    for (size_t i = 0; i < w.size() && i < 60; ++i) {
      const auto c = static_cast<unsigned char>(w[i]);
      if (c >= 0x20 && c < 0x7F) {
        shown += static_cast<char>(c);
      } else {
        static const char* kHex = "0123456789abcdef";
        shown += "\\x";
        shown += kHex[c >> 4];
        shown += kHex[c & 15];
      }
    }
    throw std::invalid_argument(str_cat(*path, ": line ", line, ", byte offset ", reader->offset_of(w) + bad,
                                        ": not UTF-8 (in the word '", shown,
                                        "'); word2vec reads corpora as UTF-8: convert the file, e.g. with iconv"));
  }
  bool end_line(int64_t) {
    counter->end_sentence();
    ++line;
    return !(stop && stop->load(std::memory_order_relaxed));
  }
};

}  // namespace

void VocabCounter::count_file(const std::string& path, const std::atomic<bool>* stop) {
  const int64_t size = text_file_size(path);
  TextReader reader(path, 0, size);
  CountSink sink{this, stop, &reader, &path};
  reader.run(sink);
}

void VocabCounter::finalize(int64_t min_count, std::vector<std::string>* words,
                            std::vector<int64_t>* counts) const {
  std::vector<int64_t> order;
  for (int64_t id = 0; id < index_.size(); ++id)
    if (counts_[id] >= min_count) order.push_back(id);
  // Ids are in first-appearance order, so a stable sort breaks ties by first appearance.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return counts_[a] > counts_[b]; });
  words->clear();
  counts->clear();
  words->reserve(order.size());
  counts->reserve(order.size());
  for (int64_t id : order) {
    words->push_back(index_.word(id));
    counts->push_back(counts_[id]);
  }
}

Vocab::Vocab(std::vector<std::string> words, std::vector<int64_t> counts) : counts_(std::move(counts)) {
  FASTNLP_CHECK(words.size() == counts_.size(), "vocabulary: ", words.size(), " words but ", counts_.size(),
                " counts");
  for (size_t i = 0; i < words.size(); ++i) {
    bool added = false;
    const int32_t id = index_.insert(words[i], &added);
    FASTNLP_CHECK(added, "vocabulary: duplicate word '", words[i], "' at ids ", id, " and ", i);
    FASTNLP_CHECK(counts_[i] >= 0, "vocabulary: count of '", words[i], "' must be >= 0, got ", counts_[i]);
    FASTNLP_CHECK(counts_[i] <= kMaxTotalCount - total_, "vocabulary: counts must sum to at most 2^62, got ",
                  "more at '", words[i], "' (count ", counts_[i], ")");
    total_ += counts_[i];
  }
}

}  // namespace fastnlp
