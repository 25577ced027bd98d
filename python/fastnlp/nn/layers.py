"""Dense layers: Linear (fused bias + activation), the activations on their own, and Sequential."""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

from .. import ops
from .._device import array_module
from ..ops._util import Array
from .module import Module, Parameter


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def glorot_uniform(shape: Tuple[int, int], seed: Union[int, np.random.Generator, None] = None,
                   dtype: "np.typing.DTypeLike" = np.float32) -> np.ndarray:
    """Glorot & Bengio (2010) uniform init: U(-l, l) with ``l = sqrt(6 / (fan_in + fan_out))``.

    Parameters
    ----------
    shape : (int, int)
        (fan_out, fan_in).
    seed : int, numpy.random.Generator or None
        The randomness.
    dtype : dtype
        Of the result (default float32).

    Returns
    -------
    numpy.ndarray
    """
    fan_out, fan_in = shape
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return _rng(seed).uniform(-limit, limit, size=shape).astype(dtype)


def _add_grad(param, g):
    """Accumulate g into param.grad (allocated on first use)."""
    if param.grad is None:
        param.grad = g
    else:
        param.grad += g


class Linear(Module):
    """``y = act(x W^T + b)``: x (B, in_dim) -> y (B, out_dim). Caches x and y for backward.

    Parameters
    ----------
    in_dim, out_dim : int
        Input and output sizes; W is (out_dim, in_dim), Glorot-uniform initialized.
    activation : str
        One of ``ops.ACTIVATIONS``, fused after the product.
    bias : bool
        Whether to have b (zeros at first).
    seed : int, numpy.random.Generator or None
        The initialization's randomness.
    dtype : dtype
        float32 (default) or float64.

    Raises
    ------
    ValueError
        An unknown activation.
    """

    def __init__(self, in_dim: int, out_dim: int, activation: str = "identity", bias: bool = True,
                 seed: Union[int, np.random.Generator, None] = None, dtype: "np.typing.DTypeLike" = np.float32) -> None:
        if activation not in ops.ACTIVATIONS:
            raise ValueError(f"Linear: activation must be one of {ops.ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self.W = Parameter(glorot_uniform((out_dim, in_dim), seed, dtype), "W")
        self.b = Parameter(np.zeros(out_dim, dtype), "b") if bias else None
        self._x = self._y = None

    def forward(self, x: Array) -> Array:
        """``y = act(x W^T + b)``, caching x and y for backward.

        Parameters
        ----------
        x : array
            (B, in_dim), W's dtype and device (NumPy or CuPy).

        Returns
        -------
        array
            y, (B, out_dim).

        Raises
        ------
        TypeError, ValueError
            x of another dtype, device or shape (from fastnlp.ops.linear, naming the argument).
        """
        self._x = x
        self._y = ops.linear(x, self.W.value, None if self.b is None else self.b.value, self.activation)
        return self._y

    def backward(self, dy: Array, need_dx: bool = True) -> Optional[Array]:
        """Adds dW (and db) into the Parameters' grads (allocated at the first backward).

        Parameters
        ----------
        dy : array
            (B, out_dim), the gradient of the loss with respect to the last forward's y.
        need_dx : bool
            Compute dx (False skips that GEMM, e.g. for a first layer).

        Returns
        -------
        array or None
            dx (B, in_dim); None unless need_dx.

        Raises
        ------
        RuntimeError
            No forward before.
        TypeError, ValueError
            dy of another dtype, device or shape than y.
        """
        if self._x is None:
            raise RuntimeError("Linear.backward called before forward")
        W, b = self.W, self.b
        xp = array_module(W.value)
        if W.grad is None:
            W.grad = xp.zeros_like(W.value)
        if b is not None and b.grad is None:
            b.grad = xp.zeros_like(b.value)
        dx, _, _ = ops.linear_backward(self._x, W.value, self._y, dy, self.activation, need_dx=need_dx,
                                       need_db=b is not None, dW=W.grad,
                                       db=None if b is None else b.grad, accumulate=True)
        return dx


class Activation(Module):
    """An activation on its own; backward uses the cached output.

    Parameters
    ----------
    activation : str
        One of ``ops.ACTIVATIONS``.
    """

    def __init__(self, activation: str) -> None:
        if activation not in ops.ACTIVATIONS:
            raise ValueError(f"Activation: activation must be one of {ops.ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self._y = None

    def forward(self, x: Array) -> Array:
        """The activation of x, elementwise; caches the output for backward.

        Parameters
        ----------
        x : array
            Any shape, float (NumPy or CuPy).

        Returns
        -------
        array
            y, x's shape.

        Raises
        ------
        TypeError, ValueError
            x not a float array (from fastnlp.ops.activation).
        """
        self._y = ops.activation(x, self.activation)
        return self._y

    def backward(self, dy: Array) -> Array:
        """dx from the cached output (every activation here has its derivative in terms of y).

        Parameters
        ----------
        dy : array
            The gradient with respect to the last forward's output, of its shape.

        Returns
        -------
        array
            dx, of x's shape.

        Raises
        ------
        RuntimeError
            No forward before.
        TypeError, ValueError
            dy of another shape or dtype than the output.
        """
        if self._y is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return ops.activation_backward(self._y, dy, self.activation)


class Sigmoid(Activation):
    """``Activation("sigmoid")``."""

    def __init__(self) -> None:
        super().__init__("sigmoid")


class Tanh(Activation):
    """``Activation("tanh")``."""

    def __init__(self) -> None:
        super().__init__("tanh")


class HardTanh(Activation):
    """``Activation("hardtanh")``: clip to [-1, 1] (SENNA's hidden layer)."""

    def __init__(self) -> None:
        super().__init__("hardtanh")


class ReLU(Activation):
    """``Activation("relu")``."""

    def __init__(self) -> None:
        super().__init__("relu")


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    Parameters
    ----------
    *layers : Module
        The layers, first to last.
    """

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: Array) -> Array:
        """Each layer's forward on the previous one's output.

        Parameters
        ----------
        x : array
            The first layer's input.

        Returns
        -------
        array
            The last layer's output.
        """
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: Array) -> Array:
        """Each layer's backward, last to first, on the gradient the next one returned.

        Parameters
        ----------
        dy : array
            The gradient with respect to the last layer's output.

        Returns
        -------
        array
            The gradient with respect to the first layer's input.
        """
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy
