"""Hostile model files: every reader of fastnlp's safe format (taggers, KeyedVectors, Word2Vec
models) answers a damaged or crafted file with a ValueError naming the file -- never a crash, a
hang, a MemoryError or another exception type -- and refuses a member declaring more bytes than
the file holds before allocating anything. Every such test runs on both containers: safetensors
(what fastnlp writes) and the .npz of fastnlp <= 0.1 (still read; written here by the old writer,
safeformat._save_npz), plus the crafted cases particular to each container. A Word2Vec model that loads must also train (counts
near int64's range used to load and then crash or hang the Huffman build). The word2vec text and
binary formats and text corpora get the same treatment: bounded reads, sizes checked against the
file, NaN refused, undecodable bytes and unstorable words named where they are.

Crafted cases are written out one by one; random damage (truncations, byte flips, header fields
replaced by arbitrary JSON values) is generated with hypothesis. A longer run of the same properties:
FASTNLP_FUZZ_EXAMPLES=20000 python -m pytest tests/test_corrupt_files.py

Over 500 lines on purpose: every reader's hostile files in one place, the shared cases run on all
readers and both containers through one set of fixtures (_loaders, the container writers), so a
new reader joins them all by adding itself there.
"""

import io
import json
import os
import re
import struct
import zipfile

import numpy as np
import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnlp import KeyedVectors, Word2Vec, _C, safeformat
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


def _loaders(tmp_path, fmt):
    """(name, good file bytes, load function) for each safe-format reader, files in container `fmt`."""
    out = []
    path = tmp_path / "tagger.npz"
    _tiny_tagger().save(path)
    out.append(("tagger", path, lambda p: Tagger.load(p).tag_batch([["The", "cat"]])))
    model = _tiny_word2vec(tmp_path)
    path = tmp_path / "w2v.fnlp"
    model.save(path)
    out.append(("word2vec", path, _load_and_train))
    path = tmp_path / "kv.fnlp"
    model.wv.save(path)
    out.append(("keyedvectors", path, KeyedVectors.load))
    for _, path, _ in out:
        if fmt == "npz":
            header, arrays = _raw_load(path)
            _raw_save(path, header, arrays, "npz")
    return [(name, path.read_bytes(), load) for name, path, load in out]


def _raw_load(path):
    """(header, arrays) of a container of either kind, read without fastnlp's checks."""
    with open(path, "rb") as f:
        npz = f.read(4) == b"PK\x03\x04"
    if npz:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return json.loads(arrays.pop("header").tobytes()), arrays
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return json.loads(f.metadata()["fastnlp"]), {k: np.array(f.get_tensor(k)) for k in f.keys()}


def _raw_save(path, header, arrays, fmt):
    """Writes a header as it is (any JSON) and arrays in container `fmt`, checksums made anew."""
    header = dict(header)
    name, version = header.pop("format"), header.pop("version")
    if fmt == "npz":
        safeformat._save_npz(path, name, version, header, arrays)
    else:
        safeformat.save(path, name, version, header, arrays)
    return path


def _load_and_train(path):
    """Word2Vec.load, then one short epoch: what a loaded file claims must also be trainable."""
    model = Word2Vec.load(path)
    model.train(sentences=[["the", "cat", "sat", "on", "the", "mat"]], epochs=1, progress=False)
    return model


class _Loaders(list):
    fmt = None

    def __repr__(self):  # hypothesis prints its arguments; the file bytes would fill the screen
        return f"<{', '.join(name for name, _, _ in self)} {self.fmt} files>"


def _make_loaders(tmp_path_factory, fmt):
    out = _Loaders(_loaders(tmp_path_factory.mktemp("good"), fmt))
    out.fmt = fmt
    return out


@pytest.fixture(scope="module", params=["safetensors", "npz"])
def loaders(tmp_path_factory, request):
    """The good files in each container: every test taking this fixture runs on both."""
    return _make_loaders(tmp_path_factory, request.param)


