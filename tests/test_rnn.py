"""Elman / LSTM / GRU over whole sequences: a NumPy step loop as the oracle for every cell, the fast
kernels against the C++ reference on awkward sizes (threaded paths included), float64
finite-difference gradients through whole sequences with variable lengths, reverse direction and
initial states, torch.nn.RNN / LSTM / GRU when importable (packed variable lengths, stacking,
bidirectional), the layers, gradient clipping and bad input.

Tolerances: float32 results within atol 2e-5, rtol 1e-4 of the reference (the fast gates use
polynomial exp / tanh, a few ulp, through T steps); float64 against NumPy / torch within 1e-10;
float64 gradients within rtol 1e-5, atol 1e-7 of central differences (eps 1e-6).

Over 500 lines on purpose: one op family keeps one test file (README, Layout), so a reader finds
every check of the recurrences in one place.
"""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C, nn, ops
from gradcheck import assert_grad_close
import gpu_compare as gc

CELLS = ["elman", "lstm", "gru"]
G = {"elman": 1, "lstm": 4, "gru": 3}
F32 = dict(rtol=1e-4, atol=2e-5)
F64 = dict(rtol=1e-10, atol=1e-12)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_step(cell, x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One step for one sequence: x (D), h, c (H) -> (h', c')."""
    H = h.shape[0]
    a = W_ih @ x + (0 if b_ih is None else b_ih)
    r = W_hh @ h + (0 if b_hh is None else b_hh)
    if cell == "elman":
        return np.tanh(a + r), c
    if cell == "lstm":
        i, f, g, o = (a[k * H:(k + 1) * H] + r[k * H:(k + 1) * H] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    rr = sigmoid(a[:H] + r[:H])
    z = sigmoid(a[H:2 * H] + r[H:2 * H])
    n = np.tanh(a[2 * H:] + rr * r[2 * H:])
    return (1 - z) * n + z * h, c


def np_rnn(cell, x, W_ih, W_hh, b_ih=None, b_hh=None, lengths=None, h0=None, c0=None, reverse=False):
    """Step loop per sequence: (out (B, T, H), h_n (B, H), c_n (B, H))."""
    B, T, _ = x.shape
    H = W_hh.shape[1]
    out, h_n, c_n = np.zeros((B, T, H)), np.zeros((B, H)), np.zeros((B, H))
    for n in range(B):
        L = T if lengths is None else lengths[n]
        h = np.zeros(H) if h0 is None else h0[n].astype(np.float64)
        c = np.zeros(H) if c0 is None else c0[n].astype(np.float64)
        for s in range(L):
            p = L - 1 - s if reverse else s
            h, c = np_step(cell, x[n, p], h, c, W_ih, W_hh, b_ih, b_hh)
            out[n, p] = h
        h_n[n], c_n[n] = h, c
    return out, h_n, c_n


def make(rng, cell, B, T, D, H, dtype=np.float32, states=True):
    g = G[cell]
    s = 1 / np.sqrt(H)
    p = dict(
        x=rng.standard_normal((B, T, D)).astype(dtype),
        W_ih=(rng.uniform(-s, s, (g * H, D)) * 2).astype(dtype),
        W_hh=(rng.uniform(-s, s, (g * H, H)) * 2).astype(dtype),
        b_ih=rng.uniform(-s, s, g * H).astype(dtype),
        b_hh=rng.uniform(-s, s, g * H).astype(dtype),
        h0=rng.standard_normal((B, H)).astype(dtype) * 0.5 if states else None,
        c0=rng.standard_normal((B, H)).astype(dtype) * 0.5 if states and cell == "lstm" else None,
    )
    return p


def random_lengths(rng, B, T):
    lengths = rng.integers(1, T + 1, B)
    lengths[rng.integers(B)] = T
    return lengths


def call(cell, p, lengths, reverse, reference, dout, dh_n, dc_n):
    """Forward and backward through the bindings; returns every output and gradient."""
    x = p["x"]
    B, T, D = x.shape
    H = p["W_hh"].shape[1]
    out, h_n = np.full((B, T, H), 7, x.dtype), np.full((B, H), 7, x.dtype)
    c_n = np.full((B, H), 7, x.dtype) if cell == "lstm" else None
    ws = np.full(ops.rnn_workspace_size(cell, B, T, D, H), 7, x.dtype)
    args = (cell, x, p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], lengths, p["h0"], p["c0"])
    _C.rnn_forward(*args, out, h_n, c_n, ws, reverse, reference)
    g = {k: np.full_like(p[k], 7) for k in ("x", "W_ih", "W_hh", "b_ih", "b_hh")}
    g["h0"] = np.full((B, H), 7, x.dtype)
    g["c0"] = np.full((B, H), 7, x.dtype) if cell == "lstm" else None
    _C.rnn_backward(*args, ws, dout, dh_n, dc_n, g["x"], g["h0"], g["c0"], g["W_ih"], g["W_hh"], g["b_ih"],
                    g["b_hh"], reverse, False, reference)
    return dict(out=out, h_n=h_n, c_n=c_n), g


# ---- forward against NumPy -------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_forward_matches_numpy(cell, reverse, with_lengths, rng):
    B, T, D, H = 5, 7, 3, 9
    p = make(rng, cell, B, T, D, H, np.float64)
    lengths = random_lengths(rng, B, T) if with_lengths else None
    out, h_n, c_n, _ = ops.rnn(cell, p["x"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], lengths, p["h0"],
                               p["c0"], reverse)
    want = np_rnn(cell, p["x"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], lengths, p["h0"], p["c0"], reverse)
    np.testing.assert_allclose(out, want[0], **F64)
    np.testing.assert_allclose(h_n, want[1], **F64)
    if cell == "lstm":
        np.testing.assert_allclose(c_n, want[2], **F64)
    else:
        assert c_n is None


@pytest.mark.parametrize("cell", CELLS)
def test_float32_forward_and_defaults(cell, rng):
    """No biases, no initial state, float32 through the fast gate math."""
    p = make(rng, cell, 4, 6, 5, 17, states=False)
    out, h_n, _, ws = ops.rnn(cell, p["x"], p["W_ih"], p["W_hh"], need_workspace=False)
    assert ws is None
    want = np_rnn(cell, p["x"].astype(np.float64), p["W_ih"], p["W_hh"])
    np.testing.assert_allclose(out, want[0], **F32)
    np.testing.assert_allclose(h_n, want[1], **F32)


@pytest.mark.parametrize("cell", CELLS)
def test_one_step_cell(cell, rng):
    B, D, H = 3, 4, 5
    p = make(rng, cell, B, 1, D, H, np.float64)
    x = p["x"][:, 0]
    h, c, ws = ops.rnn_cell(cell, x, p["h0"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], c=p["c0"])
    for n in range(B):
        hn, cn = np_step(cell, x[n], p["h0"][n], None if p["c0"] is None else p["c0"][n], p["W_ih"], p["W_hh"],
                         p["b_ih"], p["b_hh"])
        np.testing.assert_allclose(h[n], hn, **F64)
        if cell == "lstm":
            np.testing.assert_allclose(c[n], cn, **F64)
    R = rng.standard_normal((B, H))
    g = ops.rnn_cell_backward(cell, x, p["h0"], p["W_ih"], p["W_hh"], ws, R, None, p["b_ih"], p["b_hh"], c=p["c0"])
    assert g["dx"].shape == (B, D) and g["dh"].shape == (B, H)

    def loss():
        return float((ops.rnn_cell(cell, x, p["h0"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], c=p["c0"])[0]
                      * R).sum())

    assert_grad_close(g["dx"], loss, x)
    assert_grad_close(g["dh"], loss, p["h0"])
    assert_grad_close(g["dW_hh"], loss, p["W_hh"])


# ---- fast against the C++ reference ----------------------------------------------------------

def assert_matches_reference(fo, fg, ro, rg, BT, H):
    """The fast kernels' outputs fo and gradients fg (from `call`) against the reference's ro, rg:
    outputs within F32; gradients with an absolute term growing with the number of terms summed
    (B*T for the weights and biases, H for the input and state gradients)."""
    for k in fo:
        if fo[k] is not None:
            np.testing.assert_allclose(fo[k], ro[k], **F32, err_msg=k)
    for k in fg:
        if fg[k] is not None:
            n = BT if k in ("W_ih", "W_hh", "b_ih", "b_hh") else H
            np.testing.assert_allclose(fg[k], rg[k], rtol=1e-4, atol=2e-5 * np.sqrt(n), err_msg=k)


SIZES = [  # B, T, D, H; the last ones are large enough for the threaded recurrence
    (1, 1, 1, 1), (3, 7, 9, 8), (8, 16, 17, 15), (9, 5, 3, 33), (17, 9, 31, 40),
    # The packed recurrent product's tiles: 1-5 leftover rows, 6-row blocks, panels of 16 columns
    # with partial last ones (H = 7, 200 split over threads), and the benchmarked H = 200, 256.
    (1, 4, 13, 256), (3, 3, 7, 200), (32, 3, 5, 7), (32, 2, 11, 256), (5, 3, 9, 200),
    (33, 12, 16, 64),
    # D > H with a 6-row tile per thread: the LSTM's input projections fused into its steps, the
    # GRU's one GEMM (fused only with D < H).
    (24, 5, 40, 32),
]


@pytest.mark.simd
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("size", SIZES)
def test_fast_matches_reference(cell, size, rng):
    B, T, D, H = size
    p = make(rng, cell, B, T, D, H)
    lengths = random_lengths(rng, B, T)
    reverse = bool(rng.integers(2))
    dout = rng.standard_normal((B, T, H)).astype(np.float32)
    dh_n = rng.standard_normal((B, H)).astype(np.float32)
    dc_n = rng.standard_normal((B, H)).astype(np.float32) if cell == "lstm" else None
    fo, fg = call(cell, p, lengths, reverse, False, dout, dh_n, dc_n)
    ro, rg = call(cell, p, lengths, reverse, True, dout, dh_n, dc_n)
    assert_matches_reference(fo, fg, ro, rg, B * T, H)
    for n, L in enumerate(lengths):  # outputs and input gradients are zero past each length
        assert not fo["out"][n, L:].any() and not fg["x"][n, L:].any()



@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("size", [(7, 5, 9, 48), (21, 4, 40, 32), (24, 5, 40, 32), (33, 3, 11, 64)])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fast_matches_reference_without_lengths(cell, size, threads, rng):
    """No lengths: the threads take contiguous blocks of sequences, each computing their input
    projections itself and packing its own W_hh, with no barrier before the steps (fused or not;
    B not a multiple of the thread count included)."""
    B, T, D, H = size
    p = make(rng, cell, B, T, D, H)
    dout = rng.standard_normal((B, T, H)).astype(np.float32)
    dh_n = rng.standard_normal((B, H)).astype(np.float32)
    dc_n = rng.standard_normal((B, H)).astype(np.float32) if cell == "lstm" else None
    old = fastnlp.get_num_threads()
    try:
        fastnlp.set_num_threads(threads)
        fo, fg = call(cell, p, None, False, False, dout, dh_n, dc_n)
    finally:
        fastnlp.set_num_threads(old)
    ro, rg = call(cell, p, None, False, True, dout, dh_n, dc_n)
    assert_matches_reference(fo, fg, ro, rg, B * T, H)


# ---- the projected forward (input projections computed by the caller) -----------------------

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("size", [(1, 1, 1, 1), (3, 7, 9, 8), (9, 5, 3, 33), (17, 9, 31, 40), (33, 6, 11, 64)])
def test_projected_forward_matches_rnn_and_reference(cell, size, rng):
    """rows = E W_ih^T once per distinct id, index = the ids: rnn's outputs for x = E[ids], from the
    fast kernel and the reference, zero past each length."""
    B, T, D, H = size
    p = make(rng, cell, B, T, D, H)
    U = max(1, B * T // 3)  # ids repeat
    E = rng.standard_normal((U, D)).astype(np.float32)
    ids = rng.integers(0, U, (B, T))
    lengths = random_lengths(rng, B, T)
    reverse = bool(rng.integers(2))
    rows = (E.astype(np.float64) @ p["W_ih"].T.astype(np.float64)).astype(np.float32)
    rest = (p["W_hh"], p["b_ih"], p["b_hh"], lengths, p["h0"], p["c0"], reverse)
    want = ops.rnn(cell, np.ascontiguousarray(E[ids]), p["W_ih"], *rest, need_workspace=False)
    got = ops.rnn_projected(cell, rows, ids, *rest)
    ref = [np.full((B, T, H), 7, np.float32), np.full((B, H), 7, np.float32),
           np.full((B, H), 7, np.float32) if cell == "lstm" else None]
    _C.rnn_forward_projected(cell, rows, ids, *rest[:-1], *ref, reverse, True)
    for k, name in enumerate(("out", "h_n", "c_n")):
        if want[k] is None:
            assert got[k] is None
            continue
        np.testing.assert_allclose(got[k], want[k], **F32, err_msg=name)
        np.testing.assert_allclose(ref[k], want[k], **F32, err_msg=name + " (reference)")
    for n, L in enumerate(lengths):
        assert not got[0][n, L:].any()
    # Without out (a caller reading only the last states): the same last states, fast and reference.
    last = ops.rnn_projected(cell, rows, ids, *rest, need_out=False)
    assert last[0] is None
    ref_last = [np.full((B, H), 7, np.float32), np.full((B, H), 7, np.float32) if cell == "lstm" else None]
    _C.rnn_forward_projected(cell, rows, ids, *rest[:-1], None, *ref_last, reverse, True)
    for k, name in ((1, "h_n"), (2, "c_n")):
        if want[k] is not None:
            np.testing.assert_array_equal(last[k], got[k], err_msg=name + " without out")
            np.testing.assert_allclose(ref_last[k - 1], want[k], **F32, err_msg=name + " without out (reference)")


def test_projected_forward_bad_input(rng):
    p = make(rng, "lstm", 2, 3, 4, 5)
    rows = rng.standard_normal((6, 20)).astype(np.float32)
    ids = np.array([[0, 5, 2], [1, 1, 0]])
    args = (p["W_hh"], p["b_ih"], p["b_hh"], np.array([3, 2]))
    with pytest.raises(ValueError, match=r"rnn_forward_projected: index must be in \[0, 6\) \(the rows of "
                                         r"rows\), got 6 at position 1"):
        ops.rnn_projected("lstm", rows, ids + (ids == 5), *args)
    with pytest.raises(ValueError, match="rnn_forward_projected: index must be int64, got int32"):
        ops.rnn_projected("lstm", rows, ids.astype(np.int32), *args)
    with pytest.raises(ValueError, match=r"rows must have shape \(\*, 20\) \(U, 4\*H\) with H=5 from W_hh, got \(6, 19\)"):
        ops.rnn_projected("lstm", rows[:, :19].copy(), ids, *args)
    with pytest.raises(ValueError, match=r"lengths must be in \[1, T=3\]"):
        ops.rnn_projected("lstm", rows, ids, *args[:3], np.array([4, 2]))
    with pytest.raises(ValueError, match="rnn: cell must be"):
        ops.rnn_projected(None, rows, ids, *args)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 5\) \(B, H\) with B=2 from index"):
        ops.rnn_projected("lstm", rows, ids, *args, h0=np.zeros((3, 5), np.float32))


@pytest.mark.parametrize("cell", CELLS)
def test_threaded_steps_ragged_lengths_under_contention(cell, threads, rng):
    """The per-step barrier at 1, 2 and 3 threads with ragged lengths, forward and backward against
    the reference, repeated (3 threads on a 2-core machine: threads descheduled at the barrier). A
    barrier that let a thread through early would read a state the other has not written."""
    B, T, D, H = 19, 13, 11, 64
    p = make(rng, cell, B, T, D, H)
    lengths = random_lengths(rng, B, T)
    dout = rng.standard_normal((B, T, H)).astype(np.float32)
    dh_n = rng.standard_normal((B, H)).astype(np.float32)
    dc_n = rng.standard_normal((B, H)).astype(np.float32) if cell == "lstm" else None
    ro, rg = call(cell, p, lengths, False, True, dout, dh_n, dc_n)
    for _ in range(20):
        fo, fg = call(cell, p, lengths, False, False, dout, dh_n, dc_n)
        assert_matches_reference(fo, fg, ro, rg, B * T, H)

# The packed recurrent product alone (ops/packed_gemm.h): M covers fewer than 6 rows (1-5) and 6-row
# blocks followed by every leftover (1-5 rows, their k split over up to 6 accumulator sets: K below,
# at and off a multiple of that; 4 rows in 3-panel groups of two 3-vector tiles, 2 rows in 3-panel
# groups of one 6-vector tile, 3 rows in pairs of panels, with panels left over and partial ones),
# N full and partial 16-column panels and groups of 2-4 panels, K down to 1. On an AVX-512 CPU the
# same sizes run the 64-byte tiles: balanced blocks of 1-12 rows (M = 12, 24, 36 whole blocks), 2
# panels a tile (4 for up to 3 rows) and a lone last panel.
PACKED_SIZES = [(1, 1, 1), (1, 64, 7), (1, 65, 33), (2, 48, 5), (2, 17, 16), (3, 32, 9), (3, 47, 2),
                (4, 16, 31), (5, 15, 8), (6, 16, 3), (7, 33, 17), (7, 16, 5), (8, 40, 19), (8, 17, 2),
                (9, 31, 13), (9, 32, 1), (10, 48, 23), (11, 20, 7), (13, 100, 11), (20, 64, 6),
                (32, 200, 64), (4, 50, 9), (16, 97, 12), (22, 80, 5), (15, 40, 7), (14, 48, 3), (21, 81, 9),
                (12, 70, 5), (24, 33, 4), (36, 129, 6), (2, 100, 3), (3, 80, 4)]


@pytest.mark.simd
@pytest.mark.parametrize("M,N,K", PACKED_SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_b", [False, True])
def test_packed_gemm_matches_reference_and_numpy(M, N, K, dtype, trans_b, rng):
    A = rng.standard_normal((M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    C0 = rng.standard_normal((M, N)).astype(dtype)
    want = A.astype(np.float64) @ (B.T if trans_b else B).astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-6 * np.sqrt(K)) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13 * np.sqrt(K))
    for reference in (False, True):
        C = np.full((M, N), np.nan, dtype)  # every element must be written
        _C.rnn_packed_gemm(A, B, trans_b, C, reference=reference)
        np.testing.assert_allclose(C, want, **tol, err_msg=f"reference={reference}")
        C = C0.copy()
        _C.rnn_packed_gemm(A, B, trans_b, C, accumulate=True, reference=reference)
        np.testing.assert_allclose(C, C0 + want, **tol, err_msg=f"accumulate, reference={reference}")


def test_packed_gemm_bad_arguments(rng):
    A = rng.standard_normal((3, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="rnn_packed_gemm: B"):
        _C.rnn_packed_gemm(A, np.zeros((4, 6), np.float32), False, np.zeros((3, 6), np.float32))
    with pytest.raises(ValueError, match="rnn_packed_gemm: C"):
        _C.rnn_packed_gemm(A, np.zeros((5, 6), np.float32), False, np.zeros((3, 7), np.float32))
    with pytest.raises(TypeError, match="rnn_packed_gemm"):
        _C.rnn_packed_gemm(A, np.zeros((5, 6), np.float64), False, np.zeros((3, 6), np.float32))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("size", [(5, 7, 3, 9), (17, 9, 31, 40)])
def test_padding_content_is_ignored(cell, size, rng):
    """Whatever sits in x past a sequence's length (even NaN) changes nothing, forward or backward."""
    B, T, D, H = size
    p = make(rng, cell, B, T, D, H)
    lengths = random_lengths(rng, B, T)
    lengths[0] = 1
    dirty = dict(p, x=p["x"].copy())
    for n, L in enumerate(lengths):
        dirty["x"][n, L:] = np.nan
    dout = rng.standard_normal((B, T, H)).astype(np.float32)
    clean_o, clean_g = call(cell, p, lengths, False, False, dout, None, None)
    dirty_o, dirty_g = call(cell, dirty, lengths, False, False, dout, None, None)
    for k in clean_o:
        if clean_o[k] is not None:
            np.testing.assert_array_equal(clean_o[k], dirty_o[k], err_msg=k)
    for k in clean_g:
        if clean_g[k] is not None:
            assert np.isfinite(dirty_g[k][~np.isnan(dirty["x"])] if k == "x" else dirty_g[k]).all(), k
            np.testing.assert_array_equal(clean_g[k], dirty_g[k], err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("size", [(4, 5, 3, 6), SIZES[-1]])  # one step loop inline, one threaded
def test_accumulate_and_optional_gradients(cell, size, rng):
    p = make(rng, cell, *size)
    out, h_n, c_n, ws = ops.rnn(cell, p["x"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], None, p["h0"], p["c0"])
    dout = rng.standard_normal(out.shape).astype(np.float32)
    kw = dict(b_ih=p["b_ih"], b_hh=p["b_hh"], h0=p["h0"], c0=p["c0"])
    g1 = ops.rnn_backward(cell, p["x"], p["W_ih"], p["W_hh"], ws, dout, **kw)
    acc = {k: g1[k].copy() for k in ("dW_ih", "dW_hh", "db_ih", "db_hh")}
    g2 = ops.rnn_backward(cell, p["x"], p["W_ih"], p["W_hh"], ws, dout, need_dx=False, need_dh0=False,
                          grads=acc, accumulate=True, **kw)
    assert g2["dx"] is None and g2["dh0"] is None and g2["dc0"] is None
    for k in acc:
        np.testing.assert_allclose(g2[k], 2 * g1[k], rtol=1e-6, atol=1e-7)
    # Only the acceptor's gradient: the same as dout zero everywhere.
    dh = rng.standard_normal(h_n.shape).astype(np.float32)
    a = ops.rnn_backward(cell, p["x"], p["W_ih"], p["W_hh"], ws, None, dh, **kw)
    b = ops.rnn_backward(cell, p["x"], p["W_ih"], p["W_hh"], ws, np.zeros_like(out), dh, **kw)
    for k in ("dx", "dW_hh", "dh0"):
        np.testing.assert_array_equal(a[k], b[k])


# ---- float64 gradient checks through whole sequences ---------------------------------------

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("reference", [False, True])
def test_gradcheck_float64(cell, reverse, reference, rng):
    B, T, D, H = 3, 4, 2, 3
    p = make(rng, cell, B, T, D, H, np.float64)
    lengths = np.array([4, 1, 3])
    R = rng.standard_normal((B, T, H))
    Rh = rng.standard_normal((B, H))
    Rc = rng.standard_normal((B, H)) if cell == "lstm" else None

    def loss():
        out, h_n, c_n = np.empty((B, T, H)), np.empty((B, H)), np.empty((B, H)) if cell == "lstm" else None
        _C.rnn_forward(cell, p["x"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], lengths, p["h0"], p["c0"], out,
                       h_n, c_n, None, reverse, reference)
        return float((out * R).sum() + (h_n * Rh).sum() + (0 if c_n is None else (c_n * Rc).sum()))

    _, g = call(cell, p, lengths, reverse, reference, R, Rh, Rc)
    for k in ("x", "W_ih", "W_hh", "b_ih", "b_hh", "h0", "c0"):
        if p[k] is not None:
            assert_grad_close(g[k], loss, p[k])


# ---- torch.nn ----------------------------------------------------------------------------------

TORCH_CLASS = {"elman": "RNN", "lstm": "LSTM", "gru": "GRU"}
OUR_CLASS = {"elman": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def copy_to_torch(torch, ours, theirs):
    """Our per-direction layers' Parameters into a torch.nn RNN's weight_ih_l0 (and _reverse) ..."""
    with torch.no_grad():
        for name, layer in ours:
            for p in ("W_ih", "W_hh", "b_ih", "b_hh"):
                tname = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}[p]
                getattr(theirs, f"{tname}_{name}").copy_(torch.from_numpy(getattr(layer, p).value))


def torch_run(torch, module, x, lengths, h0, c0, is_lstm):
    xt = torch.from_numpy(x).requires_grad_()
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.from_numpy(lengths), batch_first=True,
                                                     enforce_sorted=False)
    h0t = torch.from_numpy(h0).requires_grad_()
    state = h0t
    c0t = None
    if is_lstm:
        c0t = torch.from_numpy(c0).requires_grad_()
        state = (h0t, c0t)
    out, st = module(packed, state)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return xt, h0t, c0t, out, st


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_layers_match_torch(cell, num_layers, rng):
    torch = pytest.importorskip("torch", reason="torch is a peer: pip install '.[peers]'")
    B, T, D, H = 4, 6, 3, 5
    ours = OUR_CLASS[cell](D, H, num_layers, dtype=np.float64, rng=rng)
    theirs = getattr(torch.nn, TORCH_CLASS[cell])(D, H, num_layers, batch_first=True).double()
    copy_to_torch(torch, [(f"l{k}", layer) for k, layer in enumerate(ours.layers)], theirs)
    x = rng.standard_normal((B, T, D))
    lengths = np.array([6, 2, 5, 1])
    h0 = rng.standard_normal((num_layers, B, H))
    c0 = rng.standard_normal((num_layers, B, H))
    is_lstm = cell == "lstm"
    if is_lstm:
        out, (h_n, c_n) = ours.forward(x, lengths, h0, c0)
    else:
        out, h_n = ours.forward(x, lengths, h0)
    xt, h0t, c0t, tout, tst = torch_run(torch, theirs, x, lengths, h0, c0, is_lstm)
    np.testing.assert_allclose(out, tout.detach().numpy(), **F64)
    th = tst[0] if is_lstm else tst
    np.testing.assert_allclose(h_n, th.detach().numpy(), **F64)
    if is_lstm:
        np.testing.assert_allclose(c_n, tst[1].detach().numpy(), **F64)

    dout = rng.standard_normal(out.shape)
    dh = rng.standard_normal(h_n.shape)
    loss = (tout * torch.from_numpy(dout)).sum() + (th * torch.from_numpy(dh)).sum()
    dc = None
    if is_lstm:
        dc = rng.standard_normal(h_n.shape)
        loss = loss + (tst[1] * torch.from_numpy(dc)).sum()
        dx = ours.backward(dout, dh, dc)
    else:
        dx = ours.backward(dout, dh)
    loss.backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), **F64)
    np.testing.assert_allclose(ours.dh0, h0t.grad.numpy(), **F64)
    if is_lstm:
        np.testing.assert_allclose(ours.dc0, c0t.grad.numpy(), **F64)
    for k, layer in enumerate(ours.layers):
        for p, tname in (("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh")):
            np.testing.assert_allclose(getattr(layer, p).grad, getattr(theirs, f"{tname}_l{k}").grad.numpy(),
                                       **F64, err_msg=f"{p} layer {k}")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_birnn_matches_torch_bidirectional(cell, rng):
    torch = pytest.importorskip("torch", reason="torch is a peer: pip install '.[peers]'")
    B, T, D, H, layers = 3, 5, 4, 3, 2
    ours = nn.BiRNN(OUR_CLASS[cell], D, H, num_layers=layers, dtype=np.float64, rng=rng)
    theirs = getattr(torch.nn, TORCH_CLASS[cell])(D, H, layers, batch_first=True, bidirectional=True).double()
    pairs = []
    for k in range(layers):
        pairs.append((f"l{k}", ours.forward_layers[k].layers[0]))
        pairs.append((f"l{k}_reverse", ours.backward_layers[k].layers[0]))
    copy_to_torch(torch, pairs, theirs)
    x = rng.standard_normal((B, T, D))
    lengths = np.array([5, 2, 4])
    h0 = rng.standard_normal((2 * layers, B, H))
    c0 = rng.standard_normal((2 * layers, B, H))
    is_lstm = cell == "lstm"
    res = ours.forward(x, lengths, h0, c0 if is_lstm else None)
    out, h_n = res[0], (res[1][0] if is_lstm else res[1])
    xt, h0t, c0t, tout, tst = torch_run(torch, theirs, x, lengths, h0, c0, is_lstm)
    th = tst[0] if is_lstm else tst
    np.testing.assert_allclose(out, tout.detach().numpy(), **F64)
    np.testing.assert_allclose(h_n, th.detach().numpy(), **F64)
    dout = rng.standard_normal(out.shape)
    dh = rng.standard_normal(h_n.shape)
    ((tout * torch.from_numpy(dout)).sum() + (th * torch.from_numpy(dh)).sum()).backward()
    dx = ours.backward(dout, dh)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **F64)
    np.testing.assert_allclose(ours.dh0, h0t.grad.numpy(), **F64)
    if is_lstm:
        np.testing.assert_allclose(ours.dc0, c0t.grad.numpy(), **F64)
    for name, layer in pairs:
        np.testing.assert_allclose(layer.W_hh.grad, getattr(theirs, f"weight_hh_{name}").grad.numpy(), **F64)
        np.testing.assert_allclose(layer.b_ih.grad, getattr(theirs, f"bias_ih_{name}").grad.numpy(), **F64)


