"""Parameter updates in place: SGD, AdaGrad, Adam and AdaDelta, dense and on sparse rows (e.g. the
output of fastnlp.ops.embedding_backward_sparse). Parameters and accumulators are updated as they are:
they must be writeable, C-contiguous and of the gradient's float dtype (never converted).

Sparse updates sum the rows of repeated ids first, so each touched row takes exactly the step the
dense update would take on the summed gradient. Weight decay there is lazy: rows not named by ids
are not decayed (the dense update decays every row).
"""

import numbers

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


# ---- Adam (Kingma & Ba 2015) and AdaDelta (Zeiler 2012), as torch.optim.Adam / Adadelta ----

def adam_update(p, g, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam step in place on p and its moments m, v (p's shape and dtype, zeros before step 1);
    ``step`` is the 1-based count of this update (the bias corrections use it):
    g' = g + weight_decay * p; m = beta1 m + (1 - beta1) g'; v = beta2 v + (1 - beta2) g'^2;
    p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)  (torch.optim.Adam)."""
    _C.adam_update(p, g, m, v, _step(step), lr, beta1, beta2, eps, weight_decay)


def adam_update_sparse(P, m, v, ids, rows, step, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam on the rows of P, m, v (V, D) named by ids (any shape), rows (ids.shape + (D,)) their
    gradients; repeated ids are summed first. Lazy like torch.optim.SparseAdam: untouched rows keep
    their moments (and are not decayed). Each touched row takes exactly adam_update's step, so eps
    sits where torch.optim.Adam has it (SparseAdam adds it before the bias correction of sqrt(v):
    the two differ by about eps relative to sqrt(v))."""
    _C.adam_update_sparse(P, m, v, ids, rows, _step(step), lr, beta1, beta2, eps, weight_decay)


def adadelta_update(p, g, acc_g, acc_dx, lr=1.0, rho=0.95, eps=1e-6, weight_decay=0.0):
    """AdaDelta step in place on p and its accumulators (p's shape and dtype, zeros at the start):
    g' = g + weight_decay * p; acc_g = rho acc_g + (1 - rho) g'^2;
    dx = sqrt(acc_dx + eps) / sqrt(acc_g + eps) * g'; acc_dx = rho acc_dx + (1 - rho) dx^2;
    p -= lr * dx  (torch.optim.Adadelta)."""
    _C.adadelta_update(p, g, acc_g, acc_dx, lr, rho, eps, weight_decay)


def adadelta_update_sparse(P, acc_g, acc_dx, ids, rows, lr=1.0, rho=0.95, eps=1e-6, weight_decay=0.0):
    """AdaDelta on the rows of P, acc_g, acc_dx (V, D) named by ids, repeated ids summed first;
    untouched rows and their accumulators are left alone."""
    _C.adadelta_update_sparse(P, acc_g, acc_dx, ids, rows, lr, rho, eps, weight_decay)


def _step(step):
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"adam_update: step must be an int >= 1, got {type(step).__name__}")
    return int(step)
