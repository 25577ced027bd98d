// Co-occurrence counting (cooccurrence.h): per-thread open-addressing maps (word, context) -> count,
// spilled to K hash-partitioned shard files when they outgrow their share of the memory budget,
// then merged shard by shard into CSR. Counts are integers in units of 1/lcm(1..window), so every
// order of adding them (threads, spills, merges) gives the same matrix bit for bit.
#include "models/cooccurrence.h"

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <utility>

#include "common.h"
#include "models/text_reader.h"
#include "parallel.h"

namespace fastnlp {
namespace {

constexpr uint64_t kEmptyKey = ~uint64_t{0};  // a key is row << 32 | col with row < 2^31: never all ones

inline uint64_t pair_key(int32_t w, int32_t c) { return (static_cast<uint64_t>(w) << 32) | static_cast<uint32_t>(c); }

// splitmix64's finalizer: the shard of a key (the map's slots use the low bits of a cheaper hash).
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct Record {
  uint64_t key;
  int64_t units;
};

// Open-addressing map key -> units, linear probing, at most 5/8 full.
class PairMap {
 public:
  explicit PairMap(uint64_t max_capacity) : max_capacity_(std::max<uint64_t>(max_capacity, 1024)) { reset(1024); }

  // Entries it may hold before it would outgrow max_capacity (the caller spills first).
  uint64_t max_entries() const { return max_capacity_ / 8 * 5; }
  uint64_t size() const { return size_; }
  uint64_t bytes() const { return slots_.size() * sizeof(Record); }

  void add(uint64_t key, int64_t units) {
    if (size_ + 1 > grow_at_) reset(slots_.size() * 2);
    for (uint64_t s = slot_of(key);; s = (s + 1) & mask_) {
      Record& r = slots_[s];
      if (r.key == key) {
        r.units += units;
        return;
      }
      if (r.key == kEmptyKey) {
        r.key = key;
        r.units = units;
        ++size_;
        return;
      }
    }
  }

  template <typename F>
  void for_each(F&& f) const {
    for (const Record& r : slots_)
      if (r.key != kEmptyKey) f(r);
  }

  // Lets the map grow past max_capacity (for the final union, which is the result itself).
  void unlimit() {
    max_capacity_ = uint64_t{1} << 62;
    grow_at_ = slots_.size() / 8 * 5;
  }

  // Empties the map, shrinking it back to its first size.
  void clear() {
    std::vector<Record>().swap(slots_);
    reset(1024);
  }

 private:
  uint64_t slot_of(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }

  void reset(uint64_t capacity) {
    std::vector<Record> old;
    old.swap(slots_);
    slots_.assign(capacity, Record{kEmptyKey, 0});
    mask_ = capacity - 1;
    shift_ = 64 - __builtin_ctzll(capacity);
    grow_at_ = capacity >= max_capacity_ ? ~uint64_t{0} : capacity / 8 * 5;
    size_ = 0;
    for (const Record& r : old)
      if (r.key != kEmptyKey) add(r.key, r.units);
  }

  std::vector<Record> slots_;
  uint64_t max_capacity_;
  uint64_t mask_ = 0, grow_at_ = 0, size_ = 0;
  int shift_ = 0;
};

// K shard files in a fresh folder, removed with it. Each thread appends through its own small
// buffers, flushed under the shard's lock.
class ShardFiles {
 public:
  ShardFiles(const std::string& tmp_dir, int64_t K) : K_(K), locks_(static_cast<size_t>(K)) {
    std::string base = tmp_dir.empty() ? std::filesystem::temp_directory_path().string() : tmp_dir;
    std::string templ = base + "/fastnlp-cooccurrence-XXXXXX";
    if (!mkdtemp(templ.data()))
      throw std::runtime_error(str_cat("cooccurrence: cannot create a folder for the shard files in ", base,
                                       " (set tmp_dir to a writable folder)"));
    dir_ = templ;
    files_.resize(static_cast<size_t>(K), nullptr);
    for (int64_t k = 0; k < K; ++k) {
      files_[k] = std::fopen(path(k).c_str(), "w+b");
      if (!files_[k]) {
        const std::string failed = path(k);
        close_and_remove();  // the destructor does not run when the constructor throws
        throw std::runtime_error(str_cat("cooccurrence: cannot create the shard file ", failed));
      }
    }
  }
  ~ShardFiles() { close_and_remove(); }
  ShardFiles(const ShardFiles&) = delete;
  ShardFiles& operator=(const ShardFiles&) = delete;

  int64_t shards() const { return K_; }
  std::string path(int64_t k) const { return str_cat(dir_, "/shard-", k, ".bin"); }

