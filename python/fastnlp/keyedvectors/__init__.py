"""Word vectors keyed by word: lookup, nearest neighbours, analogies (3CosAdd / 3CosMul, Levy &
Goldberg 2014) and the standard evaluations (Google analogies, word-similarity Spearman rho).

Formats: word2vec's text and binary formats (readable and writable by word2vec.c and gensim's
``KeyedVectors.load_word2vec_format``) and fastnlp's own safe format (safeformat.py: safetensors
plus a versioned JSON header, written atomically, memory-mappable). ``Word2Vec`` keeps its
training state in the same format.

A package of one class, KeyedVectors, split by job: storage and lookup here, the similarity queries
in _similarity.py, the evaluations in _evaluation.py, the file formats in _formats.py (each a mixin
of KeyedVectors). Everything is imported from here: ``fastnlp.keyedvectors.KeyedVectors``.
"""

from typing import Iterable, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from .. import safeformat
# The mixins, and the names this module held before it became a package (Word2Vec and the tests
# import some of them from here).
from ._evaluation import CorrelationResult, EvaluationMixin, correlation_pvalue, spearman  # noqa: F401
from ._formats import (FORMAT_NAME, FORMAT_SPACE, FORMAT_VERSION, FormatsMixin, PathLike,  # noqa: F401
                       _first_nonfinite_row, format_safe_word, load_npz, save_npz)
from ._similarity import Neighbours, SimilarityMixin, WordOrVector, WordsOrVectors  # noqa: F401

__all__ = ["CorrelationResult", "KeyedVectors", "load_vectors"]


