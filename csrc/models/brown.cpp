// Brown clustering: the corpus's bigram counts (two streaming passes over the file) and the
// windowed agglomerative clustering with its incrementally maintained loss table.
//
// Units: with N1 the corpus's tokens and N2 its bigrams, p(x) = n(x) / N1, p(x, y) = n(x, y) / N2
// and q(x, y) = p(x, y) log(p(x, y) / (p(x) p(y))); AMI = sum over ordered pairs of q. The loops
// work with N2 * q (so integer counts multiply logs) and divide by N2 only when reporting.
#include "models/brown.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "common.h"
#include "models/text_reader.h"
#include "models/vocab.h"
#include "parallel.h"

namespace fastnlp {
namespace {

// Sorts `keys` (w << 32 | y) and adds their run lengths into the sorted (acc_keys, acc_n).
void compact_bigrams(std::vector<uint64_t>* keys, std::vector<uint64_t>* acc_keys, std::vector<int64_t>* acc_n) {
  std::sort(keys->begin(), keys->end());
  std::vector<uint64_t> k2;
  std::vector<int64_t> n2;
  k2.reserve(acc_keys->size() + keys->size() / 2);
  n2.reserve(k2.capacity());
  size_t i = 0, j = 0;
  const std::vector<uint64_t>& a = *acc_keys;
  const std::vector<uint64_t>& b = *keys;
  while (i < a.size() || j < b.size()) {
    uint64_t key;
    int64_t n = 0;
    if (j >= b.size() || (i < a.size() && a[i] <= b[j])) {
      key = a[i];
      n = (*acc_n)[i++];
    } else {
      key = b[j];
    }
    while (j < b.size() && b[j] == key) {
      ++n;
      ++j;
    }
    k2.push_back(key);
    n2.push_back(n);
  }
  acc_keys->swap(k2);
  acc_n->swap(n2);
  keys->clear();
}

// CSR of (key -> n) sorted by key; `by_first`: rows by w (right lists) or by y (left lists).
void build_csr(const std::vector<uint64_t>& keys, const std::vector<int64_t>& n, int64_t V, bool by_first,
               std::vector<int64_t>* off, std::vector<int32_t>* ids, std::vector<int64_t>* cnt) {
  const size_t E = keys.size();
  off->assign(static_cast<size_t>(V + 1), 0);
  auto row = [&](uint64_t k) { return static_cast<int64_t>(by_first ? k >> 32 : k & 0xffffffffu); };
  auto col = [&](uint64_t k) { return static_cast<int32_t>(by_first ? k & 0xffffffffu : k >> 32); };
  for (size_t e = 0; e < E; ++e) ++(*off)[row(keys[e]) + 1];
  for (int64_t v = 0; v < V; ++v) (*off)[v + 1] += (*off)[v];
  ids->resize(E);
  cnt->resize(E);
  std::vector<int64_t> pos(off->begin(), off->end() - 1);
  for (size_t e = 0; e < E; ++e) {
    const int64_t p = pos[row(keys[e])]++;
    (*ids)[p] = col(keys[e]);
    (*cnt)[p] = n[e];
  }
}

BigramStats stats_from_keys(std::vector<int64_t> counts, const std::vector<uint64_t>& keys,
                            const std::vector<int64_t>& n) {
  BigramStats s;
  s.V = static_cast<int64_t>(counts.size());
  s.counts = std::move(counts);
  for (int64_t c : s.counts) s.tokens += c;
  for (int64_t c : n) s.bigrams += c;
  build_csr(keys, n, s.V, true, &s.right_off, &s.right_id, &s.right_n);
  build_csr(keys, n, s.V, false, &s.left_off, &s.left_id, &s.left_n);
  return s;
}

// The second pass: bigrams of adjacent in-vocabulary tokens within a line.
struct BigramSink {
  const Vocab* vocab;
  const std::atomic<bool>* stop;
  std::vector<uint64_t> keys, acc_keys;
  std::vector<int64_t> acc_n;
  int32_t prev = -1;
  static constexpr size_t kBuffer = size_t{1} << 23;