  void append(int64_t k, const Record* recs, size_t n) {
    std::lock_guard<std::mutex> lock(locks_[k]);
    if (std::fwrite(recs, sizeof(Record), n, files_[k]) != n)
      throw std::runtime_error(str_cat("cooccurrence: writing ", path(k), " failed (disk full? set memory_mb higher or "
                                       "tmp_dir to a bigger disk)"));
    bytes_ += static_cast<int64_t>(n * sizeof(Record));
  }

  // All records of shard k (called once the writers are done).
  std::vector<Record> read(int64_t k) {
    std::FILE* f = files_[k];
    std::fflush(f);
    std::fseek(f, 0, SEEK_END);
    const long n = std::ftell(f) / static_cast<long>(sizeof(Record));
    std::vector<Record> recs(static_cast<size_t>(n));
    std::fseek(f, 0, SEEK_SET);
    if (n > 0 && std::fread(recs.data(), sizeof(Record), static_cast<size_t>(n), f) != static_cast<size_t>(n))
      throw std::runtime_error(str_cat("cooccurrence: reading ", path(k), " failed"));
    return recs;
  }

  // Replaces shard k's records (its merged form).
  void rewrite(int64_t k, const std::vector<Record>& recs) {
    std::fclose(files_[k]);
    files_[k] = std::fopen(path(k).c_str(), "w+b");
    if (!files_[k] ||
        (!recs.empty() && std::fwrite(recs.data(), sizeof(Record), recs.size(), files_[k]) != recs.size()))
      throw std::runtime_error(str_cat("cooccurrence: rewriting ", path(k), " failed"));
  }

  int64_t bytes() const { return bytes_; }

