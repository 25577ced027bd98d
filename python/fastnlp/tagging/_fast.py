"""The window tagger's inference path in C++: token features and window-network tag scores.

``Featurizer`` gives exactly the ids of ``features.featurize_ref`` (the spec) from the C++
featurizer; ``window_scores`` runs the SENNA window network (embedding lookup, hard-tanh hidden
layer, linear output) over a ragged batch; ``WindowScorer`` runs the same network in float32 with
the first layer's per-id contributions cached (what the Tagger uses). All release the GIL for
their work.
"""

import numpy as np

from .. import _C
from .features import check_family


class Featurizer:
    """Maps sentences (lists of str tokens) to feature ids, one column per family.

    families: names ("word", "caps", "suffixN", "prefixN", N in 1..9, "clusterN", N in 1..64);
    lexicons[f]: the entries of family f in id order starting at id 2 (ids 0 and 1 are PADDING and
    UNKNOWN); the lexicon of caps is ignored (pass []); clusters: {normalized word: Brown bit
    string} for the clusterN families. The lexicons are hashed once, here.

    Tokens holding lone surrogates (e.g. decoded with errors="surrogateescape") are encoded with
    "surrogatepass" (lexicon entries too), so they get the same ids as in featurize_ref.
    """

    def __init__(self, families, lexicons, clusters=None):
        families = list(families)
        for family in families:
            if not isinstance(family, str):
                raise TypeError(f"Featurizer: families must be str, got {type(family).__name__}")
            check_family(family)
        self.families = families
        clusters = {} if clusters is None else clusters
        if not isinstance(clusters, dict):
            raise TypeError(f"Featurizer: clusters must be a dict word -> bit string, got {type(clusters).__name__}")
        self._impl = _C.Featurizer(families, list(lexicons), list(clusters), list(clusters.values()))

    @property
    def vocab_sizes(self):
        """Ids per family, the rows its embedding table needs: entries + 2 (6 for caps)."""
        return self._impl.vocab_sizes

    def featurize(self, sentences):
        """ids int32 (N, F) and offsets int64 (S + 1,) for a list of S token lists; sentence s
        holds rows offsets[s]:offsets[s + 1]."""
        return self._impl.featurize(sentences)

    def __repr__(self):
        return f"Featurizer(families={self.families!r}, vocab_sizes={self.vocab_sizes!r})"


def _check_arrays(op, *named):
    for name, a, ndim in named:
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{op}: {name} must be a NumPy array, got {type(a).__name__}")
        if a.ndim != ndim:
            raise ValueError(f"{op}: {name} must be {ndim}-D, got shape {a.shape} ({a.ndim}-D) dtype {a.dtype}")


def _check_tables(op, tables):
    if not isinstance(tables, (list, tuple)):
        raise TypeError(f"{op}: tables must be a list of 2-D arrays (one per family), got {type(tables).__name__}")


def window_scores(ids, offsets, tables, W1, b1, W2, b2, window, reference=False, out=None):
    """Tag scores (N, K) of the window network for a ragged batch.

    ids (N, F) int32 (or int64) feature ids, offsets (S + 1,) int64, tables: F arrays (V_f, D_f),
    W1 (H, window * sum D_f), b1 (H,), W2 (K, H), b2 (K,), all float32 or all float64; window odd.
    Token t's input is the concatenation over window positions t - window//2 .. t + window//2 of
    its families' embeddings (id 0 outside the sentence); scores = W2 hardtanh(W1 x + b1) + b2.
    reference=True runs the scalar C++ reference instead (for tests).
    """
    _check_arrays("window_scores", ("ids", ids, 2), ("W1", W1, 2), ("W2", W2, 2))
    _check_tables("window_scores", tables)
    if out is None:
        out = np.empty((ids.shape[0], W2.shape[0]), dtype=W1.dtype)
    _C.window_scores(ids, offsets, list(tables), W1, b1, W2, b2, out, int(window), reference)
    return out


class WindowScorer:
    """The window network of window_scores in float32, with the first layer cached per feature id.

    The hidden layer is linear in the embeddings: W1 x_t is a sum over window positions j and
    families f of W1[:, block(j, f)] @ tables[f][id], a vector that depends on (j, f, id) only.
    Those vectors are computed here, once, for the first cache_rows[f] ids of each family (the
    frequent ones: lexicon ids are sorted by training frequency; ids 0 PADDING and 1 UNKNOWN are
    always cached); by default as many ids as fit `cache_mb` MiB, picked by expected saving. Other
    ids are embedded and projected per block of tokens. Scores equal window_scores' up to float32
    summation order.

    The scorer keeps copies of what it needs (about cache_mb plus the uncached table rows): later
    changes to the arrays it was built from do not reach it.
    """

    def __init__(self, tables, W1, b1, W2, b2, window, cache_mb=24, cache_rows=None):
        _check_arrays("WindowScorer", ("W1", W1, 2), ("W2", W2, 2))
        _check_tables("WindowScorer", tables)
        if cache_rows is not None:
            cache_rows = list(cache_rows)
        self._impl = _C.WindowScorer(list(tables), W1, b1, W2, b2, int(window), float(cache_mb), cache_rows)

    @property
    def cache_rows(self):
        """Cached ids per family: ids 0 .. cache_rows[f] - 1 of family f."""
        return self._impl.cache_rows

    @property
    def cache_bytes(self):
        return self._impl.cache_bytes

    @property
    def memory_bytes(self):
        """Everything the scorer holds: the cache, the projections, the uncached table rows, W2."""
        return self._impl.memory_bytes

    def scores(self, ids, offsets, out=None):
        """Tag scores float32 (N, K) for ids (N, F) int32/int64 and offsets (S + 1,) int64."""
        _check_arrays("WindowScorer.scores", ("ids", ids, 2))
        return self._impl.scores(ids, offsets, out)

    def predict(self, ids, offsets):
        """The best tag of each token, int32 (N,): the argmax of its scores (the first on ties)."""
        _check_arrays("WindowScorer.predict", ("ids", ids, 2))
        return self._impl.predict(ids, offsets)

    def __repr__(self):
        return (f"WindowScorer(vocab_sizes={self._impl.vocab_sizes}, window={self._impl.window}, "
                f"tags={self._impl.num_tags}, cache_rows={self.cache_rows}, cache_mb={self.cache_bytes / 2**20:.1f})")
