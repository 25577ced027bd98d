"""word2vec's vocabulary and the tables built from it: subsampling keep probabilities, the noise
distribution and its draws, Huffman codes against a heapq reference; the vocabulary counter (order,
file counting, pruning) and the corpus reader (read-buffer edges, every line read once by any
number of workers, long sentences split).

Tolerances: the noise table's realized distribution within rtol 1e-5 of count^0.75 / Z (32-bit slot
and threshold quantization); empirical draws within 5 standard errors.
"""

import heapq
from collections import Counter

import numpy as np
import pytest

from fastnlp import Word2Vec, _C
from textfiles import write_file


# ---------------------------------------------------------------------------------------------
# Tables: subsampling, noise distribution, Huffman codes.

def test_keep_probabilities_match_word2vec_formula(rng):
    counts = np.concatenate([[10**6, 10**5, 3000], rng.integers(1, 500, size=97)])
    for sample in (1e-3, 1e-4, 1e-5):
        t = sample * counts.sum()
        ref = np.minimum(1.0, (np.sqrt(counts / t) + 1) * t / counts)
        np.testing.assert_allclose(_C.w2v_keep_probabilities(counts, sample), ref, rtol=1e-12)
    np.testing.assert_array_equal(_C.w2v_keep_probabilities(counts, 0.0), np.ones(len(counts)))


@pytest.mark.parametrize("V", [1, 2, 3, 17, 1000])
@pytest.mark.parametrize("power", [0.75, 1.0, 0.0])
def test_noise_distribution_matches_numpy(V, power, rng):
    counts = rng.integers(1, 10_000, size=V)
    ref = counts.astype(np.float64) ** power
    ref /= ref.sum()
    np.testing.assert_allclose(_C.w2v_noise_probabilities(counts, power), ref, rtol=1e-5, atol=1e-12)


def test_noise_draws_follow_the_distribution_and_skip_zero_counts(rng):
    counts = rng.integers(1, 1000, size=37)
    counts[[3, 20]] = 0
    p = _C.w2v_noise_probabilities(counts, 0.75)
    assert p[3] == 0 and p[20] == 0
    n = 2_000_000
    draws = _C.w2v_noise_sample(counts, 0.75, n, 7)
    freq = np.bincount(draws, minlength=len(counts)) / n
    assert freq[3] == 0 and freq[20] == 0
    se = np.sqrt(p * (1 - p) / n) + 1e-12
    assert np.all(np.abs(freq - p) < 5 * se + 1e-9)
    np.testing.assert_array_equal(draws, _C.w2v_noise_sample(counts, 0.75, n, 7))  # seeded


def huffman_heapq(counts):
    """word2vec.c's tree via heapq: ties prefer inner nodes (oldest first), then the leaf with the
    larger id among equal counts of a descending-stable order; first popped gets bit 0."""
    V = len(counts)
    order = sorted(range(V), key=lambda w: -counts[w])  # stable
    heap = [(counts[w], 1, V - 1 - r, ("leaf", w)) for r, w in enumerate(order)]
    heapq.heapify(heap)
    parent, bit = {}, {}
    for a in range(V - 1):
        c1, _, _, n1 = heapq.heappop(heap)
        c2, _, _, n2 = heapq.heappop(heap)
        node = ("inner", a)
        parent[n1], parent[n2] = node, node
        bit[n1], bit[n2] = 0, 1
        heapq.heappush(heap, (c1 + c2, 0, a, node))
    codes, points = [], []
    for w in range(V):
        c, p = [], []
        n = ("leaf", w)
        while n in parent:
            c.append(bit[n])
            p.append(parent[n][1])
            n = parent[n]
        codes.append(c[::-1])
        points.append(p[::-1])
    return codes, points


def optimal_cost(counts):
    h = list(counts)
    heapq.heapify(h)
    cost = 0
    while len(h) > 1:
        a, b = heapq.heappop(h), heapq.heappop(h)
        cost += a + b
        heapq.heappush(h, a + b)
    return cost


@pytest.mark.parametrize("V", [1, 2, 3, 7, 16, 33, 500])
def test_huffman_codes_match_heapq_reference(V, rng):
    for counts in (np.sort(rng.integers(1, 1000, size=V))[::-1], rng.integers(1, 5, size=V)):  # ties galore
        offsets, codes, points = _C.huffman_tree(counts)
        ref_codes, ref_points = huffman_heapq(list(counts))
        for w in range(V):
            assert codes[offsets[w]:offsets[w + 1]].tolist() == ref_codes[w]
            assert points[offsets[w]:offsets[w + 1]].tolist() == ref_points[w]
        if V > 1:
            lengths = np.diff(offsets)
            assert (lengths * counts).sum() == optimal_cost(counts)  # an optimal prefix code
            assert np.all(points[offsets[:-1]] == V - 2)  # every path starts at the root
            words = {tuple(codes[offsets[w]:offsets[w + 1]]) for w in range(V)}
            assert len(words) == V
            for a in words:  # prefix-free
                for b in words:
                    assert a == b or a != b[:len(a)]


