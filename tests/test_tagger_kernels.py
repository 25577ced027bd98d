"""The window tagger's scoring kernels: window_scores (fast) against the C++ reference and a NumPy
transcription, and the cached WindowScorer against both, with bad input. The featurizer that
makes their ids is tested in test_tagger_featurize.py.

Tolerances: float32 scores within atol = rtol = 1e-5 * sqrt(R) of the float64 NumPy result, R the
longest reduction (window * sum D_f for the hidden layer); float64 within 1e-12 * sqrt(R). The
WindowScorer's float32 scores are held to the same bound against the float32 C++ reference and the
float64 NumPy result (its hidden layer sums the same products in another order); its predict is
exactly the argmax of its scores.
"""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C
from fastnlp.tagging import _fast, features


# ---------------------------------------------------------------------------------------------
# window_scores


def np_window_scores(ids, offsets, tables, W1, b1, W2, b2, window):
    """NumPy transcription in float64: pad each sentence with id 0, embed, slide the window."""
    half = window // 2
    F = ids.shape[1]
    xs = []
    for s in range(len(offsets) - 1):
        sent = ids[offsets[s]:offsets[s + 1]].astype(np.int64)
        L = len(sent)
        padded = np.concatenate([np.zeros((half, F), np.int64), sent, np.zeros((half, F), np.int64)])
        emb = np.concatenate([tables[f].astype(np.float64)[padded[:, f]] for f in range(F)], axis=1)
        xs += [emb[t:t + window].reshape(-1) for t in range(L)]
    X = np.array(xs).reshape(len(xs), window * sum(t.shape[1] for t in tables))
    h = np.clip(X @ W1.astype(np.float64).T + b1, -1, 1)
    return h @ W2.astype(np.float64).T + b2


def make_network(rng, dims_vocab, window, H, K, dtype):
    tables = [rng.standard_normal((V, D)).astype(dtype) for V, D in dims_vocab]
    X = window * sum(D for _, D in dims_vocab)
    # Scaled so that about half the hidden units saturate: both sides of the hard-tanh are used.
    W1 = (2 * rng.standard_normal((H, X)) / np.sqrt(X)).astype(dtype)
    b1 = (0.5 * rng.standard_normal(H)).astype(dtype)
    W2 = (rng.standard_normal((K, H)) / np.sqrt(H)).astype(dtype)
    b2 = rng.standard_normal(K).astype(dtype)
    return tables, W1, b1, W2, b2


def random_batch(rng, lengths, dims_vocab, id_dtype=np.int32):
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    N = int(offsets[-1])
    ids = np.stack([rng.integers(0, V, N) for V, _ in dims_vocab], axis=1).astype(id_dtype)
    return ids.reshape(N, len(dims_vocab)), offsets


def split_lengths(rng, n):
    """n tokens cut into sentences of random lengths, short ones and empty ones included."""
    lengths = []
    while sum(lengths) < n:
        lengths.append(int(min(n - sum(lengths), rng.choice([0, 1, 2, 3, 5, 11, 40]))))
    return lengths


def tol(dtype, R):
    r = (1e-5 if dtype == np.float32 else 1e-12) * np.sqrt(R)
    return dict(rtol=r, atol=r)


FAMILY_SHAPES = {
    "one": [(30, 4)],
    "senna": [(50, 7), (features.CAPS_SIZE, 3), (20, 1)],
}


# n: a lone token, sizes below, at and above a 128-token block, and several blocks; H and K
# alternate with n's parity.
@pytest.mark.simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window", [1, 3, 5, 7])
@pytest.mark.parametrize("fam", list(FAMILY_SHAPES))
@pytest.mark.parametrize("n", [1, 16, 17, 128, 129, 300])
def test_window_scores_match_reference_and_numpy(dtype, window, fam, n, rng):
    dims_vocab = FAMILY_SHAPES[fam]
    H, K = (17, 9) if n % 2 else (33, 45)
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, window, H, K, dtype)
    ids, offsets = random_batch(rng, split_lengths(rng, n), dims_vocab)
    args = (ids, offsets, tables, W1, b1, W2, b2, window)
    fast = _fast.window_scores(*args)
    ref = _fast.window_scores(*args, reference=True)
    assert fast.shape == (n, K) and fast.dtype == dtype
    expected = np_window_scores(*args)
    np.testing.assert_allclose(ref, expected, **tol(dtype, W1.shape[1]))
    np.testing.assert_allclose(fast, expected, **tol(dtype, W1.shape[1]))


