"""Float64 central-difference gradient checks for the kernels' backward passes."""

import numpy as np


def numeric_grad(loss, x, eps=1e-6):
    """d loss() / d x by central differences; x (float64) is perturbed in place and restored."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = loss()
        flat[i] = old - eps
        down = loss()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g


def assert_grad_close(analytic, loss, x, rtol=1e-5, atol=1e-7, eps=1e-6):
    numeric = numeric_grad(loss, x, eps)
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)
