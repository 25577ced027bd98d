"""word2vec: one SGD step of each update (skip-gram / CBOW, negative sampling / hierarchical
softmax, shared or separate output vectors) against a NumPy transcription with injected window and
negatives, the saturated-score rule, and the step's bad input.

Tolerances: one step in float32 against float64 NumPy within atol 1e-6 + rtol 1e-5 (the dot
products are length D <= 100, fast_expf is within 2 ulp); losses within rtol 1e-5.
"""

import numpy as np
import pytest

from fastnlp import _C

STEP_TOL = dict(rtol=1e-5, atol=1e-6)
SATURATED = 6.0  # |score| beyond which an output gets no update (gensim's rule); its loss counts


# ---------------------------------------------------------------------------------------------
# NumPy transcription of one step (float64).

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_predict(xs, W, out, labels, alpha, dx):
    """xs (C, D) inputs as on entry; W updated in place; dx (C, D) accumulates. Returns the loss."""
    S = np.array([[x @ W[o] for o in out] for x in xs]).reshape(len(xs), len(out))
    G = np.zeros_like(S)
    loss = 0.0
    for m, y in enumerate(labels):
        if y < 0:
            continue
        G[:, m] = np.where(np.abs(S[:, m]) < SATURATED, alpha * (y - _sigmoid(S[:, m])), 0.0)  # saturated: no update
        loss += np.logaddexp(0, -S[:, m] if y else S[:, m]).sum()
    for m, y in enumerate(labels):
        if y < 0:
            continue
        dx += G[:, m, None] * W[out[m]][None, :]
        W[out[m]] += G[:, m] @ xs
    return loss


def np_step(syn0, syn1neg, syn1, centre, context, negatives, codes, points, alpha, sg, cbow_mean, shared):
    syn0 = syn0.astype(np.float64)
    syn1neg = None if syn1neg is None else syn1neg.astype(np.float64)
    syn1 = None if syn1 is None else syn1.astype(np.float64)
    D = syn0.shape[1]

    def outputs(x, negs, dx):
        loss = 0.0
        if negs is not None:
            out = [centre] + list(negs)
            labels = [1] + [-1 if n == centre else 0 for n in negs]
            loss += _np_predict(x, syn1neg, out, labels, alpha, dx)
        if codes is not None:
            loss += _np_predict(x, syn1, list(points), [1 - int(c) for c in codes], alpha, dx)
        return loss

    loss = 0.0
    if sg and shared:
        xs = syn0[context].copy()
        dx = np.zeros_like(xs)
        loss += outputs(xs, None if negatives is None else negatives[0], dx)
        for c, w in enumerate(context):
            syn0[w] += dx[c]
    elif sg:
        for c, w in enumerate(context):
            dx = np.zeros((1, D))
            loss += outputs(syn0[[w]].copy(), None if negatives is None else negatives[c], dx)
            syn0[w] += dx[0]
    else:
        h = syn0[context].sum(axis=0)
        if cbow_mean:
            h /= len(context)
        dx = np.zeros((1, D))
        loss += outputs(h[None, :], None if negatives is None else negatives[0], dx)
        for w in context:
            syn0[w] += dx[0]
    return syn0, syn1neg, syn1, loss


def _params(V, D, rng, scale=0.5):
    return tuple((rng.standard_normal((V, D)) * scale).astype(np.float32) for _ in range(3))


STEP_CASES = [
    # (sg, shared, cbow_mean, use_ns, use_hs)
    (True, False, True, True, False),   # skip-gram, negative sampling
    (False, False, True, True, False),  # CBOW mean, negative sampling
    (False, False, False, True, False), # CBOW sum
    (True, False, True, False, True),   # skip-gram, hierarchical softmax
    (False, False, True, False, True),  # CBOW, hierarchical softmax
    (True, False, True, True, True),    # both losses share the input gradient
    (True, True, True, True, False),    # skip-gram with negatives shared by the window
    (True, True, True, True, True),
]


