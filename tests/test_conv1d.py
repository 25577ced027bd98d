"""Conv1d over time with fused bias + activation and max / avg pooling: a NumPy window loop as the
oracle, the fast kernels against the C++ reference on awkward sizes (threaded paths included),
float64 finite-difference gradients with variable lengths, torch.nn.Conv1d when importable, and
bad input.

Tolerances: float32 results within atol = rtol = 1e-5 * sqrt(K*D) (the reduction length of a
window); float64 against NumPy / torch within 1e-10; float64 gradients within rtol 1e-5, atol 1e-7
of central differences (eps 1e-6).
"""

import numpy as np
import pytest

from fastnlp import _C, nn, ops
from gradcheck import assert_grad_close
import gpu_compare as gc

ACTS = ["identity", "tanh", "relu", "sigmoid", "hardtanh"]
NP_ACT = {
    "identity": lambda z: z,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "hardtanh": lambda z: np.clip(z, -1, 1),
    "relu": lambda z: np.maximum(z, 0),
}
POOLS = [None, "max", "avg"]


def tol(n):
    return dict(rtol=1e-5 * np.sqrt(n), atol=1e-5 * np.sqrt(n))


def np_conv1d(x, W, b, lengths, mode, act, pool):
    """Window by window: (out, argmax) with out y (B, T_out, H) or pooled (B, H)."""
    B, T, D = x.shape
    H, KD = W.shape
    K = KD // D
    P = K - 1 if mode == "wide" else 0
    T_out = T + K - 1 if mode == "wide" else T - K + 1
    lengths = np.full(B, T) if lengths is None else lengths
    y = np.zeros((B, T_out, H))
    pooled, argmax = np.zeros((B, H)), np.zeros((B, H), np.int64)
    for n in range(B):
        L = lengths[n]
        Tb = L + K - 1 if mode == "wide" else L - K + 1
        xp = np.zeros((T + 2 * P, D))
        xp[P:P + L] = x[n, :L]  # positions past the length read as zero
        z = np.stack([W @ xp[t:t + K].reshape(-1) + (0 if b is None else b) for t in range(Tb)])
        a = NP_ACT[act](z)
        y[n, :Tb] = a
        pooled[n] = a.max(0) if pool == "max" else a.mean(0)
        argmax[n] = z.argmax(0)
    if pool == "max":
        return pooled, argmax
    return (pooled, None) if pool == "avg" else (y, None)


def make(rng, B, T, D, H, K, dtype=np.float32, scale=1.0):
    x = rng.standard_normal((B, T, D)).astype(dtype)
    W = (rng.standard_normal((H, K * D)) * scale / np.sqrt(K * D)).astype(dtype)
    b = (rng.standard_normal(H) * 0.5).astype(dtype)
    return x, W, b


def lengths_for(rng, B, T, K, mode):
    lo = 1 if mode == "wide" else K
    lengths = rng.integers(lo, T + 1, B)
    lengths[0] = T
    return lengths


# ---- forward against NumPy -------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["narrow", "wide"])
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("act", ACTS)
def test_forward_matches_numpy(mode, pool, act, rng):
    B, T, D, H, K = 5, 9, 7, 17, 3
    x, W, b = make(rng, B, T, D, H, K, np.float64)
    lengths = lengths_for(rng, B, T, K, mode)
    want, want_arg = np_conv1d(x, W, b, lengths, mode, act, pool)
    got = ops.conv1d(x, W, b, lengths, mode, act, pool)
    out = got[0] if pool else got
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    if pool == "max":
        np.testing.assert_array_equal(got[1], want_arg)


def test_forward_without_bias_or_lengths(rng):
    x, W, _ = make(rng, 3, 8, 4, 5, 2, np.float64)
    for pool in POOLS:
        want, _ = np_conv1d(x, W, None, None, "wide", "tanh", pool)
        got = ops.conv1d(x, W, None, None, "wide", "tanh", pool)
        np.testing.assert_allclose(got[0] if pool else got, want, rtol=1e-10, atol=1e-12)


def test_sequences_shorter_than_the_filter_in_wide_mode(rng):
    x, W, b = make(rng, 3, 2, 4, 5, 5, np.float64)  # T = 2 < K = 5
    lengths = np.array([2, 1, 2])
    for pool in POOLS:
        want, _ = np_conv1d(x, W, b, lengths, "wide", "relu", pool)
        got = ops.conv1d(x, W, b, lengths, "wide", "relu", pool)
        np.testing.assert_allclose(got[0] if pool else got, want, rtol=1e-10, atol=1e-12)


