"""Dense layer y = act(x W^T + b) with bias and activation fused after the GEMM.

CPU: one C++ call (OpenBLAS sgemm + fused epilogue). GPU (CuPy arrays): ops._gpu.linear, the GEMM
in cuBLAS through CuPy and fastnlp's CUDA bias + activation epilogue.
"""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _C
from .._device import is_gpu
from . import _gpu
from ._util import Array, check_no_overlap, empty, shape_of


def linear(x: Array, W: Array, b: Optional[Array] = None, activation: str = "identity",
           out: Optional[Array] = None) -> Array:
    """``y = activation(x W^T + b)``: one GEMM with the bias and activation fused after it.

    Parameters
    ----------
    x : array
        (B, D) inputs, float32 or float64 (NumPy) or float32 (CuPy).
    W : array
        (H, D) weights, x's dtype and device.
    b : array, optional
        (H,) bias; None for none.
    activation : str
        One of ``ops.ACTIVATIONS`` (default "identity").
    out : array, optional
        (B, H) output, written in place.

    Returns
    -------
    array
        y, (B, H).

    Raises
    ------
    TypeError, ValueError
        Naming the argument: dtype, ndim, shape, contiguity, an ``out`` overlapping an input.
    """
    B, _ = shape_of("linear", "x", x, 2)
    H, _ = shape_of("linear", "W", W, 2)
    y = empty(x, (B, H)) if out is None else out
    if is_gpu(x):
        check_no_overlap("linear", {"out": y}, {"x": x, "W": W, "b": b})
        _gpu.linear(x, W, b, y, activation)
    else:
        _C.linear_forward(x, W, b, y, activation)
    return y


def linear_backward(x: Array, W: Array, y: Array, dy: Array, activation: str = "identity", need_dx: bool = True,
                    need_db: bool = True, dW: Optional[Array] = None, db: Optional[Array] = None,
                    accumulate: bool = False) -> Tuple[Optional[Array], Array, Optional[Array]]:
    """Gradients of :func:`linear`, given its forward output y.

    Parameters
    ----------
    x, W : array
        The forward's inputs, (B, D) and (H, D).
    y : array
        The forward's output (B, H) (the activation's derivative is taken from it).
    dy : array
        Gradient of the loss with respect to y, (B, H).
    activation : str
        The forward's activation.
    need_dx, need_db : bool
        Whether to compute dx and db (None is returned in their place otherwise).
    dW, db : array, optional
        Where to write (or, with accumulate, add) the weight and bias gradients; allocated when None.
    accumulate : bool
        Add into the given dW (and db) instead of overwriting them.

    Returns
    -------
    dx : array or None
        (B, D), None unless need_dx.
    dW : array
        (H, D).
    db : array or None
        (H,), None unless need_db.

    Raises
    ------
    ValueError
        accumulate without the arrays to add into; shapes or dtypes that disagree (named).
    """
    shape_of("linear_backward", "x", x, 2)
    shape_of("linear_backward", "W", W, 2)
    if accumulate and (dW is None or (need_db and db is None)):
        raise ValueError("linear_backward: accumulate=True needs the dW (and db) arrays to add into")
    dW = empty(W, W.shape) if dW is None else dW
    db = (empty(W, (W.shape[0],)) if db is None else db) if need_db else None
    dx = empty(x, x.shape) if need_dx else None
    if is_gpu(x):
        check_no_overlap("linear_backward", {"dx": dx, "dW": dW, "db": db}, {"x": x, "W": W, "y": y, "dy": dy})
        _gpu.linear_backward(x, W, y, dy, activation, dx, dW, db, accumulate)
    else:
        _C.linear_backward(x, W, y, dy, dx, dW, db, activation, accumulate)
    return dx, dW, db
