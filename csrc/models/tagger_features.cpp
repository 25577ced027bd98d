// The C++ featurizer: byte-level versions of features.py's normalize_word / caps_feature /
// family_key. ASCII bytes never occur inside a multi-byte UTF-8 sequence, so lower-casing and digit
// mapping byte by byte changes exactly the characters the Python spec changes.
#include "models/tagger_features.h"

#include <limits>
#include <utility>

#include "common.h"
#include "parallel.h"

namespace fastnlp {
namespace {

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
// A UTF-8 continuation byte (10xxxxxx): every other byte starts a code point.
bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Python's repr of an ASCII name, for messages that match features.py.
std::string quoted(std::string_view s) { return str_cat("'", s, "'"); }

}  // namespace

FeatureFamily parse_feature_family(std::string_view name) {
  if (name == "word") return {FeatureKind::kWord, 0};
  if (name == "caps") return {FeatureKind::kCaps, 0};
  if (name.substr(0, 7) == "cluster") {
    const std::string_view digits = name.substr(7);
    bool ok = !digits.empty() && digits[0] != '0' && digits.size() <= 2;
    int n = 0;
    for (char c : digits) {
      ok = ok && is_digit(c);
      n = n * 10 + (c - '0');
    }
    FASTNLP_CHECK(ok && n >= 1 && n <= kMaxClusterBits, "features: ", quoted(name), " needs N in 1..",
                  kMaxClusterBits);
    return {FeatureKind::kCluster, n};
  }
  const std::string_view head = name.substr(0, 6), digits = name.size() > 6 ? name.substr(6) : "";
  const bool suffix = head == "suffix", prefix = head == "prefix";
  bool all_digits = !digits.empty();
  for (char c : digits) all_digits = all_digits && is_digit(c);
  FASTNLP_CHECK((suffix || prefix) && all_digits, "features: unknown feature family ", quoted(name),
                "; expected word, caps, suffixN, prefixN or clusterN");
  int n = 0;
  for (char c : digits) n = std::min(n * 10 + (c - '0'), 1000);  // saturate: only 1..9 is valid
  FASTNLP_CHECK(n >= 1 && n <= 9, "features: ", quoted(name), " needs N in 1..9");
  return {suffix ? FeatureKind::kSuffix : FeatureKind::kPrefix, n};
}

int32_t caps_class(std::string_view token) {
  int64_t n_upper = 0, n_lower = 0;
  for (char c : token) {
    n_upper += is_upper(c);
    n_lower += is_lower(c);
  }
  if (n_upper + n_lower == 0) return kCapsNoLetter;
  if (n_lower == 0) return kCapsAll;
  if (n_upper == 0) return kCapsLower;
  // token[0] is the first code point only when it is ASCII, which an upper letter is.
  if (is_upper(token[0]) && n_upper == 1) return kCapsInitial;
  return kCapsMixed;
}

void normalize_word(std::string_view token, std::string* out) {
  out->resize(token.size());
  char* o = out->data();
  for (size_t i = 0; i < token.size(); ++i) {
    const char c = token[i];
    o[i] = is_upper(c) ? static_cast<char>(c + 32) : is_digit(c) ? '0' : c;
  }
}

std::string_view utf8_suffix(std::string_view s, int n) {
  int count = 0;
  for (size_t i = s.size(); i > 0; --i)
    if (!is_continuation(s[i - 1]) && ++count == n) return s.substr(i - 1);
  return s;
}

std::string_view utf8_prefix(std::string_view s, int n) {
  int count = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (!is_continuation(s[i]) && count++ == n) return s.substr(0, i);
  return s;
}

Featurizer::Featurizer(const std::vector<std::string>& families,
                       const std::vector<std::vector<std::string>>& lexicons,
                       const std::vector<std::string>& cluster_words, const std::vector<std::string>& cluster_paths)
    : names_(families) {
  const int64_t F = static_cast<int64_t>(families.size());
  FASTNLP_CHECK(lexicons.size() == families.size(), "Featurizer: expected one lexicon per family (", F,
                " families), got ", lexicons.size(), " lexicons");
  families_.reserve(F);
  for (const std::string& name : families) families_.push_back(parse_feature_family(name));

  // Each family's entries in one string; the maps are built after the arena is final so their
  // views stay valid (moving the vector later moves heap buffers, not the strings' bytes).
  arena_.resize(F);
  sizes_.resize(F);
  for (int64_t f = 0; f < F; ++f) {
    if (families_[f].kind == FeatureKind::kCaps) {
      sizes_[f] = kCapsSize;
      continue;
    }
    const auto& lex = lexicons[f];
    FASTNLP_CHECK(static_cast<int64_t>(lex.size()) <= std::numeric_limits<int32_t>::max() - kFeatureFirstEntry,
                  "Featurizer: lexicon of family ", f, " (", quoted(names_[f]), ") has ", lex.size(),
                  " entries, more than int32 ids can number");
    size_t bytes = 0;
    for (const std::string& e : lex) bytes += e.size();
    arena_[f].reserve(bytes);
    for (const std::string& e : lex) arena_[f] += e;
    sizes_[f] = static_cast<int64_t>(lex.size()) + kFeatureFirstEntry;
  }
  FASTNLP_CHECK(cluster_words.size() == cluster_paths.size(), "Featurizer: ", cluster_words.size(),
                " cluster words but ", cluster_paths.size(), " cluster paths");
  size_t cluster_bytes = 0;
  for (size_t i = 0; i < cluster_words.size(); ++i) {
    const std::string& p = cluster_paths[i];
    bool bits = !p.empty();
    for (char c : p) bits = bits && (c == '0' || c == '1');
    FASTNLP_CHECK(bits, "Featurizer: the cluster path of ", quoted(cluster_words[i]),
                  " must be a non-empty string of 0 and 1, got ", quoted(p.substr(0, 80)));
    cluster_bytes += cluster_words[i].size() + p.size();
  }
  cluster_arena_.reserve(cluster_bytes);
  for (const std::string& w : cluster_words) cluster_arena_.insert(cluster_arena_.end(), w.begin(), w.end());
  for (const std::string& p : cluster_paths) cluster_arena_.insert(cluster_arena_.end(), p.begin(), p.end());
  clusters_.reserve(cluster_words.size());
  size_t wpos = 0, ppos = cluster_bytes;
  for (const std::string& p : cluster_paths) ppos -= p.size();
  for (size_t i = 0; i < cluster_words.size(); ++i) {
    const std::string_view w(cluster_arena_.data() + wpos, cluster_words[i].size());
    const std::string_view p(cluster_arena_.data() + ppos, cluster_paths[i].size());
    wpos += w.size();
    ppos += p.size();
    FASTNLP_CHECK(clusters_.emplace(w, p).second, "Featurizer: cluster word ", quoted(w), " is listed twice");
  }
  for (const FeatureFamily& fam : families_) has_cluster_family_ = has_cluster_family_ || fam.kind == FeatureKind::kCluster;

  maps_.resize(F);
  for (int64_t f = 0; f < F; ++f) {
    if (families_[f].kind == FeatureKind::kCaps) continue;
    const auto& lex = lexicons[f];
    auto& map = maps_[f];
    map.reserve(lex.size());
    size_t pos = 0;
    for (size_t i = 0; i < lex.size(); ++i) {
      const std::string_view key(arena_[f].data() + pos, lex[i].size());
      pos += lex[i].size();
      const int32_t id = static_cast<int32_t>(i) + kFeatureFirstEntry;
      const auto [it, inserted] = map.emplace(key, id);
      FASTNLP_CHECK(inserted, "Featurizer: lexicon of family ", f, " (", quoted(names_[f]), ") lists ",
                    quoted(key), " twice (ids ", it->second, " and ", id, ")");
    }
  }
}

int32_t Featurizer::lookup(int64_t f, std::string_view key) const {
  const auto& map = maps_[f];
  const auto it = map.find(key);
  return it == map.end() ? kFeatureUnknown : it->second;
}

void Featurizer::featurize_token(std::string_view token, std::string* word, int32_t* ids) const {
  normalize_word(token, word);
  const std::string_view w(*word);
  const int64_t F = num_families();
  std::string_view path;  // the word's bit string ("" when it has none)
  if (has_cluster_family_) {
    const auto it = clusters_.find(w);
    if (it != clusters_.end()) path = it->second;
  }
  for (int64_t f = 0; f < F; ++f) {
    const FeatureFamily fam = families_[f];
    switch (fam.kind) {
      case FeatureKind::kWord: ids[f] = lookup(f, w); break;
      case FeatureKind::kCaps: ids[f] = caps_class(token); break;
      case FeatureKind::kSuffix: ids[f] = lookup(f, utf8_suffix(w, fam.n)); break;
      case FeatureKind::kPrefix: ids[f] = lookup(f, utf8_prefix(w, fam.n)); break;
      case FeatureKind::kCluster:
        ids[f] = path.empty() ? kFeatureUnknown : lookup(f, path.substr(0, static_cast<size_t>(fam.n)));
        break;
    }
  }
}

void Featurizer::featurize(const std::string_view* tokens, int64_t N, int32_t* ids) const {
  const int64_t F = num_families();
  if (F == 0) return;
  parallel_for(N, 4096, [&](int64_t lo, int64_t hi) {
    std::string word;
    for (int64_t i = lo; i < hi; ++i) featurize_token(tokens[i], &word, ids + i * F);
  });
}

}  // namespace fastnlp
