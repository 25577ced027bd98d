"""The window tagger's inference kernels: the C++ featurizer against features.featurize_ref (exact
ids), and window_scores (fast) against the C++ reference and a NumPy transcription, with bad input.

Tolerances: float32 scores within atol = rtol = 1e-5 * sqrt(R) of the float64 NumPy result, R the
longest reduction (window * sum D_f for the hidden layer); float64 within 1e-12 * sqrt(R).
Feature ids must be equal.
"""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C
from fastnlp.tagging import _fast, features
from conftest import AWKWARD, shared_data

# Tokens that stress the byte-level C++ against the str-level spec.
AWKWARD_TOKENS = [
    "", "the", "The", "THE", "McDonald", "iPhone", "U.S.", "U.S", "e.g.", "3.5", "1,000", "Sept.19", "1990s",
    "Über", "über", "ÜBER", "naïve", "Café", "東京", "東京タワー", "😀", "a😀b", "👩‍👩‍👧", "ß", "Ωmega",
    "x", "X", "A1", "-", "--", "''", "``", "(", "$", "%", "a-b-C", "CamelCaseWord", "ALLCAPS123",
    "antidisestablishmentarianism", "Ü" * 40, "mañana", "İstanbul", "ǅemal", "\u00a0", "\t", "a b", "a\x00b",
    "\udcff", "ab\udc80cd", "\ud800",
]

FAMILY_CONFIGS = [
    ["word"],
    ["word", "caps", "suffix2"],
    ["caps"],
    ["prefix1", "suffix9", "word", "caps", "prefix3"],
    ["suffix1", "prefix9", "suffix3", "suffix3"],
]


def make_lexicons(families, tokens, rng):
    """For each family: a list (ids from 2) of the keys of a random half of `tokens`, plus keys no
    token has; and the dict featurize_ref takes."""
    lists, dicts = [], []
    for family in families:
        if family == "caps":
            lists.append([])
            dicts.append(None)
            continue
        keys = {features.family_key(family, t) for t in tokens if rng.random() < 0.5}
        keys |= {"zzzz-not-a-token", "Ü", "THE"}  # never a key: keys are normalized
        entries = sorted(keys)
        rng.shuffle(entries)
        lists.append(entries)
        dicts.append({e: i + features.FIRST_ENTRY for i, e in enumerate(entries)})
    return lists, dicts


def assert_same_as_ref(sentences, families, lists, dicts):
    ids, offsets = _fast.Featurizer(families, lists).featurize(sentences)
    ref_ids, ref_offsets = features.featurize_ref(sentences, families, dicts)
    assert ids.dtype == np.int32 and offsets.dtype == np.int64
    assert ids.shape == ref_ids.shape
    np.testing.assert_array_equal(offsets, ref_offsets)
    np.testing.assert_array_equal(ids, ref_ids)
    return ids, offsets


@pytest.mark.parametrize("families", FAMILY_CONFIGS)
def test_featurize_matches_reference_on_awkward_tokens(families, rng):
    lists, dicts = make_lexicons(families, AWKWARD_TOKENS, rng)
    tokens = list(AWKWARD_TOKENS)
    rng.shuffle(tokens)
    cuts = np.sort(rng.integers(0, len(tokens), 6))
    sentences = [tokens[a:b] for a, b in zip([0, *cuts], [*cuts, len(tokens)])] + [[]]
    ids, _ = assert_same_as_ref(sentences, families, lists, dicts)
    assert (ids >= 1).all()  # tokens are never PADDING
    # Every token once more, alone and as a tuple sentence.
    assert_same_as_ref([(t,) for t in AWKWARD_TOKENS], families, lists, dicts)


def test_featurize_known_values():
    fz = _fast.Featurizer(["word", "caps", "suffix2", "prefix2"],
                          [["the", "mcdonald", "über", "0.0"], [], ["he", "ld", "er", "a😀"], ["mc", "üb", "東京"]])
    ids, offsets = fz.featurize([["The", "McDonald", "ÜBER", "3.5"], [], ["東京タワー", "a😀"]])
    np.testing.assert_array_equal(offsets, [0, 4, 4, 6])
    C = features
    np.testing.assert_array_equal(ids, [
        [2, C.CAPS_INITIAL, 2, 1],     # the / he / th (unknown)
        [3, C.CAPS_MIXED, 3, 2],       # mcdonald / ld / mc
        [1, C.CAPS_ALL, 4, 1],         # only ASCII letters are lower-cased: "Über" and "Üb" unknown
        [5, C.CAPS_NOLETTER, 1, 1],    # 3.5 -> 0.0 / .0 / 0.
        [1, C.CAPS_NOLETTER, 1, 4],    # prefix2 counts code points: 東京
        [1, C.CAPS_LOWER, 5, 1],       # suffix2 of a 2-code-point word is all of it
    ])
    assert fz.vocab_sizes == [6, 6, 6, 5]


