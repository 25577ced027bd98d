"""Linear-chain CRF (fastnlp.ops.crf_nll, crf_nll_backward, viterbi_decode): brute force over all
paths for tiny K and L, the fast kernels against the C++ reference and a NumPy transcription on
awkward ragged batches, float64 gradient checks, Viterbi ties, -inf transitions, NaN, bad input,
and the CUDA kernels against the CPU (skipped without a GPU).

Tolerances (step_tol): a result built from n token steps, each rounding values of size ~scale
(the spread of the scores), is held to atol 2e-6 * scale * (1 + n) in float32 and 1e-11 * scale *
(1 + n) in float64, against float64 NumPy: n = L for a sentence's nll, best score and dscores
rows, n = N for dtransitions / dstart (sums over the batch); per-sentence values also get rtol 1e-6
(float32) for the final rounding of a large total. The C++ reference (double accumulation) is held
to one rounding to the output dtype; brute force to 1e-12. Gradients: float64 central differences
(eps 1e-6) within rtol 1e-5, atol 1e-7. GPU against NumPy: the float32 tolerances.

Over 500 lines on purpose: one op family keeps one test file (README, Layout), so a reader finds
every check of the CRF ops in one place.
"""

import itertools

import numpy as np
import pytest

import fastnlp
from fastnlp import _C, ops
from gradcheck import assert_grad_close

K_AWKWARD = [1, 3, 7, 9, 17, 45]
LENS_AWKWARD = [0, 1, 2, 5, 33, 0, 33, 5, 1, 2, 0]


# ---- NumPy references (test oracles) --------------------------------------------------------------

def np_path_score(x, y, T, st):
    return st[y[0]] + x[0, y[0]] + sum(T[y[t - 1], y[t]] + x[t, y[t]] for t in range(1, len(y)))


def np_alpha_beta(x, T, st):
    """Log-space forward / backward tables (L, K) of one sentence, in float64."""
    x, T, st = (np.asarray(v, np.float64) for v in (x, T, st))
    L, K = x.shape
    alpha = np.empty((L, K))
    beta = np.zeros((L, K))
    alpha[0] = st + x[0]
    for t in range(1, L):
        alpha[t] = x[t] + np.logaddexp.reduce(alpha[t - 1][:, None] + T, axis=0)
    for t in range(L - 2, -1, -1):
        beta[t] = np.logaddexp.reduce(T + (x[t + 1] + beta[t + 1])[None, :], axis=1)
    return alpha, beta


def np_crf(scores, offsets, tags, T, st, grad_nll=None):
    """nll (S,) and, with grad_nll, (dscores, dT, dstart) by forward-backward, all in float64."""
    S = len(offsets) - 1
    K = scores.shape[1]
    nll = np.zeros(S)
    dx = np.zeros(scores.shape)
    dT = np.zeros((K, K))
    dst = np.zeros(K)
    T64 = np.asarray(T, np.float64)
    for s in range(S):
        a, b = offsets[s], offsets[s + 1]
        if a == b:
            continue
        x = np.asarray(scores[a:b], np.float64)
        y = tags[a:b]
        alpha, beta = np_alpha_beta(x, T, st)
        logz = np.logaddexp.reduce(alpha[-1])
        nll[s] = logz - np_path_score(x, y, T64, np.asarray(st, np.float64))
        if grad_nll is None:
            continue
        g = float(grad_nll[s])
        p = np.exp(alpha + beta - logz)
        onehot = np.eye(K)[y]
        dx[a:b] = g * (p - onehot)
        dst += g * (p[0] - onehot[0])
        for t in range(1, b - a):
            pair = np.exp(alpha[t - 1][:, None] + T64 + (x[t] + beta[t])[None, :] - logz)
            dT += g * pair
            dT[y[t - 1], y[t]] -= g
    return nll, (dx, dT, dst)


