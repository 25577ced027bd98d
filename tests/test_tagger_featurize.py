"""The window tagger's featurizer: the C++ featurizer (fastnlp.tagging._fast.Featurizer) against
features.featurize_ref, on tokens that stress bytes against str (case, Unicode, lone surrogates),
known values, empty inputs, the CoNLL-2000 sentences at 1..3 threads, and bad input. Feature ids
must be equal.
"""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C
from fastnlp.tagging import _fast, features
from conftest import shared_data


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