# ---- the layers ----------------------------------------------------------------------------------

def test_lstm_layer_forget_bias_and_accumulation(rng):
    lstm = nn.LSTM(3, 4, forget_bias=1.0, rng=rng)
    layer = lstm.layers[0]
    assert [p.name for p in lstm.parameters()] == ["W_ih", "W_hh", "b_ih", "b_hh"]
    np.testing.assert_array_equal(layer.b_ih.value[4:8] + layer.b_hh.value[4:8], np.ones(4, np.float32))
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    out, (h_n, c_n) = lstm(x)
    assert out.shape == (2, 5, 4) and h_n.shape == (1, 2, 4) and c_n.shape == (1, 2, 4)
    np.testing.assert_array_equal(h_n[0], out[:, -1])
    lstm.backward(np.ones_like(out))
    first = layer.W_hh.grad.copy()
    lstm.backward(np.ones_like(out))
    np.testing.assert_allclose(layer.W_hh.grad, 2 * first, rtol=1e-6)
    assert lstm.dh0 is None
    lstm.zero_grad()
    assert not layer.W_hh.grad.any()


def test_reverse_layer_reads_each_sequence_backwards(rng):
    gru = nn.GRU(3, 4, reverse=True, dtype=np.float64, rng=rng)
    x = rng.standard_normal((2, 5, 3))
    lengths = np.array([5, 3])
    out, h_n = gru(x, lengths)
    L = gru.layers[0]
    want = np_rnn("gru", x, L.W_ih.value, L.W_hh.value, L.b_ih.value, L.b_hh.value, lengths, reverse=True)
    np.testing.assert_allclose(out, want[0], **F64)
    np.testing.assert_allclose(h_n[0], out[:, 0], **F64)  # the acceptor state is the one at position 0


