// Random numbers for word2vec: the workers' SplitMix64 generator, the noise-word sampler (Walker's
// alias method over count^power) and word2vec.c's subsampling probabilities. Used by the CPU
// workers, the device reader and the CUDA trainer (which copies the alias table).
#pragma once

#include <cstdint>
#include <vector>

namespace fastnlp {

// SplitMix64 (Steele et al. 2014): 64 good random bits per call from one add and two multiplies.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// Noise words drawn from count^power in O(1) by Walker's alias method; the table (8 bytes a
// word) stays in cache where word2vec.c's 10^8-entry unigram table does not.
class NoiseSampler {
 public:
  NoiseSampler() = default;
  // counts: (V) >= 0 with at least one > 0.
  NoiseSampler(const int64_t* counts, int64_t V, double power);
  // r: 64 random bits; the low half picks a slot, the high half accepts it or takes its alias.
  int32_t draw(uint64_t r) const {
    const uint32_t slot = static_cast<uint32_t>((static_cast<uint64_t>(static_cast<uint32_t>(r)) * V_) >> 32);
    const Entry& e = table_[slot];
    return static_cast<uint32_t>(r >> 32) < e.threshold ? static_cast<int32_t>(slot) : e.alias;
  }
  // (V) the exact distribution draw() realizes (slot widths and 32-bit thresholds included).
  std::vector<double> probabilities() const;
  // The table as two arrays (V): thresholds and aliases (what a device copy needs).
  void export_table(uint32_t* thresholds, int32_t* aliases) const;
  bool empty() const { return table_.empty(); }

 private:
  struct Entry {
    uint32_t threshold;  // accept the slot when the high random half is below this
    int32_t alias;
  };
  std::vector<Entry> table_;
  uint64_t V_ = 0;
};

// word2vec.c's subsampling: a word of count c is kept with probability
// min(1, (sqrt(c / (t T)) + 1) t T / c), t = sample, T = the total count. (V) probabilities.
std::vector<double> keep_probabilities(const int64_t* counts, int64_t V, double sample);

}  // namespace fastnlp
