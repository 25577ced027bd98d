"""The GPU path of the sequence ops against the CPU ops: conv1d (narrow / wide, no pooling, max, avg,
every activation, lengths) and Elman / LSTM / GRU over whole sequences (lengths, reverse, h0 / c0,
forward and BPTT), each called once with NumPy arrays and once with CuPy copies of them, on awkward
sizes. Skipped unless fastnlp.cuda_available() (CUDA built in, a GPU present, CuPy importable).

Tolerances (float32, GPU vs CPU): conv outputs and gradients within 1e-5 * sqrt(L) (relative and
absolute), L the length of their reduction (K*D for outputs, B*T_out for dW, H for dx); argmax exact
except where two positions tie within rounding (checked through the values instead). RNN outputs
and gradients within atol 5e-5 + rtol 5e-4: both sides use their own polynomial tanh / exp, and
errors compound through T steps of the recurrence.
"""

import numpy as np
import pytest
from conftest import cuda_skip_reason

from fastnlp import _C

if cuda_skip_reason():
    pytest.skip(cuda_skip_reason(), allow_module_level=True)

import cupy as cp  # noqa: E402

from fastnlp import ops  # noqa: E402

F32 = np.float32
CELLS = ["elman", "lstm", "gru"]
G = {"elman": 1, "lstm": 4, "gru": 3}
RNN_TOL = dict(rtol=5e-4, atol=5e-5)


def tol(L=1):
    return dict(rtol=1e-5 * np.sqrt(L), atol=1e-5 * np.sqrt(L))


def dev(a):
    """CuPy copy of a float array; lengths and None pass through (lengths stay on the host)."""
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return cp.asarray(a)
    return a


def to_host(a):
    return cp.asnumpy(a) if isinstance(a, cp.ndarray) else a


def close(got, want, what, **t):
    got = to_host(got)
    assert got is not None and want is not None or got is want, f"{what}: {got!r:.80} vs {want!r:.80}"
    if want is None:
        return
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    np.testing.assert_allclose(got, want, err_msg=what, **t)


def lengths_for(rng, B, T, lo=1):
    L = rng.integers(lo, T + 1, size=B).astype(np.int64)
    L[rng.integers(B)] = T  # at least one full sequence
    return L


# ---- conv1d ---------------------------------------------------------------------------------------

CONV_SIZES = [  # B, T, D, H, K
    (1, 1, 1, 1, 1), (3, 7, 5, 9, 3), (4, 9, 17, 33, 2), (7, 16, 8, 15, 5), (2, 33, 31, 17, 4),
    (9, 5, 3, 64, 5),
]


@pytest.mark.parametrize("B,T,D,H,K", CONV_SIZES)
@pytest.mark.parametrize("mode", ["narrow", "wide"])
@pytest.mark.parametrize("pool", [None, "max", "avg"])
@pytest.mark.parametrize("use_lengths", [False, True])
def test_conv1d_matches_cpu(B, T, D, H, K, mode, pool, use_lengths, rng):
    if mode == "narrow" and T < K:
        pytest.skip("narrow needs T >= K")
    x = rng.standard_normal((B, T, D)).astype(F32)
    W = (rng.standard_normal((H, K * D)) / np.sqrt(K * D)).astype(F32)
    b = rng.standard_normal(H).astype(F32)
    lengths = lengths_for(rng, B, T, K if mode == "narrow" else 1) if use_lengths else None
    if lengths is not None:  # padding is read as zero by both sides: NaN there would show
        for n, L in enumerate(lengths):
            x[n, L:] = np.nan
    act = "tanh"
    r_cpu = ops.conv1d(x, W, b, lengths, mode, act, pool)
    r_gpu = ops.conv1d(dev(x), dev(W), dev(b), lengths, mode, act, pool)
    if pool is None:
        close(r_gpu, r_cpu, "y", **tol(K * D))
        dout = rng.standard_normal(r_cpu.shape).astype(F32)
        kw = dict(y=r_cpu)
    elif pool == "avg":
        close(r_gpu[0], r_cpu[0], "pooled", **tol(K * D))
        close(r_gpu[1], r_cpu[1], "y", **tol(K * D))
        dout = rng.standard_normal((B, H)).astype(F32)
        kw = dict(y=r_cpu[1])
    else:
        close(r_gpu[0], r_cpu[0], "pooled", **tol(K * D))
        am_gpu = to_host(r_gpu[1])
        assert am_gpu.dtype == np.int64 and am_gpu.shape == (B, H)
        # The same position, unless two positions tie within rounding (then both are a max).
        assert (am_gpu == r_cpu[1]).mean() > 0.95, "argmax differs beyond a few near-ties"
        dout = rng.standard_normal((B, H)).astype(F32)
        kw = dict(pooled=r_cpu[0], argmax=r_cpu[1])
    # The backward on both sides from the same (CPU) forward results.
    kw = kw, {k: cp.asarray(v) for k, v in kw.items()}
    dx_c, dW_c, db_c = ops.conv1d_backward(x, W, dout, lengths, mode, act, pool, **kw[0])
    dx_g, dW_g, db_g = ops.conv1d_backward(dev(x), dev(W), dev(dout), lengths, mode, act, pool, **kw[1])
    T_out = ops.conv.conv_out_len(T, K, mode)
    close(dx_g, dx_c, "dx", **tol(H * K))
    close(dW_g, dW_c, "dW", **tol(B * T_out))
    close(db_g, db_c, "db", **tol(B * T_out))


