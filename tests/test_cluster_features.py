"""Cluster-prefix features of the window tagger (clusterN: the first N bits of a word's Brown bit
string): the C++ featurizer against features.featurize_ref (the spec), bad input, the cluster map in
the model file, and a small training run where only the clusters can tell unseen words apart."""

import numpy as np
import pytest

from fastnlp import _C, safeformat
from fastnlp.tagging import _fast
from fastnlp.tagging import features as feat
from fastnlp.tagging.tagger import FORMAT_NAME, FORMAT_VERSION, Tagger
from fastnlp.tagging.train import TaggerConfig, build_lexicons, load_clusters, train_network

FAMILIES = ["word", "caps", "cluster4", "cluster6", "cluster10", "cluster20", "suffix2"]


def _clusters(rng, words):
    out = {}
    for w in words:
        n = int(rng.integers(1, 25))
        out[w] = "".join(rng.choice(["0", "1"], n))
    return out


def test_featurizer_matches_the_spec(rng):
    vocab = ["the", "cat", "dog", "café", "ünï", "x", "runs", "a0", "b", "naïve", "00"]
    clusters = _clusters(rng, vocab[:8])  # the last three have no bit string: UNKNOWN
    sentences = [[str(rng.choice(vocab + ["The", "CAT", "Dog", "unseen", "A7"])) for _ in range(rng.integers(0, 9))]
                 for _ in range(60)]
    # lexicons hold most keys but not all, so UNKNOWN comes up for known words too
    lexicons = build_lexicons([(s, None) for s in sentences[:40]], FAMILIES, min_count=1, feature_min_count=1,
                              clusters=clusters)
    lookup = [{k: i + feat.FIRST_ENTRY for i, k in enumerate(lex)} for lex in lexicons]
    want_ids, want_off = feat.featurize_ref(sentences, FAMILIES, lookup, clusters)
    fz = _fast.Featurizer(FAMILIES, lexicons, clusters)
    ids, off = fz.featurize(sentences)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(off, want_off)
    c = FAMILIES.index("cluster4")
    assert (ids[:, c] == feat.UNKNOWN).any() and (ids[:, c] >= feat.FIRST_ENTRY).any()
    # a word whose path is shorter than N keys the whole path
    short = next(w for w, p in clusters.items() if len(p) < 20)
    key = feat.family_key("cluster20", short, clusters)
    assert key == clusters[short]
    # the key is the normalized word: "The" finds "the"
    assert feat.family_key("cluster6", "The", clusters) == clusters["the"][:6]
    # no cluster map: every clusterN id is UNKNOWN
    ids0, _ = _fast.Featurizer(FAMILIES, lexicons).featurize(sentences)
    assert (ids0[:, c] == feat.UNKNOWN).all()


def test_bad_cluster_families_and_maps():
    for name in ("cluster0", "cluster65", "cluster007", "cluster123"):
        with pytest.raises(ValueError, match=f"features: '{name}' needs N in 1..64"):
            feat.check_family(name)
        with pytest.raises(ValueError, match=f"features: '{name}' needs N in 1..64"):
            _C.Featurizer([name], [[]])
    for name in ("cluster", "cluster4x", "Cluster4"):
        with pytest.raises(ValueError, match="features: "):
            _C.Featurizer([name], [[]])
    with pytest.raises(ValueError, match="the cluster path of 'a' must be a non-empty string of 0 and 1, got '012'"):
        _fast.Featurizer(["cluster4"], [[]], {"a": "012"})
    with pytest.raises(ValueError, match="the cluster path of 'a' must be a non-empty string of 0 and 1"):
        _fast.Featurizer(["cluster4"], [[]], {"a": ""})
    with pytest.raises(ValueError, match="cluster word 'a' is listed twice"):
        _C.Featurizer(["cluster4"], [[]], ["a", "a"], ["0", "1"])
    with pytest.raises(ValueError, match="2 cluster words but 1 cluster paths"):
        _C.Featurizer(["cluster4"], [[]], ["a", "b"], ["0"])
    with pytest.raises(TypeError, match="clusters must be a dict"):
        _fast.Featurizer(["cluster4"], [[]], [("a", "0")])
    with pytest.raises(TypeError, match=r"cluster_paths\[0\] must be str, got int"):
        _C.Featurizer(["cluster4"], [[]], ["a"], [1])


def _class_data(rng, n, words_a, words_b):
    """Tag A or B by the word's class; only the clusters know the class of an unseen word."""
    out = []
    for _ in range(n):
        toks, tags = [], []
        for _ in range(rng.integers(1, 7)):
            if rng.random() < 0.5:
                toks.append(str(rng.choice(words_a)))
                tags.append("A")
            else:
                toks.append(str(rng.choice(words_b)))
                tags.append("B")
        out.append((toks, tags))
    return out


