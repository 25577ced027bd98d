// The noise and subsampling distributions of word2vec (word2vec_sampling.h): Vose's alias table
// and word2vec.c's keep probabilities.
#include "models/word2vec_sampling.h"

#include <algorithm>
#include <cmath>

#include "common.h"

namespace fastnlp {

NoiseSampler::NoiseSampler(const int64_t* counts, int64_t V, double power) : V_(static_cast<uint64_t>(V)) {
  FASTNLP_CHECK(V > 0 && V < INT32_MAX, "noise distribution: V must be in [1, 2^31 - 1), got ", V);
  std::vector<double> q(static_cast<size_t>(V));
  double total = 0;
  for (int64_t i = 0; i < V; ++i) {
    q[i] = counts[i] > 0 ? std::pow(static_cast<double>(counts[i]), power) : 0.0;
    total += q[i];
  }
  FASTNLP_CHECK(total > 0, "noise distribution: all ", V, " counts are 0");
  FASTNLP_CHECK(std::isfinite(total), "noise distribution: the counts raised to power ", power,
                " sum to infinity");
  // Vose's alias construction on q scaled to mean 1.
  std::vector<int64_t> small, large;
  for (int64_t i = 0; i < V; ++i) {
    q[i] *= static_cast<double>(V) / total;
    (q[i] < 1.0 ? small : large).push_back(i);
  }
  table_.assign(static_cast<size_t>(V), Entry{0, 0});
  auto set = [&](int64_t i, double p, int64_t alias) {
    const double t = std::round(p * 4294967296.0);
    if (p >= 1.0 || t >= 4294967295.0) table_[i] = Entry{0xFFFFFFFFu, static_cast<int32_t>(i)};
    else table_[i] = Entry{static_cast<uint32_t>(t < 0 ? 0 : t), static_cast<int32_t>(alias)};
  };
  while (!small.empty() && !large.empty()) {
    const int64_t s = small.back(), l = large.back();
    small.pop_back();
    set(s, q[s], l);
    q[l] -= 1.0 - q[s];
    if (q[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers hold mass ~1 up to rounding.
  for (int64_t i : large) set(i, 1.0, i);
  for (int64_t i : small) set(i, 1.0, i);
}

std::vector<double> NoiseSampler::probabilities() const {
  std::vector<double> p(V_, 0.0);
  const double k2_32 = 4294967296.0;
  for (uint64_t i = 0; i < V_; ++i) {
    // Low halves lo with floor(lo V / 2^32) == i: [ceil(i 2^32 / V), ceil((i + 1) 2^32 / V)).
    const uint64_t lo = ((i << 32) + V_ - 1) / V_;
    const uint64_t hi = (((i + 1) << 32) + V_ - 1) / V_;
    const double width = static_cast<double>(hi - lo) / k2_32;
    const Entry& e = table_[i];
    const double accept = e.alias == static_cast<int32_t>(i) ? 1.0 : static_cast<double>(e.threshold) / k2_32;
    p[i] += width * accept;
    p[e.alias] += width * (1.0 - accept);
  }
  return p;
}

void NoiseSampler::export_table(uint32_t* thresholds, int32_t* aliases) const {
  for (size_t i = 0; i < table_.size(); ++i) {
    thresholds[i] = table_[i].threshold;
    aliases[i] = table_[i].alias;
  }
}

std::vector<double> keep_probabilities(const int64_t* counts, int64_t V, double sample) {
  std::vector<double> p(static_cast<size_t>(V), 1.0);
  if (sample <= 0) return p;
  double total = 0;
  for (int64_t i = 0; i < V; ++i) total += static_cast<double>(counts[i]);
  const double threshold = sample * total;
  for (int64_t i = 0; i < V; ++i) {
    if (counts[i] <= 0) continue;
    const double c = static_cast<double>(counts[i]);
    p[i] = std::min(1.0, (std::sqrt(c / threshold) + 1.0) * threshold / c);
  }
  return p;
}

}  // namespace fastnlp
