"""Parameter updates in place: SGD, AdaGrad, Adam and AdaDelta, dense and on sparse rows (e.g. the
output of fastnlp.ops.embedding_backward_sparse). Parameters and accumulators are updated as they are:
they must be writeable, C-contiguous and of the gradient's float dtype (never converted).

Sparse updates sum the rows of repeated ids first, so each touched row takes exactly the step the
dense update would take on the summed gradient. Weight decay there is lazy: rows not named by ids
are not decayed (the dense update decays every row).
"""

from __future__ import annotations

import numbers

from .. import _C
from ._util import Array

# Shared by the docstrings below: p, g (and the accumulators) are the parameter, its gradient and
# its optimizer state, all of one shape and float dtype, updated in place; sparse updates take
# P (V, D) and its state, ids (any shape, int32/int64, in [0, V)) and rows (ids.shape + (D,)).


def sgd_update(p: Array, g: Array, lr: float, weight_decay: float = 0.0) -> None:
    """``p -= lr * (g + weight_decay * p)``, in place.

    Parameters
    ----------
    p : array
        Parameter, any shape; writeable, C-contiguous.
    g : array
        Its gradient (p's shape and dtype).
    lr : float
        Learning rate.
    weight_decay : float
        L2 coefficient.
    """
    _C.sgd_update(p, g, lr, weight_decay)


def adagrad_update(p: Array, g: Array, acc: Array, lr: float, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """AdaGrad step in place: ``g' = g + weight_decay p; acc += g'^2; p -= lr g' / (sqrt(acc) + eps)``.

    Parameters
    ----------
    p, g : array
        Parameter and gradient.
    acc : array
        Sum of squared gradients (p's shape and dtype), updated.
    lr, eps, weight_decay : float
        Learning rate, denominator guard, L2 coefficient.
    """
    _C.adagrad_update(p, g, acc, lr, eps, weight_decay)


def sgd_update_sparse(P: Array, ids: Array, rows: Array, lr: float, weight_decay: float = 0.0) -> None:
    """SGD on the rows of P named by ids; repeated ids are summed first; lazy weight decay (touched
    rows only).

    Parameters
    ----------
    P : array
        (V, D) parameter.
    ids : array
        Row ids, any shape.
    rows : array
        (ids.shape + (D,)) their gradients.
    lr, weight_decay : float
        Learning rate, L2 coefficient.
    """
    _C.sgd_update_sparse(P, ids, rows, lr, weight_decay)


def adagrad_update_sparse(P: Array, acc: Array, ids: Array, rows: Array, lr: float, eps: float = 1e-8,
                          weight_decay: float = 0.0) -> None:
    """AdaGrad on the rows of P and acc named by ids, as :func:`sgd_update_sparse`.

    Parameters
    ----------
    P, acc : array
        (V, D) parameter and its accumulator.
    ids, rows : array
        Row ids and their gradients.
    lr, eps, weight_decay : float
        As :func:`adagrad_update`.
    """
    _C.adagrad_update_sparse(P, acc, ids, rows, lr, eps, weight_decay)


# ---- Adam (Kingma & Ba 2015) and AdaDelta (Zeiler 2012), as torch.optim.Adam / Adadelta ----

def adam_update(p: Array, g: Array, m: Array, v: Array, step: int, lr: float, beta1: float = 0.9,
                beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """Adam step in place (torch.optim.Adam):
    ``g' = g + weight_decay p; m = beta1 m + (1 - beta1) g'; v = beta2 v + (1 - beta2) g'^2;
    p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)``.

    Parameters
    ----------
    p, g : array
        Parameter and gradient.
    m, v : array
        First and second moments (p's shape and dtype, zeros before step 1), updated.
    step : int
        1-based count of this update (the bias corrections use it).
    lr, beta1, beta2, eps, weight_decay : float
        Adam's settings.

    Raises
    ------
    TypeError
        A step that is not an int.
    """
    _C.adam_update(p, g, m, v, _step("adam_update", step), lr, beta1, beta2, eps, weight_decay)


def adam_update_sparse(P: Array, m: Array, v: Array, ids: Array, rows: Array, step: int, lr: float,
                       beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """Adam on the rows of P, m, v named by ids; repeated ids are summed first.

    Lazy like torch.optim.SparseAdam: untouched rows keep their moments (and are not decayed).
    Each touched row takes exactly adam_update's step, so eps sits where torch.optim.Adam has it
    (SparseAdam adds it before the bias correction of sqrt(v): the two differ by about eps
    relative to sqrt(v)).

    Parameters
    ----------
    P, m, v : array
        (V, D) parameter and moments.
    ids, rows : array
        Row ids and their gradients.
    step : int
        1-based update count.
    lr, beta1, beta2, eps, weight_decay : float
        As :func:`adam_update`.
    """
    _C.adam_update_sparse(P, m, v, ids, rows, _step("adam_update_sparse", step), lr, beta1, beta2, eps, weight_decay)


def adadelta_update(p: Array, g: Array, acc_g: Array, acc_dx: Array, lr: float = 1.0, rho: float = 0.95,
                    eps: float = 1e-6, weight_decay: float = 0.0) -> None:
    """AdaDelta step in place (torch.optim.Adadelta):
    ``g' = g + weight_decay p; acc_g = rho acc_g + (1 - rho) g'^2;
    dx = sqrt(acc_dx + eps) / sqrt(acc_g + eps) g'; acc_dx = rho acc_dx + (1 - rho) dx^2; p -= lr dx``.

    Parameters
    ----------
    p, g : array
        Parameter and gradient.
    acc_g, acc_dx : array
        Running averages of squared gradients and updates (zeros at the start), updated.
    lr, rho, eps, weight_decay : float
        AdaDelta's settings.
    """
    _C.adadelta_update(p, g, acc_g, acc_dx, lr, rho, eps, weight_decay)


def adadelta_update_sparse(P: Array, acc_g: Array, acc_dx: Array, ids: Array, rows: Array, lr: float = 1.0,
                           rho: float = 0.95, eps: float = 1e-6, weight_decay: float = 0.0) -> None:
    """AdaDelta on the rows of P, acc_g, acc_dx named by ids, repeated ids summed first; untouched
    rows and their accumulators are left alone.

    Parameters
    ----------
    P, acc_g, acc_dx : array
        (V, D) parameter and accumulators.
    ids, rows : array
        Row ids and their gradients.
    lr, rho, eps, weight_decay : float
        As :func:`adadelta_update`.
    """
    _C.adadelta_update_sparse(P, acc_g, acc_dx, ids, rows, lr, rho, eps, weight_decay)


def _step(op, step):
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(f"{op}: step must be an int >= 1, got {type(step).__name__}")
    return int(step)