def test_layer_gradcheck_stacked_with_lengths(rng):
    rnn = nn.RNN(2, 3, num_layers=2, dtype=np.float64, rng=rng)
    x = rng.standard_normal((3, 4, 2))
    lengths = np.array([4, 2, 3])
    R = rng.standard_normal((3, 4, 3))
    rnn(x, lengths)
    dx = rnn.backward(R)
    W = rnn.layers[0].W_hh
    grad = W.grad.copy()

    def loss():
        return float((rnn(x, lengths)[0] * R).sum())

    assert_grad_close(dx, loss, x)
    assert_grad_close(grad, loss, W.value)


def test_clip_grad_norm(rng):
    a, b = rng.standard_normal(5), rng.standard_normal((2, 3)).astype(np.float32)
    norm = np.sqrt((a ** 2).sum() + (b.astype(np.float64) ** 2).sum())
    a0, b0 = a.copy(), b.copy()
    assert ops.clip_grad_norm([a, b], 2 * norm) == pytest.approx(norm)
    np.testing.assert_array_equal(a, a0)
    assert ops.clip_grad_norm([a, b], norm / 4) == pytest.approx(norm)
    np.testing.assert_allclose(np.sqrt((a ** 2).sum() + (b.astype(np.float64) ** 2).sum()), norm / 4, rtol=1e-5)
    np.testing.assert_allclose(a, a0 / 4, rtol=1e-5)
    lstm = nn.LSTM(2, 3, rng=rng)
    lstm(rng.standard_normal((2, 3, 2)).astype(np.float32))
    lstm.backward(np.full((2, 3, 3), 100, np.float32))
    assert ops.clip_grad_norm(lstm.parameters(), 1.0) > 1.0
    assert ops.clip_grad_norm(lstm.parameters(), 1.0) == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(ValueError, match=r"clip_grad_norm: max_norm must be positive, got 0.0"):
        ops.clip_grad_norm([a], 0)


