"""Dropout as a layer: inverted dropout in training (fastnlp.ops.dropout), identity in evaluation.
Caches the mask of the last training forward for backward."""

from __future__ import annotations

import math
import numbers
from typing import Optional, Union

import numpy as np

from .. import ops
from ..ops._util import Array
from .module import Module


class Dropout(Module):
    """Drops each element with probability p in training and scales the rest by 1 / (1 - p).

    ``seed`` (an int, a numpy Generator, or None) seeds the sequence of masks: each training
    forward draws its kernel seed from it, so a seeded layer repeats the same masks run after run
    (on any thread count or device). With None the seeds come from the global NumPy generator.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    seed : int, numpy.random.Generator or None
        Seeds the sequence of masks.

    Raises
    ------
    TypeError, ValueError
        A p that is not a number in [0, 1).
    """

    def __init__(self, p: float, seed: Union[int, np.random.Generator, None] = None) -> None:
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"Dropout: p must be a number in [0, 1), got {type(p).__name__}")
        if not (math.isfinite(p) and 0.0 <= p < 1.0):
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        if seed is None:
            self._seeds = None
        elif isinstance(seed, np.random.Generator):
            self._seeds = seed
        else:
            self._seeds = np.random.default_rng(seed)
        self._mask = None
        self._train = None

    def forward(self, x: Array, train: bool = True) -> Array:
        """y = x * mask / (1 - p) with a fresh mask when train, else x itself (no copy).

        Parameters
        ----------
        x : array
            Any shape, float (NumPy or CuPy).
        train : bool
            Training (drop and scale) or evaluation (identity).

        Returns
        -------
        array
            y, x's shape (x itself when not train).

        Raises
        ------
        TypeError, ValueError
            x not a float array (from fastnlp.ops.dropout).
        """
        self._train = bool(train)
        if not train:
            self._mask = None
            return x
        seed = None if self._seeds is None else int(self._seeds.integers(0, 2**63))
        y, self._mask = ops.dropout(x, self.p, seed=seed)
        return y

    def backward(self, dy: Array) -> Array:
        """dx for the last forward: dy * mask / (1 - p) after a training forward, dy after an eval one.

        Parameters
        ----------
        dy : array
            The gradient with respect to the last forward's output, of its shape.

        Returns
        -------
        array
            dx (dy itself after an eval forward).

        Raises
        ------
        RuntimeError
            No forward before.
        """
        if self._train is None:
            raise RuntimeError("Dropout.backward called before forward")
        if not self._train:
            return dy
        return ops.dropout_backward(dy, self._mask, self.p)

    @property
    def mask(self) -> Optional[Array]:
        """The uint8 mask of the last training forward (None after an eval forward)."""
        return self._mask