# ---------------------------------------------------------------------------------------------
# Vocabulary and corpus reading.


def test_vocab_counts_sorted_with_first_appearance_ties(tmp_path):
    sents = [["b", "a", "c", "a"], ["d", "c", "b", "a"], ["e"]]
    counter = _C.VocabCounter()
    counter.add_sentences(sents)
    words, counts = counter.finalize(1)
    assert words == ["a", "b", "c", "d", "e"] and counts.tolist() == [3, 2, 2, 1, 1]
    assert counter.total_words == 9 and counter.sentences == 3
    words, counts = counter.finalize(2)
    assert words == ["a", "b", "c"]
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents))
    fc = _C.VocabCounter()
    fc.count_file(f)
    assert fc.finalize(1)[0] == ["a", "b", "c", "d", "e"] and fc.sentences == 3


def test_vocab_file_counting_matches_python(tmp_path, rng):
    words = [f"w{i}" for i in range(300)] + ["ünï", "日本"]
    lines = []
    for _ in range(400):
        toks = rng.choice(words, size=rng.integers(0, 40), p=None)
        sep = rng.choice([" ", "  ", "\t", " \r"])
        lines.append(sep.join(toks))
    text = "\n".join(lines) + "\n\n  \n"
    f = write_file(tmp_path / "c.txt", text, "w")
    counter = _C.VocabCounter()
    counter.count_file(f)
    ref = Counter(text.split())
    got_words, got_counts = counter.finalize(1)
    assert dict(zip(got_words, got_counts.tolist())) == dict(ref)
    assert counter.total_words == sum(ref.values())


def test_vocab_pruning_bounds_memory_like_gensim():
    rng = np.random.default_rng(5)
    toks = [f"w{int(x)}" for x in rng.zipf(1.3, size=20000) if x < 10**6]
    counter = _C.VocabCounter(max_vocab_size=50)
    counter.add_sentences([toks])
    # Python transcription of gensim's prune_vocab during counting.
    vocab, min_reduce = {}, 1
    for t in toks:
        vocab[t] = vocab.get(t, 0) + 1
        if len(vocab) > 50:
            vocab = {w: c for w, c in vocab.items() if c > min_reduce}
            min_reduce += 1
    words, counts = counter.finalize(1)
    assert dict(zip(words, counts.tolist())) == vocab
    assert counter.distinct <= 50


def test_long_lines_and_tokens_cross_the_read_buffer(tmp_path):
    # A 1.6 MB line (the reader's buffer is 1 MiB) and a 1.5 MB token.
    line = " ".join(f"t{i % 1000}" for i in range(300_000))
    big = "x" * 1_500_000
    f = write_file(tmp_path / "long.txt", f"a b\n{line}\n{big} a\nb")
    counter = _C.VocabCounter()
    counter.count_file(f)
    words, counts = counter.finalize(1)
    d = dict(zip(words, counts.tolist()))
    assert counter.sentences == 4 and d["a"] == 2 and d["b"] == 2 and d[big] == 1 and d["t7"] == 300
    assert counter.total_words == 300_000 + 5


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_workers_read_every_line_exactly_once(tmp_path, threads):
    # Byte ranges split lines anywhere; each line belongs to the range where it starts.
    rng = np.random.default_rng(threads)
    paths = []
    for k, tail in enumerate(["\n", "", "\n\n"]):
        lines = [" ".join(f"w{int(x)}" for x in rng.integers(0, 50, size=rng.integers(0, 30))) for _ in range(97)]
        paths.append(write_file(tmp_path / f"f{k}.txt", "\n".join(lines) + tail))
    write_file(tmp_path / "empty.txt", "")
    paths.append(str(tmp_path / "empty.txt"))
    m = Word2Vec(min_count=1, vector_size=8, epochs=2, workers=threads, progress=False, sample=0, seed=3)
    m.build_vocab(corpus_file=paths)
    m.train()
    for h in m.training_history:
        assert h["words"] == m.corpus_stats["vocab_words"]
        assert h["tokens"] == m.corpus_stats["tokens"]


def test_long_sentences_are_split_not_truncated(tmp_path):
    words = [f"w{i % 40}" for i in range(25_000)]
    f = write_file(tmp_path / "one.txt", " ".join(words) + "\n")
    for kw in (dict(corpus_file=f), dict(sentences=[words])):
        m = Word2Vec(min_count=1, vector_size=8, epochs=1, workers=1, sample=0, max_sentence=1000, progress=False,
                     sg=0, window=2, **kw)
        h = m.training_history[0]
        assert h["words"] == 25_000
        # CBOW: every position of each 1000-word piece is a centre.
        assert h["examples"] == 25_000
