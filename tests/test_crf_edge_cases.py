"""Linear-chain CRF at its edges (fastnlp.ops.crf_nll, crf_nll_backward, viterbi_decode): Viterbi
ties go to the lowest id (and agree with brute force), empty batches and sentences, forbidden (-inf)
transitions, NaN scores propagating without a crash; fast kernels and the C++ reference alike.

Tolerances: those of test_crf.py (step_tol, rounding in crf_oracles.py).
"""

import numpy as np
import pytest

from fastnlp import ops
from crf_oracles import (assert_per_sentence, brute_force, make_batch, np_crf, ref_backward, ref_nll,
                         ref_viterbi, rounding, step_tol)


# ---- Viterbi ties ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_viterbi_ties_go_to_the_lowest_id(dtype, reference):
    # Every path scores 0: the lowest id everywhere.
    K, lens = 5, [3, 1, 4]
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    z = np.zeros((offsets[-1], K), dtype)
    zt, zs = np.zeros((K, K), dtype), np.zeros(K, dtype)
    fn = ref_viterbi if reference else lambda *a: ops.viterbi_decode(*a)
    tags, best = fn(z, offsets, zt, zs)
    np.testing.assert_array_equal(tags, 0)
    np.testing.assert_array_equal(best, 0)
    # Two best paths, (1, 0) and (0, 1): the last tag decides first (0), then its best
    # predecessor (1); lexicographic order from the start would give (0, 1).
    x = np.array([[0, 0], [0, 0]], dtype)
    T = np.array([[0, 1], [1, 0]], dtype)
    tags, best = fn(x, np.array([0, 2], np.int64), T, np.zeros(2, dtype))
    assert list(tags) == [1, 0] and best[0] == 1


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_viterbi_ties_against_brute_force(dtype, reference, rng):
    """Small integer scores make many exact ties; the chosen path is, of all best paths, the
    smallest compared from the last position backwards."""
    K, lens = 3, [3, 2, 4, 1, 3, 4, 2, 3]
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    fn = ref_viterbi if reference else lambda *a: ops.viterbi_decode(*a)
    for _ in range(20):
        x = rng.integers(0, 2, (offsets[-1], K)).astype(dtype)
        T = rng.integers(0, 2, (K, K)).astype(dtype)
        st = rng.integers(0, 2, K).astype(dtype)
        tags, best = fn(x, offsets, T, st)
        for s in range(len(lens)):
            a, b = offsets[s], offsets[s + 1]
            _, want_best, paths = brute_force(x[a:b].astype(np.float64), T.astype(np.float64),
                                              st.astype(np.float64))
            assert best[s] == want_best
            assert tuple(tags[a:b]) == min(paths, key=lambda p: p[::-1])


# ---- edge values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_batches(dtype):
    K = 4
    z = np.zeros((0, K), dtype)
    T, st = np.ones((K, K), dtype), np.ones(K, dtype)
    none = np.zeros(0, np.int32)
    for offsets in (np.array([0], np.int64), np.array([0, 0, 0], np.int64)):
        S = len(offsets) - 1
        np.testing.assert_array_equal(ops.crf_nll(z, offsets, none, T, st), np.zeros(S))
        dx, dT, dst = ops.crf_nll_backward(z, offsets, none, T, st, np.ones(S, dtype))
        assert dx.shape == (0, K)
        np.testing.assert_array_equal(dT, 0)
        np.testing.assert_array_equal(dst, 0)
        tags, best = ops.viterbi_decode(z, offsets, T, st)
        assert tags.shape == (0,) and best.shape == (S,)
        np.testing.assert_array_equal(best, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forbidden_transitions(dtype, rng):
    """-inf transitions (e.g. BIO constraints) are legal: no NaN, zero gradient on the forbidden
    entries, and Viterbi never takes one."""
    K = 5
    lens = [4, 1, 7, 0, 3]
    scores, offsets, _, trans, start = make_batch(rng, lens, K, dtype)
    forbidden = rng.random((K, K)) < 0.4
    np.fill_diagonal(forbidden, False)  # every tag may follow itself: there is always a path
    trans[forbidden] = -np.inf
    tags, best = ops.viterbi_decode(scores, offsets, trans, start)
    for s in range(len(lens)):
        y = tags[offsets[s]:offsets[s + 1]]
        assert not forbidden[y[:-1], y[1:]].any()
    assert np.isfinite(best).all()
    g = np.ones(len(lens), dtype)
    nll = ops.crf_nll(scores, offsets, tags, trans, start)
    want, (wx, wT, wst) = np_crf(scores, offsets, tags, trans, start, g)
    assert np.isfinite(nll).all()
    assert_per_sentence(nll, want, offsets, dtype, 2.0, "nll")
    dx, dT, dst = ops.crf_nll_backward(scores, offsets, tags, trans, start, g)
    assert np.isfinite(dx).all() and np.isfinite(dT).all() and np.isfinite(dst).all()
    np.testing.assert_array_equal(dT[forbidden], 0)
    np.testing.assert_allclose(dT, wT, atol=step_tol(scores.shape[0], dtype))
    np.testing.assert_allclose(ref_nll(scores, offsets, tags, trans, start), want, **rounding(dtype))
    # A gold path through a forbidden transition has probability 0: nll = +inf.
    bad_tags = tags.copy()
    i, j = np.argwhere(forbidden)[0]
    bad_tags[:2] = [i, j]
    assert ops.crf_nll(scores, offsets, bad_tags, trans, start)[0] == np.inf


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_propagates_without_crashing(dtype, reference, rng):
    """NaN is not rejected: it makes its own sentence's nll and gradients NaN, leaves the other
    sentences alone, and Viterbi still returns ids in [0, K)."""
    K, lens = 4, [3, 5, 2]
    scores, offsets, tags, trans, start = make_batch(rng, lens, K, dtype)
    nll_fn, backward_fn, viterbi_fn = ((ref_nll, ref_backward, ref_viterbi) if reference else
                                       (ops.crf_nll, ops.crf_nll_backward, ops.viterbi_decode))
    g = np.ones(3, dtype)
    clean = (nll_fn(scores, offsets, tags, trans, start),
             *backward_fn(scores, offsets, tags, trans, start, g))
    scores[offsets[1] + 2, 1] = np.nan  # in sentence 1
    nll = nll_fn(scores, offsets, tags, trans, start)
    dx, dT, dst = backward_fn(scores, offsets, tags, trans, start, g)
    vtags, _ = viterbi_fn(scores, offsets, trans, start)
    assert np.isnan(nll[1]) and not np.isnan(nll[[0, 2]]).any()
    np.testing.assert_array_equal(nll[[0, 2]], clean[0][[0, 2]])
    s1 = slice(offsets[1], offsets[2])
    assert np.isnan(dx[s1]).all()
    np.testing.assert_array_equal(np.delete(dx, np.arange(offsets[1], offsets[2]), axis=0),
                                  np.delete(clean[1], np.arange(offsets[1], offsets[2]), axis=0))
    assert np.isnan(dT).any()
    assert ((vtags >= 0) & (vtags < K)).all()
