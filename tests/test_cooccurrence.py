"""Co-occurrence counting (fastnlp.embeddings.cooccurrence_matrix, csrc/models/cooccurrence.cpp)
against a plain Python transcription, exactly: counts are integers (or exact multiples of
1/lcm(1..window), rounded once to float32), so every thread split and spill order must agree bit
for bit. Also fastnlp's CSR x dense product (ops/sparse.cpp) against NumPy: float32 atol 1e-5 +
rtol 1e-5 * |ref| (sums of at most ~50 products), float64 1e-12."""

import os
from collections import defaultdict
from fractions import Fraction

import numpy as np
import pytest

from conftest import AWKWARD, shared_data
from fastnlp import _C
from fastnlp.embeddings import CSRMatrix, cooccurrence_matrix


def reference_counts(lines, words, window, weighted):
    """{(w, c): exact count}: OOV tokens dropped, then pairs at distance 1..window both ways."""
    index = {w: i for i, w in enumerate(words)}
    counts = defaultdict(Fraction)
    for line in lines:
        ids = [index[t] for t in line.split() if t in index]
        for i in range(len(ids)):
            for j in range(i + 1, min(len(ids), i + window + 1)):
                add = Fraction(1, j - i) if weighted else Fraction(1)
                counts[ids[i], ids[j]] += add
                counts[ids[j], ids[i]] += add
    return counts


def reference_vocab(lines, min_count):
    """word2vec's vocabulary rule: count >= min_count, by descending count, ties by first appearance."""
    seen = {}
    for line in lines:
        for t in line.split():
            seen[t] = seen.get(t, 0) + 1
    return [w for w, c in sorted(seen.items(), key=lambda kv: -kv[1]) if c >= min_count]