@pytest.mark.parametrize("lengths", [[0], [1], [2], [0, 1, 0, 2, 0], [1, 1, 1], [2, 0, 3]])
@pytest.mark.parametrize("window", [1, 3, 5, 7])
def test_window_scores_short_sentences(lengths, window, rng):
    """Windows wider than the sentence: everything past either end is the PADDING row."""
    dims_vocab = FAMILY_SHAPES["senna"]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, window, 8, 5, np.float64)
    ids, offsets = random_batch(rng, lengths, dims_vocab)
    args = (ids, offsets, tables, W1, b1, W2, b2, window)
    expected = np_window_scores(*args)
    np.testing.assert_allclose(_fast.window_scores(*args), expected, **tol(np.float64, W1.shape[1]))
    np.testing.assert_allclose(_fast.window_scores(*args, reference=True), expected, **tol(np.float64, W1.shape[1]))


def test_window_scores_one_token_uses_padding_rows(rng):
    """A one-token sentence with window 3 sees [PAD, token, PAD] in every family."""
    tables, W1, b1, W2, b2 = make_network(rng, [(4, 2), (3, 1)], 3, 5, 2, np.float64)
    ids = np.array([[3, 2]], np.int32)
    x = np.concatenate([tables[0][0], tables[1][0], tables[0][3], tables[1][2], tables[0][0], tables[1][0]])
    expected = W2 @ np.clip(W1 @ x + b1, -1, 1) + b2
    got = _fast.window_scores(ids, np.array([0, 1]), tables, W1, b1, W2, b2, 3)
    np.testing.assert_allclose(got[0], expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
def test_window_scores_many_blocks(threads, id_dtype, rng):
    """Enough rows for several blocks per thread, a block boundary inside sentences."""
    dims_vocab = [(300, 10), (features.CAPS_SIZE, 5), (40, 5)]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, 5, 64, 45, np.float32)
    ids, offsets = random_batch(rng, split_lengths(rng, 2049), dims_vocab, id_dtype)
    args = (ids, offsets, tables, W1, b1, W2, b2, 5)
    old = fastnlp.get_num_threads()
    fastnlp.set_num_threads(threads)
    try:
        fast = _fast.window_scores(*args)
    finally:
        fastnlp.set_num_threads(old)
    np.testing.assert_allclose(fast, np_window_scores(*args), **tol(np.float32, W1.shape[1]))


@pytest.mark.parametrize("offsets", [[0], [0, 0, 0]])
def test_window_scores_empty(offsets, rng):
    tables, W1, b1, W2, b2 = make_network(rng, [(5, 3), (6, 2)], 3, 4, 7, np.float32)
    ids = np.zeros((0, 2), np.int32)
    for reference in (False, True):
        out = _fast.window_scores(ids, np.array(offsets, np.int64), tables, W1, b1, W2, b2, 3, reference=reference)
        assert out.shape == (0, 7) and out.dtype == np.float32