@pytest.mark.parametrize("act", list(ops.ACTIVATIONS))
@pytest.mark.parametrize("pool", [None, "max", "avg"])
def test_conv1d_activations_and_accumulate(act, pool, rng):
    B, T, D, H, K = 5, 11, 7, 9, 3
    x = rng.standard_normal((B, T, D)).astype(F32)
    W = rng.standard_normal((H, K * D)).astype(F32)
    b = rng.standard_normal(H).astype(F32)
    lengths = np.array([11, 3, 7, 1, 9])
    r_cpu = ops.conv1d(x, W, b, lengths, "wide", act, pool)
    r_gpu = ops.conv1d(dev(x), dev(W), dev(b), lengths, "wide", act, pool)
    first_c = r_cpu if pool is None else r_cpu[0]
    first_g = r_gpu if pool is None else r_gpu[0]
    close(first_g, first_c, "first result", **tol(K * D))
    dout = rng.standard_normal(first_c.shape).astype(F32)
    if pool == "max":
        kw_c = dict(pooled=r_cpu[0], argmax=r_cpu[1])
        kw_g = dict(pooled=dev(r_cpu[0]), argmax=cp.asarray(r_cpu[1]))
    else:
        y = r_cpu if pool is None else r_cpu[1]
        kw_c, kw_g = dict(y=y), dict(y=dev(y))
    dW0 = rng.standard_normal(W.shape).astype(F32)
    db0 = rng.standard_normal(H).astype(F32)
    _, dW_c, db_c = ops.conv1d_backward(x, W, dout, lengths, "wide", act, pool, need_dx=False, dW=dW0.copy(),
                                        db=db0.copy(), accumulate=True, **kw_c)
    dx_g, dW_g, db_g = ops.conv1d_backward(dev(x), dev(W), dev(dout), lengths, "wide", act, pool,
                                           need_dx=False, dW=dev(dW0), db=dev(db0), accumulate=True, **kw_g)
    assert dx_g is None
    close(dW_g, dW_c, "dW accumulated", **tol(B * (T + K)))
    close(db_g, db_c, "db accumulated", **tol(B * (T + K)))


def test_conv1d_gpu_bad_input(rng):
    x = cp.zeros((2, 5, 3), cp.float32)
    W = cp.zeros((4, 9), cp.float32)
    with pytest.raises(ValueError, match=r"conv1d_forward: narrow mode needs every length >= K=3, got 2"):
        ops.conv1d(x, W, None, np.array([5, 2]), "narrow")
    with pytest.raises(ValueError, match=r"conv1d_forward: lengths must be in \[1, T=5\]"):
        ops.conv1d(x, W, None, np.array([6, 2]), "wide")
    with pytest.raises(ValueError, match=r"conv1d_forward: W is on the CPU but x is on the GPU"):
        ops.conv1d(x, np.zeros((4, 9), F32))
    with pytest.raises(TypeError, match=r"float32"):
        ops.conv1d(x.astype(cp.float64), W.astype(cp.float64))
    with pytest.raises(ValueError, match=r"conv1d_unfold: .*NumPy"):
        _C.conv1d_unfold(np.zeros((2, 5, 3), F32), None, np.zeros((6, 9), F32), 3, "narrow")


# ---- RNNs -----------------------------------------------------------------------------------------

