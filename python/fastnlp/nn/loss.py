"""Losses: softmax + cross-entropy fused in one kernel."""

from __future__ import annotations

from .. import ops
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

    def forward(self, logits, targets):
        loss, self._dlogits = ops.softmax_cross_entropy(logits, targets, ignore_index=self.ignore_index)
        return loss

    def backward(self, scale=1.0):
        if self._dlogits is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        return self._dlogits if scale == 1.0 else self._dlogits * scale
