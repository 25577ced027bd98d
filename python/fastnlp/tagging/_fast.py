"""The window tagger's inference path in C++: token features and window-network tag scores.

``Featurizer`` gives exactly the ids of ``features.featurize_ref`` (the spec) from the C++
featurizer; ``window_scores`` runs the SENNA window network (embedding lookup, hard-tanh hidden
layer, linear output) over a ragged batch. Both release the GIL for their work.
"""

import numpy as np

from .. import _C
from .features import check_family


class Featurizer:
    """Maps sentences (lists of str tokens) to feature ids, one column per family.

    families: names ("word", "caps", "suffixN", "prefixN", N in 1..9); lexicons[f]: the entries of
    family f in id order starting at id 2 (ids 0 and 1 are PADDING and UNKNOWN); the lexicon of
    caps is ignored (pass []). The lexicons are hashed once, here.

    Tokens holding lone surrogates (e.g. decoded with errors="surrogateescape") are encoded with
    "surrogatepass" (lexicon entries too), so they get the same ids as in featurize_ref.
    """

    def __init__(self, families, lexicons):
        families = list(families)
        for family in families:
            if not isinstance(family, str):
                raise TypeError(f"Featurizer: families must be str, got {type(family).__name__}")
            check_family(family)
        self.families = families
        self._impl = _C.Featurizer(families, list(lexicons))

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


def window_scores(ids, offsets, tables, W1, b1, W2, b2, window, reference=False, out=None):
    """Tag scores (N, K) of the window network for a ragged batch.

    ids (N, F) int32 (or int64) feature ids, offsets (S + 1,) int64, tables: F arrays (V_f, D_f),
    W1 (H, window * sum D_f), b1 (H,), W2 (K, H), b2 (K,), all float32 or all float64; window odd.
    Token t's input is the concatenation over window positions t - window//2 .. t + window//2 of
    its families' embeddings (id 0 outside the sentence); scores = W2 hardtanh(W1 x + b1) + b2.
    reference=True runs the scalar C++ reference instead (for tests).
    """
    for name, a, ndim in (("ids", ids, 2), ("W1", W1, 2), ("W2", W2, 2)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"window_scores: {name} must be a NumPy array, got {type(a).__name__}")
        if a.ndim != ndim:
            raise ValueError(f"window_scores: {name} must be {ndim}-D, got shape {a.shape} ({a.ndim}-D) "
                             f"dtype {a.dtype}")
    if not isinstance(tables, (list, tuple)):
        raise TypeError(f"window_scores: tables must be a list of 2-D arrays (one per family), "
                        f"got {type(tables).__name__}")
    if out is None:
        out = np.empty((ids.shape[0], W2.shape[0]), dtype=W1.dtype)
    _C.window_scores(ids, offsets, list(tables), W1, b1, W2, b2, out, int(window), reference)
    return out
