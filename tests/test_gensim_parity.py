"""gensim's KeyedVectors names on fastnlp's KeyedVectors, held against gensim 4 itself on the same
vectors (skipped where gensim is not installed), and Word2Vec's online vocabulary update and
CallbackAny2Vec-style callbacks.

Tolerance: fastnlp scores words with float32 unit rows, gensim divides raw dot products by the
norms; the two agree to a few float32 ulps of a D=17 dot product: rtol 1e-5, atol 1e-6."""

import warnings

import numpy as np
import pytest

from conftest import shared_data
from fastnlp.keyedvectors import KeyedVectors, correlation_pvalue

RTOL, ATOL = 1e-5, 1e-6
D = 17


def _vocab(seed=7):
    """Words and vectors with analogy structure: country_i = capital_i + a shared offset + noise; a
    lower-case spelling of each capital lies next to its country (a wrong answer unless every
    spelling of c is excluded); filler words; a few words with several spellings."""
    rng = np.random.default_rng(seed)
    offset = rng.normal(size=D)
    words, vecs = [], []
    for i in range(12):
        cap = rng.normal(size=D)
        country = cap + offset + 0.3 * rng.normal(size=D)
        words += [f"Cap{i}", f"Land{i}"]
        vecs += [cap, country]
    for i in range(60):
        words.append(f"w{i}")
        vecs.append(rng.normal(size=D))
    for i in range(12):
        words.append(f"cap{i}")  # a rarer spelling of Cap{i}, pointing at Land{i}
        vecs.append(vecs[2 * i + 1] + 0.05 * rng.normal(size=D))
    words += ["LAND3", "Zero"]
    vecs += [rng.normal(size=D), np.zeros(D)]
    return words, np.asarray(vecs, dtype=np.float32)


@pytest.fixture(scope="module")
def pair():
    gensim_models = pytest.importorskip("gensim.models")
    words, vecs = _vocab()
    ours = KeyedVectors(words, vecs.copy())
    theirs = gensim_models.KeyedVectors(D)
    theirs.add_vectors(words, vecs.copy())
    return ours, theirs


