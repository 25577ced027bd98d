"""Convolution over time (Collobert et al. 2011; Goldberg ch. 13) with fused bias + activation and
optional max / average pooling over time, respecting per-sequence lengths. CPU kernels.

Layout: x (B, T, D); filters W (H, K*D) where row h is [w_0 | ... | w_{K-1}] and w_j (D) weighs the
input at offset j of a window, i.e. ``W[h, j*D + d] == torch.nn.Conv1d(D, H, K).weight[h, d, j]``.
mode 'narrow' (no padding, T_out = T - K + 1) or 'wide' (K - 1 zeros each side, T_out = T + K - 1).
Positions past ``lengths[b]`` read as zero padding, never win the max and never count in the
average; outputs past a sequence's last position are zero.

CPU: one C++ call each way. GPU (CuPy arrays): ops._gpu.conv1d / conv1d_backward, fastnlp's window
unfolding kernel, the product with the filters in cuBLAS through CuPy, then fastnlp's fused bias +
activation + pooling kernel; the backward scatters the pooling gradient, multiplies in cuBLAS and
folds the windows back into dx.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

from .. import _C
from .._device import is_gpu
from . import _gpu
from ._util import Array, check_no_overlap, empty, shape_of

POOLS = (None, "none", "max", "avg")
MODES = ("narrow", "wide")


def conv_out_len(T: int, width: int, mode: str = "narrow") -> int:
    """Output positions of a sequence of length T.

    Parameters
    ----------
    T : int
        Sequence length.
    width : int
        Filter width K.
    mode : {"narrow", "wide"}
        No padding, or K - 1 zeros each side.

    Returns
    -------
    int
        T - K + 1 (0 when T < K) narrow, T + K - 1 wide.
    """
    if mode not in MODES:
        raise ValueError(f"conv1d: mode must be 'narrow' or 'wide', got {mode!r}")
    return T + width - 1 if mode == "wide" else max(0, T - width + 1)


def _sizes(op, x, W, mode, pool):
    B, T, D = shape_of(op, "x", x, 3)
    H, KD = shape_of(op, "W", W, 2)
    if D == 0 or KD % D != 0:
        raise ValueError(f"{op}: W must have shape (H, K*D) with D={D} from x (K the filter width), "
                         f"got {tuple(W.shape)}")
    if pool not in POOLS:
        raise ValueError(f"{op}: pool must be None, 'max' or 'avg', got {pool!r}")
    K = KD // D
    return B, T, D, H, K, conv_out_len(T, K, mode)


def conv1d(x: Array, W: Array, b: Optional[Array] = None, lengths: Optional[Array] = None, mode: str = "narrow",
           activation: str = "identity", pool: Optional[str] = None) -> Union[Array, Tuple[Array, Array]]:
    """Convolution over time with fused bias + activation and optional pooling (layout: this
    module's docstring).

    Parameters
    ----------
    x : array
        (B, T, D) inputs.
    W : array
        (H, K*D) filters.
    b : array, optional
        (H,) bias.
    lengths : array, optional
        (B,) int valid length of each sequence (None: all T).
    mode : {"narrow", "wide"}
        Padding, see :func:`conv_out_len`.
    activation : str
        One of ``ops.ACTIVATIONS``.
    pool : {None, "max", "avg"}
        Pooling over each sequence's valid positions.

    Returns
    -------
    y : array
        pool None: (B, T_out, H) = act(conv + b), zero past each sequence's outputs.
    (pooled, argmax) : tuple of array
        pool "max": (B, H) maxima and (B, H) int64 positions (what conv1d_backward needs).
    (pooled, y) : tuple of array
        pool "avg": (B, H) means and the (B, T_out, H) activations averaged.
    """
    B, T, D, H, K, T_out = _sizes("conv1d", x, W, mode, pool)
    pool = pool or "none"
    if is_gpu(x):
        return _gpu.conv1d(x, W, b, lengths, mode, activation, pool, (B, T, D, H, K, T_out))
    y = empty(x, (B, T_out, H)) if pool != "max" and T_out > 0 else None
    pooled = empty(x, (B, H)) if pool != "none" else None
    argmax = empty(x, (B, H), dtype=np.int64) if pool == "max" else None
    _C.conv1d_forward(x, W, b, lengths, y, pooled, argmax, mode, activation, pool)
    if pool == "max":
        return pooled, argmax
    if pool == "avg":
        return pooled, y
    return y


def conv1d_backward(x: Array, W: Array, dout: Array, lengths: Optional[Array] = None, mode: str = "narrow",
                    activation: str = "identity", pool: Optional[str] = None, y: Optional[Array] = None,
                    pooled: Optional[Array] = None, argmax: Optional[Array] = None, need_dx: bool = True,
                    need_db: bool = True, dW: Optional[Array] = None, db: Optional[Array] = None,
                    accumulate: bool = False) -> Tuple[Optional[Array], Array, Optional[Array]]:
    """Gradients of :func:`conv1d`.

    Parameters
    ----------
    x, W, lengths, mode, activation, pool :
        The forward's arguments.
    dout : array
        Gradient of what conv1d returned first: y (B, T_out, H) for pool None, pooled (B, H) otherwise.
    y : array, optional
        The forward's y (pool None or "avg").
    pooled, argmax : array, optional
        The forward's outputs for pool "max".
    need_dx, need_db : bool
        Whether to compute dx and db (None in their place otherwise).
    dW, db : array, optional
        Where to write (or, with accumulate, add) the gradients; allocated when None.
    accumulate : bool
        Add into the given dW (and db).

    Returns
    -------
    dx : array or None
        (B, T, D).
    dW : array
        (H, K*D).
    db : array or None
        (H,).
    """
    sizes = _sizes("conv1d_backward", x, W, mode, pool)
    if accumulate and (dW is None or (need_db and db is None)):
        raise ValueError("conv1d_backward: accumulate=True needs the dW (and db) arrays to add into")
    dW = empty(W, W.shape) if dW is None else dW
    db = (empty(W, (W.shape[0],)) if db is None else db) if need_db else None
    dx = empty(x, x.shape) if need_dx else None
    if is_gpu(x):
        check_no_overlap("conv1d_backward", {"dx": dx, "dW": dW, "db": db},
                         {"x": x, "W": W, "dout": dout, "y": y, "pooled": pooled, "argmax": argmax})
        _gpu.conv1d_backward(x, W, dout, lengths, mode, activation, pool or "none", y, pooled, argmax, dx,
                             dW, db, accumulate, sizes)
        return dx, dW, db
    _C.conv1d_backward(x, W, lengths, y, pooled, argmax, dout, dx, dW, db, mode, activation,
                       pool or "none", accumulate)
    return dx, dW, db
