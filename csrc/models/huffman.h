// Huffman tree over word counts for hierarchical softmax (Morin & Bengio 2005, as in word2vec.c):
// frequent words get short codes, so a prediction costs O(log V) inner-node dot products.
#pragma once

#include <cstdint>
#include <vector>

namespace fastnlp {

// Word w's path: codes[offsets[w] : offsets[w + 1]] are its bits and points[...] the inner nodes
// visited (rows of syn1, in [0, V - 1)), both from the root down. The root is inner node V - 2.
struct HuffmanTree {
  std::vector<int64_t> offsets;  // (V + 1)
  std::vector<uint8_t> codes;    // (sum of code lengths)
  std::vector<int32_t> points;   // (sum of code lengths)
  int64_t max_length = 0;
};

// counts: (V) >= 0. word2vec.c's two-queue construction: leaves are taken in order of ascending
// count (ties: the larger id first), inner nodes in order of creation, and an inner node wins a
// tie with a leaf; the first of the two merged nodes gets bit 0, the second bit 1. For counts
// sorted descending this is word2vec.c's tree exactly. V == 1 gives an empty code.
HuffmanTree build_huffman(const int64_t* counts, int64_t V);

}  // namespace fastnlp
