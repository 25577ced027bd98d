"""Softmax, log-softmax, their backward passes and fused softmax + cross-entropy: fast CPU kernels
against the C++ reference and NumPy (float64) on awkward sizes and a 50k vocabulary, huge logits,
float64 gradient checks of the real kernels, bad input, and (with a GPU) CUDA against the CPU.

Tolerances: float32 probabilities within rtol 1e-5 * |ref| + atol 1e-10 (each is one exp and one
division by a sum accumulated in double, so the relative error does not grow with V; the tiny atol
keeps 1/V-sized probabilities checked relatively); gradients within rtol 1e-5 + atol 1e-7 (1e-6 *
sqrt(V) where a row sum of dy enters: cancellation); log-probabilities and losses within rtol 2e-6 +
atol 1e-5 (float32 rounding of values up to 2e4); float64 gradients within rtol 1e-5, atol 1e-7 of
central differences (eps 1e-6).
"""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C, ops
from conftest import AWKWARD
from gradcheck import assert_grad_close
import gpu_compare as gc

PROB = dict(rtol=1e-5, atol=1e-10)
GRAD = dict(rtol=1e-5, atol=1e-7)
LOG = dict(rtol=2e-6, atol=1e-5)
SIZES = [(b, v) for b, v in zip(AWKWARD, reversed(AWKWARD))] + [(1, 1), (64, 300), (3, 50_000)]


def np_log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def np_cross_entropy(x, t, ignore_index=-100):
    """(mean loss, per-row losses, dlogits) in float64."""
    lp = np_log_softmax(x)
    keep = t != ignore_index
    count = int(keep.sum())
    rows = np.arange(len(t))
    losses = np.zeros(len(t))
    losses[keep] = -lp[rows[keep], t[keep]]
    d = np.exp(lp)
    d[rows[keep], t[keep]] -= 1
    d[~keep] = 0
    if count:
        d /= count
    return (losses.sum() / count if count else 0.0), losses, d


def ref(fn, *args):
    """Runs a _C kernel with reference=True into a fresh output shaped like the first argument."""
    out = np.empty_like(args[0])
    fn(*args, out, reference=True)
    return out


@pytest.mark.simd
@pytest.mark.parametrize("B,V", SIZES)
def test_forward_backward_match_numpy_and_reference(B, V, rng):
    x = (rng.standard_normal((B, V)) * 5).astype(np.float32)
    lp = np_log_softmax(x)
    y = ops.softmax(x)
    np.testing.assert_allclose(y, np.exp(lp), **PROB)
    np.testing.assert_allclose(y, ref(_C.softmax_forward, x), **PROB)
    np.testing.assert_allclose(y.sum(axis=1, dtype=np.float64), 1.0, rtol=1e-5)
    ly = ops.log_softmax(x)
    np.testing.assert_allclose(ly, lp, **LOG)
    np.testing.assert_allclose(ly, ref(_C.log_softmax_forward, x), **LOG)

    # The backward oracles start from the float32 forward outputs the kernels are given.
    dy = rng.standard_normal((B, V)).astype(np.float32)
    p, g = y.astype(np.float64), dy.astype(np.float64)
    dx = ops.softmax_backward(y, dy)
    expected = p * (g - (g * p).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(dx, expected, **GRAD)
    np.testing.assert_allclose(dx, ref(_C.softmax_backward, y, dy), **GRAD)
    dx = ops.log_softmax_backward(ly, dy)
    # dx_j = dy_j - p_j sum(dy): the sum grows like sqrt(V), so the absolute error does too.
    expected = g - np.exp(ly.astype(np.float64)) * g.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dx, expected, rtol=1e-5, atol=1e-6 * np.sqrt(V))
    np.testing.assert_allclose(dx, ref(_C.log_softmax_backward, ly, dy), rtol=1e-5, atol=1e-6 * np.sqrt(V))


@pytest.mark.simd
@pytest.mark.parametrize("B,V", SIZES)
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_cross_entropy_matches_numpy_and_reference(B, V, itype, rng):
    x = (rng.standard_normal((B, V)) * 5).astype(np.float32)
    t = rng.integers(0, V, B).astype(itype)
    t[::3] = -100  # every third row ignored (the first always)
    loss, d, losses = ops.softmax_cross_entropy(x, t, return_losses=True)
    eloss, elosses, ed = np_cross_entropy(x, t)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, eloss, **LOG)
    np.testing.assert_allclose(losses, elosses, **LOG)
    np.testing.assert_allclose(d, ed, **GRAD)
    rl, rd = np.empty(B, np.float32), np.empty_like(x)
    rloss = _C.softmax_cross_entropy(x, t, rl, rd, -100, reference=True)
    np.testing.assert_allclose(loss, rloss, **LOG)
    np.testing.assert_allclose(losses, rl, **LOG)
    np.testing.assert_allclose(d, rd, **GRAD)
    assert (d[::3] == 0).all() and (losses[::3] == 0).all()