RNN_SIZES = [  # B, T, D, H
    (1, 1, 1, 1), (3, 7, 5, 9), (4, 9, 17, 33), (8, 16, 3, 15), (17, 5, 8, 64),
]


def rnn_case(rng, cell, B, T, D, H, bias=True):
    s = 1 / np.sqrt(H)
    W_ih = rng.uniform(-s, s, (G[cell] * H, D)).astype(F32)
    W_hh = rng.uniform(-s, s, (G[cell] * H, H)).astype(F32)
    b_ih = rng.uniform(-s, s, G[cell] * H).astype(F32) if bias else None
    b_hh = rng.uniform(-s, s, G[cell] * H).astype(F32) if bias else None
    x = rng.standard_normal((B, T, D)).astype(F32)
    return x, W_ih, W_hh, b_ih, b_hh


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("B,T,D,H", RNN_SIZES)
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_rnn_matches_cpu(cell, B, T, D, H, use_lengths, reverse, with_h0, rng):
    x, W_ih, W_hh, b_ih, b_hh = rnn_case(rng, cell, B, T, D, H)
    lengths = lengths_for(rng, B, T) if use_lengths else None
    if lengths is not None:
        for n, L in enumerate(lengths):
            x[n, L:] = np.nan  # padding must never be read
    h0 = rng.standard_normal((B, H)).astype(F32) if with_h0 else None
    c0 = rng.standard_normal((B, H)).astype(F32) if with_h0 and cell == "lstm" else None
    args = (W_ih, W_hh, b_ih, b_hh)
    out_c, hn_c, cn_c, ws_c = ops.rnn(cell, x, *args, lengths, h0, c0, reverse)
    out_g, hn_g, cn_g, ws_g = ops.rnn(cell, dev(x), *map(dev, args), lengths, dev(h0), dev(c0), reverse)
    close(out_g, out_c, "out", **RNN_TOL)
    close(hn_g, hn_c, "h_n", **RNN_TOL)
    if cell == "lstm":
        close(cn_g, cn_c, "c_n", **RNN_TOL)
    else:
        assert cn_g is None
    assert ws_g.shape == ws_c.shape

    dout = rng.standard_normal((B, T, H)).astype(F32)
    dh_n = rng.standard_normal((B, H)).astype(F32)
    dc_n = rng.standard_normal((B, H)).astype(F32) if cell == "lstm" else None
    g_c = ops.rnn_backward(cell, x, W_ih, W_hh, ws_c, dout, dh_n, dc_n, b_ih, b_hh, lengths, h0, c0, reverse)
    g_g = ops.rnn_backward(cell, dev(x), dev(W_ih), dev(W_hh), ws_g, dev(dout), dev(dh_n), dev(dc_n),
                           dev(b_ih), dev(b_hh), lengths, dev(h0), dev(c0), reverse)
    for k in ("dx", "dh0", "dc0", "dW_ih", "dW_hh", "db_ih", "db_hh"):
        close(g_g[k], g_c[k], k, rtol=RNN_TOL["rtol"], atol=RNN_TOL["atol"] * np.sqrt(B * T))


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_no_bias_partial_grads_and_accumulate(cell, rng):
    B, T, D, H = 6, 13, 7, 17
    x, W_ih, W_hh, _, _ = rnn_case(rng, cell, B, T, D, H, bias=False)
    lengths = np.array([13, 1, 5, 13, 8, 2], np.int32)
    out_c, _, _, ws_c = ops.rnn(cell, x, W_ih, W_hh, lengths=lengths)
    out_g, _, _, ws_g = ops.rnn(cell, dev(x), dev(W_ih), dev(W_hh), lengths=cp.asarray(lengths))
    close(out_g, out_c, "out", **RNN_TOL)
    dout = rng.standard_normal((B, T, H)).astype(F32)
    acc = {"dW_ih": rng.standard_normal(W_ih.shape).astype(F32), "dW_hh": rng.standard_normal(W_hh.shape).astype(F32)}
    g_c = ops.rnn_backward(cell, x, W_ih, W_hh, ws_c, dout, lengths=lengths, need_dx=False, need_dh0=False,
                           grads={k: v.copy() for k, v in acc.items()}, accumulate=True)
    g_g = ops.rnn_backward(cell, dev(x), dev(W_ih), dev(W_hh), ws_g, dev(dout), lengths=lengths,
                           need_dx=False, need_dh0=False, grads={k: dev(v) for k, v in acc.items()},
                           accumulate=True)
    assert g_g["dx"] is None and g_g["dh0"] is None and g_g["db_ih"] is None
    for k in ("dW_ih", "dW_hh"):
        close(g_g[k], g_c[k], k, rtol=RNN_TOL["rtol"], atol=RNN_TOL["atol"] * np.sqrt(B * T))


