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


def load(path, format_name, max_version, required, what):
    """(header, arrays) from a file written by save; ValueError "<path>: not a valid <what> (why)" for
    anything else: not a zip, bad CRC, a member in `required` missing, another format, a newer version."""
    path = os.fspath(path)

    def bad(why):
        return ValueError(f"{path}: not a valid {what} ({why})")

    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            for need in ("header",) + tuple(required):
                if need not in names:
                    raise bad(f"member '{need}' is missing")
            arrays = {name: z[name] for name in names}
    except ValueError as e:
        if str(e).startswith(path):
            raise
        raise bad(str(e)) from e
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
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