# ---- bad input: the error names the op, the argument, what was expected and what was given ----

def _p(cell="lstm", B=3, T=5, D=4, H=6):
    return make(np.random.default_rng(0), cell, B, T, D, H)


def _fwd(cell, p, **kw):
    args = dict(b_ih=p["b_ih"], b_hh=p["b_hh"], h0=p["h0"], c0=p["c0"])
    args.update(kw)
    return ops.rnn(cell, p["x"], p["W_ih"], p["W_hh"], **args)


def test_bad_lengths():
    p = _p()
    with pytest.raises(ValueError, match=r"rnn_forward: lengths must be in \[1, T=5\] \(T from x\), got 6 at position 1"):
        _fwd("lstm", p, lengths=np.array([5, 6, 2]))
    with pytest.raises(ValueError, match=r"got 0 at position 2 \(zero-length sequences are not allowed\)"):
        _fwd("lstm", p, lengths=np.array([5, 1, 0], np.int32))
    with pytest.raises(ValueError, match=r"got -1 at position 0"):
        _fwd("lstm", p, lengths=np.array([-1, 1, 1]))
    with pytest.raises(ValueError, match=r"lengths must be 1-D, got shape \(3, 1\)"):
        _fwd("lstm", p, lengths=np.ones((3, 1), np.int64))
    with pytest.raises(TypeError, match=r"lengths must be int32 or int64 ids, got float32"):
        _fwd("lstm", p, lengths=np.ones(3, np.float32))


