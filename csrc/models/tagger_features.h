// Discrete token features of the SENNA window tagger, in C++: the same ids as
// python/fastnlp/tagging/features.py's featurize_ref (that file is the spec), computed on UTF-8 bytes.
// Besides the lexicons, a Featurizer may hold a cluster map (normalized word -> Brown bit string)
// for the clusterN families.
// The bindings collect the token strings; Featurizer::featurize runs without the GIL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fastnlp {

// Ids shared with features.py: 0 = PADDING (outside the sentence), 1 = UNKNOWN, entries from 2.
constexpr int32_t kFeaturePadding = 0;
constexpr int32_t kFeatureUnknown = 1;
constexpr int32_t kFeatureFirstEntry = 2;
// Caps classes (features.py CAPS_*); kCapsPadding marks positions outside the sentence.
enum CapsClass : int32_t {
  kCapsPadding = 0,
  kCapsLower = 1,
  kCapsInitial = 2,
  kCapsAll = 3,
  kCapsMixed = 4,
  kCapsNoLetter = 5,
};
constexpr int32_t kCapsSize = 6;

enum class FeatureKind { kWord, kCaps, kSuffix, kPrefix, kCluster };
// The longest cluster prefix a clusterN family may ask for (features.MAX_CLUSTER_BITS).
constexpr int kMaxClusterBits = 64;

// A parsed family name: "word", "caps", "suffixN" or "prefixN" with N in 1..9, or "clusterN" with N
// in 1..kMaxClusterBits (ASCII digits).
struct FeatureFamily {
  FeatureKind kind = FeatureKind::kWord;
  int n = 0;  // code points kept by suffixN / prefixN, bits kept by clusterN
};
// Throws std::invalid_argument with features.py's messages on an unknown name or N outside 1..9.
FeatureFamily parse_feature_family(std::string_view name);

// Capitalization class of a raw UTF-8 token (only ASCII letters count), as features.caps_feature.
int32_t caps_class(std::string_view token);
// ASCII letters lower-cased, ASCII digits -> '0'; other bytes (all of UTF-8 beyond ASCII) unchanged.
void normalize_word(std::string_view token, std::string* out);
// The last / first n code points of UTF-8 `s` (all of s when shorter).
std::string_view utf8_suffix(std::string_view s, int n);
std::string_view utf8_prefix(std::string_view s, int n);

// Maps tokens to feature ids, one column per family. Lexicons are built once; featurize() is
// const and thread-safe.
class Featurizer {
 public:
  // families: F names (see parse_feature_family); lexicons[f]: the entries of family f in id
  // order starting at kFeatureFirstEntry (ignored for caps); cluster_words[i] (a normalized word)
  // has the bit string cluster_paths[i], which clusterN families cut to N bits. Throws
  // std::invalid_argument on a bad family name, a duplicate entry, a lexicon too large for int32
  // ids, a cluster word listed twice or a path that is not a non-empty string of '0' and '1'.
  Featurizer(const std::vector<std::string>& families, const std::vector<std::vector<std::string>>& lexicons,
             const std::vector<std::string>& cluster_words = {}, const std::vector<std::string>& cluster_paths = {});
  // The maps view the arena's bytes: a copy would view the original's (moves keep them valid).
  Featurizer(const Featurizer&) = delete;
  Featurizer& operator=(const Featurizer&) = delete;
  Featurizer(Featurizer&&) = default;
  Featurizer& operator=(Featurizer&&) = default;

  int64_t num_families() const { return static_cast<int64_t>(families_.size()); }
  const std::vector<std::string>& family_names() const { return names_; }
  // Number of ids of family f: entries + 2, or kCapsSize for caps (the rows its table needs).
  int64_t vocab_size(int64_t f) const { return sizes_[f]; }

  // tokens: (N) UTF-8 views; ids: (N, F) written. Runs over fastnlp's threads.
  void featurize(const std::string_view* tokens, int64_t N, int32_t* ids) const;

 private:
  // One token's row: ids (F); `word` is scratch for the normalized token.
  void featurize_token(std::string_view token, std::string* word, int32_t* ids) const;
  int32_t lookup(int64_t f, std::string_view key) const;

  std::vector<std::string> names_;
  std::vector<FeatureFamily> families_;
  std::vector<int64_t> sizes_;
  // Entries live in `arena_` (one per family) and the maps hold views of them: a lookup by
  // string_view needs no std::string (C++17 has no heterogeneous unordered_map::find).
  std::vector<std::string> arena_;
  std::vector<std::unordered_map<std::string_view, int32_t>> maps_;
  // The cluster map, viewing cluster_arena_ (words then paths; a vector, whose move keeps its
  // buffer, where a short std::string would move its bytes).
  std::vector<char> cluster_arena_;
  std::unordered_map<std::string_view, std::string_view> clusters_;
  bool has_cluster_family_ = false;
};

}  // namespace fastnlp
