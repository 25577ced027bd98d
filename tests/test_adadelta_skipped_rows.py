"""AdaDelta(decay_skipped_rows=True): sparse steps over changing subsets of rows (repeated ids, rows
absent for several steps, rows never touched) follow the dense AdaDelta on the scattered gradients
exactly, up to rounding (float64: rtol 1e-12; rho ** k against k multiplications by rho), also when
the optimizer is rebuilt from its state_dict halfway; without the option they do not (the check that
the comparison can fail); bad settings are refused."""

import numpy as np
import pytest

from fastnlp import nn, optim

V, D = 12, 3
# Ids per step: row 0 every step, row 5 at steps 0 and 4 only (absent 3 steps), repeated ids,
# row 11 never; an empty step (no sparse gradient) in the middle.
STEPS = [[0, 5, 5, 2], [0, 3], [0, 3, 7], None, [0, 1, 2, 2, 2], [0, 5, 9], [0, 1]]


def _grads(rng):
    return [None if ids is None else (np.array(ids), rng.standard_normal((len(ids), D))) for ids in STEPS]


def _dense_run(p0, grads):
    p = nn.Parameter(p0.copy())
    opt = optim.AdaDelta([p], lr=1.0, rho=0.9)
    for g in grads:
        p.grad = np.zeros_like(p0)
        if g is not None:
            np.add.at(p.grad, g[0], g[1])
        opt.step()
    return p.value


def _sparse_run(p0, grads, decay, restart_at=None):
    p = nn.Parameter(p0.copy())
    opt = optim.AdaDelta([p], lr=1.0, rho=0.9, decay_skipped_rows=decay)
    for i, g in enumerate(grads):
        if i == restart_at:
            state = opt.state_dict()
            opt = optim.AdaDelta([p], lr=1.0, rho=0.9, decay_skipped_rows=decay)
            opt.load_state_dict(state)
        if g is not None:
            p.sparse_grad = g
        opt.step()
    return p.value


@pytest.mark.parametrize("restart_at", [None, 3, 5])
def test_sparse_steps_follow_the_dense_update(restart_at):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((V, D))
    grads = _grads(rng)
    dense = _dense_run(p0, grads)
    sparse = _sparse_run(p0, grads, True, restart_at)
    np.testing.assert_allclose(sparse, dense, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(sparse[11], p0[11])  # never touched: never moved


def test_without_the_option_a_skipped_row_differs():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((V, D))
    grads = _grads(rng)
    lazy = _sparse_run(p0, grads, False)
    dense = _dense_run(p0, grads)
    np.testing.assert_array_equal(lazy[11], dense[11])  # never touched: the same
    assert np.abs(lazy[5] - dense[5]).max() > 1e-6  # absent 3 steps: its averages did not decay


def test_state_dict_carries_the_row_steps():
    p = nn.Parameter(np.zeros((4, 2)))
    opt = optim.AdaDelta([p], decay_skipped_rows=True)
    p.sparse_grad = (np.array([1, 1]), np.ones((2, 2)))
    opt.step()
    opt.step()
    d = opt.state_dict()
    assert int(d["0.steps_taken"]) == 2
    np.testing.assert_array_equal(d["0.row_step"], [0, 1, 0, 0])
    with pytest.raises(ValueError, match="keys do not match"):
        optim.AdaDelta([p]).load_state_dict(d)  # an optimizer without the option refuses them


def test_refused_with_weight_decay():
    with pytest.raises(ValueError, match="decay_skipped_rows needs weight_decay 0"):
        optim.AdaDelta([nn.Parameter(np.zeros((3, 2)))], weight_decay=1e-4, decay_skipped_rows=True)


def test_out_of_range_ids_get_the_kernels_error():
    p = nn.Parameter(np.zeros((4, 2)))
    opt = optim.AdaDelta([p], decay_skipped_rows=True)
    p.sparse_grad = (np.array([1, 9]), np.ones((2, 2)))
    with pytest.raises((ValueError, IndexError), match="ids"):
        opt.step()