def np_viterbi(x, T, st):
    """Best path of one sentence with the documented ties (lowest id, from the end backwards)."""
    x, T, st = (np.asarray(v, np.float64) for v in (x, T, st))
    L, K = x.shape
    delta = st + x[0]
    bp = np.zeros((L, K), np.int64)
    for t in range(1, L):
        cand = delta[:, None] + T  # (from, to)
        bp[t] = np.argmax(cand, axis=0)  # argmax returns the first (lowest) index of a tie
        delta = cand[bp[t], np.arange(K)] + x[t]
    y = [int(np.argmax(delta))]
    for t in range(L - 1, 0, -1):
        y.append(int(bp[t, y[-1]]))
    return y[::-1], float(delta.max())


def brute_force(x, T, st):
    """(log Z, best score, all best paths) of one sentence by enumerating the K^L paths."""
    L, K = x.shape
    paths = list(itertools.product(range(K), repeat=L))
    scores = np.array([np_path_score(x, p, T, st) for p in paths])
    best = scores.max()
    return np.logaddexp.reduce(scores), best, [p for p, v in zip(paths, scores) if v == best]


# ---- helpers ----------------------------------------------------------------------------------------

def make_batch(rng, lens, K, dtype=np.float64, scale=2.0):
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    N = int(offsets[-1])
    scores = (rng.standard_normal((N, K)) * scale).astype(dtype)
    trans = (rng.standard_normal((K, K)) * scale).astype(dtype)
    start = (rng.standard_normal(K) * scale).astype(dtype)
    tags = rng.integers(0, K, N).astype(np.int32)
    return scores, offsets, tags, trans, start


def lengths(offsets):
    return np.diff(offsets)


def ref_nll(scores, offsets, tags, trans, start):
    out = np.empty(len(offsets) - 1, scores.dtype)
    _C.crf_nll(scores, offsets, tags, trans, start, out, reference=True)
    return out


def ref_backward(scores, offsets, tags, trans, start, g):
    outs = (np.empty_like(scores), np.empty_like(trans), np.empty_like(start))
    _C.crf_nll_backward(scores, offsets, tags, trans, start, g, *outs, reference=True)
    return outs


def ref_viterbi(scores, offsets, trans, start):
    tags = np.empty(scores.shape[0], np.int32)
    best = np.empty(len(offsets) - 1, scores.dtype)
    _C.viterbi_decode(scores, offsets, trans, start, tags, best, reference=True)
    return tags, best


def step_tol(n, dtype, scale=2.0):
    """atol of a result built from n token steps over values of size ~scale (see the top)."""
    return (2e-6 if dtype == np.float32 else 1e-11) * scale * (1 + np.asarray(n, np.float64))


def per_sentence_tol(offsets, dtype, scale):
    return step_tol(lengths(offsets), dtype, scale), (1e-6 if dtype == np.float32 else 1e-10)


def rounding(dtype):
    """Tolerance of a double result rounded once to dtype."""
    return dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def assert_per_sentence(got, want, offsets, dtype, scale, what):
    atol, rtol = per_sentence_tol(offsets, dtype, scale)
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    bad = np.abs(got - want) > atol + rtol * np.abs(want)
    assert not bad.any(), f"{what}: sentences {np.flatnonzero(bad)}: got {got[bad]}, want {want[bad]}"


def path_scores(scores, offsets, tags, trans, start):
    """The float64 score of the given path of every sentence (0 for an empty one)."""
    out = np.zeros(len(offsets) - 1)
    for s in range(len(offsets) - 1):
        a, b = offsets[s], offsets[s + 1]
        if a < b:
            out[s] = np_path_score(np.asarray(scores[a:b], np.float64), tags[a:b],
                                   np.asarray(trans, np.float64), np.asarray(start, np.float64))
    return out


def assert_same_path_or_tie(got, want, scores, offsets, trans, start, dtype, scale, what):
    """float32 may pick another path only where it ties the best one within rounding: every
    sentence whose path differs must score (in float64) within the per-sentence tolerance of the
    best path's score. With random scores that almost never happens; no fraction is allowed."""
    got_score = path_scores(scores, offsets, got, trans, start)
    want_score = path_scores(scores, offsets, want, trans, start)
    atol, rtol = per_sentence_tol(offsets, dtype, scale)
    for s in range(len(offsets) - 1):
        a, b = offsets[s], offsets[s + 1]
        if not np.array_equal(got[a:b], want[a:b]):
            gap = abs(got_score[s] - want_score[s])
            assert gap <= np.broadcast_to(atol, want_score.shape)[s] + rtol * abs(want_score[s]), \
                f"{what}: sentence {s} takes another path, {gap:.3g} below the best: not a tie"


