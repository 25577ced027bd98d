"""Hostile model files: every reader of fastnlp's safe format (taggers, KeyedVectors, Word2Vec
models) answers a damaged or crafted file with a ValueError naming the file -- never a crash, a
hang, a MemoryError or another exception type -- and refuses a member declaring more bytes than
the file holds before allocating anything. Every such test runs on both containers: safetensors
(what fastnlp writes) and the .npz of fastnlp <= 0.1 (still read; written here by the old writer,
safeformat._save_npz), plus the crafted cases particular to each container. The readers, their
good files and the fixtures are in hostile_files.py; Word2Vec counts and config in a file, and the
word2vec text and binary formats, in test_corrupt_word2vec_files.py.

Crafted cases are written out one by one; random damage (truncations, byte flips, header fields
replaced by arbitrary JSON values) is generated with hypothesis. A longer run of the same properties:
FASTNLP_FUZZ_EXAMPLES=20000 python -m pytest tests/test_corrupt_files.py
"""

import io
import json
import re
import struct
import zipfile

import numpy as np
import pytest

from hypothesis import given
from hypothesis import strategies as st

from fastnlp import safeformat
from fastnlp.tagging import Tagger
from hostile_files import FUZZ, expect_clean, npy_header, raw_load, raw_save, tiny_tagger, write_zip, zip_members
from hostile_files import loaders, npz_loaders, st_loaders  # noqa: F401 (pytest fixtures, found by name)


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
        members = zip_members(raw)
        big = next(k for k in members if k != "header.npy")
        members[big] = npy_header((1 << 20, 1 << 20)) + b"\0" * 64       # 4 TB of float32 declared
        write_zip(path, members)
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
    write_zip(path, zip_members(raw), compression)
    with pytest.raises(ValueError, match=f"compression method {name}; expected stored or deflated"):
        load(path)


def test_deflated_files_still_load_and_impossible_sizes_are_refused(tmp_path, npz_loaders):
    raw, load = npz_loaders[0][1], npz_loaders[0][2]
    path = tmp_path / "deflated.npz"
    write_zip(path, zip_members(raw), zipfile.ZIP_DEFLATED)  # what np.savez_compressed writes
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
    members = zip_members(raw)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    members["b1.npy"] = buf.getvalue() + b"\x80\x04N."   # a pickle of None
    path = tmp_path / "obj.npz"
    write_zip(path, members)
    with pytest.raises(ValueError, match="member 'b1.npy' has dtype object"):
        load(path)
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("W1.npy", b"again")
    with pytest.raises(ValueError, match="not a uniquely named .npy array"):
        load(path)


def test_members_that_are_not_arrays_or_lie_about_their_size(tmp_path, npz_loaders):
    raw, load = npz_loaders[0][1], npz_loaders[0][2]
    members = zip_members(raw)
    members["notes.txt"] = b"hello"
    path = tmp_path / "extra.npz"
    write_zip(path, members)
    with pytest.raises(ValueError, match="member 'notes.txt' is not a uniquely named .npy array"):
        load(path)
    members = zip_members(raw)
    members["W1.npy"] = npy_header((5, 27)) + b"\0" * 12           # fewer bytes than declared
    write_zip(path, members)
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
    tagger = tiny_tagger()
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
    expect_clean(load, path)


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
    header, arrays = raw_load(good)
    keys = sorted(k for k in header if k not in ("format", "version"))
    if "config" in header:
        keys += [f"config.{k}" for k in sorted(header["config"])]
    key = data.draw(st.sampled_from(keys), label="key")
    value = data.draw(VALUE, label="value")
    if key.startswith("config."):
        header["config"][key[len("config."):]] = value
    else:
        header[key] = value
    path = raw_save(tmp_path / f"header{which}.npz", header, arrays, loaders.fmt)
    expect_clean(load, path)