def _train(rng, families, dims, clusters, epochs=6):
    a = [f"alpha{chr(97 + i)}" for i in range(10)]  # letters: normalization maps digits to 0
    b = [f"beta{chr(97 + i)}" for i in range(10)]
    train = _class_data(rng, 200, a[:5], b[:5])
    dev = _class_data(rng, 40, a[5:], b[5:])  # words never seen in training
    config = TaggerConfig(families=families, dims=dims, hidden=16, epochs=epochs, lr=0.1, min_count=1,
                          feature_min_count=1, seed=1, patience=epochs)
    lexicons = build_lexicons(train, config.families, min_count=1, feature_min_count=1, clusters=clusters)
    tagset = ["A", "B"]
    featurizer = _fast.Featurizer(list(config.families), lexicons, clusters)

    def accuracy(gold, pred):
        return 100.0 * np.mean([g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)])

    net, best, _ = train_network(config, train, dev, lexicons, tagset, featurizer.featurize, accuracy,
                                 log=lambda *x: None)
    header = {"task": "test", "families": list(families), "dims": list(dims), "window": 5, "tagset": tagset}
    tagger = Tagger(header, lexicons, [e.W.value for e in net.embeddings], net.hidden.W.value, net.hidden.b.value,
                    net.output.W.value, net.output.b.value, clusters=clusters)
    return tagger, dev, best


def test_clusters_tag_unseen_words_and_survive_save_load(rng, tmp_path):
    # class A words under 0..., class B under 1...; the 10-bit prefixes differ within a class
    clusters = {f"alpha{chr(97 + i)}": "0" + format(i, "09b") for i in range(10)}
    clusters.update({f"beta{chr(97 + i)}": "1" + format(i, "09b") for i in range(10)})
    tagger, dev, best = _train(rng, ("word", "cluster4", "cluster10"), (4, 4, 4), clusters)
    assert best == 100.0
    path = tmp_path / "t.npz"
    tagger.save(path)
    back = Tagger.load(path)
    assert back.clusters == clusters and back.families == tagger.families
    sentences = [toks for toks, _ in dev]
    assert back.tag_batch(sentences) == tagger.tag_batch(sentences) == [tags for _, tags in dev]
    # without clusters the same unseen words cannot be told apart
    _, _, best_plain = _train(np.random.default_rng(1234), ("word",), (4,), None)
    assert best_plain < 80.0


def test_model_file_needs_its_cluster_map(rng, tmp_path):
    clusters = {"alphaa": "01", "betaa": "10"}
    tagger, _, _ = _train(rng, ("word", "cluster4"), (4, 4), clusters, epochs=1)
    path = tmp_path / "t.safetensors"
    tagger.save(path)
    header, data, _ = safeformat.load(path, FORMAT_NAME, FORMAT_VERSION, (), "tagger")
    for member in ("cluster_paths_utf8", "cluster_words_offsets"):
        broken = {k: v for k, v in data.items() if k != member}
        bad = tmp_path / f"no-{member}.safetensors"
        safeformat.save(bad, FORMAT_NAME, FORMAT_VERSION, header, broken)   # a valid file lacking the member
        with pytest.raises(ValueError, match=f"member '{member}' is missing"):
            Tagger.load(bad)
    with pytest.raises(ValueError, match="the clusterN families need `clusters`"):
        Tagger(tagger.header, tagger.lexicons, tagger.tables, tagger.W1, tagger.b1, tagger.W2, tagger.b2)


def test_load_clusters_keys_normalized_words(tmp_path):
    path = tmp_path / "paths.txt"
    path.write_text("0\tParis\t3\n10\tparis\t9\n11\tberlin\t4\n", encoding="utf-8")
    assert load_clusters(path) == {"paris": "10", "berlin": "11"}


def test_shipped_chunk_model_carries_its_clusters():
    """chunk ships with Brown cluster-prefix features (+0.65 held-out F1 in benchmarks/cluster_features.py):
    load_tagger finds its cluster map in the model file, no other path needed."""
    from fastnlp.tagging import load_tagger

    chunk = load_tagger("chunk")
    assert [f for f in chunk.families if feat.is_cluster_family(f)] == ["cluster4", "cluster6", "cluster10",
                                                                         "cluster20"]
    assert len(chunk.clusters) > 20000 and "Brown clusters" in chunk.header["clusters"]
    assert chunk.clusters["monday"] == chunk.clusters["tuesday"]  # the clusters are the corpus's, not noise
    assert all(not feat.is_cluster_family(f) for f in load_tagger("ner").families)  # NER did not gain: none
    ids, _ = chunk.featurize([["monday", "Tuesday", "xqzzyv"]])
    c = list(chunk.families).index("cluster10")
    assert ids[0, c] == ids[1, c] != feat.UNKNOWN and ids[2, c] == feat.UNKNOWN


def test_shipped_clusters_come_from_the_shared_corpus(tmp_path):
    from fastnlp.tagging.train import shipped_clusters

    assert shipped_clusters("ner", str(tmp_path)) is None
    with pytest.raises(FileNotFoundError, match=r"en-corpus.txt, which is missing \(pass --clusters PATH"):
        shipped_clusters("chunk", str(tmp_path))
