"""The GPU compositions, in one place: the ops that have no CUDA kernel of their own (linear, conv1d,
rnn, sampled_softmax) run here on CuPy arrays as matrix products in cuBLAS (through CuPy) around
fastnlp's fused CUDA kernels (``_C.bias_act_*``, ``_C.conv1d_unfold`` ... ``_C.rnn_step_*``,
``_C.sampled_softmax_scores``). See csrc/dispatch.h (rule 2): each ``fastnlp.ops.<op>`` checks its
arguments, allocates its outputs and sends GPU arrays here and everything else to its binding.

Private: called only from fastnlp.ops; CuPy is imported lazily, only when a GPU array is seen.
"""

import numpy as np

from .. import _C
from .._device import is_gpu
from ._util import empty, shape_of


def matmul(a, b, out, accumulate=False):
    """out = a @ b (or out += a @ b) in cuBLAS via CuPy."""
    import cupy

    if accumulate:
        out += cupy.matmul(a, b)
    else:
        cupy.matmul(a, b, out=out)


def _column_sums(a, out, accumulate):
    if accumulate:
        out += a.sum(axis=0)
    else:
        out[...] = a.sum(axis=0)


# ---- linear: the GEMM in cuBLAS + the fused bias + activation epilogue -------------------------------

def linear(x, W, b, y, activation):
    """y (B, H) = act(x W^T + b), written into y."""
    matmul(x, W.T, y)
    _C.bias_act_forward(y, b, activation)


def linear_backward(x, W, y, dy, activation, dx, dW, db, accumulate):
    """Fills dW, db (or None) and dx (or None) as _C.linear_backward does on the CPU."""
    dz = empty(dy, dy.shape)
    _C.bias_act_backward(y, dy, dz, db, activation, accumulate)
    matmul(dz.T, x, dW, accumulate)
    if dx is not None:
        matmul(dz, W, dx)


def linear_cross_entropy(x, W, b, targets, return_losses):
    """fastnlp.ops.linear_cross_entropy on the GPU: no fused kernel, so the (B, V) logits are stored."""
    from .linear import linear as checked_linear  # the public ops check shapes and dtypes
    from .softmax import softmax_cross_entropy

    out = softmax_cross_entropy(checked_linear(x, W, b), targets, return_grad=False, return_losses=return_losses)
    return (out[0], out[2]) if return_losses else out[0]


# ---- conv1d: window unfolding + cuBLAS + fused bias / activation / pooling ---------------------------

def _conv_lengths(op, x, W, b, lengths, mode):
    """The CPU binding's argument checks; returns the checked lengths on the GPU, or None."""
    import cupy

    if lengths is not None and is_gpu(lengths):
        lengths = cupy.asnumpy(lengths)
    lens = _C.conv1d_check_args(op, x, W, b, lengths, mode)
    return None if lens is None else cupy.asarray(lens)


def conv1d(x, W, b, lengths, mode, activation, pool, sizes):
    """fastnlp.ops.conv1d on the GPU; sizes = (B, T, D, H, K, T_out), pool 'none' / 'max' / 'avg'."""
    import cupy

    B, T, D, H, K, T_out = sizes
    lens = _conv_lengths("conv1d_forward", x, W, b, lengths, mode)
    cols = cupy.empty((B * T_out, K * D), dtype=x.dtype)
    _C.conv1d_unfold(x, lens, cols, K, mode)
    z = cupy.matmul(cols, W.T).reshape(B, T_out, H)
    del cols
    y = z if pool != "max" else None  # the epilogue runs in place
    pooled = cupy.empty((B, H), dtype=x.dtype) if pool != "none" else None
    argmax = cupy.empty((B, H), dtype=np.int64) if pool == "max" else None
    _C.conv1d_pool_forward(z, b, lens, y, pooled, argmax, T, K, mode, activation, pool)
    if pool == "max":
        return pooled, argmax
    if pool == "avg":
        return pooled, y
    return y


def conv1d_backward(x, W, dout, lengths, mode, activation, pool, y, pooled, argmax, dx, dW, db,
                    accumulate, sizes):
    """fastnlp.ops.conv1d_backward on the GPU: fills dx, dW, db (each may be None)."""
    import cupy

    op = "conv1d_backward"
    B, T, D, H, K, T_out = sizes
    if pool != "max" and y is None:
        raise ValueError(f"{op}: pool='{pool}' needs y (B, T_out, H)")
    if pool == "max" and (pooled is None or argmax is None):
        raise ValueError(f"{op}: pool='max' needs pooled (B, H) and argmax (B, H) int64")
    lens = _conv_lengths(op, x, W, None, lengths, mode)
    # dz: the gradient of the pre-activation (max: act'(pooled) dy scattered to argmax).
    dz = cupy.empty((B, T_out, H), dtype=x.dtype)
    _C.conv1d_pool_backward(y, pooled, argmax, dout, lens, dz, T, K, mode, activation, pool)
    dz2 = dz.reshape(B * T_out, H)
    if db is not None:
        _column_sums(dz2, db, accumulate)
    cols = cupy.empty((B * T_out, K * D), dtype=x.dtype)
    if dW is not None:
        _C.conv1d_unfold(x, lens, cols, K, mode)
        matmul(dz2.T, cols, dW, accumulate)
    if dx is not None:
        cupy.matmul(dz2, W, out=cols)  # the windows' gradients, folded back into dx
        _C.conv1d_fold(cols, lens, dx, K, mode)