@pytest.mark.parametrize("sg,shared,cbow_mean,use_ns,use_hs", STEP_CASES)
@pytest.mark.parametrize("D", [1, 3, 7, 16, 17, 33, 100])
def test_one_step_matches_numpy(sg, shared, cbow_mean, use_ns, use_hs, D, rng):
    V, K, alpha = 23, 5, 0.05
    syn0, syn1neg, syn1 = _params(V, D, rng)
    centre = 4
    context = np.array([7, 1, 7, 12], dtype=np.int32)  # a repeated context word
    rows = len(context) if (sg and not shared) else 1
    negatives = rng.integers(0, V, size=(rows, K)).astype(np.int32) if use_ns else None
    if use_ns:
        negatives[0, 1] = centre  # skipped, as in word2vec.c
        negatives[0, 3] = negatives[0, 2]  # a repeated noise word
    offsets, codes_all, points_all = _C.huffman_tree(rng.integers(1, 100, size=V))
    codes = codes_all[offsets[centre]:offsets[centre + 1]] if use_hs else None
    points = points_all[offsets[centre]:offsets[centre + 1]] if use_hs else None
    ref = np_step(syn0, syn1neg if use_ns else None, syn1 if use_hs else None, centre, context, negatives, codes,
                  points, alpha, sg, cbow_mean, shared)
    loss = _C.word2vec_step(syn0, syn1neg, syn1, centre, context, negatives, codes, points, alpha=alpha, sg=sg,
                            cbow_mean=cbow_mean, shared_negatives=shared, window=5)
    np.testing.assert_allclose(syn0, ref[0], **STEP_TOL)
    if use_ns:
        np.testing.assert_allclose(syn1neg, ref[1], **STEP_TOL)
    if use_hs:
        np.testing.assert_allclose(syn1, ref[2], **STEP_TOL)
    np.testing.assert_allclose(loss, ref[3], rtol=1e-5)


def test_one_step_saturated_scores_give_no_update_but_count_in_the_loss():
    # Scores of 960: no update (gensim's rule); the loss is the linear tail, without overflow.
    D, V = 8, 5
    syn0 = np.full((V, D), 10.0, np.float32)
    syn1neg = np.full((V, D), 12.0, np.float32)
    before = syn0.copy(), syn1neg.copy()
    ref = np_step(syn0, syn1neg, None, 0, np.array([1], np.int32), np.array([[2]], np.int32), None, None, 0.025,
                  True, True, False)
    loss = _C.word2vec_step(syn0, syn1neg, None, 0, np.array([1], np.int32), np.array([[2]], np.int32), alpha=0.025)
    np.testing.assert_array_equal(syn0, before[0])
    np.testing.assert_array_equal(syn1neg, before[1])
    np.testing.assert_allclose(loss, ref[3], rtol=1e-5)
    assert loss == pytest.approx(960.0, rel=1e-5)


def test_one_step_bad_input():
    syn0 = np.zeros((5, 4), np.float32)
    s1 = np.zeros((5, 4), np.float32)
    ctx = np.array([1], np.int32)
    with pytest.raises(TypeError, match="word2vec_step: syn0 must be float32, got float64"):
        _C.word2vec_step(syn0.astype(np.float64), s1, None, 0, ctx, np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match=r"word2vec_step: negatives must have shape \(1, \*\)"):
        _C.word2vec_step(syn0, s1, None, 0, ctx, np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match=r"word2vec_step: negatives must be in \[0, 5\)"):
        _C.word2vec_step(syn0, s1, None, 0, ctx, np.array([[1, 9]], np.int32))
    with pytest.raises(ValueError, match=r"word2vec_step: centre must be in \[0, 5\), got 5"):
        _C.word2vec_step(syn0, s1, None, 5, ctx, np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match="read-only"):
        ro = syn0.copy()
        ro.flags.writeable = False
        _C.word2vec_step(ro, s1, None, 0, ctx, np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match="nothing to train"):
        _C.word2vec_step(syn0, s1, None, 0, ctx, None)
