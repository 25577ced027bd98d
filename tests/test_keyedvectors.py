"""KeyedVectors: lookup, similarity, analogies and the word-similarity / analogy evaluations
(Spearman against scipy), and the formats: word2vec text and binary round trips, both ways with
gensim, fastnlp's own format (no pickle), corrupted files with clear errors.
"""

import os

import numpy as np
import pytest

from fastnlp import KeyedVectors, Word2Vec
from textfiles import write_file


# ---------------------------------------------------------------------------------------------
# KeyedVectors: lookup, similarity, analogies, evaluations.

def _toy_kv():
    words = ["king", "queen", "man", "woman", "apple", "paris", "france", "rome", "italy"]
    rng = np.random.default_rng(0)
    v = rng.standard_normal((len(words), 6)).astype(np.float32)
    v[1] = v[0] - v[2] + v[3] + 0.01  # queen = king - man + woman
    v[7] = v[5] - v[6] + v[8] + 0.01  # rome = paris - france + italy
    return KeyedVectors(words, v)


def test_keyed_vectors_lookup_and_similarity():
    kv = _toy_kv()
    assert "king" in kv and "kong" not in kv and len(kv) == 9
    assert kv.get_index("man") == 2 and kv.index("man") == 2
    np.testing.assert_array_equal(kv["man"], kv.vectors[2])
    assert kv[["king", "man"]].shape == (2, 6)
    n = kv.vectors / np.linalg.norm(kv.vectors, axis=1, keepdims=True)
    assert kv.similarity("king", "man") == pytest.approx(float(n[0] @ n[2]), rel=1e-5)
    sims = n @ (n[0] + n[3] - n[2]) / np.linalg.norm(n[0] + n[3] - n[2])
    sims[[0, 2, 3]] = -np.inf
    top = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
    assert [w for w, _ in top] == [kv.index_to_key[i] for i in np.argsort(-sims)[:3]]
    assert top[0][0] == "queen"
    assert kv.analogy("man", "king", "woman")[0][0] == "queen"
    assert kv.analogy("man", "king", "woman", method="3cosmul")[0][0] == "queen"
    assert kv.most_similar(kv["king"], topn=1)[0][0] == "king"  # a vector is not excluded


def test_unknown_word_raises_key_error_naming_it():
    kv = _toy_kv()
    with pytest.raises(KeyError, match="'kong' not in vocabulary"):
        kv.most_similar("kong")
    with pytest.raises(KeyError, match="'kong' not in vocabulary"):
        kv.most_similar(positive=["king"], negative=["kong"])
    with pytest.raises(KeyError, match="'kong'"):
        kv["kong"]
    with pytest.raises(KeyError, match="'kong'"):
        kv.similarity("king", "kong")


def test_evaluate_analogies_and_similarity(tmp_path):
    kv = _toy_kv()
    q = write_file(tmp_path / "q.txt", ": royal\nman king woman queen\nMan King Woman Apple\nman king zzz queen\n"
                                   ": capitals\nfrance paris italy rome\n")
    r = kv.evaluate_analogies(q, restrict_vocab=30000)
    assert [s["section"] for s in r["sections"]] == ["royal", "capitals"]
    assert r["sections"][0]["correct"] == 1 and r["sections"][0]["total"] == 2
    assert r["total"] == {"correct": 2, "total": 3, "accuracy": pytest.approx(2 / 3)}
    assert r["questions"] == 4 and r["oov_questions"] == 1
    r5 = kv.evaluate_analogies(q, restrict_vocab=5)  # paris, rome... outside the first 5 words
    assert r5["total"]["total"] == 2
    ws = write_file(tmp_path / "ws.tsv", "# header\nking\tqueen\t9\nking\tapple\t1\nman\twoman\t8\nzzz\tking\t3\n")
    s = kv.evaluate_similarity(ws)
    assert s["pairs"] == 3 and s["oov"] == 1 and s["oov_rate"] == 0.25
    n = kv.get_normed_vectors()
    model = [n[0] @ n[1], n[0] @ n[4], n[2] @ n[3]]
    from fastnlp.keyedvectors import spearman
    assert s["spearman"] == pytest.approx(spearman([9, 1, 8], model))