def test_mismatched_hidden_sizes():
    p = _p()
    with pytest.raises(ValueError, match=r"W_hh must have shape \(24, 6\) \(4\*H, H\) for lstm with H=6 from W_hh's columns, got \(18, 6\)"):
        ops.rnn("lstm", p["x"], p["W_ih"], p["W_hh"][:18])
    with pytest.raises(ValueError, match=r"W_ih must have shape \(24, 4\) \(4\*H, D\) with H=6 from W_hh and D=4 from x, got \(20, 4\)"):
        ops.rnn("lstm", p["x"], p["W_ih"][:20], p["W_hh"])
    with pytest.raises(ValueError, match=r"W_hh must have shape \(18, 6\) \(3\*H, H\) for gru"):
        ops.rnn("gru", p["x"], p["W_ih"], p["W_hh"])
    with pytest.raises(ValueError, match=r"h0 must have shape \(3, 6\) \(B, H\) with B=3 from x and H=6 from W_hh, got \(3, 5\)"):
        _fwd("lstm", p, h0=np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"b_hh must have shape \(24,\) \(4\*H\) with H=6 from W_hh, got \(23,\)"):
        _fwd("lstm", p, b_hh=np.zeros(23, np.float32))
    g = _p("gru")
    with pytest.raises(ValueError, match=r"rnn_forward: c0 is only for the LSTM, got one for gru"):
        ops.rnn("gru", g["x"], g["W_ih"], g["W_hh"], c0=np.zeros((3, 6), np.float32))