def test_featurize_lone_surrogates_match_reference():
    """Strings from errors="surrogateescape" have no UTF-8 form: encoded with surrogatepass, they
    neither crash nor collide with other tokens, and get featurize_ref's ids."""
    raw = "caf\xe9 na\xefve \xff\xfe".encode("latin-1").decode("utf-8", errors="surrogateescape").split()
    families = ["word", "caps", "suffix1", "prefix2"]
    lists = [[raw[0].lower(), "\udcff"], [], ["\udcfe", "\udce9"], ["ca", "\udcff\udcfe"]]
    dicts = [None if f == "caps" else {e: i + 2 for i, e in enumerate(lst)} for f, lst in zip(families, lists)]
    ids, _ = assert_same_as_ref([raw, ["\udcff"], ["\ud800\udc00"]], families, lists, dicts)
    np.testing.assert_array_equal(ids[0], [2, features.CAPS_LOWER, 3, 2])
    np.testing.assert_array_equal(ids[2], [1, features.CAPS_NOLETTER, 2, 3])
    np.testing.assert_array_equal(ids[3], [3, features.CAPS_NOLETTER, 1, 1])


def test_featurize_empty_inputs():
    fz = _fast.Featurizer(["word", "caps"], [["a"], []])
    ids, offsets = fz.featurize([])
    assert ids.shape == (0, 2) and ids.dtype == np.int32
    np.testing.assert_array_equal(offsets, [0])
    ids, offsets = fz.featurize([[], (), []])
    assert ids.shape == (0, 2)
    np.testing.assert_array_equal(offsets, [0, 0, 0, 0])
    ids, offsets = fz.featurize(iter([["a"], ["b", "A"]]))  # any iterable of sentences
    np.testing.assert_array_equal(ids, [[2, features.CAPS_LOWER], [1, features.CAPS_LOWER],
                                        [2, features.CAPS_ALL]])


def test_family_names_take_one_ascii_digit():
    for name in ("suffix\u0663", "prefix01"):  # ARABIC-INDIC DIGIT THREE; a leading zero
        with pytest.raises(ValueError, match="features: "):
            _fast.Featurizer([name], [[]])
        with pytest.raises(ValueError, match="features: "):
            features.featurize_ref([["a"]], [name], [{}])


@pytest.mark.parametrize("threads", [1, 2])
def test_featurize_matches_reference_on_conll2000(threads, rng):
    path = shared_data("tagging", "conll2000", "train.txt")
    sentences, cur = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                cur.append(line.split()[0])
            elif cur:
                sentences.append(cur)
                cur = []
            if len(sentences) == 1500:
                break
    families = ["word", "caps", "suffix2", "prefix3"]
    counts = {}
    for s in sentences:
        for t in s:
            counts[features.normalize_word(t)] = counts.get(features.normalize_word(t), 0) + 1
    words = [w for w, c in counts.items() if c >= 2]
    lists = [words, [], sorted({w[-2:] for w in words}), sorted({w[:3] for w in words[::2]})]
    dicts = [None if f == "caps" else {e: i + 2 for i, e in enumerate(lst)} for f, lst in zip(families, lists)]
    old = fastnlp.get_num_threads()
    fastnlp.set_num_threads(threads)
    try:
        ids, _ = assert_same_as_ref(sentences, families, lists, dicts)
    finally:
        fastnlp.set_num_threads(old)
    assert ids.shape[0] > 30_000 and (ids[:, 0] == features.UNKNOWN).mean() < 0.2