def test_padding_content_is_ignored(rng):
    """Whatever sits past a sequence's length (even NaN) changes nothing, forward or backward."""
    x, W, b = make(rng, 4, 10, 5, 6, 3)
    lengths = np.array([10, 4, 7, 3])
    dirty = x.copy()
    for n, L in enumerate(lengths):
        dirty[n, L:] = np.nan
    for mode in ("narrow", "wide"):
        for pool in POOLS:
            clean_out = ops.conv1d(x, W, b, lengths, mode, "tanh", pool)
            dirty_out = ops.conv1d(dirty, W, b, lengths, mode, "tanh", pool)
            a = clean_out[0] if pool else clean_out
            c = dirty_out[0] if pool else dirty_out
            np.testing.assert_array_equal(a, c)
            dout = np.ones_like(a)
            kw = dict(y=None if pool == "max" else (clean_out[1] if pool else clean_out),
                      pooled=clean_out[0] if pool == "max" else None,
                      argmax=clean_out[1] if pool == "max" else None)
            g1 = ops.conv1d_backward(x, W, dout, lengths, mode, "tanh", pool, **kw)
            g2 = ops.conv1d_backward(dirty, W, dout, lengths, mode, "tanh", pool, **kw)
            for u, v in zip(g1, g2):
                np.testing.assert_array_equal(u, v)
            for n, L in enumerate(lengths):
                assert not g1[0][n, L:].any()


# ---- fast against the C++ reference ----------------------------------------------------------

SIZES = [  # B, T, D, H, K (T >= K: narrow mode applies); the last ones take the threaded, blocked path
    (1, 1, 1, 1, 1), (3, 7, 9, 8, 3), (8, 16, 17, 15, 2), (9, 5, 3, 33, 5), (33, 31, 16, 17, 3),
    (17, 40, 64, 31, 4),
]