  void token(std::string_view w) {
    const int32_t id = vocab->find(w);
    if (id >= 0 && prev >= 0) {
      keys.push_back(static_cast<uint64_t>(prev) << 32 | static_cast<uint32_t>(id));
      if (keys.size() >= kBuffer) compact_bigrams(&keys, &acc_keys, &acc_n);
    }
    prev = id;
  }
  bool end_line(int64_t) {
    prev = -1;
    return !(stop && stop->load(std::memory_order_relaxed));
  }
};

// log(n) for the counts the loops meet, read from a table below kLogTable.
constexpr int64_t kLogTable = int64_t{1} << 20;

class LogTable {
 public:
  LogTable() : t_(kLogTable) {
    t_[0] = 0;  // n log n terms with n = 0 vanish: 0 * (0 - lm) = 0
    for (int64_t i = 1; i < kLogTable; ++i) t_[i] = std::log(static_cast<double>(i));
  }
  double operator()(int64_t n) const { return n < kLogTable ? t_[n] : std::log(static_cast<double>(n)); }

 private:
  std::vector<double> t_;
};

// The state of the clustering: S slots (C + 1, or V when smaller); `act` lists the active slots
// in increasing order. Dense (S, S) matrices: cnt[x * S + y] = n(x, y), cntT its transpose,
// W[x * S + y] = w(x, y) = N2 (q(x, y) + q(y, x)) for x != y, L[i * S + j] (i < j) the loss of
// merging i and j, in N2 * nats.
struct BrownState {
  const BigramStats& st;
  const LogTable& lg;
  int64_t S;
  int threads;
  double logK;  // log(N1^2 / N2)
  std::vector<int64_t> cnt, cntT, marg;
  std::vector<double> W, L, self, rowsum, lk;  // lk[x] = log n(x) - logK
  // lpair[i * S + j] = log(n(i) + n(j)): the merged marginal's log, kept so the O(S^2) pass over
  // the pairs reads it instead of calling log (the marginals of frequent clusters pass the table).
  std::vector<double> lpair;
  std::vector<int32_t> rep, slot_of_word;
  std::vector<std::vector<int32_t>> members;
  std::vector<int32_t> act;

  BrownState(const BigramStats& s, const LogTable& l, int64_t slots, int nthreads)
      : st(s), lg(l), S(slots), threads(nthreads) {
    const double n1 = static_cast<double>(std::max<int64_t>(1, st.tokens));
    logK = st.bigrams > 0 ? 2 * std::log(n1) - std::log(static_cast<double>(st.bigrams)) : 0.0;
    const size_t SS = static_cast<size_t>(S * S);
    cnt.assign(SS, 0);
    cntT.assign(SS, 0);
    W.assign(SS, 0);
    L.assign(SS, 0);
    lpair.assign(SS, 0);
    marg.assign(S, 0);
    self.assign(S, 0);
    rowsum.assign(S, 0);
    lk.assign(S, 0);
    rep.assign(S, -1);
    members.resize(S);
    slot_of_word.assign(static_cast<size_t>(st.V), -1);
  }

  // N2 q for count n under the summed log-marginals lm (= log n(x) + log n(y) - logK).
  double ql(int64_t n, double lm) const { return static_cast<double>(n) * (lg(n) - lm); }

  double w_pair(int64_t i, int64_t x) const {
    const double lm = lg(marg[i]) + lk[x];
    return ql(cnt[i * S + x], lm) + ql(cnt[x * S + i], lm);
  }
  double self_term(int64_t i) const { return ql(cnt[i * S + i], 2 * lg(marg[i]) - logK); }