@pytest.mark.parametrize("cell", CELLS)
def test_rnn_inference_without_workspace(cell, rng):
    x, W_ih, W_hh, b_ih, b_hh = rnn_case(rng, cell, 5, 9, 4, 11)
    out_c, hn_c, _, _ = ops.rnn(cell, x, W_ih, W_hh, b_ih, b_hh)
    out_g, hn_g, _, ws = ops.rnn(cell, *map(dev, (x, W_ih, W_hh, b_ih, b_hh)), need_workspace=False)
    assert ws is None
    close(out_g, out_c, "out", **RNN_TOL)
    close(hn_g, hn_c, "h_n", **RNN_TOL)


def test_rnn_gpu_bad_input(rng):
    x, W_ih, W_hh, b_ih, b_hh = map(dev, rnn_case(rng, "lstm", 3, 4, 5, 6))
    with pytest.raises(ValueError, match=r"rnn_forward: lengths must be in \[1, T=4\]"):
        ops.rnn("lstm", x, W_ih, W_hh, lengths=np.array([1, 0, 4]))
    with pytest.raises(ValueError, match=r"rnn_forward: W_hh must have shape"):
        ops.rnn("lstm", x, W_ih, W_hh[:, :5])
    with pytest.raises(ValueError, match=r"rnn_forward: h0 is on the CPU but x is on the GPU"):
        ops.rnn("lstm", x, W_ih, W_hh, h0=np.zeros((3, 6), F32))
    out, h_n, c_n, ws = ops.rnn("lstm", x, W_ih, W_hh)
    with pytest.raises(ValueError, match=r"rnn_backward: ws must have shape"):
        ops.rnn_backward("lstm", x, W_ih, W_hh, ws[:-1], dout=out)
    with pytest.raises(ValueError, match=r"rnn_backward: dh_n must have shape \(3, 6\)"):
        ops.rnn_backward("lstm", x, W_ih, W_hh, ws, dh_n=h_n[:2])
    with pytest.raises(ValueError, match=r"rnn_step_forward: .*NumPy"):
        _C.rnn_step_forward("elman", 0, False, None, np.zeros((4, 2), F32), np.zeros((2, 2), F32), None, None,
                            np.zeros((2, 2), F32), None, np.zeros((2, 2, 2), F32), None, 3)
    # The GPU is still usable after the refusals.
    out2, _, _, _ = ops.rnn("lstm", x, W_ih, W_hh)
    np.testing.assert_array_equal(cp.asnumpy(out2), cp.asnumpy(out))


@pytest.mark.parametrize("layer", ["lstm", "gru", "bilstm"])
def test_rnn_layers_run_on_the_gpu(layer, rng):
    """fastnlp.nn's recurrent layers on CuPy arrays: same outputs, states and gradients as on NumPy."""
    from fastnlp import nn

    B, T, D, H = 3, 7, 5, 4
    make = {"lstm": lambda: nn.LSTM(D, H, num_layers=2, rng=np.random.default_rng(0)),
            "gru": lambda: nn.GRU(D, H, num_layers=2, rng=np.random.default_rng(0)),
            "bilstm": lambda: nn.BiRNN(nn.LSTM, D, H, rng=np.random.default_rng(0))}[layer]
    cpu, gpu = make(), make()
    for p in gpu.parameters():
        p.value = cp.asarray(p.value)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    lengths = np.array([7, 3, 1], np.int64)
    out_c, st_c = cpu.forward(x, lengths)
    out_g, st_g = gpu.forward(cp.asarray(x), lengths)  # lengths stay on the host
    close(out_g, out_c, f"{layer} out", **tol(T))
    for a, b in zip(st_g if isinstance(st_g, tuple) else (st_g,), st_c if isinstance(st_c, tuple) else (st_c,)):
        close(a, b, f"{layer} state", **tol(T))
    dout = rng.standard_normal(out_c.shape).astype(np.float32)
    close(gpu.backward(cp.asarray(dout)), cpu.backward(dout), f"{layer} dx", **tol(T))
    for pg, pc in zip(gpu.parameters(), cpu.parameters()):
        close(pg.grad, pc.grad, f"{layer} {pc.name} grad", **tol(B * T))