def expect_batch_errors(call, ids, offsets, op):
    """The checks window_scores and WindowScorer share on a batch (ids, offsets): an id outside its
    family's table (10 word rows, 6 caps rows), too large or negative, is refused with the family,
    its range and the row; so are ids of the wrong type or layout and malformed offsets."""
    bad = ids.copy()
    bad[5, 1] = features.CAPS_SIZE
    with pytest.raises(ValueError, match=rf"{op}: ids\[:, 1\] \(family 1\) must be in \[0, 6\) \(the rows of "
                                         rf"tables\[1\]\), got 6 at row 5"):
        call(ids=bad)
    bad = ids.copy()
    bad[0, 0] = -1
    with pytest.raises(ValueError, match=rf"{op}: ids\[:, 0\] \(family 0\) must be in \[0, 10\).*got -1 at row 0"):
        call(ids=bad)
    with pytest.raises(TypeError, match=f"{op}: ids must be int32 or int64 ids, got float32"):
        call(ids=ids.astype(np.float32))
    with pytest.raises(ValueError, match=f"{op}: ids must be C-contiguous"):
        call(ids=np.asfortranarray(ids))
    with pytest.raises(TypeError, match=f"{op}: ids must be a NumPy array, got list"):
        call(ids=ids.tolist())
    with pytest.raises(ValueError, match=r"offsets\[-1\] must equal the rows of ids \(7\), got 6"):
        call(offsets=np.array([0, 3, 3, 6]))
    with pytest.raises(ValueError, match=r"offsets must be non-decreasing, got offsets\[1\] = 3 > offsets\[2\] = 2"):
        call(offsets=np.array([0, 3, 2, 7]))
    with pytest.raises(ValueError, match=r"offsets\[0\] must be 0, got 1"):
        call(offsets=np.array([1, 3, 3, 7]))
    with pytest.raises(TypeError, match=f"{op}: offsets must be int64, got int32"):
        call(offsets=offsets.astype(np.int32))
    with pytest.raises(ValueError, match=f"{op}: offsets must not be empty"):
        call(offsets=np.zeros(0, np.int64))


def test_window_scores_bad_input(rng):
    dims_vocab = [(10, 3), (features.CAPS_SIZE, 2)]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, 3, 6, 4, np.float32)
    ids, offsets = random_batch(rng, [3, 0, 4], dims_vocab)
    good = dict(ids=ids, offsets=offsets, tables=tables, W1=W1, b1=b1, W2=W2, b2=b2, window=3)

    def call(**kw):
        _fast.window_scores(**{**good, **kw})

    for w in (0, 2, 4, -1):
        with pytest.raises(ValueError, match=f"window_scores: window must be odd and >= 1, got {w}"):
            call(window=w)
    with pytest.raises(ValueError, match=r"W1 must have shape \(\*, 25\) \(H, window \* sum\(D_f\) = 5 \* 5\), "
                                         r"got \(6, 15\)"):
        call(window=5)
    expect_batch_errors(call, ids, offsets, "window_scores")
    with pytest.raises(ValueError, match=r"ids must have shape \(\*, 2\) \(N, F\) with F = len\(tables\), got \(7, 1\)"):
        call(ids=np.ascontiguousarray(ids[:, :1]))
    with pytest.raises(TypeError, match=r"tables\[1\] must have the dtype of W1 \(float32\), got float64"):
        call(tables=[tables[0], tables[1].astype(np.float64)])
    with pytest.raises(ValueError, match=r"tables\[0\] must be 2-D, got shape \(30,\)"):
        call(tables=[tables[0].reshape(-1), tables[1]])
    with pytest.raises(TypeError, match="window_scores: tables must be a list of 2-D arrays"):
        call(tables=tables[0])
    with pytest.raises(ValueError, match="window_scores: tables must hold at least one embedding table"):
        _C.window_scores(ids, offsets, [], W1, b1, W2, b2, np.empty((7, 4), np.float32), 3)
    with pytest.raises(ValueError, match=r"b1 must have shape \(6,\) \(H, the rows of W1\), got \(5,\)"):
        call(b1=b1[:5])
    with pytest.raises(ValueError, match=r"W2 must have shape \(\*, 6\) \(K, H\) with H from W1, got \(4, 5\)"):
        call(W2=np.ascontiguousarray(W2[:, :5]))
    with pytest.raises(ValueError, match=r"b2 must have shape \(4,\) \(K, the rows of W2\), got \(3,\)"):
        call(b2=b2[:3])
    with pytest.raises(TypeError, match=r"W2 must have the dtype of W1 \(float32\), got float64"):
        call(W2=W2.astype(np.float64))
    with pytest.raises(TypeError, match="W1 must be float32 or float64, got int64"):
        call(W1=W1.astype(np.int64))
    out = np.empty((7, 4), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="scores is written in place and must be writeable"):
        call(out=out)
    with pytest.raises(ValueError, match=r"scores must have shape \(7, 4\) \(N, K\), got \(7, 5\)"):
        call(out=np.empty((7, 5), np.float32))


