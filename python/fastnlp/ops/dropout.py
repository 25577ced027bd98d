"""Inverted dropout: y = x * mask / (1 - p), mask uint8 of x's shape (1 = kept, 0 = dropped).

The mask is either given (injected randomness: one step checks exactly against NumPy) or drawn by
the kernel from ``seed`` with a counter-based generator (splitmix64 of seed and element index), so
the same seed gives the same mask for any thread count, on the CPU and on the GPU. The backward
takes the forward's mask.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Optional, Tuple

import numpy as np

from .. import _C
from ._util import Array, empty, shape_of


def _check_p(op, p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{op}: p must be a number in [0, 1), got {type(p).__name__}")
    p = float(p)
    if not (math.isfinite(p) and 0.0 <= p < 1.0):
        raise ValueError(f"{op}: p must be a probability in [0, 1), got {p!r}")
    return p


def _check_seed(seed):
    if seed is None:
        return int(np.random.randint(0, 2**63, dtype=np.int64))  # the global NumPy generator
    if isinstance(seed, bool):
        raise TypeError("dropout: seed must be an int in [0, 2**64) or None, got bool")
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"dropout: seed must be an int in [0, 2**64) or None, got {type(seed).__name__}") from None
    if not 0 <= seed < 2**64:
        raise ValueError(f"dropout: seed must be an int in [0, 2**64), got {seed}")
    return seed


def dropout(x: Array, p: float, *, mask: Optional[Array] = None, seed: Optional[int] = None,
            out: Optional[Array] = None) -> Tuple[Array, Array]:
    """Inverted dropout: ``y = x * mask / (1 - p)``.

    Parameters
    ----------
    x : array
        Any shape, float32 or float64; NumPy or GPU arrays.
    p : float
        Drop probability in [0, 1); 0 gives y == x and an all-ones mask.
    mask : array, optional
        uint8 of x's shape (0 and 1 only), applied as is and returned (injected randomness).
    seed : int, optional
        In [0, 2**64): the mask is drawn from it, identically on any thread count and on the GPU;
        None draws a seed from the global NumPy generator. Not with ``mask``.
    out : array, optional
        Receives y (x's shape and dtype); may be x itself.

    Returns
    -------
    y : array
        x's shape and dtype.
    mask : array
        uint8 of x's shape, 1 = kept (element kept with probability 1 - p).

    Raises
    ------
    TypeError, ValueError
        p outside [0, 1), a bad seed, both mask and seed given.
    """
    p = _check_p("dropout", p)
    shape = shape_of("dropout", "x", x)
    draw = mask is None
    if draw:
        seed = _check_seed(seed)
        mask = empty(x, shape, dtype=np.uint8)
    elif seed is not None:
        raise ValueError("dropout: give mask (applied as is) or seed (to draw one), not both")
    else:
        seed = 0  # unused: the given mask is applied
    y = empty(x, shape) if out is None else out
    _C.dropout_forward(x, mask, y, p, seed, draw)
    return y, mask


def dropout_backward(dy: Array, mask: Array, p: float, *, out: Optional[Array] = None) -> Array:
    """``dx = dy * mask / (1 - p)``.

    Parameters
    ----------
    dy : array
        Gradient of the forward output.
    mask : array
        The forward's mask.
    p : float
        The forward's drop probability.
    out : array, optional
        Receives dx; may be dy itself.

    Returns
    -------
    array
        dx, dy's shape and dtype.
    """
    p = _check_p("dropout_backward", p)
    dx = empty(dy, shape_of("dropout_backward", "dy", dy)) if out is None else out
    _C.dropout_backward(dy, mask, dx, p)
    return dx