def test_spearman_matches_scipy_with_ties(rng):
    scipy_stats = pytest.importorskip("scipy.stats")
    from fastnlp.keyedvectors import spearman
    a = rng.integers(0, 10, size=50).astype(float)
    b = a + rng.standard_normal(50)
    assert spearman(a, b) == pytest.approx(scipy_stats.spearmanr(a, b).statistic, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Formats.

@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_round_trip(tmp_path, binary):
    rng = np.random.default_rng(1)
    words = ["a", "bé", "日本", "x" * 30] + [f"w{i}" for i in range(40)]
    kv = KeyedVectors(words, (rng.standard_normal((len(words), 17)) * 10 ** rng.uniform(-8, 3, (len(words), 1)))
                      .astype(np.float32))
    p = tmp_path / ("v.bin" if binary else "v.txt")
    kv.save_word2vec_format(p, binary=binary)
    back = KeyedVectors.load_word2vec_format(p, binary=binary)
    assert back.index_to_key == words
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert KeyedVectors.load_word2vec_format(p, binary=binary, limit=3).index_to_key == words[:3]


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_gensim_both_ways(tmp_path, binary):
    gensim_kv = pytest.importorskip("gensim.models.keyedvectors")
    kv = _toy_kv()
    p = tmp_path / "ours"
    kv.save_word2vec_format(p, binary=binary)
    g = gensim_kv.KeyedVectors.load_word2vec_format(str(p), binary=binary)
    assert list(g.index_to_key) == kv.index_to_key
    np.testing.assert_allclose(g.vectors, kv.vectors, rtol=1e-6)
    q = tmp_path / "theirs"
    g.save_word2vec_format(str(q), binary=binary)
    back = KeyedVectors.load_word2vec_format(q, binary=binary)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_allclose(back.vectors, kv.vectors, rtol=1e-6)


def test_fastnlp_format_round_trip_and_no_pickle(tmp_path):
    kv = _toy_kv()
    p = tmp_path / "kv.fnlp"
    kv.save(p)
    back = KeyedVectors.load(p)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    safetensors = pytest.importorskip("safetensors")   # a safetensors file: plain arrays + a JSON header
    with safetensors.safe_open(str(p), framework="numpy") as z:
        assert {"vectors", "words_utf8", "word_offsets"} <= set(z.keys()) and "fastnlp" in z.metadata()
    assert not [n for n in os.listdir(tmp_path) if ".tmp." in n]  # the temporary file is gone


def test_corrupted_files_give_clear_errors(tmp_path):
    kv = _toy_kv()
    good = tmp_path / "kv.fnlp"
    kv.save(good)
    data = good.read_bytes()
    (tmp_path / "trunc.fnlp").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.fnlp: not a valid fastnlp word2vec file"):
        KeyedVectors.load(tmp_path / "trunc.fnlp")
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF  # corrupt the last bytes of the payload: CRC mismatch
    (tmp_path / "crc.fnlp").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="not a valid fastnlp word2vec file"):
        KeyedVectors.load(tmp_path / "crc.fnlp")
    (tmp_path / "junk.fnlp").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="not a valid fastnlp word2vec file"):
        KeyedVectors.load(tmp_path / "junk.fnlp")
    np.savez(tmp_path / "other.npz", vectors=np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="member 'header' is missing"):
        KeyedVectors.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="holds 'keyedvectors', not a Word2Vec model"):
        Word2Vec.load(good)
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load(tmp_path / "missing.fnlp")
    # word2vec formats
    (tmp_path / "bad.txt").write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match=r"bad.txt:3: expected a word and 3 numbers, got 3 fields"):
        KeyedVectors.load_word2vec_format(tmp_path / "bad.txt")
    (tmp_path / "head.txt").write_text("hello world\n")
    with pytest.raises(ValueError, match="the first line must be 'V D'"):
        KeyedVectors.load_word2vec_format(tmp_path / "head.txt")
    (tmp_path / "short.txt").write_text("3 2\na 1 2\n")
    with pytest.raises(ValueError, match=r"short\.txt: declares 3 words of 2 dimensions, at least 15 bytes"):
        KeyedVectors.load_word2vec_format(tmp_path / "short.txt")
    kv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    b = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "tb.bin").write_bytes(b[:-10])
    with pytest.raises(ValueError, match="truncated binary file"):
        KeyedVectors.load_word2vec_format(tmp_path / "tb.bin", binary=True)