# ---- brute force --------------------------------------------------------------------------------------

@pytest.mark.parametrize("K", [1, 2, 3])
def test_brute_force_log_z_and_best_path(K, rng):
    lens = [0, 1, 2, 3, 4, 0, 4, 1]
    scores, offsets, tags, trans, start = make_batch(rng, lens, K)
    nll = ops.crf_nll(scores, offsets, tags, trans, start)
    nll_ref = ref_nll(scores, offsets, tags, trans, start)
    vtags, vbest = ops.viterbi_decode(scores, offsets, trans, start)
    rtags, rbest = ref_viterbi(scores, offsets, trans, start)
    for s in range(len(lens)):
        a, b = offsets[s], offsets[s + 1]
        if a == b:
            assert nll[s] == 0 and nll_ref[s] == 0 and vbest[s] == 0 and rbest[s] == 0
            continue
        logz, best, best_paths = brute_force(scores[a:b], trans, start)
        gold = np_path_score(scores[a:b], tags[a:b], trans, start)
        tol = dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(nll[s], logz - gold, **tol)
        np.testing.assert_allclose(nll_ref[s], logz - gold, **tol)
        np.testing.assert_allclose(vbest[s], best, **tol)
        np.testing.assert_allclose(rbest[s], best, **tol)
        assert tuple(vtags[a:b]) in best_paths and tuple(rtags[a:b]) in best_paths


# ---- fast vs reference vs NumPy on awkward sizes -----------------------------------------------------

@pytest.mark.simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", K_AWKWARD)
def test_nll_matches_reference_and_numpy(K, dtype, rng):
    scale = 2.0
    scores, offsets, tags, trans, start = make_batch(rng, LENS_AWKWARD, K, dtype, scale)
    nll = ops.crf_nll(scores, offsets, tags, trans, start)
    assert nll.shape == (len(LENS_AWKWARD),) and nll.dtype == dtype
    want, _ = np_crf(scores, offsets, tags, trans, start)
    assert_per_sentence(nll, want, offsets, dtype, scale, "fast nll vs NumPy")
    # The reference accumulates in double: only the final rounding to dtype remains.
    np.testing.assert_allclose(ref_nll(scores, offsets, tags, trans, start), want, **rounding(dtype))
    assert (nll[lengths(offsets) > 0] >= -1e-4).all()  # log Z >= any path's score
    assert (nll[lengths(offsets) == 0] == 0).all()