# ---- rnn: the recurrence, each product in cuBLAS, each step's gate math one fastnlp kernel ----------
# The workspace has the CPU's layout, which only C++ states (rnn_workspace_layout in ops/rnn.h,
# exported as _C.rnn_workspace_layout).

def _rnn_lengths(op, cell, x, W_ih, W_hh, b_ih, b_hh, lengths, h0, c0):
    """Runs the CPU binding's argument checks; returns (lengths on the GPU or None, steps to run)."""
    import cupy

    if lengths is not None and is_gpu(lengths):
        lengths = cupy.asnumpy(lengths)
    lens = _C.rnn_check_args(op, cell, x, W_ih, W_hh, b_ih, b_hh, lengths, h0, c0)
    T = x.shape[1]
    if lens is None:
        return None, T
    return cupy.asarray(lens), int(lens.max())


def _ws_xh(cell, ws, B, T, D, H):
    """The xh block (B*T, D + H) of the workspace: [x | the state each step started from]."""
    w = _C.rnn_workspace_layout(cell, B, T, D, H)
    return ws[w["xh"]:w["xh"] + B * T * w["xh_width"]].reshape(B * T, w["xh_width"])


def _check_state_arg(op, name, a, x, B, H):
    if a is None:
        return
    shape = shape_of(op, name, a, 2)
    if shape != (B, H):
        raise ValueError(f"{op}: {name} must have shape ({B}, {H}) (B, H), got {shape}")
    if a.dtype != x.dtype or not is_gpu(a):
        raise TypeError(f"{op}: {name} must be a GPU array of dtype {x.dtype} like x, got "
                        f"{type(a).__name__} of dtype {a.dtype}")


def rnn(cell, x, W_ih, W_hh, b_ih, b_hh, lengths, h0, c0, reverse, need_workspace, sizes):
    """fastnlp.ops.rnn on the GPU; sizes = (G, B, T, D, H). Returns (out, h_n, c_n, ws)."""
    import cupy

    G, B, T, D, H = sizes
    lens, steps = _rnn_lengths("rnn_forward", cell, x, W_ih, W_hh, b_ih, b_hh, lengths, h0, c0)
    BT = B * T
    x2 = x.reshape(BT, D)
    proj = cupy.matmul(x2, W_ih.T)  # every step's input projection in one product
    out = cupy.zeros((B, T, H), dtype=x.dtype)
    h = cupy.zeros((B, H), dtype=x.dtype) if h0 is None else h0.copy()
    c = None
    if cell == "lstm":
        c = cupy.zeros((B, H), dtype=x.dtype) if c0 is None else c0.copy()
    ws = None
    if need_workspace:
        ws = cupy.zeros((_C.rnn_workspace_size(cell, B, T, D, H),), dtype=x.dtype)
        xh = _ws_xh(cell, ws, B, T, D, H)
        if lens is None:
            xh[:, :D] = x2
        else:
            # x where valid, 0 past each length: the weight gradients multiply these rows by zero
            # gradients, and 0 * whatever padding held (NaN included) must stay 0.
            valid = (cupy.arange(T)[None, :] < lens[:, None]).reshape(BT, 1)
            xh[:, :D] = cupy.where(valid, x2, x.dtype.type(0))
    rec = cupy.empty((B, G * H), dtype=x.dtype)
    W_hhT = W_hh.T
    for s in range(steps):
        cupy.matmul(h, W_hhT, out=rec)
        _C.rnn_step_forward(cell, s, reverse, lens, proj, rec, b_ih, b_hh, h, c, out, ws, D)
    return out, h, c, ws


