"""Hostile word2vec files: a Word2Vec model file whose counts near int64's range must load and
train or be refused (they used to load and then crash or hang the Huffman build), its config
checked like the constructor's, NaN vectors refused with the row (both containers, readers from
hostile_files.py); the word2vec text and binary formats and text corpora: bounded reads, sizes
checked against the file, devices and FIFOs refused unread, NaN refused, undecodable bytes and
unstorable words named where they are.
"""

import os
import re

import numpy as np
import pytest

from fastnlp import KeyedVectors, Word2Vec, _C
from hostile_files import load_and_train, raw_load, raw_save
from hostile_files import loaders  # noqa: F401 (a pytest fixture, found by name)


# ---- Word2Vec counts, config and the word2vec formats -------------------------------------------

def _with_counts(tmp_path, loaders, counts):
    header, arrays = raw_load(_write(tmp_path / "good.npz", loaders[1][1]))
    arrays["counts"] = np.asarray(counts, dtype=np.int64)
    return raw_save(tmp_path / "counts.npz", header, arrays, loaders.fmt)


def _write(path, raw):
    path.write_bytes(raw)
    return path


def test_word2vec_counts_near_int64_load_and_train_or_are_refused(tmp_path, loaders):
    """Counts >= 2^61 used to load, then crash (SIGSEGV) or loop forever in the Huffman build
    (a sentinel count real counts could reach). Now: a total within 2^62 trains, hs included;
    a larger one is refused at load naming the file."""
    V = len(raw_load(_write(tmp_path / "g.npz", loaders[1][1]))[1]["counts"])
    big = np.full(V, 1, np.int64)
    big[:2] = [1 << 61, (1 << 61) - V]            # sums to just under 2^62: every count is valid
    model = load_and_train(_with_counts(tmp_path, loaders, big))
    offsets, codes, points = _C.huffman_tree(model.wv.counts)
    assert offsets[-1] == len(codes) == len(points) and points.max() < V - 1   # a real tree
    for counts in ([(1 << 62)] + [1] * (V - 1), [(1 << 63) - 1] * V, [1 << 61] * V, [-1] + [1] * (V - 1)):
        path = _with_counts(tmp_path, loaders, counts)
        with pytest.raises(ValueError, match=r"counts\.npz: not a valid fastnlp word2vec file \((vocabulary|Vocab): count"):
            Word2Vec.load(path)


def test_huffman_tree_takes_counts_up_to_the_total_limit():
    """The tree for counts whose sum is exactly 2^62 (ties at the old sentinel's value) is a full
    binary tree: V - 1 inner nodes, prefix-free codes; one more is refused, naming the limit."""
    for counts in ([1 << 61, 1 << 61], [1 << 60] * 4, [(1 << 61) - 2, 1, 1, 1 << 61]):
        offsets, codes, points = _C.huffman_tree(np.array(counts, np.int64))
        V = len(counts)
        paths = {tuple(codes[offsets[w]:offsets[w + 1]]) for w in range(V)}
        assert len(paths) == V and sorted(set(points.tolist())) == list(range(V - 1))
    with pytest.raises(ValueError, match=r"sum to at most 2\^62"):
        _C.huffman_tree(np.array([1 << 62, 1], np.int64))


@pytest.mark.parametrize("setting, value, message", [
    ("window", 1 << 62, r"window must be in \[1, 1048576\]"),
    ("negative", 1 << 40, r"negative must be in \[0, 1048576\]"),
    ("ns_exponent", float("nan"), "ns_exponent must be a finite number"),
    ("ns_exponent", 1e6, "ns_exponent must be a finite number"),
    ("alpha", float("inf"), "alpha must be a finite number > 0"),
    ("sample", float("inf"), "sample must be a finite number >= 0"),
    ("workers", 1 << 40, "workers must fit in int32"),
    ("workers", 4096, r"threads must be in \[1, 1024\]"),
    ("max_sentence", 1 << 63, "max_sentence must fit in int64"),
    ("vector_size", "abc", "vector_size must be an integer, got 'abc'"),
    ("epochs", [3], r"epochs must be an integer, got \[3\]"),
])
def test_word2vec_config_in_a_file_is_checked_like_the_constructor(tmp_path, loaders, setting, value, message):
    with pytest.raises(ValueError, match=message):
        Word2Vec(**{setting: value})
    header, arrays = raw_load(_write(tmp_path / "g.npz", loaders[1][1]))
    header["config"][setting] = value
    path = raw_save(tmp_path / "cfg.npz", header, arrays, loaders.fmt)
    with pytest.raises(ValueError, match=r"cfg\.npz: not a valid fastnlp word2vec file \(config: .*" + message):
        Word2Vec.load(path)


@pytest.mark.parametrize("which", [1, 2])
def test_nan_vectors_in_a_safe_format_file_are_refused_with_the_row(tmp_path, loaders, which):
    header, arrays = raw_load(_write(tmp_path / "g.npz", loaders[which][1]))
    arrays["vectors"][3, 1] = np.nan
    path = raw_save(tmp_path / "nan.npz", header, arrays, loaders.fmt)
    with pytest.raises(ValueError, match=r"nan\.npz: .*vectors row 3 \('\w+'\) holds NaN or infinity"):
        loaders[which][2](path)


def _kv():
    return KeyedVectors(["a", "b", "c"], np.arange(12, dtype=np.float32).reshape(3, 4) / 7)


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_declared_sizes_are_checked_against_the_file(tmp_path, binary):
    path = tmp_path / "v.bin"
    _kv().save_word2vec_format(path, binary=binary)
    raw = path.read_bytes()
    body = raw[raw.index(b"\n"):]
    for header in (b"3000000000 4", b"3 1000000000000", b"99999999999999999999999999 1"):
        path.write_bytes(header + body)
        with pytest.raises(ValueError, match=r"v\.bin: declares \d+ words of \d+ dimensions, at least \d+ bytes"):
            KeyedVectors.load_word2vec_format(path, binary=binary)
    path.write_bytes(b"3 4" + b"0" * 5000)          # no end to the header line within 1 KiB
    with pytest.raises(ValueError, match=r"the first line must be 'V D'"):
        KeyedVectors.load_word2vec_format(path, binary=binary)


