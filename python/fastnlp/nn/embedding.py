"""Embedding lookup with sparse (or dense) gradients."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from .. import ops
from .._device import array_module
from ..ops._util import Array
from .module import Module, Parameter


class Embedding(Module):
    """Rows of W (num_embeddings, dim) gathered by integer ids of any shape.

    With sparse=True (the default) backward leaves W.sparse_grad = (unique_ids, rows), so the
    optimizer touches only the rows this batch used; with sparse=False it adds into a dense W.grad.

    Parameters
    ----------
    num_embeddings, dim : int
        W's shape.
    sparse : bool
        Sparse row gradients (default) or a dense W.grad.
    scale : float, optional
        W is initialized U(-scale, scale); default 1 / sqrt(dim).
    seed : int, numpy.random.Generator or None
        The initialization's randomness.
    dtype : dtype
        float32 (default) or float64.
    """

    def __init__(self, num_embeddings: int, dim: int, sparse: bool = True, scale: Optional[float] = None,
                 seed: Union[int, np.random.Generator, None] = None, dtype: "np.typing.DTypeLike" = np.float32) -> None:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        scale = 1.0 / np.sqrt(dim) if scale is None else scale
        self.W = Parameter(rng.uniform(-scale, scale, (num_embeddings, dim)).astype(dtype), "W")
        self.sparse = sparse
        self._ids = None

    def forward(self, ids: Array) -> Array:
        """The rows of W for `ids`, caching the ids for backward.

        Parameters
        ----------
        ids : array
            Integer ids in [0, num_embeddings), any shape, on W's device.

        Returns
        -------
        array
            ``ids.shape + (dim,)``, W's dtype.

        Raises
        ------
        ValueError
            An id out of range (the first one named), dtypes that disagree (from fastnlp.ops.embedding).
        """
        self._ids = ids
        return ops.embedding(self.W.value, ids)

    def backward(self, dy: Array) -> None:
        """Accumulates the gradient of W: into ``W.sparse_grad`` (distinct ids and their summed rows;
        a second backward before the optimizer's step appends its own, which the update coalesces)
        or, with sparse=False, into ``W.grad``.

        Parameters
        ----------
        dy : array
            ``ids.shape + (dim,)``, the gradient with respect to the last forward's output.

        Returns
        -------
        None
            ids carry no gradient.

        Raises
        ------
        RuntimeError
            No forward before.
        """
        if self._ids is None:
            raise RuntimeError("Embedding.backward called before forward")
        W = self.W
        if self.sparse:
            ids, rows = ops.embedding_backward_sparse(self._ids, dy)
            if W.sparse_grad is not None:  # a second backward before step: keep both, the update coalesces
                xp = array_module(rows)
                ids = xp.concatenate([W.sparse_grad[0], ids])
                rows = xp.concatenate([W.sparse_grad[1], rows])
            W.sparse_grad = (ids, rows)
        else:
            if W.grad is None:
                W.grad = array_module(W.value).zeros_like(W.value)
            ops.embedding_backward(self._ids, dy, W.grad)
        return None