@pytest.mark.simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", K_AWKWARD)
def test_backward_matches_reference_and_numpy(K, dtype, rng):
    scores, offsets, tags, trans, start = make_batch(rng, LENS_AWKWARD, K, dtype)
    g = rng.standard_normal(len(LENS_AWKWARD)).astype(dtype)
    dx, dT, dst = ops.crf_nll_backward(scores, offsets, tags, trans, start, g)
    assert (dx.shape, dT.shape, dst.shape) == (scores.shape, (K, K), (K,))
    assert dx.dtype == dT.dtype == dst.dtype == dtype
    _, (wx, wT, wst) = np_crf(scores, offsets, tags, trans, start, g)
    rx, rT, rst = ref_backward(scores, offsets, tags, trans, start, g)
    N = scores.shape[0]
    row_len = np.repeat(lengths(offsets), lengths(offsets))[:, None]
    row_tol, sum_tol = step_tol(row_len, dtype), step_tol(N, dtype)
    for got, what in ((dx, "fast"), (rx, "reference")):
        assert (np.abs(got - wx) <= row_tol).all(), f"{what} dscores, max err {np.abs(got - wx).max()}"
    for got, want, what in ((dT, wT, "dtransitions"), (rT, wT, "reference dtransitions"),
                            (dst, wst, "dstart"), (rst, wst, "reference dstart")):
        np.testing.assert_allclose(got, want, rtol=0, atol=sum_tol, err_msg=what)
    # Each row of dscores is g * (marginals - one-hot): it sums to 0.
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", K_AWKWARD)
def test_viterbi_matches_reference_and_numpy(K, dtype, rng):
    scale = 2.0
    scores, offsets, _, trans, start = make_batch(rng, LENS_AWKWARD, K, dtype, scale)
    tags, best = ops.viterbi_decode(scores, offsets, trans, start)
    assert tags.shape == (scores.shape[0],) and tags.dtype == np.int32 and best.dtype == dtype
    assert ((tags >= 0) & (tags < K)).all()
    rtags, rbest = ref_viterbi(scores, offsets, trans, start)
    want_tags = np.zeros_like(rtags)
    want_best = np.zeros(len(LENS_AWKWARD))
    for s in range(len(LENS_AWKWARD)):
        a, b = offsets[s], offsets[s + 1]
        if a < b:
            y, want_best[s] = np_viterbi(scores[a:b], trans, start)
            want_tags[a:b] = y
    assert_per_sentence(best, want_best, offsets, dtype, scale, "fast best score vs NumPy")
    np.testing.assert_allclose(rbest, want_best, **rounding(dtype))
    # The returned path really scores the returned best score.
    assert_per_sentence(path_scores(scores, offsets, tags, trans, start), want_best, offsets, dtype,
                        scale, "score of the fast path")
    np.testing.assert_array_equal(rtags, want_tags)
    if dtype == np.float64:
        np.testing.assert_array_equal(tags, want_tags)
    else:
        assert_same_path_or_tie(tags, want_tags, scores, offsets, trans, start, dtype, scale, "fast path")


def test_long_sentences_keep_float32_precision(rng):
    """Alphas / betas are normalized per position with the shift carried in double and the gold
    score summed in double: on a 500-token sentence with large scores the nll is off by about the
    float32 rounding of the ~2e4 result itself (an all-float unnormalized pass: ~6e-3 here)."""
    lens = [500, 3, 257]
    scale = 20.0
    scores, offsets, tags, trans, start = make_batch(rng, lens, 9, np.float32, scale)
    scores += 100  # a constant offset: every position adds ~100 to log Z and to the gold score
    want, (wx, wT, wst) = np_crf(scores, offsets, tags, trans, start, np.ones(3))
    # nll ~ 2e4: its float32 rounding alone is ~1e-3.
    np.testing.assert_allclose(ops.crf_nll(scores, offsets, tags, trans, start), want, rtol=2e-7,
                               atol=1e-3)
    dx, dT, dst = ops.crf_nll_backward(scores, offsets, tags, trans, start, np.ones(3, np.float32))
    np.testing.assert_allclose(dx, wx, atol=5e-4)
    np.testing.assert_allclose(dT, wT, atol=1e-5 * (1 + scores.shape[0]))
    np.testing.assert_allclose(dst, wst, atol=1e-3)
    _, best = ops.viterbi_decode(scores, offsets, trans, start)
    want_best = ref_viterbi(scores.astype(np.float64), offsets, trans.astype(np.float64),
                            start.astype(np.float64))[1]
    np.testing.assert_allclose(best, want_best, rtol=2e-7, atol=1e-3)


def test_many_sentences_thread_count_does_not_change_results(rng):
    lens = rng.integers(0, 40, 300)
    scores, offsets, tags, trans, start = make_batch(rng, lens, 7, np.float32)
    g = rng.standard_normal(len(lens)).astype(np.float32)
    old = fastnlp.get_num_threads()
    try:
        fastnlp.set_num_threads(1)
        one = (ops.crf_nll(scores, offsets, tags, trans, start),
               *ops.crf_nll_backward(scores, offsets, tags, trans, start, g),
               *ops.viterbi_decode(scores, offsets, trans, start))
        fastnlp.set_num_threads(2)
        two = (ops.crf_nll(scores, offsets, tags, trans, start),
               *ops.crf_nll_backward(scores, offsets, tags, trans, start, g),
               *ops.viterbi_decode(scores, offsets, trans, start))
    finally:
        fastnlp.set_num_threads(old)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    want, (wx, wT, wst) = np_crf(scores, offsets, tags, trans, start, g)
    assert_per_sentence(one[0], want, offsets, np.float32, 2.0, "nll")
    np.testing.assert_allclose(one[2], wT, atol=step_tol(scores.shape[0], np.float32))