@pytest.fixture(scope="module")
def npz_loaders(tmp_path_factory):
    return _make_loaders(tmp_path_factory, "npz")


@pytest.fixture(scope="module")
def st_loaders(tmp_path_factory):
    return _make_loaders(tmp_path_factory, "safetensors")


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


# ---- crafted files: safetensors -----------------------------------------------------------------

def _st_parts(raw):
    """(table of contents, data section) of a safetensors file's bytes."""
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _st_join(toc, data, toc_bytes=None):
    toc_bytes = json.dumps(toc).encode() if toc_bytes is None else toc_bytes
    return struct.pack("<Q", len(toc_bytes)) + toc_bytes + data


def _st_write(path, toc, data, toc_bytes=None):
    path.write_bytes(_st_join(toc, data, toc_bytes))
    return path


@pytest.mark.parametrize("which", ["tagger", "word2vec", "keyedvectors"])
def test_a_member_declaring_terabytes_is_refused_before_allocating(tmp_path, loaders, which):
    raw, load = {n: (r, f) for n, r, f in loaders}[which]
    path = tmp_path / "big.npz"
    if loaders.fmt == "npz":
        members = _members(raw)
        big = next(k for k in members if k != "header.npy")
        members[big] = _npy_header((1 << 20, 1 << 20)) + b"\0" * 64       # 4 TB of float32 declared
        _write_zip(path, members)
    else:
        toc, data = _st_parts(raw)
        big = next(k for k in toc if k != "__metadata__")
        toc[big] = dict(toc[big], dtype="F32", shape=[1 << 20, 1 << 20])
        _st_write(path, toc, data)
    with pytest.raises(ValueError, match=r"big\.npz: not a valid .*declares shape \(1048576, 1048576\)"):
        load(path)


def test_safetensors_sizes_and_ranges_are_checked_against_the_file(tmp_path, st_loaders):
    raw, load = st_loaders[0][1], st_loaders[0][2]
    toc, data = _st_parts(raw)
    path = tmp_path / "t.safetensors"
    # the table of contents claims more bytes than the file has
    path.write_bytes(struct.pack("<Q", 1 << 40) + raw[8:])
    with pytest.raises(ValueError, match=r"table of contents declares 1099511627776 bytes in a file of \d+ bytes"):
        load(path)
    # a member reaching past the data section, or two members sharing bytes
    name = next(k for k in toc if k != "__metadata__")
    begin, end = toc[name]["data_offsets"]
    for offsets, message in (([len(data) - (end - begin) + 8, len(data) + 8], "of a %d-byte data section" % len(data)),
                             ([begin + 1, end + 1] if begin else [begin, end], "overlap or gap")):
        bad = json.loads(json.dumps(toc))
        bad[name]["data_offsets"] = offsets
        if message == "overlap or gap" and begin == 0:      # make it overlap the member after it
            other = next(k for k in toc if k != "__metadata__" and toc[k]["data_offsets"][0] == end)
            bad[other]["data_offsets"] = [end - 1, toc[other]["data_offsets"][1] - 1]
        with pytest.raises(ValueError, match=re.escape(message) if message != "overlap or gap" else message):
            load(_st_write(path, bad, data))
    # bytes left over after the last member
    with pytest.raises(ValueError, match=r"the tensors hold \d+ bytes but the data section has \d+"):
        load(_st_write(path, toc, data + b"\0" * 8))
    # a truncated data section
    with pytest.raises(ValueError, match=r"t\.safetensors: not a valid"):
        load(_st_write(path, toc, data[:-4]))


