"""Embedding lookup and its gradients: a dense scatter-add into dW, or a sparse gradient with
repeated ids coalesced (for sparse optimizer updates, see fastnlp.ops.optim).

ids are int32 or int64 of any shape; the kernels see them flat, and row arrays are shaped
ids.shape + (D,). Works on NumPy arrays and, through the same bindings, on CuPy arrays (float32).
"""

from .. import _C
from ._util import empty, shape_of


def embedding(W, ids, out=None):
    """W (V, D), ids (any shape) in [0, V) -> y (ids.shape + (D,)) with y[..., :] = W[ids]."""
    _, D = shape_of("embedding", "W", W, 2)
    y = empty(W, shape_of("embedding", "ids", ids) + (D,)) if out is None else out
    _C.embedding_forward(W, ids, y)
    return y


def embedding_backward(ids, dy, dW):
    """Adds the gradient of ``embedding`` into dW (V, D) in place and returns dW.

    dy (ids.shape + (D,)) is scattered to the rows ids; repeated ids add up. dW is not zeroed
    first, so gradients from several calls accumulate.
    """
    _C.embedding_backward_dense(ids, dy, dW)
    return dW


def embedding_backward_sparse(ids, dy):
    """The gradient of ``embedding`` as (unique_ids (U,), rows (U, D)): the distinct ids in
    ascending order (dtype of ids) and, for each, the sum of the dy rows at its positions."""
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
