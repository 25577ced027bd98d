"""Linear-chain CRF over a ragged batch of sentences: the sentence-level log-likelihood of the
SENNA taggers (Collobert et al. 2011) with its gradient, and Viterbi decoding. NumPy arrays run
the C++ kernels (float32 or float64), CuPy arrays the CUDA ones (float32).

Layout: ``scores`` (N, K) holds the tag scores of all tokens of all sentences; ``offsets`` (S+1,)
int64 with offsets[0] = 0, non-decreasing, offsets[S] = N, sentence s being rows
offsets[s]:offsets[s+1] (empty sentences are legal: nll 0, best score 0); ``tags`` (N,) int32 in
[0, K); ``transitions`` (K, K) indexed [from, to]; ``start`` (K,). A path y over a sentence of
length L scores start[y0] + scores[0, y0] + sum_{t>=1} (transitions[y_{t-1}, y_t] + scores[t, y_t]);
there are no end scores.

NaN in the scores or parameters is not rejected: it propagates into that sentence's nll and
gradients, and Viterbi still returns tag ids in [0, K) (which path is then unspecified).
-inf transitions (forbidden moves) are fine; a sentence with no allowed path has log Z = -inf.
"""

from __future__ import annotations

from typing import Tuple

from .. import _C
from ._util import Array, empty, shape_of


def _num_sentences(op, offsets):
    (n,) = shape_of(op, "offsets", offsets, 1)
    if n < 1:
        raise ValueError(f"{op}: offsets must have S+1 >= 1 entries (offsets[0] = 0), got shape ({n},)")
    return n - 1


def crf_nll(scores: Array, offsets: Array, tags: Array, transitions: Array, start: Array) -> Array:
    """Per-sentence negative log-likelihood ``log Z - score(gold path)``, by the forward algorithm in
    log space (layout: this module's docstring).

    Parameters
    ----------
    scores : array
        (N, K) tag scores of all tokens, float32 or float64.
    offsets : array
        (S + 1,) int64 sentence boundaries.
    tags : array
        (N,) int32 gold tags in [0, K).
    transitions : array
        (K, K) scores indexed [from, to].
    start : array
        (K,) scores of the first tag.

    Returns
    -------
    array
        (S,) nll, scores' dtype and device.
    """
    op = "crf_nll"
    shape_of(op, "scores", scores, 2)
    nll = empty(scores, (_num_sentences(op, offsets),))
    _C.crf_nll(scores, offsets, tags, transitions, start, nll)
    return nll


def crf_nll_backward(scores: Array, offsets: Array, tags: Array, transitions: Array, start: Array,
                     grad_nll: Array) -> Tuple[Array, Array, Array]:
    """Gradients of ``sum_s grad_nll[s] * nll[s]``: forward-backward marginals minus the gold path's
    indicators.

    Parameters
    ----------
    scores, offsets, tags, transitions, start : array
        As for :func:`crf_nll`.
    grad_nll : array
        (S,) weight of each sentence's nll.

    Returns
    -------
    dscores : array
        (N, K).
    dtransitions : array
        (K, K).
    dstart : array
        (K,).
    """
    op = "crf_nll_backward"
    N, K = shape_of(op, "scores", scores, 2)
    _num_sentences(op, offsets)
    dscores = empty(scores, (N, K))
    dtransitions = empty(scores, (K, K))
    dstart = empty(scores, (K,))
    _C.crf_nll_backward(scores, offsets, tags, transitions, start, grad_nll, dscores, dtransitions,
                        dstart)
    return dscores, dtransitions, dstart


def viterbi_decode(scores: Array, offsets: Array, transitions: Array, start: Array) -> Tuple[Array, Array]:
    """Best tag path per sentence.

    Ties go to the lowest tag id: the last tag is the lowest id among the best final tags, and
    each earlier tag the lowest id among the best predecessors of the tag after it (of all best
    paths, the smallest compared from the last position backwards).

    Parameters
    ----------
    scores, offsets, transitions, start : array
        As for :func:`crf_nll` (-inf transitions forbid moves).

    Returns
    -------
    tags : array
        (N,) int32.
    best_scores : array
        (S,) the best path's score per sentence.
    """
    op = "viterbi_decode"
    N, _ = shape_of(op, "scores", scores, 2)
    best = empty(scores, (_num_sentences(op, offsets),))
    tags = empty(scores, (N,), dtype="int32")
    _C.viterbi_decode(scores, offsets, transitions, start, tags, best)
    return tags, best
