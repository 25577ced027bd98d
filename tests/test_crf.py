"""Linear-chain CRF (fastnlp.ops.crf_nll, crf_nll_backward, viterbi_decode): brute force over all
paths for tiny K and L, the fast kernels against the C++ reference and a NumPy transcription on
awkward ragged batches, float64 gradient checks, bad input, and the CUDA kernels against the CPU
(skipped without a GPU). Ties, empty batches, -inf transitions and NaN are in test_crf_edge_cases.py;
the NumPy oracles and the tolerance helpers in crf_oracles.py.

Tolerances (step_tol): a result built from n token steps, each rounding values of size ~scale
(the spread of the scores), is held to atol 2e-6 * scale * (1 + n) in float32 and 1e-11 * scale *
(1 + n) in float64, against float64 NumPy: n = L for a sentence's nll, best score and dscores
rows, n = N for dtransitions / dstart (sums over the batch); per-sentence values also get rtol 1e-6
(float32) for the final rounding of a large total. The C++ reference (double accumulation) is held
to one rounding to the output dtype; brute force to 1e-12. Gradients: float64 central differences
(eps 1e-6) within rtol 1e-5, atol 1e-7. GPU against NumPy: the float32 tolerances.
"""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C, ops
from gradcheck import assert_grad_close
from crf_oracles import (assert_per_sentence, assert_same_path_or_tie, brute_force, lengths, make_batch,
                         np_crf, np_path_score, np_viterbi, path_scores, ref_backward, ref_nll, ref_viterbi,
                         rounding, step_tol)

K_AWKWARD = [1, 3, 7, 9, 17, 45]
LENS_AWKWARD = [0, 1, 2, 5, 33, 0, 33, 5, 1, 2, 0]


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