def run_both(x, W, b, lengths, mode, act, pool, dout_rng):
    res = {}
    for reference in (False, True):
        B, T, D = x.shape
        H, KD = W.shape
        T_out = ops.conv_out_len(T, KD // D, mode)
        y = np.full((B, T_out, H), 7, x.dtype) if pool != "max" else None
        pooled = np.full((B, H), 7, x.dtype) if pool else None
        argmax = np.full((B, H), -1, np.int64) if pool == "max" else None
        _C.conv1d_forward(x, W, b, lengths, y, pooled, argmax, mode, act, pool or "none", reference=reference)
        if reference is False:
            shape = (B, T_out, H) if pool is None else (B, H)
            dout = dout_rng.standard_normal(shape).astype(x.dtype)
        dx, dW, db = np.full_like(x, 7), np.full_like(W, 7), np.full_like(b, 7)
        _C.conv1d_backward(x, W, lengths, y, pooled, argmax, dout, dx, dW, db, mode, act, pool or "none",
                           reference=reference)
        res[reference] = dict(y=y, pooled=pooled, argmax=argmax, dx=dx, dW=dW, db=db)
    return res


@pytest.mark.simd
@pytest.mark.parametrize("mode", ["narrow", "wide"])
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("size", SIZES)
def test_fast_matches_reference(mode, pool, size, rng):
    B, T, D, H, K = size
    x, W, b = make(rng, B, T, D, H, K)
    lengths = lengths_for(rng, B, T, K, mode)
    res = run_both(x, W, b, lengths, mode, "relu", pool, rng)
    fast, ref = res[False], res[True]
    KD = K * D
    for k in ("y", "pooled"):
        if fast[k] is not None:
            np.testing.assert_allclose(fast[k], ref[k], **tol(KD))
    if pool == "max":
        np.testing.assert_array_equal(fast["argmax"], ref["argmax"])
    np.testing.assert_allclose(fast["dx"], ref["dx"], **tol(H * K))
    np.testing.assert_allclose(fast["dW"], ref["dW"], **tol(B * T))
    np.testing.assert_allclose(fast["db"], ref["db"], **tol(B * T))


# The float32 forward's products run in register tiles of 6 windows by 16 filters packed per call
# (the float64 one through BLAS, checked above and by the gradient checks): windows per sequence
# (T_out mod 6) and filters (H mod 16) here hit every remainder, with K = 1 and T < K (wide), on 1,
# 2 and 3 threads (the last size is above the threading grain, the others run inline).
PACKED_SIZES = [  # B, T, D, H, K
    (2, 8, 5, 1, 3), (3, 12, 4, 15, 2), (5, 10, 3, 16, 5), (4, 9, 7, 17, 1), (7, 23, 9, 33, 4),
    (3, 2, 6, 7, 4), (9, 30, 40, 100, 3),
]


@pytest.mark.simd
@pytest.mark.parametrize("mode", ["narrow", "wide"])
@pytest.mark.parametrize("size", PACKED_SIZES)
def test_forward_matches_reference_on_tile_remainders(size, mode, threads, rng):
    B, T, D, H, K = size
    if mode == "narrow" and T < K:
        pytest.skip("narrow mode needs T >= K")
    dtype = np.float32
    x, W, b = make(rng, B, T, D, H, K, dtype)
    T_out = ops.conv_out_len(T, K, mode)
    t = tol(K * D)
    for lengths in (None, lengths_for(rng, B, T, K, mode)):
        for pool in ("none", "max", "avg"):
            res = []
            for reference in (False, True):
                y = np.full((B, T_out, H), 7, dtype) if pool != "max" else None
                pooled = np.full((B, H), 7, dtype) if pool != "none" else None
                argmax = np.full((B, H), -1, np.int64) if pool == "max" else None
                _C.conv1d_forward(x, W, b, lengths, y, pooled, argmax, mode, "tanh", pool, reference=reference)
                res.append((y, pooled, argmax))
            (y, pooled, argmax), (y_ref, pooled_ref, argmax_ref) = res
            if y is not None:
                np.testing.assert_allclose(y, y_ref, **t)
            if pooled is not None:
                np.testing.assert_allclose(pooled, pooled_ref, **t)
            if argmax is not None:
                np.testing.assert_array_equal(argmax, argmax_ref)


def test_accumulate_adds_into_dW_and_db(rng):
    x, W, b = make(rng, 4, 9, 5, 6, 3)
    y = ops.conv1d(x, W, b, None, "narrow", "tanh")
    dout = rng.standard_normal(y.shape).astype(np.float32)
    _, dW, db = ops.conv1d_backward(x, W, dout, None, "narrow", "tanh", y=y)
    dW2, db2 = dW.copy(), db.copy()
    dx, _, _ = ops.conv1d_backward(x, W, dout, None, "narrow", "tanh", y=y, dW=dW2, db=db2, accumulate=True)
    np.testing.assert_allclose(dW2, 2 * dW, rtol=1e-6)
    np.testing.assert_allclose(db2, 2 * db, rtol=1e-6)


# ---- float64 gradient checks -----------------------------------------------------------------

@pytest.mark.parametrize("mode", ["narrow", "wide"])
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("reference", [False, True])
def test_gradcheck_float64(mode, pool, reference, rng):
    B, T, D, H, K = 3, 6, 3, 4, 3
    x, W, b = make(rng, B, T, D, H, K, np.float64, scale=2.0)
    lengths = np.array([6, 3, 5]) if mode == "narrow" else np.array([6, 1, 4])
    act = "tanh"
    T_out = ops.conv_out_len(T, K, mode)
    R = rng.standard_normal((B, T_out, H) if pool is None else (B, H))

    def forward():
        y = np.empty((B, T_out, H)) if pool != "max" else None
        pooled = np.empty((B, H)) if pool else None
        argmax = np.empty((B, H), np.int64) if pool == "max" else None
        _C.conv1d_forward(x, W, b, lengths, y, pooled, argmax, mode, act, pool or "none", reference=reference)
        return y, pooled, argmax

    def loss():
        y, pooled, _ = forward()
        return float(((pooled if pool else y) * R).sum())

    y, pooled, argmax = forward()
    dx, dW, db = np.empty_like(x), np.empty_like(W), np.empty_like(b)
    _C.conv1d_backward(x, W, lengths, y, pooled, argmax, R, dx, dW, db, mode, act, pool or "none",
                       reference=reference)
    assert_grad_close(dx, loss, x)
    assert_grad_close(dW, loss, W)
    assert_grad_close(db, loss, b)


# ---- torch.nn.Conv1d ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["narrow", "wide"])
@pytest.mark.parametrize("pool", POOLS)
def test_matches_torch(mode, pool, rng):
    torch = pytest.importorskip("torch", reason="torch is a peer: pip install '.[peers]'")
    B, T, D, H, K = 4, 9, 5, 6, 3
    x, W, b = make(rng, B, T, D, H, K, np.float64)
    lengths = lengths_for(rng, B, T, K, mode)
    out = ops.conv1d(x, W, b, lengths, mode, "relu", pool)
    main = out[0] if pool else out
    dout = rng.standard_normal(main.shape)
    kw = dict(y=None if pool == "max" else (out[1] if pool else out), pooled=out[0] if pool == "max" else None,
              argmax=out[1] if pool == "max" else None)
    dx, dW, db = ops.conv1d_backward(x, W, dout, lengths, mode, "relu", pool, **kw)

    conv = torch.nn.Conv1d(D, H, K, padding=K - 1 if mode == "wide" else 0).double()
    with torch.no_grad():  # W[h, j*D + d] == weight[h, d, j]
        conv.weight.copy_(torch.from_numpy(W.reshape(H, K, D).transpose(0, 2, 1)))
        conv.bias.copy_(torch.from_numpy(b))
    # torch has no lengths: each sequence alone, cut to its length.
    for n, L in enumerate(lengths):
        xt = torch.from_numpy(x[n:n + 1, :L].copy()).requires_grad_()
        a = torch.relu(conv(xt.transpose(1, 2)))[0].T  # (T_b, H)
        Tb = a.shape[0]
        if pool == "max":
            o, g = a.max(0).values, torch.from_numpy(dout[n])
        elif pool == "avg":
            o, g = a.mean(0), torch.from_numpy(dout[n])
        else:
            o, g = a, torch.from_numpy(dout[n, :Tb])
        np.testing.assert_allclose(main[n] if pool else main[n, :Tb], o.detach().numpy(), rtol=1e-10, atol=1e-12)
        conv.zero_grad()
        o.backward(g)
        np.testing.assert_allclose(dx[n, :L], xt.grad[0].numpy(), rtol=1e-10, atol=1e-12)
        assert not dx[n, L:].any()
        if n == 0:
            tW = conv.weight.grad.numpy().transpose(0, 2, 1).reshape(H, K * D).copy()
            tb = conv.bias.grad.numpy().copy()
        else:
            tW += conv.weight.grad.numpy().transpose(0, 2, 1).reshape(H, K * D)
            tb += conv.bias.grad.numpy()
    np.testing.assert_allclose(dW, tW, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, tb, rtol=1e-10, atol=1e-12)


# ---- the layer -----------------------------------------------------------------------------------

@pytest.mark.parametrize("pool", POOLS)
def test_layer_forward_backward_accumulates(pool, rng):
    layer = nn.Conv1d(5, 7, 3, mode="wide", activation="tanh", pool=pool, dtype=np.float64, rng=rng)
    assert [p.name for p in layer.parameters()] == ["W", "b"]
    assert layer.W.shape == (7, 15)
    x = rng.standard_normal((4, 6, 5))
    lengths = np.array([6, 2, 5, 1])
    out = layer(x, lengths)
    assert out.shape == ((4, 8, 7) if pool is None else (4, 7))
    want, _ = np_conv1d(x, layer.W.value, layer.b.value, lengths, "wide", "tanh", pool)
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    gW, gb = layer.W.grad.copy(), layer.b.grad.copy()
    layer.backward(dout)
    np.testing.assert_allclose(layer.W.grad, 2 * gW)
    np.testing.assert_allclose(layer.b.grad, 2 * gb)

    def loss():
        return float((layer(x, lengths) * dout).sum())

    assert_grad_close(dx, loss, x)
    layer.zero_grad()
    assert not layer.W.grad.any()


def test_layer_without_bias_and_repr(rng):
    layer = nn.Conv1d(3, 2, 1, bias=False, rng=rng)
    assert layer.b is None and len(layer.parameters()) == 1
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(layer(x), x @ layer.W.value.T, rtol=1e-5, atol=1e-6)
    layer.backward(np.ones((2, 4, 2), np.float32))
    assert "Conv1d(3, 2, width=1" in repr(layer)


def test_layer_bad_arguments():
    with pytest.raises(ValueError, match=r"Conv1d: mode must be 'narrow' or 'wide', got 'same'"):
        nn.Conv1d(3, 2, 2, mode="same")
    with pytest.raises(ValueError, match=r"Conv1d: pool must be None, 'max' or 'avg', got 'sum'"):
        nn.Conv1d(3, 2, 2, pool="sum")
    with pytest.raises(ValueError, match=r"Conv1d: width must be a positive integer, got 0"):
        nn.Conv1d(3, 2, 0)
    with pytest.raises(RuntimeError, match=r"call forward first"):
        nn.Conv1d(3, 2, 2).backward(np.ones((1, 2), np.float32))


# ---- bad input: the error names the op, the argument, what was expected and what was given ----

def _args(B=3, T=6, D=4, H=5, K=3):
    rng = np.random.default_rng(0)
    return make(rng, B, T, D, H, K)


def test_bad_lengths():
    x, W, b = _args()
    with pytest.raises(ValueError, match=r"conv1d_forward: lengths must be in \[1, T=6\] \(T from x\), got 7 at position 1"):
        ops.conv1d(x, W, b, np.array([6, 7, 6]), "wide")
    with pytest.raises(ValueError, match=r"got 0 at position 2 \(zero-length sequences are not allowed\)"):
        ops.conv1d(x, W, b, np.array([6, 6, 0]), "wide")
    with pytest.raises(ValueError, match=r"lengths must have shape \(3,\) \(B, one length per sequence\), got \(2,\)"):
        ops.conv1d(x, W, b, np.array([6, 6]), "wide")
    with pytest.raises(TypeError, match=r"lengths must be int32 or int64 ids, got float64"):
        ops.conv1d(x, W, b, np.array([6.0, 6.0, 6.0]), "wide")


def test_narrow_mode_needs_sequences_at_least_the_filter_width():
    x, W, b = _args()
    with pytest.raises(ValueError, match=r"narrow mode needs every length >= K=3, got 2 at position 1 \(use mode='wide'"):
        ops.conv1d(x, W, b, np.array([6, 2, 6]), "narrow", pool="max")
    x2, W2, b2 = _args(T=2)
    with pytest.raises(ValueError, match=r"narrow mode needs T >= K, got T=2 and K=3"):
        ops.conv1d(x2, W2, b2, None, "narrow")
    ops.conv1d(x2, W2, b2, None, "wide")  # fine in wide mode


def test_bad_shapes_and_dtypes():
    x, W, b = _args()
    with pytest.raises(ValueError, match=r"conv1d: W must have shape \(H, K\*D\) with D=4 from x \(K the filter width\), got \(5, 10\)"):
        ops.conv1d(x, np.ones((5, 10), np.float32), b)
    with pytest.raises(ValueError, match=r"conv1d_forward: b must have shape \(5,\) \(H, the rows of W\), got \(4,\)"):
        ops.conv1d(x, W, np.ones(4, np.float32))
    with pytest.raises(TypeError, match=r"conv1d_forward: x must be float32 or float64, got int64"):
        ops.conv1d(x.astype(np.int64), W, b)
    with pytest.raises(TypeError, match=r"W must have the dtype of x \(float32\), got float64"):
        ops.conv1d(x, W.astype(np.float64), b)
    with pytest.raises(ValueError, match=r"conv1d: x must be 3-D, got shape \(3, 6\)"):
        ops.conv1d(x[:, :, 0], W, b)
    with pytest.raises(ValueError, match=r"conv1d_forward: x must be C-contiguous"):
        ops.conv1d(np.ones((3, 6, 8), np.float32)[:, :, ::2], W, b)
    with pytest.raises(ValueError, match=r"mode must be 'narrow' or 'wide', got 'full'"):
        ops.conv1d(x, W, b, mode="full")
    with pytest.raises(ValueError, match=r"pool must be None, 'max' or 'avg', got 'min'"):
        ops.conv1d(x, W, b, pool="min")


def test_bad_backward_arguments():
    x, W, b = _args()
    pooled, argmax = ops.conv1d(x, W, b, None, "narrow", "relu", "max")
    bad = argmax.copy()
    bad[1, 2] = 4  # narrow: T_out = 4 positions
    with pytest.raises(ValueError, match=r"argmax must be in \[0, 4\) for sequence 1, got 4 at position \(1, 2\)"):
        ops.conv1d_backward(x, W, np.ones_like(pooled), None, "narrow", "relu", "max", pooled=pooled, argmax=bad)
    with pytest.raises(TypeError, match=r"argmax must be int64, got int32"):
        ops.conv1d_backward(x, W, np.ones_like(pooled), None, "narrow", "relu", "max", pooled=pooled,
                            argmax=argmax.astype(np.int32))
    with pytest.raises(ValueError, match=r"pool='max' needs pooled \(B, H\)"):
        ops.conv1d_backward(x, W, np.ones_like(pooled), None, "narrow", "relu", "max", argmax=argmax)
    with pytest.raises(ValueError, match=r"dy must have shape \(3, 5\) \(B, H\), the shape of pooled, got \(3, 4\)"):
        ops.conv1d_backward(x, W, np.ones((3, 4), np.float32), None, "narrow", "relu", "max", pooled=pooled,
                            argmax=argmax)
    with pytest.raises(ValueError, match=r"accumulate=True needs the dW"):
        ops.conv1d_backward(x, W, np.ones_like(pooled), None, "narrow", "relu", "max", pooled=pooled,
                            argmax=argmax, accumulate=True)


# ---- GPU: conv1d against the CPU (marked gpu) ----

CONV_SIZES = [  # B, T, D, H, K (T >= K: narrow mode applies)
    (1, 1, 1, 1, 1), (3, 7, 5, 9, 3), (4, 9, 17, 33, 2), (7, 16, 8, 15, 5), (2, 33, 31, 17, 4),
    (9, 5, 3, 64, 5),
]


@pytest.mark.gpu
@pytest.mark.parametrize("B,T,D,H,K", CONV_SIZES)
@pytest.mark.parametrize("mode", ["narrow", "wide"])
@pytest.mark.parametrize("pool", [None, "max", "avg"])
@pytest.mark.parametrize("use_lengths", [False, True])
def test_gpu_conv1d_matches_cpu(B, T, D, H, K, mode, pool, use_lengths, rng, cp):
    x = rng.standard_normal((B, T, D)).astype(gc.F32)
    W = (rng.standard_normal((H, K * D)) / np.sqrt(K * D)).astype(gc.F32)
    b = rng.standard_normal(H).astype(gc.F32)
    lengths = gc.lengths_for(rng, B, T, K if mode == "narrow" else 1) if use_lengths else None
    if lengths is not None:  # padding is read as zero by both sides: NaN there would show
        for n, L in enumerate(lengths):
            x[n, L:] = np.nan
    act = "tanh"
    r_cpu = ops.conv1d(x, W, b, lengths, mode, act, pool)
    r_gpu = ops.conv1d(gc.dev(x), gc.dev(W), gc.dev(b), lengths, mode, act, pool)
    if pool is None:
        gc.close(r_gpu, r_cpu, "y", **gc.seq_tol(K * D))
        dout = rng.standard_normal(r_cpu.shape).astype(gc.F32)
        kw = dict(y=r_cpu)
    elif pool == "avg":
        gc.close(r_gpu[0], r_cpu[0], "pooled", **gc.seq_tol(K * D))
        gc.close(r_gpu[1], r_cpu[1], "y", **gc.seq_tol(K * D))
        dout = rng.standard_normal((B, H)).astype(gc.F32)
        kw = dict(y=r_cpu[1])
    else:
        gc.close(r_gpu[0], r_cpu[0], "pooled", **gc.seq_tol(K * D))
        am_gpu = gc.to_host(r_gpu[1])
        assert am_gpu.dtype == np.int64 and am_gpu.shape == (B, H)
        # The same position, unless two positions tie within rounding: wherever the GPU picked
        # another position, that position must hold a maximum too (the CPU's own activations there
        # equal the pooled maximum within the output tolerance), and lie inside the sequence.
        y_all = ops.conv1d(x, W, b, lengths, mode, act, None)
        T_out = ops.conv.conv_out_len(T, K, mode)
        lim = T_out if lengths is None else np.array([ops.conv.conv_out_len(L, K, mode) for L in lengths])
        assert ((am_gpu >= 0) & (am_gpu < np.reshape(lim, (-1, 1)))).all(), "argmax outside the sequence"
        at_gpu = np.take_along_axis(y_all, am_gpu[:, None, :], axis=1)[:, 0, :]
        np.testing.assert_allclose(at_gpu, r_cpu[0], err_msg="value at the GPU's argmax", **gc.seq_tol(K * D))
        dout = rng.standard_normal((B, H)).astype(gc.F32)
        kw = dict(pooled=r_cpu[0], argmax=r_cpu[1])
    # The backward on both sides from the same (CPU) forward results.
    kw = kw, {k: cp.asarray(v) for k, v in kw.items()}
    dx_c, dW_c, db_c = ops.conv1d_backward(x, W, dout, lengths, mode, act, pool, **kw[0])
    dx_g, dW_g, db_g = ops.conv1d_backward(gc.dev(x), gc.dev(W), gc.dev(dout), lengths, mode, act, pool, **kw[1])
    T_out = ops.conv.conv_out_len(T, K, mode)
    gc.close(dx_g, dx_c, "dx", **gc.seq_tol(H * K))
    gc.close(dW_g, dW_c, "dW", **gc.seq_tol(B * T_out))
    gc.close(db_g, db_c, "db", **gc.seq_tol(B * T_out))


@pytest.mark.gpu
@pytest.mark.parametrize("act", list(ops.ACTIVATIONS))
@pytest.mark.parametrize("pool", [None, "max", "avg"])
def test_gpu_conv1d_activations_and_accumulate(act, pool, rng, cp):
    B, T, D, H, K = 5, 11, 7, 9, 3
    x = rng.standard_normal((B, T, D)).astype(gc.F32)
    W = rng.standard_normal((H, K * D)).astype(gc.F32)
    b = rng.standard_normal(H).astype(gc.F32)
    lengths = np.array([11, 3, 7, 1, 9])
    r_cpu = ops.conv1d(x, W, b, lengths, "wide", act, pool)
    r_gpu = ops.conv1d(gc.dev(x), gc.dev(W), gc.dev(b), lengths, "wide", act, pool)
    first_c = r_cpu if pool is None else r_cpu[0]
    first_g = r_gpu if pool is None else r_gpu[0]
    gc.close(first_g, first_c, "first result", **gc.seq_tol(K * D))
    dout = rng.standard_normal(first_c.shape).astype(gc.F32)
    if pool == "max":
        kw_c = dict(pooled=r_cpu[0], argmax=r_cpu[1])
        kw_g = dict(pooled=gc.dev(r_cpu[0]), argmax=cp.asarray(r_cpu[1]))
    else:
        y = r_cpu if pool is None else r_cpu[1]
        kw_c, kw_g = dict(y=y), dict(y=gc.dev(y))
    dW0 = rng.standard_normal(W.shape).astype(gc.F32)
    db0 = rng.standard_normal(H).astype(gc.F32)
    _, dW_c, db_c = ops.conv1d_backward(x, W, dout, lengths, "wide", act, pool, need_dx=False, dW=dW0.copy(),
                                        db=db0.copy(), accumulate=True, **kw_c)
    dx_g, dW_g, db_g = ops.conv1d_backward(gc.dev(x), gc.dev(W), gc.dev(dout), lengths, "wide", act, pool,
                                           need_dx=False, dW=gc.dev(dW0), db=gc.dev(db0), accumulate=True, **kw_g)
    assert dx_g is None
    gc.close(dW_g, dW_c, "dW accumulated", **gc.seq_tol(B * (T + K)))
    gc.close(db_g, db_c, "db accumulated", **gc.seq_tol(B * (T + K)))


@pytest.mark.gpu
def test_gpu_conv1d_gpu_bad_input(rng, cp):
    x = cp.zeros((2, 5, 3), cp.float32)
    W = cp.zeros((4, 9), cp.float32)
    with pytest.raises(ValueError, match=r"conv1d_forward: narrow mode needs every length >= K=3, got 2"):
        ops.conv1d(x, W, None, np.array([5, 2]), "narrow")
    with pytest.raises(ValueError, match=r"conv1d_forward: lengths must be in \[1, T=5\]"):
        ops.conv1d(x, W, None, np.array([6, 2]), "wide")
    with pytest.raises(ValueError, match=r"conv1d_forward: W is on the CPU but x is on the GPU"):
        ops.conv1d(x, np.zeros((4, 9), gc.F32))
    with pytest.raises(TypeError, match=r"float32"):
        ops.conv1d(x.astype(cp.float64), W.astype(cp.float64))
    with pytest.raises(ValueError, match=r"conv1d_unfold: .*NumPy"):
        _C.conv1d_unfold(np.zeros((2, 5, 3), gc.F32), None, np.zeros((6, 9), gc.F32), 3, "narrow")
