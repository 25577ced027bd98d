"""The output layer and softmax cross-entropy fused for evaluation: per-row losses of
``softmax(x W^T + b)`` at the targets without the (B, V) logits ever being stored. CPU: one C++
call (a BLAS GEMM per vocabulary block, each followed at once by an online logsumexp). GPU (CuPy
arrays): ops._gpu.linear_cross_entropy, the cuBLAS product then softmax_cross_entropy (logits stored)."""

from __future__ import annotations

from typing import Optional, Tuple, Union

from .. import _C
from .._device import is_gpu
from . import _gpu
from ._util import Array, empty, shape_of


def linear_cross_entropy(x: Array, W: Array, b: Optional[Array], targets: Array,
                         return_losses: bool = False) -> Union[float, Tuple[float, Array]]:
    """Mean cross-entropy of ``softmax(x W^T + b)`` against integer targets (forward only), the
    same as ``softmax_cross_entropy(linear(x, W, b), targets)`` without the logits in memory.

    Parameters
    ----------
    x : array
        (B, H), float32 or float64.
    W : array
        (V, H), the output layer's weights (x's dtype).
    b : array or None
        (V,) bias.
    targets : array
        (B,) int32 or int64 ids in [0, V).
    return_losses : bool
        Also return each row's loss, ``logsumexp(z) - z[target]`` for its logits z.

    Returns
    -------
    loss : float
        The mean loss (nats).
    losses : array
        (B,), only when return_losses.

    Raises
    ------
    TypeError, ValueError
        Arrays of the wrong dtype or shape, or a target out of range (the message names it).
    """
    B, _ = shape_of("linear_cross_entropy", "x", x, 2)
    if is_gpu(x):
        return _gpu.linear_cross_entropy(x, W, b, targets, return_losses)
    losses = empty(x, (B,)) if return_losses else None
    loss = _C.linear_cross_entropy(x, W, b, targets, losses)
    return (loss, losses) if return_losses else loss