def test_featurizer_bad_input():
    fz = _fast.Featurizer(["word"], [["a"]])
    with pytest.raises(TypeError, match="featurize: sentences must be a list of token lists, got str"):
        fz.featurize("a b c")
    with pytest.raises(TypeError, match="featurize: sentences must be a list of token lists"):
        fz.featurize(5)
    with pytest.raises(TypeError, match="featurize: sentence 1 must be a list of str tokens, got str"):
        fz.featurize([["a"], "bc"])
    with pytest.raises(TypeError, match="featurize: sentence 0 must be a list of str tokens, got set"):
        fz.featurize([{"a"}])
    with pytest.raises(TypeError, match="featurize: token 1 of sentence 2 must be str, got int"):
        fz.featurize([[], ["a"], ["a", 3]])
    with pytest.raises(TypeError, match="featurize: token 0 of sentence 0 must be str, got bytes"):
        fz.featurize([[b"a"]])
    with pytest.raises(ValueError, match="features: unknown feature family 'shape'; expected word, caps"):
        _fast.Featurizer(["word", "shape"], [[], []])
    for name in ("suffix0", "prefix10"):
        with pytest.raises(ValueError, match=f"features: '{name}' needs N in 1..9"):
            _fast.Featurizer([name], [[]])
        with pytest.raises(ValueError, match=f"features: '{name}' needs N in 1..9"):
            _C.Featurizer([name], [[]])
    for name in ("suffix", "Word", "suffix-1", "prefix\u0663"):
        with pytest.raises(ValueError, match="features: unknown feature family"):
            _C.Featurizer([name], [[]])
    with pytest.raises(ValueError, match=r"Featurizer: expected one lexicon per family \(2 families\), got 1"):
        _fast.Featurizer(["word", "caps"], [["a"]])
    with pytest.raises(ValueError, match=r"lexicon of family 1 \('suffix2'\) lists 'ab' twice \(ids 2 and 4\)"):
        _fast.Featurizer(["caps", "suffix2"], [[], ["ab", "cd", "ab"]])
    with pytest.raises(TypeError, match=r"Featurizer: lexicons\[0\]\[1\] must be str, got int"):
        _fast.Featurizer(["word"], [["a", 1]])
    with pytest.raises(TypeError, match=r"Featurizer: lexicons\[0\] \(family 'word'\) must be a list of str, got dict"):
        _C.Featurizer(["word"], [{"a": 2}])
    with pytest.raises(TypeError, match="Featurizer: families must be str, got int"):
        _fast.Featurizer([1], [[]])
    with pytest.raises(TypeError, match="Featurizer: families must be a list of str, got str"):
        _C.Featurizer("word", [[]])


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window", [1, 3, 5, 7])
@pytest.mark.parametrize("fam", list(FAMILY_SHAPES))
@pytest.mark.parametrize("n", AWKWARD + [128, 129, 300])
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
    bad = ids.copy()
    bad[5, 1] = features.CAPS_SIZE
    with pytest.raises(ValueError, match=r"ids\[:, 1\] \(family 1\) must be in \[0, 6\) \(the rows of tables\[1\]\), "
                                         r"got 6 at row 5"):
        call(ids=bad)
    bad = ids.copy()
    bad[0, 0] = -1
    with pytest.raises(ValueError, match=r"ids\[:, 0\] \(family 0\) must be in \[0, 10\).*got -1 at row 0"):
        call(ids=bad)
    with pytest.raises(ValueError, match=r"ids must have shape \(\*, 2\) \(N, F\) with F = len\(tables\), got \(7, 1\)"):
        call(ids=np.ascontiguousarray(ids[:, :1]))
    with pytest.raises(TypeError, match="window_scores: ids must be int32 or int64 ids, got float32"):
        call(ids=ids.astype(np.float32))
    with pytest.raises(ValueError, match="window_scores: ids must be C-contiguous"):
        call(ids=np.asfortranarray(ids))
    with pytest.raises(TypeError, match="window_scores: ids must be a NumPy array, got list"):
        call(ids=ids.tolist())
    with pytest.raises(ValueError, match=r"offsets\[-1\] must equal the rows of ids \(7\), got 6"):
        call(offsets=np.array([0, 3, 3, 6]))
    with pytest.raises(ValueError, match=r"offsets must be non-decreasing, got offsets\[1\] = 3 > offsets\[2\] = 2"):
        call(offsets=np.array([0, 3, 2, 7]))
    with pytest.raises(ValueError, match=r"offsets\[0\] must be 0, got 1"):
        call(offsets=np.array([1, 3, 3, 7]))
    with pytest.raises(TypeError, match="window_scores: offsets must be int64, got int32"):
        call(offsets=offsets.astype(np.int32))
    with pytest.raises(ValueError, match="window_scores: offsets must not be empty"):
        call(offsets=np.zeros(0, np.int64))
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
