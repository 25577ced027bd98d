"""KeyedVectors' files: fastnlp's safe format (safeformat.py: safetensors plus a versioned JSON
header, CRC-32s, written atomically, memory-mappable; Word2Vec keeps its training state in the same
format) and word2vec.c's text and binary formats (readable and writable by word2vec.c and gensim).
FormatsMixin gives KeyedVectors its save / load methods; save_npz / load_npz are shared with Word2Vec.
"""

import os
import stat

from typing import Optional, Type, TypeVar, Union

import numpy as np

from .. import safeformat
from .._atomic import atomic_write

PathLike = Union[str, os.PathLike]
KV = TypeVar("KV", bound="FormatsMixin")  # the loaders return an instance of the class they are called on

FORMAT_NAME = "fastnlp.word2vec"
FORMAT_VERSION = 1

# The word2vec formats' field separators: ASCII whitespace, as word2vec.c and fastnlp's corpus
# reader (csrc/models/text_reader.h) split on. Every other character may be part of a word.
FORMAT_SPACE = frozenset(" \t\n\v\f\r")
_MAX_HEADER_LINE = 1024


def format_safe_word(word):
    """True when the word2vec formats can hold `word`: not empty, no ASCII whitespace."""
    return bool(word) and FORMAT_SPACE.isdisjoint(word)


# fastnlp's safe format (see safeformat.py): the vectors plus the word table and a JSON header.

def save_npz(path, header, words, arrays):
    """Writes header (JSON-able dict), words and float/int arrays to `path` atomically."""
    blob, offsets = safeformat.encode_strings(words)
    safeformat.save(path, FORMAT_NAME, FORMAT_VERSION, header,
                    dict(arrays, words_utf8=blob, word_offsets=offsets))


def load_npz(path, mmap=None):
    """(header, words, arrays) from a file written by save_npz; ValueError saying what is wrong
    for anything else (damaged container, bad CRC, missing member, wrong version, inconsistent
    shapes). mmap="r": the arrays are read-only maps of the file (safeformat.load)."""
    header, arrays, bad = safeformat.load(path, FORMAT_NAME, FORMAT_VERSION,
                                          ("words_utf8", "word_offsets", "vectors"), "fastnlp word2vec file", mmap)
    offsets = arrays.pop("word_offsets")
    blob = arrays.pop("words_utf8")
    vectors = arrays["vectors"]
    if vectors.dtype != np.float32 or vectors.ndim != 2:
        raise bad(f"vectors must be a 2-D float32 array, got {vectors.dtype} with shape {vectors.shape}")
    V = vectors.shape[0]
    if offsets.shape != (V + 1,):
        raise bad(f"word table inconsistent with {V} vectors")
    words = safeformat.decode_strings(blob, offsets, bad)
    for name, a in arrays.items():
        if name in ("syn1neg", "syn1") and (a.dtype != np.float32 or a.shape != vectors.shape):
            raise bad(f"{name} must be float32 with shape {vectors.shape}, got {a.dtype} {a.shape}")
        if name == "counts" and (a.dtype != np.int64 or a.shape != (V,)):
            raise bad(f"counts must be int64 with shape ({V},), got {a.dtype} {a.shape}")
        if a.dtype.kind == "f":
            row = _first_nonfinite_row(a)
            if row is not None:
                raise bad(f"{name} row {row} ('{words[row]}') holds NaN or infinity")
    if len(set(words)) != len(words):
        raise bad("the word table holds a word twice")
    return header, words, arrays


def _first_nonfinite_row(a):
    """The first row of a 2-D float array holding NaN or infinity, or None (the tagger's loader
    refuses such values too)."""
    ok = np.isfinite(a).all(axis=1)
    return None if ok.all() else int(np.argmin(ok))



