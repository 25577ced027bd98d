"""Row-wise softmax and log-softmax with their backward passes, and softmax + cross-entropy fused
into one pass that also yields the gradient. Rows are the last axis of a (B, V) array; every op
runs on the device of its input (NumPy: C++ kernels, CuPy: CUDA kernels)."""

from __future__ import annotations

import operator
from typing import Optional, Tuple, Union

from .. import _C
from ._util import Array, empty, shape_of


def softmax(x: Array, out: Optional[Array] = None) -> Array:
    """Softmax of each row (max-subtracted, so large logits do not overflow).

    Parameters
    ----------
    x : array
        (B, V), float32 or float64.
    out : array, optional
        Receives the result; may be x itself (in place).

    Returns
    -------
    array
        (B, V), rows summing to 1.
    """
    y = empty(x, shape_of("softmax", "x", x, 2)) if out is None else out
    _C.softmax_forward(x, y)
    return y


def log_softmax(x: Array, out: Optional[Array] = None) -> Array:
    """Log-softmax of each row: ``x - logsumexp(x)``.

    Parameters
    ----------
    x : array
        (B, V), float32 or float64.
    out : array, optional
        Receives the result; may be x itself (in place).

    Returns
    -------
    array
        (B, V).
    """
    y = empty(x, shape_of("log_softmax", "x", x, 2)) if out is None else out
    _C.log_softmax_forward(x, y)
    return y


def softmax_backward(y: Array, dy: Array, out: Optional[Array] = None) -> Array:
    """``dx = y * (dy - sum_j dy_j y_j)``, from the softmax output.

    Parameters
    ----------
    y : array
        The forward output (B, V).
    dy : array
        Gradient with respect to y, (B, V).
    out : array, optional
        Receives dx; may be dy itself.

    Returns
    -------
    array
        dx, (B, V).
    """
    dx = empty(y, shape_of("softmax_backward", "y", y, 2)) if out is None else out
    _C.softmax_backward(y, dy, dx)
    return dx


def log_softmax_backward(y: Array, dy: Array, out: Optional[Array] = None) -> Array:
    """``dx = dy - exp(y) * sum_j dy_j``, from the log_softmax output.

    Parameters
    ----------
    y : array
        The forward output (B, V).
    dy : array
        Gradient with respect to y, (B, V).
    out : array, optional
        Receives dx; may be dy itself.

    Returns
    -------
    array
        dx, (B, V).
    """
    dx = empty(y, shape_of("log_softmax_backward", "y", y, 2)) if out is None else out
    _C.log_softmax_backward(y, dy, dx)
    return dx


def softmax_cross_entropy(logits: Array, targets: Array, ignore_index: int = -100, return_grad: bool = True,
                          grad_out: Optional[Array] = None, return_losses: bool = False
                          ) -> Union[Tuple[float, Optional[Array]], Tuple[float, Optional[Array], Array]]:
    """Mean cross-entropy of ``softmax(logits)`` against integer targets, and its gradient, in one pass.

    Parameters
    ----------
    logits : array
        (B, V), float32 or float64.
    targets : array
        (B,) int32 or int64 class ids in [0, V), or ``ignore_index``.
    ignore_index : int
        Rows with this target count for nothing (loss 0, gradient 0); the mean is over the other
        rows (0.0 when there are none).
    return_grad : bool
        Compute dlogits, the gradient of the mean loss (None otherwise).
    grad_out : array, optional
        Receives dlogits (B, V); may be logits itself (in place).
    return_losses : bool
        Also return the per-row losses (B,).

    Returns
    -------
    loss : float
        The mean loss.
    dlogits : array or None
        (B, V).
    losses : array
        (B,), only when return_losses.

    Raises
    ------
    TypeError, ValueError
        A non-integer or out-of-range ignore_index, grad_out without return_grad, a target out of
        range, shapes that disagree.
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
