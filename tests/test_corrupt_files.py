"""Hostile model files: every reader of fastnlp's safe format (taggers, KeyedVectors, Word2Vec
models) answers a damaged or crafted file with a ValueError naming the file -- never a crash, a
hang, a MemoryError or another exception type -- and refuses a member declaring more bytes than
the file holds before allocating anything.

Crafted cases are written out one by one; random damage (truncations, byte flips, header fields
replaced by arbitrary JSON values) is generated with hypothesis. A longer run of the same properties:
FASTNLP_FUZZ_EXAMPLES=20000 python -m pytest tests/test_corrupt_files.py
"""

import io
import json
import os
import zipfile

import numpy as np
import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnlp import KeyedVectors, Word2Vec, safeformat
from fastnlp.tagging import Tagger
from fastnlp.tagging import features as feat

EXAMPLES = int(os.environ.get("FASTNLP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _tiny_tagger(sll=True):
    rng = np.random.default_rng(0)
    families, dims, window, tagset = ["word", "caps", "suffix2"], [4, 2, 3], 3, ["B-X", "I-X", "O"]
    lexicons = [["the", "cat", "sat"], [], ["he", "at"]]
    tables = [rng.normal(size=(feat.FIRST_ENTRY + 3, 4)), rng.normal(size=(feat.CAPS_SIZE, 2)),
              rng.normal(size=(feat.FIRST_ENTRY + 2, 3))]
    H, K = 5, len(tagset)
    f32 = lambda *s: rng.normal(size=s).astype(np.float32)  # noqa: E731
    header = {"task": "test", "families": families, "dims": dims, "window": window, "tagset": tagset}
    return Tagger(header, lexicons, tables, f32(H, window * sum(dims)), f32(H), f32(K, H), f32(K),
                  f32(K, K) if sll else None, f32(K) if sll else None)


def _tiny_word2vec(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    model = Word2Vec(corpus_file=str(corpus), vector_size=8, min_count=1, epochs=1, workers=1, seed=1,
                     negative=2, hs=1)
    return model


def _loaders(tmp_path):
    """(name, good file bytes, load function) for each safe-format reader."""
    out = []
    path = tmp_path / "tagger.npz"
    _tiny_tagger().save(path)
    out.append(("tagger", path.read_bytes(), lambda p: Tagger.load(p).tag_batch([["The", "cat"]])))
    model = _tiny_word2vec(tmp_path)
    path = tmp_path / "w2v.fnlp"
    model.save(path)
    out.append(("word2vec", path.read_bytes(), Word2Vec.load))
    path = tmp_path / "kv.fnlp"
    model.wv.save(path)
    out.append(("keyedvectors", path.read_bytes(), KeyedVectors.load))
    return out


class _Loaders(list):
    def __repr__(self):  # hypothesis prints its arguments; the file bytes would fill the screen
        return f"<{', '.join(name for name, _, _ in self)} files>"


@pytest.fixture(scope="module")
def loaders(tmp_path_factory):
    return _Loaders(_loaders(tmp_path_factory.mktemp("good")))


def _expect_clean(load, path):
    """Loading either works or raises ValueError naming the file; nothing else is acceptable."""
    try:
        load(path)
    except ValueError as e:
        assert os.fspath(path) in str(e), f"error does not name the file: {e}"


def _members(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _npy_header(shape, dtype="<f4"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


# ---- crafted files ------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["tagger", "word2vec", "keyedvectors"])
def test_a_member_declaring_terabytes_is_refused_before_allocating(tmp_path, loaders, which):
    raw, load = {n: (r, f) for n, r, f in loaders}[which]
    members = _members(raw)
    big = next(k for k in members if k != "header.npy")
    members[big] = _npy_header((1 << 20, 1 << 20)) + b"\0" * 64       # 4 TB of float32 declared
    path = tmp_path / "big.npz"
    _write_zip(path, members)
    with pytest.raises(ValueError, match=r"big\.npz: not a valid .*declares shape \(1048576, 1048576\)"):
        load(path)


@pytest.mark.parametrize("compression, name", [(zipfile.ZIP_LZMA, "14"), (zipfile.ZIP_BZIP2, "12")])
def test_other_zip_compressions_are_refused_by_name(tmp_path, loaders, compression, name):
    raw, load = loaders[0][1], loaders[0][2]
    path = tmp_path / "lzma.npz"
    _write_zip(path, _members(raw), compression)
    with pytest.raises(ValueError, match=f"compression method {name}; expected stored or deflated"):
        load(path)


def test_deflated_files_still_load_and_impossible_sizes_are_refused(tmp_path, loaders):
    raw, load = loaders[0][1], loaders[0][2]
    path = tmp_path / "deflated.npz"
    _write_zip(path, _members(raw), zipfile.ZIP_DEFLATED)  # what np.savez_compressed writes
    load(path)
    # The central directory says W1.npy inflates to 4 GB: more than deflate can expand its bytes.
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")
    while data[entry + 46:entry + 46 + 6] != b"W1.npy":
        entry = data.find(b"PK\x01\x02", entry + 4)
    data[entry + 24:entry + 28] = (0xFFFFFFF0).to_bytes(4, "little")   # uncompressed size
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"member 'W1.npy' declares 4294967280 bytes \(\d+ compressed\)"):
        load(path)


def test_object_arrays_and_duplicate_members_are_refused(tmp_path, loaders):
    raw, load = loaders[0][1], loaders[0][2]
    members = _members(raw)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    members["b1.npy"] = buf.getvalue() + b"\x80\x04N."   # a pickle of None
    path = tmp_path / "obj.npz"
    _write_zip(path, members)
    with pytest.raises(ValueError, match="member 'b1.npy' has dtype object"):
        load(path)
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("W1.npy", b"again")
    with pytest.raises(ValueError, match="not a uniquely named .npy array"):
        load(path)


def test_members_that_are_not_arrays_or_lie_about_their_size(tmp_path, loaders):
    raw, load = loaders[0][1], loaders[0][2]
    members = _members(raw)
    members["notes.txt"] = b"hello"
    path = tmp_path / "extra.npz"
    _write_zip(path, members)
    with pytest.raises(ValueError, match="member 'notes.txt' is not a uniquely named .npy array"):
        load(path)
    members = _members(raw)
    members["W1.npy"] = _npy_header((5, 27)) + b"\0" * 12           # fewer bytes than declared
    _write_zip(path, members)
    with pytest.raises(ValueError, match=r"declares shape \(5, 27\) float32 \(540 bytes\) but holds 12 bytes"):
        load(path)


@pytest.mark.parametrize("field, value, message", [
    ("families", ["word", "caps", "nonsense"], "nonsense"),
    ("families", "word", "families and dims must be lists"),
    ("dims", [4, 2, -3], "dims must be positive integers"),
    ("dims", [4, 2, 3.5], "dims must be positive integers"),
    ("window", 4, "window must be an odd positive integer"),
    ("window", "3", "window must be an odd positive integer"),
    ("window", 10 ** 30, "window must be an odd positive integer"),
    ("tagset", ["B-X", "B-X", "O"], "tagset must be a list of distinct strings"),
    ("tagset", [1, 2, 3], "tagset must be a list of distinct strings"),
    ("tagset", [], "tagset must be a list of distinct strings"),
])
def test_tagger_header_fields_are_validated(tmp_path, field, value, message):
    path = tmp_path / "t.npz"
    tagger = _tiny_tagger()
    tagger.save(path)
    header, arrays, _ = safeformat.load(path, "fastnlp.tagger", 1, (), "x")
    header[field] = value
    safeformat.save(path, "fastnlp.tagger", 1, header, arrays)
    with pytest.raises(ValueError, match=message):
        Tagger.load(path)


# ---- random damage ------------------------------------------------------------------------------

@FUZZ
@given(which=st.integers(0, 2), data=st.data())
def test_random_truncations_and_byte_flips(tmp_path, loaders, which, data):
    _, raw, load = loaders[which]
    raw = bytearray(raw)
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[:data.draw(st.integers(0, len(raw) - 1), label="length")]
    else:
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            raw[data.draw(st.integers(0, len(raw) - 1), label="at")] = data.draw(st.integers(0, 255), label="byte")
    path = tmp_path / f"damaged{which}.npz"
    path.write_bytes(bytes(raw))
    _expect_clean(load, path)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                    max_leaves=8)


@FUZZ
@given(which=st.sampled_from([0, 2]), data=st.data())
def test_random_header_values(tmp_path, loaders, which, data):
    name, raw, load = loaders[which]
    good = tmp_path / f"good{which}.npz"
    good.write_bytes(raw)
    header, arrays = _raw_load(good)
    key = data.draw(st.sampled_from(sorted(k for k in header if k not in ("format", "version"))), label="key")
    header[key] = data.draw(JSON, label="value")
    path = tmp_path / f"header{which}.npz"
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    _expect_clean(load, path)


def _raw_load(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(arrays.pop("header").tobytes()), arrays