def test_word2vec_format_refuses_devices_and_fifos_without_reading_them(tmp_path):
    """/dev/zero used to be read until memory ran out."""
    with pytest.raises(ValueError, match="/dev/zero: not a regular file"):
        KeyedVectors.load_word2vec_format("/dev/zero", binary=True)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer, so opening it for reading does not block
    try:
        with pytest.raises(ValueError, match="fifo: not a regular file"):
            KeyedVectors.load_word2vec_format(fifo)
    finally:
        os.close(fd)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_word2vec_format_nan_and_inf_are_refused_with_the_row(tmp_path, binary, bad):
    kv = _kv()
    kv.vectors[1, 2] = bad
    path = tmp_path / "v.txt"
    kv.save_word2vec_format(path, binary=binary)
    where = "word 1" if binary else "line 3"
    with pytest.raises(ValueError, match=rf"v\.txt: {where} \('b'\) holds NaN or infinity"):
        KeyedVectors.load_word2vec_format(path, binary=binary)


def test_word2vec_format_undecodable_words_are_named(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 2\nok 1 2\nb\xffd 3 4\n")
    with pytest.raises(ValueError, match=r"v\.txt: line 3: the word is not valid utf-8: invalid start byte"):
        KeyedVectors.load_word2vec_format(path)
    assert KeyedVectors.load_word2vec_format(path, unicode_errors="replace").index_to_key == ["ok", "b\ufffdd"]


SPACES = "\u3000\u00a0\u2009\u200b\u0085\u2028\x1c"   # whitespace to Python, none of it ASCII


def test_unicode_spaces_in_tokens_train_save_and_load_back(tmp_path):
    """Tokens holding U+3000, a no-break space and other non-ASCII whitespace used to train through
    every epoch and fail at save. The corpus reader and the word2vec formats separate words by
    ASCII whitespace only, so such tokens are words like any other: saved and read back as they are."""
    words = [f"w{i}{ch}x" for i, ch in enumerate(SPACES)] + [ch for ch in SPACES]
    corpus = tmp_path / "c.txt"
    corpus.write_text(("the " + " ".join(words) + " end\n") * 5, encoding="utf-8")
    lines = [line.split(" ") for line in corpus.read_text("utf-8").split("\n") if line]  # not splitlines:
    for source in ({"corpus_file": str(corpus)}, {"sentences": lines}):                 # U+2028 ends a line there
        model = Word2Vec(**source, vector_size=4, min_count=1, epochs=1, workers=1, hs=1, progress=False)
        assert set(words) <= set(model.wv.index_to_key)
        for binary in (False, True):
            path = tmp_path / f"v{binary}.w2v"
            model.save_word2vec_format(path, binary=binary)
            back = KeyedVectors.load_word2vec_format(path, binary=binary)
            assert back.index_to_key == model.wv.index_to_key
            np.testing.assert_array_equal(back.vectors, model.wv.vectors)
    gensim = pytest.importorskip("gensim")
    theirs = gensim.models.KeyedVectors.load_word2vec_format(str(tmp_path / "vTrue.w2v"), binary=True)
    assert list(theirs.index_to_key) == model.wv.index_to_key


@pytest.mark.parametrize("token, shown", [("a b", "a b"), ("tab\there", r"tab\x09here"), ("", ""),
                                          ("cr\r", r"cr\x0d")])
def test_tokens_the_formats_cannot_hold_are_refused_when_the_vocabulary_is_built(token, shown):
    sentences = [["fine", "words"], ["more", token, "words"]]
    with pytest.raises(ValueError, match=rf"build_vocab: the token '{re.escape(shown)}' in sentence 1 is empty "
                                         "or contains ASCII whitespace"):
        Word2Vec(sentences=sentences, vector_size=4, min_count=1, epochs=1, workers=1, progress=False)


def test_a_non_utf8_corpus_is_refused_naming_the_file_line_and_offset(tmp_path):
    corpus = tmp_path / "latin1.txt"
    text = "the cat sat\nthe caf\u00e9 sat on the mat\n"
    corpus.write_bytes(text.encode("latin-1"))
    offset = text.encode("latin-1").index(b"\xe9")
    with pytest.raises(ValueError, match=rf"latin1\.txt: line 2, byte offset {offset}: not UTF-8 \(in the word "
                                         r"'caf\\xe9'\)"):
        Word2Vec(corpus_file=str(corpus), vector_size=4, min_count=1, epochs=1, workers=1, progress=False)
    for bad in (b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"):  # overlong, surrogate, > U+10FFFF, cut
        corpus.write_bytes(b"ok word\nx" + bad + b"y\n")
        with pytest.raises(ValueError, match=r"line 2, byte offset 9: not UTF-8"):
            Word2Vec(corpus_file=str(corpus), vector_size=4, min_count=1, epochs=1, workers=1, progress=False)
    corpus.write_bytes("gr\u00fc\u00dfe \U0001f600 \u4e2d\u6587\n".encode("utf-8") * 3)  # valid UTF-8 still counts
    model = Word2Vec(corpus_file=str(corpus), vector_size=4, min_count=1, epochs=1, workers=1, progress=False)
    assert set(model.wv.index_to_key) == {"gr\u00fc\u00dfe", "\U0001f600", "\u4e2d\u6587"}