def test_huge_logits_are_stable():
    V = 9
    x = np.zeros((4, V), np.float32)
    x[0, :] = 1e4                     # all equal and huge: uniform
    x[1, 0], x[1, 1:] = 1e4, -1e4     # one dominant class
    x[2, :] = -1e4                    # all equal and very negative: uniform
    x[3, ::2], x[3, 1::2] = 1e4, -1e4
    t = np.array([3, 1, 0, 2], np.int64)
    for reference in (False, True):
        y = np.empty_like(x)
        _C.softmax_forward(x, y, reference=reference)
        assert np.isfinite(y).all()
        np.testing.assert_allclose(y, np.exp(np_log_softmax(x)), **PROB)
        _C.log_softmax_forward(x, y, reference=reference)
        np.testing.assert_allclose(y, np_log_softmax(x), **LOG)
        losses, d = np.empty(4, np.float32), np.empty_like(x)
        loss = _C.softmax_cross_entropy(x, t, losses, d, -100, reference=reference)
        eloss, elosses, ed = np_cross_entropy(x, t)
        np.testing.assert_allclose(losses, elosses, **LOG)
        assert losses[1] == pytest.approx(2e4, rel=1e-6)  # target at -1e4 against a 1e4 row
        np.testing.assert_allclose(loss, eloss, **LOG)
        np.testing.assert_allclose(d, ed, **GRAD)


def test_nan_stays_in_its_row():
    x = np.zeros((2, 17), np.float32)
    x[0, 5] = np.nan
    for fn in (ops.softmax, ops.log_softmax):
        y = fn(x)
        assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


def test_in_place(rng):
    x = rng.standard_normal((7, 33)).astype(np.float32)
    for fn in (ops.softmax, ops.log_softmax):
        expected, z = fn(x), x.copy()
        fn(z, out=z)
        np.testing.assert_array_equal(z, expected)
    y = ops.softmax(x)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    for fn in (ops.softmax_backward, ops.log_softmax_backward):
        expected, g = fn(y, dy), dy.copy()
        fn(y, g, out=g)
        np.testing.assert_array_equal(g, expected)
    t = rng.integers(0, 33, 7)
    t[2] = -100
    loss, d = ops.softmax_cross_entropy(x, t)
    z = x.copy()
    loss2, d2 = ops.softmax_cross_entropy(z, t, grad_out=z)
    assert d2 is z and loss2 == loss
    np.testing.assert_array_equal(z, d)


def test_cross_entropy_options(rng):
    x = rng.standard_normal((5, 8)).astype(np.float32)
    t = np.array([0, 1, 0, 7, 0])
    # ignore_index may be a real class id (e.g. padding = 0).
    loss, d = ops.softmax_cross_entropy(x, t, ignore_index=0)
    eloss, _, ed = np_cross_entropy(x, t, ignore_index=0)
    np.testing.assert_allclose(loss, eloss, **LOG)
    np.testing.assert_allclose(d, ed, **GRAD)
    loss2, none = ops.softmax_cross_entropy(x, t, ignore_index=0, return_grad=False)
    assert none is None and loss2 == pytest.approx(loss, rel=1e-12)
    # Every row ignored: loss 0 and a zero gradient, no division by zero.
    loss, d, losses = ops.softmax_cross_entropy(x, np.full(5, -1), ignore_index=-1, return_losses=True)
    assert loss == 0.0 and not d.any() and not losses.any()


def test_thread_count_does_not_change_results(rng):
    x = rng.standard_normal((64, 1000)).astype(np.float32)
    t = rng.integers(0, 1000, 64)
    old = fastnlp.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            fastnlp.set_num_threads(n)
            results.append((ops.softmax(x), *ops.softmax_cross_entropy(x, t)))
    finally:
        fastnlp.set_num_threads(old)
    for y, loss, d in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        assert loss == results[0][1]
        np.testing.assert_array_equal(d, results[0][2])


# ---- float64 gradient checks of the real kernels ----