def test_safetensors_dtypes_names_and_metadata_are_checked(tmp_path, st_loaders):
    raw, load = st_loaders[0][1], st_loaders[0][2]
    toc, data = _st_parts(raw)
    path = tmp_path / "t.safetensors"
    name = next(k for k in toc if k != "__metadata__" and toc[k]["dtype"] == "F32")
    for dtype in ("BF16", "F8_E4M3", "O", 7):
        bad = json.loads(json.dumps(toc))
        bad[name]["dtype"] = dtype
        with pytest.raises(ValueError, match=rf"member '{name}' has dtype .*plain numbers and bytes"):
            load(_st_write(path, bad, data))
    for field, value in (("shape", [-1, 3]), ("shape", "5"), ("shape", [2.0]), ("data_offsets", [5]),
                         ("data_offsets", [9, 3])):
        bad = json.loads(json.dumps(toc))
        bad[name][field] = value
        with pytest.raises(ValueError, match=f"member '{name}' has {field}"):
            load(_st_write(path, bad, data))
    bad = json.loads(json.dumps(toc))
    bad[name]["extra"] = 1
    with pytest.raises(ValueError, match=f"member '{name}' is not a tensor entry"):
        load(_st_write(path, bad, data))
    # a name given twice: JSON readers keep the last one silently; fastnlp refuses the file
    text = json.dumps(toc)
    entry = json.dumps({name: toc[name]})[1:-1]
    with pytest.raises(ValueError, match=f"names '{name}' twice"):
        load(_st_write(path, None, data, ("{" + entry + ", " + text[1:]).encode()))
    for meta, message in ((None, "holds no 'fastnlp' header"), ({"fastnlp": "{}"}, "no 'fastnlp.crc32' checksums"),
                          (dict(toc["__metadata__"], fastnlp=7), "holds no 'fastnlp' header")):
        bad = json.loads(json.dumps(toc))
        if meta is None:
            del bad["__metadata__"]
        else:
            bad["__metadata__"] = meta
        with pytest.raises(ValueError, match=message):
            load(_st_write(path, bad, data))
    for toc_bytes, message in ((b"[1, 2]", "not a JSON object"), (b"\xff{}", "unreadable table of contents")):
        with pytest.raises(ValueError, match=message):
            load(_st_write(path, None, data, toc_bytes))
    path.write_bytes(raw[:5])
    with pytest.raises(ValueError, match="5 bytes: too short for a safetensors file"):
        load(path)


def test_safetensors_checksums_catch_damage_the_format_cannot(tmp_path, st_loaders):
    """safetensors has no checksum: a flipped bit in a weight, or a changed tag name in the header,
    would load as a different model. The CRC-32s fastnlp stores in __metadata__ catch both."""
    raw, load = st_loaders[0][1], st_loaders[0][2]
    toc, data = _st_parts(raw)
    path = tmp_path / "t.safetensors"
    begin, _ = toc["W1"]["data_offsets"]
    flipped = bytearray(data)
    flipped[begin + 5] ^= 0x01
    with pytest.raises(ValueError, match="member 'W1' fails its CRC-32 check"):
        load(_st_write(path, toc, bytes(flipped)))
    bad = json.loads(json.dumps(toc))
    bad["__metadata__"]["fastnlp"] = bad["__metadata__"]["fastnlp"].replace('"B-X"', '"B-Y"')
    with pytest.raises(ValueError, match="the header fails its CRC-32 check"):
        load(_st_write(path, bad, data))
    for crcs in ("{", json.dumps({"header": 1}), json.dumps({"header": 1, "arrays": {"W1": 1}})):
        bad = json.loads(json.dumps(toc))
        bad["__metadata__"]["fastnlp.crc32"] = crcs
        with pytest.raises(ValueError, match="checksums"):
            load(_st_write(path, bad, data))


# ---- crafted files: the old .npz container ------------------------------------------------------

@pytest.mark.parametrize("compression, name", [(zipfile.ZIP_LZMA, "14"), (zipfile.ZIP_BZIP2, "12")])
def test_other_zip_compressions_are_refused_by_name(tmp_path, npz_loaders, compression, name):
    raw, load = npz_loaders[0][1], npz_loaders[0][2]
    path = tmp_path / "lzma.npz"
    _write_zip(path, _members(raw), compression)
    with pytest.raises(ValueError, match=f"compression method {name}; expected stored or deflated"):
        load(path)


def test_deflated_files_still_load_and_impossible_sizes_are_refused(tmp_path, npz_loaders):
    raw, load = npz_loaders[0][1], npz_loaders[0][2]
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


