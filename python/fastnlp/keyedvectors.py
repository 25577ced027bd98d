"""Word vectors keyed by word: lookup, nearest neighbours, analogies (3CosAdd / 3CosMul, Levy &
Goldberg 2014) and the standard evaluations (Google analogies, word-similarity Spearman rho).

Formats: word2vec's text and binary formats (readable and writable by word2vec.c and gensim's
``KeyedVectors.load_word2vec_format``) and fastnlp's own safe format (safeformat.py: safetensors
plus a versioned JSON header, written atomically, memory-mappable). ``Word2Vec`` keeps its
training state in the same format.
"""

import os
import stat

import numpy as np

from . import safeformat
from ._atomic import atomic_write

__all__ = ["KeyedVectors", "load_vectors"]

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


def _rankdata(x):
    """Ranks 1..n with ties given their average rank (as scipy.stats.rankdata)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman(a, b):
    """Spearman's rank correlation (Pearson correlation of the tie-averaged ranks)."""
    ra, rb = _rankdata(a), _rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


class KeyedVectors:
    """Vectors (V, D) float32 keyed by word.

    ``kv["king"]`` is the row (a view), ``kv[["a", "b"]]`` a (2, D) copy; ``"king" in kv``;
    ``kv.get_index("king")``; ``kv.vectors`` is the matrix itself (a view of a model's word
    vectors when it comes from ``Word2Vec.wv``). Unknown words raise KeyError naming the word.
    """

    def __init__(self, keys, vectors, counts=None):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"KeyedVectors: vectors must be 2-D (V, D), got shape {vectors.shape}")
        if vectors.dtype != np.float32:
            vectors = vectors.astype(np.float32)
        keys = list(keys)
        if len(keys) != vectors.shape[0]:
            raise ValueError(f"KeyedVectors: {len(keys)} keys but {vectors.shape[0]} vectors")
        self.index_to_key = keys
        self.key_to_index = {}
        for i, k in enumerate(keys):
            if not isinstance(k, str):
                raise TypeError(f"KeyedVectors: keys must be str, got {type(k).__name__} at {i}")
            if k in self.key_to_index:
                raise ValueError(f"KeyedVectors: duplicate key '{k}' at {self.key_to_index[k]} and {i}")
            self.key_to_index[k] = i
        self.vectors = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self._normed = None

    # -- lookup ---------------------------------------------------------------------------------
    @property
    def vector_size(self):
        return self.vectors.shape[1]

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def __iter__(self):
        return iter(self.index_to_key)

    def get_index(self, key):
        """The row of `key`; KeyError naming it when absent."""
        try:
            return self.key_to_index[key]
        except KeyError:
            raise KeyError(f"word '{key}' not in vocabulary") from None
        except TypeError:
            raise TypeError(f"keys are str, got {type(key).__name__}") from None

    index = get_index

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.vectors[self.get_index(key)]
        return self.vectors[[self.get_index(k) for k in key]]

    def get_vector(self, key, norm=False):
        i = self.get_index(key)
        return self.get_normed_vectors()[i] if norm else self.vectors[i]

    def __repr__(self):
        return f"KeyedVectors({len(self)} words, {self.vector_size} dims)"

    # -- similarity -----------------------------------------------------------------------------
    def invalidate_norms(self):
        """Call after the vectors changed in place (Word2Vec.train does)."""
        self._normed = None

    def get_normed_vectors(self):
        """(V, D) unit-length copy of the vectors (zero vectors stay zero), cached."""
        if self._normed is None or self._normed.shape != self.vectors.shape:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._normed = (self.vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return self._normed

    def _as_unit(self, item):
        if isinstance(item, str):
            return self.get_normed_vectors()[self.get_index(item)]
        v = np.asarray(item, dtype=np.float32)
        if v.shape != (self.vector_size,):
            raise ValueError(f"expected a word or a vector of shape ({self.vector_size},), got shape {v.shape}")
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def similarity(self, w1, w2):
        """Cosine similarity of two words."""
        n = self.get_normed_vectors()
        return float(n[self.get_index(w1)] @ n[self.get_index(w2)])

    def _limit(self, restrict_vocab):
        n = len(self)
        return n if restrict_vocab is None else max(0, min(int(restrict_vocab), n))

    def _top(self, scores, exclude, topn):
        scores = scores.astype(np.float64)
        for i in exclude:
            if i < len(scores):
                scores[i] = -np.inf
        k = min(topn, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")][:k]
        return [(self.index_to_key[i], float(scores[i])) for i in best]

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """The topn words closest (cosine) to the mean of the unit vectors of `positive` minus those
        of `negative` (words or vectors), the given words excluded: [(word, cosine), ...]."""

        def as_list(x):
            if x is None:
                return []
            if isinstance(x, str) or (isinstance(x, np.ndarray) and x.ndim == 1):
                return [x]
            return list(x)

        pos, neg = as_list(positive), as_list(negative)
        if not pos and not neg:
            raise ValueError("most_similar: give at least one positive or negative word")
        mean = np.zeros(self.vector_size, dtype=np.float64)
        exclude = set()
        for items, sign in ((pos, 1.0), (neg, -1.0)):
            for it in items:
                mean += sign * self._as_unit(it)
                if isinstance(it, str):
                    exclude.add(self.get_index(it))
        norm = np.linalg.norm(mean)
        if norm > 0:
            mean /= norm
        limit = self._limit(restrict_vocab)
        scores = self.get_normed_vectors()[:limit] @ mean.astype(np.float32)
        return self._top(scores, exclude, topn)

    def analogy(self, a, b, c, topn=1, method="3cosadd", restrict_vocab=None):
        """a is to b as c is to ?: 3CosAdd argmax cos(d, b) - cos(d, a) + cos(d, c), or 3CosMul
        argmax cos'(d, b) cos'(d, c) / (cos'(d, a) + 1e-3) with cos' = (cos + 1) / 2 (Levy &
        Goldberg 2014); a, b, c excluded. [(word, score), ...]."""
        ia, ib, ic = self.get_index(a), self.get_index(b), self.get_index(c)
        limit = self._limit(restrict_vocab)
        n = self.get_normed_vectors()[:limit]
        full = self.get_normed_vectors()
        scores = _analogy_scores(n, full[[ia]], full[[ib]], full[[ic]], method)[0]
        return self._top(scores, {ia, ib, ic}, topn)

    # -- evaluation -----------------------------------------------------------------------------
    def _lower_index(self, limit, case_insensitive):
        """word -> row among the first `limit`; case-insensitive keeps the most frequent spelling."""
        table = {}
        for i in range(limit - 1, -1, -1):
            k = self.index_to_key[i]
            table[k.lower() if case_insensitive else k] = i
        return table

    def evaluate_analogies(self, path, restrict_vocab=30000, method="3cosadd", case_insensitive=True,
                           batch_size=1024):
        """Accuracy on analogy questions in the Google ``questions-words.txt`` format
        (``: section`` lines, then ``a b c d``), with the usual protocol: only the first
        `restrict_vocab` words are searched, questions using any other word are skipped (counted
        as out-of-vocabulary), a, b and c are excluded from the answers.

        Returns {"sections": [{"section", "correct", "total", "accuracy"}], "total": {...},
        "questions", "oov_questions", "oov_rate", "accuracy_all" (correct / all questions)}.
        """
        if method not in ("3cosadd", "3cosmul"):
            raise ValueError(f"evaluate_analogies: method must be '3cosadd' or '3cosmul', got {method!r}")
        limit = self._limit(restrict_vocab)
        table = self._lower_index(limit, case_insensitive)
        sections, current = [], None
        questions = 0
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                if line.startswith(":"):
                    current = {"section": line[1:].strip(), "rows": []}
                    sections.append(current)
                    continue
                parts = line.lower().split() if case_insensitive else line.split()
                if len(parts) != 4:
                    raise ValueError(f"{path}:{lineno}: an analogy line has 4 words, got {len(parts)}: {line!r}")
                if current is None:
                    current = {"section": "(no section)", "rows": []}
                    sections.append(current)
                questions += 1
                ids = [table.get(w) for w in parts]
                if None not in ids:
                    current["rows"].append(ids)
        n = self.get_normed_vectors()[:limit]
        out, correct_all, total_all = [], 0, 0
        for sec in sections:
            rows = np.array(sec["rows"], dtype=np.int64).reshape(-1, 4)
            correct = 0
            for s in range(0, len(rows), batch_size):
                r = rows[s:s + batch_size]
                scores = _analogy_scores(n, n[r[:, 0]], n[r[:, 1]], n[r[:, 2]], method)
                j = np.arange(len(r))
                for col in range(3):
                    scores[j, r[:, col]] = -np.inf
                correct += int((scores.argmax(axis=1) == r[:, 3]).sum())
            total = len(rows)
            out.append({"section": sec["section"], "correct": correct, "total": total,
                        "accuracy": correct / total if total else 0.0})
            correct_all += correct
            total_all += total
        return {
            "sections": out,
            "total": {"correct": correct_all, "total": total_all,
                      "accuracy": correct_all / total_all if total_all else 0.0},
            "questions": questions,
            "oov_questions": questions - total_all,
            "oov_rate": (questions - total_all) / questions if questions else 0.0,
            "accuracy_all": correct_all / questions if questions else 0.0,
            "restrict_vocab": limit,
            "method": method,
        }

    def evaluate_similarity(self, path, case_insensitive=True, restrict_vocab=None):
        """Spearman rho between human scores and cosine similarities on word pairs (``w1 w2 score``
        per line, tab- or space-separated, ``#`` comments), e.g. WordSim-353. Pairs with an
        unknown word are skipped and counted: {"spearman", "pearson", "pairs", "oov", "oov_rate"}."""
        limit = self._limit(restrict_vocab)
        table = self._lower_index(limit, case_insensitive)
        n = self.get_normed_vectors()
        human, model, total = [], [], 0
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split("\t") if "\t" in line else line.split()
                if len(parts) < 3:
                    raise ValueError(f"{path}:{lineno}: expected 'word1 word2 score', got {line!r}")
                w1, w2 = parts[0].strip(), parts[1].strip()
                if case_insensitive:
                    w1, w2 = w1.lower(), w2.lower()
                try:
                    score = float(parts[2])
                except ValueError:
                    raise ValueError(f"{path}:{lineno}: the score {parts[2]!r} is not a number") from None
                total += 1
                i1, i2 = table.get(w1), table.get(w2)
                if i1 is None or i2 is None:
                    continue
                human.append(score)
                model.append(float(n[i1] @ n[i2]))
        oov = total - len(human)
        pearson = float(np.corrcoef(human, model)[0, 1]) if len(human) > 1 else float("nan")
        return {"spearman": spearman(human, model) if len(human) > 1 else float("nan"), "pearson": pearson,
                "pairs": len(human), "oov": oov, "oov_rate": oov / total if total else 0.0}

    # -- formats --------------------------------------------------------------------------------
    def save_word2vec_format(self, path, binary=False):
        """word2vec.c's format: a ``V D`` header line, then per word ``word`` + space + either D
        float32 little-endian bytes and a newline (binary) or D numbers with 9 significant digits,
        which read back as the same float32 (text). Words are written as UTF-8 as they are: any
        character but ASCII whitespace, which separates the fields (word2vec.c's and the corpus
        reader's separators); U+3000, no-break spaces and the like are part of a word and read
        back by load_word2vec_format (and gensim) unchanged."""
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
    def load_word2vec_format(cls, path, binary=False, limit=None, encoding="utf-8", unicode_errors="strict"):
        """Reads word2vec.c's text or binary format (as written by word2vec.c, gensim or
        save_word2vec_format); `limit` reads only the first words. ValueError naming the file and
        the line or word on a malformed file: a header line that is not ``V D`` (read at most
        1 KiB), sizes the file cannot hold (checked against its size before anything is
        allocated), undecodable words, NaN or infinite values (as the other loaders). Reads
        regular files only: their size bounds what is read."""
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
        try:
            return cls(words, vectors)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def save(self, path):
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
    def load(cls, path, mmap=None):
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


def _analogy_scores(n, a, b, c, method):
    """Scores (Q, V) of every word in n (V, D, unit rows) for questions with unit vectors a, b, c (Q, D)."""
    if method == "3cosadd":
        return (b - a + c) @ n.T
    if method == "3cosmul":
        eps = 1e-3
        ca, cb, cc = ((x @ n.T + 1.0) * 0.5 for x in (a, b, c))
        return cb * cc / (ca + eps)
    raise ValueError(f"analogy method must be '3cosadd' or '3cosmul', got {method!r}")


def load_vectors(path, fmt="auto"):
    """KeyedVectors from a word2vec binary/text file or a fastnlp file (format sniffed when auto)."""
    if fmt == "auto":
        with open(path, "rb") as f:
            head = f.read(4096)
        if safeformat.is_safe_file(head):
            fmt = "fastnlp"
        else:
            body = head[head.find(b"\n") + 1:]
            try:
                body.decode("utf-8")
                fmt = "text" if b"\x00" not in body else "binary"
            except UnicodeDecodeError as err:
                # A cut multi-byte character at the end of the sample is still text.
                fmt = "text" if err.start >= len(body) - 3 and b"\x00" not in body else "binary"
    if fmt == "fastnlp":
        return KeyedVectors.load(path)
    return KeyedVectors.load_word2vec_format(path, binary=(fmt == "binary"))
