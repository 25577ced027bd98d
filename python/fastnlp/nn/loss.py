"""Losses: softmax + cross-entropy fused in one kernel."""

from .. import ops
from .module import Module


class SoftmaxCrossEntropy(Module):
    """Mean cross-entropy of softmax(logits (B, C)) against integer targets (B); rows whose target
    equals ignore_index (padding) count for nothing. forward returns the loss as a float;
    backward returns d loss / d logits (computed in the same pass as the loss)."""

    def __init__(self, ignore_index=-100):
        self.ignore_index = ignore_index
        self._dlogits = None

    def forward(self, logits, targets):
        loss, self._dlogits = ops.softmax_cross_entropy(logits, targets, ignore_index=self.ignore_index)
        return loss

    def backward(self, scale=1.0):
        if self._dlogits is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        return self._dlogits if scale == 1.0 else self._dlogits * scale
