// Two-queue Huffman construction in O(V log V) (the sort) + O(V) (the merges).
#include "models/huffman.h"

#include <algorithm>
#include <numeric>

#include "common.h"
#include "models/vocab.h"

namespace fastnlp {

HuffmanTree build_huffman(const int64_t* counts, int64_t V) {
  FASTNLP_CHECK(V >= 0, "huffman: V must be >= 0, got ", V);
  // Inner nodes hold sums of counts: with the total bounded, no sum can overflow.
  int64_t total = 0;
  for (int64_t i = 0; i < V; ++i) {
    FASTNLP_CHECK(counts[i] >= 0, "huffman: counts must be >= 0, got ", counts[i], " at ", i);
    FASTNLP_CHECK(counts[i] <= kMaxTotalCount - total, "huffman: counts must sum to at most 2^62, got more at ", i,
                  " (count ", counts[i], ")");
    total += counts[i];
  }
  HuffmanTree tree;
  tree.offsets.assign(static_cast<size_t>(V + 1), 0);
  if (V <= 1) return tree;
  // Leaves by descending count (stable), so the leaf queue is read from the back.
  std::vector<int64_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return counts[a] > counts[b]; });
  // Nodes 0..V-1 are the leaves in that order, V..2V-2 the inner nodes in order of creation.
  std::vector<int64_t> count(static_cast<size_t>(2 * V - 1), 0);
  for (int64_t i = 0; i < V; ++i) count[i] = counts[order[i]];
  std::vector<int64_t> parent(static_cast<size_t>(2 * V - 1), -1);
  std::vector<uint8_t> bit(static_cast<size_t>(2 * V - 1), 0);
  // The leaf queue is [0, leaf] read from the back; the inner queue is [inner, created): nodes
  // made but not merged yet. Emptiness is tracked by these bounds, never by a sentinel count
  // (any value a sentinel could take, a real count can reach).
  int64_t leaf = V - 1, inner = V, created = V;
  auto pop_min = [&]() {
    if (leaf >= 0 && (inner == created || count[leaf] < count[inner])) return leaf--;
    return inner++;
  };
  for (int64_t a = 0; a < V - 1; ++a) {
    const int64_t m1 = pop_min();
    const int64_t m2 = pop_min();
    count[created] = count[m1] + count[m2];
    parent[m1] = created;
    parent[m2] = created;
    bit[m2] = 1;
    ++created;
  }
  // Paths from each leaf up to the root, stored root first.
  const int64_t root = 2 * V - 2;
  std::vector<int64_t> length(static_cast<size_t>(V), 0);
  for (int64_t i = 0; i < V; ++i) {
    int64_t L = 0;
    for (int64_t n = i; n != root; n = parent[n]) ++L;
    length[order[i]] = L;
  }
  for (int64_t w = 0; w < V; ++w) tree.offsets[w + 1] = tree.offsets[w] + length[w];
  tree.codes.resize(static_cast<size_t>(tree.offsets[V]));
  tree.points.resize(static_cast<size_t>(tree.offsets[V]));
  for (int64_t i = 0; i < V; ++i) {
    const int64_t w = order[i];
    const int64_t L = length[w];
    tree.max_length = std::max(tree.max_length, L);
    int64_t d = L - 1;  // depth of the edge into node n, filled from the leaf up
    for (int64_t n = i; n != root; n = parent[n], --d) {
      tree.codes[tree.offsets[w] + d] = bit[n];
      tree.points[tree.offsets[w] + d] = static_cast<int32_t>(parent[n] - V);
    }
  }
  return tree;
}

}  // namespace fastnlp
