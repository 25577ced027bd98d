"""The optimizers' saved state (SGD, AdaGrad, Adam, AdaDelta): a run resumed from state_dict into a
fresh model and optimizer equals an uninterrupted one exactly; state_dict's keys, shapes and
copies, and load_state_dict's refusals (missing or unexpected keys, shapes, negative step counts).
The GPU round trip is with the GPU tests in test_optim_adaptive.py.
"""

import numpy as np
import pytest

from fastnlp import nn, optim


def _make(cls, seed):
    layer = nn.Linear(5, 3, seed=seed)
    return layer, cls(layer.parameters(), lr=0.05)


@pytest.mark.parametrize("cls", [optim.SGD, optim.AdaGrad, optim.Adam, optim.AdaDelta])
def test_state_dict_resume_equals_uninterrupted(cls, rng):
    xs = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(6)]

    def train(layer, opt, batch):
        opt.zero_grad()
        layer.forward(batch)
        layer.backward(np.ones((4, 3), np.float32))
        opt.step()

    layer, opt = _make(cls, 0)
    for x in xs:
        train(layer, opt, x)
    layer2, opt2 = _make(cls, 0)
    for x in xs[:3]:
        train(layer2, opt2, x)
    saved = opt2.state_dict()
    assert all(isinstance(a, np.ndarray) for a in saved.values())
    weights = [p.value.copy() for p in layer2.parameters()]
    # a fresh model and optimizer, restored from the saved weights and state
    layer3, opt3 = _make(cls, 1)
    for p, w in zip(layer3.parameters(), weights):
        p.value[...] = w
    opt3.load_state_dict(saved)
    for x in xs[3:]:
        train(layer3, opt3, x)
    for a, b in zip(layer.parameters(), layer3.parameters()):
        np.testing.assert_array_equal(a.value, b.value)
    for key, a in opt.state_dict().items():
        np.testing.assert_array_equal(opt3.state_dict()[key], a, err_msg=key)


def test_state_dict_contents_and_bad_loads():
    layer, opt = _make(optim.Adam, 0)
    d = opt.state_dict()
    assert sorted(d) == ["0.exp_avg", "0.exp_avg_sq", "0.step", "1.exp_avg", "1.exp_avg_sq", "1.step", "lr"]
    assert d["0.exp_avg"].shape == (3, 5) and d["0.step"].dtype == np.int64 and float(d["lr"]) == 0.05
    d["0.exp_avg"][...] = 7  # a copy: the optimizer's own arrays are not touched
    assert (opt.exp_avg[0] == 0).all()
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: keys do not match .* missing \['0.step'\]"):
        opt.load_state_dict({k: v for k, v in d.items() if k != "0.step"})
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: 0.exp_avg must have shape \(3, 5\), got \(5, 3\)"):
        opt.load_state_dict({**d, "0.exp_avg": np.zeros((5, 3))})
    with pytest.raises(ValueError, match=r"AdaDelta.load_state_dict: keys do not match .* unexpected"):
        _make(optim.AdaDelta, 0)[1].load_state_dict(d)
    with pytest.raises(ValueError, match="step counts must be >= 0"):
        opt.load_state_dict({**d, "0.step": np.array(-1)})
    assert sorted(_make(optim.SGD, 0)[1].state_dict()) == ["lr"]
    assert sorted(_make(optim.AdaGrad, 0)[1].state_dict()) == ["0.sum", "1.sum", "lr"]