def test_bad_dtype_and_layout():
    p = _p()
    with pytest.raises(TypeError, match=r"rnn_forward: x must be float32 or float64, got float16"):
        ops.rnn("lstm", p["x"].astype(np.float16), p["W_ih"], p["W_hh"])
    with pytest.raises(TypeError, match=r"W_hh must have the dtype of x \(float32\), got float64"):
        ops.rnn("lstm", p["x"], p["W_ih"], p["W_hh"].astype(np.float64))
    with pytest.raises(ValueError, match=r"rnn_forward: x must be C-contiguous"):
        ops.rnn("lstm", np.ascontiguousarray(p["x"].transpose(1, 0, 2)).transpose(1, 0, 2), p["W_ih"], p["W_hh"])
    with pytest.raises(ValueError, match=r"rnn: x must be 3-D, got shape \(3, 4\)"):
        ops.rnn("lstm", p["x"][:, 0], p["W_ih"], p["W_hh"])
    with pytest.raises(ValueError, match=r"rnn: cell must be 'elman', 'lstm' or 'gru', got 'lstn'"):
        ops.rnn("lstn", p["x"], p["W_ih"], p["W_hh"])


def test_bad_backward_arguments():
    p = _p()
    out, h_n, c_n, ws = _fwd("lstm", p)
    with pytest.raises(ValueError, match=r"rnn_backward: ws must have shape \(\d+,\) \(rnn_workspace_size for these sizes\), got \(10,\)"):
        ops.rnn_backward("lstm", p["x"], p["W_ih"], p["W_hh"], np.zeros(10, np.float32), out)
    with pytest.raises(ValueError, match=r"dout must have shape \(3, 5, 6\) \(B, T, H\), the shape of out, got \(3, 4, 6\)"):
        ops.rnn_backward("lstm", p["x"], p["W_ih"], p["W_hh"], ws, out[:, :4].copy())
    with pytest.raises(ValueError, match=r"accumulate=True needs preallocated grads"):
        ops.rnn_backward("lstm", p["x"], p["W_ih"], p["W_hh"], ws, out, accumulate=True)
    ro = np.empty_like(out)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"out is written in place and must be writeable"):
        _C.rnn_forward("lstm", p["x"], p["W_ih"], p["W_hh"], None, None, None, None, None, ro, None, None, None)


