"""SGD, AdaGrad, Adam and AdaDelta over Parameters. A Parameter's dense ``grad`` gets the dense
kernel, its ``sparse_grad`` (ids, rows) the sparse-row kernel, which updates only those rows.

Every optimizer's state (accumulators, moments, step counts, and the learning rate) comes out of
``state_dict()`` as NumPy arrays and goes back with ``load_state_dict``, so training can resume."""

from __future__ import annotations

import math
from typing import Dict, Iterable, Mapping, Tuple

import numpy as np

from .. import ops
from .._device import array_module, is_gpu
from ..nn.module import Parameter


def _check_hyper(name, value, positive):
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")


def _check_unit(owner, name, value):
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value!r}")


def _host_copy(a):
    return a.get() if is_gpu(a) else np.array(a, copy=True)


class Optimizer:
    """Base of the optimizers: ``step()`` updates every Parameter from its dense ``grad`` or sparse
    ``sparse_grad``, ``zero_grad()`` clears them, ``state_dict()`` / ``load_state_dict()`` save and
    restore the state.

    Parameters
    ----------
    params : iterable of Parameter
        What to update (e.g. ``module.parameters()``); not empty.
    lr : float
        Learning rate (> 0).
    weight_decay : float
        L2 coefficient added to the gradient (>= 0).

    Raises
    ------
    ValueError
        No parameters, or a hyper-parameter out of range (named).
    """

    _steps = None  # {id(param): updates taken}, for optimizers whose update depends on it (Adam)

    def __init__(self, params: Iterable[Parameter], lr: float, weight_decay: float = 0.0) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        _check_hyper("lr", lr, positive=True)
        _check_hyper("weight_decay", weight_decay, positive=False)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)

    def zero_grad(self) -> None:
        """Clears the gradients of every Parameter it updates (Parameter.zero_grad).

        Returns
        -------
        None
        """
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Applies each Parameter's gradient (dense and/or sparse), then clears the sparse one.

        Returns
        -------
        None

        Raises
        ------
        TypeError, ValueError
            A gradient of another shape, dtype or device than its Parameter, or a sparse id out of
            range (from the fastnlp.ops update kernels).
        """
        for p in self.params:
            if p.grad is not None:
                self._dense(p)
            if p.sparse_grad is not None:
                self._sparse(p, *p.sparse_grad)
                p.sparse_grad = None

    # ---- state, for resuming training ----

    def _state(self):
        """{name: array} per parameter, in self.params order: the arrays the kernels update in place
        (subclasses with state override this)."""
        return [{} for _ in self.params]

    def state_dict(self) -> Dict[str, np.ndarray]:
        """The state as {key: NumPy array} (copies): ``lr`` (0-d float64) and, for parameter i,
        ``"{i}.{name}"`` for each of its state arrays (e.g. ``0.exp_avg``) and ``"{i}.step"`` (0-d int64)
        where the update counts steps.

        Returns
        -------
        dict of str to numpy.ndarray
            Copies on the host (a GPU optimizer's state is copied off the device).
        """
        d = {"lr": np.array(self.lr, np.float64)}
        for i, states in enumerate(self._state()):
            for name, a in states.items():
                d[f"{i}.{name}"] = _host_copy(a)
        if self._steps is not None:
            d.update({f"{i}.step": np.array(self._steps[id(p)], np.int64) for i, p in enumerate(self.params)})
        return d

    def load_state_dict(self, d: Mapping[str, np.ndarray]) -> None:
        """Restores a state_dict() of an optimizer of the same kind over parameters of the same shapes
        (values are copied into this optimizer's own arrays, on their device).

        Parameters
        ----------
        d : mapping of str to array
            As state_dict() returns: exactly its keys, with its shapes and dtype kinds.

        Returns
        -------
        None

        Raises
        ------
        ValueError
            Missing or unexpected keys, a shape that differs, lr not a finite number > 0, or a
            negative step count; nothing is changed then.
        TypeError
            An array of another dtype kind (e.g. int for float).
        """
        want = self.state_dict()
        missing = sorted(set(want) - set(d))
        extra = sorted(set(d) - set(want))
        if missing or extra:
            raise ValueError(f"{type(self).__name__}.load_state_dict: keys do not match this optimizer: "
                             f"missing {missing}, unexpected {extra}")
        for key, ref in want.items():
            got = np.asarray(d[key])
            if got.shape != ref.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key} must have shape {ref.shape}, "
                                 f"got {got.shape}")
            if got.dtype.kind != ref.dtype.kind:
                raise TypeError(f"{type(self).__name__}.load_state_dict: {key} must be {ref.dtype}, got {got.dtype}")
        lr = float(d["lr"])
        _check_hyper("lr", lr, positive=True)
        if self._steps is not None:
            steps = [int(d[f"{i}.step"]) for i in range(len(self.params))]
            if any(s < 0 for s in steps):
                raise ValueError(f"{type(self).__name__}.load_state_dict: step counts must be >= 0, got {steps}")
            self._steps = {id(p): s for p, s in zip(self.params, steps)}
        self.lr = lr
        for i, states in enumerate(self._state()):
            for name, a in states.items():
                a[...] = array_module(a).asarray(d[f"{i}.{name}"], dtype=a.dtype)


class SGD(Optimizer):
    """``p -= lr * (g + weight_decay * p)``; sparse gradients update their rows only.

    Parameters
    ----------
    params : iterable of Parameter
        What to update (e.g. ``module.parameters()``); not empty.
    lr : float
        Learning rate (> 0).
    weight_decay : float
        L2 coefficient added to the gradient (>= 0).
    """

    def _dense(self, p):
        ops.sgd_update(p.value, p.grad, self.lr, self.weight_decay)

    def _sparse(self, p, ids, rows):
        ops.sgd_update_sparse(p.value, ids, rows, self.lr, self.weight_decay)


class AdaGrad(Optimizer):
    """Duchi et al. (2010): ``acc += g^2; p -= lr * g / (sqrt(acc) + eps)``, per coordinate.

    Parameters
    ----------
    params : iterable of Parameter
        What to update (e.g. ``module.parameters()``); not empty.
    lr : float
        Learning rate (> 0; default 0.1).
    eps : float
        Denominator guard.
    weight_decay : float
        L2 coefficient added to the gradient (>= 0).
    initial_accumulator_value : float
        acc's starting value (>= 0).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 0.1, eps: float = 1e-8, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0) -> None:
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

    def _state(self):
        return [{"sum": acc} for acc in self.accumulators]


class Adam(Optimizer):
    """Kingma & Ba (2015) with bias correction, as torch.optim.Adam (weight decay added to the
    gradient, L2 style). Each parameter counts its own steps (those in which it had a gradient);
    sparse gradients update their rows lazily, as torch.optim.SparseAdam.

    Parameters
    ----------
    params : iterable of Parameter
        What to update (e.g. ``module.parameters()``); not empty.
    lr : float
        Learning rate (> 0; default 1e-3).
    betas : (float, float)
        Decay of the first and second moments, each in [0, 1).
    eps : float
        Denominator guard.
    weight_decay : float
        L2 coefficient added to the gradient (>= 0).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        _check_hyper("eps", eps, positive=True)
        try:
            beta1, beta2 = (float(b) for b in betas)
        except (TypeError, ValueError):
            raise TypeError(f"Adam: betas must be a pair of floats in [0, 1), got {betas!r}") from None
        _check_unit("Adam", "betas[0]", beta1)
        _check_unit("Adam", "betas[1]", beta2)
        self.betas = (beta1, beta2)
        self.eps = float(eps)
        self.exp_avg = [array_module(p.value).zeros_like(p.value) for p in self.params]
        self.exp_avg_sq = [array_module(p.value).zeros_like(p.value) for p in self.params]
        self._m = {id(p): a for p, a in zip(self.params, self.exp_avg)}
        self._v = {id(p): a for p, a in zip(self.params, self.exp_avg_sq)}
        self._steps = {id(p): 0 for p in self.params}

    def step(self) -> None:
        """Counts a step for each Parameter that has a gradient, then applies the updates
        (Optimizer.step).

        Returns
        -------
        None

        Raises
        ------
        TypeError, ValueError
            As Optimizer.step.
        """
        for p in self.params:  # a parameter with both gradients takes both updates at one step count
            if p.grad is not None or p.sparse_grad is not None:
                self._steps[id(p)] += 1
        super().step()

    def _dense(self, p):
        ops.adam_update(p.value, p.grad, self._m[id(p)], self._v[id(p)], self._steps[id(p)], self.lr,
                        *self.betas, self.eps, self.weight_decay)

    def _sparse(self, p, ids, rows):
        ops.adam_update_sparse(p.value, self._m[id(p)], self._v[id(p)], ids, rows, self._steps[id(p)], self.lr,
                               *self.betas, self.eps, self.weight_decay)

    def _state(self):
        return [{"exp_avg": m, "exp_avg_sq": v} for m, v in zip(self.exp_avg, self.exp_avg_sq)]


class AdaDelta(Optimizer):
    """Zeiler (2012), as torch.optim.Adadelta: per coordinate, the update is the gradient scaled by
    RMS(past updates) / RMS(gradients), both decayed by rho; lr scales it (1.0 in the paper).

    Parameters
    ----------
    params : iterable of Parameter
        What to update (e.g. ``module.parameters()``); not empty.
    lr : float
        Scale of the update (> 0; default 1.0).
    rho : float
        Decay of both running averages, in [0, 1).
    eps : float
        Guard inside both square roots.
    weight_decay : float
        L2 coefficient added to the gradient (>= 0).
    decay_skipped_rows : bool
        Sparse steps give the rows they skip the decay a dense step would (a skipped row's gradient is
        zero, so a dense AdaDelta step leaves the row where it is and multiplies both of its running
        averages by rho): each row's averages are multiplied by rho to the number of steps it missed
        when it is next updated, so sparse training follows the dense update exactly (what Kim's
        (2014) TextCNN code does to its embeddings). Without it a row's averages stand still while it
        is absent, and a rare word keeps the small steps of its last update. Needs weight_decay 0.

    Raises
    ------
    ValueError
        As Optimizer; or decay_skipped_rows with weight_decay > 0 (a dense step then moves skipped rows).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1.0, rho: float = 0.95, eps: float = 1e-6,
                 weight_decay: float = 0.0, decay_skipped_rows: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        _check_hyper("eps", eps, positive=True)
        _check_unit("AdaDelta", "rho", float(rho))
        if decay_skipped_rows and self.weight_decay > 0:
            raise ValueError("AdaDelta: decay_skipped_rows needs weight_decay 0 (weight decay moves the rows a "
                             f"dense step skips), got weight_decay {self.weight_decay!r}")
        self.rho = float(rho)
        self.eps = float(eps)
        self.decay_skipped_rows = bool(decay_skipped_rows)
        self.square_avg = [array_module(p.value).zeros_like(p.value) for p in self.params]
        self.acc_delta = [array_module(p.value).zeros_like(p.value) for p in self.params]
        self._ag = {id(p): a for p, a in zip(self.params, self.square_avg)}
        self._adx = {id(p): a for p, a in zip(self.params, self.acc_delta)}
        if self.decay_skipped_rows:
            # The steps taken (0-d, updated in place so state_dict / load_state_dict see it), and per
            # parameter the step at which each row's averages were last brought up to date.
            self.steps_taken = np.zeros((), np.int64)
            self.row_step = [array_module(p.value).zeros(p.value.shape[:1], np.int64) for p in self.params]
            self._row_step = {id(p): a for p, a in zip(self.params, self.row_step)}

    def step(self) -> None:
        if self.decay_skipped_rows:
            self.steps_taken[...] += 1
        super().step()

    step.__doc__ = Optimizer.step.__doc__

    def _dense(self, p):
        ops.adadelta_update(p.value, p.grad, self._ag[id(p)], self._adx[id(p)], self.lr, self.rho, self.eps,
                            self.weight_decay)
        if self.decay_skipped_rows and p.value.ndim:
            self._row_step[id(p)][...] = int(self.steps_taken)

    def _sparse(self, p, ids, rows):
        if self.decay_skipped_rows and p.value.ndim:
            self._decay_skipped(p, ids)
        ops.adadelta_update_sparse(p.value, self._ag[id(p)], self._adx[id(p)], ids, rows, self.lr, self.rho,
                                   self.eps, self.weight_decay)

    def _decay_skipped(self, p, ids):
        """Multiplies the averages of the rows about to be updated by rho ** (steps they missed)."""
        xp = array_module(p.value)
        last = self._row_step[id(p)]
        ids = xp.asarray(ids).reshape(-1)
        if ids.dtype.kind not in "iu" or ids.size and (int(ids.min()) < 0 or int(ids.max()) >= last.shape[0]):
            return  # out of range: left to the update kernel, which names the argument
        u = xp.unique(ids)
        missed = int(self.steps_taken) - 1 - last[u]
        if ids.size and int(missed.max()) > 0:
            f = (self.rho ** missed.astype(np.float64)).astype(p.value.dtype).reshape((-1,) + (1,) * (p.value.ndim - 1))
            self._ag[id(p)][u] *= f
            self._adx[id(p)][u] *= f
        last[u] = int(self.steps_taken)  # a Python int: the rows may be a CuPy array

    def _state(self):
        states = [{"square_avg": a, "acc_delta": b} for a, b in zip(self.square_avg, self.acc_delta)]
        if self.decay_skipped_rows:
            for s, r in zip(states, self.row_step):
                s["row_step"] = r
            states[0]["steps_taken"] = self.steps_taken
        return states
