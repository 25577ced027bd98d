"""The good files and fixtures of the hostile-file tests (test_corrupt_files.py,
test_corrupt_word2vec_files.py): every reader of fastnlp's safe format (taggers, KeyedVectors,
Word2Vec models) with a good file in each container, safetensors and the .npz of fastnlp <= 0.1.
A new reader joins every shared case by adding itself to _loaders. Also the raw container
readers / writers and zip helpers the crafted cases use, and the hypothesis settings (FUZZ).
"""

import io
import json
import os
import zipfile

import numpy as np
import pytest

from hypothesis import HealthCheck, settings

from fastnlp import KeyedVectors, Word2Vec, safeformat
from fastnlp.tagging import Tagger
from fastnlp.tagging import features as feat


EXAMPLES = int(os.environ.get("FASTNLP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def tiny_tagger(sll=True):
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
    tiny_tagger().save(path)
    out.append(("tagger", path, lambda p: Tagger.load(p).tag_batch([["The", "cat"]])))
    model = _tiny_word2vec(tmp_path)
    path = tmp_path / "w2v.fnlp"
    model.save(path)
    out.append(("word2vec", path, load_and_train))
    path = tmp_path / "kv.fnlp"
    model.wv.save(path)
    out.append(("keyedvectors", path, KeyedVectors.load))
    for _, path, _ in out:
        if fmt == "npz":
            header, arrays = raw_load(path)
            raw_save(path, header, arrays, "npz")
    return [(name, path.read_bytes(), load) for name, path, load in out]


def raw_load(path):
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


def raw_save(path, header, arrays, fmt):
    """Writes a header as it is (any JSON) and arrays in container `fmt`, checksums made anew."""
    header = dict(header)
    name, version = header.pop("format"), header.pop("version")
    if fmt == "npz":
        safeformat._save_npz(path, name, version, header, arrays)
    else:
        safeformat.save(path, name, version, header, arrays)
    return path


def load_and_train(path):
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


def expect_clean(load, path):
    """Loading either works or raises ValueError naming the file; nothing else is acceptable."""
    try:
        load(path)
    except ValueError as e:
        assert os.fspath(path) in str(e), f"error does not name the file: {e}"


def zip_members(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def npy_header(shape, dtype="<f4"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()
