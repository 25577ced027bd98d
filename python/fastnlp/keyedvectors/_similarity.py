"""KeyedVectors' similarity queries: cosines over the unit vectors (KeyedVectors.get_normed_vectors),
nearest neighbours, analogies (3CosAdd / 3CosMul, Levy & Goldberg 2014) and the gensim names for the same
(distances, closer_than, rank, most_similar_cosmul, doesnt_match, n_similarity, get_mean_vector).
"""

import logging

from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

WordOrVector = Union[str, np.ndarray]
WordsOrVectors = Union[WordOrVector, Sequence[WordOrVector], None]
Neighbours = Union[List[Tuple[str, float]], np.ndarray]

logger = logging.getLogger(__package__)  # fastnlp.keyedvectors, as before the split


class SimilarityMixin:
    """The similarity queries of KeyedVectors (the class is in fastnlp.keyedvectors)."""

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