# ---- gradient checks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("K", [1, 3, 4])
def test_gradients_match_central_differences(K, reference, rng):
    lens = [2, 0, 1, 5, 3]
    scores, offsets, tags, trans, start = make_batch(rng, lens, K, np.float64, scale=1.0)
    g = rng.standard_normal(len(lens))

    def loss():
        out = np.empty(len(lens))
        _C.crf_nll(scores, offsets, tags, trans, start, out, reference=reference)
        return float(g @ out)

    outs = (np.empty_like(scores), np.empty_like(trans), np.empty_like(start))
    _C.crf_nll_backward(scores, offsets, tags, trans, start, g, *outs, reference=reference)
    dx, dT, dst = (o.copy() for o in outs)
    assert_grad_close(dx, loss, scores)
    assert_grad_close(dT, loss, trans)
    assert_grad_close(dst, loss, start)


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


# ---- bad input -----------------------------------------------------------------------------------------

def good_args(K=3, lens=(2, 0, 3)):
    rng = np.random.default_rng(0)
    return dict(zip(("scores", "offsets", "tags", "transitions", "start"),
                    make_batch(rng, list(lens), K, np.float32)))


def call(op, **over):
    a = good_args()
    a.update(over)
    if op == "crf_nll":
        return ops.crf_nll(a["scores"], a["offsets"], a["tags"], a["transitions"], a["start"])
    if op == "crf_nll_backward":
        g = over.get("grad_nll", np.ones(max(len(a["offsets"]) - 1, 0), np.float32))
        return ops.crf_nll_backward(a["scores"], a["offsets"], a["tags"], a["transitions"], a["start"], g)
    return ops.viterbi_decode(a["scores"], a["offsets"], a["transitions"], a["start"])


OPS = ["crf_nll", "crf_nll_backward", "viterbi_decode"]
F32 = np.float32

BAD_COMMON = [
    (dict(scores=np.zeros((5, 3), np.int32)), TypeError,
     r"scores must be float32 or float64, got int32 with shape \(5, 3\)"),
    (dict(scores=np.zeros(15, F32)), ValueError, r"scores must be 2-D, got shape \(15,\) \(1-D\)"),
    (dict(scores=np.zeros((5, 0), F32), transitions=np.zeros((0, 0), F32), start=np.zeros(0, F32)),
     ValueError, r"scores must have at least one tag column \(K >= 1\), got shape \(5, 0\)"),
    (dict(scores=np.zeros((5, 6), F32)[:, ::2]), ValueError, r"scores must be C-contiguous"),
    (dict(offsets=np.array([0, 2, 2, 5], np.int32)), TypeError, r"offsets must be int64, got int32"),
    (dict(offsets=np.array([[0, 2, 2, 5]], np.int64)), ValueError,
     r"offsets must be 1-D, got shape \(1, 4\)"),
    (dict(offsets=np.zeros(0, np.int64)), ValueError, r"offsets must have S\+1 >= 1 entries"),
    (dict(offsets=np.array([1, 2, 2, 5], np.int64)), ValueError,
     r"offsets must start at 0, got offsets\[0\] = 1"),
    (dict(offsets=np.array([0, 3, 2, 5], np.int64)), ValueError,
     r"offsets must be non-decreasing, got offsets\[2\] = 2 < offsets\[1\] = 3"),
    (dict(offsets=np.array([0, 2, 2, 4], np.int64)), ValueError,
     r"offsets must end at N = 5 \(the rows of scores\), got offsets\[3\] = 4"),
    (dict(offsets=np.array([0, 2, 2, 6], np.int64)), ValueError, r"offsets must end at N = 5"),
    (dict(transitions=np.zeros((3, 4), F32)), ValueError,
     r"transitions must have shape \(3, 3\) \(K, K\) with K from scores, got \(3, 4\)"),
    (dict(transitions=np.zeros((3, 3), np.float64)), TypeError,
     r"transitions must have the dtype of scores \(float32\), got float64"),
    (dict(start=np.zeros(4, F32)), ValueError,
     r"start must have shape \(3,\) \(K\) with K from scores, got \(4,\)"),
    (dict(start=[0.0, 0.0, 0.0]), TypeError, r"start must be a NumPy array or a GPU array, got list"),
]
BAD_TAGS = [
    (dict(tags=np.array([0, 1, 2, 3, 0], np.int32)), ValueError,
     r"tags must be in \[0, 3\) \(tag ids, K from scores\), got 3 at position 3"),
    (dict(tags=np.array([0, -1, 2, 1, 0], np.int32)), ValueError,
     r"tags must be in \[0, 3\) .*got -1 at position 1"),
    (dict(tags=np.zeros(5, np.int64)), TypeError, r"tags must be int32, got int64"),
    (dict(tags=np.zeros(4, np.int32)), ValueError,
     r"tags must have shape \(5,\) \(N, one gold tag per row of scores\), got \(4,\)"),
    (dict(tags=None), ValueError, r"tags must be an int32 array, got None"),
]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("over,exc,msg", BAD_COMMON)
def test_bad_input(op, over, exc, msg):
    with pytest.raises(exc, match=rf"^{op}: {msg}"):
        call(op, **over)


