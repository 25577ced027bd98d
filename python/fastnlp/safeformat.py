"""fastnlp's safe model container: named arrays in a safetensors file (no code execution, a JSON
table of contents, memory-mappable) whose ``__metadata__`` holds fastnlp's versioned JSON header as
one string value, plus CRC-32s of that header and of every array (safetensors itself has no
checksum; the .npz container it replaces had one per member). String tables are UTF-8 bytes +
offsets. Writes are atomic (_atomic.atomic_write: a crash never leaves a half-written model,
symlinks are followed, non-regular files refused). Files of the earlier container (an .npz read
with allow_pickle=False) are still read. Word vectors, Word2Vec models, taggers and classifiers
use it."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import struct
import zipfile
import zlib
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ._atomic import atomic_write

__all__ = ["encode_strings", "decode_strings", "save", "load", "is_safe_file", "wrap_errors"]

# The __metadata__ keys fastnlp writes: its JSON header, and the CRC-32s (JSON: {"header": crc,
# "arrays": {name: crc}}).
HEADER_KEY = "fastnlp"
CRC_KEY = "fastnlp.crc32"

# safetensors dtype names <-> NumPy (little-endian, as safetensors stores). BF16 and the FP8
# types have no NumPy dtype: a file holding them is refused by name.
_DTYPES = {"BOOL": np.dtype(np.bool_), "U8": np.dtype("u1"), "I8": np.dtype("i1"), "U16": np.dtype("<u2"),
           "I16": np.dtype("<i2"), "F16": np.dtype("<f2"), "U32": np.dtype("<u4"), "I32": np.dtype("<i4"),
           "F32": np.dtype("<f4"), "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8")}
# safetensors' own limit on the JSON table of contents
_MAX_TOC = 100_000_000
_NPZ_MAGIC = b"PK\x03\x04"

Bad = Callable[[str], ValueError]


def encode_strings(strings: Iterable[str]) -> Tuple[np.ndarray, np.ndarray]:
    """The UTF-8 of `strings` back to back, and where each one starts.

    Parameters
    ----------
    strings : iterable of str
        The strings to store.

    Returns
    -------
    blob : numpy.ndarray
        uint8, the UTF-8 bytes of every string concatenated.
    offsets : numpy.ndarray
        int64 of shape (n + 1,): string i is ``blob[offsets[i]:offsets[i + 1]]``.
    """
    data = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in data], out=offsets[1:])
    return np.frombuffer(b"".join(data), dtype=np.uint8), offsets


def decode_strings(blob: np.ndarray, offsets: np.ndarray, bad: Bad) -> List[str]:
    """Inverse of :func:`encode_strings`.

    Parameters
    ----------
    blob : numpy.ndarray
        uint8 bytes, as encode_strings returns.
    offsets : numpy.ndarray
        int64 (n + 1,) offsets into `blob`.
    bad : callable
        ``bad(why)`` returns the exception to raise (the loader's, naming the file).

    Returns
    -------
    list of str
        The n strings.

    Raises
    ------
    ValueError
        ``bad(...)`` when the table is inconsistent or a string is not UTF-8.
    """
    if (offsets.dtype != np.int64 or offsets.ndim != 1 or len(offsets) == 0 or blob.dtype != np.uint8
            or offsets[0] != 0 or offsets[-1] != blob.size or np.any(np.diff(offsets) < 0)):
        raise bad("string table is inconsistent")
    raw = blob.tobytes()
    try:
        return [raw[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]
    except UnicodeDecodeError as e:
        raise bad(f"strings are not UTF-8: {e}") from e


def _crc(a: np.ndarray) -> int:
    return zlib.crc32(np.asarray(a, order="C").reshape(-1).view(np.uint8))


def save(path: "str | os.PathLike[str]", format_name: str, version: int, header: Mapping,
         arrays: Mapping[str, np.ndarray]) -> None:
    """Writes a header and named arrays to `path` atomically, as a safetensors file.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (replaced atomically; a symlink is followed).
    format_name : str
        What the file holds (``"fastnlp.tagger"`` ...); stored in the header as ``format``.
    version : int
        The format's version, stored as ``version``.
    header : mapping
        JSON-able description of the model; stored, as one JSON string, in ``__metadata__``.
    arrays : mapping of str to numpy.ndarray
        Plain numeric arrays (bool, int, uint, float16/32/64); stored little-endian, row-major.

    Raises
    ------
    ValueError
        When an array's dtype cannot be stored, or the path is not a regular file.
    """
    from safetensors.numpy import save_file

    header_json = json.dumps(dict(header, format=format_name, version=version))
    tensors = {}
    for name, a in arrays.items():
        a = np.asarray(a)
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if not any(dtype == d for d in _DTYPES.values()):
            raise ValueError(f"save: array '{name}' has dtype {a.dtype}; fastnlp files hold plain numbers and bytes")
        tensors[name] = np.asarray(a, dtype=dtype, order="C")   # not ascontiguousarray: it makes 0-d arrays 1-d
    crcs = {"header": zlib.crc32(header_json.encode("utf-8")),
            "arrays": {name: _crc(a) for name, a in tensors.items()}}
    with atomic_write(path) as f:
        # safetensors writes the temporary file by its name, straight from the arrays' memory (its
        # save() would first build the whole file as bytes); atomic_write then syncs and renames it.
        save_file(tensors, f.name, metadata={HEADER_KEY: header_json, CRC_KEY: json.dumps(crcs)})


def is_safe_file(head: bytes) -> bool:
    """Whether the first bytes of a file look like a fastnlp container (safetensors or the old .npz).

    Parameters
    ----------
    head : bytes
        The file's first bytes (at least 9 for a safetensors file).

    Returns
    -------
    bool
        True for a zip (.npz) or a safetensors file (an 8-byte length then ``{``).
    """
    if head.startswith(_NPZ_MAGIC):
        return True
    return len(head) >= 9 and head[8:9] == b"{" and 2 <= struct.unpack("<Q", head[:8])[0] <= _MAX_TOC


def load(path: "str | os.PathLike[str]", format_name: str, max_version: int, required: Sequence[str], what: str,
         mmap: Optional[str] = None) -> Tuple[dict, Dict[str, np.ndarray], Bad]:
    """Reads a file written by :func:`save` (or an .npz written by earlier fastnlp versions).

    Everything the file declares is checked before anything is allocated from it: the table of
    contents against the file's size, every array's dtype, shape and byte range (contiguous, no
    overlaps, inside the file), the CRC-32s, the header's format and version.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    format_name : str
        The format expected in the header.
    max_version : int
        The newest format version this reader understands.
    required : sequence of str
        Arrays that must be present.
    what : str
        What the file should be, for messages ("fastnlp tagger file").
    mmap : {None, "r"}
        None reads the arrays into memory; ``"r"`` maps them read-only from the file (no copy;
        the mapping lives as long as the arrays). An old .npz file is always read into memory.

    Returns
    -------
    header : dict
        The JSON header.
    arrays : dict of str to numpy.ndarray
        The arrays (read-only views of the file with ``mmap="r"``).
    bad : callable
        ``bad(why)`` builds a ValueError naming the file, for the caller's own checks.

    Raises
    ------
    FileNotFoundError
        When there is no file at `path`.
    ValueError
        ``"<path>: not a valid <what> (why)"`` for anything but a good file of this format.
    """
    if mmap not in (None, "r"):
        raise ValueError(f"load: mmap must be None or 'r', got {mmap!r}")
    path = os.fspath(path)

    def bad(why):
        return ValueError(f"{path}: not a valid {what} ({why})")

    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if not stat.S_ISREG(os.stat(path).st_mode):   # a FIFO would block, a device never end
        raise bad("not a regular file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic == _NPZ_MAGIC:
            (header_bytes, arrays), crcs = _load_npz(path, required, bad), None
        else:
            header_bytes, arrays, crcs = _load_safetensors(path, mmap, bad)
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise bad(str(e)) from e
    except Exception as e:  # noqa: BLE001 -- any failure to parse the container is the file's fault
        raise bad(f"{type(e).__name__}: {e}") from e
    for need in required:
        if need not in arrays:
            raise bad(f"member '{need}' is missing")
    if crcs is not None:
        _check_crcs(crcs, header_bytes, arrays, bad)
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"unreadable header: {e}") from e
    if not isinstance(header, dict) or header.get("format") != format_name:
        raise bad(f"header format is {header.get('format') if isinstance(header, dict) else header!r}, "
                  f"expected '{format_name}'")
    if not isinstance(header.get("version"), int) or header["version"] > max_version:
        raise bad(f"format version {header.get('version')!r}; this fastnlp reads versions <= {max_version}")
    return header, arrays, bad


@contextlib.contextmanager
def wrap_errors(path: "str | os.PathLike[str]", bad: Bad, what: str = "") -> Iterator[None]:
    """Around a loader's own checks of what a file holds (a config passed to a constructor, names
    parsed from the header): the errors they raise become ``bad(...)``, a ValueError naming the file.

    A ValueError or TypeError becomes ``bad(what + message)``; a KeyError (a header field looked
    up and missing) ``bad(what + "header lacks " + key)``; a ValueError whose message already
    starts with `path` (one ``bad`` made) passes unchanged. The original is chained as the cause.

    Parameters
    ----------
    path : str or os.PathLike
        The file being read.
    bad : callable
        ``bad(why)`` builds the loader's exception (load's third result, or the loader's own).
    what : str
        Prefixed to the message, e.g. ``"config: "``.

    Returns
    -------
    contextlib.AbstractContextManager
        Use as ``with safeformat.wrap_errors(path, bad): ...``.

    Raises
    ------
    ValueError
        ``bad(...)`` in place of a ValueError, TypeError or KeyError raised inside.
    """
    try:
        yield
    except KeyError as e:
        raise bad(f"{what}header lacks {e}") from e
    except (TypeError, ValueError) as e:
        if isinstance(e, ValueError) and str(e).startswith(os.fspath(path)):
            raise
        raise bad(f"{what}{e}") from e


# ---- safetensors ------------------------------------------------------------------------------

def _unique_keys(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the table of contents names '{k}' twice")
        out[k] = v
    return out


def _is_int(x):
    return type(x) is int


def _load_safetensors(path, mmap, bad):
    """(header JSON bytes, arrays, crcs) from a safetensors file, every declared size checked first."""
    file_size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise bad(f"{file_size} bytes: too short for a safetensors file")
        n = struct.unpack("<Q", head)[0]
        if n > file_size - 8 or n > _MAX_TOC:
            raise bad(f"the table of contents declares {n} bytes in a file of {file_size} bytes")
        toc_bytes = f.read(n)
        if len(toc_bytes) != n:
            raise bad("the table of contents is truncated")
    try:
        toc = json.loads(toc_bytes.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"unreadable table of contents: {e}") from e
    if not isinstance(toc, dict):
        raise bad("the table of contents is not a JSON object")
    meta = toc.pop("__metadata__", None)
    if not isinstance(meta, dict) or not isinstance(meta.get(HEADER_KEY), str):
        raise bad(f"__metadata__ holds no '{HEADER_KEY}' header")
    if not isinstance(meta.get(CRC_KEY), str):
        raise bad(f"__metadata__ holds no '{CRC_KEY}' checksums")
    start, data_size = 8 + n, file_size - 8 - n
    spans = []
    for name, entry in toc.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"member '{name}' is not a tensor entry (dtype, shape, data_offsets)")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPES:
            raise bad(f"member '{name}' has dtype {dtype!r:.40}; fastnlp files hold plain numbers and bytes")
        if not (isinstance(shape, list) and len(shape) <= 32 and all(_is_int(d) and d >= 0 for d in shape)):
            raise bad(f"member '{name}' has shape {shape!r:.100}; expected a list of sizes")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            raise bad(f"member '{name}' has data_offsets {offsets!r:.100}")
        count = 1
        for d in shape:
            count *= d
        nbytes = count * _DTYPES[dtype].itemsize
        begin, end = offsets
        if nbytes != end - begin or end > data_size:
            raise bad(f"member '{name}' declares shape {tuple(shape)} {_DTYPES[dtype]} ({nbytes} bytes) at bytes "
                      f"{begin}..{end} of a {data_size}-byte data section")
        spans.append((begin, end, name, _DTYPES[dtype], tuple(shape)))
    spans.sort()
    pos = 0
    for begin, end, name, _, _ in spans:
        if begin != pos:
            raise bad(f"member '{name}' starts at byte {begin}, expected {pos} (overlap or gap)")
        pos = end
    if pos != data_size:
        raise bad(f"the tensors hold {pos} bytes but the data section has {data_size}")
    arrays = {}
    if mmap is not None and data_size:
        whole = np.memmap(path, dtype=np.uint8, mode="r")
        for begin, end, name, dtype, shape in spans:
            a = np.asarray(whole[start + begin:start + end]).view(dtype).reshape(shape)
            if not a.flags.aligned:  # a file from elsewhere: kernels want aligned data, so copy this one
                a = a.copy()
                a.flags.writeable = False
            arrays[name] = a
    else:
        with open(path, "rb") as f:
            for begin, end, name, dtype, shape in spans:
                a = np.empty(shape, dtype=dtype)    # writable, as np.load's arrays are
                f.seek(start + begin)
                if f.readinto(memoryview(a.reshape(-1).view(np.uint8))) != end - begin:
                    raise bad(f"member '{name}' is truncated")
                if mmap is not None:
                    a.flags.writeable = False
                arrays[name] = a
    return meta[HEADER_KEY].encode("utf-8"), arrays, meta[CRC_KEY]


def _check_crcs(crcs, header_bytes, arrays, bad):
    try:
        crcs = json.loads(crcs)
    except json.JSONDecodeError as e:
        raise bad(f"unreadable checksums: {e}") from e
    table = crcs.get("arrays") if isinstance(crcs, dict) else None
    if not isinstance(table, dict) or set(table) != set(arrays) or not _is_int(crcs.get("header")):
        raise bad("the checksums do not list the header and every array")
    if zlib.crc32(header_bytes) != crcs["header"]:
        raise bad("the header fails its CRC-32 check (the file is damaged)")
    for name, a in arrays.items():
        if _crc(a) != table[name]:
            raise bad(f"member '{name}' fails its CRC-32 check (the file is damaged)")


# ---- the earlier container: .npz --------------------------------------------------------------

def _save_npz(path, format_name, version, header, arrays):
    """The earlier writer (fastnlp <= 0.1 wrote every model this way), kept to test that such files
    still load."""
    path = os.fspath(path)
    payload = dict(arrays)
    header = dict(header, format=format_name, version=version)
    payload["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **payload)


# Members are .npy arrays, stored (np.savez) or deflated (np.savez_compressed). A deflated member
# can expand at most ~1032x; anything declaring more is refused before a byte is allocated.
_MAX_DEFLATE_RATIO = 1100


def _read_member(zf, info, file_size, bad):
    """The array in one zip member, checked against everything the member declares: its size
    against the file, its .npy header (no object dtype, shape x itemsize == the bytes present)."""
    name = info.filename
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise bad(f"member '{name}' uses zip compression method {info.compress_type}; expected stored or deflated")
    limit = info.compress_size if info.compress_type == zipfile.ZIP_STORED else \
        info.compress_size * _MAX_DEFLATE_RATIO + 1024
    if info.compress_size > file_size or info.file_size > limit:
        raise bad(f"member '{name}' declares {info.file_size} bytes ({info.compress_size} compressed) in a "
                  f"file of {file_size} bytes")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise bad(f"member '{name}' has .npy format version {version}; expected 1.0 or 2.0")
        if dtype.hasobject or dtype.itemsize == 0:
            raise bad(f"member '{name}' has dtype {dtype}; fastnlp files hold plain numbers and bytes")
        count = 1
        for n in shape:
            count *= n
        nbytes = count * dtype.itemsize
        if nbytes != info.file_size - f.tell():
            raise bad(f"member '{name}' declares shape {shape} {dtype} ({nbytes} bytes) but holds "
                      f"{info.file_size - f.tell()} bytes")
        array = np.empty(count, dtype=dtype)    # writable, as np.load's arrays are
        if f.readinto(array.view(np.uint8)) != nbytes or f.read(1):   # reading to the end checks the CRC
            raise bad(f"member '{name}' is truncated")
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)


def _load_npz(path, required, bad):
    """(header JSON bytes, arrays) from an .npz written by _save_npz: not a zip, a bad CRC, a member
    that is not a plain array, sizes that disagree with the file are refused. Nothing is allocated
    beyond what the file's own size allows."""
    file_size = os.path.getsize(path)
    with zipfile.ZipFile(path) as zf:
        names = {}
        for info in zf.infolist():
            if not info.filename.endswith(".npy") or info.filename[:-4] in names:
                raise bad(f"member '{info.filename}' is not a uniquely named .npy array")
            names[info.filename[:-4]] = info
        for need in ("header",) + tuple(required):
            if need not in names:
                raise bad(f"member '{need}' is missing")
        arrays = {name: _read_member(zf, info, file_size, bad) for name, info in names.items()}
    return arrays.pop("header").tobytes(), arrays
