"""Losses: softmax + cross-entropy fused in one kernel."""

from __future__ import annotations

from .. import ops
from ..ops._util import Array
from .module import Module


class SoftmaxCrossEntropy(Module):
    """Mean cross-entropy of softmax(logits (B, C)) against integer targets (B); rows whose target
    equals ignore_index (padding) count for nothing. forward returns the loss as a float;
    backward returns d loss / d logits (computed in the same pass as the loss).

    Parameters
    ----------
    ignore_index : int
        The target value of rows that count for nothing (default -100).
    """

    def __init__(self, ignore_index: int = -100) -> None:
        self.ignore_index = ignore_index
        self._dlogits = None

    def forward(self, logits: Array, targets: Array) -> float:
        """The mean loss; d loss / d logits is computed in the same pass and kept for backward.

        Parameters
        ----------
        logits : array
            (B, C), float.
        targets : array
            (B,) int32 or int64 class ids in [0, C), or ignore_index.

        Returns
        -------
        float
            The mean over the rows whose target is not ignore_index (0.0 when there are none).

        Raises
        ------
        TypeError, ValueError
            A target out of range, shapes or dtypes that disagree (from fastnlp.ops.softmax_cross_entropy).
        """
        loss, self._dlogits = ops.softmax_cross_entropy(logits, targets, ignore_index=self.ignore_index)
        return loss

    def backward(self, scale: float = 1.0) -> Array:
        """d loss / d logits of the last forward.

        Parameters
        ----------
        scale : float
            Multiplies the gradient (e.g. a loss weight); 1.0 returns the kept array itself.

        Returns
        -------
        array
            (B, C), logits' dtype and device.

        Raises
        ------
        RuntimeError
            No forward before.
        """
        if self._dlogits is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        return self._dlogits if scale == 1.0 else self._dlogits * scale