# ---------------------------------------------------------------------------------------------
# WindowScorer: the float32 path with the first layer cached per id (within the tolerance above of
# the C++ reference and of the float64 NumPy transcription)

SCORER_SHAPES = {
    "one": [(30, 4)],
    "senna": [(50, 7), (features.CAPS_SIZE, 3), (20, 1)],
    "four": [(40, 16), (features.CAPS_SIZE, 5), (25, 9), (1, 2)],  # a one-row table: only PADDING
}
# Hidden sizes that pad to 24, 40 and 120 floats: every chunk width of the row sums (64, 32, 16, 8).
SCORER_HIDDEN = [17, 33, 120]


def cache_rows_for(kind, dims_vocab):
    """Cached ids per family: none past PADDING/UNKNOWN, some, all, or a different choice per family."""
    choices = {"none": lambda V: min(2, V), "some": lambda V: max(min(2, V), V // 3), "all": lambda V: V}
    if kind == "mixed":
        return [choices[("none", "all", "some")[f % 3]](V) for f, (V, _) in enumerate(dims_vocab)]
    return [choices[kind](V) for V, _ in dims_vocab]


def assert_scorer_matches(scorer, ids, offsets, tables, W1, b1, W2, b2, window):
    args = (ids, offsets, tables, W1, b1, W2, b2, window)
    got = scorer.scores(ids, offsets)
    assert got.shape == (len(ids), W2.shape[0]) and got.dtype == np.float32
    R = W1.shape[1]
    np.testing.assert_allclose(got, _fast.window_scores(*args, reference=True), **tol(np.float32, R))
    np.testing.assert_allclose(got, np_window_scores(*args), **tol(np.float32, R))
    # predict is the argmax of the same scores, computed the same way.
    pred = scorer.predict(ids, offsets)
    assert pred.dtype == np.int32 and pred.shape == (len(ids),)
    np.testing.assert_array_equal(pred, got.argmax(axis=1) if len(got) else np.zeros(0, np.int32))
    return got


# Every window with every cache choice; n picks the hidden size (n % 3: 17, 33 or 120, every
# chunk width of the row sums) and K (n % 2), and covers one block, a block edge and several
# blocks; the family layout rotates with the window and the cache choice.
CACHES = ["none", "some", "all", "mixed"]


@pytest.mark.simd
@pytest.mark.parametrize("window", [1, 3, 5, 7])
@pytest.mark.parametrize("cache", CACHES)
@pytest.mark.parametrize("n", [8, 9, 255, 256, 257, 700])
def test_window_scorer_matches_reference(window, cache, n, rng):
    fam = list(SCORER_SHAPES)[(window // 2 + CACHES.index(cache) + n) % len(SCORER_SHAPES)]
    dims_vocab = SCORER_SHAPES[fam]
    H = SCORER_HIDDEN[n % 3]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, window, H, 9 if n % 2 else 45, np.float32)
    scorer = _fast.WindowScorer(tables, W1, b1, W2, b2, window, cache_rows=cache_rows_for(cache, dims_vocab))
    assert scorer.cache_rows == cache_rows_for(cache, dims_vocab)
    ids, offsets = random_batch(rng, split_lengths(rng, n), dims_vocab)
    assert_scorer_matches(scorer, ids, offsets, tables, W1, b1, W2, b2, window)


@pytest.mark.parametrize("lengths", [[0], [1], [2], [0, 1, 0, 2, 0], [1, 1, 1], [2, 0, 3]])
@pytest.mark.parametrize("window", [1, 3, 5, 7])
@pytest.mark.parametrize("cache", ["none", "all"])
def test_window_scorer_short_sentences(lengths, window, cache, rng):
    """Windows wider than the sentence see the (always cached) PADDING row past either end."""
    dims_vocab = SCORER_SHAPES["senna"]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, window, 8, 5, np.float32)
    scorer = _fast.WindowScorer(tables, W1, b1, W2, b2, window, cache_rows=cache_rows_for(cache, dims_vocab))
    ids, offsets = random_batch(rng, lengths, dims_vocab)
    assert_scorer_matches(scorer, ids, offsets, tables, W1, b1, W2, b2, window)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("cache_mb", [0, 0.05, 100])
def test_window_scorer_many_blocks(threads, id_dtype, cache_mb, rng):
    """Several blocks per thread, block boundaries inside sentences, caches chosen by budget."""
    dims_vocab = [(300, 10), (features.CAPS_SIZE, 5), (40, 5)]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, 5, 64, 45, np.float32)
    ids, offsets = random_batch(rng, split_lengths(rng, 2049), dims_vocab, id_dtype)
    old = fastnlp.get_num_threads()
    fastnlp.set_num_threads(threads)
    try:
        scorer = _fast.WindowScorer(tables, W1, b1, W2, b2, 5, cache_mb=cache_mb)
        assert_scorer_matches(scorer, ids, offsets, tables, W1, b1, W2, b2, 5)
    finally:
        fastnlp.set_num_threads(old)


def test_window_scorer_cache_budget(rng):
    dims_vocab = [(1000, 20), (features.CAPS_SIZE, 5), (300, 10)]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, 5, 30, 7, np.float32)
    row_bytes = 5 * 32 * 4  # window * H padded to 8 floats
    vocab = [V for V, _ in dims_vocab]

    def scorer(mb):
        return _fast.WindowScorer(tables, W1, b1, W2, b2, 5, cache_mb=mb)

    assert scorer(0).cache_rows == [2, 2, 2]  # PADDING and UNKNOWN whatever the budget
    assert scorer(0).cache_bytes == 6 * row_bytes
    assert scorer(1000).cache_rows == vocab
    assert scorer(1000).cache_bytes == sum(vocab) * row_bytes
    previous = [2, 2, 2]
    for mb in (0.01, 0.1, 0.3, 0.5, 0.75, 1.0):  # all ids take 0.8 MiB
        s = scorer(mb)
        assert s.cache_bytes <= mb * 2**20  # within the budget
        assert s.cache_rows == vocab or mb * 2**20 < s.cache_bytes + row_bytes  # and filling it
        assert all(p <= r <= V for p, r, V in zip(previous, s.cache_rows, vocab))
        previous = s.cache_rows
    assert previous == vocab
    # A wider family saves more per cached id: at equal vocabularies it gets more of the budget.
    tables2, W1b, b1b, W2b, b2b = make_network(rng, [(500, 40), (500, 4)], 3, 16, 3, np.float32)
    rows = _fast.WindowScorer(tables2, W1b, b1b, W2b, b2b, 3, cache_mb=0.1).cache_rows
    assert rows[0] > 2 * rows[1] > 0
    assert scorer(24).memory_bytes >= scorer(24).cache_bytes