def test_layer_bad_arguments(rng):
    with pytest.raises(ValueError, match=r"LSTM: num_layers must be a positive integer, got 0"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"gru: hidden_dim must be a positive integer, got 2.5"):
        nn.GRU(3, 2.5)
    with pytest.raises(TypeError, match=r"BiRNN: rnn_class must be fastnlp.nn.RNN, GRU or LSTM"):
        nn.BiRNN(nn.Conv1d, 3, 4)
    lstm = nn.LSTM(3, 4, num_layers=2, rng=rng)
    x = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"LSTM: h0 must have shape \(num_layers, B, H\) = \(2, 2, 4\), got \(2, 4\)"):
        lstm(x, h0=np.zeros((2, 4), np.float32))
    with pytest.raises(RuntimeError, match=r"call forward first"):
        nn.GRU(3, 4).backward(np.zeros((2, 5, 4), np.float32))


class FakeGpuArray:
    """Just enough __cuda_array_interface__ to reach the device check (never dereferenced)."""

    def __init__(self, shape, typestr="<f4"):
        self.shape = shape
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (8, False),
                                         "version": 3, "strides": None}


def test_gpu_arrays_are_refused_clearly():
    B, T, D, H = 2, 3, 4, 5
    x, W_ih, W_hh = FakeGpuArray((B, T, D)), FakeGpuArray((4 * H, D)), FakeGpuArray((4 * H, H))
    out = FakeGpuArray((B, T, H))
    with pytest.raises((RuntimeError, ValueError),
                       match=r"rnn_forward: (got GPU arrays but fastnlp was built without CUDA|no CUDA kernel)"):
        _C.rnn_forward("lstm", x, W_ih, W_hh, None, None, None, None, None, out, None, None, None)
    with pytest.raises((RuntimeError, ValueError),
                       match=r"conv1d_forward: (got GPU arrays but fastnlp was built without CUDA|no CUDA kernel)"):
        _C.conv1d_forward(x, FakeGpuArray((H, 2 * D)), None, None, FakeGpuArray((B, 2, H)), None, None,
                          "narrow", "relu", "none")
    with pytest.raises(ValueError, match=r"rnn_forward: W_ih is on the CPU but x is on the GPU"):
        _C.rnn_forward("lstm", x, np.zeros((4 * H, D), np.float32), W_hh, None, None, None, None, None, out,
                       None, None, None)
    with pytest.raises(ValueError, match=r"rnn_forward: out is on the GPU but x is on the CPU"):
        _C.rnn_forward("lstm", np.zeros((B, T, D), np.float32), np.zeros((4 * H, D), np.float32),
                       np.zeros((4 * H, H), np.float32), None, None, None, None, None, out, None, None, None)


# ---- GPU: the RNNs against the CPU (marked gpu) ----

RNN_SIZES = [  # B, T, D, H
    (1, 1, 1, 1), (3, 7, 5, 9), (4, 9, 17, 33), (8, 16, 3, 15), (17, 5, 8, 64),
]


def rnn_case(rng, cell, B, T, D, H, bias=True):
    s = 1 / np.sqrt(H)
    W_ih = rng.uniform(-s, s, (G[cell] * H, D)).astype(gc.F32)
    W_hh = rng.uniform(-s, s, (G[cell] * H, H)).astype(gc.F32)
    b_ih = rng.uniform(-s, s, G[cell] * H).astype(gc.F32) if bias else None
    b_hh = rng.uniform(-s, s, G[cell] * H).astype(gc.F32) if bias else None
    x = rng.standard_normal((B, T, D)).astype(gc.F32)
    return x, W_ih, W_hh, b_ih, b_hh


