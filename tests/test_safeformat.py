"""fastnlp's container (fastnlp/safeformat.py): safetensors files that the safetensors package reads
as they are, the JSON header in __metadata__, arrays aligned for memory mapping; mmap="r" loading
(read-only views of the file, no copy) for KeyedVectors and taggers; the .npz files of fastnlp
<= 0.1 still load. Damaged and crafted files: tests/test_corrupt_files.py."""

import json
import mmap
import os
import struct

import numpy as np
import pytest

from fastnlp import KeyedVectors, safeformat
from fastnlp.keyedvectors import load_vectors
from fastnlp.tagging import PRETRAINED, Tagger, load_tagger
from fastnlp.tagging.tagger import pretrained_path

safetensors = pytest.importorskip("safetensors")


def _all_dtypes():
    rng = np.random.default_rng(0)
    return {"f32": rng.normal(size=(7, 3)).astype(np.float32), "f16": rng.normal(size=(9,)).astype(np.float16),
            "f64": rng.normal(size=(2, 2, 2)), "i64": np.arange(-3, 30, dtype=np.int64),
            "i32": np.arange(5, dtype=np.int32), "u8": np.frombuffer(b"hello", np.uint8),
            "b": np.array([True, False]), "empty": np.zeros((0, 4), np.float32), "scalar": np.array(3.5),
            "big_endian": np.arange(4, dtype=">f4")}


def _is_mapped(a):
    """Whether `a` is a view of a memory-mapped file."""
    while a is not None:
        if isinstance(a, mmap.mmap):
            return True
        a = getattr(a, "base", None)
    return False


def _kv(n=50, d=8):
    rng = np.random.default_rng(1)
    return KeyedVectors([f"w{i}" for i in range(n)], rng.normal(size=(n, d)).astype(np.float32),
                        np.arange(n, 0, -1, dtype=np.int64))


def test_round_trip_of_every_dtype_and_the_file_is_plain_safetensors(tmp_path):
    path = tmp_path / "a.safetensors"
    arrays = _all_dtypes()
    safeformat.save(path, "test-format", 2, {"note": "é", "n": [1, 2]}, arrays)
    for mode in (None, "r"):
        header, back, _ = safeformat.load(path, "test-format", 2, ("f32",), "test file", mmap=mode)
        assert header == {"note": "é", "n": [1, 2], "format": "test-format", "version": 2}
        assert set(back) == set(arrays)
        for name, a in arrays.items():
            assert back[name].dtype == a.dtype.newbyteorder("<") and back[name].shape == a.shape, name
            np.testing.assert_array_equal(back[name], a)
            assert back[name].flags.writeable == (mode is None)
    # The safetensors package reads the file as it is, header included.
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        assert json.loads(f.metadata()["fastnlp"])["note"] == "é"
        for name in f.keys():
            np.testing.assert_array_equal(f.get_tensor(name), arrays[name])


def test_arrays_are_aligned_in_the_file_and_map_without_copies(tmp_path):
    path = tmp_path / "a.safetensors"
    safeformat.save(path, "t", 1, {}, _all_dtypes())
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    toc = json.loads(raw[8:8 + n])
    sizes = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "U8": 1, "BOOL": 1}
    for name, entry in toc.items():
        if name != "__metadata__":
            assert (8 + n + entry["data_offsets"][0]) % sizes[entry["dtype"]] == 0, name
    _, arrays, _ = safeformat.load(path, "t", 1, (), "t", mmap="r")
    for name, a in arrays.items():
        if a.size:
            assert _is_mapped(a) and a.flags.aligned, name


def test_mmap_mode_is_checked_by_name(tmp_path):
    path = tmp_path / "kv.safetensors"
    _kv().save(path)
    for mode in ("w", "r+", True):
        with pytest.raises(ValueError, match=r"mmap must be None or 'r', got"):
            KeyedVectors.load(path, mmap=mode)


def test_keyedvectors_mmap_load_is_read_only_mapped_and_equal(tmp_path):
    kv = _kv()
    path = tmp_path / "kv.safetensors"
    kv.save(path)
    mapped = KeyedVectors.load(path, mmap="r")
    copied = KeyedVectors.load(path)
    assert _is_mapped(mapped.vectors) and not mapped.vectors.flags.writeable
    assert not _is_mapped(copied.vectors) and copied.vectors.flags.writeable
    np.testing.assert_array_equal(mapped.vectors, kv.vectors)
    np.testing.assert_array_equal(mapped.counts, kv.counts)
    assert mapped.index_to_key == kv.index_to_key
    assert mapped.most_similar("w3", topn=5) == kv.most_similar("w3", topn=5)
    with pytest.raises(ValueError, match="read-only"):
        mapped.vectors[0, 0] = 1.0
    assert load_vectors(path).index_to_key == kv.index_to_key      # the format sniffer knows the file