def _close_where_finite(ours, theirs):
    """gensim divides by a zero vector's norm (NaN); fastnlp's unit rows keep it zero (cosine 0)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    finite = np.isfinite(theirs)
    assert np.isfinite(ours).all() and (~finite).sum() <= 1
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=RTOL, atol=ATOL)


def _same_ranking(a, b):
    assert [w for w, _ in a] == [w for w, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=RTOL, atol=ATOL)


def test_most_similar_family(pair):
    ours, theirs = pair
    for pos, neg in ((["Cap1", "Land2"], ["Cap2"]), (["w3"], []), (["Land4", "w7", "cap5"], ["w1", "Cap0"])):
        _same_ranking(ours.most_similar_cosmul(pos, neg, topn=8), theirs.most_similar_cosmul(pos, neg, topn=8))
        _same_ranking(ours.most_similar(pos, neg, topn=8), theirs.most_similar(pos, neg, topn=8))
        _close_where_finite(ours.most_similar_cosmul(pos, neg, topn=None),
                            theirs.most_similar_cosmul(pos, neg, topn=None))
    # most_similar_cosmul('a', 'b') is most_similar_cosmul(['a'], ['b']); topn < 1 is []
    _same_ranking(ours.most_similar_cosmul("Cap3", "w2"), theirs.most_similar_cosmul("Cap3", "w2"))
    assert ours.most_similar_cosmul("Cap3", topn=0) == theirs.most_similar_cosmul("Cap3", topn=0) == []
    _same_ranking(ours.similar_by_word("Land5", topn=5), theirs.similar_by_word("Land5", topn=5))
    v = ours["w9"] * 3.0 - ours["Cap2"]
    _same_ranking(ours.similar_by_vector(v, topn=6), theirs.similar_by_vector(v, topn=6))
    _same_ranking(ours.similar_by_vector(v, topn=6, restrict_vocab=30),
                  theirs.similar_by_vector(v, topn=6, restrict_vocab=30))
    _close_where_finite(ours.most_similar("w4", topn=None), theirs.most_similar("w4", topn=None))
    zero = ours.get_index("Zero")
    assert ours.most_similar("w4", topn=None)[zero] == 0
    assert ours.most_similar_cosmul("w4", topn=None)[zero] == pytest.approx(0.5 / (1 + 1e-6))  # cos' = 1/2
    with pytest.raises(ValueError, match="positive must hold at least one"):
        ours.most_similar_cosmul(negative=["w1"])
    with pytest.raises(KeyError, match="'nope' not in vocabulary"):
        ours.most_similar_cosmul(["Cap1", "nope"])


def test_doesnt_match_n_similarity_distances_rank(pair, caplog):
    ours, theirs = pair
    for words in (["Cap1", "Cap2", "Cap3", "w5"], ["Land0", "Land1", "w2", "w3", "cap4"], ["w1", "w2"]):
        assert ours.doesnt_match(words) == theirs.doesnt_match(words)
    with caplog.at_level("WARNING"):
        assert ours.doesnt_match(["Cap1", "Cap2", "nope", "w8"]) == theirs.doesnt_match(["Cap1", "Cap2", "nope", "w8"])
    assert "nope" in caplog.text
    with pytest.raises(ValueError, match="none of the words"):
        ours.doesnt_match(["nope", "nada"])
    for ws1, ws2 in ((["Cap1", "w2"], ["Land1"]), (["w1", "w2", "w3"], ["w4", "Land7", "nope"]), (["nope"], ["w1"])):
        assert ours.n_similarity(ws1, ws2) == pytest.approx(float(theirs.n_similarity(ws1, ws2)), rel=RTOL, abs=ATOL)
    with pytest.raises(ZeroDivisionError, match="ws1 and ws2 must both hold words"):
        ours.n_similarity([], ["w1"])
    assert ours.distance("Cap1", "Land1") == pytest.approx(float(theirs.distance("Cap1", "Land1")), abs=ATOL)
    np.testing.assert_allclose(ours.distances("w3"), theirs.distances("w3"), rtol=RTOL, atol=ATOL)  # NaN at Zero
    np.testing.assert_allclose(ours.distances("w3", ["Cap1", "w9", "w3"]), theirs.distances("w3", ["Cap1", "w9", "w3"]),
                               rtol=RTOL, atol=ATOL)
    v = ours["Land2"] + 0.5
    np.testing.assert_allclose(ours.distances(v, ("w1", "w2")), theirs.distances(v, ("w1", "w2")), rtol=RTOL, atol=ATOL)
    assert ours.distances("w3").dtype == theirs.distances("w3").dtype == np.float32
    for a, b in (("Cap1", "Land1"), ("w3", "w4"), ("Land6", "cap6"), ("w10", "Zero")):
        assert ours.rank(a, b) == theirs.rank(a, b)
        assert ours.closer_than(a, b) == theirs.closer_than(a, b)
    with pytest.raises(KeyError, match="'nope'"):
        ours.rank("w1", "nope")


def test_get_mean_vector(pair):
    ours, theirs = pair
    cases = [dict(keys=["Cap1", "w2", "w3"]),
             dict(keys=["Cap1", "w2", "nope"], weights=[0.5, -2.0, 1.0], post_normalize=True),
             dict(keys=["Cap1", np.arange(D, dtype=np.float32)], pre_normalize=False),
             dict(keys=["nope"])]
    for kw in cases:
        a, b = ours.get_mean_vector(**kw), theirs.get_mean_vector(**kw)
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    with pytest.raises(KeyError, match="'nope' not in vocabulary"):
        ours.get_mean_vector(["w1", "nope"], ignore_missing=False)
    with pytest.raises(ValueError, match="keys is empty"):
        ours.get_mean_vector([])
    with pytest.raises(ValueError, match="one number per key"):
        ours.get_mean_vector(["w1", "w2"], weights=[1.0])


def test_add_vectors_and_fill_norms():
    gensim_models = pytest.importorskip("gensim.models")
    words, vecs = _vocab()
    ours = KeyedVectors(words, vecs.copy(), counts=np.arange(len(words))[::-1])
    theirs = gensim_models.KeyedVectors(D)
    theirs.add_vectors(words, vecs.copy())
    rng = np.random.default_rng(3)
    new = rng.normal(size=(3, D)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gensim warns that adding one by one reallocates
        assert ours.add_vector("fresh", new[0]) == theirs.add_vector("fresh", new[0]) == len(words)
    for kv in (ours, theirs):
        kv.add_vectors(["w1", "new1", "new2"], new, replace=False)  # w1 keeps its vector
    assert ours.index_to_key == theirs.index_to_key
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    for kv in (ours, theirs):
        kv.add_vectors(["w2", "new1"], new[:2] * 2, replace=True)
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    assert ours.key_to_index == theirs.key_to_index
    assert ours.counts.shape == (len(ours),) and ours.counts[-1] == 0
    ours["new3"] = new[2]
    assert ours.get_index("new3") == len(ours) - 1 and np.array_equal(ours["new3"], new[2])
    # norms follow the additions; fill_norms(force=True) after an in-place change
    ours.fill_norms()
    theirs.fill_norms(force=True)
    np.testing.assert_allclose(ours.norms[:len(theirs)], theirs.norms, rtol=RTOL)
    ours.vectors[0] *= 2
    assert ours.norms[0] == pytest.approx(theirs.norms[0])
    ours.fill_norms(force=True)
    assert ours.norms[0] == pytest.approx(2 * theirs.norms[0], rel=RTOL)
    np.testing.assert_allclose(ours.get_normed_vectors()[0], theirs.get_normed_vectors()[0], rtol=RTOL, atol=ATOL)
    with pytest.raises(ValueError, match=r"= \(2, 17\), got \(2, 3\)"):
        ours.add_vectors(["a", "b"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="'a' is given twice"):
        ours.add_vectors(["a", "a"], np.zeros((2, D)))
    with pytest.raises(ValueError, match="'b' holds NaN"):
        ours.add_vectors(["a", "b"], np.array([np.zeros(D), np.full(D, np.nan)]))
    with pytest.raises(TypeError, match="keys must be str"):
        ours.add_vectors([5], np.zeros((1, D)))


def _analogy_file(path, words):
    lines = [": capitals"]
    for i in range(12):
        for j in range(12):
            if i != j:
                lines.append(f"Cap{j} Land{j} Cap{i} Land{i}")
    lines += [": mixed", "cap1 land1 CAP2 LAND2", "w1 w2 w3 w4", "Cap1 Land1 w5 nope", "only three words",
              "CAP3 LAND3 Cap4 Land4", "", ": empty", ": last", "Land0 Cap0 Land5 Cap5"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_evaluate_word_analogies(pair, tmp_path):
    ours, theirs = pair
    q = _analogy_file(tmp_path / "q.txt", ours.index_to_key)
    for kw in (dict(), dict(restrict_vocab=40), dict(case_insensitive=False), dict(dummy4unknown=True)):
        score, sections = ours.evaluate_word_analogies(q, **kw)
        g_score, g_sections = theirs.evaluate_word_analogies(q, **kw)
        assert score == pytest.approx(g_score)
        assert [s["section"] for s in sections] == [s["section"] for s in g_sections]
        for s, g in zip(sections, g_sections):
            assert s["correct"] == g["correct"], s["section"]
            assert s["incorrect"] == g["incorrect"], s["section"]
    score, sections = ours.evaluate_word_analogies(q)
    assert 0.5 < score < 1 and sections[-1]["section"] == "Total accuracy"
    # The same protocol as evaluate_analogies where no word has two spellings (which refuses the
    # malformed line gensim skips)
    with pytest.raises(ValueError, match=r"q.txt:\d+: an analogy line has 4 words, got 3"):
        ours.evaluate_analogies(q)
    clean = tmp_path / "clean.txt"
    clean.write_text(open(q).read().replace("only three words\n", ""))
    r = ours.evaluate_analogies(clean, restrict_vocab=None, case_insensitive=False)
    s2, sec2 = ours.evaluate_word_analogies(q, case_insensitive=False)
    assert r["total"]["correct"] == len(sec2[-1]["correct"]) and r["total"]["accuracy"] == pytest.approx(s2)
    with pytest.raises(ValueError, match="similarity_function must be"):
        ours.evaluate_word_analogies(q, similarity_function="cosine")


def test_evaluate_word_analogies_cosmul_matches_most_similar_cosmul(pair, tmp_path):
    ours, _ = pair
    q = _analogy_file(tmp_path / "q.txt", ours.index_to_key)
    _, sections = ours.evaluate_word_analogies(q, similarity_function="most_similar_cosmul", case_insensitive=False)
    for a, b, c, d in sections[0]["correct"] + sections[0]["incorrect"]:
        best = ours.most_similar_cosmul([b, c], [a], topn=1)[0][0]
        assert (best == d) == ((a, b, c, d) in sections[0]["correct"])


def _pairs_file(path, kv, rng):
    words = kv.index_to_key
    lines = ["# a comment", "Word 1\tWord 2\tHuman (mean)"]  # the header gensim skips as invalid
    for _ in range(40):
        a, b = rng.choice(len(words), 2, replace=False)
        human = 5 + 4 * kv.similarity(words[a], words[b]) + rng.normal()
        lines.append(f"{words[a].upper() if rng.random() < 0.3 else words[a]}\t{words[b]}\t{human:.2f}")
    lines += ["nope\tw1\t3.5", "w2\tnada\t1", "too\tmany\tfields\t1", "w3 w4 2.0", "w5\tw6\t7"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_evaluate_word_pairs(pair, tmp_path):
    ours, theirs = pair
    ws = _pairs_file(tmp_path / "ws.tsv", ours, np.random.default_rng(5))
    for kw in (dict(), dict(dummy4unknown=True), dict(case_insensitive=False), dict(restrict_vocab=50)):
        p, s, oov = ours.evaluate_word_pairs(ws, **kw)
        gp, gs, goov = theirs.evaluate_word_pairs(ws, **kw)
        assert p.statistic == pytest.approx(gp.statistic, rel=RTOL) and p[0] == p.statistic
        assert p.pvalue == pytest.approx(gp.pvalue, rel=1e-4) and p[1] == p.pvalue
        assert s.statistic == pytest.approx(gs.statistic, rel=RTOL)
        assert s.pvalue == pytest.approx(gs.pvalue, rel=1e-4)
        assert oov == pytest.approx(goov)
    p, s, oov = ours.evaluate_word_pairs(ws)
    assert p.statistic > 0.5 and p.pvalue < 1e-3 and oov == pytest.approx(100 * 2 / 43)
    empty = tmp_path / "empty.tsv"
    empty.write_text("nope\tnada\t1\n")
    with pytest.raises(ValueError, match="no valid similarity judgement"):
        ours.evaluate_word_pairs(str(empty))


def test_evaluate_word_pairs_wordsim353(tmp_path):
    """The real WordSim-353 file (its header is a comment) over random vectors of its words."""
    gensim_models = pytest.importorskip("gensim.models")
    path = shared_data("embeddings-eval", "wordsim353.tsv")
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                words += [w.lower() for w in line.split("\t")[:2]]
    words = list(dict.fromkeys(words))[:-20]  # the last words stay unknown
    vecs = np.random.default_rng(11).normal(size=(len(words), D)).astype(np.float32)
    ours, theirs = KeyedVectors(words, vecs), gensim_models.KeyedVectors(D)
    theirs.add_vectors(words, vecs)
    p, s, oov = ours.evaluate_word_pairs(path)
    gp, gs, goov = theirs.evaluate_word_pairs(path)
    np.testing.assert_allclose([p.statistic, s.statistic, oov], [gp.statistic, gs.statistic, goov], rtol=RTOL)
    np.testing.assert_allclose([p.pvalue, s.pvalue], [gp.pvalue, gs.pvalue], rtol=1e-4)
    assert oov > 0


@pytest.mark.parametrize("n", [3, 4, 7, 33, 200])
def test_correlation_pvalue_matches_scipy(n):
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(n)
    for strength in (0.0, 0.3, 0.9, 0.999):
        x = rng.normal(size=n)
        y = strength * x + (1 - strength) * rng.normal(size=n)
        r = stats.pearsonr(x, y)
        assert correlation_pvalue(float(r.statistic), n) == pytest.approx(float(r.pvalue), rel=1e-6, abs=1e-300)
        rs = stats.spearmanr(x, y)
        if abs(rs.statistic) < 1:
            assert correlation_pvalue(float(rs.statistic), n) == pytest.approx(float(rs.pvalue), rel=1e-6, abs=1e-300)
    assert np.isnan(correlation_pvalue(0.5, 2)) and correlation_pvalue(1.0, 10) == 0.0


# -- Word2Vec: online vocabulary update, callbacks -----------------------------------------------

def _corpus(rng, words, n_sent, length=8):
    return [[words[i] for i in rng.integers(0, len(words), length)] for _ in range(n_sent)]


def _w2v(sentences, **kw):
    from fastnlp import Word2Vec

    base = dict(vector_size=16, min_count=2, epochs=2, workers=1, progress=False, seed=3)
    return Word2Vec(sentences, **dict(base, **kw))


@pytest.mark.parametrize("hs,negative", [(0, 5), (1, 0)])
def test_build_vocab_update_adds_words_and_trains_them(hs, negative, tmp_path):
    from fastnlp import Word2Vec

    rng = np.random.default_rng(0)
    old, new = [f"a{i}" for i in range(30)], [f"b{i}" for i in range(10)]
    first, second = _corpus(rng, old, 300), _corpus(rng, old[:10] + new, 300) + [["rare"]]
    m = _w2v(first, hs=hs, negative=negative)
    out_name = "syn1" if hs else "syn1neg"
    words_before, vecs_before = list(m.wv.index_to_key), m.wv.vectors.copy()
    out_before, counts_before = getattr(m, out_name).copy(), m.wv.counts.copy()
    kv = m.wv
    assert m.build_vocab(second, update=True) is m and m.wv is kv
    V, D = len(words_before), 16
    assert m.wv.index_to_key[:V] == words_before and sorted(m.wv.index_to_key[V:]) == sorted(new)
    assert "rare" not in m.wv  # seen once, min_count=2
    np.testing.assert_array_equal(m.wv.vectors[:V], vecs_before)
    fresh = m.wv.vectors[V:].copy()
    assert fresh.shape == (10, D) and np.all(np.abs(fresh) <= 1.0 / D) and len(np.unique(fresh)) == fresh.size
    out = getattr(m, out_name)
    np.testing.assert_array_equal(out[:V], out_before)
    assert out.shape == (V + 10, D) and not out[V:].any()
    in_second = {}
    for s in second:
        for w in s:
            in_second[w] = in_second.get(w, 0) + 1
    expect = {w: int(c) + in_second.get(w, 0) for w, c in zip(words_before, counts_before)}
    expect.update({w: in_second[w] for w in new})
    assert dict(zip(m.wv.index_to_key, m.wv.counts.tolist())) == expect
    assert m.corpus_stats["vocab_words"] == sum(len(s) for s in second) - 1
    assert m.epochs_done == 2
    m.train()  # the default corpus is now the second one
    assert m.epochs_done == 4
    moved = np.abs(m.wv.vectors[V:] - fresh).max(axis=1)
    assert (moved > 0).all()  # every new word was trained
    untouched = [m.wv.get_index(w) for w in old[10:]]  # not in the second corpus: no update as input
    np.testing.assert_array_equal(m.wv.vectors[untouched], vecs_before[untouched])
    assert m.wv.most_similar("b0", topn=3)
    m.save(tmp_path / "m.npz")
    back = Word2Vec.load(tmp_path / "m.npz")
    assert back.wv.index_to_key == m.wv.index_to_key and np.array_equal(back.wv.counts, m.wv.counts)
    back.train(second, epochs=1)


def test_build_vocab_update_matches_gensim_counts():
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(1)
    old, new = [f"a{i}" for i in range(20)], [f"b{i}" for i in range(8)]
    first, second = _corpus(rng, old, 100), _corpus(rng, old[:5] + new, 20) + [["rare", "b0"]]
    ours = _w2v(first, epochs=1)
    ours.build_vocab(second, update=True)
    theirs = gensim_models.Word2Vec(first, vector_size=16, min_count=2, epochs=1, workers=1, seed=3)
    theirs.build_vocab(second, update=True)
    assert set(ours.wv.index_to_key) == set(theirs.wv.index_to_key)
    assert set(ours.wv.index_to_key[:20]) == set(theirs.wv.index_to_key[:20])  # (gensim orders ties otherwise)
    assert {w: int(c) for w, c in zip(ours.wv.index_to_key, ours.wv.counts)} == \
        {w: int(theirs.wv.get_vecattr(w, "count")) for w in theirs.wv.index_to_key}


def test_build_vocab_update_needs_a_vocabulary():
    from fastnlp import Word2Vec

    with pytest.raises(ValueError, match="update=True needs a vocabulary"):
        Word2Vec(progress=False).build_vocab([["a", "b"]], update=True)


def test_callback_hooks_order():
    events = []

    class Recorder:
        def on_train_begin(self, model):
            events.append("train_begin")

        def on_epoch_begin(self, model):
            events.append(("epoch_begin", model.epochs_done))

        def on_epoch_end(self, model):
            events.append(("epoch_end", model.epochs_done))

        def on_train_end(self, model):
            events.append("train_end")

    class OnlyEnd:
        def on_epoch_end(self, model):
            events.append("only_end")

    sents = _corpus(np.random.default_rng(2), [f"a{i}" for i in range(20)], 100)
    m = _w2v(sents, callbacks=[Recorder(), lambda model, stats: events.append(("plain", stats["epoch"])), OnlyEnd()])
    assert events == ["train_begin", ("epoch_begin", 0), ("epoch_end", 1), ("plain", 1), "only_end",
                      ("epoch_begin", 1), ("epoch_end", 2), ("plain", 2), "only_end", "train_end"]
    events.clear()
    m.train(epochs=1, callbacks=[Recorder()])
    assert events == ["train_begin", ("epoch_begin", 2), ("epoch_end", 3), "train_end"]
    with pytest.raises(TypeError, match=r"callbacks\[1\] \(int\) has none of on_train_begin"):
        m.train(epochs=1, callbacks=[Recorder(), 3])


def test_gensim_callback_any2vec_subclass():
    callbacks = pytest.importorskip("gensim.models.callbacks")
    losses = []

    class Loss(callbacks.CallbackAny2Vec):
        def on_epoch_end(self, model):
            losses.append(model.get_latest_training_loss())

    _w2v(_corpus(np.random.default_rng(4), [f"a{i}" for i in range(20)], 100), epochs=3, callbacks=[Loss()])
    assert len(losses) == 3 and all(x > 0 for x in losses)
