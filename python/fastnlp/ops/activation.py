"""Elementwise activations, forward and backward (the backward takes the forward output)."""

from __future__ import annotations

from typing import Optional

from .. import _C
from ._util import Array, empty, shape_of

ACTIVATIONS = ("identity", "sigmoid", "tanh", "hardtanh", "relu")


def activation(x: Array, act: str, out: Optional[Array] = None) -> Array:
    """``act(x)`` elementwise.

    Parameters
    ----------
    x : array
        float32 or float64, any shape; NumPy or CuPy.
    act : str
        One of ``ACTIVATIONS``: "identity", "sigmoid", "tanh", "hardtanh", "relu".
    out : array, optional
        Receives the result (x's shape and dtype); may be x itself (in place).

    Returns
    -------
    array
        ``act(x)`` (``out`` when given).

    Raises
    ------
    TypeError, ValueError
        Naming the argument: a wrong dtype, shape or activation name, a read-only ``out``.
    """
    y = empty(x, shape_of("activation", "x", x)) if out is None else out
    _C.activation_forward(x, y, act)
    return y


def activation_backward(y: Array, dy: Array, act: str, out: Optional[Array] = None) -> Array:
    """``dx = dy * act'(x)``, computed from the forward output y.

    Parameters
    ----------
    y : array
        The forward output ``act(x)``.
    dy : array
        The gradient of the loss with respect to y (y's shape and dtype).
    act : str
        The activation of the forward, one of ``ACTIVATIONS``.
    out : array, optional
        Receives dx; may be dy itself (in place).

    Returns
    -------
    array
        dx, y's shape and dtype.
    """
    dx = empty(y, shape_of("activation_backward", "y", y)) if out is None else out
    _C.activation_backward(y, dy, dx, act)
    return dx


def sigmoid(x: Array, out: Optional[Array] = None) -> Array:
    """``1 / (1 + exp(-x))`` elementwise: ``activation(x, "sigmoid", out)``.

    Parameters
    ----------
    x : array
        float32 or float64, any shape.
    out : array, optional
        Receives the result; may be x itself.

    Returns
    -------
    array
    """
    return activation(x, "sigmoid", out)


def tanh(x: Array, out: Optional[Array] = None) -> Array:
    """``tanh(x)`` elementwise: ``activation(x, "tanh", out)``.

    Parameters
    ----------
    x : array
        float32 or float64, any shape.
    out : array, optional
        Receives the result; may be x itself.

    Returns
    -------
    array
    """
    return activation(x, "tanh", out)


def hardtanh(x: Array, out: Optional[Array] = None) -> Array:
    """``clip(x, -1, 1)`` elementwise: ``activation(x, "hardtanh", out)``.

    Parameters
    ----------
    x : array
        float32 or float64, any shape.
    out : array, optional
        Receives the result; may be x itself.

    Returns
    -------
    array
    """
    return activation(x, "hardtanh", out)


def relu(x: Array, out: Optional[Array] = None) -> Array:
    """``max(x, 0)`` elementwise: ``activation(x, "relu", out)``.

    Parameters
    ----------
    x : array
        float32 or float64, any shape.
    out : array, optional
        Receives the result; may be x itself.

    Returns
    -------
    array
    """
    return activation(x, "relu", out)