def test_files_of_the_old_npz_container_still_load(tmp_path):
    """fastnlp <= 0.1 wrote .npz containers; safeformat._save_npz is that writer, kept for this test."""
    kv = _kv()
    new = tmp_path / "kv.safetensors"
    kv.save(new)
    header, arrays, _ = safeformat.load(new, "fastnlp.word2vec", 1, (), "x")
    old = tmp_path / "kv.npz"
    safeformat._save_npz(old, "fastnlp.word2vec", 1, header, arrays)
    assert old.read_bytes()[:4] == b"PK\x03\x04"
    for mode in (None, "r"):   # an old file is read into memory either way
        back = KeyedVectors.load(old, mmap=mode)
        np.testing.assert_array_equal(back.vectors, kv.vectors)
        assert back.index_to_key == kv.index_to_key
    assert load_vectors(old).index_to_key == kv.index_to_key
    # the same for a tagger, through the tagger's own loader
    tagger = load_tagger("pos", mmap=None)
    path = tmp_path / "pos.safetensors"
    tagger.save(path)
    header, arrays, _ = safeformat.load(path, "fastnlp.tagger", 1, (), "x")
    safeformat._save_npz(tmp_path / "pos.npz", "fastnlp.tagger", 1, header, arrays)
    sentences = [["The", "cat", "sat", "on", "the", "mat", "."], ["Time", "flies"]]
    assert Tagger.load(tmp_path / "pos.npz").tag_batch(sentences) == tagger.tag_batch(sentences)


def test_directories_and_fifos_are_refused_without_reading_them(tmp_path):
    with pytest.raises(ValueError, match=r"not a valid fastnlp word2vec file \(not a regular file\)"):
        KeyedVectors.load(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"fifo: not a valid fastnlp tagger file \(not a regular file\)"):
        Tagger.load(fifo)


def test_saving_refuses_arrays_the_format_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="array 'x' has dtype object"):
        safeformat.save(tmp_path / "o", "t", 1, {}, {"x": np.array([None])})
    with pytest.raises(ValueError, match="array 'c' has dtype complex64"):
        safeformat.save(tmp_path / "o", "t", 1, {}, {"c": np.zeros(2, np.complex64)})
    assert not (tmp_path / "o").exists()


def test_pretrained_taggers_are_safetensors_and_load_mapped():
    sentences = [["John", "Smith", "bought", "300", "shares", "in", "New", "York", "."]]
    for name in PRETRAINED:
        path = pretrained_path(name)
        assert path.endswith(".safetensors")
        with open(path, "rb") as f:
            assert safeformat.is_safe_file(f.read(16)) and f.read(0) == b""
        mapped, copied = load_tagger(name), load_tagger(name, mmap=None)
        # the float32 weights are the file's bytes, not copies
        for a in (mapped.W1, mapped.b1, mapped.W2, mapped.b2):
            assert _is_mapped(a) and not a.flags.writeable
        assert not _is_mapped(copied.W1)
        assert mapped.tag_batch(sentences) == copied.tag_batch(sentences)


def test_every_pretrained_model_says_what_it_learned_from_and_under_which_terms():
    for name in PRETRAINED:
        header = load_tagger(name).header
        for key in ("training_data", "license"):
            assert isinstance(header.get(key), str) and header[key], (name, key)
    assert "Reuters" in load_tagger("ner").header["license"]
    assert "CC BY-SA" in load_tagger("upos").header["license"]


def test_wrap_errors_names_the_file_for_errors_a_loader_s_checks_raise():
    path = "/x/m.fnlp"

    def bad(why):
        return ValueError(f"{path}: not a valid model ({why})")

    for error, message in ((ValueError("dims must be > 0"), r"m\.fnlp: not a valid model \(cfg: dims must be > 0\)"),
                           (TypeError("int() argument"), r"m\.fnlp: not a valid model \(cfg: int\(\) argument\)"),
                           (KeyError("dims"), r"m\.fnlp: not a valid model \(cfg: header lacks 'dims'\)")):
        with pytest.raises(ValueError, match=message) as info:
            with safeformat.wrap_errors(path, bad, "cfg: "):
                raise error
        assert info.value.__cause__ is error
    already = bad("shape")   # one bad() made passes unchanged, not wrapped twice
    with pytest.raises(ValueError) as info:
        with safeformat.wrap_errors(path, bad, "cfg: "):
            raise already
    assert info.value is already
    with pytest.raises(OSError, match="disk"):   # anything else is not the file's content: left alone
        with safeformat.wrap_errors(path, bad):
            raise OSError("disk")