def write_corpus(tmp_path, lines, name="corpus.txt"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def synthetic_lines(rng, n_lines, vocab, max_len):
    # Zipf-like word frequencies, some empty lines and runs of whitespace, so thread ranges split
    # lines of every kind and some words fall under min_count.
    words = [f"w{i}" for i in range(vocab)]
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    lines = []
    for _ in range(n_lines):
        n = int(rng.integers(0, max_len + 1))
        lines.append(("  " if n % 3 == 0 else " ").join(words[k] for k in rng.choice(vocab, n, p=p)))
    return lines


def as_dict(m: CSRMatrix):
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    return {(int(r), int(c)): v for r, c, v in zip(rows, m.indices, m.data)}


def expect_equal(cooc, ref):
    got = as_dict(cooc.matrix)
    want = {k: np.float32(float(v)) for k, v in ref.items()}
    assert got.keys() == want.keys()
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, f"{len(bad)} counts differ, e.g. {bad[0]}: {got[bad[0]]} vs {want[bad[0]]}"
    # CSR invariants: columns strictly ascending in each row, float32 values, symmetric.
    m = cooc.matrix
    assert m.indptr.dtype == np.int64 and m.indices.dtype == np.int32 and m.data.dtype == np.float32
    for r in range(m.shape[0]):
        cols = m.indices[m.indptr[r]:m.indptr[r + 1]]
        assert np.all(np.diff(cols) > 0)
    assert all(got[c, w] == v for (w, c), v in got.items())


@pytest.mark.parametrize("window", [1, 2, 5])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("threads", [1, 3])
def test_matches_python_reference(tmp_path, rng, window, weighted, threads):
    lines = synthetic_lines(rng, 300, 120, 17)
    path = write_corpus(tmp_path, lines)
    cooc = cooccurrence_matrix(path, window=window, min_count=2, distance_weighting=weighted, threads=threads,
                               progress=False)
    assert cooc.words == reference_vocab(lines, 2)
    assert cooc.matrix.shape == (len(cooc.words), len(cooc.words))
    expect_equal(cooc, reference_counts(lines, cooc.words, window, weighted))
    assert cooc.stats["tokens"] == sum(len(line.split()) for line in lines)
    assert cooc.stats["spills"] == 0


@pytest.mark.parametrize("weighted", [False, True])
def test_tiny_budget_spills_to_shards_and_gives_the_same_matrix(tmp_path, rng, weighted):
    lines = synthetic_lines(rng, 600, 400, 30)
    path = write_corpus(tmp_path, lines)
    full = cooccurrence_matrix(path, window=4, min_count=1, distance_weighting=weighted, threads=2, progress=False)
    # 0.02 MiB: each thread's map stays at its 1024-slot minimum, so it spills every ~640 pairs.
    spilled = cooccurrence_matrix(path, window=4, min_count=1, distance_weighting=weighted, threads=2,
                                  memory_mb=0.02, shards=7, tmp_dir=str(tmp_path), progress=False)
    assert spilled.stats["spills"] > 10 and spilled.stats["shards"] == 7 and spilled.stats["spilled_bytes"] > 0
    for a, b in ((full.matrix.indptr, spilled.matrix.indptr), (full.matrix.indices, spilled.matrix.indices),
                 (full.matrix.data, spilled.matrix.data)):
        np.testing.assert_array_equal(a, b)
    expect_equal(spilled, reference_counts(lines, spilled.words, 4, weighted))
    assert os.listdir(tmp_path) == ["corpus.txt"]  # the shard folder is removed


def test_real_corpus_slice_threads_and_budget_agree(tmp_path):
    with open(shared_data("corpus", "en-corpus.txt"), encoding="utf-8") as f:
        lines = [next(f).rstrip("\n") for _ in range(150)]
    path = write_corpus(tmp_path, lines)
    one = cooccurrence_matrix(path, window=3, min_count=3, threads=1, progress=False)
    two = cooccurrence_matrix(path, window=3, min_count=3, threads=2, memory_mb=0.05, progress=False)
    assert two.stats["spills"] > 0
    np.testing.assert_array_equal(one.matrix.toarray(), two.matrix.toarray())
    ref = reference_counts(lines, one.words, 3, False)
    assert one.matrix.nnz == len(ref)
    assert one.matrix.data.sum() == sum(ref.values())


def test_to_scipy_and_transpose(tmp_path, rng):
    path = write_corpus(tmp_path, synthetic_lines(rng, 50, 30, 9))
    m = cooccurrence_matrix(path, window=2, min_count=1, progress=False).matrix
    dense = m.toarray()
    np.testing.assert_array_equal(m.transpose().toarray(), dense.T)
    sp = pytest.importorskip("scipy.sparse")
    s = m.to_scipy()
    assert isinstance(s, sp.csr_matrix)
    np.testing.assert_array_equal(s.toarray(), dense)


def test_corpus_ids(tmp_path):
    lines = ["a b c", "", "b zz a", "c"]
    path = write_corpus(tmp_path, lines)
    vocab = _C.Vocab(["a", "b", "c"], np.array([2, 2, 2]))
    ids, offsets, tokens = _C.corpus_ids(path, vocab, -1)
    assert ids.tolist() == [0, 1, 2, 1, 0, 2] and offsets.tolist() == [0, 3, 3, 5, 6] and tokens == 7
    ids, offsets, _ = _C.corpus_ids(path, vocab, 3)
    assert ids.tolist() == [0, 1, 2, 1, 3, 0, 2] and offsets.tolist() == [0, 3, 3, 6, 7]


@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "window must be >= 1, got 0"),
    ({"window": 21, "distance_weighting": True}, "window must be <= 20 with distance_weighting, got 21"),
    ({"min_count": 0}, "min_count must be >= 1, got 0"),
    ({"min_count": 1000}, "min_count=1000 removes every word"),
    ({"memory_mb": -1}, "memory_mb must be a number > 0"),
    ({"threads": 0}, "threads must be >= 1, got 0"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    path = write_corpus(tmp_path, ["a b c", "a b"])
    with pytest.raises(ValueError, match=message):
        cooccurrence_matrix(path, progress=False, **kwargs)


def test_missing_corpus(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a file"):
        cooccurrence_matrix(str(tmp_path / "nope.txt"), progress=False)


def random_csr(rng, R, C, density, dtype):
    dense = np.where(rng.random((R, C)) < density, rng.standard_normal((R, C)), 0).astype(dtype)
    indptr = np.concatenate([[0], np.cumsum((dense != 0).sum(1))]).astype(np.int64)
    rows, cols = np.nonzero(dense)
    return dense, indptr, cols.astype(np.int32), dense[rows, cols]


@pytest.mark.parametrize("R", AWKWARD)
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_csr_matmul(rng, R, dtype, tol):
    C, K = 17, 9
    dense, indptr, indices, data = random_csr(rng, R, C, 0.3, dtype)
    X = rng.standard_normal((C, K)).astype(dtype)
    want = dense.astype(np.float64) @ X.astype(np.float64)
    for reference in (False, True):
        Y = np.full((R, K), np.nan, dtype)
        _C.csr_matmul(indptr, indices, data, X, Y, reference)
        np.testing.assert_allclose(Y, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(CSRMatrix(indptr, indices, data, (R, C)).matmul(X), want, rtol=tol, atol=tol)


def test_csr_matmul_bad_input(rng):
    dense, indptr, indices, data = random_csr(rng, 5, 4, 0.6, np.float32)
    X = rng.standard_normal((4, 3)).astype(np.float32)
    Y = np.empty((5, 3), np.float32)
    bad = indices.copy()
    bad[0] = 4
    with pytest.raises(ValueError, match=r"csr_matmul: indices must be in \[0, 4\) \(the rows of X\), got 4 at position 0"):
        _C.csr_matmul(indptr, bad, data, X, Y)
    with pytest.raises(TypeError, match="csr_matmul: indices must be int32"):
        _C.csr_matmul(indptr, indices.astype(np.int64), data, X, Y)
    with pytest.raises(ValueError, match="csr_matmul: indptr must start at 0 and end at nnz"):
        _C.csr_matmul(indptr[:-1].copy(), indices, data, X, Y[:4])
    buf = rng.standard_normal(15).astype(np.float32)
    with pytest.raises(ValueError, match="csr_matmul: Y .*X"):
        _C.csr_matmul(indptr, indices, data, buf[:12].reshape(4, 3), buf.reshape(5, 3))
