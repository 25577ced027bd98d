"""Word vectors keyed by word: lookup, nearest neighbours, analogies (3CosAdd / 3CosMul, Levy &
Goldberg 2014) and the standard evaluations (Google analogies, word-similarity Spearman rho).

Formats: word2vec's text and binary formats (readable and writable by word2vec.c and gensim's
``KeyedVectors.load_word2vec_format``) and fastnlp's own safe format (safeformat.py: safetensors
plus a versioned JSON header, written atomically, memory-mappable). ``Word2Vec`` keeps its
training state in the same format.
"""

import collections
import logging
import math
import os
import stat

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import safeformat
from ._atomic import atomic_write

PathLike = Union[str, os.PathLike]
WordOrVector = Union[str, np.ndarray]
WordsOrVectors = Union[WordOrVector, Sequence[WordOrVector], None]
Neighbours = Union[List[Tuple[str, float]], np.ndarray]

__all__ = ["CorrelationResult", "KeyedVectors", "load_vectors"]

logger = logging.getLogger(__name__)

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


CorrelationResult = collections.namedtuple("CorrelationResult", ["statistic", "pvalue"])
CorrelationResult.__doc__ = """A correlation and its two-sided p-value, indexable as scipy.stats'
PearsonRResult / SignificanceResult (``r[0]``, ``r[1]``) which gensim's evaluate_word_pairs returns."""


