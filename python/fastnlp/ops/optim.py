"""Parameter updates in place: SGD and AdaGrad, dense and on sparse rows (e.g. the output of
fastnlp.ops.embedding_backward_sparse). Parameters and accumulators are updated as they are:
they must be writeable, C-contiguous and of the gradient's float dtype (never converted).

Sparse updates sum the rows of repeated ids first, so each touched row takes exactly the step the
dense update would take on the summed gradient. Weight decay there is lazy: rows not named by ids
are not decayed (the dense update decays every row).
"""

from .. import _C


def sgd_update(p, g, lr, weight_decay=0.0):
    """p -= lr * (g + weight_decay * p), in place; p and g of any shape (the same)."""
    _C.sgd_update(p, g, lr, weight_decay)


def adagrad_update(p, g, acc, lr, eps=1e-8, weight_decay=0.0):
    """AdaGrad step in place on p and its accumulator acc (p's shape and dtype):
    g' = g + weight_decay * p; acc += g'^2; p -= lr * g' / (sqrt(acc) + eps)."""
    _C.adagrad_update(p, g, acc, lr, eps, weight_decay)


def sgd_update_sparse(P, ids, rows, lr, weight_decay=0.0):
    """SGD on the rows of P (V, D) named by ids (any shape), rows (ids.shape + (D,)) their
    gradients; repeated ids are summed first. Lazy weight decay (touched rows only)."""
    _C.sgd_update_sparse(P, ids, rows, lr, weight_decay)


def adagrad_update_sparse(P, acc, ids, rows, lr, eps=1e-8, weight_decay=0.0):
    """AdaGrad on the rows of P and acc (V, D) named by ids, as sgd_update_sparse."""
    _C.adagrad_update_sparse(P, acc, ids, rows, lr, eps, weight_decay)