def test_window_scorer_keeps_a_snapshot(rng):
    """The scorer copies what it needs: changing or dropping the arrays afterwards changes nothing."""
    dims_vocab = SCORER_SHAPES["senna"]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, 3, 20, 6, np.float32)
    ids, offsets = random_batch(rng, [5, 0, 9, 1], dims_vocab)
    expected = _fast.window_scores(ids, offsets, tables, W1, b1, W2, b2, 3)
    scorer = _fast.WindowScorer(tables, W1, b1, W2, b2, 3, cache_rows=cache_rows_for("mixed", dims_vocab))
    for a in (*tables, W1, b1, W2, b2):
        a[...] = np.nan
    del tables, W1, b1, W2, b2
    np.testing.assert_allclose(scorer.scores(ids, offsets), expected, **tol(np.float32, 3 * 11))


def test_window_scorer_predict_ties_and_nan(rng):
    """predict is numpy's argmax: the first of equal maxima, and the first NaN."""
    dims_vocab = [(10, 3)]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, 3, 8, 4, np.float32)
    ids, offsets = random_batch(rng, [4, 3], dims_vocab)
    W2 = np.zeros_like(W2)  # the scores are b2 exactly
    for bias, best in (([0, 3, 1, 3], 1), ([5, 5, 5, 5], 0), ([0, np.nan, 1, np.nan], 1), ([np.nan, 9, 1, 2], 0),
                       ([-np.inf, -np.inf, -1, np.inf], 3)):
        b2 = np.array(bias, np.float32)
        scorer = _fast.WindowScorer(tables, W1, b1, W2, b2, 3)
        np.testing.assert_array_equal(scorer.predict(ids, offsets), np.full(7, best, np.int32))
        np.testing.assert_array_equal(scorer.predict(ids, offsets), scorer.scores(ids, offsets).argmax(axis=1))


