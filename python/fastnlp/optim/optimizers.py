"""SGD and AdaGrad over Parameters. A Parameter's dense ``grad`` gets the dense kernel, its
``sparse_grad`` (ids, rows) the sparse-row kernel, which updates only those rows."""

import math

from .. import ops
from .._device import array_module


def _check_hyper(name, value, positive):
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


class Optimizer:
    def __init__(self, params, lr, weight_decay=0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        _check_hyper("lr", lr, positive=True)
        _check_hyper("weight_decay", weight_decay, positive=False)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()

    def step(self):
        """Applies each Parameter's gradient (dense and/or sparse), then clears the sparse one."""
        for p in self.params:
            if p.grad is not None:
                self._dense(p)
            if p.sparse_grad is not None:
                self._sparse(p, *p.sparse_grad)
                p.sparse_grad = None


class SGD(Optimizer):
    """p -= lr * (g + weight_decay * p)."""

    def _dense(self, p):
        ops.sgd_update(p.value, p.grad, self.lr, self.weight_decay)

    def _sparse(self, p, ids, rows):
        ops.sgd_update_sparse(p.value, ids, rows, self.lr, self.weight_decay)


class AdaGrad(Optimizer):
    """Duchi et al. (2010): acc += g^2; p -= lr * g / (sqrt(acc) + eps), per coordinate."""

    def __init__(self, params, lr=0.1, eps=1e-8, weight_decay=0.0, initial_accumulator_value=0.0):
        super().__init__(params, lr, weight_decay)
        _check_hyper("eps", eps, positive=True)
        _check_hyper("initial_accumulator_value", initial_accumulator_value, positive=False)
        self.eps = float(eps)
        self.accumulators = []
        for p in self.params:
            acc = array_module(p.value).full_like(p.value, initial_accumulator_value)
            self.accumulators.append(acc)
        self._acc = {id(p): acc for p, acc in zip(self.params, self.accumulators)}

    def _dense(self, p):
        ops.adagrad_update(p.value, p.grad, self._acc[id(p)], self.lr, self.eps, self.weight_decay)

    def _sparse(self, p, ids, rows):
        ops.adagrad_update_sparse(p.value, self._acc[id(p)], ids, rows, self.lr, self.eps, self.weight_decay)