  // Word w enters slot g (empty): its counts with the active clusters (w itself included).
  void enter(int32_t w, int64_t g) {
    slot_of_word[w] = static_cast<int32_t>(g);
    members[g].assign(1, w);
    rep[g] = w;
    marg[g] = st.counts[w];
    lk[g] = lg(marg[g]) - logK;
    for (int64_t e = st.right_off[w]; e < st.right_off[w + 1]; ++e) {
      const int32_t x = slot_of_word[st.right_id[e]];
      if (x >= 0) cnt[g * S + x] += st.right_n[e];
    }
    for (int64_t e = st.left_off[w]; e < st.left_off[w + 1]; ++e) {
      const int32_t x = slot_of_word[st.left_id[e]];
      if (x >= 0 && x != g) cnt[x * S + g] += st.left_n[e];  // (w, w) came with the right list
    }
    for (int64_t x = 0; x < S; ++x) {
      cntT[x * S + g] = cnt[g * S + x];
      cntT[g * S + x] = cnt[x * S + g];
    }
  }

  void clear_slot(int64_t g) {
    for (int64_t x = 0; x < S; ++x) cnt[g * S + x] = cnt[x * S + g] = cntT[g * S + x] = cntT[x * S + g] = 0;
    for (int64_t x = 0; x < S; ++x) W[g * S + x] = W[x * S + g] = 0;
    marg[g] = 0;
    self[g] = rowsum[g] = 0;
    rep[g] = -1;
    members[g].clear();
  }

  // w(i, x) and lpair for every active x, and self(i); rowsum[i] from them.
  void compute_w_row(int64_t i) {
    double sum = 0;
    for (int32_t x : act) {
      lpair[i * S + x] = lpair[x * S + i] = lg(marg[i] + marg[x]);
      if (x == i) continue;
      const double w = w_pair(i, x);
      W[i * S + x] = W[x * S + i] = w;
      sum += w;
    }
    self[i] = self_term(i);
    rowsum[i] = sum;
  }

  // The loss of merging i and j from the current counts: O(|act|).
  double full_loss(int64_t i, int64_t j) const {
    const int64_t nu = marg[i] + marg[j];
    const double lu = lg(nu);
    double merged = 0;
    const int64_t* ri = &cnt[i * S];
    const int64_t* rj = &cnt[j * S];
    const int64_t* ci = &cntT[i * S];
    const int64_t* cj = &cntT[j * S];
    for (int32_t x : act) {
      if (x == i || x == j) continue;
      const double lm = lu + lk[x];
      merged += ql(ri[x] + rj[x], lm) + ql(ci[x] + cj[x], lm);
    }
    const int64_t nuu = ri[i] + ri[j] + rj[i] + rj[j];
    return rowsum[i] + rowsum[j] - W[i * S + j] - merged + self[i] + self[j] - ql(nuu, 2 * lu - logK);
  }

  double& loss(int64_t i, int64_t j) { return i < j ? L[i * S + j] : L[j * S + i]; }

  // Calls f(i, j) for every pair of active positions p < q, over `threads` threads: rows p and
  // n - 1 - p go together so each thread gets the same share of the triangle.
  template <typename F>
  void for_pairs(F&& f) {
    const int64_t n = static_cast<int64_t>(act.size());
    const int64_t folds = (n + 1) / 2;
    const int nt = static_cast<int>(std::min<int64_t>(threads, std::max<int64_t>(1, n * n / 20000)));
    parallel_region(nt, [&](int t, int tn) {
      for (int64_t r = folds * t / tn; r < folds * (t + 1) / tn; ++r) {
        for (int64_t p : {r, n - 1 - r}) {
          for (int64_t q = p + 1; q < n; ++q) f(act[p], act[q]);
          if (p == n - 1 - r) break;
        }
      }
    });
  }

  // The pair to merge: the smallest loss, ties (within the tolerance) by the smallest (rep, rep).
  std::pair<int64_t, int64_t> best_pair() {
    const int64_t n = static_cast<int64_t>(act.size());
    double lmin = std::numeric_limits<double>::infinity();
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) lmin = std::min(lmin, L[act[p] * S + act[q]]);
    const double bound = lmin + kBrownTieTolerance * std::abs(lmin) + kBrownTieFloor * std::max<int64_t>(1, st.bigrams);
    std::pair<int64_t, int64_t> best{-1, -1};
    std::pair<int32_t, int32_t> best_rep{std::numeric_limits<int32_t>::max(), 0};
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const int64_t i = act[p], j = act[q];
        if (L[i * S + j] > bound) continue;
        const std::pair<int32_t, int32_t> r = std::minmax(rep[i], rep[j]);
        if (r < best_rep) {
          best_rep = r;
          best = {i, j};
        }
      }
    return best;
  }
};

}  // namespace

