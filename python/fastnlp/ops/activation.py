"""Elementwise activations, forward and backward (the backward takes the forward output)."""

from .. import _C
from ._util import empty, shape_of

ACTIVATIONS = ("identity", "sigmoid", "tanh", "hardtanh", "relu")


def activation(x, act, out=None):
    """act(x) elementwise; act in ACTIVATIONS. ``out`` may be x itself (in place)."""
    y = empty(x, shape_of("activation", "x", x)) if out is None else out
    _C.activation_forward(x, y, act)
    return y


def activation_backward(y, dy, act, out=None):
    """dx = dy * act'(x), computed from the forward output y. ``out`` may be dy (in place)."""
    dx = empty(y, shape_of("activation_backward", "y", y)) if out is None else out
    _C.activation_backward(y, dy, dx, act)
    return dx


def sigmoid(x, out=None):
    return activation(x, "sigmoid", out)


def tanh(x, out=None):
    return activation(x, "tanh", out)


def hardtanh(x, out=None):
    return activation(x, "hardtanh", out)


def relu(x, out=None):
    return activation(x, "relu", out)