def test_object_arrays_and_duplicate_members_are_refused(tmp_path, npz_loaders):
    raw, load = npz_loaders[0][1], npz_loaders[0][2]
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


def test_members_that_are_not_arrays_or_lie_about_their_size(tmp_path, npz_loaders):
    raw, load = npz_loaders[0][1], npz_loaders[0][2]
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
# Numbers at the edges of what the code after a loader computes with: int64 and int32 limits,
# 2^61 .. 2^63 (sums of counts), float extremes, NaN and infinity (json writes and reads them).
EXTREME = st.sampled_from([0, -1, 1, 2, 3, (1 << 20) + 1, (1 << 31) - 1, 1 << 31, 1 << 32, 1 << 61, 1 << 62,
                           (1 << 63) - 1, 1 << 63, -(1 << 63), 1 << 64, 10 ** 30, 1e308, -1e308, 5e-324,
                           float("inf"), float("-inf"), float("nan"), 0.5, -0.0, True, "", "global"])
VALUE = EXTREME | JSON


@FUZZ
@given(which=st.integers(0, 2), data=st.data())
def test_random_header_values(tmp_path, loaders, which, data):
    """Any header field (and, in a Word2Vec model, any config setting) replaced by arbitrary JSON
    or an extreme number: loading refuses it by name or the model works (a Word2Vec one trains)."""
    name, raw, load = loaders[which]
    good = tmp_path / f"good{which}.npz"
    good.write_bytes(raw)
    header, arrays = _raw_load(good)
    keys = sorted(k for k in header if k not in ("format", "version"))
    if "config" in header:
        keys += [f"config.{k}" for k in sorted(header["config"])]
    key = data.draw(st.sampled_from(keys), label="key")
    value = data.draw(VALUE, label="value")
    if key.startswith("config."):
        header["config"][key[len("config."):]] = value
    else:
        header[key] = value
    path = _raw_save(tmp_path / f"header{which}.npz", header, arrays, loaders.fmt)
    _expect_clean(load, path)


# ---- Word2Vec counts, config and the word2vec formats -------------------------------------------

def _with_counts(tmp_path, loaders, counts):
    header, arrays = _raw_load(_write(tmp_path / "good.npz", loaders[1][1]))
    arrays["counts"] = np.asarray(counts, dtype=np.int64)
    return _raw_save(tmp_path / "counts.npz", header, arrays, loaders.fmt)


def _write(path, raw):
    path.write_bytes(raw)
    return path


def test_word2vec_counts_near_int64_load_and_train_or_are_refused(tmp_path, loaders):
    """Counts >= 2^61 used to load, then crash (SIGSEGV) or loop forever in the Huffman build
    (a sentinel count real counts could reach). Now: a total within 2^62 trains, hs included;
    a larger one is refused at load naming the file."""
    V = len(_raw_load(_write(tmp_path / "g.npz", loaders[1][1]))[1]["counts"])
    big = np.full(V, 1, np.int64)
    big[:2] = [1 << 61, (1 << 61) - V]            # sums to just under 2^62: every count is valid
    model = _load_and_train(_with_counts(tmp_path, loaders, big))
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
    header, arrays = _raw_load(_write(tmp_path / "g.npz", loaders[1][1]))
    header["config"][setting] = value
    path = _raw_save(tmp_path / "cfg.npz", header, arrays, loaders.fmt)
    with pytest.raises(ValueError, match=r"cfg\.npz: not a valid fastnlp word2vec file \(config: .*" + message):
        Word2Vec.load(path)


@pytest.mark.parametrize("which", [1, 2])
def test_nan_vectors_in_a_safe_format_file_are_refused_with_the_row(tmp_path, loaders, which):
    header, arrays = _raw_load(_write(tmp_path / "g.npz", loaders[which][1]))
    arrays["vectors"][3, 1] = np.nan
    path = _raw_save(tmp_path / "nan.npz", header, arrays, loaders.fmt)
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