def _betacf(a, b, x, eps=1e-15, tiny=1e-300, max_iter=10000):
    """The continued fraction of the incomplete beta function (modified Lentz, Numerical Recipes 6.4)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def _betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b) for a, b > 0, x in [0, 1]."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def correlation_pvalue(r: float, n: int) -> float:
    """Two-sided p-value of a correlation r over n pairs under independence: t = r sqrt((n-2) /
    (1-r^2)) with n-2 degrees of freedom, i.e. I_{1-r^2}((n-2)/2, 1/2), what scipy's pearsonr
    (exact for normal data) and spearmanr (the t approximation) report.

    Parameters
    ----------
    r : float
        The correlation, in [-1, 1].
    n : int
        The number of pairs it was computed on.

    Returns
    -------
    float
        The p-value; NaN when n < 3 or r is not finite.
    """
    if n < 3 or not math.isfinite(r):
        return float("nan")
    return _betainc((n - 2) / 2.0, 0.5, max(0.0, 1.0 - r * r))


class KeyedVectors:
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

    # -- similarity -----------------------------------------------------------------------------
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

    def _as_unit(self, item):
        if isinstance(item, str):
            return self.get_normed_vectors()[self.get_index(item)]
        v = self._as_vector(item)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def _as_vector(self, item):
        v = np.asarray(item, dtype=np.float32)
        if v.shape != (self.vector_size,):
            raise ValueError(f"expected a word or a vector of shape ({self.vector_size},), got shape {v.shape}")
        return v

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words.

        Parameters
        ----------
        w1, w2 : str
            Words in the vocabulary.

        Returns
        -------
        float
            The cosine of their vectors.

        Raises
        ------
        KeyError
            A word not in the vocabulary.
        """
        n = self.get_normed_vectors()
        return float(n[self.get_index(w1)] @ n[self.get_index(w2)])

    def distance(self, w1: str, w2: str) -> float:
        """Cosine distance of two words, ``1 - similarity(w1, w2)`` (gensim's name).

        Parameters
        ----------
        w1, w2 : str
            Words in the vocabulary.

        Returns
        -------
        float
            1 - their cosine.

        Raises
        ------
        KeyError
            A word not in the vocabulary.
        """
        return 1.0 - self.similarity(w1, w2)

    def distances(self, word_or_vector: Union[str, np.ndarray], other_words: Sequence[str] = ()) -> np.ndarray:
        """Cosine distances computed as gensim does, ``1 - (W @ v) / (|v| |W_i|)`` on the raw vectors.

        Parameters
        ----------
        word_or_vector : str or ndarray
            A word, or a vector of shape (D,).
        other_words : sequence of str
            The words to measure; empty: every word in vocabulary order (itself included).

        Returns
        -------
        numpy.ndarray
            float32 distances, NaN where a vector is zero (as gensim).

        Raises
        ------
        KeyError
            A word not in the vocabulary.
        ValueError
            A vector of another shape.
        """
        v = self.vectors[self.get_index(word_or_vector)] if isinstance(word_or_vector, str) \
            else self._as_vector(word_or_vector)
        if other_words is None or len(other_words) == 0:
            others, norms = self.vectors, self._norms_filled()
        else:
            others = self.vectors[[self.get_index(w) for w in other_words]]
            norms = np.linalg.norm(others, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1 - (others @ v) / (np.linalg.norm(v) * norms)

    def _norms_filled(self):
        self.fill_norms()
        return self.norms

    def closer_than(self, key1: str, key2: str) -> List[str]:
        """The words closer (cosine, see distances) to `key1` than `key2` is, in vocabulary order,
        `key1` left out (gensim's name).

        Parameters
        ----------
        key1, key2 : str
            Words in the vocabulary.

        Returns
        -------
        list of str
            The words closer to `key1` than `key2`.

        Raises
        ------
        KeyError
            A word not in the vocabulary.
        """
        return [self.index_to_key[i] for i in self._closer(key1, key2)]

    def rank(self, key1: str, key2: str) -> int:
        """1 + the number of words closer to `key1` than `key2` (gensim's rank: 1 for the nearest).

        Parameters
        ----------
        key1, key2 : str
            Words in the vocabulary.

        Returns
        -------
        int
            The rank of `key2` among `key1`'s neighbours, from 1.

        Raises
        ------
        KeyError
            A word not in the vocabulary.
        """
        return len(self._closer(key1, key2)) + 1

    def _closer(self, key1, key2):
        d = self.distances(key1)
        i1, i2 = self.get_index(key1), self.get_index(key2)
        closer = d < d[i2]
        closer[i1] = False
        return np.flatnonzero(closer)

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

    def most_similar(self, positive: WordsOrVectors = None, negative: WordsOrVectors = None,
                     topn: Optional[int] = 10, restrict_vocab: Optional[int] = None) -> Neighbours:
        """The topn words closest (cosine) to the mean of the unit vectors of `positive` minus those
        of `negative` (words or vectors), the given words excluded: [(word, cosine), ...].
        topn=None: the cosines (float32, vocabulary order, nothing excluded) as gensim returns them.

        Parameters
        ----------
        positive : str, ndarray or list of them, optional
            Words or (D,) vectors added.
        negative : str, ndarray or list of them, optional
            Words or (D,) vectors subtracted.
        topn : int or None
            How many words; None: every cosine.
        restrict_vocab : int, optional
            Search only the first words (the most frequent).

        Returns
        -------
        list of (str, float) or numpy.ndarray
            The best words, best first; or the cosines when topn is None.

        Raises
        ------
        ValueError
            Neither positive nor negative words, or a vector of another shape than (D,).
        KeyError
            A word not in the vocabulary.
        """
        pos, neg = _ensure_list(positive), _ensure_list(negative)
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
        return scores if topn is None else self._top(scores, exclude, topn)

    def similar_by_word(self, word: str, topn: Optional[int] = 10,
                        restrict_vocab: Optional[int] = None) -> Neighbours:
        """``most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)`` (gensim's name;
        ``similar_by_key`` is the same method).

        Parameters
        ----------
        word : str
            A word in the vocabulary.
        topn, restrict_vocab
            As for most_similar.

        Returns
        -------
        list of (str, float) or numpy.ndarray
            As most_similar.

        Raises
        ------
        KeyError
            `word` is not in the vocabulary.
        """
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word

    def similar_by_vector(self, vector: np.ndarray, topn: Optional[int] = 10,
                          restrict_vocab: Optional[int] = None) -> Neighbours:
        """The topn words closest (cosine) to `vector`: ``most_similar(positive=[vector], ...)``.

        Parameters
        ----------
        vector : numpy.ndarray
            (D,).
        topn, restrict_vocab
            As for most_similar.

        Returns
        -------
        list of (str, float) or numpy.ndarray
            As most_similar.

        Raises
        ------
        ValueError
            A vector whose shape is not (D,).
        """
        return self.most_similar(positive=[self._as_vector(vector)], topn=topn, restrict_vocab=restrict_vocab)

    def most_similar_cosmul(self, positive: WordsOrVectors = None, negative: WordsOrVectors = None,
                            topn: Optional[int] = 10, restrict_vocab: Optional[int] = None) -> Neighbours:
        """Levy & Goldberg (2014)'s 3CosMul generalized, as gensim's most_similar_cosmul: the words
        maximizing prod_p cos'(w, p) / (prod_n cos'(w, n) + 1e-6) with cos' = (1 + cos) / 2.

        Parameters
        ----------
        positive : str, ndarray or list of them
            At least one word or vector (vectors are normalized first; gensim uses them as given).
        negative : str, ndarray or list of them, optional
            Words or vectors in the denominator.
        topn : int or None
            How many words; None: every score (float64, vocabulary order, nothing excluded).
        restrict_vocab : int, optional
            Search only the first words.

        Returns
        -------
        list of (str, float) or numpy.ndarray
            The best words, the given words excluded, best first.

        Raises
        ------
        ValueError
            No positive word.
        KeyError
            A word not in the vocabulary.
        """
        pos, neg = _ensure_list(positive), _ensure_list(negative)
        if not pos:
            raise ValueError("most_similar_cosmul: positive must hold at least one word or vector")
        n = self.get_normed_vectors()[:self._limit(restrict_vocab)]

        def shifted(items):
            return [(1.0 + n @ self._as_unit(it)) / 2.0 for it in items]

        scores = np.prod(shifted(pos), axis=0) / (np.prod(shifted(neg), axis=0) + 1e-6)
        if topn is None:
            return scores
        return self._top(scores, {self.get_index(it) for it in pos + neg if isinstance(it, str)}, topn)

    def doesnt_match(self, words: Iterable[str]) -> str:
        """The word furthest (cosine) from the normalized mean of the words' unit vectors (gensim's
        doesnt_match: unknown words are ignored with a warning; equal scores go to the smallest word).

        Parameters
        ----------
        words : iterable of str
            The words to compare.

        Returns
        -------
        str
            The odd one out.

        Raises
        ------
        ValueError
            None of the words is in the vocabulary.
        """
        words = [words] if isinstance(words, str) else list(words)
        used = [w for w in words if w in self.key_to_index]
        if len(used) != len(words):
            logger.warning("doesnt_match: ignoring words not in the vocabulary: %s",
                           sorted(set(words) - set(used), key=str))
        if not used:
            raise ValueError("doesnt_match: none of the words given is in the vocabulary")
        v = self.get_normed_vectors()[[self.key_to_index[w] for w in used]]
        mean = self.get_mean_vector(v, pre_normalize=False, post_normalize=True)
        return min(zip((v @ mean).tolist(), used))[1]

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine similarity of the means of the raw vectors of two lists of words (gensim's: words
        not in the vocabulary are ignored; a side with none known has similarity 0).

        Parameters
        ----------
        ws1, ws2 : list of str
            The two lists of words (a str counts as a list of one).

        Returns
        -------
        float
            The cosine of the two means.

        Raises
        ------
        ZeroDivisionError
            A list is empty (gensim's exception).
        """
        ws1, ws2 = ([ws] if isinstance(ws, str) else list(ws) for ws in (ws1, ws2))
        if not ws1 or not ws2:
            raise ZeroDivisionError(f"n_similarity: ws1 and ws2 must both hold words, got {len(ws1)} and "
                                    f"{len(ws2)}")
        m1, m2 = (self.get_mean_vector(ws, pre_normalize=False, post_normalize=True) for ws in (ws1, ws2))
        return float(m1 @ m2)

    def get_mean_vector(self, keys: Union[WordOrVector, Sequence[WordOrVector], np.ndarray],
                        weights: Optional[ArrayLike] = None, pre_normalize: bool = True, post_normalize: bool = False,
                        ignore_missing: bool = True) -> np.ndarray:
        """The weighted mean (float32, D) of words and/or vectors, divided by the sum of |weights|
        of the keys used (gensim's get_mean_vector).

        Parameters
        ----------
        keys : list of str or ndarray
            Words (looked up) and vectors of shape (D,) (used as given).
        weights : sequence of float, optional
            One weight per key (default 1).
        pre_normalize : bool
            Use the words' unit vectors (vectors given as arrays are never normalized).
        post_normalize : bool
            Return the mean scaled to unit length (a zero mean stays zero).
        ignore_missing : bool
            Skip words not in the vocabulary; False raises KeyError naming the word.

        Returns
        -------
        numpy.ndarray
            The mean vector, float32 of shape (D,).

        Raises
        ------
        ValueError
            When keys is empty or weights has another length.
        KeyError
            A word not in the vocabulary, with ignore_missing=False.
        """
        keys = [keys] if isinstance(keys, str) else list(keys)
        if not keys:
            raise ValueError("get_mean_vector: keys is empty (cannot compute a mean of nothing)")
        weights = np.ones(len(keys), np.float32) if weights is None else np.asarray(weights, np.float32)
        if weights.shape != (len(keys),):
            raise ValueError(f"get_mean_vector: weights must hold one number per key ({len(keys)}), got shape "
                             f"{weights.shape}")
        mean = np.zeros(self.vector_size, np.float32)
        total = 0.0
        for w, key in zip(weights, keys):
            if isinstance(key, str):
                if key not in self.key_to_index:
                    if ignore_missing:
                        continue
                    self.get_index(key)  # raises the KeyError naming it
                vec = self.get_vector(key, norm=pre_normalize)
            else:
                vec = self._as_vector(key)
            mean += w * vec
            total += abs(float(w))
        if total > 0:
            mean /= np.float32(total)
        if post_normalize:
            mean /= max(float(np.linalg.norm(mean)), 1e-12)
        return mean

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

    def analogy(self, a: str, b: str, c: str, topn: int = 1, method: str = "3cosadd",
                restrict_vocab: Optional[int] = None) -> List[Tuple[str, float]]:
        """a is to b as c is to ?: 3CosAdd argmax cos(d, b) - cos(d, a) + cos(d, c), or 3CosMul
        argmax cos'(d, b) cos'(d, c) / (cos'(d, a) + 1e-3) with cos' = (cos + 1) / 2 (Levy &
        Goldberg 2014); a, b, c excluded. [(word, score), ...].

        Parameters
        ----------
        a, b, c : str
            Words in the vocabulary.
        topn : int
            How many answers.
        method : {"3cosadd", "3cosmul"}
            The score.
        restrict_vocab : int, optional
            Search only the first words (the most frequent).

        Returns
        -------
        list of (str, float)
            The best answers, best first.

        Raises
        ------
        KeyError
            A word not in the vocabulary.
        ValueError
            An unknown method.
        """
        ia, ib, ic = self.get_index(a), self.get_index(b), self.get_index(c)
        limit = self._limit(restrict_vocab)
        n = self.get_normed_vectors()[:limit]
        full = self.get_normed_vectors()
        scores = _analogy_scores(n, full[[ia]], full[[ib]], full[[ic]], method)[0]
        return self._top(scores, {ia, ib, ic}, topn)

    # -- evaluation -----------------------------------------------------------------------------
    def _fold_index(self, limit, case_insensitive, fold=str.lower):
        """word -> row among the first `limit`; case-insensitive keeps the most frequent spelling."""
        table = {}
        for i in range(limit - 1, -1, -1):
            k = self.index_to_key[i]
            table[fold(k) if case_insensitive else k] = i
        return table

    def _analogy_sections(self, path, table, fold, strict):
        """The questions of an analogy file by section: [{"section", "words": [(a, b, c, d)],
        "rows": [row ids, or None when a word is not in `table`]}] and the number of questions.
        strict: a line that is not 4 words is a ValueError; otherwise skipped (gensim's)."""
        sections, current, questions = [], None, 0
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                if line.startswith(":"):
                    current = {"section": line[1:].strip(), "words": [], "rows": []}
                    sections.append(current)
                    continue
                parts = [fold(w) for w in line.split()]
                if len(parts) != 4:
                    if strict:
                        raise ValueError(f"{path}:{lineno}: an analogy line has 4 words, got {len(parts)}: {line!r}")
                    logger.info("skipping line %d of %s: not 4 words", lineno, path)
                    continue
                if current is None:
                    current = {"section": "(no section)", "words": [], "rows": []}
                    sections.append(current)
                questions += 1
                ids = [table.get(w) for w in parts]
                current["words"].append(tuple(parts))
                current["rows"].append(None if None in ids else ids)
        return sections, questions

    def _analogy_hits(self, rows, limit, method, batch_size, spellings=None, eps=1e-3):
        """Whether each question (Q, 4) of row ids is answered right: the best-scoring word among the
        first `limit`, a, b and c excluded. spellings (limit,): each row's canonical row (its
        most frequent spelling); when given, every spelling of a, b and c is excluded and any
        spelling of d counts as right (gensim's case-insensitive protocol)."""
        n = self.get_normed_vectors()[:limit]
        rows = np.asarray(rows, dtype=np.int64).reshape(-1, 4)
        hits = np.zeros(len(rows), dtype=bool)
        for s in range(0, len(rows), batch_size):
            r = rows[s:s + batch_size]
            scores = _analogy_scores(n, n[r[:, 0]], n[r[:, 1]], n[r[:, 2]], method, eps)
            j = np.arange(len(r))
            for col in range(3):
                if spellings is None:
                    scores[j, r[:, col]] = -np.inf
                else:
                    scores[spellings[None, :] == r[:, col, None]] = -np.inf
            best = scores.argmax(axis=1)
            hits[s:s + batch_size] = (best if spellings is None else spellings[best]) == r[:, 3]
        return hits

    def evaluate_analogies(self, path: PathLike, restrict_vocab: Optional[int] = 30000, method: str = "3cosadd",
                           case_insensitive: bool = True, batch_size: int = 1024) -> Dict[str, Any]:
        """Accuracy on analogy questions in the Google ``questions-words.txt`` format
        (``: section`` lines, then ``a b c d``), with the usual protocol: only the first
        `restrict_vocab` words are searched, questions using any other word are skipped (counted
        as out-of-vocabulary), a, b and c are excluded from the answers.

        Parameters
        ----------
        path : str or os.PathLike
            The analogy file (UTF-8).
        restrict_vocab : int, optional
            Search only the first words; None: all of them.
        method : {"3cosadd", "3cosmul"}
            The score (see analogy).
        case_insensitive : bool
            Compare lower-cased words (a word's most frequent spelling stands for it).
        batch_size : int
            Questions scored per matrix product.

        Returns
        -------
        dict
            {"sections": [{"section", "correct", "total", "accuracy"}], "total": {...},
            "questions", "oov_questions", "oov_rate", "accuracy_all" (correct / all questions),
            "restrict_vocab", "method"}.

        Raises
        ------
        ValueError
            An unknown method, or a line that is not 4 words.
        """
        if method not in ("3cosadd", "3cosmul"):
            raise ValueError(f"evaluate_analogies: method must be '3cosadd' or '3cosmul', got {method!r}")
        limit = self._limit(restrict_vocab)
        fold = str.lower if case_insensitive else str
        sections, questions = self._analogy_sections(path, self._fold_index(limit, case_insensitive), fold, True)
        out, correct_all, total_all = [], 0, 0
        for sec in sections:
            rows = [r for r in sec["rows"] if r is not None]
            correct = int(self._analogy_hits(rows, limit, method, batch_size).sum())
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

    def evaluate_word_analogies(self, analogies: PathLike, restrict_vocab: int = 300000, case_insensitive: bool = True,
                                dummy4unknown: bool = False, similarity_function: str = "most_similar",
                                batch_size: int = 1024) -> Tuple[float, List[dict]]:
        """gensim's evaluate_word_analogies: the evaluate_analogies protocol with gensim's return
        value and case handling (words compared upper-cased; every spelling of a, b, c excluded).

        Parameters
        ----------
        analogies : str or os.PathLike
            A ``questions-words.txt``-style file; lines that are not 4 words are skipped.
        restrict_vocab : int
            Only the first words are searched; questions using others are out-of-vocabulary.
        case_insensitive : bool
            Compare upper-cased words, each taking its most frequent spelling's vector.
        dummy4unknown : bool
            Count out-of-vocabulary questions as incorrect instead of skipping them.
        similarity_function : {"most_similar", "most_similar_cosmul"}
            3CosAdd, or 3CosMul with most_similar_cosmul's 1e-6 (gensim accepts the name and
            always uses most_similar).

        Returns
        -------
        score : float
            Accuracy over all the questions evaluated (0.0 when none).
        sections : list of dict
            Per section ``{"section", "correct": [(a, b, c, d)], "incorrect": [...]}``, then
            ``"Total accuracy"`` over all of them.

        Raises
        ------
        ValueError
            An unknown similarity_function.
        OSError
            The file cannot be read.
        """
        methods = {"most_similar": ("3cosadd", 1e-3), "most_similar_cosmul": ("3cosmul", 1e-6)}
        if similarity_function not in methods:
            raise ValueError(f"evaluate_word_analogies: similarity_function must be 'most_similar' or "
                             f"'most_similar_cosmul', got {similarity_function!r}")
        method, eps = methods[similarity_function]
        limit = self._limit(restrict_vocab)
        fold = str.upper if case_insensitive else str
        table = self._fold_index(limit, case_insensitive, str.upper)
        spellings = np.array([table[fold(k)] for k in self.index_to_key[:limit]], dtype=np.int64)
        sections, questions = self._analogy_sections(analogies, table, fold, False)
        out, oov = [], 0
        for sec in sections:
            known = [i for i, r in enumerate(sec["rows"]) if r is not None]
            hits = self._analogy_hits([sec["rows"][i] for i in known], limit, method, batch_size, spellings, eps)
            right = set(np.asarray(known)[hits].tolist()) if known else set()
            oov += len(sec["rows"]) - len(known)
            rows = range(len(sec["rows"])) if dummy4unknown else known
            out.append({"section": sec["section"], "correct": [sec["words"][i] for i in rows if i in right],
                        "incorrect": [sec["words"][i] for i in rows if i not in right]})
        total = {"section": "Total accuracy", "correct": [q for s in out for q in s["correct"]],
                 "incorrect": [q for s in out for q in s["incorrect"]]}
        out.append(total)
        n_eval = len(total["correct"]) + len(total["incorrect"])
        logger.info("analogies: %d of %d questions have out-of-vocabulary words", oov, questions)
        return (len(total["correct"]) / n_eval if n_eval else 0.0), out

    def _pair_scores(self, path, table, fold, delimiter, strict, dummy4unknown=False):
        """(human scores, model cosines, pairs read, pairs with an unknown word) of a word-pair file
        (``w1 w2 score`` per line, ``#`` comments). delimiter None: a tab if the line has one,
        else whitespace. strict: a malformed line is a ValueError; otherwise skipped (gensim's).
        dummy4unknown: a pair with an unknown word scores 0 instead of being left out."""
        n = self.get_normed_vectors()
        human, model, total, oov = [], [], 0, 0
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if delimiter is None:
                    parts = line.split("\t") if "\t" in line else line.split()
                else:
                    parts = line.split(delimiter)
                try:
                    if len(parts) < 3 or (not strict and len(parts) != 3):
                        raise ValueError(f"{path}:{lineno}: expected 'word1 word2 score', got {line!r}")
                    try:
                        score = float(parts[2])
                    except ValueError:
                        raise ValueError(f"{path}:{lineno}: the score {parts[2]!r} is not a number") from None
                except ValueError:
                    if strict:
                        raise
                    logger.info("skipping invalid line %d of %s", lineno, path)
                    continue
                w1, w2 = fold(parts[0].strip()), fold(parts[1].strip())
                total += 1
                i1, i2 = table.get(w1), table.get(w2)
                if i1 is None or i2 is None:
                    oov += 1
                    if dummy4unknown:
                        human.append(score)
                        model.append(0.0)
                    continue
                human.append(score)
                model.append(float(n[i1] @ n[i2]))
        return human, model, total, oov

    def evaluate_similarity(self, path: PathLike, case_insensitive: bool = True,
                            restrict_vocab: Optional[int] = None) -> Dict[str, float]:
        """Spearman rho between human scores and cosine similarities on word pairs (``w1 w2 score``
        per line, tab- or space-separated, ``#`` comments), e.g. WordSim-353. Pairs with an
        unknown word are skipped and counted.

        Parameters
        ----------
        path : str or os.PathLike
            The pairs file (UTF-8).
        case_insensitive : bool
            Compare lower-cased words.
        restrict_vocab : int, optional
            Use only the first words; None: all of them.

        Returns
        -------
        dict
            {"spearman", "pearson", "pairs", "oov", "oov_rate"}; the correlations are NaN with
            fewer than 2 pairs.
        """
        limit = self._limit(restrict_vocab)
        fold = str.lower if case_insensitive else str
        human, model, total, oov = self._pair_scores(path, self._fold_index(limit, case_insensitive), fold, None, True)
        pearson = float(np.corrcoef(human, model)[0, 1]) if len(human) > 1 else float("nan")
        return {"spearman": spearman(human, model) if len(human) > 1 else float("nan"), "pearson": pearson,
                "pairs": len(human), "oov": oov, "oov_rate": oov / total if total else 0.0}

    def evaluate_word_pairs(self, pairs: PathLike, delimiter: str = "\t", encoding: str = "utf8",
                            restrict_vocab: int = 300000,
                            case_insensitive: bool = True,
                            dummy4unknown: bool = False) -> Tuple["CorrelationResult", "CorrelationResult", float]:
        """gensim's evaluate_word_pairs: correlation of the model's cosines with human similarity
        scores (the evaluate_similarity protocol, words compared upper-cased).

        Parameters
        ----------
        pairs : str or os.PathLike
            ``w1<delimiter>w2<delimiter>score`` per line, ``#`` comments; other lines are skipped.
        delimiter : str
            The field separator (a tab by default).
        encoding : str
            Only UTF-8 (or its aliases) is read.
        restrict_vocab : int
            Words beyond the first `restrict_vocab` count as unknown.
        case_insensitive : bool
            Compare upper-cased words, each taking its most frequent spelling's vector.
        dummy4unknown : bool
            Pairs with an unknown word get similarity 0 instead of being left out.

        Returns
        -------
        pearson : CorrelationResult
            (statistic, two-sided p-value), as scipy's pearsonr.
        spearman : CorrelationResult
            (statistic, two-sided p-value), as scipy's spearmanr.
        oov_ratio : float
            Percentage of pairs with an unknown word (of the pairs used when dummy4unknown).

        Raises
        ------
        ValueError
            No pair could be scored, or an encoding other than UTF-8.
        """
        if encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
            raise ValueError(f"evaluate_word_pairs: only UTF-8 files are read, got encoding={encoding!r}")
        limit = self._limit(restrict_vocab)
        fold = str.upper if case_insensitive else str
        human, model, _, oov = self._pair_scores(pairs, self._fold_index(limit, case_insensitive, str.upper), fold,
                                                  delimiter, False, dummy4unknown)
        if not human:
            raise ValueError(f"evaluate_word_pairs: no valid similarity judgement in {pairs}: a malformed file, "
                             "or every pair has an unknown word")
        n = len(human)
        r_p = float(np.corrcoef(human, model)[0, 1]) if n > 1 else float("nan")
        r_s = spearman(human, model) if n > 1 else float("nan")
        oov_ratio = 100.0 * oov / n if dummy4unknown else 100.0 * oov / (n + oov)
        logger.info("word pairs: pearson %.4f, spearman %.4f, %.1f%% with unknown words", r_p, r_s, oov_ratio)
        return (CorrelationResult(r_p, correlation_pvalue(r_p, n)), CorrelationResult(r_s, correlation_pvalue(r_s, n)),
                oov_ratio)

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
        from .plots import plot_embedding

        words = [words] if isinstance(words, str) else list(words)
        return plot_embedding(self[words], words, path, method=method, title=title, seed=seed)

    # -- formats --------------------------------------------------------------------------------
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
    def load_word2vec_format(cls, path: PathLike, binary: bool = False, limit: Optional[int] = None,
                             encoding: str = "utf-8", unicode_errors: str = "strict") -> "KeyedVectors":
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
        try:
            return cls(words, vectors)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

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
    def load(cls, path: PathLike, mmap: Optional[str] = None) -> "KeyedVectors":
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


def _ensure_list(x):
    """A word or 1-D vector as a one-item list; None as []; rows of a 2-D array; a list as is."""
    if x is None:
        return []
    if isinstance(x, str) or (isinstance(x, np.ndarray) and x.ndim == 1):
        return [x]
    return list(x)


def _analogy_scores(n, a, b, c, method, eps=1e-3):
    """Scores (Q, V) of every word in n (V, D, unit rows) for questions with unit vectors a, b, c (Q, D);
    eps: 3CosMul's guard against a zero denominator."""
    if method == "3cosadd":
        return (b - a + c) @ n.T
    if method == "3cosmul":
        ca, cb, cc = ((x @ n.T + 1.0) * 0.5 for x in (a, b, c))
        return cb * cc / (ca + eps)
    raise ValueError(f"analogy method must be '3cosadd' or '3cosmul', got {method!r}")


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