class KeyedVectors(SimilarityMixin, EvaluationMixin, FormatsMixin):
    """Vectors (V, D) float32 keyed by word.

    ``kv["king"]`` is the row (a view), ``kv[["a", "b"]]`` a (2, D) copy; ``"king" in kv``;
    ``kv.get_index("king")``; ``kv.vectors`` is the matrix itself (a view of a model's word
    vectors when it comes from ``Word2Vec.wv``). Unknown words raise KeyError naming the word.

    Parameters
    ----------
    keys : iterable of str
        The words, distinct; a word's row is its position.
    vectors : array_like
        (V, D), one row per key; converted to float32 (kept without a copy when it is float32).
    counts : array_like, optional
        (V,) word counts, kept as int64.

    Raises
    ------
    ValueError
        vectors not 2-D, a key count that differs from the rows, or a duplicate key.
    TypeError
        A key that is not a str.
    """

    def __init__(self, keys: Iterable[str], vectors: ArrayLike, counts: Optional[ArrayLike] = None) -> None:
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
        self.norms = None  # (V,) L2 lengths, by fill_norms
        self._normed = None

    # -- lookup ---------------------------------------------------------------------------------
    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def __iter__(self):
        return iter(self.index_to_key)

    def get_index(self, key: str) -> int:
        """The row of `key` (``index`` is the same method).

        Parameters
        ----------
        key : str
            A word.

        Returns
        -------
        int
            Its row in ``vectors``.

        Raises
        ------
        KeyError
            `key` is not in the vocabulary (named).
        TypeError
            `key` is not hashable.
        """
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

    def get_vector(self, key: str, norm: bool = False) -> np.ndarray:
        """The vector of a word.

        Parameters
        ----------
        key : str
            A word.
        norm : bool
            The unit-length vector (a row of get_normed_vectors) instead of the raw one.

        Returns
        -------
        numpy.ndarray
            float32 (D,), a view.

        Raises
        ------
        KeyError
            `key` is not in the vocabulary.
        """
        i = self.get_index(key)
        return self.get_normed_vectors()[i] if norm else self.vectors[i]

    def __repr__(self):
        return f"KeyedVectors({len(self)} words, {self.vector_size} dims)"

    # -- norms: the unit vectors the similarity queries use ------------------------------------
    def invalidate_norms(self) -> None:
        """Call after the vectors changed in place (Word2Vec.train does)."""
        self._normed = None
        self.norms = None

    def fill_norms(self, force: bool = False) -> None:
        """Computes ``norms`` (V,), the L2 length of every vector, unless already there (gensim's name).

        Parameters
        ----------
        force : bool
            Recompute them (after the vectors changed in place).
        """
        if force or self.norms is None or self.norms.shape != (len(self.vectors),):
            self.norms = np.linalg.norm(self.vectors, axis=1)
            self._normed = None

    def get_normed_vectors(self) -> np.ndarray:
        """(V, D) unit-length copy of the vectors (zero vectors stay zero), cached.

        Returns
        -------
        numpy.ndarray
            float32 (V, D).
        """
        self.fill_norms()
        if self._normed is None or self._normed.shape != self.vectors.shape:
            self._normed = (self.vectors / np.maximum(self.norms, 1e-12)[:, None]).astype(np.float32)
        return self._normed

    def add_vectors(self, keys: Union[str, Sequence[str]], weights: ArrayLike, replace: bool = False) -> None:
        """Appends words with their vectors (gensim's add_vectors). A word already present keeps its
        vector unless replace=True. The vectors matrix is reallocated (a Word2Vec's ``wv`` no longer
        matches its model afterwards); counts, when kept, are 0 for the new words.

        Parameters
        ----------
        keys : str or list of str
            The words; no word twice.
        weights : array_like
            Their vectors, shape (len(keys), D) (or (D,) for one word).
        replace : bool
            Overwrite the vectors of words already present.

        Raises
        ------
        ValueError
            Wrong shape, a word given twice, or a vector holding NaN or infinity.
        TypeError
            A key that is not a str.
        """
        if isinstance(keys, str):
            keys = [keys]
        keys = list(keys)
        w = np.asarray(weights, dtype=np.float32)
        if w.ndim == 1 and len(keys) == 1:
            w = w.reshape(1, -1)
        if w.shape != (len(keys), self.vector_size):
            raise ValueError(f"add_vectors: weights must have shape (len(keys), vector_size) = "
                             f"({len(keys)}, {self.vector_size}), got {w.shape}")
        seen = set()
        for i, k in enumerate(keys):
            if not isinstance(k, str):
                raise TypeError(f"add_vectors: keys must be str, got {type(k).__name__} at {i}")
            if k in seen:
                raise ValueError(f"add_vectors: the key '{k}' is given twice")
            seen.add(k)
        bad = _first_nonfinite_row(w)
        if bad is not None:
            raise ValueError(f"add_vectors: the vector of '{keys[bad]}' holds NaN or infinity")
        new = [i for i, k in enumerate(keys) if k not in self.key_to_index]
        old = [i for i, k in enumerate(keys) if k in self.key_to_index]
        if replace and old:
            self.vectors[[self.key_to_index[keys[i]] for i in old]] = w[old]
        if new:
            for i in new:
                self.key_to_index[keys[i]] = len(self.index_to_key)
                self.index_to_key.append(keys[i])
            self.vectors = np.concatenate([self.vectors, w[new]])
            if self.counts is not None:
                self.counts = np.concatenate([self.counts, np.zeros(len(new), np.int64)])
        self.invalidate_norms()

    def add_vector(self, key: str, vector: ArrayLike) -> int:
        """Appends one word (gensim's add_vector); a word already present keeps its vector.

        Parameters
        ----------
        key : str
            The word.
        vector : array_like
            Its vector, (D,).

        Returns
        -------
        int
            The word's row.

        Raises
        ------
        ValueError, TypeError
            As add_vectors.
        """
        self.add_vectors([key], np.asarray(vector, dtype=np.float32).reshape(1, -1))
        return self.key_to_index[key]

    def __setitem__(self, keys, weights):
        """``kv["w"] = vector`` or ``kv[["a", "b"]] = (2, D)``: add_vectors with replace=True."""
        self.add_vectors(keys, weights, replace=True)

    # -- plots --------------------------------------------------------------------------------
    def plot_embedding(self, words: Sequence[str], path: PathLike, method: str = "pca", title: Optional[str] = None,
                       seed: int = 0) -> str:
        """Saves a 2-D map of the vectors of `words` (needs matplotlib: ``fastnlp[plots]``), drawn by
        fastnlp.plots.plot_embedding, which documents `path`, `method`, `title` and `seed`.

        Parameters
        ----------
        words : list of str
            At least 2 words in the vocabulary, which label the points.

        Returns
        -------
        str
            The image file written.

        Raises
        ------
        KeyError
            A word not in the vocabulary (ValueError, ImportError: as plot_embedding).
        """
        from ..plots import plot_embedding

        words = [words] if isinstance(words, str) else list(words)
        return plot_embedding(self[words], words, path, method=method, title=title, seed=seed)


def load_vectors(path: PathLike, fmt: str = "auto") -> KeyedVectors:
    """KeyedVectors from a word2vec binary/text file or a fastnlp file (format sniffed when auto).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    fmt : {"auto", "fastnlp", "binary", "text"}
        The format; "auto" reads the first 4 KiB to tell them apart (fastnlp's header, else NUL
        bytes or invalid UTF-8 after the header line mean binary).

    Returns
    -------
    KeyedVectors

    Raises
    ------
    FileNotFoundError
        No file at `path`.
    ValueError
        A malformed file (see KeyedVectors.load and load_word2vec_format).
    """
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