@pytest.mark.parametrize("offsets", [[0], [0, 0, 0]])
def test_window_scorer_empty(offsets, rng):
    tables, W1, b1, W2, b2 = make_network(rng, [(5, 3), (6, 2)], 3, 4, 7, np.float32)
    scorer = _fast.WindowScorer(tables, W1, b1, W2, b2, 3)
    ids = np.zeros((0, 2), np.int32)
    out = scorer.scores(ids, np.array(offsets, np.int64))
    assert out.shape == (0, 7) and out.dtype == np.float32
    pred = scorer.predict(ids, np.array(offsets, np.int64))
    assert pred.shape == (0,) and pred.dtype == np.int32


def test_window_scorer_writes_out(rng):
    dims_vocab = SCORER_SHAPES["senna"]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, 5, 12, 6, np.float32)
    ids, offsets = random_batch(rng, [4, 7], dims_vocab)
    scorer = _fast.WindowScorer(tables, W1, b1, W2, b2, 5)
    out = np.full((11, 6), np.nan, np.float32)
    assert scorer.scores(ids, offsets, out=out) is out
    np.testing.assert_array_equal(out, scorer.scores(ids, offsets))


def test_tagger_runs_the_cached_scorer(rng):
    """Tagger.scores and (word-level) predict_ids go through the scorer and agree with the reference."""
    from fastnlp.tagging import Tagger

    families, dims = ["word", "caps", "suffix2"], [6, 3, 2]
    lexicons = [["the", "cat", "sat", "on", "mat"], [], ["he", "at", "on"]]
    vocab = [7, features.CAPS_SIZE, 5]
    tables, W1, b1, W2, b2 = make_network(rng, list(zip(vocab, dims)), 3, 10, 4, np.float32)
    header = {"families": families, "dims": dims, "window": 3, "tagset": ["A", "B", "C", "D"]}
    tagger = Tagger(header, lexicons, tables, W1, b1, W2, b2)
    sentences = [["The", "cat", "sat", "on", "the", "Mat", "."], [], ["Hat", "at"]]
    ids, offsets = tagger.featurize(sentences)
    ref = _fast.window_scores(ids, offsets, tables, W1, b1, W2, b2, 3, reference=True)
    scores, got_offsets = tagger.scores(sentences)
    np.testing.assert_array_equal(got_offsets, offsets)
    np.testing.assert_allclose(scores, ref, **tol(np.float32, W1.shape[1]))
    pred, _ = tagger.predict_ids(sentences)
    np.testing.assert_array_equal(pred, scores.argmax(axis=1))


