"""Embedding lookup and its gradients: a dense scatter-add into dW, or a sparse gradient with
repeated ids coalesced (for sparse optimizer updates, see fastnlp.ops.optim).

ids are int32 or int64 of any shape; the kernels see them flat, and row arrays are shaped
ids.shape + (D,). Works on NumPy arrays and, through the same bindings, on CuPy arrays (float32).
"""

from __future__ import annotations

from typing import Optional, Tuple

from .. import _C
from ._util import Array, empty, shape_of


def embedding(W: Array, ids: Array, out: Optional[Array] = None) -> Array:
    """Rows of W: ``y[..., :] = W[ids]``.

    Parameters
    ----------
    W : array
        (V, D) table.
    ids : array
        int32 or int64, any shape, values in [0, V).
    out : array, optional
        (ids.shape + (D,)) output.

    Returns
    -------
    array
        ids.shape + (D,).

    Raises
    ------
    ValueError
        An id out of range (the first one named), shapes or dtypes that disagree.
    """
    _, D = shape_of("embedding", "W", W, 2)
    y = empty(W, shape_of("embedding", "ids", ids) + (D,)) if out is None else out
    _C.embedding_forward(W, ids, y)
    return y


def embedding_backward(ids: Array, dy: Array, dW: Array) -> Array:
    """Adds the gradient of :func:`embedding` into dW, in place.

    Parameters
    ----------
    ids : array
        The forward's ids.
    dy : array
        (ids.shape + (D,)) gradient of the forward output, scattered to the rows ids (repeated
        ids add up).
    dW : array
        (V, D), not zeroed first: gradients of several calls accumulate.

    Returns
    -------
    array
        dW.
    """
    _C.embedding_backward_dense(ids, dy, dW)
    return dW


def embedding_backward_sparse(ids: Array, dy: Array) -> Tuple[Array, Array]:
    """The gradient of :func:`embedding` as sparse rows, repeated ids coalesced.

    Parameters
    ----------
    ids : array
        The forward's ids, any shape.
    dy : array
        (ids.shape + (D,)) gradient of the forward output.

    Returns
    -------
    unique_ids : array
        (U,) the distinct ids in ascending order, ids' dtype.
    rows : array
        (U, D): for each id, the sum of the dy rows at its positions.
    """
    op = "embedding_backward_sparse"
    shape = shape_of(op, "ids", ids)
    dy_shape = shape_of(op, "dy", dy)
    if len(dy_shape) != len(shape) + 1:
        raise ValueError(f"{op}: dy must have shape ids.shape + (D,) with ids of shape {shape}, "
                         f"got {dy_shape}")
    N = 1
    for s in shape:
        N *= s
    unique_ids = empty(ids, (N,))
    rows = empty(dy, (N, dy_shape[-1]))
    U = _C.embedding_backward_sparse(ids, dy, unique_ids, rows)
    return unique_ids[:U], rows[:U]