def rnn_backward(cell, x, W_ih, W_hh, ws, dout, dh_n, dc_n, b_ih, b_hh, lengths, h0, c0, reverse,
                 need_dx, need_dh0, grads, accumulate, sizes):
    """fastnlp.ops.rnn_backward on the GPU: fills grads (dW_ih ...) and returns it with dx, dh0, dc0."""
    import cupy

    op = "rnn_backward"
    G, B, T, D, H = sizes
    lens, steps = _rnn_lengths(op, cell, x, W_ih, W_hh, b_ih, b_hh, lengths, h0, c0)
    n = _C.rnn_workspace_size(cell, B, T, D, H)
    if ws is None or tuple(ws.shape) != (n,):
        got = "None" if ws is None else str(tuple(ws.shape))
        raise ValueError(f"{op}: ws must have shape ({n},) (rnn_workspace_size for these sizes), got {got}")
    _check_state_arg(op, "dh_n", dh_n, x, B, H)
    if cell != "lstm" and dc_n is not None:
        raise ValueError(f"{op}: dc_n and dc0 are only for the LSTM")
    _check_state_arg(op, "dc_n", dc_n, x, B, H)
    lstm = cell == "lstm"
    BT, GH = B * T, G * H
    GD = 4 * H if cell == "gru" else GH
    dh = cupy.zeros((B, H), dtype=x.dtype) if dh_n is None else dh_n.copy()
    dc = None
    if lstm:
        dc = cupy.zeros((B, H), dtype=x.dtype) if dc_n is None else dc_n.copy()
    dG = cupy.zeros((BT, GD), dtype=x.dtype)  # rows past each length stay zero
    sbuf = cupy.empty((B, GH), dtype=x.dtype)
    rec = cupy.empty((B, H), dtype=x.dtype)
    for i, s in enumerate(reversed(range(steps))):
        _C.rnn_step_backward(cell, s, reverse, lens, ws, c0 if lstm else None, dout, rec if i else None,
                             dh, dc, dG, sbuf, T, D)
        cupy.matmul(sbuf, W_hh, out=rec)
    # Weight gradients over all B*T rows (the padding rows of dG and xh are zero). GRU: dG rows are
    # [dr, dz, dn, dn * r]; W_ih's gradient takes [dr, dz, dn], W_hh's [dr, dz, dn * r].
    xh = _ws_xh(cell, ws, B, T, D, H)
    xs, hs = xh[:, :D], xh[:, D:]
    d_in = dG[:, :GH]
    d_rec = [(slice(0, GH), dG)] if cell != "gru" else [(slice(0, 2 * H), dG[:, :2 * H]),
                                                        (slice(2 * H, 3 * H), dG[:, 3 * H:])]
    matmul(d_in.T, xs, grads["dW_ih"], accumulate)
    for sl, part in d_rec:
        matmul(part.T, hs, grads["dW_hh"][sl], accumulate)
    if grads.get("db_ih") is not None:
        _column_sums(d_in, grads["db_ih"], accumulate)
    if grads.get("db_hh") is not None:
        for sl, part in d_rec:
            _column_sums(part, grads["db_hh"][sl], accumulate)
    dx = None
    if need_dx:
        dx = empty(x, x.shape)
        cupy.matmul(d_in, W_ih, out=dx.reshape(BT, D))
    dh0 = dh + rec if need_dh0 else None  # the direct part plus step 0's recurrent product
    dc0 = dc if need_dh0 and lstm else None
    grads.update(dx=dx, dh0=dh0, dc0=dc0)
    return grads


# ---- sampled softmax: row gathers and GEMMs in CuPy + the fused middle ------------------------------

def sampled_softmax(h, W, b, targets, samples, logq_targets, logq_samples, B, H, V, K):
    """fastnlp.ops.sampled_softmax on the GPU: returns (loss, dh, grad_ids, grad_rows, grad_bias,
    losses), the fields of SampledSoftmaxResult."""
    import cupy

    op = "sampled_softmax"
    for name, a in (("h", h), ("W", W), ("b", b)):
        if a is not None and a.dtype != cupy.float32:
            raise TypeError(f"{op}: the CUDA kernels take float32, got {name} as {a.dtype}")
    # The shapes CuPy would otherwise broadcast or reject with its own words; the bindings check the rest.
    if W.shape[1] != H:
        raise ValueError(f"{op}: W must have shape (*, {H}) (V, H) with H from h, got {tuple(W.shape)}")
    if b is not None and tuple(b.shape) != (V,):
        raise ValueError(f"{op}: b must have shape ({V},) (V, the rows of W), got {tuple(b.shape)}")
    if tuple(targets.shape) != (B,):
        raise ValueError(f"{op}: targets must have shape ({B},) (B, the rows of h), got {tuple(targets.shape)}")
    # CuPy wraps out-of-range ids in take (no fault); sampled_softmax_scores rejects them below,
    # before any result is returned.
    Ws = cupy.take(W, samples, axis=0)  # (K, H)
    Wt = cupy.take(W, targets, axis=0)  # (B, H)
    s_samp = cupy.matmul(h, Ws.T)  # (B, K), cuBLAS
    s_true = cupy.ascontiguousarray(cupy.sum(h * Wt, axis=1))  # (B,)
    b_true = None if b is None else cupy.take(b, targets)
    b_samp = None if b is None else cupy.take(b, samples)
    losses = cupy.empty((B,), cupy.float32)
    loss = _C.sampled_softmax_scores(s_true, s_samp, b_true, b_samp, targets, samples, logq_targets,
                                     logq_samples, losses, num_classes=V)
    # s_true and s_samp now hold the gradients of the mean loss w.r.t. the scores.
    dh = cupy.matmul(s_samp, Ws)
    dh += s_true[:, None] * Wt
    grad_rows = cupy.empty((B + K, H), cupy.float32)
    grad_rows[:B] = s_true[:, None] * h
    grad_rows[B:] = cupy.matmul(s_samp.T, h)
    grad_bias = None if b is None else cupy.concatenate([s_true, s_samp.sum(axis=0)])
    grad_ids = cupy.concatenate([targets, samples])
    return loss, dh, grad_ids, grad_rows, grad_bias, losses