@pytest.mark.parametrize("op", ["crf_nll", "crf_nll_backward"])
@pytest.mark.parametrize("over,exc,msg", BAD_TAGS)
def test_bad_tags(op, over, exc, msg):
    with pytest.raises(exc, match=rf"^{op}: {msg}"):
        call(op, **over)


def test_bad_grad_nll_and_outputs():
    a = good_args()
    args = (a["scores"], a["offsets"], a["tags"], a["transitions"], a["start"])
    with pytest.raises(ValueError, match=r"^crf_nll_backward: grad_nll must have shape \(3,\) "
                                         r"\(S, one per sentence\), got \(2,\)"):
        ops.crf_nll_backward(*args, np.ones(2, F32))
    with pytest.raises(TypeError, match=r"^crf_nll_backward: grad_nll must have the dtype of scores "
                                        r"\(float32\), got float64"):
        ops.crf_nll_backward(*args, np.ones(3))
    # Outputs given to the binding directly: shape, dtype and writeability are checked.
    nll = np.empty(3, F32)
    with pytest.raises(ValueError, match=r"^crf_nll: nll must have shape \(3,\)"):
        _C.crf_nll(*args, np.empty(2, F32))
    nll.flags.writeable = False
    with pytest.raises(ValueError, match=r"^crf_nll: nll is written in place and must be writeable"):
        _C.crf_nll(*args, nll)
    with pytest.raises(TypeError, match=r"^viterbi_decode: tags must be int32, got int64"):
        _C.viterbi_decode(a["scores"], a["offsets"], a["transitions"], a["start"], np.empty(5, np.int64),
                          np.empty(3, F32))
    with pytest.raises(TypeError, match=r"^viterbi_decode: best_scores must have the dtype of scores"):
        _C.viterbi_decode(a["scores"], a["offsets"], a["transitions"], a["start"], np.empty(5, np.int32),
                          np.empty(3))


# ---- CUDA ---------------------------------------------------------------------------------------------

def gpu_args(*arrays):
    import cupy as cp
    return [cp.asarray(a) for a in arrays]