@pytest.mark.parametrize("reference", [False, True])
def test_softmax_gradcheck_float64(reference, rng):
    x = rng.standard_normal((3, 7)) * 2
    R = rng.standard_normal((3, 7))

    def forward(fn):
        y = np.empty_like(x)
        fn(x, y, reference=reference)
        return y

    y = forward(_C.softmax_forward)
    dx = np.empty_like(x)
    _C.softmax_backward(y, R, dx, reference=reference)
    assert_grad_close(dx, lambda: float((forward(_C.softmax_forward) * R).sum()), x)

    y = forward(_C.log_softmax_forward)
    _C.log_softmax_backward(y, R, dx, reference=reference)
    assert_grad_close(dx, lambda: float((forward(_C.log_softmax_forward) * R).sum()), x)


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_cross_entropy_gradcheck_float64(reference, itype, rng):
    x = rng.standard_normal((5, 9)) * 2
    t = np.array([3, -100, 0, 8, -100], itype)

    def loss():
        return _C.softmax_cross_entropy(x, t, None, None, -100, reference=reference)

    d = np.empty_like(x)
    _C.softmax_cross_entropy(x, t, None, d, -100, reference=reference)
    assert not d[[1, 4]].any()
    assert_grad_close(d, loss, x)


# ---- bad input: the error names the op, the argument, what was expected and what was given ----

def test_bad_dtype():
    with pytest.raises(TypeError, match=r"softmax_forward: x must be float32 or float64, got int64"):
        ops.softmax(np.ones((2, 3), np.int64))
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"y must have the dtype of x \(float32\), got float64"):
        ops.softmax(x, out=np.empty((2, 3)))
    with pytest.raises(TypeError, match=r"dy must have the dtype of y \(float32\), got float64"):
        ops.softmax_backward(x, np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"softmax_cross_entropy: targets must be int32 or int64 ids, got float32"):
        ops.softmax_cross_entropy(x, np.zeros(2, np.float32))


