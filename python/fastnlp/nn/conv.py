"""Conv1d: convolution over time with fused bias + activation and optional pooling over time,
the sentence-encoder layer of Collobert et al. (2011) and Kim (2014)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import ops
from ..ops._util import Array, zeros
from .module import Module, Parameter


class Conv1d(Module):
    """H = out_dim filters of width ``width`` over x (B, T, in_dim), stride 1.

    mode 'narrow' (no padding) or 'wide' (width - 1 zeros each side); activation one of
    fastnlp.ops.ACTIVATIONS; pool None (all positions, (B, T_out, out_dim)), 'max' or 'avg' (one
    (B, out_dim) vector per sequence). forward(x, lengths=None) respects per-sequence lengths.
    W is (out_dim, width*in_dim): W[h, j*in_dim + d] weighs input dim d at window offset j
    (torch.nn.Conv1d's weight[h, d, j]). Initialized uniform in +-1/sqrt(width*in_dim) like
    torch.nn.Conv1d.

    Caches x, lengths and the forward's outputs (y, or pooled and argmax) for backward.

    Parameters
    ----------
    in_dim, out_dim, width : int
        Input size, number of filters, filter width.
    mode : {"narrow", "wide"}
        Padding.
    activation : str
        One of ``ops.ACTIVATIONS``.
    pool : {None, "max", "avg"}
        Pooling over time.
    bias : bool
        Whether to have b.
    dtype : dtype
        float32 (default) or float64.
    rng : numpy.random.Generator, optional
        The initialization's randomness.

    Raises
    ------
    ValueError
        An unknown mode, pool or activation; sizes that are not positive integers.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int, mode: str = "narrow", activation: str = "identity",
                 pool: Optional[str] = None, bias: bool = True, dtype: "np.typing.DTypeLike" = np.float32,
                 rng: Optional[np.random.Generator] = None) -> None:
        if mode not in ops.conv.MODES:
            raise ValueError(f"Conv1d: mode must be 'narrow' or 'wide', got {mode!r}")
        if pool not in ops.conv.POOLS:
            raise ValueError(f"Conv1d: pool must be None, 'max' or 'avg', got {pool!r}")
        if activation not in ops.ACTIVATIONS:
            raise ValueError(f"Conv1d: activation must be one of {ops.ACTIVATIONS}, got {activation!r}")
        for name, v in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width)):
            if int(v) != v or v < 1:
                raise ValueError(f"Conv1d: {name} must be a positive integer, got {v!r}")
        rng = np.random.default_rng() if rng is None else rng
        self.in_dim, self.out_dim, self.width = int(in_dim), int(out_dim), int(width)
        self.mode, self.activation, self.pool = mode, activation, (None if pool == "none" else pool)
        bound = 1.0 / np.sqrt(self.width * self.in_dim)
        self.W = Parameter(rng.uniform(-bound, bound, (self.out_dim, self.width * self.in_dim)).astype(dtype), "W")
        self.b = Parameter(rng.uniform(-bound, bound, self.out_dim).astype(dtype), "b") if bias else None
        self._cache = None

    def forward(self, x: Array, lengths: Optional[Array] = None) -> Array:
        """The convolution (and pooling), caching what backward needs.

        Parameters
        ----------
        x : array
            (B, T, in_dim), W's dtype and device.
        lengths : array, optional
            (B,) integer valid length of each sequence (None: all T); positions past a length
            count for nothing.

        Returns
        -------
        array
            pool None: (B, T_out, out_dim), zero past each sequence's outputs; pool "max" or
            "avg": (B, out_dim).

        Raises
        ------
        TypeError, ValueError
            Arrays of another dtype, device or shape, lengths out of range (from fastnlp.ops.conv1d).
        """
        b = self.b.value if self.b is not None else None
        res = ops.conv1d(x, self.W.value, b, lengths, self.mode, self.activation, self.pool)
        if self.pool == "max":
            out, argmax = res
            self._cache = (x, lengths, None, out, argmax)
        elif self.pool == "avg":
            out, y = res
            self._cache = (x, lengths, y, None, None)
        else:
            out = res
            self._cache = (x, lengths, out, None, None)
        return out

    def backward(self, dout: Array, need_dx: bool = True) -> Optional[Array]:
        """Adds the gradients into W.grad and b.grad (allocated at the first backward).

        Parameters
        ----------
        dout : array
            The gradient with respect to the last forward's output, of its shape.
        need_dx : bool
            Compute dx (False skips it, e.g. over embeddings that are not trained).

        Returns
        -------
        array or None
            dx (B, T, in_dim); None unless need_dx.

        Raises
        ------
        RuntimeError
            No forward before.
        TypeError, ValueError
            dout of another dtype, device or shape.
        """
        if self._cache is None:
            raise RuntimeError("Conv1d.backward: call forward first")
        x, lengths, y, pooled, argmax = self._cache
        for p in (self.W, self.b):
            if p is not None and p.grad is None:
                p.grad = zeros(p.value, p.value.shape)
        dx, _, _ = ops.conv1d_backward(
            x, self.W.value, dout, lengths, self.mode, self.activation, self.pool, y=y, pooled=pooled,
            argmax=argmax, need_dx=need_dx, need_db=self.b is not None, dW=self.W.grad,
            db=self.b.grad if self.b is not None else None, accumulate=True)
        return dx

    def __repr__(self):
        return (f"Conv1d({self.in_dim}, {self.out_dim}, width={self.width}, mode={self.mode!r}, "
                f"activation={self.activation!r}, pool={self.pool!r})")