@pytest.mark.gpu
@pytest.mark.parametrize("K", K_AWKWARD + [32, 33, 64, 100])
def test_cuda_matches_cpu(K, rng):
    import cupy as cp
    scale = 2.0
    scores, offsets, tags, trans, start = make_batch(rng, LENS_AWKWARD, K, np.float32, scale)
    g = rng.standard_normal(len(LENS_AWKWARD)).astype(np.float32)
    dev = gpu_args(scores, offsets, tags, trans, start)
    nll = ops.crf_nll(*dev)
    assert isinstance(nll, cp.ndarray) and nll.dtype == cp.float32
    want, (wx, wT, wst) = np_crf(scores, offsets, tags, trans, start, g)
    assert_per_sentence(cp.asnumpy(nll), want, offsets, np.float32, scale, "GPU nll")
    dx, dT, dst = (cp.asnumpy(v) for v in ops.crf_nll_backward(*dev, cp.asarray(g)))
    row_len = np.repeat(lengths(offsets), lengths(offsets))[:, None]
    assert (np.abs(dx - wx) <= step_tol(row_len, np.float32)).all(), np.abs(dx - wx).max()
    N = scores.shape[0]
    np.testing.assert_allclose(dT, wT, atol=step_tol(N, np.float32))
    np.testing.assert_allclose(dst, wst, atol=step_tol(N, np.float32))
    vt, vb = (cp.asnumpy(v) for v in ops.viterbi_decode(dev[0], dev[1], dev[3], dev[4]))
    ct, cb = ops.viterbi_decode(scores, offsets, trans, start)
    assert_per_sentence(vb, cb, offsets, np.float32, scale, "GPU best score")
    assert_per_sentence(path_scores(scores, offsets, vt, trans, start), cb, offsets, np.float32, scale,
                        "score of the GPU path")
    assert_same_path_or_tie(vt, ct, scores, offsets, trans, start, np.float32, scale, "GPU path")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32])
def test_cuda_ties_empty_and_forbidden(dtype, rng):
    import cupy as cp
    K, lens = 3, [3, 0, 2, 4, 1]
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    for _ in range(10):
        x = rng.integers(0, 2, (offsets[-1], K)).astype(dtype)
        T = rng.integers(0, 2, (K, K)).astype(dtype)
        T[0, 2] = -np.inf
        st = rng.integers(0, 2, K).astype(dtype)
        want = ops.viterbi_decode(x, offsets, T, st)
        got = [cp.asnumpy(v) for v in ops.viterbi_decode(*gpu_args(x, offsets, T, st))]
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    z = cp.zeros((0, K), cp.float32)
    off = cp.zeros(3, cp.int64)
    nll = ops.crf_nll(z, off, cp.zeros(0, cp.int32), cp.ones((K, K), cp.float32), cp.ones(K, cp.float32))
    np.testing.assert_array_equal(cp.asnumpy(nll), 0)
    dx, dT, dst = ops.crf_nll_backward(z, off, cp.zeros(0, cp.int32), cp.ones((K, K), cp.float32),
                                       cp.ones(K, cp.float32), cp.ones(2, cp.float32))
    assert float(cp.abs(dT).sum()) == 0 and float(cp.abs(dst).sum()) == 0


@pytest.mark.gpu
def test_cuda_bad_values_raise_and_leave_the_gpu_usable():
    import cupy as cp
    a = good_args()
    dev = dict(zip(a, gpu_args(*a.values())))
    cases = [
        (dict(offsets=cp.asarray([0, 3, 2, 5], cp.int64)),
         r"offsets must be non-decreasing, got offsets\[2\] = 2 < offsets\[1\] = 3"),
        (dict(offsets=cp.asarray([1, 2, 2, 5], cp.int64)), r"offsets must start at 0, got offsets\[0\] = 1"),
        (dict(offsets=cp.asarray([0, 2, 2, 4], cp.int64)), r"offsets must end at N = 5"),
        (dict(tags=cp.asarray([0, 1, 7, 0, 0], cp.int32)), r"tags must be in \[0, 3\) .*got 7 at position 2"),
    ]
    for over, msg in cases:
        d = dict(dev, **over)
        with pytest.raises(ValueError, match=rf"^crf_nll: {msg}"):
            ops.crf_nll(d["scores"], d["offsets"], d["tags"], d["transitions"], d["start"])
    with pytest.raises(TypeError, match="crf_nll: the CUDA kernels take float32"):
        ops.crf_nll(*(v.astype(cp.float64) if v.dtype == cp.float32 else v for v in dev.values()))
    with pytest.raises(ValueError, match=r"^crf_nll: offsets is on the CPU but scores is on the GPU"):
        ops.crf_nll(dev["scores"], a["offsets"], dev["tags"], dev["transitions"], dev["start"])
    cp.cuda.Device().synchronize()
    np.testing.assert_allclose(cp.asnumpy(ops.crf_nll(*dev.values())), ops.crf_nll(*a.values()), rtol=1e-5,
                               atol=1e-5)
