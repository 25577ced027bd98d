"""Test oracles of the linear-chain CRF, shared by test_crf.py and test_crf_edge_cases.py: NumPy
transcriptions (path score, forward-backward, Viterbi, brute force over all paths), the C++
references called through _C, and the tolerance helpers (step_tol and the rest; the rule is stated
at the top of test_crf.py).
"""

import itertools

import numpy as np

from fastnlp import _C


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
    """atol of a result built from n token steps over values of size ~scale (the rule: test_crf.py's top)."""
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
