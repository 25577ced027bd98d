"""Sampled softmax (Jean et al. 2015): the loss over the true class and K sampled classes, logits
corrected by -log Q (the expected count of each class under the proposal), accidental hits
removed; output-layer gradients are sparse rows. ``ClassSampler`` draws the samples (alias method).

CPU: one C++ call (OpenBLAS GEMMs + fused middle). GPU (CuPy arrays): ops._gpu.sampled_softmax, the
row gathers and GEMMs in CuPy (cuBLAS) and fastnlp's CUDA kernel for the fused middle
(``_C.sampled_softmax_scores``).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Optional, Sequence, Tuple

import numpy as np

from .. import _C
from .._device import array_module, is_gpu
from . import _gpu
from ._util import Array, empty, shape_of

SampledSoftmaxResult = namedtuple("SampledSoftmaxResult", "loss dh grad_ids grad_rows grad_bias losses")
SampledSoftmaxResult.__doc__ = """One sampled-softmax step.

loss: the mean loss (float); dh (B, H): its gradient w.r.t. h; grad_ids (B + K): concat(targets,
samples), the rows of W the sparse gradient grad_rows (B + K, H) belongs to (ids repeat:
scatter-add them); grad_bias (B + K): the same for b, or None when b is None; losses (B) per row."""


def sampled_softmax(h: Array, W: Array, b: Optional[Array], targets: Array, samples: Array, logq_targets: Array,
                    logq_samples: Array) -> SampledSoftmaxResult:
    """Loss and gradients of a sampled softmax.

    Parameters
    ----------
    h : array
        (B, H) hidden states.
    W : array
        (V, H) output embeddings.
    b : array or None
        (V,) output bias.
    targets : array
        (B,) true class ids.
    samples : array
        (K,) sampled class ids, shared by the batch.
    logq_targets, logq_samples : array
        (B,) and (K,) log expected counts of those ids (``ClassSampler.logq``).

    Returns
    -------
    SampledSoftmaxResult
        loss, dh, the sparse output-layer gradients and per-row losses.
    """
    op = "sampled_softmax"
    B, H = shape_of(op, "h", h, 2)
    V, _ = shape_of(op, "W", W, 2)
    (K,) = shape_of(op, "samples", samples, 1)
    shape_of(op, "targets", targets, 1)
    if is_gpu(h):
        return SampledSoftmaxResult(*_gpu.sampled_softmax(h, W, b, targets, samples, logq_targets,
                                                           logq_samples, B, H, V, K))
    losses = empty(h, (B,))
    dh = empty(h, (B, H))
    grad_rows = empty(h, (B + K, H))
    grad_bias = None if b is None else empty(h, (B + K,))
    loss = _C.sampled_softmax(h, W, b, targets, samples, logq_targets, logq_samples, losses, dh,
                              grad_rows, grad_bias)
    grad_ids = np.concatenate([targets, samples])
    return SampledSoftmaxResult(loss, dh, grad_ids, grad_rows, grad_bias, losses)


class ClassSampler:
    """The proposal distribution Q of sampled softmax: draws K class ids with replacement from
    ``probs`` (V non-negative weights, normalized here; e.g. unigram counts ** 0.75) in O(1) each
    (Walker's alias method, deterministic for a seed), and gives each id's log expected count
    log(K * p(id)), the correction sampled_softmax subtracts from its logit.

    Parameters
    ----------
    probs : array_like
        V non-negative weights (NumPy).
    num_samples : int, optional
        The default K for ``sample`` and ``logq``.
    """

    def __init__(self, probs: Sequence[float], num_samples: Optional[int] = None) -> None:
        if is_gpu(probs):
            probs = probs.get()
        self._sampler = _C.AliasSampler(np.ascontiguousarray(np.asarray(probs, dtype=np.float64)))
        self.num_samples = None if num_samples is None else self._check_k(num_samples)

    @property
    def num_classes(self):
        return self._sampler.num_classes

    def probability(self, ids):
        """p(id) (float64) for int ids (1-D, NumPy)."""
        return self._sampler.probability(ids)

    def sample(self, K=None, seed=0, dtype=np.float32, like=None):
        """K draws: (samples (K) int64, logq_samples (K) of ``dtype``), on the device of ``like``
        when given (e.g. a CuPy array), else NumPy."""
        K = self._k(K)
        samples = self._sampler.sample(K, int(seed))
        logq = self._logq_cpu(samples, K, dtype)
        if like is not None and is_gpu(like):
            xp = array_module(like)
            return xp.asarray(samples), xp.asarray(logq)
        return samples, logq

    def logq(self, ids, K=None, dtype=np.float32):
        """log(K * p(id)) for ids (1-D int array, NumPy or CuPy; the result lives beside ids)."""
        K = self._k(K)
        if is_gpu(ids):
            return array_module(ids).asarray(self._logq_cpu(ids.get(), K, dtype))
        return self._logq_cpu(ids, K, dtype)

    def _logq_cpu(self, ids, K, dtype):
        with np.errstate(divide="ignore"):  # p = 0 gives -inf: such a class is never sampled
            return np.log(K * self._sampler.probability(ids)).astype(dtype)

    def _k(self, K):
        if K is None:
            if self.num_samples is None:
                raise ValueError("ClassSampler: give K (the number of samples) or num_samples at construction")
            return self.num_samples
        return self._check_k(K)

    @staticmethod
    def _check_k(K):
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"ClassSampler: K must be a positive int, got {K!r}")
        return int(K)
