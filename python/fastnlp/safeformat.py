"""fastnlp's safe model container: named arrays in an .npz read with allow_pickle=False, a versioned
JSON header, string tables as UTF-8 bytes + offsets, written atomically (_atomic.atomic_write: a
crash never leaves a half-written model, symlinks are followed, non-regular files refused). Word
vectors and taggers use it."""

import json
import os
import zipfile

import numpy as np

from ._atomic import atomic_write


def encode_strings(strings):
    """(blob uint8, offsets int64 (n+1,)) holding the UTF-8 of `strings` back to back."""
    data = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in data], out=offsets[1:])
    return np.frombuffer(b"".join(data), dtype=np.uint8), offsets


def decode_strings(blob, offsets, bad):
    """Inverse of encode_strings; raises bad(why) on inconsistent tables or invalid UTF-8."""
    if (offsets.dtype != np.int64 or offsets.ndim != 1 or len(offsets) == 0 or blob.dtype != np.uint8
            or offsets[0] != 0 or offsets[-1] != blob.size or np.any(np.diff(offsets) < 0)):
        raise bad("string table is inconsistent")
    raw = blob.tobytes()
    try:
        return [raw[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]
    except UnicodeDecodeError as e:
        raise bad(f"strings are not UTF-8: {e}") from e


def save(path, format_name, version, header, arrays):
    """Writes header (JSON-able dict) and arrays (name -> ndarray) to `path` atomically."""
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


def load(path, format_name, max_version, required, what):
    """(header, arrays) from a file written by save; ValueError "<path>: not a valid <what> (why)" for
    anything else: not a zip, bad CRC, a member in `required` missing or not a plain array, sizes that
    disagree with the file, another format, a newer version. Nothing is allocated beyond what the
    file's own size allows."""
    path = os.fspath(path)

    def bad(why):
        return ValueError(f"{path}: not a valid {what} ({why})")

    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        file_size = os.path.getsize(path)
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {}
            for info in infos:
                if not info.filename.endswith(".npy") or info.filename[:-4] in names:
                    raise bad(f"member '{info.filename}' is not a uniquely named .npy array")
                names[info.filename[:-4]] = info
            for need in ("header",) + tuple(required):
                if need not in names:
                    raise bad(f"member '{need}' is missing")
            arrays = {name: _read_member(zf, info, file_size, bad) for name, info in names.items()}
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise bad(str(e)) from e
    except Exception as e:  # noqa: BLE001 -- any failure to parse the container is the file's fault
        raise bad(f"{type(e).__name__}: {e}") from e
    try:
        header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"unreadable header: {e}") from e
    if not isinstance(header, dict) or header.get("format") != format_name:
        raise bad(f"header format is {header.get('format') if isinstance(header, dict) else header!r}, "
                  f"expected '{format_name}'")
    if not isinstance(header.get("version"), int) or header["version"] > max_version:
        raise bad(f"format version {header.get('version')!r}; this fastnlp reads versions <= {max_version}")
    return header, arrays, bad
