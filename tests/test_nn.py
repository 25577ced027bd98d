"""Layers and optimizers end to end: each layer's backward against float64 finite differences
through the layer API, sparse and dense embedding gradients agreeing, optimizer steps equal to
NumPy transcriptions, and a tiny model that learns.

Tolerances: float64 gradients rtol 1e-5 / atol 1e-7 (central differences, eps 1e-6); float32
optimizer steps rtol 1e-6.
"""

import numpy as np
import pytest

from fastnlp import nn, optim
from gradcheck import assert_grad_close


def _f64(layer):
    for p in layer.parameters():
        p.value = p.value.astype(np.float64)
    return layer


@pytest.mark.parametrize("act", ["identity", "sigmoid", "tanh", "relu"])
def test_linear_layer_gradients(act, rng):
    layer = _f64(nn.Linear(5, 4, act, seed=0))
    x = rng.standard_normal((3, 5))
    R = rng.standard_normal((3, 4))
    layer.forward(x)
    dx = layer.backward(R)
    loss = lambda: float((layer.forward(x) * R).sum())  # noqa: E731
    assert_grad_close(dx, loss, x)
    assert_grad_close(layer.W.grad, loss, layer.W.value)
    assert_grad_close(layer.b.grad, loss, layer.b.value)


def test_backward_accumulates_until_zero_grad(rng):
    layer = nn.Linear(3, 2, seed=0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    layer.forward(x)
    layer.backward(np.ones((4, 2), np.float32))
    g1 = layer.W.grad.copy()
    layer.forward(x)
    layer.backward(np.ones((4, 2), np.float32))
    np.testing.assert_allclose(layer.W.grad, 2 * g1, rtol=1e-6)
    layer.zero_grad()
    assert not layer.W.grad.any()


def test_sequential_mlp_with_cross_entropy_gradients(rng):
    model = _f64(nn.Sequential(nn.Linear(6, 8, "tanh", seed=1), nn.Linear(8, 3, seed=2)))
    ce = nn.SoftmaxCrossEntropy(ignore_index=-1)
    x = rng.standard_normal((5, 6))
    t = np.array([0, 2, -1, 1, 2])
    ce.forward(model.forward(x), t)
    dx = model.backward(ce.backward())
    loss = lambda: ce.forward(model.forward(x), t)  # noqa: E731
    assert_grad_close(dx, loss, x)
    for p in model.parameters():
        assert_grad_close(p.grad, loss, p.value)


@pytest.mark.parametrize("sparse", [True, False])
def test_embedding_layer_gradient(sparse, rng):
    emb = _f64(nn.Embedding(7, 3, sparse=sparse, seed=0))
    ids = np.array([[1, 4, 1], [6, 0, 1]])
    R = rng.standard_normal((2, 3, 3))
    emb.forward(ids)
    emb.backward(R)
    if sparse:
        dense = np.zeros_like(emb.W.value)
        u, rows = emb.W.sparse_grad
        dense[u] = rows
    else:
        dense = emb.W.grad
    assert_grad_close(dense, lambda: float((emb.forward(ids) * R).sum()), emb.W.value)


def test_sgd_step_matches_numpy(rng):
    layer = nn.Linear(4, 3, seed=0)
    W0 = layer.W.value.copy()
    layer.forward(rng.standard_normal((2, 4)).astype(np.float32))
    layer.backward(np.ones((2, 3), np.float32))
    opt = optim.SGD(layer.parameters(), lr=0.1, weight_decay=0.01)
    g = layer.W.grad.copy()
    opt.step()
    np.testing.assert_allclose(layer.W.value, W0 - 0.1 * (g + 0.01 * W0), rtol=1e-6, atol=1e-7)


def test_adagrad_sparse_step_matches_numpy(rng):
    emb = nn.Embedding(10, 4, seed=0)
    W0 = emb.W.value.copy()
    ids = np.array([2, 5, 2, 9])
    dy = rng.standard_normal((4, 4)).astype(np.float32)
    opt = optim.AdaGrad(emb.parameters(), lr=0.5, eps=1e-8)
    emb.forward(ids)
    emb.backward(dy)
    opt.step()
    g = np.zeros_like(W0)
    np.add.at(g, ids, dy)
    acc = g * g
    expected = W0 - 0.5 * g / (np.sqrt(acc) + 1e-8)
    np.testing.assert_allclose(emb.W.value, expected, rtol=1e-5, atol=1e-6)
    untouched = np.setdiff1d(np.arange(10), ids)
    np.testing.assert_array_equal(emb.W.value[untouched], W0[untouched])
    assert emb.W.sparse_grad is None


def test_tiny_model_learns_xor():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (256, 2)).astype(np.float32)
    y = (x[:, 0] != x[:, 1]).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 16, "tanh", seed=3), nn.Linear(16, 2, seed=4))
    ce = nn.SoftmaxCrossEntropy()
    opt = optim.AdaGrad(model.parameters(), lr=0.3)
    for _ in range(200):
        ce.forward(model.forward(x), y)
        model.backward(ce.backward())
        opt.step()
        opt.zero_grad()
    assert (model.forward(x).argmax(1) == y).mean() == 1.0


def test_optimizer_rejects_bad_hyperparameters():
    p = nn.Linear(2, 2).parameters()
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got -1"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0, got nan"):
        optim.AdaGrad(p, lr=0.1, eps=float("nan"))
    with pytest.raises(ValueError, match=r"empty parameter list"):
        optim.SGD([], lr=0.1)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match=r"Linear.backward called before forward"):
        nn.Linear(2, 2).backward(np.ones((1, 2), np.float32))
