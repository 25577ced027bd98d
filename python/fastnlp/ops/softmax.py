"""Row-wise softmax and log-softmax with their backward passes, and softmax + cross-entropy fused
into one pass that also yields the gradient. Rows are the last axis of a (B, V) array; every op
runs on the device of its input (NumPy: C++ kernels, CuPy: CUDA kernels)."""

import operator

from .. import _C
from ._util import empty, shape_of


def softmax(x, out=None):
    """softmax of each row of x (B, V). ``out`` may be x itself (in place)."""
    y = empty(x, shape_of("softmax", "x", x, 2)) if out is None else out
    _C.softmax_forward(x, y)
    return y


def log_softmax(x, out=None):
    """log_softmax of each row of x (B, V). ``out`` may be x itself (in place)."""
    y = empty(x, shape_of("log_softmax", "x", x, 2)) if out is None else out
    _C.log_softmax_forward(x, y)
    return y


def softmax_backward(y, dy, out=None):
    """dx = y * (dy - sum_j dy_j y_j) from the softmax output y (B, V). ``out`` may be dy."""
    dx = empty(y, shape_of("softmax_backward", "y", y, 2)) if out is None else out
    _C.softmax_backward(y, dy, dx)
    return dx


def log_softmax_backward(y, dy, out=None):
    """dx = dy - exp(y) * sum_j dy_j from the log_softmax output y (B, V). ``out`` may be dy."""
    dx = empty(y, shape_of("log_softmax_backward", "y", y, 2)) if out is None else out
    _C.log_softmax_backward(y, dy, dx)
    return dx


def softmax_cross_entropy(logits, targets, ignore_index=-100, return_grad=True, grad_out=None,
                          return_losses=False):
    """Mean cross-entropy of softmax(logits (B, V)) against integer targets (B).

    Rows whose target equals ``ignore_index`` count for nothing (loss 0, gradient 0); the mean is
    over the other rows (0.0 when there are none). Returns ``(loss, dlogits)``, dlogits (B, V)
    being the gradient of the mean loss (None unless return_grad), plus the per-row losses (B)
    when return_losses. ``grad_out`` receives dlogits and may be logits itself (in place).
    """
    B, V = shape_of("softmax_cross_entropy", "logits", logits, 2)
    try:
        ignore_index = operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"softmax_cross_entropy: ignore_index must be an integer, got "
                        f"{type(ignore_index).__name__}") from None
    if not -(1 << 63) <= ignore_index < (1 << 63):
        raise ValueError(f"softmax_cross_entropy: ignore_index must fit in int64, got {ignore_index}")
    if grad_out is not None and not return_grad:
        raise ValueError("softmax_cross_entropy: grad_out was given but return_grad is False")
    dlogits = (empty(logits, (B, V)) if grad_out is None else grad_out) if return_grad else None
    losses = empty(logits, (B,)) if return_losses else None
    loss = _C.softmax_cross_entropy(logits, targets, losses, dlogits, int(ignore_index))
    if return_losses:
        return loss, dlogits, losses
    return loss, dlogits
