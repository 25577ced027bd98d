"""Brown clustering: the C++ clusterer's merges against the exhaustive Python reference
(fastnlp.embeddings.brown.brown_merges_ref, the AMI recomputed from the counts for every candidate at
every step), the bit strings, the paths file format, bad input and Ctrl-C.

Tolerance: losses are compared with atol 1e-9 nats (the C++ table is updated incrementally, the
reference sums from scratch; both in float64 over a few hundred terms)."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from fastnlp.embeddings import BrownClusters, brown_clusters
from fastnlp.embeddings.brown import brown_merges_ref, corpus_statistics, paths_from_merges


def _corpus(tmp_path, lines, name="c.txt"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _random_lines(seed, vocab, n_lines, zipf=1.1):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1) ** zipf
    p /= p.sum()
    # a first-order Markov chain so that words have distinct contexts
    trans = rng.dirichlet(np.full(vocab, 0.3), size=vocab) * 0.7 + p * 0.3
    lines = []
    for _ in range(n_lines):
        w = rng.choice(vocab, p=p)
        toks = [w]
        for _ in range(rng.integers(1, 12)):
            w = rng.choice(vocab, p=trans[w])
            toks.append(w)
        lines.append(" ".join(f"w{t}" for t in toks))
    return lines


CASES = [  # (seed, vocabulary, lines, C, min_count)
    (0, 12, 40, 2, 1),
    (1, 20, 60, 3, 1),
    (2, 30, 80, 5, 2),
    (3, 9, 30, 8, 1),    # V <= C + 1: every merge but maybe one builds the hierarchy
    (4, 7, 20, 16, 1),   # V < C: all words are leaves
    (5, 40, 120, 7, 1),
]


@pytest.mark.parametrize("seed,vocab,n_lines,C,min_count", CASES)
def test_merges_equal_the_exhaustive_reference(tmp_path, seed, vocab, n_lines, C, min_count):
    lines = _random_lines(seed, vocab, n_lines)
    path = _corpus(tmp_path, lines)
    got = brown_clusters(path, num_clusters=C, min_count=min_count, threads=2, progress=False)
    words, counts, merges, losses = brown_merges_ref(lines, C, min_count)
    assert got.words == words
    assert [got.counts[w] for w in words] == counts
    assert got.merges.tolist() == [list(m) for m in merges]
    np.testing.assert_allclose(got.losses, losses, rtol=0, atol=1e-9)
    assert [got.paths[w] for w in words] == paths_from_merges(len(words), merges, C)


def test_ties_are_broken_by_the_smallest_representatives(tmp_path):
    # "a b" and "c d" have identical statistics: every symmetric candidate ties exactly
    lines = ["a b c d"] * 3 + ["c d a b"] * 3 + ["e f"] * 2 + ["f e"] * 2
    path = _corpus(tmp_path, lines)
    for C in (2, 3, 4):
        got = brown_clusters(path, num_clusters=C, threads=1, progress=False)
        _, _, merges, losses = brown_merges_ref(lines, C)
        assert got.merges.tolist() == [list(m) for m in merges]
        np.testing.assert_allclose(got.losses, losses, rtol=0, atol=1e-9)


def test_threads_do_not_change_the_merges(tmp_path):
    path = _corpus(tmp_path, _random_lines(7, 300, 3000))
    one = brown_clusters(path, num_clusters=40, threads=1, progress=False)
    two = brown_clusters(path, num_clusters=40, threads=2, progress=False)
    np.testing.assert_array_equal(one.merges, two.merges)
    assert one.paths == two.paths


def test_statistics_and_min_count(tmp_path):
    lines = ["x y x z", "y x", "q r x", "z"]
    words, counts, bigrams = corpus_statistics(lines, 2)
    assert words == ["x", "y", "z"] and counts == [4, 2, 2]
    # "r x" and "q r" are dropped with q and r; x y, y x (twice), x z
    assert bigrams == {(0, 1): 1, (1, 0): 2, (0, 2): 1}
    got = brown_clusters(_corpus(tmp_path, lines), num_clusters=2, min_count=2, progress=False)
    assert got.words == words and [got.counts[w] for w in words] == counts


def test_word_classes_of_a_toy_grammar_are_recovered(tmp_path):
    rng = np.random.default_rng(0)
    det, noun, verb = ["the", "a", "this", "every"], ["cat", "dog", "bird", "fish", "cow"], ["saw", "ate", "met"]
    lines = [" ".join([rng.choice(det), rng.choice(noun), rng.choice(verb), rng.choice(det), rng.choice(noun)])
             for _ in range(400)]
    got = brown_clusters(_corpus(tmp_path, lines), num_clusters=3, progress=False)
    for cls in (det, noun, verb):
        assert len({got.paths[w] for w in cls}) == 1, cls
    assert got.num_clusters == 3


def test_bit_strings_form_a_prefix_free_tree(tmp_path):
    path = _corpus(tmp_path, _random_lines(9, 80, 400))
    C = 10
    got = brown_clusters(path, num_clusters=C, progress=False)
    leaves = sorted(set(got.paths.values()))
    assert len(leaves) == C
    for a in leaves:
        for b in leaves:
            assert a == b or not b.startswith(a)
    # every internal node has two children: the Kraft sum of a full binary tree is 1
    assert sum(2.0 ** -len(p) for p in leaves) == pytest.approx(1.0)
    w = got.words[0]
    assert got.prefix(w, 2) == got.paths[w][:2] and got.prefix(w, 99) == got.paths[w]
    assert got.prefix("never-seen", 4) is None
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        got.prefix(w, 0)


def test_paths_file_round_trip(tmp_path):
    got = brown_clusters(_corpus(tmp_path, _random_lines(3, 30, 100)), num_clusters=6, progress=False)
    out = tmp_path / "paths.txt"
    got.save(out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(got)
    bits, word, count = lines[0].split("\t")
    assert got.paths[word] == bits and got.counts[word] == int(count)
    back = BrownClusters.load(out)
    assert back.paths == got.paths and back.counts == got.counts


@pytest.mark.parametrize("text,message", [
    ("0\tw\t3\n1\tv\n", "line 2: expected 'bitstring<TAB>word<TAB>count', got 2 field"),
    ("0\tw\t3\n012\tv\t1\n", "line 2: the bit string must be made of 0 and 1"),
    ("\tw\t3\n", "line 1: the bit string must be made of 0 and 1"),
    ("0\tw\t-3\n", "line 1: the count must be a non-negative integer"),
    ("0\tw\t3\n1\tw\t4\n", "line 2: 'w' is listed twice"),
    ("0\t\t3\n", "line 1: the word is empty"),
    ("\n", "holds no clusters"),
])
def test_load_refuses_malformed_files(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as e:
        BrownClusters.load(path)
    assert "bad.txt" in str(e.value) or "holds no clusters" in message


def test_save_refuses_words_with_separators(tmp_path):
    with pytest.raises(ValueError, match="holds a tab or line break"):
        BrownClusters({"a\tb": "0", "c": "1"}, {"a\tb": 1, "c": 1}).save(tmp_path / "x.txt")


def test_bad_arguments(tmp_path):
    path = _corpus(tmp_path, ["a b c", "b c a"])
    with pytest.raises(ValueError, match="num_clusters must be an int >= 2"):
        brown_clusters(path, num_clusters=1)
    with pytest.raises(ValueError, match="min_count must be an int >= 1"):
        brown_clusters(path, min_count=0)
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        brown_clusters(path, threads=0)
    with pytest.raises(FileNotFoundError, match="corpus_path"):
        brown_clusters(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="need at least 2 words with count >= min_count"):
        brown_clusters(path, min_count=5, progress=False)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9 au lait\n")
    with pytest.raises(ValueError, match="UTF-8"):
        brown_clusters(bad, progress=False)


def test_ctrl_c_stops_the_clustering(tmp_path):
    # ~10^4 merges over 600 clusters: minutes uninterrupted, so a late timer still finds it running
    rng = np.random.default_rng(11)
    tokens = rng.integers(0, 12000, size=300_000).reshape(-1, 10)
    path = _corpus(tmp_path, [" ".join(f"w{t}" for t in row) for row in tokens])
    # a process started in the background of a non-interactive shell ignores SIGINT: restore Python's
    # handler for the test
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            brown_clusters(path, num_clusters=600, threads=2, progress=False)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    assert time.perf_counter() - t0 < 30