def test_bad_ndim():
    with pytest.raises(ValueError, match=r"softmax: x must be 2-D, got shape \(3,\) \(1-D\)"):
        ops.softmax(np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"log_softmax_forward: x must be 2-D, got shape \(2, 3, 4\)"):
        _C.log_softmax_forward(np.ones((2, 3, 4), np.float32), np.ones((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: targets must be 1-D, got shape \(2, 1\)"):
        ops.softmax_cross_entropy(np.ones((2, 3), np.float32), np.zeros((2, 1), np.int64))


def test_shape_mismatch():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"softmax_forward: y must have shape \(2, 3\), got \(3, 2\)"):
        ops.softmax(x, out=np.empty((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 3\) \(B, V\), the shape of y, got \(2, 4\)"):
        ops.log_softmax_backward(x, np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\) \(B, the rows of logits\), got \(3,\)"):
        ops.softmax_cross_entropy(x, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"dlogits must have shape \(2, 3\), got \(2, 2\)"):
        ops.softmax_cross_entropy(x, np.zeros(2, np.int64), grad_out=np.empty((2, 2), np.float32))


@pytest.mark.parametrize("reference", [False, True])
def test_target_out_of_range(reference):
    x = np.ones((4, 5), np.float32)
    for bad, pos in ((5, 2), (-1, 1), (-101, 3)):
        t = np.array([0, 1, -100, 4])
        t[pos] = bad
        msg = (rf"softmax_cross_entropy: targets must be in \[0, 5\) or equal ignore_index -100, "
               rf"got {bad} at position {pos}")
        with pytest.raises(ValueError, match=msg):
            _C.softmax_cross_entropy(x, t, None, None, -100, reference=reference)
    with pytest.raises(ValueError, match=r"or equal ignore_index -1, got -100 at position 0"):
        ops.softmax_cross_entropy(x, np.array([-100, 0, 0, 0], np.int32), ignore_index=-1)


def test_read_only_output():
    x = np.ones((2, 3), np.float32)
    out = np.empty_like(x)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"softmax_forward: y is written in place and must be writeable"):
        ops.softmax(x, out=out)
    with pytest.raises(ValueError, match=r"softmax_backward: dx is written in place and must be writeable"):
        ops.softmax_backward(x, x, out=out)
    with pytest.raises(ValueError, match=r"dlogits is written in place and must be writeable"):
        ops.softmax_cross_entropy(x, np.zeros(2, np.int64), grad_out=out)


def test_empty_and_non_contiguous():
    with pytest.raises(ValueError, match=r"softmax_forward: x must not be empty, got shape \(0, 5\)"):
        ops.softmax(np.ones((0, 5), np.float32))
    with pytest.raises(ValueError, match=r"logits must not be empty, got shape \(3, 0\)"):
        ops.softmax_cross_entropy(np.ones((3, 0), np.float32), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"x must be C-contiguous"):
        ops.softmax(np.ones((4, 6), np.float32)[:, ::2])


def test_contradictory_options_and_non_arrays():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"grad_out was given but return_grad is False"):
        ops.softmax_cross_entropy(x, np.zeros(2, np.int64), return_grad=False, grad_out=x)
    with pytest.raises(TypeError, match=r"softmax: x must be a NumPy array or a GPU array, got list"):
        ops.softmax([[1.0, 2.0]])


# ---- CUDA: against the CPU kernels (skipped without a GPU) ----

@pytest.mark.gpu
@pytest.mark.parametrize("B,V", [(1, 1), (3, 7), (17, 33), (64, 1000), (3, 50_000)])
def test_cuda_matches_cpu(B, V, rng):
    import cupy

    x = (rng.standard_normal((B, V)) * 5).astype(np.float32)
    x[0, 0] = 1e4
    dy = rng.standard_normal((B, V)).astype(np.float32)
    t = rng.integers(0, V, B)
    t[::3] = -100
    gx, gdy, gt = cupy.asarray(x), cupy.asarray(dy), cupy.asarray(t)
    for fwd, bwd in ((ops.softmax, ops.softmax_backward), (ops.log_softmax, ops.log_softmax_backward)):
        y = fwd(x)
        tol = PROB if fwd is ops.softmax else LOG
        np.testing.assert_allclose(cupy.asnumpy(fwd(gx)), y, **tol)
        np.testing.assert_allclose(cupy.asnumpy(bwd(cupy.asarray(y), gdy)), bwd(y, dy),
                                   rtol=1e-5, atol=1e-6 * np.sqrt(V))
    loss, d, losses = ops.softmax_cross_entropy(x, t, return_losses=True)
    gloss, gd, glosses = ops.softmax_cross_entropy(gx, gt, return_losses=True)
    np.testing.assert_allclose(gloss, loss, **LOG)
    np.testing.assert_allclose(cupy.asnumpy(glosses), losses, **LOG)
    np.testing.assert_allclose(cupy.asnumpy(gd), d, **GRAD)


@pytest.mark.gpu
def test_cuda_target_out_of_range():
    import cupy

    x = cupy.ones((4, 5), cupy.float32)
    with pytest.raises(ValueError, match=r"targets must be in \[0, 5\) or equal ignore_index -100, .*position 2"):
        ops.softmax_cross_entropy(x, cupy.asarray([0, -100, 5, 9]))


# ---- GPU: the softmax family against the CPU (marked gpu) ----

# Rows of 1..1024 go one warp per row, longer ones one block per row (256/512/1024 threads).
SOFTMAX_SHAPES = [(1, 1), (3, 7), (8, 31), (17, 33), (9, 1023), (5, 1024), (4, 1025), (3, 4097),
                  (2, 8193), (2, 65537), (2, 100_003), (1, 1_000_000), (2000, 3)]


@pytest.mark.gpu
@pytest.mark.parametrize("B,V", SOFTMAX_SHAPES)
def test_gpu_softmax_and_log_softmax(B, V, rng, cp):
    x = (rng.standard_normal((B, V)) * 5).astype(gc.F32)
    dy = rng.standard_normal((B, V)).astype(gc.F32)
    for fwd, bwd in ((ops.softmax, ops.softmax_backward), (ops.log_softmax, ops.log_softmax_backward)):
        y_cpu, y_gpu, _, _ = gc.both(fwd, x)
        gc.assert_same(y_gpu, y_cpu, fwd.__name__, **gc.tol(V))
        dx_cpu, dx_gpu, _, _ = gc.both(bwd, y_cpu, dy)
        gc.assert_same(dx_gpu, dx_cpu, bwd.__name__, **gc.tol(V))


@pytest.mark.gpu
def test_gpu_softmax_large_logits_and_masked_entries(cp):
    # Max subtraction: logits near float max must not overflow; -inf entries (masks) give 0.
    x = np.array([[3e38, 3e38, -3e38, 0], [1e4, -np.inf, 1e4 - 1, -np.inf], [0, 0, 0, 0]], gc.F32)
    y_cpu, y_gpu, _, _ = gc.both(ops.softmax, x)
    assert np.isfinite(y_gpu).all()
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-6, atol=1e-7)
    assert y_gpu[1, 1] == 0 and y_gpu[1, 3] == 0
    ly_cpu, ly_gpu, _, _ = gc.both(ops.log_softmax, x)
    np.testing.assert_array_equal(np.isneginf(ly_gpu), np.isneginf(ly_cpu))
    finite = np.isfinite(ly_cpu)
    np.testing.assert_allclose(ly_gpu[finite], ly_cpu[finite], rtol=1e-6, atol=1e-6)


@pytest.mark.gpu
def test_gpu_softmax_nan_row_stays_nan(cp):
    x = np.array([[1, 2, np.nan, 4], [1, 2, 3, 4]], gc.F32)
    y = cp.asnumpy(ops.softmax(cp.asarray(x)))
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


@pytest.mark.gpu
def test_gpu_softmax_in_place(rng, cp):
    x = cp.asarray(rng.standard_normal((7, 2000)).astype(gc.F32))
    expected = ops.softmax(x)
    ops.softmax(x, out=x)
    np.testing.assert_array_equal(cp.asnumpy(x), cp.asnumpy(expected))


CE_SHAPES = [(1, 1), (3, 7), (17, 33), (9, 1024), (4, 1025), (33, 5000), (2, 100_003), (3000, 9)]


@pytest.mark.gpu
@pytest.mark.parametrize("B,V", CE_SHAPES)
@pytest.mark.parametrize("id_type", gc.ID_TYPES)
def test_gpu_softmax_cross_entropy(B, V, id_type, rng, cp):
    logits = (rng.standard_normal((B, V)) * 3).astype(gc.F32)
    targets = rng.integers(0, V, B).astype(id_type)
    r_cpu, r_gpu, _, _ = gc.both(ops.softmax_cross_entropy, logits, targets)
    gc.assert_same(r_gpu, r_cpu, "softmax_cross_entropy", **gc.tol(V))
    # Rows whose target is ignore_index count for nothing (loss and gradient).
    targets[::3] = -100
    r_cpu, r_gpu, _, _ = gc.both(ops.softmax_cross_entropy, logits, targets, ignore_index=-100)
    gc.assert_same(r_gpu, r_cpu, "softmax_cross_entropy with ignored rows", **gc.tol(V))


@pytest.mark.gpu
def test_gpu_softmax_cross_entropy_all_ignored_and_ignore_inside_range(rng, cp):
    logits = rng.standard_normal((5, 7)).astype(gc.F32)
    targets = np.full(5, -1, np.int64)
    r_cpu, r_gpu, _, _ = gc.both(ops.softmax_cross_entropy, logits, targets, ignore_index=-1)
    gc.assert_same(r_gpu, r_cpu, "all rows ignored", **gc.tol(7))
    # A padding id inside [0, V) may be the ignored one.
    targets = np.array([0, 3, 0, 6, 2], np.int64)
    r_cpu, r_gpu, _, _ = gc.both(ops.softmax_cross_entropy, logits, targets, ignore_index=0)
    gc.assert_same(r_gpu, r_cpu, "ignore_index=0", **gc.tol(7))


@pytest.mark.gpu
def test_gpu_softmax_cross_entropy_gradient_in_place(rng, cp):
    # The kernel may write dlogits over logits (the loss layer's memory-saving mode).
    logits = (rng.standard_normal((33, 1500)) * 3).astype(gc.F32)
    targets = rng.integers(0, 1500, 33).astype(np.int64)
    want = gc.host(ops.softmax_cross_entropy(logits, targets))
    lg = cp.asarray(logits)
    got = gc.host(ops.softmax_cross_entropy(lg, cp.asarray(targets), grad_out=lg))
    gc.assert_same(got, want, "in place", **gc.tol(1500))
    np.testing.assert_allclose(cp.asnumpy(lg), want[1], **gc.tol(1500))


@pytest.mark.gpu
def test_gpu_softmax_cross_entropy_is_deterministic(rng, cp):
    logits = cp.asarray((rng.standard_normal((3000, 77)) * 3).astype(gc.F32))
    targets = cp.asarray(rng.integers(0, 77, 3000))
    first = gc.host(ops.softmax_cross_entropy(logits, targets))
    for _ in range(3):
        again = gc.host(ops.softmax_cross_entropy(logits, targets))
        assert float(again[0]) == float(first[0])
