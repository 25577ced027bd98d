// Word vocabularies for word2vec-style models: a string -> id hash index that looks words up
// without allocating, a streaming counter (memory bounded by the distinct words, pruned at
// max_vocab_size like word2vec.c / gensim) and the final frequency-sorted Vocab.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fastnlp {

// The largest sum of word counts a vocabulary may hold: 2^62, half of int64's range, so sums of
// counts (Huffman inner nodes, totals, words trained per epoch) never overflow. Counted corpora
// are far below it; a model file can claim anything, and is refused above it.
constexpr int64_t kMaxTotalCount = int64_t{1} << 62;

// FNV-1a, 64-bit: cheap for the short tokens of running text.
inline uint64_t hash_word(std::string_view w) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : w) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Open-addressing map word -> id in [0, size()), ids in insertion order. Lookups take a
// string_view and never allocate.
class WordIndex {
 public:
  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  const std::string& word(int64_t id) const { return words_[id]; }
  const std::vector<std::string>& words() const { return words_; }
  // The id of w, or -1.
  int32_t find(std::string_view w) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_word(w);
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t s = h & mask_;; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.id < 0) return -1;
      if (slot.tag == tag && words_[slot.id] == w) return slot.id;
    }
  }
  // The id of w, adding it with the next id when new (*added says which).
  int32_t insert(std::string_view w, bool* added = nullptr);
  void clear();

 private:
  struct Slot {
    uint32_t tag;  // high hash bits, compared before the string
    int32_t id;    // -1: empty
  };
  void rehash(uint64_t capacity);

  std::vector<std::string> words_;
  std::vector<uint32_t> tags_;  // per id, for rehashing without hashing again
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
};

// The index of the first byte of `s` that does not start (or continue) a well-formed UTF-8
// character -- the strict rules Python's decoder applies: no overlong forms, surrogates or code
// points above U+10FFFF -- or -1 when all of `s` is UTF-8.
int64_t first_invalid_utf8(std::string_view s);

// Counts words streamed from files or added one by one. When more than max_vocab_size distinct
// words are held, the rarest are pruned (count <= 1, then <= 2, ...), as gensim's
// max_vocab_size does, so memory stays bounded whatever the corpus size.
class VocabCounter {
 public:
  explicit VocabCounter(int64_t max_vocab_size = 0);  // <= 0: no limit

  // Counts one occurrence; true when the word is new (not held before).
  bool add(std::string_view word) {
    bool added = false;
    const int32_t id = index_.insert(word, &added);
    if (added) counts_.push_back(1);
    else ++counts_[id];
    ++total_words_;
    if (added && max_vocab_size_ > 0 && index_.size() > max_vocab_size_) prune();
    return added;
  }
  void end_sentence() { ++sentences_; }
  // Streams a whitespace-tokenized file, one sentence per line; stops early when *stop is set.
  // A word that is not UTF-8 is refused when first seen: std::invalid_argument naming the file,
  // the line and the byte offset (the words become Python str; nothing else could hold it).
  void count_file(const std::string& path, const std::atomic<bool>* stop = nullptr);

  int64_t total_words() const { return total_words_; }  // tokens seen, pruned words included
  int64_t sentences() const { return sentences_; }
  int64_t distinct() const { return index_.size(); }
  int64_t min_reduce() const { return min_reduce_; }  // counts <= min_reduce - 1 were pruned

  // Words with count >= min_count, by descending count, ties in order of first appearance.
  void finalize(int64_t min_count, std::vector<std::string>* words, std::vector<int64_t>* counts) const;

 private:
  void prune();

  WordIndex index_;
  std::vector<int64_t> counts_;
  int64_t max_vocab_size_;
  int64_t min_reduce_ = 1;
  int64_t total_words_ = 0;
  int64_t sentences_ = 0;
};

// A final vocabulary: words with their counts; ids are positions (frequency-sorted when built by
// VocabCounter::finalize, but any order is accepted).
class Vocab {
 public:
  // words (V) distinct; counts (V) >= 0 summing to at most kMaxTotalCount. Throws
  // std::invalid_argument naming a duplicate or the first count out of range.
  Vocab(std::vector<std::string> words, std::vector<int64_t> counts);

  int64_t size() const { return index_.size(); }
  int32_t find(std::string_view w) const { return index_.find(w); }
  const std::string& word(int64_t id) const { return index_.word(id); }
  const std::vector<std::string>& words() const { return index_.words(); }
  const std::vector<int64_t>& counts() const { return counts_; }
  int64_t total() const { return total_; }  // sum of counts

 private:
  WordIndex index_;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
};

}  // namespace fastnlp