@pytest.mark.gpu
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("B,T,D,H", RNN_SIZES)
@pytest.mark.parametrize("use_lengths", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_gpu_rnn_matches_cpu(cell, B, T, D, H, use_lengths, reverse, with_h0, rng, cp):
    x, W_ih, W_hh, b_ih, b_hh = rnn_case(rng, cell, B, T, D, H)
    lengths = gc.lengths_for(rng, B, T) if use_lengths else None
    if lengths is not None:
        for n, L in enumerate(lengths):
            x[n, L:] = np.nan  # padding must never be read
    h0 = rng.standard_normal((B, H)).astype(gc.F32) if with_h0 else None
    c0 = rng.standard_normal((B, H)).astype(gc.F32) if with_h0 and cell == "lstm" else None
    args = (W_ih, W_hh, b_ih, b_hh)
    out_c, hn_c, cn_c, ws_c = ops.rnn(cell, x, *args, lengths, h0, c0, reverse)
    out_g, hn_g, cn_g, ws_g = ops.rnn(cell, gc.dev(x), *map(gc.dev, args), lengths, gc.dev(h0), gc.dev(c0), reverse)
    gc.close(out_g, out_c, "out", **gc.RNN_TOL)
    gc.close(hn_g, hn_c, "h_n", **gc.RNN_TOL)
    if cell == "lstm":
        gc.close(cn_g, cn_c, "c_n", **gc.RNN_TOL)
    else:
        assert cn_g is None
    assert ws_g.shape == ws_c.shape

    dout = rng.standard_normal((B, T, H)).astype(gc.F32)
    dh_n = rng.standard_normal((B, H)).astype(gc.F32)
    dc_n = rng.standard_normal((B, H)).astype(gc.F32) if cell == "lstm" else None
    g_c = ops.rnn_backward(cell, x, W_ih, W_hh, ws_c, dout, dh_n, dc_n, b_ih, b_hh, lengths, h0, c0, reverse)
    g_g = ops.rnn_backward(cell, gc.dev(x), gc.dev(W_ih), gc.dev(W_hh), ws_g, gc.dev(dout), gc.dev(dh_n), gc.dev(dc_n),
                           gc.dev(b_ih), gc.dev(b_hh), lengths, gc.dev(h0), gc.dev(c0), reverse)
    for k in ("dx", "dh0", "dc0", "dW_ih", "dW_hh", "db_ih", "db_hh"):
        gc.close(g_g[k], g_c[k], k, rtol=gc.RNN_TOL["rtol"], atol=gc.RNN_TOL["atol"] * np.sqrt(B * T))


@pytest.mark.gpu
@pytest.mark.parametrize("cell", CELLS)
def test_gpu_rnn_no_bias_partial_grads_and_accumulate(cell, rng, cp):
    B, T, D, H = 6, 13, 7, 17
    x, W_ih, W_hh, _, _ = rnn_case(rng, cell, B, T, D, H, bias=False)
    lengths = np.array([13, 1, 5, 13, 8, 2], np.int32)
    out_c, _, _, ws_c = ops.rnn(cell, x, W_ih, W_hh, lengths=lengths)
    out_g, _, _, ws_g = ops.rnn(cell, gc.dev(x), gc.dev(W_ih), gc.dev(W_hh), lengths=cp.asarray(lengths))
    gc.close(out_g, out_c, "out", **gc.RNN_TOL)
    dout = rng.standard_normal((B, T, H)).astype(gc.F32)
    acc = {"dW_ih": rng.standard_normal(W_ih.shape).astype(gc.F32), "dW_hh": rng.standard_normal(W_hh.shape).astype(gc.F32)}
    g_c = ops.rnn_backward(cell, x, W_ih, W_hh, ws_c, dout, lengths=lengths, need_dx=False, need_dh0=False,
                           grads={k: v.copy() for k, v in acc.items()}, accumulate=True)
    g_g = ops.rnn_backward(cell, gc.dev(x), gc.dev(W_ih), gc.dev(W_hh), ws_g, gc.dev(dout), lengths=lengths,
                           need_dx=False, need_dh0=False, grads={k: gc.dev(v) for k, v in acc.items()},
                           accumulate=True)
    assert g_g["dx"] is None and g_g["dh0"] is None and g_g["db_ih"] is None
    for k in ("dW_ih", "dW_hh"):
        gc.close(g_g[k], g_c[k], k, rtol=gc.RNN_TOL["rtol"], atol=gc.RNN_TOL["atol"] * np.sqrt(B * T))


@pytest.mark.gpu
@pytest.mark.parametrize("cell", CELLS)
def test_gpu_rnn_inference_without_workspace(cell, rng, cp):
    x, W_ih, W_hh, b_ih, b_hh = rnn_case(rng, cell, 5, 9, 4, 11)
    out_c, hn_c, _, _ = ops.rnn(cell, x, W_ih, W_hh, b_ih, b_hh)
    out_g, hn_g, _, ws = ops.rnn(cell, *map(gc.dev, (x, W_ih, W_hh, b_ih, b_hh)), need_workspace=False)
    assert ws is None
    gc.close(out_g, out_c, "out", **gc.RNN_TOL)
    gc.close(hn_g, hn_c, "h_n", **gc.RNN_TOL)


@pytest.mark.gpu
def test_gpu_rnn_gpu_bad_input(rng, cp):
    x, W_ih, W_hh, b_ih, b_hh = map(gc.dev, rnn_case(rng, "lstm", 3, 4, 5, 6))
    with pytest.raises(ValueError, match=r"rnn_forward: lengths must be in \[1, T=4\]"):
        ops.rnn("lstm", x, W_ih, W_hh, lengths=np.array([1, 0, 4]))
    with pytest.raises(ValueError, match=r"rnn_forward: W_hh must have shape"):
        ops.rnn("lstm", x, W_ih, W_hh[:, :5])
    with pytest.raises(ValueError, match=r"rnn_forward: h0 is on the CPU but x is on the GPU"):
        ops.rnn("lstm", x, W_ih, W_hh, h0=np.zeros((3, 6), gc.F32))
    out, h_n, c_n, ws = ops.rnn("lstm", x, W_ih, W_hh)
    with pytest.raises(ValueError, match=r"rnn_backward: ws must have shape"):
        ops.rnn_backward("lstm", x, W_ih, W_hh, ws[:-1], dout=out)
    with pytest.raises(ValueError, match=r"rnn_backward: dh_n must have shape \(3, 6\)"):
        ops.rnn_backward("lstm", x, W_ih, W_hh, ws, dh_n=h_n[:2])
    with pytest.raises(ValueError, match=r"rnn_step_forward: .*NumPy"):
        _C.rnn_step_forward("elman", 0, False, None, np.zeros((4, 2), gc.F32), np.zeros((2, 2), gc.F32), None, None,
                            np.zeros((2, 2), gc.F32), None, np.zeros((2, 2, 2), gc.F32), None, 3)
    # The GPU is still usable after the refusals.
    out2, _, _, _ = ops.rnn("lstm", x, W_ih, W_hh)
    np.testing.assert_array_equal(cp.asnumpy(out2), cp.asnumpy(out))


@pytest.mark.gpu
@pytest.mark.parametrize("layer", ["lstm", "gru", "bilstm"])
def test_gpu_rnn_layers_run_on_the_gpu(layer, rng, cp):
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
    gc.close(out_g, out_c, f"{layer} out", **gc.seq_tol(T))
    for a, b in zip(st_g if isinstance(st_g, tuple) else (st_g,), st_c if isinstance(st_c, tuple) else (st_c,)):
        gc.close(a, b, f"{layer} state", **gc.seq_tol(T))
    dout = rng.standard_normal(out_c.shape).astype(np.float32)
    gc.close(gpu.backward(cp.asarray(dout)), cpu.backward(dout), f"{layer} dx", **gc.seq_tol(T))
    for pg, pc in zip(gpu.parameters(), cpu.parameters()):
        gc.close(pg.grad, pc.grad, f"{layer} {pc.name} grad", **gc.seq_tol(B * T))