BigramStats count_bigrams_file(const std::string& path, int64_t min_count, std::vector<std::string>* words,
                               const std::atomic<bool>* stop) {
  FASTNLP_CHECK(min_count >= 1, "brown: min_count must be >= 1, got ", min_count);
  VocabCounter counter;
  counter.count_file(path, stop);
  std::vector<int64_t> counts;
  counter.finalize(min_count, words, &counts);
  FASTNLP_CHECK(static_cast<int64_t>(words->size()) < std::numeric_limits<int32_t>::max(),
                "brown: too many words for int32 ids: ", words->size());
  const Vocab vocab(*words, counts);
  BigramSink sink{&vocab, stop, {}, {}, {}};
  TextReader reader(path, 0, text_file_size(path));
  reader.run(sink);
  compact_bigrams(&sink.keys, &sink.acc_keys, &sink.acc_n);
  return stats_from_keys(std::move(counts), sink.acc_keys, sink.acc_n);
}

BrownClusterer::BrownClusterer(std::string path, int64_t min_count, int64_t C, int threads)
    : path_(std::move(path)), min_count_(min_count), C_(C), threads_(std::max(1, threads)) {
  FASTNLP_CHECK(C >= 1, "brown: num_clusters must be >= 1, got ", C);
  FASTNLP_CHECK(min_count >= 1, "brown: min_count must be >= 1, got ", min_count);
  text_file_size(path_);  // a missing file fails here, in the caller's thread
}

BrownClusterer::~BrownClusterer() {
  stop();
  if (worker_.joinable()) worker_.join();
}

void BrownClusterer::start() {
  FASTNLP_CHECK(!worker_.joinable(), "brown: already started");
  worker_ = std::thread([this] {
    try {
      run();
      phase_.store(2);
    } catch (...) {
      error_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
    }
    done_cv_.notify_all();
  });
}

bool BrownClusterer::wait(double timeout_s) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto done = [&] { return finished_; };
    if (timeout_s < 0) done_cv_.wait(lock, done);
    else if (!done_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), done)) return false;
  }
  if (worker_.joinable()) worker_.join();
  if (error_) std::rethrow_exception(error_);
  return true;
}

void BrownClusterer::run() {
  stats_ = count_bigrams_file(path_, min_count_, &words_, &stop_);
  if (stop_.load()) return;
  FASTNLP_CHECK(stats_.V >= 2, "brown: need at least 2 words with count >= min_count (", min_count_, ") in ",
                path_, ", got ", stats_.V);
  total_.store(stats_.V - 1);
  phase_.store(1);
  cluster();
}