def test_window_scorer_bad_input(rng):
    dims_vocab = [(10, 3), (features.CAPS_SIZE, 2)]
    tables, W1, b1, W2, b2 = make_network(rng, dims_vocab, 3, 6, 4, np.float32)
    ids, offsets = random_batch(rng, [3, 0, 4], dims_vocab)
    net = dict(tables=tables, W1=W1, b1=b1, W2=W2, b2=b2, window=3)

    def build(**kw):
        return _fast.WindowScorer(**{**net, **kw})

    for w in (0, 2, -1):
        with pytest.raises(ValueError, match=f"WindowScorer: window must be odd and >= 1, got {w}"):
            build(window=w)
    with pytest.raises(ValueError, match=r"WindowScorer: W1 must have shape \(\*, 25\) \(H, window \* sum\(D_f\) = "
                                         r"5 \* 5\), got \(6, 15\)"):
        build(window=5)
    with pytest.raises(TypeError, match=r"WindowScorer: the weights must be float32 \(window_scores runs float64\), "
                                        r"got float64"):
        build(tables=[t.astype(np.float64) for t in tables], W1=W1.astype(np.float64), b1=b1.astype(np.float64),
              W2=W2.astype(np.float64), b2=b2.astype(np.float64))
    with pytest.raises(TypeError, match=r"WindowScorer: tables\[1\] must have the dtype of W1 \(float32\), got float64"):
        build(tables=[tables[0], tables[1].astype(np.float64)])
    with pytest.raises(TypeError, match="WindowScorer: tables must be a list of 2-D arrays"):
        build(tables=tables[0])
    with pytest.raises(ValueError, match="WindowScorer: tables must hold at least one embedding table"):
        _C.WindowScorer([], W1, b1, W2, b2, 3)
    with pytest.raises(ValueError, match=r"WindowScorer: W2 must have shape \(\*, 6\) \(K, H\) with H from W1"):
        build(W2=np.ascontiguousarray(W2[:, :5]))
    with pytest.raises(ValueError, match=r"WindowScorer: b2 must have shape \(4,\) \(K, the rows of W2\), got \(3,\)"):
        build(b2=b2[:3])
    with pytest.raises(TypeError, match="WindowScorer: W1 must be a NumPy array, got list"):
        build(W1=W1.tolist())
    for mb in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="WindowScorer: cache_mb must be a finite number >= 0, got"):
            build(cache_mb=mb)
    with pytest.raises(ValueError, match=r"WindowScorer: cache_rows must hold one count per family \(2\), got 1"):
        build(cache_rows=[3])
    with pytest.raises(ValueError, match=r"WindowScorer: cache_rows\[1\] must be in \[2, 6\] \(ids 0 and 1 are always "
                                         r"cached; tables\[1\] has 6 rows\), got 7"):
        build(cache_rows=[3, 7])
    with pytest.raises(ValueError, match=r"cache_rows\[0\] must be in \[2, 10\].*got 1"):
        build(cache_rows=[1, 6])
    with pytest.raises(TypeError, match=r"WindowScorer: cache_rows\[0\] must be an int, got float"):
        build(cache_rows=[2.0, 6])
    with pytest.raises(TypeError, match=r"WindowScorer: cache_rows\[1\] must be an int, got bool"):
        build(cache_rows=[2, True])

    scorer = build()
    for method in ("scores", "predict"):
        op = f"WindowScorer.{method}"

        def call(ids=ids, offsets=offsets):
            return getattr(scorer, method)(ids, offsets)

        expect_batch_errors(call, ids, offsets, op)
        with pytest.raises(ValueError, match=rf"{op}: ids must have shape \(\*, 2\) \(N, F\) with F the scorer's "
                                             rf"families, got \(7, 1\)"):
            call(ids=np.ascontiguousarray(ids[:, :1]))
        with pytest.raises(ValueError, match=f"{op}: ids must be 2-D, got shape"):
            call(ids=ids.reshape(-1))
    out = np.empty((7, 4), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="WindowScorer.scores: scores is written in place and must be writeable"):
        scorer.scores(ids, offsets, out=out)
    with pytest.raises(ValueError, match=r"WindowScorer.scores: scores must have shape \(7, 4\) \(N, K\), got \(7, 5\)"):
        scorer.scores(ids, offsets, out=np.empty((7, 5), np.float32))
    with pytest.raises(TypeError, match=r"WindowScorer.scores: scores must have the dtype of the scorer \(float32\), "
                                        r"got float64"):
        scorer.scores(ids, offsets, out=np.empty((7, 4), np.float64))
    with pytest.raises(ValueError, match="WindowScorer.scores: scores must be C-contiguous"):
        scorer.scores(ids, offsets, out=np.empty((4, 7), np.float32).T)
