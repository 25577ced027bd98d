"""Dense layer y = act(x W^T + b) with bias and activation fused after the GEMM.

CPU: one C++ call (OpenBLAS sgemm + fused epilogue). GPU (CuPy arrays): ops._gpu.linear, the GEMM
in cuBLAS through CuPy and fastnlp's CUDA bias + activation epilogue.
"""

from .. import _C
from .._device import is_gpu
from . import _gpu
from ._util import check_no_overlap, empty, shape_of


def linear(x, W, b=None, activation="identity", out=None):
    """x (B, D), W (H, D), b (H) or None -> y (B, H)."""
    B, _ = shape_of("linear", "x", x, 2)
    H, _ = shape_of("linear", "W", W, 2)
    y = empty(x, (B, H)) if out is None else out
    if is_gpu(x):
        check_no_overlap("linear", {"out": y}, {"x": x, "W": W, "b": b})
        _gpu.linear(x, W, b, y, activation)
    else:
        _C.linear_forward(x, W, b, y, activation)
    return y


def linear_backward(x, W, y, dy, activation="identity", need_dx=True, need_db=True, dW=None, db=None,
                    accumulate=False):
    """Gradients of ``linear`` given the forward output y: returns (dx, dW, db).

    dx is None unless need_dx, db is None unless need_db. With accumulate, the gradients are
    added into the given dW (and db); otherwise dW / db are overwritten, or allocated when None.
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
