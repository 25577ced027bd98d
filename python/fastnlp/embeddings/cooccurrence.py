"""Word-context co-occurrence counts of a corpus file (one sentence per line, whitespace tokens):
a symmetric window, optionally weighted by 1/distance, over the words seen min_count times. The
counting is multi-threaded C++ (csrc/models/cooccurrence.cpp) in bounded memory: past `memory_mb`
the counts spill, hash-partitioned, to shard files that are merged at the end."""

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from .. import _C
from ._progress import progress_bar


@dataclass
class CSRMatrix:
    """A SciPy-free CSR matrix: row r holds columns indices[indptr[r]:indptr[r + 1]] (ascending)
    with values data[...]; ``to_scipy()`` makes a scipy.sparse.csr_matrix of the same arrays.

    Parameters
    ----------
    indptr : numpy.ndarray
        int64 (R + 1): row r's entries are positions indptr[r] to indptr[r + 1] of indices and data.
    indices : numpy.ndarray
        int32 (nnz): the column of each entry, ascending within a row.
    data : numpy.ndarray
        float32 (nnz): the value of each entry.
    shape : tuple of int
        (R, C).
    """

    indptr: np.ndarray   # int64 (R + 1)
    indices: np.ndarray  # int32 (nnz)
    data: np.ndarray     # float32 (nnz)
    shape: tuple

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[0])

    def to_scipy(self):
        """The same matrix as scipy.sparse.csr_matrix (shares the arrays; needs SciPy)."""
        import scipy.sparse

        return scipy.sparse.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape, copy=False)

    def toarray(self) -> np.ndarray:
        """The dense (R, C) array (for small matrices and tests)."""
        out = np.zeros(self.shape, dtype=self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out

    def transpose(self) -> "CSRMatrix":
        """The (C, R) transpose, in CSR (columns ascending in each row)."""
        rows = np.repeat(np.arange(self.shape[0], dtype=np.int32), np.diff(self.indptr))
        order = np.argsort(self.indices, kind="stable")  # stable: rows stay ascending within a column
        counts = np.bincount(self.indices, minlength=self.shape[1])
        indptr = np.zeros(self.shape[1] + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return CSRMatrix(indptr, rows[order], self.data[order], (self.shape[1], self.shape[0]))

    def matmul(self, X: np.ndarray) -> np.ndarray:
        """self @ X for a dense X (C, K) of the data's dtype, through fastnlp's C++ kernel."""
        X = np.ascontiguousarray(X, dtype=self.data.dtype)
        if X.ndim != 2 or X.shape[0] != self.shape[1]:
            raise ValueError(f"CSRMatrix.matmul: X must have shape ({self.shape[1]}, K), got {X.shape}")
        Y = np.empty((self.shape[0], X.shape[1]), dtype=X.dtype)
        _C.csr_matmul(self.indptr, self.indices, self.data, X, Y)
        return Y


@dataclass
class Cooccurrences:
    """Co-occurrence counts: ``matrix[w, c]`` is how often (or, with distance weighting, how
    strongly) context word c occurred within the window of word w. ``words`` and ``counts`` are
    the vocabulary (ids = positions, by descending count); ``stats`` says what counting saw.

    Parameters
    ----------
    words : list of str
        The vocabulary; a word's id is its position.
    counts : numpy.ndarray
        The count of each word, descending.
    matrix : CSRMatrix
        (V, V) co-occurrence counts, row = word, column = context word.
    window : int
        The window (words on each side) counting used.
    distance_weighting : bool
        Whether a context word at distance d counted 1 / d rather than 1.
    stats : dict
        What counting saw (tokens, pairs, ...).
    """

    words: List[str]
    counts: np.ndarray
    matrix: CSRMatrix
    window: int
    distance_weighting: bool
    stats: Dict[str, Any] = field(default_factory=dict)

    def scipy(self):
        """``matrix`` as scipy.sparse.csr_matrix (needs SciPy)."""
        return self.matrix.to_scipy()


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"cooccurrence_matrix: {name} must be an int, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"cooccurrence_matrix: {name} must be >= {low}, got {value}")
    return int(value)


def build_vocab(corpus_path: str, min_count: int, max_vocab_size: Optional[int] = None):
    """(words, counts, total_tokens) of a corpus file: the words seen at least min_count times, by
    descending count (ties by first appearance), counted by word2vec's C++ counter."""
    counter = _C.VocabCounter(max_vocab_size or 0)
    counter.count_file(corpus_path)
    words, counts = counter.finalize(min_count)
    if counter.total_words == 0:
        raise ValueError(f"corpus_path: the corpus {corpus_path} has no tokens")
    if not words:
        raise ValueError(f"min_count: min_count={min_count} removes every word of {corpus_path} "
                         f"({counter.distinct} distinct words)")
    return list(words), np.asarray(counts, dtype=np.int64), int(counter.total_words)


def cooccurrence_matrix(corpus_path: str, window: int = 5, min_count: int = 5, distance_weighting: bool = False,
                        threads: Optional[int] = None, memory_mb: Optional[float] = None,
                        max_vocab_size: Optional[int] = None, tmp_dir: Optional[str] = None,
                        shards: Optional[int] = None, progress: bool = True) -> Cooccurrences:
    """Counts word-context co-occurrences in a corpus file.

    Each line is a sentence of whitespace-separated tokens; tokens outside the vocabulary (seen
    fewer than min_count times) are dropped first, then every pair of words at distance
    1..window in a line adds 1 (or 1/distance) to both matrix[w, c] and matrix[c, w].

    Parameters
    ----------
    corpus_path : str
        A UTF-8 text file, one sentence per line.
    window : int
        The largest distance counted (>= 1; at most 20 with distance_weighting).
    min_count : int
        Words seen fewer times are left out of the vocabulary (>= 1).
    distance_weighting : bool
        Add 1/distance instead of 1 (GloVe's weighting). Counts stay exact: they are summed as
        integers in units of 1/lcm(1..window) and rounded to float32 once.
    threads : int, optional
        Counting threads (default: fastnlp's thread count).
    memory_mb : float, optional
        Budget in MiB of the counting hash maps, all threads together (each map holds at least
        1024 slots of 16 bytes); past it the counts spill to shard
        files in tmp_dir and are merged at the end, one shard per thread at a time. None: no
        limit. The returned matrix itself (12 bytes per non-zero) is outside the budget.
    max_vocab_size : int, optional
        Prune rare words while counting the vocabulary beyond this many distinct words.
    tmp_dir : str, optional
        Where the shard files go (default: the system's temporary folder); removed afterwards.
    shards : int, optional
        Number of shard files K (default 4 x threads, at least 16).
    progress : bool
        Show a tqdm bar (bytes read, then shards merged).

    Returns
    -------
    Cooccurrences
        words, counts, a V x V CSRMatrix (float32 values, symmetric) and counting stats.

    Raises
    ------
    ValueError
        A bad argument (named), an empty corpus or a min_count that leaves no word.
    OSError
        The corpus cannot be read or the shard files cannot be written.
    """
    if not isinstance(corpus_path, (str, os.PathLike)):
        raise TypeError(f"cooccurrence_matrix: corpus_path must be a path, got {type(corpus_path).__name__}")
    corpus_path = os.fspath(corpus_path)
    if not os.path.isfile(corpus_path):
        raise FileNotFoundError(f"cooccurrence_matrix: corpus_path {corpus_path!r} is not a file")
    window = _check_int("window", window, 1)
    if distance_weighting and window > 20:
        raise ValueError(f"cooccurrence_matrix: window must be <= 20 with distance_weighting, got {window}")
    min_count = _check_int("min_count", min_count, 1)
    threads = 0 if threads is None else _check_int("threads", threads, 1)
    if memory_mb is not None and (isinstance(memory_mb, bool) or not isinstance(memory_mb, (int, float, np.number))
                                  or not memory_mb > 0):
        raise ValueError(f"cooccurrence_matrix: memory_mb must be a number > 0 (or None: no limit), got {memory_mb!r}")
    memory_bytes = 0 if memory_mb is None else max(1, int(memory_mb * (1 << 20)))
    shards = 0 if shards is None else _check_int("shards", shards, 1)
    if tmp_dir is not None and not os.path.isdir(tmp_dir):
        raise ValueError(f"cooccurrence_matrix: tmp_dir {tmp_dir!r} is not a folder")
    words, counts, _ = build_vocab(corpus_path, min_count, max_vocab_size)
    vocab = _C.Vocab(words, counts)
    size = os.path.getsize(corpus_path)
    bar = progress_bar(size, "co-occurrences", progress, unit="B", unit_scale=True)
    state = {"phase": 0}

    def report(done, total, phase):
        if phase != state["phase"]:
            bar.close()
            state["phase"] = phase
            state["bar"] = progress_bar(total, "merging shards", progress, unit="step")
        b = state.get("bar", bar)
        b.update(max(0, done - b.n))

    try:
        indptr, indices, data, stats = _C.count_cooccurrences(
            corpus_path, vocab, window=window, distance_weighting=bool(distance_weighting), threads=threads,
            memory_bytes=memory_bytes, shards=shards, tmp_dir=tmp_dir or "", progress=report)
    finally:
        bar.close()
        if "bar" in state:
            state["bar"].close()
    V = len(words)
    return Cooccurrences(words, counts, CSRMatrix(indptr, indices, data, (V, V)), window, bool(distance_weighting),
                         dict(stats))