 private:
  void close_and_remove() {
    for (std::FILE*& f : files_) {
      if (f) std::fclose(f);
      f = nullptr;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int64_t K_;
  std::string dir_;
  std::vector<std::FILE*> files_;
  std::vector<std::mutex> locks_;
  std::atomic<int64_t> bytes_{0};
};

// Writes a map's records to the shard files through per-shard buffers of kBuf records.
void spill(const PairMap& map, ShardFiles* files) {
  constexpr size_t kBuf = 4096;
  const int64_t K = files->shards();
  std::vector<std::vector<Record>> buf(static_cast<size_t>(K));
  map.for_each([&](const Record& r) {
    const int64_t k = static_cast<int64_t>(mix64(r.key) % static_cast<uint64_t>(K));
    buf[k].push_back(r);
    if (buf[k].size() == kBuf) {
      files->append(k, buf[k].data(), buf[k].size());
      buf[k].clear();
    }
  });
  for (int64_t k = 0; k < K; ++k)
    if (!buf[k].empty()) files->append(k, buf[k].data(), buf[k].size());
}

int64_t lcm_upto(int64_t n) {
  int64_t l = 1;
  for (int64_t i = 2; i <= n; ++i) l = l / std::gcd(l, i) * i;
  return l;
}

// One counting thread: its byte range of the file, its map, its share of the budget.
struct CountWorker {
  const Vocab* vocab;
  const CooccurrenceConfig* config;
  int64_t unit;  // lcm(1..window) when weighted, else 1
  PairMap map;
  std::unique_ptr<ShardFiles>* files;  // created by the first thread that spills
  std::mutex* files_lock;
  int64_t shards;
  const std::atomic<bool>* stop;
  std::atomic<int64_t> consumed{0};
  std::vector<int32_t> line;
  int64_t tokens = 0, kept = 0, spills = 0;
  std::exception_ptr error;

  CountWorker(const Vocab* v, const CooccurrenceConfig* c, int64_t u, uint64_t max_capacity,
              std::unique_ptr<ShardFiles>* f, std::mutex* fl, int64_t K, const std::atomic<bool>* s)
      : vocab(v), config(c), unit(u), map(max_capacity), files(f), files_lock(fl), shards(K), stop(s) {}

  void spill_now() {
    {
      std::lock_guard<std::mutex> lock(*files_lock);
      if (!*files) *files = std::make_unique<ShardFiles>(config->tmp_dir, shards);
    }
    spill(map, files->get());
    map.clear();
    ++spills;
  }

  void add(int32_t a, int32_t b, int64_t u) {
    if (map.size() + 2 > map.max_entries()) spill_now();
    map.add(pair_key(a, b), u);
    map.add(pair_key(b, a), u);
  }

  // TextReader's sink.
  void token(std::string_view w) {
    ++tokens;
    const int32_t id = vocab->find(w);
    if (id >= 0) line.push_back(id);
  }
  bool end_line(int64_t bytes) {
    const int64_t n = static_cast<int64_t>(line.size());
    kept += n;
    const int64_t window = config->window;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t last = std::min(n - 1, i + window);
      for (int64_t j = i + 1; j <= last; ++j)
        add(line[i], line[j], config->distance_weighting ? unit / (j - i) : 1);
    }
    line.clear();
    consumed.store(bytes, std::memory_order_relaxed);
    return !stop->load(std::memory_order_relaxed);
  }
};

// Runs fn(i) for i in [0, n) on `threads` std::threads (each takes the next i), while the calling
// thread reports progress(done, n) every 100 ms; a false from progress sets *stop. Rethrows the
// first worker exception.
template <typename Fn, typename Poll>
void run_polled(int threads, int64_t n, Fn&& fn, Poll&& poll, std::atomic<bool>* stop) {
  std::atomic<int64_t> next{0};
  int64_t done = 0;  // guarded by lock
  std::mutex lock;
  std::condition_variable changed;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (int64_t i; !stop->load() && (i = next.fetch_add(1)) < n;) {
          fn(i);
          std::lock_guard<std::mutex> g(lock);
          ++done;
          changed.notify_one();
        }
      } catch (...) {
        errors[t] = std::current_exception();
        stop->store(true);
        changed.notify_one();
      }
    });
  {
    std::unique_lock<std::mutex> g(lock);
    while (done < n && !stop->load()) {
      // Wakes when a task ends (so a small job never waits out the period) or every 100 ms.
      changed.wait_for(g, std::chrono::milliseconds(100));
      const int64_t now = done;
      g.unlock();
      if (!poll(now)) stop->store(true);
      g.lock();
    }
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Sorts each row's (column, value) entries by column: records are placed into rows in hash order.
void sort_rows(CooccurrenceMatrix* m) {
  parallel_for(m->V, 256, [&](int64_t begin, int64_t end) {
    std::vector<std::pair<int32_t, float>> row;
    for (int64_t w = begin; w < end; ++w) {
      const int64_t a = m->indptr[w], b = m->indptr[w + 1];
      row.clear();
      for (int64_t i = a; i < b; ++i) row.emplace_back(m->indices[i], m->data[i]);
      std::sort(row.begin(), row.end());
      for (int64_t i = a; i < b; ++i) {
        m->indices[i] = row[i - a].first;
        m->data[i] = row[i - a].second;
      }
    }
  });
}

}  // namespace

CooccurrenceMatrix count_cooccurrences(const std::string& path, const Vocab& vocab, const CooccurrenceConfig& config,
                                       const CooccurrenceProgress& progress) {
  FASTNLP_CHECK(config.window >= 1, "cooccurrence: window must be >= 1, got ", config.window);
  FASTNLP_CHECK(!config.distance_weighting || config.window <= kMaxWeightedWindow,
                "cooccurrence: window must be <= ", kMaxWeightedWindow, " with distance weighting, got ",
                config.window);
  FASTNLP_CHECK(vocab.size() > 0, "cooccurrence: the vocabulary is empty");
  const int64_t V = vocab.size();
  const int threads = config.threads > 0 ? config.threads : get_num_threads();
  const int64_t K = config.shards > 0 ? config.shards : std::max<int64_t>(16, 4 * threads);
  const int64_t unit = config.distance_weighting ? lcm_upto(config.window) : 1;
  const int64_t size = text_file_size(path);

  // Each thread's map may grow to the largest power of two of slots within its share of the budget.
  uint64_t max_capacity = uint64_t{1} << 62;
  if (config.memory_bytes > 0) {
    const uint64_t share = static_cast<uint64_t>(config.memory_bytes) / threads / sizeof(Record);
    max_capacity = 1024;
    while (max_capacity * 2 <= share) max_capacity *= 2;
  }

  std::atomic<bool> stop{false};
  std::unique_ptr<ShardFiles> files;
  std::mutex files_lock;
  std::vector<std::unique_ptr<CountWorker>> workers;
  for (int t = 0; t < threads; ++t)
    workers.push_back(
        std::make_unique<CountWorker>(&vocab, &config, unit, max_capacity, &files, &files_lock, K, &stop));

  CooccurrenceMatrix m;
  m.V = V;
  auto report = [&](int64_t done, int64_t total, int phase) { return !progress || progress(done, total, phase); };
  run_polled(
      threads, threads,
      [&](int64_t t) {
        TextReader reader(path, size * t / threads, size * (t + 1) / threads);
        reader.run(*workers[t]);
        workers[t]->consumed.store(size * (t + 1) / threads - size * t / threads);
      },
      [&](int64_t) {
        int64_t bytes = 0;
        for (auto& w : workers) bytes += w->consumed.load(std::memory_order_relaxed);
        return report(bytes, size, 0);
      },
      &stop);
  for (auto& w : workers) {
    m.stats.tokens += w->tokens;
    m.stats.kept_tokens += w->kept;
    m.stats.spills += w->spills;
  }
  if (stop.load()) {
    m.stats.interrupted = true;
    return m;
  }
  report(size, size, 0);

  // The one rounding: the exact count (units / unit) to the nearest float.
  auto value = [&](int64_t units) { return static_cast<float>(static_cast<double>(units) / static_cast<double>(unit)); };
  m.indptr.assign(static_cast<size_t>(V + 1), 0);

  if (!files) {
    // Everything fits: fold the other maps into the first, then place the records by row.
    PairMap& all = workers[0]->map;
    all.unlimit();  // no spill happened: the union of the maps is the result
    for (int t = 1; t < threads; ++t) {
      workers[t]->map.for_each([&](const Record& r) { all.add(r.key, r.units); });
      workers[t]->map.clear();
    }
    all.for_each([&](const Record& r) { ++m.indptr[(r.key >> 32) + 1]; });
    for (int64_t w = 0; w < V; ++w) m.indptr[w + 1] += m.indptr[w];
    const int64_t nnz = m.indptr[V];
    m.indices.resize(static_cast<size_t>(nnz));
    m.data.resize(static_cast<size_t>(nnz));
    std::vector<int64_t> cursor(m.indptr.begin(), m.indptr.end() - 1);
    all.for_each([&](const Record& r) {
      const int64_t i = cursor[r.key >> 32]++;
      m.indices[i] = static_cast<int32_t>(r.key & 0xffffffffu);
      m.data[i] = value(r.units);
    });
    all.clear();
    sort_rows(&m);
    return m;
  }

  // Spilled: everything goes to the shards, which are merged (sorted, equal keys summed) one per
  // thread at a time and written back merged, counting each row's entries; then placed by row.
  for (auto& w : workers) {
    if (w->map.size() > 0) w->spill_now();
    w->map.clear();
  }
  m.stats.spills = 0;
  for (auto& w : workers) m.stats.spills += w->spills;
  m.stats.spilled_bytes = files->bytes();
  m.stats.shards = K;
  std::vector<std::atomic<int64_t>> row_nnz(static_cast<size_t>(V));
  for (auto& c : row_nnz) c.store(0);
  run_polled(
      threads, K,
      [&](int64_t k) {
        std::vector<Record> recs = files->read(k);
        std::sort(recs.begin(), recs.end(), [](const Record& a, const Record& b) { return a.key < b.key; });
        size_t out = 0;
        for (size_t i = 0; i < recs.size(); ++out) {
          Record r = recs[i++];
          while (i < recs.size() && recs[i].key == r.key) r.units += recs[i++].units;
          recs[out] = r;
          row_nnz[r.key >> 32].fetch_add(1, std::memory_order_relaxed);
        }
        recs.resize(out);
        files->rewrite(k, recs);
      },
      [&](int64_t done) { return report(done, 2 * K, 1); }, &stop);
  if (stop.load()) {
    m.stats.interrupted = true;
    return m;
  }
  for (int64_t w = 0; w < V; ++w) m.indptr[w + 1] = m.indptr[w] + row_nnz[w].load();
  const int64_t nnz = m.indptr[V];
  m.indices.resize(static_cast<size_t>(nnz));
  m.data.resize(static_cast<size_t>(nnz));
  std::vector<std::atomic<int64_t>> cursor(static_cast<size_t>(V));
  for (int64_t w = 0; w < V; ++w) cursor[w].store(m.indptr[w]);
  run_polled(
      threads, K,
      [&](int64_t k) {
        for (const Record& r : files->read(k)) {
          const int64_t i = cursor[r.key >> 32].fetch_add(1, std::memory_order_relaxed);
          m.indices[i] = static_cast<int32_t>(r.key & 0xffffffffu);
          m.data[i] = value(r.units);
        }
      },
      [&](int64_t done) { return report(K + done, 2 * K, 1); }, &stop);
  if (stop.load()) {
    m.stats.interrupted = true;
    return CooccurrenceMatrix{V, {}, {}, {}, m.stats};
  }
  report(2 * K, 2 * K, 1);
  sort_rows(&m);
  return m;
}

namespace {
struct IdsSink {
  const Vocab* vocab;
  int32_t unknown_id;
  std::vector<int32_t>* ids;
  std::vector<int64_t>* offsets;
  int64_t tokens = 0;
  void token(std::string_view w) {
    ++tokens;
    const int32_t id = vocab->find(w);
    if (id >= 0) ids->push_back(id);
    else if (unknown_id >= 0) ids->push_back(unknown_id);
  }
  bool end_line(int64_t) {
    offsets->push_back(static_cast<int64_t>(ids->size()));
    return true;
  }
};
}  // namespace

int64_t corpus_ids(const std::string& path, const Vocab& vocab, int32_t unknown_id, std::vector<int32_t>* ids,
                   std::vector<int64_t>* offsets) {
  ids->clear();
  offsets->assign(1, 0);
  TextReader reader(path, 0, text_file_size(path));
  IdsSink sink{&vocab, unknown_id, ids, offsets};
  reader.run(sink);
  return sink.tokens;
}

}  // namespace fastnlp
