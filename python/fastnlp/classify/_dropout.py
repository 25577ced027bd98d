"""A NumPy stand-in for fastnlp.ops.dropout / dropout_backward (branch `kern`), with the same
signature and mask convention, used only until that kernel is merged."""

import numpy as np


def dropout(x, p, *, mask=None, seed=None, out=None):
    """Inverted dropout: returns (y, mask), y = x * mask / (1 - p), mask uint8 (1 = kept)."""
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1), got {p!r}")
    if mask is None:
        mask = (np.random.default_rng(seed).random(x.shape) >= p).astype(np.uint8)
    y = np.multiply(x, mask, out=out)
    y *= x.dtype.type(1.0 / (1.0 - p))
    return y, mask


def dropout_backward(dy, mask, p, *, out=None):
    """dx = dy * mask / (1 - p)."""
    dx = np.multiply(dy, mask, out=out)
    dx *= dy.dtype.type(1.0 / (1.0 - float(p)))
    return dx