void BrownClusterer::cluster() {
  const LogTable lg;
  const int64_t V = stats_.V;
  const int64_t S = std::min(V, C_ + 1);
  BrownState s(stats_, lg, S, threads_);
  for (int64_t g = 0; g < S; ++g) {
    s.act.push_back(static_cast<int32_t>(g));
    s.enter(static_cast<int32_t>(g), g);
  }
  for (int64_t i = 0; i < S; ++i) s.compute_w_row(i);
  s.for_pairs([&](int64_t i, int64_t j) { s.loss(i, j) = s.full_loss(i, j); });
  int64_t next_word = S;
  merges_.reserve(static_cast<size_t>(V - 1));
  const double scale = stats_.bigrams > 0 ? 1.0 / static_cast<double>(stats_.bigrams) : 0.0;

  std::vector<int64_t> out_a(S), in_a(S), out_b(S), in_b(S);
  std::vector<double> w_a(S), w_b(S);
  while (s.act.size() > 1) {
    if (stop_.load()) return;
    auto [i, j] = s.best_pair();
    merges_.push_back({std::min(s.rep[i], s.rep[j]), std::max(s.rep[i], s.rep[j]), s.loss(i, j) * scale});
    // The merged cluster keeps the slot of the larger one (fewer words change slot).
    const int64_t m = s.members[i].size() >= s.members[j].size() ? i : j, g = m == i ? j : i;
    const double lk_a = s.lk[m], lk_b = s.lk[g];
    for (int64_t x = 0; x < S; ++x) {
      out_a[x] = s.cntT[m * S + x];
      in_a[x] = s.cnt[m * S + x];
      w_a[x] = s.W[m * S + x];
      out_b[x] = s.cntT[g * S + x];
      in_b[x] = s.cnt[g * S + x];
      w_b[x] = s.W[g * S + x];
    }
    // Counts of the merged cluster: row, then column (which then holds the four inner counts).
    for (int64_t x = 0; x < S; ++x) s.cnt[m * S + x] += s.cnt[g * S + x];
    for (int64_t x = 0; x < S; ++x)
      if (x != g) s.cnt[x * S + m] += s.cnt[x * S + g];
    for (int64_t x = 0; x < S; ++x) {
      s.cntT[x * S + m] = s.cnt[m * S + x];
      s.cntT[m * S + x] = s.cnt[x * S + m];
    }
    s.marg[m] += s.marg[g];
    s.lk[m] = lg(s.marg[m]) - s.logK;
    s.rep[m] = std::min(s.rep[m], s.rep[g]);
    for (int32_t w : s.members[g]) s.slot_of_word[w] = static_cast<int32_t>(m);
    s.members[m].insert(s.members[m].end(), s.members[g].begin(), s.members[g].end());
    s.clear_slot(g);
    const bool add = next_word < V;
    if (add) s.enter(static_cast<int32_t>(next_word++), g);
    else s.act.erase(std::find(s.act.begin(), s.act.end(), static_cast<int32_t>(g)));

    s.compute_w_row(m);
    if (add) s.compute_w_row(g);
    for (int32_t x : s.act) {
      if (x == m || x == g) continue;
      s.rowsum[x] += s.W[m * S + x] - w_a[x] - w_b[x] + (add ? s.W[g * S + x] : 0.0);
    }
    // Every other pair (p, q): its loss sums over the clusters x outside {p, q}; a and b left
    // that sum, the merged cluster (and the entering word) joined it.
    const int64_t* out_m = &s.cntT[m * S];
    const int64_t* in_m = &s.cnt[m * S];
    const double* w_m = &s.W[m * S];
    const int64_t* out_z = &s.cntT[g * S];
    const int64_t* in_z = &s.cnt[g * S];
    const double* w_z = &s.W[g * S];
    const double lk_m = s.lk[m], lk_z = s.lk[g];
    s.for_pairs([&](int64_t p, int64_t q) {
      if (p == m || q == m || p == g || q == g) return;
      const double lpq = s.lpair[p * S + q];
      auto term = [&](const int64_t* out, const int64_t* in, const double* w, double lkx) {
        const double lm = lpq + lkx;
        return w[p] + w[q] - s.ql(out[p] + out[q], lm) - s.ql(in[p] + in[q], lm);
      };
      double d = term(out_m, in_m, w_m, lk_m) - term(out_a.data(), in_a.data(), w_a.data(), lk_a) -
                 term(out_b.data(), in_b.data(), w_b.data(), lk_b);
      if (add) d += term(out_z, in_z, w_z, lk_z);
      s.L[p * S + q] += d;
    });
    // The pairs of the changed slots, from the counts.
    const int64_t n = static_cast<int64_t>(s.act.size());
    parallel_region(std::min<int64_t>(threads_, std::max<int64_t>(1, n / 64)), [&](int t, int tn) {
      for (int64_t p = n * t / tn; p < n * (t + 1) / tn; ++p) {
        const int64_t x = s.act[p];
        if (x != m) s.loss(m, x) = s.full_loss(m, x);
        if (add && x != g && x != m) s.loss(g, x) = s.full_loss(g, x);
      }
    });
    done_.store(static_cast<int64_t>(merges_.size()), std::memory_order_relaxed);
  }
}

}  // namespace fastnlp