class FormatsMixin:
    """KeyedVectors' readers and writers (the class is in fastnlp.keyedvectors)."""

    def save_word2vec_format(self, path: PathLike, binary: bool = False) -> None:
        """word2vec.c's format: a ``V D`` header line, then per word ``word`` + space + either D
        float32 little-endian bytes and a newline (binary) or D numbers with 9 significant digits,
        which read back as the same float32 (text). Words are written as UTF-8 as they are: any
        character but ASCII whitespace, which separates the fields (word2vec.c's and the corpus
        reader's separators); U+3000, no-break spaces and the like are part of a word and read
        back by load_word2vec_format (and gensim) unchanged.

        Parameters
        ----------
        path : str or os.PathLike
            The file, written atomically.
        binary : bool
            The binary format instead of the text one.

        Raises
        ------
        ValueError
            A word that is empty or holds ASCII whitespace.
        """
        V, D = self.vectors.shape
        for i, k in enumerate(self.index_to_key):
            if not format_safe_word(k):
                raise ValueError(f"save_word2vec_format: word {i} {k!r} is empty or contains ASCII whitespace, "
                                 "which the word2vec format uses as a separator")
        with atomic_write(path, "save_word2vec_format") as f:
            f.write(f"{V} {D}\n".encode("utf-8"))
            if binary:
                vec = np.ascontiguousarray(self.vectors, dtype="<f4")
                for i, k in enumerate(self.index_to_key):
                    f.write(k.encode("utf-8") + b" " + vec[i].tobytes() + b"\n")
            else:
                # 9 significant digits read back as the same float32
                fmt = " ".join(["%.9g"] * D)
                for i, k in enumerate(self.index_to_key):
                    f.write((k + " " + fmt % tuple(self.vectors[i].tolist()) + "\n").encode("utf-8"))

    @classmethod
    def load_word2vec_format(cls: Type[KV], path: PathLike, binary: bool = False, limit: Optional[int] = None,
                             encoding: str = "utf-8", unicode_errors: str = "strict") -> KV:
        """Reads word2vec.c's text or binary format (as written by word2vec.c, gensim or
        save_word2vec_format); `limit` reads only the first words. ValueError naming the file and
        the line or word on a malformed file: a header line that is not ``V D`` (read at most
        1 KiB), sizes the file cannot hold (checked against its size before anything is
        allocated), undecodable words, NaN or infinite values (as the other loaders). Reads
        regular files only: their size bounds what is read.

        Parameters
        ----------
        path : str or os.PathLike
            A regular file.
        binary : bool
            The binary format instead of the text one.
        limit : int, optional
            Read only the first words (>= 0).
        encoding : str
            The words' encoding.
        unicode_errors : str
            As for bytes.decode; "strict" makes an undecodable word a ValueError.

        Returns
        -------
        KeyedVectors

        Raises
        ------
        ValueError
            A malformed file (named, with the line or word), a negative limit, or not a regular file.
        FileNotFoundError
            No file at `path`.
        """
        path = os.fspath(path)
        if limit is not None and int(limit) < 0:
            raise ValueError(f"load_word2vec_format: limit must be >= 0 or None, got {limit}")
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ValueError(f"{path}: not a regular file (the word2vec formats are read from files, whose "
                                 "size bounds the read)")
            first = f.readline(_MAX_HEADER_LINE)
            header = first.decode("ascii", errors="replace").split()
            if not first.endswith(b"\n") or len(header) != 2 or not all(h.isdigit() for h in header):
                raise ValueError(f"{path}: the first line must be 'V D' (word count and dimension), got "
                                 f"{first[:60]!r}")
            V, D = int(header[0]), int(header[1])
            if D <= 0:
                raise ValueError(f"{path}: the dimension must be > 0, got {D}")
            n = V if limit is None else min(V, int(limit))
            # The smallest row: a 1-byte word, a space and 4*D bytes (binary; the newline is
            # optional), or a 1-byte word and D times ' x' (text).
            need, body = n * (4 * D + 2 if binary else 2 * D + 1), st.st_size - len(first)
            if need > body:
                raise ValueError(f"{path}: declares {V} words of {D} dimensions, at least {need} bytes for the "
                                 f"{n} words read, but {body} bytes follow the header line (truncated, or not the "
                                 f"{'binary' if binary else 'text'} format?)")
            data = f.read(body)
        words, rows = [], []
        vectors = np.empty((n, D), dtype=np.float32)

        def word(raw, where):
            try:
                return raw.decode(encoding, errors=unicode_errors)
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}: {where}: the word is not valid {encoding}: {e.reason} at byte "
                                 f"{e.start} of {raw[:60]!r}") from None

        if binary:
            pos, nbytes = 0, 4 * D
            for i in range(n):
                while pos < len(data) and data[pos:pos + 1] in (b"\n", b" ", b"\r", b"\t"):
                    pos += 1
                sp = data.find(b" ", pos)
                if sp < 0 or sp + 1 + nbytes > len(data):
                    raise ValueError(f"{path}: truncated binary file: {V} words announced, word {i} incomplete")
                words.append(word(data[pos:sp], f"word {i} at byte {len(first) + pos}"))
                vectors[i] = np.frombuffer(data, dtype="<f4", count=D, offset=sp + 1)
                rows.append(f"word {i}")
                pos = sp + 1 + nbytes
        else:
            i = 0
            for lineno, line in enumerate(data.split(b"\n"), 2):
                if i == n:
                    break
                line = line.rstrip()
                if not line:
                    continue
                parts = line.split(b" ")
                if len(parts) != D + 1:
                    raise ValueError(f"{path}:{lineno}: expected a word and {D} numbers, got {len(parts)} fields "
                                     "(is this really the text format?)")
                words.append(word(parts[0], f"line {lineno}"))
                try:
                    vectors[i] = np.array(parts[1:], dtype=np.float32)
                except ValueError:
                    raise ValueError(f"{path}:{lineno}: a vector entry is not a number") from None
                rows.append(f"line {lineno}")
                i += 1
            if i < n:
                raise ValueError(f"{path}: {V} words announced, only {i} found")
        bad = _first_nonfinite_row(vectors)
        if bad is not None:
            raise ValueError(f"{path}: {rows[bad]} ('{words[bad]}') holds NaN or infinity")
        with safeformat.wrap_errors(path, lambda why: ValueError(f"{path}: {why}")):
            return cls(words, vectors)

    def save(self, path: PathLike) -> None:
        """Writes the vectors (and counts) in fastnlp's safe format, atomically.

        The format is a safetensors file with a JSON header and CRC-32s (``fastnlp.safeformat``):
        no code runs on load, and :meth:`load` can map it with ``mmap="r"``.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write; an existing regular file is replaced atomically.

        Raises
        ------
        ValueError
            When something other than a regular file is at `path`.
        """
        arrays = {"vectors": np.ascontiguousarray(self.vectors, dtype=np.float32)}
        if self.counts is not None:
            arrays["counts"] = self.counts
        save_npz(path, {"kind": "keyedvectors", "vector_size": self.vector_size, "count": len(self)},
                 self.index_to_key, arrays)

    @classmethod
    def load(cls: Type[KV], path: PathLike, mmap: Optional[str] = None) -> KV:
        """Reads fastnlp's format: a KeyedVectors file, or a Word2Vec model's word vectors.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save` or ``Word2Vec.save`` (also the .npz files of
            fastnlp <= 0.1).
        mmap : {None, "r"}
            None reads the vectors into memory. ``"r"`` maps them from the file, read-only and
            without a copy (as gensim's ``mmap="r"``); the file is still fully checked (sizes,
            CRC-32s, finite values) before the vectors are returned. An old .npz file is read
            into memory.

        Returns
        -------
        KeyedVectors

        Raises
        ------
        FileNotFoundError
            When `path` does not exist.
        ValueError
            Naming the file and the problem, for anything but a valid fastnlp vectors file.
        """
        _, words, arrays = load_npz(path, mmap)
        return cls(words, arrays["vectors"], arrays.get("counts"))

